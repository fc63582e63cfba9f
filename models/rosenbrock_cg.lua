-- Line searches on Rosenbrock's valley, f(x1, x2) = (1 - x1)² + 100 (x2 - x1²)²,
-- from (-1.5, 2), minimum at (1, 1): the methods that choose their own step.
--
--   gd       gradient descent at a fixed lr (small: the valley is steep across)
--   armijo   gradient descent with Armijo backtracking from lr = 1: each step
--            halves t until f(x - t g) <= f(x) - 1e-4 t |g|^2
--   cg       nonlinear conjugate gradient (Polak-Ribiere+, strong-Wolfe search),
--            one CG iteration per trainer step (max_iter = 1)
--   cg_fr    the same with Fletcher-Reeves
--   lbfgs    L-BFGS with the strong-Wolfe search, one iteration per step
--
--   trainc build models/rosenbrock_cg.lua --set opt=cg
--   out/rosenbrock_cg/rosenbrock_cg train --step-metrics steps.csv --trace path.csv
--
-- steps.csv has the step size each search took (step_size) and its
-- evaluations of f (evals): compare the evaluations the methods need to
-- reach the minimum, not only their steps. There is no data: each epoch is
-- one step on the objective itself.
model "rosenbrock_cg"

local x1 = param { 1, init = constant(-1.5), name = "x1" }
local x2 = param { 1, init = constant(2), name = "x2" }
minimize(sum((1 - x1) ^ 2 + 100 * (x2 - x1 ^ 2) ^ 2))

local choices = {
  gd     = sgd { lr = 1e-3 },
  armijo = sgd { lr = 1, line_search = "armijo" },
  cg     = cg { max_iter = 1 },
  cg_fr  = cg { beta = "fletcher_reeves", max_iter = 1 },
  lbfgs  = lbfgs { max_iter = 1, line_search_fn = "strong_wolfe" },
}
optimizer = choices[args.opt or "cg"] or error("opt must be one of gd, armijo, cg, cg_fr, lbfgs")
train { batch = "full", epochs = args.steps or 200 }
