#!/usr/bin/env python3
"""test_landscape_torch.py — the landscape command (issue 15 items 6, 7)
against PyTorch and NumPy recomputations from exported weights.

A small classifier with batch norm (npy data, train and test files) in
double is trained twice (two seeds) and exported. Along the line between
the two weights files, torch in eval mode (running statistics interpolated
too) gives every alpha's training and test loss and accuracy: they must
match the CSV within 1e-10; torch without interpolating the running
statistics must not (negative control). On the plane around the weights:
each direction's slice per output unit has its weight's slice's norm, and
biases, batch norm's parameters and running statistics are 0; the same seed
gives the same directions, another seed others; the centre's lines are
eval's, and its grid row equals them; a corner of the grid is torch's loss
at theta + a d1 + b d2. --pca's directions are orthonormal and span NumPy's
first two principal directions of the trace. Least squares (double) gives
an exact parabola along the line, whose curvature is d^T H d with H d from
the trainer's hvp (d = B - A); the classifier's curve is not one (negative
control). A two-parameter model (models/ravine.lua: the saddle,
the rotated ravine) is drawn in its own parameters: the grid holds the
function's values. Headless Chromium renders the pictures with the paths,
the centre and the heat map visible.
"""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import report  # noqa: E402

oracle.require_torch()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC = """model "ls"
data = npy { train = { x = "x.npy", y = "y.npy" }, test = { x = "tx.npy", y = "ty.npy" } }
local x = input { 4 }
local y = labels { classes = 3 }
local h = linear(x, 6, { name = "fc1" })
h = relu(batch_norm(h, { name = "bn1" }))
minimize(cross_entropy(linear(h, 3, { name = "fc2" }), y))
optimizer = sgd { lr = 0.1, momentum = 0.9 }
train { batch = 10, epochs = 4, seed = 3 }
"""


def run(args, cwd, ok=True):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if ok and r.returncode != 0:
        report(False, " ".join(args[:4]), (r.stdout + r.stderr).strip()[-400:])
        return None
    return r.stdout


def build(trainc, spec, out, *extra):
    r = subprocess.run([trainc, "build", "-q", spec, "-o", out, *extra], capture_output=True, text=True)
    report(r.returncode == 0 and "warning" not in r.stderr,
           f"{os.path.basename(out)}: builds warning-free", r.stderr[-600:])
    return r.returncode == 0


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def load_export(folder):
    return {f[:-4]: np.load(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".npy")}


def forward(p, x, y):
    """eval mode: loss (mean cross-entropy) and accuracy, in double"""
    xt = torch.from_numpy(x)
    h = xt @ torch.from_numpy(p["fc1.weight"]).T + torch.from_numpy(p["fc1.bias"])
    h = F.batch_norm(h, torch.from_numpy(p["bn1.running_mean"]), torch.from_numpy(p["bn1.running_var"]),
                     torch.from_numpy(p["bn1.weight"]), torch.from_numpy(p["bn1.bias"]), False, 0.1, 1e-5)
    z = torch.relu(h) @ torch.from_numpy(p["fc2.weight"]).T + torch.from_numpy(p["fc2.bias"])
    yt = torch.from_numpy(y).long()
    return float(F.cross_entropy(z, yt)), float((z.argmax(1) == yt).double().mean())


FLOATS = ["fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
          "fc2.weight", "fc2.bias"]


def mix(a, b, t, stats=True):
    return {k: (1 - t) * a[k] + t * b[k] if stats or "running" not in k else b[k] for k in FLOATS}


def make_data(d):
    rng = np.random.RandomState(5)
    for name, n in (("", 120), ("t", 50)):
        k = rng.randint(0, 3, n)
        x = rng.randn(n, 4)
        x[:, 0] += 1.2 * k
        x[:, 1] -= 0.8 * k
        np.save(os.path.join(d, name + "x.npy"), x)
        np.save(os.path.join(d, name + "y.npy"), k.astype(np.int64))


