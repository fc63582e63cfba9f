#!/usr/bin/env python3
"""test_sgd_torch.py — plain SGD on a 2-layer net matches PyTorch 1.13
(Debian python3-torch) parameter by parameter after 20 steps from the same
initial weights and the same batches.

For each case: write a random CSV with numpy (fixed seed), a spec using it
with shuffle = false, build the trainer with trainc, run `train --epochs 0` +
`export` for the initial weights, then `train --steps 20` + `export` (and
--metrics for the per-epoch losses). PyTorch loads the exported initial
weights, iterates DataLoader(shuffle=False, drop_last=...) over the same
rows, and takes 20 torch.optim.SGD(lr) steps. Every parameter is compared:

  float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6   (1e-6 absolute floor
            for values near zero, where a relative bound means nothing)
  double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13

The mean training loss of each epoch (the trainer's --metrics file, printed
with %.9g) is compared too: 1e-5 relative in float32, 1e-8 relative in double
(the limit of the 9 printed digits).

Cases: classification (cross_entropy, labels {classes = 3}, relu and tanh),
regression (mse, labels {1}), float32 and --dtype double; 20 steps always
cross an epoch boundary (with shuffle = false the next epoch starts again at
row 0); a batch size that does not divide the rows (50 rows, batch 16: steps
of 16, 16, 16, 2 — the partial batch is trained on, as DataLoader with
drop_last=False) and train { drop_last = true } (the partial batch skipped).
Negative controls show the comparison can fail: torch with another lr, and
torch with the other drop_last, must both be reported as mismatches.

Run from the repo root: /usr/bin/python3 tests/test_sgd_torch.py
Environment: TRAINC (the trainc binary; default build/gen/trainc),
TRAINC_TMP (scratch folder; default a temporary one). Prints "ok - name" /
"not ok - name"; exits 1 on any failure. A missing torch is a failure, not a
skip."""
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import oracle
from oracle import report, require_torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STEPS = 20
TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}
LOSS_RTOL = {"float": 1e-5, "double": 1e-8}


require_torch()
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


# ---- the cases ----

class Case:
    def __init__(self, name, task, act, dtype, rows, batch, lr, drop_last=False, seed=1,
                 data_seed=0):
        self.name, self.task, self.act, self.dtype = name, task, act, dtype
        self.rows, self.batch, self.lr, self.drop_last = rows, batch, lr, drop_last
        self.seed, self.data_seed = seed, data_seed
        self.features, self.hidden = 10, 16
        self.out = 3 if task == "cls" else 1


CASES = [
    # 64 rows / batch 8: 8 steps per epoch, 20 steps = 2.5 epochs
    Case("cls_relu_float", "cls", "relu", "float", 64, 8, 0.1),
    Case("cls_tanh_float", "cls", "tanh", "float", 64, 8, 0.2, seed=5, data_seed=1),
    Case("cls_relu_double", "cls", "relu", "double", 64, 8, 0.1),
    Case("reg_tanh_float", "reg", "tanh", "float", 64, 8, 0.05, seed=2, data_seed=2),
    Case("reg_relu_double", "reg", "relu", "double", 64, 8, 0.05, seed=2, data_seed=2),
    # 50 rows / batch 16: steps of 16, 16, 16, 2 per epoch; 20 steps = 5 epochs
    Case("cls_partial_float", "cls", "relu", "float", 50, 16, 0.1, seed=3, data_seed=3),
    Case("cls_partial_double", "cls", "tanh", "double", 50, 16, 0.1, seed=3, data_seed=3),
    Case("reg_partial_float", "reg", "tanh", "float", 50, 16, 0.05, seed=4, data_seed=4),
    # drop_last: 3 steps of 16 per epoch, 20 steps = 6 2/3 epochs
    Case("cls_droplast_float", "cls", "relu", "float", 50, 16, 0.1, drop_last=True, seed=3,
         data_seed=3),
    Case("reg_droplast_double", "reg", "tanh", "double", 50, 16, 0.05, drop_last=True, seed=4,
         data_seed=4),
]


