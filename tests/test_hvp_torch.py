#!/usr/bin/env python3
"""test_hvp_torch.py — model_hvp (train { hvp = true }: the Hessian-vector
product by reverse mode over the backward pass, gen/hvp.c) against
torch.autograd.functional.hvp and against central differences of the
gradient, for every op family with a second-derivative rule.

Each case is a spec and the same loss in torch, trained on nothing: the
initial weights (`train --epochs 0`, `export`) over the 7 rows of a CSV at
odd sizes (3 features, hidden widths 5 and 4, 3 classes), full batch. A
fixed random vector v (flat, in the parameters' order as `info` lists them)
goes to `<model> hvp v.npy -o hv.npy`. Checks, per case:
 - double: |Hv - torch's hvp| <= 1e-10 max|torch's hvp| (normwise);
 - double: against (g(θ + h v) - g(θ - h v)) / 2h with torch's gradient g,
   h = 1e-5: within 1e-6 normwise (O(h²) and the rounding);
 - float (some cases): within 1e-4 normwise of torch's double hvp.
The worst error of each op family is printed ("# family ...").
Negative controls: the generated tanh_backward rule -2 y w changed to
-2.02 y w in model.c (a patched copy of the generated code, rebuilt) must be
caught; and `hessian`'s λmax/λmin equal numpy's eigvalsh of the Hessian built
from torch (double), and 2/λmax is printed.

Run from the repo root: /usr/bin/python3 tests/test_hvp_torch.py
Environment: TRAINC, TRAINC_TMP as tests/oracle.py's setup."""
import os
import re
import shutil
import subprocess
import sys

import oracle
from oracle import report, require_torch

require_torch()
import numpy as np
import torch
import torch.nn.functional as F

ROWS, FEAT, HID, CLS = 7, 3, 5, 3


def lin(p, name, x):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def mlp_head(act):
    """spec lines and torch function of x -> hidden (5) with an activation"""
    return f"local h = {act}(linear(x, {HID}, {{ name = \"fc1\" }}))\n"


