"""`pyruntime.load(path)`: a model file opened through the C++ reader (zero-copy mmap)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .format.errors import FormatError


def _native():
    try:
        from . import _core
    except ImportError as e:  # pragma: no cover - only when the package was not built
        raise ImportError("pyruntime's native module is missing: install the package with `pip install .` "
                          "(or use load(path, backend='python'))") from e
    return _core


@dataclass(frozen=True)
class TensorEntry:
    """One row of a model's tensor table."""
    name: str
    dtype: str            # logical dtype, what decoding produces
    shape: tuple
    encoding: str         # dense | i8 | i4 | csr | lut
    detail: str           # encoding parameters in words, e.g. "f16", "axis=0", "g=32 f16", "1x4 i8 u16"
    nbytes: int           # bytes of its buffers in the file
    numel: int
    nonzeros: int | None  # stored non-zeros (csr: stored block elements), else None
    layouts: tuple = ()   # pre-packed layout ids (SPEC §6.6)
    layout_bytes: int = 0  # bytes the pre-packed layouts add to the file

    @property
    def sparsity(self) -> float | None:
        if self.nonzeros is None or self.numel == 0:
            return None
        return 1.0 - self.nonzeros / self.numel

    @property
    def f32_bytes(self) -> int:
        return 4 * self.numel


class Model:
    """A validated .pyrt file. Tensors are decoded on demand; `view` exposes stored buffers in place."""

    def __init__(self, path, verify: str = "lazy", backend: str = "native"):
        self.path = os.fspath(path)
        if backend == "native":
            self._impl = _native().Model(self.path, verify)
        elif backend == "python":
            from .format.reader import Reader
            self._impl = _PythonModel(Reader(self.path, verify))
        else:
            raise ValueError("backend must be 'native' or 'python'")
        self.backend = backend
        info = self._impl.info()
        self.version = (info["major"], info["minor"])
        self.required_features = info["required_features"]
        self.optional_features = info["optional_features"]
        self.meta = info["meta"]
        self.tensors = [_entry(t) for t in info["tensors"]]
        self._index = {t.name: i for i, t in enumerate(self.tensors)}

    @property
    def inputs(self):
        return self.meta["inputs"]

    @property
    def outputs(self):
        return self.meta["outputs"]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def entry(self, name: str) -> TensorEntry:
        if name not in self._index:
            raise KeyError(f"no tensor named {name!r} in {self.path}")
        return self.tensors[self._index[name]]

    def tensor(self, name: str) -> np.ndarray:
        """Decodes a tensor (checking its data first): the logical dtype for dense tensors, else float32."""
        self.entry(name)
        return self._impl.decode(name)

    def view(self, name: str, buffer: int = 0) -> np.ndarray:
        """The stored bytes of one buffer of a tensor, as a read-only uint8 array backed by the mapping."""
        self.entry(name)
        return self._impl.view(name, buffer)

    def verify(self):
        """Checks every tensor's data now (CRCs, indices, scales); raises FormatError on the first problem."""
        self._impl.verify()

    def graph(self):
        return self._impl.graph()

    def __repr__(self):
        return f"<pyruntime.Model {self.meta['model_name'] or self.path!r}: {len(self.tensors)} tensors>"


class _PythonModel:
    """Adapter giving the pure reader the native module's interface."""

    def __init__(self, reader):
        self.r = reader

    def info(self):
        from .format import spec
        r = self.r
        rows = [dict(name=t.name, dtype=spec.DTYPE_NAMES[t.dtype], shape=tuple(t.shape), encoding=t.encoding,
                     params=dict(t.params), nbytes=t.nbytes, numel=t.numel,
                     layouts=tuple((lay[0], lay[1], lay[2].size) for lay in t.layouts)) for t in r.tensors]
        return dict(major=r.major, minor=r.minor, required_features=r.required_features,
                    optional_features=r.optional_features, meta=r.meta, tensors=rows)

    def decode(self, name):
        return self.r.decode(name)

    def view(self, name, k):
        t = self.r.tensor_info(name)
        self.r._check_data(self.r._by_name[name])
        if not 0 <= k < len(t.extents):
            raise IndexError(f"tensor {name!r} has {len(t.extents)} buffers")
        return self.r._bytes(t.extents[k])

    def verify(self):
        for i in range(len(self.r.tensors)):
            self.r._check_data(i)

    def graph(self):
        return self.r.graph


def _entry(row: dict) -> TensorEntry:
    from .format.encodings import get
    p, enc = row["params"], get(row["encoding"])
    nonzeros = getattr(enc, "nonzeros", None)   # sparse encodings: the elements they store
    return TensorEntry(name=row["name"], dtype=row["dtype"], shape=tuple(row["shape"]),
                       encoding=enc.NAME, detail=enc.describe(p), nbytes=row["nbytes"], numel=row["numel"],
                       nonzeros=nonzeros(p, row["numel"]) if nonzeros else None,
                       layouts=tuple(lay[0] for lay in row["layouts"]),
                       layout_bytes=sum(lay[2] for lay in row["layouts"]))


def load(path, verify: str = "lazy", backend: str = "native") -> Model:
    """Opens a .pyrt file. Raises FileNotFoundError for a missing file and FormatError for a bad one.

    verify="lazy": structure checked now, each tensor's data before its first use (open cost does not grow
    with the weights); verify="full": everything now, including every CRC."""
    return Model(path, verify, backend)


__all__ = ["Model", "TensorEntry", "load", "FormatError"]
