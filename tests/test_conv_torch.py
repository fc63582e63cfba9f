#!/usr/bin/env python3
"""test_conv_torch.py — conv2d, max_pool2d, avg_pool2d, global_avg_pool and
flatten of images against PyTorch 1.13 (Debian python3-torch).

1. Each layer, forward and backward, in --dtype double. A small net reads
   images [B x C x H x W] from a CSV (input { C, H, W }): a 3x3 convolution
   "pre" (so that the gradient the tested layer passes back is checked
   through pre's weights), the layer under test, flatten, linear "fc" -> 3
   classes, cross_entropy. trainc's initial weights (train --epochs 0,
   export) are loaded into the same torch.nn net.
   - forward: output(flatten(layer)) as the prediction; `predict` on the
     features against torch's layer output (%.9g text: 1e-8 relative).
   - gradients: one SGD step at lr 1 over the whole batch (--trace, 17
     digits): w0 - w1 is the gradient of every parameter, against torch's
     autograd: |trainc - torch| <= 1e-9 * max|torch| + 1e-13.
2. The LeNet net (conv 5x5 1->8, max pool 2, relu, conv 5x5 8->16, max pool
   2, relu, linear -> 10) in float32 with Adam (lr 1e-3), batch 64, 20 steps
   on 1280 random 28x28 images (shuffle = false): every parameter after
   every step against torch, |trainc - torch| <= 1e-5 |torch| + 1e-6.

Negative controls: torch with reflected instead of zero padding, average
instead of max pooling, avg_pool2d's count_include_pad = False, and LeNet
with Adam's eps 1e-7 must all be detected as mismatches.

Run from the repo root: /usr/bin/python3 tests/test_conv_torch.py
Environment: TRAINC (the trainc binary), TRAINC_TMP (scratch folder).
Prints "ok - name" / "not ok - name"; exits 1 on any failure."""
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

import oracle
from oracle import report, require_torch

require_torch()
import numpy as np
import torch
import torch.nn as nn

CLASSES = 3

# (name, C, H, W, the layer in the spec applied to t (pre's output, PRE
# channels), a torch module factory, parameter names of the layer)
PRE = 3
CASES = [
    ("conv3x3", 2, 7, 6, 'conv2d(t, 4, { kernel = 3, name = "L" })',
     lambda: nn.Conv2d(PRE, 4, 3), True),
    ("conv_stride2_pad1_rect", 1, 8, 7,
     'conv2d(t, 5, { kernel = { 3, 2 }, stride = 2, padding = 1, name = "L" })',
     lambda: nn.Conv2d(PRE, 5, (3, 2), stride=2, padding=1), True),
    ("conv_dilation2_pad_rect", 2, 9, 8,
     'conv2d(t, 2, { kernel = 3, stride = { 1, 2 }, padding = { 2, 1 }, dilation = 2, name = "L" })',
     lambda: nn.Conv2d(PRE, 2, 3, stride=(1, 2), padding=(2, 1), dilation=2), True),
    # stride 1, rows as wide as the input's: im2col and col2im in flat runs
    # (gen/ops/conv.c's flat_taps), with dilation and a rectangular kernel
    ("conv_same_dilation2", 2, 7, 9,
     'conv2d(t, 3, { kernel = 3, padding = 2, dilation = 2, name = "L" })',
     lambda: nn.Conv2d(PRE, 3, 3, padding=2, dilation=2), True),
    ("conv_same_rect", 1, 5, 6,
     'conv2d(t, 2, { kernel = { 5, 3 }, padding = { 2, 1 }, name = "L" })',
     lambda: nn.Conv2d(PRE, 2, (5, 3), padding=(2, 1)), True),
    ("conv_groups3_nobias", 1, 6, 6,
     'conv2d(t, 6, { kernel = 3, groups = 3, padding = 1, bias = false, name = "L" })',
     lambda: nn.Conv2d(PRE, 6, 3, groups=3, padding=1, bias=False), True),
    ("conv1x1", 2, 5, 4, 'conv2d(t, 4, { kernel = 1, name = "L" })',
     lambda: nn.Conv2d(PRE, 4, 1), True),
    ("conv_blas", 3, 10, 10, 'conv2d(t, 16, { kernel = 5, padding = 2, name = "L" })',
     lambda: nn.Conv2d(PRE, 16, 5, padding=2), True),
    # groups by OpenBLAS (6 x 25 x 100 = 15000 multiply-adds per image, at
    # or above conv.c's CONV_BLAS_MIN_MACS)
    ("conv_blas_groups3", 3, 10, 10, 'conv2d(t, 6, { kernel = 5, padding = 2, groups = 3, name = "L" })',
     lambda: nn.Conv2d(PRE, 6, 5, padding=2, groups=3), True),
    ("lenet_block", 1, 12, 12,
     'relu(max_pool2d(conv2d(t, 16, { kernel = 5, name = "L" }), 2))',
     lambda: nn.Sequential(nn.Conv2d(PRE, 16, 5), nn.MaxPool2d(2), nn.ReLU()), True),
    ("max_pool2", 2, 7, 8, "max_pool2d(t, 2)", lambda: nn.MaxPool2d(2), False),
    ("max_pool3_s2_p1", 1, 7, 6, "max_pool2d(t, { kernel = 3, stride = 2, padding = 1 })",
     lambda: nn.MaxPool2d(3, stride=2, padding=1), False),
    ("avg_pool2", 2, 6, 7, "avg_pool2d(t, 2)", lambda: nn.AvgPool2d(2), False),
    ("avg_pool3_s2_p1", 1, 7, 6, "avg_pool2d(t, { kernel = 3, stride = 2, padding = 1 })",
     lambda: nn.AvgPool2d(3, stride=2, padding=1), False),
    ("avg_pool_rect", 1, 5, 6, "avg_pool2d(t, { kernel = { 3, 2 }, stride = { 1, 2 }, padding = { 1, 0 } })",
     lambda: nn.AvgPool2d((3, 2), stride=(1, 2), padding=(1, 0)), False),
    ("global_avg_pool", 2, 5, 6, "global_avg_pool(t)",
     lambda: nn.AdaptiveAvgPool2d(1), False),
]
ROWS = 5