def make_data(c):
    """float32-representable values, so that the CSV text is exact in both dtypes."""
    r = np.random.RandomState(1000 + c.data_seed)
    X = r.randn(c.rows, c.features).astype(np.float32)
    if c.task == "cls":
        y = r.randint(0, c.out, c.rows)
    else:
        w = r.randn(c.features).astype(np.float32)
        y = (X.astype(np.float64) @ w + 0.1 * r.randn(c.rows)).astype(np.float32)
    return X, y


def write_case(c, folder):
    os.makedirs(folder, exist_ok=True)
    X, y = make_data(c)
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(c.features)] + ["target"]) + "\n")
        for i in range(c.rows):
            cells = [repr(float(v)) for v in X[i]]
            cells.append(str(int(y[i])) if c.task == "cls" else repr(float(y[i])))
            f.write(",".join(cells) + "\n")
    labels = f"labels {{ classes = {c.out} }}" if c.task == "cls" else "labels { 1 }"
    loss = "cross_entropy" if c.task == "cls" else "mse"
    spec = f"""-- generated by tests/test_sgd_torch.py ({c.name})
model "{c.name}"
data = csv {{ train = "data.csv", label = "target", header = true }}
local x = input {{ {c.features} }}
local y = {labels}
local h = {c.act}(linear(x, {c.hidden}, {{ name = "fc1" }}))
minimize({loss}(linear(h, {c.out}, {{ name = "fc2" }}), y))
optimizer = sgd {{ lr = {c.lr!r} }}
train {{ batch = {c.batch}, epochs = 1000, seed = {c.seed}, shuffle = false, drop_last = {str(c.drop_last).lower()} }}
"""
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    return X, y


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


PARAMS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def load_export(folder):
    return {p: np.load(os.path.join(folder, p + ".npy")) for p in PARAMS}


def run_trainc(trainc, c, folder):
    """Builds and runs the trainer; returns (initial, final, epoch losses) or an error."""
    out = os.path.join(folder, "trainer")
    r = run([trainc, "build", "spec.lua", "-o", out, "--dtype", c.dtype, "-q"], folder)
    if r.returncode != 0:
        return f"trainc build failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    exe = os.path.join(out, c.name)
    steps = [
        [exe, "train", "--epochs", "0", "--weights", "w0.weights", "--quiet"],
        [exe, "export", "init", "--weights", "w0.weights"],
        [exe, "train", "--steps", str(STEPS), "--weights", "w1.weights", "--metrics",
         "metrics.csv", "--quiet"],
        [exe, "export", "final", "--weights", "w1.weights"],
    ]
    for cmd in steps:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[1:])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    losses = []
    with open(os.path.join(folder, "metrics.csv")) as f:
        head = f.readline().strip().split(",")
        for line in f:
            row = dict(zip(head, line.strip().split(",")))
            losses.append((int(row["step"]), float(row["loss"])))
    return load_export(os.path.join(folder, "init")), load_export(os.path.join(folder, "final")), losses


# ---- the PyTorch side ----

