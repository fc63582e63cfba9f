/* spec/conv.c — convolution and pooling over images [B x C x H x W]:
 * conv2d (im2col or direct, by gen/ops/conv.c's cost model or algo = ...),
 * max_pool2d, avg_pool2d and global_avg_pool, and their layer makers
 * (Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool). */
#include <string.h>

#include "spec_int.h"

/* The images a layer reads: a clear error for anything else. */
static const ir_node *check_images(lua_State *L, int x, const char *fname)
{
    const ir_node *n = ir_get(spec_state_of(L)->g, x);
    char sh[64];
    if (n->rank != 4 || n->dim[0] != IR_BATCH)
        spec_error(L,
                   "%s: input must be images [B x C x H x W], got %s (use input { C, H, W } or "
                   "reshape)",
                   fname, ir_shape_str(n, sh, sizeof sh));
    return n;
}

/* t[key]: a size for both axes (k) or one per axis ({ kh, kw }), each at
 * least lo; dflt (two values) when absent, or an error when dflt is NULL */
static void pair_opt(lua_State *L, int t, const char *fname, const char *key, int lo,
                     const int *dflt, int *out)
{
    spec_get_opt(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (!dflt) spec_error(L, "%s: give the %s size, e.g. { %s = 3 }", fname, key, key);
        out[0] = dflt[0], out[1] = dflt[1];
        return;
    }
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 1;
    if (lua_istable(L, -1) && n != 2)
        spec_error(L, "%s: %s must be a number or a pair { h, w }, got %d values", fname, key, n);
    for (int k = 0; k < 2; k++) {
        if (lua_istable(L, -1))
            lua_rawgeti(L, -1, k + 1);
        else
            lua_pushvalue(L, -1);
        int isnum;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum) spec_error(L, "%s: %s must be an integer or a pair of integers", fname, key);
        if (v < lo || v > 65535)
            spec_error(L, "%s: %s %lld must be between %d and 65535", fname, key, (long long)v, lo);
        out[k] = (int)v;
    }
    lua_pop(L, 1);
}

/* conv2d's geometry from its options (argument 3): kernel, stride,
 * padding, dilation and groups, checked against input [B x C x H x W] */
static conv_sizes conv_geometry(lua_State *L, const ir_node *xn, lua_Integer oc, int *dil)
{
    int C = xn->dim[1], H = xn->dim[2], W = xn->dim[3];
    static const int one[2] = {1, 1}, zero[2] = {0, 0};
    int k[2], st[2], pad[2];
    pair_opt(L, 3, "conv2d", "kernel", 1, NULL, k);
    pair_opt(L, 3, "conv2d", "stride", 1, one, st);
    pair_opt(L, 3, "conv2d", "padding", 0, zero, pad);
    pair_opt(L, 3, "conv2d", "dilation", 1, one, dil);
    int G = (int)spec_opt_whole(L, 3, -1, "conv2d", "groups", 1, 1, 65535);
    if (C % G || oc % G)
        spec_error(L,
                   "conv2d: groups = %d must divide the input channels (%d) and the output "
                   "channels (%lld)",
                   G, C, (long long)oc);
    int oh = conv_out_size(H, k[0], st[0], pad[0], dil[0]);
    int ow = conv_out_size(W, k[1], st[1], pad[1], dil[1]);
    if (oh <= 0 || ow <= 0)
        spec_error(L,
                   "conv2d: kernel %dx%d (dilation %dx%d) is larger than the padded input "
                   "%dx%d (%dx%d, padding %dx%d)",
                   k[0], k[1], dil[0], dil[1], H + 2 * pad[0], W + 2 * pad[1], H, W, pad[0],
                   pad[1]);
    return (conv_sizes){C, (int)oc, k[0], k[1], st[0], st[1], pad[0], pad[1], oh, ow, G};
}

/* Direct convolution (no patches) or im2col: algo = "auto" asks conv.c's
 * cost model, which takes direct for an x that needs no gradient when it
 * is cheaper. */
static int conv_is_direct(lua_State *L, int x, const conv_sizes *cz)
{
    spec_state *s = spec_state_of(L);
    const char *algo = spec_opt_string(L, 3, "algo", "auto");
    if (!strcmp(algo, "auto")) return conv_direct_possible(s->g, x, cz) && conv_direct_cheaper(cz);
    if (!strcmp(algo, "direct")) {
        if (!conv_direct_possible(s->g, x, cz))
            return spec_error(L,
                              "conv2d: algo = \"direct\" needs groups = 1, an input that depends "
                              "on no parameter and at most %d values of dW rows per image",
                              CONV_DIRECT_MAX_ROWS);
        return 1;
    }
    if (!strcmp(algo, "im2col")) return 0;
    return spec_error(L, "conv2d: algo = \"%s\"; it must be \"auto\", \"direct\" or \"im2col\"",
                      algo);
}

