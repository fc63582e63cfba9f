# The inference API of the generated model.h (predict.c): a C program
# without the trainer's main.c loads the weights and gets the numbers the
# trainer's `predict` writes for the same rows. models/embed/classify.c (the
# example, on models/spirals.lua) in float and double, and a driver here for
# the other kinds of output (one probability, a logit, values with scaling
# and standardisation); refused weights, and calls in the wrong order.
. tests/lib.sh
out=$TRAINC_TMP/api
rm -rf "$out"
mkdir -p "$out"
PY=/usr/bin/python3
root=$(pwd)
CFLAGS="-std=c11 -O2 -Wall -Wextra -pedantic -D_POSIX_C_SOURCE=200809L"
LIBS="-lopenblas -lz -lm"

# rows N D FILE: N random rows of D features in [-1.5, 1.5], with a header
rows() {
    $PY - "$@" <<'PY'
import random, sys
n, d, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(7)
with open(path, "w") as f:
    f.write(",".join("x%d" % j for j in range(d)) + "\n")
    for _ in range(n):
        f.write(",".join("%.7g" % random.uniform(-1.5, 1.5) for _ in range(d)) + "\n")
PY
}
# --- the example, on spirals in float: 257 rows = 12 batches of 20 and 17 single rows
sp=$out/spirals
gen_build models/spirals.lua "$sp" >"$out/spirals.log" 2>&1
(cd "$sp" && ./spirals train --epochs 150 --quiet >/dev/null)
rows 257 2 "$out/rows2.csv"
(cd "$sp" && ./spirals predict "$out/rows2.csv" -o "$out/trainer.csv")
check "the generated folder has predict.c, and model.h declares spirals_predict" \
    sh -c "test -f '$sp/predict.c' && grep -q 'int spirals_predict(const real \*x, int rows, real \*out);' '$sp/model.h'"
check "model.h has the sizes as macros" sh -c \
    "grep -q '#define SPIRALS_FEATURES 2 ' '$sp/model.h' && grep -q '#define SPIRALS_OUTPUTS 2 ' '$sp/model.h'"
