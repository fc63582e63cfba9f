# train { shards = S } and --threads T: the shard plan fixes the numbers,
# so T = 1, 2, 3, 4 give byte-identical weights, checkpoints and metrics
# (the seconds column aside), a run resumed under another T ends where an
# uninterrupted one does, and shards = 1 is today's step. Models: a
# tanh/relu MLP on a CSV with a partial last batch, Adam, clipping, an l2
# penalty and uneven shards; a Fashion-MNIST MLP with dropout and SGD
# momentum; LeNet. Negative control: another S gives other weights (the
# test sees last-bit differences), yet the same loss to float rounding.
# Synchronised batch norm: a small CNN (batch norm 2d and 1d, dropout,
# Adam, stratify, augment) byte-identical on 1-4 threads; a first step
# against torch's BatchNorm over the whole batch, per-shard statistics as
# the negative control. shards = "auto"'s rule.
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

# ---- synchronised batch norm: a small CNN (conv -> batch_norm -> relu ->
# max pool -> linear -> batch_norm -> linear), shards = 3 ----
# 150 8x8 one-channel images (.npy), 3 classes: 4 steps of 32 rows (shards
# 11 11 10) and one of 22 (8 7 7) an epoch
bn_images "$th"
bn_spec() { # bn_spec NAME MODEL-LINE TRAIN-SETTINGS OPTIMIZER
    cat >"$th/$1.lua" <<SPEC
model "$1"
data = npy { train = { x = "$th/img_x.npy", y = "$th/img_y.npy" }, scale = 1 / 255 }
local x = input { 1, 8, 8 }
local y = labels { classes = 3 }
local h = conv2d(x, 4, { kernel = 3, padding = 1, name = "conv1" })
h = max_pool2d(relu(batch_norm(h, { name = "bn1" })), 2)
$2
local f = batch_norm(linear(flatten(h), 8, { name = "fc1" }), { name = "bn2" })
minimize(cross_entropy(linear(relu(f), 3, { name = "fc2" }), y))
optimizer = $4
train { batch = 32, shards = 3, seed = 2, $3 }
SPEC
}
# bncnn: dropout, Adam, stratified batches, augmented images, 25 steps
bn_spec bncnn 'h = dropout(h, 0.2)' 'epochs = 5, stratify = true, augment = { crop = 1, flip = true }' \
    'adam { lr = 0.01 }'
# bnchk: one step in file order, against torch
bn_spec bnchk '' 'epochs = 1, shuffle = false' 'sgd { lr = 0.1 }'
for m in bncnn bnchk; do
    gen_build "$th/$m.lua" "$th/$m" >"$th/$m.log" 2>&1
    check "$m (batch norm, shards = 3) builds warning-free" sh -c "test -x '$th/$m/$m' && ! grep -qi warning '$th/$m.log'"
done
check "bncnn's model.c synchronises its batch norms: 7 phases a shard step, shard_synced" \
    sh -c "grep -q 'runs in 7 phases' '$th/bncnn/model.c' && grep -q 'static void shard_synced(' '$th/bncnn/model.c'"
b=$th/bncnn
for t in 1 2 3 4; do
    (cd "$b" && ./bncnn train --threads "$t" --quiet --weights "t$t.w" --metrics "t$t.metrics" \
        --step-metrics "t$t.steps" >"t$t.out" 2>&1)
done
bn_same() { # bn_same T: T threads' weights (running statistics too) and metrics are T = 1's
    cmp -s "$b/t1.w" "$b/t$1.w" && cmp -s <(cut -d, -f1-8 "$b/t1.metrics") <(cut -d, -f1-8 "$b/t$1.metrics") &&
        cmp -s <(cut -d, -f1-5 "$b/t1.steps") <(cut -d, -f1-5 "$b/t$1.steps") && test "$(wc -l <"$b/t1.steps")" -eq 26
}
for t in 2 3 4; do
    check "bncnn: $t threads give T = 1's weights, running statistics and metrics byte for byte (25 steps)" bn_same "$t"
done
(cd "$b" && ./bncnn train --threads 1 --quiet --steps 7 --checkpoint a.ck --weights a.w >/dev/null &&
    ./bncnn train --threads 3 --quiet --steps 7 --checkpoint b.ck --weights b.w >/dev/null &&
    ./bncnn train --threads 2 --quiet --resume a.ck --weights r.w >/dev/null)