# (name, family, data ("class", "real", "bin"), spec body after input/labels, torch loss)
CASES = [
    ("tanh_ce", "elementwise tanh, matmul/linear, cross_entropy",
     "class", mlp_head("tanh") + f"minimize(cross_entropy(linear(h, {CLS}, {{ name = \"fc2\" }}), y))\n",
     lambda p, X, t, c: F.cross_entropy(lin(p, "fc2", torch.tanh(lin(p, "fc1", X))), c)),
    ("sigmoid_mse", "elementwise sigmoid, mse",
     "real", mlp_head("sigmoid") + "minimize(mse(linear(h, 1, { name = \"fc2\" }), y))\n",
     lambda p, X, t, c: F.mse_loss(lin(p, "fc2", torch.sigmoid(lin(p, "fc1", X))).squeeze(1), t)),
    ("relu_elu_leaky", "elementwise relu, elu, leaky_relu",
     "real", mlp_head("relu") + "local h2 = elu(linear(h, 4, { name = \"fc2\" }), 0.7)\n"
     "minimize(mse(leaky_relu(linear(h2, 1, { name = \"fc3\" }), 0.1), y))\n",
     lambda p, X, t, c: F.mse_loss(F.leaky_relu(lin(p, "fc3", F.elu(lin(p, "fc2", F.relu(
         lin(p, "fc1", X))), 0.7)), 0.1).squeeze(1), t)),
    ("gelu_softplus", "elementwise gelu (erf and tanh), softplus",
     "real", mlp_head("gelu") + "local h2 = gelu(linear(h, 4, { name = \"fc2\" }), \"tanh\")\n"
     "minimize(mse(softplus(linear(h2, 1, { name = \"fc3\" }), 2), y))\n",
     lambda p, X, t, c: F.mse_loss(F.softplus(lin(p, "fc3", F.gelu(lin(p, "fc2", F.gelu(
         lin(p, "fc1", X))), approximate="tanh")), beta=2).squeeze(1), t)),
    ("hardtanh_silu_mish", "elementwise hardtanh, silu, mish (composites)",
     "real", mlp_head("silu") + "local h2 = mish(linear(h, 4, { name = \"fc2\" }))\n"
     "minimize(mse(hardtanh(linear(h2, 1, { name = \"fc3\" }), -0.3, 0.4), y))\n",
     lambda p, X, t, c: F.mse_loss(F.hardtanh(lin(p, "fc3", F.mish(lin(p, "fc2", F.silu(
         lin(p, "fc1", X))))), -0.3, 0.4).squeeze(1), t)),
    ("math", "elementwise exp, log, sqrt, abs, div, pow, sum/mean",
     "real", "local z = linear(x, 4, { name = \"fc1\" })\n"
     "local a = log(1 + exp(z)) / sqrt(z ^ 2 + 1) + abs(z) ^ 3 * 0.1\n"
     "minimize(mean(a * y) + mean(1 / (z * z + 2)))\n",
     lambda p, X, t, c: ((torch.log(1 + torch.exp(lin(p, "fc1", X))) / torch.sqrt(
         lin(p, "fc1", X) ** 2 + 1) + lin(p, "fc1", X).abs() ** 3 * 0.1) * t[:, None]).mean()
     + (1 / (lin(p, "fc1", X) ** 2 + 2)).mean()),
    ("bce", "loss bce",
     "bin", mlp_head("tanh") + "minimize(bce(sigmoid(linear(h, 1, { name = \"fc2\" })), y))\n",
     lambda p, X, t, c: F.binary_cross_entropy(torch.sigmoid(lin(p, "fc2", torch.tanh(
         lin(p, "fc1", X)))).squeeze(1), t)),
    ("bce_logits", "loss bce_with_logits",
     "bin", mlp_head("tanh") + "minimize(bce_with_logits(linear(h, 1, { name = \"fc2\" }), y))\n",
     lambda p, X, t, c: F.binary_cross_entropy_with_logits(lin(p, "fc2", torch.tanh(
         lin(p, "fc1", X))).squeeze(1), t)),
    ("logistic", "loss logistic",
     "real", mlp_head("tanh") + "minimize(logistic(linear(h, 1, { name = \"fc2\" }), y / abs(y)))\n",
     lambda p, X, t, c: F.softplus(-(t / t.abs()) * lin(p, "fc2", torch.tanh(
         lin(p, "fc1", X))).squeeze(1)).mean()),
    ("nll_log_softmax", "loss nll, log_softmax",
     "class", mlp_head("tanh") +
     f"minimize(nll(log_softmax(linear(h, {CLS}, {{ name = \"fc2\" }})), y))\n",
     lambda p, X, t, c: F.nll_loss(F.log_softmax(lin(p, "fc2", torch.tanh(lin(p, "fc1", X))), 1), c)),
    ("ce_smooth_sum", "loss cross_entropy (label smoothing, sum)",
     "class", mlp_head("tanh") + f"minimize(cross_entropy(linear(h, {CLS}, {{ name = \"fc2\" }}), y, "
     "{ label_smoothing = 0.1, reduction = \"sum\" }))\n",
     lambda p, X, t, c: F.cross_entropy(lin(p, "fc2", torch.tanh(lin(p, "fc1", X))), c,
                                        label_smoothing=0.1, reduction="sum")),
    ("huber_smooth_l1", "loss huber, smooth_l1",
     "real", mlp_head("tanh") + "local o = linear(h, 1, { name = \"fc2\" })\n"
     "minimize(huber(o, y, { delta = 0.5 }) + smooth_l1(o * 2, y, { beta = 0.7 }))\n",
     lambda p, X, t, c: F.huber_loss(lin(p, "fc2", torch.tanh(lin(p, "fc1", X))).squeeze(1), t,
                                     delta=0.5)
     + F.smooth_l1_loss(2 * lin(p, "fc2", torch.tanh(lin(p, "fc1", X))).squeeze(1), t, beta=0.7)),
    ("softmax_shape", "softmax, transpose, reshape, matmul of activations",
     "real", "local s = softmax(tanh(linear(x, 4, { name = \"fc1\" })))\n"
     "local g = matmul(transpose(s), s):reshape { 16 }\n"
     "minimize(mean(g ^ 2) + mean(s * y))\n",
     lambda p, X, t, c: ((torch.softmax(torch.tanh(lin(p, "fc1", X)), 1).T @ torch.softmax(
         torch.tanh(lin(p, "fc1", X)), 1)).reshape(16) ** 2).mean()
     + (torch.softmax(torch.tanh(lin(p, "fc1", X)), 1) * t[:, None]).mean()),
]
CNN = ("local h = tanh(conv2d(x, 2, { kernel = 3, padding = 1, name = \"c1\" }))\n"
       "local h2 = avg_pool2d(tanh(conv2d(h, 3, { kernel = 2, name = \"c2\" })), 2)\n"
       "minimize(cross_entropy(linear(flatten(h2), 3, { name = \"fc\" }), y))\n")


