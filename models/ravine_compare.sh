#!/bin/sh
# The course's pictures of optimizers on functions of two variables
# (models/ravine.lua): GD, momentum, Nesterov, Adagrad, RMSprop, Adam,
# L-BFGS and Newton's method from the same start, each path traced (train
# --trace) and drawn on the function's contours by `landscape --plane`,
# which draws a model of two parameters in its own parameters. One picture
# per function, into DIR (default models/): ravine_<f>.svg for the ravine,
# the rotated ravine, the saddle (without L-BFGS: its line search runs off
# to minus infinity) and Rosenbrock's valley. Newton's method lands on the
# minimum of the two quadratics in one step, and on the saddle point of the
# saddle in one step too (it finds where the gradient vanishes, minimum or
# not: models/ravine.lua says more).
#   models/ravine_compare.sh [DIR] [FUNCTIONS...]
set -eu
cd "$(dirname "$0")/.."
trainc=${TRAINC:-build/gen/trainc}
dir=${1:-models}
shift $(($# > 0 ? 1 : 0))
functions=${*:-ravine rotated saddle rosenbrock}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in $functions; do
    opts="gd momentum nesterov adagrad rmsprop adam lbfgs newton"
    range=""
    case $f in
    saddle) opts="gd momentum nesterov adagrad rmsprop adam newton" range="--range -4.5:1.5,-3:3" ;;
    rosenbrock) range="--range -2:2,-1:3" ;;
    esac
    paths=""
    for opt in $opts; do
        "$trainc" build -q models/ravine.lua -o "$work/$f-$opt" --set f="$f" --set opt="$opt"
        (cd "$work/$f-$opt" && ./ravine train --quiet --trace "$work/$opt.csv" >/dev/null)
        paths="$paths --path $work/$opt.csv"
    done
    # shellcheck disable=SC2086 # the options, word by word
    (cd "$work/$f-gd" && ./ravine landscape --plane --grid 41 $range $paths --quiet \
        -o "$work/ravine_$f.csv" >/dev/null)
    cp "$work/ravine_$f.svg" "$dir/ravine_$f.svg"
    echo "wrote $dir/ravine_$f.svg"
done
