"""Graph passes on the IR. Each one preserves the model's outputs (tests check every pass on real models):

fold_constants      evaluate nodes whose inputs are all constants (shape arithmetic, padding computations)
remove_identities   drop Identity / Dropout / no-op Reshape-Cast
fold_batchnorm      BatchNormalization after Conv / ConvTranspose / Gemm folded into its weights and bias
fold_pad_into_conv  a zero Pad of the spatial dims merged into the following Conv's pads
fuse_silu           x * Sigmoid(x) -> Silu
fuse_activations    Relu, Clip, LeakyRelu, Sigmoid, Tanh, Silu, HardSwish, HardSigmoid folded into the
                    preceding Conv / ConvTranspose / Gemm / Add as its `activation` attribute
eliminate_dead      drop nodes and constants nothing uses
lift_1d_to_2d       1-D Conv / ConvTranspose / MaxPool / AveragePool run as their 2-D forms on a [N, C, 1, W] view
transpose_matmul_weights  constant MatMul weights stored [N, K] (transB), as Linear weights are
to_channels_last    runs of convolutions, pooling and elementwise ops switched to NHWC (layout canonicalization)
"""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node

# A dynamic dimension read by Shape is carried through shape arithmetic as a sentinel value that encodes which
# tensor and which dimension it came from: _SENT + 16 * source + dim, source indexing ir.sent_sources. A
# Reshape of that same tensor that copies the dimension to the same position becomes a 0 ("keep this
# dimension"); any other use puts the folded shape arithmetic back in the graph, for the runtime to compute
# when it plans each input-shape set.
_SENT = -(1 << 50)
_SENT_SPAN = 1 << 30


def _is_sent(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind == "i" and bool(((a >= _SENT) & (a < _SENT + _SENT_SPAN)).any())


def _sent_decode(v: int):
    k = int(v) - _SENT
    return k // 16, k % 16


def _onnx_slice(x, starts, ends, axes, steps):
    sl = [slice(None)] * x.ndim
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for s, e, a, st in zip(starts, ends, axes, steps):
        sl[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(sl)]


_NP_DT = {1: np.float32, 10: np.float16, 3: np.int8, 2: np.uint8, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64,
          5: np.int16, 4: np.uint16, 12: np.uint32, 13: np.uint64}


def _eval(n: Node, ins: list, ir: IR):
    """numpy value(s) of a node over constant inputs, or None when it cannot be folded."""
    a = n.attrs
    x = ins[0] if ins else None
    op = n.op
    moves = {"Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity", "Reshape", "Transpose"}
    if op not in moves and any(i is not None and _is_sent(i) for i in ins):
        return None
    # the moves carry a dynamic dimension in their data (every input of Concat, input 0 of the others), never
    # in their indices, starts / ends or shape: those make the result depend on the dimension's value
    if op != "Concat" and any(i is not None and _is_sent(i) for i in ins[1:]):
        return None
    if op == "Shape":
        shp = ir.shapes.get(n.inputs[0])
        if shp is None:
            return None
        src = len(ir.sent_sources)
        ir.sent_sources.append(n.inputs[0])
        s = np.array([d if d >= 0 else _SENT + 16 * src + i for i, d in enumerate(shp)], np.int64)
        return s[a.get("start", 0):a.get("end", len(s))] if ("start" in a or "end" in a) else s
    if op == "Cast":
        if a["to"] not in _NP_DT:   # bf16: numpy has no such type; the runtime casts
            return None
        return x.astype(_NP_DT[a["to"]]) if not _is_sent(x) or a["to"] == 7 else x
    if op == "Gather":
        return np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))
    if op == "Unsqueeze":
        axes = a.get("axes", None) if len(ins) < 2 else ins[1]
        out = x
        for ax in sorted(int(v) % (x.ndim + len(axes)) for v in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = a.get("axes", None) if len(ins) < 2 else ins[1]
        return np.squeeze(x, tuple(int(v) for v in axes) if axes is not None else None)
    if op == "Concat":
        return np.concatenate([np.asarray(i) for i in ins], axis=a["axis"])
    if op == "Slice":
        if "starts" in a:
            return _onnx_slice(x, a["starts"], a["ends"], a.get("axes"), None)
        return _onnx_slice(x, ins[1], ins[2], ins[3] if len(ins) > 3 else None, ins[4] if len(ins) > 4 else None)
    if op == "Reshape":
        shape = [d if d != 0 else x.shape[i] for i, d in enumerate(ins[1].tolist())]
        return x.reshape(shape)
    if op == "Transpose":
        return np.transpose(x, a.get("perm"))
    if op == "ConstantOfShape":
        v = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("value", np.zeros(1, np.float32))
        return np.full(tuple(int(d) for d in x), np.asarray(v).reshape(-1)[0], dtype=np.asarray(v).dtype)
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "Max", "Min"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Equal": np.equal,
             "Less": np.less, "Greater": np.greater, "Max": np.maximum, "Min": np.minimum}.get(op)
        if op == "Div":   # integer division truncates toward zero in ONNX
            return (np.trunc(x / ins[1]).astype(x.dtype)) if x.dtype.kind in "iu" else (x / ins[1]).astype(x.dtype)
        r = f(x, ins[1])
        return r.astype(x.dtype) if r.dtype.kind == "f" else r
    if op in ("Neg", "Sqrt", "Exp", "Floor", "Ceil", "Abs", "Reciprocal"):
        f = {"Neg": np.negative, "Sqrt": np.sqrt, "Exp": np.exp, "Floor": np.floor, "Ceil": np.ceil, "Abs": np.abs,
             "Reciprocal": np.reciprocal}[op]
        return f(x).astype(x.dtype)
    if op == "Range":
        return np.arange(x, ins[1], ins[2]).astype(x.dtype)
    if op == "Where":
        return np.where(ins[0], ins[1], ins[2])
    if op == "Expand":
        return (x * np.ones(tuple(int(d) for d in ins[1]), x.dtype))
    return None


