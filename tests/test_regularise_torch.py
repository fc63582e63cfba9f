#!/usr/bin/env python3
"""test_regularise_torch.py — the objective's penalty terms (l2_penalty,
l1_penalty), gradient clipping (by global norm, by value) and the
initialisers checked by distribution (orthogonal, Defazio–Bottou, the
normal ones) against PyTorch 1.13 and against their definitions.

Training cases: a 6-8-3 tanh net, cross entropy, 40 rows in batches of 8,
20 SGD steps from the same initial weights and batches, every parameter
compared: float32 within 1e-5 relative (1e-6 absolute floor), double within
1e-10. Run from the repo root; env TRAINC (trainc) and TRAINC_TMP."""
import os
import subprocess
import sys

import oracle
from oracle import report, require_torch

require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINC = os.environ.get("TRAINC", os.path.join(ROOT, "build/gen/trainc"))
TMP = os.path.join(os.environ.get("TRAINC_TMP", "/tmp"), "regularise")
STEPS, ROWS, BATCH, LR = 20, 40, 8, 0.3
TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}
PARAMS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")

# name: (objective extra in the spec, train{} extra, what torch adds)
CASES = {
    "l2": (" + 0.01 * l2_penalty()", "", dict(l2=0.01)),
    "l2_biases": (" + 0.01 * l2_penalty { biases = true }", "", dict(l2=0.01, biases=True)),
    "l1": (" + 0.003 * l1_penalty()", "", dict(l1=0.003)),
    "clip_norm": ("", ", clip_grad_norm = 0.05", dict(clip_norm=0.05)),
    "clip_value": ("", ", clip_grad_value = 0.01", dict(clip_value=0.01)),
    # parameter groups: no weight decay on biases, a lower lr for fc2.weight
    "groups": ("", "", dict(groups=True)),
}
OPTIMIZER = {"groups": ", weight_decay = 0.01, groups = { { params = \"%.bias$\", weight_decay = 0 }, "
                       "{ params = { \"fc2.weight\" }, lr = 0.1 } }"}


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def data():
    r = np.random.RandomState(7)
    return r.randn(ROWS, 6).astype(np.float32), r.randint(0, 3, ROWS)


def trainc_case(name, dtype, extra_obj, extra_train, extra_opt=""):
    folder = os.path.join(TMP, f"{name}_{dtype}")
    os.makedirs(folder, exist_ok=True)
    X, y = data()
    with open(os.path.join(folder, "data.csv"), "w") as f:
        for i in range(ROWS):
            f.write(",".join(repr(float(v)) for v in X[i]) + f",{y[i]}\n")
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f"""model "reg"
data = csv {{ train = "data.csv", label = 6, header = false }}
local x = input {{ 6 }}
local y = labels {{ classes = 3 }}
local z = linear(tanh(linear(x, 8, {{ name = "fc1" }})), 3, {{ name = "fc2" }})
minimize(cross_entropy(z, y){extra_obj})
optimizer = sgd {{ lr = {LR}{extra_opt} }}
train {{ batch = {BATCH}, epochs = 100, shuffle = false{extra_train} }}
""")
    r = run([TRAINC, "build", "-q", "spec.lua", "-o", "bin", "--dtype", dtype], folder)
    if r.returncode:
        return None, r.stdout + r.stderr
    for cmd in (["train", "--epochs", "0", "--weights", "w0", "--quiet"], ["export", "init", "--weights", "w0"],
                ["train", "--steps", str(STEPS), "--weights", "w1", "--quiet"],
                ["export", "final", "--weights", "w1"]):
        r = run([os.path.join(folder, "bin", "reg")] + cmd, folder)
        if r.returncode:
            return None, r.stdout + r.stderr
    load = lambda d: {p: np.load(os.path.join(folder, d, p + ".npy")) for p in PARAMS}
    return (load("init"), load("final")), ""


def torch_case(dtype, init, l2=0.0, l1=0.0, biases=False, clip_norm=0.0, clip_value=0.0, groups=False):
    td = torch.float32 if dtype == "float" else torch.float64
    net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(td)
    ps = (net[0].weight, net[0].bias, net[2].weight, net[2].bias)
    with torch.no_grad():
        for name, p in zip(PARAMS, ps):
            p.copy_(torch.from_numpy(init[name]).to(td))
    X, y = data()
    X, y = torch.from_numpy(X).to(td), torch.from_numpy(y.astype(np.int64))
    if groups:
        opt = torch.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1], ps[3]], "weight_decay": 0.0},
                               {"params": [ps[2]], "lr": 0.1}], lr=LR, weight_decay=0.01)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()
    penalised = [p for p in ps if p.dim() >= 2 or biases]
    for step in range(STEPS):
        i = (step * BATCH) % ROWS
        opt.zero_grad()
        loss = lossf(net(X[i:i + BATCH]), y[i:i + BATCH])
        if l2:
            loss = loss + l2 * sum((p ** 2).sum() for p in penalised)
        if l1:
            loss = loss + l1 * sum(p.abs().sum() for p in penalised)
        loss.backward()
        if clip_norm:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
        if clip_value:
            torch.nn.utils.clip_grad_value_(net.parameters(), clip_value)
        opt.step()
    return {n: p.detach().numpy() for n, p in zip(PARAMS, ps)}


