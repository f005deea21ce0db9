"""Every operator against PyTorch/numpy on random shapes with edge sizes (1, odd, not a multiple of the
tile, many channels), on the SIMD path and on the reference path: max abs error <= 1e-4 x output scale."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from graphs import assert_close, check_both_paths, run_graph

torch.set_num_threads(1)
R = np.random.default_rng(0)


def rnd(*shape, scale=1.0):
    return (R.standard_normal(shape) * scale).astype(np.float32)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


UNARY = {
    "Relu": (lambda x: F.relu(x), {}), "Sigmoid": (torch.sigmoid, {}), "Tanh": (torch.tanh, {}),
    "Silu": (F.silu, {}), "HardSwish": (F.hardswish, {}), "Exp": (torch.exp, {}), "Neg": (torch.neg, {}),
    "Abs": (torch.abs, {}), "Gelu": (F.gelu, {}), "Identity": (lambda x: x, {}),
    "LeakyRelu": (lambda x: F.leaky_relu(x, 0.1), {"alpha": 0.1}),
    "HardSigmoid": (lambda x: torch.clamp(x / 6 + 0.5, 0, 1), {"alpha": 1 / 6, "beta": 0.5}),
    "Clip": (lambda x: torch.clamp(x, -0.5, 2.0), {"min": -0.5, "max": 2.0}),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("n", [1, 7, 8, 1000, 4097])
def test_unary(op, n):
    fn, attrs = UNARY[op]
    x = rnd(2, n, scale=4)
    check_both_paths(lambda g, v: g.op(op, v["x"], **attrs), {"x": x}, fn(t(x)).numpy())


def test_sqrt_and_gelu_tanh():
    x = np.abs(rnd(3, 33)) + 0.01
    check_both_paths(lambda g, v: g.op("Sqrt", v["x"]), {"x": x}, np.sqrt(x))
    check_both_paths(lambda g, v: g.op("Gelu", v["x"], approximate="tanh"), {"x": x},
                     F.gelu(t(x), approximate="tanh").numpy())


BCAST = [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (1, 3, 1, 1)), ((2, 3, 4, 5), (5,)), ((2, 1, 4, 1), (1, 3, 1, 6)),
         ((1, 7), (1, 1)), ((3, 1), (1, 17)), ((2, 16, 9, 9), (1, 16, 1, 1))]
BINOPS = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Max": np.maximum, "Min": np.minimum}


@pytest.mark.parametrize("op", sorted(BINOPS))
@pytest.mark.parametrize("sa,sb", BCAST)
def test_binary_broadcast(op, sa, sb):
    a, b = rnd(*sa), rnd(*sb)
    if op == "Div":
        b = np.sign(b) * (np.abs(b) + 0.5)
    bc = b[None] if len(sb) < len(sa) and False else b
    check_both_paths(lambda g, v: g.op(op, v["a"], g.const(bc)), {"a": a}, BINOPS[op](a, b))


def test_binary_two_runtime_inputs_and_fused_relu():
    a, b = rnd(2, 8, 5, 5), rnd(2, 8, 5, 5)
    check_both_paths(lambda g, v: g.op("Add", v["a"], v["b"], activation="relu"), {"a": a, "b": b},
                     np.maximum(a + b, 0))
    x = np.abs(rnd(2, 9)) + 0.1
    check_both_paths(lambda g, v: g.op("Pow", v["x"], g.const(np.float32(2.5))), {"x": x}, x ** 2.5)


CONV = [  # cin, cout, k, stride, pads (t, l, b, r), dilation, groups, hw
    (3, 8, 3, 1, (1, 1, 1, 1), 1, 1, (9, 9)),
    (4, 6, 1, 1, (0, 0, 0, 0), 1, 1, (7, 5)),          # 1x1 direct
    (5, 7, 3, 2, (0, 1, 1, 0), 1, 1, (11, 8)),        # asymmetric pads, stride 2
    (6, 6, 3, 1, (1, 1, 1, 1), 1, 6, (10, 10)),       # depthwise
    (8, 8, 5, 2, (2, 2, 2, 2), 1, 8, (13, 13)),       # depthwise 5x5 stride 2
    (8, 12, 3, 1, (2, 2, 2, 2), 2, 4, (9, 9)),        # grouped + dilation
    (16, 24, 1, 2, (0, 0, 0, 0), 1, 1, (8, 8)),       # 1x1 stride 2 (im2col path)
    (64, 96, 3, 1, (1, 1, 1, 1), 1, 1, (14, 14)),     # many channels
    (1, 1, 1, 1, (0, 0, 0, 0), 1, 1, (1, 1)),         # all ones
    (3, 17, 7, 2, (3, 3, 3, 3), 1, 1, (23, 19)),      # stem-like, odd sizes
]


@pytest.mark.parametrize("cfg", CONV)
@pytest.mark.parametrize("act", ["", "relu", "relu6", "hardswish"])
def test_conv(cfg, act):
    cin, cout, k, s, p, d, gr, (h, w) = cfg
    x, wt, b = rnd(2, cin, h, w), rnd(cout, cin // gr, k, k, scale=0.3), rnd(cout)
    ref = F.conv2d(F.pad(t(x), (p[1], p[3], p[0], p[2])), t(wt), t(b), stride=s, dilation=d, groups=gr)
    ref = {"": lambda y: y, "relu": F.relu, "relu6": F.relu6, "hardswish": F.hardswish}[act](ref).numpy()
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(wt), g.const(b), strides=[s, s], pads=list(p),
                                       dilations=[d, d], group=gr, activation=act or None), {"x": x}, ref)


NHWC_CONV = [c for c in CONV if c[6] == 1 or c[6] == c[0] == c[1]] + [
    (40, 40, 3, 1, (1, 1, 1, 1), 1, 40, (7, 7)),      # depthwise: channels past a 16-lane block, 7x7 plane
    (37, 37, 5, 1, (2, 2, 2, 2), 1, 37, (14, 14)),    # 5x5, channel tail of every ISA, whole 4-pixel groups
    (9, 9, 3, 2, (0, 1, 1, 0), 2, 9, (12, 15)),       # stride 2, dilation 2, asymmetric pads
    (3, 32, 3, 2, (0, 0, 1, 1), 1, 1, (17, 16)),      # stem-like im2col with Cin = 3
]


@pytest.mark.parametrize("cfg", NHWC_CONV)
@pytest.mark.parametrize("act", ["", "relu6", "hardswish"])
def test_conv_nhwc(cfg, act):
    """layout=NHWC (what the exporter's channels-last pass emits) against torch on the transposed tensors."""
    cin, cout, k, s, p, d, gr, (h, w) = cfg
    x, wt, b = rnd(2, cin, h, w), rnd(cout, cin // gr, k, k, scale=0.3), rnd(cout)
    ref = F.conv2d(F.pad(t(x), (p[1], p[3], p[0], p[2])), t(wt), t(b), stride=s, dilation=d, groups=gr)
    ref = {"": lambda y: y, "relu6": F.relu6, "hardswish": F.hardswish}[act](ref).numpy()
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(wt), g.const(b), strides=[s, s], pads=list(p),
                                       dilations=[d, d], group=gr, activation=act or None, layout="NHWC"),
                     {"x": np.ascontiguousarray(x.transpose(0, 2, 3, 1))}, ref.transpose(0, 2, 3, 1))


def test_conv_nhwc_depthwise_bit_exact_across_paths():
    """The channels-last depthwise kernels skip the same border taps as the reference, in the same order."""
    x, wt, b = rnd(3, 13, 11, 37), rnd(37, 1, 5, 5), rnd(37)
    build = lambda g, v: g.op("Conv", v["x"], g.const(wt), g.const(b), pads=[2, 1, 2, 1], group=37, layout="NHWC",
                              activation="relu")
    simd, _ = run_graph(build, {"x": x})
    ref, _ = run_graph(build, {"x": x}, force_reference=True)
    np.testing.assert_array_equal(simd[0], ref[0])


def test_conv_nhwc_errors():
    x = rnd(1, 5, 5, 8)
    with pytest.raises(ValueError, match="layout NHWC supports group 1 and depthwise"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(8, 4, 3, 3)), group=2, layout="NHWC"), {"x": x})
    with pytest.raises(ValueError, match="layout must be NCHW or NHWC"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(8, 8, 1, 1)), layout="NCWH"), {"x": x})
    with pytest.raises(ValueError, match="input has 5 channels"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(8, 8, 1, 1)), layout="NHWC"), {"x": rnd(1, 8, 8, 5)})


def test_conv_same_padding_and_no_bias():
    x, wt = rnd(1, 3, 10, 7), rnd(4, 3, 3, 3)
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(wt), auto_pad="SAME_UPPER", strides=[2, 2]), {"x": x},
                     F.conv2d(F.pad(t(x), (1, 1, 0, 1)), t(wt), stride=2).numpy())


DECONV = [(4, 3, 4, 2, 1, 0, 1, 1), (8, 4, 3, 2, 1, 1, 1, 1), (6, 6, 3, 1, 1, 0, 1, 3), (3, 5, 5, 3, 2, 2, 2, 1),
          (16, 8, 4, 2, 1, 0, 1, 1)]


@pytest.mark.parametrize("cin,cout,k,s,p,op,d,gr", DECONV)
def test_conv_transpose(cin, cout, k, s, p, op, d, gr):
    x, wt, b = rnd(2, cin, 5, 6), rnd(cin, cout // gr, k, k, scale=0.3), rnd(cout)
    ref = F.conv_transpose2d(t(x), t(wt), t(b), stride=s, padding=p, output_padding=op, groups=gr, dilation=d)
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], g.const(wt), g.const(b), strides=[s, s],
                                       pads=[p] * 4, output_padding=[op, op], group=gr, dilations=[d, d]),
                     {"x": x}, ref.numpy())


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 64, 10), (5, 33, 17), (7, 100, 65), (64, 256, 96)])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_linear(m, k, n, trans_b):
    x, wt, b = rnd(m, k), rnd(n, k) if trans_b else rnd(k, n), rnd(n)
    want = x @ (wt.T if trans_b else wt) + b
    check_both_paths(lambda g, v: g.op("Gemm", v["x"], g.const(wt), g.const(b), transB=trans_b), {"x": x}, want)
    check_both_paths(lambda g, v: g.op("Gemm", v["x"], g.const(wt), g.const(b), transB=trans_b, alpha=0.5, beta=2.0,
                                       activation="relu"), {"x": x}, np.maximum(0.5 * (want - b) + 2 * b, 0))


def test_gemm_general_cases():
    a, bm, c = rnd(6, 5), rnd(4, 6), rnd(5, 4)
    check_both_paths(lambda g, v: g.op("Gemm", v["a"], v["b"], g.const(c), transA=1, transB=1, alpha=1.5),
                     {"a": a, "b": bm}, 1.5 * a.T @ bm.T + c)
    check_both_paths(lambda g, v: g.op("Gemm", v["a"], g.const(bm.T.copy()), g.const(np.float32(3.0))), {"a": a.T.copy()},
                     a.T @ bm.T + 3)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
                                   ((4,), (4, 3)), ((2, 3, 4), (4,)), ((1, 7, 33), (33, 65))])
def test_matmul(sa, sb):
    a, b = rnd(*sa), rnd(*sb)
    want = np.matmul(a, b)
    if len(sa) >= 2:
        check_both_paths(lambda g, v: g.op("MatMul", v["a"], g.const(b)), {"a": a}, want)
    check_both_paths(lambda g, v: g.op("MatMul", g.const(a), v["b"]), {"b": b}, want) if len(sb) >= 2 else None


POOLS = [(2, 2, (0, 0, 0, 0), 0, 0), (3, 2, (1, 1, 1, 1), 0, 1), (3, 2, (1, 1, 1, 1), 1, 0), (3, 1, (1, 1, 1, 1), 0, 1),
         (2, 2, (0, 0, 0, 0), 1, 0), (5, 3, (2, 2, 2, 2), 1, 1)]


@pytest.mark.parametrize("k,s,p,ceil,incl", POOLS)
def test_pools(k, s, p, ceil, incl):
    x = rnd(2, 3, 11, 10)
    tp = (p[0], p[1])
    mx = F.max_pool2d(t(x), k, s, tp, ceil_mode=bool(ceil)).numpy()
    av = F.avg_pool2d(t(x), k, s, tp, ceil_mode=bool(ceil), count_include_pad=bool(incl)).numpy()
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=list(p), ceil_mode=ceil)
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], **attrs), {"x": x}, mx)
    check_both_paths(lambda g, v: g.op("AveragePool", v["x"], count_include_pad=incl, **attrs), {"x": x}, av)


@pytest.mark.parametrize("k,s,p,ceil,incl", POOLS)
def test_pools_nhwc(k, s, p, ceil, incl):
    x = rnd(2, 19, 11, 10)
    tp, nhwc = (p[0], p[1]), (0, 2, 3, 1)
    mx = F.max_pool2d(t(x), k, s, tp, ceil_mode=bool(ceil)).numpy().transpose(nhwc)
    av = F.avg_pool2d(t(x), k, s, tp, ceil_mode=bool(ceil), count_include_pad=bool(incl)).numpy().transpose(nhwc)
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=list(p), ceil_mode=ceil, layout="NHWC")
    xt = {"x": np.ascontiguousarray(x.transpose(nhwc))}
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], **attrs), xt, mx)
    check_both_paths(lambda g, v: g.op("AveragePool", v["x"], count_include_pad=incl, **attrs), xt, av)
    check_both_paths(lambda g, v: g.op("GlobalAveragePool", v["x"], layout="NHWC"), xt,
                     x.mean(axis=(2, 3), keepdims=True).transpose(nhwc))
    check_both_paths(lambda g, v: g.op("GlobalMaxPool", v["x"], layout="NHWC"), xt,
                     x.max(axis=(2, 3), keepdims=True).transpose(nhwc))


def test_maxpool_dilation_and_global_pools():
    x = rnd(2, 5, 9, 9)
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], kernel_shape=[3, 3], dilations=[2, 2]), {"x": x},
                     F.max_pool2d(t(x), 3, 1, 0, dilation=2).numpy())
    check_both_paths(lambda g, v: g.op("GlobalAveragePool", v["x"]), {"x": x}, x.mean(axis=(2, 3), keepdims=True))
    check_both_paths(lambda g, v: g.op("GlobalMaxPool", v["x"]), {"x": x}, x.max(axis=(2, 3), keepdims=True))


