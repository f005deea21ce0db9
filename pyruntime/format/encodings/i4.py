"""i4 (SPEC §6.2): signed or unsigned nibbles in groups of G along the columns of the matrix view, each row
padded to whole groups, one f32 or f16 scale (and u8 zero point when unsigned) per group."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ..errors import FormatError
from ._common import (EncodedTensor, as_f32, check_finite, check_group, grouped, le, matrix_view, no_reserved,
                      pack_nibbles, pow2_group, require_f32, require_rank1, scale_dtype_id, scale_name, scale_numpy,
                      store_scale, unpack_nibbles)

ID, NAME, PARAMS_SIZE = spec.ENC_I4, "i4", 8

# Clipping ratios the int4 scale search tries (1.0 = the group's max-abs maps to the largest code).
_CLIP_RATIOS = np.linspace(1.0, 0.6, 17)


def _searched_scale(g: np.ndarray, amax: np.ndarray, sd: int) -> np.ndarray:
    """Per group, the stored scale among amax/7 x ratio (ratio from 1 down to 0.6) with the least squared
    reconstruction error: clipping the few largest values buys a finer step for all the others."""
    best_s, best_e = None, None
    for r in _CLIP_RATIOS:
        s = store_scale(amax * r / 7.0, sd)
        e = ((np.clip(np.rint(g / s[:, :, None]), -8, 7) * s[:, :, None] - g) ** 2).sum(axis=2)
        if best_s is None:
            best_s, best_e = s, e
        else:
            better = e < best_e
            best_s, best_e = np.where(better, s, best_s), np.where(better, e, best_e)
    return best_s


def encode(array, group_size: int = 32, signed: bool = True, scale_dtype: str = "f16",
           scale_search: bool = False) -> EncodedTensor:
    """int4 groups of `group_size` along the input axis (columns of the matrix view). scale_search (signed
    only): each group's scale minimises its squared reconstruction error over a range of clipping ratios,
    instead of mapping its max-abs value to the largest code."""
    check_group(group_size)
    sd = scale_dtype_id(scale_dtype)
    x = as_f32(array)
    rows, cols, ng, g = grouped(x, group_size)
    if signed:
        amax = np.abs(g).max(axis=2) if g.size else np.zeros((rows, ng))
        s = _searched_scale(g, amax, sd) if scale_search and g.size else store_scale(amax / 7.0, sd)
        q = np.clip(np.rint(g / s[:, :, None]), -8, 7).astype(np.int64)
        zp = None
    else:
        lo = np.minimum(g.min(axis=2), 0.0) if g.size else np.zeros((rows, ng))
        hi = np.maximum(g.max(axis=2), 0.0) if g.size else np.zeros((rows, ng))
        s = store_scale((hi - lo) / 15.0, sd)
        zp = np.clip(np.rint(-lo / s), 0, 15).astype(np.int64)
        q = np.clip(np.rint(g / s[:, :, None]) + zp[:, :, None], 0, 15).astype(np.int64)
    q = q.reshape(rows, ng * group_size)
    q[:, cols:] = 0                                   # padding nibbles are written as 0
    bufs = [pack_nibbles(q), le(s, scale_numpy(sd))]
    if not signed:
        bufs.append(zp.astype(np.uint8).tobytes())
    params = struct.pack("<IBB2x", group_size, 1 if signed else 0, sd)
    return EncodedTensor(spec.DT_F32, tuple(x.shape), ID, params, bufs, features({"scale_dtype": sd}))


def from_parts(shape, q: np.ndarray, scales: np.ndarray, group_size: int) -> EncodedTensor:
    """The signed tensor of given codes (integers in [-8, 7], [rows, ngroups x G], padding included) and scales
    ([rows, ngroups], f16 or f32, kept as they are, any finite value: a converter's exact values)."""
    check_group(group_size)
    rows, cols = matrix_view(shape)
    ng = -(-cols // group_size)
    q, scales = np.asarray(q), np.asarray(scales)
    if q.shape != (rows, ng * group_size) or q.size and (q.min() < -8 or q.max() > 7):
        raise ValueError(f"i4 codes must be in [-8, 7], shaped {(rows, ng * group_size)}; got {q.shape}")
    if scales.dtype not in (np.float16, np.float32) or scales.shape != (rows, ng):
        raise ValueError(f"i4 scales must be f16 or f32 {(rows, ng)}, got {scales.dtype} {scales.shape}")
    sd = spec.SCALE_F16 if scales.dtype == np.float16 else spec.SCALE_F32
    q = q.astype(np.int64)
    q[:, cols:] = 0                                   # padding nibbles are written as 0
    params = struct.pack("<IBB2x", group_size, 1, sd)
    return EncodedTensor(spec.DT_F32, tuple(int(d) for d in shape), ID, params,
                         [pack_nibbles(q), le(scales, scale_numpy(sd))], features({"scale_dtype": sd}))


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    require_f32(NAME, dtype, fail)
    require_rank1(NAME, shape, fail)
    g, sgn, sdt, rest = c.unpack("<IBB2s", "i4 params")
    no_reserved(rest, fail)
    if not pow2_group(g):
        fail(f"i4 group size {g} is not a power of two in [16, 65536]")
    if sgn not in (0, 1):
        fail(f"i4 signed flag must be 0 or 1, got {sgn}")
    if sdt not in (spec.SCALE_F32, spec.SCALE_F16):
        fail(f"i4 scale dtype {sdt} is not 1 (f32) or 2 (f16)")
    return {"group_size": g, "signed": bool(sgn), "scale_dtype": sdt}, 2 + (1 - sgn)


def buffer_sizes(t) -> list:
    p = t.params
    rows, cols = matrix_view(t.shape)
    ng = -(-cols // p["group_size"])
    ssz = 4 if p["scale_dtype"] == spec.SCALE_F32 else 2
    return [rows * ng * p["group_size"] // 2, rows * ng * ssz] + ([] if p["signed"] else [rows * ng])


def features(p: dict) -> int:
    return spec.FEAT_INT4 | (spec.FEAT_F16 if p["scale_dtype"] == spec.SCALE_F16 else 0)


def check(t, b: list, where: str):
    # any finite scale: ggml's Q4_0 blocks (pyruntime/convert/gguf.py) carry negative and zero ones
    check_finite(b[1].view(scale_numpy(t.params["scale_dtype"])), where, "i4 scales")
    if not t.params["signed"] and (b[2] > 15).any():
        raise FormatError(f"{where}: i4 zero points must be <= 15")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    rows, cols = matrix_view(t.shape)
    g = p["group_size"]
    ng = -(-cols // g)
    q = unpack_nibbles(b[0], rows * ng * g, p["signed"]).astype(np.int32).reshape(rows, ng, g)
    s = b[1].view(scale_numpy(p["scale_dtype"])).astype(np.float32).reshape(rows, ng, 1)
    if not p["signed"]:
        q = q - b[2].astype(np.int32).reshape(rows, ng, 1)
    x = (q.astype(np.float32) * s).reshape(rows, ng * g)[:, :cols]
    return np.ascontiguousarray(x).reshape(t.shape)


def describe(p: dict) -> str:
    return f"g={p['group_size']} {scale_name(p['scale_dtype'])}" + ("" if p["signed"] else " zp")
