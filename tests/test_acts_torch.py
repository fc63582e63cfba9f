#!/usr/bin/env python3
"""test_acts_torch.py — the activations elu, gelu (exact and tanh), softplus,
hardtanh and the losses cross_entropy (label smoothing, sum), nll, kl_div,
huber, smooth_l1 against PyTorch 1.13 (Debian python3-torch), in two ways.

1. Each op alone, forward values and gradients on the same inputs, in
   float32 and --dtype double. One spec holds every case; a single SGD step
   with lr = 1 from zero-initialised parameters reads the results out
   exactly (0 - 1 * g = -g in floating point):

     sum(f(a) * w) + sum(f(a + z) * g)    w, z zeros; a, g fixed (frozen)

   so that w becomes -f(a) and z becomes -f'(a) g. A loss reads out the
   same way: loss(p + zp, t + zt) gives -dloss/dp and -dloss/dt in zp and
   zt, and loss(p, t) * wl the value in wl. Losses of class indices take
   their logits through a one-hot input: matmul(x, l + zl) with x the rows
   of the identity is l exactly, and its gradient reaches zl exactly. The
   inputs (float32 values, the same in both dtypes) include the kinks, where
   the gradient is torch's convention: elu at 0, hardtanh at exactly min_val
   and max_val (0), softplus at exactly its threshold (x beta == threshold
   takes the log branch), huber and smooth_l1 at |x - y| == delta or beta
   and at 0 with beta = 0, kl_div at a target of exactly 0 (the term is 0,
   the target's gradient NaN as torch's xlogy gives it); and large and tiny
   values (elu and gelu far left, softplus beyond its threshold).

2. Training: 20 SGD steps (lr 0.05) of small MLPs (6 features -> linear 8 ->
   activation -> linear 3 or 1) on 40 rows of a fixed random CSV, batch 8,
   shuffle = false; one net per activation with cross_entropy and one per
   loss, all in one spec (the objective is the sum of their losses; each
   net's gradients are its own loss's). `train --steps 20 --trace FILE`
   writes every parameter and the loss after every step; torch takes the
   same steps from the exported initial weights, and every parameter and the
   loss are compared after every step.

Tolerances (as the other PyTorch tests):
  float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6
  double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13
NaN must meet NaN (the kl_div target gradient at 0).

3. kl_div against distribution labels (IDX labels { 3 }): `eval`'s loss is
   torch's batchmean and its accuracy compares the argmax of the prediction
   with the argmax of each label row.

Negative controls show the comparisons can fail: elu against torch's with
alpha 1.01, hardtanh's gradient with 1 instead of 0 at x == max_val,
cross_entropy without its label smoothing, huber against smooth_l1 (they
differ by the factor delta), the training run against torch with another
label smoothing.

Run from the repo root: /usr/bin/python3 tests/test_acts_torch.py
Environment: TRAINC (the trainc binary; default build/gen/trainc), TRAINC_TMP
(scratch folder; default a temporary one). Prints "ok - name" / "not ok -
name"; exits 1 on any failure. A missing torch is a failure, not a skip."""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import oracle
from oracle import report, require_torch

require_torch()
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}
NP = {"float": np.float32, "double": np.float64}
TT = {"float": torch.float32, "double": torch.float64}
STEPS = 20


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def close(got, want, dtype):
    """(ok, detail): every element within the dtype's bound, NaN only where torch has NaN."""
    rtol, atol = TOL[dtype]
    g, w = np.asarray(got, np.float64).ravel(), np.asarray(want, np.float64).ravel()
    if g.shape != w.shape:
        return False, f"shape {g.shape} vs torch {w.shape}"
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if np.any(nan_g != nan_w):
        i = int(np.argmax(nan_g != nan_w))
        return False, f"NaN mismatch at {i}: trainc {g[i]!r} torch {w[i]!r}"
    ok = ~nan_w
    excess = np.abs(g[ok] - w[ok]) / (rtol * np.abs(w[ok]) + atol)
    if excess.size and not np.all(excess <= 1):
        i = np.flatnonzero(ok)[int(np.argmax(excess))]
        return False, (f"{int(np.sum(excess > 1))} of {g.size} off, worst at {i}: "
                       f"trainc {g[i]!r} torch {w[i]!r}")
    return True, f"worst |diff| / bound = {float(np.max(excess)) if excess.size else 0:.3g}"


# ---- part 1: each op alone ----

R, C = 8, 5  # rows of the one-hot input, classes


