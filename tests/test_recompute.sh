# trainc gen --max-memory under the planned buffers: activations the
# backward reads are computed again there (gen/recompute.c), and training
# is bit for bit the unconstrained plan's. fashion_cnn (batch norm, dropout,
# conv2d_direct and im2col; its default 2 shards, each with its own arena)
# needs 34.98 MiB unconstrained; at two budgets below it, 12 steps on 640 rows give byte-identical weights and
# checkpoints; info and model.c say what is recomputed; a budget below
# what recomputation reaches is refused with the figures.
. tests/lib.sh
out=$TRAINC_TMP/recompute
rm -rf "$out" && mkdir -p "$out"
spec=models/fashion_cnn.lua

run12() { # run12 DIR [ARGS...]: 12 steps on 640 rows, weights and checkpoint in DIR
    local dir=$1
    shift
    (cd "$dir" && ./fashion_cnn train --steps 12 --limit 640 --threads 1 --quiet \
        --weights w.weights --checkpoint ck.bin "$@" >train.log 2>&1)
}
# the KiB of its 2 shards' own gradients and arenas (info's shards line)
arena_kib() { "$1/fashion_cnn" info | awk '/^shards / { v = $(NF - 1); sub(/^[+]/, "", v); print v }'; }

gen_build "$spec" "$out/full" >"$out/full.log" 2>&1
run12 "$out/full"
for b in 34 32; do
    d=$out/b$b
    gen_build "$spec" "$d" --max-memory "$b" >"$d.log" 2>&1
    check "budget $b: builds warning-free" sh -c "test -x '$d/fashion_cnn' && ! grep -qi warning '$d.log'"
    check "budget $b: model.c's copies say why, with the budget, the op and the spec line" \
        sh -c "grep -A1 'recomputed for the backward (budget --max-memory $b): [a-z0-9_]' '$d/model.c' | grep -q -- '-- models/fashion_cnn.lua:[0-9]'"
    check "budget $b: and its step differs from the unconstrained one (it recomputes)" \
        sh -c "! cmp -s '$out/full/model.c' '$d/model.c' && grep -q '_again = ' '$d/model.c'"
    info=$("$d/fashion_cnn" info)
    check "budget $b: info says what is recomputed and the FLOPs it adds" \
        sh -c "printf '%s' \"\$1\" | grep -q '^recompute  [0-9]* values* computed again in the backward (budget --max-memory $b): each shard.s arena .* instead of 9.8 MiB, +[0-9.e+]* FLOPs per step' && printf '%s' \"\$1\" | grep -q 'fashion_cnn.lua:[0-9]*, [0-9.]* [KM]iB'" \
        _ "$info"
    a0=$(arena_kib "$out/full") a1=$(arena_kib "$d")
    check "budget $b: the shards' arenas shrank ($a0 KiB -> $a1 KiB)" lt "$a1" "$a0"
    run12 "$d"
    check "budget $b: 12 steps give byte-identical weights to the unconstrained plan" \
        cmp "$out/full/w.weights" "$d/w.weights"
    check "budget $b: ... and a byte-identical checkpoint" cmp "$out/full/ck.bin" "$d/ck.bin"
done

# six tanh layers at batch 1024 (8 shards by default: 25.12 MiB): the products (linear) stored only tanh through their
# epilogue (rt_tanh_n, vectorised): the copies run the product again and tanh
# element by element (rt_tanh), the same bits by rt_act.h's design
deep=$out/deep.lua
printf '%s\n' 'model "deep"' 'data = linreg { n = 2048, d = 2 }' 'local x = input { 2 }' \
    'local y = labels { 1 }' 'local h = tanh(linear(x, 256))' \
    'for i = 1, 5 do h = tanh(linear(h, 256)) end' 'minimize(mse(linear(h, 1), y))' \
    'optimizer = adam { lr = 1e-3 }' 'train { batch = 1024, epochs = 1 }' >"$deep"
for b in none 23; do
    a=()
    [ $b = none ] || a=(--max-memory $b)
    gen_build "$deep" "$out/deep_$b" "${a[@]}" >"$out/deep_$b.log" 2>&1
    (cd "$out/deep_$b" && ./deep train --steps 6 --threads 1 --quiet --weights w.weights >/dev/null 2>&1)
done
check "tanh MLP at 23 MiB: the products and tanh are recomputed" \
    sh -c "grep -q 'recomputed for the backward (budget --max-memory 23): matmul' '$out/deep_23/model.c' && grep -q 'recomputed for the backward (budget --max-memory 23): tanh' '$out/deep_23/model.c'"
check "tanh MLP at 23 MiB: 6 steps give byte-identical weights to the unconstrained plan" \
    cmp "$out/deep_none/w.weights" "$out/deep_23/w.weights"

# negative control: the comparison sees a difference (another seed, same trainer)
cp -r "$out/b32" "$out/seed2" 2>/dev/null
run12 "$out/seed2" --seed 2
check "negative control: another seed's weights differ (the comparison can fail)" \
    sh -c "! cmp -s '$out/full/w.weights' '$out/seed2/w.weights'"

# negative control: batch norm's backward reading the forward's xhat (its
# buffer reused by then: what recomputation is for) instead of the copy
sed -i 's/conv1_bn_xhat_again\[i\] \* mgx);/conv1_bn_xhat[i] * mgx);/' "$out/b32/model.c"
(cd "$out/b32" && ninja >wrong.log 2>&1)
run12 "$out/b32"
check "negative control: reading the forward's dead xhat instead of the copy changes the weights" \
    sh -c "grep -q ' conv1_bn_xhat\[i\] \* mgx);' '$out/b32/model.c' && ! cmp -s '$out/full/w.weights' '$out/b32/w.weights'"

# a budget no recomputation reaches: refused, naming the spec and both figures
"$TRAINC" gen -q "$spec" -o "$out/small" --max-memory 12 >"$out/small.out" 2>&1
rc=$?
check "a 12 MiB budget is refused (exit 2, got $rc)" test "$rc" = 2
check "... naming the spec, the MiB needed (and at the least) and the budget" \
    grep -q "fashion_cnn.lua: the model needs 34.98 MiB of buffers, [0-9.]* MiB at the least with activations computed again in the backward, more than the budget of 12.00 MiB (--max-memory)" "$out/small.out"
check "... and writes nothing" test ! -e "$out/small/model.c"
# without a budget under the plan nothing is recomputed
check "the default budget recomputes nothing" \
    sh -c "! grep -q 'recomputed for the backward' '$out/full/model.c' && ! '$out/full/fashion_cnn' info | grep -q '^recompute'"
