#!/usr/bin/env python3
"""test_schedules_torch.py — the learning-rate schedules against PyTorch 1.13's
torch.optim.lr_scheduler (Debian python3-torch), on plain SGD.

Every case is one spec (4 features -> linear 8 -> tanh -> linear 1, mse, a
random CSV of 32 rows written with numpy, batch 8 = 4 steps per epoch,
shuffle = false) with one `schedule = ...` line, built with trainc. The
trainer is run with `train --epochs 0` + `export` for the initial weights,
then `train --epochs 15 --metrics` (60 steps) + `export`, and, for the
per-step forms, `train --steps 10` and `--steps 23` (the schedule's total is
then the step count); per-epoch forms also `--epochs 7`. PyTorch loads the
initial weights and runs the same batches with torch.optim.SGD and the
scheduler, stepped as usual: `opt.step(); sched.step()` after every step
(per-step forms) or after every epoch (per-epoch forms; ReduceLROnPlateau
with the epoch's mean training loss — the mean over the epoch's rows of the
step losses *before* each update, as the trainer computes it — or the
validation loss). Checks per case:

 1. lr, trainer: the `lr` column of --metrics (the lr of each epoch's last
    step, printed with 17 digits) against torch's lr for that step, within
    1e-12 relative.
 2. lr, exact: the schedule code the trainer was generated with (the
    model_lr block of out/model.c, and rt_plateau_step of its runtime/
    copy, compiled into a small program) evaluated at the same (e, base,
    total) as the trainer passes, printed with %.17g, against torch's lr
    for every step within 1e-12 relative: a closed form against torch's
    recursive form. The cosine with warmup (not in torch) is compared with
    its closed form documented in templates/schedule/cosine.c.
 3. parameters after every one of the 60 SGD steps (--trace, exact digits)
    and at the end, with the schedule:
      float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6
      double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13
 4. for reduce_lr_on_plateau: the per-epoch loss (and validation loss),
    and that lr was cut; for every non-constant case that lr did change.

Cases: no schedule (the constant lr), every schedule per epoch; per step (every = "step") where the form
matters: step_lr, exponential_lr, linear_lr, cosine (total = the run's
steps, also with a partial last batch and with drop_last), cosine with
warmup, inverse_time, cyclic_lr and one_cycle_lr (per-step by default; also
per epoch), one_cycle_lr with total_steps shorter than the run (torch stops
there; ours keeps the last lr); linear_lr with total_iters = 0;
reduce_lr_on_plateau min/rel with cooldown and min_lr, max/abs with
monitor = "loss", and on a validation split (the last 20% of the rows). In double:
step_lr, cosine per step, one_cycle_lr, reduce_lr_on_plateau. Those cases set cycle_momentum = false (torch's
cycle_momentum=False). With cycle_momentum = true, torch's default, the
schedule also sets the momentum (SGD, RMSprop) or beta1 (Adam) of every
step: one_cycle_lr on SGD momentum (also in double), SGD nesterov (with
weight decay), plain SGD (torch gives it a momentum), Adam (per step, per
epoch with amsgrad, and in double), centered RMSprop; cyclic_lr on SGD momentum, SGD nesterov (also
in double) and RMSprop momentum. For these, check 2 also compares the
generated model_momentum with torch's group momentum (or betas[0]) at every
step, within 1e-12 relative. And cycle_momentum with an optimizer torch's
scheduler refuses ("optimizer must support momentum": Adam, NAdam under
CyclicLR in 1.13; Adagrad, Adadelta under both) must be a spec error at the
schedule's line, and accepted where torch accepts it; trainc also refuses
its heavy ball and max_momentum = 0 (no momentum buffer at step 1). The
cycled cases also save a checkpoint at steps 23 and 46 and resume from it:
the resumed run must end with bit-identical weights.

Negative controls: torch StepLR with gamma 0.55 instead of 0.5, an
off-by-one (torch stepped once before training), and one_cycle_momentum_adam
and cyclic_momentum_sgd against torch with cycle_momentum=False, must be
reported as mismatches.

Run from the repo root: /usr/bin/python3 tests/test_schedules_torch.py
Environment: TRAINC (default build/gen/trainc), TRAINC_TMP (scratch folder;
default a temporary one). Prints "ok - name" / "not ok - name"; exits 1 on
any failure. A missing torch is a failure, not a skip.

To stay fast, only the first trainer of each dtype is built with `trainc
build`; the others are `trainc gen` + `ninja -C DIR --quiet` (what `build`
runs) with the runtime objects of the first copied in when the runtime
sources are byte for byte the same (ninja rebuilds anything else)."""
import math
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import oracle
from oracle import report, require_torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ROWS, FEATURES, HIDDEN, BATCH = 32, 4, 8, 8
EPOCHS = 15                     # 4 steps per epoch: 60 steps
STEP_RUNS = (10, 23)            # extra --steps runs of per-step forms
EPOCH_RUNS = (7,)               # extra --epochs runs of per-epoch forms
TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}
LR_RTOL = 1e-12
PRINT_RTOL = 5e-9               # %.9g
LOSS_RTOL = {"float": 1e-5, "double": 1e-8}
PARAMS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


require_torch()
import numpy as np
import torch
import torch.nn as nn
from torch.optim import lr_scheduler as S


# ---- the cases ----

class ClosedForm:
    """A scheduler from a closed form lr(e) (for what torch has not)."""

    def __init__(self, opt, f):
        self.opt, self.f, self.e = opt, f, 0
        self._set()

    def _set(self):
        for g in self.opt.param_groups:
            g["lr"] = self.f(self.e)

    def step(self):
        self.e += 1
        self._set()


def cosine_warmup(base, W, T, eta_min):
    """templates/schedule/cosine.c's documented closed form."""
    def f(e):
        if e < W:
            return base * (e + 1) / W
        if T <= W:
            return base
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (e - W) / (T - W))) / 2
    return f


class Case:
    def __init__(self, name, sched, make, per_step=False, dtype="float", lr=0.1, plateau=False,
                 valid=0, torch_name="", seed=1, rows=ROWS, drop_last=False, opt=None):
        self.name, self.sched, self.make, self.per_step = name, sched, make, per_step
        # (trainc optimizer, torch factory); default plain SGD at lr
        self.opt = opt or (f"sgd {{ lr = {lr!r} }}", lambda ps: torch.optim.SGD(ps, lr=lr))
        self.dtype, self.lr, self.plateau, self.valid = dtype, lr, plateau, valid
        self.torch_name, self.seed, self.rows, self.drop_last = torch_name, seed, rows, drop_last


