# The example specs in models/: each generates, builds warning-free and runs
# a short training; the lessons that promise a figure reach it.
. tests/lib.sh
out=$TRAINC_TMP/models
mkdir -p "$out"

# fashion_mlp trains for minutes (its own test covers it); least_squares has
# its own test (tests/test_least_squares.sh); lenet has tests/test_conv.sh
# (in float most of conv1's values have a change of max pooling's argmax
# within every step gradcheck tries, and go uncompared: it is checked in
# double there), and so do fashion_cnn and resnet_tiny,
# which also train for minutes; deep_sigmoid (vanishing gradients on
# purpose: a float gradcheck of its first layers means nothing) has
# tests/test_layer_plot.sh.
skip=" fashion_mlp least_squares lenet fashion_cnn resnet_tiny deep_sigmoid "

for spec in models/*.lua; do
    name=$(basename "$spec" .lua)
    case "$skip" in *" $name "*) continue ;; esac
    dir=$out/$name
    log=$out/$name.log
    gen_build "$spec" "$dir" >"$log" 2>&1
    rc=$?
    # the model's name may differ from the file's: take the one binary built
    bin=$(find "$dir" -maxdepth 1 -type f -perm -u+x 2>/dev/null | head -1)
    check "$name: generates and builds (exit $rc)" test "$rc" -eq 0 -a -n "$bin"
    check "$name: builds without warnings" sh -c "! grep -qi 'warning' '$log'"
    check "$name: model.c is laid out (indented, one comment line per line written)" laid_out "$dir/model.c"
    if [ -z "$bin" ]; then
        echo "not ok - $name: no trainer to run"
        continue
    fi
    loss=$(cd "$dir" && "$bin" train --epochs 2 --quiet 2>&1 | awk '/ loss / { print $3 }')
    check "$name: trains 2 epochs to a finite loss (got '$loss')" lt "$loss" 1e30
    check "$name: info runs" sh -c "cd '$dir' && '$bin' info >/dev/null"
    check "$name: gradcheck passes" sh -c "cd '$dir' && '$bin' gradcheck --quiet | grep -q '^gradcheck ok'"
done

# the promised figures, with the specs' own settings
accuracy() { # accuracy DIR BINARY: test accuracy after a full training
    (cd "$1" && "./$2" train --quiet 2>&1) | awk '/^test / { for (i = 1; i < NF; i++) if ($i == "accuracy") print $(i + 1) }'
}

acc=$(accuracy "$out/spirals" spirals)
check "spirals: test accuracy >= 0.95 (got $acc)" gt "$acc" 0.9499

acc=$(accuracy "$out/logistic" logistic)
check "logistic: test accuracy >= 0.90 (got $acc; about 0.93 is the best possible)" gt "$acc" 0.8999

# logistic predicts a class of -1 or +1 and P(y = +1): a point far on w*'s
# side gets +1, its mirror image -1
printf '3,3,3,3,3\n-3,-3,-3,-3,-3\n' >"$out/logistic.points.csv"
pred=$(cd "$out/logistic" && ./logistic predict "$out/logistic.points.csv" 2>&1 | tail -2 | cut -d, -f1 | sort | tr '\n' ' ')
check "logistic: predict gives classes -1 and +1 (got '$pred')" test "$pred" = "-1 1 "