def _pool_ref(x, k, s, p, d, mode, incl=0):
    """NCHW pooling by windows, for shapes torch does not take (rectangular, asymmetric pads, pads past half the
    kernel); floor mode."""
    n, c, h, w = x.shape
    oh = (h + p[0] + p[2] - ((k[0] - 1) * d[0] + 1)) // s[0] + 1
    ow = (w + p[1] + p[3] - ((k[1] - 1) * d[1] + 1)) // s[1] + 1
    y = np.zeros((n, c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            hs = [i * s[0] - p[0] + a * d[0] for a in range(k[0])]
            ws = [j * s[1] - p[1] + b * d[1] for b in range(k[1])]
            hs_in, ws_in = [v for v in hs if 0 <= v < h], [v for v in ws if 0 <= v < w]
            win = x[:, :, hs_in][:, :, :, ws_in].reshape(n, c, -1)
            if mode == "max":
                y[:, :, i, j] = win.max(-1) if win.shape[-1] else -np.finfo(np.float32).max
            else:
                cnt = k[0] * k[1] if incl else win.shape[-1]
                y[:, :, i, j] = win.sum(-1) / cnt if win.shape[-1] else 0
    return y


@pytest.mark.parametrize("k,s,p,d", [((2, 3), (1, 2), (0, 1, 1, 2), (1, 1)), ((3, 2), (2, 3), (2, 0, 1, 1), (1, 1)),
                                     ((3, 3), (2, 2), (1, 1, 1, 1), (2, 2)), ((1, 4), (1, 1), (0, 3, 0, 3), (1, 1)),
                                     ((2, 2), (2, 2), (0, 0, 0, 0), (1, 1))])
def test_pools_rectangular_and_asymmetric(k, s, p, d):
    """The NCHW pooling loops (row pass, then interior / edge columns) and the NHWC ones on rectangular kernels,
    strides, asymmetric pads and dilation; MaxPool on u8 too (17 wide: odd tails)."""
    x = rnd(2, 3, 9, 17)
    nhwc = (0, 2, 3, 1)
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=list(p))
    want = _pool_ref(x, k, s, p, d, "max")
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], dilations=list(d), **attrs), {"x": x}, want)
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], dilations=list(d), layout="NHWC", **attrs),
                     {"x": np.ascontiguousarray(x.transpose(nhwc))}, want.transpose(nhwc))
    xu = np.random.default_rng(3).integers(0, 256, x.shape).astype(np.uint8)
    got = run_graph(lambda g, v: g.op("MaxPool", v["x"], dilations=list(d), **attrs), {"x": xu})[0][0]
    np.testing.assert_array_equal(got, np.maximum(_pool_ref(xu.astype(np.float32), k, s, p, d, "max"), 0).astype(np.uint8))
    if d == (1, 1):
        for incl in (0, 1):
            want = _pool_ref(x, k, s, p, d, "avg", incl)
            check_both_paths(lambda g, v: g.op("AveragePool", v["x"], count_include_pad=incl, **attrs), {"x": x}, want)


def test_shape_ops():
    x = rnd(2, 3, 4, 5)
    check_both_paths(lambda g, v: g.op("Reshape", v["x"], g.const(np.array([0, -1, 5], np.int64))), {"x": x},
                     x.reshape(2, 12, 5))
    check_both_paths(lambda g, v: g.op("Flatten", v["x"], axis=2), {"x": x}, x.reshape(6, 20))
    check_both_paths(lambda g, v: g.op("Unsqueeze", v["x"], g.const(np.array([1, -1], np.int64))), {"x": x},
                     x[:, None, :, :, :, None])
    x1 = rnd(2, 1, 4, 1)
    check_both_paths(lambda g, v: g.op("Squeeze", v["x"], axes=[1, 3]), {"x": x1}, x1.reshape(2, 4))
    check_both_paths(lambda g, v: g.op("Transpose", v["x"], perm=[0, 2, 3, 1]), {"x": x}, x.transpose(0, 2, 3, 1))
    check_both_paths(lambda g, v: g.op("Transpose", v["x"], perm=[3, 1, 0, 2]), {"x": x}, x.transpose(3, 1, 0, 2))


@pytest.mark.parametrize("shape,perm", [((2, 3, 40, 37), (0, 2, 3, 1)), ((2, 40, 37, 3), (0, 3, 1, 2)),
                                        ((1, 1, 1, 1280), (0, 3, 1, 2)), ((33, 65), (1, 0)), ((2, 1, 5, 70), (2, 1, 0, 3)),
                                        ((3, 4, 5, 6), (0, 3, 1, 2)), ((3, 4, 5, 6), (2, 3, 0, 1))])
def test_transpose_2d_blocked_path(shape, perm):
    """Permutations that reduce to batched 2-D transposes (tiles and their edges) and ones that do not."""
    x = rnd(*shape)
    outs, s = run_graph(lambda g, v: g.op("Transpose", v["x"], perm=list(perm)), {"x": x})
    np.testing.assert_array_equal(outs[0], x.transpose(perm))
    i64 = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)   # 8-byte elements take the general loop
    outs, _ = run_graph(lambda g, v: g.op("Transpose", v["x"], perm=list(perm)), {"x": i64})
    np.testing.assert_array_equal(outs[0], i64.transpose(perm))


def test_concat_split_slice():
    a, b = rnd(2, 3, 4), rnd(2, 5, 4)
    check_both_paths(lambda g, v: g.op("Concat", v["a"], v["b"], v["a"], axis=1), {"a": a, "b": b},
                     np.concatenate([a, b, a], 1))
    x = rnd(2, 10, 3)
    check_both_paths(lambda g, v: g.op("Split", v["x"], g.const(np.array([3, 7], np.int64)), axis=1, outputs=2),
                     {"x": x}, [x[:, :3], x[:, 3:]])
    check_both_paths(lambda g, v: g.op("Split", v["x"], axis=-1, outputs=3), {"x": x}, [x[..., i:i + 1] for i in range(3)])
    ints = lambda *v: np.array(v, np.int64)  # noqa: E731
    check_both_paths(lambda g, v: g.op("Slice", v["x"], g.const(ints(1, 0)), g.const(ints(9, 100)), g.const(ints(1, 2)),
                                       g.const(ints(2, 2))), {"x": x}, x[:, 1:9:2, 0::2])
    check_both_paths(lambda g, v: g.op("Slice", v["x"], g.const(ints(-1)), g.const(ints(-100)), g.const(ints(1)),
                                       g.const(ints(-3))), {"x": x}, x[:, ::-3])


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad(mode):
    x = rnd(2, 3, 5, 6)
    pads = [0, 0, 1, 2, 0, 0, 3, 1]
    tm = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[mode]
    want = F.pad(t(x), (2, 1, 1, 3), mode=tm, value=0.5 if mode == "constant" else None) if mode == "constant" \
        else F.pad(t(x), (2, 1, 1, 3), mode=tm)
    check_both_paths(lambda g, v: g.op("Pad", v["x"], g.const(np.array(pads, np.int64)),
                                       g.const(np.float32(0.5)) if mode == "constant" else None, mode=mode),
                     {"x": x}, want.numpy())


_RESIZE_MODES = [("nearest", "asymmetric", "nearest", None), ("linear", "pytorch_half_pixel", "bilinear", False),
                 ("linear", "align_corners", "bilinear", True), ("cubic", "pytorch_half_pixel", "bicubic", False),
                 ("cubic", "align_corners", "bicubic", True)]


# Downscaling with align_corners is left out: ONNX aligns on the unrounded size (in * scale), PyTorch on the
# rounded one, so the two disagree by design there (the ONNX node tests cover ONNX's reading).
@pytest.mark.parametrize("mode,coord,tmode,align,scale", [m + (s,) for m in _RESIZE_MODES for s in (2.0, 3.0, 0.5)
                                                          if not (m[3] and s < 1)])
def test_resize(mode, coord, tmode, align, scale):
    x = rnd(2, 3, 5, 7)
    want = F.interpolate(t(x), scale_factor=scale, mode=tmode, align_corners=align).numpy()
    check_both_paths(lambda g, v: g.op("Resize", v["x"], None, g.const(np.array([1, 1, scale, scale], np.float32)),
                                       mode=mode, coordinate_transformation_mode=coord, nearest_mode="floor",
                                       cubic_coeff_a=-0.75 if mode == "cubic" else None),
                     {"x": x}, want)


def test_norms_softmax_gather_reduce():
    x = rnd(2, 6, 5, 4)
    sc, bi, mu, var = rnd(6), rnd(6), rnd(6), np.abs(rnd(6)) + 0.5
    want = F.batch_norm(t(x), t(mu), t(var), t(sc), t(bi), eps=1e-3).numpy()
    check_both_paths(lambda g, v: g.op("BatchNormalization", v["x"], g.const(sc), g.const(bi), g.const(mu), g.const(var),
                                       epsilon=1e-3), {"x": x}, want)
    y = rnd(3, 7, 16)
    ln_s, ln_b = rnd(16), rnd(16)
    check_both_paths(lambda g, v: g.op("LayerNormalization", v["y"], g.const(ln_s), g.const(ln_b), axis=-1, epsilon=1e-5),
                     {"y": y}, F.layer_norm(t(y), (16,), t(ln_s), t(ln_b)).numpy())
    for ax in (-1, 1):
        check_both_paths(lambda g, v: g.op("Softmax", v["y"], axis=ax), {"y": y}, torch.softmax(t(y), ax).numpy())
        check_both_paths(lambda g, v: g.op("LogSoftmax", v["y"], axis=ax), {"y": y}, torch.log_softmax(t(y), ax).numpy())
    table = rnd(50, 8)
    idx = np.array([[0, 49, 3], [7, -1, 2]], np.int64)
    check_both_paths(lambda g, v: g.op("Gather", g.const(table), v["i"], axis=0), {"i": idx}, table[idx])
    check_both_paths(lambda g, v: g.op("ReduceMean", v["x"], axes=[2, 3], keepdims=1), {"x": x}, x.mean((2, 3), keepdims=True))
    check_both_paths(lambda g, v: g.op("ReduceMean", v["x"], axes=[1], keepdims=0), {"x": x}, x.mean(1))


def _rnn_weights(mod, kind, dirs):
    """PyTorch LSTM/GRU weights in ONNX gate order (LSTM i,o,f,c from torch i,f,g,o; GRU z,r,h from r,z,n)."""
    W, R, B = [], [], []
    for d in range(dirs):
        sfx = "_reverse" if d else ""
        w = getattr(mod, f"weight_ih_l0{sfx}").detach().numpy()
        r = getattr(mod, f"weight_hh_l0{sfx}").detach().numpy()
        bw = getattr(mod, f"bias_ih_l0{sfx}").detach().numpy()
        br = getattr(mod, f"bias_hh_l0{sfx}").detach().numpy()
        H = r.shape[1]
        order = [0, 3, 1, 2] if kind == "LSTM" else [1, 0, 2] if kind == "GRU" else [0]
        re = lambda m: np.concatenate([m[i * H:(i + 1) * H] for i in order])  # noqa: E731
        W.append(re(w)), R.append(re(r)), B.append(np.concatenate([re(bw), re(br)]))
    return np.stack(W), np.stack(R), np.stack(B)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("seq,batch,inp,hid", [(5, 2, 7, 8), (1, 1, 3, 5), (9, 3, 16, 33)])
def test_recurrent(kind, bidir, seq, batch, inp, hid):
    torch.manual_seed(0)
    mod = getattr(torch.nn, kind)(inp, hid, batch_first=True, bidirectional=bidir)
    dirs = 2 if bidir else 1
    W, R, B = _rnn_weights(mod, kind, dirs)
    x = rnd(batch, seq, inp)
    h0 = rnd(dirs, batch, hid)
    c0 = rnd(dirs, batch, hid)
    with torch.no_grad():
        if kind == "LSTM":
            y, (hn, cn) = mod(t(x), (t(h0), t(c0)))
        else:
            y, hn = mod(t(x), t(h0))
    # batch-first layout=1: states are [batch, dirs, hidden]; Y is [batch, seq, dirs, hidden]
    h0b, c0b = h0.transpose(1, 0, 2).copy(), c0.transpose(1, 0, 2).copy()
    want = [y.numpy().reshape(batch, seq, dirs, hid), hn.numpy().transpose(1, 0, 2)]
    if kind == "LSTM":
        want.append(cn.numpy().transpose(1, 0, 2))

    def build(g, v):
        extra = [v["c0"]] if kind == "LSTM" else []
        return g.op(kind, v["x"], g.const(W), g.const(R), g.const(B), None, v["h0"], *extra, hidden_size=hid, layout=1,
                    direction="bidirectional" if bidir else "forward", outputs=len(want),
                    **({"linear_before_reset": 1} if kind == "GRU" else {}))
    inputs = {"x": x, "h0": h0b, **({"c0": c0b} if kind == "LSTM" else {})}
    check_both_paths(build, inputs, want)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("const_weights", [False, True])
def test_recurrent_weights_as_inputs(kind, bidir, const_weights):
    """W, R, B as graph inputs (read and packed when the plan is made), and the plain RNN op."""
    torch.manual_seed(0)
    seq, batch, inp, hid = 4, 3, 6, 5
    mod = getattr(torch.nn, kind)(inp, hid, bidirectional=bidir)
    dirs = 2 if bidir else 1
    W, R, B = _rnn_weights(mod, kind, dirs)
    x, h0 = rnd(seq, batch, inp), rnd(dirs, batch, hid)
    with torch.no_grad():
        y, hn = mod(t(x), t(h0)) if kind != "LSTM" else (lambda o: (o[0], o[1][0]))(mod(t(x), (t(h0), t(h0))))
    want = [np.ascontiguousarray(y.numpy().reshape(seq, batch, dirs, hid).transpose(0, 2, 1, 3)), hn.numpy()]

    def build(g, v):
        w, r, b = (g.const(W), g.const(R), g.const(B)) if const_weights else (v["W"], v["R"], v["B"])
        extra = [v["h0"]] if kind == "LSTM" else []
        return g.op(kind, v["x"], w, r, b, None, v["h0"], *extra, hidden_size=hid, outputs=2,
                    direction="bidirectional" if bidir else "forward",
                    **({"linear_before_reset": 1} if kind == "GRU" else {}))
    inputs = {"x": x, "h0": h0, **({} if const_weights else {"W": W, "R": R, "B": B})}
    check_both_paths(build, inputs, want)