def torch_table(make, n):
    """torch's lr for e = 0 .. n-1 of a scheduler stepped n-1 times."""
    p = [nn.Parameter(torch.zeros(1, dtype=torch.float64))]
    opt = torch.optim.SGD(p, lr=0.1)
    sched, out = make(opt), []
    for e in range(n):
        out.append(float(opt.param_groups[0]["lr"]))
        if e + 1 < n:
            opt.step()
            sched.step()
    return out


def one_cycle_short(opt, t):
    """OneCycleLR(total_steps=40) while torch steps, then its last lr."""
    table = torch_table(lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=40,
                                               cycle_momentum=False), 40)
    return ClosedForm(opt, lambda e: table[min(e, 39)])


def steplr(opt, total, gamma=0.5):
    return S.StepLR(opt, step_size=3, gamma=gamma)


C = Case
CASES = [
    C("constant", None, lambda o, t: S.LambdaLR(o, lambda e: 1.0),
      torch_name="LambdaLR(1) (no schedule line: a constant lr)"),
    C("step_lr", "step_lr { step_size = 3, gamma = 0.5 }", steplr, torch_name="StepLR"),
    C("step_lr_step", 'step_lr { step_size = 7, gamma = 0.7, every = "step" }',
      lambda o, t: S.StepLR(o, step_size=7, gamma=0.7), per_step=True, torch_name="StepLR"),
    C("multistep_lr", "multistep_lr { milestones = { 2, 5, 5, 9 }, gamma = 0.3 }",
      lambda o, t: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3), torch_name="MultiStepLR"),
    C("exponential_lr", "exponential_lr { gamma = 0.8 }",
      lambda o, t: S.ExponentialLR(o, gamma=0.8), torch_name="ExponentialLR"),
    C("exponential_lr_step", 'exponential_lr { gamma = 0.97, every = "step" }',
      lambda o, t: S.ExponentialLR(o, gamma=0.97), per_step=True, torch_name="ExponentialLR"),
    C("exp_decay", "exp_decay { k = 0.15 }",
      lambda o, t: S.ExponentialLR(o, gamma=math.exp(-0.15)), torch_name="ExponentialLR(e^-k)"),
    C("linear_lr", "linear_lr { start_factor = 0.25, total_iters = 6 }",
      lambda o, t: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=6),
      torch_name="LinearLR"),
    C("linear_lr_step", 'linear_lr { start_factor = 1, end_factor = 0.1, total_iters = 20, every = "step" }',
      lambda o, t: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=20), per_step=True,
      torch_name="LinearLR"),
    C("linear_lr_zero", "linear_lr { start_factor = 0.5, total_iters = 0 }",
      lambda o, t: S.LinearLR(o, start_factor=0.5, total_iters=0), torch_name="LinearLR(total_iters=0)"),
    C("cosine", "cosine {}", lambda o, t: S.CosineAnnealingLR(o, T_max=t),
      torch_name="CosineAnnealingLR(T_max = the run)"),
    C("cosine_tmax", "cosine { T_max = 6, eta_min = 0.01 }",
      lambda o, t: S.CosineAnnealingLR(o, T_max=6, eta_min=0.01),
      torch_name="CosineAnnealingLR(T_max 6 < the run)"),
    C("cosine_step", 'cosine { eta_min = 0.002, every = "step" }',
      lambda o, t: S.CosineAnnealingLR(o, T_max=t, eta_min=0.002), per_step=True,
      torch_name="CosineAnnealingLR(T_max = the run)"),
    C("cosine_warmup", "cosine { warmup = 3, eta_min = 0.005 }",
      lambda o, t: ClosedForm(o, cosine_warmup(0.1, 3, t, 0.005)),
      torch_name="the closed form of cosine.c (warmup)"),
    C("cosine_warmup_step", 'cosine { warmup = 10, T_max = 50, every = "step" }',
      lambda o, t: ClosedForm(o, cosine_warmup(0.1, 10, 50, 0.0)), per_step=True,
      torch_name="the closed form of cosine.c (warmup)"),
    C("inverse_sqrt", "inverse_sqrt {}", lambda o, t: S.LambdaLR(o, lambda e: 1 / math.sqrt(e + 1)),
      torch_name="LambdaLR(1/sqrt(e+1))"),
    C("inverse_time", "inverse_time { k = 0.5 }", lambda o, t: S.LambdaLR(o, lambda e: 1 / (1 + 0.5 * e)),
      torch_name="LambdaLR(1/(1+ke))"),
    C("inverse_time_step", 'inverse_time { k = 0.1, every = "step" }',
      lambda o, t: S.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e)), per_step=True,
      torch_name="LambdaLR(1/(1+ke))"),
    C("cyclic_lr", "cyclic_lr { base_lr = 0.02, max_lr = 0.2, step_size_up = 5, step_size_down = 3, cycle_momentum = false }",
      lambda o, t: S.CyclicLR(o, base_lr=0.02, max_lr=0.2, step_size_up=5, step_size_down=3,
                              cycle_momentum=False),
      per_step=True, torch_name="CyclicLR(cycle_momentum=False)"),
    C("cyclic_lr_epoch", 'cyclic_lr { base_lr = 0.01, max_lr = 0.15, step_size_up = 2, every = "epoch", cycle_momentum = false }',
      lambda o, t: S.CyclicLR(o, base_lr=0.01, max_lr=0.15, step_size_up=2, cycle_momentum=False),
      torch_name="CyclicLR(cycle_momentum=False)"),
    C("one_cycle_lr", "one_cycle_lr { max_lr = 0.3, cycle_momentum = false }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.3, total_steps=t, cycle_momentum=False),
      per_step=True, torch_name="OneCycleLR(cycle_momentum=False)"),
    C("one_cycle_lr_partial", "one_cycle_lr { max_lr = 0.3, pct_start = 0.25, cycle_momentum = false }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.3, total_steps=t, pct_start=0.25, cycle_momentum=False),
      per_step=True, rows=36, torch_name="OneCycleLR(total = 5 steps per epoch, the last of 4 rows; "
      "cycle_momentum=False)"),
    C("one_cycle_lr_short", "one_cycle_lr { max_lr = 0.3, total_steps = 40, cycle_momentum = false }", one_cycle_short,
      per_step=True, torch_name="OneCycleLR(total_steps=40 < the run; cycle_momentum=False; ours "
      "does not cycle momentum), then its last lr"),
    C("cosine_step_droplast", 'cosine { every = "step" }', lambda o, t: S.CosineAnnealingLR(o, T_max=t),
      per_step=True, rows=36, drop_last=True,
      torch_name="CosineAnnealingLR(T_max = the run: 4 steps per epoch with drop_last)"),
    C("one_cycle_lr_epoch", 'one_cycle_lr { max_lr = 0.25, pct_start = 0.4, div_factor = 10, every = "epoch", cycle_momentum = false }',
      lambda o, t: S.OneCycleLR(o, max_lr=0.25, total_steps=t, pct_start=0.4, div_factor=10,
                                cycle_momentum=False),
      torch_name="OneCycleLR(cycle_momentum=False)"),
    # cycle_momentum = true (the default, as torch's): the momentum (SGD,
    # RMSprop) or beta1 (Adam) goes against the lr every step
    # (max_lr 0.3 with momentum up to 0.95 amplifies float32 rounding past
    # 1e-5 by step 42; in double below)
    C("one_cycle_momentum_sgd", "one_cycle_lr { max_lr = 0.1 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.1, total_steps=t), per_step=True,
      opt=("sgd { lr = 0.1, momentum = 0.9 }", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
      torch_name="OneCycleLR(cycle_momentum=True) on SGD(momentum=0.9)"),
    C("one_cycle_momentum_nesterov", "one_cycle_lr { max_lr = 0.2, base_momentum = 0.7, max_momentum = 0.9 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.2, total_steps=t, base_momentum=0.7, max_momentum=0.9),
      per_step=True,
      opt=("sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01 }",
           lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
      torch_name="OneCycleLR(cycle_momentum=True, base 0.7, max 0.9) on SGD(nesterov)"),
    C("one_cycle_momentum_plain_sgd", "one_cycle_lr { max_lr = 0.2 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.2, total_steps=t), per_step=True,
      torch_name="OneCycleLR(cycle_momentum=True) on SGD(momentum=0): torch gives it momentum"),
    C("one_cycle_momentum_adam", "one_cycle_lr { max_lr = 0.02 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.02, total_steps=t), per_step=True,
      opt=("adam { lr = 0.01 }", lambda ps: torch.optim.Adam(ps, lr=0.01)),
      torch_name="OneCycleLR(cycle_momentum=True) on Adam: betas[0] cycled"),
    C("one_cycle_momentum_adam_epoch", 'one_cycle_lr { max_lr = 0.02, pct_start = 0.4, every = "epoch" }',
      lambda o, t: S.OneCycleLR(o, max_lr=0.02, total_steps=t, pct_start=0.4),
      opt=("adam { lr = 0.01, amsgrad = true }", lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True)),
      torch_name="OneCycleLR(cycle_momentum=True, per epoch) on Adam(amsgrad)"),
    C("one_cycle_momentum_rmsprop", "one_cycle_lr { max_lr = 0.003 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.003, total_steps=t), per_step=True,
      opt=("rmsprop { lr = 0.01, centered = true }",
           lambda ps: torch.optim.RMSprop(ps, lr=0.01, centered=True)),
      torch_name="OneCycleLR(cycle_momentum=True) on RMSprop(centered, momentum=0)"),
    C("cyclic_momentum_sgd", "cyclic_lr { base_lr = 0.02, max_lr = 0.2, step_size_up = 5, step_size_down = 3 }",
      lambda o, t: S.CyclicLR(o, base_lr=0.02, max_lr=0.2, step_size_up=5, step_size_down=3),
      per_step=True,
      opt=("sgd { lr = 0.1, momentum = 0.5 }", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5)),
      torch_name="CyclicLR(cycle_momentum=True) on SGD(momentum=0.5)"),
    C("cyclic_momentum_nesterov", "cyclic_lr { base_lr = 0.01, max_lr = 0.1, step_size_up = 7, "
      "base_momentum = 0.6, max_momentum = 0.95 }",
      lambda o, t: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7, base_momentum=0.6,
                              max_momentum=0.95),
      per_step=True,
      opt=("sgd { lr = 0.1, momentum = 0.9, nesterov = true }",
           lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
      torch_name="CyclicLR(cycle_momentum=True, base 0.6, max 0.95) on SGD(nesterov)"),
    C("cyclic_momentum_rmsprop", "cyclic_lr { base_lr = 0.001, max_lr = 0.004, step_size_up = 6 }",
      lambda o, t: S.CyclicLR(o, base_lr=0.001, max_lr=0.004, step_size_up=6), per_step=True,
      opt=("rmsprop { lr = 0.01, momentum = 0.5 }",
           lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.5)),
      torch_name="CyclicLR(cycle_momentum=True) on RMSprop(momentum=0.5)"),
    C("plateau", "reduce_lr_on_plateau { factor = 0.5, patience = 1, threshold = 0.05, cooldown = 1, min_lr = 0.02 }",
      lambda o, t: S.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.05, cooldown=1,
                                       min_lr=0.02),
      plateau=True, torch_name="ReduceLROnPlateau(min, rel; no validation split: the training loss)"),
    C("plateau_max_abs", 'reduce_lr_on_plateau { mode = "max", threshold_mode = "abs", threshold = 0.001, '
      'factor = 0.5, patience = 2, cooldown = 1, min_lr = 0.03, monitor = "loss" }',
      lambda o, t: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.001,
                                       factor=0.5, patience=2, cooldown=1, min_lr=0.03),
      plateau=True, torch_name='ReduceLROnPlateau(max, abs, monitor = "loss")'),
    C("plateau_valid", "reduce_lr_on_plateau { factor = 0.3, patience = 0, threshold = 0.02 }",
      lambda o, t: S.ReduceLROnPlateau(o, factor=0.3, patience=0, threshold=0.02),
      plateau=True, valid=0.2, torch_name="ReduceLROnPlateau(min, rel, the validation loss)"),
    # double precision
    C("step_lr_double", "step_lr { step_size = 3, gamma = 0.5 }", steplr, dtype="double",
      torch_name="StepLR"),
    C("cosine_step_double", 'cosine { eta_min = 0.002, every = "step" }',
      lambda o, t: S.CosineAnnealingLR(o, T_max=t, eta_min=0.002), per_step=True, dtype="double",
      torch_name="CosineAnnealingLR(T_max = the run)"),
    C("one_cycle_lr_double", "one_cycle_lr { max_lr = 0.3, cycle_momentum = false }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.3, total_steps=t, cycle_momentum=False),
      per_step=True, dtype="double",
      torch_name="OneCycleLR(cycle_momentum=False)"),
    C("one_cycle_momentum_sgd_double", "one_cycle_lr { max_lr = 0.3 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.3, total_steps=t), per_step=True, dtype="double",
      opt=("sgd { lr = 0.1, momentum = 0.9 }", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
      torch_name="OneCycleLR(cycle_momentum=True) on SGD(momentum=0.9)"),
    C("one_cycle_momentum_adam_double", "one_cycle_lr { max_lr = 0.02 }",
      lambda o, t: S.OneCycleLR(o, max_lr=0.02, total_steps=t), per_step=True, dtype="double",
      opt=("adam { lr = 0.01 }", lambda ps: torch.optim.Adam(ps, lr=0.01)),
      torch_name="OneCycleLR(cycle_momentum=True) on Adam: betas[0] cycled"),
    C("cyclic_momentum_nesterov_double", "cyclic_lr { base_lr = 0.01, max_lr = 0.1, step_size_up = 7 }",
      lambda o, t: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=7), per_step=True,
      dtype="double",
      opt=("sgd { lr = 0.1, momentum = 0.9, nesterov = true }",
           lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
      torch_name="CyclicLR(cycle_momentum=True) on SGD(nesterov)"),
    C("plateau_double", "reduce_lr_on_plateau { factor = 0.5, patience = 1, threshold = 0.05, cooldown = 1, min_lr = 0.02 }",
      lambda o, t: S.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.05, cooldown=1,
                                       min_lr=0.02),
      plateau=True, dtype="double",
      torch_name="ReduceLROnPlateau(min, rel; no validation split: the training loss)"),
]


