"""Pure-Python (numpy) reader of .pyrt files: the executable form of SPEC.md.

It checks every rule the C++ reader checks, with the same wording where practical, and decodes every
encoding to numpy. It is used by tests (as a second implementation), by tools that must not load native code,
and as a readable reference.
"""
from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from . import spec
from .crc32c import crc32c
from .encodings import REGISTRY
from .errors import FormatError


class _Cursor:
    """Bounded little-endian reader over one section; every read is checked against the end."""

    def __init__(self, buf, where: str):
        self.buf, self.pos, self.where = buf, 0, where

    def fail(self, msg: str):
        raise FormatError(f"{self.where}: {msg}")

    def take(self, n: int, what: str):
        if n < 0 or n > len(self.buf) - self.pos:
            self.fail(f"truncated while reading {what} (need {n} bytes at offset {self.pos}, "
                      f"section has {len(self.buf)})")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def u8(self, what):
        return self.unpack("<B", what)[0]

    def u16(self, what):
        return self.unpack("<H", what)[0]

    def u32(self, what):
        return self.unpack("<I", what)[0]

    def count(self, cap: int, what: str) -> int:
        n = self.u32(what)
        if n > cap:
            self.fail(f"{what} {n} exceeds the cap {cap}")
        return n

    def str(self, cap: int, what: str, allow_empty: bool = False) -> str:
        n = self.u32(f"{what} length")
        if n > cap:
            self.fail(f"{what} length {n} exceeds the cap {cap}")
        if n == 0 and not allow_empty:
            self.fail(f"{what} is empty")
        try:
            return bytes(self.take(n, what)).decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what} is not valid UTF-8")

    def array(self, n: int, dt: str, what: str) -> np.ndarray:
        size = np.dtype(dt).itemsize
        return np.frombuffer(self.take(n * size, what), dtype=dt)

    def finish(self):
        if self.pos != len(self.buf):
            self.fail(f"{len(self.buf) - self.pos} unexpected bytes at the end of the section")


def _dims(c: _Cursor, rank: int, what: str, signed: bool) -> tuple:
    d = c.array(rank, "<i8" if signed else "<u8", f"{what} dims")
    for v in d.tolist():
        if (signed and v < -1) or v > spec.MAX_DIM:
            c.fail(f"{what}: dimension {v} out of range")
    return tuple(d.tolist())


def _numel(shape, where: str, what: str = "element count") -> int:
    """Product of dims, capped at 2^40 (a zero dim makes it 0 whatever the others are)."""
    if 0 in shape:
        return 0
    n = 1
    for d in shape:
        n *= d
        if n > spec.MAX_NUMEL:
            raise FormatError(f"{where}: {what} exceeds 2^40 (shape {list(shape)})")
    return n


@dataclass
class Extent:
    offset: int
    size: int
    crc: int


@dataclass
class TensorInfo:
    name: str
    dtype: int
    encoding: int
    shape: tuple
    params: dict
    extents: list
    layouts: list = field(default_factory=list)   # (layout_id, layout_param, Extent)
    raw_params: bytes = b""                       # the params as stored (a rewrite copies them)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return sum(e.size for e in self.extents)

    @property
    def encoding_name(self) -> str:
        return REGISTRY[self.encoding].NAME


