# Rows held out of the training file (test = 0.2, valid = 0.1): on a
# class-sorted CSV, where the last rows are all one class, the drawn
# validation and test rows hold every class in proportion (within a row), the
# parts are disjoint, the same for every build and run of the spec and on
# resume; the trainer trains and validates on exactly the rows `split` lists
# (the same weights as training on those rows written to files of their own);
# order = "tail" keeps the old split, the last rows. The refusals are in
# test_errors.sh; rt_split_rows itself in build/tests/test_split.
. tests/lib.sh
out=$TRAINC_TMP/data_split
rm -rf "$out" && mkdir -p "$out"

# 100 rows sorted by class: 50 of class 0, 30 of class 1, 20 of class 2
awk 'BEGIN { print "a,b,label"; srand(3)
             for (i = 0; i < 100; i++) { c = i < 50 ? 0 : i < 80 ? 1 : 2
                                         printf "%.4f,%.4f,%d\n", c + rand(), rand() - c / 2, c } }' \
    >"$out/sorted.csv"

# spec NAME DATA-OPTIONS: a small classifier of the CSV
spec() {
    cat >"$out/$1.lua" <<LUA
model "$1"
data = csv { $2, label = "label", standardize = true }
local x = input { 2 }
local y = labels { classes = 3 }
minimize(cross_entropy(linear(relu(linear(x, 8)), 3), y))
optimizer = sgd { lr = 0.1, momentum = 0.9 }
train { batch = 8, epochs = 4, seed = 1 }
LUA
}
spec drawn 'train = "sorted.csv", test = 0.2, valid = 0.1'
spec tail 'train = "sorted.csv", valid = { fraction = 0.1, order = "tail" }'
spec noval 'train = "sorted.csv", test = 0.2'
spec seeded 'train = "sorted.csv", test = 0.2, valid = { fraction = 0.1, seed = 7 }'
for s in drawn tail noval seeded; do gen_build "$out/$s.lua" "$out/$s" >"$out/$s.log" 2>&1 & done
gen_build "$out/drawn.lua" "$out/again" >"$out/again.log" 2>&1
wait
check "the specs build" sh -c "for s in drawn tail noval seeded; do test -x '$out/'\$s/\$s || exit 1; done; test -x '$out/again/drawn'"

# parts FOLDER MODEL: "part class count" lines of its split
parts() { (cd "$1" && "./$2" split) | awk -F, 'NR > 1 { print $2, ($1 < 50 ? 0 : $1 < 80 ? 1 : 2) }' | sort | uniq -c | awk '{ print $2, $3, $1 }'; }
parts "$out/drawn" drawn >"$out/drawn.parts"
check "split: 70 training, 10 validation and 20 test rows, each row in one part" \
    sh -c "(cd '$out/drawn' && ./drawn split) | awk -F, 'NR > 1 { n[\$2]++; rows[\$1]++ } END { for (r in rows) if (rows[r] != 1) exit 1; exit !(n[\"train\"] == 70 && n[\"valid\"] == 10 && n[\"test\"] == 20 && length(rows) == 100) }'"
# each class's share: 50/30/20 of 10 validation and 20 test rows
check "split: every class in validation in proportion (5 3 2 rows of classes of 50 30 20: $(grep valid "$out/drawn.parts" | awk '{ printf "%s ", $3 }'))" \
    test "$(grep valid "$out/drawn.parts" | awk '{ printf "%s ", $3 }')" = "5 3 2 "
check "split: every class in the test rows in proportion (10 6 4: $(grep test "$out/drawn.parts" | awk '{ printf "%s ", $3 }'))" \
    test "$(grep test "$out/drawn.parts" | awk '{ printf "%s ", $3 }')" = "10 6 4 "
check "split: the held-out rows are a draw, not the last rows" \
    sh -c "(cd '$out/drawn' && ./drawn split) | awk -F, 'NR > 1 && \$1 < 70 && \$2 != \"train\" { n++ } END { exit !(n > 10) }'"
parts "$out/tail" tail >"$out/tail.parts"
check "split: order = \"tail\" holds out the last 10 rows, all of class 2, as before" \
    sh -c "(cd '$out/tail' && ./tail split) | awk -F, 'NR > 1 && \$2 == \"valid\" { if (\$1 < 90) bad = 1; n++ } END { exit bad || n != 10 }'"
(cd "$out/drawn" && ./drawn split -o "$out/drawn.split")
(cd "$out/again/" && ./drawn split -o "$out/again.split")
check "split: the same rows from another build of the spec" cmp -s "$out/drawn.split" "$out/again.split"
check "split: --seed (the weights' and the order's seed) leaves the split as it is" \
    sh -c "(cd '$out/drawn' && ./drawn split --seed 9) | cmp -s - '$out/drawn.split'"
check "split: the test rows do not depend on the validation fraction" \
    bash -c "(cd '$out/noval' && ./noval split) | grep test | cmp -s - <(grep test '$out/drawn.split')"
check "split: valid = { seed = 7 } draws other rows (the draw's seed, not the training seed)" \
    sh -c "(cd '$out/seeded' && ./seeded split) >'$out/seeded.split' && ! cmp -s '$out/seeded.split' '$out/drawn.split'"
check "info says which rows are held out" \
    sh -c "cd '$out/drawn' && ./drawn info | grep -q 'held out   10 validation and 20 test rows of the training file, drawn from the seed, stratified by class'"

