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
from .encode import matrix_view, unpack_nibbles
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

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return sum(e.size for e in self.extents)

    @property
    def encoding_name(self) -> str:
        return spec.ENCODING_NAMES[self.encoding]


def _parse_params(c: _Cursor, enc: int, dtype: int, shape: tuple, where: str) -> tuple[dict, int]:
    """Returns (params, number of buffers) and checks the params (SPEC §6.2)."""
    def fail(msg):
        raise FormatError(f"{where}: {msg}")
    if enc == spec.ENC_DENSE:
        sd, rest = c.unpack("<B7s", "dense params")
        if any(rest):
            fail("reserved params bytes are not zero")
        if sd not in spec.DTYPE_NAMES:
            fail(f"unknown storage dtype {sd}")
        if sd != dtype and not (dtype == spec.DT_F32 and sd == spec.DT_F16):
            fail(f"storage dtype {spec.DTYPE_NAMES[sd]} cannot hold logical dtype {spec.DTYPE_NAMES[dtype]}")
        return {"storage": sd}, 1
    if enc in (spec.ENC_I8, spec.ENC_I4, spec.ENC_CSR, spec.ENC_LUT) and dtype != spec.DT_F32 \
            and not (enc == spec.ENC_CSR and dtype == spec.DT_I8):
        fail(f"encoding {spec.ENCODING_NAMES[enc]} needs logical dtype f32, got {spec.DTYPE_NAMES[dtype]}")
    if enc in (spec.ENC_I4, spec.ENC_CSR) and len(shape) == 0:
        fail(f"encoding {spec.ENCODING_NAMES[enc]} needs rank >= 1")
    if enc == spec.ENC_I8:
        axis, hz, rest = c.unpack("<iB3s", "i8 params")
        if any(rest):
            fail("reserved params bytes are not zero")
        if not (axis == -1 or 0 <= axis < len(shape)):
            fail(f"i8 axis {axis} out of range for rank {len(shape)}")
        if hz not in (0, 1):
            fail(f"i8 has_zero_point must be 0 or 1, got {hz}")
        return {"axis": axis, "zero_point": bool(hz)}, 2 + hz
    if enc == spec.ENC_I4:
        g, sgn, sdt, rest = c.unpack("<IBB2s", "i4 params")
        if any(rest):
            fail("reserved params bytes are not zero")
        if g < spec.MIN_GROUP or g > spec.MAX_GROUP or g & (g - 1):
            fail(f"i4 group size {g} is not a power of two in [16, 65536]")
        if sgn not in (0, 1):
            fail(f"i4 signed flag must be 0 or 1, got {sgn}")
        if sdt not in (spec.SCALE_F32, spec.SCALE_F16):
            fail(f"i4 scale dtype {sdt} is not 1 (f32) or 2 (f16)")
        return {"group_size": g, "signed": bool(sgn), "scale_dtype": sdt}, 2 + (1 - sgn)
    if enc == spec.ENC_CSR:
        iw, ve, br, bc, g, nnzb = c.unpack("<BBBBIQ", "csr params")
        if iw not in (2, 4):
            fail(f"csr index width {iw} is not 2 or 4")
        if ve not in spec.CSR_VALUE_NAMES:
            fail(f"csr value encoding {ve} is unknown")
        if (ve == spec.CSR_S8) != (dtype == spec.DT_I8):
            fail(f"csr value encoding {spec.CSR_VALUE_NAMES[ve]} does not fit logical dtype {spec.DTYPE_NAMES[dtype]} "
                 "(s8 values for an i8 tensor, f32/i8/i4 for an f32 one)")
        if br not in spec.CSR_BLOCK_SIZES or bc not in spec.CSR_BLOCK_SIZES:
            fail(f"csr block {br}x{bc} is not made of 1, 2, 4 or 8")
        if ve == spec.CSR_I4:
            if g < spec.MIN_GROUP or g > spec.MAX_GROUP or g & (g - 1):
                fail(f"csr i4 group size {g} is not a power of two in [16, 65536]")
        elif g != 0:
            fail("csr group size must be 0 unless values are i4")
        rows, cols = matrix_view(shape)
        brows, bcols = -(-rows // br), -(-cols // bc)
        if brows >= 0xFFFFFFFF:
            fail(f"csr has {brows} block rows (cap 2^32-2)")
        if iw == 2 and bcols > 65536:
            fail(f"csr u16 column indices cannot address {bcols} block columns")
        if nnzb > brows * bcols:
            fail(f"csr nnz {nnzb} exceeds the {brows}x{bcols} block grid")
        return {"index_width": iw, "values": ve, "block": (br, bc), "group_size": g, "nnzb": nnzb}, \
            3 + (ve in (spec.CSR_I8, spec.CSR_I4))
    if enc == spec.ENC_LUT:
        bits, cdt, k, axis = c.unpack("<BBHi", "lut params")
        if bits not in (4, 8):
            fail(f"lut index bits {bits} is not 4 or 8")
        if cdt not in (spec.SCALE_F32, spec.SCALE_F16):
            fail(f"lut codebook dtype {cdt} is not 1 (f32) or 2 (f16)")
        if not 1 <= k <= (16 if bits == 4 else 256):
            fail(f"lut codebook size {k} out of range for {bits}-bit indices")
        if axis not in (-1, 0) or (axis == 0 and len(shape) == 0):
            fail(f"lut axis {axis} must be -1 or 0 (rank >= 1)")
        return {"index_bits": bits, "codebook_dtype": cdt, "codebook_size": k, "axis": axis}, 2
    fail(f"unknown encoding {enc}")


def expected_sizes(t: TensorInfo) -> list[int]:
    """Exact byte size of each buffer (SPEC §6.2)."""
    p, n = t.params, _numel(t.shape, t.name)
    if t.encoding == spec.ENC_DENSE:
        return [n * spec.DTYPE_SIZES[p["storage"]]]
    if t.encoding == spec.ENC_I8:
        ns = 1 if p["axis"] == -1 else t.shape[p["axis"]]
        return [n, 4 * ns] + ([ns] if p["zero_point"] else [])
    if t.encoding == spec.ENC_I4:
        rows, cols = matrix_view(t.shape)
        ng = -(-cols // p["group_size"])
        ssz = 4 if p["scale_dtype"] == spec.SCALE_F32 else 2
        return [rows * ng * p["group_size"] // 2, rows * ng * ssz] + ([] if p["signed"] else [rows * ng])
    if t.encoding == spec.ENC_CSR:
        rows, _ = matrix_view(t.shape)
        br, bc = p["block"]
        brows = -(-rows // br)
        count = p["nnzb"] * br * bc
        out = [4 * (brows + 1), p["index_width"] * p["nnzb"]]
        if p["values"] == spec.CSR_F32:
            return out + [4 * count]
        if p["values"] == spec.CSR_S8:
            return out + [count]
        if p["values"] == spec.CSR_I8:
            return out + [count, 4 * rows]
        return out + [(count + 1) // 2, None]   # scale count depends on row_ptr: checked when data is read
    if t.encoding == spec.ENC_LUT:
        nb = 1 if p["axis"] == -1 else t.shape[0]
        csz = 4 if p["codebook_dtype"] == spec.SCALE_F32 else 2
        return [n if p["index_bits"] == 8 else (n + 1) // 2, nb * p["codebook_size"] * csz]
    raise AssertionError


def _features_of(t: TensorInfo) -> int:
    p, f = t.params, 0
    if t.encoding == spec.ENC_DENSE and p["storage"] == spec.DT_F16:
        f |= spec.FEAT_F16
    if t.encoding == spec.ENC_I4:
        f |= spec.FEAT_INT4 | (spec.FEAT_F16 if p["scale_dtype"] == spec.SCALE_F16 else 0)
    if t.encoding == spec.ENC_CSR:
        f |= spec.FEAT_CSR | (spec.FEAT_INT4 if p["values"] == spec.CSR_I4 else 0)
    if t.encoding == spec.ENC_LUT:
        f |= spec.FEAT_LUT | (spec.FEAT_F16 if p["codebook_dtype"] == spec.SCALE_F16 else 0)
    return f


def _widen_f16(h: np.ndarray) -> np.ndarray:
    """f16 -> f32, exact; NaNs come out quiet (SPEC §6.2), as F16C hardware produces them."""
    f = h.astype(np.float32)
    nan = np.isnan(f)
    if nan.any():
        f.view(np.uint32)[nan] |= np.uint32(0x400000)
    return f


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
            if enc not in spec.ENCODING_NAMES:
                c.fail(f"{where}: unknown encoding {enc}")
            if rank > spec.MAX_RANK:
                c.fail(f"{where}: rank {rank} exceeds the cap {spec.MAX_RANK}")
            if nl > spec.MAX_LAYOUTS:
                c.fail(f"{where}: {nl} layouts exceed the cap {spec.MAX_LAYOUTS}")
            shape = _dims(c, rank, where, False)
            _numel(shape, where)
            if len(shape) > 1:       # the matrix view's column count is capped too
                _numel(shape[1:], where, "column count (product of the dims after the first)")
            params, nbuf = _parse_params(c, enc, dt, shape, where)
            exts = [extent(f"{where} buffer {k}") for k in range(nbuf)]
            layouts = []
            for k in range(nl):
                lid, lparam = c.unpack("<II", f"{where} layout {k}")
                if lid == 0:
                    c.fail(f"{where}: layout id 0 is invalid")
                layouts.append((lid, lparam, extent(f"{where} layout {k}")))
            t = TensorInfo(name, dt, enc, shape, params, exts, layouts)
            for k, (want, e) in enumerate(zip(expected_sizes(t), exts)):
                if want is not None and want != e.size:
                    raise FormatError(f"{where} buffer {k}: size {e.size} does not match the {want} bytes its "
                                      f"shape {list(shape)} and encoding need")
            used |= _features_of(t)
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
        p = t.params

        def positive(arr, what):
            a = arr.astype(np.float64)
            if not (np.isfinite(a).all() and (a > 0).all()):
                raise FormatError(f"{where}: {what} must be finite and > 0")

        if t.encoding == spec.ENC_DENSE and p["storage"] == spec.DT_BOOL:
            if (self._bytes(t.extents[0]) > 1).any():
                raise FormatError(f"{where}: bool bytes must be 0 or 1")
        elif t.encoding == spec.ENC_I8:
            positive(self._bytes(t.extents[1]).view("<f4"), "i8 scales")
        elif t.encoding == spec.ENC_I4:
            positive(self._bytes(t.extents[1]).view("<f4" if p["scale_dtype"] == 1 else "<f2"), "i4 scales")
            if not p["signed"] and (self._bytes(t.extents[2]) > 15).any():
                raise FormatError(f"{where}: i4 zero points must be <= 15")
        elif t.encoding == spec.ENC_CSR:
            rows, cols = matrix_view(t.shape)
            br, bc = p["block"]
            bcols = -(-cols // bc)
            rp = self._bytes(t.extents[0]).view("<u4").astype(np.int64)
            if rp[0] != 0:
                raise FormatError(f"{where}: csr row_ptr[0] is {rp[0]}, must be 0")
            if (np.diff(rp) < 0).any():
                raise FormatError(f"{where}: csr row pointers decrease")
            if rp[-1] != p["nnzb"]:
                raise FormatError(f"{where}: csr nnz mismatch: row_ptr ends at {rp[-1]}, params say {p['nnzb']}")
            ci = self._bytes(t.extents[1]).view("<u2" if p["index_width"] == 2 else "<u4").astype(np.int64)
            if ci.size and ci.max() >= bcols:
                raise FormatError(f"{where}: csr column index {ci.max()} out of range ({bcols} block columns)")
            if ci.size > 1:
                d = np.diff(ci)
                row_start = np.zeros(ci.size, dtype=bool)
                starts = rp[:-1][rp[:-1] < ci.size]
                row_start[starts] = True
                if (d <= 0)[~row_start[1:]].any():
                    raise FormatError(f"{where}: csr column indices are not strictly increasing within a row")
            if p["values"] == spec.CSR_I8:
                positive(self._bytes(t.extents[3]).view("<f4"), "csr row scales")
            elif p["values"] == spec.CSR_I4:
                per = br * bc
                ng = -(-(np.diff(rp) * per) // p["group_size"])
                if t.extents[3].size != 4 * int(ng.sum()):
                    raise FormatError(f"{where} buffer 3: size {t.extents[3].size} does not match the "
                                      f"{4 * int(ng.sum())} bytes of i4 group scales")
                positive(self._bytes(t.extents[3]).view("<f4"), "csr group scales")
        elif t.encoding == spec.ENC_LUT:
            k = p["codebook_size"]
            raw = self._bytes(t.extents[0])
            idx = raw if p["index_bits"] == 8 else unpack_nibbles(raw, t.numel, False)
            if idx.size and idx.max() >= k:
                raise FormatError(f"{where}: lut index {idx.max()} out of range (codebook size {k})")
            cb = self._bytes(t.extents[1]).view("<f4" if p["codebook_dtype"] == 1 else "<f2")
            if not np.isfinite(cb.astype(np.float64)).all():
                raise FormatError(f"{where}: lut codebook entries must be finite")
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
        p, b = t.params, [self._bytes(e) for e in t.extents]
        if t.encoding == spec.ENC_DENSE:
            a = b[0].view(spec.DTYPE_NUMPY[p["storage"]])
            if p["storage"] == spec.DT_BOOL:
                a = a.astype(bool)
            elif p["storage"] != t.dtype:
                a = _widen_f16(a)
            return a.reshape(t.shape).copy()
        if t.encoding == spec.ENC_I8:
            q = b[0].view(np.int8).astype(np.int32)
            s = b[1].view("<f4")
            zp = b[2].view(np.int8).astype(np.int32) if p["zero_point"] else np.zeros(s.size, np.int32)
            if p["axis"] == -1:
                return ((q - zp[0]).astype(np.float32) * s[0]).reshape(t.shape)
            bshape = [1] * len(t.shape)
            bshape[p["axis"]] = -1
            q = q.reshape(t.shape)
            return ((q - zp.reshape(bshape)).astype(np.float32) * s.reshape(bshape)).astype(np.float32)
        if t.encoding == spec.ENC_I4:
            rows, cols = matrix_view(t.shape)
            g = p["group_size"]
            ng = -(-cols // g)
            q = unpack_nibbles(b[0], rows * ng * g, p["signed"]).astype(np.int32).reshape(rows, ng, g)
            s = b[1].view("<f4" if p["scale_dtype"] == spec.SCALE_F32 else "<f2").astype(np.float32)
            s = s.reshape(rows, ng, 1)
            if not p["signed"]:
                q = q - b[2].astype(np.int32).reshape(rows, ng, 1)
            x = (q.astype(np.float32) * s).reshape(rows, ng * g)[:, :cols]
            return np.ascontiguousarray(x).reshape(t.shape)
        if t.encoding == spec.ENC_CSR:
            rows, cols = matrix_view(t.shape)
            br, bc = p["block"]
            brows, bcols = -(-rows // br), -(-cols // bc)
            rp = b[0].view("<u4").astype(np.int64)
            ci = b[1].view("<u2" if p["index_width"] == 2 else "<u4").astype(np.int64)
            count = p["nnzb"] * br * bc
            brow = np.repeat(np.arange(brows), np.diff(rp))                 # block row of each block
            if p["values"] == spec.CSR_F32:
                v = b[2].view("<f4").astype(np.float32)
            elif p["values"] == spec.CSR_S8:
                v = b[2].view(np.int8)
            elif p["values"] == spec.CSR_I8:
                lrow = np.minimum(brow[:, None] * br + np.arange(br)[None, :], rows - 1)
                lrow = np.repeat(lrow, bc, axis=1).reshape(-1)
                v = b[2].view(np.int8).astype(np.float32) * b[3].view("<f4")[lrow]
            else:
                per = br * bc
                n_i = np.diff(rp) * per
                ng_i = -(-n_i // p["group_size"])
                goff = np.concatenate([[0], np.cumsum(ng_i)])
                pos = np.arange(count) - np.repeat(rp[:-1] * per, n_i)
                gid = np.repeat(goff[:-1], n_i) + pos // p["group_size"]
                v = unpack_nibbles(b[2], count, True).astype(np.float32) * b[3].view("<f4")[gid]
            dense = np.zeros((brows, bcols, br, bc), dtype=v.dtype)
            dense[brow, ci] = v.reshape(-1, br, bc)
            dense = dense.transpose(0, 2, 1, 3).reshape(brows * br, bcols * bc)[:rows, :cols]
            return np.ascontiguousarray(dense).reshape(t.shape)
        if t.encoding == spec.ENC_LUT:
            k = p["codebook_size"]
            idx = b[0] if p["index_bits"] == 8 else unpack_nibbles(b[0], t.numel, False)
            cb = b[1].view("<f4" if p["codebook_dtype"] == spec.SCALE_F32 else "<f2").astype(np.float32)
            if p["axis"] == -1:
                return cb[idx.astype(np.int64)].reshape(t.shape)
            rows = t.shape[0]
            per = t.numel // rows if rows else 0
            book = np.repeat(np.arange(rows), per)
            return cb.reshape(rows, k)[book, idx.astype(np.int64)].reshape(t.shape)
        raise AssertionError


def read(source, verify: str = "lazy") -> Reader:
    return Reader(source, verify)
