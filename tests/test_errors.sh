# Bad input gets a clear error and the right exit code, never a crash: the
# spec sandbox and its limits, spec mistakes, C-hostile names, bad data (at
# generation and in the built trainer), bad weights files and bad usage.
# Exit codes: trainc 0 ok, 1 failure at run (data), 2 bad usage or bad spec;
# the trainer 0 ok, 1 bad data or weights, 2 bad usage.
. tests/lib.sh
t=$TRAINC_TMP/errors
rm -rf "$t" && mkdir -p "$t"

# expect NAME RC TEXT COMMAND...: COMMAND (stdout and stderr together) exits
# with RC and prints TEXT (a fixed string; several separated by '|' must all
# appear), without crashing: no signal, no "Segmentation fault", no
# "internal error". On failure the output is shown under the "not ok" line.
expect() {
    local name=$1 want_rc=$2 want_text=$3
    shift 3
    local output rc why=""
    output=$("$@" 2>&1)
    rc=$?
    last_output=$output last_rc=$rc
    [ "$rc" -eq "$want_rc" ] || why="exit $rc, expected $want_rc"
    [ "$rc" -lt 128 ] || why="crashed or timed out (exit $rc)"
    case "$output" in
    *"Segmentation fault"* | *"core dumped"* | *"internal error"* | *"Illegal instruction"*)
        why="crashed: $output" ;;
    esac
    local part parts=()
    [ -n "$want_text" ] && IFS='|' read -r -a parts <<<"$want_text"
    for part in "${parts[@]}"; do
        case "$output" in *"$part"*) ;; *) why="${why:+$why; }no '$part' in the message" ;; esac
    done
    if [ -z "$why" ]; then
        echo "ok - $name"
    else
        echo "not ok - $name ($why)"
        printf '%s\n' "$output" | head -6 | sed 's/^/    # /'
    fi
}

# expect_last NAME TEXT: the output of the last expect also has TEXT
expect_last() {
    case "$last_output" in
    *"$2"*) echo "ok - $1" ;;
    *)
        echo "not ok - $1 (no '$2' in the message)"
        printf '%s\n' "$last_output" | head -6 | sed 's/^/    # /'
        ;;
    esac
}

# spec NAME LINES...: writes $t/NAME.lua, one argument a line
spec() {
    local name=$1
    shift
    printf '%s\n' "$@" >"$t/$name.lua"
}

# a small valid model around the lines given: the head is lines 1-4, so the
# first line given is line 5
H1='model "m"'
H2='data = xor { n = 4 }'
H3='local x = input { 2 }'
H4='local y = labels { 1 }'
LOSS='minimize(bce(sigmoid(linear(x, 1)), y))'
OPT='optimizer = sgd { lr = 0.5 }'
TRAIN='train { batch = 4, epochs = 1 }'
model_with() { # model_with NAME LINE...: the head, the lines, then a loss, optimizer, train
    local name=$1
    shift
    spec "$name" "$H1" "$H2" "$H3" "$H4" "$@" "$LOSS" "$OPT" "$TRAIN"
}
gen() { timeout $((60 * time_factor)) "$TRAINC" gen -q "$t/$1.lua" -o "$t/out/$1"; }
# run_in DIR COMMAND...: runs a trainer in its folder (where its weights go)
run_in() { (cd "$1" && shift && timeout $((60 * time_factor)) "$@"); }

# bg NAME COMMAND...: runs COMMAND in the background, its output to
# $t/NAME.out and its exit status to $t/NAME.rc; `wait` for it, then replay
bg() {
    local name=$1
    shift
    ("$@" >"$t/$name.out" 2>&1; echo $? >"$t/$name.rc") &
}
# replay NAME: prints a background command's output and returns its status
replay() {
    cat "$t/$1.out"
    return "$(cat "$t/$1.rc")"
}

# ---- the control: the head and tail alone are a good spec ----
model_with good
expect "control: the test's small spec generates" 0 "" gen good

# ---- the sandbox: no files, processes or code loading ----
model_with sb_os "os.execute(\"touch $t/PWNED\")"
expect "sandbox: os.execute is not available" 2 "sb_os.lua:5:|'os' is not available" gen sb_os
check "sandbox: the command given to os.execute did not run" test ! -e "$t/PWNED"
model_with sb_io 'local f = io.open("/etc/passwd")'
expect "sandbox: io.open is not available" 2 "sb_io.lua:5:|'io' is not available" gen sb_io
model_with sb_require 'local m = require "x"'
expect "sandbox: require is not available" 2 "sb_require.lua:5:|'require' is not available" gen sb_require
model_with sb_load 'local f = load("return 1")'
expect "sandbox: load is not available" 2 "sb_load.lua:5:|'load' is not available" gen sb_load
model_with sb_dofile 'dofile("/etc/passwd")'
expect "sandbox: dofile is not available" 2 "sb_dofile.lua:5:|'dofile' is not available" gen sb_dofile
model_with sb_debug 'local i = debug.getinfo(1)'
expect "sandbox: debug.getinfo is not available" 2 "sb_debug.lua:5:|'debug' is not available" gen sb_debug
model_with sb_dump 'local b = string.dump(function() end)'
expect "sandbox: string.dump is not available" 2 "sb_dump.lua:5:|not available" gen sb_dump

# ---- the limits: instructions and memory ----
# (stopped by the count, not by gen's timeout: the message says which; the
# timeouts only catch a hang, with room for a loaded machine: the loops take
# 0.6 and 2.4 CPU seconds)
spec loop 'model "m"' 'while true do end'
expect "limits: an endless loop is stopped by the instruction limit" 2 \
    "loop.lua:|Lua instructions (an endless loop?)" gen loop
expect_last "limits: the instruction-limit message names the loop's line" "loop.lua:2:"
# pcall must not catch the limit: the spec would run on for ever
spec loop_pcall 'model "m"' 'while true do pcall(function() while true do end end) end'
expect "limits: an endless loop inside pcall is stopped too" 2 "Lua instructions" \
    timeout $((30 * time_factor)) "$TRAINC" gen -q "$t/loop_pcall.lua" -o "$t/out/loop_pcall"
# Lua patterns backtrack in C, where the instruction count does not reach:
# a pattern that could backtrack for hours over a long string is refused;
# ordinary uses of the pattern functions still work
spec pattern 'model "m"' 'local s = string.rep("a", 20000)' 'local r = s:find(".-.-.-b")'
expect "limits: a backtracking pattern over a long string is refused" 2 \
    "pattern.lua:3:|string.find: a pattern with 3 repetitions over 20000 characters" \
    timeout $((60 * time_factor)) "$TRAINC" gen -q "$t/pattern.lua" -o "$t/out/pattern"
model_with patterns_ok 'assert(("x.y"):find(".", 1, true) == 2 and ("a,b"):gsub(",", ";") == "a;b")' \
    'local k = 0; for w in ("ab cd"):gmatch("%a+") do k = k + 1 end; assert(k == 2)' \
    'assert(("abc"):match("^(a)") == "a" and not string.rep("a", 200):find(".-.-b"))'
expect "limits: string.find, gsub, gmatch and match still work on short strings" 0 "" gen patterns_ok
# string.rep works in C too: a loop making big strings and dropping them
# runs few instructions and holds little memory; allocating counts as work
spec rep_loop 'model "m"' "for i = 1, 1e9 do ('x'):rep(100000) end"
expect "limits: a loop making big strings in C is stopped by the instruction limit" 2 \
    "rep_loop.lua:2:|Lua instructions" \
    timeout $((60 * time_factor)) "$TRAINC" gen -q "$t/rep_loop.lua" -o "$t/out/rep_loop"
# ... and past the limit the count hook runs at the next instruction, with
# the loop's line: 10 MB strings do not go on for another 10000 instructions
spec rep_big 'model "m"' "for i = 1, 1e9 do (('x'):rep(100)):rep(100000) end"
expect "limits: a loop making 10 MB strings is stopped at the line that passed the limit" 2 \
    "rep_big.lua:2:|Lua instructions" \
    timeout $((60 * time_factor)) "$TRAINC" gen -q "$t/rep_big.lua" -o "$t/out/rep_big"
spec mem 'model "m"' 'local t, i = {}, 0' \
    'while true do i = i + 1; t[i] = string.rep("x", 1000) .. i end'
expect "limits: endless allocation is stopped by the memory limit" 2 \
    "mem.lua|more than 256 MiB of memory" gen mem

# ---- the files the later sections use; the trainers they need build in the
# background meanwhile (a build takes seconds) ----
spec names 'model "my-model! 2"' "$H2" "$H3" "$H4" 'local h = x' \
    'for _, n in ipairs { "int", "for", "x y", "1abc", "main", "a-b", "a_b", "x", "y",' \
    '                     "static", "model_init", "memcpy", "real", "param" } do' \
    '  h = tanh(linear(h, 2, { name = n }))' \
    'end' \
    'minimize(bce(sigmoid(linear(h, 1, { name = "model" })), y))' "$OPT" "$TRAIN"
# names are free text: quotes, backslashes, comment ends, newlines and
# trigraphs must not break the C they end up in (comments and strings)
spec names2 'model "q\"*/ ??/ \n z"' "$H2" "$H3" "$H4" 'local h = x' \
    'for _, n in ipairs { "a\"b", "c\\d", "*/ e /*", "f\ng", "h??/", "%s%n" } do' \
    '  h = tanh(linear(h, 2, { name = n }))' \
    'end' "$LOSS" "$OPT" "$TRAIN"
d=$t/data
mkdir -p "$d"
python3 - "$d" <<'EOF'
import struct, sys
d = sys.argv[1]
def idx(name, dims, payload, head=None):
    with open(f"{d}/{name}", "wb") as f:
        f.write(head if head is not None else bytes([0, 0, 8, len(dims)]))
        f.write(b"".join(struct.pack(">I", n) for n in dims))
        f.write(bytes(payload))
n = 8
idx("img.good", [n, 2, 2], [i % 256 for i in range(n * 4)])
idx("lab.good", [n], [i % 3 for i in range(n)])
idx("img.magic", [n, 2, 2], [0] * (n * 4), head=b"\x12\x34\x08\x03")
idx("img.trunc", [n, 2, 2], [0] * (n * 4 - 5))
idx("lab.trunc", [n], [0] * (n - 3))
idx("img.feat", [n, 3, 2], [0] * (n * 6))
idx("lab.range", [n], [7 if i == 5 else i % 3 for i in range(n)])
EOF
cp "$d/img.good" "$d/img" && cp "$d/lab.good" "$d/lab"
printf 'a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n' >"$d/good.csv"
printf 'a,b,label\n1,2,0\n3,4,7\n5,6,2\n7,8,1\n' >"$d/range.csv"
printf 'a,b,label\n1,2,0\n3,x4,1\n5,6,2\n7,8,1\n' >"$d/nonnum.csv"
printf 'a,b,label\n1,2,0\n3,4\n5,6,2\n7,8,1\n' >"$d/ragged.csv"
: >"$d/empty.csv"
printf 'a,b,c,label\n1,2,0,0\n3,4,1,1\n5,6,2,2\n7,8,1,1\n' >"$d/feat.csv"
cp "$d/good.csv" "$d/train.csv"

idx_spec() { # idx_spec NAME IMAGES LABELS
    spec "$1" 'model "idxm"' \
        "data = idx { train = { images = \"$2\", labels = \"$3\" } }" \
        'local x = input { 4 }' 'local y = labels { classes = 3 }' \
        'minimize(cross_entropy(linear(x, 3), y))' "$OPT" 'train { batch = 4, epochs = 1 }'
}
csv_spec() { # csv_spec NAME FILE
    spec "$1" 'model "csvm"' "data = csv { train = \"$2\", label = \"label\" }" \
        'local x = input { 2 }' 'local y = labels { classes = 3 }' \
        'minimize(cross_entropy(linear(x, 3), y))' "$OPT" 'train { batch = 2, epochs = 1 }'
}

idx_spec idx_ok "$d/img" "$d/lab"
csv_spec csv_ok "$d/train.csv"
# a data path relative to the spec must work wherever the trainer runs (it
# runs in the user's folder, under `trainc run` too)
mkdir -p "$t/rel/data"
cp "$d/good.csv" "$t/rel/data/rel.csv"
csv_spec rel "data/rel.csv"
mv "$t/rel.lua" "$t/rel/rel.lua"
bg names "$TRAINC" build "$t/names.lua" -o "$t/out/names"
bg names2 "$TRAINC" build "$t/names2.lua" -o "$t/out/names2"
bg idx_ok "$TRAINC" build -q "$t/idx_ok.lua" -o "$t/out/idxm"
bg csv_ok "$TRAINC" build -q "$t/csv_ok.lua" -o "$t/out/csvm"
# a build and a training: it shares the cores with the four builds above, so
# it gets the build's time, not run_in's 60 s (it timed out under load)
bg rel sh -c 'cd "$1" && shift && exec "$@"' sh "$t" \
    timeout $((300 * time_factor)) "$TRAINC" run -q rel/rel.lua -o out/rel -- --quiet

# ---- spec mistakes name the file and line of the offending call ----
spec syntax "$H1" "$H2" "$H3" "$H4" 'local h = linear(x, 3' "$OPT" "$TRAIN"
expect "spec: a Lua syntax error gives file:line" 2 "syntax.lua:6:|')' expected" gen syntax
model_with typo_fn 'local h = rleu(x)'
expect "spec: an unknown function suggests the right one" 2 \
    "typo_fn.lua:5:|unknown name 'rleu'|did you mean 'relu'?" gen typo_fn
model_with typo_opt 'local h = linear(x, 3, { bais = false })'
expect "spec: an unknown option suggests the right one" 2 \
    "typo_opt.lua:5:|unknown option 'bais'|did you mean 'bias'?" gen typo_opt
spec dim0 "$H1" "$H2" 'local x = input { 0 }' "$OPT" "$TRAIN"
expect "spec: input { 0 } is refused" 2 "dim0.lua:3:|input: dimension 1 is 0" gen dim0
model_with dimneg 'local p = param { -3 }'
expect "spec: param { -3 } is refused" 2 "dimneg.lua:5:|param: dimension 1 is -3" gen dimneg
spec dimhuge "$H1" "$H2" 'local x = input { 2147483647, 2147483647 }' "$OPT" "$TRAIN"
expect "spec: input { 2^31 - 1, 2^31 - 1 } is refused" 2 \
    "dimhuge.lua:3:|input: dimension 1 is 2147483647|between 1 and 2^30" gen dimhuge
# buffers past the memory budget: refused before any code is written, with
# the figure; a larger --max-memory lets the same spec through (tanh: a
# relu goes into its product's store, and its buffer with it)
spec budget "$H1" 'data = linreg { n = 100, d = 2 }' "$H3" "$H4" \
    'minimize(mse(linear(tanh(linear(x, 16000000)), 1), y))' "$OPT"
expect "limits: a spec whose buffers exceed the default 16 GiB budget is refused with the figure" 2 \
    "budget.lua: the model needs about 18.4 GiB of buffers, more than the budget of 16.0 GiB" \
    gen budget
model_with budget_small 'local h = linear(x, 40000)' 'local z = linear(relu(h), 1)'
expect "limits: --max-memory 1 refuses a 1.2 MiB model, naming both figures" 2 \
    "budget_small.lua: the model needs about 1.2 MiB|more than the budget of 1.0 MiB (--max-memory)" \
    "$TRAINC" gen -q "$t/budget_small.lua" -o "$t/out/budget_small" --max-memory 1
