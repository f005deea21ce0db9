"""Sparse weights executed as stored: a csr 1x1 convolution (channels first) runs the sparse x dense kernel,
a csr Linear the sparse matrix-vector kernel; both match numpy on the decoded weights, the 1x1 path bit for bit
with its reference, for f32 and i8 values and block shapes."""
import importlib.util

import numpy as np
import pytest

from pyruntime import Graph, Session

RNG = np.random.default_rng(0)
# Tests that build their model or reference with torch (export side); the rest need numpy alone and also run
# under qemu-aarch64 (tests/run_qemu_python.sh), where there is no torch.
with_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (export side)")


def pruned(shape, sparsity):
    w = RNG.standard_normal(shape).astype(np.float32)
    w[RNG.random(shape) < sparsity] = 0
    return w


def decoded(g_bytes, name):
    from pyruntime import Model
    import tempfile, os
    d = tempfile.mkdtemp()
    p = os.path.join(d, "m.pyrt")
    open(p, "wb").write(g_bytes)
    return Model(p).tensor(name)


@pytest.mark.parametrize("values,block", [("f32", (1, 1)), ("i8", (1, 1)), ("f32", (4, 1)), ("f32", (2, 4))])
@pytest.mark.parametrize("act", ["", "relu", "sigmoid"])
def test_sparse_1x1_conv(values, block, act):
    cin, cout, h, w = 24, 40, 7, 13
    wt = pruned((cout, cin, 1, 1), 0.85)
    b = RNG.standard_normal(cout).astype(np.float32)
    x = RNG.standard_normal((2, cin, h, w)).astype(np.float32)
    g = Graph("sp")
    xi = g.input("x", list(x.shape))
    attrs = {"activation": act} if act else {}
    y = g.op("Conv", xi, g.const(wt, "w", "csr", values=values, block=block), g.const(b, "b"), **attrs)
    g.output(y, "y")
    blob = g.to_bytes()
    wd = decoded(blob, "w").reshape(cout, cin)
    want = np.einsum("oc,nchw->nohw", wd.astype(np.float64), x.astype(np.float64)) + b[None, :, None, None]
    if act == "relu":
        want = np.maximum(want, 0)
    if act == "sigmoid":
        want = 1 / (1 + np.exp(-want))
    outs = {}
    for ref in (False, True):
        s = Session(blob, force_reference=ref)
        outs[ref] = s.run(x)[0]
        assert s.describe()[0]["kernel"].startswith("spmm-")
    if act != "sigmoid":   # the exp-based activations are the one non-bit-exact SIMD family
        assert np.array_equal(outs[False], outs[True])
    for o in outs.values():
        np.testing.assert_allclose(o, want, rtol=1e-4, atol=1e-4)


@with_torch
@pytest.mark.parametrize("k,pads,values,act", [(3, [1, 1, 1, 1], "f32", "relu"), (3, [0, 0, 0, 0], "i8", ""),
                                               (5, [2, 1, 0, 2], "f32", "sigmoid"), (1, [1, 0, 1, 0], "f32", "")])
