"""Static int8 quantization (`quantize="int8"`): calibrated u8 activations, s8 per-channel weights, integer
kernels between a QuantizeLinear at the start and a DequantizeLinear (or a QGemm's float output) at the end.

    ir = quantize_static(ir, calibration, method="minmax")

1. Calibration: the float graph runs on our own runtime over `calibration` (an iterable of example inputs: an
   array, a tuple of arrays or a dict name -> array per item), with every activation the int8 graph will
   carry added as an output. Each gets a range [lo, hi] (always containing 0):
     minmax      the observed min and max
     percentile  the 0.001th / 99.999th percentiles of a 2048-bin histogram (drops rare outliers)
     mse         the clipping range that minimises the expected squared error of u8 quantization over the
                 histogram (the search TensorRT and ORT call "entropy"/"MSE"-like calibration)
   then u8 parameters: scale = (hi - lo) / 255, zero point = round(-lo / scale).
2. Rewrite (ONNX's QLinear names, ONNX Runtime's com.microsoft signatures):
     Conv (NHWC, group 1 or depthwise, fused none/relu/relu6/clip) -> QLinearConv, s8 weights per output
         channel (symmetric, max-abs), int32 bias at scale x_scale * w_scale
     Add of two activations (same shape)                             -> QLinearAdd
     GlobalAveragePool                                               -> QLinearGlobalAveragePool
     Gemm with a constant weight, no activation                      -> QGemm with float output (logits)
     Transpose / Reshape / Flatten / Squeeze / Unsqueeze of a u8 value stay u8 with the same parameters.
   A float value read by a quantized node gets one QuantizeLinear; a u8 value read by a float node (or a graph
   output) one DequantizeLinear. Everything else stays f32, so any graph exports.
"""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node

METHODS = ("minmax", "percentile", "mse")
_BINS = 2048
# ops that move u8 values unchanged (MaxPool: the max of quantized values is the quantized max)
_PASSTHROUGH = ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "MaxPool")
_CLAMP_ACTS = ("relu", "relu6", "clip")
# elementwise functions of one activation: a 256-entry LookupTable when their input is u8
_LUT_OPS = ("Sigmoid", "Tanh", "Silu", "HardSwish", "HardSigmoid", "LeakyRelu", "Gelu", "Relu", "Clip", "Exp")
# a fused activation a quantized op cannot clamp becomes its own node (then a LookupTable)
_UNFUSE = {"sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "Silu", "hardswish": "HardSwish", "gelu": "Gelu",
           "hardsigmoid": "HardSigmoid", "leaky_relu": "LeakyRelu"}


def _lut_fn(n: Node, ir: IR):
    """numpy f(x) of a _LUT_OPS node (float64)."""
    from math import erf
    a = n.attrs
    if n.op == "Sigmoid":
        return lambda x: 1 / (1 + np.exp(-x))
    if n.op == "Tanh":
        return np.tanh
    if n.op == "Silu":
        return lambda x: x / (1 + np.exp(-x))
    if n.op == "HardSwish":
        return lambda x: x * np.clip(x / 6 + 0.5, 0, 1)
    if n.op == "HardSigmoid":
        al, be = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
        return lambda x: np.clip(al * x + be, 0, 1)
    if n.op == "LeakyRelu":
        al = float(a.get("alpha", 0.01))
        return lambda x: np.where(x < 0, al * x, x)
    if n.op == "Gelu":
        return lambda x: np.array([0.5 * v * (1 + erf(v / np.sqrt(2))) for v in x])
    if n.op == "Relu":
        return lambda x: np.maximum(x, 0)
    if n.op == "Exp":
        return np.exp
    lo = a.get("min", -np.inf) if len(n.inputs) < 2 or not n.inputs[1] else ir.const(n.inputs[1])
    hi = a.get("max", np.inf) if len(n.inputs) < 3 or not n.inputs[2] else ir.const(n.inputs[2])
    if lo is None or hi is None:
        return None
    return lambda x: np.clip(x, float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0]))