def check_line(out, data):
    """--weights A --to B against torch along the line."""
    if run(["./ls", "landscape", "--weights", "a.w", "--to", "b.w", "--points", "21",
            "-o", "line.csv", "--quiet"], out) is None:
        return None
    a, b = load_export(os.path.join(out, "ea")), load_export(os.path.join(out, "eb"))
    head, rows = read_csv(os.path.join(out, "line.csv"))
    report(head == ["alpha", "train_loss", "train_accuracy", "test_loss", "test_accuracy"],
           "line: the CSV's header", str(head))
    got = np.array([[float(v) for v in r] for r in rows])
    report(len(got) == 21 and got[0, 0] == -0.5 and got[-1, 0] == 1.5 and 0.0 in got[:, 0] and 1.0 in got[:, 0],
           "line: 21 alphas from -0.5 to 1.5, 0 and 1 among them exactly")
    want = np.array([[t, *forward(mix(a, b, t), *data[0]), *forward(mix(a, b, t), *data[1])] for t in got[:, 0]])
    # past the ends a running variance can turn negative: torch's eval is NaN
    # there, trainc's relu turns the NaN channel into 0 (a difference of relu
    # at NaN, not of the line): those alphas are left out
    keep = np.array([mix(a, b, t)["bn1.running_var"].min() > 0 for t in got[:, 0]])
    ok, why = oracle.close(got[keep], want[keep], "double")
    report(ok and keep.sum() >= 15, f"line: every alpha's training and test loss and accuracy are torch's in "
           f"eval mode ({keep.sum()} alphas with positive running variances; {why})")
    wrong = np.array([[t, *forward(mix(a, b, t, False), *data[0]), *forward(mix(a, b, t, False), *data[1])]
                      for t in got[:, 0]])
    ok, why = oracle.close(got, wrong, "double")
    report(not ok, "line: negative: torch with B's running statistics all along differs", why)
    report(os.path.getsize(os.path.join(out, "line.svg")) > 1000, "line: a picture beside the CSV")
    # the default line: from the initial weights to --weights; alpha 1 is eval's
    text = run(["./ls", "landscape", "--weights", "b.w", "-o", "line0.csv", "--quiet"], out)
    ev = run(["./ls", "eval", "--weights", "b.w", "--quiet"], out)
    if text is not None and ev is not None:
        rows = read_csv(os.path.join(out, "line0.csv"))[1]
        one = [r for r in rows if float(r[0]) == 1.0]
        line = "test loss %.6g  accuracy %.4f" % (float(one[0][3]), float(one[0][4])) if one else ""
        report(ev.strip().split("\n")[0] == line, "line: from the initial weights; alpha 1 is eval's test loss",
               f"{ev.strip()!r} vs {line!r}")
    return a, b


def directions(path):
    head, rows = read_csv(path)
    d = {}
    for r in rows:
        d.setdefault(r[0], []).append((float(r[1]), float(r[2])))
    return {k: np.array(v) for k, v in d.items()}


