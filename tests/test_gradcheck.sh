# Gradient checks: every op and loss of the DSL, its backward pass against
# central finite differences (the trainer's `gradcheck`) in double precision,
# max relative error <= 1e-6, at odd sizes and at one element.
#
# The specs are put together from the case lists below. `case "what"` starts
# a case: the parameters made after it (P, L, h) are named "c<case>_p<k>"
# (names are identifiers), so gradcheck's per-parameter report, mapped back
# to the case's text, gives one check per case. `obj(t)` adds
# mean(t * W) to the objective, W ~ N(0, 1) of t's shape, so the gradient
# reaching t is neither all ones nor all equal.
. tests/lib.sh
dir=$TRAINC_TMP/grad
rm -rf "$dir" && mkdir -p "$dir"
tol=1e-6
specs=()

prelude=$(
    cat <<'LUA'
local ncase, count, terms = 0, 0, {}
local function case(what) ncase = ncase + 1 end
local function pname() count = count + 1; return "c" .. ncase .. "_p" .. count end
-- a parameter [dims], N(0, 1) unless init is given
local function P(dims, init)
  dims.init, dims.name = init or normal(0, 1), pname()
  return param(dims)
end
-- linear(x, n) named for the case; with a bias unless bias == false
local function L(x, n, bias) return linear(x, n, { name = pname(), bias = bias ~= false }) end
local function obj(t)
  local dims = {}
  for i, d in ipairs(t:shape()) do
    if d ~= "B" then dims[#dims + 1] = d elseif i > 1 then dims[#dims + 1] = 1 end
  end
  if #dims == 0 then dims[1] = 1 end
  terms[#terms + 1] = mean(t * P(dims))
end
-- sum(terms) / sqrt(#terms): O(1), as one term alone. The finite differences
-- carry rounding noise of about 1e-16 |loss| / h, which gradcheck's absolute
-- floor (1e-3) does not scale with. The terms are added in pairs, each sum
-- reshaped so that they do not all become one fused loop.
local function objective()
  local scale = 1 / math.sqrt(#terms)
  while #terms > 1 do
    local pairs_ = {}
    for i = 1, #terms, 2 do
      pairs_[#pairs_ + 1] = terms[i + 1] and (terms[i] + terms[i + 1]):reshape { 1 } or terms[i]
    end
    terms = pairs_
  end
  return terms[1] * scale
end
LUA
)

# spec NAME DATA CASELIST...: writes $dir/NAME.lua. DATA is "reg" (linreg,
# labels { 1 }: values) or "cls" (spirals, labels { classes = K }: 0 or 1).
spec() {
    local name=$1 data=$2 list
    shift 2
    {
        echo "model \"$name\""
        if [ "$data" = reg ]; then
            echo "data = linreg { n = $B, d = $D, noise = 0.1 }"
            echo "local x = input { $D }"
            echo "local y = labels { 1 }"
        else
            echo "data = spirals { n = $B }"
            echo "local x = input { 2 }"
            echo "local y = labels { classes = $K }"
        fi
        echo "$prelude"
        echo "local function h(n) return L(x, n or $N) end -- [B x n], new parameters"
        for list in "$@"; do "$list"; done
        echo "minimize(objective())"
        echo "optimizer = sgd { lr = 0.1 }"
        echo "train { batch = $B, shuffle = false }"
    } >"$dir/$name.lua"
    specs+=("$name")
}

# The case lists, at sizes B (batch), D (features), N, M, Q (widths), K
# (classes).
same_shape() {
    cat <<LUA
case "a + b, both [$B x $N]"; obj(h() + h())
case "a - b, both [$B x $N]"; obj(h() - h())
case "a * b, both [$B x $N]"; obj(h() * h())
case "a / b, both [$B x $N]"; obj(h() / exp(h()))
case "h * h + h, one node used thrice"; local s = h(); obj(s * s + s)
case "tensor + 2, 2 + tensor"; obj(h() + 2); obj(2 + h())
case "tensor - 2, 2 - tensor"; obj(h() - 2); obj(2 - h())
case "tensor * 3, 3 * tensor"; obj(h() * 3); obj(3 * h())
case "tensor / 3, 3 / tensor"; obj(h() / 3); obj(3 / exp(h()))
LUA
}

broadcast() {
    cat <<LUA
case "row broadcast [$B x $N] + [$N], [$N] + [$B x $N]"; obj(h() + P { $N }); obj(P { $N } + h())
case "row broadcast [$B x $N] - [$N], [$N] - [$B x $N]"; obj(h() - P { $N }); obj(P { $N } - h())
case "row broadcast [$B x $N] * [$N], [$N] * [$B x $N]"; obj(h() * P { $N }); obj(P { $N } * h())
case "row broadcast [$B x $N] / [$N], [$N] / [$B x $N]"; obj(h() / exp(P { $N })); obj(P { $N } / exp(h()))
case "column broadcast [$B x $N] + [$B x 1], both ways"; obj(h() + h(1)); obj(h(1) + h())
case "column broadcast [$B x $N] - [$B x 1], both ways"; obj(h() - h(1)); obj(h(1) - h())
case "column broadcast [$B x $N] * [$B x 1], both ways"; obj(h() * h(1)); obj(h(1) * h())
case "column broadcast [$B x $N] / [$B x 1], both ways"; obj(h() / exp(h(1))); obj(h(1) / exp(h()))
case "[$B x 1] * [$N], [$B x $N] + [1 x $N]"; obj(h(1) * P { $N }); obj(h() + P { 1, $N })
LUA
}

param_broadcast() {
    cat <<LUA
case "params [$N x $M] + [$M], [$N x 1] - [1 x $M]"; obj(P { $N, $M } + P { $M }); obj(P { $N, 1 } - P { 1, $M })
case "params [$N x 1] * [1 x $M], [$M] * [$N x $M]"; obj(P { $N, 1 } * P { 1, $M }); obj(P { $M } * P { $N, $M })
case "params [$N x $M] / [1 x 1], [$N x 1] / [$M]"; obj(P { $N, $M } / exp(P { 1, 1 })); obj(P { $N, 1 } / exp(P { $M }))
case "params [$M] - [$N x $M] + [1]"; obj(P { $M } - P { $N, $M } + P { 1 })
LUA
}

math() {
    cat <<LUA
local function u() return exp(h()) end -- positive
case "unary minus"; obj(-h()); obj(-P { $N, $M })
case "exp"; obj(exp(h()))
case "log of positive values"; obj(log(u())); obj(log(sigmoid(h()) + 0.5))
case "sqrt of positive values"; obj(sqrt(u()))
case "abs"; obj(abs(h())); obj(abs(P { $N, $M }))
case "h ^ 2"; obj(h() ^ 2)
case "h ^ 3"; obj(h() ^ 3)
case "u ^ 0.5"; obj(u() ^ 0.5)
case "u ^ -1"; obj(u() ^ -1)
case "u ^ 1.5"; obj(u() ^ 1.5)
case "u ^ 1, u ^ -2.5"; obj(u() ^ 1); obj(u() ^ -2.5)
case "2 ^ h (number base)"; obj(2 ^ h())
case "param ^ 3, (param ^ 2 + 0.1) ^ 0.5"; obj(P { $N, $M } ^ 3); obj((P { $M } ^ 2 + 0.1) ^ 0.5)
LUA
}

activations() {
    cat <<LUA
case "relu"; obj(relu(h()))
case "leaky_relu, default slope"; obj(leaky_relu(h()))
case "leaky_relu(h, 0.2)"; obj(leaky_relu(h(), 0.2))
case "sigmoid"; obj(sigmoid(h()))
case "tanh"; obj(tanh(h()))
case "softplus"; obj(softplus(h()))
case "softplus beyond its threshold of 20"; obj(softplus(h() * 40))
case "softmax over [$B x $M]"; obj(softmax(h($M)))
case "log_softmax over [$B x $M]"; obj(log_softmax(h($M)))
case "softmax, log_softmax of a param [$N x $Q], dim -1 and 1"; obj(softmax(P { $N, $Q }, -1)); obj(log_softmax(P { $N, $Q }, 1))
case "log_softmax of softmax"; obj(log_softmax(softmax(h($Q))))
case "elu, default alpha"; obj(elu(h() * 2))
case "elu(h, 0.5), elu(h, { alpha = -0.7 })"; obj(elu(h() * 2, 0.5)); obj(elu(h(), { alpha = -0.7 }))
case "gelu, exact"; obj(gelu(h() * 2))
case "gelu, tanh approximation"; obj(gelu(h() * 2, 'tanh')); obj(gelu(h(), { approximate = 'tanh' }))
case "softplus(h, 2, 5): both sides of the threshold"; obj(softplus(h() * 4, 2, 5))
case "softplus { beta = -1.5, threshold = 3 }"; obj(softplus(h() * 3, { beta = -1.5, threshold = 3 }))
case "hardtanh, default range, on both sides of it"; obj(hardtanh(h() * 2))
case "sign: gradient 0, h through a sign and a product"; obj(sign(h()) * h())
case "silu, SiLU()"; obj(silu(h() * 2)); obj(sequential { SiLU() }(h()))
case "mish, Mish()"; obj(mish(h() * 2)); obj(sequential { Mish() }(h()))
case "softsign, Softsign()"; obj(softsign(h() * 2)); obj(sequential { Softsign() }(h()))
case "hardtanh(h, -0.5, 2), hardtanh { min_val = 0, max_val = 6 }"; obj(hardtanh(h() * 2, -0.5, 2)); obj(hardtanh(h() * 4, { min_val = 0, max_val = 6 }))
case "sequential { ELU, GELU, Softplus, Hardtanh } with options"
obj(sequential { ELU(), GELU('tanh'), Softplus { beta = 2 }, Hardtanh(-0.8, 0.9), ELU { alpha = 0.3 }, GELU() }(h()))
LUA
}

reductions() {
    cat <<LUA
case "sum(h), whole tensor"; obj(sum(h()))
case "mean(h), whole tensor"; obj(mean(h()))
case "sum(h, 0): over the batch"; obj(sum(h(), 0))
case "sum(h, 0, true): keepdim"; obj(sum(h(), 0, true))
case "sum(h, 1): over features"; obj(sum(h(), 1))
case "sum(h, -1, true)"; obj(sum(h(), -1, true))
case "mean(h, 0)"; obj(mean(h(), 0))
case "mean(h, 0, true)"; obj(mean(h(), 0, true))
case "mean(h, 1)"; obj(mean(h(), 1))
case "mean(h, -1, true)"; obj(mean(h(), -1, true))
case "methods h:sum(), h:mean(1), h:sum(0, true)"; obj(h():sum()); obj(h():mean(1)); obj(h():sum(0, true))
case "sum, mean of a param [$N x $M] along 0, 1, -1"; obj(sum(P { $N, $M }, 0)); obj(mean(P { $N, $M }, 1, true)); obj(P { $N, $M }:sum(-1))
case "sum, mean of [$B x $N x $M] along dim 1 and 2"; obj(sum(h($N * $M):reshape { $N, $M }, 1)); obj(mean(h($N * $M):reshape { $N, $M }, 2, true))
case "sum(sum(h, 1)), mean(mean(h, 0))"; obj(sum(sum(h(), 1))); obj(mean(mean(h(), 0)))
LUA
}

shapes() {
    cat <<LUA
case "reshape [$B x $((N * M))] to [$B x $N x $M]"; obj(h($N * $M):reshape { $N, $M })
case "flatten [$B x $M x $N]"; obj(flatten(h($N * $M):reshape { $M, $N })); obj(h($N * $M):reshape { $M, $N }:flatten())
case "reshape a param [$N x $M] to {$M, $N} and {$((N * M))}"; obj(P { $N, $M }:reshape { $M, $N }); obj(reshape(P { $N, $M }, { $N * $M }))
case "flatten a param [$N x $M]"; obj(P { $N, $M }:flatten())
case "[$B x $N x $M] * [$N x $M] and + [$M]"; obj(h($N * $M):reshape { $N, $M } * P { $N, $M }); obj(h($N * $M):reshape { $N, $M } + P { $M })
case "transpose h:t() to [$N x $B]"; obj(h():t())
case "transpose(param), param:t():t()"; obj(transpose(P { $N, $M })); obj(P { $N, $M }:t():t())
LUA
}

matmuls() {
    cat <<LUA
case "matmul [$N x $M] [$M x $Q]"; obj(matmul(P { $N, $M }, P { $M, $Q }))
case "matmul A:t() B, [$M x $N]ᵀ [$M x $Q]"; obj(matmul(P { $M, $N }:t(), P { $M, $Q }))
case "matmul A B:t(), [$N x $M] [$Q x $M]ᵀ"; obj(matmul(P { $N, $M }, P { $Q, $M }:t()))
case "matmul A:t() B:t()"; obj(matmul(P { $M, $N }:t(), P { $Q, $M }:t()))
case "matmul x W:t(), batched"; obj(matmul(x, P { $N, $D }:t()))
case "matmul h [$B x $N] [$N x $M]"; obj(matmul(h(), P { $N, $M }))
case "matmul h:t() g, summed over the batch"; obj(matmul(h():t(), h($M)))
case "matmul [1 x 1] [1 x $Q]"; obj(matmul(P { 1, 1 }, P { 1, $Q }))
LUA
}

# products of 32768 multiply-adds or more go to OpenBLAS
matmul_blas() {
    cat <<LUA
case "matmul [33 x 65] [65 x 17] by OpenBLAS, all four transpose forms"
obj(matmul(P { 33, 65 }, P { 65, 17 })); obj(matmul(P { 65, 33 }:t(), P { 65, 17 }))
obj(matmul(P { 33, 65 }, P { 17, 65 }:t())); obj(matmul(P { 65, 33 }:t(), P { 17, 65 }:t()))
LUA
}

layers() {
    cat <<LUA
case "linear with bias"; obj(L(x, $N))
case "linear without bias"; obj(L(x, $N, false))
case "linear of linear"; obj(L(L(x, $M, false), $N))
case "linear with init and bias_init"; obj(linear(x, $N, { name = pname(), init = xavier_normal { gain = 2 }, bias_init = normal(0, 1) }))
case "sequential { Linear, ReLU, Linear, Tanh, Linear (no bias), Sigmoid }"
obj(sequential { Linear($M, { name = pname() }), ReLU(), Linear($Q, { name = pname() }), Tanh(),
                 Linear($N, { name = pname(), bias = false }), Sigmoid() }(x))
case "sequential { Linear, Softmax }, { Linear, LogSoftmax, Flatten }"
obj(sequential { Linear($M, { name = pname() }), Softmax() }(x))
obj(sequential { Linear($M, { name = pname() }), LogSoftmax(), Flatten() }(x))
LUA
}

regression() {
    cat <<LUA
case "mse(linear(x, 1), y)"; obj(mse(L(x, 1), y))
case "l1(linear(x, 1), y)"; obj(l1(L(x, 1), y))
case "mse(a, b), both trained, [$B x $N]"; obj(mse(h(), h()))
case "l1(a, b), both trained, [$B x $N]"; obj(l1(h(), tanh(h())))
case "mse of params [$N x $M]"; obj(mse(P { $N, $M }, P { $N, $M }))
case "mse, l1 with reduction sum"; obj(mse(h(), h(), { reduction = 'sum' })); obj(l1(h(), h(), { reduction = 'sum' }))
case "huber(linear(x, 1), y), delta 0.3"; obj(huber(L(x, 1), y, { delta = 0.3 }))
case "huber, both trained, delta 1 and 0.5, sum"; obj(huber(h() * 2, h())); obj(huber(h(), h(), { delta = 0.5, reduction = 'sum' }))
case "smooth_l1(linear(x, 1), y), beta 0.3"; obj(smooth_l1(L(x, 1), y, { beta = 0.3 }))
case "smooth_l1, both trained, beta 1 and 0.5, sum"; obj(smooth_l1(h() * 2, h())); obj(smooth_l1(h(), h(), { beta = 0.5, reduction = 'sum' }))
case "smooth_l1 with beta 0 (l1)"; obj(smooth_l1(h(), h(), { beta = 0 }))
case "huber, smooth_l1 of params [$N x $M]"; obj(huber(P { $N, $M }, P { $N, $M }, { delta = 0.7 })); obj(smooth_l1(P { $N, $M }, P { $N, $M }, { beta = 0.7 }))
LUA
}

# y holds class indices 0 or 1, [B]: the binary losses take them as targets.
# cross_entropy comes first: it checks its classes against the first loss's
# prediction (see the note at the end)
classification() {
    cat <<LUA
case "cross_entropy(linear(x, $K), y)"; obj(cross_entropy(L(x, $K), y))
case "cross_entropy on a deeper net"; obj(cross_entropy(L(relu(L(x, $M)), $K), y))
case "bce(sigmoid(z), y)"; obj(bce(sigmoid(L(x, 1)), y))
case "bce_with_logits(z, y)"; obj(bce_with_logits(L(x, 1), y))
case "logistic(z, 2y - 1)"; obj(logistic(L(x, 1), 2 * y - 1))
case "bce, bce_with_logits, logistic on a deeper net"
local z = L(tanh(L(x, $M)), 1)
obj(bce(sigmoid(z), y) + bce_with_logits(z, y) + logistic(z, 1 - 2 * y))
case "bce, bce_with_logits, logistic with trained soft targets"
obj(bce(sigmoid(h(1)), sigmoid(h(1))) + bce_with_logits(h(1), sigmoid(h(1))) + logistic(h(1), tanh(h(1))))
case "cross_entropy with label_smoothing 0.2"; obj(cross_entropy(L(x, $K), y, { label_smoothing = 0.2 }))
case "cross_entropy, label_smoothing 1 and 0.05 with reduction sum"
obj(cross_entropy(L(x, $K), y, { label_smoothing = 1 })); obj(cross_entropy(L(x, $K), y, { label_smoothing = 0.05, reduction = 'sum' }))
case "nll(log_softmax(z), y), mean and sum"; obj(nll(log_softmax(L(x, $K)), y)); obj(nll(log_softmax(L(x, $K)), y, { reduction = 'sum' }))
case "nll of raw scores"; obj(nll(L(x, $K), y))
case "kl_div batchmean, input and target trained"; obj(kl_div(log_softmax(h($K)), softmax(h($K))))
case "kl_div mean and sum"; obj(kl_div(log_softmax(h($K)), softmax(h($K)), { reduction = 'mean' })); obj(kl_div(log_softmax(h($K)), softmax(h($K)), { reduction = 'sum' }))
case "kl_div log_target, batchmean and sum"; obj(kl_div(log_softmax(h($K)), log_softmax(h($K)), { log_target = true })); obj(kl_div(log_softmax(h($K)), log_softmax(h($K)), { log_target = true, reduction = 'sum' }))
case "kl_div of params [$N x $Q] and of [$B] rows"; obj(kl_div(log_softmax(P { $N, $Q }), softmax(P { $N, $Q }))); obj(kl_div((h(1) - 3):reshape {}, sigmoid(h(1)):reshape {})); obj(kl_div(h(1) - 3, sigmoid(h(1))))
LUA
}

# batch_norm (1d over features, over the channels of [B x C x L] and
# [B x C x H x W]), dropout and dropconnect (the gradient check's steps all
# use the first training step's masks), residual connections
norm() {
    cat <<LUA
case "batch_norm 1d [$B x $N]"; obj(batch_norm(h(), { name = pname() }))
case "batch_norm 1d, affine = false, eps 1e-3, momentum 0.5"; obj(batch_norm(h($M), { affine = false, eps = 1e-3, momentum = 0.5 }))
case "batch_norm over [$B x $N x $M] (channels $N)"; obj(batch_norm(h($N * $M):reshape { $N, $M }, { name = pname() }))
case "batch_norm 2d [$B x $N x $M x 2]"; obj(batch_norm(h($N * $M * 2):reshape { $N, $M, 2 }, { name = pname() }))
case "batch_norm 2d, affine = false"; obj(batch_norm(h($N * $M * 2):reshape { $N, $M, 2 }, { affine = false }))
case "batch_norm of a param [$N x $M]"; obj(batch_norm(P { $N, $M }, { name = pname() }))
case "linear, batch_norm, relu, linear"; obj(L(relu(batch_norm(h($M), { name = pname() })), $N))
case "dropout(h, 0.3)"; obj(dropout(h($Q), 0.3))
case "dropout of a param, p 0.5 (default)"; obj(dropout(P { $N, $M }))
case "two dropouts of one tensor"; local r = h($M); obj(dropout(r, 0.5) * dropout(r, 0.5))
case "linear { dropconnect = 0.4 }"; obj(linear(x, $N, { name = pname(), dropconnect = 0.4 }))
case "matmul(x, dropconnect(W, 0.5))"; obj(matmul(x, dropconnect(P { $D, $M }, 0.5)))
case "residual r + relu(linear(r))"; local r = h(); obj(r + relu(L(r, $N)))
case "residual block: relu(r + bn(linear(relu(bn(linear(r))))))"
local r = tanh(h())
local f = batch_norm(L(relu(batch_norm(L(r, $N), { name = pname() })), $N), { name = pname() })
obj(relu(r + f))
case "sequential { Linear, BatchNorm, ReLU, Dropout, Linear }"
obj(sequential { Linear($M, { name = pname() }), BatchNorm { name = pname() }, ReLU(), Dropout(0.2), Linear($N, { name = pname() }) }(x))
LUA
}

# one row: batch_norm needs 2 or more values per channel, here H x W = 2
norm_one() {
    cat <<LUA
case "batch_norm 2d [1 x 1 x 1 x 2]"; obj(batch_norm(h(2):reshape { 1, 1, 2 }, { name = pname() }))
case "batch_norm 2d [1 x 2 x 2 x 1], affine = false"; obj(batch_norm(h(4):reshape { 2, 2, 1 }, { affine = false }))
case "dropout(h, 0.5), dropconnect at one element"; obj(dropout(h(), 0.5)); obj(matmul(x, dropconnect(P { 1, 1 }, 0.5)))
LUA
}

# images [B x C x H x W] come from h(C * H * W):reshape { C, H, W }, so the
# gradient reaching the input is checked too
convs() {
    cat <<LUA
local function img(c, hh, ww) return h(c * hh * ww):reshape { c, hh, ww } end
local function C(t, oc, o) o.name = pname(); return conv2d(t, oc, o) end
case "conv2d 3x3, 2 -> 3 channels, 5x7 images"; obj(C(img(2, 5, 7), 3, { kernel = 3 }))
case "conv2d kernel {3, 2}, stride 2, padding 1"; obj(C(img(2, 6, 5), 3, { kernel = { 3, 2 }, stride = 2, padding = 1 }))
case "conv2d 1 channel, stride {2, 1}, padding {0, 2}, dilation 2"; obj(C(img(1, 7, 6), 2, { kernel = 2, stride = { 2, 1 }, padding = { 0, 2 }, dilation = 2 }))
case "conv2d dilation {1, 2}, 1 output channel"; obj(C(img(2, 5, 6), 1, { kernel = 3, dilation = { 1, 2 } }))
case "conv2d groups 2, 4 -> 6 channels, padding 1, no bias"; obj(C(img(4, 5, 5), 6, { kernel = 3, groups = 2, padding = 1, bias = false }))
case "conv2d depthwise (groups = channels = 3)"; obj(C(img(3, 5, 4), 3, { kernel = 2, groups = 3 }))
case "conv2d 1x1 (no im2col), 1x1 stride 2"; obj(C(img(3, 4, 5), 2, { kernel = 1 })); obj(C(img(3, 5, 5), 2, { kernel = 1, stride = 2 }))
case "conv2d by OpenBLAS, groups 2"; obj(C(img(4, 12, 12), 8, { kernel = 3, padding = 1, groups = 2 }))
case "conv2d with init and bias_init"; obj(C(img(2, 4, 4), 2, { kernel = 3, init = normal(0, 1), bias_init = normal(0, 1) }))
-- x itself (no parameter before it): conv2d_direct, no im2col, when the
-- cost model of conv.c finds it cheaper (tiny: yes) or algo asks for it
case "conv2d direct from the input: padding 1, dilation {1, 2}"; obj(C(x:reshape { 1, 1, $D }, 2, { kernel = 2, padding = 1, dilation = { 1, 2 } }))
case "conv2d direct from the input: stride {1, 2}, padding {0, 1}, no bias (algo)"; obj(C(x:reshape { 1, 1, $D }, 3, { kernel = { 1, 2 }, stride = { 1, 2 }, padding = { 0, 1 }, bias = false, algo = "direct" }))
case "conv2d from the input with 33 taps (algo = im2col)"; obj(C(x:reshape { 1, 1, $D }, 2, { kernel = { 3, 11 }, padding = { 1, 5 }, algo = "im2col" }))
case "conv of relu of conv"; obj(C(relu(C(img(2, 6, 6), 3, { kernel = 3 })), 2, { kernel = 2, stride = 2 }))
case "max_pool2d 2 on 6x7"; obj(max_pool2d(img(2, 6, 7), 2))
case "max_pool2d {2, 3} on 4x6 (the windows cover the image)"; obj(max_pool2d(img(2, 4, 6), { kernel = { 2, 3 } }))
case "max_pool2d kernel 3, stride 2, padding 1 (overlapping)"; obj(max_pool2d(img(2, 7, 6), { kernel = 3, stride = 2, padding = 1 }))
case "max_pool2d kernel {2, 3}, stride {1, 2}, 1 channel"; obj(max_pool2d(img(1, 5, 7), { kernel = { 2, 3 }, stride = { 1, 2 } }))
case "avg_pool2d 2 on 6x7"; obj(avg_pool2d(img(2, 6, 7), 2))
case "avg_pool2d kernel 3, stride 2, padding 1"; obj(avg_pool2d(img(2, 7, 6), { kernel = 3, stride = 2, padding = 1 }))
case "avg_pool2d kernel {3, 2}, stride 1, padding {1, 0}"; obj(avg_pool2d(img(1, 4, 5), { kernel = { 3, 2 }, stride = 1, padding = { 1, 0 } }))
case "global_avg_pool"; obj(global_avg_pool(img(3, 4, 5)))
case "flatten of images then linear"; obj(L(flatten(img(2, 3, 4)), 3))
case "sequential { Conv2d, ReLU, MaxPool2d, AvgPool2d, GlobalAvgPool }"
obj(sequential { Conv2d(3, { kernel = 3, padding = 1, name = pname() }), ReLU(), MaxPool2d(2),
                 AvgPool2d { kernel = 2, stride = 1 }, GlobalAvgPool() }(img(2, 6, 6)))
LUA
}

# conv2d_direct of the input itself (x reshaped: D = 84 = 2·7·6 = 1·12·7),
# forced by algo: each output-channel block (4, 2, 1), row and column
# padding (the copied rows), stride, dilation, non-square kernels
directs() {
    cat <<LUA
local function X(c, hh, ww) return x:reshape { c, hh, ww } end
local function DC(t, oc, o) o.name, o.algo = pname(), "direct"; return conv2d(t, oc, o) end
case "direct 2 -> 4 channels (block 4), 3x3, padding 1"; obj(DC(X(2, 7, 6), 4, { kernel = 3, padding = 1 }))
case "direct 2 -> 6 (block 2), kernel {2, 3}, stride 2, padding {1, 0}, no bias"; obj(DC(X(2, 7, 6), 6, { kernel = { 2, 3 }, stride = 2, padding = { 1, 0 }, bias = false }))
case "direct 1 channel -> 3 (block 1), stride {1, 2}, padding 2, dilation {2, 1}"; obj(DC(X(1, 12, 7), 3, { kernel = 3, stride = { 1, 2 }, padding = 2, dilation = { 2, 1 } }))
case "direct 1 -> 8, kernel 5, padding {0, 2}, then relu, pool"; obj(max_pool2d(relu(DC(X(1, 12, 7), 8, { kernel = 5, padding = { 0, 2 } })), 2))
case "im2col of the input (algo), stride 2, padding 1"; obj(conv2d(X(2, 7, 6), 3, { kernel = 3, stride = 2, padding = 1, algo = "im2col", name = pname() }))
LUA
}

# odd sizes: a spec per family
B=7 D=5 N=3 M=5 Q=13 K=3
spec broadcast_odd reg broadcast
spec same_shape_odd reg same_shape
spec math_odd reg math
spec activations_odd reg activations
spec reductions_odd reg reductions
spec shapes_odd reg shapes param_broadcast
spec matmul_odd reg matmuls matmul_blas
spec layers_odd reg layers regression
spec losses_odd cls classification
spec norm_odd reg norm
spec conv_odd reg convs
# one element: one row with one feature, widths 1 (the code has no loops
# and compiles fast: fewer, bigger specs)
B=1 D=1 N=1 M=1 Q=1 K=2
spec arith_one reg same_shape broadcast param_broadcast math
spec ops_one reg activations reductions shapes matmuls layers regression
spec losses_one cls classification
spec norm_one reg norm_one
spec conv_one reg convs
# the direct kernels at 3 rows and at one row
B=3 D=84
spec direct_odd reg directs
B=1
spec direct_one reg directs

# build them all, two at a time
for name in "${specs[@]}"; do
    (gen_build "$dir/$name.lua" "$dir/$name" --dtype double >"$dir/$name.build.log" 2>&1) &
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
done
wait

# one check per case: the worst relative error over the case's parameters
for name in "${specs[@]}"; do
    bin=$dir/$name/$name
    check "$name: generates and builds" test -x "$bin"
    if [ ! -x "$bin" ]; then
        sed 's/^/    /' "$dir/$name.build.log" | head -20
        continue
    fi
    check "$name: model.c is laid out (indented, one comment line per line written)" laid_out "$dir/$name/model.c"
    (cd "$dir/$name" && ./"$name" gradcheck) >"$dir/$name.gradcheck" 2>&1
    check "$name: gradcheck exits 0" test $? -eq 0
    results=$(awk 'FNR == NR { if (/^case "/) { t = $0; sub(/^case "/, "", t); sub(/".*/, "", t); what[++nc] = t }; next }
        / max relative error / && !/^gradcheck/ {
        c = $1; sub(/^c/, "", c); sub(/_.*/, "", c); name = what[c + 0]
        err = $NF; if (!(name in worst)) order[n++] = name
        if (!(name in worst) || err + 0 > worst[name] + 0) worst[name] = err
    } END { for (i = 0; i < n; i++) print order[i] "\t" worst[order[i]] }' "$dir/$name.lua" "$dir/$name.gradcheck")
    while IFS=$'\t' read -r what err; do
        check "$name: $what (max relative error $err)" lt "$err" $tol
    done <<<"$results"
    # and no case went unreported (at one element some names coincide)
    cases=$(grep '^case "' "$dir/$name.lua" | sort -u | wc -l)
    reported=$(grep -c . <<<"$results")
    check "$name: all $cases cases reported (got $reported)" test "$cases" -eq "$reported"
done

# the convolutions of the input above take both paths (conv.c): direct
# (2 and 4 taps) and im2col (33 taps)
for name in conv_odd conv_one; do
    check "$name: two convolutions of the input are conv2d_direct, one (33 taps, algo im2col) is im2col of x" \
        sh -c "test \$(grep -c ' = conv2d_direct(reshape' '$dir/$name/model.c') -ge 2 && grep -q ' = im2col(reshape[0-9]*)  [[][0-9]* x 33 x' '$dir/$name/model.c'"
done
for name in direct_odd direct_one; do
    check "$name: four convolutions are conv2d_direct (blocks of 4, 2 and 1 channels), one im2col" \
        sh -c "test \$(grep -o '/\* [a-z0-9_]* = conv2d_direct(reshape' '$dir/$name/model.c' | sort -u | wc -l) -eq 4 && test \$(grep -o '/\* [a-z0-9_]* = im2col(reshape' '$dir/$name/model.c' | sort -u | wc -l) -eq 1 && grep -q 'o0 += 4)' '$dir/$name/model.c' && grep -q 'o0 += 2)' '$dir/$name/model.c' && grep -q 'o0 += 1)' '$dir/$name/model.c'"
    check "$name: builds warning-free" sh -c "! grep -qi warning '$dir/$name.build.log'"
    check "$name: column padding reads copied rows, no select" \
        sh -c "grep -q 'const real \*xr = xp\[c\]\[i\];' '$dir/$name/model.c' && ! grep -q '? xr\[' '$dir/$name/model.c'"
done

# Negative controls: the checks above can fail.
# an impossible tolerance
bin=$dir/same_shape_odd/same_shape_odd
"$bin" gradcheck --quiet --tol 1e-30 >"$dir/neg_tol.out" 2>&1
check "negative: gradcheck --tol 1e-30 exits 1" test $? -eq 1
check "negative: gradcheck --tol 1e-30 says FAILED" grep -q '^gradcheck FAILED' "$dir/neg_tol.out"
# a backward pass off by 0.1%: tanh's dy (1 - y^2) becomes dy (1.001 - y^2)
# in a copy of the generated code; gradcheck must fail on the tanh case alone
neg=$dir/neg_tanh
cp -r "$dir/activations_odd" "$neg"
sed -i -E 's/\(1 - (tanh[0-9]+)\[/(1.001 - \1[/g' "$neg/model.c"
check "negative: the tanh backward was altered" grep -q '(1.001 - tanh' "$neg/model.c"
ninja -C "$neg" >"$neg.build.log" 2>&1
(cd "$neg" && ./activations_odd gradcheck) >"$neg.out" 2>&1
check "negative: gradcheck of the altered code exits 1" test $? -eq 1
# the worst error over the parameters of the case whose text is $1
err() {
    local k
    k=$(grep '^case "' "$neg/../activations_odd.lua" | grep -n "^case \"$1\"" | head -1 | cut -d: -f1)
    awk -v c="c${k}_" 'index($0, c) == 1 { print $NF }' "$neg.out" | sort -g | tail -1
}
check "negative: the tanh case fails (max relative error $(err tanh))" gt "$(err tanh)" $tol
check "negative: the relu case still passes (max relative error $(err relu))" lt "$(err relu)" $tol

# batch_norm's backward without the path through the batch mean: the
# batch_norm cases must fail, dropout's must still pass
neg=$dir/neg_bn
cp -r "$dir/norm_odd" "$neg"
sed -i -E 's/ - mg(\[c\])? - / - 0 * mg\1 - /' "$neg/model.c"
check "negative: the batch_norm backward was altered" grep -q ' - 0 \* mg\[c\] - ' "$neg/model.c"
ninja -C "$neg" >"$neg.build.log" 2>&1
(cd "$neg" && ./norm_odd gradcheck) >"$neg.out" 2>&1
check "negative: gradcheck of the altered batch_norm exits 1" test $? -eq 1
errn() {
    local k
    k=$(grep '^case "' "$dir/norm_odd.lua" | grep -nF "case \"$1" | head -1 | cut -d: -f1)
    awk -v c="c${k}_" 'index($0, c) == 1 { print $NF }' "$neg.out" | sort -g | tail -1
}
check "negative: the batch_norm 1d case fails (max relative error $(errn 'batch_norm 1d ['))" gt "$(errn 'batch_norm 1d [')" $tol
check "negative: the batch_norm 2d case fails (max relative error $(errn 'batch_norm 2d ['))" gt "$(errn 'batch_norm 2d [')" $tol
check "negative: the dropout case still passes (max relative error $(errn 'dropout(h, 0.3)'))" lt "$(errn 'dropout(h, 0.3)')" $tol

# ---- float: ReLU MLPs on standardised inputs (issue 13, item 8). At float's
# step h = 1e-2 the finite differences cross the kinks of relu (a hidden
# unit of some row changing sign) and once failed correct models with
# relative errors of 0.2-1.15. gradcheck now takes each difference only
# where the backward pass's own gradient is smooth over the step (else at
# half the step, ...), and counts the values with a kink within every step
# apart. Iris-like (4-16-3) and breast-cancer-like (30-32-16-2) MLPs on
# random standardised CSVs pass at several seeds and at trained weights;
# wrong relu backward passes still fail.
fl=$dir/float
mkdir -p "$fl"
/usr/bin/python3 - "$fl" <<'PY'
import random, sys
def make(path, n, d, k):
    random.seed(d)
    means = [[random.gauss(0, 1) for _ in range(d)] for _ in range(k)]
    scales = [random.uniform(0.5, 20) for _ in range(d)]
    offs = [random.uniform(-5, 50) for _ in range(d)]
    with open(path, "w") as f:
        f.write(",".join("f%d" % j for j in range(d)) + ",label\n")
        for i in range(n):
            y = i % k
            f.write(",".join("%.3f" % (offs[j] + scales[j] * (means[y][j] + random.gauss(0, 1)))
                             for j in range(d)) + ",%d\n" % y)
make(sys.argv[1] + "/iris.csv", 150, 4, 3)
make(sys.argv[1] + "/cancer.csv", 300, 30, 2)
PY
mlp() { # mlp NAME FEATURES CLASSES BATCH WIDTH...: a relu MLP spec on NAME.csv
    local name=$1 d=$2 k=$3 b=$4 w
    shift 4
    {
        echo "model \"$name\""
        echo "data = csv { train = \"$name.csv\", label = \"label\", header = true, standardize = true }"
        echo "local x = input { $d }"
        echo "local y = labels { classes = $k }"
        echo "local h = x"
        for w in "$@"; do echo "h = relu(linear(h, $w))"; done
        echo "minimize(cross_entropy(linear(h, $k), y))"
        echo "optimizer = sgd { lr = 0.1 }"
        echo "train { batch = $b, epochs = 20 }"
    } >"$fl/$name.lua"
}
mlp iris 4 3 16 16
mlp cancer 30 2 32 32 16
gen_build "$fl/iris.lua" "$fl/iris" >"$fl/iris.log" 2>&1 &
gen_build "$fl/cancer.lua" "$fl/cancer" >"$fl/cancer.log" 2>&1
wait
for name in iris cancer; do
    bin=$fl/$name/$name
    fails=0 kinks=0 worst=0
    for seed in 1 2 3 4 5 6 7 8; do
        "$bin" gradcheck --quiet --seed "$seed" >"$fl/$name.$seed.out" 2>&1 || fails=$((fails + 1))
        line=$(grep '^gradcheck ' "$fl/$name.$seed.out")
        kinks=$((kinks + $(sed -n 's/.* \([0-9]*\) not: a kink.*/\1/p' <<<"$line")))
        e=$(sed -n 's/.*max relative error \([^ ]*\) .*/\1/p' <<<"$line")
        gt "$e" "$worst" && worst=$e
    done
    compared=$(sed -n 's/.*; \([0-9]*\) values compared.*/\1/p' "$fl/$name.1.out")
    check "float $name MLP: gradcheck passes at 8 seeds (failed $fails, worst $worst; $kinks values at a kink, about $compared compared per seed)" \
        test "$fails" -eq 0
    check "float $name MLP: fewer than 10% of the values at a kink ($kinks of about $((compared * 8)))" \
        test "$((kinks * 10))" -lt "$((compared * 8))"
    "$bin" train --quiet --weights "$fl/$name.w" >/dev/null
    "$bin" gradcheck --quiet --weights "$fl/$name.w" >"$fl/$name.trained.out" 2>&1
    check "float $name MLP: gradcheck --weights FILE passes at the trained weights ($(tail -1 "$fl/$name.trained.out"))" \
        sh -c "grep -q '^gradcheck ok' '$fl/$name.trained.out' && grep -q 'at $fl/$name.w)' '$fl/$name.trained.out'"
done
loss_at() { sed -n 's/.*; loss \([^ ]*\) at .*/\1/p' "$1"; }
check "gradcheck --weights checks at those weights: another loss than at the initial ones ($(loss_at "$fl/iris.trained.out") vs $(loss_at "$fl/iris.1.out"))" \
    sh -c "test -n '$(loss_at "$fl/iris.trained.out")' && test '$(loss_at "$fl/iris.trained.out")' != '$(loss_at "$fl/iris.1.out")'"
# the same MLP with the relu backward altered in a copy of the generated code
negf() { # negf NAME SED: gradcheck of an altered iris must fail
    local neg=$fl/neg_$1
    cp -r "$fl/iris" "$neg"
    sed -i -E "$2" "$neg/model.c"
    ninja -C "$neg" >"$neg.build.log" 2>&1
    "$neg/iris" gradcheck >"$neg.out" 2>&1
}
negf scaled 's/= in1 > 0 \? in2 : 0;/= in1 > 0 ? in2 * 1.05f : 0;/'
rc=$?
check "negative, float: relu's backward 5% too large fails ($(tail -1 "$fl/neg_scaled.out" | cut -c1-60))" \
    sh -c "grep -q 'in2 \* 1.05f' '$fl/neg_scaled/model.c' && test $rc -eq 1 && grep -q '^linear1.weight .*max relative error 0.0[3-9]' '$fl/neg_scaled.out'"
check "negative, float: ... and the layer after the relu still passes" \
    sh -c "grep '^linear2.weight ' '$fl/neg_scaled.out' | awk '{ exit !(\$NF < 0.02) }'"
negf leaky 's/= in1 > 0 \? in2 : 0;/= in1 >= 0 ? in2 : 0;/'
rc=$?
check "negative, float: relu's backward letting every gradient through fails ($(tail -1 "$fl/neg_leaky.out" | cut -c1-60))" \
    sh -c "grep -q 'in1 >= 0 ? in2' '$fl/neg_leaky/model.c' && test $rc -eq 1"
