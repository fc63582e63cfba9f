#!/usr/bin/env python3
"""test_ops.py — every op's tests, read from its family's table in
tests/ops/ (arithmetic, activations, reductions, shapes, matmul, losses,
norm, conv; the kinds of row are in tests/ops/rows.py). An op's tests are
rows: adding an op means adding its rows to its family's table.

1. Gradient checks (GRADCHECK rows): the backward pass against central finite
   differences (the trainer's `gradcheck`) in double precision, max relative
   error <= 1e-6, at odd sizes and at one element. A family's rows at one
   size and data kind make one spec. `case "what"` starts a case: the
   parameters made after it are named "c<case>_p<k>", so gradcheck's
   per-parameter report maps back to the case. `obj(t)` adds mean(t * W) to
   the objective, W ~ N(0, 1) of t's shape, so the gradient reaching t is
   neither all ones nor all equal.

2. Against PyTorch 1.13 (TORCH rows), forward values and gradients on the
   same inputs, float32 and --dtype double. One spec holds every row; a
   single SGD step with lr = 1 from zero-initialised parameters reads the
   results out exactly (0 - 1 * g = -g in floating point):

     sum(f(a) * w) + sum(f(a + z) * g)    w, z zeros; a, g fixed (frozen)

   so that w becomes -f(a) and z becomes -f'(a) g. A loss reads out the
   same way: loss(p + zp, t + zt) gives -dloss/dp and -dloss/dt in zp and
   zt, and loss(p, t) * wl the value in wl. Losses of class indices take
   their logits through a one-hot input: matmul(x, l + zl) with x the rows
   of the identity is l exactly, and its gradient reaches zl exactly. The
   inputs (float32 values, the same in both dtypes) include the kinks, where
   the gradient is torch's convention (elu at 0, hardtanh at its bounds,
   softplus at its threshold, huber and smooth_l1 at |x - y| == delta or
   beta, kl_div at a target of 0: the term 0, the target's gradient NaN as
   torch's xlogy gives it), and large and tiny values.
   Tolerances (as the other PyTorch tests):
     float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6
     double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13
   NaN must meet NaN. A row's `wrong` function is a negative control: it
   must not match.

3. Shapes (SHAPES rows): the dimensions trainc gives each expression, at the
   odd sizes, one spec per family.

4. Refusals (REFUSED rows): trainc gen exits 2 naming the spec file and the
   offending line, with the row's text, without crashing.

Negative controls for the gradient checks: an impossible tolerance; the
generated tanh backward off by 0.1% (the tanh case must fail, relu's pass);
batch norm's backward without the path through the batch mean (the
batch_norm cases fail, dropout's pass).

Run from the repo root: /usr/bin/python3 tests/test_ops.py [FAMILY...]
Environment: TRAINC (the trainc binary; default build/gen/trainc), TRAINC_TMP
(scratch folder; default a temporary one). Prints "ok - name" / "not ok -
name"; exits 1 on any failure. A missing torch is a failure, not a skip."""
import importlib
import os
import re
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from string import Template

import oracle
from oracle import TOL, close, report, require_torch

require_torch()
import numpy as np
import torch

# kl_div's 'mean' is tested on purpose, as torch defines it today
warnings.filterwarnings("ignore", message="reduction: 'mean' divides")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops"))
# The families' specs make model.c files of up to 2 MB: under tests/run their
# trainers are compiled at -O1 (tests/run's cc appends TRAINC_TEST_CFLAGS).
# The results are the same IEEE numbers (no contraction, no reassociation
# at any level: -std=c11, no -ffast-math) at a third of -O3's compile time;
# the other suites build at the users' -O3.
os.environ.setdefault("TRAINC_TEST_CFLAGS", "-O1")

FAMILIES = ["arithmetic", "activations", "reductions", "shapes", "matmul", "losses", "norm", "conv"]
# B batch, D features, N M Q widths, K classes. "wide" holds images of up to
# 84 = 2·7·6 = 1·12·7 values as x itself (conv2d_direct of the input).
SIZES = {
    "odd": dict(B=7, D=5, N=3, M=5, Q=13, K=3),
    "one": dict(B=1, D=1, N=1, M=1, Q=1, K=2),
    "wide": dict(B=3, D=84, N=1, M=1, Q=1, K=2),
    "wide_one": dict(B=1, D=84, N=1, M=1, Q=1, K=2),
}
GRAD_TOL = 1e-6
NP = {"float": np.float32, "double": np.float64}
TT = {"float": torch.float32, "double": torch.float64}
CRASH = ("Segmentation fault", "core dumped", "internal error", "Illegal instruction")