def fold_constants(ir: IR) -> IR:
    origin = {}   # folded value -> the node that computed it (kept to restore shape arithmetic, below)
    changed = True
    while changed:
        changed = False
        keep = []
        for n in ir.nodes:
            ins = [ir.consts.get(i) if i else None for i in n.inputs]
            foldable = n.op == "Shape" or all(i is None or v is not None for i, v in zip(n.inputs, ins))
            out = _eval(n, ins, ir) if foldable and n.inputs and len(n.outputs) == 1 else None
            if out is not None:
                ir.consts[n.outputs[0]] = np.asarray(out)
                origin[n.outputs[0]] = n
                changed = True
            else:
                keep.append(n)
        ir.nodes = keep
    # A Reshape whose target copies, in place, a dynamic dimension of its own input tensor (or the same named
    # dimension, e.g. "batch", by ONNX shape inference) keeps that dimension: that entry becomes 0.
    sources, names = ir.sent_sources, ir.dim_names

    def same_dim(src: str, dim: int, value: str, pos: int) -> bool:
        if dim != pos:
            return False
        if src == value:
            return True
        a, b = names.get(src), names.get(value)
        na = a[dim] if a is not None and dim < len(a) else None
        nb = b[pos] if b is not None and pos < len(b) else None
        return bool(na and nb and not na.startswith("unk__") and na == nb)

    for n in ir.nodes:
        if n.op == "Reshape" and len(n.inputs) > 1 and _is_sent(ir.consts.get(n.inputs[1], np.zeros(0))):
            shape = ir.consts[n.inputs[1]].copy()
            for j, d in enumerate(shape):
                if _is_sent(d):
                    src, dim = _sent_decode(d)
                    if same_dim(sources[src], dim, n.inputs[0], j):
                        shape[j] = 0
            if not _is_sent(shape):
                name = ir.fresh(n.inputs[1] + "_static")
                ir.consts[name] = shape
                n.inputs = [n.inputs[0], name]
    # What still depends on a dynamic dimension is computed by the runtime when it plans a shape set: the
    # nodes that folded it (Shape, Gather, Concat, ...) go back into the graph.
    restored = []

    def restore(v):
        n = origin.pop(v, None)
        if n is None:
            return
        for i in n.inputs:
            if i in ir.consts and _is_sent(ir.consts[i]):
                restore(i)
        restored.append(n)

    uses = [i for n in ir.nodes for i in n.inputs] + [v for v, _ in ir.outputs]
    for v in uses:
        if v in ir.consts and _is_sent(ir.consts[v]):
            restore(v)
    for n in restored:
        del ir.consts[n.outputs[0]]
    if restored:
        ir.nodes = _topo_sort(ir.nodes + restored)
    return ir


