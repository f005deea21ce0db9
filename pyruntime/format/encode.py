"""Encoders: numpy arrays → the byte layouts of SPEC §6.2.

Each encoder returns an `EncodedTensor` (logical dtype, shape, encoding id, params bytes, buffers) that the
writer lays out in the file. Quantizers round half to even (np.rint) and clamp to the stated ranges, and they
quantize against the scale exactly as it is stored (e.g. after rounding it to f16), so decoding is within half
a step of the input. Each encoding's encoder lives in its module under encodings/; this module names them.
"""
from __future__ import annotations

import struct

import numpy as np

from . import spec
from .encodings import BY_NAME, csr, dense, i4, i8, i8g, lut
from .encodings._common import EncodedTensor, matrix_view, pack_nibbles, unpack_nibbles

encode_dense = dense.encode
encode_i8 = i8.encode
encode_i4 = i4.encode
encode_i8g = i8g.encode
encode_csr = csr.encode
encode_lut = lut.encode
encode_lut_codes = lut.encode_codes
kmeans_1d = lut.kmeans_1d


# f32 bytes of rows an int4 / per-row int8 encoder takes at a time: its float64 temporaries (the scale search
# tries 17 clipping ratios) then stay a few times this, not a few times a 500 MB embedding table.
ROW_BLOCK_BYTES = 32 << 20


def encode(array, encoding: str = "dense", **options) -> EncodedTensor:
    """Encodes with the named encoding's module; "f32" is dense and "f16" dense stored as f16. Encodings whose
    rows are independent (i4; i8 per row) are encoded a block of rows at a time: the same bytes."""
    if encoding == "f16":
        return dense.encode(array, storage="f16")
    m = dense if encoding == "f32" else BY_NAME.get(encoding)
    if m is None:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(['dense', 'f16', *list(BY_NAME)[1:]])}")
    rowwise = m in (i4, i8g) or (m is i8 and options.get("axis") == 0 and not options.get("zero_point"))
    shape = getattr(array, "shape", ())
    if rowwise and len(shape) >= 2 and shape[0] > 1:
        per_row = 4 * max(int(np.prod(shape[1:])), 1)
        step = max(1, ROW_BLOCK_BYTES // per_row)
        if shape[0] > step:
            return concat_rows([m.encode(array[r:r + step], **options) for r in range(0, shape[0], step)])
    return m.encode(array, **options)


def concat_rows(parts: list) -> EncodedTensor:
    """The rows of several tensors of one row-wise encoding (dense, i4, i8g, or i8 per row without zero points)
    with the same params and row shape, one after the other: their buffers joined, no value touched."""
    first = parts[0]
    for p in parts[1:]:
        if (p.encoding, p.params, p.dtype, p.shape[1:]) != (first.encoding, first.params, first.dtype, first.shape[1:]):
            raise ValueError("concat_rows needs tensors of one encoding, params and row shape")
    if len(first.shape) < 2 or first.encoding not in (dense.ID, i4.ID, i8g.ID, i8.ID):
        raise ValueError(f"concat_rows joins matrices of a row-wise encoding, not {spec.ENCODING_NAMES.get(first.encoding)}")
    if first.encoding == i8.ID and struct.unpack_from("<i", first.params)[0] != 0:
        raise ValueError("concat_rows joins i8 tensors with one scale per row (axis 0)")
    shape = (sum(p.shape[0] for p in parts),) + tuple(first.shape[1:])
    return EncodedTensor(first.dtype, shape, first.encoding, first.params,
                         [b"".join(p.buffers[k] for p in parts) for k in range(len(first.buffers))],
                         first.features)


__all__ = ["EncodedTensor", "concat_rows", "encode", "encode_csr", "encode_dense", "encode_i4", "encode_i8",
           "encode_i8g", "encode_lut",
           "encode_lut_codes", "kmeans_1d", "matrix_view", "pack_nibbles", "unpack_nibbles"]
