# The curves: after training with --metrics the trainer draws the metrics CSV
# as an SVG picture beside it (rt_plot.c, the one writer that `trainc plot`
# and the trainer's `plot` share); the picture is well-formed XML, needs
# nothing outside itself, and headless Chromium renders the curves in their
# colours. Odd metrics (1 epoch, NaN and inf, decades of loss) draw;
# broken ones are refused with the file named.
. tests/lib.sh
out=$TRAINC_TMP/plot
rm -rf "$out"
mkdir -p "$out"
PY=/usr/bin/python3

# svg_ok FILE: well-formed XML whose root is an SVG element
svg_ok() {
    $PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
sys.exit(root.tag != "{http://www.w3.org/2000/svg}svg")
PY
}
# svg_texts FILE: every text element's content, one a line
svg_texts() {
    $PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
for e in ET.parse(sys.argv[1]).getroot().iter():
    if e.tag.endswith("}text") or e.tag.endswith("}title"):
        print("".join(e.itertext()))
PY
}
# paths FILE: the d attribute of each curve, one a line
paths() {
    $PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
for e in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}path"):
    print(e.get("d"))
PY
}
# render SVG PNG: a screenshot by headless Chromium at the picture's size
render() {
    local size
    size=$($PY -c "import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); print(r.get('width') + ',' + r.get('height'))" "$1") || return 1
    rm -f "$2"
    command -v chromium >/dev/null || { echo "chromium is not installed (.ci/setup installs it)"; return 1; }
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$out/chromium-profile" --window-size="$size" \
        --screenshot="$2" "file://$1" >>"$out/chromium.log" 2>&1
    test -s "$2"
}
# pixels PNG KEY: a count from tests/png_check.py (curve colours as in rt_plot.c)
pixels() {
    $PY tests/png_check.py "$1" train=1f5fbf valid=e8710a lr=2e9d4f | awk -v k="$2" '$1 == k { print $2 }'
}

# --- a small Fashion-MNIST classifier with a validation split and a schedule
cat >"$out/curves.lua" <<'LUA'
model "curves"
local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255, valid = 0.05,
}
local x = input { 784 }
local y = labels { classes = 10 }
minimize(cross_entropy(linear(relu(linear(x, 32)), 10), y))
optimizer = sgd { lr = 0.05, momentum = 0.9 }
schedule = cosine { T_max = 12 }
train { batch = 50, epochs = 12, seed = 1 }
LUA
gen_build "$out/curves.lua" "$out/curves" >"$out/curves.log" 2>&1
check "a trainer with rt_plot.c builds warning-free" sh -c "test -x '$out/curves/curves' && ! grep -q warning '$out/curves.log'"
(cd "$out/curves" && ./curves train --limit 5000 --metrics m.csv >train.log 2>&1)
svg=$out/curves/m.svg
check "train --metrics m.csv also writes m.svg beside it" test -s "$svg"
check "... and says where" grep -q "curves in m.svg" "$out/curves/train.log"
check "the picture is well-formed XML with an <svg> root" svg_ok "$svg"
texts=$out/curves.texts
svg_texts "$svg" >"$texts"
has() { grep -qx -- "$2" "$1"; } # has TEXTS LINE: a text element reads exactly LINE
check "the title names the model" has "$texts" "curves — training curves"
check "panels of loss, accuracy and learning rate" sh -c "grep -qx Loss '$texts' && grep -qx Accuracy '$texts' && grep -qx 'Learning rate' '$texts'"
check "axes are labelled (epoch, loss, accuracy, lr) with epoch ticks 0..12" sh -c \
    "grep -qx epoch '$texts' && grep -qx loss '$texts' && grep -qx accuracy '$texts' && grep -qx lr '$texts' && grep -qx 12 '$texts'"
check "legends name training and validation with their last values" sh -c \
    "grep -q '^training (last 0\.' '$texts' && grep -q '^validation (last 0\.' '$texts'"