def make_data(c):
    """float32-representable values, so that the CSV text is exact in both dtypes."""
    valid = c.valid
    rows = c.rows + (int(round(ROWS * valid / (1 - valid))) if valid else 0)
    r = np.random.RandomState(4242)
    X = r.randn(rows, FEATURES).astype(np.float32)
    w = r.randn(FEATURES).astype(np.float32)
    y = (np.tanh(X.astype(np.float64) @ w) + 0.3 * r.randn(rows)).astype(np.float32)
    return X, y


def write_case(c, folder):
    os.makedirs(folder, exist_ok=True)
    X, y = make_data(c)
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(FEATURES)] + ["target"]) + "\n")
        for i in range(len(X)):
            f.write(",".join([repr(float(v)) for v in X[i]] + [repr(float(y[i]))]) + "\n")
    # the last rows, as torch's side takes them (the random draw trainc makes
    # by default is test_data_split.sh's)
    valid = f", valid = {{ fraction = {c.valid!r}, order = 'tail' }}" if c.valid else ""
    spec = f"""-- generated by tests/test_schedules_torch.py ({c.name})
model "sched_{c.name}"
data = csv {{ train = "data.csv", label = "target", header = true{valid} }}
local x = input {{ {FEATURES} }}
local y = labels {{ 1 }}
local h = tanh(linear(x, {HIDDEN}, {{ name = "fc1" }}))
minimize(mse(linear(h, 1, {{ name = "fc2" }}), y))
optimizer = {c.opt[0]}
{"" if c.sched is None else "schedule = " + c.sched + chr(10)}train {{ batch = {BATCH}, epochs = 1000, seed = {c.seed}, shuffle = false, drop_last = {str(c.drop_last).lower()} }}
"""
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(spec)
    return X, y


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fail_text(cmd, r):
    return f"{' '.join(cmd)} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"


