# The trainer as a tool one leaves running: the divergence guard, early
# stopping and plateau schedules across stop + resume, the progress line on a
# terminal (and plain lines elsewhere), eval's confusion matrix, stratified
# batches and image augmentation.
. tests/lib.sh
out=$TRAINC_TMP/workflow
mkdir -p "$out"
command -v script >/dev/null || echo "not ok - script (util-linux) is installed: the terminal tests need it"

same() { # same DIR1 DIR2: every exported array identical (and there are some)
    ls "$1"/*.npy >/dev/null 2>&1 || return 1
    for f in "$1"/*.npy; do cmp -s "$f" "$2/$(basename "$f")" || return 1; done
}

# --- divergence guard: a loss that is no number stops training with the
# epoch, the step and a lower lr; the weights file and the last good
# checkpoint are left as they were
cat >"$out/div.lua" <<'LUA'
data = linreg { n = 200, d = 5, noise = 0.1 }
local x = input { 5 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.01 }
train { batch = 20, epochs = 20 }
LUA
gen_build "$out/div.lua" "$out/div" >/dev/null 2>&1
div=$out/div
(cd "$div" && ./div train --quiet --weights good.w >/dev/null && cp good.w before.w)
(cd "$div" && ./div train --lr 3 --checkpoint d.ck --every-steps 5 --weights good.w >d.out 2>d.err)
rc=$?
check "a diverging run exits non-zero (status $rc)" test "$rc" -ne 0
check "its message names the epoch and the step and suggests --lr 0.3" \
    grep -q 'training diverged at epoch [0-9]*, step [0-9]*: the loss is \(inf\|nan\|-nan\).*try a lower learning rate, e.g. --lr 0.3' "$div/d.err"
check "the weights file of the earlier run is untouched" cmp -s "$div/before.w" "$div/good.w"
ckstep=$(cd "$div" && ./div train --resume d.ck --steps 0 --weights fromck.w 2>&1 | sed -n 's/.*resuming from d.ck at step \([0-9]*\).*/\1/p')
divstep=$(sed -n 's/.*diverged at epoch [0-9]*, step \([0-9]*\).*/\1/p' "$div/d.err")
check "the last checkpoint (step $ckstep) is one written before the step that diverged ($divstep)" \
    sh -c "test -n '$ckstep' && test '$ckstep' -lt '$divstep' && test \$(( $divstep - $ckstep )) -le 5"
(cd "$div" && ./div export fromck --weights fromck.w --quiet)
check "the kept checkpoint loads and holds finite weights" \
    /usr/bin/python3 -c "import numpy as n, glob; a = [n.load(f) for f in glob.glob('$div/fromck/*.npy')]; assert a and all(n.isfinite(x).all() for x in a)"

# a finite loss whose gradient is not: d sqrt(|w|) / dw at w = 0
cat >"$out/gdiv.lua" <<'LUA'
local w = param { 1, init = zeros(), name = "w" }
minimize(sum(sqrt(abs(w))))
optimizer = sgd { lr = 0.1 }
train { epochs = 3 }
LUA
gen_build "$out/gdiv.lua" "$out/gdiv" >/dev/null 2>&1
(cd "$out/gdiv" && ./gdiv train --weights g.w >g.out 2>g.err)
rc=$?
check "a non-finite gradient norm stops training too (status $rc)" \
    sh -c "test $rc -ne 0 && grep -q 'diverged at epoch 1, step 1: the gradient norm is' '$out/gdiv/g.err' && test ! -e '$out/gdiv/g.w'"
(cd "$out/gdiv" && ./gdiv train --weights g.w --no-guard >g2.out 2>g2.err)
rc=$?
check "--no-guard trains on through it and saves what it has (status $rc)" \
    sh -c "test $rc -eq 0 && test -s '$out/gdiv/g.w' && ! grep -q diverged '$out/gdiv/g2.err'"

# --- early stopping across stop + resume: the same epochs, the same best
# weights, the same end as a run left alone
cp tests/data/early_stop.lua "$out/es.lua"
gen_build "$out/es.lua" "$out/es" >/dev/null 2>&1
es=$out/es
(cd "$es" && ./es train --threads 1 --weights ref.w >ref.out && ./es export ref --weights ref.w --quiet)
best=$(sed -n 's/.*best validation loss [0-9.e-]* at epoch \([0-9]*\).*/\1/p' "$es/ref.out")
last=$(sed -n 's/^early stopping after epoch \([0-9]*\).*/\1/p' "$es/ref.out")
check "the uninterrupted run stops early (best epoch $best, stopped after $last)" test -n "$best" -a -n "$last"
# stopped one epoch after the best (the best weights live only in the checkpoint) ...
(cd "$es" && ./es train --threads 1 --epochs $((best + 1)) --checkpoint e.ck --weights e.w >/dev/null &&
    ./es train --threads 1 --resume e.ck --weights e.w >e.out && ./es export e --weights e.w --quiet)
check "early stopping, stopped at an epoch boundary after the best and resumed: identical weights" same "$es/ref" "$es/e"
check "... and the same early-stopping line" test "$(grep '^early stopping' "$es/ref.out")" = "$(grep '^early stopping' "$es/e.out")"
# ... and within the epoch after that (15 steps per epoch)
(cd "$es" && ./es train --threads 1 --steps $(((best + 1) * 15 + 7)) --checkpoint m.ck --weights m.w >/dev/null &&
    ./es train --threads 1 --resume m.ck --weights m.w >m.out && ./es export m --weights m.w --quiet)
check "early stopping, stopped within an epoch and resumed: identical weights" same "$es/ref" "$es/m"
check "... stopping after the same epoch ($last)" grep -q "^early stopping after epoch $last:" "$es/m.out"
# a checkpoint written when the run stopped early: resuming trains no further
(cd "$es" && ./es train --threads 1 --checkpoint f.ck --weights f1.w >/dev/null &&
    ./es train --threads 1 --resume f.ck --weights f2.w >f.out)
check "resuming a run that stopped early trains no further (same weights)" \
    sh -c "cmp -s '$es/f1.w' '$es/f2.w' && cmp -s '$es/ref.w' '$es/f1.w' && grep -q 'stopped early after epoch $last' '$es/f.out'"

# a checkpoint is written where a run ends, whatever --every says
(cd "$es" && ./es train --threads 1 --checkpoint g.ck --every 1000 --weights g1.w >/dev/null &&
    ./es train --threads 1 --resume g.ck --weights g2.w >g.out)
check "early stopping writes a checkpoint when it stops (--every 1000)" \
    sh -c "cmp -s '$es/ref.w' '$es/g2.w' && grep -q 'stopped early after epoch $last' '$es/g.out'"
(cd "$es" && ./es train --threads 1 --epochs 2 --checkpoint h.ck --every 5 --weights h.w >/dev/null &&
    ./es train --threads 1 --resume h.ck --weights h.w >/dev/null && ./es export h --weights h.w --quiet)
check "a run of 2 epochs with --every 5 still leaves a checkpoint to resume from (identical weights)" same "$es/ref" "$es/h"

# --- a plateau schedule stopped within an epoch by --steps steps its
# plateau once for that epoch, not twice (once on the partial epoch)
cat >"$out/plat.lua" <<'LUA'
data = spirals { n = 400, noise = 0.03 }
local x = input { 2 }
local y = labels { classes = 2 }
local h = tanh(linear(x, 16))
minimize(cross_entropy(linear(h, 2), y))
optimizer = sgd { lr = 0.5, momentum = 0.9 }
schedule = reduce_lr_on_plateau { monitor = "loss", factor = 0.5, patience = 0, threshold = 0.01 }
train { batch = 20, epochs = 12 }
LUA
gen_build "$out/plat.lua" "$out/plat" >/dev/null 2>&1
pl=$out/plat
(cd "$pl" && ./plat train --threads 1 --weights ref.w >ref.out && ./plat export ref --weights ref.w --quiet)
ok=1
for s in 3 47 101 155; do # 20 steps per epoch
    (cd "$pl" && rm -rf s && ./plat train --threads 1 --steps $s --checkpoint s.ck --weights s.w >/dev/null &&
        ./plat train --threads 1 --resume s.ck --weights s.w >s.out && ./plat export s --weights s.w --quiet)
    same "$pl/ref" "$pl/s" || { ok=0; echo "# plateau: stopped at step $s, resumed: weights differ"; }
done
check "plateau schedule, stopped within an epoch at 4 places and resumed: identical weights" test $ok -eq 1
check "... and the lr was cut in that run" sh -c "awk '/^epoch/ { print \$8 }' '$pl/ref.out' | sort -u | test \$(wc -l) -gt 1"

# --- the progress line: drawn with \r on a terminal (script gives a pty),
# never in a pipe or a file, never with --quiet
gen_build models/spirals.lua "$out/prog" >/dev/null 2>&1
pg=$out/prog
(cd "$pg" && ./spirals train --epochs 3 --threads 1 >plain.out)
(cd "$pg" && script -qec "./spirals train --epochs 3 --threads 1" /dev/null >tty.out)
(cd "$pg" && script -qec "./spirals train --epochs 3 --threads 1 --quiet" /dev/null >quiet.out)
check "not a terminal: plain lines, no \\r and no escape codes" sh -c "! grep -q \"\$(printf '[\\r\\033]')\" '$pg/plain.out'"
check "not a terminal: the lines as before (header, one per epoch, saved, test)" /usr/bin/python3 - "$pg/plain.out" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
pats = [r"spirals: 1000 training rows, batch 20, 1218 parameters, sgd, lr 0\.2",
        *[r"epoch +%d/3  loss [0-9.e+-]+  acc [0-9.]+  lr 0\.2  [0-9]+ rows/s  [0-9.]+s" % e for e in (1, 2, 3)],
        r"saved spirals\.weights \(150 steps, [0-9.]+s\)", r"test loss [0-9.e+-]+  accuracy [0-9.]+", ""]
sys.exit(not (len(lines) == len(pats) and all(re.fullmatch(p, l) for p, l in zip(pats, lines))))
PY
check "on a terminal: a progress line redrawn with \\r (epoch, bar, loss so far, rows/s, ETA)" \
    grep -qa "$(printf '\r')epoch 1/3 \[[#.]*\] *[0-9]*%  loss [0-9.e+-]*  [0-9]* rows/s  ETA [0-9:]*" "$pg/tty.out"
check "on a terminal: the epoch lines are the plain ones (the progress line erased before each)" /usr/bin/python3 - "$pg/tty.out" "$pg/plain.out" <<'PY'
import re, sys
def epochs(path, tty):
    t = open(path, newline="").read()
    if tty:  # drop each redrawn progress line and its erasure, and the pty's \r\n
        t = re.sub(r"\r[^\r\n]*\x1b\[K", "", t).replace("\r\n", "\n")
    # the same figures, but for the speed and the time
    return [re.sub(r"  [0-9]+ rows/s  [0-9.]+s$", "", l) for l in t.split("\n") if l.startswith("epoch")]
a, b = epochs(sys.argv[1], True), epochs(sys.argv[2], False)
sys.exit(not (len(a) == 3 and a == b))
PY
check "--quiet on a terminal: no progress line" sh -c "! grep -qa 'ETA' '$pg/quiet.out' && grep -qa '^test loss' '$pg/quiet.out'"

# --- eval: loss, accuracy and the confusion matrix of known predictions.
# logits = (a, b, 0.5) from the weights below, so the class predicted is
# the largest of a, b and 0.5.
mkdir -p "$out/cm/init"
printf 'a,b,y\n1,0,0\n0,1,1\n0,0,2\n' >"$out/cm/train.csv"
cat >"$out/cm/test.csv" <<'CSV'
a,b,y
1,0,0
1,0,1
0,1,1
0,1,1
0,0,2
0,0,0
2,0,0
0,2,2
0,0,2
0,3,1
CSV
cat >"$out/cm/cm.lua" <<'LUA'
data = csv { train = "train.csv", test = "test.csv", label = "y" }
local x = input { 2 }
local y = labels { classes = 3 }
minimize(cross_entropy(linear(x, 3, { name = "fc" }), y))
optimizer = sgd { lr = 0.1 }
train { batch = 3, epochs = 1 }
LUA
/usr/bin/python3 -c "
import numpy as n
n.save('$out/cm/init/fc.weight.npy', n.array([[1, 0], [0, 1], [0, 0]], n.float32))
n.save('$out/cm/init/fc.bias.npy', n.array([0, 0, 0.5], n.float32))"
gen_build "$out/cm/cm.lua" "$out/cm/gen" >/dev/null 2>&1
(cd "$out/cm/gen" && ./cm train --init ../init --epochs 0 --quiet >/dev/null && ./cm eval >eval.out)
cat >"$out/cm/want.txt" <<'TXT'

confusion matrix (rows: true class, columns: predicted class)
            0      1      2
true 0      2      0      1
true 1      1      3      0
true 2      0      1      2

class  precision    recall   support
0         0.6667    0.6667         3
1         0.7500    0.7500         4
2         0.6667    0.6667         3
TXT
check "eval prints the confusion matrix and per-class precision and recall" \
    sh -c "tail -n +2 '$out/cm/gen/eval.out' | diff - '$out/cm/want.txt'"
check "eval's loss and accuracy are those of the known predictions" /usr/bin/python3 - "$out/cm/gen/eval.out" <<'PY'
import math, sys
rows = [(1,0,0),(1,0,1),(0,1,1),(0,1,1),(0,0,2),(0,0,0),(2,0,0),(0,2,2),(0,0,2),(0,3,1)]
loss = 0
for a, b, y in rows:
    z = [a, b, 0.5]
    loss += math.log(sum(math.exp(v) for v in z)) - z[y]
first = open(sys.argv[1]).readline().split()
print("# eval says", first, "want loss", loss / len(rows), "accuracy 0.7")
sys.exit(not (first[0] == "test" and abs(float(first[2]) - loss / len(rows)) < 1e-5 and first[4] == "0.7000"))
PY

# --- stratified batches: each batch's class counts, read off the loss of
# every step. With zero weights, biases (0, 1, 21) and lr 0, a batch of 20
# has loss lse(0, 1, 21) - (n1 + 21 n2) / 20: n1 and n2 come back from it.
mkdir -p "$out/st/init"
/usr/bin/python3 - "$out/st" <<'PY'
import numpy as n, sys
d = sys.argv[1]
r = n.random.default_rng(5)
y = n.array([0] * 120 + [1] * 60 + [2] * 20)  # 60 / 30 / 10 %, the minority clumped at the end
with open(d + "/s.csv", "w") as f:
    f.write("a,b,y\n")
    for c in y:
        f.write("%.4f,%.4f,%d\n" % (r.normal(), r.normal() + c, c))
n.save(d + "/init/fc.weight.npy", n.zeros((3, 2), n.float32))
n.save(d + "/init/fc.bias.npy", n.array([0, 1, 21], n.float32))
PY
cat >"$out/st/st.lua" <<'LUA'
data = csv { train = "s.csv", label = "y" }
local x = input { 2 }
local y = labels { classes = 3 }
minimize(cross_entropy(linear(x, 3, { name = "fc" }), y))
optimizer = sgd { lr = 0.1, momentum = 0.9 }
train { batch = 20, epochs = 3, stratify = args.strat or false }
LUA
gen_build "$out/st/st.lua" "$out/st/on" --set strat=true --dtype double >"$out/st/on.log" 2>&1
check "a trainer with stratified batches builds warning-free (double)" sh -c "test -x '$out/st/on/st' && ! grep -q warning '$out/st/on.log'"
gen_build "$out/st/st.lua" "$out/st/off" >/dev/null 2>&1
(cd "$out/st/on" && ./st train --init ../init --lr 0 --trace t.csv --quiet >/dev/null)
(cd "$out/st/off" && ./st train --init ../init --lr 0 --trace t.csv --quiet >/dev/null)
counts() { # counts TRACE: "n0/n1/n2" per step
    /usr/bin/python3 - "$1" <<'PY'
import csv, math, sys
lse = math.log(1 + math.exp(1) + math.exp(21))
for row in list(csv.DictReader(open(sys.argv[1])))[1:]:
    s = round((lse - float(row["loss"])) * 20)
    print("%d/%d/%d" % (20 - s % 21 - s // 21, s % 21, s // 21))
PY
}
counts "$out/st/on/t.csv" >"$out/st/on.counts"
counts "$out/st/off/t.csv" >"$out/st/off.counts"
inprop() { awk -F/ '{ if ($1 < 11 || $1 > 13 || $2 < 5 || $2 > 7 || $3 < 1 || $3 > 3) bad = 1 } END { exit bad || NR != 30 }' "$1"; }
check "stratify: every batch of 20 holds the classes 12/6/2, within one row ($(sort "$out/st/on.counts" | uniq -c | tr -s ' ' | tr '\n' ','))" inprop "$out/st/on.counts"
fails() { ! "$@"; }
check "without stratify some batches miss the proportions (the check can fail: $(sort -u "$out/st/off.counts" | wc -l) kinds of batch)" fails inprop "$out/st/off.counts"
st=$out/st/on
(cd "$st" && ./st train --threads 1 --weights r.w --quiet >/dev/null && ./st export r --weights r.w --quiet &&
    ./st train --threads 1 --weights r2.w --quiet >/dev/null && cmp -s r.w r2.w)
check "stratify is deterministic with the seed" test $? -eq 0
(cd "$st" && ./st train --threads 1 --steps 13 --checkpoint c.ck --weights c.w --quiet >/dev/null &&
    ./st train --threads 1 --resume c.ck --weights c.w --quiet >/dev/null && ./st export c --weights c.w --quiet)
check "stratify: stopped within an epoch and resumed, identical weights" same "$st/r" "$st/c"

# --- augmentation of training images: tiny 6x6 IDX images
mkdir -p "$out/au"
/usr/bin/python3 - "$out/au" <<'PY'
import numpy as n, struct, sys
r = n.random.default_rng(0)
def idx(path, a):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, a.ndim) + b"".join(struct.pack(">I", d) for d in a.shape))
        f.write(a.astype(n.uint8).tobytes())
x, y = r.integers(0, 256, size=(60, 6, 6)), r.integers(0, 3, size=60)
idx(sys.argv[1] + "/tr-img", x); idx(sys.argv[1] + "/tr-lab", y)
idx(sys.argv[1] + "/te-img", x[:20]); idx(sys.argv[1] + "/te-lab", y[:20])
PY
cat >"$out/au/au.lua" <<'LUA'
data = idx { train = { images = "tr-img", labels = "tr-lab" }, test = { images = "te-img", labels = "te-lab" },
             scale = 1 / 255, valid = 0.25 }
local x = args.chw and input { 1, 6, 6 } or input { 36 }
local y = labels { classes = 3 }
minimize(cross_entropy(linear(flatten(x), 3, { name = "fc" }), y))
optimizer = sgd { lr = 0.1 }
train { batch = 9, epochs = 4, augment = args.aug and { crop = 2, flip = true } or nil }
LUA
au=$out/au
gen_build "$au/au.lua" "$au/on" --set aug=true >"$au/on.log" 2>&1
check "a trainer that augments builds warning-free" sh -c "test -x '$au/on/au' && ! grep -q warning '$au/on.log'"
gen_build "$au/au.lua" "$au/chw" --set aug=true --set chw=true >/dev/null 2>&1
gen_build "$au/au.lua" "$au/off" >/dev/null 2>&1
check "augment: the image shape comes from square IDX images (1 x 6 x 6)" \
    sh -c "grep -q 'MODEL_IMAGE_C 1' '$au/on/model.h' && grep -q 'MODEL_IMAGE_H 6' '$au/on/model.h' && grep -q 'MODEL_IMAGE_W 6' '$au/on/model.h'"
check "augment: ... or from input { C, H, W }" sh -c "grep -q 'MODEL_IMAGE_H 6' '$au/chw/model.h' && grep -q 'MODEL_AUG_CROP 2' '$au/chw/model.h'"
# lr 0: the same weights throughout, so only augmentation can change a figure
(cd "$au/on" && ./au train --lr 0 --threads 1 >lr0.out)
(cd "$au/off" && ./au train --lr 0 --threads 1 >lr0.out)
check "augment: the training batches change (their loss differs at lr 0)" \
    sh -c "test \"\$(awk '/^epoch/ { print \$4 }' '$au/on/lr0.out')\" != \"\$(awk '/^epoch/ { print \$4 }' '$au/off/lr0.out')\""
check "augment: validation and test rows are never augmented (same figures at lr 0)" \
    sh -c "test \"\$(grep -o 'valid loss [0-9.e+-]* acc [0-9.]*' '$au/on/lr0.out')\" = \"\$(grep -o 'valid loss [0-9.e+-]* acc [0-9.]*' '$au/off/lr0.out')\" &&
           test \"\$(grep '^test' '$au/on/lr0.out')\" = \"\$(grep '^test' '$au/off/lr0.out')\" && grep -q 'valid loss' '$au/on/lr0.out'"
(cd "$au/on" && ./au train --threads 1 --weights r.w --quiet >/dev/null && ./au export r --weights r.w --quiet &&
    ./au train --threads 1 --weights r2.w --quiet >/dev/null)
(cd "$au/off" && ./au train --threads 1 --weights r.w --quiet >/dev/null)
check "augment is deterministic with the seed" cmp -s "$au/on/r.w" "$au/on/r2.w"
check "augmented training ends elsewhere than plain training" sh -c "! cmp -s '$au/on/r.w' '$au/off/r.w'"
(cd "$au/on" && ./au train --threads 1 --steps 7 --checkpoint c.ck --weights c.w --quiet >/dev/null &&
    ./au train --threads 1 --resume c.ck --weights c.w --quiet >/dev/null && ./au export c --weights c.w --quiet)
check "augment: stopped within an epoch and resumed, identical weights" same "$au/on/r" "$au/on/c"

# --- bad train { } options: a clear message naming the spec and line
bad() { # bad NAME 'train { ... }' PATTERN: trainc refuses with status 2 and the message
    local name=$1 train=$2 pattern=$3
    printf 'data = %s\nlocal x = input { %s }\nlocal y = labels { %s }\nminimize(%s)\noptimizer = sgd { lr = 0.1 }\n%s\n' \
        "${DATA:-spirals { n = 40 \}}" "${INPUT:-2}" "${LABELS:-classes = 2}" "${LOSS:-cross_entropy(linear(x, 2), y)}" "$train" >"$out/bad.lua"
    "$TRAINC" gen -q "$out/bad.lua" -o "$out/bad" >/dev/null 2>"$out/bad.err"
    local rc=$?
    check "$name (status $rc: $(head -c 160 "$out/bad.err"))" sh -c "test $rc -eq 2 && grep -q -- \"$pattern\" '$out/bad.err'"
}
bad "augment without an image shape is refused" 'train { augment = { flip = true } }' "bad.lua:6: train: augment needs the image shape.*input { C, H, W }"
bad "augment = 3 is refused" 'train { augment = 3 }' "bad.lua:6: .*augment must be a table"
bad "augment { crop = -1 } is refused" 'train { augment = { crop = -1 } }' "bad.lua:6: augment: crop = -1; it must be a whole number from 0 to 4096"
bad "augment { zoom = 2 } is refused" 'train { augment = { zoom = 2 } }' "bad.lua:6: .*zoom"
DATA="idx { train = { images = '$au/tr-img', labels = '$au/tr-lab' } }" INPUT=36 LABELS="classes = 3" LOSS="cross_entropy(linear(x, 3), y)" \
    bad "a crop as large as the image is refused" 'train { augment = { crop = 6 } }' "bad.lua:6: augment: crop = 6 is not smaller than the 6 x 6 images"
DATA="linreg { n = 40, d = 2 }" LABELS=1 LOSS="mse(linear(x, 1), y)" \
    bad "stratify without class labels is refused" 'train { stratify = true }' "bad.lua:6: train: stratify needs class labels"
bad "stratify = \"yes\" is refused" 'train { stratify = "yes" }' "bad.lua:6: .*stratify.*true or false"

# --- stratified order and augmentation allocate nothing in the training
# loop: the heap use of 5 and 40 steps is the same (valgrind counts; a
# dynamically linked build of the same folder)
sed 's/augment = args.aug and { crop = 2, flip = true } or nil/stratify = true, augment = { crop = 2, flip = true }/' "$au/au.lua" >"$au/alloc.lua"
"$TRAINC" gen -q "$au/alloc.lua" -o "$au/dyn"
valgrind_build "$au/dyn" dyn
check "the allocation test's build stratifies and augments" sh -c "grep -q 'MODEL_STRATIFY 1' '$au/dyn/model.h' && grep -q 'MODEL_AUG_CROP 2' '$au/dyn/model.h'"
heap() { heap_use "$au/dyn" dyn train --steps "$1" --epochs 10 --threads 1 --quiet --weights w; }
h5=$(heap 5)
h40=$(heap 40)
check "stratify + augment: no allocation in the training loop (5 steps: $h5; 40 steps: $h40)" \
    same_heap "$h5" "$h40"

# --- metrics: the epoch file has the mean gradient norm of the epoch's
# steps; --step-metrics has a row per step whose norms average to it
(cd "$div" && ./div train --epochs 2 --quiet --metrics m.csv --step-metrics s.csv >/dev/null)
check "--metrics has a grad_norm column; --step-metrics a row per step (2 epochs x 10 steps)" \
    sh -c "head -1 '$div/m.csv' | grep -q ',lr,grad_norm,seconds$' && test \$(wc -l <'$div/s.csv') -eq 21 &&
           head -1 '$div/s.csv' | grep -qx 'step,epoch,loss,grad_norm,lr,seconds'"
check "each epoch's grad_norm is the mean of its steps' norms, and they are positive" /usr/bin/python3 -c "
import csv
e = list(csv.DictReader(open('$div/m.csv'))); s = list(csv.DictReader(open('$div/s.csv')))
for r in e:
    n = [float(t['grad_norm']) for t in s if t['epoch'] == r['epoch']]
    assert n and all(v > 0 for v in n), n
    assert abs(sum(n) / len(n) - float(r['grad_norm'])) <= 1e-6 * float(r['grad_norm']), (r, n)
"
check "a regression's metrics have no accuracy column of zeros (nan)" /usr/bin/python3 -c "
import csv, math
e = list(csv.DictReader(open('$div/m.csv')))
assert e and all(math.isnan(float(r['accuracy'])) for r in e), e
"

# --- metrics across stop + resume: the resumed run continues the files;
# rows written after the checkpoint (here: the stopped run's partial epoch
# 3 and two made-up rows) are dropped and written again, so the files end
# as an uninterrupted run's (but for the seconds)
(cd "$div" && ./div train --epochs 4 --threads 1 --quiet --metrics ref.csv --step-metrics refs.csv >/dev/null &&
    ./div train --epochs 4 --threads 1 --quiet --steps 25 --checkpoint r.ck --every-steps 10 \
        --metrics r.csv --step-metrics rs.csv >/dev/null &&
    echo "9,99,1,nan,nan,nan,0.01,1,0.5" >>r.csv && echo "99,9,1,1,0.01,0.5" >>rs.csv &&
    ./div train --resume r.ck --epochs 4 --threads 1 --quiet --metrics r.csv --step-metrics rs.csv >/dev/null)
check "a resumed run continues --metrics and --step-metrics: the rows of an uninterrupted run" /usr/bin/python3 -c "
import csv
def rows(f): return [r[:-1] for r in csv.reader(open('$div/' + f))]
def secs(f): return [float(r[-1]) for r in list(csv.reader(open('$div/' + f)))[1:]]
for a, b in (('ref.csv', 'r.csv'), ('refs.csv', 'rs.csv')):
    assert rows(a) == rows(b), (a, rows(a), rows(b))
    assert secs(b) == sorted(secs(b)), (b, secs(b))
assert len(rows('r.csv')) == 5 and len(rows('rs.csv')) == 41
"

# --- --lr on --resume: the checkpoint's lr unless the command line names
# another, which then applies (and says the run is no longer the same)
(cd "$div" && ./div train --resume r.ck --epochs 4 --threads 1 >lr_same.out &&
    ./div train --resume r.ck --epochs 4 --threads 1 --lr 0.001 >lr_new.out)
check "--resume without --lr goes on with the checkpoint's lr, silently" \
    sh -c "! grep -q replaces '$div/lr_same.out' && ! grep -q 'lr 0.001' '$div/lr_same.out'"
check "--resume --lr X says it replaces the checkpoint's lr and trains with X" \
    sh -c "grep -q \"^div: --lr 0.001 replaces the checkpoint's lr\" '$div/lr_new.out' &&
        grep -q '^div: .*sgd, lr 0.001$' '$div/lr_new.out' && grep -q '^epoch .*lr 0.001 ' '$div/lr_new.out'"

# --- the seed is in the checkpoint: a run with dropout started with --seed
# resumes bit for bit without it; another --seed replaces it, and says so
cat >"$out/drop.lua" <<'LUA'
data = linreg { n = 200, d = 5, noise = 0.1 }
local x = input { 5 }
local y = labels { 1 }
minimize(mse(linear(dropout(relu(linear(x, 16)), 0.3), 1), y))
optimizer = sgd { lr = 0.01 }
train { batch = 20, epochs = 3 }
LUA
gen_build "$out/drop.lua" "$out/drop" >/dev/null 2>&1
drop=$out/drop
(cd "$drop" && ./drop train --threads 1 --seed 7 --weights ref.w --quiet &&
    ./drop export ref --weights ref.w --quiet &&
    ./drop train --threads 1 --seed 7 --steps 13 --checkpoint s.ck --weights s.w --quiet &&
    ./drop train --threads 1 --resume s.ck --weights s.w --quiet &&
    ./drop export res --weights s.w --quiet &&
    ./drop train --threads 1 --resume s.ck --seed 8 --weights o.w >other.out &&
    ./drop export other --weights o.w --quiet)
check "dropout, --seed 7, stopped at step 13 and resumed without --seed: the weights of an uninterrupted run" \
    same "$drop/ref" "$drop/res"
check "... resumed with --seed 8: says it replaces the seed" \
    grep -q "^drop: --seed 8 replaces the checkpoint's seed 7" "$drop/other.out"
check "... and the masks, so the weights, differ" sh -c "test -s '$drop/other/linear2.weight.npy' &&
    ! cmp -s '$drop/ref/linear2.weight.npy' '$drop/other/linear2.weight.npy'"

# --- the trainer's file arguments are the user's: trainc run starts it in
# the user's folder, so relative paths after -- are read and written from
# there; its own weights go beside its binary (out/<model>/), where every
# way of starting it finds them. Before any training eval, predict and
# export say to train first.
uw=$out/userdir
mkdir -p "$uw/sub"
/usr/bin/python3 - "$uw" <<'PY'
import random, sys
random.seed(2)
with open(sys.argv[1] + "/sub/u.csv", "w") as f, open(sys.argv[1] + "/x.csv", "w") as x:
    f.write("a,b,y\n")
    for i in range(60):
        c = i % 2
        a, b = random.gauss(c, 0.3), random.gauss(-c, 0.3)
        f.write("%.4f,%.4f,%d\n" % (a, b, c))
        if i < 7: x.write("%.4f,%.4f\n" % (a, b))
PY
cat >"$uw/sub/u.lua" <<'LUA'
model "uw"
data = csv { train = "u.csv", label = "y" }
local x = input { 2 }
local y = labels { classes = 2 }
minimize(cross_entropy(linear(x, 2), y))
optimizer = sgd { lr = 0.5 }
train { batch = 10, epochs = 4 }
LUA
(cd "$uw/sub" && "$TRAINC" run -q u.lua -- eval) >"$uw/eval0.out" 2>"$uw/eval0.err"
rc=$?
check "eval before any training: exit 1 ($rc), says to train first, naming the commands ($(cat "$uw/eval0.err"))" \
    sh -c "test $rc -eq 1 && grep -qF \"uw: no trained weights yet (out/uw/uw.weights does not exist): train first, with 'out/uw/uw train' or 'trainc run u.lua'\" '$uw/eval0.err'"
(cd "$uw" && sub/out/uw/uw predict x.csv) >/dev/null 2>"$uw/pred0.err"
rc=$?
check "predict before any training, from another folder: exit 1 ($rc), the paths from there" \
    sh -c "test $rc -eq 1 && grep -qF \"(sub/out/uw/uw.weights does not exist): train first, with 'sub/out/uw/uw train'\" '$uw/pred0.err'"
(cd "$uw/sub/out/uw" && ./uw export e) >/dev/null 2>"$uw/exp0.err"
rc=$?
check "export before any training, in the trainer's folder: exit 1 ($rc), './uw train'" \
    sh -c "test $rc -eq 1 && grep -qF \"(uw.weights does not exist): train first, with './uw train'\" '$uw/exp0.err'"
(cd "$uw/sub" && "$TRAINC" run -q u.lua -- --metrics m.csv --trace t.csv --quiet) >"$uw/train.out" 2>&1
check "trainc run: --metrics m.csv and --trace t.csv land in the user's folder" \
    sh -c "test -s '$uw/sub/m.csv' && test -s '$uw/sub/m.svg' && test -s '$uw/sub/t.csv' && test ! -e '$uw/sub/out/uw/m.csv'"
check "... the weights beside the trainer (out/uw/uw.weights), not in the user's folder" \
    sh -c "test -s '$uw/sub/out/uw/uw.weights' && test ! -e '$uw/sub/uw.weights'"
(cd "$uw/sub" && "$TRAINC" run -q u.lua -- predict ../x.csv -o p.csv) >/dev/null 2>&1
check "trainc run -- predict ../x.csv -o p.csv: both paths from the user's folder (7 rows)" \
    sh -c "test \$(wc -l <'$uw/sub/p.csv') -eq 8"
(cd "$uw" && sub/out/uw/uw predict x.csv) >"$uw/p_else.csv" 2>&1
check "the binary started from elsewhere finds its weights beside it: the same predictions" \
    cmp -s "$uw/sub/p.csv" "$uw/p_else.csv"
(cd "$uw/sub/out/uw" && ./uw predict ../../../x.csv) >"$uw/p_in.csv" 2>&1
check "... and started in its folder" cmp -s "$uw/sub/p.csv" "$uw/p_in.csv"
(cd "$uw" && sub/out/uw/uw predict - <x.csv) >"$uw/p_stdin.csv" 2>&1
check "predict - reads standard input: the same predictions" cmp -s "$uw/sub/p.csv" "$uw/p_stdin.csv"
(cd "$uw" && cat x.csv | sub/out/uw/uw predict -) >"$uw/p_pipe.csv" 2>&1
check "... from a pipe too" cmp -s "$uw/sub/p.csv" "$uw/p_pipe.csv"
(cd "$uw" && printf '1,2,3\n' | sub/out/uw/uw predict -) >/dev/null 2>"$uw/p_bad.err"
rc=$?
check "predict - of bad rows: exit 1 ($rc), the error names standard input ($(cat "$uw/p_bad.err"))" \
    sh -c "test $rc -eq 1 && grep -q '^uw: standard input: ' '$uw/p_bad.err' && ! grep -q /dev/fd '$uw/p_bad.err'"
(cd "$uw" && sub/out/uw/uw eval --weights nothere.w) >/dev/null 2>"$uw/nothere.err"
rc=$?
check "eval --weights of a missing file: exit 1 ($rc), the file's own error (not 'train first')" \
    sh -c "test $rc -eq 1 && grep -q 'nothere.w: cannot open' '$uw/nothere.err' && ! grep -q 'train first' '$uw/nothere.err'"

# --- --trace at the element type's full precision from its first row: in
# double the step-0 row (the initial weights) is %.17g like the rest, so
# with lr 0 it reads the same as the row after step 1
gen_build "$uw/sub/u.lua" "$uw/dbl" --dtype double >/dev/null 2>&1
(cd "$uw/dbl" && ./uw train --lr 0 --steps 1 --trace t.csv --quiet >/dev/null)
params_of() { awk -F, -v r="$2" 'NR == r + 2 { $1 = $2 = $3 = ""; print }' "$1"; } # params_of TRACE STEP
same_rows() { test -n "$(params_of "$1" 0 | tr -d ' ')" && test "$(params_of "$1" 0)" = "$(params_of "$1" 1)"; }
check "double --trace: the step-0 row's weights equal step 1's (lr 0) digit for digit" same_rows "$uw/dbl/t.csv"
digits=$(awk -F, 'NR == 2 { m = 0; for (i = 4; i <= NF; i++) { d = $i; gsub(/[-.]|e.*/, "", d); sub(/^0+/, "", d); if (length(d) > m) m = length(d) } print m }' "$uw/dbl/t.csv")
check "... with up to 17 significant digits (got $digits)" test "${digits:-0}" -ge 16
(cd "$uw/sub/out/uw" && ./uw train --lr 0 --steps 1 --trace t.csv --weights t.w --quiet >/dev/null)
fdigits=$(awk -F, 'NR == 2 { m = 0; for (i = 4; i <= NF; i++) { d = $i; gsub(/[-.]|e.*/, "", d); sub(/^0+/, "", d); if (length(d) > m) m = length(d) } print m }' "$uw/sub/out/uw/t.csv")
check "float --trace: 9 significant digits at most, as before (got $fdigits)" test "${fdigits:-0}" -le 9