expect "limits: ... and --max-memory 64 lets it through" 0 "" \
    "$TRAINC" gen -q "$t/budget_small.lua" -o "$t/out/budget_small" --max-memory 64
expect "limits: nothing is written for a refused spec" 0 "" test ! -e "$t/out/budget/model.c"
# numbers a spec gives where whole numbers go: checked before they become
# ints (a fuzzer found classes = 2.4e43 converted unchecked)
spec classes_huge "$H1" "$H2" "$H3" 'local y = labels { classes = 2.4e43 }'
expect "spec: labels { classes = 2.4e43 } is refused" 2 \
    "classes_huge.lua:4:|classes = 2.4e+43; it must be a whole number from 2 to 2^24" gen classes_huge
spec classes_frac "$H1" "$H2" "$H3" 'local y = labels { classes = 2.5 }'
expect "spec: labels { classes = 2.5 } is refused" 2 "classes_frac.lua:4:|classes = 2.5" gen classes_frac
spec linreg_huge "$H1" 'data = linreg { n = 1e40, d = 2.5 }' "$H3" "$H4" "$LOSS" "$OPT"
expect "spec: linreg { n = 1e40, d = 2.5 } is refused" 2 \
    "linreg_huge.lua:2:|linreg: n = 1e+40; it must be a whole number from 1 to 2^26" gen linreg_huge
model_with patience_frac 'train { early_stopping = { patience = 1e300 } }'
expect "spec: early_stopping patience = 1e300 is refused" 2 \
    "patience_frac.lua:5:|patience = 1e+300; it must be a whole number from 1 to 2^30" gen patience_frac
# ... and every other count a spec gives (one check, spec_opt_whole in gen/spec/args.c)
spec linreg_frac "$H1" 'data = linreg { d = 2.5 }' "$H3" "$H4" "$LOSS" "$OPT"
expect "spec: linreg { d = 2.5 } is refused" 2 "linreg_frac.lua:2:|linreg: d = 2.5; it must be a whole" gen linreg_frac
spec data_seed "$H1" 'data = spirals { seed = -1 }' "$H3" "$H4" "$LOSS" "$OPT"
expect "spec: spirals { seed = -1 } is refused (it was taken for no seed)" 2 \
    "data_seed.lua:2:|spirals: seed = -1; it must be a whole number from 0 to 4294967295" gen data_seed
spec csv_label "$H1" 'data = csv { train = "a.csv", label = -2 }' "$H3" "$H4" "$LOSS" "$OPT"
expect "spec: csv { label = -2 } is refused (it was taken for no label)" 2 \
    "csv_label.lua:2:|csv: label = -2; it must be a whole number from 0 to 2^24" gen csv_label
spec csv_label_frac "$H1" 'data = csv { train = "a.csv", label = 2.5 }' "$H3" "$H4" "$LOSS" "$OPT"
expect "spec: csv { label = 2.5 } is refused (it was taken for column 0)" 2 \
    "csv_label_frac.lua:2:|csv: label = 2.5; it must be a whole" gen csv_label_frac
model_with epochs_frac 'train { epochs = 1.5 }'
expect "spec: train { epochs = 1.5 } is refused" 2 "epochs_frac.lua:5:|train: epochs = 1.5; it must be a whole" gen epochs_frac
model_with crop_huge 'train { augment = { crop = 5000 } }'
expect "spec: augment { crop = 5000 } is refused" 2 "crop_huge.lua:5:|augment: crop = 5000; it must be a whole number from 0 to 4096" gen crop_huge
spec recurse "$H1" "$H2" "$H3" 'local function f(n) return f(n + 1) + 1 end' 'f(1)'
expect "limits: endless recursion is a stack overflow naming the line" 2 \
    "recurse.lua:4:|stack overflow" gen recurse
spec noopt "$H1" "$H2" "$H3" "$H4" "$LOSS" "$TRAIN"
expect "spec: a missing optimizer is an error" 2 "noopt.lua|sets no optimizer" gen noopt
spec nomin "$H1" "$H2" "$H3" "$H4" 'local l = bce(sigmoid(linear(x, 1)), y)' "$OPT" "$TRAIN"
expect "spec: a missing minimize is an error" 2 "nomin.lua|no objective|minimize" gen nomin
spec nonscalar "$H1" "$H2" "$H3" "$H4" 'minimize(sigmoid(linear(x, 3)))' "$OPT" "$TRAIN"
expect "spec: a non-scalar objective is an error" 2 \
    "nonscalar.lua:5:|objective must be a scalar|[B x 3]" gen nonscalar
# one value per row is still one value per row, not a scalar
spec nonscalar1 "$H1" "$H2" "$H3" "$H4" 'minimize(linear(x, 1))' "$OPT" "$TRAIN"
expect "spec: a [B x 1] objective is an error too" 2 \
    "nonscalar1.lua:5:|objective must be a scalar|[B x 1]" gen nonscalar1

# ---- batch_norm, dropout, dropconnect ----
spec bn_b1 "$H1" "$H2" "$H3" "$H4" 'local h = batch_norm(linear(x, 3))' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' "$OPT" 'train { batch = 1, epochs = 1 }'
expect "norm: batch_norm at batch 1 (1 value per channel) is refused, as torch" 2 \
    "bn_b1.lua:5:|batch_norm|batch of 1 row|1 value per channel" gen bn_b1
spec bn_r1 "$H1" 'data = xor { n = 5 }' "$H3" "$H4" 'local h = batch_norm(linear(x, 3))' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' "$OPT" "$TRAIN"
expect "norm: batch_norm with a last batch of 1 row is refused, with the way out" 2 \
    "bn_r1.lua:5:|last partial batch of 1 row|drop_last = true" gen bn_r1
spec bn_r1ok "$H1" 'data = xor { n = 5 }' "$H3" "$H4" 'local h = batch_norm(linear(x, 3))' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' "$OPT" 'train { batch = 4, drop_last = true }'
expect "norm: ... which drop_last = true takes" 0 "" gen bn_r1ok
spec bn_2d1 "$H1" 'data = xor { n = 4 }' "$H3" "$H4" \
    'local h = batch_norm(linear(x, 4):reshape { 2, 2, 1 })' \
    'minimize(bce(sigmoid(linear(flatten(h), 1)), y))' "$OPT" 'train { batch = 1, epochs = 1 }'
expect "norm: batch_norm 2d at batch 1 with H x W = 2 is fine" 0 "" gen bn_2d1
model_with fc_twice 'local h = linear(x, 4, { name = "fc" })' 'h = linear(h, 4, { name = "fc" })'
expect "names: two layers of one name are refused, naming both lines" 2 \
    "fc_twice.lua:6:|two parameters are named 'fc.weight' (from line 5); names must differ" gen fc_twice
spec bn_group "$H1" "$H2" "$H3" "$H4" 'local h = batch_norm(linear(x, 3), { name = "bn" })' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' \
    'optimizer = sgd { lr = 0.5, groups = { { params = "running", lr = 0.1 } } }' "$TRAIN"
expect "norm: an optimizer group of running statistics only matches no parameter" 2 \
    "bn_group.lua|groups[1] matches no parameter" gen bn_group
# layer names equal to the locals of batch_norm's and dropout's code (and
# the step's noise key) are renamed in C: the model builds and trains
spec bn_names "$H1" "$H2" "$H3" "$H4" 'local h = batch_norm(linear(x, 4, { name = "b" }), { name = "mean" })' \
    'h = dropout(relu(linear(h, 4, { name = "noise" })), 0.5)' \
    'h = batch_norm(linear(h, 4, { name = "stream" }), { name = "invstd" }):reshape { 2, 2, 1 }' \
    'h = linear(flatten(batch_norm(h, { name = "q" })), 4, { name = "sg", dropconnect = 0.2 })' \
    'minimize(bce(sigmoid(linear(h, 1, { name = "mg" })), y))' "$OPT" "$TRAIN"
expect "norm: layers named b, mean, noise, stream, invstd, q, sg, mg build" 0 "" \
    "$TRAINC" build -q "$t/bn_names.lua" -o "$t/out/bn_names"
expect "norm: ... and train" 0 "train loss" run_in "$t/out/bn_names" ./m_ train --quiet

# ---- convolution: data whose features do not make the input's images ----
# (the ops' own refusals are rows of tests/ops/*.py, run by test_ops.py)
spec img_features "$H1" "$H2" 'local x = input { 1, 3, 3 }' "$H4" \
    'minimize(bce(sigmoid(linear(flatten(x), 1)), y))' "$OPT" "$TRAIN"
expect "conv: input { 1, 3, 3 } on data of 2 features (a spec error at the input's line)" 2 \
    "img_features.lua:3: input { 1, 3, 3 }:|2 features per row, but input expects 9" gen img_features

wait # for the background builds

# ---- C-hostile names: the generated C compiles warning-free and trains ----
check "names: a C-hostile model name and parameter names build" test -x "$t/out/names/my_model_2"
# (the renames are warnings of trainc's own, checked at the end)
check "names: ... without compiler warnings" sh -c "! grep -qE '[.][ch]:[0-9]+:[0-9]+: warning' '$t/names.out'"
expect "names: ... and the trainer trains" 0 "train loss" run_in "$t/out/names" ./my_model_2 train --quiet
# names keep letters, digits, '_', '.' and '-'; anything else becomes '_'
expect "names: ... and exports every parameter under its own (file-safe) name" 0 "" \
    sh -c "cd '$t/out/names' && ./my_model_2 export npy --quiet && test -f 'npy/a-b.weight.npy' \
           && test -f 'npy/a_b.weight.npy' && test -f 'npy/x_y.bias.npy' && test -f npy/int.weight.npy"
rc=$(cat "$t/names2.rc")
check "names: quotes, backslashes, */, newlines and ??/ in names build (exit $rc)" test "$rc" -eq 0
check "names: ... without compiler warnings" sh -c "! grep -qE '[.][ch]:[0-9]+:[0-9]+: warning' '$t/names2.out'"

# ---- bad data: at generation (trainc probes the training data) and in the
# built trainer (built against a good file, then the file is replaced) ----
# generation: each bad file named in the spec
for c in "magic|$d/img.magic|$d/lab|not an IDX file" \
    "truncated images|$d/img.trunc|$d/lab|truncated: expected 32 bytes of pixels" \
    "truncated labels|$d/img|$d/lab.trunc|truncated: expected 8 bytes of labels" \
    "missing images|$d/nothere|$d/lab|cannot open: No such file or directory" \
    "missing labels|$d/img|$d/nothere|cannot open: No such file or directory"; do
    IFS='|' read -r what img lab msg <<<"$c"
    bad=$img
    [ "$img" = "$d/img" ] && bad=$lab
    idx_spec gen_idx "$img" "$lab"
    expect "data at generation: IDX $what" 1 "$bad: $msg" gen gen_idx
done
idx_spec gen_idx "$d/img.feat" "$d/lab"
expect "data at generation: IDX with 6 features for input { 4 } (a spec error at the input's line)" 2 \
    "gen_idx.lua:3: input { 4 }: $d/img.feat: 6 features per row, but input expects 4" gen gen_idx
for c in "non-numeric cell|nonnum|line 3: column 2: 'x4' is not a number" \
    "ragged row|ragged|line 3: 2 cells, expected 3" \
    "empty file|empty|no data rows" \
    "missing file|nothere|cannot open: No such file or directory" \
    "label out of range|range|line 3: label 7 out of range [0, 3)"; do
    IFS='|' read -r what file msg <<<"$c"
    csv_spec gen_csv "$d/$file.csv"
    expect "data at generation: CSV $what" 1 "$d/$file.csv: $msg" gen gen_csv
done
csv_spec gen_csv "$d/feat.csv"
expect "data at generation: CSV with 3 features for input { 2 } (a spec error at the input's line)" 2 \
    "gen_csv.lua:3: input { 2 }: $d/feat.csv: 3 features per row, but input expects 2 (the data is set at line 2)" \
    gen gen_csv

# the trainer: built against good files, which are then replaced
check "data in the trainer: the IDX trainer builds" test -x "$t/out/idxm/idxm"
expect "data in the trainer: the good IDX files train" 0 "train loss" run_in "$t/out/idxm" ./idxm train --quiet
for c in "magic|img.magic|img|not an IDX file" \
    "truncated images|img.trunc|img|truncated: expected 32 bytes of pixels" \
    "truncated labels|lab.trunc|lab|truncated: expected 8 bytes of labels" \
    "6 features for input { 4 }|img.feat|img|6 features per row, the model expects 4" \
    "label out of range|lab.range|lab|index 5: label 7 out of range [0, 3)"; do
    IFS='|' read -r what from to msg <<<"$c"
    cp "$d/$from" "$d/$to"
    expect "data in the trainer: IDX $what" 1 "$d/$to: $msg" run_in "$t/out/idxm" ./idxm train --quiet
    cp "$d/img.good" "$d/img" && cp "$d/lab.good" "$d/lab"
done
rm "$d/img"
expect "data in the trainer: IDX missing file" 1 "$d/img: cannot open: No such file or directory" \
    run_in "$t/out/idxm" ./idxm train --quiet
cp "$d/img.good" "$d/img"

check "data in the trainer: the CSV trainer builds" test -x "$t/out/csvm/csvm"
expect "data in the trainer: the good CSV trains" 0 "train loss" run_in "$t/out/csvm" ./csvm train --quiet
for c in "non-numeric cell|nonnum|line 3: column 2: 'x4' is not a number" \
    "ragged row|ragged|line 3: 2 cells, expected 3" \
    "empty file|empty|no data rows" \
    "label out of range|range|line 3: label 7 out of range [0, 3)" \
    "3 features for input { 2 }|feat|3 features per row, the model expects 2"; do
    IFS='|' read -r what file msg <<<"$c"
    cp "$d/$file.csv" "$d/train.csv"
    expect "data in the trainer: CSV $what" 1 "$d/train.csv: $msg" run_in "$t/out/csvm" ./csvm train --quiet
done
rm "$d/train.csv"
expect "data in the trainer: CSV missing file" 1 \
    "$d/train.csv: cannot open: No such file or directory" run_in "$t/out/csvm" ./csvm train --quiet
cp "$d/good.csv" "$d/train.csv"
# predict reads a CSV of features: the same checks
printf '1,2\n3\n' >"$d/predict_ragged.csv"
printf '1,2,3\n4,5,6\n' >"$d/predict_feat.csv"
(cd "$t/out/csvm" && ./csvm train --quiet >/dev/null 2>&1)
expect "data in predict: a ragged row" 1 "$d/predict_ragged.csv: line 2: 1 cells, expected 2" \
    run_in "$t/out/csvm" ./csvm predict "$d/predict_ragged.csv"
expect "data in predict: 3 features for input { 2 }" 1 \
    "$d/predict_feat.csv: 3 features per row, the model expects 2" \
    run_in "$t/out/csvm" ./csvm predict "$d/predict_feat.csv"
expect "data in predict: a missing file" 1 "$d/nothere.csv: cannot open" \
    run_in "$t/out/csvm" ./csvm predict "$d/nothere.csv"

expect "data: a path relative to the spec works under trainc run" 0 "train loss" replay rel