def run(cmd, cwd=None, timeout=600):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def fill(text, sizes):
    """$B ... $K in a row's text at these sizes; ${NM} is N·M."""
    return Template(text).substitute(sizes, NM=sizes["N"] * sizes["M"])


# ---- part 1: gradient checks ----

PRELUDE = r"""
local ncase, count, terms = 0, 0, {}
local function case(what) ncase = ncase + 1 end
local function pname() count = count + 1; return "c" .. ncase .. "_p" .. count end
-- a parameter [dims], N(0, 1) unless init is given
local function P(dims, init)
  dims.init, dims.name = init or normal(0, 1), pname()
  return param(dims)
end
-- linear(x, n) named for the case; with a bias unless bias == false
local function L(x, n, bias) return linear(x, n, { name = pname(), bias = bias ~= false }) end
local function obj(t)
  local dims = {}
  for i, d in ipairs(t:shape()) do
    if d ~= "B" then dims[#dims + 1] = d elseif i > 1 then dims[#dims + 1] = 1 end
  end
  if #dims == 0 then dims[1] = 1 end
  terms[#terms + 1] = mean(t * P(dims))
end
-- sum(terms) / sqrt(#terms): O(1), as one term alone. The finite differences
-- carry rounding noise of about 1e-16 |loss| / h, which gradcheck's absolute
-- floor (1e-3) does not scale with. The terms are added in pairs, each sum
-- reshaped so that they do not all become one fused loop.
local function objective()
  local scale = 1 / math.sqrt(#terms)
  while #terms > 1 do
    local pairs_ = {}
    for i = 1, #terms, 2 do
      pairs_[#pairs_ + 1] = terms[i + 1] and (terms[i] + terms[i + 1]):reshape { 1 } or terms[i]
    end
    terms = pairs_
  end
  return terms[1] * scale
end
"""

# after h: images, conv2d named for the case, x as images, conv2d_direct forced
IMAGES = r"""
local function img(c, hh, ww) return h(c * hh * ww):reshape { c, hh, ww } end
local function C(t, oc, o) o.name = pname(); return conv2d(t, oc, o) end
local function X(c, hh, ww) return x:reshape { c, hh, ww } end
local function DC(t, oc, o) o.name, o.algo = pname(), "direct"; return conv2d(t, oc, o) end
"""


def head(name, data, s):
    """The spec's first lines: model, data, x and y."""
    if data == "reg":
        return [f'model "{name}"', f"data = linreg {{ n = {s['B']}, d = {s['D']}, noise = 0.1 }}",
                f"local x = input {{ {s['D']} }}", "local y = labels { 1 }"]
    return [f'model "{name}"', f"data = spirals {{ n = {s['B']} }}", "local x = input { 2 }",
            f"local y = labels {{ classes = {s['K']} }}"]


def gradcheck_spec(name, data, at, cases):
    s = SIZES[at]
    lines = head(name, data, s) + [PRELUDE, f"local function h(n) return L(x, n or {s['N']}) end", IMAGES]
    for c in cases:
        what = fill(c.name, s)
        assert '"' not in what and "\\" not in what, what
        lines.append(f'case "{what}"')
        lines.append(fill(c.lua, s))
    lines += ["minimize(objective())", "optimizer = sgd { lr = 0.1 }", f"train {{ batch = {s['B']}, shuffle = false }}"]
    return "\n".join(lines) + "\n"


def gradcheck_specs(tables):
    """{spec name: (spec text, case names in order)}: a family's cases at one
    size and data kind."""
    specs = {}
    for family, t in tables.items():
        groups = {}
        for c in getattr(t, "GRADCHECK", []):
            for at in c.at:
                groups.setdefault((at, c.data), []).append(c)
        for (at, data), cases in groups.items():
            name = f"{family}{'_cls' if data == 'cls' else ''}_{at}"
            specs[name] = (gradcheck_spec(name, data, at, cases), [fill(c.name, SIZES[at]) for c in cases])
    return specs


