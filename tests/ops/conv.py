"""Convolution (im2col, conv2d, conv2d_direct) and pooling (max, average,
global average): rows of tests/test_ops.py (see rows.py). Images
[B x C x H x W] come from h(C * H * W):reshape { C, H, W }, so the gradient
reaching the input is checked too; img, C (conv2d named for the case), X
(x itself as images) and DC (conv2d_direct forced) are the runner's."""
from rows import case, refused, shape

GRADCHECK = [
    case("conv2d 3x3, 2 -> 3 channels, 5x7 images", "obj(C(img(2, 5, 7), 3, { kernel = 3 }))"),
    case("conv2d kernel {3, 2}, stride 2, padding 1",
         "obj(C(img(2, 6, 5), 3, { kernel = { 3, 2 }, stride = 2, padding = 1 }))"),
    case("conv2d 1 channel, stride {2, 1}, padding {0, 2}, dilation 2",
         "obj(C(img(1, 7, 6), 2, { kernel = 2, stride = { 2, 1 }, padding = { 0, 2 }, dilation = 2 }))"),
    case("conv2d dilation {1, 2}, 1 output channel", "obj(C(img(2, 5, 6), 1, { kernel = 3, dilation = { 1, 2 } }))"),
    case("conv2d groups 2, 4 -> 6 channels, padding 1, no bias",
         "obj(C(img(4, 5, 5), 6, { kernel = 3, groups = 2, padding = 1, bias = false }))"),
    case("conv2d depthwise (groups = channels = 3)", "obj(C(img(3, 5, 4), 3, { kernel = 2, groups = 3 }))"),
    case("conv2d 1x1 (no im2col), 1x1 stride 2",
         "obj(C(img(3, 4, 5), 2, { kernel = 1 })); obj(C(img(3, 5, 5), 2, { kernel = 1, stride = 2 }))"),
    case("conv2d by OpenBLAS, groups 2", "obj(C(img(4, 12, 12), 8, { kernel = 3, padding = 1, groups = 2 }))"),
    case("conv2d with init and bias_init",
         "obj(C(img(2, 4, 4), 2, { kernel = 3, init = normal(0, 1), bias_init = normal(0, 1) }))"),
    # x itself (no parameter before it): conv2d_direct, no im2col, when the
    # cost model of conv.c finds it cheaper (tiny: yes) or algo asks for it
    case("conv2d direct from the input: padding 1, dilation {1, 2}",
         "obj(C(x:reshape { 1, 1, $D }, 2, { kernel = 2, padding = 1, dilation = { 1, 2 } }))"),
    case("conv2d direct from the input: stride {1, 2}, padding {0, 1}, no bias (algo)",
         "obj(C(x:reshape { 1, 1, $D }, 3, { kernel = { 1, 2 }, stride = { 1, 2 }, padding = { 0, 1 }, bias = false,"
         " algo = 'direct' }))"),
    case("conv2d from the input with 33 taps (algo = im2col)",
         "obj(C(x:reshape { 1, 1, $D }, 2, { kernel = { 3, 11 }, padding = { 1, 5 }, algo = 'im2col' }))"),
    case("conv of relu of conv", "obj(C(relu(C(img(2, 6, 6), 3, { kernel = 3 })), 2, { kernel = 2, stride = 2 }))"),
    case("max_pool2d 2 on 6x7", "obj(max_pool2d(img(2, 6, 7), 2))"),
    case("max_pool2d {2, 3} on 4x6 (the windows cover the image)", "obj(max_pool2d(img(2, 4, 6), { kernel = { 2, 3 } }))"),
    case("max_pool2d kernel 3, stride 2, padding 1 (overlapping)",
         "obj(max_pool2d(img(2, 7, 6), { kernel = 3, stride = 2, padding = 1 }))"),
    case("max_pool2d kernel {2, 3}, stride {1, 2}, 1 channel",
         "obj(max_pool2d(img(1, 5, 7), { kernel = { 2, 3 }, stride = { 1, 2 } }))"),
    case("avg_pool2d 2 on 6x7", "obj(avg_pool2d(img(2, 6, 7), 2))"),
    case("avg_pool2d kernel 3, stride 2, padding 1", "obj(avg_pool2d(img(2, 7, 6), { kernel = 3, stride = 2, padding = 1 }))"),
    case("avg_pool2d kernel {3, 2}, stride 1, padding {1, 0}",
         "obj(avg_pool2d(img(1, 4, 5), { kernel = { 3, 2 }, stride = 1, padding = { 1, 0 } }))"),
    case("global_avg_pool", "obj(global_avg_pool(img(3, 4, 5)))"),
    case("flatten of images then linear", "obj(L(flatten(img(2, 3, 4)), 3))"),
    case("sequential { Conv2d, ReLU, MaxPool2d, AvgPool2d, GlobalAvgPool }",
         "obj(sequential { Conv2d(3, { kernel = 3, padding = 1, name = pname() }), ReLU(), MaxPool2d(2),\n"
         "                 AvgPool2d { kernel = 2, stride = 1 }, GlobalAvgPool() }(img(2, 6, 6)))"),
    # conv2d_direct of the input itself (x reshaped: D = 84 = 2·7·6 =
    # 1·12·7), forced by algo: each output-channel block (4, 2, 1), row and
    # column padding (the copied rows), stride, dilation, non-square kernels
    case("direct 2 -> 4 channels (block 4), 3x3, padding 1", "obj(DC(X(2, 7, 6), 4, { kernel = 3, padding = 1 }))",
         at="wide wide_one"),
    case("direct 2 -> 6 (block 2), kernel {2, 3}, stride 2, padding {1, 0}, no bias",
         "obj(DC(X(2, 7, 6), 6, { kernel = { 2, 3 }, stride = 2, padding = { 1, 0 }, bias = false }))",
         at="wide wide_one"),
    case("direct 1 channel -> 3 (block 1), stride {1, 2}, padding 2, dilation {2, 1}",
         "obj(DC(X(1, 12, 7), 3, { kernel = 3, stride = { 1, 2 }, padding = 2, dilation = { 2, 1 } }))",
         at="wide wide_one"),
    case("direct 1 -> 8, kernel 5, padding {0, 2}, then relu, pool",
         "obj(max_pool2d(relu(DC(X(1, 12, 7), 8, { kernel = 5, padding = { 0, 2 } })), 2))", at="wide wide_one"),
    case("im2col of the input (algo), stride 2, padding 1",
         "obj(conv2d(X(2, 7, 6), 3, { kernel = 3, stride = 2, padding = 1, algo = 'im2col', name = pname() }))",
         at="wide wide_one"),
]