def test_norms_scale_bias_as_inputs():
    """LayerNormalization / RMSNormalization with scale and bias as graph inputs (read at run time), and
    LayerNormalization's Mean and InvStdDev outputs."""
    y, s, b = rnd(3, 4, 6), rnd(4, 6), rnd(4, 6)
    mean = y.mean((1, 2), keepdims=True, dtype=np.float32)
    inv = (1 / np.sqrt(((y - mean) ** 2).mean((1, 2), keepdims=True) + 1e-5)).astype(np.float32)
    check_both_paths(lambda g, v: g.op("LayerNormalization", v["y"], v["s"], v["b"], axis=1, outputs=3),
                     {"y": y, "s": s, "b": b}, [(y - mean) * inv * s + b, mean, inv])
    check_both_paths(lambda g, v: g.op("LayerNormalization", v["y"], g.const(s), v["b"], axis=1),
                     {"y": y, "b": b}, (y - mean) * inv * s + b)
    rms = (y / np.sqrt((y ** 2).mean(-1, keepdims=True) + 1e-5) * s[0]).astype(np.float32)
    check_both_paths(lambda g, v: g.op("RMSNormalization", v["y"], v["s"], axis=-1), {"y": y, "s": s[0].copy()}, rms)
    with pytest.raises(ValueError, match="scale/bias must have 24 values"):
        run_graph(lambda g, v: g.op("LayerNormalization", v["y"], v["s"], axis=1), {"y": y, "s": s[0].copy()})


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("bias", ["input", "const", None])
def test_conv_weights_as_inputs(op, dims, bias):
    """Conv / ConvTranspose with the weight (and bias) as graph inputs: the op is made when the plan is made,
    2-D or 3-D by the weight's rank, and made again when the weight's values change."""
    from pyruntime import Graph, Session
    sp = [5, 6] if dims == 2 else [4, 3, 5]
    x = rnd(2, 4, *sp)
    wshape = [6, 2] if op == "Conv" else [4, 3]
    kern = [3] * dims
    w1, w2, bv = rnd(*wshape, *kern), rnd(*wshape, *kern), rnd(6)
    tf = {("Conv", 2): F.conv2d, ("Conv", 3): F.conv3d, ("ConvTranspose", 2): F.conv_transpose2d,
          ("ConvTranspose", 3): F.conv_transpose3d}[(op, dims)]
    attrs = dict(group=2, strides=[2] * dims, pads=[1] * (2 * dims))

    def want(w):
        return tf(t(x), t(w), t(bv) if bias else None, stride=2, padding=1, groups=2).numpy()

    def build(g, v):
        b = v["b"] if bias == "input" else g.const(bv) if bias == "const" else None
        return g.op(op, v["x"], v["w"], b, **attrs)
    ins = {"x": x, "w": w1, **({"b": bv} if bias == "input" else {})}
    check_both_paths(build, ins, want(w1))
    # one session, the weight changed between runs: planned again on the new values
    g = Graph("t")
    v = {n: g.input(n, list(a.shape), "f32") for n, a in ins.items()}
    g.output(build(g, v), "y", hint=("f32", list(want(w1).shape)))
    s = Session(g.to_bytes())
    for w in (w1, w2, w1):
        assert_close(s.run({**ins, "w": w})[0], want(w))


def test_conv1d_weights_as_inputs():
    """A 1-D Conv / ConvTranspose with the weight as a graph input runs as 2-D over a height of 1."""
    x, w, wt, b = rnd(2, 4, 11), rnd(6, 2, 3), rnd(4, 3, 3), rnd(6)
    check_both_paths(lambda g, v: g.op("Conv", v["x"], v["w"], v["b"], group=2, strides=[2], pads=[1, 2], dilations=[2]),
                     {"x": x, "w": w, "b": b},
                     F.conv1d(t(np.pad(x, ((0, 0), (0, 0), (1, 2)))), t(w), t(b), stride=2, dilation=2, groups=2).numpy())
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], v["w"], strides=[2], pads=[1, 1], output_padding=[1]),
                     {"x": x, "w": wt},
                     F.conv_transpose1d(t(x), t(wt), stride=2, padding=1, output_padding=1).numpy())


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_auto_pad_pool_and_conv_transpose(auto_pad):
    """auto_pad on MaxPool / AveragePool / ConvTranspose: the same as the explicit pads it stands for."""
    x = rnd(1, 3, 7, 6)
    for op, k, st in (("MaxPool", [3, 2], [2, 2]), ("AveragePool", [3, 3], [2, 1]), ("AveragePool", [2, 2], [1, 1])):
        if auto_pad == "VALID":
            pads = [0, 0, 0, 0]
        else:
            tot = [max(0, (-(-n // s) - 1) * s + kk - n) for n, s, kk in zip(x.shape[2:], st, k)]
            beg = [p // 2 if auto_pad == "SAME_UPPER" else p - p // 2 for p in tot]
            pads = beg + [p - b for p, b in zip(tot, beg)]
        want, _ = run_graph(lambda g, v: g.op(op, v["x"], kernel_shape=k, strides=st, pads=pads), {"x": x})
        check_both_paths(lambda g, v: g.op(op, v["x"], kernel_shape=k, strides=st, auto_pad=auto_pad), {"x": x}, want)
    w = rnd(3, 2, 3, 3)
    if auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    else:  # output = input x stride; total padding split as ONNX specifies (SAME_UPPER: the smaller half first)
        tot = [(n - 1) * 2 + 3 - n * 2 for n in x.shape[2:]]
        beg = [p // 2 if auto_pad == "SAME_UPPER" else p - p // 2 for p in tot]
        pads = beg + [p - b for p, b in zip(tot, beg)]
    want, _ = run_graph(lambda g, v: g.op("ConvTranspose", v["x"], g.const(w), strides=[2, 2], pads=pads), {"x": x})
    if auto_pad != "VALID":
        assert want[0].shape[2:] == (14, 12)
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], g.const(w), strides=[2, 2], auto_pad=auto_pad),
                     {"x": x}, want)


def test_cumsum_onehot_quant_params_as_inputs():
    """CumSum's axis, OneHot's depth and values, Quantize/DequantizeLinear's scale and zero point as graph
    inputs, read when the plan is made."""
    x = rnd(3, 4)
    for ax in (0, 1, -1):
        check_both_paths(lambda g, v: g.op("CumSum", v["x"], v["a"]), {"x": x, "a": np.array(ax, np.int64)},
                         np.cumsum(x, axis=ax, dtype=np.float32))
    xd = rnd(5).astype(np.float64)
    check_exact_both_paths(lambda g, v: g.op("CumSum", v["x"], g.const(np.array(0, np.int32))), {"x": xd}, np.cumsum(xd))
    idx = np.array([[0, 3, -1], [2, 7, 1]], np.int64)
    vals = np.array([-1.0, 5.0], np.float32)
    want = np.where(np.arange(4)[None, None, :] == np.where(idx < 0, idx + 4, idx)[..., None], 5.0, -1.0).astype(np.float32)
    check_exact_both_paths(lambda g, v: g.op("OneHot", v["i"], v["d"], v["v"]),
                           {"i": idx, "d": np.array(4, np.int64), "v": vals}, want)
    check_exact_both_paths(lambda g, v: g.op("OneHot", v["i"], v["d"], g.const(vals), axis=0),
                           {"i": idx, "d": np.array([4], np.int32)}, np.moveaxis(want, -1, 0))
    q = (rnd(2, 8) * 4).astype(np.float32)
    sc, zp = np.array(0.05, np.float32), np.array(128, np.uint8)
    qw = np.clip(np.rint(q / sc) + 128, 0, 255).astype(np.uint8)
    check_exact_both_paths(lambda g, v: g.op("QuantizeLinear", v["q"], v["s"], v["z"]), {"q": q, "s": sc, "z": zp}, qw)
    check_exact_both_paths(lambda g, v: g.op("QuantizeLinear", v["q"], v["s"], g.const(zp)), {"q": q, "s": sc}, qw)
    check_both_paths(lambda g, v: g.op("DequantizeLinear", v["u"], v["s"], v["z"]), {"u": qw, "s": sc, "z": zp},
                     ((qw.astype(np.float32) - 128) * sc).astype(np.float32))
    # what the file declares about such an input is checked when the session is made, as for a constant
    with pytest.raises(ValueError, match="y_scale must be one value"):
        run_graph(lambda g, v: g.op("QuantizeLinear", v["q"], v["s"]), {"q": q, "s": np.full(3, 0.1, np.float32)})
    with pytest.raises(ValueError, match="weight must be f32"):
        run_graph(lambda g, v: g.op("Conv", v["x"], v["w"]), {"x": rnd(1, 2, 4, 4), "w": rnd(2, 2, 3, 3).astype(np.float16)})


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_counts_agree(threads):
    x, wt = rnd(2, 16, 12, 12), rnd(32, 16, 3, 3)

    def build(g, v):
        y = g.op("Conv", v["x"], g.const(wt), pads=[1, 1, 1, 1], activation="relu")
        y = g.op("MaxPool", y, kernel_shape=[2, 2], strides=[2, 2])
        return g.op("Softmax", g.op("Flatten", y), axis=-1)
    out1, _ = run_graph(build, {"x": x}, threads=1)
    outn, _ = run_graph(build, {"x": x}, threads=threads)
    np.testing.assert_allclose(outn[0], out1[0], rtol=0, atol=1e-7)


# Unary math and activations computed by the reference (SIMD tables fall back to it), against PyTorch / numpy.
UNARY_MATH = {
    "Reciprocal": (lambda x: 1 / x, {}), "Sin": (np.sin, {}), "Cos": (np.cos, {}),
    "Floor": (np.floor, {}), "Ceil": (np.ceil, {}), "Round": (np.round, {}), "Sign": (np.sign, {}),
    "Softplus": (lambda x: F.softplus(t(x)).numpy(), {}), "Softsign": (lambda x: F.softsign(t(x)).numpy(), {}),
    "Elu": (lambda x: F.elu(t(x), 0.7).numpy(), {"alpha": 0.7}), "Selu": (lambda x: F.selu(t(x)).numpy(), {}),
    "Celu": (lambda x: F.celu(t(x), 1.5).numpy(), {"alpha": 1.5}), "Mish": (lambda x: F.mish(t(x)).numpy(), {}),
    "ThresholdedRelu": (lambda x: np.where(x > 0.3, x, 0), {"alpha": 0.3}),
}


@pytest.mark.parametrize("op", sorted(UNARY_MATH))
@pytest.mark.parametrize("n", [1, 9, 1000])
def test_unary_math(op, n):
    fn, attrs = UNARY_MATH[op]
    x = rnd(2, n, scale=4)
    if op == "Round" and n >= 3:
        x[0, :3] = [-2.5, 0.5, 1.5]                                  # ties go to even: -2, 0, 2
    if op == "Reciprocal":
        x = np.sign(x) * (np.abs(x) + 0.1)
    check_both_paths(lambda g, v: g.op(op, v["x"], **attrs), {"x": x}, fn(x).astype(np.float32))


def test_log_and_softplus_far_from_zero():
    x = np.abs(rnd(3, 17, scale=3)) + 1e-3
    check_both_paths(lambda g, v: g.op("Log", v["x"]), {"x": x}, np.log(x))
    big = np.array([[-100, -30, -1, 0, 1, 25, 80]], np.float32)     # softplus's overflow-free branch
    check_both_paths(lambda g, v: g.op("Softplus", v["x"]), {"x": big}, F.softplus(t(big)).numpy())


@pytest.mark.parametrize("xs,ss", [((2, 5, 4, 4), (5, 1, 1)), ((3, 7), (7,)), ((3, 7), (1,)), ((2, 3, 9), (2, 3, 9))])
def test_prelu_broadcasts_the_slope(xs, ss):
    x, s = rnd(*xs), np.abs(rnd(*ss)) * 0.3
    check_both_paths(lambda g, v: g.op("PRelu", v["x"], g.const(s)), {"x": x}, np.where(x < 0, s * x, x))


def test_prelu_slope_must_broadcast_to_x():
    with pytest.raises(Exception, match=r"slope of shape \[2, 3\] does not broadcast to X's \[3\]"):
        run_graph(lambda g, v: g.op("PRelu", v["x"], g.const(np.ones((2, 3), np.float32))),
                  {"x": rnd(3)})


def test_activation_modules_export_from_pytorch(tmp_path):
    # nn.PReLU (per channel), ELU, SELU, CELU, Softplus, Softsign, Mish in a conv net, through the exporter
    # (channels-last: the new ops stay inside the NHWC run), matching PyTorch.
    import pyruntime
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.PReLU(8), torch.nn.Conv2d(8, 8, 1),
                              torch.nn.ELU(0.5), torch.nn.Conv2d(8, 8, 1), torch.nn.SELU(), torch.nn.CELU(1.2),
                              torch.nn.Softplus(), torch.nn.Conv2d(8, 4, 1), torch.nn.Softsign(), torch.nn.Mish()).eval()
    x = torch.randn(2, 3, 9, 9)
    path = tmp_path / "act.pyrt"
    pyruntime.export(net, (x,), str(path))
    with torch.no_grad():
        want = net(x).numpy()
    for ref in (False, True):
        got = pyruntime.Session(str(path), force_reference=ref).run({"input": x.numpy()})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# ---- operators on any element type: comparisons, logic, Where, Cast ----
from graphs import check_exact_both_paths  # noqa: E402

CMP = {"Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
       "GreaterOrEqual": np.greater_equal}
TYPED_BCAST = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ()), ((1,), (3, 2))]


@pytest.mark.parametrize("op", sorted(CMP))
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.float16])
@pytest.mark.parametrize("sa,sb", TYPED_BCAST)
def test_compare(op, dtype, sa, sb):
    a = R.integers(-3, 4, sa).astype(dtype)
    b = R.integers(-3, 4, sb).astype(dtype)
    if dtype == np.float32 and a.size > 2:
        a.flat[1] = np.nan                                             # NaN compares false, also with itself
    check_exact_both_paths(lambda g, v: g.op(op, v["a"], v["b"]), {"a": a, "b": b}, CMP[op](a, b))


def test_compare_int64_beyond_double_precision():
    a = np.array([2**62 + 1, -(2**62) - 1, 7], np.int64)
    b = np.array([2**62, -(2**62), 7], np.int64)
    check_exact_both_paths(lambda g, v: g.op("Greater", v["a"], v["b"]), {"a": a, "b": b}, a > b)
    check_exact_both_paths(lambda g, v: g.op("Equal", v["a"], v["b"]), {"a": a, "b": b}, a == b)


