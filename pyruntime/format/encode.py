"""Encoders: numpy arrays → the byte layouts of SPEC §6.2.

Each encoder returns an `EncodedTensor` (logical dtype, shape, encoding id, params bytes, buffers) that the
writer lays out in the file. Quantizers round half to even (np.rint) and clamp to the stated ranges, and they
quantize against the scale exactly as it is stored (e.g. after rounding it to f16), so decoding is within half
a step of the input. Each encoding's encoder lives in its module under encodings/; this module names them.
"""
from __future__ import annotations

from .encodings import BY_NAME, csr, dense, i4, i8, lut
from .encodings._common import EncodedTensor, matrix_view, pack_nibbles, unpack_nibbles

encode_dense = dense.encode
encode_i8 = i8.encode
encode_i4 = i4.encode
encode_csr = csr.encode
encode_lut = lut.encode
encode_lut_codes = lut.encode_codes
kmeans_1d = lut.kmeans_1d


def encode(array, encoding: str = "dense", **options) -> EncodedTensor:
    """Encodes with the named encoding's module; "f32" is dense and "f16" dense stored as f16."""
    if encoding == "f16":
        return dense.encode(array, storage="f16")
    m = dense if encoding == "f32" else BY_NAME.get(encoding)
    if m is None:
        raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(['dense', 'f16', *list(BY_NAME)[1:]])}")
    return m.encode(array, **options)


__all__ = ["EncodedTensor", "encode", "encode_csr", "encode_dense", "encode_i4", "encode_i8", "encode_lut",
           "encode_lut_codes", "kmeans_1d", "matrix_view", "pack_nibbles", "unpack_nibbles"]
