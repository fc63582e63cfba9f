/* explain.c — trainc explain's page (see explain.h). model.c is read back
 * as written (after clang-format): each op block starts with a comment
 * naming its spec line ("-- spec.lua:15"), so the page finds the blocks
 * and every spec line they name, and the script links the two panes. The
 * graph and the table come from the plan of the training step at the full
 * batch, the variant train --profile times. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"
#include "emit.h"
#include "escape.h"
#include "explain.h"
#include "ops.h"
#include "writer.h"

/* Text for HTML: & < > " as entities; tab, newline and valid UTF-8 kept;
 * other control bytes and invalid UTF-8 as a visible \xNN */
const char *ex_html(arena *A, const char *s, size_t n)
{
    char *out = arena_alloc(A, n * 6 + 1), *w = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *ent = c == '&'   ? "&amp;"
                          : c == '<' ? "&lt;"
                          : c == '>' ? "&gt;"
                          : c == '"' ? "&quot;"
                                     : NULL;
        size_t len = c < 0x80                ? 1
                     : c >= 0xc2 && c < 0xe0 ? 2
                     : c >= 0xe0 && c < 0xf0 ? 3
                     : c >= 0xf0 && c < 0xf5 ? 4
                                             : 0;
        int ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ent) {
            w += sprintf(w, "%s", ent), i++;
        } else if (!ok || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            w += sprintf(w, "\\x%02X", c), i++;
        } else {
            memcpy(w, s + i, len), w += len, i += len;
        }
    }
    *w = 0;
    return out;
}

static const char *htmls(arena *A, const char *s)
{
    return ex_html(A, s, strlen(s));
}

/* The spec's lines, each a target of the links */
static void spec_pane(writer *w, arena *A, const about *a)
{
    wr_raw(w, "<pre id=\"spec\">");
    size_t at = 0;
    for (int line = 1; at < a->len; line++) {
        const char *nl = memchr(a->text + at, '\n', a->len - at);
        size_t end = nl ? (size_t)(nl - a->text) : a->len;
        wr_raw(w, arena_printf(A,
                               "<span class=\"sl\" id=\"s%d\" data-line=\"%d\"><span "
                               "class=\"ln\">%4d</span> %s\n</span>",
                               line, line, line, ex_html(A, a->text + at, end - at)));
        at = end + 1;
    }
    wr_raw(w, "</pre>\n");
}

/* The spec lines a line of model.c names ("KEY:15"), appended to lines
 * (" 15 16 ": each between spaces) */
const char *ex_named_lines(arena *A, const char *line, const char *key, const char *lines)
{
    size_t kl = strlen(key);
    for (const char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
        if (p[kl] != ':' || p[kl + 1] < '0' || p[kl + 1] > '9') continue;
        const char *num = arena_printf(A, " %d ", atoi(p + kl + 1));
        if (!strstr(lines, num)) lines = arena_printf(A, "%s%s", lines, num + 1);
    }
    return lines;
}

/* Whether a line of model.c starts an op block (its comment names a spec
 * line), or ends one: a section, a function header or a function's end */
static int starts_block(const char *const *lines, int i, int n)
{
    const char *t = lines[i] + strspn(lines[i], " ");
    if (!strncmp(lines[i], "/* ---- update", 14)) return 1;
    if (strncmp(t, "/* ", 3) || !strncmp(t, "/* ====", 7) || !strncmp(lines[i], "/* ---- ", 8))
        return 0;
    if (strstr(lines[i], " -- ")) return 1;
    /* a head too long for one line: "-- spec:line" below it, after the
     * head's own continuation lines (emit_step.c's emit_block_comment) */
    for (int j = i + 1; j < n && !strstr(lines[j - 1], "*/"); j++) {
        const char *u = lines[j] + strspn(lines[j], " ");
        if (!strncmp(u, "*   -- ", 7)) return 1;
        if (strncmp(u, "*     ", 6)) return 0;
    }
    return 0;
}

static int ends_block(const char *line)
{
    const char *t = line + strspn(line, " ");
    return !strncmp(t, "/* ======== ", 12) || !strncmp(line, "/* ---- ", 8) || !strcmp(line, "}");
}

