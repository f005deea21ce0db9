"""The .pyrt format in Python: writer, encoders and a pure (numpy-only) reader. See formats/SPEC.md."""
from . import spec
from .crc32c import crc32c
from .encode import (EncodedTensor, encode, encode_csr, encode_dense, encode_i4, encode_i8, encode_lut,
                     encode_lut_codes, kmeans_1d)
from .errors import FormatError
from .reader import Reader, TensorInfo, read
from .writer import GraphBuilder, TensorRef, Writer

__all__ = ["spec", "crc32c", "EncodedTensor", "encode", "encode_csr", "encode_dense", "encode_i4", "encode_i8",
           "encode_lut", "encode_lut_codes", "kmeans_1d", "FormatError", "Reader", "TensorInfo", "read",
           "GraphBuilder", "TensorRef", "Writer"]
