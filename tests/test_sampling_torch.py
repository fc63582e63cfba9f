#!/usr/bin/env python3
"""test_sampling_torch.py — train { sampling = "replacement" } and
train { stop_grad_norm = eps } (issue 14, item 9).

The rows a step draws are made visible: a model whose one parameter b
minimises (b - y)^2 with SGD at lr 0.5 and batch 1 sets b to the drawn row's
label y, and each row's label is its number, so --trace lists the draws.
With replacement: every draw a row number in range, duplicates within
each epoch (without replacement, the negative control, each epoch is a
permutation), an epoch of rows / batch steps as torch's
RandomSampler(replacement=True) under a DataLoader, the counts over 40
epochs uniform by a chi-square test (and a biased draw fails it), the
distinct rows per epoch near n (1 - (1 - 1/n)^n) as torch's sampler gives
them (trainc does not reproduce torch's random numbers, only the law),
the same seed the same draws, another seed others. A run stopped within an
epoch and resumed from its checkpoint ends with the weights of an
uninterrupted run, bit for bit, its draws after the checkpoint those of the
uninterrupted run.

stop_grad_norm on least squares (double, full batch): NumPy runs the same
gradient descent, w <- w - lr 2/n X^T (X w - y), and finds the first step
whose gradient norm is at most eps; the trainer must stop there (the line
it prints: the epoch, the steps, the norm), keep those weights (within
1e-10), and a smaller eps must run longer.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import report  # noqa: E402

oracle.require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402

N = 100
DRAWS = """model "draws"
data = csv { train = "rows.csv", label = "y" }
local x = input { 1 }
local y = labels { 1 }
local b = param { 1, 1, init = zeros(), name = "b" }
minimize(mean((x * 0 + b - y) ^ 2))
optimizer = sgd { lr = args.lr or 0.5, momentum = args.momentum or 0 }
train { batch = args.batch or 1, epochs = 40, seed = 1, sampling = args.sampling or "shuffle" }
"""

LSQ = """model "lsq"
data = npy { train = { x = "x.npy", y = "y.npy" } }
local x = input { 5 }
local y = labels { 1 }
local w = param { 5, 1, init = zeros(), name = "w" }
minimize(mean((matmul(x, w) - y) ^ 2))
optimizer = sgd { lr = 0.1 }
train { batch = "full", epochs = 400, seed = 1, stop_grad_norm = args.eps }
"""
# chi-square with 99 degrees of freedom: P(X > 148.23) = 0.001
CHI2_99_999 = 148.23


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        report(False, " ".join(args[:4]), (r.stdout + r.stderr).strip()[-400:])
        return None
    return r.stdout


def build(trainc, spec, out, *sets, dtype="float"):
    args = [trainc, "build", "-q", spec, "-o", out, "--dtype", dtype]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, capture_output=True, text=True)
    report(r.returncode == 0, f"{os.path.basename(out)}: builds", r.stderr[-400:])
    return r.returncode == 0


def draws(out, *extra):
    """The row drawn at each step, from the trace (b after the step)."""
    if run(["./draws", "train", "--quiet", "--trace", "t.csv", "--threads", "1", *extra], out) is None:
        return None
    lines = open(os.path.join(out, "t.csv")).read().split("\n")[2:]  # header, step 0
    return np.array([float(r.split(",")[3]) for r in lines if r])


def chi2(counts):
    want = counts.sum() / len(counts)
    return float(((counts - want) ** 2 / want).sum())


def sampling(trainc, base):
    d = os.path.join(base, "draws")
    os.makedirs(d)
    with open(os.path.join(d, "rows.csv"), "w") as f:
        f.write("x,y\n" + "".join(f"{i},{i}\n" for i in range(N)))
    spec = os.path.join(d, "draws.lua")
    open(spec, "w").write(DRAWS)
    rep, shuf = os.path.join(d, "rep"), os.path.join(d, "shuf")
    if not (build(trainc, spec, rep, "sampling=replacement") and build(trainc, spec, shuf)):
        return
    report("#define MODEL_SAMPLE_REPLACE 1" in open(os.path.join(rep, "model.h")).read() and
           "#define MODEL_SAMPLE_REPLACE 0" in open(os.path.join(shuf, "model.h")).read(),
           "model.h says how the rows are drawn")
    a, s = draws(rep), draws(shuf)
    if a is None or s is None:
        return
    report(len(a) == 40 * N and len(s) == 40 * N, f"40 epochs of {N} steps each way ({len(a)}, {len(s)})")
    report(bool(np.all(a == np.round(a)) and a.min() >= 0 and a.max() < N),
           f"every draw is a row number in [0, {N}) (the trace shows the drawn row exactly)")
    ea, es = a.reshape(40, N), s.reshape(40, N)
    distinct = np.array([len(set(e)) for e in ea])
    report(bool(np.all(distinct < N)), f"with replacement every epoch repeats rows (distinct per epoch "
           f"{distinct.min()}..{distinct.max()} of {N})")
    report(all(sorted(e) == list(range(N)) for e in es),
           "without replacement (the default) every epoch is a permutation: the negative control")
    counts = np.bincount(a.astype(int), minlength=N)
    c = chi2(counts)
    report(c < CHI2_99_999, f"the draws are uniform: chi-square {c:.1f} < {CHI2_99_999} (99 dof, p = 0.001)")
    biased = np.bincount(np.where(a < 10, a, a // 2).astype(int), minlength=N)
    report(chi2(biased) > CHI2_99_999, f"... a biased draw fails the same test ({chi2(biased):.0f})")
    # torch's sampler draws by the same law (not the same numbers)
    g = torch.Generator().manual_seed(0)
    sampler = torch.utils.data.RandomSampler(range(N), replacement=True, generator=g)
    tdistinct = np.array([len(set(list(sampler))) for _ in range(400)])
    expect = N * (1 - (1 - 1 / N) ** N)
    report(abs(distinct.mean() - expect) < 2.5 and abs(tdistinct.mean() - expect) < 1.0,
           f"distinct rows per epoch: trainc {distinct.mean():.1f}, torch's RandomSampler "
           f"{tdistinct.mean():.1f}, expected {expect:.1f} (within 2.5; 40 epochs have sd ~0.7)")
    again = draws(rep)
    other = draws(rep, "--seed", "2")
    report(again is not None and np.array_equal(a, again), "the same seed draws the same rows")
    report(other is not None and not np.array_equal(a, other), "another seed draws other rows")
    # batch 7 of 100 rows: 15 steps an epoch, the last of 2 rows, as a
    # DataLoader over torch's sampler
    b7 = os.path.join(d, "b7")
    if not build(trainc, spec, b7, "sampling=replacement", "batch=7", "momentum=0.9", "lr=0.01"):
        return
    loader = torch.utils.data.DataLoader(range(N), batch_size=7, sampler=torch.utils.data.RandomSampler(
        range(N), replacement=True))
    steps = [len(b) for b in loader]
    text = run(["./draws", "train", "--epochs", "2", "--step-metrics", "s.csv", "--threads", "1"], b7)
    rows = open(os.path.join(b7, "s.csv")).read().split("\n")[1:] if text else []
    per_epoch = [sum(1 for r in rows if r and r.split(",")[1] == str(e)) for e in (1, 2)]
    report(per_epoch == [len(steps)] * 2 and steps[-1] == 2,
           f"batch 7: {per_epoch} steps an epoch, as torch's DataLoader over RandomSampler(replacement=True) "
           f"({len(steps)}, the last of {steps[-1]} rows)")
    # resume within an epoch: bit for bit
    run(["./draws", "train", "--quiet", "--threads", "1", "--weights", "r.w", "--trace", "r.csv"], b7)
    run(["./draws", "train", "--quiet", "--threads", "1", "--steps", "38", "--checkpoint", "c.ck",
         "--weights", "c.w"], b7)
    run(["./draws", "train", "--quiet", "--threads", "1", "--resume", "c.ck", "--weights", "c.w",
         "--trace", "c.csv"], b7)
    same = os.path.exists(os.path.join(b7, "c.w")) and \
        open(os.path.join(b7, "r.w"), "rb").read() == open(os.path.join(b7, "c.w"), "rb").read()
    report(same, "with replacement, stopped within an epoch (step 38 of 15 an epoch) and resumed: "
           "the weights of an uninterrupted run, bit for bit")
    full = open(os.path.join(b7, "r.csv")).read().split("\n")
    part = open(os.path.join(b7, "c.csv")).read().split("\n") if same else ["", ""]
    report(len(part) > 100 and full[1 + 39:] == part[2:],
           "... and every step after the checkpoint the same (the traces agree)")
    # the comparison can fail: a run of another seed steps otherwise after step 38
    run(["./draws", "train", "--quiet", "--threads", "1", "--seed", "3", "--weights", "o.w",
         "--trace", "o.csv"], b7)
    other = open(os.path.join(b7, "o.csv")).read().split("\n")
    report(other[1 + 39:] != full[1 + 39:], "(a run of another seed differs after step 38: the "
           "comparison can fail)")


def lsq_gd(x, y, lr, eps, steps):
    """numpy's gradient descent: (stop step, its weights, its norm, norms)."""
    w = np.zeros((x.shape[1], 1))
    norms = []
    for t in range(steps):
        g = 2 / len(x) * x.T @ (x @ w - y)
        norms.append(float(np.linalg.norm(g)))
        if norms[-1] <= eps:
            return t, w, norms[-1], norms
        w = w - lr * g
    return None, w, None, norms