char *ex_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    writer w;
    wr_init(&w);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf - 1, f)) > 0) {
        buf[got] = 0;
        wr_raw(&w, buf);
    }
    fclose(f);
    return wr_take(&w);
}

int ex_lines(arena *A, const char *text, const char ***out)
{
    int n = 1;
    for (const char *c = text; *c; c++) n += *c == '\n';
    const char **lines = arena_alloc(A, sizeof *lines * (size_t)n);
    n = 0;
    for (const char *c = text; *c;) {
        const char *nl = strchr(c, '\n');
        size_t len = nl ? (size_t)(nl - c) : strlen(c);
        lines[n++] = arena_printf(A, "%.*s", (int)len, c);
        c += len + (nl != NULL);
    }
    *out = lines;
    return n;
}

int ex_chunks(arena *A, const char *code, const char *key, ex_chunk **out)
{
    const char **lines;
    int n = ex_lines(A, code, &lines), nc = 0;
    ex_chunk *ch = arena_alloc(A, sizeof *ch * (size_t)(n + 1));
    const char *section = "";
    for (int i = 0; i < n; i++) {
        const char *t = lines[i] + strspn(lines[i], " ");
        if (!strncmp(lines[i], "/* ---- ", 8))
            section = strstr(lines[i], "/* ---- update") ? "update" : "";
        static const char *const names[] = {"forward", "loss", "backward"};
        for (int k = 0; k < 3 && !strncmp(t, "/* ======== ", 12); k++)
            if (!strncmp(t + 12, names[k], strlen(names[k]))) section = names[k];
        /* a block: the spec lines its comment and code name */
        const char *named = " ";
        int j = i;
        for (; starts_block(lines, i, n) && j < n &&
               (j == i || (!ends_block(lines[j]) && !starts_block(lines, j, n)));
             j++)
            named = ex_named_lines(A, lines[j], key, named);
        int block = j > i && named[1];
        if (block || ends_block(lines[i]) || !nc || ch[nc - 1].block)
            ch[nc++] = (ex_chunk){block, section, named, lines + i, 0};
        if (block) {
            ch[nc - 1].n = j - i;
            i = j - 1;
        } else {
            ch[nc - 1].n++;
        }
    }
    *out = ch;
    return nc;
}

/* model.c with its op blocks marked */
static int code_pane(writer *w, arena *A, const char *code, const char *key)
{
    ex_chunk *ch;
    int nc = ex_chunks(A, code, key, &ch), blocks = 0;
    wr_raw(w, "<pre id=\"code\">");
    for (int k = 0; k < nc; k++) {
        if (ch[k].block)
            wr_raw(w, arena_printf(A, "<div class=\"blk %s\" id=\"b%d\" data-lines=\"%s\">",
                                   ch[k].section, ++blocks, ch[k].lines));
        for (int i = 0; i < ch[k].n; i++)
            wr_raw(w, arena_printf(A, "%s\n", ex_html(A, ch[k].text[i], strlen(ch[k].text[i]))));
        if (ch[k].block) wr_raw(w, "</div>");
    }
    wr_raw(w, "</pre>\n");
    return blocks;
}

/* The training variant at the full batch (with shards: the largest) */
static const char *why_kernel(plan_kernel k)
{
    switch (k) {
    case KERN_BLAS:
        return "a product large enough for OpenBLAS's blocked kernels (cblas_?gemm)";
    case KERN_GEMM:
        return "trainc's register-blocked AVX2/AVX-512 product (runtime/rt_gemm.c): faster "
               "than OpenBLAS at this shape by the cost model of gen/ops/matmul.c (a "
               "convolution's: gen/ops/conv_product.c)";
    case KERN_GEMV:
        return "a product with one row: OpenBLAS's matrix-vector kernel";
    case KERN_UNROLL:
        return "at most 8 values: straight-line code, no loop";
    default:
        return "constant-bound loops the compiler vectorises (small or elementwise)";
    }
}

