-- Watching optimizers move: two test functions of two variables, minimised
-- from the same start by the optimizer you choose, with every step written
-- out so that the path can be drawn.
--
--   ravine      f(x1, x2) = x1² + 4 x2²         an elongated bowl: plain
--               gradient descent zig-zags across the steep x2 direction
--               while it crawls along x1; momentum smooths the zig-zag.
--   rosenbrock  f(x1, x2) = (1 - x1)² + 100 (x2 - x1²)²   a curved valley
--               with its minimum at (1, 1).
--
--   trainc build models/ravine.lua --set f=rosenbrock --set opt=adam
--   out/ravine/ravine train --trace path.csv     (step, loss, lr, x1, x2)
--
-- There is no data: each epoch is one step on the objective itself.
model "ravine"

local f = args.f or "ravine"
local start = f == "ravine" and { -4, 1 } or { -1.5, 2 }
local x1 = param { 1, init = constant(start[1]), name = "x1" }
local x2 = param { 1, init = constant(start[2]), name = "x2" }

if f == "ravine" then
  minimize(sum(x1 ^ 2 + 4 * x2 ^ 2))
elseif f == "rosenbrock" then
  minimize(sum((1 - x1) ^ 2 + 100 * (x2 - x1 ^ 2) ^ 2))
else
  error("f must be ravine or rosenbrock, not " .. tostring(f))
end

-- learning rates that show each method's character; the Rosenbrock valley
-- is steep across (curvature ~1000 at the start), so the plain methods need
-- far smaller steps there
local lr = f == "ravine"
  and { gd = 0.2, momentum = 0.05, adagrad = 0.5, rmsprop = 0.02, adadelta = 1.0, adam = 0.1 }
  or { gd = 1e-3, momentum = 2e-4, adagrad = 0.5, rmsprop = 5e-3, adadelta = 1.0, adam = 0.05 }
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
}
optimizer = choices[args.opt or "gd"] or error("opt must be one of gd, momentum, nesterov, heavy_ball, adagrad, rmsprop, adadelta, adam, nadam")
train { epochs = args.steps or 200 }