@pytest.mark.parametrize("op,fn", [("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)])
@pytest.mark.parametrize("sa,sb", TYPED_BCAST)
def test_logical(op, fn, sa, sb):
    a, b = R.random(sa) < 0.5, R.random(sb) < 0.5
    check_exact_both_paths(lambda g, v: g.op(op, v["a"], v["b"]), {"a": a, "b": b}, fn(a, b))


def test_not_and_type_errors():
    a = R.random((3, 5)) < 0.5
    check_exact_both_paths(lambda g, v: g.op("Not", v["a"]), {"a": a}, ~a)
    with pytest.raises(Exception, match="inputs must be bool, got f32"):
        run_graph(lambda g, v: g.op("And", v["a"], v["a"]), {"a": rnd(3)})
    with pytest.raises(Exception, match="inputs must have one element type, got f32 and i64"):
        run_graph(lambda g, v: g.op("Less", v["a"], v["b"]), {"a": rnd(3), "b": np.zeros(3, np.int64)})


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.bool_, np.float16, np.uint8])
@pytest.mark.parametrize("sc,sx,sy", [((2, 3), (2, 3), (2, 3)), ((1, 3), (2, 1), ()), ((4, 1, 5), (3, 1), (1, 5))])
def test_where(dtype, sc, sx, sy):
    c = R.random(sc) < 0.5
    x, y = R.integers(-5, 5, sx).astype(dtype), R.integers(-5, 5, sy).astype(dtype)
    check_exact_both_paths(lambda g, v: g.op("Where", v["c"], v["x"], v["y"]), {"c": c, "x": x, "y": y},
                           np.where(c, x, y))


def test_where_refuses_a_non_bool_condition_and_mixed_types():
    with pytest.raises(Exception, match="condition must be bool, got f32"):
        run_graph(lambda g, v: g.op("Where", v["x"], v["x"], v["x"]), {"x": rnd(3)})
    with pytest.raises(Exception, match="X and Y must have one element type, got f32 and i64"):
        run_graph(lambda g, v: g.op("Where", v["c"], v["x"], v["y"]),
                  {"c": np.ones(3, np.bool_), "x": rnd(3), "y": np.zeros(3, np.int64)})


ONNX_TYPE = {np.float32: 1, np.uint8: 2, np.int8: 3, np.int32: 6, np.int64: 7, np.bool_: 9, np.float16: 10}


@pytest.mark.parametrize("src", list(ONNX_TYPE))
@pytest.mark.parametrize("dst", list(ONNX_TYPE))
def test_cast(src, dst):
    if src in (np.float32, np.float16):
        x = (R.standard_normal((3, 7)) * 40).astype(src)
        if dst in (np.uint8,):
            x = np.abs(x)
        if dst in (np.int8, np.uint8):
            x = np.clip(x, -120, 120).astype(src)
        x.flat[:4] = [0.0, -0.0, 2.5, -0.5 if dst == np.uint8 else -2.5]   # zeros, truncation toward zero
    elif src == np.bool_:
        x = R.random((3, 7)) < 0.5
    else:
        x = R.integers(0 if src == np.uint8 else -100, 100, (3, 7)).astype(src)
    want = np.trunc(x).astype(dst) if src in (np.float32, np.float16) and dst not in (np.float32, np.float16, np.bool_) \
        else x.astype(dst)
    check_exact_both_paths(lambda g, v: g.op("Cast", v["x"], to=ONNX_TYPE[dst]), {"x": x}, want)


def test_cast_like_and_narrowing_wraps():
    x = np.array([300, -129, 5], np.int64)
    check_exact_both_paths(lambda g, v: g.op("CastLike", v["x"], v["t"]), {"x": x, "t": np.zeros(1, np.int8)},
                           x.astype(np.int8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, 3e10])
def test_cast_of_nan_or_out_of_range_to_int_is_an_error(bad):
    x = np.array([1.0, bad], np.float32)
    with pytest.raises(Exception, match=r"Cast\).*cannot cast .* to i32 \(NaN, infinite or out of range\)"):
        run_graph(lambda g, v: g.op("Cast", v["x"], to=6), {"x": x})
    with pytest.raises(Exception, match="attribute 'to' = 17 is not a type the runtime stores"):   # float8e4m3
        run_graph(lambda g, v: g.op("Cast", v["x"], to=17), {"x": x})


REDUCE = {
    "ReduceMean": lambda x, a, k: np.mean(x, axis=a, keepdims=k), "ReduceSum": lambda x, a, k: np.sum(x, axis=a, keepdims=k),
    "ReduceMax": lambda x, a, k: np.max(x, axis=a, keepdims=k), "ReduceMin": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "ReduceProd": lambda x, a, k: np.prod(x, axis=a, keepdims=k),
    "ReduceL1": lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k),
    "ReduceL2": lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k)),
    "ReduceSumSquare": lambda x, a, k: np.sum(x * x, axis=a, keepdims=k),
    "ReduceLogSum": lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k)),
    "ReduceLogSumExp": lambda x, a, k: np.log(np.sum(np.exp(x.astype(np.float64)), axis=a, keepdims=k)),
}


@pytest.mark.parametrize("op", sorted(REDUCE))
@pytest.mark.parametrize("axes,keep", [((1,), 1), ((0, 2), 0), ((-1,), 1), (None, 0), ((1, 2), 1), ((0,), 0)])
@pytest.mark.parametrize("as_input", [False, True])
def test_reduce(op, axes, keep, as_input):
    x = rnd(3, 4, 5) * (0.5 if op == "ReduceProd" else 1)
    if op == "ReduceLogSum":
        x = np.abs(x) + 0.1
    if op == "ReduceLogSumExp":
        x = x * 40                                                        # exp(x) alone would overflow f32
    want = REDUCE[op](x.astype(np.float64), None if axes is None else tuple(axes), bool(keep)).astype(np.float32)

    def build(g, v):
        if axes is None:
            return g.op(op, v["x"], keepdims=keep)
        if as_input:
            return g.op(op, v["x"], g.const(np.array(axes, np.int64)), keepdims=keep)
        return g.op(op, v["x"], axes=list(axes), keepdims=keep)
    check_both_paths(build, {"x": x}, want)


def test_reduce_noop_with_empty_axes_and_repeated_axis():
    x = rnd(2, 3)
    check_both_paths(lambda g, v: g.op("ReduceSum", v["x"], noop_with_empty_axes=1), {"x": x}, x)
    with pytest.raises(Exception, match="axis -1 is given twice"):
        run_graph(lambda g, v: g.op("ReduceSum", v["x"], axes=[1, -1]), {"x": x})


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("b,shape", [(2, (2, 8, 3, 5)), (3, (1, 18, 2, 2)), (1, (1, 3, 2, 2))])
def test_depth_to_space_and_back(mode, b, shape):
    x = rnd(*shape)
    n, c, h, w = shape
    if mode == "DCR":
        want = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2).reshape(n, c // (b * b), h * b, w * b)
    else:
        want = F.pixel_shuffle(t(x), b).numpy()                           # PyTorch's pixel shuffle is CRD
    check_exact_both_paths(lambda g, v: g.op("DepthToSpace", v["x"], blocksize=b, mode=mode), {"x": x}, want)
    y = want
    back = y.reshape(n, c // (b * b), h, b, w, b).transpose(0, 3, 5, 1, 2, 4).reshape(n, c, h, w)
    check_exact_both_paths(lambda g, v: g.op("SpaceToDepth", v["y"], blocksize=b), {"y": y}, back)
    with pytest.raises(Exception, match="must be a multiple of blocksize"):
        run_graph(lambda g, v: g.op("DepthToSpace", v["x"], blocksize=2), {"x": rnd(1, 3, 2, 2)})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keep,last", [(0, 1, 0), (1, 0, 0), (-1, 1, 1), (2, 0, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_arg_max_min(op, axis, keep, last, dtype):
    x = R.integers(-3, 4, (3, 4, 5)).astype(dtype)                       # many ties
    fn = np.argmax if op == "ArgMax" else np.argmin
    if last:
        want = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
    else:
        want = fn(x, axis=axis)
    want = np.expand_dims(want, axis) if keep else want
    check_exact_both_paths(lambda g, v: g.op(op, v["x"], axis=axis, keepdims=keep, select_last_index=last),
                           {"x": x}, want.astype(np.int64))


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -1, -5, 9])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5, 5), (7, 2)])
def test_trilu(upper, k, shape):
    x = R.integers(1, 9, shape).astype(np.int64)
    kk = 0 if k is None else k
    want = np.triu(x, kk) if upper else np.tril(x, kk)
    build = (lambda g, v: g.op("Trilu", v["x"], upper=upper)) if k is None else \
        (lambda g, v: g.op("Trilu", v["x"], g.const(np.array(k, np.int64)), upper=upper))
    check_exact_both_paths(build, {"x": x}, want)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_cum_sum(axis, exclusive, reverse, dtype):
    x = R.integers(-5, 6, (3, 4, 5)).astype(dtype)
    y = np.flip(x, axis) if reverse else x
    c = np.cumsum(y, axis=axis)
    if exclusive:
        c = c - y
    want = (np.flip(c, axis) if reverse else c).astype(dtype)
    check_exact_both_paths(lambda g, v: g.op("CumSum", v["x"], g.const(np.array(axis, np.int64)),
                                             exclusive=exclusive, reverse=reverse), {"x": x}, want)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 9), (3, 2, 2, 3, 4)])
def test_instance_norm(shape):
    x = rnd(*shape, scale=3) + 1
    c = shape[1]
    s, b = rnd(c), rnd(c)
    want = F.instance_norm(t(x), weight=t(s), bias=t(b), eps=1e-3).numpy()
    check_both_paths(lambda g, v: g.op("InstanceNormalization", v["x"], g.const(s), g.const(b), epsilon=1e-3),
                     {"x": x}, want)


def test_instance_norm_and_group_of_modules_export_from_pytorch(tmp_path):
    import pyruntime
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.InstanceNorm2d(8, affine=True),
                              torch.nn.ReLU(), torch.nn.Conv2d(8, 12, 3, padding=1), torch.nn.PixelShuffle(2)).eval()
    x = torch.randn(2, 3, 6, 6)
    path = tmp_path / "sr.pyrt"
    pyruntime.export(net, (x,), str(path))
    with torch.no_grad():
        want = net(x).numpy()
    for ref in (False, True):
        got = pyruntime.Session(str(path), force_reference=ref).run({"input": x.numpy()})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((5,), ())])
def test_mod_integers_take_the_divisors_sign(dtype, sa, sb):
    a = R.integers(-20, 21, sa).astype(dtype)
    b = R.integers(1, 7, sb).astype(dtype) * np.where(R.random(sb) < 0.5, -1, 1).astype(dtype)
    check_exact_both_paths(lambda g, v: g.op("Mod", v["a"], v["b"]), {"a": a, "b": b}, np.mod(a, b))
    check_exact_both_paths(lambda g, v: g.op("Mod", v["a"], v["b"], fmod=1), {"a": a, "b": b}, np.fmod(a, b))


def test_mod_floats_and_errors():
    a, b = rnd(3, 5) * 10, np.abs(rnd(5)) + 0.5
    check_both_paths(lambda g, v: g.op("Mod", v["a"], g.const(b), fmod=1), {"a": a}, np.fmod(a, b))
    with pytest.raises(Exception, match=r"floats need fmod = 1"):
        run_graph(lambda g, v: g.op("Mod", v["a"], v["a"]), {"a": a})
    with pytest.raises(Exception, match="integer division by zero"):
        run_graph(lambda g, v: g.op("Mod", v["a"], v["b"]), {"a": np.ones(3, np.int64), "b": np.zeros(3, np.int64)})


@pytest.mark.parametrize("xs,shape", [((3, 1), (2, 3, 4)), ((1,), (5,)), ((2, 1, 4), (3, 1)), ((4,), (1, 1, 4))])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_expand(xs, shape, dtype):
    x = (R.integers(-3, 4, xs)).astype(dtype)
    want = x * np.ones(shape, dtype) if dtype != np.bool_ else np.broadcast_to(x, np.broadcast_shapes(xs, shape))
    check_exact_both_paths(lambda g, v: g.op("Expand", v["x"], g.const(np.array(shape, np.int64))), {"x": x},
                           np.ascontiguousarray(want))


@pytest.mark.parametrize("xs,reps", [((2, 3), (2, 2)), ((3,), (4,)), ((2, 1, 3), (1, 3, 2)), ((2, 3), (0, 2)), ((), ())])
def test_tile(xs, reps):
    x = R.integers(-9, 9, xs).astype(np.int64)
    check_exact_both_paths(lambda g, v: g.op("Tile", v["x"], g.const(np.array(reps, np.int64))), {"x": x},
                           np.tile(x, reps) if xs else x.copy())


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("itype", [np.int64, np.int32])
def test_gather_elements(axis, itype):
    data = rnd(4, 5, 3)
    ishape = [3, 4, 2]
    ishape[axis] = 6
    idx = R.integers(-data.shape[axis], data.shape[axis], ishape).astype(itype)
    full = np.where(idx < 0, idx + data.shape[axis], idx).astype(np.int64)
    sl = [slice(0, s) for s in ishape]
    sl[axis] = slice(None)
    want = np.take_along_axis(data[tuple(sl)], full, axis=axis)
    check_exact_both_paths(lambda g, v: g.op("GatherElements", v["d"], v["i"], axis=axis), {"d": data, "i": idx}, want)
    with pytest.raises(Exception, match="index 9 is out of range"):
        run_graph(lambda g, v: g.op("GatherElements", v["d"], v["i"], axis=0),
                  {"d": rnd(4, 2), "i": np.array([[9, 0]], np.int64)})


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("axis,k", [(-1, 3), (0, 2), (1, 5), (1, 0)])
def test_top_k(largest, axis, k):
    x = R.integers(-4, 5, (4, 5, 6)).astype(np.float32)                   # many ties: lower index first
    tv, ti = torch.topk(t(x), k, dim=axis, largest=bool(largest), sorted=True)
    # torch does not promise the tie order; ONNX does (lower index first): a stable argsort gives it
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    vals = np.take_along_axis(x, idx, axis=axis)
    assert np.array_equal(vals, tv.numpy())
    check_exact_both_paths(lambda g, v: g.op("TopK", v["x"], g.const(np.array([k], np.int64)), axis=axis,
                                             largest=largest, outputs=2), {"x": x}, [vals, idx.astype(np.int64)])


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    idx = np.array([[0, 3, -1], [5, 2, -5]], np.int64)                      # 5 and -5 fall outside depth 4
    depth, values = 4, np.array([-1.0, 2.5], np.float32)
    eye = np.concatenate([np.eye(depth), np.zeros((1, depth))]).astype(np.float32)
    wrapped = np.where((idx >= -depth) & (idx < depth), np.where(idx < 0, idx + depth, idx), depth)
    hot = eye[wrapped] * (values[1] - values[0]) + values[0]              # [2, 3, depth]
    want = np.moveaxis(hot, -1, axis if axis >= 0 else hot.ndim + axis)
    check_exact_both_paths(lambda g, v: g.op("OneHot", v["i"], g.const(np.array(depth, np.int64)), g.const(values),
                                             axis=axis), {"i": idx}, np.ascontiguousarray(want, np.float32))