def special_inputs():
    """[4 x 16] float32 values: the kinks and edges of every activation
    tested, then N(0, 3) draws."""
    pts = [0, 1, -1, -0.5, 2, 6, 2.5, -2, 20, 20.5, 19.5, -30, -10, 10, -1e-10, 1e-10,
           -1e-5, 1e-3, 5, -5, 0.5, 3, -3, 0.75, -0.25, 40, -60]
    r = np.random.RandomState(7)
    rest = r.randn(64 - len(pts)) * 3
    return np.array(pts + list(rest), dtype=np.float32).reshape(4, 16)


# (name, lua with %s for the input, torch function); the inputs hit each one's kinks
ACTS = [
    ("elu", "elu(%s)", lambda t: F.elu(t)),
    ("elu alpha 0.5 (positional)", "elu(%s, 0.5)", lambda t: F.elu(t, 0.5)),
    ("elu alpha -0.7 (named)", "elu(%s, { alpha = -0.7 })", lambda t: F.elu(t, -0.7)),
    ("gelu exact", "gelu(%s)", lambda t: F.gelu(t)),
    ("gelu tanh", "gelu(%s, 'tanh')", lambda t: F.gelu(t, approximate="tanh")),
    ("gelu { approximate = 'none' }", "gelu(%s, { approximate = 'none' })", lambda t: F.gelu(t)),
    ("softplus", "softplus(%s)", lambda t: F.softplus(t)),
    ("softplus beta 2 threshold 5", "softplus(%s, 2, 5)", lambda t: F.softplus(t, 2, 5)),
    ("softplus beta -1.5 threshold 3", "softplus(%s, { beta = -1.5, threshold = 3 })",
     lambda t: F.softplus(t, -1.5, 3)),
    ("hardtanh", "hardtanh(%s)", lambda t: F.hardtanh(t)),
    ("hardtanh(-0.5, 2)", "hardtanh(%s, -0.5, 2)", lambda t: F.hardtanh(t, -0.5, 2)),
    ("hardtanh { min_val = 0, max_val = 6 }", "hardtanh(%s, { min_val = 0, max_val = 6 })",
     lambda t: F.hardtanh(t, 0, 6)),
    ("sign (gradient 0)", "sign(%s)", lambda t: torch.sign(t)),
    ("silu", "silu(%s)", lambda t: F.silu(t)),
    ("mish", "mish(%s)", lambda t: F.mish(t)),
    ("softsign", "softsign(%s)", lambda t: F.softsign(t)),
    ("layer ELU(0.5)", "sequential { ELU(0.5) }(%s)", lambda t: nn.ELU(0.5)(t)),
    ("layer GELU('tanh')", "sequential { GELU('tanh') }(%s)", lambda t: nn.GELU("tanh")(t)),
    ("layer Softplus { beta = 2 }", "sequential { Softplus { beta = 2 } }(%s)",
     lambda t: nn.Softplus(beta=2)(t)),
    ("layer Hardtanh(-2, 2)", "sequential { Hardtanh(-2, 2) }(%s)", lambda t: nn.Hardtanh(-2, 2)(t)),
]


def pair_inputs(kind):
    """prediction and target [4 x 6], float32; huber/smooth_l1 differences
    include exactly 0, ±0.5, ±1 (the deltas and betas used)."""
    r = np.random.RandomState(11)
    if kind == "kl":  # log-probabilities; probabilities with exact zeros
        z = r.randn(4, 6)
        p = (z - np.log(np.exp(z).sum(1, keepdims=True))).astype(np.float32)
        t = np.exp(r.randn(4, 6))
        t[0, 0] = t[1, 3] = t[3, 5] = 0
        t = (t / t.sum(1, keepdims=True)).astype(np.float32)
        return p, t
    if kind == "kl_pos":
        z = r.randn(4, 6)
        p = (z - np.log(np.exp(z).sum(1, keepdims=True))).astype(np.float32)
        t = np.exp(r.randn(4, 6))
        return p, (t / t.sum(1, keepdims=True)).astype(np.float32)
    if kind == "kl_log":
        return (r.randn(4, 6) - 2).astype(np.float32), (r.randn(4, 6) - 2).astype(np.float32)
    t = (r.randn(4, 6) * 2).astype(np.float32)
    d = (r.randn(4, 6) * 1.5).astype(np.float32)
    d.ravel()[:7] = [0, 0.5, -0.5, 1, -1, 2, -2]
    t.ravel()[:7] = [0.25, 1.5, -2, 0.5, 3, -1, 0.125]  # t + d exact in float32
    return (t + d).astype(np.float32), t


