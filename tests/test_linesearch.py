#!/usr/bin/env python3
"""test_linesearch.py — gradient descent with Armijo backtracking
(`sgd { line_search = "armijo" }`) and nonlinear conjugate gradient
(`cg { }`) against references written here from the textbook formulas.

The problems (a trainc spec and the same loss and gradient written by hand,
on the flat vector of the parameters in the trace's column order):
Rosenbrock (bare `param`s), least squares (mean squared error), logistic
regression (softplus of the margin) and, for Armijo, a tanh MLP with cross
entropy. trainc trains K steps in full batch (`--steps K --trace`, %.17g);
the references start from the trace's step 0.

Armijo (numpy reference): each step t = lr, t <- shrink t until
f(x - t g) <= f(x) - c t |g|^2. Checks: the weights after every step within
1e-12 |ref| + 1e-14 in double (the only differences are the rounding of
x - t g, fused in trainc, and of sums), the step_size and evals columns of
--step-metrics equal to the reference's t and 2 + shrinks exactly; float
within 1e-5 |ref| + 1e-6 (oracle.TOL) over the first steps; reaching
max_shrinks stops the run with its message, the weights unchanged and
step_size 0. Negative controls: references with another c or shrink must
differ.

CG (reference in plain Python, no numpy or scipy): d = -g on the first
iteration, every `restart` iterations and when d would not descend, else
d = -g + beta d with PR+ beta = max(0, g.(g - g')/g'.g') or Fletcher-Reeves
g.g/g'.g'; t from the strong-Wolfe search (torch.optim.LBFGS 1.13's
algorithm: bracketing, then zooming by cubic interpolation; c1 = 1e-4 and
the option c2) started at min(1, 1/|g|_1) lr on the very first iteration,
lr after it; the termination tests of torch's L-BFGS. Checks: weights per
step within 1e-10 |ref| + 1e-13 in double (oracle.TOL: Fletcher-Reeves
takes steps of t = 3e4 on logistic regression, which magnify the unfused
rounding of the reference's d = -g + beta d to 2e-11; the worst in units of
1e-12 is printed); float within oracle.TOL over the
first steps; resuming from a checkpoint is exact; on a quadratic of n = 6
parameters, one CG iteration per step
(max_iter = 1) reaches the normal equations' solution at step n and not
before (the classic finite termination, with a near-exact search: c2 = 1e-3;
the cubic interpolation of a quadratic along a line is exact).
Negative controls: Fletcher-Reeves against trainc's PR+; a reference
without the max(0, .) clip on Rosenbrock.

Run from the repo root: /usr/bin/python3 tests/test_linesearch.py
Environment: TRAINC, TRAINC_TMP as tests/oracle.py's setup."""
import math
import os
import random
import shutil
import sys

import oracle
from oracle import read_csv, run, report

import numpy as np

ROWS, FEAT, HID, CLS = 24, 3, 5, 3
TIGHT = (1e-12, 1e-14)  # double: the rounding of x - t g and of sums only


def make_data(feat=FEAT, seed=15):
    r = random.Random(seed)
    X = [[r.gauss(0, 1) for _ in range(feat)] for _ in range(ROWS)]
    w = [1.5, -2.0, 0.5, 0.25, -1.0, 0.75][:feat]
    t = [sum(a * b for a, b in zip(x, w)) + 0.7 * r.gauss(0, 1) for x in X]
    c = [r.randrange(CLS) for _ in range(ROWS)]
    return X, t, c


def write_csv(path, X, target):
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(len(X[0]))] + ["target"]) + "\n")
        for x, y in zip(X, target):
            f.write(",".join([repr(v) for v in x] + [repr(y)]) + "\n")


# ---- the problems: loss and gradient on the flat vector, in plain Python ----

def rosen(p, data):
    x1, x2 = p
    f = (1 - x1) ** 2 + 100 * (x2 - x1 * x1) ** 2
    return f, [-2 * (1 - x1) - 400 * x1 * (x2 - x1 * x1), 200 * (x2 - x1 * x1)]


def lsq(p, data):
    X, t = data[0], data[1]
    n, k = len(X), len(p)
    r = [sum(x[j] * p[j] for j in range(k)) - y for x, y in zip(X, t)]
    return sum(v * v for v in r) / n, [2 * sum(r[i] * X[i][j] for i in range(n)) / n
                                       for j in range(k)]