/* Nodes whose arena space node id reuses: placed at overlapping offsets
 * earlier in the step */
static const char *shares_with(ir_graph *g, const plan_variant *v, int s)
{
    int id = v->order[s];
    long a0 = v->offset[id], a1 = a0 + ir_numel(ir_get(g, id), v->batch);
    const char *out = "";
    if (a0 < 0) return out;
    for (int r = 0; r < s; r++) {
        int j = v->order[r];
        long b0 = v->offset[j], b1 = b0 + ir_numel(ir_get(g, j), v->batch);
        if (b0 >= 0 && j != id && v->view_of[j] < 0 && b0 < a1 && a0 < b1)
            out = arena_printf(g->A, "%s%s%s", out, *out ? ", " : "", ir_get(g, j)->name);
    }
    return out;
}

/* Where the buffer of the s-th node lives, for the table and the graph */
static const char *arena_text(ir_graph *g, const plan_variant *v, int s)
{
    int id = v->order[s];
    const char *share = shares_with(g, v, s);
    if (v->offset[id] < 0) return "its own buffer (a parameter, gradient or input)";
    return arena_printf(g->A, "arena at %ld%s%s", v->offset[id],
                        *share ? ", reusing the space of " : "", htmls(g->A, share));
}

/* The nodes computed in block id's loop or store, besides id */
static const char *fused_names(ir_graph *g, const plan_variant *v, int id)
{
    const char *out = "";
    for (int j = 0; j < g->n; j++)
        if (j != id && ir_get(g, j)->kind == K_ACT && emit_block_of(v, j) == id &&
            (v->inlined[j] >= 0 || v->fused_into[j] >= 0))
            out = arena_printf(g->A, "%s%s%s", out, *out ? ", " : "", ir_get(g, j)->name);
    return out;
}

/* The parameter values block id reads (each tensor once) */
static long block_params(ir_graph *g, const plan_variant *v, int id)
{
    long total = 0;
    for (int p = 0; p < g->n; p++) {
        const ir_node *t = ir_get(g, p);
        if (t->kind != K_PARAM) continue;
        int used = 0;
        for (int j = 0; j < g->n && !used; j++) {
            const ir_node *x = ir_get(g, j);
            if (x->kind != K_ACT || emit_block_of(v, j) != id) continue;
            for (int k = 0; k < x->nin; k++) used |= plan_root(v, x->in[k]) == p;
        }
        if (used) total += ir_numel(t, v->batch);
    }
    return total;
}

static void op_table(writer *w, ir_graph *g, const plan_variant *v, int dbl)
{
    arena *A = g->A;
    wr_raw(w, arena_printf(A,
                           "<h2>The ops of one training step (%d rows)</h2>\n<table id=\"ops\">"
                           "<tr><th>line</th><th>node</th><th>op</th><th>shape</th><th>parameters</"
                           "th><th>FLOPs</th>"
                           "<th>bytes</th><th>kernel</th><th>why</th><th>predicted µs</th>"
                           "<th>fused into it</th><th>arena</th></tr>\n",
                           v->batch));
    for (int s = 0; s < v->norder; s++) {
        if (!emit_profiled_block(v, s)) continue;
        const ir_node *n = ir_get(g, v->order[s]);
        double flops, bytes;
        emit_block_cost(g, v, dbl, n->id, &flops, &bytes);
        char shape[128];
        ir_shape_str(n, shape, sizeof shape);
        plan_kernel k = v->kernel[n->id];
        const char *arena_at = arena_text(g, v, s);
        static const char *const phase[] = {"forward", "loss", "backward"};
        wr_raw(
            w,
            arena_printf(
                A,
                "<tr class=\"%s\" data-line=\"%d\"><td><a href=\"#s%d\">%d</a></td><td>%s</td>"
                "<td>%s</td><td>%s</td><td>%ld</td><td>%.4g</td><td>%.4g</td><td>%s</td><td>%s</td>"
                "<td>%.2f</td><td>%s</td><td>%s</td></tr>\n",
                phase[n->phase], n->line, n->line, n->line, htmls(A, n->name), ir_op_name(n->op),
                htmls(A, shape), block_params(g, v, n->id), flops, bytes, emit_kernel_name(k),
                n->why ? htmls(A, n->why) : why_kernel(k), emit_predict_us(g, v, n, flops, bytes),
                htmls(A, fused_names(g, v, n->id)), arena_at));
    }
    wr_raw(w, "</table>\n");
}

