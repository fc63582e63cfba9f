# trainc sweep: the lr grids as README defines them (log, lin, log-uniform
# random draws against numpy), results.csv (parsed by Python's csv; its
# figures against each run's own files), a diverging lr recorded as
# diverged, the best setting as results.csv says, one build per --set
# value, a rerun that skips finished runs, --jobs 2 giving --jobs 1's
# figures, --refine's finer lrs, and sweep.svg rendered by Chromium.
# A tiny CSV classifier and 1-2 epochs: the cost is the builds (5 here).
. tests/lib.sh
out=$TRAINC_TMP/sweep
rm -rf "$out"
mkdir -p "$out"
PY=/usr/bin/python3

# three noisy blobs, 240 rows of 4 features; a hidden layer of args.hidden units
$PY - "$out/blobs.csv" <<'PY'
import random, sys
random.seed(3)
with open(sys.argv[1], "w") as f:
    f.write("a,b,c,d,label\n")
    for i in range(240):
        k = i % 3
        f.write(",".join("%.3f" % random.gauss(k * (j % 2 + 1), 0.7) for j in range(4)) + ",%d\n" % k)
PY
cat >"$out/blobs.lua" <<'LUA'
model "blobs"
data = csv { train = "blobs.csv", label = "label", valid = 0.25, test = 0.2 }
local x = input { 4 }
local y = labels { classes = 3 }
local h = relu(linear(x, args.hidden or 8))
minimize(cross_entropy(linear(h, 3), y))
optimizer = sgd { lr = 0.1 }
train { batch = 16, epochs = 2, seed = 1 }
LUA
sweep() { "$TRAINC" sweep "$out/blobs.lua" "$@"; }

# --- the grids, as --list gives them (nothing is built or run)
# lrs_are LIST.csv PYTHON-EXPR: the lr column equals the expression (numpy as np), within 1e-12
lrs_are() {
    $PY - "$1" "$2" <<'PY'
import csv, sys
import numpy as np
got = [float(r["lr"]) for r in csv.DictReader(open(sys.argv[1]))]
want = list(eval(sys.argv[2]))
ok = len(got) == len(want) and all(abs(a - b) <= 1e-12 * abs(b) for a, b in zip(got, want))
print("got", got, "want", want) if not ok else None
sys.exit(not ok)
PY
}
sweep --lr 1e-3:10:log:5 --seeds 1 --list >"$out/log.csv"
check "LO:HI:log:K: K lrs 10^(log10 LO + i/(K-1) (log10 HI - log10 LO)), numpy's logspace" \
    lrs_are "$out/log.csv" "np.logspace(-3, 1, 5)"
check "... the decades exactly: 0.1, not 0.10000000000000001" grep -q ',0\.1,1,2$' "$out/log.csv"
sweep --lr 0.05:0.25:lin:5 --seeds 1 --list >"$out/lin.csv"
check "LO:HI:lin:K: evenly spaced" lrs_are "$out/lin.csv" "np.linspace(0.05, 0.25, 5)"
sweep --lr 1e-5:0.1:random:6:7 --seeds 1 --list >"$out/random.csv"
check "LO:HI:random:K:SEED: log-uniform draws of numpy's RandomState(SEED), sorted" lrs_are \
    "$out/random.csv" "sorted(np.exp(np.log(1e-5) + np.random.RandomState(7).random_sample(6) * np.log(0.1 / 1e-5)))"
sweep --lr random:4 --seeds 1 --list >"$out/random_default.csv"
check "random:K: over 1e-4..1 from seed 1" lrs_are "$out/random_default.csv" \
    "sorted(1e-4 * 1e4 ** np.random.RandomState(1).random_sample(4))"