# (name, lua loss of %(p)s %(t)s, torch function, input kind, target trained)
PAIR_LOSSES = [
    ("huber", "huber(%(p)s, %(t)s)", lambda p, t: F.huber_loss(p, t), "diff", True),
    ("huber delta 0.5 sum", "huber(%(p)s, %(t)s, { delta = 0.5, reduction = 'sum' })",
     lambda p, t: F.huber_loss(p, t, delta=0.5, reduction="sum"), "diff", True),
    ("smooth_l1", "smooth_l1(%(p)s, %(t)s)", lambda p, t: F.smooth_l1_loss(p, t), "diff", True),
    ("smooth_l1 beta 0.5", "smooth_l1(%(p)s, %(t)s, { beta = 0.5 })",
     lambda p, t: F.smooth_l1_loss(p, t, beta=0.5), "diff", True),
    ("smooth_l1 beta 0 (l1), sum", "smooth_l1(%(p)s, %(t)s, { beta = 0, reduction = 'sum' })",
     lambda p, t: F.smooth_l1_loss(p, t, beta=0.0, reduction="sum"), "diff", True),
    ("mse sum", "mse(%(p)s, %(t)s, { reduction = 'sum' })",
     lambda p, t: F.mse_loss(p, t, reduction="sum"), "diff", True),
    ("l1 sum", "l1(%(p)s, %(t)s, { reduction = 'sum' })",
     lambda p, t: F.l1_loss(p, t, reduction="sum"), "diff", True),
    ("kl_div batchmean, targets with zeros", "kl_div(%(p)s, %(t)s)",
     lambda p, t: F.kl_div(p, t, reduction="batchmean"), "kl", True),
    ("kl_div batchmean, positive targets", "kl_div(%(p)s, %(t)s, { reduction = 'batchmean' })",
     lambda p, t: F.kl_div(p, t, reduction="batchmean"), "kl_pos", True),
    ("kl_div mean", "kl_div(%(p)s, %(t)s, { reduction = 'mean' })",
     lambda p, t: F.kl_div(p, t, reduction="mean"), "kl_pos", True),
    ("kl_div sum", "kl_div(%(p)s, %(t)s, { reduction = 'sum' })",
     lambda p, t: F.kl_div(p, t, reduction="sum"), "kl_pos", True),
    ("kl_div log_target batchmean", "kl_div(%(p)s, %(t)s, { log_target = true })",
     lambda p, t: F.kl_div(p, t, reduction="batchmean", log_target=True), "kl_log", True),
    ("kl_div log_target sum", "kl_div(%(p)s, %(t)s, { log_target = true, reduction = 'sum' })",
     lambda p, t: F.kl_div(p, t, reduction="sum", log_target=True), "kl_log", True),
]

# (name, lua loss of %(z)s and y, torch function of (z, y), logits or log-probabilities)
CLASS_LOSSES = [
    ("cross_entropy", "cross_entropy(%(z)s, y)", lambda z, y: F.cross_entropy(z, y), "logits"),
    ("cross_entropy label_smoothing 0.1", "cross_entropy(%(z)s, y, { label_smoothing = 0.1 })",
     lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1), "logits"),
    ("cross_entropy label_smoothing 1, sum",
     "cross_entropy(%(z)s, y, { label_smoothing = 1, reduction = 'sum' })",
     lambda z, y: F.cross_entropy(z, y, label_smoothing=1.0, reduction="sum"), "logits"),
    ("cross_entropy label_smoothing 0.3, sum",
     "cross_entropy(%(z)s, y, { label_smoothing = 0.3, reduction = 'sum' })",
     lambda z, y: F.cross_entropy(z, y, label_smoothing=0.3, reduction="sum"), "logits"),
    ("nll", "nll(%(z)s, y)", lambda z, y: F.nll_loss(z, y), "logprob"),
    ("nll sum", "nll(%(z)s, y, { reduction = 'sum' })",
     lambda z, y: F.nll_loss(z, y, reduction="sum"), "logprob"),
]


def class_inputs(kind, k):
    r = np.random.RandomState(100 + k)
    z = r.randn(R, C) * 2
    if kind == "logprob":
        z = z - np.log(np.exp(z).sum(1, keepdims=True))
    return z.astype(np.float32)


def labels():
    return np.random.RandomState(5).randint(0, C, R)