# ---- NumPy .npy data: files written by numpy, good and each kind of bad ----
n=$t/npy
mkdir -p "$n"
/usr/bin/python3 - "$n" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
x = (np.arange(32, dtype=np.float32) % 7).reshape(8, 2, 2)
y = np.arange(8, dtype=np.int64) % 3
def save(name, a): np.save(f"{d}/{name}", a)
def raw(name, b): open(f"{d}/{name}", "wb").write(b)
save("x.good.npy", x)
save("y.good.npy", y)
save("x.fortran.npy", np.asfortranarray(x.reshape(8, 4)))
save("x.object.npy", np.array([[1, "a", 2, 3]] * 8, dtype=object))
save("x.struct.npy", np.zeros(8, dtype=[("a", "<f4"), ("b", "<f4")]))
save("x.f16.npy", x.astype(np.float16))
save("x.scalar.npy", np.float32(1))
save("x.rows.npy", x[:7])
save("x.feat.npy", np.zeros((8, 3, 2), np.float32))
xn = x.copy(); xn[3, 1, 0] = np.nan
save("x.nan.npy", xn)
good = open(f"{d}/x.good.npy", "rb").read()
raw("x.trunc.npy", good[:-5])
raw("x.extra.npy", good + b"\0" * 8)
raw("x.magic.npy", b"\x93NUMPZ" + good[6:])
raw("x.header.npy", good[:20])
save("y.range.npy", np.where(np.arange(8) == 5, 7, y))
save("y.float.npy", np.where(np.arange(8) == 2, 1.5, y))
save("y.2d.npy", np.stack([y, y], 1))
save("y.rows.npy", y[:6])
PY
npy_spec() { # npy_spec NAME X Y
    spec "$1" 'model "npym"' \
        "data = npy { train = { x = \"$2\", y = \"$3\" } }" \
        'local x = input { 4 }' 'local y = labels { classes = 3 }' \
        'minimize(cross_entropy(linear(x, 3, { name = "fc" }), y))' "$OPT" 'train { batch = 4, epochs = 1 }'
}
for c in "Fortran order|x.fortran|Fortran-order arrays are not supported" \
    "an object array|x.object|object arrays are not supported (dtype '|O')" \
    "a structured array|x.struct|structured arrays are not supported" \
    "float16|x.f16|unsupported dtype '<f2'" \
    "a 0-d array|x.scalar|shape (): a single number" \
    "fewer rows than labels|x.rows|8 rows of labels, but $n/x.rows.npy has 7 rows" \
    "truncated data|x.trunc|truncated: the header promises 128 bytes of data, the file has 123" \
    "bytes after the data|x.extra|shape (8, 2, 2), but 8 more bytes follow the data" \
    "a bad magic|x.magic|not a .npy file (bad magic)" \
    "a truncated header|x.header|truncated .npy header" \
    "a missing file|x.nothere|cannot open: No such file or directory" \
    "a label out of range|y.range|index 5: label 7 out of range [0, 3)" \
    "a label that is no integer|y.float|index 2: label 1.5 is not an integer class in [0, 3)" \
    "two labels a row for classes|y.2d|shape (8, 2): labels { classes = 3 } are one class index a row" \
    "fewer labels than rows|y.rows|6 rows of labels, but $n/x.good.npy has 8 rows"; do
    IFS='|' read -r what file msg <<<"$c"
    xf=$n/x.good.npy yf=$n/y.good.npy
    case $file in x.rows) xf=$n/x.rows.npy ;; x.*) xf=$n/$file.npy ;; y.*) yf=$n/$file.npy ;; esac
    named=$n/$file.npy
    [ "$file" = x.rows ] && named=$n/y.good.npy
    [ "$file" = y.rows ] && named=$n/y.rows.npy
    npy_spec gen_npy "$xf" "$yf"
    expect "data at generation: NPY $what" 1 "$named: $msg" gen gen_npy
done
npy_spec gen_npy "$n/x.feat.npy" "$n/y.good.npy"
expect "data at generation: NPY with 6 features for input { 4 } (a spec error at the input's line)" 2 \
    "gen_npy.lua:3: input { 4 }: $n/x.feat.npy: 6 features per row, but input expects 4" gen gen_npy
spec npy_noy 'model "npym"' "data = npy { train = { x = \"$n/x.good.npy\" } }" \
    'local x = input { 4 }' 'local y = labels { classes = 3 }' \
    'minimize(cross_entropy(linear(x, 3), y))' "$OPT" 'train { batch = 4, epochs = 1 }'
expect "data at generation: NPY labels in the spec but no y file" 2 "npy_noy.lua:2: npy: the spec has labels { ... }, so train needs y" gen npy_noy
spec npy_ylen 'model "npym"' "data = npy { train = { x = \"$n/x.good.npy\", y = \"$n/y.good.npy\" } }" \
    'local x = input { 4 }' 'local y = labels { 3 }' 'minimize(mse(linear(x, 3), y))' "$OPT" "$TRAIN"
expect "data at generation: NPY with one label a row for labels { 3 }" 1 \
    "$n/y.good.npy: shape (8,): 1 label values per row, the model expects 3" gen npy_ylen
spec npy_str 'model "npym"' "data = npy { train = \"$n/x.good.npy\" }" \
    'local x = input { 4 }' 'minimize(sum(linear(x, 1)))' "$OPT" "$TRAIN"
expect "data at generation: NPY train given as a string" 2 "npy_str.lua:2: npy: give train = { x = \"x.npy\", y = \"y.npy\" }" gen npy_str
spec npy_nox 'model "npym"' "data = npy { train = { y = \"$n/y.good.npy\" } }" \
    'local x = input { 4 }' 'minimize(sum(linear(x, 1)))' "$OPT" "$TRAIN"
expect "data at generation: NPY without x" 2 "npy_nox.lua:2: npy: train needs x" gen npy_nox

# the trainer: built against good files, which are then replaced
cp "$n/x.good.npy" "$n/x.npy" && cp "$n/y.good.npy" "$n/y.npy"
npy_spec npy_ok "$n/x.npy" "$n/y.npy"
expect "data in the trainer: the NPY trainer builds" 0 "" "$TRAINC" build -q "$t/npy_ok.lua" -o "$t/out/npym"
expect "data in the trainer: the good NPY files train" 0 "train loss" run_in "$t/out/npym" ./npym train --quiet
for c in "truncated data|x.trunc|x|truncated: the header promises 128 bytes" \
    "a NaN|x.nan|x|row 3: a value is not a finite float" \
    "Fortran order|x.fortran|x|Fortran-order arrays are not supported" \
    "6 features for input { 4 }|x.feat|x|6 features per row, the model expects 4" \
    "a label out of range|y.range|y|index 5: label 7 out of range [0, 3)" \
    "two labels a row|y.2d|y|shape (8, 2): 2 label values per row, the model expects 1"; do
    IFS='|' read -r what from to msg <<<"$c"
    cp "$n/$from.npy" "$n/$to.npy"
    expect "data in the trainer: NPY $what" 1 "$n/$to.npy: $msg" run_in "$t/out/npym" ./npym train --quiet
    cp "$n/x.good.npy" "$n/x.npy" && cp "$n/y.good.npy" "$n/y.npy"
done
# predict reads .npy and IDX too, with the same checks
expect "data in predict: NPY with 6 features for input { 4 }" 1 "$n/x.feat.npy: 6 features per row, the model expects 4" \
    run_in "$t/out/npym" ./npym predict "$n/x.feat.npy"
expect "data in predict: a truncated NPY" 1 "$n/x.trunc.npy: truncated" run_in "$t/out/npym" ./npym predict "$n/x.trunc.npy"
expect "data in predict: an object array" 1 "$n/x.object.npy: object arrays are not supported" \
    run_in "$t/out/npym" ./npym predict "$n/x.object.npy"
expect "data in predict: a binary file that is no IDX or .npy" 1 "$d/img.magic: not a CSV, .npy or IDX file" \
    run_in "$t/out/npym" ./npym predict "$d/img.magic"
expect "data in predict: a truncated IDX" 1 "$d/img.trunc: truncated" run_in "$t/out/npym" ./npym predict "$d/img.trunc"
expect "data in predict: IDX with 6 features for input { 4 }" 1 "$d/img.feat: 6 features per row, the model expects 4" \
    run_in "$t/out/npym" ./npym predict "$d/img.feat"

# ---- --init: a folder of .npy or a safetensors file, refused when it does not fit ----
(cd "$t/out/npym" && ./npym export exp --quiet)
/usr/bin/python3 - "$t/out/npym/exp" "$n" <<'PY'
import json, struct, sys
import numpy as np
exp, d = sys.argv[1], sys.argv[2]
def st(name, tensors, header=None):
    """tensors: (name, dtype, shape, bytes); header: raw JSON instead"""
    h, data = {}, b""
    for k, dt, shape, b in tensors:
        h[k] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    text = header if header is not None else json.dumps(h).encode()
    text += b" " * (-len(text) % 8)
    open(f"{d}/{name}", "wb").write(struct.pack("<Q", len(text)) + text + data)
w = np.zeros((3, 4), np.float32).tobytes()
b = np.zeros(3, np.float32).tobytes()
st("shape.safetensors", [("fc.weight", "F32", [4, 3], w), ("fc.bias", "F32", [3], b)])
st("name.safetensors", [("fc.weights", "F32", [3, 4], w), ("fc.bias", "F32", [3], b)])
st("f16.safetensors", [("fc.weight", "F16", [3, 4], np.zeros((3, 4), np.float16).tobytes())])
st("span.safetensors", [("fc.weight", "F32", [3, 4], w[:-4])])
st("json.safetensors", [], header=b'{"fc.weight": {"dtype": "F32", "shape": [3, 4], ')
good = open(f"{exp}/model.safetensors", "rb").read()
open(f"{d}/trunc.safetensors", "wb").write(good[:-10])
np.save(f"{d}/shape/fc.weight.npy" if False else f"{d}/fc.weight.T.npy", np.zeros((4, 3), np.float32))
PY
mkdir -p "$n/dir_shape" "$n/dir_int"
mv "$n/fc.weight.T.npy" "$n/dir_shape/fc.weight.npy"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.zeros((3, 4), np.int64))" "$n/dir_int/fc.weight.npy"
echo "not safetensors" >"$n/text.safetensors"
ni() { run_in "$t/out/npym" ./npym train --quiet --init "$@"; }
expect "--init: its own export's safetensors loads" 0 "train loss" ni exp/model.safetensors
expect "--init: a safetensors tensor of another shape" 1 "$n/shape.safetensors: tensor 'fc.weight' has shape [4, 3], the model's is [3, 4]" ni "$n/shape.safetensors"
expect "--init: a safetensors tensor this model does not have" 1 "$n/name.safetensors: tensor 'fc.weights' is not a parameter of this model (it has fc.weight, fc.bias)" ni "$n/name.safetensors"
expect "--init: a safetensors tensor in float16" 1 "$n/f16.safetensors: tensor 'fc.weight' has dtype F16; parameters load from F32 or F64" ni "$n/f16.safetensors"
expect "--init: data_offsets that do not match the shape" 1 "$n/span.safetensors: tensor 'fc.weight': data_offsets span 44 bytes, its shape and dtype need 48" ni "$n/span.safetensors"
expect "--init: a malformed safetensors header" 1 "$n/json.safetensors: malformed" ni "$n/json.safetensors"
expect "--init: a truncated safetensors file" 1 "$n/trunc.safetensors: tensor '" ni "$n/trunc.safetensors"
expect_last "--init: ... its data is outside the file" "outside the"
expect "--init: a text file" 1 "$n/text.safetensors: not a safetensors file" ni "$n/text.safetensors"
expect "--init: a missing file" 1 "--init $n/nothere: No such file or directory" ni "$n/nothere"
expect "--init: a .npy of another shape" 1 "$n/dir_shape/fc.weight.npy: shape (4, 3), the model's is (3, 4)" ni "$n/dir_shape"
expect "--init: an integer .npy" 1 "$n/dir_int/fc.weight.npy: unsupported dtype '<i8' (want '<f4' or '<f8')" ni "$n/dir_int"

# ---- trainc usage ----
expect "trainc: no command" 2 "no command given" "$TRAINC"
expect "trainc: unknown command" 2 "unknown command 'frob'" "$TRAINC" frob "$t/good.lua"
expect "trainc: unknown option" 2 "unknown option --frob" "$TRAINC" gen --frob "$t/good.lua"
expect "trainc: a command without a spec" 2 "gen needs a spec file" "$TRAINC" gen
expect "trainc: a missing spec file" 2 "$t/nothere.lua: cannot open" "$TRAINC" gen "$t/nothere.lua"
expect "trainc: --help" 0 "usage: trainc" "$TRAINC" --help
expect "trainc: --version" 0 "trainc " "$TRAINC" --version

# ---- the trainer's usage and its weights files ----
c=$t/out/csvm
(cd "$c" && ./csvm train --quiet >/dev/null 2>&1)
expect "trainer: unknown command" 2 "unknown command 'frob'" "$c/csvm" frob
expect "trainer: unknown option" 2 "unknown option --frob" "$c/csvm" train --frob
expect "trainer: no command" 2 "no command given" "$c/csvm"
expect "trainer: a bad option value" 2 "bad value for --epochs" "$c/csvm" train --epochs abc
expect "trainer: --help" 0 "usage: csvm" "$c/csvm" --help
expect "trainer: eval of its own weights works" 0 "train loss" run_in "$c" ./csvm eval
expect "trainer: eval with a missing weights file" 1 "$t/nothere.weights: cannot open" \
    "$c/csvm" eval --weights "$t/nothere.weights"
size=$(stat -c %s "$c/csvm.weights")
head -c $((size - 8)) "$c/csvm.weights" >"$t/short.weights"
expect "trainer: eval of a truncated weights file" 1 \
    "$t/short.weights: damaged: $((size - 8)) bytes, expected $size" \
    "$c/csvm" eval --weights "$t/short.weights"
head -c 20 "$c/csvm.weights" >"$t/shorter.weights"
expect "trainer: eval of a weights file cut inside its header" 1 \
    "$t/shorter.weights: not a trainc weights file" "$c/csvm" eval --weights "$t/shorter.weights"
python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[-6] ^= 0xff; open(sys.argv[2], 'wb').write(b)" \
    "$c/csvm.weights" "$t/flipped.weights"
expect "trainer: eval of a weights file with a flipped byte" 1 \
    "$t/flipped.weights: damaged: checksum mismatch" "$c/csvm" eval --weights "$t/flipped.weights"
cat "$c/csvm.weights" "$c/csvm.weights" >"$t/long.weights"
expect "trainer: eval of a weights file with bytes after its end" 1 \
    "$t/long.weights: damaged: longer than the $size bytes" "$c/csvm" eval --weights "$t/long.weights"
# a 64 GiB file (sparse) is refused from its first bytes, not read whole: under
# a 1 GiB address-space limit reading it would fail with "out of memory"
# (no limit under the sanitizers, whose shadow memory needs more)
cp "$c/csvm.weights" "$t/huge.weights" && truncate -s 64G "$t/huge.weights"
expect "trainer: a huge weights file is refused without reading it whole" 1 \
    "$t/huge.weights: damaged: longer than the $size bytes" \
    sh -c "${ASAN_OPTIONS:+: }ulimit -v 1048576 && exec '$c/csvm' eval --weights '$t/huge.weights'"