# ---- the trainc side ----

def same_tree(a, b):
    try:
        na, nb = sorted(os.listdir(a)), sorted(os.listdir(b))
    except OSError:
        return False
    if na != nb:
        return False
    for n in na:
        with open(os.path.join(a, n), "rb") as fa, open(os.path.join(b, n), "rb") as fb:
            if fa.read() != fb.read():
                return False
    return True


def build(trainc, c, folder, ref):
    """trainc build (ref None), or trainc gen + ninja with ref's runtime objects."""
    out = os.path.join(folder, "trainer")
    dt = ["--dtype", "double"] if c.dtype == "double" else []
    if ref is None:
        cmd = [trainc, "build", "spec.lua", "-o", out, "-q"] + dt
        r = run(cmd, folder)
        return None if r.returncode == 0 else fail_text(cmd, r)
    cmd = [trainc, "gen", "spec.lua", "-o", out, "-q"] + dt
    r = run(cmd, folder)
    if r.returncode != 0:
        return fail_text(cmd, r)
    if same_tree(os.path.join(out, "runtime"), os.path.join(ref, "runtime")):
        old = time.time() - 3600
        for n in os.listdir(os.path.join(out, "runtime")):
            os.utime(os.path.join(out, "runtime", n), (old, old))
        os.makedirs(os.path.join(out, "obj"), exist_ok=True)
        for n in os.listdir(os.path.join(ref, "obj")):
            if n.startswith("rt_"):
                shutil.copy2(os.path.join(ref, "obj", n), os.path.join(out, "obj", n))
        for n in (".ninja_log", ".ninja_deps"):
            if os.path.exists(os.path.join(ref, n)):
                shutil.copy2(os.path.join(ref, n), os.path.join(out, n))
    cmd = ["ninja", "-C", out, "--quiet"]
    r = run(cmd, folder)
    return None if r.returncode == 0 else fail_text(cmd, r)


def load_export(folder):
    return {p: np.load(os.path.join(folder, p + ".npy")) for p in PARAMS}


def load_trace(path, init):
    """--trace: every parameter after every step (9 digits in float32, 17 in
    double: exact) as a list of {name: array}, step 1 first."""
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {p: [i for i, h in enumerate(head) if h == p or h.startswith(p + "[")] for p in PARAMS}
    return [{p: np.array([float(r[i]) for i in cols[p]], dtype=init[p].dtype).reshape(init[p].shape)
             for p in PARAMS} for r in rows if int(r[0]) > 0]


def read_metrics(path):
    rows = []
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            rows.append(dict(zip(head, line.strip().split(","))))
    return rows


