"""lut (SPEC §6.2): weight sharing, 4- or 8-bit indices into one codebook per tensor or per index along axis 0."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ..errors import FormatError
from ._common import EncodedTensor, as_f32, le, pack_nibbles, require_f32, scale_dtype_id, scale_name, scale_numpy, \
    unpack_nibbles

ID, NAME, PARAMS_SIZE = spec.ENC_LUT, "lut", 8


def encode_codes(indices, codebook, axis: int | None = None, index_bits: int | None = None,
                 codebook_dtype: str = "f32") -> EncodedTensor:
    """Weight sharing from given codes: `indices` has the tensor's shape, `codebook` is [K] (axis=None)
    or [shape[0], K] (axis=0)."""
    idx = np.asarray(indices)
    cb = np.asarray(codebook, dtype=np.float32)
    if axis not in (None, -1, 0):
        raise ValueError("lut axis must be None (per tensor) or 0 (per channel)")
    if axis == 0 and idx.ndim == 0:
        raise ValueError("per-channel lut needs rank >= 1")
    nb = 1 if axis in (None, -1) else idx.shape[0]
    k = cb.size // nb if nb else (cb.shape[-1] if cb.ndim else 1)
    cb = cb.reshape(nb, k)
    if not np.isfinite(cb).all() or (codebook_dtype == "f16" and np.abs(cb).max(initial=0) > 65504):
        raise ValueError("lut codebook entries must be finite (and within f16 range for an f16 codebook)")
    if not 1 <= k <= 256:
        raise ValueError(f"codebook size must be in [1, 256], got {k}")
    bits = index_bits or (4 if k <= 16 else 8)
    if bits not in (4, 8) or (bits == 4 and k > 16):
        raise ValueError(f"{bits}-bit indices cannot address {k} entries")
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise ValueError("lut index out of codebook range")
    cdt = scale_dtype_id(codebook_dtype)
    data = pack_nibbles(idx) if bits == 4 else idx.astype(np.uint8).tobytes()
    bufs = [data, le(cb, scale_numpy(cdt))]
    params = struct.pack("<BBHi", bits, cdt, k, -1 if axis in (None, -1) else 0)
    return EncodedTensor(spec.DT_F32, tuple(int(d) for d in idx.shape), ID, params, bufs,
                         features({"codebook_dtype": cdt}))


def kmeans_1d(values: np.ndarray, k: int, iters: int = 20):
    """Lloyd's k-means on scalars (quantile init); returns (codebook[k'], indices). k' ≤ k."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return np.zeros(1), np.zeros(0, dtype=np.int64)
    cb = np.unique(np.quantile(v, (np.arange(k) + 0.5) / k))
    for _ in range(iters):
        idx = np.searchsorted((cb[1:] + cb[:-1]) / 2, v)
        sums = np.bincount(idx, weights=v, minlength=cb.size)
        cnt = np.bincount(idx, minlength=cb.size)
        new = np.where(cnt > 0, sums / np.maximum(cnt, 1), cb)
        if np.allclose(new, cb):
            break
        cb = np.unique(new)
    return cb, np.searchsorted((cb[1:] + cb[:-1]) / 2, v)


def encode(array, k: int = 16, axis: int | None = None, codebook_dtype: str = "f32") -> EncodedTensor:
    """Weight sharing: cluster the values into at most `k` shared values (per tensor or per channel)."""
    x = as_f32(array)
    if axis in (None, -1):
        cb, idx = kmeans_1d(x, k)
        cbs = np.zeros((1, k))
        cbs[0, :cb.size] = cb
        cbs[0, cb.size:] = cb[-1]
        return encode_codes(idx.reshape(x.shape), cbs, None, None, codebook_dtype)
    if x.ndim == 0:
        raise ValueError("per-channel lut needs rank >= 1")
    rows = x.reshape(x.shape[0], x.size // x.shape[0] if x.shape[0] else 0)
    cbs = np.zeros((x.shape[0], k))
    idx = np.zeros(rows.shape, dtype=np.int64)
    for r in range(rows.shape[0]):
        cb, ix = kmeans_1d(rows[r], k)
        cbs[r, :cb.size] = cb
        cbs[r, cb.size:] = cb[-1]
        idx[r] = ix
    return encode_codes(idx.reshape(x.shape), cbs, 0, None, codebook_dtype)


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    require_f32(NAME, dtype, fail)
    bits, cdt, k, axis = c.unpack("<BBHi", "lut params")
    if bits not in (4, 8):
        fail(f"lut index bits {bits} is not 4 or 8")
    if cdt not in (spec.SCALE_F32, spec.SCALE_F16):
        fail(f"lut codebook dtype {cdt} is not 1 (f32) or 2 (f16)")
    if not 1 <= k <= (16 if bits == 4 else 256):
        fail(f"lut codebook size {k} out of range for {bits}-bit indices")
    if axis not in (-1, 0) or (axis == 0 and len(shape) == 0):
        fail(f"lut axis {axis} must be -1 or 0 (rank >= 1)")
    return {"index_bits": bits, "codebook_dtype": cdt, "codebook_size": k, "axis": axis}, 2


def buffer_sizes(t) -> list:
    p, n = t.params, t.numel
    nb = 1 if p["axis"] == -1 else t.shape[0]
    csz = 4 if p["codebook_dtype"] == spec.SCALE_F32 else 2
    return [n if p["index_bits"] == 8 else (n + 1) // 2, nb * p["codebook_size"] * csz]


def features(p: dict) -> int:
    return spec.FEAT_LUT | (spec.FEAT_F16 if p["codebook_dtype"] == spec.SCALE_F16 else 0)


def _indices(t, raw: np.ndarray) -> np.ndarray:
    return raw if t.params["index_bits"] == 8 else unpack_nibbles(raw, t.numel, False)


def check(t, b: list, where: str):
    k = t.params["codebook_size"]
    idx = _indices(t, b[0])
    if idx.size and idx.max() >= k:
        raise FormatError(f"{where}: lut index {idx.max()} out of range (codebook size {k})")
    if not np.isfinite(b[1].view(scale_numpy(t.params["codebook_dtype"])).astype(np.float64)).all():
        raise FormatError(f"{where}: lut codebook entries must be finite")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    idx = _indices(t, b[0]).astype(np.int64)
    cb = b[1].view(scale_numpy(p["codebook_dtype"])).astype(np.float32)
    if p["axis"] == -1:
        return cb[idx].reshape(t.shape)
    rows = t.shape[0]
    per = t.numel // rows if rows else 0
    book = np.repeat(np.arange(rows), per)
    return cb.reshape(rows, p["codebook_size"])[book, idx].reshape(t.shape)


def describe(p: dict) -> str:
    return f"k={p['codebook_size']} u{p['index_bits']} {scale_name(p['codebook_dtype'])}" + \
        ("" if p["axis"] == -1 else " per-ch")