def laid_out(path):
    """Generated C as clang-format should leave it: no statement at column 0,
    no comment line glued to the next, no line broken with a backslash."""
    bad = re.compile(r"^(for|if|while|switch|return|do|else)([ (;{]|$)|^\{\{|^\{ *[a-z]|[.]lua:[0-9]+ [^*]|\\$")
    with open(path) as f:
        return [line for line in f if bad.search(line.rstrip("\n"))]


def gradcheck_errors(out, names):
    """[(case name, worst max relative error)] in case order from gradcheck's
    per-parameter lines "c<k>_p<j> ... max relative error E"."""
    worst = {}
    for line in out.splitlines():
        m = re.match(r"c(\d+)_\S*\s.* max relative error (\S+)$", line)
        if m and not line.startswith("gradcheck"):
            name = names[int(m.group(1)) - 1]
            worst[name] = max(worst.get(name, 0.0), float(m.group(2)))
    return [(n, worst[n]) for n in dict.fromkeys(names) if n in worst]


def build(trainc, spec_path, out_dir, *extra):
    return run([trainc, "build", "-q", spec_path, "-o", out_dir, *extra])


def part_gradcheck(trainc, base, tables):
    dir_ = os.path.join(base, "grad")
    os.makedirs(dir_, exist_ok=True)
    specs = gradcheck_specs(tables)
    for name, (text, _) in specs.items():
        with open(os.path.join(dir_, name + ".lua"), "w") as f:
            f.write(text)

    def build_one(name):
        return build(trainc, os.path.join(dir_, name + ".lua"), os.path.join(dir_, name), "--dtype", "double")

    with ThreadPoolExecutor(max_workers=2) as pool:
        builds = dict(zip(specs, pool.map(build_one, specs)))
    outputs = {}
    for name, (_, names) in specs.items():
        exe = os.path.join(dir_, name, name)
        report(builds[name].returncode == 0 and os.access(exe, os.X_OK), f"{name}: generates and builds",
               (builds[name].stdout + builds[name].stderr).strip()[-1500:])
        if builds[name].returncode != 0:
            continue
        bad = laid_out(os.path.join(dir_, name, "model.c"))
        report(not bad, f"{name}: model.c is laid out (indented, one comment line per line written)", "".join(bad[:3]))
        r = run([exe, "gradcheck"], cwd=os.path.join(dir_, name))
        outputs[name] = r.stdout + r.stderr
        report(r.returncode == 0, f"{name}: gradcheck exits 0", outputs[name][-600:])
        results = gradcheck_errors(outputs[name], names)
        for what, err in results:
            report(err <= GRAD_TOL, f"{name}: {what} (max relative error {err:.3g})")
        # and no case went unreported (at one element some names coincide)
        want = len(set(names))
        report(len(results) == want, f"{name}: all {want} cases reported (got {len(results)})")
    kernel_choices(dir_, builds)
    negative_gradchecks(trainc, dir_, specs, builds)


def kernel_choices(dir_, builds):
    """The convolutions of the input take both paths of conv.c: direct (2 and
    4 taps) and im2col (33 taps); the forced direct ones every block size."""
    def model_c(name):
        with open(os.path.join(dir_, name, "model.c")) as f:
            return f.read()
    for name in ("conv_odd", "conv_one"):
        if builds.get(name) is None or builds[name].returncode:
            continue
        c = model_c(name)
        report(len(re.findall(r" = conv2d_direct\(reshape", c)) >= 2
               and re.search(r" = im2col\(reshape[0-9]*\)  \[[0-9]* x 33 x", c) is not None,
               f"{name}: two convolutions of the input are conv2d_direct, one (33 taps, algo im2col) is im2col of x")
    for name in ("conv_wide", "conv_wide_one"):
        if builds.get(name) is None or builds[name].returncode:
            continue
        c = model_c(name)
        direct = set(re.findall(r"/\* [a-z0-9_]* = conv2d_direct\(reshape", c))
        im2col = set(re.findall(r"/\* [a-z0-9_]* = im2col\(reshape", c))
        report(len(direct) == 4 and len(im2col) == 1 and all(f"o0 += {k})" in c for k in (4, 2, 1)),
               f"{name}: four convolutions are conv2d_direct (blocks of 4, 2 and 1 channels), one im2col")
        log = builds[name].stdout + builds[name].stderr
        report("warning" not in log.lower(), f"{name}: builds warning-free", log[-600:])
        report("const real *xr = xp[c][i];" in c and "? xr[" not in c,
               f"{name}: column padding reads copied rows, no select")


