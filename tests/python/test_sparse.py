"""Sparse weights executed as stored: a csr 1x1 convolution (channels first) runs the sparse x dense kernel,
a csr Linear the sparse matrix-vector kernel; both match numpy on the decoded weights, the 1x1 path bit for bit
with its reference, for f32 and i8 values and block shapes."""
import numpy as np
import pytest

from pyruntime import Graph, Session

RNG = np.random.default_rng(0)


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
        assert s.describe()[0]["kernel"].startswith("spmv-" if m <= 16 else "gemm-")


# ---- pruning and sparse storage at export (export/sparsity.py) ----

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


def test_prune_global_and_errors(tmp_path):
    from pyruntime.export import ExportError, onnx_to_ir
    from pyruntime.export.sparsity import prune, sparsity, weight_layers
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
    for opts, msg in ((dict(prune=0.5, prune_structure="channel"), "channel.*not implemented yet"),
                      (dict(prune=1.5), "target sparsity in \\[0, 1\\)"), (dict(sparse="sometimes"), "unknown sparse mode"),
                      (dict(prune=0.5, prune_structure="4:2"), "N:M")):
        with pytest.raises(ExportError, match=msg):
            _export(net, x, tmp_path / "e.pyrt", **opts)