rm -f "$t/huge.weights"
echo "not weights" >"$t/text.weights"
expect "trainer: eval of a file that is not weights" 1 "$t/text.weights: not a trainc weights file" \
    "$c/csvm" eval --weights "$t/text.weights"
: >"$t/empty.weights"
expect "trainer: eval of an empty weights file" 1 "$t/empty.weights: not a trainc weights file" \
    "$c/csvm" eval --weights "$t/empty.weights"
(cd "$t/out/idxm" && ./idxm train --quiet >/dev/null 2>&1)
expect "trainer: weights of another model are refused" 1 "idxm.weights: weights of another model" \
    "$c/csvm" eval --weights "$t/out/idxm/idxm.weights"
expect "trainer: predict refuses another model's weights too" 1 "weights of another model" \
    "$c/csvm" predict "$d/good.csv" --weights "$t/out/idxm/idxm.weights"

# ---- issue 13 item 1 and 4: CSV as it comes, predict on the training CSV (branch csv) ----
fx=$(pwd)/tests/data
cspec() { # cspec NAME DATA LABELS: a classifier of 2 features and 3 classes on DATA
    spec "$1" 'model "cm"' "data = $2" 'local x = input { 2 }' "local y = $3" \
        'minimize(cross_entropy(linear(x, 3), y))' "$OPT" 'train { batch = 2, epochs = 1 }'
}
cspec title "csv { train = \"$fx/title_line.csv\", label = \"label\" }" 'labels { classes = 3 }'
expect "csv: a title line of 5 cells above rows of 14 says so" 1 \
    "$fx/title_line.csv: line 2: 14 cells, expected 5: line 1 has 5 cells, but lines 2 to 8 have 14" gen title
printf 'a,b,label\n1,2,0\n3,4,1\n5,6\n7,8,1\n' >"$d/ragged4.csv"
cspec ragged4 "csv { train = \"$d/ragged4.csv\", label = \"label\" }" 'labels { classes = 3 }'
expect "csv: a ragged row names the column counts of the rows around it" 1 \
    "$d/ragged4.csv: line 4: 2 cells, expected 3 (line 3 before it has 3, line 5 after it has 3)" gen ragged4
spec labels_nodata "$H1" "$H2" "$H3" 'local y = labels { }' "$LOSS" "$OPT" "$TRAIN"
expect "csv: labels { } without a CSV to take the classes from" 2 \
    "labels_nodata.lua:4: labels: give classes = K, classes = { \"a\", \"b\", ... } or a shape" gen labels_nodata
spec labels_first "$H1" 'local y = labels { }' "data = csv { train = \"$d/good.csv\", label = \"label\" }" \
    'local x = input { 2 }' 'minimize(cross_entropy(linear(x, 3), y))' "$OPT" "$TRAIN"
expect "csv: labels { } before data = csv { ... } says to set the data first" 2 \
    "labels_first.lua:2:|set data = csv { ... } before labels { }" gen labels_first
for c in 'one|{ "a" }|classes = { ... } needs 2 or more class names, not 1' \
    'twice|{ "a", "b", "a" }|class '"'a'"' is named twice (classes[1] and [3])' \
    'number|{ "a", 3 }|classes[2] must be a class name (a string), not 3'; do
    IFS='|' read -r what list msg <<<"$c"
    cspec "classes_$what" "csv { train = \"$d/good.csv\", label = \"label\" }" "labels { classes = $list }"
    expect "csv: labels { classes = $list } is refused" 2 "classes_$what.lua:4: labels: $msg" gen "classes_$what"
done
printf 'a,b,label\n1,2,a\n3,4,d\n5,6,b\n' >"$d/names_d.csv"
cspec names_d "csv { train = \"$d/names_d.csv\", label = \"label\" }" 'labels { classes = { "a", "b", "c" } }'
expect "csv: a label that is not one of the listed classes" 1 \
    "$d/names_d.csv: line 3: label 'd' is not one of the 3 classes (a, b, c)" gen names_d
spec names_k 'model "cm"' "data = csv { train = \"$d/names_d.csv\", label = \"label\" }" \
    'local x = input { 2 }' 'local y = labels { classes = 2 }' 'minimize(cross_entropy(linear(x, 2), y))' \
    "$OPT" 'train { batch = 2, epochs = 1 }'
expect "csv: labels { classes = 2 } on a file of 3 class names" 2 \
    "names_k.lua:4: labels { classes = 2 }, but the label column of $d/names_d.csv has 3 class names" gen names_k
printf 'a,b,label\n1,2,a\n3,4,a\n' >"$d/one_class.csv"
cspec one_class "csv { train = \"$d/one_class.csv\", label = \"label\" }" 'labels { }'
expect "csv: labels { } on a file of one class" 2 \
    "one_class.lua:4: labels { }: the label column of $d/one_class.csv has 1 class; a classifier needs 2" gen one_class
cspec classes_missing "csv { train = \"$d/nothere.csv\", label = \"label\" }" 'labels { }'
expect "csv: labels { } on a missing file is a data error naming it" 1 \
    "$d/nothere.csv: cannot open: No such file or directory" gen classes_missing
for c in 'both|features = { "a" }, drop = { "b" }|csv: give features = { ... } or drop = { ... }, not both' \
    'frac|features = { 2.5 }|csv: features[1] must be a column name or a 0-based index, not 2.5' \
    'empty|drop = { }|csv: drop = { "name", 3, ... }: give column names or 0-based indices' \
    'sep|sep = ";;"|csv: sep = ";;"; give one character'; do
    IFS='|' read -r what opt msg <<<"$c"
    cspec "csv_$what" "csv { train = \"$d/good.csv\", label = \"label\", $opt }" 'labels { classes = 3 }'
    expect "csv: $opt is refused" 2 "csv_$what.lua:2: $msg" gen "csv_$what"
done
printf '1,2,0\n3,4,1\n' >"$d/nohdr.csv"
for c in "good|drop = { \"idx\" }|$d/good.csv: line 1: no column named 'idx' in the header (a, b, label)" \
    "good|features = { \"label\" }|$d/good.csv: feature column 'label' is the label column" \
    "good|features = { 0, 0 }|$d/good.csv: feature column 0 is listed twice" \
    "good|features = { 7 }|$d/good.csv: feature column 7 out of range: rows have 3 columns" \
    "nohdr|features = { \"a\" }|$d/nohdr.csv: feature column 'a' needs a header row, but line 1 looks like data" \
    "nohdr|sep = \";\"|$d/nohdr.csv: no feature columns (rows have 1 column split at ';')"; do
    IFS='|' read -r file opt msg <<<"$c"
    label='label = "label"'
    [ "$file" = nohdr ] && label='label = "last"'
    cspec csv_cols "csv { train = \"$d/$file.csv\", $label, $opt }" 'labels { classes = 3 }'
    expect "csv: $opt on $file.csv is refused, naming the file" 1 "$msg" gen csv_cols
done
printf 'a,b,label\n1,"2,0\n3,4,1\n' >"$d/unclosed.csv"
printf 'a,b,label\n"1"x,2,0\n' >"$d/after_quote.csv"
for c in "unclosed|line 2: the quoted cell that starts here is not closed" \
    "after_quote|line 2: column 1: text after the closing quote"; do
    IFS='|' read -r file msg <<<"$c"
    cspec csv_quote "csv { train = \"$d/$file.csv\", label = \"label\" }" 'labels { classes = 3 }'
    expect "csv: $file quote is refused" 1 "$d/$file.csv: $msg" gen csv_quote
done
expect "predict: the training CSV as it is (its label column dropped by name)" 0 "class,p0,p1,p2" \
    run_in "$t/out/csvm" ./csvm predict "$d/good.csv"
expect "predict: --label of a column the file lacks" 1 \
    "$d/good.csv: line 1: no column named 'kind' in the header (a, b, label)" \
    run_in "$t/out/csvm" ./csvm predict "$d/good.csv" --label kind
expect "predict: --label without a column" 2 "--label needs a column name" \
    "$t/out/csvm/csvm" predict "$d/good.csv" --label
for c in 'values|local y = labels { 1 }|y:classes()|classes(): these labels are values, not classes' \
    'input|local y = labels { }|x:classes()|classes(): only labels { ... } have classes'; do
    IFS='|' read -r what labels call msg <<<"$c"
    spec "yclasses_$what" 'model "cm"' "data = csv { train = \"$d/good.csv\", label = \"label\" }" \
        'local x = input { 2 }' "$labels" "minimize(cross_entropy(linear(x, $call), y))" "$OPT" "$TRAIN"
    expect "csv: $call of $what is refused" 2 "yclasses_$what.lua:5: $msg" gen "yclasses_$what"
done
spec yclasses_missing 'model "cm"' "data = csv { train = \"$d/nothere.csv\", label = \"label\" }" \
    'local x = input { 2 }' 'local y = labels { }' 'minimize(cross_entropy(linear(x, y:classes()), y))' \
    "$OPT" "$TRAIN"
expect "csv: y:classes() of labels { } whose file is missing names the file" 2 \
    "yclasses_missing.lua:5: classes(): the classes come from the data: $d/nothere.csv: cannot open" \
    gen yclasses_missing
# ---- issue 13, item 7: names trainc writes otherwise, and output folders
# generated from another spec ----
expect_in() { # expect_in NAME TEXT FILE: FILE has TEXT
    if grep -qF -- "$2" "$3"; then echo "ok - $1"; else echo "not ok - $1 (no '$2' in $3)"; head -5 "$3" | sed 's/^/    # /'; fi
}
expect_in "names: a model name written otherwise is a warning naming both" \
    "names.lua:1: warning: the model name 'my-model! 2' is written 'my_model_2'" "$t/names.out"
expect_in "names: a layer name written otherwise is a warning naming both" \
    "names.lua:8: warning: the layer name 'x y' is written 'x_y'" "$t/names.out"
expect_in "names: ... shown escaped (a newline as \\n)" \
    "warning: the layer name 'f\ng' is written 'f_g'" "$t/names2.out"
expect "names: info lists the names written otherwise" 0 \
    "renamed    model 'my-model! 2' -> my_model_2 (line 1)|renamed    layer 'x y' -> x_y (line 8)" \
    run_in "$t/out/names" ./my_model_2 info
model_with rt_typed 'model "RT_x"'
expect "names: a model name taken by the runtime is shown as typed" 2 \
    "the model name 'RT_x' is taken by the runtime's names" gen rt_typed
model_with dup_typed 'local h = linear(x, 4, { name = "a b" })' 'h = linear(h, 4, { name = "a b" })'
expect "names: two layers of one name are named as typed" 2 \
    "dup_typed.lua:6:|two parameters are named 'a b.weight' (from line 5; both written 'a_b.weight')" gen dup_typed
model_with dup_written 'local h = linear(x, 4, { name = "a b" })' 'h = linear(h, 4, { name = "a?b" })'
expect "names: ... and two names written alike name both forms" 2 \
    "dup_written.lua:6:|two parameters are named 'a?b.weight' (from line 5; both written 'a_b.weight')" gen dup_written
printf 'model "a\\0b"\n' >"$t/nul_model.lua"
expect "names: a model name with a NUL byte is refused" 2 \
    "nul_model.lua:1:|model: the name has a NUL byte" gen nul_model
model_with nul_layer 'local h = linear(x, 4, { name = "a\0b" })'
expect "names: a layer name with a NUL byte is refused" 2 \
    "nul_layer.lua:5:|option 'name' has a NUL byte" gen nul_layer

# two specs whose models take one name share out/<model>: the second is
# refused unless --force; the same spec, edited, regenerates
own=$t/owner && mkdir -p "$own"
printf '%s\n' 'model "m*/x"' "$H2" "$H3" "$H4" "$LOSS" "$OPT" "$TRAIN" >"$own/a.lua"
printf '%s\n' 'model "m_x"' "$H2" "$H3" "$H4" "$LOSS" "$OPT" "$TRAIN" >"$own/b.lua"
expect "owner: a spec generates out/<model>" 0 "" sh -c "cd '$own' && '$TRAINC' gen -q a.lua"
expect_in "owner: ... and records its spec in .trainc-spec" "spec $own/a.lua" "$own/out/m_x/.trainc-spec"
expect "owner: another spec whose model has the same folder is refused" 2 \
    "out/m_x: generated from another spec, $own/a.lua (this one is $own/b.lua)|--force" \
    sh -c "cd '$own' && '$TRAINC' gen -q b.lua"
expect_in "owner: ... and the folder is left as it was" "spec $own/a.lua" "$own/out/m_x/.trainc-spec"
echo "-- edited" >>"$own/a.lua"
expect "owner: the same spec, edited, regenerates" 0 "" sh -c "cd '$own' && '$TRAINC' gen -q a.lua"
expect "owner: --force overwrites the other spec's folder" 0 "" \
    sh -c "cd '$own' && '$TRAINC' gen -q b.lua --force"
expect_in "owner: ... which is then the new spec's" "spec $own/b.lua" "$own/out/m_x/.trainc-spec"
expect "owner: -o DIR of another spec is refused too" 2 "generated from another spec" \
    "$TRAINC" gen -q "$own/a.lua" -o "$own/out/m_x"
# (a link to itself: cannot be opened, even by root)
mkdir -p "$own/bad" && ln -s .trainc-spec "$own/bad/.trainc-spec"
expect "owner: an unreadable .trainc-spec is an error" 1 "bad/.trainc-spec: cannot read" \
    "$TRAINC" gen -q "$own/a.lua" -o "$own/bad"
# ---- rows held out of the training file: test = 0.2, valid = 0.1 (issue 13
# item 2, issue 14 item 1); the data line is line 2 ----
split_spec() { # split_spec NAME DATA-OPTIONS [FILE]: a classifier of FILE (good.csv)
    spec "$1" 'model "splitm"' "data = csv { train = \"${3:-$d/good.csv}\", label = \"label\", $2 }" \
        'local x = input { 2 }' 'local y = labels { classes = 3 }' \
        'minimize(cross_entropy(linear(x, 3), y))' "$OPT" 'train { batch = 2, epochs = 1 }'
}
split_spec sp_v1 'valid = 1'
expect "split: valid = 1 is refused" 2 "sp_v1.lua:2: csv: valid = 1; it must be a fraction in [0, 1)" gen sp_v1
split_spec sp_vneg 'valid = -0.1'
expect "split: a negative valid is refused" 2 "sp_vneg.lua:2: csv: valid = -0.1; it must be a fraction in [0, 1)" gen sp_vneg
split_spec sp_t15 'test = 1.5'
expect "split: test = 1.5 is refused" 2 "sp_t15.lua:2: csv: test = 1.5; it must be a fraction in [0, 1)" gen sp_t15
split_spec sp_f0 'valid = { fraction = 0 }'
expect "split: a fraction of 0 in the table form is refused" 2 \
    "sp_f0.lua:2: csv: valid = { fraction = 0 }; it must be in (0, 1)" gen sp_f0
split_spec sp_f1 'test = { fraction = 1, order = "tail" }'
expect "split: a fraction of 1 is refused" 2 "sp_f1.lua:2: csv: test = { fraction = 1 }; it must be in (0, 1)" gen sp_f1
split_spec sp_sum 'test = 0.5, valid = 0.5'
expect "split: test and valid that hold out every row are refused" 2 \
    "sp_sum.lua:2: csv: test = 0.5 and valid = 0.5 hold out every row; together they must be below 1" gen sp_sum
