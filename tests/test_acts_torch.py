#!/usr/bin/env python3
"""test_acts_torch.py — the activations and losses in training, against
PyTorch 1.13 (Debian python3-torch). Each op alone (values and gradients at
its kinks) is a row of its family's table, run by tests/test_ops.py.

1. Training: 20 SGD steps (lr 0.05) of small MLPs (6 features -> linear 8 ->
   activation -> linear 3 or 1) on 40 rows of a fixed random CSV, batch 8,
   shuffle = false; one net per activation with cross_entropy and one per
   loss, all in one spec (the objective is the sum of their losses; each
   net's gradients are its own loss's). `train --steps 20 --trace FILE`
   writes every parameter and the loss after every step; torch takes the
   same steps from the exported initial weights, and every parameter and the
   loss are compared after every step, in float32 and --dtype double.

Tolerances (oracle.TOL, as the other PyTorch tests):
  float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6
  double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13

2. kl_div against distribution labels (IDX labels { 3 }): `eval`'s loss is
   torch's batchmean and its accuracy compares the argmax of the prediction
   with the argmax of each label row.

Negative controls show the comparisons can fail: the training run against
torch with another label smoothing; the labels read as class indices.

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
from oracle import close, report, require_torch

require_torch()
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

TT = {"float": torch.float32, "double": torch.float64}
STEPS = 20


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)



# ---- part 1: 20 training steps ----

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


# ---- part 2: kl_div against distribution labels: accuracy by argmax ----

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
    jobs = [("train", d) for d in ("float", "double")] + [("kl_accuracy", "float")]

    def work(job):
        kind, dtype = job
        folder = os.path.join(base, f"{kind}_{dtype}")
        if kind == "kl_accuracy":
            return run_kl_accuracy(trainc, folder)
        return run_training(trainc, dtype, folder)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(work, jobs)))
    for (kind, dtype), res in results.items():
        if isinstance(res, str):
            report(False, f"{dtype}: {kind} trainer built and ran", res)
            continue
        if kind == "kl_accuracy":
            check_kl_accuracy(res)
        else:
            check_training(dtype, res)
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
