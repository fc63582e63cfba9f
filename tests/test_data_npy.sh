# NumPy .npy data, predict's formats and safetensors, end to end: the same
# numbers as CSV, as .npy of every supported dtype, byte order and header
# version (mapped, converted as batches are gathered) and as gzip IDX bytes
# train to bit-identical weights; predict gives the same output for
# CSV, .npy (float and uint8) and IDX (raw and gzip) files of the same rows;
# --init from an export (folder or safetensors) gives back the same weights.
# The bad files are in test_errors.sh.
. tests/lib.sh
out=$TRAINC_TMP/data_npy
rm -rf "$out" && mkdir -p "$out"

# 40 rows of 4 integer "pixels" in [0, 255] and a class in [0, 3): exact in
# every dtype below, so every file holds the same numbers
/usr/bin/python3 - "$out" <<'PY'
import gzip, struct, sys
import numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
rng = np.random.RandomState(0)
x = rng.randint(0, 256, size=(40, 4))
y = (x[:, 0] + x[:, 1] > x[:, 2] + x[:, 3]).astype(np.int64) + (x[:, 0] > 200)
np.save(f"{d}/x_f4.npy", x.astype(np.float32))
np.save(f"{d}/y_i8.npy", y)
np.save(f"{d}/x_f8.npy", x.astype(np.float64))
np.save(f"{d}/y_i4.npy", y.astype(np.int32))
np.save(f"{d}/x_u1.npy", x.astype(np.uint8).reshape(40, 2, 2))  # images
np.save(f"{d}/y_u1.npy", y.astype(np.uint8))
np.save(f"{d}/x_be.npy", x.astype(">f4"))
np.save(f"{d}/y_be.npy", y.astype(">i8"))
with open(f"{d}/x_v2.npy", "wb") as f:
    fmt.write_array(f, x.astype(np.float32), version=(2, 0))
with open(f"{d}/y_v2.npy", "wb") as f:
    fmt.write_array(f, y, version=(2, 0))
assert open(f"{d}/x_v2.npy", "rb").read(8) == b"\x93NUMPY\x02\x00"
with open(f"{d}/train.csv", "w") as f:
    f.write("a,b,c,e,label\n")
    for r, c in zip(x, y):
        f.write(",".join(str(v) for v in r) + f",{c}\n")
# predict's inputs: the same rows as CSV (no label), .npy and IDX
with open(f"{d}/rows.csv", "w") as f:
    for r in x:
        f.write(",".join(str(v) for v in r) + "\n")
idx = bytes([0, 0, 8, 3]) + struct.pack(">III", 40, 2, 2) + x.astype(np.uint8).tobytes()
open(f"{d}/rows.idx", "wb").write(idx)
open(f"{d}/rows.idx.gz", "wb").write(gzip.compress(idx))
open(f"{d}/lab.idx", "wb").write(bytes([0, 0, 8, 1]) + struct.pack(">I", 40) + y.astype(np.uint8).tobytes())
idx_f = bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 40, 4) + x.astype(">f4").tobytes()
open(f"{d}/rows_float.idx", "wb").write(idx_f)
# a regression target of two values a row
np.save(f"{d}/y_reg.npy", np.stack([x[:, 0] / 255.0, x[:, 1] / 255.0 - x[:, 2] / 255.0], 1))
PY

cat >"$out/m.lua" <<'LUA'
model "npyeq"
if args.csv then
  data = csv { train = "train.csv", label = "label", scale = 1 / 255, standardize = true }
elseif args.idx then
  data = idx { train = { images = "rows.idx.gz", labels = "lab.idx" }, scale = 1 / 255, standardize = true }
else
  data = npy { train = { x = args.x, y = args.y }, scale = 1 / 255, standardize = true }
