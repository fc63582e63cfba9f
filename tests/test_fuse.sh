# Fusion (gen/plan.c's epilogues): an activation, bias or residual sum is
# stored by the convolution, product, pooling or batch norm before it, and in
# eval a batch norm folds into the convolution before it; col2im runs per
# image in the input-gradient product whose patches it sums. Checked against
# trainc --no-fuse (one loop per op): the generated code shows each fused
# block with its spec lines; training is bit-identical; eval predictions
# agree within float rounding (exactly where no batch norm is folded); the
# planned arena is not larger.
. tests/lib.sh
# the fused update on the small models too (gen/fuse_update.c's size threshold)
export TRAINC_FUSE_UPDATE=1
out=$TRAINC_TMP/fuse
rm -rf "$out" && mkdir -p "$out"
data=/usr/share/datasets/fashion-mnist

# fn NAME FILE: the text of generated function NAME (train_64, eval_64, ...)
fn() { awk -v f="$1" '$0 ~ "---- " f ":" { on = 1 } on && /^}/ { exit } on' "$2"; }
# arena KiB of a trainer (its info): the planned arena, and with shards (the
# conv nets' default) their own gradients and arenas too, where the training
# steps run
arena_kib() {
    (cd "$1" && "./$2" info) | awk '/activations \(planned arena\)/ { a = $4 }
        /^shards / { v = $(NF - 1); sub(/^[+]/, "", v); a += v } END { print a }'
}
# largest absolute difference of the numbers of two predict outputs (CSV)
maxdiff() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
a = [l.strip().split(",") for l in open(sys.argv[1])][1:]
b = [l.strip().split(",") for l in open(sys.argv[2])][1:]
if len(a) != len(b) or not a:
    print("rows-differ"); sys.exit()
print(max(abs(float(x) - float(y)) for r, s in zip(a, b) for x, y in zip(r[1:], s[1:])))
PY
}

# --- the three example CNNs, fused and not
for m in lenet fashion_cnn resnet_tiny; do
    gen_build models/$m.lua "$out/$m" >"$out/$m.log" 2>&1
    # (and the optimizer's update as a pass of its own: gen/fuse_update.c)
    TRAINC_NO_FUSE_UPDATE=1 gen_build models/$m.lua "$out/$m-nofuse" --no-fuse >"$out/$m-nofuse.log" 2>&1
    check "$m builds warning-free, fused and --no-fuse" sh -c "test -x '$out/$m/$m' && test -x '$out/$m-nofuse/$m' && ! grep -qi warning '$out/$m.log' '$out/$m-nofuse.log'"
done
# each generated function in a file of its own: $out/MODEL.FUNCTION; .train_64
# is the training step, at the largest shard's rows (2 shards by default: train_32)
for m in lenet fashion_cnn resnet_tiny; do
    fn "$(sed -n 's/.*---- \(train_[0-9]*\):.*/\1/p' "$out/$m/model.c" | head -n 1)" "$out/$m/model.c" >"$out/$m.train_64"
    fn eval_64 "$out/$m/model.c" >"$out/$m.eval_64"
done

# the fused blocks, as their comments name them
check "lenet: relu after each max pool is fused into it, in training and eval" \
    sh -c "test \$(cat '$out/lenet.train_64' | grep -c 'relu fused into max_pool2d (models/lenet.lua:1[67])') = 2 && test \$(cat '$out/lenet.eval_64' | grep -c 'relu fused into max_pool2d') = 2"
check "lenet: the classifier's bias is added by its product (matmul epilogue)" \
    sh -c "cat '$out/lenet.train_64' | grep -q 'add fused into matmul (models/lenet.lua:18)'"
check "lenet: the pools store relu(m) straight into relu1/relu2 (no pool buffer)" \
    sh -c "cat '$out/lenet.eval_64' | grep -q 'relu1\[at\] = m > 0 ? m : 0;' && cat '$out/lenet.train_64' | grep -q 'yr\[ox\] = m > 0 ? m : 0;' && ! cat '$out/lenet.train_64' | grep -q 'real \*const max_pool2d1 ='"
