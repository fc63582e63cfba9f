# The epilogues in the store of trainc's own products (rt_gemm_epi,
# gen/ops/matmul.c): an MLP of odd widths on Fashion-MNIST (784-203-61-97-10,
# batch 56 and a remainder step of 30 rows; relu with a bias, tanh with a
# bias, relu without one) stores the forward's bias and relu in the kernels
# (tanh's layer its bias, then the vectorised tanh), relu's backward mask in
# the input gradient's store (its block gone), and keeps the loops after
# cblas_sgemm for a CPU without AVX2. Trained 40 steps, its weights are the
# bytes of the same spec generated with TRAINC_NO_GEMM_EPILOGUE=1 (the
# epilogues in loops after the products, relu's backward in its own block),
# with AVX-512, AVX2 alone and every product in OpenBLAS. Negative control:
# one step fewer differs. The kernels' own bits: tests/unit/test_gemm_epi.c.
. tests/lib.sh
out=$TRAINC_TMP/gemm_epi
rm -rf "$out" && mkdir -p "$out"
data=/usr/share/datasets/fashion-mnist

cat >"$out/epi.lua" <<EOF
model "epi"
data = idx {
  train = { images = "$data/train-images-idx3-ubyte.gz", labels = "$data/train-labels-idx1-ubyte.gz" },
  test  = { images = "$data/t10k-images-idx3-ubyte.gz",  labels = "$data/t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}
local x = input { 784 }
local y = labels { classes = 10 }
local h = relu(linear(x, 203, { name = "fc1" }))
h = tanh(linear(h, 61, { name = "fc2" }))
h = relu(linear(h, 97, { name = "fc3", bias = false }))
minimize(cross_entropy(linear(h, 10, { name = "fc4" }), y))
optimizer = sgd { lr = 0.05, momentum = 0.9 }
train { batch = 56, epochs = 2, seed = 3 }
EOF
gen_build "$out/epi.lua" "$out/fused" >"$out/fused.log" 2>&1
TRAINC_NO_GEMM_EPILOGUE=1 gen_build "$out/epi.lua" "$out/unfused" >"$out/unfused.log" 2>&1
check "both build warning-free (fused, and TRAINC_NO_GEMM_EPILOGUE=1)" \
    sh -c "test -x '$out/fused/epi' && test -x '$out/unfused/epi' && ! grep -qi warning '$out/fused.log' '$out/unfused.log'"

fn() { awk -v f="$1" '$0 ~ "---- " f ":" { on = 1 } on && /^}/ { exit } on' "$2"; }
fn train_56 "$out/fused/model.c" >"$out/f56.c"
fn train_56 "$out/unfused/model.c" >"$out/u56.c"
check "forward: fc1's bias + relu, fc2's bias, fc3's relu and fc4's bias in rt_sgemm_nt_epi's store, then fc2's vectorised tanh" \
    sh -c "test \$(grep -c 'if (rt_sgemm_nt_epi(' '$out/f56.c') = 4 && grep -q 'epi = {fc1_bias, RT_EPI_RELU, NULL}' '$out/f56.c' && grep -A12 'epi = {fc2_bias, RT_EPI_NONE, NULL}' '$out/f56.c' | grep -q 'rt_tanh_n(tanh1, tanh1, 3416)' && grep -q 'epi = {NULL, RT_EPI_RELU, NULL}' '$out/f56.c' && grep -q 'epi = {fc4_bias, RT_EPI_NONE, NULL}' '$out/f56.c'"
check "backward: relu's mask in the input gradients' store (rt_sgemm_nn_epi), no relu_backward block left" \
    sh -c "test \$(grep -c 'if (rt_sgemm_nn_epi(' '$out/f56.c') = 2 && grep -q 'epi = {NULL, RT_EPI_NONE, relu1}' '$out/f56.c' && ! grep -q '/\\* d_[a-z0-9_]* = relu_backward(' '$out/f56.c' && test \$(grep -c ' - d_[a-z0-9_]* = relu_backward(' '$out/f56.c') = 2"
check "each fused call keeps cblas_sgemm and the epilogue's loop for a CPU without AVX2" \
    sh -c "test \$(grep -A1 '_epi(.*&epi)) {' '$out/f56.c' | grep -c 'cblas_sgemm(') = 6 && grep -A9 'rt_sgemm_nn_epi' '$out/f56.c' | grep -q 'relu1\\[i \\* 203 + j\\] > 0 ? v : 0'"
check "TRAINC_NO_GEMM_EPILOGUE=1: no epilogue in a kernel's store, relu_backward blocks of their own" \
    sh -c "! grep -q '_epi(' '$out/unfused/model.c' && test \$(grep -c '/\\* d_[a-z0-9_]* = relu_backward(' '$out/u56.c') = 2"

steps() { # DIR N ENV...: trains N steps with the trainer in DIR, weights DIR/wN
    local d=$1 n=$2
    shift 2
    (cd "$d" && env "$@" ./epi train --steps "$n" --limit 1990 --threads 1 --quiet \
        --weights "w$n$*" >/dev/null 2>&1)
}
for e in TRAINC_GEMM= TRAINC_GEMM=avx2 TRAINC_GEMM=off; do
    steps "$out/fused" 40 $e
    steps "$out/unfused" 40 $e
done
steps "$out/fused" 39 TRAINC_GEMM=
check "40 steps (a remainder step among them): the fused trainer's weights are the unfused one's bytes" \
    cmp -s "$out/fused/w40TRAINC_GEMM=" "$out/unfused/w40TRAINC_GEMM="
check "... with the AVX2 kernels alone (TRAINC_GEMM=avx2)" \
    cmp -s "$out/fused/w40TRAINC_GEMM=avx2" "$out/unfused/w40TRAINC_GEMM=avx2"
check "... and through the fallback, OpenBLAS then the loops (TRAINC_GEMM=off)" \
    cmp -s "$out/fused/w40TRAINC_GEMM=off" "$out/unfused/w40TRAINC_GEMM=off"
check "negative control: 39 fused steps against 40 unfused differ" \
    sh -c "test -s '$out/fused/w39TRAINC_GEMM=' && ! cmp -s '$out/fused/w39TRAINC_GEMM=' '$out/unfused/w40TRAINC_GEMM='"
(cd "$out/fused" && ./epi gradcheck >"$out/gradcheck.txt" 2>&1)
check "gradcheck passes with the epilogues in the store (float, the kinks apart)" \
    grep -q '^gradcheck ok' "$out/gradcheck.txt"