check "bncnn: the checkpoint after 7 steps (Adam's moments too) is the same bytes on 1 and 3 threads" \
    sh -c "test -s '$b/a.ck' && cmp -s '$b/a.ck' '$b/b.ck'"
check "bncnn: stopped on 1 thread, resumed on 2: the uninterrupted weights" cmp -s "$b/t1.w" "$b/r.w"

# the whole batch's statistics: bnchk's first step (shards 11 11 10) has
# torch's loss and gradient norm with BatchNorm in training mode over the 32
# rows (to float rounding); statistics per shard (the negative control) give
# another loss and gradient norm, by far more than the tolerance
c=$th/bnchk
(cd "$c" && ./bnchk train --epochs 0 --quiet --weights w0 && ./bnchk export init --weights w0 &&
    ./bnchk train --threads 2 --quiet --steps 1 --weights w1 --step-metrics s.steps &&
    ./bnchk export final --weights w1) >"$c/run.out" 2>&1
/usr/bin/python3 - "$c" "$th/img_x.npy" "$th/img_y.npy" >"$c/torch.out" 2>&1 <<'PY'
import sys
import numpy as np
import torch
import torch.nn.functional as F
d, xs, ys = sys.argv[1:]
names = ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "fc1.weight", "fc1.bias", "bn2.weight",
         "bn2.bias", "fc2.weight", "fc2.bias"]
w = {k: torch.tensor(np.load(f"{d}/init/{k}.npy").astype(np.float64), requires_grad=True) for k in names}
x = torch.tensor(np.load(xs)[:32].astype(np.float64) / 255)
y = torch.tensor(np.load(ys)[:32].astype(np.int64))
run = {}  # the running statistics, moved by the whole batch's step only
def bn(t, k):  # training mode: the batch's statistics
    r = run.get(k, (None, None))
    return F.batch_norm(t, r[0], r[1], w[k + ".weight"], w[k + ".bias"], training=True, eps=1e-5)
def logits(xp):
    h = F.max_pool2d(F.relu(bn(F.conv2d(xp, w["conv1.weight"], w["conv1.bias"], padding=1), "bn1")), 2)
    f = bn(F.linear(h.flatten(1), w["fc1.weight"], w["fc1.bias"]), "bn2")
    return F.linear(F.relu(f), w["fc2.weight"], w["fc2.bias"])
for parts in (1, 3):  # the whole batch; per shard (11, 11, 10 rows)
    run = {k: tuple(torch.tensor(np.load(f"{d}/init/{k}.{s}.npy").astype(np.float64)) for s in ("running_mean", "running_var"))
           for k in ("bn1", "bn2")} if parts == 1 else {}
    loss = F.cross_entropy(torch.cat([logits(xp) for xp in torch.tensor_split(x, parts)]), y)
    g = torch.autograd.grad(loss, list(w.values()))
    print(f"{loss.item():.9g} {torch.sqrt(sum((t * t).sum() for t in g)).item():.9g}")
    worst = 0.0  # trainc's running statistics after its step (unbiased variance), against torch's
    for k, (m, v) in run.items():
        for s, t in (("running_mean", m), ("running_var", v)):
            got = np.load(f"{d}/final/{k}.{s}.npy").astype(np.float64)
            worst = max(worst, float(np.max(np.abs(got - t.numpy()) / (np.abs(t.numpy()) + 1e-3))))
        worst = max(worst, abs(float(np.load(f"{d}/final/{k}.num_batches_tracked.npy")) - 1))
    if run:
        print(f"running {worst:.3g}")
PY
got_l=$(awk -F, 'NR == 2 { print $3 }' "$c/s.steps")
got_n=$(awk -F, 'NR == 2 { print $4 }' "$c/s.steps")
read -r sync_l sync_n <<<"$(sed -n 1p "$c/torch.out")"
read -r shard_l shard_n <<<"$(sed -n 3p "$c/torch.out")"
run_err=$(sed -n 's/^running //p' "$c/torch.out")
within() { # within A B REL: |A - B| <= REL |B|, both numbers
    awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b
        exit !(a ~ /^[-0-9.e]+$/ && b ~ /^[-0-9.e]+$/ && d <= r * m) }'
}
apart() { # apart A B: both numbers, |A - B| > 1e-4 |B| (100 times the tolerance above)
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b
        exit !(a ~ /^[-0-9.e]+$/ && b ~ /^[-0-9.e]+$/ && d > 1e-4 * m) }'
}
check "sync BN: shards = 3's first-step loss is torch's over the whole batch ($got_l vs $sync_l)" \
    within "$got_l" "$sync_l" 1e-6
