# The trainer's gradcheck in float on ReLU MLPs on standardised inputs
# (issue 13, item 8); every op's own gradient checks, in double, are rows of
# tests/ops/*.py run by test_ops.py. At float's step h = 1e-2 the finite
# differences cross the kinks of relu (a hidden unit of some row changing
# sign) and once failed correct models with relative errors of 0.2-1.15.
# gradcheck now takes each difference only where the backward pass's own
# gradient is smooth over the step (else at half the step, ...), and counts
# the values with a kink within every step apart. Iris-like (4-16-3) and
# breast-cancer-like (30-32-16-2) MLPs on random standardised CSVs pass at
# several seeds and at trained weights; wrong relu backward passes still
# fail.
. tests/lib.sh
fl=$TRAINC_TMP/gradcheck_float
rm -rf "$fl" && mkdir -p "$fl"
/usr/bin/python3 - "$fl" <<'PY'
import random, sys
def make(path, n, d, k):
    random.seed(d)
    means = [[random.gauss(0, 1) for _ in range(d)] for _ in range(k)]
    scales = [random.uniform(0.5, 20) for _ in range(d)]
    offs = [random.uniform(-5, 50) for _ in range(d)]
    with open(path, "w") as f:
        f.write(",".join("f%d" % j for j in range(d)) + ",label\n")
        for i in range(n):
            y = i % k
            f.write(",".join("%.3f" % (offs[j] + scales[j] * (means[y][j] + random.gauss(0, 1)))
                             for j in range(d)) + ",%d\n" % y)
make(sys.argv[1] + "/iris.csv", 150, 4, 3)
make(sys.argv[1] + "/cancer.csv", 300, 30, 2)
PY
mlp() { # mlp NAME FEATURES CLASSES BATCH WIDTH...: a relu MLP spec on NAME.csv
    local name=$1 d=$2 k=$3 b=$4 w
    shift 4
    {
        echo "model \"$name\""
        echo "data = csv { train = \"$name.csv\", label = \"label\", header = true, standardize = true }"
        echo "local x = input { $d }"
        echo "local y = labels { classes = $k }"
        echo "local h = x"
        for w in "$@"; do echo "h = relu(linear(h, $w))"; done
        echo "minimize(cross_entropy(linear(h, $k), y))"
        echo "optimizer = sgd { lr = 0.1 }"
        echo "train { batch = $b, epochs = 20 }"
    } >"$fl/$name.lua"
}
mlp iris 4 3 16 16
mlp cancer 30 2 32 32 16
gen_build "$fl/iris.lua" "$fl/iris" >"$fl/iris.log" 2>&1 &
gen_build "$fl/cancer.lua" "$fl/cancer" >"$fl/cancer.log" 2>&1
wait
for name in iris cancer; do
    bin=$fl/$name/$name
    fails=0 kinks=0 worst=0
    for seed in 1 2 3 4 5 6 7 8; do
        "$bin" gradcheck --quiet --seed "$seed" >"$fl/$name.$seed.out" 2>&1 || fails=$((fails + 1))
        line=$(grep '^gradcheck ' "$fl/$name.$seed.out")
        kinks=$((kinks + $(sed -n 's/.* \([0-9]*\) not: a kink.*/\1/p' <<<"$line")))
        e=$(sed -n 's/.*max relative error \([^ ]*\) .*/\1/p' <<<"$line")
        gt "$e" "$worst" && worst=$e
    done
    compared=$(sed -n 's/.*; \([0-9]*\) values compared.*/\1/p' "$fl/$name.1.out")
    check "float $name MLP: gradcheck passes at 8 seeds (failed $fails, worst $worst; $kinks values at a kink, about $compared compared per seed)" \
        test "$fails" -eq 0
    check "float $name MLP: fewer than 10% of the values at a kink ($kinks of about $((compared * 8)))" \
        test "$((kinks * 10))" -lt "$((compared * 8))"
    "$bin" train --quiet --weights "$fl/$name.w" >/dev/null
    "$bin" gradcheck --quiet --weights "$fl/$name.w" >"$fl/$name.trained.out" 2>&1
    check "float $name MLP: gradcheck --weights FILE passes at the trained weights ($(tail -1 "$fl/$name.trained.out"))" \
        sh -c "grep -q '^gradcheck ok' '$fl/$name.trained.out' && grep -q 'at $fl/$name.w)' '$fl/$name.trained.out'"
done
loss_at() { sed -n 's/.*; loss \([^ ]*\) at .*/\1/p' "$1"; }
check "gradcheck --weights checks at those weights: another loss than at the initial ones ($(loss_at "$fl/iris.trained.out") vs $(loss_at "$fl/iris.1.out"))" \
    sh -c "test -n '$(loss_at "$fl/iris.trained.out")' && test '$(loss_at "$fl/iris.trained.out")' != '$(loss_at "$fl/iris.1.out")'"
# the same MLP with the relu backward altered in a copy of the generated code
negf() { # negf NAME SED: gradcheck of an altered iris must fail
    local neg=$fl/neg_$1
    cp -r "$fl/iris" "$neg"
    sed -i -E "$2" "$neg/model.c"
    ninja -C "$neg" >"$neg.build.log" 2>&1
    "$neg/iris" gradcheck >"$neg.out" 2>&1
}
negf scaled 's/= in1 > 0 \? in2 : 0;/= in1 > 0 ? in2 * 1.05f : 0;/'
rc=$?
check "negative, float: relu's backward 5% too large fails ($(tail -1 "$fl/neg_scaled.out" | cut -c1-60))" \
    sh -c "grep -q 'in2 \* 1.05f' '$fl/neg_scaled/model.c' && test $rc -eq 1 && grep -q '^linear1.weight .*max relative error 0.0[3-9]' '$fl/neg_scaled.out'"
check "negative, float: ... and the layer after the relu still passes" \
    sh -c "grep '^linear2.weight ' '$fl/neg_scaled.out' | awk '{ exit !(\$NF < 0.02) }'"
negf leaky 's/= in1 > 0 \? in2 : 0;/= in1 >= 0 ? in2 : 0;/'
rc=$?
check "negative, float: relu's backward letting every gradient through fails ($(tail -1 "$fl/neg_leaky.out" | cut -c1-60))" \
    sh -c "grep -q 'in1 >= 0 ? in2' '$fl/neg_leaky/model.c' && test $rc -eq 1"
