"""Encoders: numpy arrays → the byte layouts of SPEC §6.2.

Each encoder returns an `EncodedTensor` (logical dtype, shape, encoding id, params bytes, buffers) that the
writer lays out in the file. Quantizers round half to even (np.rint) and clamp to the stated ranges, and they
quantize against the scale exactly as it is stored (e.g. after rounding it to f16), so decoding is within half
a step of the input.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from . import spec
from .errors import FormatError


@dataclass
class EncodedTensor:
    dtype: int                      # logical dtype id
    shape: tuple                    # logical shape
    encoding: int                   # encoding id
    params: bytes                   # exactly PARAM_SIZES[encoding] bytes
    buffers: list                   # list of bytes, in the encoding's buffer order
    features: int = 0               # required feature bits this tensor needs
    layouts: list = field(default_factory=list)  # (layout_id, layout_param, bytes)


def _f32(a) -> np.ndarray:
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


def _le(a: np.ndarray, dt: str) -> bytes:
    return np.ascontiguousarray(a, dtype=np.dtype(dt)).tobytes()


# --------------------------------------------------------------------------------------------- dense
_NUMPY_TO_DT = {np.dtype(np.float32): spec.DT_F32, np.dtype(np.float16): spec.DT_F16,
                np.dtype(np.int8): spec.DT_I8, np.dtype(np.uint8): spec.DT_U8,
                np.dtype(np.int32): spec.DT_I32, np.dtype(np.int64): spec.DT_I64,
                np.dtype(np.bool_): spec.DT_BOOL}


def encode_dense(array, storage: str | None = None) -> EncodedTensor:
    """Plain tensor. float64 becomes f32; `storage="f16"` stores an f32 tensor as f16."""
    a = np.asarray(array)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    if a.dtype not in _NUMPY_TO_DT:
        raise TypeError(f"dense encoding does not support dtype {a.dtype}")
    logical = _NUMPY_TO_DT[a.dtype]
    store = logical if storage is None else spec.DTYPE_IDS[storage]
    if store != logical and not (logical == spec.DT_F32 and store == spec.DT_F16):
        raise ValueError(f"cannot store a {spec.DTYPE_NAMES[logical]} tensor as {storage}")
    data = _le(a.astype(np.float16) if store == spec.DT_F16 else a, spec.DTYPE_NUMPY[store])
    feats = spec.FEAT_F16 if store == spec.DT_F16 else 0
    params = struct.pack("<B7x", store)
    return EncodedTensor(logical, tuple(int(d) for d in a.shape), spec.ENC_DENSE, params, [data], feats)


# ------------------------------------------------------------------------------------------------ i8
def _per_axis(x: np.ndarray, axis):
    """Move the quantization axis first and flatten the rest: [n, -1]."""
    if axis is None or axis == -1:
        return x.reshape(1, x.size), 1
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} out of range for a rank-{x.ndim} tensor")
    n = x.shape[axis]
    return np.moveaxis(x, axis, 0).reshape(n, x.size // n if n else 0), n


def encode_i8(array, axis: int | None = None, zero_point: bool = False) -> EncodedTensor:
    """int8 with one f32 scale per tensor (axis=None) or per index along `axis`; symmetric unless
    `zero_point=True` (asymmetric, zero points in int8)."""
    x = _f32(array)
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
    bufs = [np.ascontiguousarray(q).tobytes(), _le(scale, "<f4")]
    if zero_point:
        bufs.append(zp.tobytes())
    params = struct.pack("<iB3x", -1 if axis is None else int(axis), 1 if zero_point else 0)
    return EncodedTensor(spec.DT_F32, tuple(x.shape), spec.ENC_I8, params, bufs)


# ------------------------------------------------------------------------------------------------ i4
def _store_scale(scale: np.ndarray, scale_dtype: int) -> np.ndarray:
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


def _check_group(g: int):
    if g < spec.MIN_GROUP or g > spec.MAX_GROUP or g & (g - 1):
        raise ValueError(f"group_size must be a power of two in [16, 65536], got {g}")


# Clipping ratios the int4 scale search tries (1.0 = the group's max-abs maps to the largest code).
_CLIP_RATIOS = np.linspace(1.0, 0.6, 17)


def _searched_scale(g: np.ndarray, amax: np.ndarray, sd: int) -> np.ndarray:
    """Per group, the stored scale among amax/7 x ratio (ratio from 1 down to 0.6) with the least squared
    reconstruction error: clipping the few largest values buys a finer step for all the others."""
    best_s, best_e = None, None
    for r in _CLIP_RATIOS:
        s = _store_scale(amax * r / 7.0, sd)
        e = ((np.clip(np.rint(g / s[:, :, None]), -8, 7) * s[:, :, None] - g) ** 2).sum(axis=2)
        if best_s is None:
            best_s, best_e = s, e
        else:
            better = e < best_e
            best_s, best_e = np.where(better, s, best_s), np.where(better, e, best_e)
    return best_s


def encode_i4(array, group_size: int = 32, signed: bool = True, scale_dtype: str = "f16",
              scale_search: bool = False) -> EncodedTensor:
    """int4 groups of `group_size` along the input axis (columns of the matrix view). scale_search (signed
    only): each group's scale minimises its squared reconstruction error over a range of clipping ratios,
    instead of mapping its max-abs value to the largest code."""
    _check_group(group_size)
    sd = {"f32": spec.SCALE_F32, "f16": spec.SCALE_F16}[scale_dtype]
    x = _f32(array)
    rows, cols = matrix_view(x.shape)
    ng = -(-cols // group_size)
    padded = np.zeros((rows, ng * group_size), dtype=np.float64)
    padded[:, :cols] = x.reshape(rows, cols)
    g = padded.reshape(rows, ng, group_size)
    if signed:
        amax = np.abs(g).max(axis=2) if g.size else np.zeros((rows, ng))
        s = _searched_scale(g, amax, sd) if scale_search and g.size else _store_scale(amax / 7.0, sd)
        q = np.clip(np.rint(g / s[:, :, None]), -8, 7).astype(np.int64)
        zp = None
    else:
        lo = np.minimum(g.min(axis=2), 0.0) if g.size else np.zeros((rows, ng))
        hi = np.maximum(g.max(axis=2), 0.0) if g.size else np.zeros((rows, ng))
        s = _store_scale((hi - lo) / 15.0, sd)
        zp = np.clip(np.rint(-lo / s), 0, 15).astype(np.int64)
        q = np.clip(np.rint(g / s[:, :, None]) + zp[:, :, None], 0, 15).astype(np.int64)
    q = q.reshape(rows, ng * group_size)
    q[:, cols:] = 0                                   # padding nibbles are written as 0
    bufs = [pack_nibbles(q), _le(s, "<f4" if sd == spec.SCALE_F32 else "<f2")]
    if not signed:
        bufs.append(zp.astype(np.uint8).tobytes())
    feats = spec.FEAT_INT4 | (spec.FEAT_F16 if sd == spec.SCALE_F16 else 0)
    params = struct.pack("<IBB2x", group_size, 1 if signed else 0, sd)
    return EncodedTensor(spec.DT_F32, tuple(x.shape), spec.ENC_I4, params, bufs, feats)


# ----------------------------------------------------------------------------------------------- csr
def encode_csr(array, values: str = "f32", block=(1, 1), group_size: int = 32,
               index_width: int | None = None) -> EncodedTensor:
    """Block CSR of the matrix view. Blocks with any non-zero element are stored. An int8 array keeps its
    dtype: its values are stored as they are ("s8", the weights of the integer operators)."""
    src = np.asarray(array)
    if src.dtype == np.int8:
        values = "s8"
    elif values == "s8":
        raise ValueError(f"csr values 's8' need an int8 tensor, got {src.dtype}")
    x = src if values == "s8" else _f32(array)
    rows, cols = matrix_view(x.shape)
    br, bc = (int(block[0]), int(block[1]))
    if br not in spec.CSR_BLOCK_SIZES or bc not in spec.CSR_BLOCK_SIZES:
        raise ValueError(f"block dims must be in {spec.CSR_BLOCK_SIZES}, got {block}")
    venc = {"f32": spec.CSR_F32, "i8": spec.CSR_I8, "i4": spec.CSR_I4, "s8": spec.CSR_S8}[values]
    if venc == spec.CSR_I4:
        _check_group(group_size)
    brows, bcols = -(-rows // br), -(-cols // bc)
    if index_width is None:
        index_width = 2 if bcols <= 65536 else 4
    if index_width not in (2, 4) or (index_width == 2 and bcols > 65536):
        raise ValueError(f"index_width {index_width} cannot address {bcols} block columns")
    padded = np.zeros((brows * br, bcols * bc), dtype=x.dtype)
    padded[:rows, :cols] = x.reshape(rows, cols)
    blocks = padded.reshape(brows, br, bcols, bc).transpose(0, 2, 1, 3)   # [brows, bcols, br, bc]
    mask = (blocks != 0).any(axis=(2, 3))
    counts = mask.sum(axis=1).astype(np.int64)
    row_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    bi, bj = np.nonzero(mask)
    nnzb = int(bi.size)
    vals = blocks[bi, bj].reshape(-1)                              # block after block, row-major inside
    bufs = [row_ptr.tobytes(), _le(bj, "<u2" if index_width == 2 else "<u4")]
    gs = 0
    if venc == spec.CSR_S8:
        bufs.append(vals.tobytes())
    else:
        vals = vals.astype(np.float64)
    if venc == spec.CSR_F32:
        bufs.append(_le(vals, "<f4"))
    elif venc == spec.CSR_I8:
        amax = np.abs(x.reshape(rows, cols)).max(axis=1) if cols else np.zeros(rows)
        scale = (amax / 127.0).astype(np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        lrow = (bi[:, None] * br + np.arange(br)[None, :])                # [nnzb, br]
        lrow = np.repeat(np.minimum(lrow, rows - 1), bc, axis=1).reshape(-1)
        q = np.clip(np.rint(vals / scale[lrow].astype(np.float64)), -127, 127).astype(np.int8)
        bufs += [q.tobytes(), _le(scale, "<f4")]
    elif venc == spec.CSR_I4:
        gs = group_size
        per = br * bc
        n_i = counts * per                                                 # values per block row
        ng_i = -(-n_i // gs)
        goff = np.concatenate([[0], np.cumsum(ng_i)])
        pos = np.arange(vals.size) - np.repeat(row_ptr[:-1].astype(np.int64) * per, n_i)
        gid = np.repeat(goff[:-1], n_i) + pos // gs
        amax = np.zeros(int(goff[-1]))
        np.maximum.at(amax, gid, np.abs(vals))
        s = _store_scale(amax / 7.0, spec.SCALE_F32)
        q = np.clip(np.rint(vals / s[gid]), -8, 7).astype(np.int64)
        bufs += [pack_nibbles(q), _le(s, "<f4")]
    feats = spec.FEAT_CSR | (spec.FEAT_INT4 if venc == spec.CSR_I4 else 0)
    params = struct.pack("<BBBBIQ", index_width, venc, br, bc, gs, nnzb)
    return EncodedTensor(spec.DT_I8 if venc == spec.CSR_S8 else spec.DT_F32, tuple(x.shape), spec.ENC_CSR, params,
                         bufs, feats)


# ----------------------------------------------------------------------------------------------- lut
def encode_lut_codes(indices, codebook, axis: int | None = None, index_bits: int | None = None,
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
    cdt = {"f32": spec.SCALE_F32, "f16": spec.SCALE_F16}[codebook_dtype]
    data = pack_nibbles(idx) if bits == 4 else idx.astype(np.uint8).tobytes()
    bufs = [data, _le(cb, "<f4" if cdt == spec.SCALE_F32 else "<f2")]
    feats = spec.FEAT_LUT | (spec.FEAT_F16 if cdt == spec.SCALE_F16 else 0)
    params = struct.pack("<BBHi", bits, cdt, k, -1 if axis in (None, -1) else 0)
    return EncodedTensor(spec.DT_F32, tuple(int(d) for d in idx.shape), spec.ENC_LUT, params, bufs, feats)


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


def encode_lut(array, k: int = 16, axis: int | None = None, codebook_dtype: str = "f32") -> EncodedTensor:
    """Weight sharing: cluster the values into at most `k` shared values (per tensor or per channel)."""
    x = _f32(array)
    if axis in (None, -1):
        cb, idx = kmeans_1d(x, k)
        cbs = np.zeros((1, k))
        cbs[0, :cb.size] = cb
        cbs[0, cb.size:] = cb[-1]
        return encode_lut_codes(idx.reshape(x.shape), cbs, None, None, codebook_dtype)
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
    return encode_lut_codes(idx.reshape(x.shape), cbs, 0, None, codebook_dtype)


ENCODERS = {"dense": encode_dense, "f32": encode_dense, "i8": encode_i8, "i4": encode_i4,
            "csr": encode_csr, "lut": encode_lut}


def encode(array, encoding: str = "dense", **options) -> EncodedTensor:
    if encoding == "f16":
        return encode_dense(array, storage="f16")
    if encoding not in ENCODERS:
        raise ValueError(f"unknown encoding {encoding!r}; known: dense, f16, i8, i4, csr, lut")
    return ENCODERS[encoding](array, **options)