def ops_spec(dtype):
    """The spec and the fixed parameter values ({name: array}) of part 1."""
    lines = [f'model "acts_ops_{dtype}"',
             'data = csv { train = "onehot.csv", label = "y", header = true }',
             f"local x = input {{ {R} }}", f"local y = labels {{ classes = {C} }}",
             "local terms = {}",
             "local function P(n, r, c, frozen) return param { r, c, name = n, frozen = frozen } end"]
    fixed = {}
    a = special_inputs()
    g = np.random.RandomState(3).randn(*a.shape).astype(np.float32)
    for k, (_, lua, _) in enumerate(ACTS):
        fixed[f"act{k}_a"], fixed[f"act{k}_g"] = a, g
        lines.append(f"do local a, g = P('act{k}_a', 4, 16, true), P('act{k}_g', 4, 16, true)")
        lines.append(f"  local w, z = P('act{k}_w', 4, 16), P('act{k}_z', 4, 16)")
        lines.append(f"  terms[#terms + 1] = sum({lua % 'a'} * w) + sum({lua % '(a + z)'} * g) end")
    for k, (_, lua, _, kind, _) in enumerate(PAIR_LOSSES):
        p, t = pair_inputs(kind)
        fixed[f"pair{k}_p"], fixed[f"pair{k}_t"] = p, t
        lines.append(f"do local p, t = P('pair{k}_p', 4, 6, true), P('pair{k}_t', 4, 6, true)")
        lines.append(f"  local zp, zt, wl = P('pair{k}_zp', 4, 6), P('pair{k}_zt', 4, 6), param {{ 1, name = 'pair{k}_wl' }}")
        lines.append(f"  terms[#terms + 1] = {lua % {'p': '(p + zp)', 't': '(t + zt)'}} + sum({lua % {'p': 'p', 't': 't'}} * wl) end")
    for k, (_, lua, _, kind) in enumerate(CLASS_LOSSES):
        fixed[f"cls{k}_l"] = class_inputs(kind, k)
        lines.append(f"do local l, zl = P('cls{k}_l', {R}, {C}, true), P('cls{k}_zl', {R}, {C})")
        lines.append(f"  local wl = param {{ 1, name = 'cls{k}_wl' }}")
        lines.append(f"  terms[#terms + 1] = {lua % {'z': 'matmul(x, l + zl)'}} + sum({lua % {'z': 'matmul(x, l)'}} * wl) end")
    lines += ["local total = terms[1]", "for i = 2, #terms do total = total + terms[i] end",
              "minimize(total)", "optimizer = sgd { lr = 1 }",
              f"train {{ batch = {R}, epochs = 1, shuffle = false }}"]
    return "\n".join(lines) + "\n", fixed