check "lenet train: the first pool (12 columns) stores its argmax too, which its backward reads instead of conv1; the second (4) scans conv2 again" \
    sh -c "test \$(cat '$out/lenet.train_64' | grep -c 'stores max_pool2d[12]_argmax = max_pool2d_argmax(conv[12])') = 1 && cat '$out/lenet.train_64' | grep -q 'd_conv1 = max_pool2d_backward(max_pool2d1_argmax,' && cat '$out/lenet.train_64' | grep -q 'd_conv2 = max_pool2d_backward(conv2,' && ! cat '$out/lenet.train_64' | grep -q 'max_pool2d_backward(conv1'"
check "lenet eval: the first pool stores relu1 in the place of conv1, which dies there (as unfused)" \
    sh -c "cat '$out/lenet.eval_64' | grep -q 'real \*const conv1 = arena + 0;' && cat '$out/lenet.eval_64' | grep -q 'real \*const relu1 = arena + 0;'"
check "fashion_cnn train: relu (with gamma, beta) stored by batch norm beside xhat" \
    sh -c "test \$(cat '$out/fashion_cnn.train_64' | grep -c 'relu fused into batch_norm (models/fashion_cnn.lua:20), its own value kept') = 2"
check "fashion_cnn eval: batch norm folded into conv2d_direct and conv2d, relu fused after it" \
    sh -c "cat '$out/fashion_cnn.eval_64' | grep -q 'batch_norm (eval) folded into conv2d_direct (models/fashion_cnn.lua:20)' && cat '$out/fashion_cnn.eval_64' | grep -q 'relu fused into conv2d_direct' && cat '$out/fashion_cnn.eval_64' | grep -q 'batch_norm (eval) folded into conv2d (' && cat '$out/fashion_cnn.eval_64' | grep -q 'relu fused into conv2d ('"
check "fashion_cnn eval: no batch norm loop and no conv buffer left (only the fused stores)" \
    sh -c "! cat '$out/fashion_cnn.eval_64' | grep -q 'conv1_bn_xhat = batch_norm' && ! cat '$out/fashion_cnn.eval_64' | grep -q 'real \*const conv1 =' && cat '$out/fashion_cnn.eval_64' | grep -q 'fold_s\[oc\] + fold_t\[oc\]'"
check "fashion_cnn train: each batch norm's gamma gradient sums dy * xhat in its lanes (the product fused into the sum, no buffer of it)" \
    sh -c "test \$(cat '$out/fashion_cnn.train_64' | grep -c 'fused: conv[12]_bn_scaled_mul_2 = mul(d_conv[12]_bn, conv[12]_bn_xhat)') = 2 && ! cat '$out/fashion_cnn.train_64' | grep -q 'real \*const conv1_bn_scaled_mul_2 ='"
check "fashion_cnn train: each batch norm's backward computes dxhat = dy * gamma where it reads it (no buffer of it)" \
    sh -c "test \$(cat '$out/fashion_cnn.train_64' | grep -c 'fused: d_conv[12]_bn_xhat = mul(d_conv[12]_bn, conv[12]_bn_weight_c)') = 2 && ! cat '$out/fashion_cnn.train_64' | grep -q 'real \*const d_conv1_bn_xhat ='"
check "fashion_cnn: relu(fc1 + bias) stored by the product, in training and eval" \
    sh -c "cat '$out/fashion_cnn.train_64' | grep -q 'relu fused into matmul (models/fashion_cnn.lua:26)' && cat '$out/fashion_cnn.eval_64' | grep -q 'relu fused into matmul (models/fashion_cnn.lua:26)'"
