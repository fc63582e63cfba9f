#!/usr/bin/env bash
# tests/bench/bench.sh — train-step time of the generated trainer against
# PyTorch 1.13 and against the OpenBLAS floor. Not part of the test run.
#
#   tests/bench/bench.sh            (from anywhere; BENCH_DIR=... to keep the builds)
#   BENCH_MODELS="lenet" tests/bench/bench.sh   (only some of fashion_mlp
#       fashion_mlp_optim xor lenet fashion_cnn scaling)
#
# fashion_mlp (784-256-128-10 ReLU, cross entropy, SGD lr 0.1, batch 64), at
# 1 and 2 threads:
#   trainc  the generated trainer itself, unchanged: the wall time of
#           `train --steps N2` minus that of `train --steps N1`, divided by
#           N2 - N1, so loading the data, the final evaluation and saving cancel
#           out (min of REPS runs each). --limit 59999 keeps every step at 64
#           rows (no partial batch at the end of an epoch). --threads T.
#   torch   tests/bench/torch_step.py: the same model, batch, loss and
#           optimizer, torch.set_num_threads(T), data in memory, warm-up first.
#           Debian's torch does its matrix products in OpenBLAS, whose own
#           thread pool torch.set_num_threads does not limit: OPENBLAS_NUM_THREADS
#           and OMP_NUM_THREADS are set to T as well, or "1 thread" uses them all.
#   floor   tests/bench/sgemm_floor.c: exactly the cblas_sgemm calls of one
#           step of the generated model (read from model.c, function train_64),
#           same shapes, transposes and betas, openblas_set_num_threads(T),
#           linked as the trainer is.
# fashion_mlp_optim: fashion_mlp at 1 thread with SGD (lr 0.1), Adam and
# RMSprop (lr 1e-3, torch's other defaults), the spec's optimizer line
# replaced: trainc and torch per step as above, the floor (the same eight
# sgemm calls for all three), and the physical limit: the step's FLOP (2 M N
# K summed over those calls) at the measured FMA peak of one core
# (tests/bench/fma_peak.c, the widest vectors the CPU has). Prints every
# ratio, the optimizers' against SGD's too (the update's share of the step).
# xor (2-8-1, tanh, sigmoid, bce, batch 4), 1 thread: trainc against torch.
# lenet (models/lenet.lua: conv 5x5 1->8, max pool 2, relu, conv 5x5 8->16,
# max pool 2, relu, linear -> 10, Adam, batch 64) at 1 and 2 threads:
# trainc against torch (torch_step.py lenet), as fashion_mlp.
# fashion_cnn (models/fashion_cnn.lua: two conv 3x3 - batch norm - relu - max
# pool blocks 1->16->32, linear 128, dropout, linear 10, Adam, batch 64) at 1
# and 2 threads, as lenet.
# scaling: lenet, fashion_mlp (and fashion_cnn, whose batch norm shards
# refuse: at shards = 1) with train { shards = 2 } at 1 and 2 threads, the
# ratio 2 threads / 1 thread, and the CPU's name.
#
# Targets: trainc/floor <= 1.25 and torch/trainc > 1 at both thread counts;
# torch/trainc >= 100 on xor. Installs nothing beyond calling .ci/setup.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
REPS=${REPS:-5}
BENCH_MODELS=" ${BENCH_MODELS:-fashion_mlp fashion_mlp_optim xor lenet fashion_cnn scaling} "
want() { case "$BENCH_MODELS" in *" $1 "*) return 0 ;; esac; return 1; }

.ci/setup
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
trainc=$root/build/gen/trainc

dir=${BENCH_DIR:-$(mktemp -d /tmp/trainc-bench.XXXXXX)}
mkdir -p "$dir"
echo "bench: builds in $dir; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: (other processes on the machine distort the figures, the 2-thread ones most)"
for m in fashion_mlp xor lenet fashion_cnn; do
    if want $m || { [ $m = fashion_mlp ] && want fashion_mlp_optim; }; then
        "$trainc" build models/$m.lua -o "$dir/$m" -q
    fi
done

if want fashion_mlp || want fashion_mlp_optim; then
# the floor program, compiled and linked like the trainer (same OpenBLAS)
ninja_var() { sed -n "s/^$1 = //p" "$dir/fashion_mlp/build.ninja"; }
# shellcheck disable=SC2046
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L $(ninja_var blas_cflags) tests/bench/sgemm_floor.c \
    -o "$dir/sgemm_floor" -static $(ninja_var blas_libs) -lpthread -lm

