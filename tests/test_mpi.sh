# trainc build --mpi and mpirun -np R: the shards spread over R processes
# give the single-process trainer's weights and checkpoints byte for byte
# (R = 1..4; a CSV MLP with Adam, clipping, uneven shards and a partial
# last batch, shards = 4), every rank holds the same weights after every
# step (TRAINC_MPI_HASH), a checkpoint resumes under another R, rank 0
# alone writes files; the -mpi binary alone is one rank; refusals (more
# ranks than shards, another trainer on a rank, lr-find); a rank killed
# with kill -9 ends the job non-zero. Negative control: shards = 3 differs.
# Synchronised batch norm: a CNN with batch norm, dropout, Adam, stratify
# and augment under R = 1..4 gives the plain trainer's bytes.
# info --ranks R: its predicted bytes a step are those Open MPI's monitoring
# counts (R = 2, 3) and a hand computation's.
. tests/lib.sh
mp=$TRAINC_TMP/mpi
rm -rf "$mp" && mkdir -p "$mp"
if ! command -v mpirun >/dev/null; then
    # .ci/setup installs openmpi-bin on Debian; only a machine it could not set up gets here
    echo "ok - skipped: no mpirun (openmpi-bin and libopenmpi-dev not installed)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
# under the sanitizers, no leak report for the ranks: Open MPI's own
# allocations outlive MPI_Finalize by design (the plain trainer is checked)
mpi_asan=${ASAN_OPTIONS:-}
sanitized && mpi_asan="${mpi_asan:+$mpi_asan:}detect_leaks=0"
mpirun_np() { ASAN_OPTIONS=$mpi_asan mpirun --oversubscribe -np "$@"; }

# 150 rows, 30 held out; batch 34: 3 steps of 34 rows (shards 9 9 8 8) and one of 18
# (5 5 4 4) an epoch; the held-out rows are evaluated one by one (blocks split over the ranks)
rows_csv "$mp/rows.csv" 11
mpi_spec() { # mpi_spec NAME SHARDS
    cat >"$mp/$1.lua" <<EOF
model "mpimlp"
data = csv { train = "$mp/rows.csv", label = "label", header = true, valid = 0.2 }
local x = input { 5 }
local y = labels { classes = 3 }
local h = tanh(linear(x, 24, { name = "fc1" }))
h = relu(linear(h, 16, { name = "fc2" }))
minimize(cross_entropy(linear(h, 3, { name = "fc3" }), y))
optimizer = adam { lr = 0.01 }
train { batch = 34, epochs = 6, seed = 3, clip_grad_norm = 1, shards = $2 }
EOF
}
mpi_spec s4 4
mpi_spec s3 3
gen_build "$mp/s4.lua" "$mp/s4" --mpi >"$mp/s4.log" 2>&1
gen_build "$mp/s3.lua" "$mp/s3" --mpi >"$mp/s3.log" 2>&1
plain=$mp/s4/mpimlp
mpibin=$mp/s4/mpimlp-mpi
built_both() {
    test -x "$mpibin" && static_trainer "$plain" && ldd "$mpibin" | grep -q libmpi &&
        ! grep -qi warning "$mp/s4.log"
}
check "build --mpi makes the static trainer and a dynamically linked -mpi one, warning-free" built_both

# the single-process trainer (2 threads), then R = 1..4 ranks
(cd "$mp" && "$plain" train --quiet --threads 2 --weights plain.w --checkpoint plain.ck \
    --step-metrics plain.steps --metrics plain.metrics >plain.out 2>&1)
for r in 1 2 3 4; do
    (cd "$mp" && TRAINC_MPI_HASH="$mp/h$r" mpirun_np "$r" "$mpibin" train --quiet --weights "r$r.w" \
        --checkpoint "r$r.ck" --step-metrics "r$r.steps" --metrics "r$r.metrics" >"r$r.out" 2>&1)
    echo "$?" >"$mp/r$r.rc"
done
check "the single-process run: 24 steps, a weights file and a checkpoint" \
    sh -c "test -s '$mp/plain.w' && test -s '$mp/plain.ck' && test \$(wc -l <'$mp/plain.steps') -eq 25"