# negative controls: (case, what is wrong, torch module factory)
NEGATIVE = [
    ("conv_stride2_pad1_rect", "reflected instead of zero padding",
     lambda: nn.Conv2d(PRE, 5, (3, 2), stride=2, padding=1, padding_mode="reflect")),
    ("max_pool3_s2_p1", "average instead of max pooling",
     lambda: nn.AvgPool2d(3, stride=2, padding=1)),
    ("avg_pool3_s2_p1", "count_include_pad=False",
     lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
]


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def write_csv(path, X, y=None):
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(X.shape[1])] +
                         (["target"] if y is not None else [])) + "\n")
        for i in range(X.shape[0]):
            row = [repr(float(v)) for v in X[i]]
            if y is not None:
                row.append(str(int(y[i])))
            f.write(",".join(row) + "\n")


def load_trace(path, shapes, dtype):
    """{step: {name: array}} from the trainer's --trace CSV."""
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {p: [i for i, h in enumerate(head) if h == p or h.startswith(p + "[")] for p in shapes}
    return {int(r[0]): {p: np.array([float(r[i]) for i in cols[p]], dtype=dtype).reshape(shapes[p])
                        for p in shapes} for r in rows}


def trainc_run(trainc, folder, spec, model, dtype, steps):
    """Builds, exports the initial weights, trains `steps` steps with a
    trace. Returns (initial weights {name: array}, trace) or a message."""
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    out = os.path.join(folder, "trainer")
    r = run([trainc, "build", "spec.lua", "-o", out, "--dtype", dtype, "-q"], folder)
    if r.returncode:
        return f"trainc build failed: {(r.stdout + r.stderr).strip()[-1500:]}"
    exe = os.path.join(out, model)
    for cmd in ([exe, "train", "--epochs", "0", "--weights", "w0.weights", "--quiet"],
                [exe, "export", "init", "--weights", "w0.weights"],
                [exe, "train", "--steps", str(steps), "--threads", "1", "--weights", "w.weights",
                 "--trace", "trace.csv", "--quiet"]):
        r = run(cmd, folder)
        if r.returncode:
            return f"{' '.join(cmd[1:])} failed: {(r.stdout + r.stderr).strip()[-800:]}"
    npdt = np.float64 if dtype == "double" else np.float32
    init = {f[:-4]: np.load(os.path.join(folder, "init", f))
            for f in os.listdir(os.path.join(folder, "init")) if f.endswith(".npy")}
    trace = load_trace(os.path.join(folder, "trace.csv"), {k: v.shape for k, v in init.items()},
                       npdt)
    return init, trace


def load_into(net_params, init):
    with torch.no_grad():
        for name, p in net_params:
            p.copy_(torch.from_numpy(init[name]))


# ---- 1. each layer in double ----

