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
# xor (2-8-1, tanh, sigmoid, bce, batch 4), 1 thread: trainc against torch,
# in REPS rounds as lenet below.
# lenet (models/lenet.lua: conv 5x5 1->8, max pool 2, relu, conv 5x5 8->16,
# max pool 2, relu, linear -> 10, Adam, batch 64) at 1 and 2 threads:
# trainc against torch (torch_step.py lenet) in REPS rounds of one trainc
# figure then one torch figure: the min of each side, their ratio, and the
# median of the rounds' ratios (a round's two figures see the same load).
# fashion_cnn (models/fashion_cnn.lua: two conv 3x3 - batch norm - relu - max
# pool blocks 1->16->32, linear 128, dropout, linear 10, Adam, batch 64) at 1
# and 2 threads, as lenet.
# scaling (issue 16), with the CPU's name: lenet, fashion_mlp and
# fashion_cnn with train { shards = 2 } (fashion_cnn's batch norm needs the
# synchronised batch norm of shards: where its spec does not generate, it is
# measured at shards = 1, said in a note, without mpirun) at 1 and 2
# threads, and PyTorch at 2 threads on lenet and fashion_cnn; `mpirun -np 2`
# of the -mpi trainer (trainc build --mpi) against 1 process at 1 thread,
# next to the bytes a step Open MPI's pml monitoring counts (rank 0
# receives, rank 1 sends) and `info --ranks 2`'s predicted step time,
# communication and bytes (at BENCH_LINK_GBPS, default 10). Every ratio.
#
# Knobs: REPS (runs per figure, min taken), N1/N2 (fashion_mlp steps),
# L1/L2 (lenet), F1/F2 (fashion_cnn), X1/X2 (xor), TORCH_STEPS (scaling's
# torch blocks). A quick check that it runs end to end (numbers meaningless):
#   REPS=1 N1=2 N2=4 L1=2 L2=4 F1=2 F2=4 TORCH_STEPS=3 BENCH_MODELS=scaling tests/bench/bench.sh
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
        fl1=$fl
        to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_$T.txt")
        fl_cpu=$(sed -n 's/^floor_cpu_us //p' "$dir/floor_$T.txt")
        cpu_row=$(printf '%-8s %12.1f %12.1f %12.2f %12.1f %12.2f' "1 (cpu)" "$tc_cpu" "$to_cpu" \
            "$(echo "$to_cpu / $tc_cpu" | bc -l)" "$fl_cpu" "$(echo "$tc_cpu / $fl_cpu" | bc -l)")
    fi
done
echo "$cpu_row   <- CPU time instead of wall time (1 thread: not skewed by other processes)"
# the same trainer with every product in OpenBLAS (TRAINC_GEMM=off: the step before
# runtime/rt_gemm.c), and each product's two kernels alone (tests/bench/gemm_bench.c)
read -r tb tb_cpu < <(TRAINC_GEMM=off trainc_us "$N1" "$N2" "$fm" train --epochs 1000 --limit 59999 \
    --threads 1 --quiet --weights "$dir/fm.weights")
printf '%-8s %12.1f %12s %12s %12.1f %12.2f   <- TRAINC_GEMM=off: OpenBLAS only (cpu %.1f)\n' "1" "$tb" - - \
    "$fl1" "$(echo "$tb / $fl1" | bc -l)" "$tb_cpu"
# shellcheck disable=SC2046
cc -std=c11 -O3 -fno-math-errno -D_POSIX_C_SOURCE=200809L -Iruntime $(ninja_var blas_cflags) \
    tests/bench/gemm_bench.c runtime/rt_gemm.c runtime/rt_simd.c -o "$dir/gemm_bench" -static \
    $(ninja_var blas_libs) -lpthread -lm
echo "each product of the step alone, OpenBLAS against runtime/rt_gemm.c (1 thread):"
"$dir/gemm_bench" 50 $(printf '%s\n' "${calls[@]}" | cut -d: -f1-5) | sed 's/^/    /'
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