def cnn_loss(p, X, t, c):
    h = torch.tanh(F.conv2d(X.reshape(-1, 1, 5, 6), p["c1.weight"], p["c1.bias"], padding=1))
    h2 = F.avg_pool2d(torch.tanh(F.conv2d(h, p["c2.weight"], p["c2.bias"])), 2)
    return F.cross_entropy(lin(p, "fc", h2.flatten(1)), c)


CASES.append(("cnn", "conv2d (direct and im2col), avg_pool2d", "img", CNN, cnn_loss))
CNN_MAX = ("local h = conv2d(x, 3, { kernel = 2, name = \"c1\" })\n"
           "local h2 = max_pool2d(tanh(h), { kernel = 2, stride = 1 })\n"
           "local h3 = max_pool2d(elu(conv2d(h2, 2, { kernel = 2, name = \"c2\" })), 2)\n"
           "minimize(cross_entropy(linear(flatten(h3), 3, { name = \"fc\" }), y))\n")


def cnn_max_loss(p, X, t, c):
    h = F.conv2d(X.reshape(-1, 1, 5, 6), p["c1.weight"], p["c1.bias"])
    h2 = F.max_pool2d(torch.tanh(h), 2, stride=1)
    h3 = F.max_pool2d(F.elu(F.conv2d(h2, p["c2.weight"], p["c2.bias"])), 2)
    return F.cross_entropy(lin(p, "fc", h3.flatten(1)), c)


CASES.append(("cnn_max", "max_pool2d (overlapping and not)", "img", CNN_MAX, cnn_max_loss))


def bn(p, name, z):
    return F.batch_norm(z, None, None, p[name + ".weight"], p[name + ".bias"], training=True,
                        eps=1e-5)


CASES.append(("bn_mlp", "batch_norm (training mode)", "class",
              mlp_head("tanh") + "local b = batch_norm(linear(h, 4, { name = \"fc2\" }), { name = \"bn1\" })\n"
              f"minimize(cross_entropy(linear(sigmoid(b), {CLS}, {{ name = \"fc3\" }}), y))\n",
              lambda p, X, t, c: F.cross_entropy(lin(p, "fc3", torch.sigmoid(bn(p, "bn1", lin(
                  p, "fc2", torch.tanh(lin(p, "fc1", X)))))), c)))
CASES.append(("bn_cnn", "batch_norm (training mode)", "img",
              "local h = conv2d(x, 2, { kernel = 2, name = \"c1\" })\n"
              "local b = tanh(batch_norm(h, { name = \"bn1\" }))\n"
              "minimize(cross_entropy(linear(flatten(b), 3, { name = \"fc\" }), y))\n",
              lambda p, X, t, c: F.cross_entropy(lin(p, "fc", torch.tanh(bn(p, "bn1", F.conv2d(
                  X.reshape(-1, 1, 5, 6), p["c1.weight"], p["c1.bias"]))).flatten(1)), c)))
FLOAT_CASES = ("tanh_ce", "math", "bce_logits", "bn_mlp")


def make_data():
    r = np.random.RandomState(23)
    X = r.randn(ROWS, FEAT)
    t = X @ np.array([1.5, -2.0, 0.5]) + 0.7 * r.randn(ROWS)
    c = r.randint(0, CLS, ROWS)
    c[:CLS] = np.arange(CLS)
    return X, t, c


def write_csv(path, X, target):
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(X.shape[1])] + ["target"]) + "\n")
        for i in range(ROWS):
            f.write(",".join([repr(float(v)) for v in X[i]] + [repr(target[i])]) + "\n")


