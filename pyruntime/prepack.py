"""Pre-packed layouts (SPEC §6.6): a .pyrt file that carries the packed weight forms a kernel table's sessions
make at load (f32 GEMM panels, int8 GEMM panels, the AVX-512 int4 GEMV's own layout), so that sessions read them in
place from the mapping: no packing at load, and pages that the page cache shares between processes and can drop
under memory pressure, where a packed copy is private memory.

The canonical data stays in the file (it is authoritative; a session with another table, or another CPU, packs
from it at load as before). Each form is stored under layout id 1 with the CRC32C of its key (what the form is
and how it is arranged, e.g. ``gemm.B.t1.alpha0x1p+0|f32-panels.32x256``) as the layout param: a table reads a
stored form only when it would have made exactly that form.
"""
from __future__ import annotations

import os

from .format import spec
from .format.encodings import REGISTRY, EncodedTensor
from .format.reader import Reader
from .format.writer import Writer, atomic_write

LAYOUT_PACKED = spec.LAYOUT_PACKED
PACKED_FOR = "pyrt.packed_for"   # META property: the kernel tables a file was pre-packed for


def targets_available() -> list[str]:
    """Kernel tables this CPU and build can pre-pack for (the packing code of a table runs only where it runs)."""
    from . import _core
    return list(_core.kernel_tables()) + ["ref"]


def _check_targets(targets) -> list[str]:
    from . import _core
    if targets is None:
        return [_core.isa()]
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t]
    have = targets_available()
    out = []
    for t in targets:
        if t not in have:
            raise ValueError(f"target {t!r} is not a kernel table this CPU runs ({', '.join(have)}): pre-pack on a "
                             "machine that runs it (e.g. `pyruntime pack model.pyrt --target neon-dot` on the "
                             "board), or ship the file as it is: a session packs at load")
        if t not in out:
            out.append(t)
    return out


class _RawGraph:
    def __init__(self, blob: bytes):
        self.blob = blob

    def to_bytes(self) -> bytes:
        return self.blob


def _rewrite(r: Reader, buf, forms: dict, props: dict) -> tuple[bytes, list[str]]:
    """The file of reader r with layout-1 forms {tensor index: [(param, key, bytes)]} replacing its own."""
    w = Writer(model_name=r.meta["model_name"], producer=r.meta["producer"],
               producer_version=r.meta["producer_version"])
    for name, dt, shape in r.meta["inputs"]:
        w.add_input(name, dt, shape)
    for name, dt, shape in r.meta["outputs"]:
        w.add_output(name, dt, shape)
    for k, v in props.items():
        w.set_prop(k, v)
    skipped = []
    for i, t in enumerate(r.tensors):
        bufs = [bytes(buf[e.offset:e.offset + e.size]) for e in t.extents]
        layouts = [(lid, lp, bytes(buf[e.offset:e.offset + e.size])) for lid, lp, e in t.layouts
                   if lid != LAYOUT_PACKED]
        for param, key, data in forms.get(i, []):
            if len(layouts) >= spec.MAX_LAYOUTS:
                skipped.append(f"{t.name}: {key} (the tensor has {spec.MAX_LAYOUTS} layouts already)")
                continue
            layouts.append((LAYOUT_PACKED, param, data))
        enc = EncodedTensor(t.dtype, tuple(t.shape), t.encoding, t.raw_params, bufs,
                            REGISTRY[t.encoding].features(t.params), layouts)
        w.add_tensor(t.name, enc)
    if r.graph is not None:
        off, size, _ = r.sections[spec.SEC_GRAPH]
        w.graph = _RawGraph(bytes(buf[off:off + size]))
    return w.to_bytes(), skipped


def prepack(src, dst=None, targets=None, *, keep_other: bool = False) -> dict:
    """Stores in the .pyrt file `src` the packed forms sessions with the kernel tables `targets` make (a name or
    a list, see ``pyruntime._core.kernel_tables()``; default: the table this CPU uses), writing `dst` (default:
    `src`, replaced atomically). keep_other=True keeps forms already stored for other tables; by default they are
    replaced. Returns what was done: targets, forms, layout_bytes, file_bytes before and after, skipped."""
    from . import _core
    targets = _check_targets(targets)
    src = os.fspath(src)
    dst = src if dst is None else os.fspath(dst)
    r = Reader(src)           # both map the file: a large model is not read into memory twice
    if r.graph is None:
        raise ValueError(f"{src}: the file has no graph, so no op packs its tensors: nothing to pre-pack")
    blob = r._buf
    model = _core.Model(src)
    forms: dict = {}
    if keep_other:
        for i, t in enumerate(r.tensors):
            for lid, lp, e in t.layouts:
                if lid == LAYOUT_PACKED:
                    forms.setdefault(i, []).append((lp, "(kept)", bytes(blob[e.offset:e.offset + e.size])))
    made = model.packed_forms(targets)
    for ti, param, key, data in made:
        lst = forms.setdefault(ti, [])
        lst[:] = [x for x in lst if x[0] != param]
        lst.append((param, key, data))
    props = dict(r.meta["props"])
    old = [t for t in str(props.get(PACKED_FOR, "")).split(",") if t] if keep_other else []
    props[PACKED_FOR] = ",".join(dict.fromkeys(old + targets))
    out, skipped = _rewrite(r, blob, forms, props)
    atomic_write(dst, out)
    return dict(targets=targets, forms=sum(len(v) for v in forms.values()),
                layout_bytes=sum(len(x[2]) for v in forms.values() for x in v),
                file_bytes_before=len(blob), file_bytes_after=len(out), skipped=skipped)


def strip(src, dst=None) -> dict:
    """The file without pre-packed forms (layout id 1): what it was before prepack()."""
    src = os.fspath(src)
    dst = src if dst is None else os.fspath(dst)
    r = Reader(src)
    blob = r._buf
    props = {k: v for k, v in r.meta["props"].items() if k != PACKED_FOR}
    out, _ = _rewrite(r, blob, {}, props)
    atomic_write(dst, out)
    return dict(file_bytes_before=len(blob), file_bytes_after=len(out))
