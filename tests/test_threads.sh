# train { shards = S } and --threads T: the shard plan fixes the numbers,
# so T = 1, 2, 3, 4 give byte-identical weights, checkpoints and metrics
# (the seconds column aside), a run resumed under another T ends where an
# uninterrupted one does, and shards = 1 is today's step. Models: a
# tanh/relu MLP on a CSV with a partial last batch, Adam, clipping, an l2
# penalty and uneven shards; a Fashion-MNIST MLP with dropout and SGD
# momentum; LeNet. Negative control: another S gives other weights (the
# test sees last-bit differences), yet the same loss to float rounding.
. tests/lib.sh
th=$TRAINC_TMP/threads
rm -rf "$th" && mkdir -p "$th"

# the CSV: 150 rows (batch 32: a last batch of 22), 5 features, 3 classes
rows_csv "$th/rows.csv" 7
csv_spec() { # csv_spec NAME SHARDS-TEXT
    cat >"$th/$1.lua" <<EOF
model "csvmlp"
data = csv { train = "$th/rows.csv", label = "label", header = true }
local x = input { 5 }
local y = labels { classes = 3 }
local h = tanh(linear(x, 24, { name = "fc1" }))
h = relu(linear(h, 16, { name = "fc2" }))
minimize(cross_entropy(linear(h, 3, { name = "fc3" }), y) + 1e-3 * l2_penalty())
optimizer = adam { lr = 0.01 }
train { batch = 32, epochs = 4, seed = 3, clip_grad_norm = 1$2 }
EOF
}
csv_spec csv3 ", shards = 3"
csv_spec csv1 ", shards = 1"
csv_spec csv0 ""
sed -e 's|^train {.*|train { batch = 64, epochs = 1, seed = 1, shards = 4 }|' \
    -e 's|^h = relu(linear(h, 128.*|h = dropout(relu(linear(h, 32, { name = "fc2" })), 0.2)|' \
    -e 's|linear(x, 256|linear(x, 64|' -e 's|^optimizer = .*|optimizer = sgd { lr = 0.05, momentum = 0.9 }|' \
    models/fashion_mlp.lua >"$th/mlp4.lua"
sed -e 's|^train {.*|train { batch = 64, epochs = 1, seed = 1, shards = 2 }|' models/lenet.lua >"$th/lenet2.lua"

# shards = 1, given or not, is today's step: the same model.c
# (the same spec path; the first line names the spec's hash)
for k in 0 1; do
    rm -rf "$th/gen$k" && cp "$th/csv$k.lua" "$th/same.lua" && "$TRAINC" gen -q "$th/same.lua" -o "$th/gen$k"
done
check "shards = 1 generates the model.c of a spec without shards (today's step)" \
    cmp -s <(tail -n +2 "$th/gen0/model.c") <(tail -n +2 "$th/gen1/model.c")
check "shards = 1 has no shard plan in model.c" sh -c "! grep -q shard '$th/gen1/model.c'"

bin() { # the trainer of folder M
    case $1 in csv*) echo "$th/$1/csvmlp" ;; mlp4) echo "$th/mlp4/fashion_mlp" ;; lenet2) echo "$th/lenet2/lenet" ;; esac
}
for m in csv3 csv1 mlp4 lenet2; do
    gen_build "$th/$m.lua" "$th/$m" >"$th/$m.log" 2>&1
    check "$m builds warning-free" sh -c "test -x '$(bin $m)' && ! grep -qi warning '$th/$m.log'"
done
check "csv3's model.c runs the shard plan (uneven: 11 11 10 of 32, 8 7 7 of 22)" \
    sh -c "grep -q 'static real train_11(' '$th/csv3/model.c' && grep -q 'static real train_10(' '$th/csv3/model.c' \
        && grep -q 'static real train_8(' '$th/csv3/model.c' && grep -q 'static real train_7(' '$th/csv3/model.c'"

# run M T ARGS...: trains model M on T threads into $th/M/t$T.{w,ck,metrics,steps}
run() {
    local m=$1 t=$2
    shift 2
    (cd "$th/$m" && "$(bin "$m")" train --threads "$t" --quiet --weights "t$t.w" \
        --metrics "t$t.metrics" --step-metrics "t$t.steps" "$@" >"t$t.out" 2>&1)
}
# same_run M T: T's weights, metrics and step metrics (seconds aside) are T = 1's
same_run() {
    local d=$th/$1
    cmp -s "$d/t1.w" "$d/t$2.w" &&
        cmp -s <(cut -d, -f1-8 "$d/t1.metrics") <(cut -d, -f1-8 "$d/t$2.metrics") &&
        cmp -s <(cut -d, -f1-5 "$d/t1.steps") <(cut -d, -f1-5 "$d/t$2.steps") &&
        test "$(wc -l <"$d/t1.steps")" -gt 5
}
for m in csv3 mlp4 lenet2; do
    args=()
    case $m in
    mlp4) args=(--limit 1280 --steps 20) ;;
    lenet2) args=(--limit 640 --steps 10) ;;
    esac
    for t in 1 2 3 4; do run "$m" "$t" "${args[@]}"; done
    for t in 2 3 4; do
        check "$m: $t threads give T = 1's weights, metrics and step metrics byte for byte" same_run "$m" "$t"
    done
done

# checkpoints: the same bytes under T = 1 and 3; a run stopped after 7
# steps on 1 thread and resumed on 3 ends as the uninterrupted 2-thread run
c=$th/csv3
b3=$(bin csv3)
(cd "$c" && "$b3" train --threads 1 --quiet --steps 7 --checkpoint a.ck --weights a.w >/dev/null &&
    "$b3" train --threads 3 --quiet --steps 7 --checkpoint b.ck --weights b.w >/dev/null)
check "csv3: the checkpoint after 7 steps is the same bytes on 1 and 3 threads" \
    sh -c "test -s '$c/a.ck' && cmp -s '$c/a.ck' '$c/b.ck'"
(cd "$c" && "$b3" train --threads 3 --quiet --resume a.ck --weights a.w >/dev/null)
check "csv3: stopped on 1 thread, resumed on 3: T = 2's final weights" cmp -s "$c/a.w" "$c/t2.w"

# the negative control: shards = 1 against 3 on the same spec, same seed
run csv1 1
check "control: shards = 3 and shards = 1 end with other weights (the test sees last bits)" \
    sh -c "! cmp -s '$th/csv1/t1.w' '$th/csv3/t1.w'"
l1=$(awk -F, 'NR == 2 { print $3 }' "$th/csv1/t1.steps")
l3=$(awk -F, 'NR == 2 { print $3 }' "$th/csv3/t1.steps")
n1=$(awk -F, 'NR == 2 { print $4 }' "$th/csv1/t1.steps")
n3=$(awk -F, 'NR == 2 { print $4 }' "$th/csv3/t1.steps")
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * (a < 0 ? -a : a)) }'; }
check "control: yet the first step's loss is the unsharded one to float rounding ($l3 vs $l1)" close "$l1" "$l3"
check "control: and so is its gradient norm ($n3 vs $n1)" close "$n1" "$n3"
