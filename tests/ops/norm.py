"""batch_norm (1d over features, over the channels of [B x C x L] and
[B x C x H x W]), dropout, dropconnect and residual connections: rows of
tests/test_ops.py (see rows.py). The gradient check's steps all use the
first training step's masks."""
from rows import case, refused, shape

GRADCHECK = [
    case("batch_norm 1d [$B x $N]", "obj(batch_norm(h(), { name = pname() }))", at="odd"),
    case("batch_norm 1d, affine = false, eps 1e-3, momentum 0.5",
         "obj(batch_norm(h($M), { affine = false, eps = 1e-3, momentum = 0.5 }))", at="odd"),
    case("batch_norm over [$B x $N x $M] (channels $N)",
         "obj(batch_norm(h($N * $M):reshape { $N, $M }, { name = pname() }))", at="odd"),
    case("batch_norm 2d [$B x $N x $M x 2]", "obj(batch_norm(h($N * $M * 2):reshape { $N, $M, 2 }, { name = pname() }))",
         at="odd"),
    case("batch_norm 2d, affine = false", "obj(batch_norm(h($N * $M * 2):reshape { $N, $M, 2 }, { affine = false }))",
         at="odd"),
    case("batch_norm of a param [$N x $M]", "obj(batch_norm(P { $N, $M }, { name = pname() }))", at="odd"),
    case("linear, batch_norm, relu, linear", "obj(L(relu(batch_norm(h($M), { name = pname() })), $N))", at="odd"),
    case("dropout(h, 0.3)", "obj(dropout(h($Q), 0.3))", at="odd"),
    case("dropout of a param, p 0.5 (default)", "obj(dropout(P { $N, $M }))", at="odd"),
    case("two dropouts of one tensor", "local r = h($M); obj(dropout(r, 0.5) * dropout(r, 0.5))", at="odd"),
    case("linear { dropconnect = 0.4 }", "obj(linear(x, $N, { name = pname(), dropconnect = 0.4 }))", at="odd"),
    case("matmul(x, dropconnect(W, 0.5))", "obj(matmul(x, dropconnect(P { $D, $M }, 0.5)))", at="odd"),
    case("residual r + relu(linear(r))", "local r = h(); obj(r + relu(L(r, $N)))", at="odd"),
    case("residual block: relu(r + bn(linear(relu(bn(linear(r))))))",
         "local r = tanh(h())\n"
         "local f = batch_norm(L(relu(batch_norm(L(r, $N), { name = pname() })), $N), { name = pname() })\n"
         "obj(relu(r + f))", at="odd"),
    case("sequential { Linear, BatchNorm, ReLU, Dropout, Linear }",
         "obj(sequential { Linear($M, { name = pname() }), BatchNorm { name = pname() }, ReLU(), Dropout(0.2),"
         " Linear($N, { name = pname() }) }(x))", at="odd"),
    # one row: batch_norm needs 2 or more values per channel, here H x W = 2
    case("batch_norm 2d [1 x 1 x 1 x 2]", "obj(batch_norm(h(2):reshape { 1, 1, 2 }, { name = pname() }))", at="one"),
    case("batch_norm 2d [1 x 2 x 2 x 1], affine = false",
         "obj(batch_norm(h(4):reshape { 2, 2, 1 }, { affine = false }))", at="one"),
    case("dropout(h, 0.5), dropconnect at one element",
         "obj(dropout(h(), 0.5)); obj(matmul(x, dropconnect(P { 1, 1 }, 0.5)))", at="one"),
]

SHAPES = [
    shape("batch_norm(h())", "B x $N"),
    shape("batch_norm(h($N * $M * 2):reshape { $N, $M, 2 })", "B x $N x $M x 2"),
    shape("dropout(h($Q), 0.3)", "B x $Q"),
    shape("dropconnect(P { $D, $M }, 0.5)", "$D x $M"),
]

REFUSED = [
    refused("batch_norm of a vector", "local h = batch_norm(param { 3 })",
            "batch_norm: input must be [rows x features]|[3]"),
    refused("a batch_norm option typo suggests the right one", "local h = batch_norm(x, { momentun = 0.1 })",
            "unknown option 'momentun'|did you mean 'momentum'?"),
    refused("batch_norm momentum outside [0, 1]", "local h = batch_norm(x, { momentum = 2 })", "momentum = 2"),
    refused('batch_norm momentum as a word other than "cumulative"', 'local h = batch_norm(x, { momentum = "none" })',
            'momentum = "none"|"cumulative"'),
    refused("batch_norm eps = 0", "local h = batch_norm(x, { eps = 0 })", "eps = 0|> 0"),
    refused("two batch_norm layers of one name",
            ['local a = batch_norm(x, { name = "bn" })', 'local b = batch_norm(x, { name = "bn" })'],
            "two parameters are named 'bn.weight'"),
    refused("dropout p = 1", "local h = dropout(x, 1)", "dropout: p = 1|[0, 1)"),
    refused("dropout p < 0", "local h = dropout(x, -0.1)", "dropout: p = -0.1"),
    refused("dropout of a number", "local h = dropout(3, 0.5)", "dropout: needs a tensor"),
    refused("dropconnect of activations", "local h = dropconnect(x, 0.5)", "dropconnect: drops weights"),
    refused("linear { dropconnect = 1.5 }", "local h = linear(x, 3, { dropconnect = 1.5 })", "dropconnect: p = 1.5"),
]
