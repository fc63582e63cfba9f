/* emit_export.c — the text of `<model> export-c DIR`'s two files,
 * DIR/<model>_infer.h and DIR/<model>_infer.c: the forward pass of the
 * plan's export variant (plan.h's `infer`: one row, evaluation mode, no
 * loss, plain loops, no runtime calls) between what predict does to a row
 * before it (scale, standardisation) and after it (softmax, sigmoid). The
 * trainer (templates/trainer/export_c.c) writes the text with the trained
 * weights as static const arrays between its head and its body; here they
 * are the holes infer_h, infer_head, infer_body (lines of C string
 * literals) and infer_arrays (each array: name, comment, where in the
 * weights). */
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt_act.h"
#include "cgen.h"
#include "emit.h"
#include "escape.h"
#include "writer.h"

/* A block of text as the rows of a C array of string literals, one a line */
static const char *as_lines(arena *A, const char *text)
{
    const char *out = "";
    for (const char *l = text, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl) nl = l + strlen(l);
        out = arena_printf(A, "%s    %s,\n", out,
                           esc_c_string(A, arena_printf(A, "%.*s\n", (int)(nl - l), l)));
        if (!*nl) break;
    }
    return out;
}

static const char *take(arena *A, writer *w)
{
    char *t = wr_take(w);
    const char *r = arena_strdup(A, t ? t : "");
    free(t);
    return r;
}

/* What each row's outputs become, as predict prints them (rt_decide) */
static const char *outputs_what(ir_task t)
{
    switch (t) {
    case TASK_CLASSIFY:
        return "the classes' probabilities (softmax of the logits)";
    case TASK_BINARY:
        return "the probability of class 1 (the output as it is)";
    case TASK_LOGIT:
    case TASK_SIGN:
        return "the probability of class 1 (sigmoid of the output)";
    default:
        return "the values";
    }
}

static long outputs_per_row(ir_graph *g)
{
    long len = ir_numel(ir_get(g, g->output), 1);
    return g->task == TASK_BINARY || g->task == TASK_LOGIT || g->task == TASK_SIGN ? 1 : len;
}

/* libm's functions the generated code calls, for the file's comment
 * (<tgmath.h> picks the float or the double form by the argument); the
 * helpers' (act_helpers) where the body calls them */
static const char *libm_used(arena *A, const char *body, int dbl)
{
    static const char *const fns[] = {"exp",   "log",  "sqrt", "tanh", "pow", "erf",  "log1p",
                                      "expm1", "fmax", "fmin", "sin",  "cos", "floor"};
    const char *list = "";
    for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
        const char *call = arena_printf(A, "%s(", fns[k]);
        int found = 0;
        for (const char *at = strstr(body, call); at && !found; at = strstr(at + 1, call))
            found = at == body || !(at[-1] == '_' || (at[-1] >= 'a' && at[-1] <= 'z') ||
                                    (at[-1] >= '0' && at[-1] <= '9'));
        if (found) list = arena_printf(A, "%s%s%s", list, *list ? ", " : "", fns[k]);
    }
    if (strstr(body, "rt_sigmoid(")) /* float: its fma; double: libm's exp */
        list = arena_printf(A, "%s%s%s", list, *list ? ", " : "",
                            dbl ? "exp (rt_sigmoid)" : "fma (rt_sigmoid)");
    if (dbl && strstr(body, "rt_tanh("))
        list = arena_printf(A, "%s%s%s", list, *list ? ", " : "", "tanh (rt_tanh)");
    return *list ? list : "none";
}

/* "[1 x 256]": the node's shape at one row */
static const char *row_shape(arena *A, const ir_node *n)
{
    const char *t = "[";
    for (int i = 0; i < n->rank; i++)
        t = arena_printf(A, "%s%s%d", t, i ? " x " : "",
                         i == 0 && ir_is_batched(n) ? 1 : n->dim[i]);
    return arena_printf(A, "%s%s]", t, n->rank ? "" : "scalar");
}