def check_plane(out, data, b):
    text = run(["./ls", "landscape", "--plane", "--weights", "b.w", "--seed", "7", "--grid", "21",
                "--directions", "d7.csv", "-o", "plane.csv"], out)
    again = run(["./ls", "landscape", "--plane", "--weights", "b.w", "--seed", "7", "--grid", "3",
                 "--directions", "d7b.csv", "-o", "plane3.csv", "--quiet"], out)
    other = run(["./ls", "landscape", "--plane", "--weights", "b.w", "--seed", "8", "--grid", "3",
                 "--directions", "d8.csv", "-o", "plane8.csv", "--quiet"], out)
    ev = run(["./ls", "eval", "--weights", "b.w", "--quiet"], out)
    if None in (text, again, other, ev):
        return
    d = directions(os.path.join(out, "d7.csv"))
    shapes = {k: b[k].shape for k in b}
    worst, zero = 0.0, True
    for name, v in d.items():
        for c in range(2):
            dv = v[:, c].reshape(shapes[name]) if shapes[name] else v[:, c]
            if name in ("fc1.weight", "fc2.weight"):
                for u in range(dv.shape[0]):
                    wn = np.linalg.norm(b[name][u])
                    worst = max(worst, abs(np.linalg.norm(dv[u]) - wn) / wn)
            else:
                zero = zero and not np.any(dv)
    report(worst < 1e-12, f"plane: each output unit's direction has its weights' norm (worst {worst:.2g})")
    report(zero, "plane: biases, batch norm's weight, bias, running statistics and count: 0")
    same = open(os.path.join(out, "d7.csv")).read() == open(os.path.join(out, "d7b.csv")).read()
    report(same, "plane: the same seed gives the same directions")
    report(open(os.path.join(out, "d8.csv")).read() != open(os.path.join(out, "d7.csv")).read(),
           "plane: another seed gives other directions")
    lines = text.strip().split("\n")
    report(ev.strip().split("\n")[0] in lines, "plane: the centre's test line is eval's, character for character",
           f"{ev.strip()!r} in {lines!r}")
    head, rows = read_csv(os.path.join(out, "plane.csv"))
    report(head == ["a", "b", "train_loss", "train_accuracy"] and len(rows) == 441, "plane: 21 x 21 rows of a,b,loss,accuracy")
    centre = [r for r in rows if float(r[0]) == 0 and float(r[1]) == 0]
    want_line = "train loss %.6g  accuracy %.4f" % (float(centre[0][2]), float(centre[0][3])) if centre else "?"
    report(want_line in lines, "plane: the grid's centre row is the centre's training loss", f"{want_line!r}")
    ok, why = oracle.close(float(centre[0][2]) if centre else 0, forward(b, *data[0])[0], "double")
    report(ok, f"plane: the centre's loss is torch's at the weights ({why})")
    corner = [r for r in rows if float(r[0]) == -1 and float(r[1]) == 1][0]
    p = {k: b[k] + (-1) * d[k][:, 0].reshape(b[k].shape) + 1 * d[k][:, 1].reshape(b[k].shape)
         for k in FLOATS}
    ok, why = oracle.close([float(corner[2]), float(corner[3])], forward(p, *data[0]), "double")
    report(ok, f"plane: the corner (-1, 1) is torch's loss at theta - d1 + d2 ({why})")
    ok, why = oracle.close([float(corner[2]), float(corner[3])], forward(b, *data[0]), "double")
    report(not ok, "plane: negative: the corner is not the centre's loss", why)


def check_pca(out):
    """--pca: orthonormal directions spanning NumPy's principal plane of the trace"""
    if run(["./ls", "train", "--quiet", "--seed", "11", "--weights", "c.w", "--trace", "tr.csv"], out) is None:
        return
    text = run(["./ls", "landscape", "--plane", "--pca", "--weights", "c.w", "--path", "tr.csv",
                "--grid", "5", "--directions", "dp.csv", "-o", "pca.csv"], out)
    if text is None:
        return
    report("principal directions explain" in text, "pca: says the variance the two directions explain", text[-300:])
    head, rows = read_csv(os.path.join(out, "tr.csv"))
    traj = np.array([[float(v) for v in r[3:]] for r in rows])
    d = read_csv(os.path.join(out, "dp.csv"))[1]
    traced = [i for i, r in enumerate(d) if "running" not in r[0] and "num_batches" not in r[0]]
    dd = np.array([[float(r[1]), float(r[2])] for r in d])
    report(len(traced) == traj.shape[1] and not np.any(np.delete(dd, traced, 0)),
           "pca: the directions leave the untraced running statistics alone")
    dd = dd[traced]
    gram = dd.T @ dd
    report(np.allclose(gram, np.eye(2), atol=1e-10), f"pca: d1, d2 orthonormal ({gram.ravel()})")
    m = traj - traj[-1]  # the trace's last row is the trained weights, the centre
    _, _, vt = np.linalg.svd(m, full_matrices=False)
    cos = np.abs(vt[:2] @ dd)
    report(cos[0, 0] > 1 - 1e-8 and cos[1, 1] > 1 - 1e-8, f"pca: NumPy's first two principal directions ({cos.ravel()})")


