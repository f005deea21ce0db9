"""prune_structure="channel": whole output filters removed at export, and every layer that reads them shrunk.

The pruned model. Pruning filter c of a layer means zeroing its weights and keeping its bias, so channel c of
its output is the constant k = act(b_c) at every position (act: the layer's fused activation). The exporter
deletes the filter and carries k through the layers that read the channel until one absorbs it:

    unary activations, BatchNormalization   k -> f(k); BatchNormalization drops the channel's parameters
    MaxPool, AveragePool, Global*Pool       k -> k
    depthwise Conv                          drops its filter c; k -> act(k * sum(w_c) + b_c), and goes on
    Flatten after a global pool             channel c is feature c
    group-1 Conv, Gemm                      drop input channel c; bias += k * (the sum of W's taps on c)

so the file computes what the model with those filters zeroed computes (up to float rounding).

Exactness rule. Zero padding breaks a constant: a border pixel of a padded Conv (kxk or depthwise) or of an
AveragePool that counts pads sees fewer copies of k, and no per-channel bias reproduces that. A selected
filter is therefore removed only when the constant reaching every padded layer is exactly 0 (zero padding of a
zero channel changes nothing), e.g. a filter behind a ReLU whose bias is <= 0; the others stay as they are.

Selection (compress.prune.channel_masks): in each layer the `prune` fraction of filters with the smallest L2
norm (weights with BatchNorm folded in), or with prune_scope="global" one threshold over the norms divided by
their layer's mean filter norm; every layer keeps at least one filter; then the exactness rule.

Prune targets: group-1 Convs with more than 3 input channels and Gemms (transA 0, alpha = beta = 1, a bias per
output or none) whose output reaches only the layers above. Not pruned: stems on <= 3 input channels,
depthwise / grouped convs (a depthwise conv follows its producer), MatMul, layers in `keep`, and a layer whose
output (directly or through the layers above) is a graph output or feeds anything else: Add, Concat, Mul,
Reshape, ... (a residual Add ties the channels of both its inputs, so neither side can drop one alone).
`ir.channel_report`: "removed" (node name -> removed channel indices), "kept" (node name -> why not pruned).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .ir import IR, Node
from .static_quant import _LUT_OPS, _UNFUSE, _lut_fn


def _padded(n: Node) -> bool:
    return any(n.attrs.get("pads", [])) or n.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID")


def _act_fn(attrs: dict):
    """numpy f(x) of a fused `activation` attribute (identity without one); None for one not known here."""
    act = attrs.get("activation", "")
    if not act:
        return lambda x: x
    if act in ("relu", "relu6", "clip"):
        lo, hi = {"relu": (0.0, np.inf), "relu6": (0.0, 6.0)}.get(
            act, (attrs.get("activation_min", -np.inf), attrs.get("activation_max", np.inf)))
        return _lut_fn(Node("Clip", ["x"], ["y"], {"min": lo, "max": hi}), None)
    if act not in _UNFUSE:
        return None
    params = {k[len("activation_"):]: v for k, v in attrs.items() if k in ("activation_alpha", "activation_beta")}
    return _lut_fn(Node(_UNFUSE[act], ["x"], ["y"], params), None)


def _bias(n: Node, ir: IR, size: int) -> np.ndarray | None:
    """The layer's bias as float64 [size] (zeros without one); None when it is not one value per output."""
    b = ir.const(n.inputs[2]) if len(n.inputs) > 2 else np.zeros(size)
    return b.astype(np.float64) if b is not None and b.shape == (size,) else None


def _gemm_ok(n: Node, ir: IR) -> bool:
    w = ir.const(n.inputs[1]) if len(n.inputs) > 1 else None
    return (w is not None and w.ndim == 2 and not n.attrs.get("transA", 0) and float(n.attrs.get("alpha", 1)) == 1
            and float(n.attrs.get("beta", 1)) == 1
            and _bias(n, ir, w.shape[0] if n.attrs.get("transB", 0) else w.shape[1]) is not None)


def _filters(n: Node, ir: IR) -> np.ndarray:
    """The layer's weights with one row per output channel."""
    w = ir.consts[n.inputs[1]]
    return w.T if n.op == "Gemm" and not n.attrs.get("transB", 0) else w


