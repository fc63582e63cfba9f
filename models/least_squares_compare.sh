#!/bin/sh
# The course's comparison: one least-squares problem (models/least_squares.lua)
# under GD and mini-batch SGD, with momentum, Nesterov, Adagrad, RMSprop and
# Adam; the loss after each epoch of each in one CSV (default
# least_squares_optimizers.csv), one column per method.
#   models/least_squares_compare.sh [OUT.csv] [EPOCHS]
# The course's GD-vs-SGD picture (X 10000 x 500): full-batch GD (lr 0.5),
# mini-batch SGD (64 rows, lr 0.01) and batch-1 SGD (lr 0.0005: a single
# row's Hessian 2 x x' has eigenvalue 2|x|^2 ~ 1000, so 2/1000 is its
# limit), the loss of each step against the iterations (GD is faster) and
# against the epochs (SGD is faster: an epoch of SGD costs about one GD
# iteration), as two SVG pictures drawn by `trainc plot` into DIR:
#   models/least_squares_compare.sh gd-sgd [DIR]
set -eu
cd "$(dirname "$0")/.."
trainc=${TRAINC:-build/gen/trainc}
if [ "${1:-}" = gd-sgd ]; then
    dir=${2:-.}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # run NAME BATCH LR EPOCHS: the step metrics of one run
    run() {
        "$trainc" build -q models/least_squares.lua -o "$work/$1" --set batch="$2"
        (cd "$work/$1" && ./least_squares train --quiet --lr "$3" --epochs "$4" \
            --step-metrics steps.csv >/dev/null)
    }
    run gd full 0.5 300
    run sgd64 64 0.01 5
    run sgd1 1 0.0005 5
    for f in gd sgd64 sgd1; do # step,epoch,loss: of the first 300 iterations; of the first 5 epochs
        awk -F, -v OFS=, 'NR == 1 || $1 <= 300 { print $1, $2, $3 }' "$work/$f/steps.csv" >"$work/$f.iterations.csv"
        awk -F, -v OFS=, 'NR == 1 || $2 <= 5 { print $1, $2, $3 }' "$work/$f/steps.csv" >"$work/$f.epochs.csv"
    done
    labels="GD (full batch of 10000),mini-batch SGD (64),SGD (batch 1)"
    "$trainc" plot "$work/gd.iterations.csv" "$work/sgd64.iterations.csv" "$work/sgd1.iterations.csv" \
        --x step --labels "$labels" --title "least squares, X 10000x500: loss by iteration" \
        -o "$dir/least_squares_gd_sgd_iterations.svg"
    "$trainc" plot "$work/gd.epochs.csv" "$work/sgd64.epochs.csv" "$work/sgd1.epochs.csv" \
        --x epoch --labels "$labels" --title "least squares, X 10000x500: loss by epoch" \
        -o "$dir/least_squares_gd_sgd_epochs.svg"
    exit 0
fi
out=${1:-least_squares_optimizers.csv}
epochs=${2:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cols="epoch"
files=""
for batch in full 64; do
    for opt in gd momentum nesterov adagrad rmsprop adam; do
        name="${opt}_$batch"
        [ "$batch" = full ] || name="${opt}_sgd$batch"
        "$trainc" build -q models/least_squares.lua -o "$work/$name" --set batch=$batch --set opt=$opt
        (cd "$work/$name" && ./least_squares train --quiet --epochs "$epochs" --metrics m.csv >/dev/null)
        cut -d, -f3 "$work/$name/m.csv" | tail -n +2 >"$work/$name.col"
        cols="$cols,$name"
        files="$files $work/$name.col"
    done
done
{
    echo "$cols"
    i=1
    # shellcheck disable=SC2086 # the list of files, in column order
    paste -d, $files | while read -r row; do
        echo "$i,$row"
        i=$((i + 1))
    done
} >"$out"
echo "wrote $out: loss per epoch, columns $cols"
