"""test_lr_find.py — the trainer's lr-find (issue 14, item 2) against an
independent numpy implementation of its rules:
  - the lr of step i is from * (to/from)^(i/(steps-1)) (rtol 1e-15: pow's
    last bit may differ between libm and numpy);
  - the smoothed loss is fastai's debiased EMA (beta 0.98), computed here in
    closed form (rtol 1e-12: another order of the same sums);
  - the test stops at exactly the first step whose smoothed loss passes 4 x
    the lowest so far, or is not finite;
  - the suggestion is the lr of the lowest smoothed loss over 10, within the
    steps after the first tenth (rounded up) and before the last 5, and not
    below the first lr of that window;
on synthetic curves (smooth, an early spike, noise, NaN, an early blow-up)
through tests/unit/lr_rule.c (the runtime's functions on a given curve) and
on the CSV a real run of fashion_mlp writes. Then: the weights and optimizer
state are put back (the checksum printed equals numpy's FNV-1a of the
weights file's values; a negative control that skips putting them back is
caught), nothing on disk is overwritten, and the suggested lr of fashion_mlp
with SGD trains to >= 0.85 test accuracy in 3 epochs."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import exit_status, report  # noqa: E402

try:
    import numpy as np
except ImportError as e:
    report(False, "import numpy", str(e))
    sys.exit(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINC = os.environ.get("TRAINC", os.path.join(ROOT, "build/gen/trainc"))
BETA = 0.98


# ---- the rules, in numpy ----

def closed_lrs(lo, hi, steps, n):
    i = np.arange(n, dtype=np.float64)
    return lo * (hi / lo) ** (i / (steps - 1))


def smoothed_of(loss):
    """avg_n = sum_k (1-b) b^(n-k) loss_k, debiased by 1 - b^n"""
    loss = np.asarray(loss, np.float64)
    n = np.arange(1, len(loss) + 1)
    out = np.empty(len(loss))
    with np.errstate(all="ignore"):
        for t in range(len(loss)):
            w = (1 - BETA) * BETA ** (t - np.arange(t + 1))
            out[t] = np.sum(w * loss[: t + 1]) / (1 - BETA ** n[t])
    return out


def stop_at(sm):
    """the number of recorded steps: through the first that passes 4 x the
    lowest so far (best + 3|best|) or is not finite; all when none does"""
    best = np.minimum.accumulate(np.where(np.isfinite(sm), sm, np.inf))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(sm) | (sm > best + 3 * np.abs(best))
    hits = np.flatnonzero(bad)
    return int(hits[0]) + 1 if len(hits) else len(sm)


def suggestion(lrs, sm):
    n = len(sm)
    lo, hi = -(-n // 10), n - 5
    if hi - lo < 2:
        return float("nan")
    w = sm[lo:hi]
    return max(lrs[lo + int(np.argmin(w))] / 10, lrs[lo])


def fnv1a(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# ---- the runtime's functions on given curves ----

def build_rule(tmp):
    exe = os.path.join(tmp, "lr_rule")
    cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
           "-I" + os.path.join(ROOT, "runtime"), os.path.join(ROOT, "tests/unit/lr_rule.c"),
           os.path.join(ROOT, "runtime/rt_lr_find.c"), "-lm", "-o", exe]
    r = subprocess.run(cmd, capture_output=True, text=True)
    report(r.returncode == 0, "build lr_rule", r.stderr.strip()[:500])
    return exe if r.returncode == 0 else None


def run_rule(exe, loss, lo=1e-7, hi=10.0):
    steps = len(loss)
    text = "\n".join(repr(float(v)) for v in loss) + "\n"
    out = subprocess.run([exe, repr(lo), repr(hi), str(steps)], input=text,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    rows = [list(map(float, l.split(","))) for l in out if l and not l.startswith("suggested")]
    sugg = float([l for l in out if l.startswith("suggested")][0].split()[1])
    return np.array(rows), sugg


def curves():
    rng = np.random.default_rng(14)
    steps = 100
    x = np.linspace(0, 1, steps)
    base = 2.3 - 1.5 * np.clip((x - 0.4) / 0.4, 0, 1) ** 2  # flat, then falling
    blow = np.where(x > 0.85, np.exp((x - 0.85) * 60), 0)  # then diverging
    smooth = base + blow
    spike = smooth.copy()
    spike[3] = 15.0  # an early spike, inside the first tenth
    stopper = smooth.copy()
    stopper[3] = 40.0  # one so high that the test stops there
    spike2 = smooth.copy()
    spike2[12] = 25.0  # one just after it
    noisy = smooth + rng.normal(0, 0.15, steps)
    with_nan = smooth.copy()
    with_nan[70] = np.nan
    early = np.concatenate([np.full(8, 2.3), np.full(92, 50.0)])  # blows up at once
    flat = np.full(steps, 1.0) + rng.normal(0, 1e-3, steps)  # never stops
    return {"smooth": smooth, "early spike": spike, "early spike that stops it": stopper, "spike after the first tenth": spike2,
            "noise": noisy, "a NaN": with_nan, "an early blow-up": early, "flat": flat}


def check_rules(exe):
    clean = None
    for name, loss in curves().items():
        rows, sugg = run_rule(exe, loss)
        if name == "smooth":
            clean = sugg
        if name in ("early spike", "spike after the first tenth", "noise"):
            # robust: a spike or noise moves the suggestion by less than 2x
            report(clean / 2 <= sugg <= clean * 2,
                   f"rule on '{name}': suggestion {sugg:.3g} near the clean curve's {clean:.3g}")
        n = len(loss)
        sm = smoothed_of(loss)
        want_n = stop_at(sm)
        report(len(rows) == want_n, f"rule on '{name}': stops at step {want_n}",
               f"stopped at {len(rows)}")
        m = min(len(rows), want_n)
        lrs = closed_lrs(1e-7, 10.0, n, n)
        report(np.allclose(rows[:m, 1], lrs[:m], rtol=1e-15, atol=0),
               f"rule on '{name}': lr sequence is the closed form")
        fin = np.isfinite(sm[:m])
        report(np.array_equal(np.isfinite(rows[:m, 3]), fin) and
               np.allclose(rows[:m, 3][fin], sm[:m][fin], rtol=1e-12, atol=0),
               f"rule on '{name}': smoothed loss is the debiased EMA")
        want = suggestion(lrs[:want_n], sm[:want_n])
        same = (np.isnan(want) and np.isnan(sugg)) or np.isclose(sugg, want, rtol=1e-15, atol=0)
        report(same, f"rule on '{name}': suggestion {want:.4g} as numpy's", f"got {sugg:.17g}")
        if not np.isnan(want):
            lo, hi = -(-want_n // 10), want_n - 5
            report(lrs[lo] <= sugg <= lrs[hi - 1],
                   f"rule on '{name}': suggestion within the window's lrs")
    # the stop is exact: a loss that jumps at step 51 stops there, not before
    # or after; one just below the threshold does not stop
    # (after 50 losses of 1 the smoothed loss is 1; a loss L at step 51 makes
    # it (BETA (1 - BETA^50) + (1 - BETA) L) / (1 - BETA^51), 4 at L = edge)
    edge = (4 * (1 - BETA ** 51) - BETA * (1 - BETA ** 50)) / (1 - BETA)
    loss = np.full(100, 1.0)
    loss[50] = edge * 1.001
    rows, _ = run_rule(exe, loss)
    report(len(rows) == 51, "rule: stops exactly at the first step past 4 x the best",
           f"{len(rows)} steps")
    loss[50] = edge * 0.999
    rows, _ = run_rule(exe, loss)
    report(len(rows) > 51, "rule: a smoothed loss just below 4 x the best goes on",
           f"{len(rows)} steps")


# ---- the trainer ----

def run(args, cwd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=e)


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip()
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def check_run(exe, tmp):
    r = run([exe, "lr-find", "--threads", "1", "-o", "lr.csv"], tmp)
    report(r.returncode == 0, "fashion_mlp lr-find runs", r.stderr[-400:])
    if r.returncode:
        return None
    header, d = read_csv(os.path.join(tmp, "lr.csv"))
    report(header == "step,lr,loss,smoothed", "lr-find CSV header", header)
    n = len(d)
    report(np.array_equal(d[:, 0], np.arange(1, n + 1)), "lr-find CSV steps 1..n")
    lrs = closed_lrs(1e-7, 10.0, 100, n)
    report(np.allclose(d[:, 1], lrs, rtol=1e-15, atol=0), "lr-find: lr sequence is the closed form",
           f"max rel {np.max(np.abs(d[:, 1] / lrs - 1)):.3g}")
    sm = smoothed_of(d[:, 2])
    report(np.allclose(d[:, 3], sm, rtol=1e-12, atol=0),
           "lr-find: smoothed column is the debiased EMA of the loss column")
    report(stop_at(sm) == n and n < 100,
           f"lr-find: stopped exactly at the first step past the threshold ({n})",
           f"numpy: {stop_at(sm)}")
    want = suggestion(d[:, 1], sm)
    line = [l for l in r.stdout.splitlines() if l.startswith("suggested lr: ")]
    report(line == [f"suggested lr: {want:.3g}"], "lr-find: printed suggestion is numpy's rule",
           f"{line} vs {want:.3g}")
    svg = open(os.path.join(tmp, "lr.svg")).read()
    report("suggested lr" in svg and "learning rate (log scale)" in svg and "<path" in svg,
           "lr-find: the SVG beside the CSV marks the suggestion on a log lr axis")
    return want


def check_files(exe, tmp):
    csv = os.path.join(tmp, "lr.csv")
    before = hashlib.sha256(open(csv, "rb").read()).hexdigest()
    r = run([exe, "lr-find", "--threads", "1", "-o", "lr.csv"], tmp)
    report(r.returncode == 1 and "lr.csv exists; lr-find never overwrites a file" in r.stderr
           and hashlib.sha256(open(csv, "rb").read()).hexdigest() == before,
           "lr-find: an existing -o file is refused and left as it was", r.stderr)
    d = os.path.join(tmp, "names")
    os.makedirs(d)
    open(os.path.join(d, "fashion_mlp-lr-find.svg"), "w").write("mine")
    for want in ["fashion_mlp-lr-find-2.csv", "fashion_mlp-lr-find-3.csv"]:
        r = run([exe, "lr-find", "--threads", "1", "--steps", "20"], d)
        report(r.returncode == 0 and os.path.exists(os.path.join(d, want)),
               f"lr-find: default name avoids existing files: {want}", r.stdout + r.stderr)
    report(open(os.path.join(d, "fashion_mlp-lr-find.svg")).read() == "mine",
           "lr-find: a picture of the default name is left alone")


def check_put_back(exe, outdir, tmp, name):
    w = os.path.join(tmp, name + ".weights")
    r = run([exe, "train", "--steps", "5", "--quiet", "--threads", "1", "--weights", w], tmp)
    report(r.returncode == 0, f"{name}: 5 training steps", r.stderr[-300:])
    n_params = int(re.search(r"MODEL_N_PARAMS (\d+)L", open(outdir + "/model.h").read()).group(1))
    n_state = int(re.search(r"MODEL_N_STATE (\d+)L", open(outdir + "/model.h").read()).group(1))
    blob = open(w, "rb").read()
    start = len(blob) - 4 - 4 * n_params  # header, float params, CRC (no statistics)
    want = fnv1a(blob[start:start + 4 * n_params] + bytes(4 * n_state))
    wsum = hashlib.sha256(blob).hexdigest()
    r = run([exe, "lr-find", "--threads", "1", "--weights", w, "-o", name + "-back.csv"], tmp)
    m = re.search(r"put back \(checksum ([0-9a-f]{16}) before and after\)", r.stdout)
    report(r.returncode == 0 and m is not None and int(m.group(1), 16) == want,
           f"{name}: lr-find puts the weights and optimizer state back (checksum of the "
           "weights file's values before and after)", r.stdout[-300:] + r.stderr[-300:])
    report(hashlib.sha256(open(w, "rb").read()).hexdigest() == wsum,
           f"{name}: lr-find leaves the --weights file as it was")
    r = run([exe, "lr-find", "--threads", "1", "--weights", w, "-o", name + "-kept.csv"], tmp,
            {"TRAINC_TEST_LR_FIND_KEEP": "1"})
    report(r.returncode == 1 and "were not put back" in r.stderr,
           f"{name}: negative control: weights left trained are caught", r.stderr[-300:])


ADAM_BN = """model "lrf_adam"
data = spirals { n = 512, noise = 0.1, test = 128 }
local x = input { 2 }
local y = labels { classes = 3 }
local h = relu(batch_norm(linear(x, 32), { name = "bn1" }))
h = dropout(h, 0.2)
minimize(cross_entropy(linear(h, 3), y))
optimizer = adam { lr = 0.01 }
train { batch = 32, epochs = 2, seed = 3 }
"""


def main():
    tmp_root = os.environ.get("TRAINC_TMP")
    if tmp_root:
        tmp = os.path.join(tmp_root, "lr_find")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    else:
        tmp = tempfile.mkdtemp(prefix="trainc_lr_find_")
    exe = build_rule(tmp)
    if exe:
        check_rules(exe)
    out = os.path.join(tmp, "out/fashion_mlp")
    r = subprocess.run([TRAINC, "build", "-q", os.path.join(ROOT, "models/fashion_mlp.lua"),
                        "-o", out], capture_output=True, text=True)
    report(r.returncode == 0, "build fashion_mlp", r.stderr[-400:])
    if r.returncode:
        return
    fm = os.path.join(out, "fashion_mlp")
    lr = check_run(fm, tmp)
    check_files(fm, tmp)
    check_put_back(fm, out, tmp, "fashion_mlp")
    spec = os.path.join(tmp, "lrf_adam.lua")
    open(spec, "w").write(ADAM_BN)
    aout = os.path.join(tmp, "out/lrf_adam")
    r = subprocess.run([TRAINC, "build", "-q", spec, "-o", aout], capture_output=True, text=True)
    report(r.returncode == 0, "build an Adam + batch norm + dropout model", r.stderr[-400:])
    if r.returncode == 0:
        check_put_back(os.path.join(aout, "lrf_adam"), aout, tmp, "lrf_adam")
    if lr is not None:
        # the suggestion trains: 3 epochs of SGD at it (about 3 s on one core)
        r = run([fm, "train", "--epochs", "3", "--lr", f"{lr:.3g}", "--threads", "1", "--quiet",
                 "--weights", os.path.join(tmp, "three.weights")], tmp)
        m = re.search(r"test loss \S+\s+accuracy (\S+)", r.stdout)
        acc = float(m.group(1)) if m else 0.0
        report(acc >= 0.85, f"fashion_mlp SGD at the suggested lr {lr:.3g}: test accuracy "
               f"{acc:.4f} >= 0.85 after 3 epochs", r.stdout[-300:] + r.stderr[-300:])


main()
sys.exit(exit_status())