split_spec sp_order 'valid = { fraction = 0.1, order = "head" }'
expect "split: an unknown order is refused" 2 \
    'sp_order.lua:2: csv: valid: order = "head"; it must be "random" or "tail"' gen sp_order
split_spec sp_key 'valid = { fraction = 0.1, shuffle = false }'
expect "split: an unknown option of valid is refused" 2 \
    "sp_key.lua:2: csv: valid has no option 'shuffle' (fraction, order, seed)" gen sp_key
split_spec sp_str 'valid = "10%"'
expect "split: a valid that is no fraction is refused" 2 \
    'sp_str.lua:2: csv: valid must be a fraction such as 0.1 or { fraction = 0.1, order = "tail" }' gen sp_str
split_spec sp_seeds 'test = { fraction = 0.2, seed = 1 }, valid = { fraction = 0.2, seed = 2 }'
expect "split: two seeds for the one draw are refused" 2 \
    "sp_seeds.lua:2: csv: test and valid draw their rows together: give them one seed" gen sp_seeds
split_spec sp_none 'test = 0.4, valid = 0.4'
expect "split: fractions that leave no training row of 4 are refused" 2 \
    "sp_none.lua:2: no training rows left after holding out 2 for testing and 2 for validation" gen sp_none
# 8 rows of class 0 and 2 of class 1: its shares of 3 test and 3 validation
# rows are a row each, which leaves it none to train on
printf 'a,b,label\n' >"$d/few.csv"
for i in 0 1 2 3 4 5 6 7; do printf '%d,1,0\n' "$i" >>"$d/few.csv"; done
printf '8,1,1\n9,1,1\n' >>"$d/few.csv"
split_spec sp_few 'test = 0.3, valid = 0.3' "$d/few.csv"
expect "split: a class with too few rows for its shares is refused at generation" 2 \
    "sp_few.lua:2: $d/few.csv: class 1: 2 rows are too few to hold out 1 for testing and 1 for validation and keep one to train on" \
    gen sp_few
split_spec sp_tail 'test = { fraction = 0.3, order = "tail" }, valid = { fraction = 0.3, order = "tail" }' "$d/few.csv"
expect "split: the same fractions as the last rows are no draw, and build" 0 "" gen sp_tail
# the trainer draws the rows again: a file changed since generation
printf 'a,b,label\n' >"$d/later.csv"
for i in 0 1 2 3 4 5 6 7 8 9; do printf '%d,1,%d\n' "$i" $((i % 2)) >>"$d/later.csv"; done
split_spec sp_later 'test = 0.3, valid = 0.3' "$d/later.csv"
gen_build "$t/sp_later.lua" "$t/out/sp_later" >/dev/null 2>&1
cp "$d/few.csv" "$d/later.csv"
expect "split: the trainer refuses a file whose class is now too small, naming it" 1 \
    "splitm: $d/later.csv: class 1: 2 rows are too few to hold out 1 for testing" \
    run_in "$t/out/sp_later" ./splitm train
# the test file is read at generation, like the training file
spec sp_missing 'model "splitm"' "data = csv { train = \"$d/good.csv\", test = \"$d/nothere.csv\", label = \"label\" }" \
    'local x = input { 2 }' 'local y = labels { classes = 3 }' 'minimize(cross_entropy(linear(x, 3), y))' "$OPT"
expect "data: a missing test file is found at generation" 1 \
    "sp_missing.lua:2: data: $d/nothere.csv: cannot open: No such file or directory" gen sp_missing
spec sp_tfeat 'model "splitm"' "data = csv { train = \"$d/good.csv\", test = \"$d/feat.csv\", label = \"label\" }" \
    'local x = input { 2 }' 'local y = labels { classes = 3 }' 'minimize(cross_entropy(linear(x, 3), y))' "$OPT"
expect "data: a test file of other rows is found at generation" 1 \
    "sp_tfeat.lua:2: $d/feat.csv: 3 features per row, but input expects 2" gen sp_tfeat
spec sp_tidx 'model "splitm"' \
    "data = idx { train = { images = \"$d/img\", labels = \"$d/lab\" }, test = { images = \"$d\", labels = \"$d/lab\" } }" \
    'local x = input { 4 }' 'local y = labels { classes = 3 }' 'minimize(cross_entropy(linear(x, 3), y))' "$OPT"
expect "data: an unreadable IDX test file is found at generation" 1 \
    "sp_tidx.lua:2: data: $d: cannot open: Is a directory" gen sp_tidx
# ---- issue 13, items 4, 8 and 10: the trainer's files are the user's,
# gradcheck --weights, plot of step files ----
mkdir -p "$t/fresh"
"$TRAINC" build -q "$t/csv_ok.lua" -o "$t/fresh/csvm" >/dev/null 2>&1
expect "trainer: eval before any training says to train first" 1 \
    "csvm: no trained weights yet (fresh/csvm/csvm.weights does not exist): train first, with 'fresh/csvm/csvm train' or 'trainc run $t/csv_ok.lua'" \
    run_in "$t" fresh/csvm/csvm eval
expect "trainer: predict before any training says to train first" 1 \
    "no trained weights yet (csvm.weights does not exist): train first, with './csvm train'" \
    run_in "$t/fresh/csvm" ./csvm predict "$d/good.csv"
expect "trainer: export before any training says to train first" 1 "no trained weights yet" \
    run_in "$t/fresh/csvm" ./csvm export e
expect "trainer: predict - of rows with too many features names standard input" 1 \
    "csvm: standard input: 3 features per row, the model expects 2" \
    sh -c "'$t/out/csvm/csvm' predict - <'$d/predict_feat.csv'"
expect "trainer: predict - of nothing" 1 "csvm: standard input: " sh -c "'$t/out/csvm/csvm' predict - </dev/null"
expect "trainer: gradcheck --weights of a missing file" 1 "$t/nothere.weights: cannot open" \
    "$t/out/csvm/csvm" gradcheck --weights "$t/nothere.weights"
expect "trainer: gradcheck --weights of another model's" 1 "weights of another model" \
    "$t/out/csvm/csvm" gradcheck --weights "$t/out/idxm/idxm.weights"
printf 'loss,lr\n0.5,0.1\n' >"$t/noaxis.csv"
expect "trainc plot: a file without an epoch or step column names the columns it needs" 1 \
    "$t/noaxis.csv:1: no 'epoch' or 'step' column in the header (it has: loss,lr); the curves need one of them, and loss, accuracy or lr" \
    "$TRAINC" plot "$t/noaxis.csv" -o "$t/noaxis.svg"
printf 'step,epoch,grad_norm,seconds\n1,1,0.5,0.1\n' >"$t/nocurve.csv"
expect "trainc plot: a step file with nothing to draw" 1 \
    "$t/nocurve.csv: nothing to draw: no loss, accuracy or lr column with a finite value" \
    "$TRAINC" plot "$t/nocurve.csv" -o "$t/nocurve.svg"
printf 'step,loss\n1,0.5\ninf,0.4\n' >"$t/stepinf.csv"
expect "trainc plot: a step that is not a number" 1 "$t/stepinf.csv:3: the step is 'inf', not a finite number" \
    "$TRAINC" plot "$t/stepinf.csv" -o "$t/stepinf.svg"
# ---- issue 14, items 8 and 9: eval --failures, ensembles (--weights
# a,b), train { sampling, stop_grad_norm } (branch failures) ----
model_with samp_bad 'train { sampling = "bootstrap" }'
expect "sampling: an unknown way is refused at its line" 2 \
    "samp_bad.lua:5: train: sampling = \"bootstrap\"; it must be \"shuffle\" (each row once an epoch) or \"replacement\"" \
    gen samp_bad
model_with samp_num 'train { sampling = 3 }'
expect "sampling: a number is refused" 2 "samp_num.lua:5:|option 'sampling' must be a string" gen samp_num
model_with samp_noshuf 'train { sampling = "replacement", shuffle = false }'
expect "sampling: replacement with shuffle = false is refused" 2 \
    "samp_noshuf.lua:5: train: sampling = \"replacement\" draws the rows at random; it does not go with shuffle = false" \
    gen samp_noshuf
model_with samp_strat 'train { sampling = "replacement", stratify = true }'
expect "sampling: replacement with stratify is refused" 2 \
    "samp_strat.lua:5: train: sampling = \"replacement\"|does not go with stratify = true" gen samp_strat
model_with samp_ok 'train { batch = 2, sampling = "replacement" }'
expect "sampling: replacement with a mini-batch generates" 0 "" gen samp_ok
for eps in -1 0 '0/0' 'math.huge'; do
    model_with sgn_bad "train { batch = \"full\", stop_grad_norm = $eps }"
    expect "stop_grad_norm = $eps is refused at its line" 2 \
        "sgn_bad.lua:5: train: stop_grad_norm = |; it must be a number above 0 (the gradient norm at which training stops)" \
        gen sgn_bad
done
model_with sgn_str 'train { stop_grad_norm = "small" }'
expect "stop_grad_norm = \"small\" is refused" 2 "sgn_str.lua:5:|option 'stop_grad_norm' must be a number" gen sgn_str
spec sgn_mini "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 2, epochs = 1, stop_grad_norm = 1e-3 }'
expect "stop_grad_norm with mini-batches is refused, naming the train line" 2 \
    "sgn_mini.lua:7: train: stop_grad_norm needs full-batch training (batch = \"full\", without sampling = \"replacement\"): the gradient of a mini-batch is not the full gradient" \
    gen sgn_mini
spec sgn_rep "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { epochs = 1, sampling = "replacement", stop_grad_norm = 1e-3 }'
expect "stop_grad_norm with rows drawn with replacement is refused" 2 \
    "sgn_rep.lua:7: train: stop_grad_norm needs full-batch training|the gradient of rows drawn with replacement is not the full gradient" \
    gen sgn_rep
spec sgn_full "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 4, epochs = 1, stop_grad_norm = 1e-3 }'
expect "stop_grad_norm with a batch of every row generates" 0 "" gen sgn_full
cm=$t/out/csvm
(cd "$cm" && ./csvm train --quiet >/dev/null 2>&1)
expect "ensemble: an empty item of --weights is a usage error naming it" 2 \
    "csvm: --weights: item 2 of 3 is empty (give weights files separated by commas: --weights a.weights,b.weights)" \
    "$cm/csvm" eval --weights "$cm/csvm.weights,,$cm/csvm.weights"
expect "ensemble: a trailing comma is an empty item too" 2 "csvm: --weights: item 2 of 2 is empty" \
    "$cm/csvm" predict "$d/good.csv" --weights "$cm/csvm.weights,"
expect "ensemble: a missing member is named" 1 "csvm: $t/nothere.weights: cannot open: No such file or directory" \
    "$cm/csvm" eval --weights "$cm/csvm.weights,$t/nothere.weights"
expect "ensemble: another model's weights among the members are refused" 1 \
    "$t/out/idxm/idxm.weights: weights of another model" \
    "$cm/csvm" eval --weights "$cm/csvm.weights,$t/out/idxm/idxm.weights"
expect "ensemble: ... by predict too, before it writes anything" 1 "idxm.weights: weights of another model" \
    "$cm/csvm" predict "$d/good.csv" -o "$t/ens_pred.csv" --weights "$t/out/idxm/idxm.weights,$cm/csvm.weights"
check "ensemble: the refused predict left no output file" test ! -e "$t/ens_pred.csv"
cp "$cm/csvm.weights" "$t/a,b.weights"
expect "ensemble: an existing file whose name has a comma is one weights file, as before" 0 "train loss" \
    "$cm/csvm" eval --weights "$t/a,b.weights"
expect "failures: --failures is an option of eval" 2 "csvm: --failures FILE is an option of eval" \
    "$cm/csvm" predict "$d/good.csv" --failures "$t/f.csv"
expect "failures: --failures without a file name" 2 "csvm: --failures needs a file name" \
    "$cm/csvm" eval --failures
expect "failures: a file that cannot be written is named" 1 "csvm: $t/nodir/f.csv: cannot open: No such file or directory" \
    "$cm/csvm" eval --failures "$t/nodir/f.csv"
spec bare 'model "bare"' 'local p = param { 2, init = ones() }' 'minimize(sum(p ^ 2))' "$OPT" 'train { epochs = 2 }'
gen_build "$t/bare.lua" "$t/out/bare" >/dev/null 2>&1
(cd "$t/out/bare" && ./bare train --quiet >/dev/null 2>&1)
expect "failures: a model without data has no rows to list" 2 \
    "bare: --failures lists data rows, and this model has no data" "$t/out/bare/bare" eval --failures "$t/f.csv"
# ---- issue 14, item 5: train --layer-metrics and its picture ----
expect "trainer: --layer-metrics without a file" 2 "csvm: --layer-metrics needs a file name" \
    "$t/out/csvm/csvm" train --layer-metrics
expect "trainer: --layer-metrics is refused outside train" 2 "csvm: --layer-metrics is for train, not eval" \
    "$t/out/csvm/csvm" eval --layer-metrics "$t/lm.csv"
expect "trainer: --layer-metrics into a folder that does not exist" 1 "$t/no/such/dir/lm.csv" \
    "$t/out/csvm/csvm" train --epochs 1 --weights "$t/lm.weights" --layer-metrics "$t/no/such/dir/lm.csv"
expect "trainer: --layer-metrics of a run with no step: the start's row alone" 0 "" \
    "$t/out/csvm/csvm" train --epochs 0 --weights "$t/lm0.weights" --layer-metrics "$t/lm0.csv" --quiet
expect "trainc plot: a layer metrics file with no gradient yet (only the start's row)" 1 \
    "$t/lm0.csv: nothing to draw: no row with a gradient norm" "$TRAINC" plot "$t/lm0.csv" -o "$t/lm0.svg"
printf 'epoch,step,fc1.weight:grad_norm\n1,1,0.5\n1,x,0.4\n' >"$t/lmbad.csv"
expect "trainc plot: a layer metrics file with a cell that is not a number" 1 "$t/lmbad.csv:3:" \
    "$TRAINC" plot "$t/lmbad.csv" -o "$t/lmbad.svg"

# --- issue 14 item 3 (trainc sweep) and item 7 (trainc plot overlays): bad input
sw=$t/sweep
mkdir -p "$sw"
cat >"$sw/s.lua" <<'LUA'
model "swp"
data = xor { n = 4 }
local x = input { 2 }
local y = labels { 1 }
minimize(bce(sigmoid(linear(tanh(linear(x, args.hidden or 4)), 1)), y))
optimizer = sgd { lr = 0.5 }
train { batch = 4, epochs = 2, seed = 1 }
LUA
expect "sweep: a grid without its kind and K" 2 "bad --lr '1e-3:1': expected LO:HI:log:K, LO:HI:lin:K, LO:HI:random:K[:SEED], random:K[:SEED] or a list of lrs a,b,..." \
    "$TRAINC" sweep "$sw/s.lua" --lr 1e-3:1 --list
