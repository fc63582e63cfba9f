"""Shape ops (reshape, flatten, transpose): rows of tests/test_ops.py (see
rows.py)."""
from rows import case, refused, shape

GRADCHECK = [
    case("reshape [$B x $N·$M] to [$B x $N x $M]", "obj(h($N * $M):reshape { $N, $M })"),
    case("flatten [$B x $M x $N]", "obj(flatten(h($N * $M):reshape { $M, $N })); obj(h($N * $M):reshape { $M, $N }:flatten())"),
    case("reshape a param [$N x $M] to {$M, $N} and {$N·$M}",
         "obj(P { $N, $M }:reshape { $M, $N }); obj(reshape(P { $N, $M }, { $N * $M }))"),
    case("flatten a param [$N x $M]", "obj(P { $N, $M }:flatten())"),
    case("[$B x $N x $M] * [$N x $M] and + [$M]",
         "obj(h($N * $M):reshape { $N, $M } * P { $N, $M }); obj(h($N * $M):reshape { $N, $M } + P { $M })"),
    case("transpose h:t() to [$N x $B]", "obj(h():t())"),
    case("transpose(param), param:t():t()", "obj(transpose(P { $N, $M })); obj(P { $N, $M }:t():t())"),
]

SHAPES = [
    shape("h($N * $M):reshape { $N, $M }", "B x $N x $M"),
    shape("flatten(h($N * $M):reshape { $M, $N })", "B x ${NM}"),
    shape("P { $N, $M }:reshape { $M, $N }", "$M x $N"),
    shape("P { $N, $M }:flatten()", "${NM}"),
    shape("h():t()", "$N x B"),
    shape("transpose(P { $N, $M })", "$M x $N"),
]

REFUSED = [
    refused("reshape to another element count", "local h = linear(x, 6):reshape { 4 }",
            "reshape: cannot reshape [B x 6] to [B x 4]: element counts differ"),
    refused("transpose of a 3-d tensor", "local h = transpose(param { 2, 3, 4 })",
            "transpose: transpose needs a matrix, got [2 x 3 x 4]"),
]