check "resnet_tiny eval: the residual relu(h + f(h)) is stored by the block's second conv (line 27)" \
    sh -c "test \$(cat '$out/resnet_tiny.eval_64' | grep -c 'relu fused into conv2d (models/resnet_tiny.lua:27)') = 2 && cat '$out/resnet_tiny.eval_64' | grep -q 'add4 = add(max_pool2d1, res1b_bn)'"
check "resnet_tiny train: the residual relu stored by the batch norm beside xhat" \
    sh -c "test \$(cat '$out/resnet_tiny.train_64' | grep -c 'relu fused into batch_norm (models/resnet_tiny.lua:27), its own value kept') = 2"
check "--no-fuse: no fused block and no fused chain in any of the three" \
    sh -c "! grep -q 'fused\|folded' '$out/lenet-nofuse/model.c' '$out/fashion_cnn-nofuse/model.c' '$out/resnet_tiny-nofuse/model.c'"
check "--no-fuse is named in the generated header" \
    sh -c "head -1 '$out/lenet-nofuse/model.c' | grep -q -- '--no-fuse' && ! head -1 '$L' | grep -q -- '--no-fuse'"

check "lenet's default 2 shards keep the update after the step, and model.c says why" \
    sh -c "! grep -q 'model_train_update' '$out/lenet/model.c' && grep -q \"the shards' gradients are summed after every shard's backward pass\" '$out/lenet/model.c'"

# the arenas (the largest of the step variants): fusion never needs more; in
# the two batch-norm nets the peak is in the backward pass, which fusion
# leaves as it is; lenet's pools save their argmax (gen/ops/pool.c), so their
# inputs die after the forward fused or not, and the two peaks are equal
for m in lenet fashion_cnn resnet_tiny; do
    a=$(arena_kib "$out/$m" $m) b=$(arena_kib "$out/$m-nofuse" $m)
    check "$m: planned arena fused $a KiB <= --no-fuse $b KiB" awk -v a="$a" -v b="$b" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'
done

check "lenet and fashion_cnn train: col2im runs per image inside the input gradient's product (its patches in cache), no block of its own; --no-fuse keeps its block" \
    sh -c "grep -q 'stores d_relu1 = col2im(d_conv2_col) too' '$out/lenet.train_64' && ! grep -q '/\* d_relu1 = col2im(' '$out/lenet.train_64' && grep -q 'stores d_max_pool2d1 = col2im(d_conv2_col) too' '$out/fashion_cnn.train_64' && grep -q 'd_relu1 = col2im of this image' '$out/lenet.train_64' && grep -q '/\* d_relu1 = col2im(d_conv2_col)  \[' '$out/lenet-nofuse/model.c'"
# --- training is bit-identical; eval agrees within rounding
for m in lenet fashion_cnn resnet_tiny; do
    for v in $m $m-nofuse; do
        (cd "$out/$v" && ./$m train --steps 5 --limit 640 --threads 1 --quiet --weights w5.bin >/dev/null 2>&1 &&
            ./$m predict "$data/t10k-images-idx3-ubyte.gz" --weights w5.bin -o pred.csv >/dev/null 2>&1)
    done
    check "$m: weights after 5 training steps are bit-identical fused (ops, update) and --no-fuse" \
        sh -c "test -s '$out/$m/w5.bin' && cmp -s '$out/$m/w5.bin' '$out/$m-nofuse/w5.bin'"
done
check "lenet: eval predictions identical (no batch norm to fold)" \
    sh -c "test -s '$out/lenet/pred.csv' && cmp -s '$out/lenet/pred.csv' '$out/lenet-nofuse/pred.csv'"
for m in fashion_cnn resnet_tiny; do
    d=$(maxdiff "$out/$m/pred.csv" "$out/$m-nofuse/pred.csv")
    check "$m: eval probabilities with batch norm folded within 2e-6 of --no-fuse (max diff $d)" lt "$d" 2e-6