expect "sweep: a grid of an unknown kind" 2 "bad --lr '1e-3:1:cubic:4': expected LO:HI:log:K" "$TRAINC" sweep "$sw/s.lua" --lr 1e-3:1:cubic:4 --list
expect "sweep: a list with something that is no number" 2 "bad --lr '0.1,fast': expected" "$TRAINC" sweep "$sw/s.lua" --lr 0.1,fast --list
expect "sweep: LO not below HI" 2 "bad --lr '1:0.1:log:3': LO must be below HI" "$TRAINC" sweep "$sw/s.lua" --lr 1:0.1:log:3 --list
expect "sweep: LO equal to HI" 2 "bad --lr '0.1:0.1:lin:3': LO must be below HI" "$TRAINC" sweep "$sw/s.lua" --lr 0.1:0.1:lin:3 --list
expect "sweep: K below 1" 2 "bad --lr '1e-3:1:log:0': K must be a whole number from 1 to 1000" "$TRAINC" sweep "$sw/s.lua" --lr 1e-3:1:log:0 --list
expect "sweep: K not whole" 2 "K must be a whole number from 1 to 1000" "$TRAINC" sweep "$sw/s.lua" --lr random:2.5 --list
expect "sweep: a log grid from 0" 2 "bad --lr '0:1:log:3': a log grid or log-uniform draws need LO above 0" "$TRAINC" sweep "$sw/s.lua" --lr 0:1:log:3 --list
expect "sweep: a random draw's seed that is no whole number" 2 "SEED must be a whole number" "$TRAINC" sweep "$sw/s.lua" --lr random:3:x --list
expect "sweep: an unknown --set key names the key and the spec" 2 \
    "--set hiden: $sw/s.lua never reads args.hiden (an unknown key" "$TRAINC" sweep "$sw/s.lua" --set hiden=2,4 --list
expect "sweep: --set without values" 2 "--set needs KEY=v1,v2,..., not 'hidden='" "$TRAINC" sweep "$sw/s.lua" --set hidden= --list
expect "sweep: --set with an empty value" 2 "--set hidden: an empty value" "$TRAINC" sweep "$sw/s.lua" --set hidden=2,,4 --list
expect "sweep: a --set value the spec refuses: its spec error" 2 "$sw/s.lua:5:" "$TRAINC" sweep "$sw/s.lua" --set hidden=2,-1 --list
expect "sweep: --jobs 0" 2 "bad value for --jobs: '0' (a whole number from 1 to 64)" "$TRAINC" sweep "$sw/s.lua" --jobs 0 --list
expect "sweep: --jobs two" 2 "bad value for --jobs: 'two' (a whole number from 1 to 64)" "$TRAINC" sweep "$sw/s.lua" --jobs two --list
expect "sweep: --jobs without a value" 2 "--jobs needs a value" "$TRAINC" sweep "$sw/s.lua" --jobs
expect "sweep: --seeds 0" 2 "bad value for --seeds: '0' (a whole number from 1 to 1000)" "$TRAINC" sweep "$sw/s.lua" --seeds 0 --list
expect "sweep: no spec" 2 "sweep needs a spec file" "$TRAINC" sweep --lr 0.1
expect "sweep: a missing spec" 2 "$sw/none.lua: cannot open" "$TRAINC" sweep "$sw/none.lua"
echo "a file" >"$sw/file"
expect "sweep: an -o folder that cannot be made" 1 "$sw/file/out: cannot create the sweep's folder: Not a directory" \
    "$TRAINC" sweep "$sw/s.lua" --lr 0.1 --seeds 1 -o "$sw/file/out"
printf 'epoch,loss\n1,0.5\n2,0.4\n' >"$sw/a.csv"
printf 'epoch,step,loss\n1,10,0.6\n2,20,0.3\n' >"$sw/b.csv"
printf 'name,score\nx,1\n' >"$sw/not_metrics.csv"
expect "plot: --labels of another count than the files" 2 "--labels names 1 run, but 2 files are given" \
    "$TRAINC" plot "$sw/a.csv" "$sw/b.csv" --labels only -o "$sw/o.svg"
expect "plot: an unknown --x" 2 "--x must be epoch, step or seconds, not 'iteration'" \
    "$TRAINC" plot "$sw/a.csv" "$sw/b.csv" --x iteration -o "$sw/o.svg"
expect "plot: a file that is not a metrics CSV is named" 1 \
    "$sw/not_metrics.csv:1: no 'epoch' or 'step' column in the header (it has: name,score)" \
    "$TRAINC" plot "$sw/a.csv" "$sw/not_metrics.csv" -o "$sw/o.svg"
expect "plot: --x step of a file without steps names the file and its columns" 1 \
    "$sw/a.csv: no 'step' column for --x step (it has: epoch,loss)" "$TRAINC" plot "$sw/a.csv" "$sw/b.csv" --x step -o "$sw/o.svg"
expect "plot: --x seconds of files without a seconds column" 1 "no 'seconds' column for --x seconds" \
    "$TRAINC" plot "$sw/a.csv" "$sw/b.csv" --x seconds -o "$sw/o.svg"
expect "plot: a missing file among several" 1 "$sw/gone.csv: cannot open" "$TRAINC" plot "$sw/a.csv" "$sw/gone.csv" -o "$sw/o.svg"
expect "plot: spec options are not plot's" 2 "plot takes only -o, --title, --x, --labels and -q" "$TRAINC" plot "$sw/a.csv" --set a=1
check "... no picture was written by the refusals" test ! -e "$sw/o.svg"

# ---- issue 14 item 2: lr-find's refusals; item 4: train --overfit N's ----
c=$t/out/csvm
expect "lr-find: --from 0" 2 "bad value for --from" "$c/csvm" lr-find --from 0
expect "lr-find: --from -1" 2 "bad value for --from" "$c/csvm" lr-find --from -1
expect "lr-find: --to abc" 2 "bad value for --to" "$c/csvm" lr-find --to abc
expect "lr-find: --to below --from" 2 "lr-find: --to must be above --from" \
    "$c/csvm" lr-find --from 1 --to 0.1
expect "lr-find: --steps below 10" 2 "lr-find: --steps must be at least 10" "$c/csvm" lr-find --steps 5
echo mine >"$t/lr_taken.csv"
expect "lr-find: an existing -o file is refused" 1 \
    "csvm: lr-find: $t/lr_taken.csv exists; lr-find never overwrites a file: remove it or give another -o" \
    "$c/csvm" lr-find -o "$t/lr_taken.csv"
check "lr-find: ... and left as it was" test "$(cat "$t/lr_taken.csv")" = mine
echo mine >"$t/lr_pic.svg"
expect "lr-find: an existing picture beside the -o file is refused" 1 \
    "$t/lr_pic.svg exists; lr-find never overwrites a file" "$c/csvm" lr-find -o "$t/lr_pic.csv"
check "lr-find: ... and no CSV is left behind" test ! -e "$t/lr_pic.csv"
expect "lr-find: a folder that does not exist" 1 "csvm: lr-find: $t/nodir/x.csv: No such file or directory" \
    "$c/csvm" lr-find -o "$t/nodir/x.csv"
expect "lr-find: --weights of another model's" 1 "weights of another model" \
    "$c/csvm" lr-find --weights "$t/out/idxm/idxm.weights" -o "$t/lr_other.csv"
check "lr-find: ... and leaves no CSV behind" test ! -e "$t/lr_other.csv"
expect "lr-find: --from is not train's" 2 "--from and --to are lr-find's" "$c/csvm" train --from 1e-5
for bad in 0 -3 abc 2.5 ""; do
    expect "train --overfit '$bad'" 2 "csvm: --overfit needs a whole number of rows, at least 1 (got '$bad')" \
        "$c/csvm" train --overfit "$bad"
done
expect "train --overfit with no value" 2 "--overfit needs a whole number of rows" "$c/csvm" train --overfit
expect "train --overfit more rows than the data has" 2 "csvm: --overfit 100000000: the training data has" \
    "$c/csvm" train --overfit 100000000
expect "train --overfit not whole batches" 2 "--overfit 3: the rows must be whole batches of 2 (2, 4, ...)" \
    "$c/csvm" train --overfit 3
expect "train --overfit with --limit" 2 "--overfit N picks the rows itself: drop --limit" \
    "$c/csvm" train --overfit 2 --limit 4
expect "--overfit is train's" 2 "--overfit is train's" "$c/csvm" eval --overfit 2

# ---- issue 18 item 6: train --profile
expect "profile: --profile is an option of train" 2 \
    "csvm: --profile times the steps of training: it is an option of train" \
    "$cm/csvm" eval --profile
expect "profile: ... not of predict either" 2 "csvm: --profile times the steps of training: it is an option of train" \
    "$cm/csvm" predict "$d/good.csv" --profile
expect "profile: --profile takes no value" 2 "csvm: unknown option --profile=1" \
    "$cm/csvm" train --profile=1
expect "profile: a model without data: its steps but the first are timed" 0 \
    "profile: 2 steps of 1 rows" "$t/out/bare/bare" train --quiet --profile --epochs 3
# ---- issue 15 item 3: lbfgs's options ----
lbfgs_spec() { # lbfgs_spec NAME OPTIONS: the small model with lbfgs { OPTIONS } on line 6
    spec "$1" "$H1" "$H2" "$H3" "$H4" "$LOSS" "optimizer = lbfgs { $2 }" "$TRAIN"
}
lbfgs_spec lb_good 'line_search_fn = "strong_wolfe", history_size = 5'
expect "lbfgs: the control with strong Wolfe generates" 0 "" gen lb_good
lbfgs_spec lb_lr 'lr = -1'
expect "lbfgs: a negative lr" 2 "lb_lr.lua:6:|lbfgs: invalid lr: -1" gen lb_lr
lbfgs_spec lb_lr0 'lr = 0'
expect "lbfgs: lr 0" 2 "lb_lr0.lua:6:|lbfgs: lr must be above 0, not 0" gen lb_lr0
lbfgs_spec lb_hist 'history_size = 0'
expect "lbfgs: history_size 0" 2 \
    "lb_hist.lua:6:|lbfgs: history_size must be a whole number from 1 to 10000, not 0" gen lb_hist
lbfgs_spec lb_hist_frac 'history_size = 2.5'
expect "lbfgs: a fractional history_size" 2 "lb_hist_frac.lua:6:|history_size must be a whole number" \
    gen lb_hist_frac
lbfgs_spec lb_ls 'line_search_fn = "armijo"'
expect "lbfgs: an unknown line_search_fn" 2 \
    "lb_ls.lua:6:|lbfgs: line_search_fn must be one of 'none', 'strong_wolfe'" gen lb_ls
lbfgs_spec lb_eval 'max_eval = 0'
expect "lbfgs: max_eval 0" 2 "lb_eval.lua:6:|lbfgs: max_eval must be a whole number of at least 1, not 0" \
    gen lb_eval
lbfgs_spec lb_iter 'max_iter = 0'
expect "lbfgs: max_iter 0" 2 "lb_iter.lua:6:|lbfgs: max_iter must be a whole number of at least 1, not 0" \
    gen lb_iter
lbfgs_spec lb_tol 'tolerance_grad = -1'
expect "lbfgs: a negative tolerance" 2 "lb_tol.lua:6:|lbfgs: invalid tolerance_grad: -1" gen lb_tol
lbfgs_spec lb_unknown 'momentum = 0.9'
expect "lbfgs: an option it has not" 2 "lb_unknown.lua:6:|lbfgs: unknown option 'momentum'" gen lb_unknown
spec lb_group "$H1" "$H2" "$H3" "$H4" "$LOSS" \
    'optimizer = lbfgs { groups = { { params = "bias", lr = 0.1 } } }' "$TRAIN"
expect "lbfgs: a parameter group (torch's LBFGS has one)" 2 \
    "lb_group.lua:6:|lbfgs: every parameter must be trainable with the optimizer's own lr" gen lb_group
spec lb_clip "$H1" "$H2" "$H3" "$H4" "$LOSS" 'optimizer = lbfgs { }' 'train { batch = 4, epochs = 1, clip_grad_norm = 1 }'
expect "lbfgs: gradient clipping is refused" 2 \
    "lb_clip.lua:6:|lbfgs: clip_grad_norm and clip_grad_value do not apply" gen lb_clip
# lr-find drives the spec's update at its own lrs: L-BFGS has none to drive
spec lb_find "$H1" "$H2" "$H3" "$H4" "$LOSS" 'optimizer = lbfgs { }' 'train { batch = 4, epochs = 1 }'
gen_build "$t/lb_find.lua" "$t/out/lb_find" >/dev/null 2>&1
expect "lbfgs: its trainer builds (lr-find has no update to call)" 0 "" test -x "$t/out/lb_find/m_"
expect "lbfgs: lr-find is refused with the reason" 2 \
    "m_: lr-find is for first-order optimizers: L-BFGS chooses its own step length" \
    "$t/out/lb_find/m_" lr-find

# ---- train { shards = S } and --threads (tests/test_threads.sh: the numbers) ----
sh_spec() { # sh_spec NAME TRAIN-LINE [LOSS-LINE]: the small model with that train line
    spec "$1" "$H1" "$H2" "$H3" "$H4" "${3:-$LOSS}" "$OPT" "$2"
}
sh_spec sh_zero 'train { batch = 4, epochs = 1, shards = 0 }'
expect "shards: 0 is refused at its line" 2 \
    "sh_zero.lua:7:|train: shards = 0; it must be a whole number from 1 to 4096" gen sh_zero
sh_spec sh_frac 'train { batch = 4, epochs = 1, shards = 1.5 }'
expect "shards: a fraction is refused" 2 "sh_frac.lua:7:|shards = 1.5; it must be a whole number" \
    gen sh_frac
sh_spec sh_over 'train { batch = 4, epochs = 1, shards = 5 }'
expect "shards: more shards than the batch's rows is refused with the numbers" 2 \
    "sh_over.lua:7: train: shards = 5 is more than the batch of 4 rows" gen sh_over
spec sh_bn "$H1" "$H2" "$H3" "$H4" 'local h = batch_norm(linear(x, 3))' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' "$OPT" 'train { batch = 4, epochs = 1, shards = 4 }'
expect "shards: batch norm with shards = 4 of a batch of 4 generates (synchronised over the shards)" 0 "" \
    gen sh_bn
expect "shards: ... its 1-row shards sum into the whole batch's statistics (shard_synced)" 0 "" \
    grep -q "static void shard_synced(" "$t/out/sh_bn/model.c"
sh_spec sh_sum 'train { batch = 4, epochs = 1, shards = 2 }' \
    'minimize(mse(sigmoid(linear(x, 1)), y, { reduction = "sum" }))'
expect "shards: a summed loss with shards = 2 is refused (the shards combine means)" 2 \
    "sh_sum.lua:7: train: shards = 2 needs a loss that is a mean over the rows; sum (|sh_sum.lua:5) sums the rows" \
    gen sh_sum
sh_spec sh_one 'train { batch = 4, epochs = 1, shards = 4 }'
expect "shards: the control, shards = the batch, generates" 0 "" gen sh_one
gen_build "$t/sh_one.lua" "$t/out/sh_one" >/dev/null 2>&1
expect "shards: the sharded trainer builds" 0 "" test -x "$t/out/sh_one/m_"
expect "shards: --threads 0 is refused" 2 "--threads" "$t/out/sh_one/m_" train --threads 0
expect "shards: --threads 2 trains (the control)" 0 "" "$t/out/sh_one/m_" train --threads 2 --quiet
sh_spec sh_many 'train { batch = 4, epochs = 1, shards = "many" }'
expect "shards: a string other than \"auto\" is refused at its line, naming both forms" 2 \
    'sh_many.lua:7:|shards = '"'"'many'"'"'; it must be a whole number from 1 to 4096 or "auto"' gen sh_many