end
local x = input { 4 }
local y = labels { classes = 3 }
local h = relu(linear(x, 8, { name = "fc1" }))
minimize(cross_entropy(linear(h, 3, { name = "fc2" }), y))
optimizer = sgd { lr = 0.1, momentum = 0.9 }
train { batch = 8, epochs = 3, seed = 2 }
LUA
weights_of() { # weights_of NAME [--set ...]: builds, trains and exports to $out/NAME/exp
    local name=$1
    shift
    gen_build "$out/m.lua" "$out/$name" "$@" >"$out/$name.log" 2>&1 &&
        (cd "$out/$name" && ./npyeq train --quiet --threads 1 >train.out && ./npyeq export exp --quiet)
}
same_weights() { # same_weights A B: every exported array identical
    for f in "$out/$1"/exp/*.npy; do cmp -s "$f" "$out/$2/exp/$(basename "$f")" || return 1; done
}
weights_of csv --set csv=true
check "the CSV model trains" test -f "$out/csv/exp/fc1.weight.npy"
for v in "f4 i8|float32 x, int64 y" "f8 i4|float64 x, int32 y" "u1 u1|uint8 images [40, 2, 2], uint8 y" \
    "be be|big-endian float32 x and int64 y" "v2 v2|version 2.0 headers"; do
    IFS='|' read -r kinds what <<<"$v"
    read -r xk yk <<<"$kinds"
    weights_of "npy_$xk" --set "x=x_$xk.npy" --set "y=y_$yk.npy"
    check "npy: $what trains to the CSV's weights, bit for bit" same_weights csv "npy_$xk"
done
# IDX bytes stay bytes in memory, converted as batches are gathered
weights_of idx --set idx=true
check "idx: uint8 images kept as bytes train to the CSV's weights, bit for bit" same_weights csv idx
check "npy: the data line is in the generated trainer" grep -q RT_SRC_NPY "$out/npy_f4/model.c"
check "npy: the trainer reports the standardization like CSV (same test line)" \
    sh -c "test \"\$(tail -1 '$out/csv/train.out')\" = \"\$(tail -1 '$out/npy_f4/train.out')\""

# --- predict: the same rows as CSV, .npy and IDX give the same output
m=$out/npy_f4
for f in rows.csv x_f4.npy x_u1.npy x_f8.npy rows.idx rows.idx.gz rows_float.idx; do
    (cd "$m" && ./npyeq predict "$out/$f" -o "$out/pred_$f.csv")
done
check "predict: a CSV gives a header and 40 rows" sh -c "test \$(wc -l < '$out/pred_rows.csv.csv') -eq 41 && head -1 '$out/pred_rows.csv.csv' | grep -q '^class,p0,p1,p2$'"
for f in x_f4.npy x_u1.npy x_f8.npy rows.idx rows.idx.gz rows_float.idx; do
    check "predict: $f gives the same output as the CSV" cmp -s "$out/pred_rows.csv.csv" "$out/pred_$f.csv"
done
(cd "$m" && ./npyeq predict "$out/x_f4.npy" >"$out/pred_stdout.csv")
check "predict: without -o it writes to standard output" cmp -s "$out/pred_rows.csv.csv" "$out/pred_stdout.csv"

# --- export: safetensors next to the .npy files, and --init reads both back
check "export writes model.safetensors and the standardization statistics" \
    test -f "$m/exp/model.safetensors" -a -f "$m/exp/input_mean.npy" -a -f "$m/exp/input_std.npy"
/usr/bin/python3 - "$m/exp" >"$out/st.out" 2>&1 <<'PY'
import json, sys
import numpy as np
d = sys.argv[1]
raw = open(f"{d}/model.safetensors", "rb").read()
n = int.from_bytes(raw[:8], "little")
h = json.loads(raw[8:8 + n])
meta = h.pop("__metadata__")
assert (8 + n) % 8 == 0, "data not 8-byte aligned"
assert list(h) == sorted(h) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"], list(h)
assert h["fc1.weight"]["shape"] == [8, 4] and h["fc1.weight"]["dtype"] == "F32", h["fc1.weight"]
assert meta["format"] == "pt" and float(meta["input_scale"]) == 1 / 255, meta
for k, t in h.items():
    b, e = t["data_offsets"]
    a = np.frombuffer(raw[8 + n + b:8 + n + e], "<f4").reshape(t["shape"])
    assert np.array_equal(a, np.load(f"{d}/{k}.npy")), k
print("safetensors ok")
PY
check "safetensors: header sorted, aligned, F32 with PyTorch's shapes, metadata, the .npy values" grep -q "safetensors ok" "$out/st.out"
(cd "$m" && ./npyeq train --epochs 0 --quiet --init exp/model.safetensors --weights st.w >/dev/null &&
    ./npyeq export from_st --weights st.w --quiet)
check "--init FILE.safetensors then export gives back the same arrays" \
    sh -c "for f in fc1.weight fc1.bias fc2.weight fc2.bias; do cmp -s '$m/exp/'\$f.npy '$m/from_st/'\$f.npy || exit 1; done"
(cd "$m" && ./npyeq train --epochs 0 --quiet --init exp --weights dir.w >/dev/null && ./npyeq export from_dir --weights dir.w --quiet)
check "--init DIR then export gives back the same arrays" \
    sh -c "for f in fc1.weight fc1.bias fc2.weight fc2.bias; do cmp -s '$m/exp/'\$f.npy '$m/from_dir/'\$f.npy || exit 1; done"
check "--init reports what it loaded" sh -c "cd '$m' && ./npyeq train --epochs 0 --init exp/model.safetensors --weights st.w | grep -q '4 of 4 parameter tensors from exp/model.safetensors'"

# --- labels of two values a row (regression) from a [40, 2] float64 array
cat >"$out/reg.lua" <<'LUA'
model "reg"
data = npy { train = { x = "x_f4.npy", y = "y_reg.npy" }, test = { x = "x_u1.npy", y = "y_reg.npy" }, scale = 1 / 255 }
local x = input { 4 }
local y = labels { 2 }
minimize(mse(linear(x, 2), y))
optimizer = sgd { lr = 0.5 }
train { batch = 8, epochs = 200 }
LUA
gen_build "$out/reg.lua" "$out/reg" >/dev/null 2>&1
loss=$(cd "$out/reg" && ./reg train --quiet | awk '/^test loss/ { print $3 }')
check "npy: a linear regression on two targets fits them (test loss $loss)" lt "$loss" 1e-4
