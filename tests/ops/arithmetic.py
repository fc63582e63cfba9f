"""Arithmetic (+ - * / and numbers, broadcasting) and the maths ops (unary
minus, exp, log, sqrt, abs, ^): rows of tests/test_ops.py (see rows.py)."""
from rows import case, shape, refused

GRADCHECK = [
    # same shape
    case("a + b, both [$B x $N]", "obj(h() + h())"),
    case("a - b, both [$B x $N]", "obj(h() - h())"),
    case("a * b, both [$B x $N]", "obj(h() * h())"),
    case("a / b, both [$B x $N]", "obj(h() / exp(h()))"),
    case("h * h + h, one node used thrice", "local s = h(); obj(s * s + s)"),
    case("tensor + 2, 2 + tensor", "obj(h() + 2); obj(2 + h())"),
    case("tensor - 2, 2 - tensor", "obj(h() - 2); obj(2 - h())"),
    case("tensor * 3, 3 * tensor", "obj(h() * 3); obj(3 * h())"),
    case("tensor / 3, 3 / tensor", "obj(h() / 3); obj(3 / exp(h()))"),
    # broadcasting activations
    case("row broadcast [$B x $N] + [$N], [$N] + [$B x $N]", "obj(h() + P { $N }); obj(P { $N } + h())"),
    case("row broadcast [$B x $N] - [$N], [$N] - [$B x $N]", "obj(h() - P { $N }); obj(P { $N } - h())"),
    case("row broadcast [$B x $N] * [$N], [$N] * [$B x $N]", "obj(h() * P { $N }); obj(P { $N } * h())"),
    case("row broadcast [$B x $N] / [$N], [$N] / [$B x $N]",
         "obj(h() / exp(P { $N })); obj(P { $N } / exp(h()))"),
    case("column broadcast [$B x $N] + [$B x 1], both ways", "obj(h() + h(1)); obj(h(1) + h())"),
    case("column broadcast [$B x $N] - [$B x 1], both ways", "obj(h() - h(1)); obj(h(1) - h())"),
    case("column broadcast [$B x $N] * [$B x 1], both ways", "obj(h() * h(1)); obj(h(1) * h())"),
    case("column broadcast [$B x $N] / [$B x 1], both ways", "obj(h() / exp(h(1))); obj(h(1) / exp(h()))"),
    case("[$B x 1] * [$N], [$B x $N] + [1 x $N]", "obj(h(1) * P { $N }); obj(h() + P { 1, $N })"),
    # broadcasting parameters
    case("params [$N x $M] + [$M], [$N x 1] - [1 x $M]", "obj(P { $N, $M } + P { $M }); obj(P { $N, 1 } - P { 1, $M })"),
    case("params [$N x 1] * [1 x $M], [$M] * [$N x $M]", "obj(P { $N, 1 } * P { 1, $M }); obj(P { $M } * P { $N, $M })"),
    case("params [$N x $M] / [1 x 1], [$N x 1] / [$M]",
         "obj(P { $N, $M } / exp(P { 1, 1 })); obj(P { $N, 1 } / exp(P { $M }))"),
    case("params [$M] - [$N x $M] + [1]", "obj(P { $M } - P { $N, $M } + P { 1 })"),
    # maths
    case("unary minus", "obj(-h()); obj(-P { $N, $M })"),
    case("exp", "obj(exp(h()))"),
    case("log of positive values", "obj(log(exp(h()))); obj(log(sigmoid(h()) + 0.5))"),
    case("sqrt of positive values", "obj(sqrt(exp(h())))"),
    case("abs", "obj(abs(h())); obj(abs(P { $N, $M }))"),
    case("h ^ 2", "obj(h() ^ 2)"),
    case("h ^ 3", "obj(h() ^ 3)"),
    case("u ^ 0.5", "obj(exp(h()) ^ 0.5)"),
    case("u ^ -1", "obj(exp(h()) ^ -1)"),
    case("u ^ 1.5", "obj(exp(h()) ^ 1.5)"),
    case("u ^ 1, u ^ -2.5", "obj(exp(h()) ^ 1); obj(exp(h()) ^ -2.5)"),
    case("2 ^ h (number base)", "obj(2 ^ h())"),
    case("param ^ 3, (param ^ 2 + 0.1) ^ 0.5", "obj(P { $N, $M } ^ 3); obj((P { $M } ^ 2 + 0.1) ^ 0.5)"),
]

SHAPES = [
    shape("h() + h()", "B x $N"),
    shape("h() * P { $N }", "B x $N"),
    shape("P { $N } - h()", "B x $N"),
    shape("h() / h(1)", "B x $N"),
    shape("h(1) * P { $N }", "B x $N"),
    shape("P { $N, 1 } * P { 1, $M }", "$N x $M"),
    shape("P { $M } - P { $N, $M } + P { 1 }", "$N x $M"),
    shape("2 ^ h()", "B x $N"),
    shape("-P { $N, $M }", "$N x $M"),
    shape("exp(h()) ^ 0.5", "B x $N"),
]

REFUSED = [
    refused("a + b of [B x 2] and [B x 3] does not broadcast",
            "local h = linear(x, 2) + linear(x, 3)", "+: shapes [B x 2] and [B x 3] do not broadcast"),
    refused("[3] * [2] does not broadcast", "local h = param { 3 } * param { 2 }", "*: shapes [3] and [2] do not broadcast"),
]