def _unfuse(ir: IR) -> IR:
    """Conv / Add with a fused activation other than a clamp: the activation as its own node, so that
    calibration sees the value before it and the int8 graph applies it as a table. (Copies the nodes.)"""
    nodes = []
    for n in ir.nodes:
        n = Node(n.op, list(n.inputs), list(n.outputs), dict(n.attrs), n.name, n.source)
        act = n.attrs.get("activation", "")
        if n.op not in ("Conv", "Add") or act not in _UNFUSE:
            nodes.append(n)
            continue
        alpha, beta = n.attrs.pop("activation_alpha", None), n.attrs.pop("activation_beta", None)
        del n.attrs["activation"]
        out, n.outputs = n.outputs[0], [ir.fresh(n.outputs[0] + "_pre")]
        attrs = {}
        if act == "hardsigmoid":
            attrs = {"alpha": 0.2 if alpha is None else alpha, "beta": 0.5 if beta is None else beta}
        elif act == "leaky_relu":
            attrs = {"alpha": 0.01 if alpha is None else alpha}
        nodes += [n, Node(_UNFUSE[act], n.outputs[:], [out], attrs, (n.name or out) + "_act", n.source)]
    return IR(list(ir.inputs), [list(o) for o in ir.outputs], nodes, ir.consts, ir.name)


def _conv_ok(n: Node, ir: IR) -> bool:
    w = ir.const(n.inputs[1]) if len(n.inputs) > 1 else None
    if w is None or w.ndim != 4 or n.attrs.get("layout") != "NHWC":
        return False
    g = int(n.attrs.get("group", 1))
    depthwise = g == w.shape[0] and w.shape[1] == 1
    return (g == 1 or depthwise) and n.attrs.get("activation", "") in ("",) + _CLAMP_ACTS and \
        (len(n.inputs) < 3 or not n.inputs[2] or ir.const(n.inputs[2]) is not None)


def _gemm_ok(n: Node, ir: IR) -> bool:
    w = ir.const(n.inputs[1]) if len(n.inputs) > 1 else None
    return (w is not None and w.ndim == 2 and not n.attrs.get("transA", 0) and float(n.attrs.get("alpha", 1)) == 1
            and float(n.attrs.get("beta", 1)) == 1 and not n.attrs.get("activation")
            and (len(n.inputs) < 3 or not n.inputs[2] or ir.const(n.inputs[2]) is not None))


def _add_ok(n: Node, ir: IR) -> bool:
    """Two activations (the same shape is checked after calibration, which sees the shapes)."""
    a, b = n.inputs[:2]
    return ir.const(a) is None and ir.const(b) is None and n.attrs.get("activation", "") in ("",) + _CLAMP_ACTS


def _candidates(ir: IR) -> set:
    q = set()
    for i, n in enumerate(ir.nodes):
        if (n.op == "Conv" and _conv_ok(n, ir)) or (n.op == "Gemm" and _gemm_ok(n, ir)) or \
                (n.op == "Add" and _add_ok(n, ir)) or n.op == "GlobalAveragePool":
            q.add(i)
    return q


def _u8_values(ir: IR, qnodes: set):
    """u8 value -> the value whose calibrated range it uses: outputs of quantized nodes (not QGemm's float
    output), of pass-through ops on u8 values, of elementwise functions of u8 values (tables) and of Concats
    with a u8 input (their own range; inputs requantized to it by tables); and the indices of the table and
    Concat nodes."""
    u8, luts = {}, set()
    for i, n in enumerate(ir.nodes):
        if i in qnodes and n.op != "Gemm":
            u8[n.outputs[0]] = n.outputs[0]
        elif n.op == "Concat" and any(v in u8 for v in n.inputs):
            u8[n.outputs[0]] = n.outputs[0]
            luts.add(i)
        elif n.op in _PASSTHROUGH and n.inputs[0] in u8:
            u8[n.outputs[0]] = u8[n.inputs[0]]
        elif n.op in _LUT_OPS and n.inputs[0] in u8 and _lut_fn(n, ir) is not None:
            u8[n.outputs[0]] = n.outputs[0]
            luts.add(i)
    return u8, luts


