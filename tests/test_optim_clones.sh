#!/usr/bin/env bash
# The optimizer updates run 16 floats (8 doubles) wide in the x86-64-v4
# copy (AVX-512, for ranges of RT_UPDATE_V4_MIN elements or more), 8 floats
# (4 doubles) wide in the x86-64-v3 copy (AVX2 + FMA) and 4 floats wide in
# the SSE2 copy, which the portable build (-DRT_PORTABLE) has alone: there
# fma() is runtime/rt_fma.h's exact emulation in double (doubles: libm's
# fma, one at a time). Both give bit-identical weights, every optimizer with the options
# that add branches to its loop (weight decay, momentum, amsgrad, centered,
# RAdam's rectification from step 6). The torch comparisons
# (test_optim_torch.py) run the AVX2 code; this ties the SSE2 code to it.
. tests/lib.sh
# the fused update even on these small models (gen/fuse_update.c); see below
export TRAINC_FUSE_UPDATE=1
out=$TRAINC_TMP/optim_clones
rm -rf "$out" && mkdir -p "$out"

configs=(
    "adam|adam { lr = 0.01, amsgrad = true, weight_decay = 0.05 }|"
    "adam_double|adam { lr = 0.01, amsgrad = true, weight_decay = 0.05 }|--dtype double"
    "adamw|adamw { lr = 0.01, amsgrad = true }|"
    "adamax|adamax { lr = 0.02, weight_decay = 0.05 }|"
    "nadam|nadam { lr = 0.01, weight_decay = 0.05 }|"
    "radam|radam { lr = 0.01, weight_decay = 0.05 }|"
    "rmsprop|rmsprop { lr = 0.01, centered = true, momentum = 0.9, weight_decay = 0.05 }|"
    "rmsprop_plain|rmsprop { lr = 0.01 }|--dtype double"
    "adagrad|adagrad { lr = 0.1, lr_decay = 0.05, weight_decay = 0.05 }|"
    "adadelta|adadelta { weight_decay = 0.05 }|"
    "sgd|sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01 }|"
)
for c in "${configs[@]}"; do
    IFS='|' read -r name line flags <<<"$c"
    # xor's net 2-160-1: the fused update's ranges are 320 floats (the
    # AVX-512 copy where the machine has it: rt_fma.h's RT_UPDATE_V4_MIN),
    # 160, 160 (the AVX2 copy: twenty 8-wide iterations) and 1 (a tail)
    sed -e "s/^optimizer = .*/optimizer = $line/" -e "s/^model \"xor\"/model \"oc_$name\"/" \
        -e "s/linear(x, 8)/linear(x, 160)/" models/xor.lua >"$out/$name.lua"
    # shellcheck disable=SC2086
    gen_build "$out/$name.lua" "$out/$name" $flags >"$out/$name.log" 2>&1
    port=$out/${name}_portable
    rm -rf "$port" && cp -r "$out/$name" "$port" && rm -rf "$port/obj" "$port/oc_$name"
    sed -i 's/^cflags = /cflags = -DRT_PORTABLE /' "$port/build.ninja"
    ninja -C "$port" >>"$out/$name.log" 2>&1
    check "$name: both builds warning-free ($line $flags)" \
        sh -c "test -x '$out/$name/oc_$name' && test -x '$port/oc_$name' && ! grep -qi warning '$out/$name.log'"
    # the update's code in model.o: update_range_sse2, or what it was
    # inlined into (model_update, model_train_update)
    objdump -d --no-show-raw-insn "$port/obj/model.o" |
        awk '/^[0-9a-f]+ <[^>]*update[^>]*>:$/ { p = 1; next } /^$/ { p = 0 } p' >"$port/update.s"
    if [ -z "$flags" ]; then
        check "$name: the portable build's update is 4 floats wide (packed cvtps2pd), no fmaf call" \
            sh -c "grep -q cvtps2pd '$port/update.s' && ! nm -u '$port/obj/model.o' | grep -qw fmaf"
    fi
    for d in "$out/$name" "$port"; do
        (cd "$d" && ./oc_$name train --steps 30 --threads 1 --quiet --weights w30 >/dev/null 2>&1)
    done
    check "$name: 30 steps of the AVX2 clone and of the portable build give identical weights" \
        cmp "$out/$name/w30" "$port/w30"
