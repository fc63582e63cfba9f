#!/usr/bin/env python3
"""test_optim_torch.py — every optimizer of trainc against torch.optim 1.13
(Debian python3-torch), in two ways.

1. The update alone, every step, bit for bit. For each optimizer, each flag
   that changes the math and a combination of all of them (UPDATE_CASES), in
   float32 and --dtype double: `trainc gen` writes model.c; its update block
   (the filled template, from "/* ---- update:" to the end) is compiled into a
   small harness with the trainer's flags plus -Werror (so the templates must
   compile warning-free under -Wall -Wextra -pedantic) and run on 50 fixed
   gradients from fixed parameters (83 values: the network's layout; a drift
   so that momentum and moments build up, noise, some tiny gradients, one
   always zero). torch's optimizer takes the same 50 steps on one flat
   parameter with the same gradients; the parameters must be identical after
   every step (with a schedule: each step's lr and momentum from the
   generated model_lr and model_momentum, torch's scheduler stepped after
   each step; the cases that cycle the momentum, cycle_momentum = true, for
   SGD, RMSprop and each Adam-family optimizer's beta1). The trainer hands
   model_update the lr in double, as torch
   computes lr / (1 - beta1^t) etc. from the Python float. heavy_ball and momentum_classic equal
   torch.optim.SGD(momentum) only in exact arithmetic (see their templates):
   they are held to the tolerances below instead.

2. Whole training runs. One small network: 6 features -> linear 8 -> tanh ->
   linear 3, cross_entropy on class indices; 44 rows of a fixed random CSV,
   batch 8, shuffle = false (steps of 8, 8, 8, 8, 8, 4 per epoch: the partial
   batch is trained on, as DataLoader with drop_last=False). Each optimizer in
   float32 and in --dtype double, each flag in at least one of them (CASES;
   each build costs seconds). `trainc build`; `train --epochs 0` + `export`
   give the initial weights; `train --steps 50 --trace FILE` writes
   every parameter after every step (9 digits for float32, 17 for double:
   both read back exactly). PyTorch loads the initial weights, iterates the
   same batches with the same optimizer, and every parameter is compared
   after every step:

     float32:  |trainc - torch| <= 1e-5 * |torch| + 1e-6   (1e-6 absolute
               floor for values near zero, where a relative bound means nothing)
     double:   |trainc - torch| <= 1e-10 * |torch| + 1e-13

   Double checkpoints: steps 1 2 3 4 5 6 7 10 15 25 50 (5/6/7 bracket RAdam's
   switch to the rectified update at step 6 and cross the first epoch
   boundary). The
   float32 differences come from the forward and backward passes (sums in
   another order), which the training dynamics amplify; part 1 shows the
   update itself adds none. The AMSGrad cases use betas (0.9, 0.9) so that v
   falls below its running maximum within 50 steps (with beta2 = 0.999 v only
   grows and amsgrad would change nothing).

RMSprop centered with momentum is trained in float32 at lr 0.001: at lr 0.01
trainc parts from torch float32 beyond 1e-5 from step ~12-25, and so does
torch float32 from itself with its gradients computed in float64 and rounded
(step 24, worst 1.95x the bound) and from float64 (step 24): a check here
keeps that measured (1-ulp gradient differences amplified by the dynamics;
the update alone is bit for bit).

The optimizer state: MODEL_N_STATE (what checkpoints save) must be what
torch's optimizer keeps for the parameter after the 50 steps (its state
tensors but the step count): Adam m, v and v_max only with amsgrad; RMSprop
square_avg, momentum_buffer only with momentum, grad_avg only when centered;
SGD a momentum buffer only with momentum; NAdam its one mu_product.

Negative controls (the comparison must be able to fail, reported as "ok -
mismatch detected ..."): torch Adam with beta2 0.99 instead of 0.999, with eps
1e-7 instead of 1e-8, with AMSGrad off; AdamW against Adam's coupled decay;
SGD momentum 0.75 against the heavy ball's 0.8; Adagrad without its lr_decay;
NAdam as fixed in PyTorch 2.0 (mu counted once) against trainc's 1.13 NAdam;
RAdam that never takes the rectified branch.

Run from the repo root: /usr/bin/python3 tests/test_optim_torch.py
Environment: TRAINC (the trainc binary; default build/gen/trainc), TRAINC_TMP
(scratch folder; default a temporary one). Prints "ok - name" / "not ok -
name"; exits 1 on any failure. A missing torch is a failure, not a skip."""
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import oracle
from oracle import report, require_torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECKPOINTS = (1, 2, 3, 4, 5, 6, 7, 10, 15, 25, 50)
STEPS = CHECKPOINTS[-1]
TOL = {"float": (1e-5, 1e-6), "double": (1e-10, 1e-13)}
FEATURES, HIDDEN, CLASSES, ROWS, BATCH = 6, 8, 3, 44, 8
PARAMS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


require_torch()
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


# ---- the cases ----

def T(cls, **kw):
    """A torch optimizer factory (keyword arguments may override kw), and its
    text for messages."""
    f = lambda params, **over: cls(params, **{**kw, **over})
    f.text = f"{cls.__name__}(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"
    return f


O = torch.optim
SGDM = dict(lr=0.1, momentum=0.9)
S = torch.optim.lr_scheduler


