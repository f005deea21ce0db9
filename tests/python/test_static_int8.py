"""Static int8 (quantize="int8"): the quantized operators against numpy's formulas (ONNX semantics), bit-exact
SIMD vs reference kernels, calibration methods, the exporter's rewrite and its errors, and the real
EfficientNet-Lite0 (top-1 agreement with fp32 on 60 photographs, file size)."""
import numpy as np
import pytest
import torch
from graphs import run_graph
from images import image_set
from nets import MobileNetV2, randomize_bn
from test_quantize import _efficientnet, onnx_blob

import pyruntime
from pyruntime import Graph, Model, Session
from pyruntime.exporters import ExportError, onnx_to_ir
from pyruntime.exporters.static_quant import _mse, _percentile, _qparams, quantize_static

torch.manual_seed(0)
RNG = np.random.default_rng(0)


def quant(x, s, z):
    return np.clip(np.rint(x / s) + z, 0, 255).astype(np.uint8)


def deq(q, s, z):
    return (q.astype(np.float32) - z) * np.float32(s)


def requant(acc, scale, zp, lo=0, hi=255):
    return np.clip(np.rint(acc.astype(np.float32) * np.float32(scale)) + zp, lo, hi).astype(np.uint8)


def qconsts(g, s, z):
    return g.const(np.array(s, np.float32)), g.const(np.array(z, np.uint8))


@pytest.mark.parametrize("k,stride,pad,group,cin,cout,act", [
    (1, 1, 0, 1, 16, 24, ""), (3, 2, 1, 1, 3, 8, "relu6"), (3, 1, 1, "dw", 20, 20, "relu"),
    (5, 2, 2, "dw", 33, 33, ""), (3, 1, 0, 1, 7, 40, "clip"), (1, 1, 0, 1, 1, 1, ""), (3, 1, 1, 1, 64, 17, "relu")])
