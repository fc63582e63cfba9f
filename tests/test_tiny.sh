# A tiny net's training step in registers (gen/emit_tiny.c): for each net
# it takes (widths up to 8, up to 8 rows, tanh/sigmoid/relu/no activation,
# products written out or in loops, the remainder's step too), trained
# with it and with the generic step (TRAINC_GENERIC_STEP=1): the same
# weights, bit for bit, and the trainer says which step runs; the nets it
# does not take (dropout, 9 units, double, a fused update) have no such
# step.
. tests/lib.sh
out=$TRAINC_TMP/tiny
rm -rf "$out" && mkdir -p "$out"

# data.csv: ROWS rows of FEATURES values in [-1, 1] and a 0/1 label
csv() {
    awk -v n="$1" -v d="$2" -v seed="$3" 'BEGIN {
        srand(seed)
        for (j = 0; j < d; j++) printf "f%d,", j
        print "label"
        for (i = 0; i < n; i++) {
            s = 0
            for (j = 0; j < d; j++) { v = 2 * rand() - 1; s += v * (j % 2 ? -1 : 1); printf "%.6f,", v }
            print (s > 0 ? 1 : 0)
        }
    }' >"$out/$4.csv"
}
# net NAME FEATURES ROWS BATCH SEED LAYERS...: a spec of a chain of layers
# ("tanh 8", "relu 4", "sigmoid 3", "none 5") ending in sigmoid and bce;
# OPT the optimizer (plain SGD), SCHED a schedule line
net() {
    local name=$1 d=$2 n=$3 batch=$4 seed=$5
    shift 5
    csv "$n" "$d" "$seed" "$name"
    {
        echo "model \"$name\""
        echo "data = csv { train = \"$out/$name.csv\", label = \"label\" }"
        echo "local x = input { $d }"
        echo "local y = labels { 1 }"
        echo "local h = x"
        for layer in "$@"; do
            set -- $layer
            if [ "$1" = none ]; then echo "h = linear(h, $2)"; else echo "h = $1(linear(h, $2))"; fi
        done
        echo "minimize(bce(sigmoid(linear(h, 1)), y))"
        echo "optimizer = ${OPT:-sgd { lr = 0.3 \}}"
        [ -z "${SCHED:-}" ] || echo "$SCHED"
        echo "train { batch = $batch, epochs = 40, seed = $seed }"
    } >"$out/$name.lua"
}
# same NAME: trained with each step from the same start, the same bytes,
# and not the start's (--epochs 0)
same() {
    (cd "$out/$1" && "./$1" train --quiet --weights tiny.w >/dev/null &&
        TRAINC_GENERIC_STEP=1 "./$1" train --quiet --weights generic.w >/dev/null &&
        "./$1" train --quiet --epochs 0 --weights start.w >/dev/null &&
        cmp -s tiny.w generic.w && ! cmp -s tiny.w start.w)
}
registers() { (cd "$out/$1" && "./$1" info | grep -q '^step  *in AVX2 registers'); }

net t_tanh 3 10 4 2 "tanh 8"                  # 4 rows and the remainder's 2
net t_relu 5 20 8 3 "relu 6" "sigmoid 5"      # 8 rows: the columns in 8 lanes
net t_none 8 9 3 4 "none 3" "tanh 7"          # 3 rows, a layer without activation
net t_logit 4 13 5 5                          # one layer: the input's columns
net t_loops 8 16 8 6 "tanh 8" "relu 8"        # 512 MACs: products in loops, from +0
net t_deep 2 6 6 7 "sigmoid 2" "tanh 3" "relu 4"
for m in t_tanh t_relu t_none t_logit t_loops t_deep; do
    gen_build "$out/$m.lua" "$out/$m" >"$out/$m.log" 2>&1
    check "$m: builds warning-free with a step in registers" \
        sh -c "test -x '$out/$m/$m' && ! grep -qi warning '$out/$m.log' && grep -q '_tiny(real' '$out/$m/model.c'"
    check "$m: the trainer runs the step in registers" registers $m
    check "$m: it trains to the generic step's weights, bit for bit" same $m
done
check "t_tanh: the remainder's step (2 rows) in registers too" \
    sh -c "grep -q 'static real train_2_tiny' '$out/t_tanh/model.c' && grep -q 'static real train_4_tiny' '$out/t_tanh/model.c'"
check "t_loops: its products are loops (their sums from +0)" grep -q 'from +0' "$out/t_loops/model.c"

