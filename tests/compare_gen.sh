#!/bin/bash
# tests/compare_gen.sh OLD_TRAINC [NEW_TRAINC]: generates every spec of
# models/ and tests/data/ in float and double (and with --no-fuse) with two
# trainc binaries and compares the generated folders file by file (the
# runtime copy aside), to show that a change to gen/ or templates/ changed
# the generated code only where it meant to. NEW_TRAINC defaults to
# build/gen/trainc. Prints the files that differ (VERBOSE=1: the
# differences themselves); exits 1 when there is one.
# Make OLD_TRAINC from another checkout: git worktree add /tmp/old main &&
# meson setup /tmp/old/build /tmp/old && ninja -C /tmp/old/build gen/trainc
set -u
old=${1:?usage: tests/compare_gen.sh OLD_TRAINC [NEW_TRAINC]}
new=${2:-build/gen/trainc}
cd "$(dirname "$0")/.." || exit 2
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
bad=0
for spec in models/*.lua tests/data/*.lua; do
    for flags in "--dtype float" "--dtype double" "--no-fuse"; do
        for side in old new; do
            bin=$old
            [ $side = new ] && bin=$new
            rm -rf "$w/$side"
            # shellcheck disable=SC2086
            "$bin" gen -q "$spec" -o "$w/$side" $flags >"$w/$side.out" 2>&1
            echo "exit $?" >>"$w/$side.out"
            rm -rf "$w/$side/runtime"
            mv "$w/$side.out" "$w/$side/OUTPUT" 2>/dev/null || mkdir -p "$w/$side"
        done
        if ! diff -r "$w/old" "$w/new" >"$w/diff"; then
            echo "== $spec $flags"
            if [ -n "${VERBOSE:-}" ]; then sed "s|$w/||g" "$w/diff"; else grep -E "^(Only in|diff )" "$w/diff" | sed "s|$w/||g"; fi
            bad=1
        fi
    done
done
[ $bad = 0 ] && echo "the same output for every spec"
exit $bad
