#!/usr/bin/python3
"""act_table.py -- prints the table of runtime/rt_act.c's tanh (rt_tanh_table).

tanh(a) for a = |x| in [0, 9.5] (above, tanh rounds to 1) is split into 26
bins by a's bits: [0, 1/8), then four bins an octave up to [8, 9.5] (a's
exponent and its two leading mantissa bits, so the bin is one shift away).
In each bin tanh(c + d) is a polynomial in d = a - c of degree 5:

    t = c0 + (c1 d + d^2 ((c2 + c3 d) + d^2 (c4 + c5 d)))

c is a float of the bin chosen so that tanh(c) is nearly a float (c0 exact
to a few thousandths of an ulp where floats are dense enough), so the sum's
leading term brings no rounding of its own; d = a - c is exact (c and a
within a factor 2, Sterbenz); c1..c5 are a least-squares fit of tanh's
relative error at 600 Chebyshev points. In [0, 1/8) c = 0, c0 = 0, c1 = 1
and the even terms are 0: t = d + d^2 (c3 d + d^2 c5 d), odd as tanh.

Measured by tests/unit/test_act.c over every float: within 0.74 ulp of
double tanh. Run with Debian's python3 (numpy), which prints the table as
runtime/rt_act.c has it:  /usr/bin/python3 tests/act_table.py
"""
import numpy as np

DEGREE = 5
TOP = 9.5  # rt_act.h clamps |x| here: tanh(9.5) rounds to 1


def bins():
    """[lo, hi) of each bin: [0, 1/8), then 2^e (1 + m/4) .. 2^e (1 + (m+1)/4)"""
    out, e = [(0.0, 0.125)], -3
    while True:
        for m in range(4):
            lo, hi = 2.0**e * (1 + m / 4), 2.0**e * (1 + (m + 1) / 4)
            if lo >= TOP:
                return out
            out.append((lo, min(hi, TOP)))
        e += 1


def rounding_ulps(c):
    """how far tanh(c) is from the float nearest it, in that float's ulps"""
    f = np.tanh(np.float64(c))
    return abs(f - np.float64(np.float32(f))) / np.float64(np.spacing(np.float32(f)))


def centre(lo, hi):
    """the float within 20000 floats of the bin's middle whose tanh is nearest a float"""
    best = mid = np.float32((lo + hi) / 2)
    up = down = mid
    for _ in range(20000):
        up, down = np.nextafter(up, np.float32(TOP * 2)), np.nextafter(down, np.float32(0))
        best = min((best, up, down), key=rounding_ulps)
    return float(best)


def fit(lo, hi):
    """[c, c0 .. c5] of one bin"""
    n = 600
    a = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    f = np.tanh(a)
    if lo == 0:  # odd: d (1 + c3 d^2 + c5 d^4)
        powers = [3, 5]
        A = np.stack([a**p for p in powers], 1) / f[:, None]
        sol = np.linalg.lstsq(A, (f - a) / f, rcond=None)[0]
        coef = [0.0, 1.0, 0.0, sol[0], 0.0, sol[1]]
        return [0.0] + coef
    c = centre(lo, hi)
    c0 = float(np.float32(np.tanh(c)))
    d = a - c
    A = np.stack([d**p for p in range(1, DEGREE + 1)], 1) / f[:, None]
    sol = np.linalg.lstsq(A, (f - c0) / f, rcond=None)[0]
    return [c, c0] + list(sol)


def hexf(v):
    """a float32 as a C hex float, no trailing zeros: 0x1.2066p-3f"""
    h = float.hex(float(np.float32(v)))
    mant, exp = h.split("p")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    return f"{mant}p{exp}f"


def main():
    rows = [fit(lo, hi) for lo, hi in bins()]
    names = ["c (the bin's centre)", "c0 = tanh(c)"] + [f"c{k}" for k in range(1, DEGREE + 1)]
    print(f"/* made by tests/act_table.py: {len(rows)} bins, then zeros to 32 */")
    print("/* clang-format off */")
    print(f"_Alignas(64) const float rt_tanh_table[{DEGREE + 2}][32] = {{")
    for j, name in enumerate(names):
        vals = [hexf(r[j]) for r in rows] + ["0.0f"] * (32 - len(rows))
        print(f"    /* {name}, bins 0 to 31 */")
        for k in range(0, 32, 4):
            cells = [v + "," for v in vals[k:k + 4]]
            if k == 28:
                cells[-1] = cells[-1][:-1] + "},"
            line = ("    {" if k == 0 else "     ") + " ".join(c.ljust(16) for c in cells)
            print(line.rstrip())
    print("};")
    print("/* clang-format on */")


if __name__ == "__main__":
    main()
