"""IR -> .pyrt, through the graph builder (which also infers and records the output shapes)."""
from __future__ import annotations

import re

import numpy as np

from .decoders import Encoded
from .ir import IR, ExportError


def _attr(v):
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return v.item()
        return v.tolist()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def check_supported(ir: IR):
    from ..session import supported_ops
    ok = set(supported_ops())
    for n in ir.nodes:
        if n.op not in ok:
            raise ExportError(f"unsupported operator '{n.op}' in {n.where()}; the runtime supports: "
                              f"{', '.join(sorted(ok))}")


def to_graph(ir: IR, name: str = "", encodings: dict | None = None, spool: bool = False, on_node=None):
    """The graph builder for `ir`; its to_bytes()/save() raise ExportError when the runtime rejects a node.
    encodings: const name -> (encoding, options) for constants not stored dense (see quantize.plan). spool:
    each constant is encoded and written to a temporary file when its first reader is added (save(path,
    probe=False) then streams the file), so constants that load when asked (decoders.Lazy) are held one at a
    time. on_node(node): called after each node is added (a progress bar)."""
    return _Checked(_build(ir, name, encodings or {}, spool, on_node))


class _Checked:
    """Turns the runtime's shape-inference errors (ValueError naming the node) into ExportError."""

    def __init__(self, g):
        self.g = g

    @property
    def writer(self):
        """The format Writer, for what goes in the file beside the graph (META properties, extra tensors)."""
        return self.g.w

    def to_bytes(self) -> bytes:
        try:
            return self.g.to_bytes()
        except (ValueError, NotImplementedError) as e:
            raise ExportError(str(e)) from e

    def save(self, path, probe: bool = True) -> int:
        if not probe:
            return self.g.save(path, probe=False)
        from ..format.writer import atomic_write
        return atomic_write(path, self.to_bytes())


def _build(ir: IR, name: str = "", encodings: dict | None = None, spool: bool = False, on_node=None):
    from ..graph import Graph
    check_supported(ir)
    g = Graph(name or ir.name)
    if spool:
        g.w.spool()
    vals = {}
    used_names = set()
    # f64 / f16 constants become f32 (the kernels' weights are f32), unless the model computes in that type: a
    # graph input of it means its constants meet values of it (ONNX does not mix float types in one op).
    carried = {dt for _, dt, _ in ir.inputs}

    def tensor_name(v):
        tname = re.sub(r"\s", "_", v) or "const"
        while tname in used_names:
            tname += "_"
        used_names.add(tname)
        return tname

    def const(v):
        if v not in vals and isinstance(ir.consts[v], Encoded):   # already in its file encoding: as it is
            vals[v] = g.const(ir.consts[v].encoded(), tensor_name(v))
        if v not in vals:
            arr = np.asarray(ir.consts[v])
            if arr.dtype.kind in "OUS":
                raise ExportError(f"constant '{v}' holds strings: the file format stores no string tensors (string "
                                  "values can be graph inputs and outputs)")
            if (arr.dtype == np.float64 and "f64" not in carried) or (arr.dtype == np.float16 and "f16" not in carried):
                arr = arr.astype(np.float32)
            tname = tensor_name(v)
            enc, opts = (encodings or {}).get(v, ("dense", {}))
            vals[v] = g.const(arr, tname, enc, **opts)
        return vals[v]

    for nm, dt, shape in ir.inputs:
        vals[nm] = g.input(nm, [None if d < 0 else d for d in shape], dt)
    for n in ir.nodes:
        ins = []
        for i in n.inputs:
            if not i:
                ins.append(None)
            elif i in vals:
                ins.append(vals[i])
            elif i in ir.consts:
                ins.append(const(i))
            else:
                raise ExportError(f"{n.where()} reads '{i}', which nothing defines")
        attrs = {k: _attr(v) for k, v in n.attrs.items()}
        for k, v in attrs.items():
            if not isinstance(v, (int, float, str, list, bool)):
                raise ExportError(f"{n.where()}: attribute '{k}' of type {type(v).__name__} is not supported")
        out = g.op(n.op, *ins, outputs=len(n.outputs), name=n.name, **attrs)
        for o, v in zip(n.outputs, out if isinstance(out, tuple) else (out,)):
            vals[o] = v
        if on_node is not None:
            on_node(n)
    for v, ext in ir.outputs:
        if v in vals:
            g.output(vals[v], ext, ir.out_types.get(ext))
        elif v in ir.consts:
            g.output(const(v), ext)
        else:
            raise ExportError(f"output '{ext}' is not computed by the graph")
    return g