done
# relu's backward in max pooling's backward (relu before the pool): the
# pool saves -1 for a window whose maximum is not > 0, or (its argmax
# scanned again) masks dy by it. Negative control: saving the argmax of
# those windows too (the mask dropped) changes the weights
check "fashion_cnn train: relu's backward mask stored by both pools' backward, no relu_backward block" \
    sh -c "test \$(cat '$out/fashion_cnn.train_64' | grep -c 'relu_backward fused into max_pool2d_backward') = 2 && grep -q 'tr\[ox\] = m > 0 ? t : -1;' '$out/fashion_cnn/model.c' && grep -q 'const real g = m > 0 ? gy : 0;' '$out/fashion_cnn/model.c' && ! grep -q '/\* d_conv[12]_bn = relu_backward' '$out/fashion_cnn/model.c'"
rm -rf "$out/nomask" && cp -r "$out/fashion_cnn" "$out/nomask"
# (in the loops and in runtime/rt_maxpool.c's call: its last argument)
sed -i -e 's/tr\[ox\] = m > 0 ? t : -1;.*$/tr[ox] = t;/' \
    -e 's/\(rt_max_pool2x2_argmax([^)]*\), 1)/\1, 0)/' "$out/nomask/model.c"
(cd "$out/nomask" && ninja >/dev/null 2>&1 && ./fashion_cnn train --steps 5 --limit 640 --threads 1 --quiet --weights w5.bin >/dev/null 2>&1)
check "negative control: the argmax of every window saved (relu's mask dropped) gives other weights" \
    sh -c "test -s '$out/nomask/w5.bin' && ! cmp -s '$out/nomask/w5.bin' '$out/fashion_cnn-nofuse/w5.bin'"
# negative control: the comparison sees a difference of one training step
(cd "$out/fashion_cnn-nofuse" && ./fashion_cnn train --steps 6 --limit 640 --threads 1 --quiet --weights w6.bin >/dev/null 2>&1 &&
    ./fashion_cnn predict "$data/t10k-images-idx3-ubyte.gz" --weights w6.bin -o pred6.csv >/dev/null 2>&1)
d=$(maxdiff "$out/fashion_cnn/pred.csv" "$out/fashion_cnn-nofuse/pred6.csv")
check "negative control: predictions after 5 and 6 steps differ by more than 2e-6 (max diff $d)" gt "$d" 2e-6

# --- the other activations and producers on a small net: elu reads its input
# in its backward (fused in eval only), batch norm without affine folds
# (s = invstd) while the residual h it is added to comes later in the
# schedule, a pool stores tanh, 1d batch norm stores gelu's input, a product
# stores a residual leaky_relu
cat >"$out/mix.lua" <<'LUA'
data = spirals { n = 250, test = 64 } -- 250 = 7 batches of 32 + a last one of 26
local x = input { 2 }
local y = labels { classes = 2 }
local img = linear(x, 3 * 8 * 8):reshape { 3, 8, 8 }
local a = elu(conv2d(img, 6, { kernel = 3, padding = 1 }))
local f = conv2d(a, 4, { kernel = 3, padding = 1, bias = false })
local h = conv2d(a, 4, { kernel = 1 })
local b = relu(batch_norm(f, { affine = false }) + h)
local c = tanh(avg_pool2d(b, 2))
local d = gelu(batch_norm(linear(flatten(c), 16)))
local r = leaky_relu(d + linear(d, 16, { bias = false }), 0.1)
minimize(cross_entropy(linear(r, 2), y))
optimizer = adam { lr = 0.01 }
train { batch = 32, epochs = 2 }
LUA
# (from $out: the comments name mix.lua, short whatever TRAINC_TMP is)
(cd "$out" && gen_build mix.lua mix && TRAINC_NO_FUSE_UPDATE=1 gen_build mix.lua mix-nofuse --no-fuse) >"$out/mix.log" 2>&1
for f in train_32 eval_32; do fn $f "$out/mix/model.c" >"$out/mix.$f"; done
check "mix builds warning-free" sh -c "test -x '$out/mix/mix' && test -x '$out/mix-nofuse/mix' && ! grep -qi warning '$out/mix.log'"
check "the update is fused into the training step (model_train_update), unless TRAINC_NO_FUSE_UPDATE" \
    sh -c "grep -q '^real model_train_update(' '$out/mix/model.c' && grep -q 'the update of [a-z_0-9]*[.]weight, its gradient complete' '$out/mix/model.c' && ! grep -q 'model_train_update' '$out/mix-nofuse/model.c' && grep -q 'update runs after the training step' '$out/mix-nofuse/model.c'"
