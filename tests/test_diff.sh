# trainc diff A.lua B.lua: what an option does to the generated C. From one
# small spec, each change the course asks about (SGD -> Adam, relu -> tanh,
# batch 64 -> 32, a layer added) must change the blocks it should and only
# those, each linked to the spec lines behind it; a spec whose lines only
# moved changes no op block; the page loads in headless Chromium.
. tests/lib.sh
out=$TRAINC_TMP/diff
rm -rf "$out"
# the specs in a folder whose long name makes model.c wrap some block heads
# ("-- spec:line" on a line of its own): the pages must find those blocks too
sp=$out/a_folder_whose_long_name_wraps_the_comment_heads_of_model_c
mkdir -p "$sp"
cat >"$sp/base.lua" <<'LUA'
data = spirals { n = 200 }
local x = input { 2 }
local y = labels { classes = 3 }
local h = relu(linear(x, 16))
minimize(cross_entropy(linear(h, 3), y))
optimizer = sgd { lr = 0.1 }
train { batch = 64, epochs = 2 }
LUA
b=$sp/base.lua
sed 's/optimizer = sgd { lr = 0.1 }/optimizer = adam { lr = 0.01 }/' "$b" >"$sp/adam.lua"
sed 's/relu(linear(x, 16))/tanh(linear(x, 16))/' "$b" >"$sp/act.lua"
sed 's/batch = 64/batch = 32/' "$b" >"$sp/batch.lua"
sed 's/local h = relu(linear(x, 16))/local h = relu(linear(relu(linear(x, 16)), 16))/' "$b" >"$sp/layer.lua"
{ echo "-- a comment: every line below moves down one"; cat "$b"; } >"$sp/moved.lua"
"$TRAINC" diff "$b" "$b" -o "$out/same" >"$out/same.out" 2>"$out/same.err"
for v in adam act batch layer moved; do
    "$TRAINC" diff "$b" "$sp/$v.lua" -o "$out/$v" >"$out/$v.out" 2>"$out/$v.err"
done
page() { cat "$out/$1/diff.html"; }
count() { page "$1" | grep -o "$2" | wc -l; }

check "the same spec twice: no change ($(cat "$out/same.out"))" grep -q ' 0 changed, 0 removed, 0 added' "$out/same.out"
check "SGD -> Adam: the update block changed, linked to B's line 6 (changed)" \
    sh -c "grep -q 'class=\"change changed update blk\"[^>]*><div class=\"head\">.*<a href=\"#b6\" class=\"chg\">' '$out/adam/diff.html'"
check "... and no forward, loss or backward op block ($(count adam 'changed [a-z]* blk'))" \
    test "$(count adam 'changed \(forward\|loss\|backward\) blk')" = 0
check "relu -> tanh: forward and backward op blocks changed, linked to line 4" \
    sh -c "grep -q 'class=\"change changed forward blk\" data-a=\" 4 \"' '$out/act/diff.html' &&
           grep -q 'class=\"change changed backward blk\" data-a=\" 4 \"' '$out/act/diff.html'"
check "... and the optimizer's update did not change" test "$(count act 'changed update blk')" = 0
check "batch 64 -> 32: op blocks changed ($(count batch 'changed [a-z]* blk')) and line 7 marked in both specs" \
    sh -c "test $(count batch 'changed [a-z]* blk') -gt 5 &&
           grep -q 'id=\"a7\" class=\"sl chg\"' '$out/batch/diff.html' && grep -q 'id=\"b7\" class=\"sl chg\"' '$out/batch/diff.html'"
check "a layer added: new op blocks ($(count layer 'added [a-z]* blk')), linked to line 4 of B" \
    sh -c "test $(count layer 'added [a-z]* blk') -gt 2 && grep -q 'class=\"change added forward blk\" data-a=\"\" data-b=\" 4 \"' '$out/layer/diff.html'"
check "every spec line moved down one: no op block changed ($(count moved 'changed [a-z]* blk'))" \
    test "$(count moved 'changed [a-z]* blk')" = 0
check "control: the same count reads the adam page's blocks (not 0)" test "$(count adam 'changed [a-z]* blk')" -gt 0

timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$out/profile" \
    --enable-logging=stderr --v=0 --dump-dom "file://$out/layer/diff.html" >"$out/layer.dom" 2>"$out/layer.console"
check "the page loads in Chromium without a console error" \
    sh -c "grep -q 'id=\"summary\"' '$out/layer.dom' && ! grep -qiE 'uncaught|CONSOLE.*(error|exception)' '$out/layer.console'"
check "the page fetches nothing" sh -c "! grep -qE '<script|<link |@import|url\\(|https?://' '$out/layer/diff.html'"

"$TRAINC" diff "$b" >"$out/one.out" 2>&1
check "one spec is a usage error (exit $?)" grep -q 'give two specs' "$out/one.out"
printf 'data = xor { n = 4 }\nlocal x = = 1\n' >"$out/bad.lua"
"$TRAINC" diff "$b" "$out/bad.lua" -o "$out/bad" >"$out/bad.out" 2>&1
rc=$?
check "a spec error in B stops diff with B's file and line (exit $rc)" \
    sh -c "test $rc -eq 2 && grep -q 'bad.lua:2:' '$out/bad.out' && grep -q 'generating .*bad.lua failed' '$out/bad.out'"