def _items(calibration, names):
    if calibration is None:
        raise ExportError("quantize='int8' needs calibration data: calibration=[example inputs] (a few "
                          "representative inputs, e.g. 5-100 images)")
    n = 0
    for item in calibration:
        if isinstance(item, dict):
            feed = item
        else:
            arrs = item if isinstance(item, (list, tuple)) else [item]
            if len(arrs) != len(names):
                raise ExportError(f"a calibration item has {len(arrs)} arrays; the model has {len(names)} inputs "
                                  f"({', '.join(names)})")
            feed = dict(zip(names, arrs))
        n += 1
        # floats as f32; integer inputs (token ids) keep their type
        yield {k: np.asarray(v, dtype=np.float32) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
               for k, v in feed.items()}
    if n == 0:
        raise ExportError("calibration is empty: give at least one example input")


def _observe(ir: IR, values: list, calibration, method: str, num_threads=None):
    """value -> (lo, hi) over the calibration inputs, and value -> shape (of the first input)."""
    from ..session import Session
    from .emit import to_graph
    probe = IR(list(ir.inputs), list(ir.outputs) + [[v, f"__calib_{i}"] for i, v in enumerate(values)],
               ir.nodes, ir.consts, ir.name)
    sess = Session(to_graph(probe, "calibration").to_bytes(), num_threads=num_threads)
    names = [i[0] for i in ir.inputs]
    k0 = len(ir.outputs)
    items = list(_items(calibration, names))
    lo = np.full(len(values), np.inf)
    hi = np.full(len(values), -np.inf)
    shapes = {}
    for feed in items:
        outs = sess.run(feed)
        shapes = shapes or {v: outs[k0 + j].shape for j, v in enumerate(values)}
        for j in range(len(values)):
            o = outs[k0 + j]
            if o.size:
                lo[j] = min(lo[j], float(o.min()))
                hi[j] = max(hi[j], float(o.max()))
    lo = np.minimum(np.where(np.isfinite(lo), lo, 0.0), 0.0)
    hi = np.maximum(np.where(np.isfinite(hi), hi, 0.0), 0.0)
    if method == "minmax":
        return {v: (lo[j], hi[j]) for j, v in enumerate(values)}, shapes
    # second pass: a histogram per value over its observed range
    hists = np.zeros((len(values), _BINS))
    for feed in items:
        outs = sess.run(feed)
        for j in range(len(values)):
            if hi[j] > lo[j]:
                hists[j] += np.histogram(outs[k0 + j], bins=_BINS, range=(lo[j], hi[j]))[0]
    ranges = {}
    for j, v in enumerate(values):
        if hi[j] <= lo[j]:
            ranges[v] = (lo[j], hi[j])
            continue
        edges = np.linspace(lo[j], hi[j], _BINS + 1)
        ranges[v] = (_percentile if method == "percentile" else _mse)(hists[j], edges)
    return ranges, shapes


def _percentile(h, edges, q=99.999):
    c = np.cumsum(h) / max(h.sum(), 1)
    lo = edges[np.searchsorted(c, (100 - q) / 100)]
    hi = edges[min(np.searchsorted(c, q / 100) + 1, len(edges) - 1)]
    return min(lo, 0.0), max(hi, 0.0)


