# Convolutional nets as trainers: LeNet on Fashion-MNIST images (input
# { 1, 28, 28 }) learns, `info` shows the model summary (a row per op with
# its spec line, output shape, parameters and FLOPs adding up to the
# totals), and a conv net's training loop allocates nothing.
. tests/lib.sh
out=$TRAINC_TMP/conv
rm -rf "$out" && mkdir -p "$out"

# --- LeNet learns on a subset
gen_build models/lenet.lua "$out/lenet" >"$out/lenet.log" 2>&1
check "lenet builds warning-free" sh -c "test -x '$out/lenet/lenet' && ! grep -qi warning '$out/lenet.log'"
acc=$(cd "$out/lenet" && ./lenet train --limit 12800 --epochs 1 --threads 1 --quiet | awk '/^test/ { print $5 }')
check "lenet on 12800 rows x 1 epoch beats 0.70 test accuracy (got $acc)" gt "$acc" 0.70

# conv2's three products are trainc's own (runtime/rt_gemm.c, by the cost
# model of gen/ops/conv_product.c), each with its cblas_sgemm beside it; the
# weights after 30 Adam steps match those of the same binary with every
# product in OpenBLAS (TRAINC_GEMM=off, the products before) within float
# bounds (5e-6 of the largest weight seen: Adam scales the products'
# rounding differences up where a gradient is near 0); 29 steps differ by 1e-2
fn_body() { awk -v f="$1" '$0 ~ "---- " f ":" { on = 1 } on && /^}/ { exit } on' "$out/lenet/model.c"; }
fn_body train_32 >"$out/lenet_train_32.c"
check "lenet: conv2 and its input gradient by rt_sgemm_xn, its weight gradient by rt_sgemm_nt_sum over the 32 images, cblas_sgemm beside each" \
    sh -c "grep -q 'rt_sgemm_xn(0, 16, 64, 200,' '$out/lenet_train_32.c' && grep -q 'rt_sgemm_xn(1, 200, 64, 16,' '$out/lenet_train_32.c' && grep -q 'rt_sgemm_nt_sum(32, 1024, 12800, 16, 200, 64,' '$out/lenet_train_32.c' && test \$(grep -A3 'if (rt_sgemm_' '$out/lenet_train_32.c' | grep -c 'cblas_sgemm(') = 6"
lenet_steps() { # NAME N ENV...: N steps of LeNet, its weights exported to $out/lenet_NAME
    local name=$1 n=$2
    shift 2
    (cd "$out/lenet" && env "$@" ./lenet train --steps "$n" --limit 6400 --threads 1 --quiet \
        --weights "$name.w" >/dev/null 2>&1 && ./lenet export "$out/lenet_$name" --weights "$name.w" >/dev/null 2>&1)
}
lenet_reldiff() { # the largest difference of two exports' weights, relative to the largest weight
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, glob, os
import numpy as np
worst = 0.0
for f in sorted(glob.glob(sys.argv[1] + "/*.npy")):
    a, b = np.load(f).astype(np.float64), np.load(os.path.join(sys.argv[2], os.path.basename(f)))
    worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30)))
print("%.3g" % worst)
PY
}
lenet_steps ours 30 TRAINC_GEMM=
lenet_steps blas 30 TRAINC_GEMM=off
lenet_steps ours29 29 TRAINC_GEMM=
lenet_d=$(lenet_reldiff "$out/lenet_ours" "$out/lenet_blas")
check "lenet, 30 steps: our products and OpenBLAS's give the same weights within 1e-4 (max |w| relative: $lenet_d)" \
    sh -c "test -n '$lenet_d' && awk -v d='$lenet_d' 'BEGIN { exit !(d > 0 && d < 1e-4) }'"
lenet_d=$(lenet_reldiff "$out/lenet_ours29" "$out/lenet_blas")
check "negative control: 29 steps against OpenBLAS's 30 differ by more than 1e-4 ($lenet_d)" \
    sh -c "test -n '$lenet_d' && awk -v d='$lenet_d' 'BEGIN { exit !(d > 1e-4) }'"

# --- conv2d_direct's forward and weight gradient by runtime/rt_conv.c's
# kernels (stride 1, float: LeNet's conv1), their loops behind them: the
# same bits. 20 steps with the kernels and with TRAINC_CONV=off (the loops)
# give the same weights byte for byte; negative control: 19 steps of the
# loops differ
check "lenet: conv1's forward by rt_sconv_direct, the loops behind it" \
    grep -q 'if (rt_sconv_direct(32, 1, 28, 28, 8, 5, 5, 0, 0, x, conv1_weight, conv1_bias, conv1)) {' "$out/lenet_train_32.c"
