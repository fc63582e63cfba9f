# train --overfit N (issue 14, item 4): the first N rows in file order,
# regularisation off, until learnt. fashion_mlp learns 64 rows; a net with
# every layer frozen cannot (exit 1); the final line's figures are the N
# rows' (held against numpy on predict's probabilities); dropout,
# dropconnect, weight decay, penalties and augmentation are really off (the
# weights equal those of the same net without them, bit for bit; without
# --overfit they differ); a regression reaches 1e-4 of its start loss.
. tests/lib.sh
out=$TRAINC_TMP/overfit
mkdir -p "$out"
fm=/usr/share/datasets/fashion-mnist

# --- fashion_mlp learns 64 rows by heart
gen_build models/fashion_mlp.lua "$out/fashion" >"$out/fashion.log" 2>&1
(cd "$out/fashion" && ./fashion_mlp train --overfit 64 --threads 1 >"$out/fm.out" 2>&1)
rc=$?
line=$(tail -1 "$out/fm.out")
check "fashion_mlp: 64 rows reach 100% training accuracy (exit $rc: $line)" \
    sh -c "test $rc -eq 0 && echo '$line' | grep -Eq '^overfit: reached 100% training accuracy on the first 64 rows in [0-9]+ steps \\(train loss [0-9.e-]+  accuracy 1.0000\\)$'"
check "fashion_mlp: the first line says nothing was there to turn off" \
    grep -q '^overfit: the first 64 rows in file order, at most 2000 epochs; turned off: nothing' "$out/fm.out"
check "fashion_mlp: an overfit run leaves the default weights file alone" \
    test ! -e "$out/fashion/fashion_mlp.weights"

# --- the final line's figures are those of the 64 rows: predict on them
(cd "$out/fashion" && ./fashion_mlp train --overfit 64 --threads 1 --weights "$out/fm64.w" >"$out/fm64.out" 2>&1)
/usr/bin/python3 - "$out/rows64.csv" "$fm" <<'PY'
import gzip, sys
raw = gzip.open(sys.argv[2] + "/train-images-idx3-ubyte.gz").read()[16:16 + 64 * 784]
with open(sys.argv[1], "w") as f:
    for r in range(64):
        f.write(",".join(str(b) for b in raw[r * 784:(r + 1) * 784]) + "\n")
PY
(cd "$out/fashion" && ./fashion_mlp predict "$out/rows64.csv" --weights "$out/fm64.w" -o "$out/pred64.csv")
figures=$(/usr/bin/python3 - "$out/pred64.csv" "$fm" "$out/fm64.out" <<'PY'
import gzip, re, sys
import numpy as np
p = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)[:, 1:]
y = np.frombuffer(gzip.open(sys.argv[2] + "/train-labels-idx1-ubyte.gz").read()[8:8 + 64], np.uint8)
loss = float(np.mean(-np.log(p[np.arange(64), y])))
acc = float(np.mean(p.argmax(1) == y))
m = re.search(r"train loss (\S+)  accuracy (\S+)\)$", open(sys.argv[3]).read().strip().splitlines()[-1])
ok = m and abs(float(m.group(1)) - loss) <= 1e-4 * loss + 1e-6 and float(m.group(2)) == acc
print(("ok" if ok else "bad") + f" numpy loss {loss:.6g} accuracy {acc:.4f}; line {m.groups() if m else None}")
PY
)
# (predict prints probabilities with 6+ digits: the loss agrees to 1e-4)
check "the final line's loss and accuracy are the 64 rows' ($figures)" sh -c "echo '$figures' | grep -q '^ok'"

# --- a net that cannot learn: every layer frozen
sed -e 's/model "fashion_mlp"/model "frozen"/' \
    -e 's/{ name = "fc\([123]\)" }/{ name = "fc\1", frozen = true }/' models/fashion_mlp.lua >"$out/frozen.lua"
sed -i "s|^local dir = .*|local dir = \"$fm/\"|" "$out/frozen.lua"
gen_build "$out/frozen.lua" "$out/frozen" >"$out/frozen.log" 2>&1
check "the frozen net's spec freezes all three layers" test "$(grep -c 'frozen = true' "$out/frozen.lua")" -eq 3
(cd "$out/frozen" && ./frozen train --overfit 64 --epochs 20 --threads 1 >"$out/frozen.out" 2>&1)
rc=$?
line=$(tail -1 "$out/frozen.out")
check "a frozen net does not reach 100% and exits 1 (exit $rc: $line)" \
    sh -c "test $rc -eq 1 && echo '$line' | grep -q '^overfit: did not reach 100% training accuracy on the first 64 rows in 20 steps: best train loss .* accuracy 0\\.'"

