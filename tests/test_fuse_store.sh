#!/usr/bin/env bash
# The optimizer's update inside the weight-gradient product's store
# (gen/fuse_update.c, runtime/rt_gemm.c's rt_sgemm_tn_store): fashion_mlp's
# three weight gradients are products of trainc's own kernel, whose store
# calls the update on each run of rows of the gradient as soon as they are
# final, for an optimizer without state per parameter (plain SGD, with
# weight decay, maximize, a parameter group); one with state (SGD with
# momentum, Adam, AMSGrad, RMSprop) updates each tensor after its product
# instead (slower in the store: fuse_update_in_store). Either way the update
# is elementwise, so the weights, the optimizer state and the checkpoint are
# byte-identical to the update as a pass of its own after the step
# (TRAINC_NO_FUSE_UPDATE=1 at generation); and with OpenBLAS's products
# (TRAINC_GEMM=off: the kernel says -1, the update runs after the block).
# Negative controls: a store whose hook is dropped, and fewer steps.
. tests/lib.sh
out=$TRAINC_TMP/fuse_store
rm -rf "$out" && mkdir -p "$out"

# NAME|WHERE|OPTIMIZER: WHERE the weights' updates run, store or after
configs=(
    "sgd|store|sgd { lr = 0.05 }"
    "sgd_wd|store|sgd { lr = 0.05, weight_decay = 0.001, maximize = true }"
    "sgd_groups|store|sgd { lr = 0.05, weight_decay = 0.01, groups = { { params = { \"fc1.weight\" }, lr = 0.02, weight_decay = 0 } } }"
    "momentum|after|sgd { lr = 0.05, momentum = 0.9, weight_decay = 0.001 }"
    "adam|after|adam { lr = 1e-3 }"
    "amsgrad|after|adam { lr = 2e-3, amsgrad = true, weight_decay = 0.01, groups = { { params = { \"fc1.weight\" }, lr = 1e-3, weight_decay = 0 } } }"
    "rmsprop|after|rmsprop { lr = 1e-3, momentum = 0.5, centered = true }"
)
# run DIR NAME TAG [env...]: 25 steps on 640 rows (crossing epochs), the
# weights (with the optimizer state) and the checkpoint of step 25
run() {
    local dir=$1 name=$2 tag=$3
    shift 3
    (cd "$dir" && env "$@" "./fs_$name" train --steps 25 --limit 640 --threads 1 --quiet \
        --weights "w_$tag" --checkpoint "c_$tag" --every-steps 25 >"run_$tag.log" 2>&1)
}
same() { cmp "$1/w_$3" "$2/w_$3" && cmp "$1/c_$3" "$2/c_$3"; }

for c in "${configs[@]}"; do
    IFS='|' read -r name where line <<<"$c"
    sed -e "s/^optimizer = .*/optimizer = $line/" -e "s/^model \"fashion_mlp\"/model \"fs_$name\"/" \
        models/fashion_mlp.lua >"$out/$name.lua"
    fused=$out/$name unf=$out/${name}_unfused
    gen_build "$out/$name.lua" "$fused" >"$out/$name.log" 2>&1
    TRAINC_NO_FUSE_UPDATE=1 gen_build "$out/$name.lua" "$unf" >"$out/${name}_unfused.log" 2>&1
    check "$name: both builds warning-free ($line)" \
        sh -c "test -x '$fused/fs_$name' && test -x '$unf/fs_$name' && ! grep -qi warning '$out/$name.log' '$out/${name}_unfused.log'"
    # each weight's update in its gradient's store, none after those
    # blocks; or (with state) after each block, none in the stores
    hooks=$(grep -c 'rt_sgemm_tn_store(.*&update_store)' "$fused/model.c")
    if [ "$where" = store ]; then
        check "$name: the three weights' updates are in their products' stores (train_64 and train_32)" \
            sh -c "test '$hooks' = 6 && ! grep -q 'update of fc[123].weight, its gradient complete' '$fused/model.c' && ! grep -q update_store '$unf/model.c'"
    else
        check "$name: state per parameter: the three weights' updates after their products, none in a store" \
            sh -c "test '$hooks' = 0 && test \$(grep -c 'update of fc[123].weight, its gradient complete' '$fused/model.c') -ge 3 && ! grep -q update_store '$unf/model.c'"
    fi
    run "$fused" "$name" 25
    run "$unf" "$name" 25
    check "$name: update in the store and update after the step: identical weights, state and checkpoint" \
        same "$fused" "$unf" 25
    run "$fused" "$name" blas TRAINC_GEMM=off
    run "$unf" "$name" blas TRAINC_GEMM=off
    check "$name: with OpenBLAS's products (the update after the block) identical too" \
        same "$fused" "$unf" blas
done

# negative controls: the comparison tells a missed update and a missing step apart
bad=$out/sgd_nohook
rm -rf "$bad" && cp -r "$out/sgd" "$bad" && rm -rf "$bad/obj" "$bad/fs_sgd"
sed -i 's/d_fc1_weight, &update_store)/d_fc1_weight, NULL)/' "$bad/model.c"
ninja -C "$bad" >"$out/sgd_nohook.log" 2>&1
run "$bad" sgd 25
check "negative control: dropping fc1.weight's hook gives other weights" \
    sh -c "grep -q 'd_fc1_weight, NULL)' '$bad/model.c' && test -s '$bad/w_25' && ! cmp -s '$bad/w_25' '$out/sgd/w_25'"
(cd "$out/sgd" && ./fs_sgd train --steps 24 --limit 640 --threads 1 --quiet --weights w_24 >/dev/null 2>&1)
check "negative control: 24 and 25 steps of sgd give different weights" \
    sh -c "test -s '$out/sgd/w_24' && ! cmp -s '$out/sgd/w_24' '$out/sgd/w_25'"