def altered_gradcheck(trainc, dir_, name, tag, pattern, repl):
    """A copy of spec NAME's folder with model.c's backward altered by the
    regex; returns (was it altered, gradcheck's exit status, its output)."""
    neg = os.path.join(dir_, f"neg_{tag}")
    shutil.rmtree(neg, ignore_errors=True)
    shutil.copytree(os.path.join(dir_, name), neg)
    path = os.path.join(neg, "model.c")
    with open(path) as f:
        c = f.read()
    c2 = re.sub(pattern, repl, c)
    with open(path, "w") as f:
        f.write(c2)
    run(["ninja", "-C", neg])
    r = run([os.path.join(neg, name), "gradcheck"], cwd=neg)
    return c2 != c, r.returncode, r.stdout + r.stderr


def negative_gradchecks(trainc, dir_, specs, builds):
    """Each when its family's spec was built (all of them in tests/run)."""
    built = lambda name: builds.get(name) is not None and builds[name].returncode == 0  # noqa: E731
    if built("arithmetic_odd"):
        exe = os.path.join(dir_, "arithmetic_odd", "arithmetic_odd")
        r = run([exe, "gradcheck", "--quiet", "--tol", "1e-30"], cwd=os.path.dirname(exe))
        report(r.returncode == 1, "negative: gradcheck --tol 1e-30 exits 1", f"exit {r.returncode}")
        report(re.search(r"^gradcheck FAILED", r.stdout + r.stderr, re.M) is not None,
               "negative: gradcheck --tol 1e-30 says FAILED")
    if built("activations_odd"):
        negative_tanh(trainc, dir_, specs["activations_odd"][1])
    if built("norm_odd"):
        negative_batch_norm(trainc, dir_, specs["norm_odd"][1])


def worst(out, names, what):
    return dict(gradcheck_errors(out, names)).get(what, float("nan"))


def negative_tanh(trainc, dir_, names):
    """tanh's dy (1 - y^2) becomes dy (1.001 - y^2): the tanh case alone fails."""
    altered, rc, out = altered_gradcheck(trainc, dir_, "activations_odd", "tanh",
                                         r"\(1 - (tanh[0-9]+)\[", r"(1.001 - \1[")
    report(altered, "negative: the tanh backward was altered")
    report(rc == 1, "negative: gradcheck of the altered code exits 1", f"exit {rc}")
    e = worst(out, names, "tanh")
    report(e > GRAD_TOL, f"negative: the tanh case fails (max relative error {e:.3g})")
    e = worst(out, names, "relu")
    report(e <= GRAD_TOL, f"negative: the relu case still passes (max relative error {e:.3g})")


def negative_batch_norm(trainc, dir_, names):
    """batch_norm's backward without the path through the batch mean."""
    altered, rc, out = altered_gradcheck(trainc, dir_, "norm_odd", "bn",
                                         r" - mg(\[c\])? - ", r" - 0 * mg\1 - ")
    report(altered, "negative: the batch_norm backward was altered")
    report(rc == 1, "negative: gradcheck of the altered batch_norm exits 1", f"exit {rc}")
    for what in (f"batch_norm 1d [{SIZES['odd']['B']} x {SIZES['odd']['N']}]",
                 fill("batch_norm 2d [$B x $N x $M x 2]", SIZES["odd"])):
        e = worst(out, names, what)
        report(e > GRAD_TOL, f"negative: the {what} case fails (max relative error {e:.3g})")
    e = worst(out, names, "dropout(h, 0.3)")
    report(e <= GRAD_TOL, f"negative: the dropout case still passes (max relative error {e:.3g})")


# ---- part 2: against torch ----

R, C = 8, 5  # rows of the one-hot input, classes