/* The op graph: a box per block of the step, forward and loss on the left,
 * backward on the right, in schedule order; an arrow per buffer one block
 * reads from another */
static void graph_svg(writer *w, ir_graph *g, const plan_variant *v)
{
    arena *A = g->A;
    enum { BOX_W = 330, BOX_H = 54, GAP = 16, COL = 420, TOP = 30 };
    int *row = arena_alloc(A, sizeof *row * (size_t)g->n),
        *col = arena_alloc(A, sizeof *col * (size_t)g->n);
    int rows[2] = {0, 0};
    for (int j = 0; j < g->n; j++) row[j] = -1;
    for (int s = 0; s < v->norder; s++) {
        if (!emit_profiled_block(v, s)) continue;
        int id = v->order[s], c = ir_get(g, id)->phase == PH_BACKWARD;
        col[id] = c, row[id] = rows[c]++;
    }
    int height = TOP + (rows[0] > rows[1] ? rows[0] : rows[1]) * (BOX_H + GAP) + 10;
    wr_raw(w,
           arena_printf(
               A,
               "<h2>The op graph</h2>\n<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" "
               "width=\"%d\" height=\"%d\" font-family=\"monospace\" font-size=\"11\">\n"
               "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
               "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\"/>"
               "</marker></defs>\n<text x=\"10\" y=\"18\">forward and loss</text>"
               "<text x=\"%d\" y=\"18\">backward</text>\n",
               COL + BOX_W + 20, height, COL + 10));
    /* arrows first, under the boxes */
    char *seen = arena_alloc(A, (size_t)g->n * (size_t)g->n);
    for (int j = 0; j < g->n; j++) {
        int b = emit_block_of(v, j);
        if (ir_get(g, j)->kind != K_ACT || b < 0 || row[b] < 0) continue;
        const ir_node *x = ir_get(g, j);
        for (int k = 0; k < x->nin; k++) {
            int in = plan_root(v, x->in[k]);
            if (ir_get(g, in)->kind != K_ACT) continue;
            int a = emit_block_of(v, in);
            if (a < 0 || row[a] < 0 || a == b || seen[a * g->n + b]) continue;
            seen[a * g->n + b] = 1;
            int x0 = 10 + col[a] * COL + BOX_W / 2, y0 = TOP + row[a] * (BOX_H + GAP) + BOX_H;
            int x1 = 10 + col[b] * COL + BOX_W / 2, y1 = TOP + row[b] * (BOX_H + GAP);
            if (col[a] != col[b] || y1 < y0) /* across the columns or upwards: from the side */
                x0 = 10 + col[a] * COL + (col[b] > col[a] ? BOX_W : 0), y0 -= BOX_H / 2;
            wr_raw(w, arena_printf(A,
                                   "<path class=\"edge\" d=\"M%d,%d C%d,%d %d,%d %d,%d\" "
                                   "marker-end=\"url(#arrow)\"/>\n",
                                   x0, y0, x0 + (x1 - x0) / 3, y0 + 24, x1, y1 - 24, x1, y1));
        }
    }
    for (int s = 0; s < v->norder; s++) {
        int id = v->order[s];
        if (row[id] < 0) continue;
        const ir_node *n = ir_get(g, id);
        char shape[128];
        ir_shape_str(n, shape, sizeof shape);
        double flops, bytes;
        emit_block_cost(g, v, 0, id, &flops, &bytes);
        const char *fused = fused_names(g, v, id);
        int x = 10 + col[id] * COL, y = TOP + row[id] * (BOX_H + GAP);
        wr_raw(w,
               arena_printf(
                   A,
                   "<g class=\"node\" data-line=\"%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                   "height=\"%d\" rx=\"4\"/><text x=\"%d\" y=\"%d\">%s = %s [%s]</text>"
                   "<text x=\"%d\" y=\"%d\">%.3g FLOPs%s%s</text>"
                   "<text x=\"%d\" y=\"%d\">%s</text></g>\n",
                   n->line, x, y, BOX_W, BOX_H, x + 6, y + 15, htmls(A, n->name), ir_op_name(n->op),
                   htmls(A, shape), x + 6, y + 31, flops, *fused ? ", fused: " : "",
                   htmls(A, fused), x + 6, y + 47, arena_text(g, v, s)));
    }
    wr_raw(w, "</svg>\n");
}

