/* fuse_update.c — the optimizer's update fused into the training step.
 * Each trainable parameter tensor is updated by update_range right after
 * the op block that completes its gradient (or, if later, the last block
 * that reads the parameter), while the gradient is still in cache, instead
 * of one pass over every parameter after the step. The updates are
 * elementwise (each value's new weight and state depend on its own weight,
 * gradient and state and on the step's scalars), so the order gives the
 * same bits; tests/test_optim_clones.sh compares the weights with and
 * without (TRAINC_NO_FUSE_UPDATE=1 at generation). A weight gradient that
 * trainc's own kernel computes (Aᵀ·B, KERN_GEMM) has its update inside the
 * product's store instead, for an optimizer without state per parameter
 * (fuse_update_in_store: rt_gemm.c calls update_strip_done on each run of
 * rows as it is final; tests/test_fuse_store.sh). What cannot fuse at all:
 * fuse_update_refusal.
 * See fuse_update.h. */
#include "fuse_update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "optim.h"

/* Parameters below which the update stays one pass of its own (its data
 * fits in L2 either way) */
#define FUSE_MIN_PARAMS 32768

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0");
}

const char *fuse_update_refusal(ir_graph *g, const plan *p)
{
    if (env_set("TRAINC_NO_FUSE_UPDATE")) return "TRAINC_NO_FUSE_UPDATE was set at generation";
    /* a call per tensor costs more than the cache it saves on a small model:
     * xor's step took 2024 instructions fused against 1800 in one pass */
    if (g->n_params < FUSE_MIN_PARAMS && !env_set("TRAINC_FUSE_UPDATE"))
        return arena_printf(g->A,
                            "the model is small (%ld parameters, under %d): one pass over them "
                            "costs less than a call per tensor (TRAINC_FUSE_UPDATE=1 at "
                            "generation fuses it anyway)",
                            g->n_params, FUSE_MIN_PARAMS);
    return fuse_update_blocked(g, p);
}

const char *fuse_update_blocked(ir_graph *g, const plan *p)
{
    if (env_set("TRAINC_NO_FUSE_UPDATE")) return "TRAINC_NO_FUSE_UPDATE was set at generation";
    if (opt_closure_step(g))
        return "the optimizer re-evaluates the batch at new weights (a closure step)";
    /* model_update must be the ranges alone: NAdam's advances its mu product
     * (state shared by every parameter) once per step before them */
    if (!strcmp(g->opt.c.name, "nadam"))
        return "NAdam advances its mu product (shared state) once per step, first";
    if (g->train.clip_grad_norm > 0)
        return "clip_grad_norm scales every gradient by the norm of all of them";
    if (g->train.clip_grad_value > 0) return "clip_grad_value clips the gradients first";
    if (g->train.stop_grad_norm > 0)
        return "stop_grad_norm may end training at this step's gradient norm, before its update";
    if (p->shards > 1) return "the shards' gradients are summed after every shard's backward pass";
    return NULL;
}

void update_scale_of(ir_graph *g, const ir_node *p, double *lr_scale, double *wd)
{
    const opt_def *d = opt_find(g->opt.c.name);
    int wdi = opt_index(d, "weight_decay");
    double wd0 = wdi >= 0 ? g->opt.c.value[wdi][0] : 0;
    *lr_scale = !isnan(p->group_lr) ? p->group_lr / g->opt.lr : 1;
    *wd = !isnan(p->group_wd) ? p->group_wd : wd0;
}

/* the update's lr of a parameter at lr_scale, through u when fused */
static const char *lr_text(ir_graph *g, double lr_scale, int fused)
{
    const char *u = fused ? "u->" : "";
    /* a group's lr, scaled as the schedule scales the base lr */
    return lr_scale == 1
               ? arena_printf(g->A, "%slr", u)
               : arena_printf(g->A, "%slr / %.17g * %.17g", u, g->opt.lr, lr_scale * g->opt.lr);
}

/* weight decay: 0 when train --overfit turns regularisation off */
static const char *wd_text(ir_graph *g, double wd)
{
    return wd != 0 ? arena_printf(g->A, "model_regularise ? (real)%.17g : (real)0", wd) : "(real)0";
}