def _topo_sort(nodes: list) -> list:
    """Nodes ordered so that each comes after the producers of its inputs (stable otherwise; iterative, since
    graphs are deeper than Python's recursion limit)."""
    made = {o: k for k, n in enumerate(nodes) for o in n.outputs}
    state = [0] * len(nodes)   # 0 new, 1 on the stack, 2 placed
    order = []
    for root in range(len(nodes)):
        stack = [(root, 0)]
        while stack:
            k, j = stack.pop()
            if j == 0:
                if state[k] == 2:
                    continue
                state[k] = 1
            deps = [made[i] for i in nodes[k].inputs if i in made]
            if j < len(deps):
                stack.append((k, j + 1))
                d = deps[j]
                if state[d] == 1:
                    raise ExportError(f"{nodes[d].where()} is part of a cycle")
                if state[d] == 0:
                    stack.append((d, 0))
                continue
            state[k] = 2
            order.append(nodes[k])
    return order


def _replace_uses(ir: IR, old: str, new: str):
    ir.rename(old, new)


def remove_identities(ir: IR) -> IR:
    keep = []
    for n in ir.nodes:
        if n.op in ("Identity", "Dropout") and n.inputs and n.inputs[0]:
            # Dropout's optional mask output must be unused
            if n.op == "Dropout" and len(n.outputs) > 1 and n.outputs[1] and any(
                    n.outputs[1] in m.inputs for m in ir.nodes):
                keep.append(n)
                continue
            _replace_uses(ir, n.outputs[0], n.inputs[0])
            continue
        keep.append(n)
    ir.nodes = keep
    return ir


def _single_use(ir: IR, value: str, cons: dict) -> bool:
    return len(cons.get(value, [])) == 1 and value not in {v for v, _ in ir.outputs}


def fold_batchnorm(ir: IR) -> IR:
    prod, cons = ir.producers(), ir.consumers()
    drop = set()
    for bn in ir.nodes:
        if bn.op != "BatchNormalization" or len(bn.outputs) > 1 and any(bn.outputs[1:]):
            continue
        p = prod.get(bn.inputs[0])
        params = [ir.const(i) for i in bn.inputs[1:5]]
        if p is None or p.op not in ("Conv", "ConvTranspose") or any(v is None for v in params):
            continue
        if not _single_use(ir, bn.inputs[0], cons) or ir.const(p.inputs[1]) is None or "activation" in p.attrs:
            continue
        scale, bias, mean, var = (v.astype(np.float64) for v in params)
        s = scale / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))
        w = ir.consts[p.inputs[1]].astype(np.float64)
        if p.op == "Conv":
            w = w * s.reshape(-1, *([1] * (w.ndim - 1)))
        else:  # ConvTranspose weight [Cin, Cout/g, ...]: output channel c = g*(Cout/g) + j
            g = p.attrs.get("group", 1)
            cg = w.shape[1]
            w = (w.reshape(g, -1, cg, *w.shape[2:]) * s.reshape(g, 1, cg, *([1] * (w.ndim - 2)))).reshape(w.shape)
        b = ir.const(p.inputs[2]) if len(p.inputs) > 2 and p.inputs[2] else np.zeros(len(s))
        b = (b.astype(np.float64) - mean) * s + bias
        wn, bname = ir.fresh(p.inputs[1] + "_bnfold"), ir.fresh(bn.name + "_bias")
        ir.consts[wn], ir.consts[bname] = w.astype(np.float32), b.astype(np.float32)
        p.inputs = [p.inputs[0], wn, bname]
        _replace_uses(ir, bn.outputs[0], p.outputs[0])
        drop.add(id(bn))
    ir.nodes = [n for n in ir.nodes if id(n) not in drop]
    return ir


