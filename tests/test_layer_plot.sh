# The layer metrics picture (train --layer-metrics, issue 14 item 5):
# models/deep_sigmoid.lua (8 sigmoid layers, the course's vanishing
# gradients) trains with --layer-metrics; its gradient norms fall by orders
# of magnitude toward the input; `trainc plot` and the trainer's plot
# recognise the file by its header and draw it per layer (gradient norm on
# a log scale, update ratio with the 1e-3 line, dead or saturated
# fraction); the SVG is well-formed and self-contained, and headless
# Chromium renders the lines in their colours. The columns' values are
# checked against numpy in tests/test_layer_metrics.py.
. tests/lib.sh
out=$TRAINC_TMP/layer_plot
rm -rf "$out"
mkdir -p "$out"
PY=/usr/bin/python3

svg_texts() {
    $PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
for e in ET.parse(sys.argv[1]).getroot().iter():
    if e.tag.endswith("}text") or e.tag.endswith("}title"):
        print("".join(e.itertext()))
PY
}

gen_build models/deep_sigmoid.lua "$out/ds" >"$out/build.log" 2>&1
check "deep_sigmoid builds (exit $?)" test -x "$out/ds/deep_sigmoid"
check "... with no compiler warning (trainc's own warning is of the spec)" \
    sh -c "! grep -i 'warning' '$out/build.log' | grep -qv 'deep_sigmoid.lua:'"
(cd "$out/ds" && ./deep_sigmoid train --epochs 2 --limit 12800 --threads 1 --quiet \
    --layer-metrics layers.csv >train.log 2>&1)
check "train --layer-metrics writes its file (3 rows: the start and 2 epochs)" \
    test "$(wc -l <"$out/ds/layers.csv")" -eq 4
# the last row's gradient norms of the first and the last layer
g1=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { print $c["fc1.weight:grad_norm"] }' "$out/ds/layers.csv")
g8=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { print $c["fc8.weight:grad_norm"] }' "$out/ds/layers.csv")
check "vanishing gradients: fc1's gradient norm ($g1) is below 1e-3 of fc8's ($g8)" \
    awk -v a="$g1" -v b="$g8" 'BEGIN { exit !(a > 0 && b > 0 && a < b * 1e-3) }'
# negative control: the same net with relu instead of sigmoid keeps its
# first layer's gradient within three orders of magnitude of the last's
sed 's/sigmoid(linear/relu(linear/; s/model "deep_sigmoid"/model "deep_relu"/' models/deep_sigmoid.lua >"$out/deep_relu.lua"
gen_build "$out/deep_relu.lua" "$out/dr" >"$out/build_relu.log" 2>&1
(cd "$out/dr" && ./deep_relu train --epochs 2 --limit 12800 --threads 1 --quiet \
    --layer-metrics layers.csv >train.log 2>&1)
r1=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { print $c["fc1.weight:grad_norm"] }' "$out/dr/layers.csv")
r8=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } END { print $c["fc8.weight:grad_norm"] }' "$out/dr/layers.csv")
check "negative: with relu, fc1's gradient norm ($r1) is not below 1e-3 of fc8's ($r8)" \
    awk -v a="$r1" -v b="$r8" 'BEGIN { exit !(a > 0 && b > 0 && a >= b * 1e-3) }'

"$TRAINC" plot "$out/ds/layers.csv" -o "$out/layers.svg" -q
svg=$out/layers.svg
check "trainc plot draws a layer metrics file" test -s "$svg"
texts=$out/texts
svg_texts "$svg" >"$texts"
check "recognised by its header: the layer health title, not the curves" \
    sh -c "grep -qx 'layers — layer health' '$texts' && ! grep -q 'training curves' '$texts'"
check "panels: gradient norm, update ratio, dead or saturated" sh -c \
    "grep -qx 'Gradient norm per layer' '$texts' && grep -qx 'Update / weight per layer' '$texts' && grep -q '^Dead (relu) or saturated' '$texts'"
check "the layers are named along the axis, input to output" sh -c \
    "grep -qx fc1.weight '$texts' && grep -qx fc8.weight '$texts' && grep -qx 'sigmoid7 (saturated)' '$texts'"
check "the update ratio has its 1e-3 rule-of-thumb line" grep -qx '0.001 (rule of thumb)' "$texts"
check "the subtitle gives the first and last layers' gradient norms" \
    grep -q '^last row: gradient norm .* at the first layer, .* at the last' "$texts"
check "self-contained: no script, link, image, stylesheet" \
    sh -c "! grep -qiE '<script|href|<image|<style|@import|url\\(|<foreignObject' '$svg'"
(cd "$out/ds" && ./deep_sigmoid plot layers.csv -o again.svg --quiet)
check "the trainer's plot command draws the same picture" sh -c \
    "sed 's/<title>[^<]*<\/title>//; s/layers — layer/X — layer/; s/deep_sigmoid — layer/X — layer/' '$svg' >'$out/a' && sed 's/<title>[^<]*<\/title>//; s/deep_sigmoid — layer/X — layer/' '$out/ds/again.svg' >'$out/b' && cmp -s '$out/a' '$out/b'"

# --- headless Chromium renders the lines (the last row's colour, #08306b)
size=$($PY -c "import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); print(r.get('width') + ',' + r.get('height'))" "$svg")
if command -v chromium >/dev/null; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$out/chromium-profile" --window-size="$size" \
        --screenshot="$out/layers.png" "file://$svg" >>"$out/chromium.log" 2>&1
fi
check "headless Chromium renders the picture" test -s "$out/layers.png"
$PY tests/png_check.py "$out/layers.png" last=08306b rule=c0392b >"$out/png.log" 2>&1
last=$(awk '$1 == "last" { print $2 }' "$out/png.log")
rule=$(awk '$1 == "rule" { print $2 }' "$out/png.log")
check "the lines are drawn ($last pixels of the last row's colour) and the rule ($rule red)" \
    sh -c "test '${last:-0}' -gt 500 && test '${rule:-0}' -gt 200"

# --- per step: --every-steps N gives a row every N steps
(cd "$out/ds" && ./deep_sigmoid train --epochs 1 --limit 1280 --every-steps 5 --quiet \
    --layer-metrics steps.csv >/dev/null 2>&1)
check "--every-steps 5: rows at steps 0, 5, ..., 20" \
    test "$(cut -d, -f2 "$out/ds/steps.csv" | tail -n +2 | tr '\n' ' ')" = "0 5 10 15 20 "
"$TRAINC" plot "$out/ds/steps.csv" -o "$out/steps.svg" -q
check "... drawn with its rows named by step" grep -q '>step 20<' "$out/steps.svg"

# --- a resumed run continues the file (the start's row is not repeated)
(cd "$out/ds" && ./deep_sigmoid train --epochs 1 --limit 1280 --checkpoint ck --layer-metrics r.csv --quiet >/dev/null 2>&1 &&
    ./deep_sigmoid train --epochs 2 --limit 1280 --resume ck --checkpoint ck --layer-metrics r.csv --quiet >/dev/null 2>&1)
check "--resume continues the layer metrics file: epochs 0, 1, 2" \
    test "$(cut -d, -f1 "$out/ds/r.csv" | tail -n +2 | tr '\n' ' ')" = "0 1 2 "
