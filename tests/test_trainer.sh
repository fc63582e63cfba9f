# The generated trainer as a tool: the default model learns on a subset,
# the training loop allocates nothing, the folder builds anywhere, double
# precision, partial batches, predict / eval / export / info; the peak memory
# of a Fashion-MNIST epoch.
. tests/lib.sh
out=$TRAINC_TMP/trainer
mkdir -p "$out"

# --- fashion_mlp, briefly, on a subset of the training rows
gen_build models/fashion_mlp.lua "$out/fashion" >"$out/fashion.log" 2>&1
check "fashion_mlp builds warning-free" sh -c "test -x '$out/fashion/fashion_mlp' && ! grep -q warning '$out/fashion.log'"
acc=$(cd "$out/fashion" && ./fashion_mlp train --limit 30000 --epochs 2 --quiet | awk '/^test/ { print $5 }')
check "fashion_mlp on 30000 rows x 2 epochs beats 0.80 test accuracy (got $acc)" gt "$acc" 0.80
again=$(cd "$out/fashion" && ./fashion_mlp eval | awk '/^test/ { print $5 }')
check "eval of the saved weights gives the same accuracy ($again)" test "$acc" = "$again"
check "info reports the parameter count" sh -c "cd '$out/fashion' && ./fashion_mlp info | grep -q 'total.*235146'"
check "info reports FLOPs per step" sh -c "cd '$out/fashion' && ./fashion_mlp info | grep -q 'FLOPs .* per training step'"
# the pixels stay bytes in memory (IDX uint8, converted and scaled as each
# batch is gathered): an epoch of all 60000 rows peaks under 90 MB (about
# 220 MB when the data was held as float); not under the sanitizers
if ! sanitized; then
    rss=$(cd "$out/fashion" && /usr/bin/python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' ./fashion_mlp train --epochs 1 --quiet --weights rss.w)
    check "fashion_mlp: an epoch of all rows peaks under 90 MB of memory (got $rss KB)" lt "$rss" 90000
fi

# --- predict: CSV rows in, a class and probabilities out
/usr/bin/python3 - "$out/rows.csv" <<'PY'
import gzip, sys
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:16 + 10 * 784]
with open(sys.argv[1], "w") as f:
    for r in range(10):
        f.write(",".join(str(b) for b in raw[r * 784:(r + 1) * 784]) + "\n")
PY
(cd "$out/fashion" && ./fashion_mlp predict "$out/rows.csv" -o "$out/pred.csv")
check "predict writes a header and one row per input row" sh -c "test \$(wc -l < '$out/pred.csv') -eq 11 && head -1 '$out/pred.csv' | grep -q '^class,p0,'"
check "predict: probabilities sum to 1" awk -F, 'NR > 1 { s = 0; for (i = 2; i <= NF; i++) s += $i; if (s < 0.999 || s > 1.001) bad = 1 } END { exit bad }' "$out/pred.csv"
# the labels of the first ten test images are 9 2 1 1 6 1 4 6 5 7
right=$(awk -F, 'BEGIN { split("9 2 1 1 6 1 4 6 5 7", t, " ") } NR > 1 && $1 == t[NR - 1] { n++ } END { print n + 0 }' "$out/pred.csv")
check "predict: at least 7 of the first 10 test images get their label (got $right)" test "$right" -ge 7

# --- export: NumPy files named after the spec's layers
(cd "$out/fashion" && ./fashion_mlp export "$out/npy" --quiet)
check "export writes fc1.weight.npy with PyTorch's [out, in] shape" \
    /usr/bin/python3 -c "import numpy as n; a = n.load('$out/npy/fc1.weight.npy'); assert a.shape == (256, 784) and a.dtype == n.float32"