sh_spec sh_auto 'train { batch = 4, epochs = 1, shards = "auto" }'
expect "shards: \"auto\" (the control) generates: 1 shard for 4 rows, no shard plan" 0 "" gen sh_auto
expect "shards: ... the auto model.c has no shard plan" 1 "" grep -q shard "$t/out/sh_auto/model.c"

# ---- issue 15 items 6, 7: landscape's refusals ----
lsm=$t/out/csvm
lso=$t/landscape
mkdir -p "$lso"
for ls_bad in 1 0 abc 2.5 100001 ""; do
    expect "landscape: --points '$ls_bad'" 2 "--points" "$lsm/csvm" landscape --points "$ls_bad" -o "$lso/x.csv"
done
expect "landscape: --points 1 says the range" 2 \
    "csvm: landscape: --points needs a whole number from 2 to 100000 (got '1')" "$lsm/csvm" landscape --points 1
for ls_bad in 1 abc 1002; do
    expect "landscape: --grid '$ls_bad'" 2 "csvm: landscape: --grid needs a whole number from 2 to 1001 (got '$ls_bad')" \
        "$lsm/csvm" landscape --plane --grid "$ls_bad" -o "$lso/x.csv"
done
for ls_bad in 0 -5 x; do
    expect "landscape: --rows '$ls_bad'" 2 "csvm: landscape: --rows needs a whole number from 1" \
        "$lsm/csvm" landscape --rows "$ls_bad" -o "$lso/x.csv"
done
for ls_bad in 1:0 a:b 1 0:inf 1:2:3 nan:1 1:1; do
    expect "landscape: --range '$ls_bad'" 2 "csvm: landscape: --range needs LO:HI" \
        "$lsm/csvm" landscape --range "$ls_bad" -o "$lso/x.csv"
done
expect "landscape: two ranges on a model of more than two parameters" 2 \
    "landscape: --range needs LO:HI (one range) (got '-1:1,-2:2')" "$lsm/csvm" landscape --plane --range -1:1,-2:2
expect "landscape: --range two ranges, spelt as one word" 2 "unknown option --range=-1:1,-2:2" \
    "$lsm/csvm" landscape --plane --range=-1:1,-2:2
expect "landscape: --grid without --plane" 2 "landscape: --grid is an option of --plane" "$lsm/csvm" landscape --grid 5
expect "landscape: --path without --plane" 2 "landscape: --path is an option of --plane" \
    "$lsm/csvm" landscape --path "$lsm/csvm.weights"
expect "landscape: --pca without --path" 2 "landscape: --pca takes its plane from the paths: give --path FILE" \
    "$lsm/csvm" landscape --plane --pca
expect "landscape: --plane with --to" 2 "landscape: --to draws a line between two weights" \
    "$lsm/csvm" landscape --plane --to "$lsm/csvm.weights"
expect "landscape: --points with --plane" 2 "landscape: --points is the line's; --plane has --grid N" \
    "$lsm/csvm" landscape --plane --points 5
expect "landscape: -o not a .csv" 2 "landscape: -o $lso/x.txt: the CSV's name must end in .csv" \
    "$lsm/csvm" landscape -o "$lso/x.txt"
expect "landscape: --to a file that does not exist" 1 "$lso/gone.weights" \
    "$lsm/csvm" landscape --weights "$lsm/csvm.weights" --to "$lso/gone.weights" -o "$lso/x.csv"
expect "landscape: --to another model's weights" 1 "weights of another model" \
    "$lsm/csvm" landscape --weights "$lsm/csvm.weights" --to "$t/out/idxm/idxm.weights" -o "$lso/x.csv"
expect "landscape: --path a file that does not exist" 1 "csvm: landscape: --path $lso/gone.csv: No such file" \
    "$lsm/csvm" landscape --plane --path "$lso/gone.csv" -o "$lso/x.csv"
printf 'step,loss,lr,w\n0,,,1\n' >"$lso/short_trace.csv"
expect "landscape: --path a trace of another model" 1 \
    "csvm: landscape: --path $lso/short_trace.csv: line 2 is not a trace row of this model" \
    "$lsm/csvm" landscape --plane --path "$lso/short_trace.csv" -o "$lso/x.csv"
printf 'a,b\n1,2\n' >"$lso/not_trace.csv"
expect "landscape: --path a CSV that is not a trace" 1 "$lso/not_trace.csv" \
    "$lsm/csvm" landscape --plane --path "$lso/not_trace.csv" -o "$lso/x.csv"
expect "landscape: --path names no file" 2 "landscape: --path ',' names no file" \
    "$lsm/csvm" landscape --plane --path , -o "$lso/x.csv"
expect "landscape: --path with no value" 2 "--path needs a value" "$lsm/csvm" landscape --plane --path
expect "landscape: --pca of a path of one point" 2 "landscape: --pca needs two points on the paths at least" \
    "$lsm/csvm" landscape --plane --pca --path "$lsm/csvm.weights" -o "$lso/x.csv"
expect "landscape: -o in a folder that does not exist" 1 "csvm: landscape: $lso/nodir/x.csv: No such file" \
    "$lsm/csvm" landscape -o "$lso/nodir/x.csv"
expect "landscape: its options are not train's" 2 "are landscape's, not train's" "$lsm/csvm" train --plane
expect "landscape: --to is not eval's" 2 "--to is lr-find's (its last lr) or landscape's" \
    "$lsm/csvm" eval --to "$lsm/csvm.weights"
expect "landscape: the line from the initial weights runs" 0 "wrote $lso/ok.csv" "$lsm/csvm" landscape -o "$lso/ok.csv" --points 3
# ---- issue 15 item 1: Hessian-vector products (train { hvp = true }) ----
HVTRAIN='train { batch = 4, epochs = 1, hvp = true }'
spec hv_bn "$H1" "$H2" "$H3" "$H4" 'local h = batch_norm(linear(x, 3))' \
    'minimize(bce(sigmoid(linear(h, 1)), y))' "$OPT" "$HVTRAIN"
expect "hvp: batch_norm has its rule (a control)" 0 "" gen hv_bn
spec hv_pool "$H1" "$H2" 'local x = input { 1, 1, 2 }' "$H4" \
    'local h = max_pool2d(tanh(conv2d(x, 2, { kernel = 1 })), { kernel = { 1, 2 } })' \
    'minimize(bce(sigmoid(linear(flatten(h), 1)), y))' "$OPT" "$HVTRAIN"
expect "hvp: max_pool2d has its rule (the control of the refusals)" 0 "" gen hv_pool
spec hv_target "$H1" "$H2" "$H3" "$H4" \
    'minimize(bce(sigmoid(linear(x, 1)), sigmoid(linear(x, 1))))' "$OPT" "$HVTRAIN"
expect "hvp: a rule that cannot differentiate (a target computed from parameters) is refused, op and line named" 2 \
    "hv_target.lua:5:|= bce_backward(...): a target computed from parameters" gen hv_target
spec hv_bool "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 4, epochs = 1, hvp = 1 }'
expect "hvp: hvp must be true or false" 2 "hv_bool.lua:7:|option 'hvp' must be true or false" \
    gen hv_bool
spec hv_ok "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" "$HVTRAIN"
gen_build "$t/hv_ok.lua" "$t/out/hv_ok" >/dev/null 2>&1
spec hv_none "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" "$TRAIN"
gen_build "$t/hv_none.lua" "$t/out/hv_none" >/dev/null 2>&1
expect "hvp: the control's hessian runs" 0 "lambda_max" run_in "$t/out/hv_ok" ./m_ hessian
expect "hvp: a trainer generated without it says how to get it" 2 \
    "m_: this trainer has no Hessian-vector product: add hvp = true" run_in "$t/out/hv_none" ./m_ hessian
expect "hvp: the vector and the output are needed" 2 "hvp needs the vector and the output" \
    run_in "$t/out/hv_ok" ./m_ hvp
expect "hvp: --rows not whole batches" 2 "--rows 3: the products are generated for batches of 4" \
    run_in "$t/out/hv_ok" ./m_ hvp v.npy -o hv.npy --rows 3
expect "hvp: --rows beyond the data" 2 "--rows 9: the training data has 4 rows" \
    run_in "$t/out/hv_ok" ./m_ hessian --rows 9
expect "hvp: a missing vector file is named" 1 "missing.npy" \
    run_in "$t/out/hv_ok" ./m_ hvp missing.npy -o hv.npy
expect "hvp: --rows is not train's" 2 "--rows is an option of landscape, hvp and hessian" \
    run_in "$t/out/hv_ok" ./m_ train --rows 4
# ---- issue 15 item 2: hessian --exact, hessian --top K (hv_ok has 3 parameters) ----
hs_dir=$t/out/hv_ok
expect "hessian --exact: the control runs" 0 "eigenvalues: |wrote hs.csv and hs.svg" \
    run_in "$hs_dir" ./m_ hessian --exact -o hs.csv
expect "hessian --exact: an existing CSV is never overwritten" 1 \
    "m_: hessian: hs.csv exists; hessian never overwrites a file: remove it or give another -o" \
    run_in "$hs_dir" ./m_ hessian --exact -o hs.csv
rm -f "$hs_dir/hs.csv"
expect "hessian --exact: nor the picture beside it" 1 "m_: hessian: hs.svg exists" \
    run_in "$hs_dir" ./m_ hessian --exact -o hs.csv
expect "hessian --top: the control runs (every eigenvalue of 3)" 0 "lambda_3 " \
    run_in "$hs_dir" ./m_ hessian --top 3 -o hs_top.csv
expect "hessian --top: an existing -o file is never overwritten" 1 \
    "m_: hessian: hs_top.csv exists; hessian never overwrites a file" \
    run_in "$hs_dir" ./m_ hessian --top 2 -o hs_top.csv
expect "hessian --top 0 is refused" 2 "--top needs a whole number of eigenvalues, at least 1 (got '0')" \
    run_in "$hs_dir" ./m_ hessian --top 0
expect "hessian --top above the parameter count is refused" 2 \
    "m_: hessian --top 4: this model has 3 parameters, so 3 eigenvalues" run_in "$hs_dir" ./m_ hessian --top 4
expect "hessian --top K with fewer --iters is refused" 2 "--iters 1 gives 1 Ritz values at most: give --iters 2" \
    run_in "$hs_dir" ./m_ hessian --top 2 --iters 1
expect "hessian: --exact and --top together are refused" 2 "--exact gives every eigenvalue, --top K the K largest: give one" \
    run_in "$hs_dir" ./m_ hessian --top 2 --exact
expect "hessian --exact: --iters is refused" 2 "--exact builds the whole Hessian: --iters and --tol are for" \
    run_in "$hs_dir" ./m_ hessian --exact --iters 5
expect "hessian: -o without --exact or --top is refused" 2 "hessian -o FILE: the eigenvalues are written with --exact or --top K" \
    run_in "$hs_dir" ./m_ hessian -o x.csv
expect "hessian: --top is not train's" 2 "--top and --exact are options of hessian" \
    run_in "$hs_dir" ./m_ train --exact
spec hs_big "$H1" "$H2" "$H3" "$H4" 'local h = tanh(linear(x, 1400))' 'minimize(bce(sigmoid(linear(h, 1)), y))' \
    "$OPT" "$HVTRAIN"
gen_build "$t/hs_big.lua" "$t/out/hs_big" >/dev/null 2>&1
expect "hessian --exact above 4096 parameters is refused, the count named, --top pointed at" 2 \
    "m_: hessian --exact: this model has 5601 parameters; the whole Hessian is built for 4096 at most|use hessian --top K" \
    run_in "$t/out/hs_big" ./m_ hessian --exact
spec hs_track0 "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 4, epochs = 1, track_sharpness = 0 }'
expect "track_sharpness = 0 is refused, line named" 2 \
    "hs_track0.lua:7:|train: track_sharpness = 0; it must be a whole number from 1" gen hs_track0
spec hs_track_half "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 4, epochs = 1, track_sharpness = 1.5 }'
expect "track_sharpness = 1.5 is refused" 2 "hs_track_half.lua:7:|track_sharpness = 1.5; it must be a whole number" \
    gen hs_track_half
spec hs_track_rule "$H1" "$H2" "$H3" "$H4" 'minimize(bce(sigmoid(linear(x, 1)), sigmoid(linear(x, 1))))' "$OPT" \
    'train { batch = 4, epochs = 1, track_sharpness = 1 }'
expect "track_sharpness needs the second derivatives: an op without them is refused" 2 \
    "hs_track_rule.lua:5:|a target computed from parameters" gen hs_track_rule
spec hs_track_ok "$H1" "$H2" "$H3" "$H4" "$LOSS" "$OPT" 'train { batch = 4, epochs = 1, track_sharpness = 1 }'
expect "track_sharpness = 1: the control generates" 0 "" gen hs_track_ok

# ---- issue 15 item 4: sgd's Armijo line search; item 5: cg ----
armijo_spec() { # armijo_spec NAME OPTIMIZER_LINE [TRAIN_LINE]: the optimizer on line 6
    spec "$1" "$H1" "$H2" "$H3" "$H4" "$LOSS" "$2" "${3:-train { batch = \"full\", epochs = 1 \}}"
}
ARMIJO_WHO='sgd with line_search = "armijo"'
armijo_spec arm_good 'optimizer = sgd { lr = 1, line_search = "armijo", c = 0.1, shrink = 0.3, max_shrinks = 5 }'
expect "armijo: the control generates" 0 "" gen arm_good
armijo_spec arm_batch 'optimizer = sgd { lr = 1, line_search = "armijo" }' 'train { batch = 2, epochs = 1 }'
expect "armijo: a mini-batch is refused" 2 \
    "arm_batch.lua:6:|$ARMIJO_WHO needs full-batch training|the loss of a mini-batch changes" gen arm_batch
armijo_spec arm_repl 'optimizer = sgd { lr = 1, line_search = "armijo" }' 'train { batch = "full", sampling = "replacement" }'
expect "armijo: rows drawn with replacement are refused" 2 \
    "arm_repl.lua:6:|needs full-batch training|rows drawn with replacement" gen arm_repl
armijo_spec arm_word 'optimizer = sgd { lr = 1, line_search = "wolfe" }'
expect "armijo: an unknown line_search" 2 "arm_word.lua:6:|sgd: line_search must be one of 'none', 'armijo'" gen arm_word
armijo_spec arm_mom 'optimizer = sgd { lr = 1, line_search = "armijo", momentum = 0.9 }'
expect "armijo: momentum is refused" 2 "arm_mom.lua:6:|$ARMIJO_WHO: momentum and nesterov do not apply" gen arm_mom
armijo_spec arm_nest 'optimizer = sgd { lr = 1, line_search = "armijo", momentum = 0.9, nesterov = true }'
expect "armijo: nesterov is refused" 2 "arm_nest.lua:6:|momentum and nesterov do not apply" gen arm_nest
armijo_spec arm_wd 'optimizer = sgd { lr = 1, line_search = "armijo", weight_decay = 1e-4 }'
expect "armijo: weight_decay is refused, the penalty named" 2 \
    "arm_wd.lua:6:|weight_decay and maximize do not apply|minimize(loss + wd / 2 * l2_penalty())" gen arm_wd