def test_shape_and_size():
    x = rnd(2, 3, 5)
    check_exact_both_paths(lambda g, v: g.op("Shape", v["x"]), {"x": x}, np.array([2, 3, 5], np.int64))
    check_exact_both_paths(lambda g, v: g.op("Shape", v["x"], start=1), {"x": x}, np.array([3, 5], np.int64))
    check_exact_both_paths(lambda g, v: g.op("Shape", v["x"], start=-2, end=-1), {"x": x}, np.array([3], np.int64))
    check_exact_both_paths(lambda g, v: g.op("Size", v["x"]), {"x": x}, np.array(30, np.int64))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements(axis, reduction):
    data = rnd(4, 5, 3)
    ishape = [3, 4, 2]
    ishape[axis] = 2
    n = data.shape[axis]
    # distinct positions along the axis for "none" (duplicates are undefined there), repeats for reductions
    idx = np.stack([R.permutation(n)[:2] for _ in range(int(np.prod(ishape)) // 2)], -1)
    idx = np.moveaxis(idx.reshape([2] + [s for i, s in enumerate(ishape) if i != axis % 3]), 0, axis % 3)
    if reduction != "none":
        idx = R.integers(-n, n, ishape)
    idx = np.ascontiguousarray(idx).astype(np.int64)
    upd = rnd(*ishape)
    want = data.copy()
    full = np.where(idx < 0, idx + n, idx)
    for pos in np.ndindex(*ishape):
        tgt = list(pos)
        tgt[axis % 3] = full[pos]
        tgt = tuple(tgt)
        u = upd[pos]
        want[tgt] = {"none": u, "add": want[tgt] + u, "mul": want[tgt] * u, "max": max(want[tgt], u),
                     "min": min(want[tgt], u)}[reduction]
    check_both_paths(lambda g, v: g.op("ScatterElements", v["d"], v["i"], v["u"], axis=axis, reduction=reduction),
                     {"d": data, "i": idx, "u": upd}, want)


def test_scatter_elements_index_out_of_range():
    with pytest.raises(Exception, match="index -5 is out of range for axis 0 of size 4"):
        run_graph(lambda g, v: g.op("ScatterElements", v["d"], v["i"], v["u"]),
                  {"d": rnd(4, 2), "i": np.array([[-5, 0]], np.int64), "u": rnd(1, 2)})


@pytest.mark.parametrize("ds,ishape", [((4, 5, 3), (2, 1)), ((4, 5, 3), (3, 2)), ((4, 5, 3), (2, 2, 3)), ((6,), (4, 1))])
def test_gather_nd(ds, ishape):
    data = rnd(*ds)
    q = ishape[-1]
    idx = np.stack([R.integers(-ds[j], ds[j], ishape[:-1]) for j in range(q)], -1).astype(np.int64)
    want = np.stack([data[tuple(int(v) for v in row)] for row in idx.reshape(-1, q)]).reshape(
        tuple(ishape[:-1]) + tuple(ds[q:]))
    check_exact_both_paths(lambda g, v: g.op("GatherND", v["d"], v["i"]), {"d": data, "i": idx}, want)
    with pytest.raises(Exception, match="out of range for dimension 0"):
        bad = idx.copy()
        bad.flat[0] = 99
        run_graph(lambda g, v: g.op("GatherND", v["d"], v["i"]), {"d": data, "i": bad})


def scatter_nd_ref(data, idx, upd, reduction):
    out = data.copy()
    q = idx.shape[-1]
    rows, slices = idx.reshape(-1, q), upd.reshape((-1,) + data.shape[q:])
    for row, u in zip(rows, slices):
        at = tuple(int(i) + (data.shape[j] if i < 0 else 0) for j, i in enumerate(row))
        out[at] = {"none": u, "add": out[at] + u, "mul": out[at] * u, "max": np.maximum(out[at], u),
                   "min": np.minimum(out[at], u)}[reduction]
    return out


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("ds,ishape", [((4, 5, 3), (2, 1)), ((4, 5, 3), (3, 2)), ((4, 5, 3), (2, 2, 3)),
                                       ((6,), (4, 1)), ((4, 5), (3, 4, 2))])
def test_scatter_nd(reduction, ds, ishape):
    q = ishape[-1]
    rows = int(np.prod(ishape[:-1]))
    if reduction == "none":   # distinct targets: ONNX leaves repeated ones undefined without a reduction
        flat = R.permutation(int(np.prod(ds[:q])))[:rows]
        idx = np.stack(np.unravel_index(flat, ds[:q]), -1).reshape(ishape)
        idx = np.where(R.random(ishape) < 0.5, idx - np.array(ds[:q]), idx)   # half of them negative
    else:
        idx = np.stack([R.integers(-ds[j], ds[j], ishape[:-1]) for j in range(q)], -1)
    idx = idx.astype(np.int64)
    data, upd = rnd(*ds), rnd(*(tuple(ishape[:-1]) + tuple(ds[q:])))
    want = scatter_nd_ref(data, idx, upd, reduction)
    check_exact_both_paths(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"], reduction=reduction),
                           {"d": data, "i": idx, "u": upd}, want)


def test_scatter_nd_integers_and_onnx_reference():
    from onnx.reference.ops.op_scatternd import _scatter_nd_impl
    data = R.integers(-9, 9, (5, 4)).astype(np.int64)
    idx = np.array([[[1], [3]], [[-1], [1]]], np.int64)
    upd = R.integers(-9, 9, (2, 2, 4)).astype(np.int64)
    want = _scatter_nd_impl(data, np.where(idx < 0, idx + 5, idx), upd, reduction="add")
    check_exact_both_paths(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"], reduction="add"),
                           {"d": data, "i": idx, "u": upd}, want)


def test_scatter_nd_errors():
    d, u = rnd(4, 3), rnd(2, 3)
    with pytest.raises(Exception, match=r"scatternd_1.*index 4 is out of range for dimension 0 of size 4"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"]),
                  {"d": d, "i": np.array([[0], [4]], np.int64), "u": u})
    with pytest.raises(Exception, match=r"index -5 is out of range"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"], reduction="add"),
                  {"d": d, "i": np.array([[0], [-5]], np.int64), "u": u})
    with pytest.raises(Exception, match=r"scatternd_1.*updates must have shape \[2, 3\]"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"]),
                  {"d": d, "i": np.array([[0], [1]], np.int64), "u": rnd(2, 4)})
    with pytest.raises(Exception, match=r"indices must be i64"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"]),
                  {"d": d, "i": np.array([[0], [1]], np.int32), "u": u})
    with pytest.raises(Exception, match=r"last dimension \(3\) must be in \[1, data rank 2\]"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"]),
                  {"d": d, "i": np.zeros((2, 3), np.int64), "u": rnd(2)})
    with pytest.raises(Exception, match=r"reduction must be none, add, mul, max or min, got 'sum'"):
        run_graph(lambda g, v: g.op("ScatterND", v["d"], v["i"], v["u"], reduction="sum"),
                  {"d": d, "i": np.array([[0], [1]], np.int64), "u": u})


EINSUM = [
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 7, 8)]),
    ("bhqk,bhkd->bhqd", [(2, 3, 5, 7), (2, 3, 7, 8)]),
    ("bij,bjk->bik", [(3, 4, 5), (3, 5, 6)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    ("...ij,...jk->...ik", [(2, 1, 4, 5), (3, 5, 6)]),          # ellipsis broadcast, ranks differ
    ("...ij,jk", [(2, 4, 5), (5, 6)]),                          # implicit output
    ("ij,jk", [(4, 5), (5, 6)]),
    ("ij,kj->ik", [(4, 5), (6, 5)]),                            # B read transposed in place
    ("ji,jk->ik", [(5, 4), (5, 6)]),                            # A read transposed in place
    ("bqhd,bkhd->bhqk", [(2, 5, 3, 8), (2, 7, 3, 8)]),          # gathered operands
    ("bik,bkj->bji", [(2, 3, 4), (2, 4, 5)]),                   # output [batch][N][M]: operands swapped
    ("bik,bkj->jbi", [(2, 3, 4), (2, 4, 5)]),                   # output permuted from the workspace
    ("i,j->ij", [(5,), (7,)]),
    ("i,i->", [(9,), (9,)]),
    ("ij,ij->i", [(4, 6), (4, 6)]),                             # batch + contraction, no M / N
    ("ijk,jl->il", [(3, 4, 5), (4, 6)]),                        # k summed away in A alone
    ("Ab,bC->AC", [(3, 4), (4, 5)]),
    ("ij,jk->ik", [(4, 1), (3, 6)]),                            # a size-1 label stretched (numpy does)
    ("bnd,bmd->bnm", [(1, 0, 4), (1, 3, 4)]),                   # empty M
    ("ij,jk->ik", [(2, 0), (0, 3)]),                            # empty contraction: zeros
    ("ij->ji", [(4, 7)]),
    ("ij->i", [(4, 7)]),
    ("ij->", [(4, 7)]),
    ("bij->bji", [(2, 3, 5)]),
    ("...ij->...ji", [(2, 3, 4, 5)]),
    ("abc->ca", [(3, 4, 5)]),
    ("ij", [(3, 4)]),
    ("ji", [(3, 4)]),                                           # implicit: output ij, a transpose
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum(eq, shapes):
    ins = {f"x{i}": rnd(*s) for i, s in enumerate(shapes)}
    want = np.einsum(eq, *ins.values())
    tw = torch.einsum(eq, *[t(a) for a in ins.values()]).numpy() if 0 not in sum(shapes, ()) else want
    np.testing.assert_allclose(want, tw, rtol=1e-4, atol=1e-4)
    check_both_paths(lambda g, v: g.op("Einsum", *[v[k] for k in ins], equation=eq), ins,
                     np.asarray(want, np.float32))


def test_einsum_with_a_constant_and_spaces():
    x, w = rnd(2, 5, 8), rnd(8, 3)
    check_both_paths(lambda g, v: g.op("Einsum", v["x"], g.const(w), equation=" bnd , de -> bne "), {"x": x},
                     np.einsum("bnd,de->bne", x, w))


def test_einsum_errors():
    a, b = rnd(3, 3), rnd(3, 4)
    with pytest.raises(Exception, match=r"einsum_1.*'ii,ij->ij'.*label 'i' repeats within one term"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], equation="ii,ij->ij"), {"a": a, "b": b})
    with pytest.raises(Exception, match=r"'ij,jk->ik'.*label 'j' has sizes 3 and 2"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], equation="ij,jk->ik"), {"a": a, "b": rnd(2, 4)})
    with pytest.raises(Exception, match=r"'ij,jk,kl->il' has 3 operands; 1 or 2 are supported"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], v["b"], equation="ij,jk,kl->il"), {"a": a, "b": b})
    with pytest.raises(Exception, match=r"output label 'z' is in no input"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], equation="ij,jk->iz"), {"a": a, "b": b})
    with pytest.raises(Exception, match=r"operand 1 has rank 2, its term names 3"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], equation="ij,jkl->ik"), {"a": a, "b": b})
    with pytest.raises(Exception, match=r"'\.\.\.' dimensions but the output has no"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], v["b"], equation="...j,jk->k"), {"a": a, "b": b})
    with pytest.raises(Exception, match=r"unexpected character '1'"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], equation="i1->i"), {"a": a})
    with pytest.raises(Exception, match=r"must be f32"):
        run_graph(lambda g, v: g.op("Einsum", v["a"], equation="ij->ji"), {"a": np.ones((2, 2), np.int64)})


@pytest.mark.parametrize("shape,groups", [((2, 6, 5, 7), 3), ((1, 8, 9), 4), ((3, 4, 2, 3, 2), 1), ((2, 6, 4, 4), 6),
                                          ((2, 12), 4)])
def test_group_norm(shape, groups):
    x = rnd(*shape, scale=3) + 1
    c = shape[1]
    s, b = rnd(c), rnd(c)
    want = F.group_norm(t(x), groups, t(s), t(b), eps=1e-3).numpy()
    check_both_paths(lambda g, v: g.op("GroupNormalization", v["x"], g.const(s), g.const(b), num_groups=groups,
                                       epsilon=1e-3), {"x": x}, want)
    # opset 18's form: scale and bias per group (each group's channels share them)
    sg, bg = rnd(groups), rnd(groups)
    want18 = F.group_norm(t(x), groups, t(np.repeat(sg, c // groups)), t(np.repeat(bg, c // groups)), eps=1e-5)
    check_both_paths(lambda g, v: g.op("GroupNormalization", v["x"], v["s"], v["b"], num_groups=groups),
                     {"x": x, "s": sg, "b": bg}, want18.numpy())


def onnx_node_check(tmp_path, op, inputs, attrs, consts=(), opset=21, rel=1e-4, exact=False):
    """One ONNX node (inputs in order; those named in `consts` are initializers, the others graph inputs)
    through the ONNX importer (export_onnx), run on both kernel paths, against onnx's reference evaluator."""
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator
    import pyruntime
    from pyruntime.exporters import export_onnx
    ttype = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.int64): onnx.TensorProto.INT64}
    feeds = {k: a for k, a in inputs.items() if k not in consts}
    node = helper.make_node(op, list(inputs), ["y"], **attrs)
    graph = helper.make_graph([node], "one", [helper.make_tensor_value_info(k, ttype[a.dtype], a.shape)
                                              for k, a in feeds.items()],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.UNDEFINED, None)],
                              [numpy_helper.from_array(inputs[k], k) for k in consts])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    path = tmp_path / f"{op}.pyrt"
    export_onnx(model, str(path))
    for ref in (False, True):
        got = pyruntime.Session(str(path), force_reference=ref).run(feeds)[0]
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            assert_close(got, want, rel)
    return want


def test_group_norm_onnx_reference_and_errors(tmp_path):
    x, s, b = rnd(2, 6, 3, 3), rnd(6), rnd(6)
    onnx_node_check(tmp_path, "GroupNormalization", {"x": x, "s": s, "b": b}, {"num_groups": 2, "epsilon": 1e-4},
                    consts=("s", "b"))
    sg, bg = rnd(2), rnd(2)   # opset 18: per group
    onnx_node_check(tmp_path, "GroupNormalization", {"x": x, "s": sg, "b": bg}, {"num_groups": 2}, opset=18)
    with pytest.raises(Exception, match=r"groupnormalization_1.*num_groups 4 does not divide the 6 channels"):
        run_graph(lambda g, v: g.op("GroupNormalization", v["x"], g.const(s), g.const(b), num_groups=4), {"x": x})
    with pytest.raises(Exception, match=r"scale and bias must have C = 6 values \(opset 21\) or num_groups = 2"):
        run_graph(lambda g, v: g.op("GroupNormalization", v["x"], g.const(rnd(3)), g.const(rnd(3)), num_groups=2),
                  {"x": x})
    with pytest.raises(Exception, match=r"the attribute num_groups is required"):
        run_graph(lambda g, v: g.op("GroupNormalization", v["x"], g.const(s), g.const(b)), {"x": x})
    with pytest.raises(Exception, match=r"num_groups must be >= 1"):
        run_graph(lambda g, v: g.op("GroupNormalization", v["x"], g.const(s), g.const(b), num_groups=0), {"x": x})


def test_scatter_nd_and_einsum_through_the_onnx_importer(tmp_path):
    d, u = rnd(4, 5, 3), rnd(2, 3)
    idx = np.array([[1, -1], [3, 0]], np.int64)
    onnx_node_check(tmp_path, "ScatterND", {"d": d, "i": idx, "u": u}, {}, consts=("i",), exact=True)
    d2 = rnd(4, 5, 3)
    want = onnx_node_check(tmp_path, "ScatterND", {"d": d2, "i": np.array([[1], [1]], np.int64), "u": rnd(2, 5, 3)},
                           {"reduction": "mul"})
    assert want.shape == d2.shape
    q, k = rnd(2, 3, 5, 8), rnd(2, 3, 7, 8)
    onnx_node_check(tmp_path, "Einsum", {"q": q, "k": k}, {"equation": "bhqd,bhkd->bhqk"})
    onnx_node_check(tmp_path, "Einsum", {"x": rnd(2, 4, 6)}, {"equation": "...ij->...j"})


CONV3D = [  # cin, cout, k, stride, pad, dilation, group, bias
    (3, 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, True),
    (4, 6, (2, 3, 1), (2, 1, 2), (0, 1, 0), (1, 1, 1), 2, False),
    (6, 6, (3, 3, 3), (1, 2, 1), (1, 1, 1), (2, 1, 1), 6, True),       # depthwise, dilated
    (5, 7, (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1, True),       # 1x1x1: the input read in place
    (2, 3, (3, 2, 3), (1, 1, 1), (2, 0, 1), (1, 2, 1), 1, True),
]


@pytest.mark.parametrize("cin,cout,k,s,p,d,gr,bias", CONV3D)
def test_conv3d(cin, cout, k, s, p, d, gr, bias):
    x, w, b = rnd(2, cin, 5, 6, 7), rnd(cout, cin // gr, *k, scale=0.3), rnd(cout)
    want = F.conv3d(t(x), t(w), t(b) if bias else None, stride=s, padding=p, dilation=d, groups=gr).numpy()
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(w), g.const(b) if bias else None, strides=list(s),
                                       pads=list(p) * 2, dilations=list(d), group=gr), {"x": x}, want)