kernel_steps() { # DIR BINARY NAME N TRAINC_CONV: N steps, the weights in DIR/NAME.w, the test loss in DIR/NAME.test
    (cd "$1" && TRAINC_CONV=$5 "./$2" train --steps "$4" --limit 1280 --threads 1 --quiet \
        --weights "$3.w" 2>&1 | awk '/^test/ { print $3 }' >"$3.test")
}
kernel_steps "$out/lenet" lenet kern 20 default
kernel_steps "$out/lenet" lenet loops 20 off
kernel_steps "$out/lenet" lenet loops19 19 off
check "lenet, 20 steps: conv1's kernel and its loops (TRAINC_CONV=off) give the same weights" \
    cmp "$out/lenet/kern.w" "$out/lenet/loops.w"
check "negative control: 19 steps of the loops give other weights" \
    sh -c "! cmp -s '$out/lenet/kern.w' '$out/lenet/loops19.w'"
# a relu and an eval batch norm fused into it: the kernel's sums, then the
# fused op in a pass over them (training: relu; the test loss: the folded
# batch norm and relu); 6 output channels (a block of 4, then 2 of 1 on
# AVX2; 6 of 1 on AVX-512) and 26 columns (masked last vectors)
cat >"$out/direct_fused.lua" <<'LUA'
model "direct_fused"
local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}
local x = input { 1, 28, 28 }
local y = labels { classes = 10 }
local h = relu(batch_norm(conv2d(x, 6, { kernel = 3, name = "conv1", algo = "direct" })))
local logits = linear(flatten(max_pool2d(h, 2)), 10, { name = "fc" })
minimize(cross_entropy(logits, y))
optimizer = adam { lr = 1e-3 }
train { batch = 64, epochs = 1, seed = 1 }
LUA
gen_build "$out/direct_fused.lua" "$out/direct_fused" >"$out/direct_fused.log" 2>&1
check "direct_fused builds warning-free, the eval's conv1 stores through the folded batch norm and relu after the kernel" \
    sh -c "! grep -qi warning '$out/direct_fused.log' && grep -q 'if (rt_sconv_direct(64, 1, 28, 28, 6, 3, 3, 0, 0, x, conv1_weight, conv1_bias, relu1)) {' '$out/direct_fused/model.c'"
kernel_steps "$out/direct_fused" direct_fused kern 20 default
kernel_steps "$out/direct_fused" direct_fused loops 20 off
check "direct_fused, 20 steps: the kernel and the loops give the same weights and test loss ($(cat "$out/direct_fused/kern.test"))" \
    sh -c "cmp '$out/direct_fused/kern.w' '$out/direct_fused/loops.w' && test -s '$out/direct_fused/kern.test' && cmp '$out/direct_fused/kern.test' '$out/direct_fused/loops.test'"
# padding (fashion_cnn's first layer: 16 channels, 3x3, padding 1, 28
# columns: a partial last vector in the weight gradient's lanes)
sed -e 's/"direct_fused"/"direct_pad"/' \
    -e 's/relu(batch_norm(conv2d(x, 6, { kernel = 3,/relu(conv2d(x, 16, { kernel = 3, padding = 1, bias = false,/' \
    -e 's/algo = "direct" })))/algo = "direct" }))/' "$out/direct_fused.lua" >"$out/direct_pad.lua"
gen_build "$out/direct_pad.lua" "$out/direct_pad" >"$out/direct_pad.log" 2>&1
check "direct_pad builds warning-free, its conv1 and weight gradient by the kernels (padding 1)" \
    sh -c "! grep -qi warning '$out/direct_pad.log' && grep -q 'if (rt_sconv_direct(64, 1, 28, 28, 16, 3, 3, 1, 1, x, conv1_weight, NULL, ' '$out/direct_pad/model.c' && grep -q 'if (rt_sconv_direct_dw(32, 1, 28, 28, 16, 3, 3, 1, 1, x, ' '$out/direct_pad/model.c'"
kernel_steps "$out/direct_pad" direct_pad kern 20 default
kernel_steps "$out/direct_pad" direct_pad loops 20 off
kernel_steps "$out/direct_pad" direct_pad loops19 19 off
check "direct_pad, 20 steps: the kernels and the loops give the same weights and test loss ($(cat "$out/direct_pad/kern.test"))" \
    sh -c "cmp '$out/direct_pad/kern.w' '$out/direct_pad/loops.w' && test -s '$out/direct_pad/kern.test' && cmp '$out/direct_pad/kern.test' '$out/direct_pad/loops.test'"
