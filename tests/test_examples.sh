# End to end: the example specs generate, build (warning-free, statically)
# and train to their promised figures.
. tests/lib.sh
out=$TRAINC_TMP/examples

# xor: loss below 0.01
gen_build models/xor.lua "$out/xor" >"$out.xor.log" 2>&1
check "xor builds" test -x "$out/xor/xor"
check "xor trainer is statically linked (sanitized, under tests/run --sanitize)" static_trainer "$out/xor/xor"
check "xor builds without warnings" sh -c "! grep -q 'warning' '$out.xor.log'"
loss=$(cd "$out/xor" && ./xor train --quiet | awk '/loss/ { print $3 }')
check "xor reaches loss < 0.01 (got $loss)" lt "$loss" 0.01