# torch's output size: floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1
SHAPES = [
    shape("conv2d(img(2, 5, 7), 3, { kernel = 3 })", "B x 3 x 3 x 5"),
    shape("conv2d(img(2, 6, 5), 3, { kernel = { 3, 2 }, stride = 2, padding = 1 })", "B x 3 x 3 x 3"),
    shape("conv2d(img(1, 7, 6), 2, { kernel = 2, stride = { 2, 1 }, padding = { 0, 2 }, dilation = 2 })",
          "B x 2 x 3 x 8"),
    shape("conv2d(img(4, 5, 5), 6, { kernel = 3, groups = 2, padding = 1 })", "B x 6 x 5 x 5"),
    shape("max_pool2d(img(2, 6, 7), 2)", "B x 2 x 3 x 3"),
    shape("max_pool2d(img(2, 7, 6), { kernel = 3, stride = 2, padding = 1 })", "B x 2 x 4 x 3"),
    shape("avg_pool2d(img(1, 4, 5), { kernel = { 3, 2 }, stride = 1, padding = { 1, 0 } })", "B x 1 x 4 x 4"),
    shape("global_avg_pool(img(3, 4, 5))", "B x 3"),
    shape("flatten(img(2, 3, 4))", "B x 24"),
]

IMG = "local img = linear(x, 48):reshape { 3, 4, 4 }"  # [B x 3 x 4 x 4]


def conv_refused(name, line, text):
    return refused(name, [IMG, line], text)