# rounds_bench MODEL TITLE N1 N2 TORCH_STEPS THREADS DIGITS TRAIN_ARGS...:
# trainc (`train TRAIN_ARGS --threads T`) against torch (torch_step.py MODEL
# T TORCH_STEPS) at each of THREADS, in REPS rounds of one trainc figure (its
# N1 and N2 runs) then one torch figure, so that a change of the machine's
# speed within minutes (this VM's memory-bound steps swing by 10-20%, xor's
# by 5-10%) hits both sides of a round: prints the min over the rounds of
# each side and their ratio, and the median of the rounds' ratios; DIGITS
# after the point for trainc's µs (ratios without decimals when DIGITS > 1:
# xor's are in the thousands)
rounds_bench() {
local m=$1 title=$2 n1=$3 n2=$4 tsteps=$5 threads=$6 dig=$7 T r tc tc_cpu to to_cpu cpu_row="" ratios
shift 7
local rd=2
[ "$dig" -gt 1 ] && rd=0
printf '\n%s (us per train step; trainc from %s vs %s steps; %s rounds of trainc then torch)\n' \
    "$title" "$n1" "$n2" "$REPS"
printf '%-8s %12s %12s %12s %14s\n' threads trainc_us torch_us torch/trainc median_ratio
for T in $threads; do
    local btc="" btc_cpu="" bto="" bto_cpu=""
    ratios=()
    for r in $(seq "$REPS"); do
        read -r tc tc_cpu < <(REPS=1 trainc_us "$n1" "$n2" "$dir/$m/$m" train "$@" \
            --threads "$T" --quiet --weights "$dir/$m.weights")
        OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T /usr/bin/python3 tests/bench/torch_step.py "$m" "$T" \
            "$tsteps" >"$dir/torch_${m}_$T.$r.txt"
        to=$(sed -n 's/^torch_us //p' "$dir/torch_${m}_$T.$r.txt")
        to_cpu=$(sed -n 's/^torch_cpu_us //p' "$dir/torch_${m}_$T.$r.txt")
        ratios+=("$(echo "$to / $tc" | bc -l)")
        btc=$(fmin "$btc" "$tc") btc_cpu=$(fmin "$btc_cpu" "$tc_cpu")
        bto=$(fmin "$bto" "$to") bto_cpu=$(fmin "$bto_cpu" "$to_cpu")
    done
    printf "%-8s %12.${dig}f %12.1f %12.${rd}f %14.${rd}f\n" "$T" "$btc" "$bto" \
        "$(echo "$bto / $btc" | bc -l)" \
        "$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')"
    if [ "$T" = 1 ]; then
        cpu_row=$(printf "%-8s %12.${dig}f %12.1f %12.${rd}f" "1 (cpu)" "$btc_cpu" "$bto_cpu" \
            "$(echo "$bto_cpu / $btc_cpu" | bc -l)")
    fi
done
echo "$cpu_row   <- CPU time instead of wall time"
}

# conv_bench MODEL TITLE N1 N2 TORCH_STEPS: a conv net at 1 and 2 threads,
# --limit 59968: every step a full batch of 64
conv_bench() {
    rounds_bench "$1" "$2" "$3" "$4" "$5" "1 2" 1 --epochs 1000 --limit 59968
}

if want xor; then
# both runs longer than OpenBLAS's start: its server thread spins on
# sched_yield for ~0.1 s of CPU after the trainer starts (xor never calls
# BLAS), which a run of 100000 steps (8 ms) ends before, so that the spin fell
# into the difference: 0.03 us a step of CPU that was not the step's. In
# rounds as the conv nets: the machine's speed drifts by ~5-10% over
# minutes here, and a round's two figures see the same
rounds_bench xor "xor 2-8-1, batch 4, SGD lr 0.5" "${X1:-2000000}" "${X2:-8000000}" 3000 1 4 \
    --epochs 1000000000
