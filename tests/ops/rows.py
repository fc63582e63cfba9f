"""rows.py — the kinds of row an op family's table holds (tests/ops/*.py),
read by tests/test_ops.py. Lua text in a row may use $B (batch), $D
(features), $N, $M, $Q (widths) and $K (classes): the runner fills them in
for each size it checks the row at."""
from collections import namedtuple

# A gradient check: `lua` adds terms to the objective with obj(t) and makes
# parameters with P { dims }, L(x, n) (linear) and h(n) ([B x n], new
# parameters); gradcheck compares the backward pass with central differences
# in double. `at` is the sizes it runs at (the runner's SIZES); `data` is
# "reg" (y holds values, [B x 1]) or "cls" (y holds class indices 0 or 1).
Case = namedtuple("Case", "name lua at data")


def case(name, lua, at="odd one", data="reg"):
    return Case(name, lua, at.split(), data)


# An op alone against torch, values and gradient, float and double.
# unary: `lua` is the op of %s; `torch` its torch function of one tensor.
# pair: a loss of %(p)s and %(t)s (both get gradients); `kind` picks the
#   inputs (see test_ops.py: pair_inputs).
# classes: a loss of logits %(z)s and class indices y; `kind` is "logits" or
#   "logprob".
# `wrong` (optional): (what, torch function) that must NOT match trainc —
#   the negative control that shows the comparison can fail.
Torch = namedtuple("Torch", "form name lua torch kind wrong")


def unary(name, lua, torch, wrong=None):
    return Torch("unary", name, lua, torch, None, wrong)


def pair(name, lua, torch, kind, wrong=None):
    return Torch("pair", name, lua, torch, kind, wrong)


def classes(name, lua, torch, kind, wrong=None):
    return Torch("classes", name, lua, torch, kind, wrong)


# The shape an op gives: `lua` is an expression, `want` its dimensions as
# trainc prints them ("B x 3 x 5"; "" for a scalar), at the odd sizes.
Shape = namedtuple("Shape", "lua want")


def shape(lua, want):
    return Shape(lua, want)


# A use trainc refuses at generation: `lines` (one string or a list) come
# after a small model's head (x = input { 2 }, y = labels { 1 } or, with
# labels = "classes = 2", class indices; lines 1 to 4), then a loss unless
# the lines minimize one. The error must name the spec's last given line,
# exit 2 and contain every '|'-separated part of `text`.
Refused = namedtuple("Refused", "name lines text labels")


def refused(name, lines, text, labels=None):
    return Refused(name, [lines] if isinstance(lines, str) else list(lines), text, labels)