same_metrics() { # same_metrics R: R ranks' metrics, step metrics are one process's
    cmp -s <(cut -d, -f1-5 "$mp/plain.steps") <(cut -d, -f1-5 "$mp/r$1.steps") &&
        cmp -s <(cut -d, -f1-8 "$mp/plain.metrics") <(cut -d, -f1-8 "$mp/r$1.metrics") &&
        grep -q '^6,24,' "$mp/r$1.metrics" && ! grep -q '^6,24,[^,]*,[^,]*,nan' "$mp/r$1.metrics"
}
for r in 1 2 3 4; do
    check "mpirun -np $r: exit 0, the weights and checkpoint of one process byte for byte" \
        sh -c "test \$(cat '$mp/r$r.rc') = 0 && cmp -s '$mp/plain.w' '$mp/r$r.w' && cmp -s '$mp/plain.ck' '$mp/r$r.ck'"
    check "mpirun -np $r: the step and epoch metrics (validation loss too) of one process (seconds aside)" \
        same_metrics "$r"
    check "mpirun -np $r: every rank's weights after each of the 24 steps hash the same" \
        sh -c "test \$(ls '$mp'/h$r.* | wc -l) = $r && test \$(cat '$mp'/h$r.* | sort -u | wc -l) = 1 \
            && grep -q '^steps 24 ' '$mp/h$r.0'"
    check "mpirun -np $r: rank 0 alone prints (one result line)" \
        sh -c "test \$(grep -c '^train loss' '$mp/r$r.out') = 1"
done

# eval and predict: the rows split over the ranks, rank 0 prints and writes
(cd "$mp" && "$plain" eval --weights plain.w >eval1.out 2>&1 &&
    "$plain" predict rows.csv --weights plain.w -o pred1.csv 2>/dev/null)
for r in 2 3; do
    (cd "$mp" && mpirun_np "$r" "$mpibin" eval --weights plain.w >"eval$r.out" 2>&1 &&
        mpirun_np "$r" "$mpibin" predict rows.csv --weights plain.w -o "pred$r.csv" 2>/dev/null)
    check "eval under $r ranks prints the one process's loss, accuracy and confusion matrix" \
        sh -c "grep -q accuracy '$mp/eval1.out' && cmp -s '$mp/eval1.out' '$mp/eval$r.out'"
    check "predict under $r ranks writes the one process's 150 rows" \
        sh -c "test \$(wc -l <'$mp/pred1.csv') = 151 && cmp -s '$mp/pred1.csv' '$mp/pred$r.csv'"
done

# resume: 7 steps under 3 ranks, then the rest under 2 ranks and under 1 process
(cd "$mp" && mpirun_np 3 "$mpibin" train --quiet --steps 7 --checkpoint part.ck --weights part.w >/dev/null 2>&1 &&
    cp part.ck part1.ck && mpirun_np 2 "$mpibin" train --quiet --resume part.ck --weights res2.w >/dev/null 2>&1 &&
    "$plain" train --quiet --resume part1.ck --weights res1.w >/dev/null 2>&1)
check "a checkpoint written under 3 ranks resumes under 2 to the uninterrupted weights" \
    sh -c "test -s '$mp/res2.w' && cmp -s '$mp/plain.w' '$mp/res2.w'"
check "... and in the plain trainer too (the checkpoint has nothing of the ranks)" \
    cmp -s "$mp/plain.w" "$mp/res1.w"
(cd "$mp" && "$plain" train --quiet --steps 7 --checkpoint plainpart.ck --weights plainpart.w >/dev/null 2>&1)
check "the checkpoint after 7 steps under 3 ranks is the plain trainer's byte for byte" \
    cmp -s "$mp/part1.ck" "$mp/plainpart.ck"

# the negative control: shards = 3 on the same data and seed
(cd "$mp" && "$mp/s3/mpimlp" train --quiet --weights s3.w >/dev/null 2>&1)
check "control: shards = 3 ends with other weights than shards = 4 (the test sees last bits)" \
    sh -c "test -s '$mp/s3.w' && ! cmp -s '$mp/s3.w' '$mp/plain.w'"

