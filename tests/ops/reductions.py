"""Reductions (sum, mean over all or one dimension, keepdim): rows of
tests/test_ops.py (see rows.py)."""
from rows import case, refused, shape

GRADCHECK = [
    case("sum(h), whole tensor", "obj(sum(h()))"),
    case("mean(h), whole tensor", "obj(mean(h()))"),
    case("sum(h, 0): over the batch", "obj(sum(h(), 0))"),
    case("sum(h, 0, true): keepdim", "obj(sum(h(), 0, true))"),
    case("sum(h, 1): over features", "obj(sum(h(), 1))"),
    case("sum(h, -1, true)", "obj(sum(h(), -1, true))"),
    case("mean(h, 0)", "obj(mean(h(), 0))"),
    case("mean(h, 0, true)", "obj(mean(h(), 0, true))"),
    case("mean(h, 1)", "obj(mean(h(), 1))"),
    case("mean(h, -1, true)", "obj(mean(h(), -1, true))"),
    case("methods h:sum(), h:mean(1), h:sum(0, true)", "obj(h():sum()); obj(h():mean(1)); obj(h():sum(0, true))"),
    case("sum, mean of a param [$N x $M] along 0, 1, -1",
         "obj(sum(P { $N, $M }, 0)); obj(mean(P { $N, $M }, 1, true)); obj(P { $N, $M }:sum(-1))"),
    case("sum, mean of [$B x $N x $M] along dim 1 and 2",
         "obj(sum(h($N * $M):reshape { $N, $M }, 1)); obj(mean(h($N * $M):reshape { $N, $M }, 2, true))"),
    case("sum(sum(h, 1)), mean(mean(h, 0))", "obj(sum(sum(h(), 1))); obj(mean(mean(h(), 0)))"),
]

# torch's shapes: a reduced dimension goes, or stays as 1 with keepdim
SHAPES = [
    shape("sum(h())", ""),
    shape("mean(P { $N, $M })", ""),
    shape("sum(h(), 0)", "$N"),
    shape("sum(h(), 0, true)", "1 x $N"),
    shape("mean(h(), 1)", "B"),
    shape("mean(h(), -1, true)", "B x 1"),
    shape("sum(P { $N, $M }, 0)", "$M"),
    shape("sum(h($N * $M):reshape { $N, $M }, 1)", "B x $M"),
    shape("mean(h($N * $M):reshape { $N, $M }, 2, true)", "B x $N x 1"),
]

REFUSED = [
    refused("mean along a dimension the tensor lacks", "local h = mean(linear(x, 3), -3)",
            "mean: dim -3 out of range for a tensor of 2 dimensions"),
    refused("sum along dim 5 of a matrix", "local h = sum(linear(x, 3), 5)",
            "sum: dim 5 out of range for a tensor of 2 dimensions"),
]