def run_trainc(trainc, c, folder):
    """Runs the built trainer; returns a dict of results or an error text."""
    out = os.path.join(folder, "trainer")
    exe = os.path.join(out, f"sched_{c.name}")
    res = {}
    runs = [("main", ["--epochs", str(EPOCHS)])]
    if c.per_step:
        runs += [(f"steps{k}", ["--steps", str(k)]) for k in STEP_RUNS]
    else:
        runs += [(f"epochs{k}", ["--epochs", str(k)]) for k in EPOCH_RUNS]
    cmds = [[exe, "train", "--epochs", "0", "--weights", "w0.weights", "--quiet"],
            [exe, "export", "init", "--weights", "w0.weights"]]
    for tag, lim in runs:
        trace = ["--trace", "trace.csv"] if tag == "main" else []
        cmds.append([exe, "train"] + lim + ["--weights", f"{tag}.weights", "--metrics",
                                            f"{tag}.csv", "--quiet"] + trace)
    cmds.append([exe, "export", "final", "--weights", "main.weights"])
    resume = "cycle_momentum=True" in c.torch_name
    if resume:
        # checkpoints at steps 23 and 46 of the same run, then resumed from the last
        cmds += [[exe, "train", "--epochs", str(EPOCHS), "--checkpoint", "c.ck", "--every-steps", "23",
                  "--weights", "ck.weights", "--quiet"],
                 [exe, "train", "--epochs", str(EPOCHS), "--resume", "c.ck", "--weights",
                  "resumed.weights", "--quiet"],
                 [exe, "export", "resumed", "--weights", "resumed.weights"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return fail_text(cmd[1:], r)
    res["init"] = load_export(os.path.join(folder, "init"))
    res["final"] = load_export(os.path.join(folder, "final"))
    if resume:
        res["resumed"] = load_export(os.path.join(folder, "resumed"))
    res["metrics"] = {tag: read_metrics(os.path.join(folder, f"{tag}.csv")) for tag, _ in runs}
    res["trace"] = load_trace(os.path.join(folder, "trace.csv"), res["init"])
    res["limits"] = runs
    with open(os.path.join(out, "model.h")) as f:
        m = re.search(r"#define MODEL_N_VALID (\d+)", f.read())
    res["n_valid"] = int(m.group(1)) if m else 0
    return res


HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <tgmath.h>
#include "runtime/rt.h"

%(sched)s

%(plateau)s

/* closed: base total n -> lr(0..n-1); plateau: base metric... -> lr after each */
int main(int argc, char **argv)
{
    double base = atof(argv[2]);
    if (argv[1][0] == 'c') {
        long total = atol(argv[3]), n = atol(argv[4]);
        for (long e = 0; e < n; e++) printf("%%.17g\n", model_lr(e, base, total));
        return 0;
    }
    if (argv[1][0] == 'm') { /* model_momentum(0..n-1, total) */
        long total = atol(argv[3]), n = atol(argv[4]);
        for (long e = 0; e < n; e++) printf("%%.17g\n", model_momentum(e, total));
        return 0;
    }
%(plateau_main)s
    return 0;
}
"""

PLATEAU_MAIN = r"""
    rt_plateau p = model_plateau_init;
    for (int i = 3; i < argc; i++) {
        base = rt_plateau_step(&p, strtod(argv[i], NULL), base);
        printf("%.17g\n", model_lr(0, base, 0));
    }
"""


def build_harness(c, folder):
    """The model_lr and model_momentum blocks at the end of model.c (and
    rt_plateau_step) as a program."""
    out = os.path.join(folder, "trainer")
    with open(os.path.join(out, "model.c")) as f:
        src = f.read()
    i = src.find("/* ---- learning rate")
    if i < 0:
        return None, "no '/* ---- learning rate' block in model.c"
    sched = src[i:]
    plateau, pmain = "", ""
    if "model_plateau_init" in sched:
        with open(os.path.join(out, "runtime", "rt_schedule.c")) as f:
            rt = f.read()
        m = re.search(r"double rt_plateau_step\(.*?\n}\n", rt, re.S)
        if not m:
            return None, "no rt_plateau_step in runtime/rt_schedule.c"
        plateau, pmain = m.group(0), PLATEAU_MAIN
    path = os.path.join(out, "lr_harness.c")
    with open(path, "w") as f:
        f.write(HARNESS % {"sched": sched, "plateau": plateau, "plateau_main": pmain})
    exe = os.path.join(out, "lr_harness")
    cmd = ["cc", "-std=c11", "-O3", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-I", out,
           path, "-o", exe, "-lm"] + (["-DTRAINC_DOUBLE"] if c.dtype == "double" else [])
    r = run(cmd, folder)
    if r.returncode != 0:
        return None, fail_text(cmd, r)
    return exe, None


def harness_lrs(exe, args):
    r = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"lr_harness {args} failed: {r.stderr}")
    return [float(v) for v in r.stdout.split()]


# ---- the PyTorch side ----

HISTORY = []  # the parameters after each step of the last run_torch, in PARAMS order
MOMENTA = []  # (epoch from 0, momentum or beta1) of each step of the last run_torch


def group_momentum(g):
    """torch's momentum of a parameter group: SGD/RMSprop's momentum, Adam's beta1."""
    return float(g["momentum"]) if "momentum" in g else float(g["betas"][0]) if "betas" in g else 0.0


def run_torch(c, X, y, init, n_valid, epochs=EPOCHS, steps=None, make=None, prestep=0):
    """SGD from `init` with the scheduler; returns (params, per-step lrs,
    per-epoch [(step, lr of its last step, mean loss, plateau metric)])."""
    tdtype = torch.float32 if c.dtype == "float" else torch.float64
    net = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1)).to(tdtype)
    with torch.no_grad():
        for name, p in zip(PARAMS, (net[0].weight, net[0].bias, net[2].weight, net[2].bias)):
            assert tuple(p.shape) == init[name].shape, (name, p.shape, init[name].shape)
            p.copy_(torch.from_numpy(init[name]).to(tdtype))
    n = len(X) - n_valid
    xt = torch.from_numpy(X).to(tdtype)
    yt = torch.from_numpy(y).to(tdtype).reshape(-1, 1)
    lossf = nn.MSELoss()
    batches = [(xt[s:s + BATCH], yt[s:s + BATCH]) for s in range(0, n, BATCH)
               if not (c.drop_last and s + BATCH > n)]
    opt = c.opt[1](net.parameters())
    spe = len(batches)
    if c.per_step:
        total = steps if steps is not None else spe * epochs
    else:
        total = epochs
    sched = (make or c.make)(opt, total)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "lr_scheduler.step() before optimizer.step()"
        for _ in range(prestep):
            sched.step()
    step, lrs, per_epoch = 0, [], []
    HISTORY.clear()
    MOMENTA.clear()
    for epoch in range(epochs):
        tot, seen = 0.0, 0
        for xb, yb in batches:
            opt.zero_grad()
            loss = lossf(net(xb), yb)
            loss.backward()
            lrs.append(float(opt.param_groups[0]["lr"]))
            MOMENTA.append((epoch, group_momentum(opt.param_groups[0])))
            opt.step()
            step += 1
            HISTORY.append([p.detach().numpy().copy() for p in net.parameters()])
            if c.per_step and not c.plateau:
                sched.step()
            tot += float(loss.item()) * xb.shape[0]
            seen += xb.shape[0]
            if steps is not None and step >= steps:
                break
        mean = tot / seen
        metric = mean
        if c.plateau and n_valid:
            # the trainer's evaluate(): batches of BATCH, then single rows
            with torch.no_grad():
                vl, s = 0.0, n
                while s < len(X):
                    rows = BATCH if len(X) - s >= BATCH else 1
                    vl += float(lossf(net(xt[s:s + rows]), yt[s:s + rows]).item()) * rows
                    s += rows
            metric = vl / n_valid
        if c.plateau:
            sched.step(metric)
        elif not c.per_step:
            sched.step()
        per_epoch.append((step, lrs[-1], mean, metric))
        if steps is not None and step >= steps:
            break
    params = {"fc1.weight": net[0].weight, "fc1.bias": net[0].bias,
              "fc2.weight": net[2].weight, "fc2.bias": net[2].bias}
    return {k: v.detach().numpy().copy() for k, v in params.items()}, lrs, per_epoch