check "five curves: training and validation loss and accuracy, and the lr" test "$(paths "$svg" | wc -l)" -eq 5
best=$(awk -F, 'NR > 1 && (b == "" || $5 + 0 < b) { b = $5 + 0; e = $1 } END { print e }' "$out/curves/m.csv")
check "the loss panel marks the epoch of the lowest validation loss ($best), and the subtitle says it" \
    sh -c "grep -qx best '$texts' && grep -q 'best validation loss .* at epoch $best ' '$texts'"
check "self-contained: no script, link, image, stylesheet or external font" \
    sh -c "! grep -qiE '<script|href|<image|<style|@import|url\\(|<foreignObject' '$svg'"

# --- headless Chromium draws it: a valid PNG with the curves in their colours
check "headless Chromium renders the picture" render "$svg" "$out/curves.png"
$PY tests/png_check.py "$out/curves.png" >"$out/png.log" 2>&1
check "the screenshot is a valid PNG of the picture's size ($(head -1 "$out/png.log"))" grep -qx "size 920x882" "$out/png.log"
nonwhite=$(pixels "$out/curves.png" nonwhite)
dark=$(pixels "$out/curves.png" dark)
blue=$(pixels "$out/curves.png" train)
orange=$(pixels "$out/curves.png" valid)
green=$(pixels "$out/curves.png" lr)
check "not blank: $nonwhite pixels are not white" gt "$nonwhite" 20000
check "text and axes are drawn ($dark dark pixels)" gt "$dark" 3000
check "training curves in blue ($blue pixels), validation in orange ($orange), lr in green ($green)" \
    sh -c "test '${blue:-0}' -gt 800 && test '${orange:-0}' -gt 800 && test '${green:-0}' -gt 300"

# --- one writer: the trainer's plot command and trainc plot give the same bytes
(cd "$out/curves" && ./curves plot m.csv -o again.svg --quiet)
check "the trainer's plot METRICS.csv -o FILE draws the same picture" cmp -s "$svg" "$out/curves/again.svg"
"$TRAINC" plot "$out/curves/m.csv" -o "$out/trainc.svg" --title curves -q
check "trainc plot (rt_plot.c linked into trainc) draws the same picture" cmp -s "$svg" "$out/trainc.svg"
cp "$out/curves/m.csv" "$out/run7.csv"
"$TRAINC" plot "$out/run7.csv" -q
check "trainc plot X.csv writes X.svg beside it, titled after the file" \
    grep -q '<title>run7 training curves</title>' "$out/run7.svg"
(cd "$out/curves" && ./curves train --limit 500 --epochs 2 --metrics m2.csv --plot chosen.svg --quiet)
check "train --plot FILE draws there instead" sh -c "test -s '$out/curves/chosen.svg' && test ! -e '$out/curves/m2.svg'"
(cd "$out/curves" && ./curves train --epochs 1 --plot x.svg --quiet 2>"$out/noplot.err")
check "train --plot without --metrics is refused (exit 2)" test $? -eq 2
check "... saying it needs --metrics" grep -q -- "--plot draws the --metrics file" "$out/noplot.err"

# --- a --step-metrics file: drawn against the steps, not the epochs (it
# once drew each epoch's steps as a vertical stroke and said "900 epochs")
(cd "$out/curves" && ./curves train --limit 1000 --epochs 3 --step-metrics steps.csv --quiet >/dev/null)
"$TRAINC" plot "$out/curves/steps.csv" -q
stexts=$out/steps.texts
svg_texts "$out/curves/steps.svg" >"$stexts"
check "a step metrics file: the axis is the step, with ticks up to the 60 steps" \
    sh -c "grep -qx step '$stexts' && ! grep -qx epoch '$stexts' && grep -qx 60 '$stexts'"
