#!/usr/bin/env python3
"""test_export_torch.py — exported weights run in PyTorch 1.13 as in trainc.

Two models are trained briefly: fashion_mlp (784-256-128-10, inputs scaled
by 1/255) on a subset of Fashion-MNIST, and a small NumPy-data MLP with
standardized inputs. Each is exported; the same network is built in
PyTorch as an nn.Sequential whose layers carry the spec's names, its
state_dict is loaded strictly from the .npy files and, separately, from
model.safetensors (parsed here with json and numpy: Debian 12 has no
python3-safetensors, and the format is an 8-byte length, a JSON header and
the raw bytes), and the softmax of its outputs must match `predict`'s
probabilities within 1e-5 on the same inputs (an IDX .gz file, a .npy file).
The other way too: weights made by PyTorch, as .npy files and as
safetensors, start trainc (--init) and its predictions match PyTorch's.
"""
import json
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST = "/usr/share/datasets/fashion-mnist/"
ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def write_safetensors(path, state):
    """The other direction, as the safetensors library lays a file out."""
    header, blobs, at = {}, [], 0
    for k in sorted(state):
        a = np.ascontiguousarray(state[k].detach().numpy().astype("<f4"))
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [at, at + a.nbytes]}
        blobs.append(a.tobytes())
        at += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def read_safetensors(path):
    """(tensors by name, metadata), checking the layout the format requires."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, t in header.items():
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=np.dtype(ST_DTYPES[t["dtype"]]).newbyteorder("<"))
        tensors[name] = a.reshape(t["shape"])
        spans.append((b, e))
    spans.sort()
    layout_ok = ((8 + n) % 8 == 0 and spans[0][0] == 0 and spans[-1][1] == len(data)
                 and all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
                 and list(header) == sorted(header))
    return tensors, meta, layout_ok


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        report(False, " ".join(args[:3]), (r.stdout + r.stderr).strip()[-400:])
        return None
    return r.stdout


def predicted_probs(path):
    rows = open(path).read().split("\n")[1:]
    return np.array([[float(v) for v in r.split(",")[1:]] for r in rows if r], dtype=np.float64)


def mlp(sizes):
    """nn.Sequential of Linear/ReLU named fc1, relu1, fc2, ... as the specs name them."""
    layers = OrderedDict()
    for i in range(len(sizes) - 1):
        layers[f"fc{i + 1}"] = nn.Linear(sizes[i], sizes[i + 1])
        if i < len(sizes) - 2:
            layers[f"relu{i + 1}"] = nn.ReLU()
    return nn.Sequential(layers)


def compare(label, folder, net, inputs, pred_csv):
    """Loads the export of `folder` two ways into net (in eval mode) and
    compares softmax(net(inputs)) with predict's probabilities."""
    want = predicted_probs(pred_csv)
    report(want.shape[0] == inputs.shape[0], f"{label}: predict wrote a row per input",
           str(want.shape))
    net.eval()
    names = list(net.state_dict().keys())
    from_npy = OrderedDict((k, torch.from_numpy(np.load(os.path.join(folder, k + ".npy"))))
                           for k in names)
    tensors, meta, layout_ok = read_safetensors(os.path.join(folder, "model.safetensors"))
    report(layout_ok, f"{label}: safetensors header sorted, data 8-byte aligned and contiguous")
    report(meta.get("format") == "pt", f"{label}: safetensors __metadata__ says format pt", str(meta))
    report(sorted(tensors) == sorted(names), f"{label}: safetensors names are the state_dict's",
           f"{sorted(tensors)} vs {sorted(names)}")
    report(all(np.array_equal(tensors[k], from_npy[k].numpy()) for k in names if k in tensors),
           f"{label}: safetensors and .npy hold the same values")
    want_types = {k: v.dtype for k, v in net.state_dict().items()}
    odd = [f"{k}: {how} {t.dtype} for {want_types[k]}" for how, d in (("npy", from_npy), ("safetensors", {
        k: torch.from_numpy(v.copy()) for k, v in tensors.items()})) for k, t in d.items()
           if k in want_types and t.dtype != want_types[k]]
    report(not odd, f"{label}: every exported tensor has the dtype of torch's state_dict "
           f"(float32; counts int64)", "; ".join(odd[:4]))
    for how, sd in (("npy", from_npy),
                    ("safetensors", OrderedDict((k, torch.from_numpy(tensors[k].copy()))
                                                for k in names if k in tensors))):
        try:
            net.load_state_dict(sd, strict=True)
        except (RuntimeError, KeyError) as e:
            report(False, f"{label}: load_state_dict from {how}", str(e)[:300])
            continue
        with torch.no_grad():
            got = torch.softmax(net(torch.from_numpy(inputs)), dim=1).double().numpy()
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
        report(diff <= 1e-5, f"{label}: PyTorch from {how} matches predict within 1e-5 "
               f"({inputs.shape[0]} rows, max diff {diff:.2e})")


