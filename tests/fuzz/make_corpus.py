#!/usr/bin/python3
"""make_corpus.py — writes the seed corpus tests/fuzz/corpus/<target>/: small
valid files and broken ones, each prefixed with the target's parameter bytes
(see the fuzz_*.c files). Weights, checkpoints and .npy seeds come from the
runtime's own writers (make_seeds.c). Crashes the fuzzer finds are added by
hand as corpus/<target>/regress-*: this script leaves those alone.
Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(type_byte, dims, payload):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + payload


def idx_seeds():
    images = idx(0x08, [3, 2, 2], bytes(range(12)))
    labels = idx(0x08, [3], bytes([1, 0, 9]))
    seeds = {
        "valid": b"\x03" + images + b"LBLS" + labels,
        "valid-no-labels": b"\x00" + images,
        "float32": b"\x01" + idx(0x0D, [2, 3], struct.pack(">6f", 0, 1.5, -2, 3, 1e-3, 7))
        + b"LBLS" + idx(0x08, [2], bytes([0, 1])),
        "float64": b"\x02" + idx(0x0E, [2, 2], struct.pack(">4d", 0, 1.5, -2, 3)),
        "int16-int32": b"\x01" + idx(0x0B, [2, 1], struct.pack(">2h", -5, 300))
        + b"LBLS" + idx(0x0C, [2], struct.pack(">2i", 3, 4)),
        "int8": b"\x00" + idx(0x09, [4], bytes([0, 127, 128, 255])),
        "nan": b"\x00" + idx(0x0D, [2], struct.pack(">2f", 1, float("nan"))),
        "label-out-of-range": b"\x01" + images + b"LBLS" + idx(0x08, [3], bytes([1, 0, 10])),
        "truncated": b"\x00" + images[:-3],
        "truncated-header": b"\x00" + images[:9],
        "bad-magic": b"\x00" + b"\x01\x02\x08\x03" + images[4:],
        "bad-type": b"\x00" + idx(0x0A, [2], bytes(2)),
        "rank-0": b"\x00" + bytes([0, 0, 8, 0]),
        "huge-dims": b"\x00" + idx(0x08, [0x7FFFFFFF, 0x7FFFFFFF, 2], b""),
        "zero-rows": b"\x00" + idx(0x08, [0, 5], b""),
        "label-count-mismatch": b"\x00" + images + b"LBLS" + idx(0x08, [2], bytes([1, 2])),
        "gzip": b"\x03" + gzip.compress(images, mtime=0) + b"LBLS" + gzip.compress(labels, mtime=0),
        "gzip-truncated": b"\x00" + gzip.compress(images, mtime=0)[:-6],
        "gzip-lying-header": b"\x00" + gzip.compress(idx(0x08, [1000000, 784], b"\0" * 64), mtime=0),
    }
    for name, data in seeds.items():
        put("idx", name, data)
        if not name.startswith("gzip"):
            put("idx_gz", name, data)


def csv_seeds():
    seeds = {
        # flags: bits 0-1 header (0 detect, 1 none, 2 yes), bit 2 label "y",
        # bit 3 + bits 4-5 label column, bit 6 classes < 3, bit 7 d for predict
        "header-label": (0x44, b"a,b,y\n1,2,0\n3.5,-4e-2,1\n0,0,2\n"),
        "quoted-header": (0x06, b'"a" , "y"\r\n1,2\r\n\r\n3,4\r\n'),
        "bom": (0x04, b"\xef\xbb\xbfa,y\n1,0\n"),
        "no-header-col": (0x19, b"1,2,3\n4,5,6\n"),
        "features-only": (0x80, b"1,2\n3,4\n\n\n"),
        "empty-cell": (0x00, b"1,,3\n"),
        "nan": (0x00, b"1,nan\n"),
        "hex": (0x00, b"0x10,1\n"),
        "out-of-range": (0x00, b"1e400,1\n"),
        "ragged": (0x00, b"1,2\n3\n"),
        "nul": (0x00, b"1,2\n3,\x004\n"),
        "label-not-integer": (0x48, b"0.5,1\n"),
        "label-out-of-range": (0x48, b"3,1\n"),
        "no-such-label": (0x04, b"a,b\n1,2\n"),
        "label-col-out-of-range": (0x39, b"1,2\n"),
        "only-label": (0x08, b"1\n2\n"),
        "header-only": (0x02, b"a,b\n"),
        "empty": (0x00, b""),
        "blank-lines": (0x00, b"\n \n\t\n"),
        "long-cell": (0x00, b"1" * 300 + b",2\n"),
        "many-commas": (0x00, b"," * 200 + b"\n"),
        # CSV as it comes (issue 13): quotes, names, delimiters, title lines
        "quoted-cells": (0x44, b'a,"b, c",y\r\n1,"2",a\r\n"3","4",b\r\n'),
        "doubled-quotes": (0x04, b'"x ""q""",y\n"1",c\n'),
        "quoted-newline": (0x0c, b'"a\nb",y\n1,"x\ny"\n'),
        "class-names": (0x44, b"f0,f1,y\n1,2,a\n3,4,b\n5,6,c\n"),
        "names-no-header": (0x38, b"5.1,3.5,setosa\n4.9,3,versicolor\n"),
        "semicolons": (0x04, b"f0;f1;y\n1.5;2;a\n3;4.25;b\n"),
        "tabs": (0x18, b"no\t1\t2\nyes\t3\t4\n"),
        "title-line": (0x04, b"title,x,y,z,w\n" + b"a,b,c,d,e,f,y\n" + b"1,2,3,4,5,6,a\n" * 3),
        "unclosed-quote": (0x04, b'a,y\n"1,2\n'),
        "after-quote": (0x04, b'a,y\n"1"x,2\n'),
        "utf8-names": (0x44, "a,y\n1,ça va\n2,日本\n".encode()),
    }
    for name, (flags, text) in seeds.items():
        put("csv", name, bytes([flags]) + text)


