-- Watching optimizers move: test functions of two variables, minimised
-- from the same start by the optimizer you choose, with every step written
-- out so that the path can be drawn.
--
--   ravine      f(x1, x2) = x1² + 4 x2²         an elongated bowl: plain
--               gradient descent zig-zags across the steep x2 direction
--               while it crawls along x1; momentum smooths the zig-zag.
--   rotated     the same bowl turned by 45°: f = u² + 4 v² with
--               u = (x1 + x2)/√2, v = (x1 - x2)/√2, i.e. 2.5 x1² - 3 x1 x2 +
--               2.5 x2² ("correlated weights lead to skewed valleys"). GD and
--               momentum move exactly as in the ravine, turned; the methods
--               that scale each coordinate (Adagrad, RMSprop, Adam) do not:
--               they are not invariant under rotation.
--   saddle      f(x1, x2) = x1² - x2²          a saddle point at 0, started
--               almost on its ridge (x2 = 0.001): the gradient there is
--               tiny along x2, so GD slides to the saddle and lingers;
--               momentum and the adaptive methods escape sooner. It has no
--               minimum: runs stop after `steps` (default 40 here).
--   rosenbrock  f(x1, x2) = (1 - x1)² + 100 (x2 - x1²)²   a curved valley
--               with its minimum at (1, 1).
--
--   trainc build models/ravine.lua --set f=rosenbrock --set opt=adam
--   out/ravine/ravine train --trace path.csv     (step, loss, lr, x1, x2)
--   out/ravine/ravine landscape --plane --path path.csv   (the contours, the path)
-- models/ravine_compare.sh draws every optimizer's path on each function.
--
-- There is no data: each epoch is one step on the objective itself.
model "ravine"

local f = args.f or "ravine"
local r = 0.5 ^ 0.5 -- the rotated start is the ravine's (-4, 1) turned by 45°
local starts = { ravine = { -4, 1 }, rotated = { (-4 + 1) * r, (-4 - 1) * r },
                 saddle = { -4, 0.001 }, rosenbrock = { -1.5, 2 } }
local start = starts[f] or error("f must be ravine, rotated, saddle or rosenbrock, not " .. tostring(f))
local x1 = param { 1, init = constant(start[1]), name = "x1" }
local x2 = param { 1, init = constant(start[2]), name = "x2" }

if f == "ravine" then
  minimize(sum(x1 ^ 2 + 4 * x2 ^ 2))
elseif f == "rotated" then
  minimize(sum((x1 + x2) ^ 2 * 0.5 + 2 * (x1 - x2) ^ 2))
elseif f == "saddle" then
  minimize(sum(x1 ^ 2 - x2 ^ 2))
else
  minimize(sum((1 - x1) ^ 2 + 100 * (x2 - x1 ^ 2) ^ 2))
end

-- learning rates that show each method's character; the Rosenbrock valley
-- is steep across (curvature ~1000 at the start), so the plain methods need
-- far smaller steps there
-- (the rotated ravine has the ravine's curvatures, 2 and 8, so its rates)
local bowl = { gd = 0.2, momentum = 0.05, adagrad = 0.5, rmsprop = 0.02, adadelta = 1.0, adam = 0.1 }
local lrs = {
  ravine = bowl, rotated = bowl,
  saddle = { gd = 0.1, momentum = 0.02, adagrad = 0.5, rmsprop = 0.02, adadelta = 1.0, adam = 0.1 },
  rosenbrock = { gd = 1e-3, momentum = 2e-4, adagrad = 0.5, rmsprop = 5e-3, adadelta = 1.0, adam = 0.05 },
}
local lr = lrs[f]
local choices = {
  gd         = sgd { lr = lr.gd },
  momentum   = sgd { lr = lr.momentum, momentum = 0.9 },
  nesterov   = sgd { lr = lr.momentum, momentum = 0.9, nesterov = true },
  heavy_ball = heavy_ball { lr = lr.momentum, beta = 0.9 },
  adagrad    = adagrad { lr = lr.adagrad },
  rmsprop    = rmsprop { lr = lr.rmsprop },
  adadelta   = adadelta { lr = lr.adadelta },
  adam       = adam { lr = lr.adam },
  nadam      = nadam { lr = lr.adam },
  -- one iteration a step, so that the trace has every point of the path
  lbfgs      = lbfgs { lr = 1, max_iter = 1, line_search_fn = "strong_wolfe" },
  -- x <- x - H^-1 g: on the ravine and the rotated ravine (quadratics) one
  -- step lands on the minimum, whatever the rotation or the conditioning.
  -- On the saddle H = diag(2, -2) is indefinite: the step solves
  -- H d = g all the same (dsysv) and lands on the saddle point in one step,
  -- where g = 0 and it stays. That is the lesson: Newton's method looks for
  -- a point where the gradient vanishes, not for a minimum; near a saddle
  -- it is attracted to it, where GD is pushed away along -x2.
  newton     = newton { lr = 1 },
}
optimizer = choices[args.opt or "gd"] or error("opt must be one of gd, momentum, nesterov, heavy_ball, adagrad, rmsprop, adadelta, adam, nadam, lbfgs, newton")
train { epochs = args.steps or (f == "saddle" and 40 or 200) }