armijo_spec arm_max 'optimizer = sgd { lr = 1, line_search = "armijo", maximize = true }'
expect "armijo: maximize is refused" 2 "arm_max.lua:6:|weight_decay and maximize do not apply" gen arm_max
armijo_spec arm_lr0 'optimizer = sgd { lr = 0, line_search = "armijo" }'
expect "armijo: lr 0" 2 "arm_lr0.lua:6:|lr (the first trial step) must be above 0, not 0" gen arm_lr0
armijo_spec arm_c1 'optimizer = sgd { lr = 1, line_search = "armijo", c = 1 }'
expect "armijo: c = 1" 2 "arm_c1.lua:6:|c and shrink must be above 0 and below 1, not c = 1, shrink = 0.5" gen arm_c1
armijo_spec arm_c0 'optimizer = sgd { lr = 1, line_search = "armijo", c = 0 }'
expect "armijo: c = 0" 2 "arm_c0.lua:6:|c and shrink must be above 0 and below 1" gen arm_c0
armijo_spec arm_cneg 'optimizer = sgd { lr = 1, line_search = "armijo", c = -0.1 }'
expect "armijo: a negative c" 2 "arm_cneg.lua:6:|sgd: invalid c: -0.1" gen arm_cneg
armijo_spec arm_sh1 'optimizer = sgd { lr = 1, line_search = "armijo", shrink = 1 }'
expect "armijo: shrink = 1" 2 "arm_sh1.lua:6:|not c = 0.0001, shrink = 1" gen arm_sh1
armijo_spec arm_sh0 'optimizer = sgd { lr = 1, line_search = "armijo", shrink = 0 }'
expect "armijo: shrink = 0" 2 "arm_sh0.lua:6:|not c = 0.0001, shrink = 0" gen arm_sh0
armijo_spec arm_cap0 'optimizer = sgd { lr = 1, line_search = "armijo", max_shrinks = 0 }'
expect "armijo: max_shrinks 0" 2 "arm_cap0.lua:6:|max_shrinks must be a whole number from 1 to 1000, not 0" gen arm_cap0
armijo_spec arm_capf 'optimizer = sgd { lr = 1, line_search = "armijo", max_shrinks = 2.5 }'
expect "armijo: a fractional max_shrinks" 2 "arm_capf.lua:6:|max_shrinks must be a whole number from 1 to 1000, not 2.5" gen arm_capf
armijo_spec arm_capbig 'optimizer = sgd { lr = 1, line_search = "armijo", max_shrinks = 5000 }'
expect "armijo: max_shrinks 5000" 2 "arm_capbig.lua:6:|max_shrinks must be a whole number from 1 to 1000, not 5000" gen arm_capbig
armijo_spec arm_alone 'optimizer = sgd { lr = 1, shrink = 0.3 }'
expect "armijo: shrink without the line search" 2 \
    "arm_alone.lua:6:|sgd: shrink applies only with line_search = \"armijo\"" gen arm_alone
armijo_spec arm_group 'optimizer = sgd { lr = 1, line_search = "armijo", groups = { { params = "bias", lr = 0.1 } } }'
expect "armijo: a parameter group" 2 \
    "arm_group.lua:6:|$ARMIJO_WHO: every parameter must be trainable with the optimizer's own lr" gen arm_group
armijo_spec arm_clip 'optimizer = sgd { lr = 1, line_search = "armijo" }' 'train { batch = "full", clip_grad_value = 1 }'
expect "armijo: gradient clipping" 2 "arm_clip.lua:6:|$ARMIJO_WHO: clip_grad_norm and clip_grad_value do not apply" gen arm_clip
spec arm_cyc "$H1" "$H2" "$H3" "$H4" "$LOSS" 'optimizer = sgd { lr = 1, line_search = "armijo" }' \
    'schedule = cyclic_lr { base_lr = 0.1, max_lr = 1 }' 'train { batch = "full", epochs = 1 }'
expect "armijo: a schedule cycling the momentum" 2 \
    "arm_cyc.lua:7:|cyclic_lr cycles the momentum|line search steps along -g without one" gen arm_cyc
armijo_spec arm_find 'optimizer = sgd { lr = 1, line_search = "armijo" }'
gen_build "$t/arm_find.lua" "$t/out/arm_find" >/dev/null 2>&1
expect "armijo: its trainer builds" 0 "" test -x "$t/out/arm_find/m_"
expect "armijo: lr-find is refused with the reason" 2 \
    "m_: lr-find is for optimizers with a fixed step: this one chooses its own step length" \
    "$t/out/arm_find/m_" lr-find
armijo_spec cg_good 'optimizer = cg { beta = "fletcher_reeves", restart = 3, c2 = 0.5, max_iter = 4 }'
expect "cg: the control generates" 0 "" gen cg_good
armijo_spec cg_beta 'optimizer = cg { beta = "hestenes_stiefel" }'
expect "cg: an unknown beta" 2 "cg_beta.lua:6:|cg: beta must be one of 'polak_ribiere', 'fletcher_reeves'" gen cg_beta
armijo_spec cg_lr0 'optimizer = cg { lr = 0 }'
expect "cg: lr 0" 2 "cg_lr0.lua:6:|cg: lr must be above 0, not 0" gen cg_lr0
armijo_spec cg_iter 'optimizer = cg { max_iter = 0.5 }'
expect "cg: max_iter 0.5" 2 "cg_iter.lua:6:|cg: max_iter must be a whole number of at least 1, not 0.5" gen cg_iter
armijo_spec cg_rs0 'optimizer = cg { restart = 0 }'
expect "cg: restart 0" 2 "cg_rs0.lua:6:|cg: restart must be a whole number of at least 1, not 0" gen cg_rs0
armijo_spec cg_c2 'optimizer = cg { c2 = 1 }'
expect "cg: c2 = 1" 2 "cg_c2.lua:6:|cg: c2 must be above c1 = 1e-4 and below 1|not 1" gen cg_c2
armijo_spec cg_c2lo 'optimizer = cg { c2 = 1e-5 }'
expect "cg: c2 below c1" 2 "cg_c2lo.lua:6:|cg: c2 must be above c1 = 1e-4|not 1e-05" gen cg_c2lo
armijo_spec cg_tol 'optimizer = cg { tolerance_change = -1 }'
expect "cg: a negative tolerance" 2 "cg_tol.lua:6:|cg: invalid tolerance_change: -1" gen cg_tol
armijo_spec cg_unknown 'optimizer = cg { momentum = 0.9 }'
expect "cg: an option it has not" 2 "cg_unknown.lua:6:|cg: unknown option 'momentum'" gen cg_unknown
armijo_spec cg_batch 'optimizer = cg { }' 'train { batch = 2, epochs = 1 }'
expect "cg: a mini-batch is refused" 2 "cg_batch.lua:6:|cg needs full-batch training" gen cg_batch
armijo_spec cg_clip 'optimizer = cg { }' 'train { batch = "full", clip_grad_norm = 1 }'
expect "cg: gradient clipping" 2 "cg_clip.lua:6:|cg: clip_grad_norm and clip_grad_value do not apply" gen cg_clip
armijo_spec cg_group 'optimizer = cg { groups = { { params = "bias", lr = 0.1 } } }'
expect "cg: a parameter group" 2 "cg_group.lua:6:|cg: every parameter must be trainable" gen cg_group

# ---- issue 15 item 5: newton { lr, damping } ----
newton_spec() { # newton_spec NAME OPTIONS [LOSS]: the small model with newton { OPTIONS } on line 6
    spec "$1" "$H1" "$H2" "$H3" "$H4" "${3:-$LOSS}" "optimizer = newton { $2 }" "$TRAIN"
}
newton_spec nw_good 'lr = 0.5, damping = 1e-3'
expect "newton: the control generates" 0 "" gen nw_good
newton_spec nw_big '' 'minimize(bce(sigmoid(linear(tanh(linear(x, 1400)), 1)), y))'
expect "newton: more than 4096 parameters is refused with the count and the cost" 2 \
    "nw_big.lua:6:|newton: this model has 5601 parameters|O(n^3)|it takes 4096 parameters at most" gen nw_big
newton_spec nw_lr0 'lr = 0'
expect "newton: lr 0" 2 "nw_lr0.lua:6:|newton: lr must be above 0, not 0" gen nw_lr0
newton_spec nw_lrneg 'lr = -1'
expect "newton: a negative lr" 2 "nw_lrneg.lua:6:|newton: invalid lr: -1" gen nw_lrneg
newton_spec nw_damp 'damping = -0.1'
expect "newton: a negative damping" 2 "nw_damp.lua:6:|newton: invalid damping: -0.1" gen nw_damp
newton_spec nw_dword 'damping = "big"'
expect "newton: a damping that is not a number" 2 "nw_dword.lua:6:|newton: damping must be a number" gen nw_dword
newton_spec nw_unknown 'momentum = 0.9'
expect "newton: an option it has not" 2 "nw_unknown.lua:6:|newton: unknown option 'momentum'" gen nw_unknown
newton_spec nw_target '' 'minimize(bce(sigmoid(linear(x, 1)), sigmoid(linear(x, 1))))'
expect "newton: an op without a second-derivative rule is refused, op and line named" 2 \
    "nw_target.lua:5:|optimizer = newton builds H from them|bce_backward(...)" gen nw_target
spec nw_clip "$H1" "$H2" "$H3" "$H4" "$LOSS" 'optimizer = newton { }' 'train { batch = 4, clip_grad_norm = 1 }'
expect "newton: gradient clipping" 2 "nw_clip.lua:6:|newton: clip_grad_norm and clip_grad_value do not apply" gen nw_clip

# ---- trainc --mpi: a build option only ----
expect "trainc run --mpi is refused (start the -mpi trainer under mpirun)" 2 \
    "--mpi is for build|mpirun -np R" "$TRAINC" run --mpi "$t/never_read.lua"
expect "trainc gen --mpi is refused" 2 "--mpi is for build" "$TRAINC" gen --mpi "$t/never_read.lua"

# ---- info --ranks R [--link-gbps G]: the cost model's refusals (sh_one: shards = 4) ----
ir_bin=$t/out/sh_one/m_
for ir_bad in 0 -1 abc 1.5 ""; do
    expect "info --ranks '$ir_bad' is refused" 2 "m_: --ranks needs a whole number of ranks, at least 1 (got '$ir_bad')" \
        "$ir_bin" info --ranks "$ir_bad"
done
expect "info --ranks 5 with shards = 4: refused with the shard count and how to raise it" 2 \
    "m_: info --ranks 5: the spec's train { shards = 4 } gives at most 4 ranks a shard; raise shards in the spec (at most the batch, 4 rows)" \
    "$ir_bin" info --ranks 5
for ir_bad in 0 -2 abc nan inf 1e7 ""; do
    expect "info --ranks 2 --link-gbps '$ir_bad' is refused" 2 \
        "m_: --link-gbps needs the link's speed in Gbit/s, a number above 0 and at most 1e6 (got '$ir_bad')" \
        "$ir_bin" info --ranks 2 --link-gbps "$ir_bad"
done
expect "--ranks on train is refused (it is info's)" 2 "m_: --ranks R is info's (info --ranks R: the cost model of training under mpirun -np R), not train's" \
    "$ir_bin" train --ranks 2
expect "--ranks on eval is refused" 2 "--ranks R is info's|not eval's" "$ir_bin" eval --ranks 2
expect "--link-gbps without --ranks is refused" 2 "m_: --link-gbps goes with info --ranks R" \
    "$ir_bin" info --link-gbps 5
expect "info --ranks 4 --link-gbps 2.5: the control prints the cost model" 0 \
    "cost model of mpirun -np 4|2.5 Gbit/s|rank 3: 1 shard, 1 rows" "$ir_bin" info --ranks 4 --link-gbps 2.5 --steps 1
expect "info --ranks 2 on a trainer without shards: refused (shards = 1)" 2 \
    "csvm: info --ranks 2: the spec's train { shards = 1 } gives at most 1 rank a shard" \
    run_in "$t/out/csvm" ./csvm info --ranks 2

# ---- export-c DIR (issue 17 item 4): the refusals ----
ec_bin=$t/out/csvm
expect "export-c without a folder: usage" 2 "csvm: export-c needs a folder" run_in "$ec_bin" ./csvm export-c
printf 'x\n' >"$t/ec_file"
expect "export-c into a folder under a file: cannot create, named" 1 \
    "csvm: $t/ec_file/sub: cannot create: Not a directory" run_in "$ec_bin" ./csvm export-c "$t/ec_file/sub"
expect "export-c onto a file: the file it cannot write named" 1 "csvm: $t/ec_file/csvm_infer.c" \
    run_in "$ec_bin" ./csvm export-c "$t/ec_file"
expect "export-c before any training says to train first" 1 \
    "no trained weights yet (csvm.weights does not exist): train first, with './csvm train'" \
    run_in "$t/fresh/csvm" ./csvm export-c "$t/ec_never"
check "export-c before any training writes nothing" test ! -e "$t/ec_never"
expect "export-c: the control writes both files" 0 "wrote $t/ec_ok/csvm_infer.c and csvm_infer.h" \
    run_in "$ec_bin" ./csvm export-c "$t/ec_ok"

# ---- --max-memory under the plan: recomputation (gen/recompute.c; tests/test_recompute.sh trains) ----
# six tanh layers of 256 at batch 1024: 10.53 MiB planned, 7.53 MiB at the
# least with activations computed again in the backward
spec rcm_deep 'model "rcm_deep"' 'data = linreg { n = 4096, d = 2 }' 'local x = input { 2 }' \
    'local y = labels { 1 }' 'local h = tanh(linear(x, 256))' \
    'for i = 1, 5 do h = tanh(linear(h, 256)) end' 'minimize(mse(linear(h, 1), y))' "$OPT" \
    'train { batch = 1024, epochs = 1, shards = 1 }'
expect "recompute: --max-memory 8.5 (a fraction) fits by recomputing" 0 "" \
    "$TRAINC" gen -q "$t/rcm_deep.lua" -o "$t/out/rcm_deep" --max-memory 8.5
expect "recompute: model.c's copies say so, with the budget and the spec line" 0 \
    "recomputed for the backward (budget --max-memory 8.5): tanh|rcm_deep.lua:6|(the forward's tanh" \
    cat "$t/out/rcm_deep/model.c"
expect "recompute: --max-memory 5 is below what recomputation reaches: refused with the spec and the MiB" 2 \
    "rcm_deep.lua: the model needs 10.53 MiB of buffers, 7.53 MiB at the least with activations computed again in the backward, more than the budget of 5.00 MiB (--max-memory)" \
    "$TRAINC" gen -q "$t/rcm_deep.lua" -o "$t/out/rcm_deep5" --max-memory 5
expect "recompute: ... and nothing is written" 0 "" test ! -e "$t/out/rcm_deep5/model.c"
expect "recompute: not with hvp: refused, saying why" 2 \
    "rcm_deep.lua: the model needs about|more than the budget of 8.5 MiB (--max-memory); activations are not recomputed with hvp" \
    "$TRAINC" gen -q "$t/rcm_deep.lua" -o "$t/out/rcm_deep_hvp" --max-memory 8.5 --hvp
for rcm_bad in 0 -2 abc 2.5x nan inf ""; do
    expect "recompute: --max-memory '$rcm_bad' is refused" 2 \
        "--max-memory needs a positive size in MiB (2.5: fractions too), not '$rcm_bad'" \
        "$TRAINC" gen -q "$t/rcm_deep.lua" -o "$t/out/rcm_deep_bad" --max-memory "$rcm_bad"
done