check "mix: elu's backward reads the conv output, so elu is fused in eval only" \
    sh -c "! cat '$out/mix.train_32' | grep -q '[+] elu fused' && cat '$out/mix.eval_32' | grep -q '[+] elu fused into conv2d'"
check "mix eval: batch norm without affine folds into the conv (s = invstd)" \
    sh -c "cat '$out/mix.eval_32' | grep -q 'batch_norm (eval) folded into conv2d' && cat '$out/mix.eval_32' | grep -q 'fold_s\[c\] = invstd;'"
check "mix eval: h, computed after f, is not read before it exists: f's batch norm folds, relu(bn + h) is stored by h's conv" \
    sh -c "cat '$out/mix.eval_32' | grep -q '[+] relu fused into conv2d (mix.lua:8)' && test \$(cat '$out/mix.eval_32' | grep -c 'fused into') -ge 5"
check "mix train: relu(bn + h) stored by the batch norm beside xhat" \
    sh -c "cat '$out/mix.train_32' | grep -q '[+] relu fused into batch_norm (mix.lua:8), its own value kept'"
check "mix: tanh stored by the average pool, in training and eval" \
    sh -c "cat '$out/mix.train_32' | grep -q 'tanh fused into avg_pool2d' && cat '$out/mix.eval_32' | grep -q 'tanh fused into avg_pool2d'"
check "mix: the residual d + d W stored by the product (leaky_relu's backward reads it), and leaky_relu too in eval" \
    sh -c "cat '$out/mix.train_32' | grep -q 'add fused into matmul (mix.lua:11)' && ! cat '$out/mix.train_32' | grep -q 'leaky_relu fused' && cat '$out/mix.eval_32' | grep -q 'leaky_relu fused into matmul (mix.lua:11)'"
for v in mix mix-nofuse; do
    (cd "$out/$v" && ./mix train --threads 1 --quiet --weights w.bin >/dev/null 2>&1 &&
        ./mix eval --weights w.bin >eval.txt 2>&1)
done
check "mix: weights after 2 epochs bit-identical fused and --no-fuse" \
    sh -c "test -s '$out/mix/w.bin' && cmp -s '$out/mix/w.bin' '$out/mix-nofuse/w.bin'"
la=$(awk '/^test loss/ { print $3 }' "$out/mix/eval.txt") lb=$(awk '/^test loss/ { print $3 }' "$out/mix-nofuse/eval.txt")
check "mix: eval loss fused $la, --no-fuse $lb (within 1e-5)" \
    awk -v a="$la" -v b="$lb" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-5 && d > -1e-5) }'

# --- memcheck: the fused stores stay inside their buffers and read nothing
# uninitialised (a dynamically linked build of mix, one epoch, then eval)
gen=$out/mix-dyn
"$TRAINC" gen -q "$out/mix.lua" -o "$gen"
valgrind_build "$gen" mix -g
(cd "$gen" && valgrind -q --error-exitcode=9 ./mix train --epochs 1 --threads 1 --quiet --weights w.bin &&
    valgrind -q --error-exitcode=9 ./mix eval --weights w.bin) >"$out/memcheck.log" 2>&1
check "valgrind memcheck: the fused mix trainer trains and evaluates without an error" \
    sh -c "test -x '$gen/mix' && grep -q '^test loss' '$out/memcheck.log' && ! grep -q '==[0-9]*==' '$out/memcheck.log'"
