-- XOR: the smallest problem a linear model cannot solve. A 2-8-1 network
-- with a tanh hidden layer learns it from the four points.
model "xor"

data = xor { n = 4 }

local x = input { 2 }
local y = labels { 1 }
local h = tanh(linear(x, 8))
local p = sigmoid(linear(h, 1))
minimize(bce(p, y))

optimizer = sgd { lr = 0.5 }
train { batch = 4, epochs = 2000, seed = 1, shuffle = false }
