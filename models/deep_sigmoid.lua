-- Vanishing gradients, as the course notes show them: an 8-layer sigmoid
-- network  l(y, σ(W8 σ(W7 ... σ(W1 x))))  on Fashion-MNIST with PyTorch's
-- default init and plain SGD. "Derivatives for early layers tend to be
-- orders of magnitude smaller than those for late layers": each sigmoid
-- multiplies the gradient by σ' ≤ 1/4 on its way back, so
--   trainc run models/deep_sigmoid.lua -- --layer-metrics layers.csv
--   trainc plot layers.csv
-- draws the gradient norm falling by orders of magnitude from fc8 to fc1.
-- (trainc warns of the deep sigmoid stack with a default init.)
model "deep_sigmoid"

local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}

local x = input { 784 }
local y = labels { classes = 10 }

local h = x
for i = 1, 7 do
  h = sigmoid(linear(h, 64, { name = "fc" .. i }))
end
local logits = linear(h, 10, { name = "fc8" })
minimize(cross_entropy(logits, y))

optimizer = sgd { lr = 0.1 }
train { batch = 64, epochs = 3, seed = 1 }
