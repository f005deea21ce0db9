"""pyruntime.load / Model: tensor table, decode, zero-copy views, lazy vs full verification, both backends."""
import numpy as np
import pytest

import pyruntime
from pyruntime import _core
from pyruntime.format import Writer


@pytest.fixture
def model_path(tmp_path, rng):
    w = Writer(model_name="api")
    w.add_input("x", "f32", [None, 16])
    w.add_output("y", "f32", [None, 8])
    w.set_prop("note", "hi")
    a = rng.standard_normal((8, 16)).astype(np.float32)
    w.add_tensor("dense", a)
    w.add_tensor("q8", a, "i8", axis=0)
    s = a.copy()
    s[np.abs(s) < 1] = 0
    w.add_tensor("sparse", s, "csr")
    w.add_tensor("ids", np.arange(4, dtype=np.int64))
    p = tmp_path / "m.pyrt"
    w.save(p)
    return p, a, s


@pytest.mark.parametrize("backend", ["native", "python"])
def test_load_and_table(model_path, backend):
    p, a, s = model_path
    m = pyruntime.load(p, backend=backend)
    assert m.version == (1, 0)
    assert [t.name for t in m.tensors] == ["dense", "q8", "sparse", "ids"]
    assert m.inputs == [("x", "f32", (-1, 16))] and m.meta["props"] == {"note": "hi"}
    e = m.entry("sparse")
    assert e.encoding == "csr" and e.shape == (8, 16) and e.nonzeros == np.count_nonzero(s)
    assert e.sparsity == pytest.approx(1 - np.count_nonzero(s) / s.size)
    assert m.entry("q8").nbytes == 8 * 16 + 8 * 4
    np.testing.assert_array_equal(m.tensor("dense"), a)
    np.testing.assert_array_equal(m.tensor("sparse"), s)
    assert m.tensor("ids").dtype == np.int64
    with pytest.raises(KeyError):
        m.tensor("nope")


def test_view_is_zero_copy(model_path):
    p, a, _ = model_path
    m = pyruntime.load(p)
    v = m.view("dense")
    assert v.dtype == np.uint8 and v.nbytes == a.nbytes and not v.flags.writeable
    assert v.ctypes.data % 64 == 0                                   # 64-byte aligned in the mapping
    np.testing.assert_array_equal(v.view(np.float32).reshape(a.shape), a)
    v2 = m.view("dense")
    assert v.ctypes.data == v2.ctypes.data                           # the same mapped bytes, not copies
    del m
    np.testing.assert_array_equal(v.view(np.float32).reshape(a.shape), a)   # the view keeps the mapping alive
    with pytest.raises(IndexError):
        pyruntime.load(p).view("dense", 5)


def test_native_reports_mapping(model_path):
    p, _, _ = model_path
    m = _core.Model(str(p))
    assert m.mapped and m.file_size == p.stat().st_size
    assert _core.isa() in _core.kernel_tables() + ["ref"]


def test_crc32c_native_matches_python(rng):
    from pyruntime.format import crc32c
    for n in (0, 1, 9, 4096, 100_003):
        d = rng.integers(0, 256, n, dtype=np.uint8)
        assert _core.crc32c(d) == crc32c(d)
    assert _core.crc32c(b"123456789") == 0xE3069283


def test_writer_atomic_save(tmp_path):
    w = Writer()
    w.add_tensor("t", np.ones(3, np.float32))
    p = tmp_path / "a.pyrt"
    w.save(p)
    before = p.read_bytes()
    w.add_tensor("bad", np.ones(3, np.complex64) if False else np.ones(3, np.float32))
    w._tensors[-1][1].shape = (1,) * 9                               # make serialization fail midway
    with pytest.raises(ValueError):
        w.save(p)
    assert p.read_bytes() == before                                  # the old file is intact
    assert [f.name for f in tmp_path.iterdir()] == ["a.pyrt"]        # no temporary left behind


def test_writer_rejects_bad_input():
    w = Writer()
    with pytest.raises(TypeError):
        w.add_tensor("c", np.ones(2, np.complex64))
    with pytest.raises(ValueError, match="group_size"):
        w.add_tensor("g", np.ones((2, 32), np.float32), "i4", group_size=24)
    w.add_tensor("a", np.ones(2, np.float32))
    with pytest.raises(ValueError, match="duplicate"):
        w.add_tensor("a", np.ones(2, np.float32))
    with pytest.raises(ValueError, match="unknown encoding"):
        w.add_tensor("z", np.ones(2, np.float32), "q3")
