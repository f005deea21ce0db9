"""i8 (SPEC §6.2): int8 with one f32 scale (and optional i8 zero point) per tensor or per index along an axis."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ._common import EncodedTensor, as_f32, check_positive, le, no_reserved, require_f32

ID, NAME, PARAMS_SIZE = spec.ENC_I8, "i8", 8


def _per_axis(x: np.ndarray, axis):
    """Move the quantization axis first and flatten the rest: [n, -1]."""
    if axis is None or axis == -1:
        return x.reshape(1, x.size), 1
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} out of range for a rank-{x.ndim} tensor")
    n = x.shape[axis]
    return np.moveaxis(x, axis, 0).reshape(n, x.size // n if n else 0), n


def encode(array, axis: int | None = None, zero_point: bool = False) -> EncodedTensor:
    """int8 with one f32 scale per tensor (axis=None) or per index along `axis`; symmetric unless
    `zero_point=True` (asymmetric, zero points in int8)."""
    x = as_f32(array)
    m, n = _per_axis(x, axis)
    m64 = m.astype(np.float64)
    if m.shape[1] == 0:
        lo = hi = np.zeros(n)
    else:
        lo, hi = np.minimum(m64.min(axis=1), 0.0), np.maximum(m64.max(axis=1), 0.0)
    if zero_point:
        scale = ((hi - lo) / 255.0).astype(np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        zp = np.clip(np.rint(-128.0 - lo / scale.astype(np.float64)), -128, 127).astype(np.int8)
        q = np.clip(np.rint(m64 / scale[:, None]) + zp[:, None], -128, 127).astype(np.int8)
    else:
        amax = np.maximum(-lo, hi)
        scale = (amax / 127.0).astype(np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        zp = None
        q = np.clip(np.rint(m64 / scale[:, None]), -127, 127).astype(np.int8)
    if axis is not None and axis != -1:
        moved = list(x.shape)
        moved.insert(0, moved.pop(axis))
        q = np.moveaxis(q.reshape(moved), 0, axis)
    bufs = [np.ascontiguousarray(q).tobytes(), le(scale, "<f4")]
    if zero_point:
        bufs.append(zp.tobytes())
    params = struct.pack("<iB3x", -1 if axis is None else int(axis), 1 if zero_point else 0)
    return EncodedTensor(spec.DT_F32, tuple(x.shape), ID, params, bufs)


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    require_f32(NAME, dtype, fail)
    axis, hz, rest = c.unpack("<iB3s", "i8 params")
    no_reserved(rest, fail)
    if not (axis == -1 or 0 <= axis < len(shape)):
        fail(f"i8 axis {axis} out of range for rank {len(shape)}")
    if hz not in (0, 1):
        fail(f"i8 has_zero_point must be 0 or 1, got {hz}")
    return {"axis": axis, "zero_point": bool(hz)}, 2 + hz


def buffer_sizes(t) -> list:
    p = t.params
    ns = 1 if p["axis"] == -1 else t.shape[p["axis"]]
    return [t.numel, 4 * ns] + ([ns] if p["zero_point"] else [])


def features(p: dict) -> int:
    return 0


def check(t, b: list, where: str):
    check_positive(b[1].view("<f4"), where, "i8 scales")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    q = b[0].view(np.int8).astype(np.int32)
    s = b[1].view("<f4")
    zp = b[2].view(np.int8).astype(np.int32) if p["zero_point"] else np.zeros(s.size, np.int32)
    if p["axis"] == -1:
        return ((q - zp[0]).astype(np.float32) * s[0]).reshape(t.shape)
    bshape = [1] * len(t.shape)
    bshape[p["axis"]] = -1
    q = q.reshape(t.shape)
    return ((q - zp.reshape(bshape)).astype(np.float32) * s.reshape(bshape)).astype(np.float32)


def describe(p: dict) -> str:
    return ("per-tensor" if p["axis"] == -1 else f"axis={p['axis']}") + (" zp" if p["zero_point"] else "")
