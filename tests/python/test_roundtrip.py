"""Writer -> C++ reader and pure reader -> numpy, for every encoding on random shapes and edge sizes.

Exact where the encoding is exact (f32, f16 values, integer codes, lut codes, csr structure), and within half a
quantization step of the original floats where it quantizes.
"""
import numpy as np
import pytest
from conftest import decode_both, open_both

from pyruntime.format import Writer, encode_lut_codes
from pyruntime.format.encode import matrix_view

SHAPES = [(1,), (7,), (1, 1), (1, 9), (9, 1), (3, 5), (16, 64), (5, 3, 3, 3), (2, 3, 4, 5, 2), (33, 31)]


def one(name, arr, encoding="dense", **opt) -> bytes:
    w = Writer()
    w.add_tensor(name, arr, encoding, **opt)
    return w.to_bytes()


def both_equal(blob, name):
    a, b = decode_both(blob, name)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)           # the two readers agree bit for bit
    return a


@pytest.mark.parametrize("shape", SHAPES + [(), (0,), (0, 4), (4, 0)])
def test_dense_exact(rng, shape):
    for dt in (np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64):
        a = (rng.standard_normal(shape) * 100).astype(dt)
        out = both_equal(one("t", a), "t")
        assert out.dtype == a.dtype
        np.testing.assert_array_equal(out, a)
    b = rng.random(shape) > 0.5
    np.testing.assert_array_equal(both_equal(one("b", b), "b"), b)


@pytest.mark.parametrize("shape", SHAPES)
def test_f16_storage(rng, shape):
    a = (rng.standard_normal(shape) * 10).astype(np.float32)
    out = both_equal(one("t", a, "f16"), "t")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a.astype(np.float16).astype(np.float32))   # exact widening of the stored f16


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("zp", [False, True])
def test_i8(rng, shape, axis, zp):
    ax = None if axis is None else (len(shape) - 1 if axis == -1 else axis)
    a = (rng.standard_normal(shape) * rng.uniform(0.01, 10)).astype(np.float32) + (1.0 if zp else 0.0)
    blob = one("t", a, "i8", axis=ax, zero_point=zp)
    out = both_equal(blob, "t")
    _, pure = open_both(blob)
    s = pure._bytes(pure.tensor_info("t").extents[1]).view("<f4")
    scale = s[0] if ax is None else s.reshape([-1 if i == ax else 1 for i in range(len(shape))])
    # within half a step (plus f32 rounding of the product)
    assert np.all(np.abs(out - a) <= scale * (0.5 + 1e-5) + 1e-7)
    q = pure._bytes(pure.tensor_info("t").extents[0]).view(np.int8)
    assert q.min() >= (-128 if zp else -127)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("group", [16, 32, 128])