def fuse_silu(ir: IR) -> IR:
    prod, cons = ir.producers(), ir.consumers()
    drop = set()
    for n in ir.nodes:
        if n.op != "Mul" or len(n.inputs) != 2:
            continue
        for a, b in ((0, 1), (1, 0)):
            s = prod.get(n.inputs[b])
            if s is not None and s.op == "Sigmoid" and s.inputs[0] == n.inputs[a] and _single_use(ir, s.outputs[0], cons):
                n.op, n.inputs, n.attrs = "Silu", [n.inputs[a]], {}
                drop.add(id(s))
                break
    ir.nodes = [n for n in ir.nodes if id(n) not in drop]
    return ir


def _activation_of(n: Node, ir: IR):
    """The fused-activation attributes equivalent to node n, or None."""
    if n.op == "Relu":
        return {"activation": "relu"}
    if n.op == "Clip":
        lo = n.attrs.get("min", -3.4e38) if len(n.inputs) < 2 or not n.inputs[1] else ir.const(n.inputs[1])
        hi = n.attrs.get("max", 3.4e38) if len(n.inputs) < 3 or not n.inputs[2] else ir.const(n.inputs[2])
        if lo is None or hi is None:
            return None
        lo, hi = float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0])
        if lo == 0.0 and hi == 6.0:
            return {"activation": "relu6"}
        return {"activation": "clip", "activation_min": lo, "activation_max": hi}
    if n.op == "LeakyRelu":
        return {"activation": "leaky_relu", "activation_alpha": float(n.attrs.get("alpha", 0.01))}
    if n.op == "HardSigmoid":
        return {"activation": "hardsigmoid", "activation_alpha": float(n.attrs.get("alpha", 0.2)),
                "activation_beta": float(n.attrs.get("beta", 0.5))}
    simple = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Silu": "silu", "HardSwish": "hardswish"}
    if n.op in simple:
        return {"activation": simple[n.op]}
    return None


def fuse_activations(ir: IR) -> IR:
    prod, cons = ir.producers(), ir.consumers()
    drop = set()
    for n in ir.nodes:
        act = _activation_of(n, ir)
        if act is None:
            continue
        p = prod.get(n.inputs[0])
        if p is None or p.op not in ("Conv", "ConvTranspose", "Gemm", "Add", "Sub", "Mul") or "activation" in p.attrs:
            continue
        if not _single_use(ir, n.inputs[0], cons) or len(p.outputs) != 1:
            continue
        p.attrs.update(act)
        _replace_uses(ir, n.outputs[0], p.outputs[0])
        drop.add(id(n))
    ir.nodes = [n for n in ir.nodes if id(n) not in drop]
    return ir


