# `<model> export-c DIR` (issue 17 item 4): DIR/<model>_infer.c and .h, the
# forward pass in evaluation mode as plain C with the trained weights built
# in. For fashion_mlp, fashion_cnn (batch norm folded into the
# convolutions) and a tabular CSV model (standardised, tanh and sigmoid),
# each trained a few steps: the file compiles with -std=c99 -ffreestanding
# -Wall -Wextra -pedantic -Werror, its object calls nothing but libm, and a
# driver linked with -lm gives, row for row, the probabilities of the
# model.h API (lib<model>.a: predict's numbers as floats) within 1e-6 and
# predict's printed ones within 1e-6 (plus their 6-digit rounding, at most
# 5e-7 of the value), the same classes. Negative control: one weight changed
# in the exported file fails the comparison. Refusals: test_errors.sh.
. tests/lib.sh
t=$TRAINC_TMP/export_c
rm -rf "$t" && mkdir -p "$t"
PY=/usr/bin/python3
fm=/usr/share/datasets/fashion-mnist
CFREE="-std=c99 -ffreestanding -Wall -Wextra -pedantic -Werror"
API_CFLAGS="-std=c11 -O2 -D_POSIX_C_SOURCE=200809L"
API_LIBS="-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lz -lm -lpthread"

# the rows: 300 test images (4 whole batches of 64 and 44 single rows, as
# predict runs them) as .npy for predict and as raw floats for the drivers;
# the tabular CSV's 150 rows as raw floats (its label column dropped)
rows_csv "$t/tab.csv" 7
$PY - "$fm/t10k-images-idx3-ubyte.gz" "$t" <<'PY'
import csv, gzip, sys
import numpy as np
with gzip.open(sys.argv[1]) as f:
    raw = f.read()
img = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784)[:300]
np.save(f"{sys.argv[2]}/img.npy", img)
img.astype(np.float32).tofile(f"{sys.argv[2]}/img.f32")
with open(f"{sys.argv[2]}/tab.csv") as f:
    rows = list(csv.DictReader(f))
np.array([[float(r[c]) for c in "abcde"] for r in rows], dtype=np.float32).tofile(
    f"{sys.argv[2]}/tab.f32")
PY

cat >"$t/tab.lua" <<EOF
-- a tabular classifier: standardised CSV features, batch norm (1d), tanh and sigmoid layers
model "tabx"
data = csv { train = "$t/tab.csv", label = "label", standardize = true, test = 0.2 }
local x = input { 5 }
local y = labels { classes = 3 }
local h = tanh(batch_norm(linear(x, 12, { name = "hid" }), { name = "hid_bn" }))
h = sigmoid(linear(h, 8, { name = "mid" }))
minimize(cross_entropy(linear(h, 3, { name = "head" }), y))
optimizer = adam { lr = 0.02 }
train { batch = 16, epochs = 15, seed = 3 }
EOF

# the driver of the exported function: raw floats in, %.9g rows out; bad
# arguments must give -1
cat >"$t/driver.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    static float x[300 * NF];
    int rows = f ? (int)(fread(x, sizeof(float), 300 * NF, f) / NF) : 0;
    float *out = malloc(sizeof(float) * (size_t)rows * NO), *scratch = malloc(sizeof(float) * NS);
    (void)argc;
    if (!rows || !out || !scratch) return 2;
    if (PREDICT(x, -1, out, scratch) != -1 || PREDICT(x, 1, out, NULL) != -1) return 3;
    if (PREDICT(x, rows, out, scratch)) return 4;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < NO; k++) printf("%.9g%c", out[r * NO + k], k == NO - 1 ? '\n' : ',');
    return 0;
}
EOF
# the model.h API's driver (the trainer's predict as floats): weights, raw floats
cat >"$t/api.c" <<'EOF'
#include <stdio.h>
#include "model.h"
int main(int argc, char **argv)
{
    static real x[300 * MODEL_FEATURES], out[300 * MODEL_OUTPUT_LEN];
    FILE *f = fopen(argv[2], "rb");
    int rows = f ? (int)(fread(x, sizeof(real), 300 * MODEL_FEATURES, f) / MODEL_FEATURES) : 0;
    (void)argc;
    if (!rows || LOAD(argv[1]) || API_PREDICT(x, rows, out)) return 2;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < MODEL_OUTPUT_LEN; k++)
            printf("%.9g%c", out[r * MODEL_OUTPUT_LEN + k], k == MODEL_OUTPUT_LEN - 1 ? '\n' : ',');
    return 0;
}
EOF