const char *update_range_call(ir_graph *g, const char *off, long n, double lr_scale, double wd,
                              int fused)
{
    const char *u = fused ? "u->" : "";
    return arena_printf(g->A,
                        "update_range(param + %s, grad + %s, %sstate + %s, %ld, %s, %smomentum, "
                        "%s, %st);",
                        off, off, u, off, n, lr_text(g, lr_scale, fused), u, wd_text(g, wd), u);
}

/* The node whose block computes node m: m itself, or the consumer it is
 * inlined into, the producer it is fused into or whose epilogue stores it */
static int host_of(const plan_variant *v, const int *epi_of, int m)
{
    for (int guard = 0; guard < 64; guard++) {
        if (v->inlined[m] >= 0)
            m = v->inlined[m];
        else if (v->fused_into[m] >= 0)
            m = v->fused_into[m];
        else if (epi_of[m] >= 0)
            m = epi_of[m];
        else
            break;
    }
    return m;
}

void fuse_update_points(ir_graph *g, const plan_variant *v, int *last)
{
    int *pos = malloc(sizeof(int) * (size_t)(g->n + 1));
    int *epi_of = malloc(sizeof(int) * (size_t)(g->n + 1));
    for (int i = 0; i < g->n; i++) pos[i] = epi_of[i] = last[i] = -1;
    for (int s = 0; s < v->norder; s++) pos[v->order[s]] = s;
    for (int i = 0; i < g->n; i++)
        if (v->epi[i] >= 0) epi_of[v->epi[i]] = i;
    for (int m = 0; m < g->n; m++) {
        int h = host_of(v, epi_of, m);
        int s = pos[m] > pos[h] ? pos[m] : pos[h];
        if (s < 0) continue; /* not computed in this variant */
        const ir_node *x = ir_get(g, m);
        /* its reads of a parameter (through views too) */
        for (int k = 0; k < x->nin; k++) {
            int r = plan_root(v, x->in[k]);
            if (ir_get(g, r)->kind == K_PARAM && last[r] < s) last[r] = s;
        }
        /* its writes of a parameter's gradient */
        int gp = v->grad_of[m] >= 0 ? v->grad_of[m] : v->grad_of[plan_root(v, m)];
        if (gp >= 0 && last[gp] < s) last[gp] = s;
    }
    free(pos);
    free(epi_of);
}

/* step s's node (the block after which the updates of step s go) */
static const ir_node *node_at(const emitter *e, int s)
{
    return s >= 0 && s < e->pv->norder ? ir_get(e->g, e->pv->order[s]) : NULL;
}

void fuse_update_emit(emitter *e, const int *last, int s)
{
    ir_graph *g = e->g;
    const ir_node *at = node_at(e, s);
    const int in_store = at ? fuse_update_in_store(e, at) : -1;
    for (int i = 0; i < g->n; i++) {
        const ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM || !p->trainable || last[i] != s || i == in_store) continue;
        double scale, wd;
        update_scale_of(g, p, &scale, &wd);
        const char *off = e_fmt(e, "P_%s", e_upper(g->A, p->name));
        wr_line(e->w, "/* the update of %s, its gradient complete (fused: gen/fuse_update.c) */",
                esc_c_comment(g->A, p->label));
        wr_line(e->w, "if (u) %s", update_range_call(g, off, ir_numel(p, 1), scale, wd, 1));
    }
}

/* ---- the update inside the weight-gradient product's store ---- */

int fuse_update_in_store(const emitter *e, const ir_node *n)
{
    const plan_variant *v = e->pv;
    const int id = n->id;
    /* an optimizer with state per parameter streams it beside the product,
     * which then runs slower than the update after it: fashion_mlp with
     * Adam 380 us a step against 329 per tensor (its SGD 305 and 302), on
     * an AMD EPYC (Zen 5), 2026-12-06 */
    if (e->g->opt.n_state > 0) return -1;
    /* Aᵀ·B into the gradient's own buffer by rt_gemm.c's kernel, nothing fused into it */
    if (!e->fuse_last || e->dbl || v->hvp || n->op != OP_MATMUL || !n->i[0] || n->i[1] ||
        v->kernel[id] != KERN_GEMM || v->epi[id] >= 0 || v->view_of[id] >= 0 ||
        v->inlined[id] >= 0 || v->fused_into[id] >= 0)
        return -1;
    const int p = v->grad_of[id];
    if (p < 0 || !ir_get(e->g, p)->trainable || ir_numel(n, 1) != ir_numel(ir_get(e->g, p), 1))
        return -1;
    /* the product is the last block to touch the parameter, and does not read it */
    int s = 0;
    while (s < v->norder && v->order[s] != id) s++;
    if (s == v->norder || e->fuse_last[p] != s) return -1;
    for (int k = 0; k < n->nin; k++)
        if (plan_root(v, n->in[k]) == p) return -1;
    return p;
}