def fold_pad_into_conv(ir: IR) -> IR:
    """Pad(constant 0) on the two spatial dims of NCHW, feeding only a Conv/pool: merged into its pads (models
    exported with TensorFlow-style 'same' padding do this before every strided conv)."""
    prod, cons = ir.producers(), ir.consumers()
    drop = set()
    for n in ir.nodes:
        if n.op not in ("Conv", "MaxPool", "AveragePool") or n.attrs.get("auto_pad", "NOTSET") != "NOTSET":
            continue
        p = prod.get(n.inputs[0])
        if p is None or p.op != "Pad" or not _single_use(ir, p.outputs[0], cons):
            continue
        if p.attrs.get("mode", "constant") != "constant":
            continue
        pads = p.attrs.get("pads") if len(p.inputs) < 2 or not p.inputs[1] else ir.const(p.inputs[1])
        value = p.attrs.get("value", 0.0) if len(p.inputs) < 3 or not p.inputs[2] else ir.const(p.inputs[2])
        if pads is None or value is None or (len(p.inputs) > 3 and p.inputs[3]):
            continue
        pads = [int(v) for v in np.asarray(pads).reshape(-1)]
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or any(v < 0 for v in pads):
            continue
        if float(np.asarray(value).reshape(-1)[0]) != 0.0 or (n.op == "MaxPool"):
            continue   # max pooling pads with -inf, not 0
        if n.op == "AveragePool" and not n.attrs.get("count_include_pad", 0):
            continue
        if n.attrs.get("ceil_mode", 0):
            continue   # ceil mode rounds against the padded size: moving pads in would change the output
        old = n.attrs.get("pads", [0, 0, 0, 0])
        n.attrs["pads"] = [old[0] + pads[2], old[1] + pads[3], old[2] + pads[6], old[3] + pads[7]]
        n.inputs = [p.inputs[0]] + n.inputs[1:]
        drop.add(id(p))
    ir.nodes = [n for n in ir.nodes if id(n) not in drop]
    return ir


_LIFT = ("Conv", "ConvTranspose", "MaxPool", "AveragePool")


def lift_1d_to_2d(ir: IR) -> IR:
    """A 1-D convolution or pooling (audio models, keyword spotters, Conv1d stacks) becomes the 2-D one on the
    input viewed as [N, C, 1, W]: Unsqueeze(axis 2) -> the 2-D op (a height-1 kernel, its attributes lifted,
    the weight reshaped to [.., .., 1, k]) -> Squeeze(axis 2). Unsqueeze and Squeeze are views in the runtime
    (no data moves), so the 1-D op costs what the same work costs through the 2-D kernels. Runs after the
    BatchNorm and activation fusions, which are rank-agnostic and stay on the op."""
    out = []
    axis2 = None
    taken: set = set()

    def fresh(base):   # ir.fresh does not see the nodes made here yet
        name = ir.fresh(base)
        k = 0
        while name in taken:
            k += 1
            name = ir.fresh(f"{base}_{k}")
        taken.add(name)
        return name

    for n in ir.nodes:
        w = ir.const(n.inputs[1]) if n.op in ("Conv", "ConvTranspose") and len(n.inputs) > 1 else None
        one_d = (w is not None and w.ndim == 3) if n.op in ("Conv", "ConvTranspose") else \
            (n.op in ("MaxPool", "AveragePool") and len(n.attrs.get("kernel_shape", [])) == 1 and len(n.outputs) == 1)
        if not one_d:
            out.append(n)
            continue
        if axis2 is None:
            axis2 = ir.fresh("lift_axis2")
            ir.consts[axis2] = np.array([2], np.int64)
        a = dict(n.attrs)
        for key in ("kernel_shape", "strides", "dilations", "output_padding"):
            if key in a:
                a[key] = [0 if key == "output_padding" else 1] + list(a[key])
        if "pads" in a:
            a["pads"] = [0, a["pads"][0], 0, a["pads"][1]]
        if "output_shape" in a:
            a["output_shape"] = [1] + list(a["output_shape"])
        x4, y4 = fresh(n.inputs[0] + "_hw"), fresh(n.outputs[0] + "_hw")
        inputs = [x4] + n.inputs[1:]
        if w is not None:
            wn = fresh(n.inputs[1] + "_2d")
            ir.consts[wn] = np.ascontiguousarray(w.reshape(w.shape[0], w.shape[1], 1, w.shape[2]))
            inputs[1] = wn
        out.append(Node("Unsqueeze", [n.inputs[0], axis2], [x4], {}, name=n.name + "_to2d", source=n.source))
        out.append(Node(n.op, inputs, [y4], a, name=n.name, source=n.source))
        out.append(Node("Squeeze", [y4, axis2], [n.outputs[0]], {}, name=n.name + "_to1d", source=n.source))
    ir.nodes = out
    return ir


