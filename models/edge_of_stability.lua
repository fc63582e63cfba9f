-- The edge of stability (Cohen et al. 2021): full-batch gradient descent on
-- a small tanh network with a squared-error loss. Gradient descent with
-- step lr is stable on a quadratic only while the curvature λmax of the
-- top direction is below 2/lr; on a neural network the sharpness λmax
-- (the Hessian's largest eigenvalue) first rises during training
-- ("progressive sharpening") until it reaches 2/lr, then hovers there:
-- each time it overshoots, the loss spikes along the top direction and the
-- sharpness falls back below 2/lr, and the loss still goes down over the
-- long run, not monotonically.
--
-- train { track_sharpness = 2 } computes λmax by power iteration on the
-- exact Hessian-vector product every 2 epochs (here an epoch is one step)
-- into the metrics' sharpness column; the picture draws it with 2/lr:
--   trainc build models/edge_of_stability.lua -o out/eos
--   out/eos/edge_of_stability train --metrics eos.csv   (eos.svg beside it)
-- With lr 0.15 (2/lr = 13.3) the sharpness rises from about 6 to 13.3 in
-- the first ~100 steps, then saw-tooths between about 10 and 17 around it,
-- the loss spiking at each fall. With a smaller lr (--set lr=0.05: 2/lr =
-- 40) it keeps rising slowly and never gets there in 1000 steps, and the
-- loss falls smoothly.
model "edge_of_stability"
local lr = tonumber(args.lr or "0.15")

-- y = X w* + 0.5 e over 8 features: 256 training rows, 64 held out
data = linreg { n = 256, d = 8, noise = 0.5, test = 64 }

local x = input { 8 }
local y = labels { 1 }
local h = tanh(linear(x, 32, { name = "fc1" }))
local h2 = tanh(linear(h, 32, { name = "fc2" }))
minimize(mse(linear(h2, 1, { name = "fc3" }), y))

optimizer = sgd { lr = lr }
train { batch = "full", epochs = 1000, seed = 1, track_sharpness = 2 }