check "negative control: 19 steps of direct_pad's loops give other weights" \
    sh -c "! cmp -s '$out/direct_pad/kern.w' '$out/direct_pad/loops19.w'"
# the whole net's gradient in double, on a batch of 4 random images: the
# loss has kinks where two values of a max-pooling window (or a relu input)
# come within h of each other, and finite differences across one are wrong.
# Fashion-MNIST's blank borders make such ties everywhere, and a batch of 64
# random images has about one (conv1.weight off by 1e-2 at h = 1e-6); in
# float, most of conv1's values have one within every step gradcheck tries,
# and go uncompared (see test_models.sh)
/usr/bin/python3 - "$out/random.csv" <<'PY'
import random, sys
random.seed(3)
with open(sys.argv[1], "w") as f:
    f.write(",".join([f"x{i}" for i in range(784)] + ["label"]) + "\n")
    for r in range(64):
        f.write(",".join(f"{random.random():.6f}" for _ in range(784)) + f",{r % 10}\n")
PY
sed -e 's|^data = idx {|data = csv { train = "random.csv", label = "label", header = true }\nlocal unused = {|' \
    -e 's|^train {.*|train { batch = 4, epochs = 1, seed = 1 }|' models/lenet.lua >"$out/lenet_random.lua"
gen_build "$out/lenet_random.lua" "$out/lenet64" --dtype double >"$out/lenet64.log" 2>&1
(cd "$out/lenet64" && ./lenet gradcheck) >"$out/lenet64.gradcheck" 2>&1
check "lenet in double on random images: gradcheck passes ($(tail -1 "$out/lenet64.gradcheck"))" \
    grep -q '^gradcheck ok' "$out/lenet64.gradcheck"

# --- info: the model summary
(cd "$out/lenet" && ./lenet info) >"$out/info.txt"
row() { awk -v n="$1" '$2 == n' "$out/info.txt"; }
# conv1 (1 channel, 25 taps, on the input): the cost model of conv.c picks
# the direct kernel (measured 1.74 vs 1.96 ms per step of that layer)
check "info: conv1 (the cost model's choice: direct) is a conv2d_direct row of line 16, [B x 8 x 24 x 24], 208 parameters" \
    sh -c "echo '$(row conv1)' | grep -Eq '^16 +conv1 +conv2d_direct +\[B x 8 x 24 x 24\] +208 '"
check "info: conv1 has no im2col workspace (direct), conv2 (200 taps) has" \
    sh -c "test -z \"$(row conv1_col)\" && test -n \"$(row conv2_col)\""
check "info: max_pool2d2 is [B x 16 x 4 x 4] on line 17" \
    sh -c "echo '$(row max_pool2d2)' | grep -Eq '^17 +max_pool2d2 +max_pool2d +\[B x 16 x 4 x 4\] +0 '"
check "info: the im2col workspace of conv2 is a row [B x 200 x 64]" \
    sh -c "echo '$(row conv2_col)' | grep -q 'im2col *\[B x 200 x 64\]'"
check "info: the flatten row is [B x 256]" sh -c "echo '$(row reshape1)' | grep -q '\[B x 256\]'"
# conv1 at batch 64: 2 * 200 * 576 * 64 multiply-adds + the bias
check "info: conv1's FLOPs are 2 * 200 * 576 * 64 + 8 * 576 * 64" \
    sh -c "echo '$(row conv1)' | awk '{ exit !(\$NF == 1.504e+07) }'"
total=$(awk '/B = 64/ { print $(NF - 1) }' "$out/info.txt")
check "info: the rows' parameters add up to the total 5994 (got $total)" test "$total" = 5994
sum=$(awk '/B = 64/ { print $NF }' "$out/info.txt")
fwd=$(awk '/^FLOPs/ { print $(NF - 3) }' "$out/info.txt")
check "info: the rows' FLOPs add up to the forward pass ($sum = $fwd)" test "$sum" = "$fwd"