# the sgemm calls of one 64-row step, as TA:TB:M:N:K:ALPHA:LDA:LDB:BETA:LDC
# (calls may span lines: join the function body first)
mapfile -t calls < <(
    awk '/^(RT_CLONES )?static real train_64\(/{on=1} on{body=body" "$0} on&&/^}/{exit} END{print body}' \
        "$dir/fashion_mlp/model.c" | tr -d ' \t' | grep -o 'cblas_sgemm([^)]*)' |
        sed -E 's/^cblas_sgemm\((.*)\)$/\1/' |
        awk -F, '{ta=($2=="CblasTrans")?"T":"N"; tb=($3=="CblasTrans")?"T":"N";
                  print ta":"tb":"$4":"$5":"$6":"$7":"$9":"$11":"$12":"$14}')
if [ "${#calls[@]}" -eq 0 ]; then
    echo "bench: no cblas_sgemm calls found in train_64 of $dir/fashion_mlp/model.c" >&2
    exit 1
fi
echo "bench: train_64 makes ${#calls[@]} sgemm calls: ${calls[*]}"

fi

# "wall cpu" seconds of one trainer run (cpu = user + system, of all its threads)
run_time() {
    local TIMEFORMAT='%3R %3U %3S' out
    out=$({ time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
    echo "$out" | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}
fmin() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# "wall_us cpu_us" per step: (min time of N2 steps - min time of N1 steps) /
# (N2 - N1), min over REPS runs of each, the two run alternately so that a
# change of the machine's load hits both. The cpu figure is only meaningful
# at 1 thread, where it does not depend on the load of the machine.
trainc_us() {
    local n1=$1 n2=$2
    shift 2
    local aw="" ac="" bw="" bc="" t
    for _ in $(seq "$REPS"); do
        t=$(run_time "$@" --steps "$n1")
        aw=$(fmin "$aw" "${t% *}") ac=$(fmin "$ac" "${t#* }")
        t=$(run_time "$@" --steps "$n2")
        bw=$(fmin "$bw" "${t% *}") bc=$(fmin "$bc" "${t#* }")
    done
    echo "$(echo "($bw - $aw) / ($n2 - $n1) * 1000000" | bc -l) $(echo "($bc - $ac) / ($n2 - $n1) * 1000000" | bc -l)"
}

if want fashion_mlp; then
fm=$dir/fashion_mlp/fashion_mlp
N1=${N1:-100}
N2=${N2:-1600}
printf '\nfashion_mlp, batch 64, SGD lr 0.1 (us per train step; trainc from %s vs %s steps)\n' "$N1" "$N2"
printf '%-8s %12s %12s %12s %12s %12s\n' threads trainc_us torch_us torch/trainc floor_us trainc/floor
cpu_row=""
for T in 1 2; do
    read -r tc tc_cpu < <(trainc_us "$N1" "$N2" "$fm" train --epochs 1000 --limit 59999 --threads "$T" \
        --quiet --weights "$dir/fm.weights")
    OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T /usr/bin/python3 tests/bench/torch_step.py fashion_mlp "$T" 300 >"$dir/torch_$T.txt"
    to=$(sed -n 's/^torch_us //p' "$dir/torch_$T.txt")
    "$dir/sgemm_floor" "$T" 200 "${calls[@]}" >"$dir/floor_$T.txt"
    fl=$(sed -n 's/^floor_us //p' "$dir/floor_$T.txt")
    printf '%-8s %12.1f %12.1f %12.2f %12.1f %12.2f\n' "$T" "$tc" "$to" \
        "$(echo "$to / $tc" | bc -l)" "$fl" "$(echo "$tc / $fl" | bc -l)"
    if [ "$T" = 1 ]; then
        to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_$T.txt")
        fl_cpu=$(sed -n 's/^floor_cpu_us //p' "$dir/floor_$T.txt")
        cpu_row=$(printf '%-8s %12.1f %12.1f %12.2f %12.1f %12.2f' "1 (cpu)" "$tc_cpu" "$to_cpu" \
            "$(echo "$to_cpu / $tc_cpu" | bc -l)" "$fl_cpu" "$(echo "$tc_cpu / $fl_cpu" | bc -l)")
    fi
done
echo "$cpu_row   <- CPU time instead of wall time (1 thread: not skewed by other processes)"
for T in 1 2; do
    echo "floor at $T thread(s), each call alone:"
    sed 's/^/    /' "$dir/floor_$T.txt"
done

fi

if want fashion_mlp_optim; then
# the physical limit: FLOP of the step's products at the measured FMA peak
cc -std=c11 -O2 -ffp-contract=fast -D_POSIX_C_SOURCE=200809L tests/bench/fma_peak.c -o "$dir/fma_peak"
"$dir/fma_peak" >"$dir/fma_peak.txt"
peak=$(sed -n 's/^fma_peak_gflops //p' "$dir/fma_peak.txt")
peak2=$(sed -n 's/^fma_avx2_gflops //p' "$dir/fma_peak.txt")
mflop=$(printf '%s\n' "${calls[@]}" | awk -F: '{f += 2 * $3 * $4 * $5} END {printf "%.3f", f / 1e6}')
limit=$(echo "$mflop / $peak * 1000" | bc -l)
"$dir/sgemm_floor" 1 200 "${calls[@]}" >"$dir/floor_optim.txt"
fl=$(sed -n 's/^floor_us //p' "$dir/floor_optim.txt")
fl_cpu=$(sed -n 's/^floor_cpu_us //p' "$dir/floor_optim.txt")
printf '\nfashion_mlp by optimizer, batch 64, 1 thread (us per train step; trainc from %s vs %s steps)\n' \
    "${N1:-100}" "${N2:-1600}"
printf 'FMA peak of one core %s GFLOP/s (AVX2 alone %s); the step'"'"'s products %s MFLOP: limit %.1f us (AVX2 %.1f)\n' \
    "$peak" "$peak2" "$mflop" "$limit" "$(echo "$mflop / $peak2 * 1000" | bc -l)"
printf '%-12s %9s %9s %8s %9s %8s %9s %8s %8s %8s %9s %8s\n' optim trainc_us torch_us \
    tch/trc floor_us trc/flr limit_us trc/lim flr/lim tch/lim trc/sgd tch/sgd
sgd_tc="" sgd_to="" cpu_rows=""
for o in sgd adam rmsprop; do
    case $o in sgd) line="sgd { lr = 0.1 }" ;; *) line="$o { lr = 1e-3 }" ;; esac
    sed -e "s/^optimizer = .*/optimizer = $line/" -e "s/^model \"fashion_mlp\"/model \"fm_$o\"/" \
        models/fashion_mlp.lua >"$dir/fm_$o.lua"
    "$trainc" build "$dir/fm_$o.lua" -o "$dir/fm_$o" -q
    read -r tc tc_cpu < <(trainc_us "${N1:-100}" "${N2:-1600}" "$dir/fm_$o/fm_$o" train --epochs 1000 \
        --limit 59999 --threads 1 --quiet --weights "$dir/fm_$o.weights")
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 tests/bench/torch_step.py fashion_mlp 1 300 "$o" \
        >"$dir/torch_fm_$o.txt"
    to=$(sed -n 's/^torch_us //p' "$dir/torch_fm_$o.txt")
    to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_fm_$o.txt")
    [ -n "$sgd_tc" ] || { sgd_tc=$tc sgd_to=$to sgd_tc_cpu=$tc_cpu sgd_to_cpu=$to_cpu; }
    r() { echo "$1 / $2" | bc -l; }
    printf '%-12s %9.1f %9.1f %8.2f %9.1f %8.2f %9.1f %8.2f %8.2f %8.2f %9.2f %8.2f\n' "$o" "$tc" "$to" \
        "$(r "$to" "$tc")" "$fl" "$(r "$tc" "$fl")" "$limit" "$(r "$tc" "$limit")" "$(r "$fl" "$limit")" \
        "$(r "$to" "$limit")" "$(r "$tc" "$sgd_tc")" "$(r "$to" "$sgd_to")"
    cpu_rows+=$(printf '%-12s %9.1f %9.1f %8.2f %9.1f %8.2f %9.1f %8.2f %8.2f %8.2f %9.2f %8.2f' "$o(cpu)" \
        "$tc_cpu" "$to_cpu" "$(r "$to_cpu" "$tc_cpu")" "$fl_cpu" "$(r "$tc_cpu" "$fl_cpu")" "$limit" \
        "$(r "$tc_cpu" "$limit")" "$(r "$fl_cpu" "$limit")" "$(r "$to_cpu" "$limit")" \
        "$(r "$tc_cpu" "$sgd_tc_cpu")" "$(r "$to_cpu" "$sgd_to_cpu")")$'\n'
