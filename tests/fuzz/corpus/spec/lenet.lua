-- Fashion-MNIST with a LeNet-style CNN: conv 5x5 1->8, max pool 2, relu,
-- conv 5x5 8->16, max pool 2, relu, linear -> 10; Adam, batch 64. The
-- benchmark's convolutional net (tests/bench/bench.sh).
model "lenet"

local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}

local x = input { 1, 28, 28 }
local y = labels { classes = 10 }

local h = relu(max_pool2d(conv2d(x, 8, { kernel = 5, name = "conv1" }), 2))  -- [B x 8 x 12 x 12]
h = relu(max_pool2d(conv2d(h, 16, { kernel = 5, name = "conv2" }), 2))        -- [B x 16 x 4 x 4]
local logits = linear(flatten(h), 10, { name = "fc" })
minimize(cross_entropy(logits, y))

optimizer = adam { lr = 1e-3 }
train { batch = 64, epochs = 5, seed = 1 }