def stop_grad_norm(trainc, base):
    d = os.path.join(base, "lsq")
    os.makedirs(d)
    rng = np.random.RandomState(0)
    x = rng.randn(200, 5)
    y = x @ rng.randn(5, 1) + 0.1 * rng.randn(200, 1)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    spec = os.path.join(d, "lsq.lua")
    open(spec, "w").write(LSQ)
    for eps in (1e-6, 1e-9):
        out = os.path.join(d, f"e{eps:g}")
        if not build(trainc, spec, out, f"eps={eps!r}", dtype="double"):
            continue
        t, w, norm, norms = lsq_gd(x, y, 0.1, eps, 400)
        report(t is not None and min(abs(n / eps - 1) for n in norms) > 1e-3,
               f"eps {eps:g}: numpy's GD gets there, at step {t}, no norm within 0.1% of eps")
        text = run(["./lsq", "train", "--threads", "1"], out)
        if text is None or t is None:
            continue
        m = re.search(r"stop_grad_norm: gradient norm (\S+) <= (\S+) at epoch (\d+) after (\d+) steps", text)
        report(m is not None and int(m.group(4)) == t and int(m.group(3)) == t + 1,
               f"eps {eps:g}: the trainer stops at numpy's step ({t} steps, in epoch {t + 1}): "
               f"{m.group(0) if m else text[-300:]}")
        report(m is not None and abs(float(m.group(1)) - norm) <= 1e-6 * norm,
               f"eps {eps:g}: the norm it prints is numpy's ({norm:.6g})")
        report(f"saved lsq.weights ({t} steps" in text and f"epoch {t + 1:3d}/400" in text and
               f"epoch {t + 2:3d}/400" not in text, f"eps {eps:g}: no step or epoch after it")
        run(["./lsq", "export", "e", "--quiet"], out)
        got = np.load(os.path.join(out, "e", "w.npy")) if os.path.exists(os.path.join(out, "e", "w.npy")) else None
        report(got is not None and float(np.max(np.abs(got - w))) < 1e-10,
               f"eps {eps:g}: the weights kept are numpy's w at that step (within 1e-10)")
    # a full-batch resume at the stopping point stops again at once
    out = os.path.join(d, "e1e-06")
    text = run(["./lsq", "train", "--threads", "1", "--checkpoint", "c.ck", "--weights", "a.w", "--quiet"], out)
    again = run(["./lsq", "train", "--threads", "1", "--resume", "c.ck", "--weights", "b.w"], out)
    report(again is not None and "stop_grad_norm: gradient norm" in again and
           open(os.path.join(out, "a.w"), "rb").read() == open(os.path.join(out, "b.w"), "rb").read(),
           "resumed from the checkpoint where it stopped: it stops again, the same weights")


def main():
    start = oracle.setup("sampling_torch")
    if start is None:
        return 1
    trainc, base, own_tmp = start
    sampling(trainc, base)
    stop_grad_norm(trainc, base)
    if own_tmp and oracle.failures == 0:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
