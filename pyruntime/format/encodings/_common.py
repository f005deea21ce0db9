"""What the encodings' modules share: the encoded-tensor record, the matrix view, nibble streams, scales."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import spec
from ..errors import FormatError


@dataclass
class EncodedTensor:
    dtype: int                      # logical dtype id
    shape: tuple                    # logical shape
    encoding: int                   # encoding id
    params: bytes                   # exactly the encoding module's PARAMS_SIZE bytes
    buffers: list                   # list of bytes, in the encoding's buffer order
    features: int = 0               # required feature bits this tensor needs
    layouts: list = field(default_factory=list)  # (layout_id, layout_param, bytes)


def as_f32(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"cannot encode an array of dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float32, order="C")       # keeps 0-d arrays 0-d (ascontiguousarray would not)
    if not np.isfinite(a).all():
        raise ValueError("cannot quantize non-finite values (inf or nan)")
    return a


def matrix_view(shape) -> tuple[int, int]:
    """(rows, cols) of the matrix view used by i4 and csr (SPEC §6.1)."""
    if len(shape) == 0:
        raise ValueError("i4/csr encodings need a tensor of rank >= 1")
    rows = 1 if len(shape) == 1 else int(shape[0])
    cols = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else int(shape[0])
    return rows, cols


def pack_nibbles(q: np.ndarray) -> bytes:
    """Nibble stream: element k in byte k//2, low nibble when k is even (SPEC §6.2)."""
    q = (np.asarray(q).reshape(-1).astype(np.int64) & 0xF).astype(np.uint8)
    if q.size % 2:
        q = np.concatenate([q, np.zeros(1, np.uint8)])
    return (q[0::2] | (q[1::2] << 4)).astype(np.uint8).tobytes()


def unpack_nibbles(b, count: int, signed: bool) -> np.ndarray:
    b = np.frombuffer(b, dtype=np.uint8) if not isinstance(b, np.ndarray) else b
    out = np.empty(b.size * 2, dtype=np.uint8)
    out[0::2] = b & 0xF
    out[1::2] = b >> 4
    out = out[:count]
    if signed:
        return (out.astype(np.int8) ^ 8).astype(np.int8) - np.int8(8)
    return out


def le(a: np.ndarray, dt: str) -> bytes:
    return np.ascontiguousarray(a, dtype=np.dtype(dt)).tobytes()


def scale_dtype_id(name: str) -> int:
    return {"f32": spec.SCALE_F32, "f16": spec.SCALE_F16}[name]


def scale_numpy(scale_dtype: int) -> str:
    return "<f4" if scale_dtype == spec.SCALE_F32 else "<f2"


def scale_name(scale_dtype: int) -> str:
    return {spec.SCALE_F32: "f32", spec.SCALE_F16: "f16"}[scale_dtype]


def store_scale(scale: np.ndarray, scale_dtype: int) -> np.ndarray:
    """Scales as stored, returned as float64. Rounded *up* to the storage type, so that no value needs more
    than the largest code (a scale rounded down would clip the group's largest value)."""
    s = scale.astype(np.float64)
    s = np.where(s > 0, s, 1.0)
    dt = np.float16 if scale_dtype == spec.SCALE_F16 else np.float32
    if scale_dtype == spec.SCALE_F16 and s.size and s.max() > 65504.0:
        raise ValueError(f"a group scale of {s.max():.4g} does not fit in f16; use scale_dtype='f32'")
    h = s.astype(dt)
    h = np.where(h.astype(np.float64) < s, np.nextafter(h, dt(np.inf)), h).astype(dt)
    return h.astype(np.float64)


def grouped(x: np.ndarray, group_size: int) -> tuple[int, int, int, np.ndarray]:
    """(rows, cols, ngroups, groups): the matrix view of x padded with zeros to whole groups along the columns,
    as float64 [rows, ngroups, group_size] (the layout of i4 and i8g)."""
    rows, cols = matrix_view(x.shape)
    ng = -(-cols // group_size)
    padded = np.zeros((rows, ng * group_size), dtype=np.float64)
    padded[:, :cols] = x.reshape(rows, cols)
    return rows, cols, ng, padded.reshape(rows, ng, group_size)


def pow2_group(g: int) -> bool:
    return spec.MIN_GROUP <= g <= spec.MAX_GROUP and not g & (g - 1)


def check_group(g: int):
    if not pow2_group(g):
        raise ValueError(f"group_size must be a power of two in [16, 65536], got {g}")


def widen_f16(h: np.ndarray) -> np.ndarray:
    """f16 -> f32, exact; NaNs come out quiet (SPEC §6.2), as F16C hardware produces them."""
    f = h.astype(np.float32)
    nan = np.isnan(f)
    if nan.any():
        f.view(np.uint32)[nan] |= np.uint32(0x400000)
    return f


def require_f32(name: str, dtype: int, fail, or_i8: bool = False):
    """The dtype rule of the non-dense encodings: logical f32 (or i8 where the encoding allows it)."""
    if dtype != spec.DT_F32 and not (or_i8 and dtype == spec.DT_I8):
        fail(f"encoding {name} needs logical dtype f32, got {spec.DTYPE_NAMES[dtype]}")


def require_rank1(name: str, shape, fail):
    if len(shape) == 0:
        fail(f"encoding {name} needs rank >= 1")


def check_positive(arr: np.ndarray, where: str, what: str):
    a = arr.astype(np.float64)
    if not (np.isfinite(a).all() and (a > 0).all()):
        raise FormatError(f"{where}: {what} must be finite and > 0")


def check_finite(arr: np.ndarray, where: str, what: str):
    if not np.isfinite(arr.astype(np.float64)).all():
        raise FormatError(f"{where}: {what} must be finite")


def no_reserved(rest: bytes, fail):
    if any(rest):
        fail("reserved params bytes are not zero")