def layer_case(trainc, base, case):
    name, C, H, W, lua, make, has_params = case
    folder = os.path.join(base, name)
    os.makedirs(folder, exist_ok=True)
    r = np.random.RandomState(zlib.crc32(name.encode()))
    X = r.randn(ROWS, C * H * W).astype(np.float32).astype(np.float64)
    y = r.randint(0, CLASSES, ROWS)
    write_csv(os.path.join(folder, "data.csv"), X, y)
    write_csv(os.path.join(folder, "features.csv"), X)
    model = f"conv_{name}"
    spec = f"""-- generated by tests/test_conv_torch.py
model "{model}"
data = csv {{ train = "data.csv", label = "target", header = true }}
local x = input {{ {C}, {H}, {W} }}
local y = labels {{ classes = {CLASSES} }}
local t = conv2d(x, {PRE}, {{ kernel = 3, padding = 1, name = "pre", algo = "direct" }})
local h = flatten({lua})
minimize(cross_entropy(linear(h, {CLASSES}, {{ name = "fc" }}), y))
output(h, "values")
optimizer = sgd {{ lr = 1 }}
train {{ batch = {ROWS}, epochs = 1, seed = 3, shuffle = false }}
"""
    res = trainc_run(trainc, folder, spec, model, "double", 1)
    if isinstance(res, str):
        return name, res
    init, trace = res
    r = run([os.path.join(folder, "trainer", model), "predict", "features.csv", "--weights",
             "w0.weights", "-o", "pred.csv"], folder)
    if r.returncode:
        return name, f"predict failed: {(r.stdout + r.stderr).strip()[-800:]}"
    pred = np.loadtxt(os.path.join(folder, "pred.csv"), delimiter=",", skiprows=1, ndmin=2)
    return name, (X, y, init, trace, pred)


def torch_layer(case, X, y, init, make=None):
    name, C, H, W, lua, make0, has_params = case
    torch.manual_seed(0)
    pre = nn.Conv2d(C, PRE, 3, padding=1).double()
    layer = (make or make0)().double()
    xt = torch.from_numpy(X).reshape(ROWS, C, H, W)
    with torch.no_grad():
        feat = layer(pre(xt)).flatten(1).shape[1]
    fc = nn.Linear(feat, CLASSES).double()
    params = [("pre.weight", pre.weight), ("pre.bias", pre.bias), ("fc.weight", fc.weight),
              ("fc.bias", fc.bias)]
    if has_params:
        conv = layer[0] if isinstance(layer, nn.Sequential) else layer
        params.append(("L.weight", conv.weight))
        if conv.bias is not None:
            params.append(("L.bias", conv.bias))
    load_into(params, init)
    h = layer(pre(xt)).flatten(1)
    loss = nn.CrossEntropyLoss()(fc(h), torch.from_numpy(y.astype(np.int64)))
    loss.backward()
    return h.detach().numpy(), {n: p.grad.numpy() for n, p in params}


def compare_layer(case, got, make=None):
    X, y, init, trace, pred = got
    h, grads = torch_layer(case, X, y, init, make)
    bad = []
    if pred.shape != h.shape:
        return [f"forward: predict gave {pred.shape}, torch {h.shape}"]
    err = np.abs(pred - h).max()
    if err > 1e-8 * max(1.0, np.abs(h).max()):
        bad.append(f"forward max error {err:.3g}")
    if set(grads) != set(init):
        bad.append(f"parameters {sorted(init)} vs torch {sorted(grads)}")
        return bad
    for n, g in grads.items():
        mine = init[n] - trace[1][n]
        e = np.abs(mine - g).max()
        if e > 1e-9 * np.abs(g).max() + 1e-13:
            bad.append(f"{n} gradient max error {e:.3g} (max |g| {np.abs(g).max():.3g})")
    return bad


# ---- 2. LeNet, 20 Adam steps in float32 ----

LENET_STEPS, LENET_BATCH = 20, 64
LENET_PARAMS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight",
                "fc.bias")


def lenet_trainc(trainc, base):
    folder = os.path.join(base, "lenet")
    os.makedirs(folder, exist_ok=True)
    r = np.random.RandomState(5)
    n = LENET_STEPS * LENET_BATCH
    X = r.rand(n, 784).astype(np.float32)
    y = r.randint(0, 10, n)
    write_csv(os.path.join(folder, "data.csv"), X, y)
    spec = f"""-- generated by tests/test_conv_torch.py: the benchmark's LeNet
model "lenet_torch"
data = csv {{ train = "data.csv", label = "target", header = true }}
local x = input {{ 1, 28, 28 }}
local y = labels {{ classes = 10 }}
local h = relu(max_pool2d(conv2d(x, 8, {{ kernel = 5, name = "conv1", algo = "direct" }}), 2))
h = relu(max_pool2d(conv2d(h, 16, {{ kernel = 5, name = "conv2" }}), 2))
minimize(cross_entropy(linear(flatten(h), 10, {{ name = "fc" }}), y))
optimizer = adam {{ lr = 1e-3 }}
train {{ batch = {LENET_BATCH}, epochs = 1, seed = 11, shuffle = false }}
"""
    res = trainc_run(trainc, folder, spec, "lenet_torch", "float", LENET_STEPS)
    if isinstance(res, str):
        return res
    return X, y, res[0], res[1]


