#!/usr/bin/env python3
"""test_init_torch.py — the runtime's initial weights equal PyTorch 1.13's
bit for bit: torch.manual_seed(s) then uniform_(a, b) in float32 and float64,
and nn.Linear / nn.Conv2d default init (weight then bias from one stream).
Also rt_rng_uniform53 equals numpy RandomState(s).random_sample().

Builds runtime/rt_rng.c + rt_util.c + tests/unit/init_dump.c with gcc into a
temporary directory (float and -DTRAINC_DOUBLE). Run from the repo root.
Prints "ok - name" / "not ok - name"; exits 1 on any failure. A missing torch
is a failure, not a skip: this test is the oracle for the initialisers."""
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0


def report(cond, name, detail=""):
    global failures
    if cond:
        print(f"ok - {name}")
    else:
        failures += 1
        print(f"not ok - {name}" + (f"  ({detail})" if detail else ""))


try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:
    report(False, "import torch and numpy", str(e))
    sys.exit(1)


def build(tmp, double):
    exe = os.path.join(tmp, "init_dump_double" if double else "init_dump_float")
    cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-pedantic",
           "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE",
           "-I" + os.path.join(ROOT, "runtime")]
    if double:
        cmd.append("-DTRAINC_DOUBLE")
    cmd += [os.path.join(ROOT, "tests/unit/init_dump.c"),
            os.path.join(ROOT, "runtime/rt_rng.c"),
            os.path.join(ROOT, "runtime/rt_util.c"), "-lm", "-o", exe]
    r = subprocess.run(cmd, capture_output=True, text=True)
    report(r.returncode == 0, f"build init_dump ({'double' if double else 'float'})",
           r.stderr.strip()[:500])
    return exe if r.returncode == 0 else None


def draw(exe, seed, specs, dtype):
    """Runs init_dump; returns one array per spec, all from one rng."""
    args = [exe, str(seed)]
    for s in specs:
        args.append(f"u:{s[1]}:{s[2]!r}:{s[3]!r}" if s[0] == "u" else f"r53:{s[1]}")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
    vals = np.array([float.fromhex(v) for v in out[1:]], dtype=np.float64)
    res, k = [], 0
    for s in specs:
        res.append(vals[k:k + s[1]].astype(dtype))
        k += s[1]
    return res


def same_bits(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def ndiff(x, y):
    return f"{int(np.sum(np.asarray(x) != np.asarray(y)))} of {np.asarray(x).size} differ"


def linear_bounds(fan_in):
    # as torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), then bias
    a = math.sqrt(5)
    gain = math.sqrt(2.0 / (1 + a ** 2))
    std = gain / math.sqrt(fan_in)
    return math.sqrt(3.0) * std, 1 / math.sqrt(fan_in)


def check_uniform(exe, dtype, tdtype, label):
    bounds = [(-0.0625, 0.0625), (-1 / math.sqrt(784), 1 / math.sqrt(784)),
              (0.1, 0.7), (-3.0, 1e-3), (1e-8, 3.3)]
    for seed in (0, 1, 42, 123456789):
        for n in (1, 7, 16, 1000, 200704):
            for a, b in bounds:
                if n == 200704 and (a, b) != bounds[1] and seed != 42:
                    continue  # keep the big cases few; they run the same path
                torch.manual_seed(seed)
                want = torch.empty(n, dtype=tdtype).uniform_(a, b).numpy()
                got = draw(exe, seed, [("u", n, a, b)], dtype)[0]
                report(same_bits(got, want),
                       f"{label} uniform_({a:.6g}, {b:.6g}) n={n} seed={seed}",
                       ndiff(got, want))


def check_layers(exe, dtype, tdtype, label):
    old = torch.get_default_dtype()
    torch.set_default_dtype(tdtype)
    try:
        torch.manual_seed(1)
        lin = nn.Linear(784, 256)
        wb, bb = linear_bounds(784)
        w, b = draw(exe, 1, [("u", 784 * 256, -wb, wb), ("u", 256, -bb, bb)], dtype)
        report(same_bits(w, lin.weight.detach().numpy().ravel()),
               f"{label} nn.Linear(784,256) weight seed=1", ndiff(w, lin.weight.detach().numpy().ravel()))
        report(same_bits(b, lin.bias.detach().numpy()),
               f"{label} nn.Linear(784,256) bias seed=1", ndiff(b, lin.bias.detach().numpy()))

        # a whole MLP: layers draw in construction order from one stream
        torch.manual_seed(7)
        mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                            nn.ReLU(), nn.Linear(128, 10))
        specs, want = [], []
        for layer in (mlp[0], mlp[2], mlp[4]):
            fi = layer.in_features
            wb, bb = linear_bounds(fi)
            specs += [("u", layer.weight.numel(), -wb, wb), ("u", layer.bias.numel(), -bb, bb)]
            want += [layer.weight.detach().numpy().ravel(), layer.bias.detach().numpy()]
        got = draw(exe, 7, specs, dtype)
        report(all(same_bits(g, w) for g, w in zip(got, want)),
               f"{label} MLP 784-256-128-10 all parameters seed=7")

        torch.manual_seed(3)
        conv = nn.Conv2d(3, 16, 5)
        wb, bb = linear_bounds(3 * 5 * 5)
        w, b = draw(exe, 3, [("u", conv.weight.numel(), -wb, wb), ("u", 16, -bb, bb)], dtype)
        report(same_bits(w, conv.weight.detach().numpy().ravel())
               and same_bits(b, conv.bias.detach().numpy()),
               f"{label} nn.Conv2d(3,16,5) weight and bias seed=3")
    finally:
        torch.set_default_dtype(old)


def main():
    report(torch.__version__.startswith("1.13"), "torch is 1.13", torch.__version__)
    with tempfile.TemporaryDirectory(prefix="trainc_init_") as tmp:
        fexe = build(tmp, False)
        dexe = build(tmp, True)
        if fexe:
            check_uniform(fexe, np.float32, torch.float32, "float32")
            check_layers(fexe, np.float32, torch.float32, "float32")
            for seed in (0, 5489, 2 ** 32 - 1):
                got = draw(fexe, seed, [("r53", 1000)], np.float64)[0]
                want = np.random.RandomState(seed).random_sample(1000)
                report(same_bits(got, want), f"uniform53 equals numpy random_sample seed={seed}",
                       ndiff(got, want))
        if dexe:
            check_uniform(dexe, np.float64, torch.float64, "float64")
            check_layers(dexe, np.float64, torch.float64, "float64")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
