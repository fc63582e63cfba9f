#!/usr/bin/env python3
"""test_failures_torch.py — eval --failures and ensembles (--weights a,b)
against PyTorch and NumPy recomputations from exported weights (issue 14,
item 8).

A small classifier (a CSV of 3 named classes, one name with a comma; 25%
of the rows held out for testing; standardized inputs) is trained twice
(two seeds) and exported. From the exports PyTorch computes each test row's
softmax and cross-entropy; the failures file must hold the same rows (by
their number in the file, as `split` lists them), sorted by loss with the
worst first, and each row's true and predicted class names, p(true) and loss
within float tolerance (1e-5 relative + 1e-6: the trainer computes in
float). The mean of its loss column is eval's test loss. An ensemble of the
same weights twice predicts what the single model predicts, byte for byte;
an ensemble of the two trainings predicts NumPy's average of their two
predict outputs, and its failures list -log of that average's p(true). A
2-output regression's failures are checked the same way (NumPy: x W^T + b,
the row's mean squared error); a logistic model's p(true) is 1 - p for
class 0.
"""
import csv
import os
import shutil
import subprocess
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import report  # noqa: E402

oracle.require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

NAMES = ["alpha", "b,c", "gamma"]  # sorted bytewise, as labels { } sorts them

CLASSIFIER = """model "fc"
data = csv { train = "rows.csv", label = "kind", test = 0.25, standardize = true }
local x = input { 4 }
local y = labels { }
local h = relu(linear(x, 8, { name = "fc1" }))
minimize(cross_entropy(linear(h, y:classes(), { name = "fc2" }), y))
optimizer = sgd { lr = 0.05 }
train { batch = 10, epochs = 3, seed = 4 }
"""

REGRESSION = """model "fr"
data = npy { train = { x = "x.npy", y = "y.npy" }, test = { x = "tx.npy", y = "ty.npy" } }
local x = input { 3 }
local y = labels { 2 }
minimize(mse(linear(x, 2, { name = "fc" }), y))
optimizer = sgd { lr = 0.05 }
train { batch = 8, epochs = 2, seed = 1 }
"""

LOGISTIC = """model "fb"
data = csv { train = "bin.csv", label = "y", test = 0.3 }
local x = input { 2 }
local y = labels { 1 }
minimize(bce_with_logits(linear(x, 1, { name = "fc" }), y))
optimizer = sgd { lr = 0.1 }
train { batch = 8, epochs = 2, seed = 1 }
"""


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        report(False, " ".join(args[:4]), (r.stdout + r.stderr).strip()[-400:])
        return None
    return r.stdout


