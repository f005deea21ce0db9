"""The .pyrt writer (numpy only). Output is deterministic: the same inputs give the same bytes."""
from __future__ import annotations

import os
import shutil
import struct
import tempfile

import numpy as np

from . import spec
from .crc32c import crc32c, crc32c_combine
from .encode import EncodedTensor, encode


def _align(n: int) -> int:
    return (n + spec.ALIGN - 1) & ~(spec.ALIGN - 1)


def _str(s: str, cap: int, what: str, allow_empty: bool = False) -> bytes:
    b = s.encode("utf-8")
    if len(b) > cap or (not b and not allow_empty):
        raise ValueError(f"{what} {s!r}: length must be in [{0 if allow_empty else 1}, {cap}] bytes")
    return struct.pack("<I", len(b)) + b


def _dtype_id(dtype) -> int:
    if isinstance(dtype, int):
        return dtype
    if isinstance(dtype, str) and dtype in spec.DTYPE_IDS:
        return spec.DTYPE_IDS[dtype]
    d = np.dtype(dtype)
    names = {np.float32: "f32", np.float16: "f16", np.int8: "i8", np.uint8: "u8", np.int32: "i32",
             np.int64: "i64", np.bool_: "bool", np.float64: "f64", np.int16: "i16", np.uint16: "u16",
             np.uint32: "u32", np.uint64: "u64"}
    for t, n in names.items():
        if d == np.dtype(t):
            return spec.DTYPE_IDS[n]
    raise ValueError(f"unsupported dtype {dtype}")


class TensorRef:
    """An attribute value that refers to a tensor of the file by name."""

    def __init__(self, name: str):
        self.name = name


class GraphBuilder:
    """Values and nodes of the GRAPH section (SPEC §7). Values are referred to by integer ids."""

    def __init__(self, writer: "Writer"):
        self._w = writer
        self.values: list[tuple[str, int, tuple | None]] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.consts: list[tuple[int, str]] = []
        self.nodes: list[tuple] = []

    def value(self, name: str = "", dtype=0, shape=None) -> int:
        self.values.append((name, _dtype_id(dtype) if dtype else 0, None if shape is None else tuple(shape)))
        return len(self.values) - 1

    def input(self, name: str) -> int:
        io = dict((n, (d, s)) for n, d, s in self._w.inputs)
        if name not in io:
            raise ValueError(f"graph input {name!r} is not a model input; call add_input first")
        vid = self.value(name, io[name][0], io[name][1])
        self.inputs.append(vid)
        return vid

    def const(self, tensor_name: str) -> int:
        t = self._w.tensor_record(tensor_name)
        vid = self.value(tensor_name, t.dtype, t.shape)
        self.consts.append((vid, tensor_name))
        return vid

    def node(self, op_type: str, inputs, outputs=1, attrs=None, name: str = "", version: int = 1):
        """Adds a node; `outputs` is a count or a list of names. Returns the output value ids."""
        outs = [self.value(n) for n in outputs] if isinstance(outputs, (list, tuple)) else \
            [self.value() for _ in range(int(outputs))]
        ins = [spec.NO_VALUE if i is None else int(i) for i in inputs]
        self.nodes.append((name, op_type, int(version), ins, outs, dict(attrs or {})))
        return outs

    def output(self, value_id: int, name: str | None = None):
        if name is not None:
            n, d, s = self.values[value_id]
            self.values[value_id] = (name, d, s)
        self.outputs.append(value_id)

    def _attr(self, name: str, v) -> bytes:
        out = _str(name, spec.MAX_KEY, "attribute name")
        if isinstance(v, TensorRef):
            return out + struct.pack("<BI", spec.ATTR_TENSOR, self._w.tensor_index(v.name))
        if isinstance(v, (bool, int, np.integer)):
            return out + struct.pack("<Bq", spec.ATTR_INT, int(v))
        if isinstance(v, (float, np.floating)):
            return out + struct.pack("<Bf", spec.ATTR_FLOAT, float(v))
        if isinstance(v, str):
            return out + struct.pack("<B", spec.ATTR_STRING) + _str(v, spec.MAX_BLOB, "string attribute", True)
        if isinstance(v, (list, tuple, np.ndarray)) and len(v) and all(isinstance(x, str) for x in v):
            if len(v) > spec.MAX_LIST:
                raise ValueError(f"attribute {name!r}: {len(v)} strings exceed the cap {spec.MAX_LIST}")
            return out + struct.pack("<BI", spec.ATTR_STRINGS, len(v)) + \
                b"".join(_str(x, spec.MAX_BLOB, "string attribute", True) for x in v)
        if isinstance(v, (list, tuple, np.ndarray)):
            arr = np.asarray(v)
            if arr.dtype.kind == "f":
                return out + struct.pack("<BI", spec.ATTR_FLOATS, arr.size) + arr.astype("<f4").tobytes()
            return out + struct.pack("<BI", spec.ATTR_INTS, arr.size) + arr.astype("<i8").tobytes()
        raise TypeError(f"attribute {name!r}: unsupported value type {type(v).__name__}")

    def to_bytes(self) -> bytes:
        b = [struct.pack("<I", len(self.values))]
        for name, dt, shape in self.values:
            b.append(_str(name, spec.MAX_NAME, "value name", True))
            if shape is None:
                b.append(struct.pack("<BBH", dt, spec.UNKNOWN_RANK, 0))
            else:
                b.append(struct.pack("<BBH", dt, len(shape), 0) + np.asarray(shape, "<i8").tobytes())
        for ids in (self.inputs, self.outputs):
            b.append(struct.pack("<I", len(ids)) + np.asarray(ids, "<u4").tobytes())
        b.append(struct.pack("<I", len(self.consts)))
        for vid, tname in self.consts:
            b.append(struct.pack("<II", vid, self._w.tensor_index(tname)))
        b.append(struct.pack("<I", len(self.nodes)))
        for name, op, ver, ins, outs, attrs in self.nodes:
            b.append(_str(name, spec.MAX_NAME, "node name", True) + _str(op, spec.MAX_OP_TYPE, "op type"))
            b.append(struct.pack("<HHI", ver, 0, len(ins)) + np.asarray(ins, "<u4").tobytes())
            b.append(struct.pack("<I", len(outs)) + np.asarray(outs, "<u4").tobytes())
            b.append(struct.pack("<I", len(attrs)))
            b.extend(self._attr(k, attrs[k]) for k in attrs)
        return b"".join(b)