def write_onehot(folder):
    y = labels()
    with open(os.path.join(folder, "onehot.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(R)] + ["y"]) + "\n")
        for i in range(R):
            f.write(",".join(["1" if j == i else "0" for j in range(R)] + [str(int(y[i]))]) + "\n")


def run_ops(trainc, dtype, folder):
    """Builds the part-1 trainer, takes its one step; returns {name: array} after it."""
    os.makedirs(folder, exist_ok=True)
    spec, fixed = ops_spec(dtype)
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    write_onehot(folder)
    os.makedirs(os.path.join(folder, "init"), exist_ok=True)
    for name, v in fixed.items():
        np.save(os.path.join(folder, "init", name + ".npy"), v.astype(NP[dtype]))
    exe = os.path.join(folder, "trainer", f"acts_ops_{dtype}")
    cmds = [[trainc, "build", "spec.lua", "-o", "trainer", "--dtype", dtype, "-q"],
            [exe, "train", "--epochs", "1", "--init", "init", "--weights", "w.weights", "--quiet",
             "--no-guard"],  # kl_div's target gradient is NaN where the target is 0, as torch's
            [exe, "export", "final", "--weights", "w.weights"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[:2])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    final = os.path.join(folder, "final")
    return {f[:-4]: np.load(os.path.join(final, f)) for f in os.listdir(final) if f.endswith(".npy")}


def check_ops(dtype, got):
    for k, (name, _, fn) in enumerate(ACTS):
        a = torch.tensor(got[f"act{k}_a"].astype(np.float64), dtype=TT[dtype], requires_grad=True)
        g = torch.tensor(got[f"act{k}_g"].astype(np.float64), dtype=TT[dtype])
        y = fn(a)
        (y * g).sum().backward()
        ok, d = close(-got[f"act{k}_w"], y.detach().numpy(), dtype)
        report(ok, f"{dtype}: {name}: forward values match torch", d)
        ok, d = close(-got[f"act{k}_z"], a.grad.numpy(), dtype)
        report(ok, f"{dtype}: {name}: gradient matches torch (kinks included)", d)
        if name == "elu":  # negative control
            b = torch.tensor(got[f"act{k}_a"].astype(np.float64), dtype=TT[dtype])
            ok, _ = close(-got[f"act{k}_w"], F.elu(b, 1.01).numpy(), dtype)
            report(not ok, f"{dtype}: mismatch detected: elu against torch's elu with alpha 1.01")
        if name == "hardtanh":  # the kink convention is tested: 1 at max_val would be caught
            want = a.grad.numpy().copy()
            want[got[f"act{k}_a"] == 1] = got[f"act{k}_g"][got[f"act{k}_a"] == 1]
            ok, _ = close(-got[f"act{k}_z"], want, dtype)
            report(not ok, f"{dtype}: mismatch detected: hardtanh gradient 1 instead of 0 at x == max_val")
    for k, (name, _, fn, _, _) in enumerate(PAIR_LOSSES):
        p = torch.tensor(got[f"pair{k}_p"].astype(np.float64), dtype=TT[dtype], requires_grad=True)
        t = torch.tensor(got[f"pair{k}_t"].astype(np.float64), dtype=TT[dtype], requires_grad=True)
        loss = fn(p, t)
        loss.backward()
        ok, d = close(-got[f"pair{k}_wl"], [loss.item()], dtype)
        report(ok, f"{dtype}: {name}: loss matches torch", d)
        ok, d = close(-got[f"pair{k}_zp"], p.grad.numpy(), dtype)
        report(ok, f"{dtype}: {name}: gradient of the prediction matches torch", d)
        ok, d = close(-got[f"pair{k}_zt"], t.grad.numpy(), dtype)
        nans = int(np.isnan(t.grad.numpy()).sum())
        report(ok, f"{dtype}: {name}: gradient of the target matches torch"
               + (f" ({nans} NaN where the target is 0, as torch)" if nans else ""), d)
        if name == "huber":
            q = torch.tensor(got[f"pair{k}_p"].astype(np.float64), dtype=TT[dtype])
            r = torch.tensor(got[f"pair{k}_t"].astype(np.float64), dtype=TT[dtype])
            ok, _ = close(-got[f"pair{k}_wl"], [F.smooth_l1_loss(q, r, beta=0.5).item()], dtype)
            report(not ok, f"{dtype}: mismatch detected: huber against smooth_l1 with beta 0.5")
    y = torch.tensor(labels(), dtype=torch.int64)
    for k, (name, _, fn, _) in enumerate(CLASS_LOSSES):
        z = torch.tensor(got[f"cls{k}_l"].astype(np.float64), dtype=TT[dtype], requires_grad=True)
        loss = fn(z, y)
        loss.backward()
        ok, d = close(-got[f"cls{k}_wl"], [loss.item()], dtype)
        report(ok, f"{dtype}: {name}: loss matches torch", d)
        ok, d = close(-got[f"cls{k}_zl"], z.grad.numpy(), dtype)
        report(ok, f"{dtype}: {name}: gradient of the logits matches torch", d)
        if name == "cross_entropy label_smoothing 0.1":
            ok, _ = close(-got[f"cls{k}_wl"], [F.cross_entropy(z.detach(), y).item()], dtype)
            report(not ok, f"{dtype}: mismatch detected: label_smoothing 0.1 against torch without it")


# ---- part 2: 20 training steps ----

FEATURES, HIDDEN, ROWS, BATCH, LR = 6, 8, 40, 8, 0.05

# (net, activation lua / torch module, loss lua of z (and the teacher's t), output size)
NETS = [
    ("elu", "elu(%s)", lambda: nn.ELU(), "cross_entropy(z, y)", 3),
    ("elu_a03", "elu(%s, 0.3)", lambda: nn.ELU(0.3), "cross_entropy(z, y)", 3),
    ("gelu", "gelu(%s)", lambda: nn.GELU(), "cross_entropy(z, y)", 3),
    ("gelu_tanh", "gelu(%s, 'tanh')", lambda: nn.GELU("tanh"), "cross_entropy(z, y)", 3),
    ("softplus", "softplus(%s)", lambda: nn.Softplus(), "cross_entropy(z, y)", 3),
    ("softplus_b2", "softplus(%s, 2, 1)", lambda: nn.Softplus(2, 1), "cross_entropy(z, y)", 3),
    ("hardtanh", "hardtanh(%s)", lambda: nn.Hardtanh(), "cross_entropy(z, y)", 3),
    ("hardtanh_06", "hardtanh(%s, 0, 6)", lambda: nn.Hardtanh(0, 6), "cross_entropy(z, y)", 3),
    ("ce_ls", "tanh(%s)", lambda: nn.Tanh(), "cross_entropy(z, y, { label_smoothing = 0.1 })", 3),
    ("ce_ls_sum", "elu(%s)", lambda: nn.ELU(),
     "cross_entropy(z, y, { label_smoothing = 0.25, reduction = 'sum' })", 3),
    ("nll", "tanh(%s)", lambda: nn.Tanh(), "nll(log_softmax(z), y)", 3),
    ("kl", "gelu(%s)", lambda: nn.GELU(), "kl_div(log_softmax(z), softmax(t))", 3),
    ("kl_logt", "tanh(%s)", lambda: nn.Tanh(),
     "kl_div(log_softmax(z), log_softmax(t), { log_target = true, reduction = 'sum' })", 3),
    ("huber", "elu(%s)", lambda: nn.ELU(), "huber(z:reshape {}, y, { delta = 0.5 })", 1),
    ("smooth_l1", "softplus(%s)", lambda: nn.Softplus(),
     "smooth_l1(z:reshape {}, y, { beta = 0.5 })", 1),
]
TEACHER = {"kl": False, "kl_logt": True}  # the teacher's logits t; trained?


def torch_loss(net, z, y, t, ls=0.1):
    if net == "ce_ls":
        return F.cross_entropy(z, y, label_smoothing=ls)
    if net == "ce_ls_sum":
        return F.cross_entropy(z, y, label_smoothing=0.25, reduction="sum")
    if net == "nll":
        return F.nll_loss(F.log_softmax(z, 1), y)
    if net == "kl":
        return F.kl_div(F.log_softmax(z, 1), F.softmax(t, 1), reduction="batchmean")
    if net == "kl_logt":
        return F.kl_div(F.log_softmax(z, 1), F.log_softmax(t, 1), reduction="sum", log_target=True)
    if net == "huber":
        return F.huber_loss(z.reshape(-1), y.to(z.dtype), delta=0.5)
    if net == "smooth_l1":
        return F.smooth_l1_loss(z.reshape(-1), y.to(z.dtype), beta=0.5)
    return F.cross_entropy(z, y)


def train_spec(dtype):
    lines = [f'model "acts_train_{dtype}"',
             'data = csv { train = "data.csv", label = "y", header = true }',
             f"local x = input {{ {FEATURES} }}", "local y = labels { classes = 3 }",
             "local losses = {}"]
    for net, act, _, loss, out in NETS:
        fc1 = "linear(x, %d, { name = '%s.fc1' })" % (HIDDEN, net)
        lines.append(f"do local h = {act % fc1}")
        lines.append(f"  local z = linear(h, {out}, {{ name = '{net}.fc2' }})")
        if net in TEACHER:
            frozen = "false" if TEACHER[net] else "true"
            lines.append(f"  local t = linear(x, 3, {{ name = '{net}.teacher', frozen = {frozen} }})")
        lines.append(f"  losses[#losses + 1] = {loss} end")
    lines += ["local total = losses[1]", "for i = 2, #losses do total = total + losses[i] end",
              "minimize(total)", f"optimizer = sgd {{ lr = {LR} }}",
              f"train {{ batch = {BATCH}, epochs = 100, seed = 3, shuffle = false }}"]
    return "\n".join(lines) + "\n"


def train_data():
    r = np.random.RandomState(2024)
    X = r.randn(ROWS, FEATURES).astype(np.float32)
    y = r.randint(0, 3, ROWS)
    return X, y


def param_names():
    names = []
    for net, *_ in NETS:
        for layer in ["fc1", "fc2"] + (["teacher"] if net in TEACHER else []):
            names += [f"{net}.{layer}.weight", f"{net}.{layer}.bias"]
    return names


def run_training(trainc, dtype, folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(train_spec(dtype))
    X, y = train_data()
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(FEATURES)] + ["y"]) + "\n")
        for i in range(ROWS):
            f.write(",".join([repr(float(v)) for v in X[i]] + [str(int(y[i]))]) + "\n")
    exe = os.path.join(folder, "trainer", f"acts_train_{dtype}")
    cmds = [[trainc, "build", "spec.lua", "-o", "trainer", "--dtype", dtype, "-q"],
            [exe, "train", "--epochs", "0", "--weights", "w0.weights", "--quiet"],
            [exe, "export", "init", "--weights", "w0.weights"],
            [exe, "train", "--steps", str(STEPS), "--threads", "1", "--weights", "w.weights",
             "--trace", "trace.csv", "--quiet"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[:2])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    names = param_names()
    init = {p: np.load(os.path.join(folder, "init", p + ".npy")) for p in names}
    with open(os.path.join(folder, "trace.csv")) as f:
        head = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {p: [i for i, h in enumerate(head) if h == p or h.startswith(p + "[")] for p in names}
    steps = {}
    for row in rows:
        k = int(row[0])
        if k > 0:
            steps[k] = (float(row[1]), {p: np.array([float(row[i]) for i in cols[p]])
                                        .reshape(init[p].shape) for p in names})
    return init, steps


def torch_training(dtype, init, ls=0.1):
    """The same 20 steps in torch: {step: (total loss, {param: array})}."""
    tt = TT[dtype]
    X, y = train_data()
    loader = DataLoader(TensorDataset(torch.from_numpy(X).to(tt), torch.from_numpy(y.astype(np.int64))),
                        batch_size=BATCH, shuffle=False)
    nets, teachers, params = {}, {}, {}
    for net, _, act, _, out in NETS:
        m = nn.Sequential(nn.Linear(FEATURES, HIDDEN), act(), nn.Linear(HIDDEN, out)).to(tt)
        nets[net] = m
        params[f"{net}.fc1.weight"], params[f"{net}.fc1.bias"] = m[0].weight, m[0].bias
        params[f"{net}.fc2.weight"], params[f"{net}.fc2.bias"] = m[2].weight, m[2].bias
        if net in TEACHER:
            teachers[net] = nn.Linear(FEATURES, 3).to(tt)
            params[f"{net}.teacher.weight"] = teachers[net].weight
            params[f"{net}.teacher.bias"] = teachers[net].bias
            teachers[net].requires_grad_(TEACHER[net])
    with torch.no_grad():
        for p, v in params.items():
            v.copy_(torch.from_numpy(init[p]).to(tt))
    opt = torch.optim.SGD([v for v in params.values() if v.requires_grad], lr=LR)
    step, out = 0, {}
    while step < STEPS:
        for xb, yb in loader:
            opt.zero_grad()
            total = sum(torch_loss(net, nets[net](xb), yb,
                                   teachers[net](xb) if net in teachers else None, ls)
                        for net, *_ in NETS)
            total.backward()
            opt.step()
            step += 1
            out[step] = (total.item(), {p: v.detach().numpy().copy() for p, v in params.items()})
            if step >= STEPS:
                break
    return out


def check_training(dtype, res):
    init, got = res
    if sorted(got) != list(range(1, STEPS + 1)):
        report(False, f"{dtype}: training: the trace has steps 1..{STEPS}", f"got {sorted(got)[:5]}...")
        return
    want = torch_training(dtype, init)
    for net, *_ in NETS:
        names = [p for p in param_names() if p.startswith(net + ".")]
        bad = None
        worst = 0.0
        for k in range(1, STEPS + 1):
            for p in names:
                ok, d = close(got[k][1][p], want[k][1][p], dtype)
                if not ok and bad is None:
                    bad = f"step {k}, {p}: {d}"
        moved = max(float(np.max(np.abs(got[STEPS][1][p] - init[p]))) for p in names)
        report(bad is None and moved > 1e-3,
               f"{dtype}: training {net}: every parameter matches torch after each of {STEPS} SGD steps",
               bad or f"the weights moved only {moved:g}")
    bad = None
    for k in range(1, STEPS + 1):
        ok, d = close([got[k][0]], [want[k][0]], dtype)
        if not ok and bad is None:
            bad = f"step {k}: {d}"
    report(bad is None, f"{dtype}: training: the loss of every step matches torch", bad or "")
    other = torch_training(dtype, init, ls=0.12)
    diff = any(not close(got[k][1][p], other[k][1][p], dtype)[0]
               for k in range(1, STEPS + 1) for p in param_names() if p.startswith("ce_ls."))
    report(diff, f"{dtype}: mismatch detected: training ce_ls against torch with label_smoothing 0.12")


# ---- part 3: kl_div against distribution labels: accuracy by argmax ----

KL_ROWS, KL_IN, KL_C = 50, 4, 3


def write_idx(path, a):
    """IDX with float32 (type 0x0D) big-endian values."""
    a = np.asarray(a, ">f4")
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x0D, a.ndim]))
        f.write(np.asarray(a.shape, ">i4").tobytes())
        f.write(a.tobytes())