def softplus(u):
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


def logistic(p, data):
    """mean softplus(-s z), z = x.w + b, s = t/|t| (fc.weight then fc.bias)"""
    X, t = data[0], data[1]
    n, k = len(X), len(p) - 1
    f, g = 0.0, [0.0] * (k + 1)
    for x, y in zip(X, t):
        s = y / abs(y)
        z = sum(x[j] * p[j] for j in range(k)) + p[k]
        f += softplus(-s * z)
        a = -s / (1 + math.exp(s * z))  # d softplus(-s z) / dz
        for j in range(k):
            g[j] += a * x[j]
        g[k] += a
    return f / n, [v / n for v in g]


def mlp(p, data):
    """cross entropy of linear(tanh(linear(x))): fc1.weight, fc1.bias,
    fc2.weight, fc2.bias (numpy: the Armijo test only)"""
    X, c = np.array(data[0]), np.array(data[2])
    p = np.asarray(p)
    o = 0
    W1 = p[o:o + HID * FEAT].reshape(HID, FEAT); o += HID * FEAT
    b1 = p[o:o + HID]; o += HID
    W2 = p[o:o + CLS * HID].reshape(CLS, HID); o += CLS * HID
    b2 = p[o:o + CLS]
    h = np.tanh(X @ W1.T + b1)
    z = h @ W2.T + b2
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    n = len(c)
    f = float(np.mean(lse - z[np.arange(n), c]))
    dz = np.exp(z - lse[:, None])
    dz[np.arange(n), c] -= 1
    dz /= n
    dh = (dz @ W2) * (1 - h * h)
    g = np.concatenate([(dh.T @ X).ravel(), dh.sum(0), (dz.T @ h).ravel(), dz.sum(0)])
    return f, [float(v) for v in g]


ROSEN = ("""local x1 = param { 1, init = constant(-1.5), name = "x1" }
local x2 = param { 1, init = constant(2), name = "x2" }
minimize(sum((1 - x1) ^ 2 + 100 * (x2 - x1 ^ 2) ^ 2))
""", None, rosen)
LSQ = ("""local x = input { %d }
local y = labels { 1 }
local w = param { %d, 1, init = normal(0, 1), name = "w" }
minimize(mean((matmul(x, w) - y) ^ 2))
""", "real", lsq)
LOGISTIC = ("""local x = input { %d }
local t = labels { 1 }
minimize(logistic(linear(x, 1, { name = "fc" }), t / abs(t)))
""" % FEAT, "real", logistic)
MLP = ("""local x = input { %d }
local y = labels { classes = %d }
local h = tanh(linear(x, %d, { name = "fc1" }))
minimize(cross_entropy(linear(h, %d, { name = "fc2" }), y))
""" % (FEAT, CLS, HID, CLS), "class", mlp)


def lua_options(opts):
    return ", ".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v!r}"
                     for k, v in opts.items())




def trainc_run(trainc, folder, name, problem, optimizer, steps, dtype, feat=FEAT):
    """{step: flat weights} (step 0: the initial ones), the step metrics rows, stderr"""
    body, data, _ = problem
    if "%d" in body:
        body = body % (feat, feat)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f'-- generated by tests/test_linesearch.py\nmodel "{name}"\n')
        if data:
            f.write(f'data = csv {{ train = "../{data}.csv", label = "target", header = true }}\n')
        f.write(body)
        f.write(f"optimizer = {optimizer}\n")
        f.write('train { batch = "full", epochs = 1000, seed = 3, shuffle = false }\n')
    run([trainc, "build", "spec.lua", "-o", "out", "--dtype", dtype, "-q"], folder)
    r = run([os.path.join("out", name), "train", "--steps", str(steps), "--weights", "w.weights",
             "--trace", "trace.csv", "--step-metrics", "steps.csv", "-q"], folder)
    _, rows = read_csv(os.path.join(folder, "trace.csv"))
    weights = {int(row[0]): [float(v) for v in row[3:]] for row in rows}
    head, srows = read_csv(os.path.join(folder, "steps.csv"))
    metrics = [dict(zip(head, row)) for row in srows]
    return weights, metrics, r.stderr


def within(got, want, bound):
    rtol, atol = bound
    return all(abs(a - b) <= rtol * abs(b) + atol for a, b in zip(got, want))


def worst(got, want, bound):
    rtol, atol = bound
    return max(abs(a - b) / (rtol * abs(b) + atol) for a, b in zip(got, want))