void fuse_update_store_helper(writer *w)
{
    wr_line(w, "/* One run of rows of a parameter's fused update: trainc's weight-gradient");
    wr_line(w, " * kernel (runtime/rt_gemm.c, rt_sgemm_tn_store) calls it on each run of rows");
    wr_line(w, " * of the gradient as soon as they are final, while they are in cache");
    wr_line(w, " * (gen/fuse_update.c); the update is elementwise: the bits of one call */");
    wr_line(w, "typedef struct update_strip {");
    wr_line(w, "    real *param, *grad, *state; /* the parameter's slices */");
    wr_line(w, "    double lr;                  /* its group's */");
    wr_line(w, "    real weight_decay;");
    wr_line(w, "    const model_update_args *u;");
    wr_line(w, "} update_strip;");
    wr_blank(w);
    wr_line(w, "static void update_strip_done(void *ctx, long offset, long n)");
    wr_line(w, "{");
    wr_line(w, "    const update_strip *s = ctx;");
    wr_line(w,
            "    update_range(s->param + offset, s->grad + offset, s->state + offset, n, s->lr,");
    wr_line(w, "                 s->u->momentum, s->weight_decay, s->u->t);");
    wr_line(w, "}");
    wr_blank(w);
}

/* parameter param's node, its lr scale and weight decay, and its offset in
 * the flat buffers (P_NAME) */
static const ir_node *store_param(emitter *e, int param, double *scale, double *wd,
                                  const char **off)
{
    const ir_node *p = ir_get(e->g, param);
    update_scale_of(e->g, p, scale, wd);
    *off = e_fmt(e, "P_%s", e_upper(e->g->A, p->name));
    return p;
}

void fuse_update_store_begin(emitter *e, int param)
{
    ir_graph *g = e->g;
    double scale, wd;
    const char *off;
    const ir_node *p = store_param(e, param, &scale, &wd, &off);
    wr_line(e->w, "/* the update of %s in the product's store: on each run of rows of its",
            esc_c_comment(g->A, p->label));
    wr_line(e->w, " * gradient as soon as they are final, in cache; its parameter fetched a");
    wr_line(e->w, " * strip ahead (fused: gen/fuse_update.c) */");
    wr_line(e->w,
            "update_strip update_strip_ctx = {param + %s, grad + %s, u ? u->state + %s : NULL,",
            off, off, off);
    wr_line(e->w, "                                 u ? %s : 0, %s, u};", lr_text(g, scale, 1),
            wd_text(g, wd));
    /* the array the update reads beside the gradient: the parameter (no
     * state: fuse_update_in_store takes optimizers without it) */
    wr_line(e->w,
            "const rt_gemm_store update_store = {u ? update_strip_done : NULL, &update_strip_ctx,");
    wr_line(e->w, "                                    {param + %s}, u ? 1 : 0};", off);
}

void fuse_update_store_after(emitter *e, int param)
{
    ir_graph *g = e->g;
    double scale, wd;
    const char *off;
    const ir_node *p = store_param(e, param, &scale, &wd, &off);
    wr_line(e->w, "/* OpenBLAS's product: the update of %s after it */",
            esc_c_comment(g->A, p->label));
    wr_line(e->w, "if (u) %s", update_range_call(g, off, ir_numel(p, 1), scale, wd, 1));
}

int fuse_update_store_used(emitter *e, const plan *p)
{
    const plan_variant *pv = e->pv;
    const int *fl = e->fuse_last;
    int *last = malloc(sizeof(int) * (size_t)(e->g->n + 1)), used = 0;
    for (int k = 0; k < p->nv && !used; k++) {
        if (p->v[k].mode != PLAN_TRAIN || p->v[k].hvp) continue;
        e->pv = &p->v[k];
        fuse_update_points(e->g, e->pv, last);
        e->fuse_last = last;
        for (int s = 0; s < e->pv->norder && !used; s++)
            used = fuse_update_in_store(e, ir_get(e->g, e->pv->order[s])) >= 0;
    }
    e->pv = pv;
    e->fuse_last = fl;
    free(last);
    return used;
}
