# trainc plot A.csv B.csv ...: several runs on one picture (rt_plot_xy.c):
# one panel per metric, one series per file in its own colour, the legend
# from --labels or the file names, against --x epoch, step or seconds; a
# step or layer metrics file treated like any CSV with an epoch or step
# column; a column a file lacks is absent from that panel only. Headless
# Chromium renders it with every series visible, as test_plot.sh does for
# the curves.
. tests/lib.sh
out=$TRAINC_TMP/plot_overlay
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
# curves FILE: per panel (its title), the colours of its curves: "title colour colour ..."
curves() {
    $PY - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
for g in ET.parse(sys.argv[1]).getroot().iter(ns + "g"):
    title = next(g.iter(ns + "text")).text
    cols = [p.get("stroke") for p in g.iter(ns + "path") if p.get("stroke-width") == "2.2"]
    print(title, *cols)
PY
}
# xs FILE PANEL: the x coordinates of each curve of a panel, one curve a line
xs() {
    $PY - "$1" "$2" <<'PY'
import re, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
for g in ET.parse(sys.argv[1]).getroot().iter(ns + "g"):
    if next(g.iter(ns + "text")).text != sys.argv[2]:
        continue
    for p in g.iter(ns + "path"):
        if p.get("stroke-width") == "2.2":
            t = [float(v) for v in re.findall(r"[-0-9.]+", p.get("d"))]
            print(" ".join("%.2f" % v for v in t[0::2]))
PY
}
increasing() { awk '{ for (i = 2; i <= NF; i++) if ($i + 0 <= $(i - 1) + 0) bad = 1 } END { exit bad || NR == 0 }'; }
# rising FILE PANEL: every curve of the panel runs left to right, one x per point
rising() { xs "$1" "$2" | increasing; }
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
# pixels PNG KEY: series colours of rt_plot_xy.c's palette
pixels() {
    $PY tests/png_check.py "$1" blue=1f5fbf orange=e8710a green=2e9d4f | awk -v k="$2" '$1 == k { print $2 }'
}

# --- three runs of a small regression at three lrs, each with its metrics
# and step metrics in a folder of its own (the files share their names)
cat >"$out/reg.lua" <<'LUA'
model "reg"
data = linreg { n = 400, d = 8, noise = 0.05, test = 100 }
local x = input { 8 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.05 }
train { batch = 20, epochs = 6, seed = 2 }
LUA
gen_build "$out/reg.lua" "$out/reg" >"$out/reg.log" 2>&1
for lr in 0.003 0.01 0.05; do
    mkdir -p "$out/runs/lr$lr"
    (cd "$out/runs/lr$lr" && "$out/reg/reg" train --lr $lr --metrics metrics.csv --step-metrics steps.csv --quiet >/dev/null)
done
check "the metrics files hold a seconds column (the --x seconds axis), as their format has it" sh -c \
    "head -1 '$out/runs/lr0.01/metrics.csv' | grep -qx 'epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,grad_norm,seconds' &&
     head -1 '$out/runs/lr0.01/steps.csv' | grep -qx 'step,epoch,loss,grad_norm,lr,seconds'"

m1=$out/runs/lr0.003/metrics.csv m2=$out/runs/lr0.01/metrics.csv m3=$out/runs/lr0.05/metrics.csv
"$TRAINC" plot "$m1" "$m2" "$m3" -o "$out/epochs.svg" >"$out/epochs.log" 2>&1
check "three metrics files overlaid: exit 0, one picture ($(cat "$out/epochs.log"))" test -s "$out/epochs.svg"
curves "$out/epochs.svg" >"$out/epochs.curves"
check "a panel per metric with values: loss, lr, grad_norm (no accuracy for a regression)" \
    test "$(cut -d' ' -f1 "$out/epochs.curves" | tr '\n' ' ')" = "loss lr grad_norm "
check "... each panel a curve per file, blue, orange and green" \
    test "$(sort -u <(cut -d' ' -f2- "$out/epochs.curves"))" = "#1f5fbf #e8710a #2e9d4f"
svg_texts "$out/epochs.svg" >"$out/epochs.texts"
check "the legend names the files by their folders (same file names): lr0.003/metrics ..." \
    sh -c "grep -q '^lr0.003/metrics (last ' '$out/epochs.texts' && grep -q '^lr0.05/metrics (last ' '$out/epochs.texts'"