REFUSED = [
    conv_refused("conv2d of [B x 4] (not images)", "local c = conv2d(linear(x, 4), 2, { kernel = 1 })",
                 "conv2d: input must be images [B x C x H x W], got [B x 4]"),
    conv_refused("a 5x5 kernel on 4x4 images", "local c = conv2d(img, 2, { kernel = 5 })",
                 "conv2d: kernel 5x5 (dilation 1x1) is larger than the padded input 4x4"),
    conv_refused("a 3x3 kernel at dilation 2 on 4x4 images", "local c = conv2d(img, 2, { kernel = 3, dilation = 2 })",
                 "kernel 3x3 (dilation 2x2) is larger"),
    conv_refused("a 5x5 kernel with padding {1, 0} on 4x4", "local c = conv2d(img, 2, { kernel = 5, padding = { 1, 0 } })",
                 "larger than the padded input 6x4"),
    conv_refused("groups 2 with 3 input channels", "local c = conv2d(img, 4, { kernel = 1, groups = 2 })",
                 "groups = 2 must divide the input channels (3)"),
    conv_refused("groups 3 with 4 output channels", "local c = conv2d(img, 4, { kernel = 1, groups = 3 })",
                 "output channels (4)"),
    conv_refused("groups 1.5", "local c = conv2d(img, 3, { kernel = 1, groups = 1.5 })",
                 "groups = 1.5; it must be a whole number from 1 to 65535"),
    conv_refused("no kernel", "local c = conv2d(img, 2, { stride = 1 })", "conv2d: give the kernel size"),
    conv_refused("kernel 0", "local c = conv2d(img, 2, { kernel = 0 })", "conv2d: kernel 0 must be between 1 and 65535"),
    conv_refused("stride {1, 0}", "local c = conv2d(img, 2, { kernel = 1, stride = { 1, 0 } })",
                 "conv2d: stride 0 must be between 1"),
    conv_refused("padding -1", "local c = conv2d(img, 2, { kernel = 1, padding = -1 })",
                 "conv2d: padding -1 must be between 0"),
    conv_refused("kernel { 1, 2, 3 }", "local c = conv2d(img, 2, { kernel = { 1, 2, 3 } })",
                 "kernel must be a number or a pair { h, w }, got 3 values"),
    conv_refused("kernel 2.5", "local c = conv2d(img, 2, { kernel = 2.5 })", "kernel must be an integer"),
    conv_refused("0 output channels", "local c = conv2d(img, 0, { kernel = 1 })", "conv2d: 0 output channels"),
    conv_refused("an unknown conv2d option suggests the right one", "local c = conv2d(img, 2, { kernal = 3 })",
                 "unknown option 'kernal'|did you mean 'kernel'?"),
    conv_refused("an unknown algo", 'local c = conv2d(img, 2, { kernel = 3, algo = "fft" })',
                 'conv2d: algo = "fft"; it must be "auto", "direct" or "im2col"'),
    conv_refused("algo direct on an input that needs a gradient",
                 'local c = conv2d(img, 2, { kernel = 3, algo = "direct" })',
                 'conv2d: algo = "direct" needs groups = 1, an input that depends on no parameter'),
    conv_refused("algo direct with groups 2 on the input",
                 'local c = conv2d(x:reshape { 2, 1, 1 }, 2, { kernel = 1, groups = 2, algo = "direct" })',
                 'conv2d: algo = "direct" needs groups = 1'),
    conv_refused("max_pool2d 5 on 4x4 images", "local p = max_pool2d(img, 5)",
                 "max_pool2d: kernel 5x5 is larger than the padded input 4x4"),
    conv_refused("max_pool2d padding more than half the kernel", "local p = max_pool2d(img, { kernel = 2, padding = 2 })",
                 "max_pool2d: padding 2x2 must be at most half the kernel 2x2"),
    conv_refused("avg_pool2d of [B x 2]", "local p = avg_pool2d(x, 2)",
                 "avg_pool2d: input must be images [B x C x H x W], got [B x 2]"),
    conv_refused("max_pool2d without a kernel", "local p = max_pool2d(img)", "max_pool2d: give the kernel size"),
    conv_refused("avg_pool2d with an unknown option", "local p = avg_pool2d(img, { kernel = 2, strid = 1 })",
                 "unknown option 'strid'|did you mean 'stride'?"),
    conv_refused("global_avg_pool of [B x 2]", "local p = global_avg_pool(x)", "global_avg_pool: input must be images"),
]