def test_sparse_kxk_conv(k, pads, values, act):
    """A csr kxk convolution (stride 1) runs the sparse kernel on the padded planes: torch's result, and the
    same bits on every table."""
    import torch
    cin, cout, h, w = 12, 20, 9, 11
    wt = pruned((cout, cin, k, k), 0.8)
    b = RNG.standard_normal(cout).astype(np.float32)
    x = RNG.standard_normal((2, cin, h, w)).astype(np.float32)
    g = Graph("sp")
    y = g.op("Conv", g.input("x", list(x.shape)), g.const(wt, "w", "csr", values=values), g.const(b, "b"),
             kernel_shape=[k, k], pads=pads, **({"activation": act} if act else {}))
    g.output(y, "y")
    blob = g.to_bytes()
    wd = torch.from_numpy(decoded(blob, "w").astype(np.float64))
    xp = torch.nn.functional.pad(torch.from_numpy(x.astype(np.float64)), (pads[1], pads[3], pads[0], pads[2]))
    want = torch.nn.functional.conv2d(xp, wd, torch.from_numpy(b.astype(np.float64))).numpy()
    want = np.maximum(want, 0) if act == "relu" else 1 / (1 + np.exp(-want)) if act == "sigmoid" else want
    outs = {}
    for ref in (False, True):
        s = Session(blob, force_reference=ref, num_threads=2)
        outs[ref] = s.run(x)[0]
        assert s.describe()[0]["kernel"].startswith("spmm-")
    if act != "sigmoid":
        assert np.array_equal(outs[False], outs[True])
    for o in outs.values():
        np.testing.assert_allclose(o, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("m", [1, 3, 20])
@pytest.mark.parametrize("values", ["f32", "i8"])
def test_sparse_linear(m, values):
    k, n = 300, 70
    wt = pruned((n, k), 0.9)
    b = RNG.standard_normal(n).astype(np.float32)
    x = RNG.standard_normal((m, k)).astype(np.float32)
    g = Graph("sp")
    y = g.op("Gemm", g.input("x", [m, k]), g.const(wt, "w", "csr", values=values), g.const(b, "b"), transB=1)
    g.output(y, "y")
    blob = g.to_bytes()
    want = x.astype(np.float64) @ decoded(blob, "w").astype(np.float64).T + b
    for ref in (False, True):
        s = Session(blob, force_reference=ref)
        np.testing.assert_allclose(s.run(x)[0], want, rtol=1e-4, atol=1e-4)
        assert s.describe()[0]["kernel"].startswith("spmv-" if m <= 16 else "spmm-rows-")


@pytest.mark.parametrize("act", [None, "relu"])
def test_sparse_linear_many_rows_matches_the_dense_gemm(act):
    """More rows than the spmv takes run the spmm on the transposed rows, on the csr weight as stored (no f32 form
    of it: nothing prepared for the plan): each output is one FMA chain over the nonzeros in k order, the dense
    GEMM's chain on the decoded weight (its zeros add nothing) except that the spmm starts it from the bias and
    the GEMM adds the bias last: a rounding apart."""
    k, n, m = 200, 90, 40
    wt = pruned((n, k), 0.85)
    b = RNG.standard_normal(n).astype(np.float32)
    x = RNG.standard_normal((m, k)).astype(np.float32)
    outs = {}
    for enc in ("csr", "dense"):
        g = Graph("sp")
        y = g.op("Gemm", g.input("x", [m, k]), g.const(wt, "w", enc), g.const(b, "b"), transB=1, activation=act)
        g.output(y, "y")
        s = Session(g.to_bytes(), num_threads=2)
        outs[enc] = s.run(x)[0]
        if enc == "csr":
            assert s.describe()[0]["kernel"].startswith("spmm-rows-") and s.prepared_bytes == 0
    np.testing.assert_allclose(outs["csr"], outs["dense"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["conv1x1", "conv3x3", "linear"])
def test_plain_csr_runs_in_place(op):
    """A plain csr weight (f32 values, u16 columns: what the exporter writes for a pruned f32 layer) is read by
    the sparse kernels from the file's own buffers: the session holds only its row order beside them, and the
    result is the one of a blocked csr weight (repacked: same nonzeros, same order of sums) bit for bit."""
    cin, cout = 96, 160
    shape = {"conv1x1": (cout, cin, 1, 1), "conv3x3": (cout, cin, 3, 3), "linear": (cout, cin)}[op]
    wt = pruned(shape, 0.8)
    x = RNG.standard_normal((1, cin, 9, 11) if op != "linear" else (2, cin)).astype(np.float32)
    outs, held = {}, {}
    for block in ((1, 1), (2, 1)):
        g = Graph("sp")
        w = g.const(wt, "w", "csr", block=block)
        if op == "linear":
            y = g.op("Gemm", g.input("x", list(x.shape)), w, transB=1)
        else:
            y = g.op("Conv", g.input("x", list(x.shape)), w, kernel_shape=list(shape[2:]),
                     pads=[1, 1, 1, 1] if op == "conv3x3" else [0, 0, 0, 0])
        g.output(y, "y")
        s = Session(g.to_bytes(), force_reference=True)
        outs[block] = s.run(x)[0]
        d = s.describe()[0]
        assert d["kernel"].startswith("spmv-" if op == "linear" else "spmm-")
        held[block] = d["resident_bytes"], d["stored_bytes"]
    assert np.array_equal(outs[(1, 1)], outs[(2, 1)])
    assert held[(1, 1)][0] <= held[(1, 1)][1] + 4 * cout + 256   # the file's buffers and the row order only
    assert held[(2, 1)][0] >= 6 * int(np.count_nonzero(wt))       # repacked: f32 values and u16 columns


# ---- pruning and sparse storage at export (exporters/sparsity.py) ----

def _pointwise_net():
    import torch
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 1),
                               torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 1), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()