# --- no allocation in a conv net's training loop: heap use of 5 and 40
# steps is the same (valgrind; a dynamically linked build). Both kernels
# (OpenBLAS and loops), both pools, padding, groups, global pooling.
cat >"$out/alloc.lua" <<'LUA'
data = spirals { n = 320, test = 32 }
local x = input { 2 }
local y = labels { classes = 2 }
local img = linear(x, 2 * 12 * 12):reshape { 2, 12, 12 }
local h = relu(conv2d(img, 16, { kernel = 3, padding = 1 }))          -- OpenBLAS
h = max_pool2d(h, { kernel = 3, stride = 2, padding = 1 })
h = conv2d(h, 4, { kernel = 2, groups = 4 })                          -- loops
h = avg_pool2d(h, 2)
local d = conv2d(x:reshape { 1, 1, 2 }, 3, { kernel = { 1, 2 }, padding = 1 }) -- direct
minimize(cross_entropy(linear(flatten(h), 2) + linear(global_avg_pool(h), 2) + linear(flatten(d), 2), y))
optimizer = adam { lr = 0.01 }
train { batch = 32, epochs = 100 }
LUA
gen=$out/dyn
"$TRAINC" gen -q "$out/alloc.lua" -o "$gen"
valgrind_build "$gen" dyn
check "the conv net takes the BLAS, the loop and the direct kernels" \
    sh -c "grep -q 'cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 16,' '$gen/model.c' && grep -Eq 'const real wv = [a-z0-9_]+\[oc \*' '$gen/model.c' && grep -q 'conv2d_direct_backward_weight' '$gen/model.c'"
heap() { heap_use "$gen" dyn train --steps "$1" --threads 1 --quiet --weights w; }
h5=$(heap 5)
h40=$(heap 40)
check "no allocation in a conv net's training loop (5 steps: $h5; 40 steps: $h40)" same_heap "$h5" "$h40"

# --- the CNN examples: fashion_cnn (conv-bn-relu-pool blocks, dropout) and
# resnet_tiny (residual blocks, global average pooling) build warning-free and
# learn on a subset; their full runs (README) reach 0.91+ and take minutes
for m in fashion_cnn resnet_tiny; do
    gen_build "models/$m.lua" "$out/$m" >"$out/$m.log" 2>&1
    check "$m builds warning-free" sh -c "test -x '$out/$m/$m' && ! grep -qi warning '$out/$m.log'"
    acc=$(cd "$out/$m" && ./$m train --limit 3200 --epochs 1 --quiet | awk '/^test/ { print $5 }')
    check "$m on 3200 rows x 1 epoch beats 0.55 test accuracy (got $acc)" gt "$acc" 0.55
done
# the step's x86-64-v3 clone (AVX2, chosen on this machine) and the portable
# SSE2 build (-DRT_PORTABLE: no clones) give bit-identical weights: the loops
# are built without floating-point contraction (the products in OpenBLAS in
# both: TRAINC_GEMM=off; the portable build has no runtime/rt_gemm.c kernels)
port=$out/fashion_cnn_portable
rm -rf "$port" && cp -r "$out/fashion_cnn" "$port" && rm -rf "$port/obj" "$port/fashion_cnn"
sed -i 's/^cflags = /cflags = -DRT_PORTABLE /' "$port/build.ninja"
ninja -C "$port" >"$out/portable.log" 2>&1
check "the portable build has no AVX2 clone, the default one has" \
    sh -c "! nm '$port/fashion_cnn' | grep -q x86_64_v3 && nm '$out/fashion_cnn/fashion_cnn' | grep -q 'train_[0-9]*.arch_x86_64_v3'"
for d in "$out/fashion_cnn" "$port"; do
    (cd "$d" && TRAINC_GEMM=off ./fashion_cnn train --steps 12 --limit 640 --threads 1 --quiet --weights same.weights >/dev/null 2>&1)
done
check "fashion_cnn: 12 steps of the AVX2 clone and of the portable build give identical weights" \
    cmp "$out/fashion_cnn/same.weights" "$port/same.weights"
check "fashion_cnn's conv1 (1 -> 16, 3x3, padding 1, on the images) is conv2d_direct, conv2 is not" \
    sh -c "cd '$out/fashion_cnn' && ./fashion_cnn info | awk '\$2 == \"conv1\" && \$3 == \"conv2d_direct\" { a = 1 } \$2 == \"conv2\" && \$3 == \"conv2d\" { b = 1 } END { exit !(a && b) }'"
check "fashion_cnn's model.c gives the cost model's two estimates at conv1 (direct below im2col)" \
    sh -c "grep -Eo 'cost model \(conv_direct.c\): direct [0-9]+ ns per image, im2col and product [0-9]+' '$out/fashion_cnn/model.c' | head -1 | awk '{ seen = 1; ok = \$5 + 0 < \$12 + 0 } END { exit !(seen && ok) }'"
# the skip connection h + f of the residual function (spec line 27), once per block
check "resnet_tiny's summary has its two skip connections (line 27: [B x 16 x 14 x 14], [B x 32 x 7 x 7])" \
    sh -c "cd '$out/resnet_tiny' && ./resnet_tiny info | grep -Ec '^27 +add[0-9]+ +add +\[B x (16 x 14 x 14|32 x 7 x 7)\]' | grep -qx 2"
