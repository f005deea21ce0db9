"""i8g (SPEC §6.2): int8 in groups of G along the columns of the matrix view, each row padded to whole groups,
one f32 or f16 scale per group. ggml's Q8_0 (32 values and an f16 scale) is exactly i8g with G = 32, f16 scales."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ._common import (EncodedTensor, as_f32, check_finite, check_group, grouped, le, matrix_view, no_reserved, pow2_group,
                      require_f32, require_rank1, scale_dtype_id, scale_name, scale_numpy, store_scale)

ID, NAME, PARAMS_SIZE = spec.ENC_I8G, "i8g", 8


def encode(array, group_size: int = 32, scale_dtype: str = "f16") -> EncodedTensor:
    """int8 groups of `group_size` along the input axis, each group's max-abs value mapped to 127."""
    check_group(group_size)
    sd = scale_dtype_id(scale_dtype)
    x = as_f32(array)
    rows, cols, ng, g = grouped(x, group_size)
    amax = np.abs(g).max(axis=2) if g.size else np.zeros((rows, ng))
    s = store_scale(amax / 127.0, sd)
    q = np.clip(np.rint(g / s[:, :, None]), -127, 127).astype(np.int8)
    return from_parts(x.shape, q.reshape(rows, ng * group_size), s.astype(scale_numpy(sd)), group_size)


def from_parts(shape, q: np.ndarray, scales: np.ndarray, group_size: int) -> EncodedTensor:
    """The tensor of given codes (int8 [rows, ngroups x G], padding included) and scales ([rows, ngroups], f32 or
    f16 kept as they are: a converter's exact values)."""
    check_group(group_size)
    rows, cols = matrix_view(shape)
    ng = -(-cols // group_size)
    q, scales = np.asarray(q), np.asarray(scales)
    if q.dtype != np.int8 or q.shape != (rows, ng * group_size):
        raise ValueError(f"i8g codes must be int8 {(rows, ng * group_size)}, got {q.dtype} {q.shape}")
    if scales.dtype not in (np.float16, np.float32) or scales.shape != (rows, ng):
        raise ValueError(f"i8g scales must be f16 or f32 {(rows, ng)}, got {scales.dtype} {scales.shape}")
    sd = spec.SCALE_F16 if scales.dtype == np.float16 else spec.SCALE_F32
    q = q.copy()
    q[:, cols:] = 0                                   # padding values are written as 0
    params = struct.pack("<IB3x", group_size, sd)
    return EncodedTensor(spec.DT_F32, tuple(int(d) for d in shape), ID, params,
                         [q.tobytes(), le(scales, scale_numpy(sd))], features({"scale_dtype": sd}))


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    require_f32(NAME, dtype, fail)
    require_rank1(NAME, shape, fail)
    g, sdt, rest = c.unpack("<IB3s", "i8g params")
    no_reserved(rest, fail)
    if not pow2_group(g):
        fail(f"i8g group size {g} is not a power of two in [16, 65536]")
    if sdt not in (spec.SCALE_F32, spec.SCALE_F16):
        fail(f"i8g scale dtype {sdt} is not 1 (f32) or 2 (f16)")
    return {"group_size": g, "scale_dtype": sdt}, 2


def buffer_sizes(t) -> list:
    p = t.params
    rows, cols = matrix_view(t.shape)
    ng = -(-cols // p["group_size"])
    return [rows * ng * p["group_size"], rows * ng * (4 if p["scale_dtype"] == spec.SCALE_F32 else 2)]


def features(p: dict) -> int:
    return spec.FEAT_I8G | (spec.FEAT_F16 if p["scale_dtype"] == spec.SCALE_F16 else 0)


def check(t, b: list, where: str):
    check_finite(b[1].view(scale_numpy(t.params["scale_dtype"])), where, "i8g scales")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    rows, cols = matrix_view(t.shape)
    g = p["group_size"]
    ng = -(-cols // g)
    q = np.frombuffer(b[0], np.int8).reshape(rows, ng, g).astype(np.float32)
    s = b[1].view(scale_numpy(p["scale_dtype"])).astype(np.float32).reshape(rows, ng, 1)
    x = (q * s).reshape(rows, ng * g)[:, :cols]
    return np.ascontiguousarray(x).reshape(t.shape)


def describe(p: dict) -> str:
    return f"g={p['group_size']} {scale_name(p['scale_dtype'])}"
