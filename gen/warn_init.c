/* warn_init.c — the course notes' warnings about initialisation, on the
 * spec's forward graph (before autodiff): trainc prints them (spec file and
 * line, on stderr, even with -q) and goes on generating.
 *
 * 1. Symmetric units. A weight (a trainable parameter of 2 or more
 *    dimensions) initialised to a constant (zeros() or constant(c)) whose
 *    layer feeds another layer with weights: its units start identical,
 *    get identical gradients and stay identical; and "W = 0 gives no
 *    movement" — with zeros the layers before it get no gradient either.
 *    A constant last layer (whose output reaches no other weight) is fine
 *    and not warned of: its input units differ.
 * 2. A deep sigmoid/tanh stack with the default init: DEEP_STACK or more
 *    sigmoid or tanh layers on one path from the input to the loss, each
 *    fed by a layer (linear, conv2d) whose weight has PyTorch's default
 *    init. Each sigmoid multiplies the gradient by σ' ≤ 1/4 on its way
 *    back (tanh' ≤ 1, far less once saturated), so it vanishes toward the
 *    input. 4: the course's own deep-net picture has gradients a decade
 *    apart per layer, and 4 layers already part them by 10^3. */
#include "warn_init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#define DEEP_STACK 4

/* a weight: a trainable parameter with a fan in and a fan out */
static int is_weight(const ir_node *n)
{
    return n->kind == K_PARAM && n->trainable && !n->buffer && n->rank >= 2;
}

static int constant_init(const ir_node *n)
{
    return n->init.kind == INIT_ZEROS || n->init.kind == INIT_CONSTANT;
}

/* The weight of another layer that node `from`'s value reaches (forward
 * nodes come after their inputs), other than w; -1 if none. */
static int weight_reached(ir_graph *g, int from, int w, char *reach)
{
    memset(reach, 0, (size_t)g->n);
    reach[from] = 1;
    for (int i = from + 1; i < g->n; i++) {
        const ir_node *x = ir_get(g, i);
        if (x->phase == PH_BACKWARD) continue;
        int fed = 0, other = -1;
        for (int k = 0; k < x->nin; k++) {
            fed |= reach[x->in[k]];
            if (x->in[k] != w && is_weight(ir_get(g, x->in[k]))) other = x->in[k];
        }
        if (!fed) continue;
        reach[i] = 1;
        if (other >= 0) return other;
    }
    return -1;
}

static void warn_constant_weights(ir_graph *g, char *reach)
{
    for (int w = 0; w < g->n; w++) {
        const ir_node *p = ir_get(g, w);
        if (!is_weight(p) || !constant_init(p)) continue;
        for (int c = w + 1; c < g->n; c++) { /* its layer: the first node reading it */
            const ir_node *x = ir_get(g, c);
            int reads = 0;
            for (int k = 0; k < x->nin; k++) reads |= x->in[k] == w;
            if (!reads) continue;
            int other = weight_reached(g, c, w, reach);
            if (other >= 0) {
                const ir_node *o = ir_get(g, other);
                fprintf(stderr,
                        "trainc: %s:%d: warning: %s is initialised to a constant (%s) and its "
                        "layer feeds %s (line %d): its units start identical, get identical "
                        "gradients and stay identical (symmetric units)%s; a random init (the "
                        "default) breaks the symmetry\n",
                        esc_visible(g->A, p->file, 200), p->line, esc_visible(g->A, p->label, 100),
                        p->init.what, esc_visible(g->A, o->label, 100), o->line,
                        p->init.kind == INIT_ZEROS
                            ? "; and W = 0 gives no movement: the layers before it get no "
                              "gradient"
                            : "");
            }
            break;
        }
    }
}

/* The weight of the layer that feeds a sigmoid or tanh (through its bias
 * and reshapes: back along the first input), or -1. */
static int layer_weight(ir_graph *g, const ir_node *act)
{
    const ir_node *x = ir_get(g, act->in[0]);
    for (int hops = 0; hops < 4; hops++) {
        for (int k = 0; k < x->nin; k++)
            if (is_weight(ir_get(g, x->in[k]))) return x->in[k];
        if (x->nin < 1 || x->kind == K_PARAM) return -1;
        x = ir_get(g, x->in[0]);
    }
    return -1;
}

static void warn_deep_stack(ir_graph *g)
{
    int *depth = calloc((size_t)g->n, sizeof *depth), deepest = 0, at = -1;
    if (!depth) return;
    for (int i = 0; i < g->n; i++) {
        const ir_node *x = ir_get(g, i);
        if (x->phase == PH_BACKWARD) continue;
        for (int k = 0; k < x->nin; k++)
            if (depth[x->in[k]] > depth[i]) depth[i] = depth[x->in[k]];
        if (x->op == OP_SIGMOID || x->op == OP_TANH) {
            int w = layer_weight(g, x);
            if (w >= 0 && !strncmp(ir_get(g, w)->init.what, "torch default", 13)) depth[i]++;
        }
        if (depth[i] > deepest) deepest = depth[i];
        if (depth[i] >= DEEP_STACK && at < 0) at = i;
    }
    if (at >= 0) {
        const ir_node *x = ir_get(g, at);
        fprintf(stderr,
                "trainc: %s:%d: warning: %d sigmoid/tanh layers in a row with the default init "
                "(%d or more are warned of): the gradient shrinks through each (sigmoid' <= 1/4) "
                "and vanishes toward the input layers; try init = xavier_uniform() (for tanh and "
                "sigmoid), relu, or batch norm, and see it with train --layer-metrics\n",
                esc_visible(g->A, x->file, 200), x->line, deepest, DEEP_STACK);
    }
    free(depth);
}

void warn_init(ir_graph *g)
{
    char *reach = malloc((size_t)g->n + 1);
    if (reach) warn_constant_weights(g, reach);
    free(reach);
    warn_deep_stack(g);
}