class Reader:
    """Parses and validates a .pyrt file from a path or a bytes-like object.

    verify="lazy" (default) checks everything whose cost does not grow with the weights at open time and
    each tensor's data before it is first decoded; verify="full" checks everything at open.
    """

    def __init__(self, source, verify: str = "lazy"):
        if verify not in ("lazy", "full"):
            raise ValueError("verify must be 'lazy' or 'full'")
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                try:
                    self._buf = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
                except ValueError:      # empty file: mmap refuses length 0
                    self._buf = memoryview(b"")
        else:
            self._buf = memoryview(source).cast("B")
        self._checked: set[int] = set()
        self._parse()
        if verify == "full":
            d = self.sections.get(spec.SEC_DATA)
            if d is not None and crc32c(self._buf[d[0]:d[0] + d[1]]) != d[2]:
                raise FormatError("DATA section: CRC32C mismatch")
            for i in range(len(self.tensors)):
                self._check_data(i)

    # ------------------------------------------------------------------ header, section table
    def _parse(self):
        b = self._buf
        if len(b) < spec.HEADER_SIZE:
            raise FormatError(f"file too short for the header: {len(b)} bytes, need 64")
        if bytes(b[:8]) != spec.MAGIC:
            raise FormatError("bad magic: not a .pyrt file")
        (major, minor, hsize, req, opt, fsize, toff, nsec, tcrc, res, hcrc) = \
            struct.unpack("<HHIQQQQIIII", b[8:64])
        if major != spec.MAJOR:
            raise FormatError(f"unsupported major version {major} (this reader reads {spec.MAJOR}.x)")
        if crc32c(b[:60]) != hcrc:
            raise FormatError("header CRC32C mismatch")
        if hsize != spec.HEADER_SIZE or res != 0:
            raise FormatError(f"header size {hsize} / reserved {res} invalid")
        unknown = req & ~spec.KNOWN_REQUIRED
        if unknown:
            raise FormatError(f"file requires unknown feature bits 0x{unknown:x} "
                              f"(this reader knows 0x{spec.KNOWN_REQUIRED:x})")
        if fsize != len(b):
            raise FormatError(f"file size mismatch: header says {fsize} bytes, file has {len(b)} "
                              "(truncated or padded)")
        if not 1 <= nsec <= spec.MAX_SECTIONS:
            raise FormatError(f"section count {nsec} out of range [1, {spec.MAX_SECTIONS}]")
        tsize = nsec * spec.SECTION_ENTRY_SIZE
        if toff % 8 or toff < spec.HEADER_SIZE or toff > len(b) or tsize > len(b) - toff:
            raise FormatError(f"section table at {toff} (+{tsize}) is outside the file or misaligned")
        table = b[toff:toff + tsize]
        if crc32c(table) != tcrc:
            raise FormatError("section table CRC32C mismatch")
        self.major, self.minor, self.required_features, self.optional_features = major, minor, req, opt
        self.sections: dict[int, tuple[int, int, int]] = {}
        spans = [(0, spec.HEADER_SIZE, "header"), (toff, tsize, "section table")]
        for i in range(nsec):
            kind, flags, off, size, crc, r = struct.unpack_from("<IIQQII", table, i * 32)
            name = spec.SECTION_NAMES.get(kind, f"kind {kind}")
            if flags & ~spec.SECTION_FLAG_REQUIRED or r:
                raise FormatError(f"section {i} ({name}): unknown flags 0x{flags:x} or reserved bits set")
            if off % spec.ALIGN:
                raise FormatError(f"section {i} ({name}): offset {off} is not 64-byte aligned")
            if off > len(b) or size > len(b) - off:
                raise FormatError(f"section {i} ({name}): extent {off}+{size} runs past the end of the "
                                  f"file ({len(b)} bytes)")
            if kind not in spec.SECTION_NAMES:
                if flags & spec.SECTION_FLAG_REQUIRED:
                    raise FormatError(f"section {i}: unknown required section kind {kind}")
                spans.append((off, size, f"section {i} ({name})"))
                continue
            if kind in self.sections:
                raise FormatError(f"duplicate {name} section")
            self.sections[kind] = (off, size, crc)
            spans.append((off, size, f"{name} section"))
        spans = sorted(s for s in spans if s[1] > 0)
        for a, c in zip(spans, spans[1:]):
            if c[0] < a[0] + a[1]:
                raise FormatError(f"{a[2]} overlaps {c[2]}")
        for kind in (spec.SEC_META, spec.SEC_TENSORS):
            if kind not in self.sections:
                raise FormatError(f"missing {spec.SECTION_NAMES[kind]} section")
        for kind in (spec.SEC_META, spec.SEC_TENSORS, spec.SEC_GRAPH):
            if kind in self.sections:
                off, size, crc = self.sections[kind]
                if crc32c(b[off:off + size]) != crc:
                    raise FormatError(f"{spec.SECTION_NAMES[kind]} section: CRC32C mismatch")
        self._parse_meta()
        self._parse_tensors()
        self.graph = self._parse_graph() if spec.SEC_GRAPH in self.sections else None

    def _section(self, kind: int) -> _Cursor:
        off, size, _ = self.sections[kind]
        return _Cursor(self._buf[off:off + size], f"{spec.SECTION_NAMES[kind]} section")

    # ------------------------------------------------------------------ META
    def _io(self, c: _Cursor, what: str) -> list:
        n = c.count(spec.MAX_IO, f"{what} count")
        out, seen = [], set()
        for _ in range(n):
            name = c.str(spec.MAX_NAME, f"{what} name")
            dt, rank, res = c.unpack("<BBH", f"{what} dtype/rank")
            if dt not in spec.DTYPE_NAMES:
                c.fail(f"{what} {name!r}: unknown dtype {dt}")
            if rank > spec.MAX_RANK or res:
                c.fail(f"{what} {name!r}: rank {rank} exceeds {spec.MAX_RANK} or reserved bits set")
            if name in seen:
                c.fail(f"duplicate {what} name {name!r}")
            seen.add(name)
            out.append((name, spec.DTYPE_NAMES[dt], _dims(c, rank, f"{what} {name!r}", True)))
        return out

    def _parse_meta(self):
        c = self._section(spec.SEC_META)
        m = {"producer": c.str(spec.MAX_PRODUCER, "producer", True),
             "producer_version": c.str(spec.MAX_PRODUCER, "producer version", True),
             "model_name": c.str(spec.MAX_NAME, "model name", True)}
        m["inputs"] = self._io(c, "input")
        m["outputs"] = self._io(c, "output")
        props = {}
        for _ in range(c.count(spec.MAX_PROPS, "property count")):
            key = c.str(spec.MAX_KEY, "property key")
            if key in props:
                c.fail(f"duplicate property key {key!r}")
            t = c.u8(f"property {key!r} type")
            if t == spec.PROP_STRING:
                props[key] = c.str(spec.MAX_BLOB, f"property {key!r}", True)
            elif t == spec.PROP_INT:
                props[key] = c.unpack("<q", f"property {key!r}")[0]
            elif t == spec.PROP_FLOAT:
                props[key] = c.unpack("<d", f"property {key!r}")[0]
            elif t == spec.PROP_BYTES:
                props[key] = bytes(c.take(c.count(spec.MAX_BLOB, f"property {key!r} length"), f"property {key!r}"))
            else:
                c.fail(f"property {key!r}: unknown type {t}")
        m["props"] = props
        c.finish()
        self.meta = m

    # ------------------------------------------------------------------ TENSORS
    def _parse_tensors(self):
        c = self._section(spec.SEC_TENSORS)
        n = c.count(spec.MAX_TENSORS, "tensor count")
        data = self.sections.get(spec.SEC_DATA)
        d0, d1 = (data[0], data[0] + data[1]) if data else (0, 0)
        self.tensors: list[TensorInfo] = []
        self._by_name: dict[str, int] = {}
        used = 0
        spans = []

        def extent(where: str) -> Extent:
            off, size, crc, res = c.unpack("<QQII", f"{where} extent")
            if res:
                c.fail(f"{where}: reserved extent field is not zero")
            if size == 0:
                if off or crc:
                    c.fail(f"{where}: an empty extent must have offset 0 and CRC 0")
            else:
                if off % spec.ALIGN:
                    raise FormatError(f"{where}: buffer offset {off} is not 64-byte aligned")
                if data is None or off < d0 or off > d1 or size > d1 - off:
                    raise FormatError(f"{where}: buffer {off}+{size} lies outside the DATA section "
                                      f"[{d0}, {d1})")
                spans.append((off, size, where))
            return Extent(off, size, crc)

        for i in range(n):
            name = c.str(spec.MAX_NAME, f"tensor {i} name")
            where = f"tensor {name!r}"
            if name in self._by_name:
                c.fail(f"duplicate tensor name {name!r}")
            dt, enc, rank, nl = c.unpack("<BBBB", f"{where} header")
            if dt not in spec.DTYPE_NAMES:
                c.fail(f"{where}: unknown dtype {dt}")
            if dt == spec.DT_STRING:
                c.fail(f"{where}: dtype string is for graph inputs, outputs and values only, not stored tensors")
            if enc not in REGISTRY:
                c.fail(f"{where}: unknown encoding {enc}")
            if rank > spec.MAX_RANK:
                c.fail(f"{where}: rank {rank} exceeds the cap {spec.MAX_RANK}")
            if nl > spec.MAX_LAYOUTS:
                c.fail(f"{where}: {nl} layouts exceed the cap {spec.MAX_LAYOUTS}")
            shape = _dims(c, rank, where, False)
            _numel(shape, where)
            if len(shape) > 1:       # the matrix view's column count is capped too
                _numel(shape[1:], where, "column count (product of the dims after the first)")
            def fail(msg, where=where):
                raise FormatError(f"{where}: {msg}")
            p0 = c.pos
            params, nbuf = REGISTRY[enc].parse_params(c, dt, shape, fail)
            raw_params = bytes(c.buf[p0:c.pos])
            exts = [extent(f"{where} buffer {k}") for k in range(nbuf)]
            layouts = []
            for k in range(nl):
                lid, lparam = c.unpack("<II", f"{where} layout {k}")
                if lid == 0:
                    c.fail(f"{where}: layout id 0 is invalid")
                layouts.append((lid, lparam, extent(f"{where} layout {k}")))
            t = TensorInfo(name, dt, enc, shape, params, exts, layouts, raw_params)
            for k, (want, e) in enumerate(zip(REGISTRY[enc].buffer_sizes(t), exts)):
                if want is not None and want != e.size:
                    raise FormatError(f"{where} buffer {k}: size {e.size} does not match the {want} bytes its "
                                      f"shape {list(shape)} and encoding need")
            used |= REGISTRY[enc].features(params)
            self._by_name[name] = i
            self.tensors.append(t)
        c.finish()
        spans.sort()
        for a, b2 in zip(spans, spans[1:]):
            if b2[0] < a[0] + a[1]:
                raise FormatError(f"{a[2]} overlaps {b2[2]}")
        missing = used & ~self.required_features
        if missing:
            names = [v for k, v in spec.FEATURE_NAMES.items() if missing & k]
            raise FormatError(f"file uses feature(s) {', '.join(names)} without declaring them required")

    # ------------------------------------------------------------------ GRAPH
    def _parse_graph(self) -> dict:
        c = self._section(spec.SEC_GRAPH)
        nv = c.count(spec.MAX_VALUES, "value count")
        values = []
        for i in range(nv):
            name = c.str(spec.MAX_NAME, f"value {i} name", True)
            dt, rank, res = c.unpack("<BBH", f"value {i} dtype/rank")
            if dt != 0 and dt not in spec.DTYPE_NAMES:
                c.fail(f"value {i}: unknown dtype {dt}")
            if res or (rank > spec.MAX_RANK and rank != spec.UNKNOWN_RANK):
                c.fail(f"value {i}: rank {rank} invalid or reserved bits set")
            shape = None if rank == spec.UNKNOWN_RANK else _dims(c, rank, f"value {i}", True)
            values.append({"name": name, "dtype": spec.DTYPE_NAMES.get(dt), "shape": shape})
        defined = [False] * nv

        def ids(n, what, allow_none=False):
            arr = c.array(n, "<u4", what).tolist()
            for v in arr:
                if not (v < nv or (allow_none and v == spec.NO_VALUE)):
                    c.fail(f"{what}: value id {v} out of range ({nv} values)")
            return arr

        def define(v, what):
            if defined[v]:
                c.fail(f"{what}: value {v} ({values[v]['name']!r}) is defined twice")
            defined[v] = True

        g_in = ids(c.count(spec.MAX_IO, "graph input count"), "graph inputs")
        for v in g_in:
            define(v, "graph input")
        g_out = ids(c.count(spec.MAX_IO, "graph output count"), "graph outputs")
        consts = []
        for k in range(c.count(spec.MAX_TENSORS, "const count")):
            v, t = c.unpack("<II", f"const {k}")
            if v >= nv or t >= len(self.tensors):
                c.fail(f"const {k}: value {v} or tensor {t} out of range")
            define(v, f"const {k}")
            consts.append((v, t))
        nodes = []
        for k in range(c.count(spec.MAX_NODES, "node count")):
            name = c.str(spec.MAX_NAME, f"node {k} name", True)
            where = f"node {k} ({name!r})" if name else f"node {k}"
            op = c.str(spec.MAX_OP_TYPE, f"{where} op type")
            ver, res = c.unpack("<HH", f"{where} version")
            if ver == 0 or res:
                c.fail(f"{where}: op version must be >= 1 and reserved 0")
            ins = ids(c.count(spec.MAX_NODE_IO, f"{where} input count"), f"{where} inputs", True)
            for v in ins:
                if v != spec.NO_VALUE and not defined[v]:
                    c.fail(f"{where}: input value {v} is used before it is defined")
            nout = c.count(spec.MAX_NODE_IO, f"{where} output count")
            if nout == 0:
                c.fail(f"{where}: a node needs at least one output")
            outs = ids(nout, f"{where} outputs")
            for v in outs:
                define(v, where)
            attrs = {}
            for _ in range(c.count(spec.MAX_ATTRS, f"{where} attribute count")):
                an = c.str(spec.MAX_KEY, f"{where} attribute name")
                if an in attrs:
                    c.fail(f"{where}: duplicate attribute {an!r}")
                t = c.u8(f"{where} attribute {an!r} type")
                aw = f"{where} attribute {an!r}"
                if t == spec.ATTR_INT:
                    attrs[an] = c.unpack("<q", aw)[0]
                elif t == spec.ATTR_FLOAT:
                    attrs[an] = c.unpack("<f", aw)[0]
                elif t == spec.ATTR_INTS:
                    attrs[an] = c.array(c.count(spec.MAX_LIST, f"{aw} length"), "<i8", aw).tolist()
                elif t == spec.ATTR_FLOATS:
                    attrs[an] = c.array(c.count(spec.MAX_LIST, f"{aw} length"), "<f4", aw).tolist()
                elif t == spec.ATTR_STRING:
                    attrs[an] = c.str(spec.MAX_BLOB, aw, True)
                elif t == spec.ATTR_STRINGS:
                    attrs[an] = [c.str(spec.MAX_BLOB, aw, True)
                                 for _ in range(c.count(spec.MAX_LIST, f"{aw} length"))]
                elif t == spec.ATTR_TENSOR:
                    ti = c.u32(aw)
                    if ti >= len(self.tensors):
                        c.fail(f"{aw}: tensor index {ti} out of range")
                    attrs[an] = ("tensor", self.tensors[ti].name)
                else:
                    c.fail(f"{aw}: unknown attribute type {t}")
            nodes.append({"name": name, "op_type": op, "version": ver, "inputs": ins, "outputs": outs,
                          "attrs": attrs})
        c.finish()
        for v in range(nv):
            if not defined[v]:
                c.fail(f"value {v} ({values[v]['name']!r}) is never defined")
        for kind, ids_ in (("inputs", g_in), ("outputs", g_out)):
            if len(ids_) != len(self.meta[kind]) or \
                    any(values[v]["name"] != io[0] for v, io in zip(ids_, self.meta[kind])):
                c.fail(f"graph {kind} do not match the META {kind}")
        return {"values": values, "inputs": g_in, "outputs": g_out, "consts": consts, "nodes": nodes}

    # ------------------------------------------------------------------ data
    def _bytes(self, e: Extent) -> np.ndarray:
        return np.frombuffer(self._buf[e.offset:e.offset + e.size], dtype=np.uint8)

    def _check_data(self, i: int):
        """Deferred checks (SPEC §6.4) of tensor i; done once."""
        if i in self._checked:
            return
        t = self.tensors[i]
        where = f"tensor {t.name!r}"
        named = [(f"buffer {k}", e) for k, e in enumerate(t.extents)] + \
            [(f"layout {k}", lay[2]) for k, lay in enumerate(t.layouts)]
        for what, e in named:
            if crc32c(self._bytes(e)) != e.crc:
                raise FormatError(f"{where} {what}: CRC32C mismatch")
        REGISTRY[t.encoding].check(t, [self._bytes(e) for e in t.extents], where)
        self._checked.add(i)

    def tensor_info(self, name: str) -> TensorInfo:
        if name not in self._by_name:
            raise KeyError(f"no tensor named {name!r}")
        return self.tensors[self._by_name[name]]

    def decode(self, name: str) -> np.ndarray:
        """Decodes a tensor to numpy: its logical dtype (float32 for the quantized encodings)."""
        i = self._by_name.get(name)
        if i is None:
            raise KeyError(f"no tensor named {name!r}")
        self._check_data(i)
        t = self.tensors[i]
        return REGISTRY[t.encoding].decode(t, [self._bytes(e) for e in t.extents])


def decode_encoded(t) -> np.ndarray:
    """The values of an EncodedTensor (an encoder's or converter's output, before it is written), as a reader
    decodes them: its params parsed and its data checked as a file's would be."""
    m = REGISTRY[t.encoding]
    c = _Cursor(t.params, "encoded tensor")
    params, nbuf = m.parse_params(c, t.dtype, tuple(t.shape), c.fail)
    info = TensorInfo("encoded", t.dtype, t.encoding, tuple(t.shape), params, [])
    bufs = [np.frombuffer(b, np.uint8) for b in t.buffers]
    want = list(m.buffer_sizes(info))
    if len(bufs) != nbuf or any(w is not None and w != len(b) for w, b in zip(want, bufs)):
        raise FormatError("encoded tensor: buffer sizes do not match its params")
    m.check(info, bufs, "encoded tensor")
    return m.decode(info, bufs)


def read(source, verify: str = "lazy") -> Reader:
    return Reader(source, verify)