def check_paths(out):
    """checkpoints and weights files as the points of one path, and the picture"""
    steps = []
    for k, e in enumerate((1, 2, 3)):
        if run(["./ls", "train", "--quiet", "--epochs", str(e), "--seed", "11", "--weights", f"p{k}.w",
                "--checkpoint", f"p{k}.ck"], out) is None:
            return
        steps.append(f"p{k}.ck")
    text = run(["./ls", "landscape", "--plane", "--weights", "c.w", "--path", ",".join(steps + ["c.w"]),
                "--path", "tr.csv", "--grid", "11", "-o", "paths.csv"], out)
    report(text is not None, "paths: checkpoints and weights files, comma-separated, as one path; a trace as another")


def check_parabola(trainc, base):
    """least squares: the line is an exact parabola in alpha (double)"""
    out = os.path.join(base, "lsq")
    if not build(trainc, os.path.join(ROOT, "models/least_squares.lua"), out, "--dtype", "double", "--hvp"):
        return
    if run(["./least_squares", "train", "--quiet", "--epochs", "3", "--trace", "tr.csv"], out) is None:
        return
    if run(["./least_squares", "landscape", "--rows", "3000", "-o", "q.csv", "--quiet"], out) is None:
        return
    rows = np.array([[float(v) for v in r] for r in read_csv(os.path.join(out, "q.csv"))[1]])
    check_curvature(out)
    return rows


def check_curvature(out):
    """the line's curvature is d^T H d (d = B - A, the initial weights to the
    trained ones), H d from the trainer's own hvp over every training row"""
    trace = np.array([[float(v) for v in r[3:]] for r in read_csv(os.path.join(out, "tr.csv"))[1]])
    d = trace[-1] - trace[0]
    np.save(os.path.join(out, "d.npy"), d)
    if run(["./least_squares", "hvp", "d.npy", "-o", "hd.npy", "--quiet"], out) is None:
        return
    if run(["./least_squares", "landscape", "--points", "9", "-o", "qa.csv", "--quiet"], out) is None:
        return
    q = np.array([[float(v) for v in r] for r in read_csv(os.path.join(out, "qa.csv"))[1]])
    dhd = float(d @ np.load(os.path.join(out, "hd.npy")))
    curv = 2 * np.polyfit(q[:, 0], q[:, 1], 2)[0]  # L(a) = L(A) + a g.d + a^2 d^T H d / 2
    e = abs(curv - dhd) / abs(dhd)
    report(e < 1e-9, f"least squares: the line's curvature equals d^T H d from hvp ({curv:.12g} vs {dhd:.12g}, {e:.2g})")