check "... the subtitle says 60 steps in 3 epochs ($(grep -m1 '^[0-9]* steps in ' "$stexts"))" grep -q '^60 steps in 3 epochs' "$stexts"
# x_increasing: every curve's x coordinates rise from point to point (no
# vertical stroke of points sharing an x)
x_increasing() {
    paths "$1" | awk '{ n = split($0, t, /[ML ]+/); last = -1; k = 0
        for (i = 1; i <= n; i++) if (t[i] != "") { k++; if (k % 2) { if (t[i] + 0 <= last) bad = 1; last = t[i] + 0 } }
        if (k < 4) bad = 1 } END { exit bad || NR == 0 }'
}
check "... its loss and lr curves run left to right, one x per step" x_increasing "$out/curves/steps.svg"
check "negative: the epoch metrics of the same kind of run are also one x per epoch" x_increasing "$svg"
printf 'epoch,loss\n1,0.5\n1,0.4\n' >"$out/stroke.csv"
"$TRAINC" plot "$out/stroke.csv" -q
not() { ! "$@"; }
check "negative: rows sharing an epoch fail the test above" not x_increasing "$out/stroke.svg"
check "headless Chromium renders the step picture" render "$out/curves/steps.svg" "$out/steps.png"
check "... its loss curve in blue ($(pixels "$out/steps.png" train) pixels)" gt "$(pixels "$out/steps.png" train)" 300
(cd "$out/curves" && ./curves plot steps.csv -o steps_t.svg --quiet)
check "the trainer's plot draws a step file too, with the step axis" grep -q '>step</text>' "$out/curves/steps_t.svg"

# --- regression: no accuracy panel; the loss spans decades: a log scale
cat >"$out/reg.lua" <<'LUA'
model "reg"
data = linreg { n = 400, d = 8, noise = 0.01, test = 100 }
local x = input { 8 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.05 }
train { batch = 20, epochs = 15, seed = 2 }
LUA
gen_build "$out/reg.lua" "$out/reg" >"$out/reg.log" 2>&1
(cd "$out/reg" && ./reg train --metrics m.csv --quiet >/dev/null)
rtexts=$out/reg.texts
svg_texts "$out/reg/m.svg" >"$rtexts"
check "regression: loss and lr panels, no accuracy panel" sh -c \
    "grep -qx Loss '$rtexts' && grep -qx 'Learning rate' '$rtexts' && ! grep -qx Accuracy '$rtexts'"
check "a loss that falls by decades is drawn on a log scale" has "$rtexts" "log scale"
check "... with decade ticks" grep -qxE '0\.0*1' "$rtexts"
check "the fashion loss (within one decade) is linear" sh -c "! grep -qx 'log scale' '$texts'"
check "headless Chromium renders the regression picture" render "$out/reg/m.svg" "$out/reg.png"
check "... its loss curve in blue ($(pixels "$out/reg.png" train) pixels)" gt "$(pixels "$out/reg.png" train)" 300

# --- odd but valid metrics files
printf 'epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,seconds\n1,10,0.693,0.5,0.7,0.48,0.1,0.01\n' >"$out/one.csv"
"$TRAINC" plot "$out/one.csv" -q
check "1 epoch: a picture" svg_ok "$out/one.svg"
check "1 epoch: each value a dot (5 dots)" test "$(grep -c '<circle' "$out/one.svg")" -eq 5
check "1 epoch: Chromium renders the dots" render "$out/one.svg" "$out/one.png"
check "1 epoch: dots visible ($(pixels "$out/one.png" train) blue pixels)" gt "$(pixels "$out/one.png" train)" 40

