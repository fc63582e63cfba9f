"""oracle.py — what the tests that hold trainc against PyTorch share: one
"ok - name" / "not ok - name" line per check (counted by tests/run), the
count of failures, and torch and numpy, whose absence is a failure, never a
skip: PyTorch is the oracle."""
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


def exit_status():
    return 1 if failures else 0