done
printf '%s' "$cpu_rows"
echo "(the (cpu) rows: CPU time instead of wall time, not skewed by other processes;"
echo " trc trainc, tch torch, flr the OpenBLAS floor, lim the limit, sgd the same column's SGD row)"
fi

if want xor; then
xo=$dir/xor/xor
X1=${X1:-100000}
X2=${X2:-3100000}
printf '\nxor 2-8-1, batch 4, SGD lr 0.5, 1 thread (us per train step; trainc from %s vs %s steps)\n' "$X1" "$X2"
read -r tc tc_cpu < <(trainc_us "$X1" "$X2" "$xo" train --epochs 1000000000 --threads 1 --quiet \
    --weights "$dir/xor.weights")
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 tests/bench/torch_step.py xor 1 3000 >"$dir/torch_xor.txt"
to=$(sed -n 's/^torch_us //p' "$dir/torch_xor.txt")
to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_xor.txt")
printf '%-8s %12s %12s %12s\n' threads trainc_us torch_us torch/trainc
printf '%-8s %12.4f %12.1f %12.0f\n' 1 "$tc" "$to" "$(echo "$to / $tc" | bc -l)"
printf '%-8s %12.4f %12.1f %12.0f   <- CPU time\n' "1 (cpu)" "$tc_cpu" "$to_cpu" "$(echo "$to_cpu / $tc_cpu" | bc -l)"
fi