def run_torch(c, X, y, init, lr=None, drop_last=None):
    """20 SGD steps from `init` over DataLoader batches; returns (params, epoch losses)."""
    lr = c.lr if lr is None else lr
    drop_last = c.drop_last if drop_last is None else drop_last
    tdtype = torch.float32 if c.dtype == "float" else torch.float64
    act = nn.ReLU() if c.act == "relu" else nn.Tanh()
    net = nn.Sequential(nn.Linear(c.features, c.hidden), act, nn.Linear(c.hidden, c.out)).to(tdtype)
    with torch.no_grad():
        for name, p in zip(PARAMS, (net[0].weight, net[0].bias, net[2].weight, net[2].bias)):
            assert tuple(p.shape) == init[name].shape, (name, p.shape, init[name].shape)
            p.copy_(torch.from_numpy(init[name]).to(tdtype))
    xt = torch.from_numpy(X).to(tdtype)
    if c.task == "cls":
        yt = torch.from_numpy(y.astype(np.int64))
        lossf = nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(y).to(tdtype).reshape(-1, 1)
        lossf = nn.MSELoss()
    loader = DataLoader(TensorDataset(xt, yt), batch_size=c.batch, shuffle=False,
                        drop_last=drop_last)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    step, losses = 0, []
    while step < STEPS:
        total, seen = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = lossf(net(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            total += float(loss.item()) * xb.shape[0]
            seen += xb.shape[0]
            if step >= STEPS:
                break
        losses.append((step, total / seen))
    params = {"fc1.weight": net[0].weight, "fc1.bias": net[0].bias,
              "fc2.weight": net[2].weight, "fc2.bias": net[2].bias}
    return {k: v.detach().numpy().copy() for k, v in params.items()}, losses


def compare(c, got, want):
    """Returns (ok, detail): every parameter within the dtype's bound."""
    rtol, atol = TOL[c.dtype]
    worst, details = 0.0, []
    ok = True
    for p in PARAMS:
        g, w = got[p].astype(np.float64), want[p].astype(np.float64)
        if g.shape != w.shape:
            return False, f"{p}: shape {g.shape} vs torch {w.shape}"
        excess = np.abs(g - w) / (rtol * np.abs(w) + atol)
        bad = int(np.sum(~(excess <= 1)))
        worst = max(worst, float(np.max(excess)) if excess.size else 0.0)
        if bad:
            ok = False
            i = int(np.argmax(np.where(np.isnan(excess), np.inf, excess)))
            details.append(f"{p}: {bad} of {g.size} off, worst trainc {g.ravel()[i]!r} "
                           f"torch {w.ravel()[i]!r}")
    return ok, ("; ".join(details) if details else f"worst |diff| / bound = {worst:.3g}")


def compare_losses(c, got, want):
    if len(got) != len(want):
        return False, f"{len(got)} epochs in metrics vs {len(want)} in torch"
    rtol = LOSS_RTOL[c.dtype]
    for (gs, gl), (ws, wl) in zip(got, want):
        if gs != ws:
            return False, f"epoch ends at step {gs} vs torch {ws}"
        if not abs(gl - wl) <= rtol * abs(wl) + 1e-12:
            return False, f"epoch loss (after step {gs}) {gl!r} vs torch {wl!r}"
    return True, ""


def main():
    ready = oracle.setup("sgd_torch")
    if ready is None:
        return 1
    trainc, base, own_tmp = ready

    data = {}
    for c in CASES:
        data[c.name] = write_case(c, os.path.join(base, c.name))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = dict(zip([c.name for c in CASES],
                           pool.map(lambda c: run_trainc(trainc, c, os.path.join(base, c.name)),
                                    CASES)))

    for c in CASES:
        res = results[c.name]
        label = f"{c.name}: {c.task} {c.act} {c.dtype}, {c.rows} rows, batch {c.batch}" + \
                (", drop_last" if c.drop_last else "")
        if isinstance(res, str):
            report(False, f"{label}: trainer ran", res)
            continue
        init, final, tc_losses = res
        X, y = data[c.name]
        want, t_losses = run_torch(c, X, y, init)
        # the trainer did move the weights (else a no-op would "match" a tiny lr)
        moved = max(float(np.max(np.abs(final[p].astype(np.float64) - init[p]))) for p in PARAMS)
        report(moved > 1e-3, f"{label}: {STEPS} steps changed the weights", f"max change {moved:g}")
        ok, detail = compare(c, final, want)
        if ok:
            print(f"# {c.name}: {detail}")
        report(ok, f"{label}: every parameter matches torch after {STEPS} SGD steps "
                   f"(rtol {TOL[c.dtype][0]:g}, atol {TOL[c.dtype][1]:g})", detail)
        ok, detail = compare_losses(c, tc_losses, t_losses)
        report(ok, f"{label}: per-epoch mean loss matches torch", detail)

        # negative controls on a few cases: the comparison must be able to fail
        if c.name in ("cls_relu_float", "reg_relu_double"):
            other, _ = run_torch(c, X, y, init, lr=c.lr * 1.01)
            ok, detail = compare(c, final, other)
            report(not ok, f"mismatch detected: {c.name} vs torch with lr {c.lr * 1.01:g} "
                           f"instead of {c.lr:g}", detail if ok else "")
        if c.name in ("cls_partial_float", "cls_droplast_float", "cls_partial_double"):
            other, _ = run_torch(c, X, y, init, drop_last=not c.drop_last)
            ok, detail = compare(c, final, other)
            report(not ok, f"mismatch detected: {c.name} vs torch with drop_last={not c.drop_last}",
                   detail if ok else "")

    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
