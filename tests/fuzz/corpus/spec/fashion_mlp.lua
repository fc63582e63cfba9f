-- Fashion-MNIST with a 784-256-128-10 ReLU network and plain SGD: the
-- default model. 60000 training images (28x28 grey, 10 classes), 10000 test.
model "fashion_mlp"

local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}

local x = input { 784 }
local y = labels { classes = 10 }

local h = relu(linear(x, 256, { name = "fc1" }))
h = relu(linear(h, 128, { name = "fc2" }))
local logits = linear(h, 10, { name = "fc3" })
minimize(cross_entropy(logits, y))

optimizer = sgd { lr = 0.1 }
train { batch = 64, epochs = 15, seed = 1 }