done

# the update fused into the training step (gen/fuse_update.c, each tensor's
# update right after its gradient) gives the weights of the update as a pass
# of its own after the step (TRAINC_NO_FUSE_UPDATE=1 at generation). These
# models are under fuse_update.c's size threshold: their fused builds were
# made with TRAINC_FUSE_UPDATE=1 (set at the top)
for name in adam rmsprop sgd; do
    unf=$out/${name}_unfused
    TRAINC_NO_FUSE_UPDATE=1 gen_build "$out/$name.lua" "$unf" >"$out/${name}_unfused.log" 2>&1
    (cd "$unf" && ./oc_$name train --steps 30 --threads 1 --quiet --weights w30 >/dev/null 2>&1)
    check "$name: the update fused into the step and the update after it give identical weights" \
        sh -c "nm '$out/$name/oc_$name' | grep -q ' T model_train_update$' && ! nm '$unf/oc_$name' | grep -q ' T model_train_update$' && cmp '$out/$name/w30' '$unf/w30'"
done
TRAINC_FUSE_UPDATE= "$TRAINC" gen -q models/xor.lua -o "$out/xor_small" >/dev/null 2>&1
check "a small model (xor, 33 parameters) keeps the generic step's update as one pass of its own (its step in registers does it: test_tiny.sh)" \
    sh -c "! grep -q 'train_4(param, grad, x, y, out, arena, noise, u)' '$out/xor_small/model.c' && grep -q '    model_update(param, grad, u->state' '$out/xor_small/model.c' && grep -q 'the model is small (33 parameters' '$out/xor_small/model.c'"

# the vector loop is there: Adam's AVX2 update has vsqrtps and vdivps on ymm
# registers; the portable build has no AVX2 copy at all (so the cmp above
# compares the two paths, not one with itself)
for name in adam adam_double; do
    objdump -d --no-show-raw-insn "$out/$name/obj/model.o" |
        awk '/<update_range_v3[.>]/ { p = 1; next } /^$/ { p = 0 } p' >"$out/$name/update_v3.s"
done
check "adam's update_range AVX2 copy has vsqrtps and vdivps on 8 floats (ymm)" \
    sh -c "grep -q 'vsqrtps.*%ymm' '$out/adam/update_v3.s' && grep -q 'vdivps.*%ymm' '$out/adam/update_v3.s'"
check "adam's double update_range AVX2 copy has vsqrtpd and vdivpd on 4 doubles (ymm)" \
    sh -c "grep -q 'vsqrtpd.*%ymm' '$out/adam_double/update_v3.s' && grep -q 'vdivpd.*%ymm' '$out/adam_double/update_v3.s'"
# and an AVX-512 copy: 16 floats a vector, the one this machine runs when it
# has AVX-512 (then the cmp above compares it with the portable build)
objdump -d --no-show-raw-insn "$out/adam/obj/model.o" |
    awk '/<update_range_v4[.>]/ { p = 1; next } /^$/ { p = 0 } p' >"$out/adam/update_v4.s"
check "adam's update_range AVX-512 copy has vsqrtps and vdivps on 16 floats (zmm)" \
    sh -c "grep -q 'vsqrtps.*%zmm' '$out/adam/update_v4.s' && grep -q 'vdivps.*%zmm' '$out/adam/update_v4.s'"
check "the portable build has no AVX2 or AVX-512 copy" \
    sh -c "! nm '$out/adam_portable/oc_adam' | grep -qE 'x86_64_v[34]|update_range_v[34]'"
# negative control: cmp tells weights apart (29 steps against 30)
(cd "$out/adam" && ./oc_adam train --steps 29 --threads 1 --quiet --weights w29 >/dev/null 2>&1)
check "negative control: 29 and 30 steps of adam give different weights" \
    sh -c "! cmp -s '$out/adam/w29' '$out/adam/w30'"