# --- the training loop allocates nothing: the heap use of 5 and 60 steps is
# the same (valgrind counts; a dynamically linked build of the same folder).
# The net is big enough for its products to go to OpenBLAS.
cat >"$out/alloc.lua" <<'LUA'
data = spirals { n = 640, test = 64 }
local x = input { 2 }
local y = labels { classes = 2 }
local h = relu(linear(x, 256))
h = tanh(linear(h, 256))
minimize(cross_entropy(linear(h, 2), y))
optimizer = sgd { lr = 0.1 }
train { batch = 64, epochs = 100 }
LUA
gen=$out/dyn
"$TRAINC" gen -q "$out/alloc.lua" -o "$gen"
valgrind_build "$gen" dyn
check "the BLAS path is taken" grep -q cblas_sgemm "$gen/model.c"
heap() { heap_use "$gen" dyn train --steps "$1" --threads 1 --quiet --weights w; }
h5=$(heap 5)
h60=$(heap 60)
check "no allocation in the training loop (5 steps: $h5; 60 steps: $h60)" same_heap "$h5" "$h60"

# --- the folder builds away from the repository, and the binary needs no Lua
gen_build models/xor.lua "$out/xor" >/dev/null 2>&1
rm -rf "$out/elsewhere" && cp -r "$out/xor" "$out/elsewhere" && rm -rf "$out/elsewhere/obj" "$out/elsewhere/xor"
check "out/<model> builds with ninja alone, copied elsewhere" sh -c "cd '$out/elsewhere' && ninja >/dev/null && test -x xor"
check "the trainer is static (no Lua, no shared libraries; sanitized under tests/run --sanitize)" static_trainer "$out/elsewhere/xor"
check "the folder does not refer to the trainc source tree" sh -c "! grep -rqs '$(pwd)' '$out/elsewhere' --include='*.c' --include='*.h' --include='build.ninja'"

# --- double precision: the same trainer in double
gen_build models/xor.lua "$out/xor64" --dtype double >"$out/xor64.log" 2>&1
check "--dtype double builds warning-free" sh -c "! grep -q warning '$out/xor64.log' && grep -q TRAINC_DOUBLE '$out/xor64/build.ninja'"
loss=$(cd "$out/xor64" && ./xor train --quiet | awk '/loss/ { print $3 }')
check "--dtype double trains xor (loss $loss)" lt "$loss" 0.01
check "double weights are refused by the float trainer" sh -c "! (cd '$out/xor' && ./xor eval --weights '$out/xor64/xor.weights' 2>&1 | grep -q accuracy)"

# --- partial batches: 10 rows in batches of 4 are steps of 4, 4, 2 (or 4, 4 with drop_last)
# (the spec is parts.lua: "partial" is a name the generated code keeps for itself)
cat >"$out/parts.lua" <<'LUA'
data = linreg { n = 10, d = 3 }
local x = input { 3 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.01 }
train { batch = 4, epochs = 1, drop_last = args.drop or false }
LUA
gen_build "$out/parts.lua" "$out/parts" >/dev/null 2>&1
check "the remainder shape is generated (MODEL_REMAINDER 2)" grep -q 'define MODEL_REMAINDER 2 ' "$out/parts/model.h"
check "10 rows in batches of 4 take 3 steps" sh -c "cd '$out/parts' && ./parts train | grep -q '(3 steps'"
gen_build "$out/parts.lua" "$out/parts_drop" --set drop=true >/dev/null 2>&1
check "drop_last: no remainder step is generated" grep -q 'define MODEL_REMAINDER 0 ' "$out/parts_drop/model.h"
check "drop_last: 10 rows in batches of 4 take 2 steps" sh -c "cd '$out/parts_drop' && ./parts train | grep -q '(2 steps'"

