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