class _Spooled:
    """A buffer already written to the writer's spool file: what the tensor table needs of it."""
    __slots__ = ("size", "crc")

    def __init__(self, size: int, crc: int):
        self.size, self.crc = size, crc

    def __len__(self):
        return self.size


class Writer:
    """Builds a .pyrt file in memory and writes it atomically. After spool(), each tensor's encoded buffers go to
    a temporary file as it is added and save() streams them into place: the writer then holds no weights, so
    an exporter that makes one tensor at a time (a checkpoint folder) peaks at about its largest tensor.

    >>> w = Writer(model_name="demo")
    >>> w.add_tensor("fc.weight", np.ones((4, 8), np.float32), "i8", axis=0)
    >>> w.save("demo.pyrt")
    """

    def __init__(self, model_name: str = "", producer: str = "pyruntime", producer_version: str | None = None):
        if producer_version is None:
            from .. import __version__ as producer_version
        self.model_name, self.producer, self.producer_version = model_name, producer, producer_version
        self.inputs: list[tuple[str, int, tuple]] = []
        self.outputs: list[tuple[str, int, tuple]] = []
        self.props: dict[str, object] = {}
        self._tensors: list[tuple[str, EncodedTensor]] = []
        self._index: dict[str, int] = {}
        self.graph: GraphBuilder | None = None
        self._spool = None        # the DATA section's bytes so far, when spooling, with their length and CRC
        self._spool_len = self._spool_crc = 0

    def spool(self):
        """From now on, tensors' buffers go to a temporary file as they are added (see the class)."""
        if self._tensors:
            raise ValueError("spool() must come before the first tensor")
        self._spool = tempfile.TemporaryFile(prefix="pyrt-spool-")

    def _put(self, buf: bytes) -> "_Spooled":
        """Appends one buffer and its padding to the spool, as _tensor_table lays DATA out."""
        if not buf:
            return _Spooled(0, 0)
        crc = crc32c(buf)
        pad = b"\0" * (_align(len(buf)) - len(buf))
        self._spool.write(buf)
        self._spool.write(pad)
        self._spool_crc = crc32c_combine(self._spool_crc, crc, len(buf))
        if pad:
            self._spool_crc = crc32c_combine(self._spool_crc, crc32c(pad), len(pad))
        self._spool_len += len(buf) + len(pad)
        return _Spooled(len(buf), crc)

    # ------------------------------------------------------------------ metadata
    def add_input(self, name: str, dtype, shape):
        self.inputs.append((name, _dtype_id(dtype), tuple(-1 if d is None else int(d) for d in shape)))

    def add_output(self, name: str, dtype, shape):
        self.outputs.append((name, _dtype_id(dtype), tuple(-1 if d is None else int(d) for d in shape)))

    def set_prop(self, key: str, value):
        if not isinstance(value, (str, bytes, int, float, np.integer, np.floating)):
            raise TypeError(f"property {key!r}: value must be str, bytes, int or float")
        self.props[key] = value

    def new_graph(self) -> GraphBuilder:
        self.graph = GraphBuilder(self)
        return self.graph

    # ------------------------------------------------------------------ tensors
    def add_tensor(self, name: str, data, encoding: str = "dense", **options) -> int:
        """Adds a tensor from a numpy array (encoded with `encoding` and its options) or an EncodedTensor."""
        if name in self._index:
            raise ValueError(f"duplicate tensor name {name!r}")
        if not isinstance(data, EncodedTensor) and np.asarray(data).dtype.kind in "OUS":
            # a string element is a handle to bytes elsewhere in memory: the format stores no string tensors
            raise ValueError(f"tensor {name!r}: string tensors cannot be stored in a .pyrt file (string values are "
                             "graph inputs, outputs and values between ops only)")
        enc = data if isinstance(data, EncodedTensor) else encode(data, encoding, **options)
        if self._spool is not None:
            enc.buffers = [self._put(b) for b in enc.buffers]
        self._index[name] = len(self._tensors)
        self._tensors.append((name, enc))
        return self._index[name]

    def add_layout(self, name: str, layout_id: int, layout_param: int, data: bytes):
        """Attaches a pre-packed layout (SPEC §6.6) to an existing tensor."""
        if layout_id < 1:
            raise ValueError("layout_id must be >= 1")
        if self._spool is not None:
            raise ValueError("a spooling writer takes no layouts (they would follow every tensor in DATA)")
        self._tensors[self.tensor_index(name)][1].layouts.append((int(layout_id), int(layout_param), bytes(data)))

    def tensor_index(self, name: str) -> int:
        if name not in self._index:
            raise KeyError(f"no tensor named {name!r}")
        return self._index[name]

    def tensor_record(self, name: str) -> EncodedTensor:
        return self._tensors[self.tensor_index(name)][1]

    # ------------------------------------------------------------------ serialization
    def _meta(self) -> bytes:
        b = [_str(self.producer, spec.MAX_PRODUCER, "producer", True),
             _str(self.producer_version, spec.MAX_PRODUCER, "producer version", True),
             _str(self.model_name, spec.MAX_NAME, "model name", True)]
        for ios in (self.inputs, self.outputs):
            b.append(struct.pack("<I", len(ios)))
            for name, dt, shape in ios:
                b.append(_str(name, spec.MAX_NAME, "input/output name"))
                b.append(struct.pack("<BBH", dt, len(shape), 0) + np.asarray(shape, "<i8").tobytes())
        b.append(struct.pack("<I", len(self.props)))
        for key in sorted(self.props):
            v = self.props[key]
            b.append(_str(key, spec.MAX_KEY, "property key"))
            if isinstance(v, str):
                b.append(struct.pack("<B", spec.PROP_STRING) + _str(v, spec.MAX_BLOB, "property value", True))
            elif isinstance(v, bytes):
                if len(v) > spec.MAX_BLOB:
                    raise ValueError(f"property {key!r}: more than {spec.MAX_BLOB} bytes")
                b.append(struct.pack("<BI", spec.PROP_BYTES, len(v)) + v)
            elif isinstance(v, (int, np.integer)):
                b.append(struct.pack("<Bq", spec.PROP_INT, int(v)))
            else:
                b.append(struct.pack("<Bd", spec.PROP_FLOAT, float(v)))
        return b"".join(b)

    def _tensor_table(self, data_base: int, crcs: dict) -> tuple[bytes, list[bytes], int, int]:
        """TENSORS bytes with absolute extents, the DATA chunks, required and optional feature bits."""
        recs = [struct.pack("<I", len(self._tensors))]
        chunks: list[bytes] = []
        pos = 0
        feats = opt = 0

        def extent(buf: bytes) -> bytes:
            nonlocal pos
            if not len(buf):
                return struct.pack("<QQII", 0, 0, 0, 0)
            if isinstance(buf, _Spooled):
                crcs[id(buf)] = buf.crc
            if id(buf) not in crcs:
                crcs[id(buf)] = crc32c(buf)
            e = struct.pack("<QQII", data_base + pos, len(buf), crcs[id(buf)], 0)
            pad = _align(len(buf)) - len(buf)
            if not isinstance(buf, _Spooled):
                chunks.append(buf)
                if pad:
                    chunks.append(b"\0" * pad)
            pos += len(buf) + pad
            return e

        for name, t in self._tensors:
            if len(t.shape) > spec.MAX_RANK:
                raise ValueError(f"tensor {name!r}: rank {len(t.shape)} exceeds {spec.MAX_RANK}")
            recs.append(_str(name, spec.MAX_NAME, "tensor name"))
            recs.append(struct.pack("<BBBB", t.dtype, t.encoding, len(t.shape), len(t.layouts)))
            recs.append(np.asarray(t.shape, "<u8").tobytes() + t.params)
            recs.extend(extent(b) for b in t.buffers)
            for lid, lparam, data in t.layouts:
                recs.append(struct.pack("<II", lid, lparam) + extent(data))
                opt |= spec.OPT_PREPACKED
            feats |= t.features
        return b"".join(recs), chunks, feats, opt

    def _assemble(self):
        """(the bytes before DATA: header, section table, META, TENSORS, GRAPH; DATA's chunks, or None when
        they are in the spool)."""
        meta = self._meta()
        graph = self.graph.to_bytes() if self.graph is not None else None
        nsec = 3 + (graph is not None)
        table_end = spec.HEADER_SIZE + nsec * spec.SECTION_ENTRY_SIZE
        crcs: dict = {}
        probe, _, _, _ = self._tensor_table(0, crcs)
        meta_off = _align(table_end)
        tens_off = _align(meta_off + len(meta))
        graph_off = _align(tens_off + len(probe))
        data_off = _align(graph_off + (len(graph) if graph is not None else 0))
        tensors, chunks, feats, opt = self._tensor_table(data_off, crcs)
        assert len(tensors) == len(probe)  # record sizes do not depend on the base offset
        if self._spool is not None:
            data_len, data_crc, chunks = self._spool_len, self._spool_crc, None
        else:
            chunks = [b"".join(chunks)]
            data_len, data_crc = len(chunks[0]), crc32c(chunks[0])
        sections = [(spec.SEC_META, meta_off, meta), (spec.SEC_TENSORS, tens_off, tensors)]
        if graph is not None:
            sections.append((spec.SEC_GRAPH, graph_off, graph))
        table = b"".join(struct.pack("<IIQQII", kind, spec.SECTION_FLAG_REQUIRED, off, len(body), crc32c(body), 0)
                         for kind, off, body in sections)
        table += struct.pack("<IIQQII", spec.SEC_DATA, spec.SECTION_FLAG_REQUIRED, data_off, data_len, data_crc, 0)
        file_size = data_off + data_len
        head = spec.MAGIC + struct.pack("<HHIQQQQIII", spec.MAJOR, spec.MINOR, spec.HEADER_SIZE, feats, opt,
                                        file_size, spec.HEADER_SIZE, len(sections) + 1, crc32c(table), 0)
        head += struct.pack("<I", crc32c(head))
        out = bytearray(data_off)
        out[:64] = head
        out[64:64 + len(table)] = table
        for _, off, body in sections:
            out[off:off + len(body)] = body
        return out, chunks

    def to_bytes(self) -> bytes:
        if self._spool is not None:
            raise ValueError("a spooling writer streams its file: use save(path)")
        head, chunks = self._assemble()
        return bytes(head + chunks[0])

    def save(self, path) -> int:
        """Writes the file atomically (temporary file + rename): a failed save leaves nothing behind."""
        if self._spool is None:
            return atomic_write(path, self.to_bytes())
        head, _ = self._assemble()

        def body(f):
            f.write(head)
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, f, 16 << 20)
        return atomic_write(path, body)


def atomic_write(path, blob) -> int:
    """Writes `blob` (bytes, or a function that writes to the open file) to `path` through a temporary file in
    the same directory and a rename. Returns the file's size."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pyrt-", suffix=".tmp", dir=d)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes 0600; a model file is an ordinary file
        with os.fdopen(fd, "wb") as f:
            if callable(blob):
                blob(f)
            else:
                f.write(blob)
            size = f.tell()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size
