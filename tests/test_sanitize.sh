# Sanitizer smoke test: trainc built with -Dsanitize=address,undefined (in
# build-san/, as `tests/run --sanitize` builds it) generates trainers built
# with the same sanitizers; a few models train and a few bad inputs are
# refused, with no AddressSanitizer, LeakSanitizer or UBSan report. The full
# suite under sanitizers is `tests/run --sanitize` (slow; see README).
. tests/lib.sh
out=$TRAINC_TMP/sanitize
rm -rf "$out" && mkdir -p "$out/reports"
if [ ! -f build-san/build.ninja ] &&
    ! meson setup build-san -Dsanitize=address,undefined >"$out/setup.log" 2>&1; then
    echo "not ok - meson setup build-san -Dsanitize=address,undefined"
    tail -20 "$out/setup.log"
    exit 1
fi
if ! ninja -C build-san >"$out/build.log" 2>&1; then
    echo "not ok - trainc builds with -Dsanitize=address,undefined"
    tail -20 "$out/build.log"
    exit 1
fi
san=$(pwd)/build-san/gen/trainc
# every report lands in reports/ as well, whatever a command does with stderr
export ASAN_OPTIONS="log_path=$out/reports/asan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="log_path=$out/reports/ubsan:print_stacktrace=1:halt_on_error=1"
reports() { ls "$out/reports" | wc -l; }

check "trainc -Dsanitize says so in --version" sh -c "'$san' --version | grep -q 'sanitize=address,undefined'"

# the generated build uses the flags, and they work: an overflow compiled
# with them is caught and reported into reports/
"$san" build -q models/xor.lua -o "$out/xor" >"$out/xor.log" 2>&1
check "the trainer is built with -fsanitize=address,undefined -fno-sanitize-recover=all" \
    grep -q -- '-fsanitize=address,undefined -fno-sanitize-recover=all' "$out/xor/build.ninja"
check "the trainer carries the sanitizer runtime" grep -qa '__asan_init' "$out/xor/xor"
check "the trainer builds without warnings" sh -c "! grep -q warning '$out/xor.log'"
flags=$(sed -n 's/^ldflags = //p' "$out/xor/build.ninja")
printf '#include <stdlib.h>\nint main(void) { volatile char *p = malloc(4); p[4] = 1; free((void *)p); return 0; }\n' >"$out/overflow.c"
cc $flags "$out/overflow.c" -o "$out/overflow" 2>>"$out/xor.log"
before=$(reports)
(cd "$out" && ./overflow) 2>/dev/null
rc=$?
check "control: a heap overflow built with the trainer's flags exits non-zero ($rc) with a report" \
    sh -c "test $rc -ne 0 && test $(reports) -gt $before"
rm -f "$out"/reports/asan.overflow.*

before=$(reports)
loss=$(cd "$out/xor" && ./xor train --quiet | awk '/loss/ { print $3 }')
check "sanitized xor trains (loss $loss < 0.01)" lt "$loss" 0.01
(cd "$out/xor" && ./xor eval >/dev/null && ./xor export npy --quiet && ./xor info >/dev/null)
check "sanitized xor: train, eval, export, info with no report" test "$(reports)" -eq "$before"

# a CSV model with a header, a label by name and standardisation
cat >"$out/iris.lua" <<LUA
data = csv { train = "$(pwd)/tests/data/tiny.csv", label = "species", standardize = true }
local x = input { 2 }
local y = labels { classes = 3 }
minimize(cross_entropy(linear(tanh(linear(x, 8)), 3), y))
optimizer = adam { lr = 0.01 }
train { batch = 4, epochs = 20 }
LUA
printf '5.1,1.4\n6.3,4.9\n' >"$out/features.csv"
before=$(reports)
"$san" build -q "$out/iris.lua" -o "$out/iris" >"$out/iris.log" 2>&1
(cd "$out/iris" && ./iris train --quiet --checkpoint ck --every 5 >/dev/null &&
    ./iris train --quiet --resume ck >/dev/null && ./iris eval >/dev/null &&
    ./iris predict "$out/features.csv" >/dev/null)
