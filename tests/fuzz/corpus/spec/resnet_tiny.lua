-- Fashion-MNIST with a tiny residual network: a stem convolution, two
-- residual blocks x + f(x) (f = conv-bn-relu-conv-bn, the identity as the
-- skip connection), a strided stage, global average pooling and a linear
-- classifier. Shows skip connections: the gradient reaches the stem through
-- the additions undiminished.
model "resnet_tiny"

local dir = "/usr/share/datasets/fashion-mnist/"
data = idx {
  train = { images = dir .. "train-images-idx3-ubyte.gz", labels = dir .. "train-labels-idx1-ubyte.gz" },
  test  = { images = dir .. "t10k-images-idx3-ubyte.gz",  labels = dir .. "t10k-labels-idx1-ubyte.gz" },
  scale = 1 / 255,
}

local x = input { 1, 28, 28 }
local y = labels { classes = 10 }

local function conv_bn(h, channels, stride, name)
  h = conv2d(h, channels, { kernel = 3, stride = stride, padding = 1, bias = false, name = name })
  return batch_norm(h, { name = name .. "_bn" })
end

-- relu(x + f(x)): the block keeps the shape, so the skip is the identity
local function residual(h, channels, name)
  local f = relu(conv_bn(h, channels, 1, name .. "a"))
  f = conv_bn(f, channels, 1, name .. "b")
  return relu(h + f)
end

local h = max_pool2d(relu(conv_bn(x, 16, 1, "stem")), 2)   -- [B x 16 x 14 x 14]
h = residual(h, 16, "res1")
h = relu(conv_bn(h, 32, 2, "down"))                         -- [B x 32 x 7 x 7]
h = residual(h, 32, "res2")
local logits = linear(global_avg_pool(h), 10, { name = "fc" })
minimize(cross_entropy(logits, y))

optimizer = adam { lr = 2e-3 }
schedule = cosine {}
train { batch = 64, epochs = args.epochs or 5, seed = 1 }