def _target(n: Node, ir: IR) -> str | None:
    """Why layer n (a sparsity.weight_layers entry) is not a channel-pruning target, or None."""
    if n.op == "MatMul":
        return "MatMul layers are not channel-pruned"
    if n.attrs.get("layout", "NCHW") != "NCHW":
        return "channels-last layout"
    if n.op == "Gemm" and not _gemm_ok(n, ir):
        return "a Gemm with transA, alpha/beta != 1 or a bias not per output"
    if _bias(n, ir, len(_filters(n, ir))) is None or _act_fn(n.attrs) is None:
        return f"bias not per output or unknown activation {n.attrs.get('activation')!r}"
    return None


def _consumer(n: Node, ir: IR, k: np.ndarray, form: str):
    """(role, constants after n or None where n absorbs them, form after n, whether n zero-pads) for a reader of
    the pruned channels (form: "map" NCHW, "pooled" N C 1 1, "flat" N C), or why n is not one."""
    spatial = form in ("map", "pooled")
    if len(n.outputs) == 1 and n.attrs.get("layout", "NCHW") == "NCHW":
        if n.op == "Conv" and spatial:
            w, g, fn = ir.const(n.inputs[1]), int(n.attrs.get("group", 1)), _act_fn(n.attrs)
            if w is not None and w.ndim == 4 and g == 1:
                return "conv", None, None, _padded(n)
            if w is not None and w.ndim == 4 and g == len(k) == w.shape[0] and fn is not None:   # depthwise, x1
                b = _bias(n, ir, g)
                if b is not None:
                    return "dw", fn(k * w.reshape(g, -1).sum(1) + b), form, _padded(n)
        elif n.op == "Gemm" and form == "flat" and _gemm_ok(n, ir):
            return "gemm", None, None, False
        elif n.op == "BatchNormalization" and all(ir.const(i) is not None for i in n.inputs[1:5]):
            scale, bias, mean, var = (ir.consts[i].astype(np.float64) for i in n.inputs[1:5])
            return "bn", (k - mean) * scale / np.sqrt(var + n.attrs.get("epsilon", 1e-5)) + bias, form, False
        elif n.op in _LUT_OPS and (fn := _lut_fn(n, ir)) is not None:
            return "pass", fn(k), form, False
        elif n.op in ("MaxPool", "AveragePool") and spatial:
            counts_pads = n.op == "AveragePool" and n.attrs.get("count_include_pad", 0)
            return "pass", k, form, bool(counts_pads) and (_padded(n) or bool(n.attrs.get("ceil_mode", 0)))
        elif n.op in ("GlobalAveragePool", "GlobalMaxPool") and spatial:
            return "pass", k, "pooled", False
        elif n.op == "Flatten" and form in ("pooled", "flat") and int(n.attrs.get("axis", 1)) == 1:
            return "pass", k, "flat", False
    return f"its output feeds {n.where()}"


def _region(ir: IR, p: Node, cons: dict, outputs: set):
    """Everything removing p's output channels touches: ([(node, role, constants reaching it)], per channel
    whether removing it is exact), or why p cannot lose channels (a string)."""
    k = _act_fn(p.attrs)(_bias(p, ir, len(_filters(p, ir))))
    exact = np.isfinite(k)
    steps, todo = [], [(p.outputs[0], k, "map" if p.op == "Conv" else "flat")]
    while todo:
        v, k, form = todo.pop()
        if v in outputs:
            return f"its output reaches the graph output '{v}'"
        for n in cons.get(v, []):
            if n.inputs[0] != v or any(i and i not in ir.consts for i in n.inputs[1:]):
                return f"its output feeds {n.where()}"
            r = _consumer(n, ir, k, form)
            if isinstance(r, str):
                return r
            role, k_out, form_out, padded = r
            if padded:
                exact &= k == 0
            steps.append((n, role, k))
            if k_out is not None:
                exact &= np.isfinite(k_out)
                todo.append((n.outputs[0], k_out, form_out))
    return steps, exact