def build_example(trainc, name, out):
    """Builds models/<name>.lua into out; out, or None (reported) if it fails."""
    r = subprocess.run([trainc, "build", "-q", os.path.join(ROOT, f"models/{name}.lua"), "-o", out],
                       capture_output=True, text=True)
    report(r.returncode == 0, f"{name} builds", r.stderr[-400:])
    return None if r.returncode else out


def fashion(trainc, base):
    out = build_example(trainc, "fashion_mlp", os.path.join(base, "fashion"))
    if out is None:
        return
    if run(["./fashion_mlp", "train", "--limit", "6400", "--epochs", "1", "--quiet"], out) is None:
        return
    if run(["./fashion_mlp", "export", "exp", "--quiet"], out) is None:
        return
    images = FMNIST + "t10k-images-idx3-ubyte.gz"
    # predict reads the IDX test images (gzip) directly
    if run(["./fashion_mlp", "predict", images, "-o", "pred.csv"], out) is None:
        return
    import gzip
    raw = np.frombuffer(gzip.open(images).read()[16:], dtype=np.uint8).reshape(-1, 784)
    # as the trainer: scale by (float)(1/255), in float32
    x = (raw.astype(np.float32) * np.float32(1 / 255)).astype(np.float32)
    compare("fashion_mlp", os.path.join(out, "exp"), mlp([784, 256, 128, 10]), x,
            os.path.join(out, "pred.csv"))

    # and back: weights made in PyTorch start trainc (--init), whose
    # predictions then match PyTorch's
    torch.manual_seed(5)
    net = mlp([784, 256, 128, 10])
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)), dim=1).double().numpy()
    tdir = os.path.join(out, "from_torch")
    os.makedirs(tdir)
    for k, v in net.state_dict().items():
        np.save(os.path.join(tdir, k + ".npy"), v.numpy())
    write_safetensors(os.path.join(out, "from_torch.safetensors"), net.state_dict())
    for how, init in (("npy", "from_torch"), ("safetensors", "from_torch.safetensors")):
        if run(["./fashion_mlp", "train", "--epochs", "0", "--init", init, "--weights", "t.w",
                "--quiet"], out) is None:
            continue
        if run(["./fashion_mlp", "predict", images, "--weights", "t.w", "-o", "pt.csv"], out) is None:
            continue
        got = predicted_probs(os.path.join(out, "pt.csv"))
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
        report(diff <= 1e-5, f"fashion_mlp: PyTorch's weights through --init ({how}) predict as "
               f"PyTorch within 1e-5 (max diff {diff:.2e})")