def special_inputs():
    """[4 x 16] float32 values: the kinks and edges of every activation
    tested, then N(0, 3) draws."""
    pts = [0, 1, -1, -0.5, 2, 6, 2.5, -2, 20, 20.5, 19.5, -30, -10, 10, -1e-10, 1e-10,
           -1e-5, 1e-3, 5, -5, 0.5, 3, -3, 0.75, -0.25, 40, -60]
    r = np.random.RandomState(7)
    rest = r.randn(64 - len(pts)) * 3
    return np.array(pts + list(rest), dtype=np.float32).reshape(4, 16)


def pair_inputs(kind):
    """prediction and target [4 x 6], float32; huber/smooth_l1 differences
    include exactly 0, ±0.5, ±1 (the deltas and betas used)."""
    r = np.random.RandomState(11)
    if kind == "kl":  # log-probabilities; probabilities with exact zeros
        z = r.randn(4, 6)
        p = (z - np.log(np.exp(z).sum(1, keepdims=True))).astype(np.float32)
        t = np.exp(r.randn(4, 6))
        t[0, 0] = t[1, 3] = t[3, 5] = 0
        return p, (t / t.sum(1, keepdims=True)).astype(np.float32)
    if kind == "kl_pos":
        z = r.randn(4, 6)
        p = (z - np.log(np.exp(z).sum(1, keepdims=True))).astype(np.float32)
        t = np.exp(r.randn(4, 6))
        return p, (t / t.sum(1, keepdims=True)).astype(np.float32)
    if kind == "kl_log":
        return (r.randn(4, 6) - 2).astype(np.float32), (r.randn(4, 6) - 2).astype(np.float32)
    t = (r.randn(4, 6) * 2).astype(np.float32)
    d = (r.randn(4, 6) * 1.5).astype(np.float32)
    d.ravel()[:7] = [0, 0.5, -0.5, 1, -1, 2, -2]
    t.ravel()[:7] = [0.25, 1.5, -2, 0.5, 3, -1, 0.125]  # t + d exact in float32
    return (t + d).astype(np.float32), t


def class_inputs(kind, k):
    r = np.random.RandomState(100 + k)
    z = r.randn(R, C) * 2
    if kind == "logprob":
        z = z - np.log(np.exp(z).sum(1, keepdims=True))
    return z.astype(np.float32)


def labels():
    return np.random.RandomState(5).randint(0, C, R)


def torch_spec(rows, dtype):
    """The spec and the fixed parameter values ({name: array}) of part 2."""
    lines = [f'model "ops_torch_{dtype}"',
             'data = csv { train = "onehot.csv", label = "y", header = true }',
             f"local x = input {{ {R} }}", f"local y = labels {{ classes = {C} }}",
             "local terms = {}",
             "local function P(n, r, c, frozen) return param { r, c, name = n, frozen = frozen } end"]
    fixed = {}
    a = special_inputs()
    g = np.random.RandomState(3).randn(*a.shape).astype(np.float32)
    for k, row in enumerate(rows):
        if row.form == "unary":
            fixed[f"r{k}_a"], fixed[f"r{k}_g"] = a, g
            lines.append(f"do local a, g = P('r{k}_a', 4, 16, true), P('r{k}_g', 4, 16, true)")
            lines.append(f"  local w, z = P('r{k}_w', 4, 16), P('r{k}_z', 4, 16)")
            lines.append(f"  terms[#terms + 1] = sum({row.lua % 'a'} * w) + sum({row.lua % '(a + z)'} * g) end")
        elif row.form == "pair":
            fixed[f"r{k}_p"], fixed[f"r{k}_t"] = pair_inputs(row.kind)
            lines.append(f"do local p, t = P('r{k}_p', 4, 6, true), P('r{k}_t', 4, 6, true)")
            lines.append(f"  local zp, zt, wl = P('r{k}_zp', 4, 6), P('r{k}_zt', 4, 6), param {{ 1, name = 'r{k}_wl' }}")
            lines.append(f"  terms[#terms + 1] = {row.lua % {'p': '(p + zp)', 't': '(t + zt)'}}"
                         f" + sum({row.lua % {'p': 'p', 't': 't'}} * wl) end")
        else:
            fixed[f"r{k}_l"] = class_inputs(row.kind, k)
            lines.append(f"do local l, zl = P('r{k}_l', {R}, {C}, true), P('r{k}_zl', {R}, {C})")
            lines.append(f"  local wl = param {{ 1, name = 'r{k}_wl' }}")
            lines.append(f"  terms[#terms + 1] = {row.lua % {'z': 'matmul(x, l + zl)'}}"
                         f" + sum({row.lua % {'z': 'matmul(x, l)'}} * wl) end")
    lines += ["local total = terms[1]", "for i = 2, #terms do total = total + terms[i] end",
              "minimize(total)", "optimizer = sgd { lr = 1 }",
              f"train {{ batch = {R}, epochs = 1, shuffle = false }}"]
    return "\n".join(lines) + "\n", fixed