def test_conv3d_asymmetric_pads_activation_and_big_volume():
    # asymmetric pads: torch pads the input first; sigmoid is applied after the GEMM (not fusable)
    x, w, b = rnd(1, 3, 6, 5, 4), rnd(4, 3, 3, 3, 3, scale=0.3), rnd(4)
    xp = F.pad(t(x), (0, 2, 1, 0, 2, 1))           # W (0, 2), H (1, 0), D (2, 1)
    want = torch.sigmoid(F.conv3d(xp, t(w), t(b))).numpy()
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(w), g.const(b), pads=[2, 1, 0, 1, 0, 2],
                                       activation="sigmoid"), {"x": x}, want)
    # more output voxels than one im2col block (4 MiB of columns): the block loop and its offsets
    x, w = rnd(1, 16, 18, 20, 22), rnd(8, 16, 3, 3, 3, scale=0.1)
    want = F.relu(F.conv3d(t(x), t(w), padding=1)).numpy()
    check_both_paths(lambda g, v: g.op("Conv", v["x"], g.const(w), pads=[1] * 6, activation="relu"), {"x": x}, want)


DECONV3D = [  # cin, cout, k, stride, pad, output_padding, dilation, group
    (4, 3, (2, 2, 2), (2, 2, 2), (0, 0, 0), (0, 0, 0), (1, 1, 1), 1),
    (4, 6, (3, 3, 3), (2, 1, 2), (1, 1, 0), (1, 0, 1), (1, 1, 1), 2),
    (3, 5, (3, 2, 3), (1, 1, 1), (1, 0, 2), (0, 0, 0), (2, 1, 1), 1),
]


@pytest.mark.parametrize("cin,cout,k,s,p,op,d,gr", DECONV3D)
def test_conv_transpose3d(cin, cout, k, s, p, op, d, gr):
    x, w, b = rnd(2, cin, 3, 4, 5), rnd(cin, cout // gr, *k, scale=0.3), rnd(cout)
    want = F.conv_transpose3d(t(x), t(w), t(b), stride=s, padding=p, output_padding=op, groups=gr,
                              dilation=d).numpy()
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], g.const(w), g.const(b), strides=list(s),
                                       pads=list(p) * 2, output_padding=list(op), dilations=list(d), group=gr),
                     {"x": x}, want)


def test_conv_transpose3d_output_shape_and_big_input():
    x, w = rnd(1, 2, 3, 3, 3), rnd(2, 3, 3, 3, 3, scale=0.3)
    full = F.conv_transpose3d(t(x), t(w), stride=2).numpy()         # 7x7x7; output_shape 6 trims one at the end
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], g.const(w), strides=[2, 2, 2],
                                       output_shape=[6, 6, 6]), {"x": x}, full[:, :, :6, :6, :6])
    # more input voxels than one col block: M = 4*27 rows, 4 MiB / (108 * 4 B) < 16*17*18 voxels
    x, w = rnd(1, 3, 16, 17, 18), rnd(3, 4, 3, 3, 3, scale=0.2)
    want = F.conv_transpose3d(t(x), t(w), padding=1).numpy()
    check_both_paths(lambda g, v: g.op("ConvTranspose", v["x"], g.const(w), pads=[1] * 6), {"x": x}, want)


POOL3D = [  # kernel, stride, pad, ceil
    ((2, 2, 2), (2, 2, 2), (0, 0, 0), 0),
    ((3, 3, 3), (1, 2, 2), (1, 1, 1), 0),
    ((3, 2, 3), (2, 2, 1), (1, 0, 1), 1),
    ((1, 3, 2), (1, 1, 2), (0, 1, 1), 1),
]


@pytest.mark.parametrize("k,s,p,ceil", POOL3D)
@pytest.mark.parametrize("incl", [0, 1])
def test_pools3d(k, s, p, ceil, incl):
    x = rnd(2, 3, 7, 6, 9)
    mx = F.max_pool3d(t(x), k, s, p, ceil_mode=bool(ceil)).numpy()
    av = F.avg_pool3d(t(x), k, s, p, ceil_mode=bool(ceil), count_include_pad=bool(incl)).numpy()
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=list(p) * 2, ceil_mode=ceil)
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], **attrs), {"x": x}, mx)
    check_both_paths(lambda g, v: g.op("AveragePool", v["x"], count_include_pad=incl, **attrs), {"x": x}, av)


def test_maxpool3d_dilated():
    x = rnd(1, 2, 9, 8, 7)
    want = F.max_pool3d(t(x), 3, (1, 2, 1), 1, dilation=(2, 1, 2)).numpy()
    check_both_paths(lambda g, v: g.op("MaxPool", v["x"], kernel_shape=[3, 3, 3], strides=[1, 2, 1], pads=[1] * 6,
                                       dilations=[2, 1, 2]), {"x": x}, want)


def test_3d_errors():
    from pyruntime import Graph
    x = rnd(1, 4, 5, 5, 5)
    with pytest.raises(Exception, match=r"conv_1.*input has 4 channels, the weight expects 6"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(2, 3, 3, 3, 3)), group=2), {"x": x})
    with pytest.raises(Exception, match=r"conv_1.*group 3 does not divide Cout 4"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(4, 4, 1, 1, 1)), group=3), {"x": x})
    with pytest.raises(Exception, match=r"conv_1.*kernel is larger than the padded input"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(2, 4, 7, 1, 1))), {"x": x})
    with pytest.raises(Exception, match=r"strides/dilations/pads must have 3/3/6 values for 3-D, got 2/3/6"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(2, 4, 1, 1, 1)), strides=[1, 1]), {"x": x})
    with pytest.raises(Exception, match=r"auto_pad 'SAME_UPPER' is not supported in 3-D"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(2, 4, 1, 1, 1)), auto_pad="SAME_UPPER"), {"x": x})
    with pytest.raises(Exception, match=r"input must be 5-D NCDHW"):
        run_graph(lambda g, v: g.op("Conv", v["x"], g.const(rnd(2, 4, 1, 1, 1))), {"x": rnd(1, 4, 5, 5)})
    with pytest.raises(Exception, match=r"convtranspose_1.*output_padding must be >= 0 and smaller than the stride"):
        run_graph(lambda g, v: g.op("ConvTranspose", v["x"], g.const(rnd(4, 2, 3, 3, 3)), output_padding=[1, 1, 1]),
                  {"x": x})
    with pytest.raises(Exception, match=r"convtranspose_1.*input must be \[N, 3, D, H, W\]"):
        run_graph(lambda g, v: g.op("ConvTranspose", v["x"], g.const(rnd(3, 2, 3, 3, 3))), {"x": x})
    g = Graph("huge")                                 # (D - 1) * stride past int64: an error, not a wrapped size
    y = g.op("ConvTranspose", g.input("x", [1, 4, 2 ** 40, 1, 1]), g.const(rnd(4, 2, 3, 3, 3)), strides=[2 ** 20, 1, 1])
    g.output(y, "y")
    with pytest.raises(Exception, match=r"convtranspose_1.*with stride 1048576 gives too large an output"):
        g.to_bytes()
    with pytest.raises(Exception, match=r"maxpool_1.*pooling window is larger than the padded input"):
        run_graph(lambda g, v: g.op("MaxPool", v["x"], kernel_shape=[6, 1, 1]), {"x": x})
    with pytest.raises(Exception, match=r"averagepool_1.*input must be 5-D NCDHW for a 3-D kernel_shape"):
        run_graph(lambda g, v: g.op("AveragePool", v["x"], kernel_shape=[2, 2, 2]), {"x": rnd(1, 4, 5, 5)})
    with pytest.raises(Exception, match=r"maxpool_1.*pads must be in \[0, 2\^20\], got -1"):
        run_graph(lambda g, v: g.op("MaxPool", v["x"], kernel_shape=[2, 2, 2], pads=[-1, 0, 0, 0, 0, 0]), {"x": x})


def test_3d_from_pytorch_through_the_exporter(tmp_path):
    """Conv3d + BatchNorm3d + ReLU + MaxPool3d + ConvTranspose3d + AvgPool3d exported from PyTorch: the importer
    takes 3-D, BatchNorm folds and ReLU fuses into the 3-D Conv, and the 1-D lifting and channels-last passes
    leave 3-D alone."""
    import pyruntime
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3, padding=1), torch.nn.BatchNorm3d(4), torch.nn.ReLU(),
                              torch.nn.MaxPool3d(2), torch.nn.Conv3d(4, 4, 3, padding=1, groups=2),
                              torch.nn.ConvTranspose3d(4, 3, 2, stride=2), torch.nn.AvgPool3d(3, 1, 1)).eval()
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 2, 6, 8, 4)
    path = tmp_path / "net3d.pyrt"
    pyruntime.export(net, (x,), str(path))
    with torch.no_grad():
        want = net(x).numpy()
    for ref in (False, True):
        s = pyruntime.Session(str(path), force_reference=ref)
        np.testing.assert_allclose(s.run({"input": x.numpy()})[0], want, rtol=1e-4, atol=1e-4)
    kernels = [(d["op_type"], d["kernel"].split("-")[0]) for d in s.describe()]
    assert kernels == [("Conv", "conv3d"), ("MaxPool", "maxpool3d"), ("Conv", "conv3d"), ("ConvTranspose", "deconv3d"),
                       ("AveragePool", "avgpool3d")], kernels


