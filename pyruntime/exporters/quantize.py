"""Weight compression at export: which weights get which encoding, and the per-layer sensitivity report.

Modes (the `quantize=` / `weight_sharing=` keywords of export and export_onnx):
  "int8-weights"    int8, one scale per output channel (symmetric)
  "int4"            int4 in groups of `group_size` (32, 64, 128...) along the input axis, each group's scale
                    chosen by a search that minimises its reconstruction error; weights whose rows are
                    shorter than a group (depthwise) get int8 per channel instead
  weight_sharing=K  each output channel's weights clustered (k-means) to K <= 256 shared values (`lut`);
                    rows too short to pay for their own codebook (depthwise, an RGB stem) share one codebook
                    per tensor when K >= 64 and the rows' ranges are alike, else stay f32
Weights are the constant weight operands of Conv, ConvTranspose, Gemm and MatMul; biases, normalization
parameters and shape constants stay f32. `keep_float=[node names]` keeps those layers' weights f32, so one
file can mix int4, int8 and f32 layers.

The runtime decodes int8 and lut weights once, at load, into the f32 layouts its kernels use (the file shrinks;
memory and latency stay those of the fp32 model); int4 Linear/MatMul weights are used as stored by the int4
GEMV for up to 8 rows. quantize="int8" is static quantization (calibrated u8 activations, s8 weights, integer
kernels end to end): exporters/static_quant.py.
"""
from __future__ import annotations

import numpy as np

from .decoders import Encoded
from .ir import IR, ExportError

_WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
QUANTIZE_MODES = ("int8", "int8-weights", "int4")


def weight_layers(ir: IR) -> list:
    """(node, input index, const name) for every float weight operand of rank >= 2 of a weight op (not those
    already encoded, decoders.Encoded: a converter's exact bytes stay as they are)."""
    out = []
    for n in ir.nodes:
        if n.op not in _WEIGHT_OPS:
            continue
        idx = [1] if n.op != "MatMul" else [0, 1]
        for i in idx:
            c = ir.const(n.inputs[i]) if len(n.inputs) > i else None
            if c is not None and c.dtype.kind == "f" and c.ndim >= 2 and c.size and not isinstance(c, Encoded):
                out.append((n, i, n.inputs[i]))
    return out


def _axis(n, i: int, c: np.ndarray) -> int:
    """The output-channel axis of weight operand i of node n (int8 scales run along it)."""
    if n.op == "Conv":
        return 0
    if n.op == "ConvTranspose":
        return 1
    if n.op == "Gemm":
        return 0 if n.attrs.get("transB", 0) else 1
    if i == 1:
        return 0 if n.attrs.get("transB") else c.ndim - 1   # MatMul B: [N, K] (transB) or [.., K, N]
    return c.ndim - 2                                     # MatMul A [.., M, K] -> M


def _lut_pays(cols: int, k: int) -> bool:
    """A row of `cols` f32 weights as indices (4 bits up to 16 values, else 8) plus its own f32 codebook of k
    values saves at least twice the codebook's size."""
    bits = 4 if k <= 16 else 8
    return cols * (32 - bits) > 2 * k * 32


def _similar_rows(w: np.ndarray, spread: float = 4.0) -> bool:
    """The rows' largest magnitudes within a factor `spread` of each other."""
    m = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    return bool(m.min() > 0 and m.max() <= spread * m.min())


def check_options(quantize, group_size, weight_sharing, keep_float, calibration=None, calibration_method="minmax"):
    from .static_quant import METHODS
    if quantize == "int8" and calibration is None:
        raise ExportError("quantize='int8' needs calibration data: calibration=[example inputs] (a few "
                          "representative inputs, e.g. 5-100 images); quantize='int8-weights' needs none")
    if quantize != "int8" and calibration is not None:
        raise ExportError("calibration= is used by quantize='int8' only")
    if calibration_method not in METHODS:
        raise ExportError(f"unknown calibration_method {calibration_method!r}; supported: {', '.join(METHODS)}")
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise ExportError(f"unknown quantize mode {quantize!r}; supported: {', '.join(QUANTIZE_MODES)}")
    if group_size & (group_size - 1) or not 16 <= group_size <= 65536:
        raise ExportError(f"group_size must be a power of two in [16, 65536], got {group_size}")
    if weight_sharing is not None:
        if quantize is not None:
            raise ExportError("weight_sharing and quantize both choose the weights' encoding: give one of them")
        if not 2 <= int(weight_sharing) <= 256:
            raise ExportError(f"weight_sharing must be between 2 and 256 shared values, got {weight_sharing}")
    if isinstance(keep_float, str):
        raise ExportError("keep_float takes a list of node names")