def eliminate_dead(ir: IR) -> IR:
    live = {v for v, _ in ir.outputs}
    keep = []
    for n in reversed(ir.nodes):
        if any(o in live for o in n.outputs):
            keep.append(n)
            live.update(i for i in n.inputs if i)
    ir.nodes = list(reversed(keep))
    ir.consts = {k: v for k, v in ir.consts.items() if k in live}
    return ir


# ---- channels-last layout ----------------------------------------------------------------------------------

_NHWC_UNARY = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "Silu", "HardSigmoid", "HardSwish", "Gelu", "Erf",
               "Exp", "Sqrt", "Neg", "Abs", "Reciprocal", "Sin", "Cos", "Log", "Floor", "Ceil", "Round", "Sign",
               "Softplus", "Softsign", "Elu", "Selu", "Celu", "Mish", "ThresholdedRelu"}
_NHWC_BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"}
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _nhwc_const(c: np.ndarray):
    """A constant broadcast against an NCHW tensor, rewritten for the NHWC one (None: rank above 4)."""
    if c.ndim > 4:
        return None
    if c.size == 1:
        return c
    return np.ascontiguousarray(c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(_TO_NHWC))


def to_channels_last(ir: IR, min_convs: int = 2, keep_nchw=frozenset()) -> IR:
    """Canonicalizes CNN layouts: runs of Conv (group 1 or depthwise), pooling, elementwise ops and channel
    Concat are switched to NHWC (their `layout` attribute, constants transposed, Concat axis moved), with one
    Transpose in where such a run starts and one back where an NCHW consumer or a graph output reads it. The
    file's inputs and outputs keep ONNX's layout.

    Why: channels-last is what the runtime's kernels are fastest on for CNNs (1x1 convs are one GEMM over all
    pixels with prepacked weights; depthwise vectors run along channels, so 7x7 planes keep every lane). Runs
    with fewer than `min_convs` convolutions stay NCHW: two transposes would cost more than they save.
    keep_nchw: ids of Conv nodes that must stay NCHW (sparse 1x1 convolutions run channels-first)."""
    prod = ir.producers()
    nhwc_val: set = set()
    parent: dict = {}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a, b):
        parent[find(a)] = find(b)

    marked = {}   # id(node) -> node
    for n in ir.nodes:
        data = [i for i in n.inputs if i and i not in ir.consts]
        ok = False
        if n.op == "Conv" and id(n) in keep_nchw:
            ok = False
        elif n.op == "Conv":
            w = ir.const(n.inputs[1]) if len(n.inputs) > 1 else None
            g = int(n.attrs.get("group", 1))
            ok = (w is not None and w.ndim == 4 and len(data) == 1 and (g == 1 or (w.shape[1] == 1 and g == w.shape[0]))
                  and all(i in ir.consts for i in n.inputs[1:] if i))
        elif n.op == "Concat" and any(d in nhwc_val for d in data) and len(n.outputs) == 1:
            # inputs still in NCHW (e.g. a U-Net skip after a ConvTranspose) are transposed in; every input of
            # a Concat with a 4-D input is 4-D
            ok = len(data) == len(n.inputs) and int(n.attrs.get("axis", 1)) in (1, -3)
        elif data and all(d in nhwc_val for d in data) and len(n.outputs) == 1:
            if n.op in ("MaxPool", "AveragePool"):
                ok = len(n.attrs.get("kernel_shape", [])) == 2
            elif n.op in ("GlobalAveragePool", "GlobalMaxPool"):
                ok = True
            elif n.op in _NHWC_UNARY:
                ok = n.inputs[0] == data[0] and len(data) == 1
            elif n.op in _NHWC_BINARY:
                ok = len(n.inputs) == 2 and all(_nhwc_const(ir.consts[i]) is not None for i in n.inputs if i in ir.consts)
        if not ok:
            continue
        marked[id(n)] = n
        parent[id(n)] = id(n)
        for d in data:
            if d in nhwc_val:
                union(id(n), id(prod[d]))
        nhwc_val.update(n.outputs)
    convs: dict = {}
    for n in marked.values():
        convs[find(id(n))] = convs.get(find(id(n)), 0) + (n.op == "Conv")
    marked = {k: n for k, n in marked.items() if convs[find(k)] >= min_convs}
    if not marked:
        return ir
    nhwc_val = {o for n in marked.values() for o in n.outputs}

    out_nodes, to_nhwc, to_nchw = [], {}, {}

    def transposed(v, perm, cache):
        # emitted just before its first reader, so the node list stays in topological order
        if v not in cache:
            cache[v] = ir.fresh(v + ("_nhwc" if perm == _TO_NHWC else "_nchw"))
            out_nodes.append(Node("Transpose", [v], [cache[v]], {"perm": list(perm)}, name=cache[v]))
        return cache[v]

    for n in ir.nodes:
        if id(n) in marked:
            new_in = []
            for i in n.inputs:
                if not i or i in ir.consts:
                    if i and n.op in _NHWC_BINARY:
                        c = _nhwc_const(ir.consts[i])
                        if c is not ir.consts[i]:
                            name = ir.fresh(i + "_nhwc")
                            ir.consts[name] = c
                            i = name
                    new_in.append(i)
                elif i in nhwc_val:
                    new_in.append(i)
                else:   # a Conv's or Concat's NCHW input
                    new_in.append(transposed(i, _TO_NHWC, to_nhwc))
            n.inputs = new_in
            if n.op in ("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"):
                n.attrs["layout"] = "NHWC"
            elif n.op == "Concat":
                n.attrs["axis"] = 3
        else:
            n.inputs = [transposed(i, _TO_NCHW, to_nchw) if i in nhwc_val else i for i in n.inputs]
        out_nodes.append(n)
    ir.outputs = [[transposed(v, _TO_NCHW, to_nchw) if v in nhwc_val else v, ext] for v, ext in ir.outputs]
    ir.nodes = out_nodes
    return ir