def _export(model, x, path, **opts):
    import torch
    import pyruntime
    return pyruntime.export(model, (torch.from_numpy(x),), str(path), **opts)


@with_torch
def test_prune_and_sparse_auto(tmp_path):
    from pyruntime import Model
    net = _pointwise_net()
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    n_sparse = _export(net, x, tmp_path / "s.pyrt", prune=0.9)
    n_dense = _export(net, x, tmp_path / "d.pyrt", prune=0.9, sparse="never")
    assert n_sparse < 0.5 * n_dense
    enc = {t.name: t.encoding for t in Model(str(tmp_path / "s.pyrt")).tensors}
    assert list(enc.values()).count("csr") == 3 and "dense" in enc.values()   # 2 pointwise convs + the Linear
    s, d = Session(str(tmp_path / "s.pyrt")), Session(str(tmp_path / "d.pyrt"))
    np.testing.assert_allclose(s.run(x)[0], d.run(x)[0], rtol=1e-4, atol=1e-5)
    kernels = [e["kernel"] for e in s.describe()]
    assert kernels.count("spmm-" + s.isa) == 2 and "spmv-" + s.isa in kernels
    assert not any("nhwc" in k for k in kernels)   # the sparse 1x1 convs run channels-first, and the rest with them
    # each pruned weight is at the target
    m = Model(str(tmp_path / "d.pyrt"))
    for t in m.tensors:
        if t.dtype == "f32" and len(t.shape) >= 2 and t.numel >= 64 * 64:
            w = m.tensor(t.name)
            assert abs((w == 0).mean() - 0.9) < 0.01, t.name


@with_torch
def test_prune_kxk_conv_runs_sparse(tmp_path):
    """A pruned 3x3 convolution (stride 1) is stored csr and runs the sparse kernel channels-first."""
    import torch
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, padding=1),
                              torch.nn.ReLU(), torch.nn.Conv2d(32, 8, 3, stride=2)).eval()
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    _export(net, x, tmp_path / "s.pyrt", prune=0.9, sparse="always")
    _export(net, x, tmp_path / "d.pyrt", prune=0.9, sparse="never")
    s, d = Session(str(tmp_path / "s.pyrt")), Session(str(tmp_path / "d.pyrt"))
    np.testing.assert_allclose(s.run(x)[0], d.run(x)[0], rtol=1e-4, atol=1e-5)
    kernels = [e["kernel"] for e in s.describe()]
    assert kernels.count("spmm-" + s.isa) == 1   # the stride-2 conv has no sparse kernel: decoded at load


@with_torch
def test_export_stores_csr_where_the_runtime_runs_sparse(tmp_path):
    """One decision (csrc/ops/sparse_support.h): the exporter asks the runtime which layers have a sparse kernel,
    so with sparse="auto" every csr weight runs on a sparse kernel and no weight that could stays dense."""
    import torch
    from pyruntime import Model
    from pyruntime import _core
    assert _core.sparse_kernel("Conv", [8, 8, 1, 1], {"dilations": [2, 2]}) == "conv1x1"   # 1x1: dilation moot
    assert _core.sparse_kernel("Conv", [8, 8, 3, 3], {"dilations": [2, 2]}) is None
    assert _core.sparse_kernel("Conv", [8, 8, 3, 3], {"pads": [1, 1, 1, 1]}) == "convkxk"
    assert _core.sparse_kernel("Conv", [8, 8, 1, 1], {"layout": "NHWC"}) is None
    assert _core.sparse_kernel("Gemm", [8, 8], {"transB": 1, "alpha": 2.0}) is None
    assert _core.sparse_kernel("QLinearConv", [1, 1, 3, 3], {}) is None                     # runs depthwise
    torch.manual_seed(2)
    c = torch.nn.Conv2d
    net = torch.nn.Sequential(c(3, 16, 3, padding=1), torch.nn.ReLU(), c(16, 16, 1, dilation=2), torch.nn.ReLU(),
                              c(16, 16, 3, padding=2, dilation=2), torch.nn.ReLU(), c(16, 16, 3, padding=1),
                              torch.nn.ReLU(), c(16, 16, 3, stride=2), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(16, 10)).eval()
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    _export(net, x, tmp_path / "s.pyrt", prune=0.9)
    _export(net, x, tmp_path / "d.pyrt", prune=0.9, sparse="never")
    csr = [t.name for t in Model(str(tmp_path / "s.pyrt")).tensors if t.encoding == "csr"]
    s, d = Session(str(tmp_path / "s.pyrt")), Session(str(tmp_path / "d.pyrt"))
    np.testing.assert_allclose(s.run(x)[0], d.run(x)[0], rtol=1e-4, atol=1e-5)
    kernels = [e["kernel"] for e in s.describe()]
    # the 1x1 dilated and the padded 3x3 convs and the Linear; not the dilated 3x3, the strided one or the stem
    assert len(csr) == 3 and kernels.count("spmm-" + s.isa) == 2 and kernels.count("spmv-" + s.isa) == 1