fi
if want lenet; then
conv_bench lenet "lenet, batch 64, Adam lr 1e-3" "${L1:-50}" "${L2:-450}" 200
fi
if want fashion_cnn; then
conv_bench fashion_cnn "fashion_cnn, batch 64, Adam lr 2e-3, cosine" "${F1:-20}" "${F2:-170}" 100
fi
# scaling (issue 16): train { shards = 2 } at 1 and 2 threads, mpirun -np 2
# against 1 process, PyTorch at 2 threads; see the header.
if want scaling; then
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_btl_vader_single_copy_mechanism=none
GBPS=${BENCH_LINK_GBPS:-10}
have_mpi=0
command -v mpirun >/dev/null && have_mpi=1
# sc_bytes BIN: "rank0_received rank1_sent" bytes a step under mpirun -np 2,
# as Open MPI's pml monitoring counts them: (3 steps - 1 step) / 2
sc_bytes() {
    local bin=$1 k
    for k in 1 3; do
        rm -f "$dir/scmon$k".*.prof
        mpirun --oversubscribe -np 2 --mca pml_monitoring_enable 2 --mca pml_monitoring_enable_output 3 \
            --mca pml_monitoring_filename "$dir/scmon$k" "$bin" train --steps "$k" --limit 59968 \
            --quiet --weights "$dir/scmon.weights" >/dev/null 2>&1
        cat "$dir/scmon$k".*.prof | awk '$1 == "E" || $1 == "I" { s[$2] += $4; r[$3] += $4 }
            END { print r[0] + 0, s[1] + 0 }'
    done | awk 'NR == 1 { a = $1; b = $2 } NR == 2 { printf "%.0f %.0f\n", ($1 - a) / 2, ($2 - b) / 2 }'
}
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
printf '\nscaling on %s, %s CPUs: us per train step (batch 64; trainc from N1 vs N2 steps as above)\n' \
    "$cpu" "$(nproc)"
sc_threads=$(printf '%-12s %6s %12s %12s %8s %12s %12s' model shards 1_thread_us 2_threads_us 2t/1t \
    torch_2t_us torch/trainc)
sc_mpi=$(printf '%-12s %10s %10s %10s %7s %10s %7s %9s %11s %11s %11s %11s' model 1_proc_us 1_rank_us \
    2_ranks_us 2r/1p pred_2r_us pred/1p pred_comm r0_recv_B pred_recv_B r1_sent_B pred_sent_B)
