"""dense (SPEC §6.2): the logical dtype as it is, or f32 stored as f16."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ..errors import FormatError
from ._common import EncodedTensor, le, no_reserved, widen_f16

ID, NAME, PARAMS_SIZE = spec.ENC_DENSE, "dense", 8

_NUMPY_TO_DT = {np.dtype(np.float32): spec.DT_F32, np.dtype(np.float16): spec.DT_F16,
                np.dtype(np.int8): spec.DT_I8, np.dtype(np.uint8): spec.DT_U8,
                np.dtype(np.int32): spec.DT_I32, np.dtype(np.int64): spec.DT_I64,
                np.dtype(np.bool_): spec.DT_BOOL, np.dtype(np.float64): spec.DT_F64,
                np.dtype(np.int16): spec.DT_I16, np.dtype(np.uint16): spec.DT_U16,
                np.dtype(np.uint32): spec.DT_U32, np.dtype(np.uint64): spec.DT_U64}


def encode(array, storage: str | None = None) -> EncodedTensor:
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
    data = le(a.astype(np.float16) if store == spec.DT_F16 else a, spec.DTYPE_NUMPY[store])
    params = struct.pack("<B7x", store)
    return EncodedTensor(logical, tuple(int(d) for d in a.shape), ID, params, [data], features({"storage": store}))


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    sd, rest = c.unpack("<B7s", "dense params")
    no_reserved(rest, fail)
    if sd not in spec.DTYPE_NAMES:
        fail(f"unknown storage dtype {sd}")
    if sd != dtype and not (dtype == spec.DT_F32 and sd == spec.DT_F16):
        fail(f"storage dtype {spec.DTYPE_NAMES[sd]} cannot hold logical dtype {spec.DTYPE_NAMES[dtype]}")
    return {"storage": sd}, 1


def buffer_sizes(t) -> list:
    return [t.numel * spec.DTYPE_SIZES[t.params["storage"]]]


def features(p: dict) -> int:
    return spec.FEAT_F16 if p["storage"] == spec.DT_F16 else 0


def check(t, b: list, where: str):
    if t.params["storage"] == spec.DT_BOOL and (b[0] > 1).any():
        raise FormatError(f"{where}: bool bytes must be 0 or 1")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    a = b[0].view(spec.DTYPE_NUMPY[p["storage"]])
    if p["storage"] == spec.DT_BOOL:
        a = a.astype(bool)
    elif p["storage"] != t.dtype:
        a = widen_f16(a)
    return a.reshape(t.shape).copy()


def describe(p: dict) -> str:
    return spec.DTYPE_NAMES[p["storage"]]