check "the x axis is the epoch, ticks to 6" sh -c "grep -qx epoch '$out/epochs.texts' && grep -qx 6 '$out/epochs.texts'"
check "the default picture is overlay.svg beside the first file" sh -c \
    "'$TRAINC' plot '$m1' '$m2' -q && test -s '$out/runs/lr0.003/overlay.svg'"
check "headless Chromium renders the overlay" render "$out/epochs.svg" "$out/epochs.png"
b=$(pixels "$out/epochs.png" blue) o=$(pixels "$out/epochs.png" orange) g=$(pixels "$out/epochs.png" green)
check "... every series visible: blue $b, orange $o, green $g pixels" \
    sh -c "test '${b:-0}' -gt 400 && test '${o:-0}' -gt 400 && test '${g:-0}' -gt 400"

# --- --labels, --x step and --x seconds
"$TRAINC" plot "$m1" "$m2" "$m3" --labels slow,medium,fast --x step -o "$out/steps.svg" -q
svg_texts "$out/steps.svg" >"$out/steps.texts"
check "--labels names the series" sh -c "grep -q '^slow (last' '$out/steps.texts' && grep -q '^fast (last' '$out/steps.texts'"
check "--x step: the step axis (120 steps)" sh -c "grep -qx step '$out/steps.texts' && grep -qx 120 '$out/steps.texts'"
"$TRAINC" plot "$m1" "$m2" --x seconds -o "$out/seconds.svg" -q
check "--x seconds of the trainer's files: the seconds axis" grep -q '>seconds</text>' "$out/seconds.svg"
printf 'epoch,loss,seconds\n1,0.5,1.5\n2,0.4,3.1\n3,0.35,4.4\n' >"$out/sec_a.csv"
printf 'step,loss,time\n10,0.6,2\n20,0.3,9\n' >"$out/sec_b.csv"
"$TRAINC" plot "$out/sec_a.csv" "$out/sec_b.csv" --x seconds -o "$out/sec.svg" -q
check "... a seconds or a time column, each file at its own times (ticks to 10 s)" \
    sh -c "grep -q '>10</text>' '$out/sec.svg' && test \$(grep -c '<circle' '$out/sec.svg') -eq 5"
check "... its curves run left to right" rising "$out/sec.svg" loss

# --- step metrics files: against the steps, or the epochs (each step at
# its fraction of its epoch: no vertical strokes)
s1=$out/runs/lr0.003/steps.csv s3=$out/runs/lr0.05/steps.csv
"$TRAINC" plot "$s1" "$s3" --x epoch -o "$out/steps_epoch.svg" -q
check "step metrics against the epoch: one x per step, rising" rising "$out/steps_epoch.svg" loss
check "... on the epoch axis, ticks to 6" sh -c "grep -q '>epoch</text>' '$out/steps_epoch.svg' && grep -q '>6</text>' '$out/steps_epoch.svg'"
printf 'epoch,loss\n1,0.5\n1,0.4\n' >"$out/stroke.csv"
"$TRAINC" plot "$out/stroke.csv" "$out/stroke.csv" --x step -o "$out/stroke.svg" -q 2>/dev/null
check "negative: a file without steps is refused for --x step (not drawn as a stroke)" test ! -e "$out/stroke.svg"
"$TRAINC" plot "$s1" "$s3" -o "$out/steps_default.svg" -q
check "step metrics by default: the step axis (their own)" grep -q '>step</text>' "$out/steps_default.svg"
check "... rising" rising "$out/steps_default.svg" loss
"$TRAINC" plot "$m1" "$s3" -o "$out/mixed.svg" -q
check "a metrics and a step metrics file: both against the step (both have one)" grep -q '>step</text>' "$out/mixed.svg"

# --- a layer metrics file (epoch,step,<name>:<metric>) beside another
# lacking one of its columns: that panel has the one series
cat >"$out/layers_a.csv" <<'CSV'
epoch,step,fc1.weight:grad_norm,fc1.weight:update_ratio,relu1:dead
1,10,0.5,0.002,0.1
2,20,0.3,0.001,0.2
3,30,0.2,0.0008,0.25
CSV
cat >"$out/layers_b.csv" <<'CSV'
epoch,step,fc1.weight:grad_norm,fc1.weight:update_ratio
1,10,0.9,0.01
2,20,0.7,0.005
3,30,0.6,0.004
CSV
"$TRAINC" plot "$out/layers_a.csv" "$out/layers_b.csv" -o "$out/layers.svg" -q
curves "$out/layers.svg" >"$out/layers.curves"
check "layer metrics: a panel per <name>:<metric> column" \
    test "$(cut -d' ' -f1 "$out/layers.curves" | tr '\n' ' ')" = "fc1.weight:grad_norm fc1.weight:update_ratio relu1:dead "