def run(cmd, cwd, check=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: {(r.stdout + r.stderr).strip()[-800:]}")
    return r


def param_order(exe, folder):
    """[(name, shape)] in the flat buffer's order, from `info` (the names, the
    value counts) and the exported arrays (the shapes)"""
    out = run([exe, "info"], folder).stdout.split("\n")
    i = next(k for k, l in enumerate(out) if l.startswith("parameter "))
    params = []
    for line in out[i + 1:]:
        if line.startswith("total"):
            break
        m = re.match(r"(\S+)\s+([\d x]+?)\s+(\d+)$", line.strip())
        shape = np.load(os.path.join(folder, "init", m.group(1) + ".npy")).shape
        assert int(np.prod(shape)) == int(m.group(3)), line
        params.append((m.group(1), shape))
    return params


def build(trainc, folder, name, data, body, dtype):
    os.makedirs(folder, exist_ok=True)
    label = "labels { classes = %d }" % CLS if data in ("class", "img") else "labels { 1 }"
    shape = "1, 5, 6" if data == "img" else FEAT
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f'-- generated by tests/test_hvp_torch.py\nmodel "{name}"\n')
        f.write(f'data = csv {{ train = "../{data}.csv", label = "target", header = true }}\n')
        f.write(f"local x = input {{ {shape} }}\nlocal y = {label}\n")
        f.write(body)
        f.write("optimizer = sgd { lr = 0.1 }\n")
        f.write('train { batch = "full", epochs = 1, seed = 5, shuffle = false, hvp = true }\n')
    run([trainc, "build", "spec.lua", "-o", "out", "--dtype", dtype, "-q"], folder)
    exe = os.path.join("out", name)
    run([exe, "train", "--epochs", "0", "--weights", "w0.weights", "-q"], folder)
    run([exe, "export", "init", "--weights", "w0.weights"], folder)
    return exe


def trainc_hvp(exe, folder, v):
    np.save(os.path.join(folder, "v.npy"), v)
    run([exe, "hvp", "v.npy", "-o", "hv.npy", "--weights", "w0.weights", "-q"], folder)
    return np.load(os.path.join(folder, "hv.npy")).astype(np.float64)


def torch_fn(loss, order, data):
    X, t, c = (torch.tensor(data[0]), torch.tensor(data[1]), torch.tensor(data[2]))

    def f(theta):
        p, at = {}, 0
        for n, shape in order:
            k = int(np.prod(shape))
            p[n] = theta[at:at + k].reshape(shape)
            at += k
        return loss(p, X, t, c)
    return f