# the -mpi binary without mpirun: one rank, the same weights
(cd "$mp" && "$mpibin" train --quiet --weights solo.w >solo.out 2>&1)
check "the -mpi trainer started without mpirun trains as one rank (the same weights)" \
    cmp -s "$mp/plain.w" "$mp/solo.w"

# refusals
(cd "$mp" && mpirun_np 5 "$mpibin" train --quiet --weights five.w >five.out 2>&1; echo $? >five.rc)
check "5 ranks for 4 shards: refused, non-zero, with the numbers, no weights" \
    sh -c "test \$(cat '$mp/five.rc') != 0 && grep -q '5 ranks but the spec.s train { shards = 4 }' '$mp/five.out' \
        && test ! -e '$mp/five.w'"
(cd "$mp" && mpirun_np 1 "$mpibin" train --quiet --steps 2 --weights mix.w : -np 1 "$mp/s3/mpimlp-mpi" \
    train --quiet --steps 2 --weights mix.w >mix.out 2>&1; echo $? >mix.rc)
check "another trainer on rank 1: refused at the start, non-zero, naming the rank" \
    sh -c "test \$(cat '$mp/mix.rc') != 0 && grep -q 'rank 1 runs another trainer than rank 0' '$mp/mix.out' \
        && test ! -e '$mp/mix.w'"
(cd "$mp" && mpirun_np 2 "$mpibin" lr-find -o lr.csv >lr.out 2>&1; echo $? >lr.rc)
check "lr-find under 2 ranks: refused (it runs as one process)" \
    sh -c "test \$(cat '$mp/lr.rc') != 0 && grep -q 'lr-find runs as one process' '$mp/lr.out'"

