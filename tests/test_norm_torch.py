#!/usr/bin/env python3
"""test_norm_torch.py — batch_norm, dropout and dropconnect against PyTorch
1.13, and train/eval mode.

Training cases (BatchNorm1d and 2d, affine or not, dropout, dropconnect,
weight decay and gradient clipping with running statistics in the buffer):
small nets on 40 rows of 6 or 12 features, batches of 8 in
file order, 20 optimizer steps from the same initial weights (exported by
trainc, loaded into torch): the loss of every step (train mode: batch
statistics), every parameter and the running statistics afterwards, and the
eval-mode predictions (running statistics, no dropout) on all rows. float32
within 1e-4 relative (1e-6 absolute), double within 1e-9. Dropout masks are
trainc's counter-based noise (runtime/rt.h, rt_noise_*), reimplemented here
and applied in torch as F.dropout applies its Bernoulli mask: x * (mask /
(1 - p)). Then: dropout statistics (fraction dropped, exact scale, masks
that change with the step), eval vs train, resume with dropout bit-identical,
masks independent of the thread count. Run from the repo root; env TRAINC
and TRAINC_TMP."""
import os
import subprocess
import sys

import oracle
from oracle import report, require_torch

require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROWS, BATCH, STEPS, SEED = 40, 8, 20, 5
TOL = {"float": (1e-4, 1e-6), "double": (1e-9, 1e-12)}
M64 = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