def TS(make_opt, make_sched, text):
    """An optimizer factory whose optimizer carries a per-step scheduler
    (stepped after each opt.step() by torch_update)."""
    def f(params, **over):
        opt = make_opt(params, **over)
        opt.trainc_sched = make_sched(opt)
        return opt
    f.text = f"{make_opt.text} with {text}"
    return f


ONE_CYCLE = "; schedule = one_cycle_lr { max_lr = 0.02 }"
CYCLIC = "; schedule = cyclic_lr { base_lr = 0.001, max_lr = 0.01, step_size_up = 7 }"
def one_cycle(o):
    return S.OneCycleLR(o, max_lr=0.02, total_steps=STEPS)
def cyclic(o):
    return S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=7)

# The update alone ("trainc gen", both dtypes, every step, bit for bit):
# each optimizer, each flag that changes the math, and some combinations.
# (name, trainc optimizer, torch optimizer)
UPDATE_CASES = [
    ("sgd", "sgd { lr = 0.1 }", T(O.SGD, lr=0.1)),
    ("sgd_momentum", "sgd { lr = 0.1, momentum = 0.9 }", T(O.SGD, **SGDM)),
    ("sgd_dampening", "sgd { lr = 0.1, momentum = 0.9, dampening = 0.3 }",
     T(O.SGD, lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd_nesterov", "sgd { lr = 0.1, momentum = 0.9, nesterov = true }",
     T(O.SGD, lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_wd", "sgd { lr = 0.1, weight_decay = 0.05 }", T(O.SGD, lr=0.1, weight_decay=0.05)),
    ("sgd_maximize", "sgd { lr = 0.1, momentum = 0.5, maximize = true }",
     T(O.SGD, lr=0.1, momentum=0.5, maximize=True)),
    ("sgd_all", "sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.05,"
     " maximize = true }",
     T(O.SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    ("heavy_ball", "heavy_ball { lr = 0.1, beta = 0.9 }", T(O.SGD, **SGDM)),
    ("momentum_classic", "momentum_classic { lr = 0.1, gamma = 0.9 }", T(O.SGD, **SGDM)),
    ("adagrad", "adagrad { lr = 0.1 }", T(O.Adagrad, lr=0.1)),
    ("adagrad_lr_decay", "adagrad { lr = 0.1, lr_decay = 0.05 }",
     T(O.Adagrad, lr=0.1, lr_decay=0.05)),
    ("adagrad_init", "adagrad { lr = 0.1, initial_accumulator_value = 0.1 }",
     T(O.Adagrad, lr=0.1, initial_accumulator_value=0.1)),
    ("adagrad_wd", "adagrad { lr = 0.1, weight_decay = 0.05 }",
     T(O.Adagrad, lr=0.1, weight_decay=0.05)),
    ("adagrad_all", "adagrad { lr = 0.1, lr_decay = 0.05, initial_accumulator_value = 0.1,"
     " weight_decay = 0.05, eps = 1e-6, maximize = true }",
     T(O.Adagrad, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.05,
       eps=1e-6, maximize=True)),
    ("rmsprop", "rmsprop { lr = 0.01 }", T(O.RMSprop, lr=0.01)),
    ("rmsprop_centered", "rmsprop { lr = 0.01, centered = true }",
     T(O.RMSprop, lr=0.01, centered=True)),
    ("rmsprop_momentum", "rmsprop { lr = 0.01, momentum = 0.9 }",
     T(O.RMSprop, lr=0.01, momentum=0.9)),
    ("rmsprop_centered_momentum", "rmsprop { lr = 0.01, centered = true, momentum = 0.9 }",
     T(O.RMSprop, lr=0.01, centered=True, momentum=0.9)),
    ("rmsprop_wd", "rmsprop { lr = 0.01, weight_decay = 0.05 }",
     T(O.RMSprop, lr=0.01, weight_decay=0.05)),
    ("rmsprop_all", "rmsprop { lr = 0.01, alpha = 0.9, eps = 1e-6, centered = true,"
     " momentum = 0.9, weight_decay = 0.05, maximize = true }",
     T(O.RMSprop, lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.9, weight_decay=0.05,
       maximize=True)),
    ("adadelta", "adadelta { }", T(O.Adadelta)),
    ("adadelta_wd", "adadelta { lr = 0.5, rho = 0.8, weight_decay = 0.05 }",
     T(O.Adadelta, lr=0.5, rho=0.8, weight_decay=0.05)),
    ("adadelta_maximize", "adadelta { eps = 1e-5, maximize = true }",
     T(O.Adadelta, eps=1e-5, maximize=True)),
    ("adam", "adam { lr = 0.01 }", T(O.Adam, lr=0.01)),
    ("adam_amsgrad", "adam { lr = 0.01, betas = { 0.9, 0.9 }, amsgrad = true }",
     T(O.Adam, lr=0.01, betas=(0.9, 0.9), amsgrad=True)),
    ("adam_wd", "adam { lr = 0.01, weight_decay = 0.05 }", T(O.Adam, lr=0.01, weight_decay=0.05)),
    ("adam_maximize", "adam { lr = 0.01, maximize = true }", T(O.Adam, lr=0.01, maximize=True)),
    ("adam_all", "adam { lr = 0.01, betas = { 0.8, 0.9 }, eps = 1e-6, amsgrad = true,"
     " weight_decay = 0.05, maximize = true }",
     T(O.Adam, lr=0.01, betas=(0.8, 0.9), eps=1e-6, amsgrad=True, weight_decay=0.05,
       maximize=True)),
    ("adamw", "adamw { lr = 0.01 }", T(O.AdamW, lr=0.01)),
    ("adamw_amsgrad", "adamw { lr = 0.01, betas = { 0.9, 0.9 }, amsgrad = true }",
     T(O.AdamW, lr=0.01, betas=(0.9, 0.9), amsgrad=True)),
    ("adamw_all", "adamw { lr = 0.01, betas = { 0.9, 0.9 }, weight_decay = 0.1, amsgrad = true,"
     " maximize = true }",
     T(O.AdamW, lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("adamax", "adamax { lr = 0.02 }", T(O.Adamax, lr=0.02)),
    ("adamax_wd", "adamax { lr = 0.02, weight_decay = 0.05 }",
     T(O.Adamax, lr=0.02, weight_decay=0.05)),
    ("adamax_all", "adamax { lr = 0.02, betas = { 0.8, 0.99 }, eps = 1e-6, weight_decay = 0.05,"
     " maximize = true }",
     T(O.Adamax, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, maximize=True)),
    ("nadam", "nadam { lr = 0.01 }", T(O.NAdam, lr=0.01)),
    ("nadam_all", "nadam { lr = 0.01, betas = { 0.8, 0.99 }, weight_decay = 0.05,"
     " momentum_decay = 0.01 }",
     T(O.NAdam, lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, momentum_decay=0.01)),
    ("radam", "radam { lr = 0.01 }", T(O.RAdam, lr=0.01)),
    ("radam_all", "radam { lr = 0.01, betas = { 0.8, 0.99 }, eps = 1e-6, weight_decay = 0.05 }",
     T(O.RAdam, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    # a schedule that cycles the momentum (cycle_momentum = true, torch's
    # default): each step's lr and momentum (or beta1) from model_lr and
    # model_momentum, torch's from its scheduler stepped after each step
    ("sgd_one_cycle", "sgd { lr = 0.1 }" + ONE_CYCLE,
     TS(T(O.SGD, lr=0.1), one_cycle, "OneCycleLR(max_lr=0.02): momentum cycled")),
    ("sgd_nesterov_cyclic", "sgd { lr = 0.1, momentum = 0.9, nesterov = true }" + CYCLIC,
     TS(T(O.SGD, lr=0.1, momentum=0.9, nesterov=True), cyclic, "CyclicLR: momentum cycled")),
    ("rmsprop_centered_momentum_cyclic", "rmsprop { lr = 0.01, centered = true, momentum = 0.9 }"
     + CYCLIC, TS(T(O.RMSprop, lr=0.01, centered=True, momentum=0.9), cyclic,
                  "CyclicLR: momentum cycled")),
    ("rmsprop_one_cycle", "rmsprop { lr = 0.01 }" + ONE_CYCLE,
     TS(T(O.RMSprop, lr=0.01), one_cycle, "OneCycleLR: momentum cycled (a buffer it needs)")),
    ("adam_amsgrad_one_cycle", "adam { lr = 0.01, amsgrad = true }" + ONE_CYCLE,
     TS(T(O.Adam, lr=0.01, amsgrad=True), one_cycle, "OneCycleLR: beta1 cycled")),
    ("adamw_one_cycle", "adamw { lr = 0.01 }" + ONE_CYCLE,
     TS(T(O.AdamW, lr=0.01), one_cycle, "OneCycleLR: beta1 cycled")),
    ("adamax_one_cycle", "adamax { lr = 0.02 }" + ONE_CYCLE,
     TS(T(O.Adamax, lr=0.02), one_cycle, "OneCycleLR: beta1 cycled")),
    ("nadam_one_cycle", "nadam { lr = 0.01 }" + ONE_CYCLE,
     TS(T(O.NAdam, lr=0.01), one_cycle, "OneCycleLR: beta1 cycled")),
    ("radam_one_cycle", "radam { lr = 0.01 }" + ONE_CYCLE,
     TS(T(O.RAdam, lr=0.01), one_cycle, "OneCycleLR: beta1 cycled")),
]

# Whole training runs ("trainc build", checkpoints): each optimizer in both
# dtypes, every flag in at least one of them. (name, dtype, trainc, torch)
CASES = [
    ("sgd_momentum_dampening_wd", "float",
     "sgd { lr = 0.1, momentum = 0.9, dampening = 0.3, weight_decay = 0.05 }",
     T(O.SGD, lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    ("sgd_nesterov_wd_maximize", "double",
     "sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.05, maximize = true }",
     T(O.SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    # float32 rounds these differently from torch's SGD, and momentum 0.9 at
    # lr 0.1 amplifies it to the edge of 1e-5 in 50 steps: 0.8 in float
    ("heavy_ball", "float", "heavy_ball { lr = 0.1, beta = 0.8 }",
     T(O.SGD, lr=0.1, momentum=0.8)),
    ("heavy_ball", "double", "heavy_ball { lr = 0.1, beta = 0.9 }", T(O.SGD, **SGDM)),
    ("momentum_classic", "float", "momentum_classic { lr = 0.1, gamma = 0.8 }",
     T(O.SGD, lr=0.1, momentum=0.8)),
    ("momentum_classic", "double", "momentum_classic { lr = 0.1, gamma = 0.9 }", T(O.SGD, **SGDM)),
    ("adagrad_lr_decay_init", "float",
     "adagrad { lr = 0.1, lr_decay = 0.05, initial_accumulator_value = 0.1 }",
     T(O.Adagrad, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
    ("adagrad_all", "double",
     "adagrad { lr = 0.1, lr_decay = 0.05, initial_accumulator_value = 0.1, weight_decay = 0.05,"
     " maximize = true }",
     T(O.Adagrad, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.05,
       maximize=True)),
    ("rmsprop_centered_wd", "float", "rmsprop { lr = 0.01, centered = true, weight_decay = 0.05 }",
     T(O.RMSprop, lr=0.01, centered=True, weight_decay=0.05)),
    # centered with momentum in float32 is held at lr 0.001: at lr 0.01 the
    # training dynamics amplify 1-ulp gradient differences past 1e-5 by step
    # 12-25 -- torch float32 against itself with its gradients computed in
    # float64 and rounded (closer to exact) parts as much, first beyond
    # 1e-5 at step 24; the update alone is bit for bit (part 1)
    ("rmsprop_centered_momentum", "float", "rmsprop { lr = 0.001, centered = true, momentum = 0.9 }",
     T(O.RMSprop, lr=0.001, centered=True, momentum=0.9)),
    ("rmsprop_momentum", "float", "rmsprop { lr = 0.001, momentum = 0.9 }",
     T(O.RMSprop, lr=0.001, momentum=0.9)),
    ("rmsprop_all", "double",
     "rmsprop { lr = 0.01, alpha = 0.9, centered = true, momentum = 0.9, weight_decay = 0.05,"
     " maximize = true }",
     T(O.RMSprop, lr=0.01, alpha=0.9, centered=True, momentum=0.9, weight_decay=0.05,
       maximize=True)),
    ("adadelta_wd", "float", "adadelta { rho = 0.8, weight_decay = 0.05 }",
     T(O.Adadelta, rho=0.8, weight_decay=0.05)),
    ("adadelta_wd_maximize", "double", "adadelta { rho = 0.8, weight_decay = 0.05, maximize = true }",
     T(O.Adadelta, rho=0.8, weight_decay=0.05, maximize=True)),
    ("adam", "float", "adam { lr = 0.01 }", T(O.Adam, lr=0.01)),
    ("adam_all", "double",
     "adam { lr = 0.01, betas = { 0.9, 0.9 }, amsgrad = true, weight_decay = 0.05,"
     " maximize = true }",
     T(O.Adam, lr=0.01, betas=(0.9, 0.9), amsgrad=True, weight_decay=0.05, maximize=True)),
    ("adamw", "float", "adamw { lr = 0.01, weight_decay = 0.1 }",
     T(O.AdamW, lr=0.01, weight_decay=0.1)),
    ("adamw_all", "double",
     "adamw { lr = 0.01, betas = { 0.9, 0.9 }, weight_decay = 0.1, amsgrad = true,"
     " maximize = true }",
     T(O.AdamW, lr=0.01, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("adamax", "float", "adamax { lr = 0.02 }", T(O.Adamax, lr=0.02)),
    ("adamax_wd_maximize", "double", "adamax { lr = 0.02, weight_decay = 0.05, maximize = true }",
     T(O.Adamax, lr=0.02, weight_decay=0.05, maximize=True)),
    ("nadam", "float", "nadam { lr = 0.01 }", T(O.NAdam, lr=0.01)),
    ("nadam_wd", "double", "nadam { lr = 0.01, weight_decay = 0.05, momentum_decay = 0.01 }",
     T(O.NAdam, lr=0.01, weight_decay=0.05, momentum_decay=0.01)),
    ("radam", "float", "radam { lr = 0.01 }", T(O.RAdam, lr=0.01)),
    ("radam_wd", "double", "radam { lr = 0.01, weight_decay = 0.05 }",
     T(O.RAdam, lr=0.01, weight_decay=0.05)),
]


# ---- references for the negative controls that torch 1.13 does not offer ----

class NAdam20(torch.optim.Optimizer):
    """NAdam as fixed in PyTorch 2.0: the second step size uses 1 - P * mu_next
    (1.13 uses 1 - P * mu_t * mu_next). Otherwise 1.13's code."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay))

    @torch.no_grad()
    def step(self):
        for grp in self.param_groups:
            (b1, b2), lr, psi = grp["betas"], grp["lr"], grp["momentum_decay"]
            for p in grp["params"]:
                st = self.state[p]
                if not st:
                    st.update(t=0, P=1.0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                st["t"] += 1
                t, g = st["t"], p.grad
                if grp["weight_decay"]:
                    g = g.add(p, alpha=grp["weight_decay"])
                mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                st["P"] *= mu
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                d = st["v"].div(1 - b2 ** t).sqrt().add_(grp["eps"])
                p.addcdiv_(g, d, value=-lr * (1 - mu) / (1 - st["P"]))
                p.addcdiv_(st["m"], d, value=-lr * mu_next / (1 - st["P"] * mu_next))


class RAdamUnrectified(torch.optim.Optimizer):
    """RAdam that always takes the plain branch p <- p - lr * m_hat."""

    def __init__(self, params, lr, betas=(0.9, 0.999), weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for grp in self.param_groups:
            (b1, b2), lr = grp["betas"], grp["lr"]
            for p in grp["params"]:
                st = self.state[p]
                if not st:
                    st.update(t=0, m=torch.zeros_like(p))
                st["t"] += 1
                g = p.grad.add(p, alpha=grp["weight_decay"])
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                p.add_(st["m"] / (1 - b1 ** st["t"]) * lr, alpha=-1.0)


# (case name, dtype) -> [(what is wrong, torch optimizer factory)]
NEGATIVE = {
    ("adam", "float"): [("betas (0.9, 0.99) instead of (0.9, 0.999)",
                         T(O.Adam, lr=0.01, betas=(0.9, 0.99)))],
    ("adam_all", "double"): [
        ("eps 1e-7 instead of 1e-8",
         T(O.Adam, lr=0.01, betas=(0.9, 0.9), amsgrad=True, weight_decay=0.05, maximize=True,
           eps=1e-7)),
        ("amsgrad off",
         T(O.Adam, lr=0.01, betas=(0.9, 0.9), amsgrad=False, weight_decay=0.05, maximize=True))],
    ("adamw", "float"): [("Adam's coupled weight_decay instead of AdamW's",
                          T(O.Adam, lr=0.01, weight_decay=0.1))],
    ("heavy_ball", "float"): [("SGD momentum 0.75 instead of 0.8",
                               T(O.SGD, lr=0.1, momentum=0.75))],
    ("adagrad_lr_decay_init", "float"): [
        ("lr_decay 0", T(O.Adagrad, lr=0.1, initial_accumulator_value=0.1))],
    ("nadam_wd", "double"): [("PyTorch 2.0's NAdam (mu counted once)",
                              T(NAdam20, lr=0.01, weight_decay=0.05, momentum_decay=0.01))],
    ("radam_wd", "double"): [("RAdam without the rectified branch",
                              T(RAdamUnrectified, lr=0.01, weight_decay=0.05))],
}


# ---- data and specs ----

def make_data():
    """float32-representable values, so that the CSV text is exact in both dtypes."""
    r = np.random.RandomState(2024)
    X = r.randn(ROWS, FEATURES).astype(np.float32)
    y = r.randint(0, CLASSES, ROWS)
    return X, y


def write_csv(path, X, y):
    with open(path, "w") as f:
        f.write(",".join([f"x{i}" for i in range(FEATURES)] + ["target"]) + "\n")
        for i in range(ROWS):
            f.write(",".join([repr(float(v)) for v in X[i]] + [str(int(y[i]))]) + "\n")


def write_spec(folder, model, optimizer, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "spec.lua"), "w") as f:
        f.write(f"""-- generated by tests/test_optim_torch.py
model "{model}"
data = csv {{ train = "{data}", label = "target", header = true }}
local x = input {{ {FEATURES} }}
local y = labels {{ classes = {CLASSES} }}
local h = tanh(linear(x, {HIDDEN}, {{ name = "fc1" }}))
minimize(cross_entropy(linear(h, {CLASSES}, {{ name = "fc2" }}), y))
optimizer = {optimizer}
train {{ batch = {BATCH}, epochs = 1000, seed = 7, shuffle = false }}
""")


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def load_export(folder):
    return {p: np.load(os.path.join(folder, p + ".npy")) for p in PARAMS}


def load_trace(path, init):
    """The trainer's --trace CSV (every parameter after every step; %.9g for
    float32 and %.17g for double: both exact) as {step: {name: array shaped
    as in init}}, steps from 1."""
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {p: [i for i, h in enumerate(head) if h == p or h.startswith(p + "[")] for p in PARAMS}
    out = {}
    for row in rows:
        k = int(row[0])
        if k > 0:
            out[k] = {p: np.array([float(row[i]) for i in cols[p]], dtype=init[p].dtype)
                      .reshape(init[p].shape) for p in PARAMS}
    return out


def run_trainc(trainc, name, dtype, folder):
    """Builds the trainer and runs it with --trace: every parameter after
    every step, in both dtypes. Returns (initial weights, {k: weights after
    k steps}) or an error message."""
    model = f"{name}_{dtype}"
    out = os.path.join(folder, "trainer")
    r = run([trainc, "build", "spec.lua", "-o", out, "--dtype", dtype, "-q"], folder)
    if r.returncode != 0:
        return f"trainc build failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    exe = os.path.join(out, model)
    cmds = [[exe, "train", "--epochs", "0", "--weights", "w0.weights", "--quiet"],
            [exe, "export", "init", "--weights", "w0.weights"],
            [exe, "train", "--steps", str(STEPS), "--threads", "1", "--weights",
             "w.weights", "--trace", "trace.csv", "--quiet"],
            [exe, "export", "final", "--weights", "w.weights"]]
    for cmd in cmds:
        r = run(cmd, folder)
        if r.returncode != 0:
            return f"{' '.join(cmd[1:])} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    init = load_export(os.path.join(folder, "init"))
    got = load_trace(os.path.join(folder, "trace.csv"), init)
    if sorted(got) != list(range(1, STEPS + 1)):
        return f"trace.csv has steps {sorted(got)[:5]}... instead of 1..{STEPS}"
    # the trace reads back exactly: its last step is the saved weights
    final = load_export(os.path.join(folder, "final"))
    if any(not np.array_equal(final[p], got[STEPS][p]) for p in PARAMS):
        return "the trace's last step differs from the saved weights"
    return init, got


# ---- the update alone: the filled template on recorded gradients ----

HARNESS = r"""/* generated by tests/test_optim_torch.py: the trainer's update (the
 * filled template, cut from its model.c) on gradients read from stdin */
#include <stdio.h>
#include <stdlib.h>
#include <tgmath.h>

#include "runtime/rt.h"

#define MODEL_N_PARAMS %(n_params)dL
#define MODEL_N_STATE %(n_state)dL
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t);
double model_lr(long e, double base, long total);
double model_momentum(long e, long total);
/* model.c's switch: weight decay as the spec says (train --overfit: 0) */
int model_regularise = 1;

%(update)s
static real param[MODEL_N_PARAMS], grad[MODEL_N_PARAMS], state[MODEL_N_STATE + 1];

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    const double lr = strtod(argv[1], NULL);
    const long steps = atol(argv[2]);
    if (fread(param, sizeof(real), MODEL_N_PARAMS, stdin) != MODEL_N_PARAMS) return 1;
    for (long t = 1; t <= steps; t++) {
        if (fread(grad, sizeof(real), MODEL_N_PARAMS, stdin) != MODEL_N_PARAMS) return 1;
        /* the schedule's lr and momentum of step t (without one: lr and the optimizer's) */
        model_update(param, grad, state, model_lr(t - 1, lr, steps), model_momentum(t - 1, steps), t);
        fwrite(param, sizeof(real), MODEL_N_PARAMS, stdout);
    }
    return 0;
}
"""


def update_inputs(dtype):
    """Initial parameters and STEPS gradients: a drift per element (so that
    momentum and the moments build up) plus noise of varying size, some
    elements tiny, one gradient exactly zero."""
    r = np.random.RandomState(77)
    npdt = np.float32 if dtype == "float" else np.float64
    n = FEATURES * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES
    p0 = r.uniform(-0.5, 0.5, n).astype(npdt)
    drift = r.randn(n) * 0.05
    scale = np.where(np.arange(n) % 7 == 3, 1e-5, 1.0)
    grads = np.stack([(drift + 0.1 * (1 + 0.5 * np.sin(t)) * r.randn(n)) * scale
                      for t in range(STEPS)]).astype(npdt)
    grads[:, 5] = 0
    return p0, grads


def run_update(trainc, name, dtype, folder):
    """Generates the trainer ("trainc gen"), compiles its update into a harness
    (-Wall -Wextra -pedantic -Werror: the trainer's flags, warnings as
    errors) and runs it on update_inputs; returns (the parameters after each
    step, the spec's lr) or an error message."""
    out = os.path.join(folder, "gen")
    r = run([trainc, "gen", "spec.lua", "-o", out, "--dtype", dtype, "-q"], folder)
    if r.returncode != 0:
        return f"trainc gen failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-800:]}"
    with open(os.path.join(out, "model.c")) as f:
        code = f.read()
    at = code.find("/* ---- update:")
    if at < 0:
        return "no '/* ---- update:' block in model.c"
    with open(os.path.join(out, "model.h")) as f:
        h = f.read()
    n_params = int(re.search(r"#define MODEL_N_PARAMS (\d+)L", h).group(1))
    n_state = int(re.search(r"#define MODEL_N_STATE (\d+)L", h).group(1))
    lr = re.search(r"#define MODEL_LR (\S+)", h).group(1)
    src = os.path.join(folder, "update_harness.c")
    with open(src, "w") as f:
        f.write(HARNESS % dict(n_params=n_params, n_state=n_state, update=code[at:]))
    exe = os.path.join(folder, "update_harness")
    cmd = ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror",
           "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-I", out, src, "-o", exe, "-lm"]
    if dtype == "double":
        cmd.insert(1, "-DTRAINC_DOUBLE")
    r = run(cmd, folder)
    if r.returncode != 0:
        return f"the update does not compile cleanly: {(r.stdout + r.stderr).strip()[-1500:]}"
    p0, grads = update_inputs(dtype)
    if p0.size != n_params:
        return f"{n_params} parameters, expected {p0.size}"
    r = subprocess.run([exe, lr, str(STEPS)], input=p0.tobytes() + grads.tobytes(),
                       capture_output=True)
    if r.returncode != 0:
        return f"update harness failed ({r.returncode})"
    return np.frombuffer(r.stdout, dtype=p0.dtype).reshape(STEPS, n_params), float(lr), n_state


def torch_update(dtype, make_opt, lr):
    """The same gradients through torch's optimizer on one flat parameter,
    at the same (double) lr the trainer hands to model_update."""
    p0, grads = update_inputs(dtype)
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = make_opt([p], lr=lr)
    out = []
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
        if hasattr(opt, "trainc_sched"):
            opt.trainc_sched.step()
        out.append(p.detach().numpy().copy())
    # what torch keeps per parameter, apart from the step count
    state = {k: int(v.numel()) for k, v in opt.state[p].items()
             if k != "step" and torch.is_tensor(v)}
    return np.stack(out), state


# ---- the PyTorch side ----

def run_torch(dtype, X, y, init, make_opt):
    """STEPS optimizer steps from `init` over the DataLoader's batches; returns
    {k: parameters after k steps} for k = 1..STEPS."""
    tdtype = torch.float32 if dtype == "float" else torch.float64
    net = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(),
                        nn.Linear(HIDDEN, CLASSES)).to(tdtype)
    tensors = (net[0].weight, net[0].bias, net[2].weight, net[2].bias)
    with torch.no_grad():
        for name, p in zip(PARAMS, tensors):
            assert tuple(p.shape) == init[name].shape, (name, p.shape, init[name].shape)
            p.copy_(torch.from_numpy(init[name]).to(tdtype))
    loader = DataLoader(TensorDataset(torch.from_numpy(X).to(tdtype),
                                      torch.from_numpy(y.astype(np.int64))),
                        batch_size=BATCH, shuffle=False, drop_last=False)
    lossf = nn.CrossEntropyLoss()
    opt = make_opt(net.parameters())
    step, out = 0, {}
    while step < STEPS:
        for xb, yb in loader:
            opt.zero_grad()
            lossf(net(xb), yb).backward()
            opt.step()
            step += 1
            out[step] = {n: p.detach().numpy().copy() for n, p in zip(PARAMS, tensors)}
            if step >= STEPS:
                break
    return out


def compare(dtype, got, want):
    """Returns (ok, detail, worst |diff| / bound, largest relative difference):
    every parameter at every checkpoint within the dtype's bound."""
    rtol, atol = TOL[dtype]
    worst, rel, details = 0.0, 0.0, []
    for k in sorted(got):
        for p in PARAMS:
            g, w = got[k][p].astype(np.float64), want[k][p].astype(np.float64)
            if g.shape != w.shape:
                return False, f"step {k} {p}: shape {g.shape} vs torch {w.shape}", np.inf, np.inf
            diff = np.abs(g - w)
            excess = diff / (rtol * np.abs(w) + atol)
            excess = np.where(np.isnan(excess), np.inf, excess)
            worst = max(worst, float(np.max(excess)))
            big = np.abs(w) > 1e-3  # relative differences of values near zero mean nothing
            if big.any():
                rel = max(rel, float(np.max(diff[big] / np.abs(w[big]))))
            bad = int(np.sum(excess > 1))
            if bad and len(details) < 3:
                i = int(np.argmax(excess))
                details.append(f"step {k} {p}: {bad} of {g.size} off, worst trainc "
                               f"{g.ravel()[i]!r} torch {w.ravel()[i]!r}")
    ok = not details
    return ok, ("; ".join(details) if details else ""), worst, rel


# templates equal to their torch reference in exact arithmetic only
INEXACT = ("heavy_ball", "momentum_classic")


def compare_update(name, dtype, got, want):
    """Bit for bit, except for INEXACT (within the dtype's rtol/atol)."""
    rtol, atol = TOL[dtype]
    g, w = got.astype(np.float64), want.astype(np.float64)
    diff = np.abs(g - w)
    idt = np.int32 if dtype == "float" else np.int64
    ulps = np.abs(got.view(idt).astype(np.int64) - want.view(idt).astype(np.int64))
    first = np.nonzero((diff > 0).any(axis=1))[0]
    detail = (f"{int(np.sum(diff > 0))} of {g.size} values differ, at most {int(ulps.max())} "
              f"ulp, relative {float(np.max(diff / np.maximum(np.abs(w), 1e-30))):.3g}" +
              (f", first at step {int(first[0]) + 1}" if first.size else ""))
    if name in INEXACT:
        return bool(np.all(diff <= rtol * np.abs(w) + atol)), detail
    return bool(np.all(got == want)), detail


def run_torch_exact_grads(X, y, init, make_opt):
    """run_torch in float32, but each gradient computed in float64 from the
    float32 parameters and rounded to float32: within half an ulp of the
    exact gradient, where plain float32 is a few ulps off."""
    net = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, CLASSES))
    net64 = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(),
                          nn.Linear(HIDDEN, CLASSES)).double()
    ps = (net[0].weight, net[0].bias, net[2].weight, net[2].bias)
    ps64 = (net64[0].weight, net64[0].bias, net64[2].weight, net64[2].bias)
    with torch.no_grad():
        for name, p in zip(PARAMS, ps):
            p.copy_(torch.from_numpy(init[name]))
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))),
                        batch_size=BATCH, shuffle=False, drop_last=False)
    lossf, opt, step, out = nn.CrossEntropyLoss(), make_opt(net.parameters()), 0, {}
    while step < STEPS:
        for xb, yb in loader:
            with torch.no_grad():
                for p, q in zip(ps, ps64):
                    q.copy_(p.double())
            net64.zero_grad()
            lossf(net64(xb.double()), yb).backward()
            for p, q in zip(ps, ps64):
                p.grad = q.grad.float()
            opt.step()
            step += 1
            out[step] = {n: p.detach().numpy().copy() for n, p in zip(PARAMS, ps)}
            if step >= STEPS:
                break
    return out


def first_over(dtype, a, b):
    """The first step at which a and b differ beyond the dtype's bound, or None."""
    for k in sorted(a):
        if not compare(dtype, {k: a[k]}, {k: b[k]})[0]:
            return k
    return None


def check_rmsprop_sensitivity(X, y, init):
    """Why RMSprop centered with momentum is held at lr 0.001 in float32: at lr
    0.01 torch float32 is not reproducible to the bound by itself. Its run
    with gradients nearer exact (float64, rounded) parts from its plain run
    beyond 1e-5 within 50 steps, as does its float64 run: 1-ulp gradient
    differences, which any other forward/backward has, grow past the bound."""
    ref = T(O.RMSprop, lr=0.01, centered=True, momentum=0.9)
    plain = run_torch("float", X, y, init, ref)
    exact = run_torch_exact_grads(X, y, init, ref)
    f64 = run_torch("double", X, y, init, ref)
    k1, k2 = first_over("float", exact, plain), first_over("float", plain, f64)
    r1, r2 = compare("float", exact, plain)[2], compare("float", plain, f64)[2]
    print(f"# rmsprop centered momentum lr 0.01 float32: torch vs torch with float64 gradients: "
          f"first beyond the bound at step {k1}, worst |diff| / bound {r1:.3g}; torch float32 vs "
          f"float64: step {k2}, {r2:.3g}")
    report(k1 is not None and k2 is not None,
           "rmsprop centered momentum (lr 0.01, float32): torch float32 itself parts from its run "
           "with exactly rounded (float64) gradients, and from float64, beyond 1e-5 within 50 "
           "steps: the dynamics amplify 1-ulp gradient differences (why the float case uses lr "
           "0.001)", f"first steps over the bound: {k1}, {k2}")


def main():
    t0 = time.time()
    ready = oracle.setup("optim_torch")
    if ready is None:
        return 1
    trainc, base, own_tmp = ready

    X, y = make_data()
    write_csv(os.path.join(base, "data.csv"), X, y)
    jobs = []  # (kind, name, dtype, optimizer, torch factory, folder)
    for name, dtype, optimizer, ref in CASES:
        jobs.append(("train", name, dtype, optimizer, ref, os.path.join(base, f"{name}_{dtype}")))
    for name, optimizer, ref in UPDATE_CASES:
        for dtype in ("float", "double"):
            jobs.append(("update", name, dtype, optimizer, ref,
                         os.path.join(base, "update", f"{name}_{dtype}")))
    for kind, name, dtype, optimizer, ref, folder in jobs:
        write_spec(folder, f"{name}_{dtype}", optimizer,
                   "../data.csv" if kind == "train" else "../../data.csv")

    def job(j):
        kind, name, dtype, _, _, folder = j
        return (run_trainc if kind == "train" else run_update)(trainc, name, dtype, folder)

    results = {}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        futures = {pool.submit(job, j): j for j in jobs}
        # the torch side of each job as soon as its trainer has run
        for fut in as_completed(futures):
            kind, name, dtype, optimizer, ref, _ = j = futures[fut]
            res = fut.result()
            if isinstance(res, str):
                results[j[:3]] = res
            elif kind == "update":
                want, state = torch_update(dtype, ref, res[1])
                results[j[:3]] = (res[0], want, res[2], state)
            else:
                init, got = res
                want = run_torch(dtype, X, y, init, ref)
                neg = [(what, compare(dtype, got, run_torch(dtype, X, y, init, other)))
                       for what, other in NEGATIVE.get((name, dtype), [])]
                results[j[:3]] = (init, got, want, neg)

    worst = {}
    for kind, name, dtype, optimizer, ref, _ in jobs:
        res = results[(kind, name, dtype)]
        label = f"{name} ({dtype}): {optimizer}"
        if kind == "update":
            what = (f"the update alone, {STEPS} steps on the same gradients, matches {ref.text} "
                    + ("within rtol/atol (the same in exact arithmetic, rounded differently)"
                       if name in INEXACT else "bit for bit"))
            if isinstance(res, str):
                report(False, f"{label}: {what}", res)
                continue
            got, want, n_state, state = res
            ok, detail = compare_update(name, dtype, got, want)
            print(f"# {name} {dtype} update alone: {detail}")
            report(ok, f"{label}: {what}", detail)
            if dtype == "float":
                torch_n = sum(state.values())
                report(n_state == torch_n,
                       f"{name}: the optimizer state (what checkpoints save) is {n_state} values, "
                       f"as much as torch keeps: " + (", ".join(f"{k} {v}" for k, v in state.items())
                                                      or "nothing"),
                       f"MODEL_N_STATE {n_state}, torch {torch_n}")
            continue
        if isinstance(res, str):
            report(False, f"{label}: trainer built and ran", res)
            continue
        init, got, want, neg = res
        moved = max(float(np.max(np.abs(got[STEPS][p].astype(np.float64) - init[p])))
                    for p in PARAMS)
        report(moved > 1e-2, f"{label}: {STEPS} steps changed the weights", f"max change {moved:g}")
        ok, detail, ratio, rel = compare(dtype, got, want)
        print(f"# {name} {dtype}: worst |diff| / bound {ratio:.3g}, largest relative "
              f"difference {rel:.3g} (values > 1e-3)")
        key = (optimizer.split()[0], dtype)
        worst[key] = max(worst.get(key, 0.0), rel)
        rtol, atol = TOL[dtype]
        steps = f"every step to {STEPS}"
        report(ok, f"{label}: every parameter matches torch.optim.{ref.text} after {steps} "
                   f"(rtol {rtol:g}, atol {atol:g})", detail)
        for what, (nok, _, nratio, _) in neg:
            report(not nok, f"mismatch detected: {name} ({dtype}) vs torch with {what}",
                   "" if not nok else f"matched anyway (worst |diff| / bound {nratio:.3g})")

    sens = results.get(("train", "rmsprop_centered_momentum", "float"))
    if isinstance(sens, tuple):
        check_rmsprop_sensitivity(X, y, sens[0])
    else:
        report(False, "rmsprop sensitivity check: the rmsprop_centered_momentum float trainer ran")
    for (opt, dtype), rel in sorted(worst.items()):
        print(f"# training: largest relative difference {opt} {dtype}: {rel:.3g}")
    print(f"# {len(CASES)} builds, {len(UPDATE_CASES) * 2} updates alone, "
          f"{time.time() - t0:.1f} s")
    if own_tmp and not oracle.failures:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return oracle.exit_status()


if __name__ == "__main__":
    sys.exit(main())
