"""One module per encoding (SPEC §6.1), mirroring csrc/format/encodings/: each has ID, NAME, PARAMS_SIZE,
encode(array, **options), parse_params(cursor, dtype, shape, fail) -> (params, buffer count),
buffer_sizes(tensor_info), features(params), check(tensor_info, buffers, where) (the deferred checks of
SPEC §6.4 other than CRCs), decode(tensor_info, buffers) (pure numpy) and describe(params) (inspection words).
The reader, the encoders and the inspection tables dispatch through REGISTRY instead of switching."""
from . import csr, dense, i4, i8, i8g, lut
from ._common import EncodedTensor

REGISTRY = {m.ID: m for m in (dense, i8, i4, csr, lut, i8g)}
BY_NAME = {m.NAME: m for m in REGISTRY.values()}


def get(encoding_id: int):
    """The module of an encoding id (KeyError when unknown)."""
    return REGISTRY[encoding_id]


__all__ = ["REGISTRY", "BY_NAME", "get", "EncodedTensor"]
