"""Pruning at export and where sparse weights are stored csr (`prune=`, `prune_structure=`, `prune_scope=`,
`sparse=` of export / export_onnx).

    prune=0.9                 one-shot magnitude pruning of every Conv (group 1, more than 3 input channels) /
                              Gemm / MatMul weight to 90%
    prune_structure           "unstructured" (default), "N:M" (e.g. "2:4": n kept in every m along the input) or
                              "channel" (whole filters removed and the layers reading them shrunk: channel_prune.py)
    prune_scope               "layer" (default: each weight to the target) or "global" (one magnitude threshold)
    sparse="auto"             store a weight csr where the runtime's sparse kernel is faster for that layer (the
                              cost model below), else dense; "always": every weight with zeros csr (layers
                              without a sparse kernel decode it at load: a smaller file only); "never"

Which layers have a sparse kernel is the runtime's decision, asked here (`_core.sparse_kernel`,
csrc/ops/sparse_support.h): convolutions of group 1 with stride 1 (they run channels-first, so the layout pass
leaves those convolutions NCHW) and Linear layers (Gemm with a constant [N, K] weight, up to 16 rows of
activations). Combined with quantize="int8-weights" / "int4" the csr values are i8 / i4 (f32
arithmetic); with quantize="int8" (static) the s8 weights of QLinearConv (group 1) / QGemm are stored csr and
run on the sparse u8 x s8 kernel.
"""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node
# The cost model: per layer kind, the sparsity from which its sparse kernel is at least as fast as the dense
# layer, measured and written by bench/sparse.py.
from .sparse_costs import MIN_SPARSITY

SPARSE_MODES = ("auto", "always", "never")
def check_options(prune, structure, scope, sparse):
    if sparse not in SPARSE_MODES:
        raise ExportError(f"unknown sparse mode {sparse!r}; supported: {', '.join(SPARSE_MODES)}")
    if prune is not None and not (isinstance(prune, (int, float)) and 0 <= float(prune) < 1):
        raise ExportError(f"prune is a target sparsity in [0, 1), got {prune!r}")
    if structure not in ("unstructured", "channel"):
        parts = str(structure).split(":")
        if not (len(parts) == 2 and all(p.isdigit() for p in parts) and 0 < int(parts[0]) < int(parts[1]) <= 16):
            raise ExportError(f"prune_structure must be 'unstructured', 'channel' or 'N:M' (e.g. '2:4'), "
                              f"got {structure!r}")
    if scope not in ("layer", "global"):
        raise ExportError(f"prune_scope must be 'layer' or 'global', got {scope!r}")


def sparse_kernel(n: Node, w: np.ndarray) -> str | None:
    """The runtime's sparse kernel for node n with weight w stored csr (a cost-model kind: 'conv1x1', 'convkxk',
    'linear', 'qconv', 'qlinear'), or None: the runtime decides (csrc/ops/sparse_support.h), not a copy here."""
    from .. import _core
    return _core.sparse_kernel(n.op, [int(d) for d in w.shape], n.attrs)


def _kind(n: Node, ir: IR) -> str | None:
    """A prunable weight layer's sparse kernel kind, or 'other' when it has none; None for layers not pruned."""
    if n.op == "Conv":
        w = ir.const(n.inputs[1])
        if w is None or w.ndim != 4 or int(n.attrs.get("group", 1)) != 1 or w.shape[1] <= 3:
            return None   # depthwise / grouped, or a stem on RGB (few weights, each one carrying much)
    elif n.op in ("Gemm", "MatMul"):
        w = ir.const(n.inputs[1]) if len(n.inputs) > 1 else None
        if w is None or w.ndim != 2 or w.dtype.kind != "f":
            return None
    else:
        return None
    return sparse_kernel(n, w) or "other"


def weight_layers(ir: IR, keep=()) -> list:
    """(node, const name, kind) of the prunable weight layers (group-1 convs, Gemm/MatMul), not in keep."""
    keep = set(keep)
    return [(n, n.inputs[1], k) for n in ir.nodes if (k := _kind(n, ir)) and n.name not in keep and n.source not in keep]


def prune(ir: IR, sparsity, structure="unstructured", scope="layer", keep=()) -> IR:
    if structure == "channel":
        from .channel_prune import prune_channels
        return prune_channels(ir, float(sparsity or 0), scope, keep)
    from ..compress.prune import prune_weights
    layers = weight_layers(ir, keep)
    names = sorted({c for _, c, _ in layers})
    pruned = prune_weights({c: ir.consts[c] for c in names}, float(sparsity or 0), structure, scope)
    ir.consts.update(pruned)
    return ir


def sparsity(w: np.ndarray) -> float:
    return 1.0 - np.count_nonzero(w) / w.size if w.size else 0.0


def plan(ir: IR, mode: str = "auto", keep=()) -> tuple[dict, set]:
    """(const name -> ("csr", {}) for the weights to store csr, ids of the Conv nodes that run sparse)."""
    if mode == "never":
        return {}, set()
    enc, sparse_convs = {}, set()
    for n, c, kind in weight_layers(ir, keep):
        s = sparsity(ir.consts[c])
        if s <= 0:
            continue
        if (mode == "always" and kind != "other") or (kind in MIN_SPARSITY and s >= MIN_SPARSITY[kind]):
            enc[c] = ("csr", {})
            if kind in ("conv1x1", "convkxk"):
                sparse_convs.add(id(n))
        elif mode == "always":
            enc[c] = ("csr", {})
    return enc, sparse_convs


def plan_int8(ir: IR, mode: str = "auto") -> dict:
    """Static int8: const name -> ("csr", {}) for the s8 weights of the QLinearConv / QGemm layers with a sparse
    kernel to store csr (their values stay s8; the runtime runs them on its sparse u8 x s8 kernel)."""
    if mode == "never":
        return {}
    enc = {}
    for n in ir.nodes:
        w = ir.const(n.inputs[3]) if n.op in ("QLinearConv", "QGemm") else None
        kind = sparse_kernel(n, w) if w is not None and w.dtype == np.int8 else None
        if kind is None:
            continue
        s = sparsity(w)
        if s > 0 and (mode == "always" or s >= MIN_SPARSITY[kind]):
            enc[n.inputs[3]] = ("csr", {})
    return enc


def merge(enc: dict, sparse_enc: dict) -> dict:
    """Quantized encodings of csr weights become the csr values' encoding (i8 per row, i4 per group)."""
    out = dict(enc)
    for c, (e, opts) in sparse_enc.items():
        q = enc.get(c)
        if q is None:
            out[c] = ("csr", {"values": "f32"})
        elif q[0] == "i8":
            out[c] = ("csr", {"values": "i8"})
        elif q[0] == "i4":
            out[c] = ("csr", {"values": "i4", "group_size": q[1].get("group_size", 32)})
        # lut (shared values) stays lut: the two encodings do not combine
    return out