# --- transfer learning: start from exported weights, train only the head
cat >"$out/tl.lua" <<'LUA'
data = spirals { n = 200, test = 50 }
local x = input { 2 }
local y = labels { classes = 2 }
local h = tanh(linear(x, 16, { name = "fc1", frozen = args.frozen or false }))
minimize(cross_entropy(linear(h, 2, { name = "fc2" }), y))
optimizer = sgd { lr = 0.2, momentum = 0.9, weight_decay = 1e-3 }
train { batch = 20, epochs = 10 }
LUA
gen_build "$out/tl.lua" "$out/tl_pre" >/dev/null 2>&1
(cd "$out/tl_pre" && ./tl train --quiet >/dev/null && ./tl export pre --quiet)
gen_build "$out/tl.lua" "$out/tl_post" --set frozen=true >/dev/null 2>&1
# (the output goes to a file first: grep -q leaving early would cut the
# trainer off by SIGPIPE before it saves, as happened under the sanitizers)
(cd "$out/tl_post" && ./tl train --init "$out/tl_pre/pre" --epochs 3 >init.out 2>&1)
check "train --init DIR loads every tensor the folder has" grep -q '4 of 4 parameter tensors' "$out/tl_post/init.out"
(cd "$out/tl_post" && ./tl export post --quiet)
check "a frozen layer keeps the loaded weights (even with weight decay)" cmp -s "$out/tl_pre/pre/fc1.weight.npy" "$out/tl_post/post/fc1.weight.npy"
check "the layer after it trains" sh -c "! cmp -s '$out/tl_pre/pre/fc2.weight.npy' '$out/tl_post/post/fc2.weight.npy'"
check "--init of a folder without this model's tensors is refused" \
    sh -c "cd '$out/tl_post' && ! ./tl train --init /nonexistent --quiet 2>/dev/null"