def lenet_torch(X, y, init, eps=1e-8):
    net = nn.Sequential(nn.Conv2d(1, 8, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(8, 16, 5),
                        nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(256, 10))
    tensors = (net[0].weight, net[0].bias, net[3].weight, net[3].bias, net[7].weight, net[7].bias)
    load_into(zip(LENET_PARAMS, tensors), init)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=eps)
    lossf = nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X).reshape(-1, 1, 28, 28)
    Yt = torch.from_numpy(y.astype(np.int64))
    out = {}
    for k in range(LENET_STEPS):
        sl = slice(k * LENET_BATCH, (k + 1) * LENET_BATCH)
        opt.zero_grad()
        lossf(net(Xt[sl]), Yt[sl]).backward()
        opt.step()
        out[k + 1] = {n: t.detach().numpy().copy() for n, t in zip(LENET_PARAMS, tensors)}
    return out


def lenet_worst(trace, ref):
    """The worst excess over the tolerance, and where."""
    worst, at = -1.0, ""
    for k in range(1, LENET_STEPS + 1):
        for n in LENET_PARAMS:
            a, b = trace[k][n].astype(np.float64), ref[k][n].astype(np.float64)
            ratio = (np.abs(a - b) / (1e-5 * np.abs(b) + 1e-6)).max()
            if ratio > worst:
                worst, at = ratio, f"step {k} {n}"
    return worst, at


def main():
    setup = oracle.setup("conv_torch")
    if setup is None:
        return 1
    trainc, base, _ = setup
    torch.set_default_dtype(torch.float64)
    with ThreadPoolExecutor(max_workers=2) as pool:
        lenet_job = pool.submit(lenet_trainc, trainc, base)
        results = dict(pool.map(lambda c: layer_case(trainc, base, c), CASES))
        for case in CASES:
            got = results[case[0]]
            if isinstance(got, str):
                report(False, f"{case[0]}: trainc runs", got)
                continue
            bad = compare_layer(case, got)
            report(not bad, f"{case[0]} ({case[4]}): forward and every gradient match torch "
                   "(double)", "; ".join(bad))
        # pre (on the input, algo = "direct") is computed directly from x;
        # the layer under test (on pre's output, which needs a gradient) is not
        paths = []
        for case in CASES:
            model_c = os.path.join(base, case[0], "trainer", "model.c")
            text = open(model_c).read() if os.path.exists(model_c) else ""
            if "/* pre = conv2d_direct(x," not in text or "/* L = conv2d_direct" in text:
                paths.append(case[0])
        report(not paths, "pre is conv2d_direct (no im2col) and the layer under test is not, "
               "in every case", "wrong path in " + ", ".join(paths))
        for name, what, make in NEGATIVE:
            case = next(c for c in CASES if c[0] == name)
            got = results[name]
            if isinstance(got, str):
                report(False, f"negative {name}: trainc runs", got)
                continue
            bad = compare_layer(case, got, make)
            report(bool(bad), f"negative: {name} against torch with {what} is a mismatch")
        torch.set_default_dtype(torch.float32)
        res = lenet_job.result()
    if isinstance(res, str):
        report(False, "lenet: trainc runs", res)
        return oracle.exit_status()
    X, y, init, trace = res
    report(sorted(trace) == list(range(0, LENET_STEPS + 1)) or
           sorted(trace) == list(range(1, LENET_STEPS + 1)), "lenet: a trace of every step")
    ref = lenet_torch(X, y, init)
    worst, at = lenet_worst(trace, ref)
    report(worst <= 1, f"lenet: every parameter after each of {LENET_STEPS} Adam steps within "
           f"1e-5 relative + 1e-6 of torch (float32; worst {worst:.3g} of the tolerance, {at})")
    worst_neg, _ = lenet_worst(trace, lenet_torch(X, y, init, eps=1e-7))
    report(worst_neg > 1, f"negative: lenet against torch Adam with eps 1e-7 is a mismatch "
           f"({worst_neg:.3g} of the tolerance)")
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
