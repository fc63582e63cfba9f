# Warnings and hints the course notes ask for (issue 14, item 6).
# trainc warns (spec file:line, stderr, exit 0, the folder generated) of a
# weight initialised to a constant whose layer feeds another layer with
# weights (symmetric units; zeros: "W = 0 gives no movement"), and of 4 or
# more sigmoid/tanh layers in a row with the default init; specs that are
# fine get no warning (negative controls: a constant last layer, 3 tanh
# layers, a deep stack with xavier init). After training, the trainer
# prints a hint when the epoch losses show a pattern (rules in hints.c and
# the README): still falling steeply, flat at a high value, oscillating;
# a run made to show each prints its hint and only it, and converged runs
# print none. Nothing is printed with --quiet.
. tests/lib.sh
out=$TRAINC_TMP/hints
rm -rf "$out"
mkdir -p "$out"

# gen_warn NAME: generates $out/NAME.lua, stderr to $out/NAME.err; the exit status
gen_warn() { "$TRAINC" gen -q "$out/$1.lua" -o "$out/g_$1" 2>"$out/$1.err" >/dev/null; }
# spec NAME LINES...: a model on the XOR points with the lines given (from line 5)
spec() {
    local name=$1
    shift
    printf '%s\n' "model \"$name\"" 'data = xor { n = 4 }' 'local x = input { 2 }' 'local y = labels { 1 }' \
        "$@" 'optimizer = sgd { lr = 0.5 }' 'train { batch = 4, epochs = 1 }' >"$out/$name.lua"
}

# --- symmetric units
spec zeros 'local h = tanh(linear(x, 8, { init = zeros() }))' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn zeros
check "a zero-initialised hidden layer: warned, and generation goes on (exit $?)" \
    sh -c "test -s '$out/g_zeros/model.c'"
check "... at its spec line, naming both layers, symmetric units and 'W = 0 gives no movement'" grep -q \
    "^trainc: $out/zeros.lua:5: warning: linear1.weight is initialised to a constant (zeros) and its layer feeds linear2.weight (line 6): .*(symmetric units); and W = 0 gives no movement" "$out/zeros.err"
spec const 'local h = tanh(linear(x, 8, { init = constant(0.3) }))' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn const
check "a constant(0.3) hidden layer: warned of symmetric units (not of 'no movement')" sh -c \
    "grep -q '^trainc: $out/const.lua:5: warning: linear1.weight is initialised to a constant (constant(0.3))' '$out/const.err' && ! grep -q 'no movement' '$out/const.err'"
spec lastzero 'local h = tanh(linear(x, 8))' 'minimize(bce(sigmoid(linear(h, 1, { init = zeros() })), y))'
gen_warn lastzero
check "negative: a zero-initialised last layer (feeding no weight) is not warned of" test ! -s "$out/lastzero.err"
spec biaszero 'local h = tanh(linear(x, 8, { bias_init = zeros() }))' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn biaszero
check "negative: zero biases are not warned of" test ! -s "$out/biaszero.err"
"$TRAINC" run -q "$out/zeros.lua" -o "$out/g_zeros" -- --epochs 1 --quiet >/dev/null 2>&1
check "the warned spec still builds and trains (exit $?)" test $? -eq 0

# --- deep sigmoid/tanh stacks with the default init
spec deep4 'local h = x' 'for i = 1, 4 do h = tanh(linear(h, 8)) end' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn deep4
check "4 tanh layers and a sigmoid with the default init: warned at the stack's line" grep -q \
    "^trainc: $out/deep4.lua:6: warning: 5 sigmoid/tanh layers in a row with the default init (4 or more are warned of)" "$out/deep4.err"
spec deep3 'local h = x' 'for i = 1, 2 do h = tanh(linear(h, 8)) end' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn deep3
check "negative: 3 (2 tanh and the output sigmoid) are not warned of" test ! -s "$out/deep3.err"
spec xavier 'local h = x' 'for i = 1, 4 do h = tanh(linear(h, 8, { init = xavier_uniform() })) end' \
    'minimize(bce(sigmoid(linear(h, 1, { init = xavier_uniform() })), y))'