# --- regularisation off: the same weights as the net without any of it
small() { # small NAME REGULARISED(0/1)
    local reg=$2 dc="" drop="" pen="" wd="" aug="" es=""
    if [ "$reg" = 1 ]; then
        dc=', dropconnect = 0.3' drop='h = dropout(h, 0.5)' pen=' + 1e-3 * l2_penalty() + 1e-4 * l1_penalty()'
        wd=', weight_decay = 1e-2' aug=', augment = { crop = 2, flip = true }'
        es=', early_stopping = { patience = 1, monitor = "loss" }'
    fi
    cat >"$out/$1.lua" <<EOF
model "$1"
data = idx {
  train = { images = "$fm/train-images-idx3-ubyte.gz", labels = "$fm/train-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}
local x = input { 784 }
local y = labels { classes = 10 }
local h = relu(linear(x, 16, { name = "fc1"$dc }))
$drop
minimize(cross_entropy(linear(h, 10, { name = "fc2" }), y)$pen)
optimizer = sgd { lr = 0.05, momentum = 0.9$wd }
train { batch = 32, epochs = 3, seed = 5, shuffle = true$aug$es }
EOF
    gen_build "$out/$1.lua" "$out/$1" >"$out/$1.log" 2>&1
}
small reg 1
small plain 0
check "the regularised net builds warning-free" sh -c "test -x '$out/reg/reg' && ! grep -q warning '$out/reg.log'"
(cd "$out/reg" && ./reg train --overfit 64 --epochs 3 --threads 1 --weights r.w >"$out/reg.out" 2>&1)
check "the line names what was turned off" \
    grep -q '^overfit: the first 64 rows in file order, at most 3 epochs; turned off: 1 dropout, 1 dropconnect, weight decay, 2 penalties, augmentation, early stopping$' "$out/reg.out"
(cd "$out/plain" && ./plain train --overfit 64 --epochs 3 --threads 1 --weights p.w >/dev/null 2>&1)
(cd "$out/reg" && ./reg export "$out/reg_e" --weights r.w >/dev/null && ./reg train --limit 64 --epochs 3 --threads 1 --weights rl.w --quiet >/dev/null && ./reg export "$out/reg_l" --weights rl.w >/dev/null)
(cd "$out/plain" && ./plain export "$out/plain_e" --weights p.w >/dev/null && ./plain train --limit 64 --epochs 3 --threads 1 --weights pl.w --quiet >/dev/null && ./plain export "$out/plain_l" --weights pl.w >/dev/null)
same_npy() { cmp -s "$1/fc1.weight.npy" "$2/fc1.weight.npy" && cmp -s "$1/fc2.weight.npy" "$2/fc2.weight.npy" && cmp -s "$1/fc2.bias.npy" "$2/fc2.bias.npy"; }
check "--overfit: dropout, dropconnect, weight decay, penalties, augmentation off: the weights equal the plain net's bit for bit" \
    same_npy "$out/reg_e" "$out/plain_e"
check "negative control: without --overfit (--limit 64, shuffled, regularised) they differ" \
    sh -c "! cmp -s '$out/reg_l/fc1.weight.npy' '$out/plain_l/fc1.weight.npy'"

# --- a regression: the loss below 1e-4 of its start
cat >"$out/lin.lua" <<'EOF'
model "lin"
data = linreg { n = 256, d = 4, noise = 0, test = 32 }
local x = input { 4 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.1 }
train { batch = 16, epochs = 2, seed = 1 }
EOF
gen_build "$out/lin.lua" "$out/lin" >"$out/lin.log" 2>&1
(cd "$out/lin" && ./lin train --overfit 32 --threads 1 >"$out/lin.out" 2>&1)
rc=$?
check "a regression reaches a loss below 1e-4 of its start (exit $rc: $(tail -1 "$out/lin.out"))" \
    sh -c "test $rc -eq 0 && tail -1 '$out/lin.out' | grep -q '^overfit: reached a loss below 1e-4 of its start .* on the first 32 rows in [0-9]* steps (train loss'"