@pytest.mark.parametrize("signed,sdt", [(True, "f16"), (True, "f32"), (False, "f16"), (False, "f32")])
def test_i4(rng, shape, group, signed, sdt):
    a = rng.standard_normal(shape).astype(np.float32) * 3
    blob = one("t", a, "i4", group_size=group, signed=signed, scale_dtype=sdt)
    out = both_equal(blob, "t")
    _, pure = open_both(blob)
    rows, cols = matrix_view(a.shape)
    ng = -(-cols // group)
    s = pure._bytes(pure.tensor_info("t").extents[1]).view("<f4" if sdt == "f32" else "<f2").astype(np.float64)
    step = np.repeat(s.reshape(rows, ng), group, axis=1)[:, :cols].reshape(a.shape)
    assert np.all(np.abs(out - a) <= step * (0.5 + 1e-5) + 1e-7)


def sparse(rng, shape, density):
    a = rng.standard_normal(shape).astype(np.float32)
    a[rng.random(shape) >= density] = 0
    return a


CSR_CASES = [((1, 40), 0.3), ((40, 1), 0.3), ((13, 17), 0.0), ((13, 17), 1.0), ((13, 17), 0.2),
             ((64, 100), 0.05), ((8, 4, 3, 3), 0.3), ((3, 70000), 0.001), ((1,), 1.0), ((5,), 0.5)]


@pytest.mark.parametrize("shape,density", CSR_CASES)
@pytest.mark.parametrize("block", [(1, 1), (1, 4), (4, 1), (2, 8)])
def test_csr_f32_exact(rng, shape, density, block):
    a = sparse(rng, shape, density)
    if len(shape) > 1 and shape[0] > 5:
        a[shape[0] // 2] = 0                                   # an empty row
    blob = one("t", a, "csr", block=block)
    np.testing.assert_array_equal(both_equal(blob, "t"), a)
    _, pure = open_both(blob)
    t = pure.tensor_info("t")
    bcols = -(-matrix_view(shape)[1] // block[1])
    assert t.params["index_width"] == (2 if bcols <= 65536 else 4)


def test_csr_u32_forced_and_structure(rng):
    a = sparse(rng, (6, 50), 0.3)
    np.testing.assert_array_equal(both_equal(one("t", a, "csr", index_width=4), "t"), a)
    _, pure = open_both(one("t", a, "csr"))
    t = pure.tensor_info("t")
    assert t.params["nnzb"] == np.count_nonzero(a)
    rp = pure._bytes(t.extents[0]).view("<u4")
    np.testing.assert_array_equal(np.diff(rp), np.count_nonzero(a, axis=1))


@pytest.mark.parametrize("shape,density", CSR_CASES)
@pytest.mark.parametrize("values", ["i8", "i4"])
@pytest.mark.parametrize("block", [(1, 1), (4, 4)])
def test_csr_quantized(rng, shape, density, values, block):
    a = sparse(rng, shape, density)
    out = both_equal(one("t", a, "csr", values=values, block=block, group_size=16), "t")
    assert np.all(out[a == 0] == 0)                  # structure is exact: zeros stay zero
    rows, cols = matrix_view(shape)
    m = np.abs(a.reshape(rows, cols))
    # step bound: the i8 scale is the row's amax/127; an i4 group lies inside one block row (br logical
    # rows), so its scale is at most that band's amax/7
    amax = m.max(axis=1, keepdims=True) if cols else np.zeros((rows, 1))
    if values == "i4":
        br = block[0]
        band = np.repeat([amax[i:i + br].max() for i in range(0, rows, br)], br)[:rows]
        amax = band.reshape(rows, 1)
    bound = amax / (127 if values == "i8" else 7) * (0.5 + 1e-5) + 1e-7
    assert np.all(np.abs(out.reshape(rows, cols) - a.reshape(rows, cols)) <= bound)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bits,k", [(4, 1), (4, 16), (8, 17), (8, 256)])
@pytest.mark.parametrize("per_channel", [False, True])
def test_lut_codes_exact(rng, shape, bits, k, per_channel):
    idx = rng.integers(0, k, shape)
    nb = shape[0] if per_channel else 1
    books = rng.standard_normal((nb, k)).astype(np.float32)
    for cdt in ("f32", "f16"):
        enc = encode_lut_codes(idx, books if per_channel else books[0], axis=0 if per_channel else None,
                               index_bits=bits, codebook_dtype=cdt)
        w = Writer()
        w.add_tensor("t", enc)
        out = both_equal(w.to_bytes(), "t")
        cb = books.astype(np.float16).astype(np.float32) if cdt == "f16" else books
        want = cb[np.repeat(np.arange(nb), idx.size // nb) if per_channel else 0, idx.reshape(-1)]
        np.testing.assert_array_equal(out.reshape(-1), want)


def test_lut_kmeans_is_close(rng):
    a = rng.standard_normal((32, 64)).astype(np.float32)
    for axis in (None, 0):
        out = both_equal(one("t", a, "lut", k=16, axis=axis), "t")
        assert len(np.unique(out if axis is None else out[0])) <= 16
        assert np.sqrt(np.mean((out - a) ** 2)) < 0.15          # 16 levels of a unit normal: rms error ~0.1


def test_deterministic_bytes(rng):
    a = sparse(rng, (20, 30), 0.3)

    def build():
        w = Writer(model_name="m")
        w.add_input("x", "f32", [None, 30])
        w.set_prop("k", "v")
        w.add_tensor("a", a, "csr", values="i4")
        w.add_tensor("b", a, "i8", axis=0)
        return w.to_bytes()
    assert build() == build()


def test_metadata_roundtrip():
    w = Writer(model_name="名前", producer="me", producer_version="9")
    w.add_input("x", "f32", [-1, 3, 224, 224])
    w.add_input("len", "i64", [1])
    w.add_output("y", "f16", [None, 1000])
    w.set_prop("s", "text")
    w.set_prop("i", -5)
    w.set_prop("f", 0.5)
    w.set_prop("b", b"\x00\xff")
    native, pure = open_both(w.to_bytes())
    for meta in (native.info()["meta"], pure.meta):
        assert meta["model_name"] == "名前" and meta["producer"] == "me"
        assert [tuple(x) for x in meta["inputs"]] == [("x", "f32", (-1, 3, 224, 224)), ("len", "i64", (1,))]
        assert [tuple(x) for x in meta["outputs"]] == [("y", "f16", (-1, 1000))]
        assert meta["props"] == {"s": "text", "i": -5, "f": 0.5, "b": b"\x00\xff"}


def test_reference_kernels_agree(rng):
    """The AVX2 decode path and the scalar reference give identical bytes."""
    from pyruntime import _core
    w = Writer()
    a = rng.standard_normal((37, 101)).astype(np.float32)
    w.add_tensor("h", a, "f16")
    w.add_tensor("q8", a, "i8", axis=0, zero_point=True)
    w.add_tensor("q4", a, "i4", group_size=16)
    w.add_tensor("q4u", a, "i4", group_size=32, signed=False)
    blob = w.to_bytes()
    m = _core.Model.from_buffer(blob)
    fast = {n: m.decode(n) for n in ("h", "q8", "q4", "q4u")}
    _core.force_reference(True)
    try:
        m2 = _core.Model.from_buffer(blob)
        for n, v in fast.items():
            np.testing.assert_array_equal(m2.decode(n), v)
    finally:
        _core.force_reference(False)