# ---- trainc's dropout noise, as runtime/rt.h defines it ----
def mix(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def keep_mask(seed, step, mask, n, p):
    """Element i of dropout number `mask` at optimizer step `step` is kept."""
    key = int(mix(((seed * G) & M64) ^ int(mix(step))))
    stream = int(mix((key + mask * G) & M64))
    with np.errstate(over="ignore"):
        z = np.uint64(stream) + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(G)
    bits = mix(z) >> np.uint64(32)
    thr = min(int(round(p * 4294967296.0)), 0xFFFFFFFF)
    return bits >= np.uint64(thr)


def dropout_as_trainc(t, p, step, mask, dtype):
    """torch's dropout formula x * (bernoulli(1-p) / (1-p)) with trainc's mask"""
    keep = keep_mask(SEED, step, mask, t.numel(), p).reshape(tuple(t.shape))
    scale = torch.tensor(1.0, dtype=dtype) / torch.tensor(1 - p, dtype=dtype)
    return t * (torch.from_numpy(keep).to(dtype) * scale)


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def data(d):
    r = np.random.RandomState(11)
    return r.randn(ROWS, d).astype(np.float32) * 2 + 0.5, r.randint(0, 3, ROWS)


# name: (features, spec body, optimizer, torch model builder)
CASES = {
    # BatchNorm1d, dropout after relu, dropconnect on fc2
    "bn1d_dropout": (6, """local h = linear(x, 8, { name = "fc1" })
h = dropout(relu(batch_norm(h, { name = "bn1", momentum = 0.2 })), 0.5)
local z = linear(h, 3, { name = "fc2", dropconnect = 0.3 })""", "sgd { lr = 0.2, momentum = 0.9 }"),
    # BatchNorm2d over [B x 3 x 2 x 2], dropout after flatten
    "bn2d_dropout": (12, """local h = reshape(linear(x, 12, { name = "fc1" }), { 3, 2, 2 })
h = dropout(flatten(relu(batch_norm(h, { name = "bn1" }))), 0.25)
local z = linear(h, 3, { name = "fc2" })""", "adam { lr = 0.01 }"),
    # no affine part, other eps and momentum, two layers of BN, the second
    # a cumulative average (torch's momentum=None)
    "bn_noaffine": (6, """local h = batch_norm(linear(x, 8, { name = "fc1" }), { affine = false, eps = 1e-3, momentum = 0.05 })
local z = linear(tanh(h), 3, { name = "fc2" })
z = batch_norm(z, { name = "bn2", momentum = "cumulative" })""", "sgd { lr = 0.1 }"),
    # weight decay and gradient clipping leave the running statistics alone
    "bn_decay_clip": (6, """local h = dropout(relu(batch_norm(linear(x, 8, { name = "fc1" }), { name = "bn1" })), 0.2)
local z = linear(h, 3, { name = "fc2" })""", "sgd { lr = 0.2, momentum = 0.9, weight_decay = 0.05 }"),
}
TRAIN_EXTRA = {"bn_decay_clip": ", clip_grad_norm = 0.5"}


class Net(nn.Module):
    def __init__(self, case, dtype):
        super().__init__()
        self.case = case
        if case == "bn1d_dropout":
            self.fc1, self.bn1, self.fc2 = nn.Linear(6, 8), nn.BatchNorm1d(8, momentum=0.2), nn.Linear(8, 3)
        elif case == "bn_decay_clip":
            self.fc1, self.bn1, self.fc2 = nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)
        elif case == "bn2d_dropout":
            self.fc1, self.bn1, self.fc2 = nn.Linear(12, 12), nn.BatchNorm2d(3), nn.Linear(12, 3)
        else:
            self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)
            self.bn0 = nn.BatchNorm1d(8, eps=1e-3, momentum=0.05, affine=False)
            self.bn2 = nn.BatchNorm1d(3, momentum=None)
        self.to(dtype)
        self.dtype = dtype

    def forward(self, x, step):
        drop = self.training
        if self.case == "bn1d_dropout":
            h = F.relu(self.bn1(self.fc1(x)))
            w = self.fc2.weight
            if drop:
                h = dropout_as_trainc(h, 0.5, step, 1, self.dtype)
                w = dropout_as_trainc(w, 0.3, step, 2, self.dtype)
            return F.linear(h, w, self.fc2.bias)
        if self.case == "bn_decay_clip":
            h = F.relu(self.bn1(self.fc1(x)))
            if drop:
                h = dropout_as_trainc(h, 0.2, step, 1, self.dtype)
            return self.fc2(h)
        if self.case == "bn2d_dropout":
            h = F.relu(self.bn1(self.fc1(x).view(-1, 3, 2, 2))).flatten(1)
            if drop:
                h = dropout_as_trainc(h, 0.25, step, 1, self.dtype)
            return self.fc2(h)
        return self.bn2(self.fc2(torch.tanh(self.bn0(self.fc1(x)))))

    # trainc's parameter and buffer names -> torch tensors
    def named(self):
        if self.case == "bn_noaffine":
            return {"fc1.weight": self.fc1.weight, "fc1.bias": self.fc1.bias, "fc2.weight": self.fc2.weight,
                    "fc2.bias": self.fc2.bias, "batch_norm1.running_mean": self.bn0.running_mean,
                    "batch_norm1.running_var": self.bn0.running_var, "bn2.weight": self.bn2.weight,
                    "bn2.bias": self.bn2.bias, "bn2.running_mean": self.bn2.running_mean,
                    "bn2.running_var": self.bn2.running_var}
        d = dict(self.named_parameters())
        d.update({k: v for k, v in self.named_buffers() if "running" in k})
        return d


def trainc_case(name, dtype, base):
    feats, body, opt = CASES[name]
    folder = os.path.join(base, f"{name}_{dtype}")
    os.makedirs(folder, exist_ok=True)
    X, y = data(feats)
    with open(os.path.join(folder, "data.csv"), "w") as f:
        for i in range(ROWS):
            f.write(",".join(repr(float(v)) for v in X[i]) + f",{y[i]}\n")
    with open(os.path.join(folder, "feats.csv"), "w") as f:
        for i in range(ROWS):
            f.write(",".join(repr(float(v)) for v in X[i]) + "\n")
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f"""model "nm"
data = csv {{ train = "data.csv", label = {feats}, header = false }}
local x = input {{ {feats} }}
local y = labels {{ classes = 3 }}
{body}
minimize(cross_entropy(z, y))
optimizer = {opt}
train {{ batch = {BATCH}, epochs = 100, shuffle = false, seed = {SEED}{TRAIN_EXTRA.get(name, "")} }}
""")
    r = run([TRAINC, "build", "-q", "spec.lua", "-o", "bin", "--dtype", dtype], folder)
    if r.returncode:
        return None, r.stdout + r.stderr
    for cmd in (["train", "--epochs", "0", "--weights", "w0", "--quiet"], ["export", "init", "--weights", "w0"],
                ["train", "--steps", str(STEPS), "--weights", "w1", "--quiet", "--trace", "trace.csv"],
                ["export", "final", "--weights", "w1"],
                ["predict", "feats.csv", "--weights", "w1", "-o", "pred.csv"]):
        r = run([os.path.join(folder, "bin", "nm")] + cmd, folder)
        if r.returncode:
            return None, r.stdout + r.stderr
    return folder, ""