(cd "$sp" && cc $CFLAGS -I. "$root/models/embed/classify.c" model.c predict.c runtime/*.c \
    -o "$out/classify" $LIBS) >"$out/cc.log" 2>&1
check "the example builds from model.c, predict.c and the runtime, without main.c, warning-free" \
    sh -c "test -x '$out/classify' && ! test -s '$out/cc.log'"
"$out/classify" "$sp/spirals.weights" "$out/rows2.csv" >"$out/api.csv"
check "the example classifies 257 rows" test "$(wc -l <"$out/api.csv")" -eq 258
check "float: identical to the trainer's predict, byte for byte (both read rows through rt_decide)" \
    cmp -s "$out/trainer.csv" "$out/api.csv"
"$out/classify" --from-memory "$sp/spirals.weights" <"$out/rows2.csv" >"$out/api_mem.csv"
check "weights loaded from memory (spirals_load_buffer) give the same output" cmp -s "$out/api.csv" "$out/api_mem.csv"

# the model folder's library and the example's build.ninja
ninja -C "$sp" --quiet libspirals.a >/dev/null 2>&1
check "ninja libspirals.a builds the model without the trainer" sh -c \
    "test -f '$sp/libspirals.a' && ! nm '$sp/libspirals.a' | grep -q ' T main$'"
cc $CFLAGS -I"$sp" models/embed/classify.c "$sp/libspirals.a" -o "$out/classify_lib" $LIBS
check "the example links against libspirals.a and gives the same output" \
    sh -c "'$out/classify_lib' '$sp/spirals.weights' '$out/rows2.csv' | cmp -s - '$out/api.csv'"
mkdir -p "$out/top/models" "$out/top/out"
cp -r models/embed "$out/top/models/"
ln -s "$sp" "$out/top/out/spirals"
(cd "$out/top" && ninja -f models/embed/build.ninja >"$out/embed_ninja.log" 2>&1)
check "models/embed/build.ninja builds out/embed/classify from the top folder" test -x "$out/top/out/embed/classify"

# --- the same in double: byte for byte what predict writes
spd=$out/spirals_d
gen_build models/spirals.lua "$spd" --dtype double >"$out/spirals_d.log" 2>&1
(cd "$spd" && ./spirals train --epochs 150 --quiet >/dev/null && ./spirals predict "$out/rows2.csv" -o "$out/trainer_d.csv")
(cd "$spd" && cc $CFLAGS -DTRAINC_DOUBLE -I. "$root/models/embed/classify.c" model.c predict.c runtime/*.c \
    -o "$out/classify_d" $LIBS) >"$out/cc_d.log" 2>&1
"$out/classify_d" "$spd/spirals.weights" "$out/rows2.csv" >"$out/api_d.csv"
check "double: identical to the trainer's predict, byte for byte" cmp -s "$out/trainer_d.csv" "$out/api_d.csv"

# --- refused weights: a clear message naming the file, exit 1
"$out/classify" "$out/missing.weights" "$out/rows2.csv" >/dev/null 2>"$out/e1"
rc=$?
check "missing weights: exit 1, named ($(cat "$out/e1"))" sh -c "test $rc -eq 1 && grep -q 'missing.weights: cannot open' '$out/e1'"
"$out/classify" "$spd/spirals.weights" "$out/rows2.csv" >/dev/null 2>"$out/e2"
rc=$?
check "double weights in a float program: refused ($(cat "$out/e2"))" sh -c "test $rc -eq 1 && grep -q 'weights are double' '$out/e2'"
head -c 300 "$sp/spirals.weights" >"$out/short.weights"
"$out/classify" "$out/short.weights" "$out/rows2.csv" >/dev/null 2>"$out/e3"
rc=$?
check "a truncated file: refused ($(cat "$out/e3"))" sh -c "test $rc -eq 1 && grep -q 'short.weights: damaged' '$out/e3'"
cp "$sp/spirals.weights" "$out/flip.weights"
printf '\377' | dd of="$out/flip.weights" bs=1 seek=200 conv=notrunc 2>/dev/null
"$out/classify" --from-memory "$out/flip.weights" "$out/rows2.csv" >/dev/null 2>"$out/e4"
rc=$?
check "a damaged buffer: refused ($(cat "$out/e4"))" sh -c "test $rc -eq 1 && grep -q 'checksum' '$out/e4'"
printf '1,2\n3\n' >"$out/ragged.csv"
"$out/classify" "$sp/spirals.weights" "$out/ragged.csv" >/dev/null 2>"$out/e5"
rc=$?
check "the example names a bad row ($(cat "$out/e5"))" sh -c "test $rc -eq 1 && grep -q 'ragged.csv:2' '$out/e5'"

# --- a driver for any model: NAME replaced by the model's name; writes what
# the trainer's predict writes; checks the calls in the wrong order
cat >"$out/driver.c.in" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

int main(int argc, char **argv)
{
    (void)argc;
    real probe[NAME_UPPER_FEATURES + 1] = {0}, pout[NAME_UPPER_OUTPUTS];
    if (NAME_predict(probe, 1, pout) == 0 || !strstr(NAME_error(), "no weights loaded")) {
        fprintf(stderr, "predict before load did not fail\n");
        return 3;
    }
    if (NAME_load_buffer("garbage", 7) == 0 || !strstr(NAME_error(), "not a trainc weights file")) {
        fprintf(stderr, "garbage weights were not refused\n");
        return 3;
    }
    if (NAME_load(argv[1])) {
        fprintf(stderr, "%s\n", NAME_error());
        return 1;
    }
    /* a refused load keeps the weights that were loaded */
    if (NAME_load_buffer("garbage", 7) == 0) return 3;
    FILE *f = fopen(argv[2], "r");
    char line[65536];
    int n = 0;
    real *x = malloc(sizeof(real) * 100000);
    if (!f || !fgets(line, sizeof line, f)) return 1; /* header */
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        for (int j = 0; j < NAME_UPPER_FEATURES; j++) {
            x[n * NAME_UPPER_FEATURES + j] = (real)strtod(p, &p);
            p++;
        }
        n++;
    }
    fclose(f);
    real *out = malloc(sizeof(real) * (size_t)n * NAME_UPPER_OUTPUTS);
    int *cls = malloc(sizeof(int) * (size_t)n);
    if (NAME_classify(x, n, cls, out)) return 1;
    for (int r = 0; r < n; r++) {
        if (MODEL_TASK == RT_TASK_REGRESS) {
            for (int k = 0; k < NAME_UPPER_OUTPUTS; k++)
                printf("%s%.9g", k ? "," : "y0\n" + 3 * (r > 0), (double)out[r * NAME_UPPER_OUTPUTS + k]);
        } else {
            if (r == 0) printf("class,p\n");
            printf("%d,%.6g", cls[r], (double)out[r]);
        }
        printf("\n");
    }
    /* predict gives the same numbers as classify */
    real *again = malloc(sizeof(real) * (size_t)n * NAME_UPPER_OUTPUTS);
    NAME_predict(x, n, again);
    if (memcmp(again, out, sizeof(real) * (size_t)n * NAME_UPPER_OUTPUTS)) return 4;
    NAME_free();
    int rc = NAME_predict(x, 1, again) == 0 ? 5 : 0; /* freed: no weights */
    free(x), free(out), free(cls), free(again); /* LeakSanitizer checks the driver too */
    return rc;
}
C
# api_case NAME SPEC FEATURES [trainc args]: builds, trains, predicts both ways
api_case() {
    local name=$1 spec=$2 d=$3
    shift 3
    local dir=$out/$name upper dflag=
    upper=$(echo "$name" | tr a-z A-Z)
    case " $* " in *" double "*) dflag=-DTRAINC_DOUBLE ;; esac
    gen_build "$spec" "$dir" "$@" >"$out/$name.log" 2>&1
    (cd "$dir" && ./"$name" train --quiet >/dev/null)
    rows 101 "$d" "$out/rows_$name.csv"
    (cd "$dir" && ./"$name" predict "$out/rows_$name.csv" -o "$out/trainer_$name.csv")
    sed "s/NAME_UPPER/$upper/g; s/NAME/$name/g" "$out/driver.c.in" >"$dir/driver.c"
    (cd "$dir" && cc $CFLAGS $dflag -I. driver.c model.c predict.c runtime/*.c -o driver $LIBS) >"$out/cc_$name.log" 2>&1
    (cd "$dir" && ./driver "$name.weights" "$out/rows_$name.csv" >"$out/api_$name.csv")
    echo $?
}
cat >"$out/reg.lua" <<'LUA'
model "reg"
data = linreg { n = 500, d = 6, noise = 0.1, test = 100, scale = 3, standardize = true }
local x = input { 6 }
local y = labels { 1 }
minimize(mse(linear(relu(linear(x, 16)), 1), y))
optimizer = adam { lr = 0.01 }
train { batch = 32, epochs = 20, seed = 3 }
LUA
rc=$(api_case reg "$out/reg.lua" 6)
check "values, scaled and standardised inside: the driver runs (exit $rc; wrong order refused)" test "$rc" -eq 0
check "values: identical to the trainer's predict in float, byte for byte" cmp -s "$out/trainer_reg.csv" "$out/api_reg.csv"
check "the standardisation statistics came from the weights file" grep -q "MODEL_STANDARDIZE 1" "$out/reg/model.h"

cat >"$out/prob.lua" <<'LUA'
model "prob"
data = xor { n = 200, noise = 0.2 }
local x = input { 2 }
local y = labels { 1 }
minimize(bce(sigmoid(linear(tanh(linear(x, 8)), 1)), y))
optimizer = sgd { lr = 0.5 }
train { batch = 16, epochs = 30, seed = 1 }
LUA
rc=$(api_case prob "$out/prob.lua" 2)
check "one probability (sigmoid + bce): identical to predict (exit $rc)" \
    sh -c "test $rc -eq 0 && cmp -s '$out/trainer_prob.csv' '$out/api_prob.csv'"

cat >"$out/logit.lua" <<'LUA'
model "logit"
data = xor { n = 200, noise = 0.2 }
local x = input { 2 }
local y = labels { 1 }
minimize(bce_with_logits(linear(tanh(linear(x, 8)), 1), y))
optimizer = sgd { lr = 0.5 }
train { batch = 16, epochs = 30, seed = 1 }
LUA
rc=$(api_case logit "$out/logit.lua" 2 --dtype double)
check "a logit (bce_with_logits), double: identical to predict (exit $rc)" \
    sh -c "test $rc -eq 0 && cmp -s '$out/trainer_logit.csv' '$out/api_logit.csv'"
check "... the trainer and the driver build warning-free" sh -c "! grep -q warning '$out/logit.log' && ! test -s '$out/cc_logit.log'"

# a model name that would collide with the runtime's rt_* names is refused
printf 'model "rt_weights"\nlocal w = param { 2 }\nminimize(sum(w ^ 2))\noptimizer = sgd { lr = 0.1 }\n' >"$out/rt.lua"
"$TRAINC" gen -q "$out/rt.lua" -o "$out/rt" 2>"$out/rt.err"
rc=$?
check "a model named rt_weights is refused (exit $rc): $(cat "$out/rt.err")" \
    sh -c "test $rc -eq 2 && grep -q \"rt.lua: the model name 'rt_weights' is taken by the runtime\" '$out/rt.err'"