def build(trainc, folder, name, text):
    open(os.path.join(folder, name + ".lua"), "w").write(text)
    out = os.path.join(folder, "out")
    r = subprocess.run([trainc, "build", "-q", os.path.join(folder, name + ".lua"), "-o", out],
                       capture_output=True, text=True)
    report(r.returncode == 0 and "warning" not in r.stderr, f"{name}: builds warning-free", r.stderr[-400:])
    return None if r.returncode else out


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def near(got, want, rtol=1e-5, atol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return False, f"shape {got.shape} vs {want.shape}"
    bad = np.abs(got - want) > rtol * np.abs(want) + atol
    return (not bad.any()), f"max |diff| {float(np.max(np.abs(got - want))) if got.size else 0:.3g}"


def test_rows(out, model):
    """The file rows `split` lists as test rows, in file order."""
    text = run([f"./{model}", "split"], out)
    return [int(r.split(",")[0]) for r in (text or "").split("\n")[1:] if r.endswith(",test")]


def eval_loss(text):
    for line in text.split("\n"):
        if line.startswith("test"):
            return float(line.split("loss")[1].split()[0])
    return float("nan")


def check_failures(label, path, rows, truth, prob, loss):
    """The failures file at path against the recomputation: rows (file
    numbers), truth (class index), prob [rows x classes], loss [rows]."""
    head, lines = read_csv(path)
    report(head == ["row", "true", "predicted", "p_true", "loss"],
           f"{label}: the header is row,true,predicted,p_true,loss", str(head))
    report(len(lines) == len(rows), f"{label}: one line per test row ({len(lines)} of {len(rows)})")
    got_loss = np.array([float(r[4]) for r in lines])
    report(bool(np.all(np.diff(got_loss) <= 0)), f"{label}: sorted by loss, the largest first")
    want_order = sorted(range(len(rows)), key=lambda i: (-loss[i], rows[i]))
    report([int(r[0]) for r in lines] == [rows[i] for i in want_order],
           f"{label}: the rows in the order of the recomputed losses (numbered from 0 in the file)")
    by_row = {int(r[0]): r for r in lines}
    if sorted(by_row) != sorted(rows):
        report(False, f"{label}: the same rows as split's test rows", f"{sorted(by_row)[:8]} vs {rows[:8]}")
        return
    pick = [by_row[r] for r in rows]
    report([p[1] for p in pick] == [NAMES[t] for t in truth],
           f"{label}: the true class by its name (a name with a comma read back from its quotes)")
    report([p[2] for p in pick] == [NAMES[int(np.argmax(q))] for q in prob],
           f"{label}: the predicted class is the argmax of the recomputed probabilities")
    ok, why = near([float(p[3]) for p in pick], [prob[i][truth[i]] for i in range(len(rows))])
    report(ok, f"{label}: p_true within 1e-5 of the recomputation ({why})")
    ok, why = near([float(p[4]) for p in pick], loss)
    report(ok, f"{label}: loss within 1e-5 of the recomputation ({why})")


def classifier(trainc, base):
    d = os.path.join(base, "classifier")
    os.makedirs(d)
    rng = np.random.RandomState(7)
    n = 80
    k = rng.randint(0, 3, n)
    x = rng.randn(n, 4) * 2 + 3
    x[:, 0] += 1.5 * k  # learnable, not separable: some rows fail
    with open(os.path.join(d, "rows.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "d", "kind"])
        for i in range(n):
            w.writerow([f"{v:.4f}" for v in x[i]] + [NAMES[k[i]]])
    out = build(trainc, d, "fc", CLASSIFIER)
    if out is None:
        return
    for args in (["./fc", "train", "--quiet", "--weights", "a.w"],
                 ["./fc", "train", "--quiet", "--seed", "9", "--weights", "b.w"],
                 ["./fc", "export", "ea", "--weights", "a.w", "--quiet"],
                 ["./fc", "export", "eb", "--weights", "b.w", "--quiet"]):
        if run(args, out) is None:
            return
    rows = test_rows(out, "fc")
    report(len(rows) == 20, f"classifier: split lists 20 test rows ({len(rows)})")
    xt = np.array([[float(v) for v in f"{x[r][0]:.4f},{x[r][1]:.4f},{x[r][2]:.4f},{x[r][3]:.4f}".split(",")]
                   for r in rows])
    truth = [int(k[r]) for r in rows]

    def torch_probs(exp):
        net = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 8), relu1=nn.ReLU(), fc2=nn.Linear(8, 3)))
        net.load_state_dict({n: torch.from_numpy(np.load(os.path.join(out, exp, n + ".npy")))
                             for n in net.state_dict()}, strict=True)
        mean = np.load(os.path.join(out, exp, "input_mean.npy"))
        std = np.load(os.path.join(out, exp, "input_std.npy"))
        xs = ((xt.astype(np.float32) - mean) / std).astype(np.float32)
        with torch.no_grad():
            z = net(torch.from_numpy(xs)).double()
        ce = nn.functional.cross_entropy(z, torch.tensor(truth), reduction="none")
        return torch.softmax(z, 1).numpy(), ce.numpy()

    pa, la = torch_probs("ea")
    pb, _ = torch_probs("eb")
    text = run(["./fc", "eval", "--weights", "a.w", "--failures", "fa.csv"], out)
    if text is None:
        return
    check_failures("failures of one model", os.path.join(out, "fa.csv"), rows, truth, pa, la)
    report("wrote fa.csv (20 rows, the largest loss first)" in text, "eval says where the failures went")
    got = np.mean([float(r[4]) for r in read_csv(os.path.join(out, "fa.csv"))[1]])
    ok, why = near(got, eval_loss(text), 1e-5, 0)
    report(ok, f"the mean of the loss column is eval's test loss ({why})")
    wrong = sum(int(np.argmax(pa[i])) != truth[i] for i in range(len(rows)))
    report(0 < wrong < len(rows), f"the test rows hold failures to list ({wrong} misclassified)")

    # ensembles: the same weights twice, then two trainings
    data = os.path.join(d, "rows.csv")
    for args in (["./fc", "predict", data, "--weights", "a.w", "-o", "pa.csv"],
                 ["./fc", "predict", data, "--weights", "b.w", "-o", "pb.csv"],
                 ["./fc", "predict", data, "--weights", "a.w,a.w", "-o", "paa.csv"],
                 ["./fc", "predict", data, "--weights", "a.w,b.w", "-o", "pab.csv"]):
        if run(args, out) is None:
            return
    same = open(os.path.join(out, "pa.csv")).read() == open(os.path.join(out, "paa.csv")).read()
    report(same, "predict --weights a.w,a.w writes what --weights a.w writes, byte for byte")
    single = run(["./fc", "eval", "--weights", "a.w", "--quiet"], out)
    twice = run(["./fc", "eval", "--weights", "a.w,a.w", "--quiet"], out)
    if single and twice:
        acc = lambda t: t.split("accuracy")[1].split()[0]  # noqa: E731
        ok, why = near(eval_loss(twice), eval_loss(single), 1e-5, 0)
        report(acc(single) == acc(twice) and ok and "test (ensemble of 2) loss" in twice,
               f"eval of a.w,a.w: the single model's accuracy and loss ({why})", twice.strip())
    ha, ra = read_csv(os.path.join(out, "pa.csv"))
    _, rb = read_csv(os.path.join(out, "pb.csv"))
    _, rab = read_csv(os.path.join(out, "pab.csv"))
    report(ha == ["class", "p_alpha", "p_b,c", "p_gamma"], "predict's header names the classes", str(ha))
    avg = (np.array([[float(v) for v in r[1:]] for r in ra]) + np.array([[float(v) for v in r[1:]] for r in rb])) / 2
    got = np.array([[float(v) for v in r[1:]] for r in rab])
    # predict prints 6 significant digits: each average is within 1e-6 + rounding
    ok, why = near(got, avg, 1e-5, 2e-6)
    report(ok, f"predict --weights a.w,b.w: numpy's average of the two predict outputs ({why})")
    report([r[0] for r in rab] == [NAMES[int(np.argmax(p))] for p in got],
           "... and its class is the argmax of the average")
    report(not np.allclose(np.array([[float(v) for v in r[1:]] for r in ra]), avg, atol=1e-3),
           "the two trainings differ (the average is not either one)")
    if run(["./fc", "eval", "--weights", "a.w,b.w", "--failures", "fab.csv", "--quiet"], out) is None:
        return
    pab = (pa + pb) / 2
    check_failures("failures of an ensemble (-log of the averaged p(true))", os.path.join(out, "fab.csv"),
                   rows, truth, pab, [-np.log(pab[i][truth[i]]) for i in range(len(rows))])