static const char *header_h(ir_graph *g, const plan *p, int dbl, const char *header)
{
    arena *A = g->A;
    const char *up = e_upper(A, g->model_name), *nm = g->model_name, *t = dbl ? "double" : "float";
    long feats = g->features, outs = outputs_per_row(g);
    long scratch = (feats + 15) / 16 * 16 + (ir_numel(ir_get(g, g->output), 1) + 15) / 16 * 16 +
                   p->infer.arena_size;
    writer w;
    wr_init(&w);
    wr_line(&w, "/* %s", esc_c_comment(A, header));
    wr_line(&w, " * Written by `%s export-c` with the trained weights built into %s_infer.c.", nm,
            nm);
    wr_line(&w, " *");
    wr_line(&w, " * %s_infer.h -- the inference function of %s: %s_predict gives for", nm, nm, nm);
    wr_line(&w, " * each row what the trainer's predict prints for it. */");
    wr_line(&w, "#ifndef %s_INFER_H", up);
    wr_line(&w, "#define %s_INFER_H", up);
    wr_blank(&w);
    wr_line(&w, "/* the features of a row as predict reads them (before scaling and");
    wr_line(&w, " * standardisation, which %s_predict applies) */", nm);
    wr_line(&w, "#define %s_INFER_FEATURES %ld", up, feats);
    wr_line(&w, "/* the values %s_predict writes per row: %s */", nm, outputs_what(g->task));
    wr_line(&w, "#define %s_INFER_OUTPUTS %ld", up, outs);
    wr_line(&w, "/* the %ss of scratch space a call needs (any alignment) */", t);
    wr_line(&w, "#define %s_INFER_SCRATCH_FLOATS %ld", up, scratch);
    wr_blank(&w);
    wr_line(&w, "/* out[r * %s_INFER_OUTPUTS + k] for rows r of x (x[r * %s_INFER_FEATURES + j]),",
            up, up);
    wr_line(&w, " * in order; returns 0, or -1 for rows < 0 or a null pointer. Reentrant:");
    wr_line(&w, " * the state is scratch's. */");
    wr_line(&w, "int %s_predict(const %s *x, int rows, %s *out, %s *scratch);", nm, t, t, t);
    wr_blank(&w);
    wr_line(&w, "#endif");
    return take(A, &w);
}

/* tanh and sigmoid of one value as the trainer computes them
 * (runtime/rt_act.h: the same operations in the same order), a union in
 * place of memcpy for the bits */
