"""matmul (all four transpose forms; OpenBLAS for the larger products) and
the layers built on it (linear, sequential): rows of tests/test_ops.py (see
rows.py)."""
from rows import case, refused, shape

GRADCHECK = [
    case("matmul [$N x $M] [$M x $Q]", "obj(matmul(P { $N, $M }, P { $M, $Q }))"),
    case("matmul A:t() B, [$M x $N]ᵀ [$M x $Q]", "obj(matmul(P { $M, $N }:t(), P { $M, $Q }))"),
    case("matmul A B:t(), [$N x $M] [$Q x $M]ᵀ", "obj(matmul(P { $N, $M }, P { $Q, $M }:t()))"),
    case("matmul A:t() B:t()", "obj(matmul(P { $M, $N }:t(), P { $Q, $M }:t()))"),
    case("matmul x W:t(), batched", "obj(matmul(x, P { $N, $D }:t()))"),
    case("matmul h [$B x $N] [$N x $M]", "obj(matmul(h(), P { $N, $M }))"),
    case("matmul h:t() g, summed over the batch", "obj(matmul(h():t(), h($M)))"),
    case("matmul [1 x 1] [1 x $Q]", "obj(matmul(P { 1, 1 }, P { 1, $Q }))"),
    # products of 32768 multiply-adds or more go to OpenBLAS
    case("matmul [33 x 65] [65 x 17] by OpenBLAS, all four transpose forms",
         "obj(matmul(P { 33, 65 }, P { 65, 17 })); obj(matmul(P { 65, 33 }:t(), P { 65, 17 }))\n"
         "obj(matmul(P { 33, 65 }, P { 17, 65 }:t())); obj(matmul(P { 65, 33 }:t(), P { 17, 65 }:t()))",
         at="odd"),
    # layers
    case("linear with bias", "obj(L(x, $N))"),
    case("linear without bias", "obj(L(x, $N, false))"),
    case("linear of linear", "obj(L(L(x, $M, false), $N))"),
    case("linear with init and bias_init",
         "obj(linear(x, $N, { name = pname(), init = xavier_normal { gain = 2 }, bias_init = normal(0, 1) }))"),
    case("sequential { Linear, ReLU, Linear, Tanh, Linear (no bias), Sigmoid }",
         "obj(sequential { Linear($M, { name = pname() }), ReLU(), Linear($Q, { name = pname() }), Tanh(),\n"
         "                 Linear($N, { name = pname(), bias = false }), Sigmoid() }(x))"),
    case("sequential { Linear, Softmax }, { Linear, LogSoftmax, Flatten }",
         "obj(sequential { Linear($M, { name = pname() }), Softmax() }(x))\n"
         "obj(sequential { Linear($M, { name = pname() }), LogSoftmax(), Flatten() }(x))"),
]

SHAPES = [
    shape("matmul(P { $N, $M }, P { $M, $Q })", "$N x $Q"),
    shape("matmul(P { $M, $N }:t(), P { $Q, $M }:t())", "$N x $Q"),
    shape("matmul(x, P { $N, $D }:t())", "B x $N"),
    shape("matmul(h():t(), h($M))", "$N x $M"),
    shape("linear(x, $Q)", "B x $Q"),
]

REFUSED = [
    refused("matmul of [B x 2] and [4 x 2]", "local h = matmul(x, param { 4, 2 })",
            "matmul: inner dimensions differ: [B x 2] and [4 x 2]"),
    refused("matmul of [2 x 3] and [2 x 3]", "local h = matmul(param { 2, 3 }, param { 2, 3 })",
            "matmul: inner dimensions differ: [2 x 3] and [2 x 3]"),
    refused("linear of a 3-d tensor", "local h = linear(param { 3, 4, 5 }, 2)",
            "linear: input must be [rows x features], got [3 x 4 x 5] (flatten it first)"),
    refused("linear with 2e8 outputs", "local h = linear(x, 200000000)", "linear: 200000000 output features"),
]
