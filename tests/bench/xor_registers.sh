#!/usr/bin/env bash
# tests/bench/xor_registers.sh — models/xor.lua's training step three ways:
# the generic step (TRAINC_GENERIC_STEP=1), the generated step in registers
# (gen/emit_tiny.c, the default where the CPU has AVX2), and the same step
# written by hand (tests/bench/xor_registers.c, included into a copy of the
# generated model.c in place of train_4, run with TRAINC_GENERIC_STEP=1):
# all three must train to the same weights, bit for bit; then the ns a step
# of each and their ratios. The hand step is the floor the generator is
# measured against; not part of the test run.
#
#   tests/bench/xor_registers.sh        (REPS=5 N1=2000000 N2=10000000)
#
# A figure is the wall time of `train --steps N2` minus that of N1, divided
# by N2 - N1 (start-up cancels out), min over REPS rounds; the trainers
# alternate within a round, so a drift of the machine's speed hits all.
# Installs nothing beyond calling .ci/setup.
set -eu
cd "$(dirname "$0")/../.."
reps=${REPS:-5}
n1=${N1:-2000000}
n2=${N2:-10000000}
dir=$(mktemp -d "${TRAINC_TMP:-/tmp}/xor_registers.XXXXXX")
trap 'rm -rf "$dir"' EXIT

.ci/setup
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
build/gen/trainc gen models/xor.lua -o "$dir/gen" >/dev/null
cp -r "$dir/gen" "$dir/reg"
cp tests/bench/xor_registers.c "$dir/reg/"
sed -i -e 's|^real model_train_step(int rows|#include "xor_registers.c"\n\n&|' \
    -e 's|return train_4(param, grad, x, y, out, arena, noise);|return xor_registers_step(param, grad, x, y, out, arena);|' \
    "$dir/reg/model.c"
if ! grep -q 'return xor_registers_step' "$dir/reg/model.c"; then
    echo "xor_registers.sh: model.c's dispatch of train_4 changed; update the sed" >&2
    exit 1
fi
for t in gen reg; do
    # reg: train_4 and the noise key are unused there (warnings, not errors)
    ninja -C "$dir/$t" xor >"$dir/$t.log" 2>&1 || { cat "$dir/$t.log" >&2; exit 1; }
done
# the three steps: trainer and TRAINC_GENERIC_STEP
declare -A bin=([generic]=gen [tiny]=gen [hand]=reg) generic=([generic]=1 [tiny]=0 [hand]=1)
steps="generic tiny hand"
for t in $steps; do
    TRAINC_GENERIC_STEP=${generic[$t]} "$dir/${bin[$t]}/xor" train --quiet \
        --weights "$dir/$t.weights" >/dev/null
done
if cmp -s "$dir/generic.weights" "$dir/tiny.weights" && cmp -s "$dir/generic.weights" "$dir/hand.weights"; then
    same=yes
else
    same=NO
fi

# seconds of `train --steps N` of step $1
run() {
    local s e
    s=$(date +%s.%N)
    TRAINC_GENERIC_STEP=${generic[$1]} "$dir/${bin[$1]}/xor" train --epochs 1000000000 \
        --steps "$2" --threads 1 --quiet --weights "$dir/w" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}
declare -A best
for ((r = 0; r < reps; r++)); do
    for t in $steps; do
        for n in "$n1" "$n2"; do
            v=$(run "$t" "$n")
            k="$t.$n"
            if [ -z "${best[$k]:-}" ] || (($(echo "$v < ${best[$k]}" | bc -l))); then best[$k]=$v; fi
        done
    done
done
ns() { echo "(${best[$1.$n2]} - ${best[$1.$n1]}) * 1000000000 / ($n2 - $n1)" | bc -l; }
g=$(ns generic)
t=$(ns tiny)
h=$(ns hand)
printf "xor's training step, 1 thread, ns a step (min of %s; %s vs %s steps)\n" "$reps" "$n1" "$n2"
printf '%-30s %8.1f\n' "generic (TRAINC_GENERIC_STEP=1)" "$g" "in registers (gen/emit_tiny.c)" "$t" \
    "in registers (by hand)" "$h"
printf '%-30s %8.2f\n' generic/generated "$(echo "$g / $t" | bc -l)" \
    generated/by-hand "$(echo "$t / $h" | bc -l)"
printf 'the same weights after training: %s\n' "$same"
[ "$same" = yes ]