def fashion_cnn(trainc, base):
    """A batch-norm CNN: the export holds the running statistics and
    num_batches_tracked, so the strict load of a torch BatchNorm net works."""
    out = build_example(trainc, "fashion_cnn", os.path.join(base, "cnn"))
    if out is None:
        return
    steps = 10
    for args in (["./fashion_cnn", "train", "--limit", str(64 * steps), "--epochs", "1", "--quiet"],
                 ["./fashion_cnn", "export", "exp", "--quiet"],
                 ["./fashion_cnn", "predict", FMNIST + "t10k-images-idx3-ubyte.gz", "-o", "pred.csv"]):
        if run(args, out) is None:
            return
    import gzip
    raw = np.frombuffer(gzip.open(FMNIST + "t10k-images-idx3-ubyte.gz").read()[16:], dtype=np.uint8)
    x = (raw.astype(np.float32) * np.float32(1 / 255)).astype(np.float32).reshape(-1, 1, 28, 28)
    net = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, 3, padding=1, bias=False)), ("conv1_bn", nn.BatchNorm2d(16)),
        ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, 3, padding=1, bias=False)), ("conv2_bn", nn.BatchNorm2d(32)),
        ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(32 * 7 * 7, 128)), ("relu3", nn.ReLU()), ("drop", nn.Dropout(0.3)),
        ("fc2", nn.Linear(128, 10))]))
    exp = os.path.join(out, "exp")
    for bn in ("conv1_bn", "conv2_bn"):
        nbt = np.load(os.path.join(exp, bn + ".num_batches_tracked.npy"))
        report(nbt.shape == () and nbt.dtype == np.int64 and int(nbt) == steps,
               f"fashion_cnn: {bn}.num_batches_tracked is an int64 scalar counting the {steps} "
               f"training batches", f"{nbt!r}")
        rv = np.load(os.path.join(exp, bn + ".running_var.npy"))
        report(not np.allclose(rv, 1), f"fashion_cnn: {bn}.running_var moved from its start")
    compare("fashion_cnn (batch norm, eval)", exp, net, x, os.path.join(out, "pred.csv"))
    report(int(net.conv1_bn.num_batches_tracked) == steps and
           net.conv1_bn.num_batches_tracked.dtype == torch.int64,
           "fashion_cnn: torch's num_batches_tracked after the load counts the batches (int64)",
           str(net.conv1_bn.num_batches_tracked))
    # the export goes back in through --init, both forms, counts included
    for how, src in (("npy", "exp"), ("safetensors", "exp/model.safetensors")):
        again = f"again_{how}"
        if (run(["./fashion_cnn", "train", "--epochs", "0", "--init", src, "--weights", again + ".bin",
                 "--quiet"], out) is None
                or run(["./fashion_cnn", "export", again, "--weights", again + ".bin", "--quiet"], out) is None):
            continue
        names = [f for f in os.listdir(exp) if f.endswith(".npy")]
        same = [np.array_equal(np.load(os.path.join(exp, f)), np.load(os.path.join(out, again, f))) and
                np.load(os.path.join(exp, f)).dtype == np.load(os.path.join(out, again, f)).dtype for f in names]
        report(len(names) > 10 and all(same), f"fashion_cnn: export -> --init {how} -> export gives the same "
               f"{len(names)} arrays (num_batches_tracked too)")


SMALL = """model "small"
data = npy { train = { x = "x.npy", y = "y.npy" }, standardize = true }
local x = input { 6 }
local y = labels { classes = 3 }
local h = relu(linear(x, 16, { name = "fc1" }))
h = relu(linear(h, 12, { name = "fc2" }))
minimize(cross_entropy(linear(h, 3, { name = "fc3" }), y))
optimizer = sgd { lr = 0.1, momentum = 0.9 }
train { batch = 16, epochs = 5, seed = 3 }
"""


def small(trainc, base):
    d = os.path.join(base, "small")
    os.makedirs(d)
    rng = np.random.RandomState(1)
    x = (rng.randn(300, 6) * 3 + 5).astype(np.float64)  # float64 input, far from standard
    y = np.argmax(x[:, :3] - 5 + 0.3 * rng.randn(300, 3), axis=1).astype(np.int64)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    open(os.path.join(d, "small.lua"), "w").write(SMALL)
    out = os.path.join(d, "out")
    r = subprocess.run([trainc, "build", "-q", os.path.join(d, "small.lua"), "-o", out],
                       capture_output=True, text=True)
    report(r.returncode == 0, "the npy model builds", r.stderr[-400:])
    if r.returncode:
        return
    for args in (["./small", "train", "--quiet"], ["./small", "export", "exp", "--quiet"],
                 ["./small", "predict", os.path.join(d, "x.npy"), "-o", "pred.csv"]):
        if run(args, out) is None:
            return
    exp = os.path.join(out, "exp")
    mean, std = np.load(os.path.join(exp, "input_mean.npy")), np.load(os.path.join(exp, "input_std.npy"))
    report(mean.shape == (6,) and abs(float(mean[0]) - float(x[:, 0].mean())) < 1e-4,
           "export writes the standardization mean", str(mean))
    xs = ((x.astype(np.float32) - mean) / std).astype(np.float32)
    compare("npy model, standardized", exp, mlp([6, 16, 12, 3]), xs, os.path.join(out, "pred.csv"))


def main():
    start = oracle.setup("export_torch")
    if start is None:
        return 1
    trainc, base, own_tmp = start
    fashion(trainc, base)
    fashion_cnn(trainc, base)
    small(trainc, base)
    if own_tmp and oracle.failures == 0:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