@with_torch
def test_prune_2_4_matches_masked_torch(tmp_path):
    import torch
    from pyruntime.compress import nm_mask
    net = _pointwise_net()
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    _export(net, x, tmp_path / "p.pyrt", prune=0.5, prune_structure="2:4", sparse="always")
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.Linear) or (isinstance(mod, torch.nn.Conv2d) and mod.in_channels > 3):
                mod.weight.copy_(torch.from_numpy(np.where(nm_mask(mod.weight.numpy()), mod.weight.numpy(), 0)))
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(Session(str(tmp_path / "p.pyrt")).run(x)[0], want, rtol=1e-4, atol=1e-4)
    w = nm_mask(RNG.standard_normal((8, 10)), 2, 4)
    assert w[:, :8].reshape(8, 2, 4).sum(2).max() == 2 and w[:, 8:].sum(1).max() == 2


@with_torch
def test_prune_global_and_errors(tmp_path):
    from pyruntime.exporters import ExportError, onnx_to_ir
    from pyruntime.exporters.sparsity import prune, sparsity, weight_layers
    import io, torch, warnings
    net = _pointwise_net()
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.from_numpy(x),), buf, dynamo=False, opset_version=17)
    ir = prune(onnx_to_ir(buf.getvalue(), channels_last=False), 0.8, scope="global")
    ws = [ir.consts[c] for _, c, _ in weight_layers(ir)]
    total = sum((w == 0).sum() for w in ws) / sum(w.size for w in ws)
    assert abs(total - 0.8) < 0.01 and len({round(sparsity(w), 2) for w in ws}) > 1   # layers differ
    for opts, msg in ((dict(prune=0.5, prune_structure="filter"), "'unstructured', 'channel' or 'N:M'"),
                      (dict(prune=1.5), "target sparsity in \\[0, 1\\)"), (dict(sparse="sometimes"), "unknown sparse mode"),
                      (dict(prune=0.5, prune_structure="4:2"), "N:M")):
        with pytest.raises(ExportError, match=msg):
            _export(net, x, tmp_path / "e.pyrt", **opts)


# ---- sparse int8: QLinearConv / QGemm with csr s8 weights (static int8 of a pruned model) ----

def _q(g, s, z):
    return g.const(np.array(s, np.float32)), g.const(np.array(z, np.uint8))


def _pruned_s8(shape, sparsity):
    w = RNG.integers(-127, 128, shape).astype(np.int8)
    w[RNG.random(shape) < sparsity] = 0
    return w


def _int8_runs(build, inputs, threads=None):
    """{(csr, reference): (outputs, kernel names)} for a graph built with the weight dense and csr (s8 values)."""
    from graphs import run_graph
    out = {}
    for csr in (False, True):
        for ref in (False, True):
            o, s = run_graph(lambda g, v: build(g, v, csr), inputs, force_reference=ref, threads=threads)
            out[csr, ref] = o, [e["kernel"] for e in s.describe()]
    return out


@pytest.mark.parametrize("k,cin,cout,n,hw,act", [(1, 200, 37, 2, (5, 7), ""), (1, 300, 16, 1, (9, 9), "relu"),
                                                 (3, 24, 40, 1, (6, 5), ""), (1, 64, 64, 1, (1, 1), "relu6")])