def transpose_matmul_weights(ir: IR) -> IR:
    """MatMul(x, W) with W a constant 2-D float [K, N]: W stored transposed, [N, K], with the runtime's
    `transB` attribute — the layout of Gemm/Linear weights, so that int4 groups run along K and an int4 weight
    can be used as stored (the int4 GEMV reads rows of K)."""
    done: dict = {}
    for n in ir.nodes:
        if n.op != "MatMul" or n.attrs.get("transB") or len(n.inputs) != 2:
            continue
        w = ir.const(n.inputs[1])
        if w is None or w.ndim != 2 or w.dtype.kind != "f":
            continue
        if n.inputs[1] not in done:
            name = ir.fresh(n.inputs[1] + "_t")
            ir.consts[name] = np.ascontiguousarray(w.T)
            done[n.inputs[1]] = name
        n.inputs = [n.inputs[0], done[n.inputs[1]]]
        n.attrs["transB"] = 1
    return ir


def run_passes(ir: IR, passes=None) -> IR:
    for p in passes if passes is not None else DEFAULT:
        ir = p(ir)
    return ir


DEFAULT = [fold_constants, remove_identities, fold_constants, fold_pad_into_conv, fold_batchnorm, fuse_silu,
           fuse_activations, lift_1d_to_2d, transpose_matmul_weights, eliminate_dead, to_channels_last]