check "sync BN: and so is its gradient norm: the backward's sums combined ($got_n vs $sync_n)" \
    within "$got_n" "$sync_n" 1e-6
check "sync BN: the running statistics moved once, by the whole batch's mean and unbiased variance (worst $run_err)" \
    lt "$run_err" 1e-6
check "control: per-shard statistics give another loss ($shard_l) and gradient norm ($shard_n)" \
    sh -c "$(declare -f apart); apart '$shard_l' '$sync_l' && apart '$shard_n' '$sync_n' && apart '$got_n' '$shard_n'"

# shards = "auto" and the default (gen/shards.c): at least 32 rows, 4 MFLOP of
# training work and 512 FLOPs of it a parameter a shard, at most 8; from the
# batch and the model, never the threads
auto_shards() { # auto_shards SPEC BATCH [SHARDS]: the S SPEC gets at BATCH (default: "auto")
    sed "s|^train {.*|train { batch = $2, epochs = 1, seed = 1${3-, shards = \"auto\"} }|" "$1" >"$th/auto.lua"
    rm -rf "$th/auto" && "$TRAINC" gen -q "$th/auto.lua" -o "$th/auto" &&
        sed -n 's|^#define MODEL_SHARDS \([0-9]*\)$|\1|p' "$th/auto/model.h"
}
check "auto: LeNet at batch 64 is 2 shards of 32 rows" test "$(auto_shards models/lenet.lua 64)" = 2
check "auto: LeNet at batch 1024 is 8 shards (the most)" test "$(auto_shards models/lenet.lua 1024)" = 8
check "default: LeNet, fashion_cnn and resnet_tiny at batch 64 are 2 shards" \
    test "$(auto_shards models/lenet.lua 64 '') $(auto_shards models/fashion_cnn.lua 64 '') $(auto_shards models/resnet_tiny.lua 64 '')" = "2 2 2"
check "default: fashion_mlp at batch 64 is 1 (270 FLOPs a parameter), at 256 2" \
    test "$(auto_shards models/fashion_mlp.lua 64 '') $(auto_shards models/fashion_mlp.lua 256 '')" = "1 2"
check "default: shards = 1 keeps LeNet at one" test "$(auto_shards models/lenet.lua 64 ', shards = 1')" = 1
sed -e 's|minimize(cross_entropy(logits, y))|minimize(cross_entropy(logits, y, { reduction = "sum" }))|' \
    models/lenet.lua >"$th/lenet_sum.lua"
sum_shards=$(auto_shards "$th/lenet_sum.lua" 64 '')
check "default: a summed loss is 1 shard, where shards = 2 is refused" \
    sh -c "test '$sum_shards' = 1 && \
        sed 's|^train {.*|train { batch = 64, shards = 2 }|' '$th/lenet_sum.lua' >'$th/lenet_sum2.lua' && \
        ! '$TRAINC' gen -q '$th/lenet_sum2.lua' -o '$th/lenet_sum2' 2>'$th/lenet_sum2.err' && \
        grep -q 'needs a loss that is a mean over the rows' '$th/lenet_sum2.err'"
check "auto: the CSV MLP at batch 128 (4 shards by rows) is 1 shard, too little work: today's step" \
    sh -c "sed 's|batch = 32, epochs = 4, seed = 3, clip_grad_norm = 1, shards = 3|batch = 128, epochs = 1, shards = \"auto\"|' \
        '$th/csv3.lua' >'$th/auto2.lua' && rm -rf '$th/auto2' && '$TRAINC' gen -q '$th/auto2.lua' -o '$th/auto2' \
        && grep -q 'shards = \"auto\"' '$th/auto2.lua' && ! grep -q shard '$th/auto2/model.c'"