/* Why the kernel is what it is, for trainc explain's table */
static const char *conv_why(lua_State *L, int x, const conv_sizes *cz, int direct)
{
    spec_state *s = spec_state_of(L);
    const char *algo = spec_opt_string(L, 3, "algo", "auto");
    const int own = cz->sh == 1 && cz->sw == 1 && !cz->ph && !cz->pw; /* rt_conv.c's case */
    const char *kernel = !direct ? "im2col and a product"
                         : own   ? "direct: the forward by runtime/rt_conv.c, dW in loops"
                                 : "direct loops";
    if (strcmp(algo, "auto"))
        return arena_printf(s->g->A, "%s: algo = \"%s\" in the spec", kernel, algo);
    if (!conv_direct_possible(s->g, x, cz))
        return arena_printf(s->g->A,
                            "%s: direct loops need groups = 1, an input that needs no gradient and "
                            "at most %d dW values per image row",
                            kernel, CONV_DIRECT_MAX_ROWS);
    double d, i;
    conv_estimate(cz, &d, &i);
    return arena_printf(s->g->A,
                        "%s: the cost model (conv_direct.c) gives direct %.0f ns per image, im2col "
                        "and the product %.0f%s",
                        kernel, d, i,
                        cz->sh != 1 || cz->sw != 1 ? "; direct only at stride 1" : "");
}

/* The patches im2col makes of x; a 1x1 kernel at stride 1 without padding
 * reads x itself. */
static int conv_patches(lua_State *L, int x, const conv_sizes *z, const int *dil, const char *name)
{
    spec_state *s = spec_state_of(L);
    int col;
    if (z->kh == 1 && z->kw == 1 && z->sh == 1 && z->sw == 1 && !z->ph && !z->pw) {
        const ir_node *xn = ir_get(s->g, x);
        ir_args v = {
            .nin = 1, .in = {x}, .rank = 3, .dim = {IR_BATCH, z->C, xn->dim[2] * xn->dim[3]}};
        col = spec_make(L, OP_RESHAPE, &v, "conv2d");
    } else {
        ir_args c = {.nin = 1,
                     .in = {x},
                     .i = {z->kh, z->kw, z->sh, z->sw},
                     .f = {z->ph, z->pw, dil[0], dil[1]}};
        col = spec_make(L, OP_IM2COL, &c, "conv2d");
    }
    ir_get(s->g, col)->name = ir_c_name(s->g, arena_printf(s->g->A, "%s_col", name));
    return col;
}

/* conv2d(x, out_channels, { kernel = k or { kh, kw }, stride = 1, padding = 0,
 * dilation = 1, groups = 1, bias = true, name, init, bias_init, frozen }):
 * torch.nn.Conv2d with its default init (weight [OC x C/G x kh x kw]). */
static int dsl_conv2d(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    lua_settop(L, 3);
    int x = spec_check_tensor(L, 1, "conv2d");
    lua_Integer oc = luaL_checkinteger(L, 2);
    static const char *const keys[] = {"kernel",    "stride", "padding", "dilation",
                                       "groups",    "bias",   "name",    "init",
                                       "bias_init", "frozen", "algo",    NULL};
    spec_check_keys(L, 3, "conv2d", keys);
    const ir_node *xn = check_images(L, x, "conv2d");
    if (oc <= 0 || oc > (1 << 24))
        return spec_error(L, "conv2d: %lld output channels; it must be between 1 and 2^24",
                          (long long)oc);
    int dil[2];
    conv_sizes cz = conv_geometry(L, xn, oc, dil);
    char defname[32];
    snprintf(defname, sizeof defname, "conv%d", ++s->conv_count);
    const char *name = spec_safe_label(L, spec_opt_string(L, 3, "name", defname));
    int bias = spec_opt_bool(L, 3, "bias", 1), frozen = spec_opt_bool(L, 3, "frozen", 0);
    int G = cz.groups;
    long fan_in = (long)(cz.C / G) * cz.kh * cz.kw;

    ir_args wa = {.rank = 4, .dim = {(int)oc, cz.C / G, cz.kh, cz.kw}};
    int w = spec_layer_weight(L, 3, name, &wa, fan_in);
    ir_get(s->g, w)->trainable = !frozen;

    int direct = conv_is_direct(L, x, &cz);
    int col = direct ? x : conv_patches(L, x, &cz, dil, name);
    ir_args ca = {
        .nin = 2, .in = {col, w}, .i = {G}, .rank = 4, .dim = {IR_BATCH, (int)oc, cz.OH, cz.OW}};
    if (direct) {
        int geom_i[4] = {cz.kh, cz.kw, cz.sh, cz.sw}, geom_f[4] = {cz.ph, cz.pw, dil[0], dil[1]};
        for (int q = 0; q < 4; q++) ca.i[q] = geom_i[q], ca.f[q] = geom_f[q];
    }
    if (bias) {
        ca.nin = 3;
        ca.in[2] = spec_layer_bias(L, 3, name, (int)oc, fan_in, frozen);
    }
    int y = spec_make(L, direct ? OP_CONV2D_DIRECT : OP_CONV2D, &ca, "conv2d");
    ir_get(s->g, y)->name = ir_c_name(s->g, name);
    ir_get(s->g, y)->why = conv_why(L, x, &cz, direct);
    spec_push_tensor(L, y);
    return 1;
}