def load_dir(folder, d):
    return {f[:-4]: np.load(os.path.join(folder, d, f)) for f in os.listdir(os.path.join(folder, d)) if f.endswith(".npy")}


def close(a, b, tol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False, f"shapes {a.shape} and {b.shape}"
    err = np.max(np.abs(a - b) / np.maximum(np.abs(b), tol[1] / tol[0])) if a.size else 0.0
    return err <= tol[0], f"max relative error {err:.3g}"


def torch_case(name, dtype, init, feats, step_offset=0, momenta=None):
    """step_offset, momenta ({layer: momentum}): wrong on purpose, for the
    negative controls"""
    tdt = torch.float32 if dtype == "float" else torch.float64
    torch.manual_seed(0)
    net = Net(name, tdt)
    for layer, m in (momenta or {}).items():
        getattr(net, layer).momentum = m
    named = net.named()
    with torch.no_grad():
        for k, t in named.items():
            t.copy_(torch.from_numpy(init[k]).to(tdt))
    X, y = data(feats)
    Xt, yt = torch.from_numpy(X).to(tdt), torch.from_numpy(y).long()
    opt_text = CASES[name][2]
    params = list(net.parameters())
    if name == "bn_decay_clip":
        opt = torch.optim.SGD(params, lr=0.2, momentum=0.9, weight_decay=0.05)
    elif opt_text.startswith("sgd { lr = 0.2"):
        opt = torch.optim.SGD(params, lr=0.2, momentum=0.9)
    elif opt_text.startswith("adam"):
        opt = torch.optim.Adam(params, lr=0.01)
    else:
        opt = torch.optim.SGD(params, lr=0.1)
    losses = []
    net.train()
    for step in range(1, STEPS + 1):
        s = ((step - 1) * BATCH) % ROWS
        loss = F.cross_entropy(net(Xt[s:s + BATCH], step + step_offset), yt[s:s + BATCH])
        opt.zero_grad()
        loss.backward()
        if name == "bn_decay_clip":
            torch.nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        losses.append(loss.item())
    final = {k: v.detach().numpy().copy() for k, v in named.items()}
    with torch.no_grad():
        net.eval()
        p_eval = F.softmax(net(Xt, 0), 1).numpy()
        net.train()
        # train mode on the same rows (without dropout and without touching
        # the running statistics): what eval must not be
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.track_running_stats = False
        h = net.fc1(Xt)
        p_train = None
        if name != "bn2d_dropout":
            p_train = F.softmax(net.fc2(F.relu(net.bn1(h))) if name in ("bn1d_dropout", "bn_decay_clip")
                                else net.bn2(net.fc2(torch.tanh(net.bn0(h)))), 1).numpy()
        else:
            p_train = F.softmax(net.fc2(F.relu(net.bn1(h.view(-1, 3, 2, 2))).flatten(1)), 1).numpy()
    return losses, final, p_eval, p_train


def check_training(base):
    for name, (feats, _, _) in CASES.items():
        for dtype in ("float", "double"):
            tol = TOL[dtype]
            what = f"{name} ({dtype})"
            folder, log = trainc_case(name, dtype, base)
            report(folder is not None, f"{what}: trainc builds, trains, exports and predicts", log[-600:])
            if folder is None:
                continue
            init, final = load_dir(folder, "init"), load_dir(folder, "final")
            losses, tfinal, p_eval, p_train = torch_case(name, dtype, init, feats)
            rows = np.genfromtxt(os.path.join(folder, "trace.csv"), delimiter=",", names=True)
            ok, detail = close(rows["loss"][1:], losses, tol)
            report(ok, f"{what}: the train-mode loss of each of {STEPS} steps matches torch", detail)
            for k in sorted(tfinal):
                ok, detail = close(final[k], tfinal[k], tol)
                report(ok, f"{what}: {k} after {STEPS} steps matches torch", detail)
            report(not any("running" in c for c in rows.dtype.names), f"{what}: the trace leaves out the running statistics")
            pred = np.genfromtxt(os.path.join(folder, "pred.csv"), delimiter=",", names=True)
            probs = np.stack([pred[f"p{c}"] for c in range(3)], 1)
            ok, detail = close(probs, p_eval, (1e-4, 2e-6))
            report(ok, f"{what}: predict (eval mode: running statistics, no dropout) matches torch's eval()", detail)
            report(np.max(np.abs(probs - p_train)) > 1e-3, f"{what}: eval-mode predictions differ from train mode's",
                   f"max difference {np.max(np.abs(probs - p_train)):.3g}")
            if name == "bn1d_dropout" and dtype == "float":
                # negative controls: the checks above can fail
                losses2, tfinal2, _, _ = torch_case(name, dtype, init, feats, step_offset=1)
                ok, detail = close(rows["loss"][1:], losses2, tol)
                report(not ok, f"{what}: negative: torch with the masks of the next step does not match", detail)
                losses2, tfinal2, _, _ = torch_case(name, dtype, init, feats, momenta={"bn1": 0.1})
                ok, detail = close(final["bn1.running_var"], tfinal2["bn1.running_var"], tol)
                report(not ok, f"{what}: negative: torch with momentum 0.1 for 0.2 has other running statistics", detail)
                ok, detail = close(rows["loss"][1:], losses2, tol)
                report(ok, f"{what}: ... and the same losses (the momentum only moves the running statistics)", detail)
            if name == "bn_noaffine" and dtype == "float":
                _, tfinal2, _, _ = torch_case(name, dtype, init, feats, momenta={"bn2": 0.1})
                ok, detail = close(final["bn2.running_var"], tfinal2["bn2.running_var"], tol)
                report(not ok, f"{what}: negative: torch with momentum 0.1 for None (cumulative) has other running statistics", detail)


def check_dropout_statistics(base):
    """w = ones(N), loss = sum(dropout(w, p)), SGD lr 1: after step k,
    w = w_(k-1) - mask_k / (1 - p), so the trace shows each mask."""
    folder = os.path.join(base, "stats")
    os.makedirs(folder, exist_ok=True)
    n, p = 8000, 0.3
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f"""model "drop"
local w = param {{ {n}, init = ones(), name = "w" }}
minimize(sum(dropout(w, {p})))
optimizer = sgd {{ lr = 1 }}
train {{ epochs = 3, seed = {SEED} }}
""")
    ok = run([TRAINC, "build", "-q", "spec.lua", "-o", "bin"], folder).returncode == 0
    ok = ok and run(["bin/drop", "train", "--trace", "t.csv", "--quiet"], folder).returncode == 0
    ok = ok and run(["bin/drop", "train", "--epochs", "0", "--weights", "w0", "--quiet"], folder).returncode == 0
    ev = run(["bin/drop", "eval", "--weights", "w0"], folder)
    report(ok and ev.returncode == 0, "dropout statistics: the bare objective builds and trains", ev.stderr[-300:])
    if not ok:
        return
    t = np.genfromtxt(os.path.join(folder, "t.csv"), delimiter=",", skip_header=1, dtype=np.float64)
    w = t[:, 3:].astype(np.float32)
    scale = np.float32(1) / np.float32(1 - p)
    d1 = w[0] - w[1]  # step 1: mask * scale
    kept = d1 != 0
    frac = 1 - kept.mean()
    sd = np.sqrt(p * (1 - p) / n)
    report(abs(frac - p) < 5 * sd, f"dropout statistics: fraction dropped {frac:.4f} is p = {p} within 5 sd ({5 * sd:.4f})")
    report(np.all(w[1][kept] == np.float32(1) - scale) and np.all(w[1][~kept] == 1),
           f"dropout statistics: kept values scaled by exactly float32(1/(1-p)) = {scale!r}")
    same = all(np.array_equal((w[k - 1] - w[k]) != 0, keep_mask(SEED, k, 1, n, p)) for k in (1, 2, 3))
    report(same, "dropout statistics: the masks of steps 1-3 are rt_noise_bits(seed, step, 1, i) >= p * 2^32")
    m1, m2 = (w[0] - w[1]) != 0, (w[1] - w[2]) != 0
    agree = (m1 == m2).mean()
    report(abs(agree - (p * p + (1 - p) ** 2)) < 0.03, f"dropout statistics: the mask changes with the step (agreement {agree:.3f})")
    # eval: dropout is the identity, the loss of w = ones is n exactly;
    # training's first loss is sum(mask) * scale instead
    line = [l for l in ev.stdout.splitlines() if "loss" in l]
    ev_loss = float(line[-1].split("loss")[1].split()[0]) if line else float("nan")
    report(ev_loss == n, f"eval mode: dropout is the identity (loss {ev_loss:g} = {n})")
    report(abs(t[1, 1] - kept.sum() * float(scale)) < 1e-6 * n and t[1, 1] != n,
           f"train mode: the loss of step 1 is sum(mask) / (1 - p) = {t[1, 1]:g}, not {n}")