def run_torch_rows(trainc, rows, dtype, folder):
    """Builds the part-2 trainer, takes its one step; returns {name: array} after it."""
    os.makedirs(os.path.join(folder, "init"), exist_ok=True)
    spec, fixed = torch_spec(rows, dtype)
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    y = labels()
    with open(os.path.join(folder, "onehot.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(R)] + ["y"]) + "\n")
        for i in range(R):
            f.write(",".join(["1" if j == i else "0" for j in range(R)] + [str(int(y[i]))]) + "\n")
    for name, v in fixed.items():
        np.save(os.path.join(folder, "init", name + ".npy"), v.astype(NP[dtype]))
    exe = os.path.join(folder, "trainer", f"ops_torch_{dtype}")
    cmds = [[trainc, "build", "spec.lua", "-o", "trainer", "--dtype", dtype, "-q"],
            [exe, "train", "--epochs", "1", "--init", "init", "--weights", "w.weights", "--quiet",
             "--no-guard"],  # kl_div's target gradient is NaN where the target is 0, as torch's
            [exe, "export", "final", "--weights", "w.weights"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[:2])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    final = os.path.join(folder, "final")
    return {f[:-4]: np.load(os.path.join(final, f)) for f in os.listdir(final) if f.endswith(".npy")}


def torch_result(row, k, got, dtype, fn):
    """torch's [(what, trainc's values, torch's values)] for row k with fn."""
    tensor = lambda v, grad: torch.tensor(v.astype(np.float64), dtype=TT[dtype], requires_grad=grad)  # noqa: E731
    if row.form == "unary":
        a, g = tensor(got[f"r{k}_a"], True), tensor(got[f"r{k}_g"], False)
        y = fn(a)
        (y * g).sum().backward()
        return [("forward values match torch", -got[f"r{k}_w"], y.detach().numpy()),
                ("gradient matches torch (kinks included)", -got[f"r{k}_z"], a.grad.numpy())]
    if row.form == "pair":
        p, t = tensor(got[f"r{k}_p"], True), tensor(got[f"r{k}_t"], True)
        loss = fn(p, t)
        loss.backward()
        return [("loss matches torch", -got[f"r{k}_wl"], [loss.item()]),
                ("gradient of the prediction matches torch", -got[f"r{k}_zp"], p.grad.numpy()),
                ("gradient of the target matches torch", -got[f"r{k}_zt"], t.grad.numpy())]
    z = tensor(got[f"r{k}_l"], True)
    loss = fn(z, torch.tensor(labels(), dtype=torch.int64))
    loss.backward()
    return [("loss matches torch", -got[f"r{k}_wl"], [loss.item()]),
            ("gradient of the logits matches torch", -got[f"r{k}_zl"], z.grad.numpy())]


def check_torch_rows(rows, dtype, got):
    for k, row in enumerate(rows):
        for what, mine, theirs in torch_result(row, k, got, dtype, row.torch):
            ok, d = close(mine, theirs, dtype)
            nans = int(np.isnan(np.asarray(theirs, np.float64)).sum())
            note = f" ({nans} NaN where torch has NaN)" if nans else ""
            report(ok, f"{dtype}: {row.name}: {what}{note}", d)
        if row.wrong:
            desc, fn = row.wrong
            matches = all(close(mine, theirs, dtype)[0] for _, mine, theirs in torch_result(row, k, got, dtype, fn))
            report(not matches, f"{dtype}: mismatch detected: {row.name} against {desc}")


def part_torch(trainc, base, tables):
    rows = [r for t in tables.values() for r in getattr(t, "TORCH", [])]
    if not rows:
        return

    def work(dtype):
        return run_torch_rows(trainc, rows, dtype, os.path.join(base, f"torch_{dtype}"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(TOL, pool.map(work, TOL)))
    for dtype, got in results.items():
        if isinstance(got, str):
            report(False, f"{dtype}: the trainer of every torch row builds and runs", got)
        else:
            check_torch_rows(rows, dtype, got)


# ---- part 3: shapes; part 4: refusals ----

def shape_spec(family, rows):
    """Evaluates each expression and ends in an error that lists their shapes."""
    s = SIZES["odd"]
    lines = head(f"shapes_{family}", "reg", s) + [PRELUDE, f"local function h(n) return L(x, n or {s['N']}) end",
                                                   IMAGES, "local got = {}"]
    for r in rows:
        lines.append(f"got[#got + 1] = table.concat(({fill(r.lua, s)}):shape(), ' x ')")
    lines.append("error('shapes: ' .. table.concat(got, ';') .. ';', 0)")
    return "\n".join(lines) + "\n"


def part_shapes(trainc, base, tables):
    dir_ = os.path.join(base, "shapes")
    os.makedirs(dir_, exist_ok=True)
    for family, t in tables.items():
        rows = getattr(t, "SHAPES", [])
        if not rows:
            continue
        path = os.path.join(dir_, family + ".lua")
        with open(path, "w") as f:
            f.write(shape_spec(family, rows))
        r = run([trainc, "gen", "-q", path, "-o", os.path.join(dir_, "out")])
        m = re.search(r"shapes: (.*);", r.stdout + r.stderr)
        if not m:
            report(False, f"shapes {family}: every expression is made", (r.stdout + r.stderr).strip()[-600:])
            continue
        got = m.group(1).split(";")
        for row, dims in zip(rows, got):
            want = fill(row.want, SIZES["odd"])
            report(dims == want, f"shapes {family}: {fill(row.lua, SIZES['odd'])} is [{want}]", f"got [{dims}]")


def refused_spec(name, row):
    y = f"local y = labels {{ {row.labels} }}" if row.labels else "local y = labels { 1 }"
    lines = [f'model "{name}"', "data = xor { n = 4 }", "local x = input { 2 }", y] + row.lines
    if not any("minimize(" in line for line in row.lines):
        lines.append("minimize(bce(sigmoid(linear(x, 1)), y))")
    lines += ["optimizer = sgd { lr = 0.5 }", "train { batch = 4, epochs = 1 }"]
    return "\n".join(lines) + "\n"


def part_refused(trainc, base, tables):
    dir_ = os.path.join(base, "refused")
    os.makedirs(dir_, exist_ok=True)
    jobs = []
    for family, t in tables.items():
        for k, row in enumerate(getattr(t, "REFUSED", [])):
            name = f"{family}_{k}"
            with open(os.path.join(dir_, name + ".lua"), "w") as f:
                f.write(refused_spec(name, row))
            jobs.append((family, name, row))

    def gen(job):
        _, name, _ = job
        return run([trainc, "gen", "-q", os.path.join(dir_, name + ".lua"), "-o", os.path.join(dir_, "out", name)],
                   timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(gen, jobs))
    for (family, name, row), r in zip(jobs, results):
        out = r.stdout + r.stderr
        line = 4 + len(row.lines)
        missing = [p for p in [f"{name}.lua:{line}:"] + row.text.split("|") if p not in out]
        crashed = [c for c in CRASH if c in out]
        report(r.returncode == 2 and not missing and not crashed,
               f"refused {family}: {row.name} (exit 2, names line {line})",
               f"exit {r.returncode}; missing {missing}; crash {crashed}: {out.strip()[-400:]}")


def main():
    ready = oracle.setup("ops")
    if ready is None:
        return 1
    trainc, base, own_tmp = ready
    wanted = sys.argv[1:] or FAMILIES
    tables = {f: importlib.import_module(f) for f in FAMILIES if f in wanted}
    part_refused(trainc, base, tables)
    part_shapes(trainc, base, tables)
    part_torch(trainc, base, tables)
    part_gradcheck(trainc, base, tables)
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