notes=""
for m in lenet fashion_mlp fashion_cnn; do
    S=2
    sc_spec() {
        sed -e "s/^train { \(.*\) }/train { \1, shards = $1 }/" -e "s/^model \"$m\"/model \"sc_$m\"/" \
            models/$m.lua >"$dir/sc_$m.lua"
    }
    sc_spec 2
    if ! "$trainc" gen -q "$dir/sc_$m.lua" -o "$dir/sc_${m}_gen" 2>"$dir/sc_$m.err"; then
        notes+="note: $m at shards = 2 does not generate ($(head -c 300 "$dir/sc_$m.err" | head -1));"
        notes+=$'\n'"      measured at shards = 1 instead: the 2 threads are OpenBLAS's, and no mpirun row"$'\n'
        S=1
        sc_spec 1
    fi
    mpi_flag=()
    [ "$S" = 2 ] && [ "$have_mpi" = 1 ] && mpi_flag=(--mpi)
    "$trainc" build "$dir/sc_$m.lua" -o "$dir/sc_$m" -q "${mpi_flag[@]}"
    bin=$dir/sc_$m/sc_$m
    case $m in lenet) n1=${L1:-50} n2=${L2:-450} ts=200 ;; fashion_mlp) n1=${N1:-100} n2=${N2:-1600} ts=300 ;;
    *) n1=${F1:-20} n2=${F2:-170} ts=100 ;; esac
    ts=${TORCH_STEPS:-$ts}
    read -r t1 _ < <(trainc_us "$n1" "$n2" "$bin" train --epochs 1000 --limit 59968 --threads 1 \
        --quiet --weights "$dir/sc_$m.1.weights")
    read -r t2 _ < <(trainc_us "$n1" "$n2" "$bin" train --epochs 1000 --limit 59968 --threads 2 \
        --quiet --weights "$dir/sc_$m.2.weights")
    to="" tr="-"
    if [ $m != fashion_mlp ]; then
        OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 tests/bench/torch_step.py "$m" 2 "$ts" \
            >"$dir/sc_torch_$m.txt"
        to=$(sed -n 's/^torch_us //p' "$dir/sc_torch_$m.txt")
        tr=$(printf '%.2f' "$(echo "$to / $t2" | bc -l)")
    fi
    sc_threads+=$'\n'$(printf '%-12s %6s %12.1f %12.1f %8.2f %12s %12s' "$m" "$S" "$t1" "$t2" \
        "$(echo "$t2 / $t1" | bc -l)" "${to:--}" "$tr")
    [ "${#mpi_flag[@]}" = 1 ] || continue
    read -r tr1 _ < <(trainc_us "$n1" "$n2" mpirun --oversubscribe -np 1 "$bin-mpi" train --epochs 1000 \
        --limit 59968 --threads 1 --quiet --weights "$dir/sc_$m.r.weights")
    read -r tm _ < <(trainc_us "$n1" "$n2" mpirun --oversubscribe -np 2 "$bin-mpi" train --epochs 1000 \
        --limit 59968 --quiet --weights "$dir/sc_$m.m.weights")
    read -r recv sent < <(sc_bytes "$bin-mpi")
    "$bin" info --ranks 2 --link-gbps "$GBPS" >"$dir/sc_info_$m.txt"
    read -r pcomm pstep < <(awk '$1 == 2 && NF == 9 { print $4, $5 }' "$dir/sc_info_$m.txt")
    precv=$(sed -n 's/^  rank 0: .* receives \([0-9]*\) B$/\1/p' "$dir/sc_info_$m.txt")
    psent=$(sed -n 's/^  rank 1: .* sends \([0-9]*\) B, .*/\1/p' "$dir/sc_info_$m.txt")
    sc_mpi+=$'\n'$(printf '%-12s %10.1f %10.1f %10.1f %7.2f %10.1f %7.2f %9.1f %11s %11s %11s %11s' "$m" \
        "$t1" "$tr1" "$tm" "$(echo "$tm / $t1" | bc -l)" "$pstep" "$(echo "$pstep / $t1" | bc -l)" "$pcomm" \
        "$recv" "$precv" "$sent" "$psent")
done
echo "threads (--threads T runs the shards; the same weights at both):"
echo "$sc_threads"
printf '%s' "$notes"
echo "(targets: 2t/1t <= 0.6 on the conv nets; torch/trainc >= 3 on lenet, >= 2.5 on fashion_cnn)"
if [ "$have_mpi" = 1 ]; then
    echo "mpirun -np 2 (1 thread a rank) against 1 process at 1 thread (1_rank_us: the -mpi trainer"
    echo "under mpirun -np 1, for its dynamic OpenBLAS and MPI's share); pred_*: info --ranks 2"
    echo "at $GBPS Gbit/s and 5 us a message (BENCH_LINK_GBPS; the ranks here talk through shared memory);"
    echo "r0_recv_B, r1_sent_B: bytes a step measured by Open MPI's pml monitoring, pred_*: info's:"
    echo "$sc_mpi"
else
    echo "mpirun: not installed, no mpirun rows (.ci/setup installs openmpi-bin)"
fi
fi
echo "bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BENCH_DIR:-}" ] || rm -rf "$dir"