def test_qlinear_conv_matches_numpy(k, stride, pad, group, cin, cout, act):
    g_ = cout if group == "dw" else 1
    x = RNG.standard_normal((2, 9, 11, cin)).astype(np.float32)
    w = RNG.integers(-127, 128, (cout, cin // g_, k, k)).astype(np.int8)
    ws = (RNG.random(cout) * 0.02 + 0.001).astype(np.float32)
    b = RNG.integers(-5000, 5000, cout).astype(np.int32)
    xs, xz, ys, yz = 0.03, 131, 0.05, 90
    attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=g_, layout="NHWC")
    if act:
        attrs["activation"] = act
        if act == "clip":
            attrs.update(activation_min=-1.0, activation_max=2.0)

    def build(g, v):
        s, z = qconsts(g, xs, xz)
        q = g.op("QuantizeLinear", v["x"], s, z)
        oys, oyz = qconsts(g, ys, yz)
        y = g.op("QLinearConv", q, s, z, g.const(w), g.const(ws), g.const(np.array(0, np.int8)), oys, oyz,
                 g.const(b), **attrs)
        return g.op("DequantizeLinear", y, oys, oyz)

    outs = {ref: run_graph(build, {"x": x}, force_reference=ref)[0][0] for ref in (False, True)}
    assert np.array_equal(outs[False], outs[True])   # integer kernels: bit-exact with the reference
    # numpy: exact integer convolution of (x - zx) with w, then requantization
    xq = quant(x, xs, xz).astype(np.int64) - xz
    xt = torch.from_numpy(xq.transpose(0, 3, 1, 2).astype(np.float64))
    acc = torch.nn.functional.conv2d(xt, torch.from_numpy(w.astype(np.float64)), stride=stride, padding=pad,
                                     groups=g_).numpy().transpose(0, 2, 3, 1)
    acc = np.rint(acc).astype(np.int64) + b
    lo, hi = 0, 255
    if act in ("relu", "relu6"):
        lo = yz
    if act == "relu6":
        hi = min(255, int(np.rint(6 / ys) + yz))
    if act == "clip":
        lo, hi = int(np.rint(-1 / ys) + yz), int(np.rint(2 / ys) + yz)
    scale = (np.float64(xs) * ws.astype(np.float64) / ys).astype(np.float32)
    want = deq(requant(acc, scale, yz, lo, hi), ys, yz)
    np.testing.assert_array_equal(outs[True], want)


def test_qlinear_add_gap_qgemm_match_numpy():
    a = RNG.standard_normal((1, 5, 6, 24)).astype(np.float32)
    b = RNG.standard_normal((1, 5, 6, 24)).astype(np.float32) * 2
    w = RNG.integers(-127, 128, (10, 24)).astype(np.int8)
    ws = (RNG.random(10) * 0.01 + 0.001).astype(np.float32)
    bias = RNG.integers(-900, 900, 10).astype(np.int32)
    sa, za, sb, zb, sc, zc, sg, zg = 0.02, 128, 0.04, 100, 0.05, 60, 0.03, 40

    def build(g, v):
        qa, qb, qc, qg = qconsts(g, sa, za), qconsts(g, sb, zb), qconsts(g, sc, zc), qconsts(g, sg, zg)
        xa = g.op("QuantizeLinear", v["a"], *qa)
        xb = g.op("QuantizeLinear", v["b"], *qb)
        c = g.op("QLinearAdd", xa, *qa, xb, *qb, *qc)
        p = g.op("QLinearGlobalAveragePool", c, *qc, *qg, layout="NHWC")
        f = g.op("Reshape", p, g.const(np.array([1, 24], np.int64)))
        y = g.op("QGemm", f, *qg, g.const(w), g.const(ws), g.const(np.array(0, np.int8)), g.const(bias), transB=1)
        return g.op("DequantizeLinear", c, *qc), y

    outs = {ref: run_graph(build, {"a": a, "b": b}, force_reference=ref)[0] for ref in (False, True)}
    for o, r in zip(outs[False], outs[True]):
        assert np.array_equal(o, r)
    qa, qb = quant(a, sa, za).astype(np.int32), quant(b, sb, zb).astype(np.int32)
    v = np.float32(sb / sc) * (qb - zb).astype(np.float32) + (qa - za).astype(np.float32) * np.float32(sa / sc)
    qc = np.clip(np.rint(v) + zc, 0, 255).astype(np.uint8)
    assert np.abs(outs[True][0] - deq(qc, sc, zc)).max() <= sc * 1.0001   # fma vs two roundings: <= 1 step
    qc = quant(outs[True][0], sc, zc)  # the kernel's own u8 result, recovered exactly
    s = qc.reshape(30, 24).astype(np.int32).sum(0) - 30 * zc
    qg = requant(s, np.float32(sc / (30 * sg)), zg)
    acc = (qg.astype(np.int32) - zg) @ w.T.astype(np.int32) + bias
    want = acc.astype(np.float32) * (np.float32(sg) * ws / np.float32(1.0)).astype(np.float32)
    np.testing.assert_allclose(outs[True][1][0], want, rtol=1e-6, atol=1e-6)


def test_quantized_ops_refuse_bad_input():
    w = np.ones((4, 3, 1, 1), np.int8)

    def conv(layout="NHWC", wzp=0, xdtype="q", **kw):
        def build(g, v):
            s, z = qconsts(g, 0.1, 0)
            x = g.op("QuantizeLinear", v["x"], s, z) if xdtype == "q" else v["x"]
            return g.op("QLinearConv", x, s, z, g.const(w), g.const(np.ones(4, np.float32)),
                        g.const(np.array(wzp, np.int8)), s, z, layout=layout, **kw)
        return build

    x = np.zeros((1, 2, 2, 3), np.float32)
    for build, msg in ((conv(layout="NCHW"), "channels-last only"), (conv(wzp=3), "w_zero_point must be 0"),
                       (conv(xdtype="f"), "x must be u8, got f32"), (conv(activation="sigmoid"), "fuses only relu"),
                       (conv(group=3), "group 1 and depthwise")):
        with pytest.raises(ValueError, match=msg) as e:
            run_graph(build, {"x": x})
        assert "QLinearConv" in str(e.value)


@pytest.fixture(scope="module")
def mobilenet():
    x = RNG.standard_normal((12, 3, 32, 32)).astype(np.float32)
    return onnx_blob(randomize_bn(MobileNetV2()), [x[:1]]), x


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_mobilenet_int8_close_to_float(mobilenet, tmp_path, method):
    blob, x = mobilenet
    cal = [x[i:i + 1] for i in range(8)]
    pyruntime.export_onnx(blob, tmp_path / "f.pyrt")
    pyruntime.export_onnx(blob, tmp_path / "q.pyrt", quantize="int8", calibration=cal, calibration_method=method)
    ops = {d["op_type"] for d in Session(str(tmp_path / "q.pyrt")).describe()}
    assert {"QuantizeLinear", "QLinearConv", "QLinearAdd", "QLinearGlobalAveragePool", "QGemm"} <= ops
    assert "Conv" not in ops and "DequantizeLinear" not in ops   # u8 from the first conv to the logits
    f, q, r = Session(str(tmp_path / "f.pyrt")), Session(str(tmp_path / "q.pyrt")), \
        Session(str(tmp_path / "q.pyrt"), force_reference=True)
    for i in range(8, 12):   # inputs not seen in calibration
        want, got = f.run(x[i:i + 1])[0], q.run(x[i:i + 1])[0]
        assert np.array_equal(got, r.run(x[i:i + 1])[0])
        assert np.abs(got - want).max() < 0.1 * np.abs(want).max(), method
    assert (tmp_path / "q.pyrt").stat().st_size < 0.35 * (tmp_path / "f.pyrt").stat().st_size


def test_calibration_ranges():
    h = np.zeros(2048)
    h[:2000] = 100
    h[2047] = 1       # one outlier at the top
    edges = np.linspace(-1.0, 10.0, 2049)
    lo, hi = _percentile(h, edges)
    assert -1.0 <= lo <= 0 and hi < 10.0 * 0.99
    lo2, hi2 = _mse(h, edges)
    assert hi2 < 10.0 and lo2 >= -1.0
    s, z = _qparams(0.0, 6.0)
    assert z == 0 and np.isclose(s, 6 / 255)
    s, z = _qparams(-1.0, 1.0)
    assert z in (127, 128)
    assert _qparams(0.0, 0.0) == (np.float32(1.0), np.uint8(0))


def test_int8_export_errors(mobilenet, tmp_path):
    blob, x = mobilenet
    p = tmp_path / "q.pyrt"
    with pytest.raises(ExportError, match="needs calibration data"):
        pyruntime.export_onnx(blob, p, quantize="int8")
    with pytest.raises(ExportError, match="calibration is empty"):
        pyruntime.export_onnx(blob, p, quantize="int8", calibration=[])
    with pytest.raises(ExportError, match="unknown calibration_method 'kl'"):
        pyruntime.export_onnx(blob, p, quantize="int8", calibration=[x[:1]], calibration_method="kl")
    with pytest.raises(ExportError, match="used by quantize='int8' only"):
        pyruntime.export_onnx(blob, p, quantize="int4", calibration=[x[:1]])
    with pytest.raises(ExportError, match="has 2 arrays; the model has 1 inputs"):
        pyruntime.export_onnx(blob, p, quantize="int8", calibration=[(x[:1], x[:1])])
    assert not p.exists()


def test_int8_keep_float(mobilenet, tmp_path):
    blob, x = mobilenet
    ir = onnx_to_ir(blob)
    first = next(n for n in ir.nodes if n.op == "Conv")
    q = quantize_static(ir, [x[:1], x[1:2]], keep=[first.name])
    ops = [n.op for n in q.nodes]
    assert ops.count("Conv") == 1 and "QLinearConv" in ops
    assert any(n.op == "QuantizeLinear" and n.inputs[0] == first.outputs[0] for n in q.nodes)


def test_efficientnet_lite0_static_int8(tmp_path):
    """Real weights, calibrated on the 5 whole sample photographs, evaluated on all 60 views: top-1 agreement
    with fp32 and the file size (ONNX Runtime's static QDQ int8 on the same data: bench/efficientnet_int8.py)."""
    x = image_set()
    blob = onnx_blob(_efficientnet(), [x[:1]], ["image"])
    pyruntime.export_onnx(blob, tmp_path / "f.pyrt")
    pyruntime.export_onnx(blob, tmp_path / "q.pyrt", quantize="int8", calibration=[x[i:i + 1] for i in range(0, 60, 12)])
    f, q = Session(str(tmp_path / "f.pyrt")), Session(str(tmp_path / "q.pyrt"))
    ref = np.array([f.run(x[i:i + 1])[0].argmax() for i in range(len(x))])
    got = np.array([q.run(x[i:i + 1])[0].argmax() for i in range(len(x))])
    agree = float((ref == got).mean())
    size = (tmp_path / "q.pyrt").stat().st_size / (tmp_path / "f.pyrt").stat().st_size
    print(f"\nEfficientNet-Lite0 static int8: top-1 agreement {agree:.3f}, size {size:.3f}x fp32")
    assert size <= 0.27 and agree >= 0.8


def test_activations_become_lookup_tables(tmp_path):
    """SiLU, hard-swish and sigmoid after int8 convolutions run as 256-entry tables between u8 layers."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(),
                              torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.Hardswish(),
                              torch.nn.Conv2d(8, 4, 1), torch.nn.Sigmoid()).eval()
    x = RNG.standard_normal((6, 3, 12, 12)).astype(np.float32)
    blob = onnx_blob(net, [x[:1]])
    pyruntime.export_onnx(blob, tmp_path / "q.pyrt", quantize="int8", calibration=[x[i:i + 1] for i in range(4)])
    s = Session(str(tmp_path / "q.pyrt"))
    ops = [d["op_type"] for d in s.describe()]
    assert ops.count("LookupTable") == 3 and ops.count("QLinearConv") == 3, ops
    for i in range(4, 6):
        want = net(torch.from_numpy(x[i:i + 1])).detach().numpy()
        assert np.abs(s.run(x[i:i + 1])[0] - want).max() < 0.03   # sigmoid outputs in [0, 1]: a few u8 steps


class _Branches(torch.nn.Module):
    """Conv, MaxPool, two branches joined by a channel Concat (an Inception / U-Net-like join)."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.a = torch.nn.Conv2d(8, 6, 1)
        self.b = torch.nn.Sequential(torch.nn.Conv2d(8, 10, 3, padding=1), torch.nn.ReLU6())
        self.head = torch.nn.Sequential(torch.nn.Conv2d(16, 12, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                        torch.nn.Linear(12, 5))

    def forward(self, x):
        s = self.stem(x)
        return self.head(torch.cat([self.a(s), self.b(s)], 1))


def test_maxpool_and_concat_stay_int8(tmp_path):
    net = _Branches().eval()
    x = RNG.standard_normal((6, 3, 16, 16)).astype(np.float32)
    blob = onnx_blob(net, [x[:1]])
    pyruntime.export_onnx(blob, tmp_path / "q.pyrt", quantize="int8", calibration=[x[i:i + 1] for i in range(4)])
    s, r = Session(str(tmp_path / "q.pyrt")), Session(str(tmp_path / "q.pyrt"), force_reference=True)
    for i in range(4, 6):
        want = net(torch.from_numpy(x[i:i + 1])).detach().numpy()
        got = s.run(x[i:i + 1])[0]
        assert np.array_equal(got, r.run(x[i:i + 1])[0])
        assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    d = s.describe()
    ops = [e["op_type"] for e in d]
    assert "Concat" in ops and "MaxPool" in ops and "DequantizeLinear" not in ops, ops
    assert any(e["op_type"] == "MaxPool" and "u8" in e["kernel"] for e in d)
    assert ops.count("LookupTable") >= 1   # a Concat input requantized to the Concat's range