def parabola_error(alpha, y):
    """worst relative distance from the parabola through the first, middle and last points"""
    i = [0, len(alpha) // 2, len(alpha) - 1]
    c = np.polyfit(alpha[i], y[i], 2)
    return float(np.max(np.abs(np.polyval(c, alpha) - y) / np.abs(y)))


def check_two_params(trainc, base):
    """models/ravine.lua: the saddle and the rotated ravine in their own parameters"""
    worst = {}
    for f, fn in (("saddle", lambda a, b: a * a - b * b),
                  ("rotated", lambda a, b: (a + b) ** 2 * 0.5 + 2 * (a - b) ** 2)):
        out = os.path.join(base, f)
        if not build(trainc, os.path.join(ROOT, "models/ravine.lua"), out, "--set", f"f={f}",
                     "--set", "opt=momentum", "--dtype", "double"):
            continue
        if run(["./ravine", "train", "--quiet", "--trace", "m.csv"], out) is None:
            continue
        text = run(["./ravine", "landscape", "--plane", "--grid", "15", "--path", "m.csv",
                    "--range", "-4.5:1.5,-2:2", "-o", "g.csv"], out)
        if text is None:
            continue
        head, rows = read_csv(os.path.join(out, "g.csv"))
        report(head == ["x1", "x2", "train_loss", "train_accuracy"], f"{f}: the parameters are the axes", str(head))
        g = np.array([[float(v) for v in r[:3]] for r in rows])
        report(len(g) == 225 and g[:, 0].min() == -4.5 and g[:, 1].max() == 2, f"{f}: the grid spans --range")
        ok, why = oracle.close(g[:, 2], fn(g[:, 0], g[:, 1]), "double")
        report(ok, f"{f}: the grid holds the function's values ({why})")
        worst[f] = os.path.join(out, "g.svg")
    return worst


def render(svg, png, base):
    import xml.etree.ElementTree as ET

    r = ET.parse(svg).getroot()
    if not shutil.which("chromium"):
        report(False, "chromium is installed (.ci/setup installs it)")
        return None
    subprocess.run(["timeout", "120", "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--user-data-dir={base}/chromium-profile",
                    f"--window-size={r.get('width')},{r.get('height')}", f"--screenshot={png}",
                    "file://" + os.path.abspath(svg)], capture_output=True)
    if not os.path.exists(png):
        report(False, f"chromium rendered {svg}")
        return None
    t = subprocess.run([sys.executable, os.path.join(ROOT, "tests/png_check.py"), png, "red=d00000",
                        "blue=1f5fbf", "violet=440154", "yellow=fde725"], capture_output=True, text=True)
    return {ln.split()[0]: ln.split()[1] for ln in t.stdout.strip().split("\n") if len(ln.split()) == 2}


def check_pictures(base, svgs):
    for name, svg, want in svgs:
        px = render(svg, os.path.join(base, name + ".png"), base)
        if px is None:
            continue
        got = {k: int(px.get(k, "0")) for k in want}
        report(all(got[k] > 30 for k in want), f"{name}: Chromium draws {', '.join(want)}", str(px))


def main():
    setup = oracle.setup("landscape")
    if setup is None:
        return oracle.exit_status()
    trainc, base, own_tmp = setup
    out = os.path.join(base, "ls")
    os.makedirs(out)
    make_data(out)
    spec = os.path.join(out, "ls.lua")
    open(spec, "w").write(SPEC)
    svgs = []
    if build(trainc, spec, out, "--dtype", "double"):
        for args in (["train", "--quiet", "--weights", "a.w"], ["train", "--quiet", "--seed", "9", "--weights", "b.w"],
                     ["export", "ea", "--weights", "a.w", "--quiet"], ["export", "eb", "--weights", "b.w", "--quiet"]):
            run(["./ls", *args], out)
        data = [(np.load(os.path.join(out, n + "x.npy")), np.load(os.path.join(out, n + "y.npy"))) for n in ("", "t")]
        got = check_line(out, data)
        if got:
            check_plane(out, data, got[1])
            q = check_parabola(trainc, base)
            if q is not None:
                e = parabola_error(q[:, 0], q[:, 1])
                report(e < 1e-9, f"least squares: the training loss along the line is a parabola in alpha ({e:.2g})")
                e = parabola_error(q[:, 0], q[:, 3])
                report(e < 1e-9, f"least squares: ... and the test loss ({e:.2g})")
                rows = np.array([[float(v) for v in r] for r in read_csv(os.path.join(out, "line.csv"))[1]])
                e = parabola_error(rows[:, 0], rows[:, 1])
                report(e > 1e-3, f"negative: the classifier's line is not a parabola ({e:.2g})")
        check_pca(out)
        check_paths(out)
        svgs += [("plane", os.path.join(out, "plane.svg"), ["red", "violet", "yellow"]),
                 ("paths", os.path.join(out, "paths.svg"), ["red", "blue", "violet"])]
    two = check_two_params(trainc, base)
    svgs += [(f, svg, ["red", "blue", "violet", "yellow"]) for f, svg in two.items()]
    check_pictures(base, svgs)
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
