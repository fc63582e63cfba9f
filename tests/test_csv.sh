# CSV as users have it, end to end (the fixtures in tests/data/): quoted
# headers and cells, a detected or given delimiter (comma, semicolon, tab),
# the label by name, index or last, columns chosen or dropped, class names
# as labels (taken from the file or listed in the spec), saved with the model
# and printed by eval and predict; a header told from data, and the warning
# when header = true drops a row of numbers; predict on the training CSV as
# it is. The refusals are in test_errors.sh.
. tests/lib.sh
t=$TRAINC_TMP/csv
rm -rf "$t" && mkdir -p "$t"
data=$(pwd)/tests/data

# spec NAME DATA LABELS OUT [TRAIN [FEATURES]]: a small classifier on DATA (a
# csv { } expression) with labels LABELS, OUT classes and FEATURES inputs (2)
spec() {
    local train='train { batch = 8, epochs = 40, seed = 1 }'
    [ -n "$5" ] && train=$5
    printf '%s\n' "model \"$1\"" "data = $2" "local x = input { ${6:-2} }" "local y = $3" \
        "minimize(cross_entropy(linear(relu(linear(x, 8)), $4), y))" \
        'optimizer = adam { lr = 0.05 }' "$train" >"$t/$1.lua"
}
# build NAME: generates and builds $t/NAME.lua into $t/NAME/
build() { gen_build "$t/$1.lua" "$t/$1" 2>"$t/$1.gen.err"; }
# run_in NAME COMMAND...: runs the trainer of NAME in its folder
run_in() { (cd "$t/$1" && shift && "$@"); }
# no_warnings DIR: the generated C compiles without a warning, -Werror
no_warnings() {
    (cd "$1" && ${TRAINC_SYSTEM_CC:-cc} -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only \
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. -I/usr/include/x86_64-linux-gnu/openblas-pthread \
        model.c eval.c predict_cmd.c buffers.c)
}
acc() { sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' | tail -1; }

# ---- iris-like: a quoted header, species names, labels { } ----
spec iris "csv { train = \"$data/iris_names.csv\", test = \"$data/iris_names.csv\", label = \"species\", standardize = true }" \
    'labels { }' 'y:classes()' 'train { batch = 15, epochs = 60, seed = 1 }' 4
check "iris names: generates and builds with labels { } and y:classes() (the classes counted in the file)" build iris
check "iris names: ... 3 of them" grep -q 'MODEL_CLASSES 3 ' "$t/iris/model.h"
check "iris names: the sorted names are saved in model.c as C strings" \
    grep -qzF $'model_class_names[] = {\n    "setosa",\n    "versicolor",\n    "virginica",\n};' "$t/iris/model.c"
check "iris names: 45 rows under a detected quoted header" grep -q 'MODEL_N_TRAIN 45 ' "$t/iris/model.h"
check "iris names: the generated C compiles with -Werror" no_warnings "$t/iris"
run_in iris ./iris train --quiet >"$t/iris.train" 2>&1
check "iris names: trains to accuracy 1 on separable species" \
    test "$(acc <"$t/iris.train")" = 1.0000
run_in iris ./iris eval >"$t/iris.eval" 2>&1
check "iris names: eval reads the test file's names through the saved classes" \
    grep -q '^test loss .* accuracy 1.0000' "$t/iris.eval"
check "iris names: eval's confusion matrix names the classes" \
    grep -qE '^true +versicolor +0 +15 +0$' "$t/iris.eval"
check "iris names: eval's per-class table names the classes" grep -qE '^virginica +1\.0000' "$t/iris.eval"
run_in iris ./iris predict "$data/iris_names.csv" >"$t/iris.pred" 2>"$t/iris.pred.err"
check "iris names: predict reads the training CSV as it is (label column dropped by its name)" \
    test "$(wc -l <"$t/iris.pred")" = 46
check "iris names: predict's header names the classes" \
    test "$(head -1 "$t/iris.pred")" = "class,p_setosa,p_versicolor,p_virginica"
check "iris names: predict prints the class names" \
    test "$(sed -n '2,4s/,.*//p' "$t/iris.pred" | tr '\n' ' ')" = "setosa versicolor virginica "
cut -d, -f1-4 "$data/iris_names.csv" >"$t/iris_features.csv"
run_in iris ./iris predict "$t/iris_features.csv" >"$t/iris.pred2" 2>&1
check "iris names: predict on the features alone gives the same" cmp -s "$t/iris.pred" "$t/iris.pred2"
run_in iris ./iris predict "$data/iris_names.csv" --label species >"$t/iris.pred3" 2>&1
run_in iris ./iris predict "$data/iris_names.csv" --label 4 >"$t/iris.pred4" 2>&1
run_in iris ./iris predict "$data/iris_names.csv" --label last >"$t/iris.pred5" 2>&1
check "iris names: predict --label by name, index and last give the same" \
    sh -c "cmp -s '$t/iris.pred' '$t/iris.pred3' && cmp -s '$t/iris.pred' '$t/iris.pred4' && cmp -s '$t/iris.pred' '$t/iris.pred5'"
run_in iris ./iris predict "$t/iris_features.csv" --label 0 >"$t/iris.pred6" 2>&1
check "iris names: negative control, --label 0 drops a feature column instead" \
    grep -q "3 features per row, the model expects 4" "$t/iris.pred6"

# ---- the same rows without a header: a name in the label column is no header ----
spec iris_nohdr "csv { train = \"$data/iris_noheader.csv\", label = -1 }" 'labels { }' 3 \
    'train { batch = 4, epochs = 1, seed = 1 }' 4
check "no header: builds with label = -1 (the last column)" build iris_nohdr
check "no header: a first row with a class name is data (12 rows, not 11)" \
    grep -q 'MODEL_N_TRAIN 12 ' "$t/iris_nohdr/model.h"
sed 's/label = -1/label = "last"/' "$t/iris_nohdr.lua" >"$t/iris_last.lua"
"$TRAINC" gen -q "$t/iris_last.lua" -o "$t/iris_last" 2>/dev/null
source_of() { sed -n '/^const rt_source model_train_data/,/^};/p' "$1"; }
check "no header: label = \"last\" and label = -1 are the same source" \
    test "$(source_of "$t/iris_nohdr/model.c")" = "$(source_of "$t/iris_last/model.c")"
check "no header: ... which says RT_CSV_LAST" grep -q '.label_col = RT_CSV_LAST,' "$t/iris_last/model.c"

# ---- semicolons with decimal points, the label last, the names listed ----
spec semi "csv { train = \"$data/semicolon.csv\", label = \"last\" }" \
    'labels { classes = { "class_0", "class_1", "class_2" } }' 3 \
    'train { batch = 10, epochs = 60, seed = 1 }' 3
check "semicolons: the delimiter is detected, builds" build semi
run_in semi ./semi train --quiet >"$t/semi.train" 2>&1
check "semicolons: trains (accuracy > 0.9)" gt "$(acc <"$t/semi.train")" 0.9
run_in semi ./semi eval >"$t/semi.eval" 2>&1
check "semicolons: eval names the listed classes" grep -qE '^true +class_2 ' "$t/semi.eval"
sed 's/label = "last" }/label = "last", sep = ";" }/' "$t/semi.lua" >"$t/semi_sep.lua"
"$TRAINC" gen -q "$t/semi_sep.lua" -o "$t/semi_sep" 2>/dev/null
check "semicolons: sep = \";\" given reads the same" grep -q 'MODEL_N_TRAIN 30 ' "$t/semi_sep/model.h"
check "semicolons: the given sep is in model.c" grep -q '.sep = 59, /\* given \*/' "$t/semi_sep/model.c"
sed 's/labels { classes = { "class_0", "class_1", "class_2" } }/labels { classes = 3 }/' "$t/semi.lua" >"$t/semi_k.lua"
"$TRAINC" gen -q "$t/semi_k.lua" -o "$t/semi_k" 2>/dev/null
check "semicolons: labels { classes = 3 } on a file of 3 names takes them, sorted" \
    test "$(sed -n '/model_class_names\[\] = {/,/};/p' "$t/semi_k/model.c" | tr -d ' \n')" \
    = 'constchar*constmodel_class_names[]={"class_0","class_1","class_2",};'

# ---- tabs, no header, the label first, yes/no ----
spec tabs "csv { train = \"$data/tabs.tsv\", label = 0 }" 'labels { }' 2 \
    'train { batch = 8, epochs = 60, seed = 1 }'
check "tabs: builds" build tabs
check "tabs: 24 rows, classes no and yes" \
    test "$(grep -c 'MODEL_N_TRAIN 24 ' "$t/tabs/model.h")$(sed -n '/model_class_names\[\] = {/,/};/p' "$t/tabs/model.c" | tr -d ' \n')" \
    = '1constchar*constmodel_class_names[]={"no","yes",};'
run_in tabs ./tabs train --quiet >"$t/tabs.train" 2>&1
check "tabs: trains (accuracy > 0.9)" gt "$(acc <"$t/tabs.train")" 0.9
run_in tabs ./tabs predict "$data/tabs.tsv" >"$t/tabs.pred" 2>&1
check "tabs: predict on the training file prints yes and no" \
    test "$(cut -d, -f1 "$t/tabs.pred" | sort -u | tr '\n' ' ')" = "class no yes "
check "tabs: ... as the labels say (the label column dropped by the column count)" \
    test "$(tail -n +2 "$t/tabs.pred" | cut -d, -f1 | tr '\n' ' ')" = "$(cut -f1 "$data/tabs.tsv" | tr '\n' ' ')"

# ---- an id column and a quoted text column dropped; CRLF; quotes ----
spec drop "csv { train = \"$data/with_id.csv\", label = \"label\", drop = { \"id\", \"comment, free text\" } }" \
    'labels { }' 2 'train { batch = 5, epochs = 60, seed = 1 }'
check "drop: builds without the id and the quoted text column" build drop
check "drop: two features left, 20 rows (a quoted cell's line end is no row)" \
    sh -c "grep -q 'MODEL_FEATURES 2 ' '$t/drop/model.h' && grep -q 'MODEL_N_TRAIN 20 ' '$t/drop/model.h'"
run_in drop ./drop train --quiet >"$t/drop.train" 2>&1
check "drop: trains (accuracy > 0.9)" gt "$(acc <"$t/drop.train")" 0.9
spec feat "csv { train = \"$data/with_id.csv\", label = \"label\", features = { \"x1\", 3 } }" \
    'labels { }' 2 'train { batch = 5, epochs = 60, seed = 1 }'
check "features: builds with columns by name and by index" build feat
run_in feat ./feat train --quiet >"$t/feat.train" 2>&1
check "features: { \"x1\", 3 } trains exactly as drop = { id, comment }" cmp -s "$t/drop.train" "$t/feat.train"
spec feat_rev "csv { train = \"$data/with_id.csv\", label = \"label\", features = { 3, \"x1\" } }" \
    'labels { }' 2 'train { batch = 5, epochs = 60, seed = 1 }'
build feat_rev
run_in feat_rev ./feat_rev train --quiet >"$t/feat_rev.train" 2>&1
check "features: negative control, { 3, \"x1\" } swaps the inputs and trains otherwise" \
    sh -c "! cmp -s '$t/feat.train' '$t/feat_rev.train'"
run_in drop ./drop predict "$data/with_id.csv" >"$t/drop.pred" 2>&1
check "drop: predict on the training CSV drops the same columns (20 rows of yes/no)" \
    test "$(tail -n +2 "$t/drop.pred" | cut -d, -f1 | sort -u | tr '\n' ' ')" = "no yes "
printf 'x1,x2\n-1.2,0.3\n1.1,-0.2\n' >"$t/x1x2.csv"
run_in drop ./drop predict "$t/x1x2.csv" >"$t/drop.pred2" 2>&1
check "drop: predict on a file of the features alone (no id to drop) reads 2 rows" \
    test "$(tail -n +2 "$t/drop.pred2" | cut -d, -f1 | tr '\n' ' ')" = "no yes "
printf 'a,b\n-1.0,0.3\n1.0,-0.2\n' >"$t/ab.csv"
run_in tabs ./tabs predict "$t/ab.csv" >"$t/tabs.pred2" 2>&1
check "tabs: predict on 2 named features (no label column by the count) reads them" \
    test "$(tail -n +2 "$t/tabs.pred2" | cut -d, -f1 | tr '\n' ' ')" = "no yes "

# ---- names that are hostile to C: quotes, */, ??/, backslashes, commas, UTF-8 ----
spec odd "csv { train = \"$data/odd_names.csv\", label = \"label\" }" 'labels { }' 6 \
    'train { batch = 4, epochs = 1, seed = 1 }' 1
check "odd names: builds (names escaped in C strings, none in a comment)" build odd
check "odd names: the generated C compiles with -Werror (no trigraph, no comment closed)" \
    no_warnings "$t/odd"
run_in odd ./odd train --quiet >/dev/null 2>&1
run_in odd ./odd predict "$data/odd_names.csv" >"$t/odd.pred" 2>&1
check "odd names: predict prints each name back byte for byte, as CSV cells" \
    test "$(head -1 "$t/odd.pred")" = 'class,p_a*/b,p_back\slash,"p_say ""hi""",p_what??/,"p_with, comma",p_ça va'

# ---- header = true on a file of numbers: a warning, one row fewer ----
printf '1,2,0\n3,4,1\n5,6,0\n7,8,1\n' >"$t/numbers.csv"
spec hdr_true "csv { train = \"$t/numbers.csv\", label = 2, header = true }" 'labels { classes = 2 }' 2
"$TRAINC" gen -q "$t/hdr_true.lua" -o "$t/hdr_true" 2>"$t/hdr_true.err"
check "header = true: a row of numbers dropped is warned of" \
    grep -qF "hdr_true.lua:2: warning: $t/numbers.csv: header = true drops line 1, which holds only numbers" "$t/hdr_true.err"
check "header = true: ... and dropped (3 rows)" grep -q 'MODEL_N_TRAIN 3 ' "$t/hdr_true/model.h"
spec hdr_detect "csv { train = \"$t/numbers.csv\", label = 2 }" 'labels { classes = 2 }' 2
"$TRAINC" gen -q "$t/hdr_detect.lua" -o "$t/hdr_detect" 2>"$t/hdr_detect.err"
check "header detected: a file of numbers has none, no warning (4 rows)" \
    sh -c "grep -q 'MODEL_N_TRAIN 4 ' '$t/hdr_detect/model.h' && ! test -s '$t/hdr_detect.err'"