def check_resume(base):
    """bn1d_dropout (float): 20 steps straight, or 9 with a checkpoint and
    then resumed: the same bytes; and 2 threads give what 1 gives."""
    folder = os.path.join(base, "bn1d_dropout_float")
    b = os.path.join(folder, "bin", "nm")
    if not os.access(b, os.X_OK):
        report(False, "resume: the bn1d_dropout float build is there")
        return
    runs = [["train", "--steps", "20", "--threads", "1", "--weights", "a.w", "--quiet"],
            ["train", "--steps", "9", "--threads", "1", "--checkpoint", "r.ck", "--weights", "r9.w", "--quiet"],
            ["train", "--steps", "20", "--threads", "1", "--resume", "r.ck", "--weights", "r.w", "--quiet"],
            ["train", "--steps", "20", "--threads", "2", "--weights", "t2.w", "--quiet"]]
    ok = all(run([b] + c, folder).returncode == 0 for c in runs)
    read = lambda f: open(os.path.join(folder, f), "rb").read() if ok else b""
    report(ok and read("a.w") == read("r.w"),
           "resume with dropout and batch norm: stopped at step 9 and resumed, bit-identical weights and running statistics")
    report(ok and read("a.w") == read("t2.w"), "dropout masks: 2 threads give the same weights as 1")
    report(ok and read("a.w") != read("r9.w"), "resume: (control) 9 steps differ from 20")
    # export writes the running statistics and --init reads them back
    ok = all(run([b] + c, folder).returncode == 0 for c in
             (["train", "--init", "final", "--epochs", "0", "--weights", "i.w", "--quiet"],
              ["export", "reinit", "--weights", "i.w"]))
    same = ok and all(np.array_equal(np.load(os.path.join(folder, "final", f"bn1.{k}.npy")),
                                     np.load(os.path.join(folder, "reinit", f"bn1.{k}.npy")))
                      for k in ("running_mean", "running_var", "weight"))
    moved = ok and not np.array_equal(np.load(os.path.join(folder, "final", "bn1.running_var.npy")), 1)
    report(same and moved, "export writes bn1.running_mean/var (trained away from 0/1) and --init loads them back")


def main():
    s = oracle.setup("norm")
    if s is None:
        return 1
    global TRAINC
    TRAINC, base, own_tmp = s
    check_training(base)
    check_dropout_statistics(base)
    check_resume(base)
    if own_tmp and not oracle.failures:
        import shutil
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


TRAINC = None
if __name__ == "__main__":
    sys.exit(main())