class _Rewriter:
    """Replaces constants under fresh names (a constant may be shared with a layer not pruned) and drops the old
    ones nothing reads any more."""

    def __init__(self, ir: IR):
        self.ir, self.old, self.new = ir, set(), set()

    def set(self, n: Node, i: int, value: np.ndarray, like: np.ndarray):
        old = n.inputs[i] if i < len(n.inputs) else ""
        name = old if old in self.new else self.ir.fresh((old or n.name or n.outputs[0]) + ("_ch" if old else "_bias"))
        self.ir.consts[name] = np.ascontiguousarray(value, dtype=like.dtype)
        n.inputs = list(n.inputs) + [""] * (i + 1 - len(n.inputs))
        n.inputs[i] = name
        self.new.add(name)
        if old and old != name:
            self.old.add(old)

    def drop(self, n: Node, i: int, idx, axis: int):
        w = self.ir.consts[n.inputs[i]]
        self.set(n, i, np.delete(w, idx, axis=axis), w)

    def finish(self):
        used = {i for n in self.ir.nodes for i in n.inputs}
        for c in self.old - used:
            self.ir.consts.pop(c, None)


def _drop_filters(rw: _Rewriter, n: Node, idx: np.ndarray, axis: int):
    rw.drop(n, 1, idx, axis)
    if len(n.inputs) > 2 and n.inputs[2]:
        rw.drop(n, 2, idx, 0)


def _absorb(rw: _Rewriter, n: Node, role: str, k: np.ndarray, idx: np.ndarray):
    """Reader n loses channels idx (whose constants are k[idx]): folded into its bias where it absorbs them."""
    ir = rw.ir
    if role in ("conv", "gemm"):
        w = ir.consts[n.inputs[1]]
        axis = 0 if role == "gemm" and not n.attrs.get("transB", 0) else 1
        cols = np.take(w, idx, axis=axis).astype(np.float64)
        if axis == 0:    # Gemm weight [K, N]
            delta = k[idx] @ cols
        else:            # Conv [O, C, kh, kw] or Gemm [N, K]: every output sees each constant through all taps
            delta = (cols * k[idx].reshape(1, -1, *[1] * (w.ndim - 2))).reshape(len(w), -1).sum(1)
        rw.set(n, 2, _bias(n, ir, len(delta)) + delta, w)
        rw.drop(n, 1, idx, axis)
    elif role == "dw":
        _drop_filters(rw, n, idx, 0)
        n.attrs["group"] = int(n.attrs["group"]) - len(idx)
    elif role == "bn":
        for i in range(1, 5):
            rw.drop(n, i, idx, 0)


def prune_channels(ir: IR, sparsity: float, scope: str = "layer", keep=()) -> IR:
    from ..compress.prune import channel_masks
    from .sparsity import weight_layers
    cons, outputs = ir.consumers(), {v for v, _ in ir.outputs}
    names = Counter(n.name for n in ir.nodes)
    regions, kept = {}, {}
    for n, _, _ in weight_layers(ir, keep):
        r = _target(n, ir) or _region(ir, n, cons, outputs)
        label = n.name if n.name and names[n.name] == 1 else n.outputs[0]   # ONNX names may repeat
        if isinstance(r, str):
            kept[label] = r
        else:
            regions[label] = (n, r)
    masks = channel_masks({k: _filters(n, ir) for k, (n, _) in regions.items()}, sparsity, scope)
    removed = {k: np.flatnonzero(~masks[k] & exact) for k, (_, (_, exact)) in regions.items()}
    removed = {k: v for k, v in removed.items() if len(v)}
    rw = _Rewriter(ir)
    # readers first, while the biases they fold into still have every output; then the filters themselves
    for k, idx in removed.items():
        for n, role, consts in regions[k][1][0]:
            _absorb(rw, n, role, consts, idx)
    for k, idx in removed.items():
        n = regions[k][0]
        _drop_filters(rw, n, idx, 1 if n.op == "Gemm" and not n.attrs.get("transB", 0) else 0)
    rw.finish()
    total = sum(len(_filters(n, ir)) + len(removed.get(k, ())) for k, (n, _) in regions.items())
    n_removed = sum(len(v) for v in removed.values())
    ir.channel_report = {"removed": removed, "kept": kept,
                         "summary": f"removed {n_removed} of {total} filters in {len(removed)} layers (channel)"}
    return ir
