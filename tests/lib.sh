# tests/lib.sh — shared by the shell tests: reporting and the trainc paths.
# Each check prints "ok - name" or "not ok - name" (counted by tests/run).
: "${TRAINC:=$(pwd)/build/gen/trainc}"
: "${TRAINC_TMP:=$(pwd)/tests/tmp}"
mkdir -p "$TRAINC_TMP"

# trainc built with -Dsanitize=... (tests/run --sanitize) builds sanitized,
# dynamically linked trainers
sanitized() { "$TRAINC" --version | grep -q 'sanitize='; }
# static_trainer FILE: statically linked, or from a sanitizer build, carrying
# the sanitizer runtime instead
static_trainer() {
    if sanitized; then
        grep -qaE '__(asan|ubsan)_' "$1"
    else
        file "$1" | grep -q 'statically linked'
    fi
}

# sanitized programs run several times slower: time limits scale by this
time_factor=1
sanitized 2>/dev/null && time_factor=5

check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then echo "ok - $name"; else echo "not ok - $name"; fi
}

# builds SPEC into $TRAINC_TMP/out/NAME quietly; extra args go to trainc
gen_build() {
    local spec=$1 dir=$2
    shift 2
    "$TRAINC" build -q "$spec" -o "$dir" "$@"
}

# a floating-point comparison: lt A B
# (an empty or non-numeric A fails)
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && a + 0 < b + 0) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[-+0-9.eE]+$/ && a + 0 > b + 0) }'; }

# For valgrind: a generated folder DIR built into DIR/NAME, dynamically
# linked and without the sanitizers tests/run --sanitize adds to cc
# (valgrind and ASan do not mix); extra args go to the compiler
valgrind_build() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && ${TRAINC_SYSTEM_CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
        "$@" -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread ./*.c runtime/*.c -o "$name" \
        -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lz -lm)
}
# heap_use DIR NAME ARGS...: "N allocs, N frees, N bytes allocated" of a run
heap_use() {
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && valgrind "./$name" "$@" 2>&1 | sed -n 's/.*total heap usage: //p')
}
# same_heap A B: two runs allocated the same, and valgrind saw allocations
# (a build it cannot follow reports none, and would pass unseen)
same_heap() { test -n "$1" && test "$1" = "$2" && case $1 in "0 allocs"*) false ;; esac; }

# laid_out FILE: generated C as clang-format should leave it: no statement at
# column 0 (clang-format stops indenting a function it misreads, e.g. a block
# opening right inside another, `{{`, and formatting again cannot tell) and
# no comment line glued to the next (a spec line followed by more text), no
# line broken with a backslash (a #define too long for one line)
laid_out() {
    awk '/^(for|if|while|switch|return|do|else)([ (;{]|$)|^[{][{]|^[{] *[a-z]/ ||
        /[.]lua:[0-9]+ [^*]/ || /\\$/ { print FILENAME ":" FNR ": " $0; bad = 1 } END { exit bad }' "$1"
}

# rows_csv FILE SEED: 150 rows of 5 Gaussian features and a label of 3
# classes by two linear rules, from Python's random.seed(SEED) (the data of
# the threads and MPI tests)
rows_csv() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import random, sys
random.seed(int(sys.argv[2]))
with open(sys.argv[1], "w") as f:
    f.write("a,b,c,d,e,label\n")
    for r in range(150):
        x = [random.gauss(0, 1) for _ in range(5)]
        k = 0 if x[0] + x[1] > 0.5 else (1 if x[2] - x[3] > 0 else 2)
        f.write(",".join(f"{v:.6f}" for v in x) + f",{k}\n")
PY
}

# bn_images DIR: DIR/img_x.npy, 150 8x8 one-channel images (uint8, seed 0),
# and DIR/img_y.npy, 3 classes from their halves' brightness: the small
# batch-norm CNN of test_threads and test_mpi
bn_images() {
    /usr/bin/python3 - "$1" <<'PY'
import sys
import numpy as np
rng = np.random.RandomState(0)
x = rng.randint(0, 256, size=(150, 1, 8, 8)).astype(np.uint8)
top, left = x[:, 0, :4].mean(axis=(1, 2)), x[:, 0, :, :4].mean(axis=(1, 2))
np.save(f"{sys.argv[1]}/img_x.npy", x)
np.save(f"{sys.argv[1]}/img_y.npy", ((top > x[:, 0, 4:].mean(axis=(1, 2))) + (left > 128)).astype(np.uint8))
PY
}