def npy_header(descr, fortran, shape, version=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if version == 1 else 12
    d += " " * ((64 - (pre + len(d) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes([version, 0]) + size + d.encode()


def npy_seeds():
    f8 = npy_header("<f8", "False", "(2,)") + struct.pack("<2d", 1.5, -2)
    seeds = {
        "f8": b"\x02\x00" + f8,
        "v2": b"\x03\x00" + npy_header("<f4", "False", "(3,)", 2) + struct.pack("<3f", 1, 2, 3),
        "fortran": b"\x04\x00" + npy_header("<f4", "True", "(2, 2)") + bytes(16),
        "big-endian": b"\x01\x00" + npy_header(">f4", "False", "(1,)") + bytes(4),
        "int": b"\x01\x00" + npy_header("<i8", "False", "(1,)") + bytes(8),
        "wrong-count": b"\x05\x00" + npy_header("<f4", "False", "(2, 3)") + bytes(24),
        "truncated": b"\x02\x00" + f8[:-3],
        "trailing": b"\x02\x00" + f8 + b"x",
        "huge-shape": b"\x01\x00" + npy_header("<f4", "False", "(99999999999, 99999999999)"),
        "overflow-shape": b"\x01\x00" + npy_header("<f4", "False", "(99999999999999999999999,)"),
        "bad-dict": b"\x01\x00" + b"\x93NUMPY\x01\x00\x08\x00{'descr'",
        "bad-version": b"\x01\x00" + b"\x93NUMPY\x03\x00" + bytes(8),
    }
    for name, data in seeds.items():
        put("npy", name, data)


def spec_seeds():
    # the example specs in models/ are seeds too: test_fuzz.sh reads them
    # from there (no copies here)
    seeds = {
        "syntax-error.lua": b"local x = input { 2 \n",
        "unknown-op.lua": b"local x = input { 2 }\nminimize(sigmoidd(x))\n",
        "loop.lua": b"while true do end\n",
        "recursion.lua": b"local function f(n) return f(n + 1) + 1 end\nf(1)\n",
        "memory.lua": b"local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100000) end\n",
        "escape.lua": b"os.execute('true') io.open('x') load('return 1') string.dump(print)\n",
        "huge-dims.lua": b"local x = input { 2147483647, 2147483647 }\n"
        b"minimize(sum(linear(x, 1000000)))\n",
        "negative-dims.lua": b"local x = input { -3 }\nminimize(sum(x))\n",
    }
    for name, data in seeds.items():
        put("spec", name, data)


def binary_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "make_seeds")
        # the runtime as runtime/FILES lists it, but rt_lapack.c (no LAPACK linked here)
        with open(os.path.join(ROOT, "runtime", "FILES")) as f:
            rt = [os.path.join(ROOT, "runtime", n) for n in f.read().split()
                  if n.endswith(".c") and n != "rt_lapack.c"]
        subprocess.run(["cc", "-std=c11", "-O1", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE",
                        "-I", os.path.join(ROOT, "runtime"), os.path.join(HERE, "make_seeds.c")]
                       + rt + ["-lz", "-lm", "-o", exe], check=True)
        for t in ("weights", "checkpoint", "npy"):
            os.makedirs(os.path.join(CORPUS, t), exist_ok=True)
        subprocess.run([exe, CORPUS], check=True)
    # broken variants of the written files
    for t, npre in (("weights", 3), ("checkpoint", 4)):
        with open(os.path.join(CORPUS, t, "valid"), "rb") as f:
            good = f.read()
        put(t, "truncated", good[:-5])
        put(t, "flipped-byte", good[: npre + 40] + bytes([good[npre + 40] ^ 1]) + good[npre + 41:])
        put(t, "other-hash", good[: npre + 16] + b"X" + good[npre + 17:])
        put(t, "not-ours", good[:npre] + b"PK\x03\x04" + good[npre + 4: npre + 30])
        put(t, "header-only", good[: npre + 56])
        put(t, "extra-byte", good + b"\0")


def npydata_seeds():
    """data = npy {...}: flags, the features file's length, features, labels"""
    def pair(flags, x, y=b""):
        return bytes([flags]) + struct.pack("<H", len(x)) + x + y
    x = npy_header("<f4", "False", "(3, 4)") + struct.pack("<12f", *range(12))
    xu8 = npy_header("|u1", "False", "(3, 2, 2)") + bytes(range(12))
    y = npy_header("<i8", "False", "(3,)") + struct.pack("<3q", 0, 2, 1)
    y2 = npy_header("<f8", "False", "(3, 2)") + struct.pack("<6d", 0, 1, 1, 0, 0.5, 0.5)
    seeds = {
        "valid": pair(0x0C, x, y),
        "uint8-images": pair(0x04, xu8, y),
        "no-labels": pair(0x01, x),
        "two-values": pair(0x02, x, y2),
        "label-range": pair(0x04, x, npy_header("<i4", "False", "(3,)") + struct.pack("<3i", 0, 5, 1)),
        "row-mismatch": pair(0x00, x, npy_header("<i8", "False", "(2,)") + bytes(16)),
        "fortran": pair(0x00, npy_header("<f4", "True", "(3, 4)") + bytes(48), y),
        "object": pair(0x00, npy_header("|O", "False", "(3, 4)") + bytes(8), y),
        "nan": pair(0x00, npy_header("<f8", "False", "(1, 1)") + struct.pack("<d", float("nan")),
                    npy_header("<i8", "False", "(1,)") + bytes(8)),
    }
    for name, data in seeds.items():
        put("npydata", name, data)


def features_seeds():
    """predict's files: a feature count byte, then .npy, IDX or CSV"""
    seeds = {
        "npy": b"\x04" + npy_header("<f4", "False", "(3, 4)") + struct.pack("<12f", *range(12)),
        "idx": b"\x04" + idx(0x08, [3, 2, 2], bytes(range(12))),
        "idx-gz": b"\x04" + gzip.compress(idx(0x08, [3, 2, 2], bytes(range(12))), mtime=0),
        "csv": b"\x02" + b"1,2\n3.5,-4\n",
        "csv-header": b"\x00" + b"a,b\n1,2\n",
        "ragged": b"\x02" + b"1,2\n3\n",
        "binary": b"\x00" + bytes([0, 0, 0x55, 3, 1, 2]),
    }
    for name, data in seeds.items():
        put("features", name, data)


def safetensors_seeds():
    """--init FILE.safetensors into fc.weight [2, 3], fc.bias [2], t [] (a count)"""
    import json

    def st(tensors, meta=None, pad=True):
        h, off, body = {}, 0, b""
        for name, (dtype, shape, data) in tensors.items():
            h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
            off += len(data)
            body += data
        if meta:
            h["__metadata__"] = meta
        j = json.dumps(h).encode()
        if pad:
            j += b" " * ((8 - len(j) % 8) % 8)
        return struct.pack("<Q", len(j)) + j + body
    w = ("F32", [2, 3], struct.pack("<6f", *range(6)))
    b = ("F32", [2], struct.pack("<2f", 1, 2))
    seeds = {
        "valid": st({"fc.weight": w, "fc.bias": b, "t": ("F32", [], struct.pack("<f", 3))},
                    {"format": "pt"}),
        "some": st({"fc.bias": b}),
        "f64": st({"fc.bias": ("F64", [2], struct.pack("<2d", 1, 2))}),
        "wrong-shape": st({"fc.weight": ("F32", [3, 2], w[2])}),
        "unknown-name": st({"fc2.bias": b}),
        "f16": st({"fc.bias": ("F16", [2], bytes(4))}),
        "nan": st({"fc.bias": ("F32", [2], struct.pack("<2f", float("nan"), 1))}),
        "overlap": st({"fc.bias": b})[:-4],
        "unpadded": st({"fc.bias": b}, pad=False),
        "count-i64": st({"t": ("I64", [], struct.pack("<q", 10))}),
        "count-negative": st({"t": ("I64", [], struct.pack("<q", -1))}),
    }
    for name, data in seeds.items():
        put("safetensors", name, data)


def metrics_seeds():
    """the trainer's --metrics CSV"""
    head = b"epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,grad_norm,seconds\n"
    seeds = {
        "valid": head + b"1,10,0.69,0.5,0.7,0.48,0.1,1.5,0.01\n2,20,0.5,0.7,0.55,0.66,0.05,1.1,0.02\n",
        "one-epoch": head + b"1,10,0.69,0.5,nan,nan,0.1,1.5,0.01\n",
        "gaps": head + b"1,10,inf,0.5,,,0.1,1,0\n2,20,nan,0.6,1,0.5,0.1,1,0\n3,30,0.1,0.7,1,0.5,0.1,1,0\n",
        "decades": head + b"1,1,100,0,0,0,1,1,0\n2,2,0.0001,0,0,0,1e-9,1,0\n",
        "old-columns": b"epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,seconds\n1,1,1,1,1,1,1,1\n",
        "no-epoch": b"loss,lr\n1,2\n",
        "ragged": head + b"1,2,3\n",
        "empty": b"",
    }
    for name, data in seeds.items():
        put("metrics", name, data)


def escape_seeds():
    """names and paths that broke, or could break, generated files"""
    seeds = {
        "trigraph": b"/tmp/what??/d.csv",
        "quotes": b"my spec 'q' \"dq\".lua",
        "comment-end": b"x*/s.lua",
        "comment-open": b"a/*b*/*/",
        "newline": b"nl\nx/s.lua",
        "hex-escape": b"s\\x41\\.lua",
        "ninja": b"a$b: c d$",
        "utf8": "модель é".encode(),
        "bidi": "a\u202eb".encode(),
        "invalid-utf8": b"\xff\xc3(\xed\xa0\x80",
        "controls": bytes(range(1, 32)) + b"\x7f",
        "octal-digits": b"\x01" + b"234",
    }
    for name, data in seeds.items():
        put("escape", name, data)


if __name__ == "__main__":
    idx_seeds()
    csv_seeds()
    npy_seeds()
    npydata_seeds()
    features_seeds()
    safetensors_seeds()
    metrics_seeds()
    spec_seeds()
    escape_seeds()
    binary_seeds()
    n = sum(len(os.listdir(os.path.join(CORPUS, d))) for d in os.listdir(CORPUS))
    print("make_corpus: %d seed files in %s" % (n, CORPUS))
    sys.exit(0)
