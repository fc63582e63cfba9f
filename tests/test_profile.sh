# train --profile (templates/trainer/profile.c, gen/profile.c): after
# training, one row per op block of the full-batch training step, in
# model.c's order and with its spec line, then the update and the rest of
# the step; shares sum to 100%, times are non-negative, predictions are
# numbers. Timing must not change what is computed: the weights after
# training with and without --profile are the same bytes. No timed
# assertions: the machine is shared.
. tests/lib.sh
t=$TRAINC_TMP/profile
rm -rf "$t" && mkdir -p "$t"

# spirals: 1000 rows, batch 64, so a partial step of 40 rows too
cat >"$t/prof.lua" <<'LUA'
model "prof"
data = spirals { n = 1000, noise = 0.03, test = 200 }
local x = input { 2 }
local y = labels { classes = 2 }
local h = tanh(linear(x, 32, { name = "fc1" }))
h = relu(linear(h, 32, { name = "fc2" }))
local logits = linear(h, 2, { name = "fc3" })
minimize(cross_entropy(logits, y))
optimizer = adam { lr = 0.01 }
train { batch = 64, epochs = 3, seed = 1 }
LUA
gen_build "$t/prof.lua" "$t/out" >"$t/build.log" 2>&1
check "the trainer builds warning-free" sh -c "test -x '$t/out/prof' && ! grep -qi warning '$t/build.log'"
# each generated function in a file of its own: $t/NAME.c (train_64, eval_1, ...)
for f in train_64 train_40 eval_64 eval_1; do
    awk -v f="$f" '$0 ~ "---- " f ":" { on = 1 } on && /^}/ { exit } on' "$t/out/model.c" >"$t/$f.c"
done

(cd "$t/out" && ./prof train --quiet --weights "$t/plain.weights" >"$t/plain.txt" 2>&1)
(cd "$t/out" && ./prof train --quiet --profile --weights "$t/prof.weights" >"$t/prof.txt" 2>&1)
check "training with --profile gives the same weights, byte for byte" cmp -s "$t/plain.weights" "$t/prof.weights"
(cd "$t/out" && ./prof train --quiet --seed 2 --weights "$t/seed2.weights" >/dev/null 2>&1)
check "... (negative control: another seed's weights differ)" sh -c "! cmp -s '$t/plain.weights' '$t/seed2.weights'"
check "... and the same test result" sh -c "grep '^test' '$t/plain.txt' >'$t/plain.test' && grep '^test' '$t/prof.txt' | cmp -s - '$t/plain.test'"
check "without --profile no table is printed" sh -c "! grep -q 'profile:\|spec line' '$t/plain.txt'"

# the table: rows between the header and the update row
sed -n '/^spec line/,/^- *update/p' "$t/prof.txt" | sed '1d;$d' >"$t/ops.txt"
n_rows=$(wc -l <"$t/ops.txt")
n_blocks=$(grep -c 'PROFILE_BEGIN(' "$t/train_64.c")
check "one row per op block of the training step ($n_rows rows, $n_blocks blocks)" \
    sh -c "[ $n_rows -gt 10 ] && [ $n_rows -eq $n_blocks ]"
sed -n 's/.*PROFILE_BEGIN(\([0-9]*\));.*/\1/p' "$t/train_64.c" >"$t/begin.got"
sed -n 's/.*PROFILE_END(\([0-9]*\));.*/\1/p' "$t/train_64.c" >"$t/end.got"
seq 0 $((n_blocks - 1)) >"$t/blocks.want"
check "the blocks are numbered 0, 1, ... in order, each begun and ended" \
    sh -c "cmp -s '$t/begin.got' '$t/blocks.want' && cmp -s '$t/end.got' '$t/blocks.want'"
# each block's spec line: the first "prof.lua:N" after its comment opens
awk '/^    \/\* [a-z_0-9]+ = / { want = 1 } want && match($0, /prof\.lua:[0-9]+/) {
    print substr($0, RSTART, RLENGTH); want = 0 }' "$t/train_64.c" >"$t/lines.want"
awk '{ print $1 }' "$t/ops.txt" >"$t/lines.got"
check "each row has its block's spec line, in model.c's order" diff "$t/lines.want" "$t/lines.got"
check "... the forward rows first: fc1 (line 5), fc2 (6), fc3 (7), the loss (8)" \
    sh -c "head -4 '$t/lines.got' | tr '\n' ' ' | grep -qx 'prof.lua:5 prof.lua:6 prof.lua:7 prof.lua:8 '"
check "... each row names its op and node: 'matmul fc1' first" \
    sh -c "head -1 '$t/ops.txt' | grep -q 'prof.lua:5 *matmul fc1 *\(blas\|loops\|unrolled\|gemv\) '"
check "the partial step (40 rows) and the evaluation steps are not timed" \
    sh -c "! grep -q PROFILE '$t/train_40.c' '$t/eval_64.c' '$t/eval_1.c' && grep -q matmul '$t/train_40.c'"
check "the update and the rest of the step have rows" \
    sh -c "grep -q '^- *update (optimizer) ' '$t/prof.txt' && grep -q '^- *other (batch, guard, figures) ' '$t/prof.txt'"