check "sanitized CSV model builds, trains, resumes, evaluates with no report" \
    sh -c "test -x '$out/iris/iris' && test $(reports) -eq $before"

# refusals: each exits non-zero with a message, and without a report
refuse() { # refuse NAME TEXT COMMAND...
    local name=$1 text=$2 output rc
    shift 2
    before=$(reports)
    output=$("$@" 2>&1)
    rc=$?
    case "$output" in
    *"$text"*) [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(reports)" -eq "$before" ] &&
        { echo "ok - sanitized: $name"; return; } ;;
    esac
    echo "not ok - sanitized: $name (exit $rc, reports $(($(reports) - before))): $output" | head -5
}
printf 'local x = input { 2 \n' >"$out/syntax.lua"
refuse "a spec with a syntax error" "syntax.lua:" "$san" gen -q "$out/syntax.lua" -o "$out/g1"
printf 'while true do end\n' >"$out/loop.lua"
refuse "a spec that never ends" "loop.lua" "$san" gen -q "$out/loop.lua" -o "$out/g2"
printf 'os.execute("true")\n' >"$out/escape.lua"
refuse "a spec that reaches for os" "escape.lua" "$san" gen -q "$out/escape.lua" -o "$out/g3"
sed "s|tests/data/tiny.csv|tests/data/ragged.csv|" "$out/iris.lua" >"$out/ragged.lua"
refuse "a ragged CSV at generation" "ragged.csv" "$san" gen -q "$out/ragged.lua" -o "$out/g4"
refuse "predict on a ragged CSV" "ragged.csv" sh -c "cd '$out/iris' && ./iris predict '$(pwd)/tests/data/ragged.csv'"
head -c 100 "$out/xor/xor.weights" >"$out/short.weights"
refuse "a truncated weights file" "short.weights" sh -c "cd '$out/xor' && ./xor eval --weights '$out/short.weights'"
refuse "a checkpoint of another model" "ck" sh -c "cd '$out/xor' && ./xor train --resume '$out/iris/ck'"

# checkpoints whose checksum is right but whose run state would take the
# trainer outside its data (found by fuzz_checkpoint)
tamper() { # tamper OUT PYTHON-STATEMENTS: edits b (the file's bytes), rewrites the CRC
    /usr/bin/python3 -c "
import struct, zlib
b = bytearray(open('$out/iris/ck', 'rb').read())
# the header: magic, version, real size, model hash (32 bytes), then 6 counts
# (n_params, n_state, n_stats, n_order, run_size at 64, n_best); the run state
# (step, epoch, pos as int64 ...) follows it, the order after run_size bytes
run = 80
$2
b[-4:] = struct.pack('<I', zlib.crc32(bytes(b[:-4])))
open('$1', 'wb').write(b)"
}
tamper "$out/ck-pos" "b[run + 16:run + 24] = struct.pack('<q', 1)"
refuse "a checkpoint stopped within a batch" "not at a batch boundary" \
    sh -c "cd '$out/iris' && ./iris train --epochs 22 --resume '$out/ck-pos'"
tamper "$out/ck-past" "b[run + 16:run + 24] = struct.pack('<q', 1000)"
refuse "a checkpoint past the last row" "run state" \
    sh -c "cd '$out/iris' && ./iris train --epochs 22 --resume '$out/ck-past'"
tamper "$out/ck-order" "o = run + struct.unpack_from('<Q', b, 64)[0]; b[o:o + 4] = b[o + 4:o + 8]"
refuse "a checkpoint whose data order repeats a row" "run state" \
    sh -c "cd '$out/iris' && ./iris train --epochs 22 --resume '$out/ck-order'"

check "no sanitizer report anywhere in this test" test "$(reports)" -eq 0
[ "$(reports)" -eq 0 ] || head -40 "$out"/reports/* 2>/dev/null