def regression(trainc, base):
    d = os.path.join(base, "regression")
    os.makedirs(d)
    rng = np.random.RandomState(3)
    w = rng.randn(2, 3)
    for name, n in (("", 60), ("t", 15)):
        x = rng.randn(n, 3)
        np.save(os.path.join(d, name + "x.npy"), x)
        np.save(os.path.join(d, name + "y.npy"), x @ w.T + 0.3 * rng.randn(n, 2))
    out = build(trainc, d, "fr", REGRESSION)
    if out is None:
        return
    for args in (["./fr", "train", "--quiet"], ["./fr", "export", "e", "--quiet"],
                 ["./fr", "eval", "--failures", "f.csv", "--quiet"]):
        if run(args, out) is None:
            return
    W, b = np.load(os.path.join(out, "e/fc.weight.npy")), np.load(os.path.join(out, "e/fc.bias.npy"))
    x = np.load(os.path.join(d, "tx.npy")).astype(np.float32)
    y = np.load(os.path.join(d, "ty.npy"))
    pred = x.astype(np.float64) @ W.T.astype(np.float64) + b
    loss = np.mean((pred - y.astype(np.float32)) ** 2, axis=1)
    head, lines = read_csv(os.path.join(out, "f.csv"))
    report(head == ["row", "true_y0", "true_y1", "pred_y0", "pred_y1", "loss"],
           "regression: the header names the true and predicted values", str(head))
    order = [int(r[0]) for r in lines]
    report(order == sorted(range(15), key=lambda i: (-loss[i], i)),
           "regression: the 15 test rows, sorted by the numpy loss, the largest first")
    got = np.array([[float(v) for v in r[1:]] for r in sorted(lines, key=lambda r: int(r[0]))])
    ok, why = near(got[:, :2], y)
    report(ok, f"regression: the true values ({why})")
    ok, why = near(got[:, 2:4], pred)
    report(ok, f"regression: the predicted values (x W^T + b, within 1e-5: {why})")
    ok, why = near(got[:, 4], loss, 1e-4, 1e-6)
    report(ok, f"regression: each row's mean squared error (within 1e-4: a difference of floats, {why})")


