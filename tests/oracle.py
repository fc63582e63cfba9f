"""oracle.py — what the tests that hold trainc against PyTorch share: one
"ok - name" / "not ok - name" line per check (counted by tests/run), the
count of failures, and torch and numpy, whose absence is a failure, never a
skip: PyTorch is the oracle."""
import subprocess
import sys

failures = 0


def report(cond, name, detail=""):
    """One check: "ok - name", or "not ok - name  (detail)" counted as a failure."""
    global failures
    if cond:
        print(f"ok - {name}", flush=True)
    else:
        failures += 1
        print(f"not ok - {name}" + (f"  ({detail})" if detail else ""), flush=True)


def require_torch():
    """Exits with a failure when torch or numpy cannot be imported."""
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        report(False, "import torch and numpy", str(e))
        sys.exit(1)


# The tolerances the tests comparing values with torch share
TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}


def close(got, want, dtype):
    """(ok, detail): every element within the dtype's bound (TOL: |trainc -
    torch| <= rtol |torch| + atol), NaN only where torch has NaN."""
    import numpy as np

    rtol, atol = TOL[dtype]
    g, w = np.asarray(got, np.float64).ravel(), np.asarray(want, np.float64).ravel()
    if g.shape != w.shape:
        return False, f"shape {g.shape} vs torch {w.shape}"
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if np.any(nan_g != nan_w):
        i = int(np.argmax(nan_g != nan_w))
        return False, f"NaN mismatch at {i}: trainc {g[i]!r} torch {w[i]!r}"
    ok = ~nan_w
    excess = np.abs(g[ok] - w[ok]) / (rtol * np.abs(w[ok]) + atol)
    if excess.size and not np.all(excess <= 1):
        i = np.flatnonzero(ok)[int(np.argmax(excess))]
        return False, (f"{int(np.sum(excess > 1))} of {g.size} off, worst at {i}: "
                       f"trainc {g[i]!r} torch {w[i]!r}")
    return True, f"worst |diff| / bound = {float(np.max(excess)) if excess.size else 0:.3g}"


def exit_status():
    return 1 if failures else 0


def setup(name):
    """The start every comparison shares: torch is 1.13, trainc is built, and
    a fresh scratch folder (under $TRAINC_TMP, else a temporary one that is
    removed when all checks pass). Returns (trainc, folder, own_tmp), or None
    when trainc is missing."""
    import os
    import shutil
    import tempfile

    import torch

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trainc = os.environ.get("TRAINC", os.path.join(root, "build/gen/trainc"))
    report(torch.__version__.startswith("1.13"), "torch is 1.13", torch.__version__)
    if not os.access(trainc, os.X_OK):
        report(False, "trainc binary found", trainc)
        return None
    tmp_root = os.environ.get("TRAINC_TMP")
    own_tmp = None
    if tmp_root:
        base = os.path.join(tmp_root, name)
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
    else:
        own_tmp = base = tempfile.mkdtemp(prefix=f"trainc_{name}_")
    torch.set_num_threads(1)
    return trainc, base, own_tmp


def run(cmd, cwd, ok=(0,)):
    """Runs cmd in cwd; a status outside ok raises with its last output."""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode not in ok:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: {(r.stdout + r.stderr).strip()[-600:]}")
    return r


def read_csv(path):
    """A trainer's CSV: its header's names and its rows, as strings."""
    with open(path) as f:
        head = f.readline().strip().split(",")
        return head, [line.strip().split(",") for line in f if line.strip()]