def compare(got, want, dtype):
    rtol, atol = TOL[dtype]
    worst = 0.0
    for p in PARAMS:
        excess = np.abs(got[p].astype(float) - want[p].astype(float)) / (rtol * np.abs(want[p]) + atol)
        worst = max(worst, float(excess.max()))
    return worst <= 1, f"worst |diff| / bound = {worst:.3g}"


for name, (obj, tr, kw) in CASES.items():
    for dtype in ("float", "double"):
        res, err = trainc_case(name, dtype, obj, tr, OPTIMIZER.get(name, ""))
        if res is None:
            report(False, f"{name} ({dtype}): trainc builds and trains", err[-600:])
            continue
        init, final = res
        ok, detail = compare(final, torch_case(dtype, init, **kw), dtype)
        report(ok, f"{name} ({dtype}): every parameter after {STEPS} SGD steps matches torch", detail)
        moved = max(float(np.abs(final[p] - init[p]).max()) for p in PARAMS)
        report(moved > 1e-4, f"{name} ({dtype}): the parameters moved ({moved:.3g})")
    if name in ("l2", "clip_norm", "groups"):
        # negative control: the same comparison against torch without the term fails
        bare = {k: 0.0 if not isinstance(v, bool) else (False if k == "groups" else v) for k, v in kw.items()}
        ok, detail = compare(final, torch_case("double", init, **bare), "double")
        report(not ok, f"{name}: mismatch detected against torch without it")

# ---- initialisers, by distribution (normal draws cannot match torch's) ----
folder = os.path.join(TMP, "init")
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, "spec.lua"), "w") as f:
    f.write("""model "inits"
data = linreg { n = 8, d = 3 }
local x = input { 3 }
local y = labels { 1 }
local ws = {
  param { 300, 80, init = orthogonal { gain = 1.5 }, name = "orth_tall" },
  param { 40, 300, init = orthogonal(), name = "orth_wide" },
  param { 400, 300, init = defazio_bottou { c = 2 }, name = "db" },
  param { 400, 300, init = xavier_normal { gain = 2 }, name = "xn" },
  param { 400, 300, init = kaiming_normal { nonlinearity = "relu" }, name = "kn" },
  param { 400, 300, init = normal(0.5, 0.2), name = "nrm" },
}
local t = mse(linear(x, 1), y)
for _, w in ipairs(ws) do t = t + 0 * mean(w) end
minimize(t)
optimizer = sgd { lr = 0.1 }
train { batch = 8, epochs = 0 }
""")
r = run([TRAINC, "build", "-q", "spec.lua", "-o", "bin", "--dtype", "double"], folder)
r2 = r.returncode == 0 and run(["bin/inits", "train", "--weights", "w", "--quiet"], folder)
r3 = r2 and r2.returncode == 0 and run(["bin/inits", "export", "npy", "--weights", "w"], folder)
if not (r3 and r3.returncode == 0):
    report(False, "initialisers: build, train 0 epochs and export", (r.stdout + r.stderr)[-600:])
else:
    w = {n: np.load(os.path.join(folder, "npy", n + ".npy")) for n in ("orth_tall", "orth_wide", "db", "xn", "kn", "nrm")}
    t = w["orth_tall"]
    e = float(np.abs(t.T @ t - 1.5 ** 2 * np.eye(80)).max())
    report(e < 1e-10, f"orthogonal [300 x 80], gain 1.5: WᵀW = 2.25 I (max error {e:.2g})")
    o = w["orth_wide"]
    e = float(np.abs(o @ o.T - np.eye(40)).max())
    report(e < 1e-10, f"orthogonal [40 x 300]: W Wᵀ = I (max error {e:.2g})")
    # 120000 draws: the sample std is within 1% of the true one with overwhelming odds
    for n, std in (("db", (2 / (400 * 300)) ** 0.5), ("xn", 2 * (2 / 700) ** 0.5), ("kn", (2 / 300) ** 0.5)):
        s, m = float(w[n].std()), float(w[n].mean())
        report(abs(s / std - 1) < 0.01 and abs(m) < 0.01 * std,
               f"{n}: mean {m:.2g} ~ 0, std {s:.5g} ~ {std:.5g} (1%)")
    s, m = float(w["nrm"].std()), float(w["nrm"].mean())
    report(abs(s - 0.2) < 0.002 and abs(m - 0.5) < 0.002, f"normal(0.5, 0.2): mean {m:.4g}, std {s:.4g}")

sys.exit(oracle.exit_status())