static const char STYLE[] =
    "body{font-family:sans-serif;margin:0 1em}header{padding:.5em 0}"
    "#panes{display:flex;gap:1em;height:70vh}"
    "#panes pre{flex:1;overflow:auto;margin:0;border:1px solid #ccc;padding:.3em;font-size:12px}"
    "#spec{flex:0 0 38%!important;white-space:pre-wrap}.sl{display:block;cursor:pointer}"
    ".ln{color:#999}"
    ".blk{display:block;cursor:pointer;border-left:4px solid #ddd;padding-left:4px}"
    ".blk.forward{border-color:#4a90d9}.blk.loss{border-color:#d9a84a}"
    ".blk.backward{border-color:#d94a4a}.blk.update{border-color:#4ad96b}"
    ".hl{background:#fff3a8!important}tr.hl td{background:#fff3a8}"
    ".legend span{padding:0 .5em;border-left:4px solid}"
    "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px}"
    "tr.backward td:first-child{border-left:4px solid #d94a4a}"
    "tr.forward td:first-child{border-left:4px solid #4a90d9}"
    "tr.loss td:first-child{border-left:4px solid #d9a84a}"
    "#graph rect{fill:#f4f8fd;stroke:#4a90d9}#graph .edge{fill:none;stroke:#999}"
    "#graph g.node{cursor:pointer}#graph g.hl rect{fill:#fff3a8}";

/* Click a spec line: its blocks, table rows and graph boxes light up; click
 * a block: its spec lines. #selftest clicks every line and block and
 * writes what it found into the page (tests/test_explain.sh reads it). */
static const char SCRIPT[] =
    "(function(){'use strict';\n"
    "var all=function(q){return Array.prototype.slice.call(document.querySelectorAll(q));};\n"
    "function clear(){all('.hl').forEach(function(e){e.classList.remove('hl');});}\n"
    "function blocksOf(n){return all('.blk').filter(function(b){return b.dataset.lines.indexOf(' "
    "'+n+' ')>=0;});}\n"
    "function showLine(n,scroll){clear();var "
    "s=document.getElementById('s'+n);if(s)s.classList.add('hl');\n"
    " var bs=blocksOf(n);bs.forEach(function(b){b.classList.add('hl');});\n"
    " all('tr[data-line=\"'+n+'\"],g.node[data-line=\"'+n+'\"]').forEach(function(e){e.classList."
    "add('hl');});\n"
    " if(scroll&&bs.length)bs[0].scrollIntoView({block:'nearest'});return bs;}\n"
    "function showBlock(b){clear();b.classList.add('hl');var first=null;\n"
    " b.dataset.lines.trim().split(/\\s+/).forEach(function(n){var "
    "s=document.getElementById('s'+n);\n"
    "  "
    "if(s){s.classList.add('hl');first=first||s;}});if(first)first.scrollIntoView({block:'nearest'}"
    ");}\n"
    "document.getElementById('spec').addEventListener('click',function(ev){var "
    "l=ev.target.closest('.sl');if(l)showLine(l.dataset.line,true);});\n"
    "document.getElementById('code').addEventListener('click',function(ev){var "
    "b=ev.target.closest('.blk');if(b)showBlock(b);});\n"
    "all('tr[data-line],g.node').forEach(function(e){e.addEventListener('click',function(){"
    "showLine(e.getAttribute('data-line'),true);});});\n"
    "var m=/^#s(\\d+)$/.exec(location.hash);if(m)showLine(m[1],true);\n"
    "if(location.hash==='#selftest'){var bad=[],missing=[],linked=0;\n"
    " var click=function(e){e.dispatchEvent(new MouseEvent('click',{bubbles:true}));};\n"
    " all('.sl').forEach(function(l){var n=l.dataset.line,want=blocksOf(n);click(l.firstChild);\n"
    "  var got=all('.blk.hl');if(want.length)linked++;\n"
    "  "
    "if(!l.classList.contains('hl')||got.length!==want.length||want.some(function(b){return!b."
    "classList.contains('hl');}))bad.push('line '+n);});\n"
    " document.body.dataset.opLines.trim().split(/\\s+/"
    ").forEach(function(n){if(n&&!blocksOf(n).length)missing.push(n);});\n"
    " all('.blk').forEach(function(b){click(b);var "
    "ok=b.classList.contains('hl')&&all('.sl.hl').length>0;\n"
    "  b.dataset.lines.trim().split(/\\s+/).forEach(function(n){var "
    "s=document.getElementById('s'+n);if(s&&!s.classList.contains('hl'))ok=false;});\n"
    "  if(!ok)bad.push(b.id);});\n"
    " var o=document.createElement('pre');o.id='selftest';\n"
    " o.textContent='selftest lines='+all('.sl').length+' blocks='+all('.blk').length+' "
    "linked='+linked+' bad='+bad.join(',')+' missing='+missing.join(',')+' end';\n"
    " document.body.appendChild(o);}\n"
    "})();\n";

