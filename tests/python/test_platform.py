"""What a board must run, with numpy alone (this file also runs under qemu-aarch64, tests/run_qemu_python.sh):
small fp32, int8-weights, int4, static int8 and csr-sparse models against numpy on the decoded weights and
against the scalar reference kernels, and describe() naming the kernels of the table this CPU chose (NEON on
aarch64, AVX2/AVX-512 on x86_64)."""
import platform

import numpy as np
import pytest

from pyruntime import Graph, Session, _core

RNG = np.random.default_rng(7)


def run_both(blob: bytes, x: np.ndarray):
    """(output of the best table, output of the reference kernels, the best session)."""
    best = Session(blob, num_threads=2)
    ref = Session(blob, force_reference=True)
    return best.run(x)[0], ref.run(x)[0], best


def decoded(blob: bytes, name: str) -> np.ndarray:
    return _core.Model.from_buffer(blob).decode(name)


def linear(w, encoding, **options):
    n, k = w.shape
    g = Graph("linear")
    b = RNG.standard_normal(n).astype(np.float32)
    g.output(g.op("Gemm", g.input("x", [None, k]), g.const(w, "w", encoding, **options), g.const(b, "b"),
                  transB=1), "y")
    return g.to_bytes(), b


def test_the_chosen_table_is_this_machines():
    tables = list(_core.kernel_tables())
    assert _core.isa() == (tables[0] if tables else "ref")
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        assert tables and all(t.startswith("neon") for t in tables)
        assert _core.cpu_features()["neon"]
    elif machine in ("x86_64", "amd64") and _core.cpu_features()["avx2"]:
        assert tables[-1] == "avx2"


def test_fp32_conv_and_linear():
    x = RNG.standard_normal((2, 3, 12, 12)).astype(np.float32)
    w1 = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32)
    w2 = RNG.standard_normal((5, 8)).astype(np.float32)
    g = Graph("fp32")
    y = g.op("Conv", g.input("x", [None, 3, 12, 12]), g.const(w1), pads=[1, 1, 1, 1], activation="relu")
    y = g.op("Flatten", g.op("GlobalAveragePool", y))
    g.output(g.op("Gemm", y, g.const(w2), transB=1), "y")
    got, ref, s = run_both(g.to_bytes(), x)
    # numpy: the 3x3 convolution as a sum of shifted products
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = sum(np.einsum("nchw,oc->nohw", xp[:, :, i:i + 12, j:j + 12], w1[:, :, i, j])
               for i in range(3) for j in range(3))
    want = np.maximum(conv, 0).mean(axis=(2, 3)) @ w2.T.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    kernels = [d["kernel"] for d in s.describe()]
    assert kernels[0].endswith(s.isa) and s.isa != "ref", kernels


@pytest.mark.parametrize("rows", [1, 4, 40])
@pytest.mark.parametrize("encoding,options", [("i8", dict(axis=0)), ("i4", dict(group_size=32))])
def test_low_bit_linear(rows, encoding, options):
    """int8-weights and int4: activations quantized to int8 on the fly, integer dot products on the stored
    weights. Against numpy in f64 on the decoded weights, within what quantizing the activations costs (the
    reference kernels too: they quantize the activations of many rows differently)."""
    n, k = 48, 256
    w = RNG.standard_normal((n, k)).astype(np.float32)
    blob, b = linear(w, encoding, **options)
    x = RNG.standard_normal((rows, k)).astype(np.float32)
    got, ref, s = run_both(blob, x)
    want = x.astype(np.float64) @ decoded(blob, "w").astype(np.float64).T + b
    scale = np.abs(want).max()
    assert np.abs(got - want).max() < 0.02 * scale and np.abs(ref - want).max() < 0.02 * scale
    kernel = s.describe()[0]["kernel"]
    assert kernel.endswith(s.isa) and s.isa != "ref", kernel


@pytest.mark.parametrize("rows", [1, 24])
def test_sparse_linear_and_1x1_conv(rows):
    w = RNG.standard_normal((64, 96)).astype(np.float32)
    w[RNG.random(w.shape) < 0.85] = 0
    blob, b = linear(w, "csr")
    x = RNG.standard_normal((rows, 96)).astype(np.float32)
    got, ref, s = run_both(blob, x)
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.T.astype(np.float64) + b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert s.describe()[0]["kernel"].startswith(("spmv-", "spmm-")), s.describe()[0]["kernel"]

    g = Graph("sparse_conv")
    g.output(g.op("Conv", g.input("x", [1, 96, 6, 6]), g.const(w.reshape(64, 96, 1, 1), "w", "csr")), "y")
    x = RNG.standard_normal((1, 96, 6, 6)).astype(np.float32)
    got, ref, s = run_both(g.to_bytes(), x)
    want = np.einsum("oc,nchw->nohw", w.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got, ref)   # the sparse 1x1 kernels are bit-exact with their reference
    assert s.describe()[0]["kernel"].endswith(s.isa)


def test_static_int8_conv_is_bit_exact_with_numpy():
    """QuantizeLinear -> QLinearConv (1x1, NHWC) -> DequantizeLinear: integer arithmetic end to end."""
    cin, cout = 32, 24
    x = RNG.standard_normal((1, 5, 7, cin)).astype(np.float32)
    w = RNG.integers(-127, 128, (cout, cin, 1, 1)).astype(np.int8)
    ws = (RNG.random(cout) * 0.02 + 0.001).astype(np.float32)
    bias = RNG.integers(-3000, 3000, cout).astype(np.int32)
    xs, xz, ys, yz = np.float32(0.03), 128, np.float32(0.05), 100
    g = Graph("qconv")

    def qc(scale, zp):
        return g.const(np.array(scale, np.float32)), g.const(np.array(zp, np.uint8))
    s, z = qc(xs, xz)
    q = g.op("QuantizeLinear", g.input("x", [1, 5, 7, cin]), s, z)
    oys, oyz = qc(ys, yz)
    y = g.op("QLinearConv", q, s, z, g.const(w), g.const(ws), g.const(np.array(0, np.int8)), oys, oyz,
             g.const(bias), kernel_shape=[1, 1], layout="NHWC")
    g.output(g.op("DequantizeLinear", y, oys, oyz), "y")
    got, ref, sess = run_both(g.to_bytes(), x)
    np.testing.assert_array_equal(got, ref)
    xq = np.clip(np.rint(x / xs) + xz, 0, 255).astype(np.int64) - xz
    acc = xq @ w[:, :, 0, 0].T.astype(np.int64) + bias
    yq = np.clip(np.rint(acc * (np.float64(xs) * ws.astype(np.float64) / ys)) + yz, 0, 255)
    want = ((yq - yz) * ys).astype(np.float32)
    # requantization rounds in f32 in the kernels: at most one step off, on ties
    assert np.abs(got - want).max() <= ys * 1.001
    assert np.mean(got == want) > 0.99
    assert any(d["kernel"].endswith(sess.isa) for d in sess.describe())