gen_build models/xor.lua "$out/xor" >"$out/xor.log" 2>&1
check "xor: the step in registers, the same weights as the generic step after 2000 epochs" \
    sh -c "cd '$out/xor' && ./xor info | grep -q 'in AVX2 registers' && ./xor train --quiet --weights a.w >/dev/null && TRAINC_GENERIC_STEP=1 ./xor train --quiet --weights b.w >/dev/null && cmp -s a.w b.w"
gen_build models/xor.lua "$out/xor-nofuse" --no-fuse >"$out/xor-nofuse.log" 2>&1
check "xor --no-fuse (an op a loop): the step in registers, the same weights as the generic step" \
    sh -c "cd '$out/xor-nofuse' && grep -q 'train_4_tiny' model.c && ./xor train --quiet --weights a.w >/dev/null && TRAINC_GENERIC_STEP=1 ./xor train --quiet --weights b.w >/dev/null && cmp -s a.w b.w"
check "xor: TRAINC_GENERIC_STEP=1 runs the generic step (info says so)" \
    sh -c "cd '$out/xor' && TRAINC_GENERIC_STEP=1 ./xor info | grep -q '^step  *the generic one'"
check "xor: train --profile times the generic step's blocks" \
    sh -c "cd '$out/xor' && ./xor train --epochs 50 --quiet --profile | grep -q 'linear1'"

# the update: plain SGD's in the step in registers (model_train_update),
# other optimizers' a pass of its own after it
check "t_tanh: plain SGD's update in the step in registers too (model_train_update)" \
    sh -c "grep -q 'static real train_4_tiny_update' '$out/t_tanh/model.c' && grep -q 'return train_4_tiny_update(param' '$out/t_tanh/model.c'"
SCHED='schedule = cosine { every = "step" }' net t_cos 3 10 4 8 "tanh 5"
OPT='sgd { lr = 0.3, momentum = 0.9 }' net t_mom 3 10 4 9 "tanh 5"
OPT='sgd { lr = 0.3, weight_decay = 0.01 }' net t_wd 3 10 4 10 "relu 5"
OPT='adam { lr = 0.01 }' net t_adam 3 10 4 11 "tanh 5"
for m in t_cos t_mom t_wd t_adam; do
    gen_build "$out/$m.lua" "$out/$m" >"$out/$m.log" 2>&1
    check "$m: trains to the generic step's weights, bit for bit" same $m
done
check "t_cos: the update in the step in registers (its lr changes every step)" \
    grep -q 'static real train_4_tiny_update' "$out/t_cos/model.c"
check "t_mom, t_wd, t_adam: the step in registers, the update a pass of its own" \
    sh -c "for m in t_mom t_wd t_adam; do grep -q 'static real train_4_tiny(' '$out/'\$m/model.c && ! grep -q '_tiny_update' '$out/'\$m/model.c || exit 1; done"
TRAINC_NO_FUSE_UPDATE=1 gen_build "$out/t_tanh.lua" "$out/t_nofuse" >"$out/t_nofuse.log" 2>&1
check "TRAINC_NO_FUSE_UPDATE=1: the step in registers, the update a pass of its own" \
    sh -c "grep -q 'static real train_4_tiny(' '$out/t_nofuse/model.c' && ! grep -q '_tiny_update' '$out/t_nofuse/model.c'"

# the nets it does not take: the generic step alone, no step line in info
sed 's/h = tanh(linear(h, 8))/h = dropout(tanh(linear(h, 8)), 0.2)/' "$out/t_tanh.lua" >"$out/t_drop.lua"
sed 's/model "t_tanh"/model "t_drop"/' -i "$out/t_drop.lua"
net t_wide 3 10 4 2 "tanh 9"
net t_rows 3 48 16 2 "tanh 8"
for m in t_drop t_wide t_rows; do
    gen_build "$out/$m.lua" "$out/$m" >"$out/$m.log" 2>&1
    check "$m: no step in registers (dropout / 9 units / 16 rows)" \
        sh -c "test -x '$out/$m/$m' && ! grep -q '_tiny' '$out/$m/model.c' && ! (cd '$out/$m' && ./$m info) | grep -q '^step '"
done
gen_build "$out/t_tanh.lua" "$out/t_double" --dtype double >"$out/t_double.log" 2>&1
check "double: no step in registers" sh -c "test -x '$out/t_double/t_tanh' && ! grep -q '_tiny' '$out/t_double/model.c'"
TRAINC_FUSE_UPDATE=1 gen_build "$out/t_tanh.lua" "$out/t_fused" >"$out/t_fused.log" 2>&1
check "the update fused into the step (TRAINC_FUSE_UPDATE=1): no step in registers" \
    sh -c "test -x '$out/t_fused/t_tanh' && ! grep -q '_tiny' '$out/t_fused/model.c'"