/* max_pool2d(x, k) or max_pool2d(x, { kernel = k, stride = k, padding = 0 }),
 * and avg_pool2d the same (count_include_pad = True, as torch) */
static int pool(lua_State *L, ir_op op, const char *fname)
{
    lua_settop(L, 2);
    int x = spec_check_tensor(L, 1, fname);
    const ir_node *xn = check_images(L, x, fname);
    int k[2], st[2], pad[2];
    static const int zero[2] = {0, 0};
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_newtable(L);
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "kernel");
        lua_replace(L, 2);
    } else if (!lua_istable(L, 2)) {
        return spec_error(L, "%s: give the kernel size, e.g. %s(x, 2) or %s(x, { kernel = 2 })",
                          fname, fname, fname);
    }
    static const char *const keys[] = {"kernel", "stride", "padding", NULL};
    spec_check_keys(L, 2, fname, keys);
    pair_opt(L, 2, fname, "kernel", 1, NULL, k);
    pair_opt(L, 2, fname, "stride", 1, k, st);
    pair_opt(L, 2, fname, "padding", 0, zero, pad);
    if (2 * pad[0] > k[0] || 2 * pad[1] > k[1])
        return spec_error(L, "%s: padding %dx%d must be at most half the kernel %dx%d", fname,
                          pad[0], pad[1], k[0], k[1]);
    int H = xn->dim[2], W = xn->dim[3];
    if (conv_out_size(H, k[0], st[0], pad[0], 1) <= 0 ||
        conv_out_size(W, k[1], st[1], pad[1], 1) <= 0)
        return spec_error(L,
                          "%s: kernel %dx%d is larger than the padded input %dx%d (%dx%d, "
                          "padding %dx%d)",
                          fname, k[0], k[1], H + 2 * pad[0], W + 2 * pad[1], H, W, pad[0], pad[1]);
    ir_args a = {.nin = 1, .in = {x}, .i = {k[0], k[1], st[0], st[1]}, .f = {pad[0], pad[1], 1, 1}};
    return spec_push_op(L, op, &a, fname);
}

static int dsl_max_pool2d(lua_State *L)
{
    return pool(L, OP_MAX_POOL2D, "max_pool2d");
}
static int dsl_avg_pool2d(lua_State *L)
{
    return pool(L, OP_AVG_POOL2D, "avg_pool2d");
}

/* global_avg_pool(x): [B x C x H x W] -> [B x C], the mean of each channel */
static int dsl_global_avg_pool(lua_State *L)
{
    int x = spec_check_tensor(L, 1, "global_avg_pool");
    const ir_node *n = check_images(L, x, "global_avg_pool");
    int C = n->dim[1], HW = n->dim[2] * n->dim[3];
    ir_args v = {.nin = 1, .in = {x}, .rank = 3, .dim = {IR_BATCH, C, HW}};
    int flat = spec_make(L, OP_RESHAPE, &v, "global_avg_pool");
    ir_args m = {.nin = 1, .in = {flat}, .i = {1}, .rank = 3, .dim = {IR_BATCH, C, 1}};
    int mean = spec_make(L, OP_SUM_TO, &m, "global_avg_pool");
    ir_args r = {.nin = 1, .in = {mean}, .rank = 2, .dim = {IR_BATCH, C}};
    return spec_push_op(L, OP_RESHAPE, &r, "global_avg_pool");
}

/* Conv2d(out_channels, opts), MaxPool2d(k or opts), AvgPool2d(k or opts),
 * GlobalAvgPool() for sequential */
static int dsl_Conv2d(lua_State *L)
{
    luaL_checkinteger(L, 1);
    return spec_layer_with_args(L, dsl_conv2d, "Conv2d");
}
static int dsl_MaxPool2d(lua_State *L)
{
    return spec_layer_with_args(L, dsl_max_pool2d, "MaxPool2d");
}
static int dsl_AvgPool2d(lua_State *L)
{
    return spec_layer_with_args(L, dsl_avg_pool2d, "AvgPool2d");
}
static int dsl_GlobalAvgPool(lua_State *L)
{
    return spec_layer_of(L, dsl_global_avg_pool);
}

const luaL_Reg spec_conv_lib[] = {
    {"conv2d", dsl_conv2d},
    {"max_pool2d", dsl_max_pool2d},
    {"avg_pool2d", dsl_avg_pool2d},
    {"global_avg_pool", dsl_global_avg_pool},
    {"Conv2d", dsl_Conv2d},
    {"MaxPool2d", dsl_MaxPool2d},
    {"AvgPool2d", dsl_AvgPool2d},
    {"GlobalAvgPool", dsl_GlobalAvgPool},
    {NULL, NULL},
};