def plan(ir: IR, quantize=None, group_size: int = 32, weight_sharing=None, keep_float=(), calibration=None,
         calibration_method="minmax") -> dict:
    """const name -> (encoding, options) for the weights the options compress (static int8 stores its int8
    weights dense: see static_quant.py; nothing more to encode)."""
    check_options(quantize, group_size, weight_sharing, keep_float, calibration, calibration_method)
    if quantize == "int8":
        return {}
    layers = weight_layers(ir)
    names = {n.name for n, _, _ in layers} | {n.source for n, _, _ in layers if n.source}
    unknown = [k for k in keep_float if k not in names]
    if unknown:
        raise ExportError(f"keep_float names no weight layer: {', '.join(unknown)}; the weight layers are: "
                          f"{', '.join(sorted(n.name for n, _, _ in layers))}")
    keep = set(keep_float)
    enc: dict = {}
    for n, i, c in layers:
        if n.name in keep or n.source in keep or c in enc:
            continue
        w = ir.consts[c]
        cols = w.size // w.shape[0]   # the input axis of the matrix view int4 groups run along
        if quantize == "int8-weights" or (quantize == "int4" and cols < group_size):
            # int4 rows shorter than a group (depthwise 3x3: 9 weights) would be mostly padding: int8 instead
            enc[c] = ("i8", {"axis": _axis(n, i, w)})
        elif quantize == "int4":
            enc[c] = ("i4", {"group_size": group_size, "scale_search": True})
        elif weight_sharing is not None and _lut_pays(cols, int(weight_sharing)):
            # one codebook per output channel where rows are long enough to pay for their own
            enc[c] = ("lut", {"k": int(weight_sharing), "axis": 0})
        elif weight_sharing is not None and int(weight_sharing) >= 64 and _lut_pays(w.size, int(weight_sharing)) \
                and _similar_rows(w):
            # shorter rows (depthwise 3x3, an RGB stem): one codebook for the tensor when it has 64 values or
            # more and its rows have similar ranges; otherwise one set of values across channels of different
            # scales loses too much (measured: EfficientNet's depthwise convs), and the rows stay f32
            enc[c] = ("lut", {"k": int(weight_sharing), "axis": None})
    # a constant read by a kept layer stays f32 even if another layer shares it
    for n, i, c in layers:
        if (n.name in keep or n.source in keep) and c in enc:
            del enc[c]
    return enc


def sensitivity(ir: IR, inputs: dict, quantize=None, group_size: int = 32, weight_sharing=None,
                num_threads=None, encodings: dict | None = None) -> list:
    """Per weight layer, the model's output error when only that layer is compressed (the rest f32), worst
    first: the layers to name in keep_float. inputs: name -> array, as Session.run takes them. encodings:
    const name -> (encoding, options) as export writes them (default: plan() of the options)."""
    from ..session import Session
    from .emit import to_graph
    full = plan(ir, quantize, group_size, weight_sharing) if encodings is None else encodings
    ref = Session(to_graph(ir, "ref").to_bytes(), num_threads=num_threads).run(inputs)
    scale = max(max(float(np.abs(r).max()) for r in ref), 1e-12)
    rows = []
    for n, i, c in weight_layers(ir):
        if c not in full:
            continue
        out = Session(to_graph(ir, "one", {c: full[c]}).to_bytes(), num_threads=num_threads).run(inputs)
        err = max(float(np.abs(o.astype(np.float64) - r).max()) for o, r in zip(out, ref))
        row = {"layer": n.name, "op": n.op, "weight": c, "shape": tuple(ir.consts[c].shape),
               "encoding": full[c][0], "max_abs_error": err, "relative_error": err / scale}
        if ref[0].ndim == 2 and ref[0].shape[1] > 1:   # classifier logits: top-1 agreement too
            row["top1_agreement"] = float((out[0].argmax(1) == ref[0].argmax(1)).mean())
        rows.append(row)
    return sorted(rows, key=lambda r: -r["max_abs_error"])


def format_report(rows: list) -> str:
    lines = [f"{'layer':48s} {'op':8s} {'weight shape':>16s} {'enc':4s} {'max abs err':>12s} {'rel':>9s}"]
    for r in rows:
        shape = "x".join(str(d) for d in r["shape"])
        lines.append(f"{r['layer'][-48:]:48s} {r['op']:8s} {shape:>16s} {r['encoding']:4s} "
                     f"{r['max_abs_error']:12.4g} {r['relative_error']:9.2e}")
    return "\n".join(lines)
