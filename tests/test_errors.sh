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
spec loop 'model "m"' 'while true do end'
start=$(date +%s)
expect "limits: an endless loop is stopped by the instruction limit" 2 \
    "loop.lua:|Lua instructions (an endless loop?)" gen loop
secs=$(($(date +%s) - start))
check "limits: the endless loop is stopped within a few seconds (${secs}s)" test "$secs" -le $((5 * time_factor))
expect_last "limits: the instruction-limit message names the loop's line" "loop.lua:2:"
# pcall must not catch the limit: the spec would run on for ever
spec loop_pcall 'model "m"' 'while true do pcall(function() while true do end end) end'
expect "limits: an endless loop inside pcall is stopped too" 2 "Lua instructions" \
    timeout $((5 * time_factor)) "$TRAINC" gen -q "$t/loop_pcall.lua" -o "$t/out/loop_pcall"
# Lua patterns backtrack in C, where the instruction count does not reach:
# a pattern that could backtrack for hours over a long string is refused;
# ordinary uses of the pattern functions still work
spec pattern 'model "m"' 'local s = string.rep("a", 20000)' 'local r = s:find(".-.-.-b")'
expect "limits: a backtracking pattern over a long string is refused" 2 \
    "pattern.lua:3:|string.find: a pattern with 3 repetitions over 20000 characters" \
    timeout $((20 * time_factor)) "$TRAINC" gen -q "$t/pattern.lua" -o "$t/out/pattern"
model_with patterns_ok 'assert(("x.y"):find(".", 1, true) == 2 and ("a,b"):gsub(",", ";") == "a;b")' \
    'local k = 0; for w in ("ab cd"):gmatch("%a+") do k = k + 1 end; assert(k == 2)' \
    'assert(("abc"):match("^(a)") == "a" and not string.rep("a", 200):find(".-.-b"))'
expect "limits: string.find, gsub, gmatch and match still work on short strings" 0 "" gen patterns_ok
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
# a data path relative to the spec must work wherever the trainer runs, as
# under `trainc run`, which starts it in its own folder
mkdir -p "$t/rel/data"
cp "$d/good.csv" "$t/rel/data/rel.csv"
csv_spec rel "data/rel.csv"
mv "$t/rel.lua" "$t/rel/rel.lua"
bg names "$TRAINC" build "$t/names.lua" -o "$t/out/names"
bg names2 "$TRAINC" build "$t/names2.lua" -o "$t/out/names2"
bg idx_ok "$TRAINC" build -q "$t/idx_ok.lua" -o "$t/out/idxm"
bg csv_ok "$TRAINC" build -q "$t/csv_ok.lua" -o "$t/out/csvm"
bg rel run_in "$t" "$TRAINC" run -q rel/rel.lua -o out/rel -- --quiet

# ---- spec mistakes name the file and line of the offending call ----
spec syntax "$H1" "$H2" "$H3" "$H4" 'local h = linear(x, 3' "$OPT" "$TRAIN"
expect "spec: a Lua syntax error gives file:line" 2 "syntax.lua:6:|')' expected" gen syntax
model_with typo_fn 'local h = rleu(x)'
expect "spec: an unknown function suggests the right one" 2 \
    "typo_fn.lua:5:|unknown name 'rleu'|did you mean 'relu'?" gen typo_fn
model_with typo_opt 'local h = linear(x, 3, { bais = false })'
expect "spec: an unknown option suggests the right one" 2 \
    "typo_opt.lua:5:|unknown option 'bais'|did you mean 'bias'?" gen typo_opt
spec matmul "$H1" 'data = xor { n = 4 }' 'local x = input { 3 }' 'local w = param { 4, 2 }' \
    'local h = matmul(x, w)' "$OPT" "$TRAIN"
expect "spec: matmul of [B x 3] and [4 x 2] is a shape error" 2 \
    "matmul.lua:5:|matmul|[B x 3]|[4 x 2]" gen matmul
spec mse "$H1" "$H2" "$H3" "$H4" 'minimize(mse(linear(x, 2), y))' "$OPT" "$TRAIN"
expect "spec: mse of different shapes is a shape error" 2 \
    "mse.lua:5:|mse|[B x 2]|[B x 1]|differ in shape" gen mse
spec dim0 "$H1" "$H2" 'local x = input { 0 }' "$OPT" "$TRAIN"
expect "spec: input { 0 } is refused" 2 "dim0.lua:3:|input: dimension 1 is 0" gen dim0
model_with dimneg 'local p = param { -3 }'
expect "spec: param { -3 } is refused" 2 "dimneg.lua:5:|param: dimension 1 is -3" gen dimneg
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

wait # for the background builds

# ---- C-hostile names: the generated C compiles warning-free and trains ----
check "names: a C-hostile model name and parameter names build" test -x "$t/out/names/my_model_2"
check "names: ... without warnings" sh -c "! grep -qi 'warning' '$t/names.out'"
expect "names: ... and the trainer trains" 0 "train loss" run_in "$t/out/names" ./my_model_2 train --quiet
# names keep letters, digits, '_', '.' and '-'; anything else becomes '_'
expect "names: ... and exports every parameter under its own (file-safe) name" 0 "" \
    sh -c "cd '$t/out/names' && ./my_model_2 export npy --quiet && test -f 'npy/a-b.weight.npy' \
           && test -f 'npy/a_b.weight.npy' && test -f 'npy/x_y.bias.npy' && test -f npy/int.weight.npy"
rc=$(cat "$t/names2.rc")
check "names: quotes, backslashes, */, newlines and ??/ in names build (exit $rc)" test "$rc" -eq 0
check "names: ... without warnings" sh -c "! grep -qi 'warning' '$t/names2.out'"

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
expect "data at generation: IDX with 6 features for input { 4 }" 1 "$d/img.feat|6|4" gen gen_idx
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
expect "data at generation: CSV with 3 features for input { 2 }" 1 "$d/feat.csv|3|2" gen gen_csv

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