# ---- Armijo backtracking: the numpy reference ----

def armijo_ref(fg, data, x0, steps, lr, c=1e-4, shrink=0.5, max_shrinks=30):
    """[(weights after the step, t (0: stalled), evaluations)]"""
    x = np.array(x0, dtype=np.float64)
    out = []
    for _ in range(steps):
        f, g = fg(list(x), data)
        g = np.array(g)
        g2 = float(np.dot(g, g))
        t, taken = lr, None
        for k in range(max_shrinks + 1):
            ft, _ = fg(list(x - t * g), data)
            if ft <= f - c * t * g2:
                taken = (t, k + 2)
                break
            t *= shrink
        if taken is None:
            out.append((list(x), 0.0, max_shrinks + 2))
            break
        x = x - taken[0] * g
        out.append((list(x), taken[0], taken[1]))
    return out


ARMIJO_CASES = [  # (name, problem, sgd options, steps, steps compared in float)
    ("lsq", LSQ, {"lr": 1.3, "c": 0.45, "shrink": 0.7}, 12, 12),
    ("logistic", LOGISTIC, {"lr": 30, "c": 0.3}, 12, 12),
    ("mlp", MLP, {"lr": 8, "shrink": 0.7, "c": 0.3}, 12, 6),
    ("rosen", ROSEN, {"lr": 1, "c": 0.01, "shrink": 0.3}, 20, 5),
]


def check_armijo(trainc, base, case, data):
    name, problem, opts, steps, need_f = case
    spec_opts = {**opts, "line_search": "armijo"}
    results = {}
    for dtype in ("double", "float"):
        folder = os.path.join(base, f"armijo_{name}_{dtype}")
        got, metrics, _ = trainc_run(trainc, folder, f"armijo_{name}", problem,
                                     f"sgd {{ {lua_options(spec_opts)} }}", steps, dtype)
        want = armijo_ref(problem[2], data, got[0], steps, **opts)
        if dtype == "double":
            bad = [k for k in range(1, steps + 1) if not within(got[k], want[k - 1][0], TIGHT)]
            w = max(worst(got[k], want[k - 1][0], TIGHT) for k in range(1, steps + 1))
            report(not bad, f"armijo {name} double: the weights equal the reference's at "
                   f"every step ({steps})", f"off at steps {bad}")
            print(f"# armijo {name} double: worst {w:.3g} of 1e-12 |ref| + 1e-14")
            ts = [(float(m["step_size"]), int(m["evals"])) for m in metrics]
            report(ts == [(t, e) for _, t, e in want],
                   f"armijo {name}: step_size and evals in --step-metrics are the reference's "
                   f"(t from {min(t for _, t, _ in want):g} to {max(t for _, t, _ in want):g})",
                   f"trainc {ts[:6]} reference {[(t, e) for _, t, e in want][:6]}")
            results["double"] = (got, want)
        else:
            # float reaches its rounding floor: no shrink finds a decrease the
            # loss can show, and the search stops the run (as designed)
            last = max(got)
            if last < steps:
                print(f"# armijo {name} float: the search stalled at step {last} "
                      f"({metrics[-1]['loss']}, gradient norm {metrics[-1]['grad_norm']})")
            n = min(need_f, last if last == steps else last - 1)  # the stalled step stays
            good = [k for k in range(1, n + 1) if within(got[k], want[k - 1][0],
                                                         oracle.TOL["float"])]
            report(n >= 5 and len(good) == n, f"armijo {name} float: the first {n} steps within "
                   "1e-5 |ref| + 1e-6", f"within at {good} of {last} steps")
    return results


def check_armijo_stall(trainc, base, data):
    """lr far too large and one shrink allowed: the search stalls at step 1"""
    folder = os.path.join(base, "armijo_stall")
    opts = {"lr": 1000, "shrink": 0.1, "max_shrinks": 1}
    got, metrics, err = trainc_run(trainc, folder, "armijo_stall", LSQ,
                                   f'sgd {{ line_search = "armijo", {lua_options(opts)} }}', 5,
                                   "double")
    want = armijo_ref(lsq, data, got[0], 5, **opts)
    report(len(want) == 1 and want[0][1] == 0, "armijo stall: the reference stalls at step 1")
    report(sorted(got) == [0, 1] and got[1] == got[0],
           "armijo stall: the run stops after the stalled step, the weights unchanged",
           f"trace steps {sorted(got)}")
    report(len(metrics) == 1 and float(metrics[0]["step_size"]) == 0
           and metrics[0]["evals"] == "3", "armijo stall: step_size 0 and 3 evaluations",
           str(metrics))
    report("the Armijo line search stopped the run at step 1: 1 shrinks from lr 1000" in err,
           "armijo stall: the message says where and why", err.strip())