# --- training: the same figures every run, and on resume
run() { (cd "$1" && shift && "$@" --threads 1 --quiet); }
run "$out/drawn" ./drawn train --metrics m1.csv --weights w1 >"$out/run1.out"
run "$out/again" ./drawn train --metrics m2.csv --weights w2 >"$out/run2.out"
check "two builds and runs: the same weights" cmp -s "$out/drawn/w1" "$out/again/w2"
check "two builds and runs: the same metrics (the seconds aside)" \
    bash -c "cut -d, -f1-8 '$out/drawn/m1.csv' | cmp -s - <(cut -d, -f1-8 '$out/again/m2.csv')"
check "the validation figures are in the metrics" \
    sh -c "tail -1 '$out/drawn/m1.csv' | awk -F, '{ exit !(\$5 > 0 && \$6 > 0) }'"
run "$out/drawn" ./drawn train --epochs 2 --steps 13 --checkpoint ck --weights w3 >/dev/null
run "$out/drawn" ./drawn train --resume ck --weights w3 >/dev/null
check "resumed within an epoch: the same weights as the uninterrupted run" cmp -s "$out/drawn/w1" "$out/drawn/w3"

# --- the rows trained and validated on are those split lists: the same
# weights and figures as the rows written to files of their own
rows_of() { # rows_of PART SPLIT CSV: the CSV's rows of that part, header kept
    awk -F, -v part="$1" 'NR == FNR { if (FNR > 1 && $2 == part) keep[$1 + 1] = 1; next }
                          FNR == 1 || keep[FNR - 1]' "$2" "$3"
}
rows_of train "$out/drawn.split" "$out/sorted.csv" >"$out/train_rows.csv"
rows_of valid "$out/drawn.split" "$out/sorted.csv" >"$out/valid_rows.csv"
rows_of test "$out/drawn.split" "$out/sorted.csv" >"$out/test_rows.csv"
spec byhand_v 'train = "train_rows.csv", test = "valid_rows.csv"'
spec byhand_t 'train = "train_rows.csv", test = "test_rows.csv"'
head -91 "$out/sorted.csv" >"$out/head.csv" && (head -1 "$out/sorted.csv" && tail -10 "$out/sorted.csv") >"$out/last.csv"
spec byhand_tail 'train = "head.csv", test = "last.csv"'
for s in byhand_v byhand_t byhand_tail; do gen_build "$out/$s.lua" "$out/$s" >"$out/$s.log" 2>&1 & done
wait
for s in byhand_v byhand_t byhand_tail; do run "$out/$s" "./$s" train --weights w >"$out/$s.out"; done
run "$out/tail" ./tail train --metrics m.csv --weights w >"$out/tail.out"
same_params() { # same_params DIR_A MODEL_A DIR_B MODEL_B: the exported arrays are equal
    (cd "$1" && "./$2" export exp --weights "${5:-w1}" --quiet) && (cd "$3" && "./$4" export exp --weights w --quiet) &&
        for f in "$1"/exp/*.npy; do cmp -s "$f" "$3/exp/$(basename "$f")" || return 1; done
}
check "the drawn training rows train to the weights of the same rows in a file of their own" \
    same_params "$out/drawn" drawn "$out/byhand_v" byhand_v
# the validation loss after the last epoch is the test loss of the file of
# the validation rows (metrics: %.9g; the test line: %.6g)
vl=$(tail -1 "$out/drawn/m1.csv" | awk -F, '{ printf "%.6g", $5 }')
tl=$(awk '/^test loss/ { print $3 }' "$out/byhand_v.out")
check "the validation loss is that of the drawn validation rows ($vl, $tl)" test -n "$vl" -a "$vl" = "$tl"
check "the test figures are those of the drawn test rows" \
    test "$(grep '^test' "$out/run1.out")" = "$(grep '^test' "$out/byhand_t.out")"
check "order = \"tail\": the weights of training on the first 90 rows, as before" \
    same_params "$out/tail" tail "$out/byhand_tail" byhand_tail w
vl=$(tail -1 "$out/tail/m.csv" | awk -F, '{ printf "%.6g", $5 }')
tl=$(awk '/^test loss/ { print $3 }' "$out/byhand_tail.out")
check "order = \"tail\": the validation loss is that of the last 10 rows ($vl, $tl)" test -n "$vl" -a "$vl" = "$tl"

# --- without classes (a regression): a draw of all rows, not stratified
cat >"$out/reg.lua" <<'LUA'
model "reg"
data = linreg { n = 50, d = 3, valid = 0.2 }
local x = input { 3 }
local y = labels { 1 }
minimize(mse(linear(x, 1), y))
optimizer = sgd { lr = 0.1 }
train { batch = 10, epochs = 2 }
LUA
gen_build "$out/reg.lua" "$out/reg" >"$out/reg.log" 2>&1
check "a regression's validation rows are drawn from all rows" \
    sh -c "(cd '$out/reg' && ./reg split) | awk -F, 'NR > 1 && \$2 == \"valid\" { n++; if (\$1 < 40) early++ } END { exit !(n == 10 && early > 0) }'"
check "info of a regression: drawn, not stratified" \
    sh -c "cd '$out/reg' && ./reg info | grep -q '10 validation and 0 test rows of the training file, drawn from the seed\$'"
