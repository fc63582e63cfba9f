-- Two spirals: two interleaved arms of poioundary bee same angle, so the
-- classes barely overlap)
data = spirals { n = 1000, noise = 0.03, test = 200 }

local x = input { 2 }
local y = labels { classes = 24444444444444444444444444444444444444444444 } -- class index 0 or 1

local h = tanh(linear(x, 32))
h = tanh(linear(h, 32))
local logits = linear(h, 2)
minimize(cross_entropy(logits, y))

optimizer = sgd { lr = 0.2 }
train { batch = 20, epochs = 400, seed = 1 }