# ---- nonlinear conjugate gradient: the plain Python reference ----

def vdot(a, b):
    s = 0.0
    for u, v in zip(a, b):
        s += u * v
    return s


def cubic_min(x1, f1, g1, x2, f2, g2, lo, hi):
    """the minimiser of the cubic through (x1, f1, f1') and (x2, f2, f2'),
    clamped to [lo, hi]; the middle when it has none"""
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    sq = d1 * d1 - g1 * g2
    if not sq >= 0:
        return (lo + hi) / 2
    d2 = math.sqrt(sq)
    if x1 <= x2:
        m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(m, lo), hi)


def wolfe_search(phi, t, f0, g0, gtd0, dmax, c2, c1=1e-4, most=25):
    """a step t with f(t) <= f0 + c1 t gtd0 and |f'(t)| <= c2 |gtd0|: grow t
    until a bracket holds a minimum, then shrink the bracket (cubic
    interpolation, kept a tenth of its width from its ends when it stalls).
    phi(t) = (f, g, f'); ls counts the evaluations after the first, at most
    `most`. Returns (t, f, g)."""
    f, g, gtd = phi(t)
    ls = 0
    prev = (0.0, f0, g0, gtd0)
    br = None
    while ls < most:
        if f > f0 + c1 * t * gtd0 or (ls > 1 and f >= prev[1]):
            br = [prev, (t, f, g, gtd)]
            break
        if abs(gtd) <= -c2 * gtd0:
            return t, f, g
        if gtd >= 0:
            br = [prev, (t, f, g, gtd)]
            break
        nt = cubic_min(prev[0], prev[1], prev[3], t, f, gtd, t + 0.01 * (t - prev[0]), 10 * t)
        prev = (t, f, g, gtd)
        t = nt
        f, g, gtd = phi(t)
        ls += 1
    if br is None:
        br = [(0.0, f0, g0, gtd0), (t, f, g, gtd)]
    lo = 0 if br[0][1] <= br[1][1] else 1
    stuck = False
    while ls < most:
        if abs(br[1][0] - br[0][0]) * dmax < 1e-9:
            break
        a, b = br[0], br[1]
        top, bot = max(a[0], b[0]), min(a[0], b[0])
        t = cubic_min(a[0], a[1], a[3], b[0], b[1], b[3], bot, top)
        eps = 0.1 * (top - bot)
        if min(top - t, t - bot) < eps:
            if stuck or t >= top or t <= bot:
                t = top - eps if abs(t - top) < abs(t - bot) else bot + eps
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f, g, gtd = phi(t)
        ls += 1
        if f > f0 + c1 * t * gtd0 or f >= br[lo][1]:
            br[1 - lo] = (t, f, g, gtd)
            lo = 0 if br[0][1] <= br[1][1] else 1
        else:
            if abs(gtd) <= -c2 * gtd0:
                br[lo] = (t, f, g, gtd)
                break
            if gtd * (br[1 - lo][0] - br[lo][0]) >= 0:
                br[1 - lo] = br[lo]
            br[lo] = (t, f, g, gtd)
    return br[lo][0], br[lo][1], br[lo][2]