check "... relu1:dead, which only the first file has, has its one series (blue)" grep -qx 'relu1:dead #1f5fbf' "$out/layers.curves"
check "... the others both" grep -qx 'fc1.weight:grad_norm #1f5fbf #e8710a' "$out/layers.curves"
check "Chromium renders the layer overlay" render "$out/layers.svg" "$out/layers.png"
check "... both series visible" sh -c "test $(pixels "$out/layers.png" blue) -gt 300 && test $(pixels "$out/layers.png" orange) -gt 300"

# --- a long noisy series: drawn as each pixel column's mean, not 20000 points
$PY - "$out/long.csv" <<'PY'
import math, random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("step,loss\n")
    for i in range(1, 20001):
        f.write("%d,%.6g\n" % (i, math.exp(-i / 5000) * (1 + 0.5 * random.random())))
PY
"$TRAINC" plot "$out/long.csv" "$m1" --x step -o "$out/long.svg" -q
points=$(xs "$out/long.svg" loss | head -1 | wc -w)
check "20000 steps drawn as at most one point per pixel column ($points points)" sh -c "test $points -gt 100 && test $points -le 805"
check "... a picture of moderate size ($(wc -c <"$out/long.svg") bytes)" test "$(wc -c <"$out/long.svg")" -lt 100000

# --- step files against the epoch: a step at the epochs done before it, so
# full-batch GD's steps (one an epoch) fall on 0, 1, 2 as SGD's first does on 0
printf 'step,epoch,loss\n1,1,5\n2,2,4\n3,3,3\n' >"$out/gd_steps.csv"
$PY -c "
print('step,epoch,loss')
for k in range(12): print('%d,%d,%g' % (k + 1, k // 4 + 1, 5 - k / 4))" >"$out/sgd_steps.csv"
"$TRAINC" plot "$out/gd_steps.csv" "$out/sgd_steps.csv" --x epoch -o "$out/gd_sgd.svg" -q
first_x() { $PY -c "
import sys, xml.etree.ElementTree as ET
c = [e for e in ET.parse('$out/gd_sgd.svg').getroot().iter('{http://www.w3.org/2000/svg}circle') if e.get('fill') == '$1']
print(c[0].get('cx'), c[-1].get('cx'))"; }
gd=$(first_x '#1f5fbf') sgd=$(first_x '#e8710a')
check "GD's and SGD's first steps both at epoch 0, the left end (x $gd / $sgd)" \
    sh -c "test '${gd%% *}' = 96.00 && test '${sgd%% *}' = 96.00"
check "... on an axis 0..3 (96..884 px): GD's last step at 2 epochs done, SGD's at 2.75" \
    sh -c "test '${gd##* }' = 621.33 && test '${sgd##* }' = 818.33"

# --- a layer metrics file written every few steps (epoch first, epochs
# repeated): against the epoch, its rows spread over their epoch, the
# epoch's last at the epoch
printf 'epoch,step,fc1.weight:grad_norm\n1,5,0.9\n1,10,0.8\n2,15,0.7\n2,20,0.6\n' >"$out/layers_steps.csv"
printf 'epoch,step,fc1.weight:grad_norm\n1,10,0.85\n2,20,0.65\n' >"$out/layers_epochs.csv"
"$TRAINC" plot "$out/layers_steps.csv" "$out/layers_epochs.csv" -o "$out/layers_steps.svg" -q
check "layer metrics every few steps against the epoch: one x per row, rising" rising "$out/layers_steps.svg" fc1.weight:grad_norm
ends=$(xs "$out/layers_steps.svg" fc1.weight:grad_norm | sed -n 1p | awk '{ print $2, $4 }')
epochs=$(xs "$out/layers_steps.svg" fc1.weight:grad_norm | sed -n 2p | awk '{ print $1, $2 }')
check "... each epoch's last row at the epoch, where the per-epoch file's rows are ($ends / $epochs)" \
    test "$ends" = "$epochs"