def normwise(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def check_case(trainc, base, case, datas, worst):
    name, family, data, body, loss = case
    folder = os.path.join(base, name)
    exe = build(trainc, folder, name, data, body, "double")
    order = param_order(os.path.join(folder, exe), folder)
    theta0 = np.concatenate([np.load(os.path.join(folder, "init", n + ".npy")).ravel()
                             for n, _ in order]).astype(np.float64)
    v = np.random.RandomState(len(name)).randn(theta0.size)
    got = trainc_hvp(exe, folder, v)
    f = torch_fn(loss, order, datas[data])
    th, tv = torch.tensor(theta0), torch.tensor(v)
    want = torch.autograd.functional.hvp(f, th, tv)[1].numpy()
    e_torch = normwise(got, want)
    report(e_torch <= 1e-10, f"{name}: Hv equals torch's hvp (double, {theta0.size} values)",
           f"normwise error {e_torch:.3g}")

    def grad(x):
        x = x.clone().requires_grad_(True)
        return torch.autograd.grad(f(x), x)[0].numpy()
    h = 1e-5
    fd = (grad(th + h * tv) - grad(th - h * tv)) / (2 * h)
    e_fd = normwise(got, fd)
    report(e_fd <= 1e-6, f"{name}: Hv equals central differences of the gradient (double)",
           f"normwise error {e_fd:.3g}")
    e_float = None
    if name in FLOAT_CASES:
        ffolder = os.path.join(base, name + "_float")
        fexe = build(trainc, ffolder, name, data, body, "float")
        np.save(os.path.join(ffolder, "v.npy"), v.astype(np.float32))
        # the float run's own initial weights, rounded: compare at them
        theta_f = np.concatenate([np.load(os.path.join(ffolder, "init", n + ".npy")).ravel()
                                  for n, _ in order]).astype(np.float64)
        got_f = trainc_hvp(fexe, ffolder, v.astype(np.float32))
        want_f = torch.autograd.functional.hvp(f, torch.tensor(theta_f), tv)[1].numpy()
        e_float = normwise(got_f, want_f)
        report(e_float <= 1e-4, f"{name}: Hv in float within 1e-4 of torch's double hvp",
               f"normwise error {e_float:.3g}")
    w = worst.setdefault(family, [0, 0, 0])
    w[0], w[1] = max(w[0], e_torch), max(w[1], e_fd)
    if e_float is not None:
        w[2] = max(w[2], e_float)
    return folder, exe, order, theta0, v, want, f


def negative_control(folder, exe, v, want):
    """the tanh rule perturbed in the generated code must be caught"""
    path = os.path.join(folder, "out", "model.c")
    src = open(path).read()
    bad = src.replace("(-2 * ", "(-2.02 * ")
    report(bad != src, "negative control: the tanh_backward rule found in model.c")
    with open(path, "w") as f:
        f.write(bad)
    run(["ninja", "-C", "out"], folder)
    got = trainc_hvp(exe, folder, v)
    e = normwise(got, want)
    report(e > 1e-6, "negative control: a perturbed second-derivative rule (tanh -2 -> -2.02) "
           "is caught", f"normwise error only {e:.3g}")
    with open(path, "w") as f:
        f.write(src)
    run(["ninja", "-C", "out"], folder)


def check_hessian(folder, exe, order, theta0, f):
    """hessian's extreme eigenvalues against numpy's eigvalsh of torch's Hessian"""
    H = torch.autograd.functional.hessian(f, torch.tensor(theta0)).numpy()
    ev = np.linalg.eigvalsh((H + H.T) / 2)
    out = run([exe, "hessian", "--weights", "w0.weights", "--iters", "3000", "--tol", "1e-12"],
              folder).stdout
    got = {k: float(v) for k, v in re.findall(r"^(lambda_max|lambda_min|2/lambda_max) (\S+)", out, re.M)}
    scale = max(abs(ev[0]), abs(ev[-1]))
    for key, want in (("lambda_max", ev[-1]), ("lambda_min", ev[0])):
        e = abs(got.get(key, np.nan) - want) / scale
        report(e <= 1e-4, f"hessian: {key} equals numpy's eigvalsh ({want:.6g}, {theta0.size} "
               "parameters)", f"got {got.get(key)}, relative error {e:.3g}")
    if ev[-1] > 0:
        e = abs(got.get("2/lambda_max", np.nan) - 2 / ev[-1]) * ev[-1] / 2
        report(e <= 1e-4, "hessian: 2/lambda_max printed", out.strip()[-200:])


def main():
    got = oracle.setup("hvp_torch")
    if not got:
        return oracle.exit_status()
    trainc, base, own_tmp = got
    X, t, c = make_data()
    b = (c % 2).astype(np.float64)
    write_csv(os.path.join(base, "class.csv"), X, [int(k) for k in c])
    write_csv(os.path.join(base, "real.csv"), X, [float(k) for k in t])
    write_csv(os.path.join(base, "bin.csv"), X, [float(k) for k in b])
    images = np.random.RandomState(29).randn(ROWS, 30)
    write_csv(os.path.join(base, "img.csv"), images, [int(k) for k in c])
    datas = {"class": (X, t, c), "real": (X, t, c), "bin": (X, b, c), "img": (images, t, c)}
    worst, kept = {}, {}
    only = sys.argv[1:]  # case names, to run a few while working on them
    for case in CASES:
        if only and case[0] not in only:
            continue
        try:
            kept[case[0]] = check_case(trainc, base, case, datas, worst)
        except RuntimeError as e:
            report(False, f"{case[0]}: runs", str(e))
    for family, (a, b_, fl) in worst.items():
        print(f"# {family}: worst normwise Hv error {a:.2g} vs torch, {b_:.2g} vs "
              f"differences (double)" + (f", {fl:.2g} (float)" if fl else ""))
    if "tanh_ce" in kept:
        folder, exe, order, theta0, v, want, f = kept["tanh_ce"]
        check_hessian(folder, exe, order, theta0, f)
        negative_control(folder, exe, v, want)
    if own_tmp and not oracle.exit_status():
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