# --- checkpoints: a resumed run ends with bit-identical weights
gen_build models/spirals.lua "$out/ck" >/dev/null 2>&1
ck=$out/ck
same() { # same DIR1 DIR2: every exported array identical
    for f in "$1"/*.npy; do cmp -s "$f" "$2/$(basename "$f")" || return 1; done
}
(cd "$ck" && ./spirals train --epochs 6 --threads 1 --quiet --weights ref.w >/dev/null && ./spirals export ref --weights ref.w --quiet)
(cd "$ck" && ./spirals train --epochs 3 --threads 1 --quiet --checkpoint e.ck --weights e.w >/dev/null &&
    ./spirals train --epochs 6 --threads 1 --quiet --resume e.ck --weights e.w >/dev/null && ./spirals export e --weights e.w --quiet)
check "resume at an epoch boundary: bit-identical weights" same "$ck/ref" "$ck/e"
(cd "$ck" && ./spirals train --steps 130 --epochs 6 --threads 1 --quiet --checkpoint m.ck --weights m.w >/dev/null &&
    ./spirals train --epochs 6 --threads 1 --quiet --resume m.ck --weights m.w >/dev/null && ./spirals export m --weights m.w --quiet)
check "resume within an epoch (stopped by --steps): bit-identical weights" same "$ck/ref" "$ck/m"
(cd "$ck" && ./spirals train --steps 100 --every-steps 7 --epochs 6 --threads 1 --quiet --checkpoint s.ck --weights s.w >/dev/null &&
    ./spirals train --epochs 6 --threads 1 --quiet --resume s.ck --weights s.w >/dev/null && ./spirals export s --weights s.w --quiet)
check "checkpoints every 7 steps: bit-identical weights" same "$ck/ref" "$ck/s"
printf 'garbage' >"$ck/bad.ck"
head -c 300 "$ck/e.ck" >"$ck/trunc.ck"
check "a file that is no checkpoint is refused" sh -c "cd '$ck' && ./spirals train --resume bad.ck 2>&1 >/dev/null | grep -q 'not a trainc checkpoint'"
check "a truncated checkpoint is refused" sh -c "cd '$ck' && ./spirals train --resume trunc.ck 2>&1 >/dev/null | grep -q 'damaged'"
check "another model's checkpoint is refused" sh -c "cd '$out/tl_post' && ./tl train --resume '$ck/e.ck' 2>&1 >/dev/null | grep -q 'another model'"

# kill -9 at random moments while training and checkpointing: the surviving
# checkpoint always loads, and the resumed run ends with the same weights
(cd "$ck" && ./spirals train --epochs 150 --threads 1 --quiet --weights k_ref.w >/dev/null && ./spirals export k_ref --weights k_ref.w --quiet)
kills=0 good=0
for trial in $(seq 1 20); do
    rm -f "$ck/k.ck" "$ck/k.w"
    (cd "$ck" && exec ./spirals train --epochs 150 --threads 1 --quiet --checkpoint k.ck --every-steps 25 --weights k.w >/dev/null 2>&1) &
    pid=$!
    sleep "0.$(printf '%02d' $(( (trial * 37) % 40 + 2 )))" # 0.02 to 0.41 s of a ~0.5 s run
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" 2>/dev/null
    if [ -f "$ck/k.ck" ]; then
        (cd "$ck" && ./spirals train --epochs 150 --threads 1 --quiet --resume k.ck --weights k.w >/dev/null &&
            rm -rf k && ./spirals export k --weights k.w --quiet) && same "$ck/k_ref" "$ck/k" && good=$((good + 1))
    else
        good=$((good + 1)) # killed before the first checkpoint: nothing to resume, nothing lost
    fi
done
check "kill -9 at 20 moments ($kills killed mid-run): every surviving checkpoint resumes to identical weights ($good of 20)" test "$good" -eq 20

# --- early stopping on the validation loss, going back to the best weights
cp tests/data/early_stop.lua "$out/es.lua"
gen_build "$out/es.lua" "$out/es" >/dev/null 2>&1
(cd "$out/es" && ./es train >es.out)
check "early stopping stops long before 500 epochs" grep -q '^early stopping after epoch [0-9]*: no improvement for 3 epochs' "$out/es/es.out"
best=$(sed -n 's/.*best validation loss \([0-9.e-]*\) at epoch \([0-9]*\).*/\2/p' "$out/es/es.out")
last=$(sed -n 's/^early stopping after epoch \([0-9]*\).*/\1/p' "$out/es/es.out")
check "it stops 3 epochs after the best one (best $best, stopped $last)" test "$((best + 3))" -eq "$last"
(cd "$out/es" && ./es export restored --quiet && ./es train --epochs "$best" --weights best.w --quiet >/dev/null &&
    ./es export best --weights best.w --quiet)
check "the best epoch's weights are restored (equal to a run of $best epochs)" \
    sh -c "grep -q 'its weights restored' '$out/es/es.out' && cmp -s '$out/es/restored/linear1.weight.npy' '$out/es/best/linear1.weight.npy' && cmp -s '$out/es/restored/linear1.bias.npy' '$out/es/best/linear1.bias.npy'"

# ---- the plain loop (train.c's train_plain: --quiet, no files) trains the
# weights the full loop (writing metrics) trains, and stops at the same step ----
(cd "$out/xor" && ./xor train --epochs 300 --quiet --weights plain.w >/dev/null &&
    ./xor train --epochs 300 --quiet --weights full.w --metrics full.csv >/dev/null &&
    ./xor train --epochs 300 --quiet --steps 123 --weights plain_s.w >/dev/null &&
    ./xor train --epochs 300 --quiet --steps 123 --weights full_s.w --step-metrics full_s.csv >/dev/null)
check "train --quiet (the plain loop) saves the weights of a run writing metrics" \
    cmp -s "$out/xor/plain.w" "$out/xor/full.w"
check "... and stops at the same --steps" cmp -s "$out/xor/plain_s.w" "$out/xor/full_s.w"
check "... (the comparison can fail: 123 steps give other weights than 300)" \
    sh -c "! cmp -s '$out/xor/plain.w' '$out/xor/plain_s.w'"