sweep --lr 1e-5:0.1:random:6:8 --seeds 1 --list >"$out/random8.csv"
check "negative: another seed draws other lrs" sh -c "! cmp -s '$out/random.csv' '$out/random8.csv'"
sweep --lr 0.3,0.01,2 --seeds 1 --list >"$out/list.csv"
check "a list of lrs, as given" lrs_are "$out/list.csv" "[0.3, 0.01, 2]"
sweep --lr 0.3,0.01,0.3 --seeds 1 --list >"$out/list2.csv"
check "... an lr given twice is one setting" lrs_are "$out/list2.csv" "[0.3, 0.01]"
sweep --lr 0.1 --seeds 3 --set hidden=4,8 --list >"$out/grid.csv"
check "every --set value with every lr and seed 1..N: 2 x 1 x 3 runs" test "$(tail -n +2 "$out/grid.csv" | wc -l)" -eq 6
check "... the first --set varying slowest, then the lrs, then the seeds" \
    test "$(cut -d, -f2,4 "$out/grid.csv" | tr '\n' ' ')" = "hidden,seed 4,1 4,2 4,3 8,1 8,2 8,3 "

sed 's/epochs = 2/epochs = args.ep or 2/' "$out/blobs.lua" >"$out/ep.lua"
"$TRAINC" sweep "$out/ep.lua" --set ep=1,3 --lr 0.1 --seeds 1 --list >"$out/ep.csv"
check "without --epochs each setting trains its spec's epochs (a --set may change them)" \
    test "$(cut -d, -f5 "$out/ep.csv" | tr '\n' ' ')" = "epochs 1 3 "
"$TRAINC" sweep "$out/ep.lua" --set ep=1,3 --lr 0.1 --seeds 1 --epochs 5 --list >"$out/ep5.csv"
check "... --epochs N, all of them N" test "$(cut -d, -f5 "$out/ep5.csv" | tr '\n' ' ')" = "epochs 5 5 "

# --- a sweep: 6 lrs from 1e-3 to 1e7 (the last three diverge), 2 widths, 2 seeds
sweep --lr 1e-3:1e7:log:6 --set hidden=4,8 --seeds 2 --epochs 2 -o "$out/s1" >"$out/s1.log" 2>&1
rc=$?
check "a sweep with diverging lrs ends well (exit $rc)" test $rc -eq 0
check "... one build per --set value, none per lr or seed ($(grep -c building "$out/s1.log") builds)" \
    test "$(grep -c '^trainc: building' "$out/s1.log")" -eq 2
$PY - "$out/s1" >"$out/s1.check" 2>&1 <<'PY'
import csv, math, os, sys
d = sys.argv[1]
rows = list(csv.reader(open(d + "/results.csv")))
head, body = rows[0], rows[1:]
want = ["run", "hidden", "lr", "seed", "epochs", "final_loss", "best_valid_loss", "best_valid_loss_epoch",
        "best_valid_accuracy", "best_valid_accuracy_epoch", "test_loss", "test_accuracy", "seconds", "status"]
assert head == want, head
assert len(body) == 24 and all(len(r) == len(head) for r in body), len(body)
R = [dict(zip(head, r)) for r in body]
for r in R:
    for k in want[2:-1]:
        float(r[k])
    assert r["status"] in ("ok", "diverged", "failed"), r
# each row's figures are its run's own: its metrics file and its last line
for r in R:
    if r["status"] != "ok":
        continue
    m = list(csv.DictReader(open("%s/runs/%s/metrics.csv" % (d, r["run"]))))
    assert abs(float(m[-1]["loss"]) - float(r["final_loss"])) <= 1e-6 * abs(float(r["final_loss"])), r
    va = [float(x["valid_accuracy"]) for x in m]
    assert abs(max(va) - float(r["best_valid_accuracy"])) < 1e-6, r
    assert int(r["best_valid_accuracy_epoch"]) == int(m[va.index(max(va))]["epoch"]), r
    vl = [float(x["valid_loss"]) for x in m]
    assert int(r["best_valid_loss_epoch"]) == int(m[vl.index(min(vl))]["epoch"]), r
    last = [l for l in open("%s/runs/%s/train.log" % (d, r["run"])) if l.startswith("test loss")][-1].split()
    assert abs(float(last[4]) - float(r["test_accuracy"])) < 1e-9, (last, r)