cat >"$out/gaps.csv" <<'CSV'
epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,seconds
1,10,2.5,0.2,nan,nan,0.1,0.1
2,20,1.5,0.4,-nan,nan,0.1,0.2
3,30,inf,0.5,1.4,0.5,0.1,0.3
4,40,1.0,,1.2,0.55,0.1,0.4
5,50,0.9,0.7,-inf,0.6,0.1,0.5
6,60,0.8,0.75,1.0,0.62,0.1,0.6
CSV
"$TRAINC" plot "$out/gaps.csv" -q 2>"$out/gaps.err"
check "NaN, inf and empty cells: a picture, no crash" svg_ok "$out/gaps.svg"
first=$(paths "$out/gaps.svg" | head -1)
check "the training loss breaks at the inf of epoch 3: two pieces" test "$(echo "$first" | grep -o M | wc -l)" -eq 2
check "the gaps are said under the panel" grep -q "gaps: 4 values not finite" "$out/gaps.svg"
check "Chromium renders the picture with gaps" render "$out/gaps.svg" "$out/gaps.png"

printf 'epoch,lr\n1,0.1\n2,0.05\n3,0.025\n' >"$out/lr_only.csv"
"$TRAINC" plot "$out/lr_only.csv" -q
check "a file with only epoch and lr: the lr panel alone" test "$(paths "$out/lr_only.svg" | wc -l)" -eq 1

# --- broken metrics files: a clear error naming the file, exit 1, no picture
# refused RC OUTPUT FILE MESSAGE SVG: exit 1, the file and the reason said, no picture
refused() { test "$1" -eq 1 && grep -qF -- "$3" "$2" && grep -qF -- "$4" "$2" && test ! -e "$5"; }
bad() { # bad NAME CONTENT EXPECTED-MESSAGE
    local f=$out/bad_$1.csv rc
    printf "$2" >"$f"
    "$TRAINC" plot "$f" -o "$out/bad_$1.svg" >"$out/bad_$1.out" 2>&1
    rc=$?
    check "trainc plot refuses $1 (exit $rc): $(head -1 "$out/bad_$1.out")" \
        refused $rc "$out/bad_$1.out" "$f" "$3" "$out/bad_$1.svg"
    (cd "$out/curves" && ./curves plot "$f" -o "$out/bad_$1_t.svg" >"$out/bad_$1_t.out" 2>&1)
    rc=$?
    check "the trainer's plot refuses $1 the same way (exit $rc)" \
        refused $rc "$out/bad_$1_t.out" "$f" "$3" "$out/bad_$1_t.svg"
}
bad empty '' 'empty'
bad blank '\n\n  \n' 'empty'
bad no_epoch 'loss,lr\n0.5,0.1\n' "no 'epoch' or 'step' column in the header (it has: loss,lr); the curves need one of them, and loss, accuracy or lr"
bad step_nan 'step,loss\nnan,0.5\n' 'the step is'
bad step_header_only 'step,epoch,loss\n' 'no rows: no step was recorded'
bad header_only 'epoch,loss,lr\n' 'no rows'
bad ragged 'epoch,loss,lr\n1,0.5,0.1\n2,0.4\n' ':3: 2 values, but the header has 3 columns'
bad too_many 'epoch,loss\n1,0.5,0.1\n' ':2: 3 values'
bad junk 'epoch,loss\n1,0.5\n2,abc\n' ":3: column 'loss': 'abc' is not a number"
bad epoch_nan 'epoch,loss\nnan,0.5\n' 'the epoch is'
bad binary 'epoch,loss\n1,0.5\000\n' 'not a text file'
bad nothing_to_draw 'epoch,seconds\n1,0.5\n' 'nothing to draw'
"$TRAINC" plot "$out/missing.csv" >"$out/missing.out" 2>&1
rc=$?
check "a missing file: exit 1, named ($(head -1 "$out/missing.out"))" \
    sh -c "test $rc -eq 1 && grep -q 'missing.csv: cannot open' '$out/missing.out'"