# conv_bench MODEL TITLE N1 N2 TORCH_STEPS: trainc against torch at 1 and 2
# threads, as fashion_mlp (--limit 59968: every step a full batch of 64)
conv_bench() {
local m=$1 title=$2 n1=$3 n2=$4 tsteps=$5 T tc tc_cpu to to_cpu cpu_row=""
printf '\n%s (us per train step; trainc from %s vs %s steps)\n' "$title" "$n1" "$n2"
printf '%-8s %12s %12s %12s\n' threads trainc_us torch_us torch/trainc
for T in 1 2; do
    read -r tc tc_cpu < <(trainc_us "$n1" "$n2" "$dir/$m/$m" train --epochs 1000 --limit 59968 \
        --threads "$T" --quiet --weights "$dir/$m.weights")
    OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T /usr/bin/python3 tests/bench/torch_step.py "$m" "$T" "$tsteps" >"$dir/torch_${m}_$T.txt"
    to=$(sed -n 's/^torch_us //p' "$dir/torch_${m}_$T.txt")
    printf '%-8s %12.1f %12.1f %12.2f\n' "$T" "$tc" "$to" "$(echo "$to / $tc" | bc -l)"
    if [ "$T" = 1 ]; then
        to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_${m}_$T.txt")
        cpu_row=$(printf '%-8s %12.1f %12.1f %12.2f' "1 (cpu)" "$tc_cpu" "$to_cpu" "$(echo "$to_cpu / $tc_cpu" | bc -l)")
    fi
done
echo "$cpu_row   <- CPU time instead of wall time"
}

if want lenet; then
conv_bench lenet "lenet, batch 64, Adam lr 1e-3" "${L1:-50}" "${L2:-450}" 200
fi
if want fashion_cnn; then
conv_bench fashion_cnn "fashion_cnn, batch 64, Adam lr 2e-3, cosine" "${F1:-20}" "${F2:-170}" 100
fi
# scaling: train { shards = 2 } at 1 and 2 threads (--threads T runs the
# shards; the weights are the same bytes at both), us per step as above.
# fashion_cnn has batch norm, which shards refuse: its row is the shards = 1
# trainer at 1 and 2 OpenBLAS threads, for comparison.
if want scaling; then
printf '\nscaling: train { shards = 2 }, us per train step at 1 and 2 threads (%s)\n' \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
printf '%-14s %8s %12s %12s %10s\n' model shards 1_thread_us 2_threads_us 2/1
for m in lenet fashion_mlp fashion_cnn; do
    S=2
    [ $m = fashion_cnn ] && S=1
    sed -e "s/^train { \(.*\) }/train { \1, shards = $S }/" -e "s/^model \"$m\"/model \"sc_$m\"/" \
        models/$m.lua >"$dir/sc_$m.lua"
    "$trainc" build "$dir/sc_$m.lua" -o "$dir/sc_$m" -q
    case $m in lenet) n1=${L1:-50} n2=${L2:-450} ;; fashion_mlp) n1=${N1:-100} n2=${N2:-1600} ;; *) n1=${F1:-20} n2=${F2:-170} ;; esac
    read -r t1 _ < <(trainc_us "$n1" "$n2" "$dir/sc_$m/sc_$m" train --epochs 1000 --limit 59968 \
        --threads 1 --quiet --weights "$dir/sc_$m.1.weights")
    read -r t2 _ < <(trainc_us "$n1" "$n2" "$dir/sc_$m/sc_$m" train --epochs 1000 --limit 59968 \
        --threads 2 --quiet --weights "$dir/sc_$m.2.weights")
    printf '%-14s %8s %12.1f %12.1f %10.2f\n' "$m" "$S" "$t1" "$t2" "$(echo "$t2 / $t1" | bc -l)"
done
fi
echo "bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