# kill -9 of a rank mid-run: mpirun ends non-zero (a bounded wait, not a
# timing: 30 s only keeps a hang from stopping the tests); the last
# checkpoint then resumes, under 3 ranks, to the uninterrupted run's weights
# (the first checkpoint is awaited up to 2 minutes: mpirun starts slowly on a
# loaded machine). The victim is chosen by its rank (OMPI_COMM_WORLD_RANK in
# its environment), not by its place among mpirun's children: rank 1 here,
# rank 0 (the one that writes the files) below.
rank_pid() { # rank_pid MPIRUN-PID RANK: that rank's process among mpirun's children
    local p
    for p in $(ps -o pid= --ppid "$1"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p"
    done
}
kill_rank() { # kill_rank RANK NAME: trains into NAME.ck under 2 ranks, kills RANK; sets victim, kill_rc
    rm -f "$mp/$2.ck"
    (cd "$mp" && exec env ASAN_OPTIONS="$mpi_asan" mpirun --oversubscribe -np 2 "$mpibin" train \
        --quiet --epochs 20000 --checkpoint "$2.ck" --every-steps 1 --weights "$2.w" >"$2.out" 2>&1) &
    local job=$!
    for _ in $(seq 1200); do [ -s "$mp/$2.ck" ] && break; sleep 0.1; done
    victim=$(rank_pid "$job" "$1")
    [ -n "$victim" ] && kill -9 $victim
    for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
        kill_rc=hang
        kill -9 "$job"
    else
        wait "$job"
        kill_rc=$?
    fi
}
kill_rank 1 kill
check "kill -9 of rank 1: mpirun ends within 30 s, non-zero (status $kill_rc), naming rank 1" \
    sh -c "test -n '$victim' && test '$kill_rc' != hang && test '$kill_rc' != 0 \
        && grep -q 'process rank 1 .*signal 9' '$mp/kill.out'"
cp "$mp/kill.ck" "$mp/kill1.ck"
at=$(cd "$mp" && "$plain" train --resume kill1.ck --epochs 20000 --steps 1 --weights probe.w 2>&1 |
    sed -n 's/.* at step \([0-9]*\) .*/\1/p')
stop=$((${at:-0} + 9))
(cd "$mp" && mpirun_np 3 "$mpibin" train --quiet --resume kill.ck --epochs 20000 --steps "$stop" \
    --weights killres.w >/dev/null 2>&1 &&
    "$plain" train --quiet --epochs 20000 --steps "$stop" --weights killref.w >/dev/null 2>&1)
check "... its last checkpoint (step $at) resumed under 3 ranks to step $stop: the uninterrupted weights" \
    sh -c "test -n '$at' && test -s '$mp/killres.w' && cmp -s '$mp/killres.w' '$mp/killref.w'"

# ---- synchronised batch norm over the ranks: a CNN with batch norm (2d and
# 1d), dropout, Adam, stratified batches and augmented images, shards = 4: 8
# rows each of a batch of 32, 6 6 5 5 of the last 22 (tests/test_threads.sh
# checks the numbers of shards = 3 against torch) ----
bn_images "$mp"
cat >"$mp/bncnn.lua" <<SPEC
model "bncnn"
data = npy { train = { x = "$mp/img_x.npy", y = "$mp/img_y.npy" }, scale = 1 / 255 }
local x = input { 1, 8, 8 }
local y = labels { classes = 3 }
local h = conv2d(x, 4, { kernel = 3, padding = 1, name = "conv1" })
h = dropout(max_pool2d(relu(batch_norm(h, { name = "bn1" })), 2), 0.2)
local f = batch_norm(linear(flatten(h), 8, { name = "fc1" }), { name = "bn2" })
minimize(cross_entropy(linear(relu(f), 3, { name = "fc2" }), y))
optimizer = adam { lr = 0.01 }
train { batch = 32, shards = 4, seed = 2, epochs = 5, stratify = true, augment = { crop = 1, flip = true } }
SPEC
gen_build "$mp/bncnn.lua" "$mp/bncnn" --mpi >"$mp/bncnn.log" 2>&1
bn=$mp/bncnn
check "bncnn (batch norm, shards = 4): build --mpi makes both trainers, warning-free" \
    sh -c "test -x '$bn/bncnn' && test -x '$bn/bncnn-mpi' && ! grep -qi warning '$mp/bncnn.log'"
(cd "$bn" && ./bncnn train --quiet --threads 1 --weights plain.w --checkpoint plain.ck --step-metrics plain.steps \
    >plain.out 2>&1)
bn_same() { # bn_same R: R ranks' weights, checkpoint and step metrics are one process's
    test -s "$bn/plain.w" && cmp -s "$bn/plain.w" "$bn/r$1.w" && cmp -s "$bn/plain.ck" "$bn/r$1.ck" &&
        cmp -s <(cut -d, -f1-5 "$bn/plain.steps") <(cut -d, -f1-5 "$bn/r$1.steps")
}
for r in 1 2 3 4; do
    (cd "$bn" && TRAINC_MPI_HASH="$bn/h$r" mpirun_np "$r" ./bncnn-mpi train --quiet --weights "r$r.w" \
        --checkpoint "r$r.ck" --step-metrics "r$r.steps" >"r$r.out" 2>&1)
    check "bncnn under $r ranks: one process's weights, running statistics, checkpoint and step metrics" \
        bn_same "$r"
    check "bncnn under $r ranks: every rank's weights after each of the 25 steps hash the same" \
        sh -c "test \$(ls '$bn'/h$r.* | wc -l) = $r && test \$(cat '$bn'/h$r.* | sort -u | wc -l) = 1 \
            && grep -q '^steps 25 ' '$bn/h$r.0'"
done
(cd "$bn" && mpirun_np 2 ./bncnn-mpi train --quiet --steps 7 --checkpoint part.ck --weights part.w >/dev/null 2>&1 &&
    mpirun_np 3 ./bncnn-mpi train --quiet --resume part.ck --weights res3.w >/dev/null 2>&1)
check "bncnn: 7 steps under 2 ranks resumed under 3: the uninterrupted weights" \
    sh -c "test -s '$bn/res3.w' && cmp -s '$bn/plain.w' '$bn/res3.w'"

# info --ranks R: the bytes it predicts are the bytes the ranks send and
# receive, as Open MPI's own monitoring counts them (pml monitoring: every
# point-to-point message, the broadcasts' inner ones too) over the steps:
# the totals of a 3-step and a 1-step run differ by 2 steps (the start's
# model check and the final evaluation cancel out). Every rank but 0
# receives the broadcast once whatever Open MPI's algorithm; who forwards
# it does depend on it (at 3 ranks it chains the small broadcasts where
# info's binomial tree has rank 0 send both), so at R = 3 the sends are
# compared in total. The arithmetic against a hand computation: P = 595
# (5x24+24, 24x16+16, 16x3+3), float, shards 9 9 8 8 of 34 rows, 3 outputs.
cm=$mp/cost
mkdir -p "$cm"
cm_monitored() { ompi_info --param pml monitoring --level 9 2>/dev/null | grep -q pml_monitoring_enable; }
cm_bin=$mpibin cm_dir=$cm # the trainer measured, and where it runs
cm_run() { # cm_run R STEPS: the monitored run, its output in run$1_$2.log; ran to its end?
    (cd "$cm_dir" && rm -f "$cm/mon$1_$2".*.prof && mpirun_np "$1" --mca pml_monitoring_enable 2 \
        --mca pml_monitoring_enable_output 3 --mca pml_monitoring_filename "$cm/mon$1_$2" \
        "$cm_bin" train --quiet --steps "$2" --weights "$cm/cm$1_$2.w" >"$cm/run$1_$2.log" 2>&1) &&
        test "$(ls "$cm/mon$1_$2".*.prof 2>/dev/null | wc -l)" -eq "$1"
}
cm_bytes() { # cm_bytes R STEPS: "rank sent received" per rank, of the whole run
    # a second try where the first did not end (seen twice in full CI runs, with 3
    # ranks on 2 busy cores, never alone): its output is kept and printed
    if ! cm_run "$1" "$2"; then
        cp "$cm/run$1_$2.log" "$cm/run$1_$2.first.log"
        echo "# mpirun -np $1 (--steps $2) did not end with its $1 reports; again. Its output:"
        sed 's/^/#   /' "$cm/run$1_$2.first.log" | tail -20
        cm_run "$1" "$2"
    fi >&2
    cat "$cm/mon$1_$2".*.prof 2>/dev/null | awk -v R="$1" '$1 == "E" || $1 == "I" { s[$2] += $4; r[$3] += $4 }
        END { for (i = 0; i < R; i++) print i, s[i] + 0, r[i] + 0 }'
}
cm_info() { # cm_info R: "rank sent received" per rank, as info --ranks R predicts a step
    "$cm_bin" info --ranks "$1" --steps 1 | sed -n 's/^  rank \([0-9]*\): .* sends \([0-9]*\) B, receives \([0-9]*\) B$/\1 \2 \3/p'
}
if cm_monitored; then
    for cm_r in 2 3; do
        join <(cm_bytes "$cm_r" 1) <(cm_bytes "$cm_r" 3) |
            awk '{ print $1, ($4 - $2) / 2, ($5 - $3) / 2 }' >"$cm/measured$cm_r"
        cm_info "$cm_r" >"$cm/info$cm_r"
    done
    check "info --ranks 2: each rank's bytes sent and received a step are the measured ones" \
        sh -c "test \$(wc -l <'$cm/info2') = 2 && cmp -s '$cm/info2' '$cm/measured2'"
    check "info --ranks 3: each rank's bytes received a step are the measured ones" \
        cmp -s <(cut -d' ' -f1,3 "$cm/info3") <(cut -d' ' -f1,3 "$cm/measured3")
    check "info --ranks 3: the bytes sent a step, all ranks together, are the measured ones" \
        sh -c "test \$(awk '{ s += \$2 } END { print s }' '$cm/info3') = \$(awk '{ s += \$2 } END { print s }' '$cm/measured3') \
            && test \$(wc -l <'$cm/measured3') = 3"
    cm_control() { grep -q '^1 [1-9]' "$cm/measured2" && ! cmp -s "$cm/info2" <(head -2 "$cm/measured3"); }
    check "control: a step's traffic is seen, and 2 ranks' prediction is not 3 ranks' measure" cm_control
    # the batch-norm CNN: its sync points' partial sums travel mid-step too
    cm_bin=$bn/bncnn-mpi cm_dir=$bn
    join <(cm_bytes 2 1) <(cm_bytes 2 3) | awk '{ print $1, ($4 - $2) / 2, ($5 - $3) / 2 }' >"$cm/bnmeasured2"
    cm_info 2 >"$cm/bninfo2"
    check "info --ranks 2 of the batch-norm CNN: the bytes measured, its sync points' sums included ($(tr '\n' ' ' <"$cm/bninfo2"))" \
        sh -c "test \$(wc -l <'$cm/bninfo2') = 2 && cmp -s '$cm/bninfo2' '$cm/bnmeasured2'"
    cm_bin=$mpibin cm_dir=$cm
else
    echo "ok - skipped: this Open MPI has no pml monitoring component (Debian's has)"
fi
# the hand computation: shard k sends 4 (P + 1 + 3 rows_k) bytes, the
# broadcast is 4 (P + 1 + 3 x 34) = 2792 bytes
cm_shard() { echo $((4 * (595 + 1 + 3 * $1))); }
cm_m=$((4 * (595 + 1 + 3 * 34)))
printf '%s\n' "0 $cm_m $(($(cm_shard 9) + $(cm_shard 8)))" "1 $(($(cm_shard 9) + $(cm_shard 8))) $cm_m" >"$cm/hand2"
printf '%s\n' "0 $((2 * cm_m)) $(($(cm_shard 9) + $(cm_shard 8)))" "1 $(cm_shard 9) $cm_m" "2 $(cm_shard 8) $cm_m" >"$cm/hand3"
cm_hand() { cmp -s "$cm/hand2" <(cm_info 2) && cmp -s "$cm/hand3" <(cm_info 3); }
check "info --ranks 2 and 3: the bytes of the hand computation (P = 595, shards 9 9 8 8)" cm_hand
# ... and the time at 1 Gbit/s, 2 ranks: the gather 6 messages x 5 us + 4972 B
# x 8 / 1000 = 69.776 us, the broadcast 1 round of 3 messages, 15 + 2792 x 8
# / 1000 = 37.336 us: 107.1 us
cm_us=$("$mpibin" info --ranks 2 --link-gbps 1 --steps 1 | awk '$1 == 2 && $2 == 17 { print $4 }')
check "info --ranks 2 --link-gbps 1: 107.1 us of communication a step, as by hand (got $cm_us)" \
    test "$cm_us" = 107.1

# kill -9 of rank 0 (it holds the sum and writes the checkpoints): the same end
kill_rank 0 kill0
check "kill -9 of rank 0: mpirun ends within 30 s, non-zero (status $kill_rc), naming rank 0" \
    sh -c "test -n '$victim' && test '$kill_rc' != hang && test '$kill_rc' != 0 \
        && grep -q 'process rank 0 .*signal 9' '$mp/kill0.out'"

# a trainer of the same spec from another trainc on rank 1 (the -mpi
# trainer relinked with another generator line in model.h): refused at the start
rm -rf "$mp/s4v" && cp -a "$mp/s4" "$mp/s4v" &&
    sed -i 's/^#define MODEL_GENERATOR "trainc [^"]*"/#define MODEL_GENERATOR "trainc 0.0.0-other"/' "$mp/s4v/model.h" &&
    ninja -C "$mp/s4v" mpimlp-mpi >"$mp/s4v.log" 2>&1
(cd "$mp" && mpirun_np 1 "$mpibin" train --quiet --steps 2 --weights ver.w : -np 1 "$mp/s4v/mpimlp-mpi" \
    train --quiet --steps 2 --weights ver.w >ver.out 2>&1; echo $? >ver.rc)
check "another trainc's trainer of the same spec on rank 1: refused at the start, naming both versions" \
    sh -c "test \$(cat '$mp/ver.rc') != 0 && grep -q 'rank 1 runs another trainer than rank 0 (.*trainc 0.0.0-other.*trainc' '$mp/ver.out' \
        && test ! -e '$mp/ver.w'"
