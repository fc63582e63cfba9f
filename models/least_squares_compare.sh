#!/bin/sh
# The course's comparison: one least-squares problem (models/least_squares.lua)
# under GD and mini-batch SGD, with momentum, Nesterov, Adagrad, RMSprop and
# Adam; the loss after each epoch of each in one CSV (default
# least_squares_optimizers.csv), one column per method.
#   models/least_squares_compare.sh [OUT.csv] [EPOCHS]
set -eu
cd "$(dirname "$0")/.."
out=${1:-least_squares_optimizers.csv}
epochs=${2:-30}
trainc=${TRAINC:-build/gen/trainc}
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