def cg_ref(fg, data, x0, steps, beta="polak_ribiere", lr=1.0, max_iter=20,
           tolerance_grad=1e-7, tolerance_change=1e-9, restart=None, c2=0.1, clip=True):
    """[weights after each step]: each step up to max_iter CG iterations"""
    x = list(x0)
    restart = restart or len(x)
    d, g_old, it, since = [0.0] * len(x), None, 0, 0
    out = []
    for _ in range(steps):
        f, g = fg(x, data)
        if max(abs(v) for v in g) > tolerance_grad:
            for n_iter in range(1, max_iter + 1):
                it += 1
                b = 0.0
                if it > 1 and since < restart:
                    if beta == "fletcher_reeves":
                        b = vdot(g, g) / vdot(g_old, g_old)
                    else:
                        b = (vdot(g, g) - vdot(g, g_old)) / vdot(g_old, g_old)
                        if clip and not b > 0:
                            b = 0.0
                d = [b * u - v for u, v in zip(d, g)]
                if b == 0 or vdot(g, d) >= 0:
                    d = [-v for v in g]
                    since = 0
                g_old = g
                t = min(1.0, 1 / sum(abs(v) for v in g)) * lr if it == 1 else lr
                gtd = vdot(g, d)
                if gtd > -tolerance_change:
                    break

                def phi(s):
                    fs, gs = fg([u + s * v for u, v in zip(x, d)], data)
                    return fs, gs, vdot(gs, d)
                f_old = f
                t, f, g = wolfe_search(phi, t, f, g, gtd, max(abs(v) for v in d), c2)
                x = [u + t * v for u, v in zip(x, d)]
                since += 1
                if n_iter == max_iter or max(abs(v) for v in g) <= tolerance_grad:
                    break
                if max(abs(t * v) for v in d) <= tolerance_change:
                    break
                if abs(f - f_old) < tolerance_change:
                    break
        out.append(list(x))
    return out


CG_CASES = [  # (name, problem, cg options, steps, steps compared in float)
    # float: five strong-Wolfe searches in the valley part from the double
    # reference within the first step (as L-BFGS's Rosenbrock in float does
    # from torch's, test_lbfgs_torch.py): compared in double only
    ("rosen", ROSEN, {"max_iter": 5}, 4, 0),
    ("rosen_fr", ROSEN, {"beta": "fletcher_reeves", "max_iter": 5}, 4, 0),
    ("rosen_restart", ROSEN, {"restart": 1, "max_iter": 5, "c2": 0.9}, 4, 1),
    ("lsq", LSQ, {"max_iter": 2}, 3, 3),
    # float logistic regression parts from the double reference by 1% in
    # its first step (four searches of steps up to t ~ 70 on separable rows):
    # compared in double only
    ("logistic", LOGISTIC, {"max_iter": 4}, 4, 0),
    ("logistic_fr", LOGISTIC, {"beta": "fletcher_reeves", "max_iter": 3, "restart": 2}, 4, 0),
]


def check_cg(trainc, base, case, data):
    name, problem, opts, steps, need_f = case
    got_d = None
    for dtype in ("double", "float") if need_f else ("double",):
        folder = os.path.join(base, f"cg_{name}_{dtype}")
        got, _, _ = trainc_run(trainc, folder, f"cg_{name}", problem,
                               f"cg {{ {lua_options(opts)} }}", steps, dtype)
        want = cg_ref(problem[2], data, got[0], steps, **opts)
        if dtype == "double":
            got_d = got
            bound = oracle.TOL["double"]
            bad = [k for k in range(1, steps + 1) if not within(got[k], want[k - 1], bound)]
            w = max(worst(got[k], want[k - 1], TIGHT) for k in range(1, steps + 1))
            report(not bad, f"cg {name} double: the weights equal the reference's at every step "
                   f"({steps}) within 1e-10 |ref| + 1e-13", f"off at steps {bad}: "
                   f"{got.get(bad[0]) if bad else ''} vs {want[bad[0] - 1] if bad else ''}")
            print(f"# cg {name} double: worst {w:.3g} of 1e-12 |ref| + 1e-14; final {want[-1]}")
            # d, the previous gradient and the counters are checkpointed
            exe = os.path.join("out", f"cg_{name}")
            run([exe, "train", "--steps", "2", "--weights", "r.weights", "--checkpoint", "ck",
                 "-q"], folder)
            run([exe, "train", "--steps", str(steps), "--weights", "r.weights", "--checkpoint",
                 "ck", "--resume", "ck", "-q"], folder)
            same = [open(os.path.join(folder, f), "rb").read() for f in ("w.weights", "r.weights")]
            report(same[0] == same[1], f"cg {name}: resuming at step 2 ends with the same weights "
                   "bit for bit")
        else:
            good = [k for k in range(1, need_f + 1) if within(got[k], want[k - 1],
                                                              oracle.TOL["float"])]
            report(len(good) == need_f, f"cg {name} float: the first {need_f} steps within "
                   "1e-5 |ref| + 1e-6", f"within at {good}")
    return got_d