# numbers: µs/step, predicted, GFLOP/s, share are the last four fields
awk '/^spec line/ { on = 1; next } on && NF >= 5 { print $(NF - 3), $(NF - 2), $NF }' "$t/prof.txt" >"$t/nums.txt"
check "times are numbers and not negative" awk '{ if ($1 !~ /^[0-9]+\.[0-9]$/) exit 1 } END { exit NR < 12 }' "$t/nums.txt"
check "each op row has a positive prediction" awk '{ p = $(NF - 2); if (p !~ /^[0-9.]+$/ || p <= 0) exit 1 }' "$t/ops.txt"
check "shares sum to 100% (within rounding)" awk '{ s += $3 } END { exit !(s > 99.4 && s < 100.6) }' "$t/nums.txt"
check "the head says how many steps were timed: all full steps but the first (3 x 15 - 1)" \
    grep -q '^profile: 44 steps of 64 rows, [0-9.]* µs per step' "$t/prof.txt"
# a run of one step times nothing, and says so
(cd "$t/out" && ./prof train --quiet --profile --steps 1 --weights "$t/one.weights" >"$t/one.txt" 2>&1)
check "one step: nothing timed, said plainly" grep -q '^profile: no step of 64 rows was timed' "$t/one.txt"

# a layer named as PROFILE_BEGIN's local builds and profiles (renamed in C)
sed 's/name = "fc2"/name = "prof_start"/' "$t/prof.lua" >"$t/clash.lua"
gen_build "$t/clash.lua" "$t/clash" >"$t/clash.log" 2>&1
check "a layer named prof_start builds warning-free" sh -c "test -x '$t/clash/prof' && ! grep -qi warning '$t/clash.log'"
(cd "$t/clash" && ./prof train --quiet --profile --weights "$t/clash.weights" >"$t/clash.txt" 2>&1)
check "... trains as fc2 did (the same test result), and profiles it as prof_start_" \
    sh -c "grep '^test' '$t/clash.txt' | cmp -s - '$t/plain.test' && grep -q '^clash.lua:6 *matmul prof_start_ ' '$t/clash.txt'"

# with shards (the conv nets' default; here shards = 3 of 22, 21, 21 rows, a
# batch norm's phases between them): each op's row sums the shards' steps,
# timed on 3 threads at once; the weights are those of the run without
# --profile
sed -e 's/^h = relu(linear(h, 32, { name = "fc2" }))/h = relu(batch_norm(linear(h, 32, { name = "fc2" })))/' \
    -e 's/^train { \(.*\) }/train { \1, shards = 3 }/' "$t/prof.lua" >"$t/sh.lua"
gen_build "$t/sh.lua" "$t/sh" >"$t/sh.log" 2>&1
check "sharded: the trainer builds warning-free" sh -c "test -x '$t/sh/prof' && ! grep -qi warning '$t/sh.log'"
for f in train_22 train_21; do
    awk -v f="$f" '$0 ~ "---- " f ":" { on = 1 } on && /^}/ { exit } on' "$t/sh/model.c" >"$t/sh_$f.c"
done
(cd "$t/sh" && ./prof train --quiet --threads 1 --weights "$t/sh_plain.weights" >/dev/null 2>&1)
(cd "$t/sh" && ./prof train --quiet --threads 3 --profile --weights "$t/sh_prof.weights" >"$t/sh_prof.txt" 2>&1)
check "sharded: --profile on 3 threads gives the 1-thread weights, byte for byte" \
    sh -c "test -s '$t/sh_plain.weights' && cmp -s '$t/sh_plain.weights' '$t/sh_prof.weights'"
sed -n '/^spec line/,/^- *update/p' "$t/sh_prof.txt" | sed '1d;$d' >"$t/sh_ops.txt"
sh_rows=$(wc -l <"$t/sh_ops.txt")
sh_b22=$(grep -c 'PROFILE_BEGIN(' "$t/sh_train_22.c")
sh_b21=$(grep -c 'PROFILE_END(' "$t/sh_train_21.c")
check "sharded: both shard sizes' steps are timed, one row per op block ($sh_rows rows; blocks' parts $sh_b22, $sh_b21)" \
    sh -c "[ $sh_rows -gt 10 ] && [ $sh_b22 -eq $sh_b21 ] && [ $sh_b22 -ge $sh_rows ] && grep -q 'batch_norm' '$t/sh_ops.txt'"
check "sharded: the head says the rows sum the shards' steps" \
    grep -q "^shards: an op's time is summed over the 3 shards' steps" "$t/sh_prof.txt"
awk '/^spec line/ { on = 1; next } on && NF >= 5 { print $(NF - 3), $NF }' "$t/sh_prof.txt" >"$t/sh_nums.txt"
check "sharded: every op row took time, and the shares sum to 100%" \
    awk '{ s += $2; if (NR <= '"$sh_rows"' && $1 + 0 <= 0) bad = 1 } END { exit bad || !(s > 99.4 && s < 100.6) }' "$t/sh_nums.txt"