def test_sparse_int8_conv_matches_dense(k, cin, cout, n, hw, act):
    """Exact int32 sums: the csr layer gives the dense layer's bits, on every table, any row/column tail."""
    w = _pruned_s8((cout, cin, k, k), 0.85)
    ws = (RNG.random(cout) * 0.02 + 0.001).astype(np.float32)
    b = RNG.integers(-5000, 5000, cout).astype(np.int32)
    x = RNG.standard_normal((n, *hw, cin)).astype(np.float32)
    attrs = dict(kernel_shape=[k, k], pads=[k // 2] * 4, layout="NHWC", **({"activation": act} if act else {}))

    def build(g, v, csr):
        s, z = _q(g, 0.03, 131)
        ys, yz = _q(g, 0.05, 90)
        wc = g.const(w, "w", "csr") if csr else g.const(w, "w")
        y = g.op("QLinearConv", g.op("QuantizeLinear", v["x"], s, z), s, z, wc, g.const(ws),
                 g.const(np.array(0, np.int8)), ys, yz, g.const(b), **attrs)
        return g.op("DequantizeLinear", y, ys, yz)

    runs = _int8_runs(build, {"x": x})
    want = runs[False, True][0][0]
    for key, (o, kernels) in runs.items():
        assert np.array_equal(o[0], want), key
        assert ("sqgemm-" in kernels[1]) == key[0], kernels
    assert np.abs(want).max() > 0


@pytest.mark.parametrize("m", [1, 5, 13])
@pytest.mark.parametrize("f32_out", [True, False])
def test_sparse_int8_qgemm_matches_dense(m, f32_out):
    kk, nn = 300, 70
    w = _pruned_s8((nn, kk), 0.9)
    ws = (RNG.random(nn) * 0.01 + 0.001).astype(np.float32)
    bias = RNG.integers(-900, 900, nn).astype(np.int32)
    x = RNG.standard_normal((m, kk)).astype(np.float32)

    def build(g, v, csr):
        s, z = _q(g, 0.02, 128)
        wc = g.const(w, "w", "csr") if csr else g.const(w, "w")
        tail = [] if f32_out else list(_q(g, 0.5, 100))
        y = g.op("QGemm", g.op("QuantizeLinear", v["x"], s, z), s, z, wc, g.const(ws), g.const(np.array(0, np.int8)),
                 g.const(bias), *tail, transB=1)
        return y

    runs = _int8_runs(build, {"x": x}, threads=2)
    want = runs[False, True][0][0]
    for key, (o, kernels) in runs.items():
        assert np.array_equal(o[0], want), key
        assert kernels[1].startswith("sqgemm-") == key[0], kernels


@with_torch
def test_prune_static_int8_runs_sparse(tmp_path):
    """prune + quantize="int8": the pruned s8 weights are stored csr and run on the sparse u8 kernel, with the
    dense export's outputs bit for bit."""
    from pyruntime import Model
    net = _pointwise_net()
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    cal = [RNG.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(4)]
    opts = dict(prune=0.9, quantize="int8", calibration=cal)
    n_sparse = _export(net, x, tmp_path / "s.pyrt", **opts)
    n_dense = _export(net, x, tmp_path / "d.pyrt", sparse="never", **opts)
    assert n_dense - n_sparse > 0.5 * (32 * 64 + 64 * 64 + 64 * 10)   # most of the s8 weights' bytes saved
    csr = [t for t in Model(str(tmp_path / "s.pyrt")).tensors if t.encoding == "csr"]
    assert len(csr) == 3 and all(t.dtype == "i8" for t in csr)
    s, d = Session(str(tmp_path / "s.pyrt")), Session(str(tmp_path / "d.pyrt"))
    assert np.array_equal(s.run(x)[0], d.run(x)[0])
    assert sum("sqgemm-" in e["kernel"] for e in s.describe()) == 3


def test_csr_s8_encoding_roundtrip():
    """An int8 tensor stored csr keeps its dtype (values "s8", no scales): both readers decode it exactly."""
    from pyruntime.format import encode, read
    w = _pruned_s8((33, 70), 0.8)
    g = Graph("rt")
    s, z = _q(g, 0.02, 128)
    y = g.op("QGemm", g.op("QuantizeLinear", g.input("x", [1, 70]), s, z), s, z, g.const(w, "w", "csr"),
             g.const(np.full(33, 0.01, np.float32)), g.const(np.array(0, np.int8)), transB=1)
    g.output(y, "y")
    blob = g.to_bytes()
    assert np.array_equal(decoded(blob, "w"), w)            # the C++ reader
    assert np.array_equal(read(blob).decode("w"), w)         # the Python reader
    e = encode(w, "csr")
    assert e.dtype == 3 and len(e.buffers) == 3 and len(e.buffers[2]) == np.count_nonzero(w)
    with pytest.raises(ValueError, match="need an int8 tensor"):
        encode(w.astype(np.float32), "csr", values="s8")