# ---- comparisons ----

def rel(a, b):
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


def compare_params(c, got, want):
    rtol, atol = TOL[c.dtype]
    worst, worst_rel, details, ok = 0.0, 0.0, [], True
    for p in PARAMS:
        g, w = got[p].astype(np.float64), want[p].astype(np.float64)
        if g.shape != w.shape:
            return False, f"{p}: shape {g.shape} vs torch {w.shape}", 0.0
        d = np.abs(g - w)
        excess = d / (rtol * np.abs(w) + atol)
        worst = max(worst, float(np.max(excess)))
        big = np.abs(w) > 1e-3  # relative differences of values near zero mean nothing
        if big.any():
            worst_rel = max(worst_rel, float(np.max(d[big] / np.abs(w[big]))))
        bad = int(np.sum(~(excess <= 1)))
        if bad:
            ok = False
            i = int(np.argmax(np.where(np.isnan(excess), np.inf, excess)))
            details.append(f"{p}: {bad} of {g.size} off, worst trainc {g.ravel()[i]!r} "
                           f"torch {w.ravel()[i]!r}")
    return ok, ("; ".join(details) if details else f"worst |diff| / bound = {worst:.3g}"), worst_rel


def sig_digits(text):
    m = re.match(r"-?(\d*)\.?(\d*)", text.lower().split("e")[0])
    return len((m.group(1) + m.group(2)).lstrip("0")) if m else 0


def compare_csv_lr(metrics, per_epoch):
    """metrics rows against torch's per-epoch (step, lr); returns (ok, detail, worst rel, rtol)."""
    if len(metrics) != len(per_epoch):
        return False, f"{len(metrics)} epochs in metrics vs {len(per_epoch)} in torch", 0.0, 0.0
    digits = max(sig_digits(r["lr"]) for r in metrics)
    rtol = LR_RTOL if digits >= 15 else LR_RTOL + PRINT_RTOL
    worst = 0.0
    for k, (r, (st, lr, _, _)) in enumerate(zip(metrics, per_epoch)):
        if int(r["step"]) != st:
            return False, f"epoch {k + 1} ends at step {r['step']} vs torch {st}", worst, rtol
        d = rel(float(r["lr"]), lr)
        worst = max(worst, d)
        if not d <= rtol:
            return False, f"epoch {k + 1} (step {st}): lr {r['lr']} vs torch {lr!r}", worst, rtol
    return True, f"worst relative difference {worst:.3g}", worst, rtol


def compare_lrs(got, want, what):
    if len(got) < len(want):
        return False, f"{len(got)} values vs {len(want)} in torch", 0.0
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want)):
        d = rel(g, w)
        worst = max(worst, d)
        if not d <= LR_RTOL:
            return False, f"{what} {k + 1}: lr {g!r} vs torch {w!r}", worst
    return True, f"worst relative difference {worst:.3g}", worst


# ---- cycle_momentum on an optimizer without a momentum: refused as torch refuses ----

O = torch.optim
# (trainc optimizer, trainc schedule, torch optimizer, torch scheduler or None: trainc only)
MOMENTUM_ERRORS = [
    ("adam { lr = 0.01 }", "cyclic_lr { base_lr = 0.01, max_lr = 0.1 }",
     lambda ps: O.Adam(ps, lr=0.01), lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1)),
    ("adam { lr = 0.01 }", "cyclic_lr { base_lr = 0.01, max_lr = 0.1, cycle_momentum = false }",
     lambda ps: O.Adam(ps, lr=0.01),
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, cycle_momentum=False)),
    ("nadam { }", "cyclic_lr { base_lr = 0.01, max_lr = 0.1 }",
     lambda ps: O.NAdam(ps), lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1)),
    ("rmsprop { }", "cyclic_lr { base_lr = 0.01, max_lr = 0.1 }",
     lambda ps: O.RMSprop(ps), lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1)),
    ("sgd { lr = 0.1 }", "cyclic_lr { base_lr = 0.01, max_lr = 0.1 }",
     lambda ps: O.SGD(ps, lr=0.1), lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1)),
    ("adagrad { }", "one_cycle_lr { max_lr = 0.1 }",
     lambda ps: O.Adagrad(ps), lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10)),
    ("adadelta { }", "one_cycle_lr { max_lr = 0.1 }",
     lambda ps: O.Adadelta(ps), lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10)),
    ("adadelta { }", "one_cycle_lr { max_lr = 0.1, cycle_momentum = false }",
     lambda ps: O.Adadelta(ps),
     lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, cycle_momentum=False)),
    ("radam { }", "one_cycle_lr { max_lr = 0.1 }",
     lambda ps: O.RAdam(ps), lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10)),
    ("adamw { }", "one_cycle_lr { max_lr = 0.1 }",
     lambda ps: O.AdamW(ps), lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10)),
    # trainc's own forms and limits (no torch counterpart)
    ("heavy_ball { lr = 0.1 }", "one_cycle_lr { max_lr = 0.1 }", None, None),
    ("sgd { lr = 0.1, momentum = 0.9 }", "one_cycle_lr { max_lr = 0.1, max_momentum = 0 }",
     None, None),
]