static void act_helpers(writer *w, int dbl)
{
    if (dbl) {
        wr_line(w, "/* tanh and sigmoid as the trainer computes them in double (libm) */");
        wr_line(w, "static inline real rt_tanh(real v) { return tanh(v); }");
        wr_line(w, "static inline real rt_sigmoid(real v) { return 1 / (1 + exp(-v)); }");
        return;
    }
    /* tanh's table as rt_act.c holds it, in hex floats: every bit survives */
    wr_line(w, "/* tanh and sigmoid of one float, copied from trainc's runtime/rt_act.h and");
    wr_line(w, " * rt_act.c: the same operations in the same order (fma where the trainer's");
    wr_line(w, " * has it: exact, one rounding), so the values are the trainer's bit for");
    wr_line(w, " * bit. tanh: |x|'s bin (0 below 1/8, then 4 an");
    wr_line(w, " * octave) from its bits, then a polynomial in d = |x| - c about the bin's");
    wr_line(w, " * c; each row below is one of c, c0 .. c5 for the 32 bins (26 used). The");
    wr_line(w, " * sigmoid: e^-|x| in double as 2^m 2^(j/4) e^r, a polynomial in r and 2^m");
    wr_line(w, " * from the bits of t (its low bits k + 1024, k = 4m + j). |x| and");
    wr_line(w, " * the sign by bits: -ffreestanding makes fabsf and copysignf calls */");
    wr_line(w, "static inline float rt_tanh(float x)");
    wr_line(w, "{");
    wr_line(w, "static const float table[7][32] = {");
    for (int row = 0; row < 7; row++) {
        wr_line(w, "{");
        for (int k = 0; k < 32; k += 4)
            wr_line(w, "%af, %af, %af, %af,", (double)rt_tanh_table[row][k],
                    (double)rt_tanh_table[row][k + 1], (double)rt_tanh_table[row][k + 2],
                    (double)rt_tanh_table[row][k + 3]);
        wr_line(w, "},");
    }
    wr_line(w, "};");
    static const char *const text[] = {
        "union { float f; uint32_t u; } a, sign;",
        "sign.f = a.f = x;",
        "a.u &= 0x7fffffffu;",
        "const float ac = 9.5f < a.f ? 9.5f : a.f;",
        "a.f = ac;",
        "const int32_t above = (int32_t)(a.u >> 21) - 495; /* 496: 1/8's bits >> 21 */",
        "const int bin = (above < 0 ? 0 : above) & 31;",
        "const float d = ac - table[0][bin], d2 = d * d;",
        "const float r = (table[3][bin] + table[4][bin] * d) +",
        "d2 * (table[5][bin] + table[6][bin] * d);",
        "const float t = table[1][bin] + (table[2][bin] * d + d2 * r);",
        "return sign.u >> 31 ? -t : t; /* t >= 0: copysign is a negation */",
        "}",
        "",
        "static inline float rt_sigmoid(float x)",
        "{",
        "static const double quarters[4] = {1.0, 0x1.306fe0a31b715p+0, 0x1.6a09e667f3bcdp+0,",
        "0x1.ae89f995ad3adp+0}; /* 2^(j/4) */",
        "const double ny = x < 0 ? (double)x : -(double)x; /* -|x| */",
        "const double y = -104.0 > ny ? -104.0 : ny;",
        "const double shift = 0x1.8p52 + 1024;",
        "union { double f; uint64_t u; } t, two_m;",
        "t.f = fma(y, 5.7707801635558535, shift); /* 4 / ln2 */",
        "const double kf = t.f - shift;",
        "const double r = fma(kf, -0.17328679513998632, y); /* ln2 / 4 */",
        "two_m.u = ((t.u >> 2) + 767u) << 52;",
        "const double s = quarters[t.u & 3] * two_m.f;",
        "const double r2 = r * r, r4 = r2 * r2;",
        "const double p = fma(r4, fma(r, 1.0 / 720, 1.0 / 120),",
        "fma(r2, fma(r, 1.0 / 24, 1.0 / 6), fma(r, 0.5, 1.0)));",
        "const double sr = s * r;",
        "const double e = fma(sr, p, s), den = fma(sr, p, 1.0 + s);",
        "return (float)((x < 0 ? e : 1.0) / den);",
        "}",
    };
    for (size_t k = 0; k < sizeof text / sizeof *text; k++)
        if (*text[k])
            wr_line(w, "%s", text[k]);
        else
            wr_blank(w);
}

static const char *head_c(ir_graph *g, int dbl, const char *header, const char *libm)
{
    arena *A = g->A;
    const char *nm = g->model_name;
    writer w;
    wr_init(&w);
    wr_line(&w, "/* %s", esc_c_comment(A, header));
    wr_line(&w, " * Written by `%s export-c`: the weights below are one training's.", nm);
    wr_line(&w, " *");
    wr_line(&w, " * %s_infer.c -- the forward pass of %s in evaluation mode as plain C,", nm, nm);
    wr_line(&w, " * with the trained weights as static const arrays: no stdio, no malloc, no");
    wr_line(&w, " * BLAS; it builds with -ffreestanding, and its only calls are libm's:");
    wr_line(&w, " * %s (as <tgmath.h> picks: float or double by the argument; isnan", libm);
    wr_line(&w, " * compiles inline). Each row as the trainer's predict");
    wr_line(&w, " * takes it: prepared (scale, standardisation), the forward pass, then");
    wr_line(&w, " * %s. */", outputs_what(g->task));
    wr_line(&w, "#include <stdint.h>");
    wr_line(&w, "#include <tgmath.h> /* exp of a float is expf, as in the trainer's model.c */");
    wr_blank(&w);
    wr_line(&w, "#include \"%s_infer.h\"", nm);
    wr_blank(&w);
    wr_line(&w, "typedef %s real;", dbl ? "double" : "float");
    wr_blank(&w);
    act_helpers(&w, dbl);
    wr_blank(&w);
    wr_line(&w, "/* ---- the trained weights (and what the inputs go through first) ---- */");
    return take(A, &w);
}