def _mse(h, edges):
    """The [lo, hi] (shrunk from the observed range in 1% steps, each end in proportion to its extent) with the
    least expected error: rounding noise scale^2 / 12 inside, the clipping distance squared outside."""
    centers = (edges[:-1] + edges[1:]) / 2
    lo0, hi0 = min(edges[0], 0.0), max(edges[-1], 0.0)
    best, arg = np.inf, (lo0, hi0)
    for f in np.linspace(1.0, 0.2, 81):
        lo, hi = lo0 * f, hi0 * f
        scale = (hi - lo) / 255
        clipped = np.clip(centers, lo, hi)
        err = float(np.sum(h * ((centers - clipped) ** 2 + np.where(centers == clipped, scale * scale / 12, 0))))
        if err < best:
            best, arg = err, (lo, hi)
    return arg


def _qparams(lo: float, hi: float):
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0
    if scale <= 0 or not np.isfinite(scale):
        scale = 1.0
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def _requant_table(src, dst) -> np.ndarray:
    """u8 q with parameters src -> the u8 with parameters dst of the same real value."""
    (sx, zx), (sy, zy) = src, dst
    x = (np.arange(256, dtype=np.float64) - int(zx)) * float(sx)
    return np.clip(np.rint(x / float(sy)) + int(zy), 0, 255).astype(np.uint8)


def _weight_scales(w2: np.ndarray) -> np.ndarray:
    """Per row (output channel) symmetric s8 scales: max|w| / 127 (1 for an all-zero row)."""
    m = np.abs(w2).max(axis=1).astype(np.float64)
    return np.where(m > 0, m / 127.0, 1.0)


def _bias_safe(sw: np.ndarray, bias, sx: float) -> np.ndarray:
    """Weight scales raised where the int32 bias (bias / (sx * sw)) would pass 2^30: a channel whose weights
    are tiny next to its bias (its output is nearly the bias) keeps the bias exact and the sums in int32."""
    if bias is None:
        return sw
    b = np.abs(np.asarray(bias, np.float64).reshape(-1))
    return np.maximum(sw, b / (sx * 2.0 ** 30))


