# trainc explain: one self-contained HTML page per spec (the spec and
# model.c side by side, linked line to block; the op graph; the ops'
# table), checked in headless Chromium: the page loads without a console
# error; its #selftest clicks every spec line and every block and writes
# what lit up into the page, which --dump-dom shows; every spec line that
# made an op has a block; a screenshot shows both panes.
. tests/lib.sh
out=$TRAINC_TMP/explain
rm -rf "$out"
mkdir -p "$out"
command -v chromium >/dev/null || echo "not ok - chromium is installed (.ci/setup installs it)"

# browse PAGE#HASH NAME: the DOM after the page's script ran, and the console
browse() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$out/profile" \
        --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "file://$1" \
        >"$out/$2.dom" 2>"$out/$2.console"
}
no_console_errors() { ! grep -qiE 'uncaught|CONSOLE.*(error|exception)' "$out/$1.console"; }

for m in fashion_mlp lenet resnet_tiny; do
    "$TRAINC" explain -q "models/$m.lua" -o "$out/$m" 2>"$out/$m.err"
    page=$out/$m/explain.html
    check "$m: explain writes the page" test -s "$page"
    check "$m: the page fetches nothing (no external script, style, font or image)" \
        sh -c "! grep -qE '<script[^>]* src=|<link |@import|url\\(|<img |https?://[a-z]' '$page' ||
               ! grep -vE 'xmlns=\"http://www.w3.org/2000/svg\"' '$page' | grep -qE 'https?://'"
    browse "$page#selftest" "$m"
    grep -o '<pre id="selftest">[^<]*' "$out/$m.dom" | sed 's/.*>//' >"$out/$m.result"
    check "$m: the page's script ran ($(cat "$out/$m.result"))" grep -q '^selftest lines=' "$out/$m.result"
    check "$m: no error in the console" no_console_errors "$m"
    check "$m: a click on each spec line lights its blocks, a click on each block its lines" \
        grep -q ' bad= missing=' "$out/$m.result"
    check "$m: every spec line with an op has a block of code" grep -q ' missing= end' "$out/$m.result"
    check "$m: blocks were found and linked" grep -qE 'blocks=[1-9][0-9]* linked=[1-9]' "$out/$m.result"
done
check "the graph and the ops' table are there, with kernels (gemm: fashion_mlp's products are ours) and fused ops" \
    sh -c "grep -q '<svg id=\"graph\"' '$out/fashion_mlp/explain.html' &&
           grep -q '<td>gemm</td>' '$out/fashion_mlp/explain.html' &&
           grep -q 'fused: fc1_out, relu1' '$out/fashion_mlp/explain.html'"
check "the sections are marked (forward, loss, backward, update blocks)" \
    sh -c "for s in forward loss backward update; do grep -q \"class=\\\"blk \$s\\\"\" '$out/fashion_mlp/explain.html' || exit 1; done"

# negative control: a page whose blocks lost line 15's links fails its selftest
# (line 15 also in the blocks that store its relu's backward: " 16 15 ")
sed -E 's/(data-lines="[ 0-9]*) 15 /\1 /g' "$out/fashion_mlp/explain.html" >"$out/broken.html"
browse "$out/broken.html#selftest" broken
check "control: a page with line 15 unlinked reports it missing" \
    grep -q '<pre id="selftest">[^<]* missing=15 end' "$out/broken.dom"

# a spec whose text is HTML stays text: one script on the page, the spec's shown escaped
cat >"$out/html.lua" <<'LUA'
-- </pre><script>document.title = "injected"</script><b>&amp;
data = xor { n = 4 }
local x = input { 2 }
local y = labels { 1 }
minimize(bce(sigmoid(linear(tanh(linear(x, 4)), 1)), y))
optimizer = sgd { lr = 0.5 }
train { batch = 4, epochs = 1 }
LUA
"$TRAINC" explain -q "$out/html.lua" -o "$out/html" 2>/dev/null
browse "$out/html/explain.html#selftest" html
check "a spec's HTML is shown as text, never run (one script, the title kept)" \
    sh -c "test \$(grep -o '<script' '$out/html/explain.html' | wc -l) = 1 &&
           ! grep -q '<title>injected' '$out/html.dom' && grep -q '&lt;/pre&gt;&lt;script&gt;' '$out/html.dom'"
check "... and its page passes its selftest" grep -q '<pre id="selftest">[^<]* bad= missing= end' "$out/html.dom"

# a screenshot with line 15 selected shows both panes (spec, code) and the highlight
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$out/profile" \
    --window-size=1400,1000 --virtual-time-budget=5000 --screenshot="$out/shot.png" \
    "file://$out/fashion_mlp/explain.html#s15" >"$out/shot.log" 2>&1
/usr/bin/python3 tests/png_check.py "$out/shot.png" hl=fff3a8 >"$out/shot.txt" 2>&1
check "a screenshot of the page shows text in both panes and the highlight ($(tr '\n' ' ' <"$out/shot.txt"))" \
    awk '/^dark/ { dark = $2 } /^hl/ { hl = $2 } END { exit !(dark > 20000 && hl > 2000) }' "$out/shot.txt"

# bad input: a spec error stops explain as it stops gen
printf 'data = xor { n = 4 }\nlocal x = = 1\n' >"$out/bad.lua"
"$TRAINC" explain -q "$out/bad.lua" -o "$out/bad" 2>"$out/bad.err"
rc=$?
check "a spec error stops explain with the spec's file and line (exit $rc)" \
    sh -c "test $rc -eq 2 && grep -q 'bad.lua:2:' '$out/bad.err' && test ! -e '$out/bad/explain.html'"
