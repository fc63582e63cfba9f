# models/least_squares.lua: full-batch gradient descent reaches the solution
# of the normal equations XᵀX w = Xᵀy, computed independently: the same X, y
# regenerated with the runtime from the rt_source the generated model.c holds,
# solved in double with LAPACK's dposv (tests/unit/normal_eq.c).
#   double trainer: ||w - w_ls|| / ||w_ls|| < 1e-4 (measured ~2e-15)
#   float trainer:  the same below 1e-5, the float rounding of w's updates
#                   sets the floor (measured ~7e-8)
# The mini-batch SGD choice (batch = 64) lowers the loss but, with a constant
# lr, stops in a noise ball around w_ls: relative error ~1e-3, not 1e-4.
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
out=$TRAINC_TMP/least_squares
rm -rf "$out" && mkdir -p "$out"
spec=models/least_squares.lua
blas=/usr/lib/x86_64-linux-gnu/openblas-pthread

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }
# value KEY FILE: the number after KEY in normal_eq's report
value() { awk -v k="$1" '$1 == k { print $2 }' "$2" 2>/dev/null; }

# ne_build DIR [-DTRAINC_DOUBLE]: normal_eq against DIR's model.c (its
# model_train_data) and the runtime, in the trainer's element type
ne_build() {
    local dir=$1
    shift
    cc -std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE "$@" \
        -I"$dir" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
        tests/unit/normal_eq.c "$dir/model.c" runtime/rt_*.c -o "$dir/normal_eq" \
        -L"$blas" -Wl,-rpath,"$blas" -lopenblas -lz -lm -lpthread
}

# train_export DIR NAME [trainer flags]: trains, exports w to DIR/NAME/w.npy
train_export() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && ./least_squares train --quiet --weights "$name.weights" "$@" >"$name.train.log" &&
        ./least_squares export --quiet --weights "$name.weights" "$name")
}

# ---- double: the tight check ----
d=$out/double
gen_build "$spec" "$d" --dtype double >"$out/double.build.log" 2>&1
check "least_squares builds (double)" test -x "$d/least_squares"
ne_build "$d" -DTRAINC_DOUBLE >"$out/double.ne.log" 2>&1
check "normal_eq builds against the generated model.c (double)" test -x "$d/normal_eq"

t=$(now)
train_export "$d" full
echo "# double, full batch, spec's lr and epochs: trained and exported in $(since "$t")"
"$d/normal_eq" "$d/full/w.npy" "$d/w_ls.npy" >"$d/full.ne" 2>&1
sed 's/^/# /' "$d/full.ne"
resid=$(value ne_resid "$d/full.ne")
check "LAPACK solved the normal equations (residual $resid < 1e-12)" lt "$resid" 1e-12
err=$(value rel_err "$d/full.ne")
check "double: full-batch GD reaches w_ls to 1e-4 relative (got $err)" lt "$err" 1e-4
lw=$(value loss_w "$d/full.ne")
lls=$(value loss_ls "$d/full.ne")
gap=$(awk -v a="$lw" -v b="$lls" 'BEGIN { if (a == "" || b <= 0) exit; printf "%.3e", (a - b) / b }')
check "double: its loss is the least-squares minimum to 1e-9 relative (gap $gap)" \
    awk -v g="$gap" 'BEGIN { exit !(g != "" && g + 0 < 1e-9 && g + 0 > -1e-9) }'

# negative control: 5 steps of GD leave w ~1e-2 away; the check must see it
train_export "$d" early --epochs 5
"$d/normal_eq" "$d/early/w.npy" >"$d/early.ne" 2>&1
err=$(value rel_err "$d/early.ne")
check "negative control: 5 epochs do not pass the 1e-4 check (got $err)" gt "$err" 1e-4

# ---- float: the same, with a looser tolerance ----
f=$out/float
gen_build "$spec" "$f" >"$out/float.build.log" 2>&1
check "least_squares builds (float)" test -x "$f/least_squares"
ne_build "$f" >"$out/float.ne.log" 2>&1
check "normal_eq builds against the generated model.c (float)" test -x "$f/normal_eq"
t=$(now)
train_export "$f" full
echo "# float, full batch: trained and exported in $(since "$t")"
"$f/normal_eq" "$f/full/w.npy" >"$f/full.ne" 2>&1
sed 's/^/# /' "$f/full.ne"
err=$(value rel_err "$f/full.ne")
check "float: full-batch GD reaches w_ls to 1e-5 relative (got $err)" lt "$err" 1e-5

# ---- mini-batch SGD: the spec's other choice ----
s=$out/sgd
mkdir -p "$s"
gen_build "$spec" "$s/bin" --set batch=64 >"$out/sgd.build.log" 2>&1
check "least_squares builds with batch = 64" \
    sh -c "test -x '$s/bin/least_squares' && grep -q 'define MODEL_BATCH 64 ' '$s/bin/model.h'"
ne_build "$s/bin" >"$out/sgd.ne.log" 2>&1
t=$(now)
train_export "$s/bin" sgd --metrics metrics.csv
echo "# float, batch 64: trained and exported in $(since "$t")"
first=$(awk -F, 'NR == 2 { print $3 }' "$s/bin/metrics.csv" 2>/dev/null)
last=$(awk -F, 'NR > 1 { v = $3 } END { print v }' "$s/bin/metrics.csv" 2>/dev/null)
check "sgd: the loss goes down (epoch 1 $first, last epoch $last)" \
    awk -v a="$last" -v b="$first" 'BEGIN { exit !(a != "" && b != "" && a + 0 < b / 10) }'
"$s/bin/normal_eq" "$s/bin/sgd/w.npy" >"$s/sgd.ne" 2>&1
sed 's/^/# /' "$s/sgd.ne"
lw=$(value loss_w "$s/sgd.ne")
lls=$(value loss_ls "$s/sgd.ne")
check "sgd: its w is near the minimum (loss $lw < 1.2 x $lls)" \
    awk -v a="$lw" -v b="$lls" 'BEGIN { exit !(a != "" && b > 0 && a + 0 < 1.2 * b) }'
err=$(value rel_err "$s/sgd.ne")
check "sgd: with a constant lr it stays short of 1e-4 (got $err)" gt "$err" 1e-4
