#!/bin/sh
# tests/fuzz/build.sh OUT — builds the libFuzzer targets into OUT with clang
# (Debian: clang-14 and libclang-rt-14-dev), instrumented for coverage and
# built with AddressSanitizer and UndefinedBehaviorSanitizer; any report
# stops the run. The runtime is the float one, as trainers build it.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build.sh OUT}
cc=${FUZZ_CC:-clang-14}
mkdir -p "$out/obj"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-g -O1 -std=c11 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I$root/runtime -I$root/gen -I$out \
$(pkg-config --cflags lua5.4) $san"

# the code under test: coverage-instrumented, not linked with libFuzzer's main;
# the runtime as runtime/FILES lists it, but rt_lapack.c (no LAPACK linked here)
objs=""
for f in $(sed -n 's/^\(rt_.*\)\.c$/\1/p' "$root/runtime/FILES"); do
    [ "$f" = rt_lapack ] && continue
    $cc $cflags -fsanitize=fuzzer-no-link -c "$root/runtime/$f.c" -o "$out/obj/$f.o"
    objs="$objs $out/obj/$f.o"
done
# trainc without its main(): every module, whatever ops and spec families there
# are, with gen/prelude.lua embedded as meson does it
sh "$root/gen/embed.sh" "$root/gen/prelude.lua" "$out/prelude.h" prelude_lua
gen_objs=""
for src in "$root"/gen/*.c "$root"/gen/ops/*.c "$root"/gen/spec/*.c; do
    [ "$src" = "$root/gen/main.c" ] && continue
    o=$out/obj/gen_$(echo "${src#"$root"/gen/}" | tr / _ | sed 's/\.c$//').o
    $cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$o"
    gen_objs="$gen_objs $o"
done

libs="-lz -lm"
# the targets use memfd_create and memmem
cflags="$cflags -D_GNU_SOURCE"
for t in idx csv npy npydata features safetensors metrics weights checkpoint; do
    $cc $cflags -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.c" $objs $libs -o "$out/fuzz_$t"
done
$cc $cflags -DFUZZ_GZIP -fsanitize=fuzzer "$root/tests/fuzz/fuzz_idx.c" $objs $libs \
    -o "$out/fuzz_idx_gz"
for t in spec escape about; do
    $cc $cflags -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.c" $gen_objs $objs \
        $(pkg-config --libs lua5.4) $libs -o "$out/fuzz_$t"
done