# close A B TOL: two files of rows of numbers agree within TOL (plus 5e-7
# of the value when B is predict's CSV, printed to 6 digits: 'csv');
# prints the largest difference
close() {
    $PY - "$@" <<'PY'
import sys
a = [[float(v) for v in l.split(",")] for l in open(sys.argv[1]) if l.strip()]
lines = [l for l in open(sys.argv[2]) if l.strip()]
csv = len(sys.argv) > 4
if csv:
    lines = lines[1:]
b = [[float(v) for v in l.split(",")[1 if csv else 0:]] for l in lines]
tol = float(sys.argv[3])
worst, ok = 0.0, len(a) == len(b) and len(a) > 0
for ra, rb in zip(a, b):
    ok &= len(ra) == len(rb)
    for va, vb in zip(ra, rb):
        d = abs(va - vb)
        worst = max(worst, d)
        ok &= d <= tol + (5e-7 * abs(vb) if csv else 0)
print(f"  max |export-c - {'predict' if csv else 'API'}| = {worst:.3g} over {len(a)} rows", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
# classes A CSV: each row's argmax is predict's class column (a number)
same_classes() {
    $PY - "$@" <<'PY'
import sys
a = [[float(v) for v in l.split(",")] for l in open(sys.argv[1]) if l.strip()]
b = [l.split(",")[0] for l in open(sys.argv[2]).read().split("\n")[1:] if l.strip()]
sys.exit(0 if len(a) == len(b) and all(str(r.index(max(r))) == c for r, c in zip(a, b)) else 1)
PY
}
# only_libm OBJ: every symbol the object needs is one libm defines
only_libm() {
    local libm
    libm=$(cc -print-file-name=libm.so.6)
    nm -u "$1" | awk '{ print $2 }' | sed 's/@.*//' | sort -u >"$1.needs"
    nm -D --defined-only "$libm" | awk '{ print $3 }' | sed 's/@.*//' | sort -u >"$1.libm"
    test -z "$(comm -23 "$1.needs" "$1.libm")"
}

# one NAME SPEC TRAIN_ARGS ROWS_F32 PREDICT_INPUT: build, train, export-c, compare
one() {
    local name=$1 spec=$2 train=$3 f32=$4 input=$5
    local d=$t/$name c=$t/${name}_c up
    up=$(printf '%s' "$name" | tr a-z A-Z)
    check "$name: builds" gen_build "$spec" "$d"
    (cd "$d" && ./"$name" train --quiet $train >"$t/$name.train" 2>&1)
    check "$name: export-c writes ${name}_infer.c and .h" \
        sh -c "cd '$d' && ./$name export-c '$c' >'$t/$name.export' 2>&1 && test -s '$c/${name}_infer.c' && test -s '$c/${name}_infer.h'"
    check "$name: the exported C compiles with $CFREE -O2" \
        sh -c "cc $CFREE -O2 -c '$c/${name}_infer.c' -o '$c/infer.o' 2>'$t/$name.cc'"
    check "$name: its object calls libm alone (nm -u: $(nm -u "$c/infer.o" 2>/dev/null | awk '{ print $2 }' | tr '\n' ' '))" \
        only_libm "$c/infer.o"
    check "$name: no BLAS, stdio or malloc in the source" \
        sh -c "! grep -qE 'cblas_|printf\\(|malloc\\(|memcpy\\(|memset\\(|#include <(stdio|stdlib|string)' '$c/${name}_infer.c'"
    check "$name: the driver links with -lm" \
        cc -O2 -DPREDICT="${name}_predict" -DNF="${up}_INFER_FEATURES" -DNO="${up}_INFER_OUTPUTS" \
        -DNS="${up}_INFER_SCRATCH_FLOATS" -include "$c/${name}_infer.h" "$t/driver.c" "$c/infer.o" \
        -o "$c/driver" -lm
    "$c/driver" "$f32" >"$t/$name.export_out"
    check "$name: ${name}_predict runs (and gives -1 for bad arguments)" test $? -eq 0
    (cd "$d" && ./"$name" predict "$input" >"$t/$name.pred" 2>&1)
    ninja -C "$d" --quiet "lib$name.a" >/dev/null 2>&1
    cc $API_CFLAGS -DLOAD="${name}_load" -DAPI_PREDICT="${name}_predict" -I"$d" "$t/api.c" \
        "$d/lib$name.a" -o "$t/$name.api" $API_LIBS 2>"$t/$name.api.cc"
    "$t/$name.api" "$d/$name.weights" "$f32" >"$t/$name.api_out"
    check "$name: the same probabilities as the model.h API (predict's, as floats) within 1e-6" \
        close "$t/$name.export_out" "$t/$name.api_out" 1e-6
    check "$name: the same probabilities as predict prints within 1e-6 (+ its rounding)" \
        close "$t/$name.export_out" "$t/$name.pred" 1e-6 csv
    check "$name: the same classes as predict" same_classes "$t/$name.export_out" "$t/$name.pred"
    # negative control: the first value of the last array (the output
    # layer's bias, or the standardisation's std) moved by 1%
    $PY - "$c/${name}_infer.c" "$c/bad.c" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
at = [m.end() for m in re.finditer(r"static const real \w+\[\d+\] = \{\n    ", text)][-1]
m = re.match(r"[-0-9.e+]+", text[at:])
v = float(m.group(0))
text = text[:at] + repr(v * 1.01 + 0.01) + text[at + m.end():]
open(sys.argv[2], "w").write(text)
PY
    cc $CFREE -O2 -I"$c" -c "$c/bad.c" -o "$c/bad.o" &&
        cc -O2 -DPREDICT="${name}_predict" -DNF="${up}_INFER_FEATURES" -DNO="${up}_INFER_OUTPUTS" \
            -DNS="${up}_INFER_SCRATCH_FLOATS" -include "$c/${name}_infer.h" "$t/driver.c" "$c/bad.o" \
            -o "$c/bad" -lm && "$c/bad" "$f32" >"$t/$name.bad_out"
    check "$name: negative control: one weight changed by 1% fails the comparison" \
        sh -c "test -s '$t/$name.bad_out' && ! close '$t/$name.bad_out' '$t/$name.api_out' 1e-6 2>/dev/null"
    check "$name: the generated blocks name their op and spec line" \
        grep -qE '^    /\* [a-z0-9_]+ = [a-z0-9_]+\(.*-- .*\.lua:[0-9]+' "$c/${name}_infer.c"
}

one fashion_mlp models/fashion_mlp.lua "--steps 30" "$t/img.f32" "$t/img.npy"
one fashion_cnn models/fashion_cnn.lua "--steps 8" "$t/img.f32" "$t/img.npy"
check "fashion_cnn: batch norm folded into the convolutions (with the running statistics)" \
    grep -q 'batch_norm (eval) folded into conv2d' "$t/fashion_cnn_c/fashion_cnn_infer.c"
one tabx "$t/tab.lua" "" "$t/tab.f32" "$t/tab.csv"
check "tabx: the exported C compiles at -O0 too" \
    cc $CFREE -O0 -c "$t/tabx_c/tabx_infer.c" -o "$t/tabx_c/infer0.o"
check "tabx: ... and its object calls libm alone (nm -u: $(nm -u "$t/tabx_c/infer0.o" 2>/dev/null | awk '{ print $2 }' | tr '\n' ' '))" \
    only_libm "$t/tabx_c/infer0.o"
check "tabx: the standardisation's statistics are built in" \
    grep -q 'static const real input_std\[5\]' "$t/tabx_c/tabx_infer.c"
check "tabx: tanh and sigmoid as the trainer's (rt_act.h's copies, no libm tanhf)" \
    sh -c "grep -q 'rt_tanh(' '$t/tabx_c/tabx_infer.c' && ! nm -u '$t/tabx_c/infer.o' | grep -q tanh"