def check_momentum_errors(trainc, base):
    folder = os.path.join(base, "momentum_errors")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write("x0,target\n1,2\n3,4\n")
    for k, (opt, sched, topt, tsched) in enumerate(MOMENTUM_ERRORS):
        with open(os.path.join(folder, "spec.lua"), "w") as f:
            f.write(f"""model "m{k}"
data = csv {{ train = "data.csv", label = "target", header = true }}
local x = input {{ 1 }}
local y = labels {{ 1 }}
minimize(mse(linear(x, 1), y))
optimizer = {opt}
schedule = {sched}
train {{ batch = 1, epochs = 1 }}
""")
        r = run([trainc, "gen", "spec.lua", "-o", f"out{k}", "-q"], folder)
        text = (r.stdout + r.stderr).strip()
        if tsched is None:
            torch_err = True
        else:
            try:
                tsched(topt([nn.Parameter(torch.zeros(1))]))
                torch_err = False
            except ValueError as e:
                torch_err = "support momentum" in str(e)
        if torch_err:
            ok = (r.returncode != 0 and "spec.lua:7:" in text and "cycle_momentum" in text
                  and "Segmentation" not in text)
            what = ("as torch raises" if tsched else "(trainc's own limit)")
            report(ok, f"optimizer = {opt}, schedule = {sched}: refused {what}, a spec error at "
                       f"spec.lua:7 naming cycle_momentum", f"exit {r.returncode}: {text[-300:]}")
        else:
            report(r.returncode == 0, f"optimizer = {opt}, schedule = {sched}: accepted as torch "
                                      f"accepts it", text[-300:])


# ---- main ----