/* The spec lines the graph's nodes come from: each must have a block */
static const char *op_lines(ir_graph *g)
{
    const char *out = " ";
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_ACT || !n->file || strcmp(n->file, g->spec_path) || n->line <= 0) continue;
        const char *num = arena_printf(g->A, " %d ", n->line);
        if (!strstr(out, num)) out = arena_printf(g->A, "%s%d ", out, n->line);
    }
    return out;
}

int explain_write(ir_graph *g, const plan *p, const about *a, const char *out_dir, int dbl,
                  char *err, size_t errsize)
{
    arena *A = g->A;
    const char *path = arena_printf(A, "%s/model.c", out_dir);
    char *text = ex_slurp(path);
    if (!text) {
        snprintf(err, errsize, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    const plan_variant *v = plan_find_variant(p, PLAN_TRAIN, 0);
    writer w;
    wr_init(&w);
    wr_raw(&w, arena_printf(
                   A,
                   "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>trainc explain: %s</title><style>%s</style></head>\n"
                   "<body data-op-lines=\"%s\"><header><b>%s</b>: %s (%s) and the C trainc %s "
                   "generated from it, <code>%s/model.c</code>. Click a spec line to see "
                   "its code, a block of code to see its spec lines. "
                   "<span class=\"legend\"><span style=\"border-color:#4a90d9\">forward</span>"
                   "<span style=\"border-color:#d9a84a\">loss</span>"
                   "<span style=\"border-color:#d94a4a\">backward</span>"
                   "<span style=\"border-color:#4ad96b\">update</span></span></header>\n"
                   "<div id=\"panes\">",
                   htmls(A, g->model_name), STYLE, op_lines(g), htmls(A, g->model_name),
                   htmls(A, a->path), dbl ? "double" : "float", a->version, htmls(A, out_dir)));
    spec_pane(&w, A, a);
    code_pane(&w, A, text, esc_c_comment(A, g->spec_path));
    free(text);
    wr_raw(&w, "</div>\n");
    if (v) {
        graph_svg(&w, g, v);
        op_table(&w, g, v, dbl);
    }
    wr_raw(&w, arena_printf(A, "<script>%s</script>\n</body></html>\n", SCRIPT));
    char *page = wr_take(&w);
    rt_error e;
    int rc = rt_write_atomic(arena_printf(A, "%s/explain.html", out_dir), page, strlen(page), &e);
    free(page);
    if (rc) snprintf(err, errsize, "%s", e.msg);
    return rc ? -1 : 0;
}