def onnx_attention_ref(q, k, v, mask=None, past_k=None, past_v=None, nonpad=None, q_heads=None, kv_heads=None,
                       scale=None, causal=False, softcap=0.0, mode=0, left=-1, right=-1):
    """ONNX Attention (opset 25 semantics) in float64 numpy: (Y, present_k, present_v, qk_output)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    rank3 = q.ndim == 3
    if rank3:   # [B, S, H * D] -> [B, H, S, D]
        heads = lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(0, 2, 1, 3)
        q, k, v = heads(q, q_heads), heads(k, kv_heads), heads(v, kv_heads)
    if past_k is not None:
        k, v = np.concatenate([past_k, k], 2), np.concatenate([past_v, v], 2)
    b, hq, sq, dk = q.shape
    t = k.shape[2]
    s = 1 / np.sqrt(dk) if scale is None else scale
    r = hq // k.shape[1]
    kr, vr = np.repeat(k, r, axis=1), np.repeat(v, r, axis=1)
    raw = q @ kr.transpose(0, 1, 3, 2) * s
    capped = softcap * np.tanh(raw / softcap) if softcap > 0 else raw
    bias = np.zeros((b, hq, sq, t))
    if mask is not None:
        m = np.where(mask, 0.0, -np.inf) if mask.dtype == np.bool_ else mask.astype(np.float64)
        m = np.concatenate([m, np.full(m.shape[:-1] + (t - m.shape[-1],), -np.inf)], -1)
        bias = bias + m
    off = np.full(b, past_k.shape[2] if past_k is not None else 0)
    if nonpad is not None:
        off = nonpad - sq
    i = np.arange(sq)[None, :, None]
    j = np.arange(t)[None, None, :]
    p = i + off[:, None, None]
    allowed = np.ones((b, sq, t), bool)
    if causal:
        allowed &= j <= p
    if left >= 0:
        allowed &= p - j <= left
    if right >= 0:
        allowed &= j - p <= right
    if nonpad is not None:
        allowed &= j < nonpad[:, None, None]
    bias = bias + np.where(allowed, 0.0, -np.inf)[:, None]
    x = capped + bias
    dead = np.isneginf(bias.max(-1, keepdims=True))
    mx = np.where(dead, 0, x.max(-1, keepdims=True))
    e = np.exp(x - mx)
    prob = np.where(dead, 0, e / np.where(dead, 1, e.sum(-1, keepdims=True)))
    y = prob @ vr
    if rank3:
        y = y.transpose(0, 2, 1, 3).reshape(b, sq, -1)
    qk = [raw, capped, x, prob][mode]
    return [a.astype(np.float32) for a in (y, k, v, qk)]


def _attention(g, v, outputs=1, **attrs):
    ins = [v.get(n) for n in ("q", "k", "v", "mask", "pk", "pv", "nonpad")]
    while ins[-1] is None:
        ins.pop()
    return g.op("Attention", *ins, outputs=outputs, **attrs)


ATTN_4D = [  # b, q heads, kv heads, sq, skv, dk, dv
    (2, 3, 3, 4, 6, 8, 8), (1, 8, 2, 5, 5, 16, 12), (2, 4, 1, 1, 9, 8, 8), (1, 6, 3, 7, 3, 5, 7), (3, 2, 2, 33, 40, 24, 20),
]


@pytest.mark.parametrize("shape", ATTN_4D)
@pytest.mark.parametrize("mask", ["none", "bool2d", "float4d_bcast", "float3d_short"])
@pytest.mark.parametrize("causal", [0, 1])
def test_onnx_attention_4d(shape, mask, causal):
    b, hq, hkv, sq, skv, dk, dv = shape
    feeds = {"q": rnd(b, hq, sq, dk), "k": rnd(b, hkv, skv, dk), "v": rnd(b, hkv, skv, dv)}
    if mask == "bool2d":
        feeds["mask"] = R.random((sq, skv)) > 0.3
    elif mask == "float4d_bcast":
        feeds["mask"] = rnd(b, 1, sq, skv)
    elif mask == "float3d_short":   # [heads, Sq, shorter]: padded with -inf up to the key length
        feeds["mask"] = rnd(hq, 1, max(1, skv - 2))
    m = feeds.get("mask")
    want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], mask=m, causal=causal)[0]
    check_both_paths(lambda g, v: _attention(g, v, is_causal=causal), feeds, want)


@pytest.mark.parametrize("b,sq,skv,hq,hkv,dk,dv", [(2, 4, 6, 9, 3, 8, 8), (3, 1, 7, 8, 2, 16, 4), (1, 5, 5, 4, 4, 6, 10)])
def test_onnx_attention_3d_gqa(b, sq, skv, hq, hkv, dk, dv):
    feeds = {"q": rnd(b, sq, hq * dk), "k": rnd(b, skv, hkv * dk), "v": rnd(b, skv, hkv * dv)}
    want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], q_heads=hq, kv_heads=hkv, scale=0.3)[0]
    check_both_paths(lambda g, v: _attention(g, v, q_num_heads=hq, kv_num_heads=hkv, scale=0.3), feeds, want)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_onnx_attention_causal_with_past(rank, mode):
    """Past key/value concatenated into the present outputs, the causal mask aligned to the end (offset = past
    length), a mask shorter than the total length padded, softcap and each qk_matmul_output_mode."""
    b, hq, hkv, sq, skv, past, dk, dv = 2, 6, 2, 3, 3, 5, 8, 6
    if rank == 4:
        feeds = {"q": rnd(b, hq, sq, dk), "k": rnd(b, hkv, skv, dk), "v": rnd(b, hkv, skv, dv)}
        attrs = {}
    else:
        feeds = {"q": rnd(b, sq, hq * dk), "k": rnd(b, skv, hkv * dk), "v": rnd(b, skv, hkv * dv)}
        attrs = {"q_num_heads": hq, "kv_num_heads": hkv}
    feeds.update(mask=rnd(sq, past + skv - 1), pk=rnd(b, hkv, past, dk), pv=rnd(b, hkv, past, dv))
    want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], mask=feeds["mask"], past_k=feeds["pk"],
                              past_v=feeds["pv"], q_heads=hq, kv_heads=hkv, causal=True, softcap=1.5, mode=mode)
    want[3] = np.where(np.isneginf(want[3]), -1e30, want[3])   # compare -inf as a large finite number
    build = lambda g, v: [*_attention(g, v, outputs=4, is_causal=1, softcap=1.5, qk_matmul_output_mode=mode,
                                      **attrs)[:3],
                          g.op("Max", _attention(g, v, outputs=4, is_causal=1, softcap=1.5, qk_matmul_output_mode=mode,
                                                 **attrs)[3], g.const(np.float32(-1e30)))]
    check_both_paths(build, feeds, want)


def test_onnx_attention_windows_nonpad_and_fully_masked_rows():
    b, h, sq, t, d = 2, 2, 4, 8, 8
    feeds = {"q": rnd(b, h, sq, d), "k": rnd(b, h, t, d), "v": rnd(b, h, t, d),
             "nonpad": np.array([6, 3], np.int64)}   # batch 1: offset -1, query 0 sees no key
    for attrs in ({"is_causal": 1}, {"is_causal": 1, "left_window_size": 2}, {"left_window_size": 1, "right_window_size": 2}):
        want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], nonpad=feeds["nonpad"], causal=attrs.get("is_causal", 0),
                                  left=attrs.get("left_window_size", -1), right=attrs.get("right_window_size", -1), mode=3)
        check_both_paths(lambda g, v: _attention(g, v, outputs=4, qk_matmul_output_mode=3, **attrs)[::3], feeds,
                         [want[0], want[3]])
    # extreme lengths (run-time data) behave as the nearest sensible ones: all keys, and none
    extreme = feeds | {"nonpad": np.array([2 ** 63 - 1, -2 ** 63], np.int64)}
    want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], nonpad=np.array([t, -1]))[0]
    check_both_paths(lambda g, v: _attention(g, v), extreme, want)
    # a bool mask that masks every key of some rows: those rows are zeros, not NaN
    mask = R.random((b, 1, sq, t)) > 0.5
    mask[0, 0, 1] = False
    mask[1, 0, 3] = False
    f2 = {k: feeds[k] for k in ("q", "k", "v")} | {"mask": mask}
    want = onnx_attention_ref(f2["q"], f2["k"], f2["v"], mask=mask)
    assert not want[0][0, :, 1].any()
    check_both_paths(lambda g, v: _attention(g, v), f2, want[0])


@pytest.mark.parametrize("threads", [1, 3])
def test_onnx_attention_threads_and_pooled_gemm(threads):
    """One sequence and one kv group (fewer units than threads: the GEMMs split over the pool) and many
    units (split over batch and heads) give the same answer as the reference."""
    for b, hq, hkv, s in ((1, 2, 1, 70), (4, 4, 4, 9)):
        feeds = {"q": rnd(b, hq, s, 32), "k": rnd(b, hkv, s, 32), "v": rnd(b, hkv, s, 24)}
        want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], causal=True)[0]
        (got,), _ = run_graph(lambda g, v: _attention(g, v, is_causal=1), feeds, threads=threads)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_onnx_attention_f16():
    feeds = {"q": rnd(2, 4, 3, 8), "k": rnd(2, 2, 5, 8), "v": rnd(2, 2, 5, 8)}
    f16 = {n: a.astype(np.float16) for n, a in feeds.items()}
    f16["mask"] = rnd(3, 5).astype(np.float16)
    want = onnx_attention_ref(*(f16[n].astype(np.float32) for n in ("q", "k", "v")), mask=f16["mask"], causal=True)[0]
    for ref in (False, True):
        for mask in (f16["mask"], f16["mask"].astype(np.float32)):   # an f32 mask with f16 Q, K, V too
            (got,), _ = run_graph(lambda g, v: _attention(g, v, is_causal=1), f16 | {"mask": mask}, force_reference=ref)
            assert got.dtype == np.float16
            np.testing.assert_allclose(got.astype(np.float32), want, rtol=2e-3, atol=2e-3)
    # f32 Q, K, V with an f16 mask
    want = onnx_attention_ref(feeds["q"], feeds["k"], feeds["v"], mask=f16["mask"].astype(np.float32))[0]
    check_both_paths(lambda g, v: _attention(g, v), feeds | {"mask": f16["mask"]}, want)


def test_onnx_attention_errors_name_the_node():
    f4 = {"q": rnd(1, 3, 2, 8), "k": rnd(1, 2, 2, 8), "v": rnd(1, 2, 2, 8)}
    with pytest.raises(ValueError, match=r"\(Attention\).*3 query heads are not a multiple of 2"):
        run_graph(lambda g, v: _attention(g, v), f4)
    f3 = {"q": rnd(1, 2, 10), "k": rnd(1, 2, 8), "v": rnd(1, 2, 8)}
    with pytest.raises(ValueError, match=r"\(Attention\).*hidden size 10 does not split into 4 heads"):
        run_graph(lambda g, v: _attention(g, v, q_num_heads=4, kv_num_heads=2), f3)
    with pytest.raises(ValueError, match=r"\(Attention\).*need the q_num_heads and kv_num_heads"):
        run_graph(lambda g, v: _attention(g, v), f3)
    bad = {"q": rnd(1, 2, 3, 8), "k": rnd(1, 2, 4, 8), "v": rnd(1, 2, 4, 8), "mask": rnd(2, 1, 3, 4)}
    with pytest.raises(ValueError, match=r"\(Attention\).*attn_mask \[2, 1, 3, 4\] does not broadcast"):
        run_graph(lambda g, v: _attention(g, v), bad)
    bad["mask"] = rnd(3, 5)
    with pytest.raises(ValueError, match=r"\(Attention\).*exceeds the total key length 4"):
        run_graph(lambda g, v: _attention(g, v), bad)
    with pytest.raises(ValueError, match=r"\(Attention\).*past_key and past_value must be given together"):
        run_graph(lambda g, v: g.op("Attention", v["q"], v["k"], v["v"], None, v["k"]), f4)


@pytest.mark.parametrize("dt", [np.float64, np.int16, np.uint16, np.uint32, np.uint64, np.int8, np.uint8])
def test_arithmetic_and_comparison_on_more_element_types(dt):
    # the element types models carry at their edges (format dtypes 8-13): in, computed on, out, unchanged
    rng = np.random.default_rng(3)
    a = rng.integers(1, 50, (3, 4)).astype(dt)
    b = rng.integers(1, 50, (1, 4)).astype(dt)
    with np.errstate(over="ignore"):
        want = [a + b, a * b, np.maximum(a, b), a > b, (a // b) if a.dtype.kind in "iu" else a / b]
    check_exact_both_paths(lambda g, v: [g.op("Add", v["a"], v["b"]), g.op("Mul", v["a"], v["b"]),
                                         g.op("Max", v["a"], v["b"]), g.op("Greater", v["a"], v["b"]),
                                         g.op("Div", v["a"], v["b"])], {"a": a, "b": b}, want)


def test_bf16_and_f64_casts():
    x = np.array([1.0, -2.5, 3.140625, 1e-3, 65504.0, -0.0], np.float32)
    bits = (x.view(np.uint32) + 0x7FFF + ((x.view(np.uint32) >> 16) & 1)) >> 16   # round to nearest even
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    outs, _ = run_graph(lambda g, v: [g.op("Cast", g.op("Cast", v["x"], to=16), to=1), g.op("Cast", v["x"], to=11)],
                        {"x": x})
    np.testing.assert_array_equal(outs[0], back)
    assert outs[1].dtype == np.float64
    np.testing.assert_array_equal(outs[1], x.astype(np.float64))


def test_f16_arithmetic_rounds_each_result_to_f16():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 5)).astype(np.float16), rng.standard_normal((1, 5)).astype(np.float16)
    want = [(a.astype(np.float32) + b.astype(np.float32)).astype(np.float16),
            (a.astype(np.float32) * b.astype(np.float32)).astype(np.float16)]
    check_exact_both_paths(lambda g, v: [g.op("Add", v["a"], v["b"]), g.op("Mul", v["a"], v["b"])], {"a": a, "b": b},
                           want)


# ---- bitwise ops, BitCast, IsInf / IsNaN, CumProd ----------------------------------------------------------

INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_bitwise_ops(dtype):
    info = np.iinfo(dtype)
    a = R.integers(info.min, info.max, (3, 5), endpoint=True, dtype=dtype)
    b = R.integers(info.min, info.max, (5,), endpoint=True, dtype=dtype)
    for op, fn in (("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)):
        check_exact_both_paths(lambda g, v: g.op(op, v["a"], v["b"]), {"a": a, "b": b}, fn(a, b))
    check_exact_both_paths(lambda g, v: g.op("BitwiseNot", v["a"]), {"a": a}, np.invert(a))
    bits = np.iinfo(dtype).bits
    s = R.integers(0, bits, (3, 5)).astype(dtype)
    check_exact_both_paths(lambda g, v: g.op("BitShift", v["a"], v["s"], direction="LEFT"), {"a": a, "s": s},
                           np.left_shift(a, s))
    check_exact_both_paths(lambda g, v: g.op("BitShift", v["a"], v["s"], direction="RIGHT"), {"a": a, "s": s},
                           np.right_shift(a, s))


def test_bitshift_out_of_range_and_errors():
    # shifts outside [0, width): the sign fill alone (ONNX 28), never C++'s undefined shift
    for dt in (np.int8, np.int32, np.uint16, np.uint64):
        bits = np.iinfo(dt).bits
        a = np.array([-8, 4, -1, 3] if np.issubdtype(dt, np.signedinteger) else [8, 4, 1, 3], dt)
        s = np.array([bits, bits + 1, 100 if bits > 8 else 127, 1], dt)
        if np.issubdtype(dt, np.signedinteger):
            s[1] = -1
        right = np.where((s < 0) | (s >= bits), np.where(a < 0, -1, 0), a >> np.clip(s, 0, bits - 1)).astype(dt)
        left = np.where((s < 0) | (s >= bits), 0, a << np.clip(s, 0, bits - 1)).astype(dt)
        check_exact_both_paths(lambda g, v: g.op("BitShift", v["a"], v["s"], direction="RIGHT"), {"a": a, "s": s}, right)
        check_exact_both_paths(lambda g, v: g.op("BitShift", v["a"], v["s"], direction="LEFT"), {"a": a, "s": s}, left)
    a = np.ones(3, np.uint8)
    with pytest.raises(ValueError, match=r"\(BitShift\).*direction must be LEFT or RIGHT"):
        run_graph(lambda g, v: g.op("BitShift", v["a"], v["a"], direction="UP"), {"a": a})
    with pytest.raises(ValueError, match=r"\(BitwiseAnd\).*inputs must be integers"):
        run_graph(lambda g, v: g.op("BitwiseAnd", v["x"], v["x"]), {"x": rnd(3)})
    with pytest.raises(ValueError, match=r"\(BitwiseOr\).*one element type"):
        run_graph(lambda g, v: g.op("BitwiseOr", v["a"], v["b"]), {"a": a, "b": np.ones(3, np.int8)})


@pytest.mark.parametrize("src,dst,to", [(np.float32, np.int32, 6), (np.int32, np.float32, 1), (np.float64, np.int64, 7),
                                        (np.int8, np.uint8, 2), (np.uint16, np.int16, 5), (np.bool_, np.uint8, 2)])
def test_bit_cast(src, dst, to):
    x = (R.standard_normal((2, 7)) * 100).astype(src)
    check_exact_both_paths(lambda g, v: g.op("BitCast", v["x"], to=to), {"x": x}, x.view(dst))
    with pytest.raises(ValueError, match=r"\(BitCast\).*widths differ"):
        run_graph(lambda g, v: g.op("BitCast", v["x"], to=11), {"x": rnd(3)})


def test_is_inf_is_nan():
    x = np.array([[1.0, np.inf, -np.inf, np.nan, 0.0, -3.0]], np.float32)
    for xs in (x, x.astype(np.float16), x.astype(np.float64)):
        check_exact_both_paths(lambda g, v: g.op("IsNaN", v["x"]), {"x": xs}, np.isnan(xs))
        check_exact_both_paths(lambda g, v: g.op("IsInf", v["x"]), {"x": xs}, np.isinf(xs))
        check_exact_both_paths(lambda g, v: g.op("IsInf", v["x"], detect_negative=0), {"x": xs}, np.isposinf(xs))
        check_exact_both_paths(lambda g, v: g.op("IsInf", v["x"], detect_positive=0), {"x": xs}, np.isneginf(xs))


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_cum_prod(axis, exclusive, reverse, dtype):
    x = R.integers(-3, 4, (3, 4)).astype(dtype)
    y = np.flip(x, axis) if reverse else x
    c = np.cumprod(y, axis=axis)
    if exclusive:
        c = np.concatenate([np.ones_like(np.take(c, [0], axis)), np.delete(c, -1, axis)], axis)
    want = (np.flip(c, axis) if reverse else c).astype(dtype)
    check_exact_both_paths(lambda g, v: g.op("CumProd", v["x"], g.const(np.array(axis, np.int64)),
                                             exclusive=exclusive, reverse=reverse), {"x": x}, want)


# ---- unary math, Swish, Shrink, SwiGLU -------------------------------------------------------------------

MORE_UNARY = {
    "Acos": (np.arccos, {}, 0.99), "Asin": (np.arcsin, {}, 0.99), "Atan": (np.arctan, {}, 4),
    "Atanh": (np.arctanh, {}, 0.99), "Asinh": (np.arcsinh, {}, 4), "Cosh": (np.cosh, {}, 3),
    "Sinh": (np.sinh, {}, 3), "Tan": (np.tan, {}, 1.2),
    "Acosh": (lambda x: np.arccosh(np.abs(x) + 1), {}, 4),
    "Swish": (lambda x: x / (1 + np.exp(-0.7 * x)), {"alpha": 0.7}, 4),
    "Shrink": (lambda x: np.where(x < -1.5, x + 0.5, np.where(x > 1.5, x - 0.5, 0)), {"lambd": 1.5, "bias": 0.5}, 4),
}


@pytest.mark.parametrize("op", sorted(MORE_UNARY))
def test_more_unary_math(op):
    fn, attrs, span = MORE_UNARY[op]
    x = np.clip(rnd(3, 37), -1, 1) * span
    if op == "Acosh":
        x = np.abs(x) + 1
        fn = np.arccosh
    check_both_paths(lambda g, v: g.op(op, v["x"], **attrs), {"x": x}, fn(x).astype(np.float32))


def test_swiglu():
    a, b = rnd(3, 8), rnd(3, 8)
    want = a / (1 + np.exp(-0.5 * a)) * b
    check_both_paths(lambda g, v: g.op("SwiGLU", v["a"], v["b"], alpha=0.5), {"a": a, "b": b}, want)
    (got,), _ = run_graph(lambda g, v: g.op("SwiGLU", v["a"], v["b"]),
                          {"a": a.astype(np.float16), "b": b.astype(np.float16)})
    a16, b16 = a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(got.astype(np.float32), a16 / (1 + np.exp(-a16)) * b16, rtol=2e-3, atol=2e-3)
    with pytest.raises(ValueError, match=r"\(SwiGLU\).*must have one shape"):
        run_graph(lambda g, v: g.op("SwiGLU", v["a"], v["b"]), {"a": a, "b": rnd(8)})


# ---- Hardmax, LpNormalization, MeanVarianceNormalization, EyeLike, ReverseSequence, Scatter ------------

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_hardmax(axis):
    x = R.integers(0, 4, (3, 4, 5)).astype(np.float32)    # ties: the first largest wins
    am = np.argmax(x, axis=axis)
    want = np.zeros_like(x)
    np.put_along_axis(want, np.expand_dims(am, axis), 1.0, axis)
    check_exact_both_paths(lambda g, v: g.op("Hardmax", v["x"], axis=axis), {"x": x}, want)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, -1])
def test_lp_normalization(p, axis):
    x = rnd(3, 4, 5)
    x[0, 0, :] = 0
    x[:, 0, 0] = 0                      # zero norms along either axis: zeros out
    with np.errstate(invalid="ignore"):
        want = x / np.linalg.norm(x, ord=p, axis=axis, keepdims=True) if p == 2 else \
            x / np.abs(x).sum(axis=axis, keepdims=True)
    want = np.nan_to_num(want)
    check_both_paths(lambda g, v: g.op("LpNormalization", v["x"], axis=axis, p=p), {"x": x}, want)
    with pytest.raises(ValueError, match=r"\(LpNormalization\).*p must be 1 or 2"):
        run_graph(lambda g, v: g.op("LpNormalization", v["x"], p=3), {"x": x})


@pytest.mark.parametrize("axes", [None, [0, 2, 3], [1], [-1, 0]])
def test_mean_variance_normalization(axes):
    x = rnd(2, 3, 4, 5, scale=3) + 1
    ax = tuple(a % 4 for a in (axes or [0, 2, 3]))
    m = x.mean(axis=ax, keepdims=True)
    want = (x - m) / (np.sqrt(((x - m) ** 2).mean(axis=ax, keepdims=True)) + 1e-9)
    attrs = {} if axes is None else {"axes": axes}
    check_both_paths(lambda g, v: g.op("MeanVarianceNormalization", v["x"], **attrs), {"x": x}, want)


@pytest.mark.parametrize("shape,k", [((3, 4), 0), ((4, 3), 1), ((3, 5), -2), ((2, 2), 5)])
def test_eye_like(shape, k):
    x = np.zeros(shape, np.int32)
    check_exact_both_paths(lambda g, v: g.op("EyeLike", v["x"], k=k), {"x": x}, np.eye(*shape, k=k, dtype=np.int32))
    check_exact_both_paths(lambda g, v: g.op("EyeLike", v["x"], k=k, dtype=11), {"x": x}, np.eye(*shape, k=k))
    check_exact_both_paths(lambda g, v: g.op("EyeLike", v["x"], k=k, dtype=10), {"x": x},
                           np.eye(*shape, k=k, dtype=np.float16))


@pytest.mark.parametrize("time_axis", [0, 1])
def test_reverse_sequence(time_axis):
    x = R.integers(0, 99, (4, 4, 3)).astype(np.float32) if time_axis == 0 else rnd(4, 5, 2)
    batch_axis = 1 - time_axis
    steps = x.shape[time_axis]
    lens = np.array([steps, 1, 0, 2][: x.shape[batch_axis]], np.int64)
    want = x.copy()
    for b, n in enumerate(lens):
        idx = [slice(None)] * 3
        idx[batch_axis], idx[time_axis] = b, slice(0, n)
        want[tuple(idx)] = x[tuple(idx)][::-1]
    build = lambda g, v: g.op("ReverseSequence", v["x"], v["l"], time_axis=time_axis, batch_axis=batch_axis)  # noqa: E731
    check_exact_both_paths(build, {"x": x, "l": lens}, want)
    with pytest.raises(ValueError, match=r"\(ReverseSequence\).*sequence_lens\[0\] = 9 is outside"):
        run_graph(build, {"x": x, "l": np.full_like(lens, 9)})


def test_scatter_is_scatter_elements():
    data, idx, upd = np.zeros((3, 3), np.float32), np.array([[1, 0, 2], [0, 2, 1]], np.int64), rnd(2, 3)
    want = data.copy()
    np.put_along_axis(want, idx, upd, 0)
    check_exact_both_paths(lambda g, v: g.op("Scatter", v["d"], v["i"], v["u"]), {"d": data, "i": idx, "u": upd}, want)


# ---- LpPool, CenterCropPad, Col2Im, GridSample, RotaryEmbedding -----------------------------------------

@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("k,s,pads,dil", [((2, 2), (1, 1), (0, 0, 0, 0), (1, 1)), ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
                                          ((2, 2), (1, 1), (0, 0, 0, 0), (2, 2))])
def test_lp_pool(p, k, s, pads, dil):
    x = rnd(2, 3, 7, 6)
    xp = np.pad(np.abs(x.astype(np.float64)) ** p, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[2] - dil[0] * (k[0] - 1) - 1) // s[0] + 1
    cols = F.unfold(t(xp), k, dilation=dil, stride=s).numpy().reshape(2, 3, k[0] * k[1], -1)
    want = (cols.sum(2) ** (1 / p)).reshape(2, 3, oh, -1)
    check_both_paths(lambda g, v: g.op("LpPool", v["x"], kernel_shape=list(k), strides=list(s), pads=list(pads),
                                       dilations=list(dil), p=p), {"x": x}, want)


def test_lp_pool_1d_and_same_upper():
    x = rnd(1, 2, 9)
    want = np.sqrt(np.stack([x[..., i:i + 2] ** 2 for i in range(8)], -1).sum(-2))
    check_both_paths(lambda g, v: g.op("LpPool", v["x"], kernel_shape=[2], p=2), {"x": x}, want)
    xs = np.pad(x, ((0, 0), (0, 0), (0, 1)))                 # SAME_UPPER: one pad at the end
    want = np.sqrt(np.stack([xs[..., i:i + 2] ** 2 for i in range(9)], -1).sum(-2))
    check_both_paths(lambda g, v: g.op("LpPool", v["x"], kernel_shape=[2], p=2, auto_pad="SAME_UPPER"), {"x": x}, want)


def _center_crop_pad_ref(x, shape, axes):
    out = x
    for a, n in zip(axes, shape):
        d = out.shape[a]
        if n < d:
            out = np.take(out, range((d - n) // 2, (d - n) // 2 + n), a)
        elif n > d:
            pw = [(0, 0)] * out.ndim
            pw[a] = ((n - d) // 2, n - d - (n - d) // 2)
            out = np.pad(out, pw)
    return out


@pytest.mark.parametrize("xs,shape,axes", [((5, 6, 3), (3, 9), [0, 1]), ((5, 6, 3), (8, 2, 3), None),
                                           ((3, 7, 4), (4, 3), [-2, -1])])
def test_center_crop_pad(xs, shape, axes):
    x = R.integers(1, 99, xs).astype(np.int64)
    ax = [a % len(xs) for a in (axes if axes is not None else range(len(xs)))]
    attrs = {} if axes is None else {"axes": axes}
    check_exact_both_paths(lambda g, v: g.op("CenterCropPad", v["x"], g.const(np.array(shape, np.int64)), **attrs),
                           {"x": x}, _center_crop_pad_ref(x, shape, ax))


@pytest.mark.parametrize("img,blk,s,pads,dil", [((5, 5), (2, 2), (1, 1), (0, 0, 0, 0), (1, 1)),
                                                ((6, 7), (3, 2), (2, 1), (1, 0, 1, 1), (1, 2))])
def test_col2im(img, blk, s, pads, dil):
    padding = (pads[0], pads[1]) if pads[:2] == pads[2:] else None
    x_img = rnd(2, 3, *img)
    # fold(unfold(x)) as the oracle needs symmetric pads: use torch's fold on random columns instead
    cols = F.unfold(t(x_img), blk, dilation=dil, padding=padding or 0, stride=s).numpy() if padding else None
    if cols is None:
        xp = np.pad(x_img, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
        cols = F.unfold(t(xp), blk, dilation=dil, stride=s).numpy()
        full = F.fold(t(cols), (img[0] + pads[0] + pads[2], img[1] + pads[1] + pads[3]), blk, dilation=dil,
                      stride=s).numpy()
        want = full[:, :, pads[0]:pads[0] + img[0], pads[1]:pads[1] + img[1]]
    else:
        want = F.fold(t(cols), img, blk, dilation=dil, padding=padding, stride=s).numpy()
    check_both_paths(lambda g, v: g.op("Col2Im", v["c"], g.const(np.array(img, np.int64)),
                                       g.const(np.array(blk, np.int64)), strides=list(s), pads=list(pads),
                                       dilations=list(dil)), {"c": cols}, want)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample(mode, padding, align):
    x, grid = rnd(2, 3, 5, 6), np.clip(rnd(2, 4, 7, 2) * 0.8, -1.4, 1.4)
    if mode == "nearest":
        grid = np.round(grid * 8) / 8 + 0.013          # stay off the rounding ties
    if mode == "bicubic" and padding != "zeros":
        # PyTorch folds each bicubic tap, not the coordinate: ONNX's reference is the oracle here
        from onnx import TensorProto, helper
        from onnx.reference import ReferenceEvaluator
        node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode=padding,
                                align_corners=align)
        vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("x", "g", "y")]
        model = helper.make_model(helper.make_graph([node], "gs", vi[:2], vi[2:]),
                                  opset_imports=[helper.make_opsetid("", 20)])
        want = ReferenceEvaluator(model).run(None, {"x": x, "g": grid})[0]
    else:
        want = F.grid_sample(t(x), t(grid), mode=mode, padding_mode=padding, align_corners=bool(align)).numpy()
    check_both_paths(lambda g, v: g.op("GridSample", v["x"], v["g"], mode=mode, padding_mode=padding,
                                       align_corners=align), {"x": x, "g": grid}, want, rel=1e-4)


def _rope_ref(x, cos, sin, pos, interleaved, rot):
    # x [B, S, H, D]; cos / sin [B, S, rot / 2]
    xr, rest = x[..., :rot], x[..., rot:]
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    x1, x2 = (xr[..., 0::2], xr[..., 1::2]) if interleaved else np.split(xr, 2, -1)
    re, im = c * x1 - s * x2, s * x1 + c * x2
    out = np.stack([re, im], -1).reshape(xr.shape) if interleaved else np.concatenate([re, im], -1)
    return np.concatenate([out, rest], -1)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rot", [0, 4])
@pytest.mark.parametrize("four_d", [True, False])
def test_rotary_embedding(interleaved, rot, four_d):
    B, S, H, D = 2, 3, 2, 8
    x = rnd(B, S, H, D)
    r = rot or D
    cache_c, cache_s = rnd(10, r // 2), rnd(10, r // 2)
    pos = R.integers(0, 10, (B, S)).astype(np.int64)
    want = _rope_ref(x, cache_c[pos], cache_s[pos], pos, interleaved, r)
    xin = x.transpose(0, 2, 1, 3).copy() if four_d else x.reshape(B, S, H * D)
    want = want.transpose(0, 2, 1, 3) if four_d else want.reshape(B, S, H * D)
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rot}
    if not four_d:
        attrs["num_heads"] = H
    check_both_paths(lambda g, v: g.op("RotaryEmbedding", v["x"], g.const(cache_c), g.const(cache_s), v["p"], **attrs),
                     {"x": xin, "p": pos}, want)
    # without position ids: the caches per batch and step
    check_both_paths(lambda g, v: g.op("RotaryEmbedding", v["x"], g.const(cache_c[pos]), g.const(cache_s[pos]), **attrs),
                     {"x": xin}, want)
    with pytest.raises(ValueError, match=r"\(RotaryEmbedding\).*position id 10 is outside"):
        run_graph(lambda g, v: g.op("RotaryEmbedding", v["x"], g.const(cache_c), g.const(cache_s), v["p"], **attrs),
                  {"x": xin, "p": np.full_like(pos, 10)})


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_volumetric(mode, padding, align):
    x, grid = rnd(2, 2, 3, 4, 5), np.clip(rnd(2, 2, 3, 4, 3) * 0.8, -1.4, 1.4)
    if mode == "nearest":
        grid = np.round(grid * 8) / 8 + 0.013
    want = F.grid_sample(t(x), t(grid), mode=mode, padding_mode=padding, align_corners=bool(align)).numpy()
    check_both_paths(lambda g, v: g.op("GridSample", v["x"], v["g"], mode=mode, padding_mode=padding,
                                       align_corners=align), {"x": x, "g": grid}, want)
    with pytest.raises(ValueError, match=r"\(GridSample\).*grid must be"):
        run_graph(lambda g, v: g.op("GridSample", v["x"], v["g"]), {"x": x, "g": grid[..., :2]})


def test_new_ops_refuse_bad_input_naming_the_node():
    x = rnd(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"\(GridSample\).*unsupported mode 'area'"):
        run_graph(lambda g, v: g.op("GridSample", v["x"], v["x"], mode="area"), {"x": x})
    with pytest.raises(ValueError, match=r"\(LpPool\).*unsupported auto_pad"):
        run_graph(lambda g, v: g.op("LpPool", v["x"], kernel_shape=[2, 2], auto_pad="SAME"), {"x": x})
    with pytest.raises(ValueError, match=r"\(EyeLike\).*must be 2-D"):
        run_graph(lambda g, v: g.op("EyeLike", v["x"]), {"x": x})
    with pytest.raises(ValueError, match=r"\(CenterCropPad\).*shape has 1 values for 4 axes"):
        run_graph(lambda g, v: g.op("CenterCropPad", v["x"], g.const(np.array([2], np.int64))), {"x": x})
    with pytest.raises(ValueError, match=r"\(Col2Im\).*too large"):
        run_graph(lambda g, v: g.op("Col2Im", v["c"], g.const(np.array([1 << 20] * 3, np.int64)),
                                    g.const(np.array([1, 1, 1], np.int64))), {"c": rnd(1, 1, 1)})
    with pytest.raises(ValueError, match=r"\(RotaryEmbedding\).*needs num_heads"):
        run_graph(lambda g, v: g.op("RotaryEmbedding", v["x"], g.const(rnd(4, 2)), g.const(rnd(4, 2)), v["p"]),
                  {"x": rnd(1, 2, 8), "p": np.zeros((1, 2), np.int64)})
    big_k = np.zeros((2, 3), np.int32)
    check_exact_both_paths(lambda g, v: g.op("EyeLike", v["x"], k=(1 << 63) - 1), {"x": big_k}, np.zeros_like(big_k))