"$TRAINC" plot "$out" >"$out/folder.out" 2>&1
rc=$?
check "a folder: exit 1, named ($(head -1 "$out/folder.out"))" sh -c "test $rc -eq 1 && grep -q 'not a regular file' '$out/folder.out'"
out_lines=$(cd "$out/curves" && ./curves train --limit 500 --epochs 2 --metrics /dev/stdout --quiet | wc -l)
check "train --metrics /dev/stdout (a pipe): the CSV on the pipe, no picture, no hang ($out_lines lines)" \
    sh -c "test $out_lines -eq 4 && test ! -e /dev/stdout.svg"
"$TRAINC" plot "$out/one.csv" -o "$out/no/such/dir/x.svg" >"$out/nodir.out" 2>&1
rc=$?
check "an SVG that cannot be written: exit 1, named" sh -c "test $rc -eq 1 && grep -q 'no/such/dir/x.svg' '$out/nodir.out'"
"$TRAINC" plot >/dev/null 2>&1
check "trainc plot without a file is bad usage (exit 2)" test $? -eq 2
"$TRAINC" plot "$out/one.csv" --set a=1 >/dev/null 2>&1
check "trainc plot with spec options is bad usage (exit 2)" test $? -eq 2

# --- mutated metrics files (extreme values, junk, NUL, cut lines): exit 0
# with a well-formed picture whose coordinates are all finite, or exit 1 with
# a message; never a crash or a hang
$PY - "$TRAINC" "$out/curves/m.csv" "$out/mut" >"$out/mutate.log" 2>&1 <<'PY'
import math, os, random, re, subprocess, sys
import xml.etree.ElementTree as ET
trainc, base, work = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
os.makedirs(work, exist_ok=True)
random.seed(4)
toks = ["nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "4.9e-324", "1.7976931348623157e308",
        "0", "-0", "", "x", ",", "\n", "\r\n", "#", " ", "\0", "9" * 400, "epoch", "1e999"]
vals = ["1e308", "1e-308", "nan", "5", "-1e308", "0", "1e-320", "4.9e-324", "-5",
        "1.7976931348623157e308", "-1.7976931348623157e308", "5.000000000000001", "inf"]
def finite_coords(path):
    for e in ET.parse(path).getroot().iter():
        nums = [e.get(k) for k in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy")]
        nums += re.findall(r"[^ML ]+", e.get("d") or "")
        for v in nums:
            if v is not None and not (math.isfinite(float(v)) and abs(float(v)) < 1e5):
                return False
    return True
ok = failed = refused = 0
for i in range(300):
    if i % 2:
        s = list(base)
        for _ in range(random.randint(1, 12)):
            k = random.randrange(len(s) + 1)
            r = random.random()
            if r < 0.4: s[k:k + random.randint(0, 8)] = list(random.choice(toks))
            elif r < 0.7: s[k:k] = list(random.choice(toks))
            else: del s[k:k + random.randint(1, 30)]
        text = "".join(s)
    else:
        epochs = [str(j) for j in range(9)] + ["1e300", "-1e300", "0.5", "1e-310", "1.7976931348623157e308"]
        text = "epoch,loss,valid_loss,accuracy,lr\n" + "\n".join(
            ",".join([random.choice(epochs)] + [random.choice(vals) for _ in range(4)])
            for _ in range(random.randint(1, 6)))
    csv, svg = "%s/m%d.csv" % (work, i), "%s/m%d.svg" % (work, i)
    open(csv, "w").write(text)
    try:
        r = subprocess.run([trainc, "plot", csv, "-o", svg, "-q"], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        print("hang on", csv); failed += 1; continue
    if r.returncode == 0 and finite_coords(svg):
        ok += 1
    elif r.returncode == 1 and csv.encode() in r.stderr and not os.path.exists(svg):
        refused += 1
    else:
        print("bad outcome on", csv, r.returncode, r.stderr[:300]); failed += 1
print("drawn %d, refused %d, failed %d" % (ok, refused, failed))
sys.exit(failed > 0)
PY
rc=$?
check "300 mutated metrics files: $(tail -1 "$out/mutate.log")" test $rc -eq 0