/* the pointers of the row's forward pass: weights, the arena's buffers, views */
static void row_buffers(emitter *e)
{
    ir_graph *g = e->g;
    const plan_variant *v = e->pv;
    for (int i = 0; i < g->n; i++) {
        if (!v->declared[i]) continue;
        const ir_node *n = ir_get(g, i);
        const char *shape = row_shape(g->A, n);
        if (n->kind == K_PARAM)
            wr_line(e->w, "const real *const %s = weights_%s; /* %s %s%s */", n->name, n->name,
                    esc_c_comment(g->A, n->label), shape, n->buffer ? ", running statistic" : "");
        else if (n->kind == K_ACT && v->view_of[i] >= 0)
            wr_line(e->w, "%sreal *const %s = %s; /* %s, a view */",
                    ir_get(g, plan_root(v, i))->kind == K_ACT ? "" : "const ", n->name,
                    ir_get(g, v->view_of[i])->name, shape);
        else if (n->kind == K_ACT)
            wr_line(e->w, "real *const %s = arena + %ld; /* %s */", n->name, v->offset[i], shape);
    }
}

/* predict's last step for one row: z (the model's output) into o */
static void decide(writer *w, ir_task t, long len)
{
    if (t == TASK_CLASSIFY) {
        wr_line(w, "/* softmax from the largest logit, in double (runtime/rt_task.c) */");
        wr_line(w, "double m = z[0], s = 0;");
        wr_line(w, "for (long c = 1; c < %ld; c++) m = z[c] > m ? z[c] : m;", len);
        wr_line(w, "for (long c = 0; c < %ld; c++) s += exp(z[c] - m);", len);
        wr_line(w, "for (long c = 0; c < %ld; c++) o[c] = (real)(exp(z[c] - m) / s);", len);
    } else if (t == TASK_BINARY) {
        wr_line(w, "o[0] = z[0]; /* a probability already */");
    } else if (t == TASK_LOGIT || t == TASK_SIGN) {
        wr_line(w, "o[0] = (real)(1 / (1 + exp(-(double)z[0]))); /* the logit's sigmoid */");
    } else {
        wr_line(w, "for (long c = 0; c < %ld; c++) o[c] = z[c];", len);
    }
}