def main():
    ready = oracle.setup("schedules_torch")
    if ready is None:
        return 1
    trainc, base, own_tmp = ready

    folder = {c.name: os.path.join(base, c.name) for c in CASES}
    data = {c.name: write_case(c, folder[c.name]) for c in CASES}

    # builds: the first of each dtype with `trainc build`, then the rest
    workers = max(1, min(4, os.cpu_count() or 1))
    first = {}
    for c in CASES:
        first.setdefault(c.dtype, c)
    errors = {}

    def do(c, ref):
        err = build(trainc, c, folder[c.name], ref)
        if err:
            return err
        return run_trainc(trainc, c, folder[c.name])

    results, t0 = {}, time.time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for c, r in zip(first.values(), pool.map(lambda c: do(c, None), first.values())):
            results[c.name] = r
        rest = [c for c in CASES if c.name not in results]
        refs = {d: (os.path.join(folder[c.name], "trainer") if not isinstance(results[c.name], str)
                    else None) for d, c in first.items()}
        for c, r in zip(rest, pool.map(lambda c: do(c, refs[c.dtype]), rest)):
            results[c.name] = r

    print(f"# {len(CASES)} trainers built and run in {time.time() - t0:.1f}s", flush=True)
    worst_lr_csv, worst_lr_exact, worst_param = 0.0, 0.0, {"float": 0.0, "double": 0.0}
    worst_mom = 0.0
    worst_case = {}
    worst_bound = {"float": 0.0, "double": 0.0}
    for c in CASES:
        res = results[c.name]
        form = "per step" if c.per_step else "per epoch"
        label = f"{c.name}: {c.sched or 'no schedule'} ({form}, {c.dtype}) vs torch {c.torch_name}"
        if isinstance(res, str):
            report(False, f"{label}: trainer built and ran", res)
            continue
        X, y = data[c.name]
        init, n_valid = res["init"], res["n_valid"]
        if c.valid:
            report(n_valid > 0 and len(X) - n_valid == c.rows,
                   f"{c.name}: {n_valid} validation rows held out of {len(X)}")
        exe, err = build_harness(c, folder[c.name])
        if err:
            report(False, f"{label}: the schedule code of model.c compiles alone", err)

        for tag, lim in res["limits"]:
            kw = {}
            if lim[0] == "--steps":
                kw = {"epochs": 1000, "steps": int(lim[1])}
            else:
                kw = {"epochs": int(lim[1])}
            want, lrs, per_epoch = run_torch(c, X, y, init, n_valid, **kw)
            run_text = " ".join(lim)
            # 1. the lr column of --metrics
            ok, detail, worst, rtol = compare_csv_lr(res["metrics"][tag], per_epoch)
            worst_lr_csv = max(worst_lr_csv, worst)
            report(ok, f"{label}, train {run_text}: lr column of --metrics = torch's lr "
                       f"(rtol {rtol:.3g}{'' if rtol == LR_RTOL else ': 1e-12 + %.9g printing'})",
                   detail)
            # 2. the exact lr of every step, from the generated schedule code
            if exe:
                if c.plateau:
                    got = [c.lr] + harness_lrs(exe, ["p", c.lr] + [repr(m) for _, _, _, m in per_epoch])
                    want_l = [lr for _, lr, _, _ in per_epoch]
                    what = "epoch"
                elif c.per_step:
                    total = kw.get("steps") or len(lrs)
                    got = harness_lrs(exe, ["c", c.lr, total, len(lrs)])
                    want_l, what = lrs, "step"
                else:
                    total = kw["epochs"]
                    got = harness_lrs(exe, ["c", c.lr, total, total])
                    want_l = [lr for _, lr, _, _ in per_epoch]
                    what = "epoch"
                ok, detail, worst = compare_lrs(got, want_l, what)
                worst_lr_exact = max(worst_lr_exact, worst)
                closed = "closed form" if not c.plateau else "rt_plateau_step on torch's metrics"
                report(ok, f"{label}, {run_text}: model_lr's {closed} = torch's lr at every "
                           f"{what}, within 1e-12 relative"
                           + (" (vs torch's recursive form)" if not c.plateau
                              and "closed form" not in c.torch_name
                              and "LambdaLR" not in c.torch_name else ""), detail)
            # 2b. the momentum (or beta1) of every step, from model_momentum
            if exe and not c.plateau:
                moms = list(MOMENTA)
                if c.per_step:
                    got = harness_lrs(exe, ["m", c.lr, kw.get("steps") or len(lrs), len(moms)])
                else:
                    got_e = harness_lrs(exe, ["m", c.lr, kw["epochs"], kw["epochs"]])
                    got = [got_e[e] for e, _ in moms]
                ok, detail, worst = compare_lrs(got, [m for _, m in moms], "step")
                worst_mom = max(worst_mom, worst)
                report(ok, f"{label}, {run_text}: model_momentum = torch's momentum (or beta1) at "
                           f"every step, within 1e-12 relative", detail.replace("lr ", "momentum "))
                if tag == "main" and "cycle_momentum=True" in c.torch_name:
                    distinct = len(set(round(m, 15) for _, m in moms))
                    report(distinct >= 3, f"{c.name}: the momentum was cycled ({distinct} values)")
            if tag != "main":
                continue
            # 3. the parameters
            final = res["final"]
            moved = max(float(np.max(np.abs(final[p].astype(np.float64) - init[p])))
                        for p in PARAMS)
            report(moved > 1e-3, f"{c.name}: {len(lrs)} steps changed the weights",
                   f"max change {moved:g}")
            if "resumed" in res:
                same = all(np.array_equal(res["resumed"][p], final[p]) for p in PARAMS)
                report(same, f"{c.name}: resumed from the step-46 checkpoint, the run ends with "
                             f"bit-identical weights (the cycled momentum and the optimizer state "
                             f"carry over)")
            ok, detail, wr = compare_params(c, final, want)
            # and after every step on the way (--trace against torch's history)
            history = list(HISTORY) if len(HISTORY) == len(res["trace"]) else None
            if history is None:
                report(False, f"{label}: the trace has every step",
                       f"{len(res['trace'])} traced steps, torch took {len(HISTORY)}")
            else:
                step_ok, step_detail, step_rel, step_bound = True, "", 0.0, 0.0
                for k, (got_k, want_k) in enumerate(zip(res["trace"], history), 1):
                    okk, dk, rk = compare_params(c, got_k, dict(zip(PARAMS, want_k)))
                    step_rel = max(step_rel, rk)
                    if okk:
                        step_bound = max(step_bound, float(dk.split("= ")[-1]))
                    elif step_ok:
                        step_ok, step_detail = False, f"step {k}: {dk}"
                report(step_ok, f"{label}: every parameter matches torch after every one of "
                                f"the {len(history)} steps", step_detail)
            worst_param[c.dtype] = max(worst_param[c.dtype], wr)
            if history is not None:
                worst_case[c.name] = (c.dtype, step_rel, step_bound if step_ok else step_detail)
            if ok:
                worst_bound[c.dtype] = max(worst_bound[c.dtype], float(detail.split("= ")[-1]))
            if c.plateau:
                print(f"# {c.name}: lr per epoch " + " ".join(f"{v[1]:.6g}" for v in per_epoch))
            report(ok, f"{label}: every parameter matches torch after {len(lrs)} SGD steps "
                       f"(rtol {TOL[c.dtype][0]:g}, atol {TOL[c.dtype][1]:g})", detail)
            distinct = len(set(round(v, 15) for v in lrs))
            if c.name not in ("constant", "linear_lr_zero"):
                report(distinct >= 3, f"{c.name}: the schedule changed lr ({distinct} values)")
            if c.plateau:
                m = res["metrics"]["main"]
                bad = [k for k, (r, pe) in enumerate(zip(m, per_epoch))
                       if not abs(float(r["loss"]) - pe[2]) <= LOSS_RTOL[c.dtype] * abs(pe[2]) + 1e-12]
                report(len(m) == len(per_epoch) and not bad,
                       f"{c.name}: per-epoch mean training loss (before each update) = torch",
                       f"epoch {bad[0] + 1}: {m[bad[0]]['loss']} vs {per_epoch[bad[0]][2]!r}" if bad else "")
                if c.valid:
                    bad = [k for k, (r, pe) in enumerate(zip(m, per_epoch))
                           if not abs(float(r["valid_loss"]) - pe[3]) <= LOSS_RTOL[c.dtype] * abs(pe[3]) + 1e-12]
                    report(not bad, f"{c.name}: per-epoch validation loss = torch",
                           f"epoch {bad[0] + 1}: {m[bad[0]]['valid_loss']} vs {per_epoch[bad[0]][3]!r}" if bad else "")

            # negative controls
            if c.name == "step_lr":
                other, olrs, ope = run_torch(c, X, y, init, n_valid,
                                             make=lambda o, t: steplr(o, t, gamma=0.55))
                ok, detail, _ = compare_params(c, final, other)
                report(not ok, "mismatch detected: step_lr parameters vs torch StepLR with gamma "
                               "0.55 instead of 0.5", detail if ok else "")
                ok, detail, _, _ = compare_csv_lr(res["metrics"]["main"], ope)
                report(not ok, "mismatch detected: step_lr lr column vs torch StepLR with gamma 0.55",
                       detail if ok else "")
            if c.name in ("one_cycle_momentum_adam", "cyclic_momentum_sgd"):
                # torch without cycle_momentum: the momentum's part must show
                if c.name == "cyclic_momentum_sgd":
                    nomom = lambda o, t: S.CyclicLR(o, base_lr=0.02, max_lr=0.2, step_size_up=5,
                                                    step_size_down=3, cycle_momentum=False)
                else:
                    nomom = lambda o, t: S.OneCycleLR(o, max_lr=0.02, total_steps=t,
                                                      cycle_momentum=False)
                other, _, _ = run_torch(c, X, y, init, n_valid, make=nomom)
                ok, detail, _ = compare_params(c, final, other)
                report(not ok, f"mismatch detected: {c.name} parameters vs torch with "
                               f"cycle_momentum=False", detail if ok else "")
            if c.name == "cosine_step":
                _, olrs, ope = run_torch(c, X, y, init, n_valid, prestep=1)
                ok, detail, _, _ = compare_csv_lr(res["metrics"]["main"], ope)
                report(not ok, "mismatch detected: cosine_step lr column vs torch's scheduler "
                               "one step ahead (an off-by-one)", detail if ok else "")

    check_momentum_errors(trainc, base)
    print(f"# worst relative lr difference: --metrics column {worst_lr_csv:.3g}, "
          f"generated model_lr {worst_lr_exact:.3g}; model_momentum {worst_mom:.3g}")
    for name, (dt, wr, detail) in worst_case.items():
        print(f"# {name} ({dt}), every step: largest relative parameter difference {wr:.3g} "
              f"(values > 1e-3); worst |diff| / bound "
              + (f"{detail:.3g}" if isinstance(detail, float) else f"over 1: {detail}"))
    print(f"# worst relative parameter difference after 60 or more steps: "
          f"float {worst_param['float']:.3g}, double {worst_param['double']:.3g} "
          f"(worst |diff| / bound: float {worst_bound['float']:.3g}, "
          f"double {worst_bound['double']:.3g})")
    print(f"# {time.time() - t0:.1f}s in all")
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