def logistic(trainc, base):
    d = os.path.join(base, "logistic")
    os.makedirs(d)
    rng = np.random.RandomState(5)
    x = rng.randn(40, 2)
    y = (x[:, 0] + 0.8 * rng.randn(40) > 0).astype(int)
    with open(os.path.join(d, "bin.csv"), "w") as f:
        f.write("u,v,y\n" + "".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(x, y)))
    out = build(trainc, d, "fb", LOGISTIC)
    if out is None:
        return
    for args in (["./fb", "train", "--quiet"], ["./fb", "export", "e", "--quiet"],
                 ["./fb", "eval", "--failures", "f.csv", "--quiet"]):
        if run(args, out) is None:
            return
    rows = test_rows(out, "fb")
    W, b = np.load(os.path.join(out, "e/fc.weight.npy")), np.load(os.path.join(out, "e/fc.bias.npy"))
    xt = np.array([[float(f"{v:.4f}") for v in x[r]] for r in rows], np.float32)
    p = 1 / (1 + np.exp(-(xt.astype(np.float64) @ W.T.astype(np.float64) + b)[:, 0]))
    truth = [int(y[r]) for r in rows]
    pt = np.array([p[i] if truth[i] else 1 - p[i] for i in range(len(rows))])
    head, lines = read_csv(os.path.join(out, "f.csv"))
    by_row = {int(r[0]): r for r in lines}
    report(head == ["row", "true", "predicted", "p_true", "loss"] and sorted(by_row) == rows,
           "logistic: a line per test row under the classifier's header")
    if sorted(by_row) != rows:
        return
    pick = [by_row[r] for r in rows]
    report([r[1] for r in pick] == [str(t) for t in truth] and
           [r[2] for r in pick] == [str(int(q >= 0.5)) for q in p], "logistic: classes 0 and 1, true and predicted")
    ok, why = near([float(r[3]) for r in pick], pt)
    report(ok, f"logistic: p_true is p for class 1 and 1 - p for class 0 ({why})")
    ok, why = near([float(r[4]) for r in pick], -np.log(pt), 1e-4, 1e-6)
    report(ok, f"logistic: the loss is -log p_true, bce_with_logits of the row ({why})")


def main():
    start = oracle.setup("failures_torch")
    if start is None:
        return 1
    trainc, base, own_tmp = start
    classifier(trainc, base)
    regression(trainc, base)
    logistic(trainc, base)
    if own_tmp and oracle.failures == 0:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
