"""Edge cases of the file's encodings, written and read: strided buffers refused, f16 NaNs decoded alike
everywhere, zero-sized and huge shapes, scalar and zero-length quantization, non-finite values refused by the
encoders, tiny int4 groups, the decode limit for absurd sparse tensors."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import decode_both

from pyruntime import FormatError, _core
from pyruntime.format import EncodedTensor, Reader, Writer, crc32c, spec


def test_non_contiguous_buffers_are_refused():
    a = np.zeros(1 << 16, np.uint8)
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        _core.Model.from_buffer(a[::-1])
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        _core.crc32c(a[::2])
    assert _core.crc32c(a[::2].copy()) == crc32c(a[::2].copy())


def test_f16_nan_decodes_identically_everywhere():
    h = np.array([0x7C01, 0x7E00, 0xFC01, 0x7C00, 0x3C00] * 5, np.uint16).view(np.float16)
    w = Writer()
    enc = EncodedTensor(spec.DT_F32, h.shape, spec.ENC_DENSE, struct.pack("<B7x", spec.DT_F16), [h.tobytes()],
                        spec.FEAT_F16)
    w.add_tensor("h", enc)
    blob = w.to_bytes()
    native, pure = decode_both(blob, "h")
    assert native.view(np.uint32).tolist() == pure.view(np.uint32).tolist()
    code = ("import sys, numpy as np; from pyruntime import _core; "
            "sys.stdout.write(_core.Model.from_buffer(open(sys.argv[1],'rb').read()).decode('h').tobytes().hex())")
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nan-{os.getpid()}.pyrt")
    open(path, "wb").write(blob)
    try:
        out = subprocess.run([sys.executable, "-c", code, path], env={**os.environ, "PYRT_KERNELS": "ref"}, cwd=os.path.dirname(path),
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    assert bytes.fromhex(out) == native.tobytes()


def _dense_shape(shape):
    w = Writer()
    w.add_tensor("t", EncodedTensor(spec.DT_F32, shape, spec.ENC_DENSE, struct.pack("<B7x", 1), [b""]))
    return w.to_bytes()


def test_zero_dim_makes_numel_zero_whatever_the_order():
    for shape in [(1 << 40, 1 << 40, 0), (1 << 40, 0)]:
        blob = _dense_shape(shape)
        _core.Model.from_buffer(blob, "full")
        Reader(blob, "full")
    blob = _dense_shape((0, 1 << 40, 1 << 40))            # numel 0 but the column count is too big
    for fn in (lambda: _core.Model.from_buffer(blob), lambda: Reader(blob)):
        with pytest.raises(FormatError, match="column count"):
            fn()


def test_decode_limit_refuses_absurd_sparse_tensors():
    params = struct.pack("<BBBBIQ", 4, spec.CSR_F32, 1, 1, 0, 0)
    enc = EncodedTensor(spec.DT_F32, (1, 1 << 40), spec.ENC_CSR, params, [np.zeros(2, "<u4").tobytes(), b"", b""],
                        spec.FEAT_CSR)
    w = Writer()
    w.add_tensor("huge", enc)
    m = _core.Model.from_buffer(w.to_bytes(), "full")       # a valid file...
    with pytest.raises(ValueError, match="above the limit"):
        m.decode("huge")                                      # ...that we refuse to blow up into 4 TiB


def test_scalar_and_zero_length_quantization():
    w = Writer()
    w.add_tensor("s", np.float32(0.5), "i8")
    w.add_tensor("z", np.zeros((0, 3), np.float32), "i8", axis=0)
    w.add_tensor("l", np.zeros((0,), np.float32), "lut", k=4, axis=0)
    r = Reader(w.to_bytes(), "full")
    assert r.tensor_info("s").shape == () and r.decode("s") == pytest.approx(0.5, abs=0.5 / 127)
    assert r.decode("z").shape == (0, 3) and r.decode("l").shape == (0,)
    with pytest.raises(ValueError):
        Writer().add_tensor("x", np.float32(1), "i4")          # i4/csr need rank >= 1


def test_non_finite_values_are_refused_by_encoders():
    for enc, opt in [("i8", {}), ("i4", {}), ("csr", {}), ("lut", {})]:
        with pytest.raises(ValueError, match="non-finite"):
            Writer().add_tensor("x", np.array([[1.0, np.inf]], np.float32), enc, **opt)
    with pytest.raises(ValueError, match="f16"):
        Writer().add_tensor("x", np.full((1, 16), 1e6, np.float32), "i4", scale_dtype="f16")


def test_tiny_i4_groups_stay_within_half_a_step():
    a = np.array([[6.22e-7] + [1e-8] * 15], np.float32)
    w = Writer()
    w.add_tensor("t", a, "i4", group_size=16, scale_dtype="f16")
    r = Reader(w.to_bytes())
    s = float(r._bytes(r.tensor_info("t").extents[1]).view("<f2")[0])
    assert np.abs(r.decode("t") - a).max() <= s * 0.5 * (1 + 1e-6)