def solve(A, b):
    """Gaussian elimination with partial pivoting"""
    n = len(b)
    M = [row[:] + [v] for row, v in zip(A, b)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(M[r][i]))
        M[i], M[p] = M[p], M[i]
        for r in range(i + 1, n):
            m = M[r][i] / M[i][i]
            M[r] = [u - m * v for u, v in zip(M[r], M[i])]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (M[i][n] - sum(M[i][j] * x[j] for j in range(i + 1, n))) / M[i][i]
    return x


def check_quadratic(trainc, base):
    """one CG iteration per step on least squares with n = 6 weights"""
    n = 6
    X, t, _ = make_data(n, seed=7)
    write_csv(os.path.join(base, "quad.csv"), X, t)
    problem = (LSQ[0], "quad", lsq)
    got, _, _ = trainc_run(trainc, os.path.join(base, "cg_quadratic"), "cg_quadratic", problem,
                           'cg { max_iter = 1, c2 = 1e-3, tolerance_grad = 0 }', n + 1, "double",
                           feat=n)
    A = [[sum(x[i] * x[j] for x in X) for j in range(n)] for i in range(n)]
    x_star = solve(A, [sum(x[i] * y for x, y in zip(X, t)) for i in range(n)])
    err = [max(abs(a - b) for a, b in zip(got[k], x_star)) / max(abs(v) for v in x_star)
           for k in range(n + 1)]
    print("# quadratic (n = 6): max|x_k - x*| / max|x*| by iteration: "
          + ", ".join(f"{k}: {e:.2g}" for k, e in enumerate(err)))
    report(err[n] < 1e-10 and err[n - 1] > 1e-6,
           f"cg on a quadratic of {n} parameters reaches the minimum at iteration {n}, not before",
           str(err))
    want = cg_ref(lsq, (X, t), got[0], n, max_iter=1, c2=1e-3, tolerance_grad=0)
    report(within(got[n], want[n - 1], (1e-10, 1e-13)),
           "cg on the quadratic: the reference's iterates too")


def main():
    got = oracle.setup("linesearch")
    if not got:
        return oracle.exit_status()
    trainc, base, own_tmp = got
    X, t, c = make_data()
    write_csv(os.path.join(base, "real.csv"), X, t)
    write_csv(os.path.join(base, "class.csv"), X, c)
    data = (X, t, c)
    armijo = {}
    for case in ARMIJO_CASES:
        try:
            armijo[case[0]] = check_armijo(trainc, base, case, data)
        except (RuntimeError, KeyError, IndexError) as e:
            report(False, f"armijo {case[0]}: runs", str(e))
    try:
        check_armijo_stall(trainc, base, data)
    except (RuntimeError, KeyError, IndexError) as e:
        report(False, "armijo stall: runs", str(e))
    cg = {}
    for case in CG_CASES:
        try:
            cg[case[0]] = check_cg(trainc, base, case, data)
        except (RuntimeError, KeyError, IndexError) as e:
            report(False, f"cg {case[0]}: runs", str(e))
    try:
        check_quadratic(trainc, base)
    except (RuntimeError, KeyError, IndexError) as e:
        report(False, "cg quadratic: runs", str(e))
    # negative controls: the comparisons can fail
    if "lsq" in armijo:
        got, _ = armijo["lsq"]["double"]
        other = armijo_ref(lsq, data, got[0], 12, lr=1.3, c=0.45, shrink=0.6)
        report(not all(within(got[k], other[k - 1][0], TIGHT) for k in range(1, 13)),
               "mismatch detected: armijo reference with shrink 0.6 against trainc's 0.7")
    if "logistic" in armijo:
        got, _ = armijo["logistic"]["double"]
        other = armijo_ref(logistic, data, got[0], 12, lr=30, c=1e-4)
        report(not all(within(got[k], other[k - 1][0], TIGHT) for k in range(1, 13)),
               "mismatch detected: armijo reference with c 1e-4 against trainc's 0.3")
    if cg.get("rosen"):
        got = cg["rosen"]
        other = cg_ref(rosen, data, got[0], 4, beta="fletcher_reeves", max_iter=5)
        report(not within(got[4], other[3], TIGHT),
               "mismatch detected: cg reference with Fletcher-Reeves against trainc's PR+")
        other = cg_ref(rosen, data, got[0], 4, max_iter=5, clip=False)
        report(not within(got[4], other[3], TIGHT),
               "mismatch detected: cg reference without PR+'s max(0, beta)")
    if own_tmp and not oracle.exit_status():
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
