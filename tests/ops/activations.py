"""Activations (relu ... softsign, softmax, log_softmax) and their layers:
rows of tests/test_ops.py (see rows.py)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from rows import case, refused, shape, unary

GRADCHECK = [
    case("relu", "obj(relu(h()))"),
    case("leaky_relu, default slope", "obj(leaky_relu(h()))"),
    case("leaky_relu(h, 0.2)", "obj(leaky_relu(h(), 0.2))"),
    case("sigmoid", "obj(sigmoid(h()))"),
    case("tanh", "obj(tanh(h()))"),
    case("softplus", "obj(softplus(h()))"),
    case("softplus beyond its threshold of 20", "obj(softplus(h() * 40))"),
    case("softmax over [$B x $M]", "obj(softmax(h($M)))"),
    case("log_softmax over [$B x $M]", "obj(log_softmax(h($M)))"),
    case("softmax, log_softmax of a param [$N x $Q], dim -1 and 1",
         "obj(softmax(P { $N, $Q }, -1)); obj(log_softmax(P { $N, $Q }, 1))"),
    case("log_softmax of softmax", "obj(log_softmax(softmax(h($Q))))"),
    case("elu, default alpha", "obj(elu(h() * 2))"),
    case("elu(h, 0.5), elu(h, { alpha = -0.7 })", "obj(elu(h() * 2, 0.5)); obj(elu(h(), { alpha = -0.7 }))"),
    case("gelu, exact", "obj(gelu(h() * 2))"),
    case("gelu, tanh approximation", "obj(gelu(h() * 2, 'tanh')); obj(gelu(h(), { approximate = 'tanh' }))"),
    case("softplus(h, 2, 5): both sides of the threshold", "obj(softplus(h() * 4, 2, 5))"),
    case("softplus { beta = -1.5, threshold = 3 }", "obj(softplus(h() * 3, { beta = -1.5, threshold = 3 }))"),
    case("hardtanh, default range, on both sides of it", "obj(hardtanh(h() * 2))"),
    case("sign: gradient 0, h through a sign and a product", "obj(sign(h()) * h())"),
    case("silu, SiLU()", "obj(silu(h() * 2)); obj(sequential { SiLU() }(h()))"),
    case("mish, Mish()", "obj(mish(h() * 2)); obj(sequential { Mish() }(h()))"),
    case("softsign, Softsign()", "obj(softsign(h() * 2)); obj(sequential { Softsign() }(h()))"),
    case("hardtanh(h, -0.5, 2), hardtanh { min_val = 0, max_val = 6 }",
         "obj(hardtanh(h() * 2, -0.5, 2)); obj(hardtanh(h() * 4, { min_val = 0, max_val = 6 }))"),
    case("sequential { ELU, GELU, Softplus, Hardtanh } with options",
         "obj(sequential { ELU(), GELU('tanh'), Softplus { beta = 2 }, Hardtanh(-0.8, 0.9),"
         " ELU { alpha = 0.3 }, GELU() }(h()))"),
]

# values and gradients on inputs that hit every kink (test_ops.py: special_inputs)
TORCH = [
    unary("elu", "elu(%s)", F.elu, wrong=("torch's elu with alpha 1.01", lambda t: F.elu(t, 1.01))),
    unary("elu alpha 0.5 (positional)", "elu(%s, 0.5)", lambda t: F.elu(t, 0.5)),
    unary("elu alpha -0.7 (named)", "elu(%s, { alpha = -0.7 })", lambda t: F.elu(t, -0.7)),
    unary("gelu exact", "gelu(%s)", F.gelu, wrong=("the tanh approximation", lambda t: F.gelu(t, approximate="tanh"))),
    unary("gelu tanh", "gelu(%s, 'tanh')", lambda t: F.gelu(t, approximate="tanh")),
    unary("gelu { approximate = 'none' }", "gelu(%s, { approximate = 'none' })", F.gelu),
    unary("softplus", "softplus(%s)", F.softplus),
    unary("softplus beta 2 threshold 5", "softplus(%s, 2, 5)", lambda t: F.softplus(t, 2, 5)),
    unary("softplus beta -1.5 threshold 3", "softplus(%s, { beta = -1.5, threshold = 3 })",
          lambda t: F.softplus(t, -1.5, 3)),
    # torch.clamp passes the gradient at the bounds, hardtanh does not
    unary("hardtanh", "hardtanh(%s)", F.hardtanh,
          wrong=("torch.clamp(x, -1, 1): gradient 1 instead of 0 at the bounds", lambda t: torch.clamp(t, -1, 1))),
    unary("hardtanh(-0.5, 2)", "hardtanh(%s, -0.5, 2)", lambda t: F.hardtanh(t, -0.5, 2)),
    unary("hardtanh { min_val = 0, max_val = 6 }", "hardtanh(%s, { min_val = 0, max_val = 6 })",
          lambda t: F.hardtanh(t, 0, 6)),
    unary("sign (gradient 0)", "sign(%s)", torch.sign),
    unary("silu", "silu(%s)", F.silu),
    unary("mish", "mish(%s)", F.mish),
    unary("softsign", "softsign(%s)", F.softsign),
    unary("layer ELU(0.5)", "sequential { ELU(0.5) }(%s)", nn.ELU(0.5)),
    unary("layer GELU('tanh')", "sequential { GELU('tanh') }(%s)", nn.GELU("tanh")),
    unary("layer Softplus { beta = 2 }", "sequential { Softplus { beta = 2 } }(%s)", nn.Softplus(beta=2)),
    unary("layer Hardtanh(-2, 2)", "sequential { Hardtanh(-2, 2) }(%s)", nn.Hardtanh(-2, 2)),
]

SHAPES = [
    shape("relu(h())", "B x $N"),
    shape("mish(P { $N, $M })", "$N x $M"),
    shape("softmax(h($M))", "B x $M"),
    shape("log_softmax(P { $N, $Q }, 1)", "$N x $Q"),
    shape("sequential { Linear($M), Tanh(), Linear($Q), Softmax() }(x)", "B x $Q"),
]

REFUSED = [
    refused("hardtanh with min_val above max_val", "local h = hardtanh(linear(x, 3), 1, -1)",
            "hardtanh: min_val = 1 must be below max_val = -1"),
    refused("hardtanh with an infinite bound", "local h = hardtanh(linear(x, 3), -math.huge, 1)",
            "hardtanh: min_val = -inf must be finite"),
    refused("softplus with beta 0", "local h = softplus(linear(x, 3), { beta = 0 })",
            "softplus: beta must not be 0"),
    refused("gelu with an unknown approximation", 'local h = gelu(linear(x, 3), "fast")',
            "gelu: approximate must be \"none\" or \"tanh\", got 'fast'"),
    refused("elu with a string alpha", 'local h = elu(linear(x, 3), "big")',
            "bad argument #2 to 'elu' (alpha: number expected, got string)"),
    refused("a misspelt ELU option in sequential", "local h = sequential { Linear(3), ELU { alpah = 2 } }(x)",
            "elu: unknown option 'alpah'|did you mean 'alpha'?"),
    refused("softmax along the batch", "local h = softmax(linear(x, 3), 0)",
            "softmax: only the last dimension (dim = -1) is supported, got 0"),
]