print("parsed", len(R), "rows")
PY
check "results.csv parses (csv): the documented columns, 24 rows, numbers; figures from each run's files ($(tail -1 "$out/s1.check"))" \
    grep -q '^parsed 24 rows' "$out/s1.check"
status_of() { $PY -c "import csv, sys; print(' '.join(sorted(set(r['status'] for r in csv.DictReader(open('$out/s1/results.csv')) if float(r['lr']) $1))))"; }
check "lr 1e3 and above: recorded as diverged ($(status_of '>= 1e3'))" test "$(status_of '>= 1e3')" = diverged
check "... the lower lrs: ok ($(status_of '< 1e3'))" test "$(status_of '< 1e3')" = ok
check "... the divergence guard's message is in the run's log" grep -q "training diverged at" "$out/s1/runs/hidden=4_lr1e+07_seed1_ep2/train.log"
best_py=$($PY - "$out/s1/results.csv" <<'PY'
import csv, sys
from collections import defaultdict
acc = defaultdict(list)
for r in csv.DictReader(open(sys.argv[1])):
    if r["status"] == "ok":
        acc[(float(r["lr"]), r["hidden"])].append(float(r["best_valid_accuracy"]))
(lr, h), v = max(acc.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
print("best: lr %g hidden=%s: best validation accuracy %.6g" % (lr, h, sum(v) / len(v)))
PY
)
check "the best setting is results.csv's best mean validation accuracy ($best_py)" grep -qF "$best_py +-" "$out/s1.log"
best_lr=$(sed -n 's/^best: lr \([^ ]*\) .*/\1/p' "$out/s1.log")
check "... an lr that trains: below the first that diverges, its seeds all ok, accuracy well above chance (1/3)" \
    $PY -c "
import csv
rows = list(csv.DictReader(open('$out/s1/results.csv')))
first_bad = min(float(r['lr']) for r in rows if r['status'] == 'diverged')
mine = [r for r in rows if float(r['lr']) == $best_lr]
assert $best_lr < first_bad and all(r['status'] == 'ok' for r in mine)
assert sum(float(r['best_valid_accuracy']) for r in mine) / len(mine) > 0.55"

# --- run again: every run is skipped, nothing is built, results.csv is the same
cp "$out/s1/results.csv" "$out/s1_first.csv"
sweep --lr 1e-3:1e7:log:6 --set hidden=4,8 --seeds 2 --epochs 2 -o "$out/s1" >"$out/s1_again.log" 2>&1
check "a rerun skips all 24 finished runs ($(grep -c skipped "$out/s1_again.log"))" test "$(grep -c '(skipped)' "$out/s1_again.log")" -eq 24
check "... builds nothing" sh -c "! grep -q building '$out/s1_again.log'"
check "... and writes the same results.csv" cmp -s "$out/s1/results.csv" "$out/s1_first.csv"
rm "$out/s1/runs/hidden=8_lr0.1_seed2_ep2/result.csv"
sweep --lr 1e-3:1e7:log:6 --set hidden=4,8 --seeds 2 --epochs 2 -o "$out/s1" >"$out/s1_one.log" 2>&1
check "negative: a run whose marker is gone runs again, alone (23 skipped)" \
    sh -c "test \$(grep -c '(skipped)' '$out/s1_one.log') -eq 23 && grep -q 'lr 0.1 .*seed 2 hidden=8: ok' '$out/s1_one.log'"

# --- --jobs 2: the same figures (but the seconds)
sweep --lr 1e-3:1e7:log:6 --set hidden=4 --seeds 2 --epochs 2 --jobs 2 -o "$out/s2" >"$out/s2.log" 2>&1
same_figures() {
    $PY - "$1" "$2" <<'PY'
import csv, sys
a = {r["run"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = list(csv.DictReader(open(sys.argv[2])))
ok = len(b) == 12 and all({k: v for k, v in r.items() if k != "seconds"} ==
                          {k: v for k, v in a[r["run"]].items() if k != "seconds"} for r in b)
sys.exit(not ok)
PY
}
check "--jobs 2 gives --jobs 1's results.csv figures" same_figures "$out/s1/results.csv" "$out/s2/results.csv"

# --- --refine: 4 lrs between the best and its neighbours, for the best width
sweep --lr 1e-3:1e7:log:6 --set hidden=4,8 --seeds 2 --epochs 2 --refine -o "$out/s1" >"$out/s1_refine.log" 2>&1
refined=$($PY - "$out/s1/results.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
coarse = sorted({float(r["lr"]) for r in rows[:24]})
fine = [float(r["lr"]) for r in rows[24::2]]
# the best coarse setting by mean best validation accuracy
from collections import defaultdict
acc = defaultdict(list)
for r in rows[:24]:
    if r["status"] == "ok":
        acc[(float(r["lr"]), r["hidden"])].append(float(r["best_valid_accuracy"]))
(b, h), _ = max(acc.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
i = coarse.index(b)
lo, hi = coarse[i - 1], coarse[i + 1]
want = [b * (lo / b) ** (2 / 3), b * (lo / b) ** (1 / 3), b * (hi / b) ** (1 / 3), b * (hi / b) ** (2 / 3)]
ok = len(rows) == 32 and all(abs(x - y) < 1e-9 * y for x, y in zip(fine, want)) and all(r["hidden"] == h for r in rows[24:])
print("ok" if ok else "bad", fine, want)
PY
)
check "--refine adds 4 lrs x 2 seeds a third and two thirds of the way to the best lr's neighbours (log scale) ($refined)" \
    test "${refined%% *}" = ok
check "... and names the best after both rounds" grep -q '^best: lr ' "$out/s1_refine.log"

# --- sweep.svg: well-formed, and Chromium draws both widths' series
svg=$out/s1/sweep.svg
check "sweep.svg is well-formed XML" $PY -c "import xml.etree.ElementTree as ET; ET.parse('$svg')"
check "... the lr on a log axis, the score named" sh -c "grep -q 'lr (log scale)' '$svg' && grep -q 'best validation accuracy (mean over seeds' '$svg'"
check "... a red cross on the lr axis at each of the 3 lrs where a run diverged" \
    test "$(grep -c 'stroke="#d62728"' "$svg")" -eq 3
check "... a legend entry per --set value" sh -c "grep -q '>hidden=4<' '$svg' && grep -q '>hidden=8<' '$svg'"
rm -f "$out/sweep.png"
if command -v chromium >/dev/null; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$out/chromium-profile" --window-size=920,620 \
        --screenshot="$out/sweep.png" "file://$svg" >>"$out/chromium.log" 2>&1
fi
counts=$($PY tests/png_check.py "$out/sweep.png" blue=1f5fbf orange=e8710a 2>&1 | tr '\n' ' ')
blue=$(echo "$counts" | sed -n 's/.*blue \([0-9]*\).*/\1/p')
orange=$(echo "$counts" | sed -n 's/.*orange \([0-9]*\).*/\1/p')
check "headless Chromium renders sweep.svg: hidden=4 in blue ($blue pixels), hidden=8 in orange ($orange)" \
    sh -c "test '${blue:-0}' -gt 300 && test '${orange:-0}' -gt 300"

check "trainc sweep --help says the grid forms" sh -c "'$TRAINC' sweep --help | grep -q 'LO:HI:random:K\[:SEED\]'"
check "trainc plot --help says the overlay options" sh -c "'$TRAINC' plot --help | grep -q -- '--x epoch|step|seconds'"
