# Fuzzing: every reader of the runtime (IDX raw and gzip, CSV, .npy arrays
# and .npy data sets, predict's sniffing reader, safetensors, metrics CSV,
# weights, checkpoints), trainc's spec loader, its escaping of names and its reader of
# the spec a trainer carries (--from-binary), each for a short,
# reproducible libFuzzer run (fixed seed, a fixed number of small inputs)
# from the seed corpus in tests/fuzz/corpus/ with AddressSanitizer and UBSan.
# A target fails on a crash, a hang (-timeout), a sanitizer report or a
# broken promise (see tests/fuzz/fuzz.h); its line gives the number of
# executions.
#   TRAINC_FUZZ_SECONDS   fuzz each target this long instead (the long runs: README)
#   TRAINC_FUZZ_TARGETS   which targets (default all)
# Why a count, not 8 s: a timed run explores as far as the machine is fast,
# so CI found (and failed on) a new input on a fast machine only, at random.
# A count, without the entropic schedule (it weighs inputs by their run
# time), without reloading the corpus (every second) and without address
# randomisation (zlib's and the sanitizers' pointers steer the mutations)
# makes the same inputs on every machine; the spec loader's Lua still seeds
# its string hashes with the time, so fuzz_spec's inputs vary a little.
# Each count is about half of what 8 s gave alone on an AMD EPYC
# (2026-12-07): ~4 s there, more beside tests/run's other jobs. New inputs
# are the long runs' to find.
. tests/lib.sh
out=$TRAINC_TMP/fuzz
targets=${TRAINC_FUZZ_TARGETS:-idx idx_gz csv npy npydata features safetensors metrics weights checkpoint spec escape about}
runs_of() {
    case $1 in
    idx | idx_gz) echo 20000 ;;
    csv) echo 40000 ;;
    metrics) echo 70000 ;;
    npydata | features | escape) echo 120000 ;;
    about | safetensors | npy | weights | checkpoint) echo 250000 ;;
    spec) echo 8000 ;;
    esac
}
rm -rf "$out" && mkdir -p "$out"
# libFuzzer's -timeout: an input that runs this long (wall clock) is a hang.
# The slowest seeds (a spec looping until the sandbox's instruction limit)
# take ~4 CPU seconds under ASan, and tests/run's parallel jobs may leave
# them a quarter of a core: 120 s still tells a hang from a slow input.
unit_timeout=$((120 * time_factor))

# no address randomisation where the system lets us turn it off
norand="setarch $(uname -m) -R"
$norand true 2>/dev/null || norand=""

# the tools, from Debian's clang-14 and libclang-rt-14-dev (.ci/setup)
if ! tests/fuzz/build.sh "$out/bin" >"$out/build.log" 2>&1; then
    echo "not ok - fuzz targets build with clang-14 -fsanitize=fuzzer (see below)"
    tail -20 "$out/build.log"
    exit 1
fi
check "fuzz targets build without warnings" sh -c "! grep -q 'warning' '$out/build.log'"

for t in $targets; do
    mkdir -p "$out/corpus-$t"
    # the spec loader runs Lua: slower per input, longer inputs
    len=4096
    [ "$t" = spec ] && len=16384
    # new inputs go to the scratch corpus; the repository's is only read
    extra=""
    [ "$t" = spec ] && extra=models # the example specs are seeds too
    # the count, under a time cap that only a machine many times slower meets
    if [ -n "${TRAINC_FUZZ_SECONDS:-}" ]; then
        budget="-max_total_time=$TRAINC_FUZZ_SECONDS" what="in $TRAINC_FUZZ_SECONDS s" wrap=""
    else
        budget="-runs=$(runs_of "$t") -max_total_time=$((300 * time_factor)) -entropic=0 -reload=0"
        what="(a fixed set)" wrap=$norand
    fi
    $wrap "$out/bin/fuzz_$t" "$out/corpus-$t" "tests/fuzz/corpus/$t" $extra -seed=1 $budget \
        -max_len=$len -timeout=$unit_timeout -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/$t-" >"$out/$t.log" 2>&1
    rc=$?
    execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$out/$t.log")
    # what libFuzzer keeps: crash-, timeout-, oom-, leak- (slow-unit- is no failure)
    found=$(ls "$out/$t-"crash-* "$out/$t-"timeout-* "$out/$t-"oom-* "$out/$t-"leak-* 2>/dev/null | head -1)
    if [ "$rc" -eq 0 ] && [ -z "$found" ] && [ -n "$execs" ] && [ "$execs" -gt 0 ]; then
        echo "ok - fuzz_$t: ${execs} executions $what, no crash, hang or sanitizer report"
    else
        echo "not ok - fuzz_$t: exit status $rc after ${execs:-0} executions; input ${found:-none}"
        grep -E -A12 'ERROR|runtime error|broken promise|timeout' "$out/$t.log" | head -30
    fi
done

# every regression input the fuzzer once found stays fixed: the targets run
# the whole repository corpus without a report
for t in $targets; do
    check "fuzz_$t: the seed and regression corpus runs clean" sh -c \
        "'$out/bin/fuzz_$t' -runs=0 -timeout=$unit_timeout 'tests/fuzz/corpus/$t' $([ "$t" = spec ] && echo models) >'$out/$t-corpus.log' 2>&1"
done