static const char *body_c(ir_graph *g, const plan *p, int dbl)
{
    arena *A = g->A;
    writer w;
    wr_init(&w);
    emitter e = {.w = &w, .g = g, .pv = &p->infer, .batch = 1, .dbl = dbl};
    const ir_node *out = ir_get(g, g->output);
    long feats = g->features, len = ir_numel(out, 1);
    wr_blank(&w);
    wr_line(&w, "/* ---- the forward pass of one prepared row x into out [%ld], evaluation", len);
    wr_line(&w, " * mode (trainc's export variant: the trainer's eval_1 without the loss, in");
    wr_line(&w, " * plain loops); its buffers in arena [%ld] ---- */", p->infer.arena_size);
    wr_line(&w,
            "static void forward_row(const real *restrict x, real *restrict out, real *restrict "
            "arena)");
    wr_line(&w, "{");
    row_buffers(&e);
    if (!p->infer.arena_size) wr_line(&w, "(void)arena;");
    emit_step_ops(&e);
    wr_blank(&w);
    wr_line(&w, "for (long i = 0; i < %ld; i++) out[i] = %s[i];", len, out->name);
    wr_line(&w, "}");
    wr_blank(&w);
    const char *t = dbl ? "double" : "float";
    long f16 = (feats + 15) / 16 * 16, l16 = (len + 15) / 16 * 16;
    wr_line(&w, "int %s_predict(const %s *x, int rows, %s *out, %s *scratch)", g->model_name, t, t,
            t);
    wr_line(&w, "{");
    wr_line(&w, "if (rows < 0 || (rows > 0 && (!x || !out || !scratch))) return -1;");
    wr_line(&w, "real *const row = scratch;       /* the prepared row [%ld] */", feats);
    wr_line(&w, "real *const z = scratch + %ld;   /* the model's output [%ld] */", f16, len);
    wr_line(&w, "real *const arena = z + %ld;     /* the forward pass's buffers */", l16);
    wr_line(&w, "for (long r = 0; r < rows; r++) {");
    wr_line(&w, "const real *const xr = x + r * %ld;", feats);
    wr_line(&w, "real *const o = out + r * %ld;", outputs_per_row(g));
    if (g->data.scale != 0 && g->data.standardize)
        wr_line(&w, "/* as predict: x * scale (in double, rounded), then (x - mean) / std */");
    else if (g->data.scale != 0)
        wr_line(&w, "/* as predict: x * scale (in double, rounded) */");
    else if (g->data.standardize)
        wr_line(&w, "/* as predict: (x - mean) / std with the training set's statistics */");
    wr_line(&w, "for (long j = 0; j < %ld; j++) {", feats);
    if (g->data.scale != 0)
        wr_line(&w, "const real v = (real)(xr[j] * %.17g);", g->data.scale);
    else
        wr_line(&w, "const real v = xr[j];");
    wr_line(&w,
            g->data.standardize ? "row[j] = (v - input_mean[j]) / input_std[j];" : "row[j] = v;");
    wr_line(&w, "}");
    wr_line(&w, "forward_row(row, z, arena);");
    decide(&w, g->task, len);
    wr_line(&w, "}");
    wr_line(&w, "return 0;");
    wr_line(&w, "}");
    return take(A, &w);
}

/* infer_arrays: {C name, comment, from the statistics (1) or the weights,
 * offset, count} of each array the forward pass reads */
static const char *arrays_table(ir_graph *g, const plan *p)
{
    arena *A = g->A;
    const char *t = "";
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM || !p->infer.declared[i]) continue;
        char shape[64];
        ir_shape_str(n, shape, sizeof shape);
        t = arena_printf(A, "%s    {%s, %s, 0, %ldL, %ldL},\n", t,
                         esc_c_string(A, arena_printf(A, "weights_%s", n->name)),
                         esc_c_string(A, esc_c_comment(A, arena_printf(A, "%s %s, %s:%d", n->label,
                                                                       shape, n->file, n->line))),
                         n->offset, ir_numel(n, 1));
    }
    if (g->data.standardize)
        t = arena_printf(
            A,
            "%s    {\"input_mean\", \"the training set's mean of each feature\", 1, 0L, "
            "%dL},\n    {\"input_std\", \"the training set's standard deviation of each "
            "feature\", 1, %dL, %dL},\n",
            t, g->features, g->features, g->features);
    return t;
}

int emit_export_vars(ir_graph *g, const plan *p, int dbl, const char *header, tpl_var *v)
{
    arena *A = g->A;
    if (g->output < 0 || g->task == TASK_NONE) {
        v[0] = (tpl_var){"infer_h", ""};
        v[1] = (tpl_var){"infer_head", ""};
        v[2] = (tpl_var){"infer_body", ""};
        v[3] = (tpl_var){"infer_arrays", ""};
        return 4;
    }
    const char *body = body_c(g, p, dbl);
    v[0] = (tpl_var){"infer_h", as_lines(A, header_h(g, p, dbl, header))};
    v[1] = (tpl_var){"infer_head", as_lines(A, head_c(g, dbl, header, libm_used(A, body, dbl)))};
    v[2] = (tpl_var){"infer_body", as_lines(A, body)};
    v[3] = (tpl_var){"infer_arrays", arrays_table(g, p)};
    return 4;
}