gen_warn xavier
check "negative: the same stack with xavier_uniform init is not warned of" test ! -s "$out/xavier.err"
spec relu 'local h = x' 'for i = 1, 6 do h = relu(linear(h, 8)) end' 'minimize(bce(sigmoid(linear(h, 1)), y))'
gen_warn relu
check "negative: a deep relu stack is not warned of" test ! -s "$out/relu.err"
"$TRAINC" gen -q models/deep_sigmoid.lua -o "$out/g_ds" 2>"$out/ds.err" >/dev/null
check "models/deep_sigmoid.lua is warned of (exit $?)" grep -q "deep_sigmoid.lua:24: warning: 7 sigmoid/tanh layers" "$out/ds.err"

# --- hints after training
cat >"$out/lin.lua" <<'LUA'
model "lin"
data = linreg { n = 1000, d = 20, noise = 0.1 }
local x = input { 20 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.01 }
train { batch = 100, epochs = 200, seed = 1 }
LUA
gen_build "$out/lin.lua" "$out/lin" >/dev/null 2>&1
gen_build models/spirals.lua "$out/spirals" >/dev/null 2>&1
gen_build models/xor.lua "$out/xor" >/dev/null 2>&1
hints() { grep '^hint:' "$1" | cut -c1-60 | tr '\n' '|'; }
(cd "$out/lin" && ./lin train --epochs 5 >falling.log 2>&1)
check "falling: 5 epochs of a regression losing a third an epoch ($(hints "$out/lin/falling.log"))" grep -q \
    '^hint: the training loss was still falling steeply (by 33% and 33% in the last two epochs): more epochs may help$' "$out/lin/falling.log"
check "... and only that hint" test "$(grep -c '^hint:' "$out/lin/falling.log")" -eq 1
(cd "$out/lin" && ./lin train >converged.log 2>&1)
check "none: the same regression trained to its noise (200 epochs)" sh -c "grep -q '^test\\|^train loss' '$out/lin/converged.log' && ! grep -q '^hint:' '$out/lin/converged.log'"
(cd "$out/xor" && ./xor train --lr 0 --epochs 5 >flat.log 2>&1)
check "flat: lr 0 ($(hints "$out/xor/flat.log"))" grep -q \
    '^hint: the training loss has been flat since epoch 2 at 0.7082, not below half its first step.s 0.7082: the network is not learning' "$out/xor/flat.log"
check "... and only that hint" test "$(grep -c '^hint:' "$out/xor/flat.log")" -eq 1
(cd "$out/xor" && ./xor train >none.log 2>&1)
check "none: xor's 2000 epochs to 100%" sh -c "grep -q '^train loss' '$out/xor/none.log' && ! grep -q '^hint:' '$out/xor/none.log'"
(cd "$out/spirals" && ./spirals train --epochs 30 --lr 2 >osc.log 2>&1)
check "oscillating: spirals at lr 2 ($(hints "$out/spirals/osc.log"))" grep -q \
    '^hint: the training loss rose in [0-9]* of the last 10 epochs: it oscillates; the learning rate may be too large (try --lr 0.666667)$' "$out/spirals/osc.log"
check "... and only that hint" test "$(grep -c '^hint:' "$out/spirals/osc.log")" -eq 1
(cd "$out/spirals" && ./spirals train >none.log 2>&1)
check "none: spirals as the spec trains it (400 epochs, accuracy 1)" sh -c "grep -q '^test' '$out/spirals/none.log' && ! grep -q '^hint:' '$out/spirals/none.log'"
(cd "$out/spirals" && ./spirals train --epochs 30 --lr 2 --quiet >quiet.log 2>&1)
check "--quiet prints no hint" sh -c "test -s '$out/spirals/quiet.log' && ! grep -q '^hint:' '$out/spirals/quiet.log'"
(cd "$out/lin" && ./lin train --epochs 4 >four.log 2>&1)
check "fewer than 5 epochs: no hint (the same regression still falls steeply)" sh -c "! grep -q '^hint:' '$out/lin/four.log'"
(cd "$out/spirals" && ./spirals train --epochs 3 >three.log 2>&1)
check "... nor on spirals' 3 first epochs, on its plateau" sh -c "grep -q '^test' '$out/spirals/three.log' && ! grep -q '^hint:' '$out/spirals/three.log'"
