-- Least squares: min_w ||y - X w||^2 (as a mean), X 10000 x 500.
-- The oldest optimisation problem there is, and a convex one: the answer is
-- the solution of the normal equations XᵀX w = Xᵀy, so how close gradient
-- descent gets to it can be measured exactly (tests/test_least_squares.sh).
model "least_squares"

---------------------------------------------------------------------------
-- THE CHOICE: full-batch gradient descent or mini-batch SGD.
--   "full"  every step uses all 10000 rows: plain gradient descent. The
--           objective is a quadratic with Hessian 2XᵀX/n, whose eigenvalues
--           for X ~ N(0,1) lie in about [2(1-√(d/n))², 2(1+√(d/n))²] =
--           [1.2, 3.0]; lr = 0.5 is stable (< 2/3.0) and shrinks the error
--           by max|1 - 0.5 λ| ≈ 0.5 per step: 1e-4 relative after ~10 steps,
--           rounding error (1e-15 in --dtype double, 7e-8 in float) after
--           ~45 steps. 60 steps take ~1 s in float, ~2 s in double.
--   64      mini-batch SGD: 156 cheap steps per epoch instead of one full
--           one. With a constant lr the noise of the mini-batch
--           gradients never averages out: the loss falls fast at first, then
--           w wanders in a ball around the solution whose size grows with lr
--           (relative error ~1e-3 at lr 0.01, ~5e-3 at lr 0.05, whether it
--           runs 5 epochs or 20). It never gets to 1e-4; that takes a
--           decaying lr (or averaging the iterates), or the full batch.
-- Choose with `trainc build models/least_squares.lua --set batch=64`.
local batch = args.batch or "full"
---------------------------------------------------------------------------

local full = batch == "full"

-- y = X w* + 0.1 e, X, w*, e ~ N(0,1); a held-out test set of 2000 rows
data = linreg { n = 10000, d = 500, noise = 0.1, test = 2000 }

local x = input { 500 }
local y = labels { 1 }
local w = param { 500, 1, init = zeros(), name = "w" }
minimize(mean((matmul(x, w) - y) ^ 2))

-- a mini-batch of 64 has a Hessian with eigenvalues up to ~2(1 + √(500/64))²
-- ≈ 29, so it needs lr well below 2/29; the smaller the lr, the smaller the ball
--
-- `--set opt=NAME` picks another optimizer for the same problem (the
-- comparison of models/least_squares_compare.sh): gd (the default, plain SGD
-- at the lr above), momentum, nesterov, adagrad, rmsprop, adam.
local lr = full and 0.5 or 0.01
local optimizers = {
  gd       = sgd { lr = lr },
  momentum = sgd { lr = lr / 5, momentum = 0.8 },
  nesterov = sgd { lr = lr / 5, momentum = 0.8, nesterov = true },
  adagrad  = adagrad { lr = full and 0.5 or 0.05 },
  rmsprop  = rmsprop { lr = full and 0.01 or 0.001 },
  adam     = adam { lr = full and 0.05 or 0.005 },
}
optimizer = optimizers[args.opt or "gd"]
  or error("opt must be one of gd, momentum, nesterov, adagrad, rmsprop, adam")
train { batch = batch, epochs = args.epochs or (full and 60 or 5), seed = 1, shuffle = not full }