def _quant_weight(w2: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.clip(np.round(w2 / s[:, None]), -127, 127).astype(np.int8)


def calibrate(ir: IR, calibration, method: str = "minmax", keep=(), num_threads=None):
    """(the graph with non-clamp activations split off, the quantizable node indices, value -> (scale, zp))."""
    if method not in METHODS:
        raise ExportError(f"unknown calibration_method {method!r}; supported: {', '.join(METHODS)}")
    keep = set(keep)
    ir = _unfuse(ir)
    cands = {i for i in _candidates(ir) if ir.nodes[i].name not in keep and ir.nodes[i].source not in keep}
    if not cands:
        raise ExportError("quantize='int8': no operator to quantize (int8 covers channels-last Conv, Add, "
                          "GlobalAveragePool and Gemm with a constant weight)")
    u8, _ = _u8_values(ir, cands)
    need = {u8[v] for v in u8}
    for i in cands:
        n = ir.nodes[i]
        need |= {u8.get(a, a) for a in (n.inputs[:2] if n.op == "Add" else n.inputs[:1])}
    ranges, shapes = _observe(ir, sorted(need), calibration, method, num_threads)
    # an Add that broadcasts stays f32
    qnodes = {i for i in cands if ir.nodes[i].op != "Add" or
              shapes.get(ir.nodes[i].inputs[0]) == shapes.get(ir.nodes[i].inputs[1])}
    qp = {v: _qparams(*r) for v, r in ranges.items()}
    for v, src in _u8_values(ir, qnodes)[0].items():   # pass-through values share their source's range
        if src in qp:
            qp.setdefault(v, qp[src])
    return ir, qnodes, qp


def quantize_static(ir: IR, calibration, method: str = "minmax", keep=(), num_threads=None) -> IR:
    """The int8 graph of `ir` (after the default passes: channels-last convs, fused activations). keep: node
    names (or sources) that stay f32."""
    return rewrite(*calibrate(ir, calibration, method, keep, num_threads))


def sensitivity_int8(ir: IR, calibration, inputs: dict, method: str = "minmax", num_threads=None) -> list:
    """Per int8 weight layer (QLinearConv / QGemm), the model's output error when only that layer (with its
    input quantized and its output dequantized) is int8, worst first; plus a row "all" for the whole int8
    graph. Calibrated once. inputs: name -> array, as Session.run takes them."""
    from ..session import Session
    from .emit import to_graph
    base, qnodes, qp = calibrate(ir, calibration, method, (), num_threads)
    ref = Session(to_graph(base, "ref").to_bytes(), num_threads=num_threads).run(inputs)
    scale = max(max(float(np.abs(r).max()) for r in ref), 1e-12)

    def row(layer, op, nodes):
        out = Session(to_graph(rewrite(base, nodes, qp), "one").to_bytes(), num_threads=num_threads).run(inputs)
        err = max(float(np.abs(o.astype(np.float64) - r).max()) for o, r in zip(out, ref))
        r = {"layer": layer, "op": op, "shape": (), "encoding": "int8", "max_abs_error": err,
             "relative_error": err / scale}
        if ref[0].ndim == 2 and ref[0].shape[1] > 1:
            r["top1_agreement"] = float((out[0].argmax(1) == ref[0].argmax(1)).mean())
        return r

    rows = []
    for i in sorted(qnodes):
        n = base.nodes[i]
        if n.op in ("Conv", "Gemm"):
            r = row(n.name, "QLinearConv" if n.op == "Conv" else "QGemm", {i})
            r["shape"] = tuple(base.consts[n.inputs[1]].shape)
            rows.append(r)
    rows.sort(key=lambda r: -r["max_abs_error"])
    return [row("all", "(int8 graph)", qnodes)] + rows


def rewrite(ir: IR, qnodes: set, qp: dict) -> IR:
    """The graph with nodes `qnodes` on integers (calibrated parameters qp: value -> (scale, zp))."""
    u8, luts = _u8_values(ir, qnodes)
    out = IR(list(ir.inputs), [list(o) for o in ir.outputs], [], dict(ir.consts), ir.name)

    def const(base, arr):
        name = out.fresh(base)
        out.consts[name] = arr
        return name

    scales = {}   # calibrated value -> (scale const, zp const)

    def qconsts(v):
        src = u8.get(v, v)
        if src not in scales:
            s, z = qp[src]
            scales[src] = (const(src + "_scale", np.array(s, np.float32)), const(src + "_zp", np.array(z, np.uint8)))
        return scales[src]

    converted = {}   # (value, op) -> its QuantizeLinear / DequantizeLinear output, made once

    def convert(v, op, suffix):
        if (v, op) not in converted:
            s, z = qconsts(v)
            name = out.fresh(v + suffix)
            out.nodes.append(Node(op, [v, s, z], [name], name=name))
            converted[(v, op)] = name
        return converted[(v, op)]

    def as_u8(v):
        """v as a u8 value (a QuantizeLinear of a float activation, once per value)."""
        return v if v in u8 else convert(v, "QuantizeLinear", "_u8")

    def as_f32(v):
        return convert(v, "DequantizeLinear", "_f32") if v in u8 else v

    for i, n in enumerate(ir.nodes):
        if i in qnodes:
            out.nodes.append(_quantized_node(n, ir, as_u8, qconsts, const, qp, u8))
        elif i in luts and n.op == "Concat":
            ins = []
            for v in n.inputs:
                if v in u8 and tuple(qp[u8[v]]) != tuple(qp[n.outputs[0]]):   # requantize by a table
                    t = out.fresh(v + "_rq")
                    out.nodes.append(Node("LookupTable", [v, const(t + "_table", _requant_table(qp[u8[v]],
                                                                                              qp[n.outputs[0]]))],
                                          [t], {}, t))
                    ins.append(t)
                elif v in u8:
                    ins.append(v)
                else:
                    s_, z_ = qconsts(n.outputs[0])
                    q = out.fresh(v + "_u8")
                    out.nodes.append(Node("QuantizeLinear", [v, s_, z_], [q], name=q))
                    ins.append(q)
            out.nodes.append(Node("Concat", ins, list(n.outputs), dict(n.attrs), n.name, n.source))
        elif i in luts:
            (sx, zx), (sy, zy) = qp[u8[n.inputs[0]]], qp[n.outputs[0]]
            xf = (np.arange(256, dtype=np.float64) - int(zx)) * float(sx)
            with np.errstate(over="ignore"):
                yf = _lut_fn(n, ir)(xf)
            table = np.clip(np.rint(yf / float(sy)) + int(zy), 0, 255).astype(np.uint8)
            out.nodes.append(Node("LookupTable", [n.inputs[0], const((n.name or n.outputs[0]) + "_table", table)],
                                  list(n.outputs), {}, n.name, n.source))
        elif n.op in _PASSTHROUGH and n.inputs[0] in u8:
            out.nodes.append(Node(n.op, list(n.inputs), list(n.outputs), dict(n.attrs), n.name, n.source))
        else:
            out.nodes.append(Node(n.op, [as_f32(v) if v else v for v in n.inputs], list(n.outputs), dict(n.attrs),
                                  n.name, n.source))
    out.outputs = [[as_f32(v), ext] for v, ext in out.outputs]
    from .passes import eliminate_dead
    return eliminate_dead(out)


def _quantized_node(n: Node, ir: IR, as_u8, qconsts, const, qp, u8) -> Node:
    x = as_u8(n.inputs[0])
    xs, xz = qconsts(n.inputs[0])
    sx = float(qp[u8.get(n.inputs[0], n.inputs[0])][0])
    attrs = dict(n.attrs)
    base = n.name or n.outputs[0]
    if n.op == "GlobalAveragePool":
        ys, yz = qconsts(n.outputs[0])
        return Node("QLinearGlobalAveragePool", [x, xs, xz, ys, yz], list(n.outputs), attrs, n.name, n.source)
    if n.op == "Add":
        b = as_u8(n.inputs[1])
        bs, bz = qconsts(n.inputs[1])
        ys, yz = qconsts(n.outputs[0])
        return Node("QLinearAdd", [x, xs, xz, b, bs, bz, ys, yz], list(n.outputs), attrs, n.name, n.source)
    w = ir.consts[n.inputs[1]].astype(np.float32)
    bias = ir.const(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
    if n.op == "Gemm":
        w2 = w if attrs.get("transB", 0) else w.T
        if bias is not None:
            bias = np.broadcast_to(np.asarray(bias, np.float64).reshape(-1), (w2.shape[0],))
        sw = _bias_safe(_weight_scales(w2), bias, sx)
        inputs = [x, xs, xz, const(base + "_wq", _quant_weight(w2, sw)), const(base + "_wscale", sw.astype(np.float32)),
                  const(base + "_wzp", np.array(0, np.int8))]
        if bias is not None:
            inputs.append(const(base + "_bq", np.round(bias / (sx * sw)).astype(np.int32)))
        attrs = {"transB": 1}
        return Node("QGemm", inputs, list(n.outputs), attrs, n.name, n.source)
    # Conv
    w2 = w.reshape(w.shape[0], -1)
    sw = _bias_safe(_weight_scales(w2), bias, sx)
    ys, yz = qconsts(n.outputs[0])
    inputs = [x, xs, xz, const(base + "_wq", _quant_weight(w2, sw).reshape(w.shape)),
              const(base + "_wscale", sw.astype(np.float32)), const(base + "_wzp", np.array(0, np.int8)), ys, yz]
    if bias is not None:
        inputs.append(const(base + "_bq", np.round(np.asarray(bias, np.float64) / (sx * sw)).astype(np.int32)))
    return Node("QLinearConv", inputs, list(n.outputs), attrs, n.name, n.source)
