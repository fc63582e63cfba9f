# Self-describing trainers: every trainer carries its spec, trainc's
# version and options, and the compiler and flags it was built with
# (about.c); `info --spec` prints the spec byte for byte, `--version` the
# rest, and `trainc gen --from-binary` writes the same folder again from
# the trainer alone. A cut or altered trainer is refused, never generated
# from.
. tests/lib.sh
out=$TRAINC_TMP/about
rm -rf "$out"
mkdir -p "$out/a dir"

# a spec whose first line is #! and whose path has a space and a quote, a
# --set value with a newline and a quote, in double: each must come back
spec="$out/a dir/sp\"ec.lua"
cat >"$spec" <<'LUA'
#!/usr/bin/env trainc
data = linreg { n = 64, d = 3, noise = 0.1 }
local x = input { 3 }
local y = labels { 1 }
minimize(mse(linear(x, args.width or 1), y))
optimizer = sgd { lr = args.lr or 0.05, momentum = 0.9 }
train { batch = 16, epochs = 2 }
-- a note: args.note
local note = args.note
LUA
note='two
lines "quoted"'
gen_build "$spec" "$out/one" --dtype double --set lr=0.1 --set "note=$note" --no-fuse 2>"$out/one.err"
one=$out/one/sp_ec
check "the trainer is built" test -x "$one"
"$one" info --spec >"$out/spec.out"
check "info --spec prints the spec byte for byte" cmp -s "$out/spec.out" "$spec"
"$one" --version >"$out/version.out"
hash=$(sed -n 's/.*spec \([0-9a-f]\{16\}\))$/\1/p' "$out/version.out")
check "--version names the spec hash the folder was generated with ($hash)" \
    grep -q "spec hash $hash" "$out/one/model.h"
check "--version names the spec's path and its size" \
    grep -qF "spec       $spec, $(wc -c <"$spec") bytes" "$out/version.out"
check "--version gives trainc's options (--dtype double, both --set, --no-fuse)" \
    grep -qF 'generated  trainc ' "$out/version.out"
check "... with --dtype double, --set lr=0.1 and --no-fuse" \
    sh -c "grep '^generated' '$out/version.out' | grep -F -- '--dtype double' | grep -F -- '--set lr=0.1' | grep -qF -- '--no-fuse'"
check "--version names the compiler and the flags build.ninja gave it" \
    sh -c "grep -q '^compiler   cc (' '$out/version.out' && grep -q '^flags      -std=c11 .*-DTRAINC_DOUBLE' '$out/version.out'"

# generate again from the trainer alone: the same folder, file for file
"$TRAINC" gen -q --from-binary "$one" -o "$out/two" 2>"$out/two.err"
check "gen --from-binary succeeds, with the spec's own warning only" \
    sh -c "test $? -eq 0 && test \$(grep -vc 'model name .* is written' '$out/two.err') = 0"
(cd "$out/one" && find . -type f ! -path './obj*' ! -name '.ninja*' ! -name sp_ec | sort) >"$out/one.list"
(cd "$out/two" && find . -type f | sort) >"$out/two.list"
check "it writes the same files" cmp -s "$out/one.list" "$out/two.list"
same=1
while read -r f; do cmp -s "$out/one/$f" "$out/two/$f" || same=0; done <"$out/one.list"
check "... each byte for byte (the --set values, --dtype and --no-fuse came back)" test "$same" = 1
check "... and --version shows the --set value's newline as \\n" \
    grep -qF -- '--set note=two\nlines "quoted" --no-fuse' "$out/version.out"
"$TRAINC" build -q --from-binary "$one" -o "$out/two" 2>/dev/null && "$out/two/sp_ec" info --spec >"$out/spec2.out"
check "build --from-binary makes a trainer that carries the same spec" cmp -s "$out/spec2.out" "$spec"

# a #! first line is left out as Lua leaves it out of a file, its line kept
cat >"$out/bad.lua" <<'LUA'
#!/usr/bin/env trainc
data = linreg { n = 64, d = 3 }
local x = = input { 3 }
LUA
"$TRAINC" gen -q "$out/bad.lua" -o "$out/bad" 2>"$out/bad.err"
check "a spec error after a #! line names its own line (3)" grep -q 'bad.lua:3:' "$out/bad.err"

# bad input: each refused with the file named, exit 2, nothing written
refused() { # refused NAME PATTERN ARGS...: exit 2, PATTERN on stderr, no folder
    local name=$1 pattern=$2
    shift 2
    rm -rf "$out/no"
    "$TRAINC" gen -q "$@" -o "$out/no" 2>"$out/refused.err"
    local rc=$?
    check "$name (exit $rc)" sh -c "test $rc -eq 2 && grep -q -- '$pattern' '$out/refused.err' && test ! -e '$out/no'"
}
refused "a missing trainer is refused" "$out/missing: cannot read: No such file" --from-binary "$out/missing"
refused "a file without a spec inside is refused" "no spec inside it" --from-binary "$spec"
cp "$one" "$out/altered"
at=$(grep -abo 'minimize(mse' "$out/altered" | head -1 | cut -d: -f1)
printf 'M' | dd of="$out/altered" bs=1 seek="$at" conv=notrunc 2>/dev/null
refused "a trainer whose spec was altered is refused (one byte at $at)" "cut short or altered" \
    --from-binary "$out/altered"
head -c "$((at + 10))" "$one" >"$out/cut"
refused "a trainer cut in the middle of its spec is refused" "cut short or altered" --from-binary "$out/cut"
refused "a spec file beside --from-binary is refused" "give no spec file" "$spec" --from-binary "$one"
refused "--set beside --from-binary is refused" "give none of them" --from-binary "$one" --set lr=1
refused "--dtype beside --from-binary is refused" "give none of them" --from-binary "$one" --dtype double
"$one" train --spec >/dev/null 2>"$out/spec.err"
check "--spec on another command than info is refused" grep -q -- '--spec is an option of info' "$out/spec.err"