def kl_data():
    r = np.random.RandomState(77)
    X = r.randn(KL_ROWS, KL_IN).astype(np.float32)
    Y = np.exp(r.randn(KL_ROWS, KL_C) * 1.5)
    return X, (Y / Y.sum(1, keepdims=True)).astype(np.float32)


def run_kl_accuracy(trainc, folder):
    """Trains 3 epochs on distribution labels (IDX, labels { 3 }); returns
    (weights, test loss, accuracy) as `eval` prints them."""
    os.makedirs(folder, exist_ok=True)
    X, Y = kl_data()
    write_idx(os.path.join(folder, "x.idx"), X)
    write_idx(os.path.join(folder, "y.idx"), Y)
    spec = f"""model "acts_kl_acc"
data = idx {{ train = {{ images = "x.idx", labels = "y.idx" }}, test = {{ images = "x.idx", labels = "y.idx" }} }}
local x = input {{ {KL_IN} }}
local y = labels {{ {KL_C} }}
minimize(kl_div(log_softmax(linear(x, {KL_C}, {{ name = "fc" }})), y))
optimizer = sgd {{ lr = 0.5 }}
train {{ batch = 10, epochs = 3, shuffle = false }}
"""
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    exe = os.path.join(folder, "trainer", "acts_kl_acc")
    cmds = [[trainc, "build", "spec.lua", "-o", "trainer", "-q"],
            [exe, "train", "--quiet", "--weights", "w.weights"],
            [exe, "export", "final", "--weights", "w.weights"],
            [exe, "eval", "--weights", "w.weights"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[:2])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    import re
    m = re.search(r"test loss (\S+)\s+accuracy (\S+)", r.stdout)
    if not m:
        return f"eval printed no test loss and accuracy: {r.stdout.strip()[-300:]}"
    w = {p: np.load(os.path.join(folder, "final", p + ".npy")) for p in ("fc.weight", "fc.bias")}
    # a label file of the wrong width is refused when the trainer loads it
    write_idx(os.path.join(folder, "y.idx"), Y[:, :1])
    bad = run([exe, "eval", "--weights", "w.weights"], folder)
    return w, float(m.group(1)), float(m.group(2)), bad


def check_kl_accuracy(res):
    w, loss, acc, bad = res
    msg = (bad.stdout + bad.stderr).strip()
    report(bad.returncode == 1 and "y.idx: 1 label values per row, the model expects 3" in msg,
           "kl_div on IDX labels: a label file of 1 value per row for labels { 3 } is refused",
           f"exit {bad.returncode}: {msg[-300:]}")
    X, Y = kl_data()
    x = torch.from_numpy(X)
    lp = F.log_softmax(x @ torch.from_numpy(w["fc.weight"]).T + torch.from_numpy(w["fc.bias"]), 1)
    y = torch.from_numpy(Y)
    want_loss = F.kl_div(lp, y, reduction="batchmean").item()
    pred = lp.argmax(1).numpy()
    want_acc = float(np.mean(pred == Y.argmax(1)))
    as_index = float(np.mean(pred == Y[:, 0].astype(int)))  # labels misread as class indices
    report(abs(loss - want_loss) <= 1e-5 * abs(want_loss),
           "kl_div on distribution labels: the test loss matches torch's batchmean",
           f"trainc {loss!r} torch {want_loss!r}")
    report(abs(acc - round(want_acc, 4)) < 1e-9,
           f"kl_div on distribution labels: accuracy is argmax against the labels' argmax ({want_acc:.4f})",
           f"trainc {acc!r}")
    report(abs(want_acc - as_index) > 0.05,
           "kl_div accuracy control: reading the labels as class indices would give another accuracy",
           f"{want_acc} vs {as_index}")


def main():
    ready = oracle.setup("acts_torch")
    if ready is None:
        return 1
    trainc, base, own_tmp = ready
    jobs = [("ops", d) for d in ("float", "double")] + \
        [("train", d) for d in ("float", "double")] + [("kl_accuracy", "float")]

    def work(job):
        kind, dtype = job
        folder = os.path.join(base, f"{kind}_{dtype}")
        if kind == "kl_accuracy":
            return run_kl_accuracy(trainc, folder)
        return (run_ops if kind == "ops" else run_training)(trainc, dtype, folder)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(work, jobs)))
    for (kind, dtype), res in results.items():
        if isinstance(res, str):
            report(False, f"{dtype}: {kind} trainer built and ran", res)
            continue
        if kind == "kl_accuracy":
            check_kl_accuracy(res)
        elif kind == "ops":
            check_ops(dtype, res)
        else:
            check_training(dtype, res)
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
