-- Logistic regression: a linear score z = w·x + b and the logistic loss
-- -log σ(y z) with labels y ∈ {-1, +1}. The loss is small when z has the
-- label's sign and a margin; σ(z) is then the model's P(y = +1 | x).
--
-- The data: linreg draws x ~ N(0, I) in 5 dimensions and a real target
-- t = w*·x + noise. The class is its sign, so the classes are linearly
-- separable except near the boundary, where the noise flips some labels.
-- Here |w*| = 1.14 and the noise is 0.25, so about 7% of the points lie on
-- the wrong side of the true boundary: the best possible accuracy is about
-- 0.93, and this model gets there (test accuracy 0.93 after 20 epochs).
model "logistic"

data = linreg { n = 2000, d = 5, noise = 0.25, test = 1000 }

local x = input { 5 }
local t = labels { 1 }   -- the real target t
local y = t / abs(t)     -- its sign, ±1 (t is never exactly 0)

local z = linear(x, 1)   -- w·x + b, one score per row
minimize(logistic(z, y)) -- accuracy counts sign(z) == sign(t)

optimizer = sgd { lr = 0.5 }
train { batch = 50, epochs = 20, seed = 1 }
