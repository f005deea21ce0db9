"""ONNX sequences lowered to tensors. The runtime's values are tensors, but a sequence built and read inside the
graph has a length the exporter knows (every insert adds one tensor, every erase removes one, a split makes as
many as its sizes), so each sequence becomes the list of steps that built it:

- SequenceLength is that length, a constant;
- SequenceAt at a constant position of a sequence built at constant positions is the tensor itself;
- SequenceAt at a position known only when the model runs (a graph input) becomes a SequenceSelect node, which
  replays the steps on indices when the session plans (the positions are read by value) and copies the tensor;
- ConcatFromSequence is a Concat of the sequence's tensors (each one read as above; `new_axis` unsqueezes);
- SplitToSequence is a Split (squeezed when keepdims = 0 and no sizes are given).

A sequence that leaves the graph (a graph input or output) or reaches another op (SequenceMap, Loop...) is
refused naming the node."""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node

SEQUENCE_OPS = {"SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SequenceAt",
                "SequenceLength", "ConcatFromSequence", "SplitToSequence"}


class _Seq:
    """A sequence as the steps that built it: ("append", tensor), ("insert", tensor, position value),
    ("erase", position value), ("pop",)."""

    def __init__(self, steps=()):
        self.steps = list(steps)

    def length(self) -> int:
        n = 0
        for s in self.steps:
            n += 1 if s[0] in ("append", "insert") else -1
        return n

    def static(self, ir: IR):
        """The tensors in order when every position is a constant, else None."""
        items: list = []
        for s in self.steps:
            if s[0] == "append":
                items.append(s[1])
            elif s[0] == "pop":
                items.pop()
            else:
                pos = ir.const(s[-1])
                if pos is None:
                    return None
                p, n = int(np.asarray(pos).reshape(-1)[0]), len(items)
                if not -n <= p < n + (s[0] == "insert"):    # inserting may also append (p = n)
                    raise ExportError(f"sequence position {p} is outside a sequence of {n} tensors")
                if s[0] == "insert":
                    items.insert(p + n if p < 0 else p, s[1])
                else:
                    items.pop(p)
        return items


def _position(ir: IR, node: Node, name: str) -> str:
    """A position input checked for being a scalar integer when it is a constant."""
    c = ir.const(name)
    if c is not None and (np.asarray(c).size != 1 or np.asarray(c).dtype.kind not in "iu"):
        raise ExportError(f"{node.where()}: the position must be one integer")
    return name


def lower_sequences(ir: IR) -> IR:
    if not any(n.op in SEQUENCE_OPS for n in ir.nodes):
        return ir
    seqs: dict = {}
    out: list = []
    graph_outputs = {v for v, _ in ir.outputs}

    def seq_of(node: Node, name: str) -> _Seq:
        if name not in seqs:
            raise ExportError(f"{node.where()}: its input '{name}' must be a sequence built in the graph")
        return seqs[name]

    def read(node: Node, seq: _Seq, index: int, at: str, tag: str) -> str:
        """The tensor at position `at` (a value name) or, when `at` is empty, at the constant `index`."""
        items = seq.static(ir)
        if items is not None and (not at or ir.const(at) is not None):
            p = index if not at else int(np.asarray(ir.const(at)).reshape(-1)[0])
            if not -len(items) <= p < len(items):
                raise ExportError(f"{node.where()}: position {p} is outside a sequence of {len(items)} tensors")
            return items[p]
        if not at:
            at = ir.fresh(f"{node.name}/{tag}_pos")
            ir.consts[at] = np.array(index, np.int64)
        tensors: list = []
        positions: list = []
        flat: list = []

        def slot(lst, v, base):
            if v not in lst:
                lst.append(v)
            return base + lst.index(v)

        for s in seq.steps:          # tensors first: their count fixes where the positions start
            if s[0] in ("append", "insert"):
                slot(tensors, s[1], 0)
        if not tensors:
            raise ExportError(f"{node.where()}: reads an empty sequence")
        k = len(tensors)
        for s in seq.steps:
            if s[0] == "append":
                flat += [0, tensors.index(s[1]), 0]
            elif s[0] == "insert":
                flat += [1, tensors.index(s[1]), slot(positions, s[2], k)]
            elif s[0] == "erase":
                flat += [2, 0, slot(positions, s[1], k)]
            else:
                flat += [3, 0, 0]
        at_slot = slot(positions, at, k)
        res = ir.fresh(f"{node.name}/{tag}")
        out.append(Node("SequenceSelect", tensors + positions, [res], {"items": k, "steps": flat, "at": at_slot},
                        f"{node.name}/{tag}", node.source))
        return res

    for n in ir.nodes:
        op = n.op
        if op not in SEQUENCE_OPS:
            for i in n.inputs:
                if i in seqs:
                    raise ExportError(f"{n.where()}: reads the sequence '{i}'; only the ONNX sequence ops "
                                      f"({', '.join(sorted(SEQUENCE_OPS))}) may read a sequence")
            out.append(n)
            continue
        ins = list(n.inputs) + [""] * 3
        if op == "SequenceEmpty":
            seqs[n.outputs[0]] = _Seq()
        elif op == "SequenceConstruct":
            seqs[n.outputs[0]] = _Seq(("append", t) for t in n.inputs)
        elif op == "SequenceInsert":
            s = seq_of(n, ins[0])
            step = ("insert", ins[1], _position(ir, n, ins[2])) if ins[2] else ("append", ins[1])
            seqs[n.outputs[0]] = _Seq(s.steps + [step])
        elif op == "SequenceErase":
            s = seq_of(n, ins[0])
            if s.length() == 0:
                raise ExportError(f"{n.where()}: erases from an empty sequence")
            step = ("erase", _position(ir, n, ins[1])) if ins[1] else ("pop",)
            seqs[n.outputs[0]] = _Seq(s.steps + [step])
        elif op == "SequenceLength":
            ir.consts[n.outputs[0]] = np.array(seq_of(n, ins[0]).length(), np.int64)
        elif op == "SequenceAt":
            got = read(n, seq_of(n, ins[0]), 0, _position(ir, n, ins[1]), "at")
            out.append(Node("Identity", [got], [n.outputs[0]], {}, n.name, n.source))
        elif op == "ConcatFromSequence":
            s = seq_of(n, ins[0])
            if s.length() == 0:
                raise ExportError(f"{n.where()}: concatenates an empty sequence")
            axis, new_axis = int(n.attrs.get("axis", 0)), int(n.attrs.get("new_axis", 0))
            parts = [read(n, s, i, "", f"item{i}") for i in range(s.length())]
            if new_axis:              # stacking: each part gains the axis (counted in the output's rank)
                stacked = []
                for i, p in enumerate(parts):
                    v = ir.fresh(f"{n.name}/unsq{i}")
                    out.append(Node("Unsqueeze", [p], [v], {"axes": [axis]}, f"{n.name}/unsq{i}", n.source))
                    stacked.append(v)
                parts = stacked
            out.append(Node("Concat", parts, [n.outputs[0]], {"axis": axis}, n.name, n.source))
        elif op == "SplitToSequence":
            x, split = ins[0], ins[1]
            axis, keepdims = int(n.attrs.get("axis", 0)), int(n.attrs.get("keepdims", 1))
            shape = ir.shapes.get(x) if x not in ir.consts else list(ir.consts[x].shape)
            sizes = ir.const(split) if split else None
            if split and sizes is None:      # sizes known when running: their count from the shape
                sshape = ir.shapes.get(split)
                if not sshape or len(sshape) != 1 or sshape[0] < 0:
                    raise ExportError(f"{n.where()}: the split sizes are computed and their count is unknown")
                count, sizes_in = sshape[0], split
            else:
                dim = None
                if shape is not None and -len(shape) <= axis < len(shape):
                    dim = shape[axis]
                if sizes is not None and np.asarray(sizes).ndim == 1:
                    count, sizes_in = int(np.asarray(sizes).size), split
                else:
                    if dim is None or dim < 0:
                        raise ExportError(f"{n.where()}: splits a dimension whose size is unknown at export")
                    step = int(np.asarray(sizes).reshape(-1)[0]) if sizes is not None else 1
                    if step <= 0:
                        raise ExportError(f"{n.where()}: the split size must be positive, got {step}")
                    chunks = [step] * (dim // step) + ([dim % step] if dim % step else [])
                    count, sizes_in = len(chunks), ir.fresh(f"{n.name}/sizes")
                    ir.consts[sizes_in] = np.array(chunks, np.int64)
            parts = [ir.fresh(f"{n.name}/part{i}") for i in range(count)]
            if count:      # an empty split (no sizes, or a dimension of 0) makes an empty sequence
                out.append(Node("Split", [x, sizes_in], parts, {"axis": axis}, n.name, n.source))
            if not keepdims and not split:
                squeezed = []
                axes = ir.fresh(f"{n.name}/sq_axes")
                ir.consts[axes] = np.array([axis], np.int64)
                for i, p in enumerate(parts):
                    v = ir.fresh(f"{n.name}/sq{i}")
                    out.append(Node("Squeeze", [p, axes], [v], {}, f"{n.name}/sq{i}", n.source))
                    squeezed.append(v)
                parts = squeezed
            seqs[n.outputs[0]] = _Seq(("append", p) for p in parts)
        for o in n.outputs:
            if o in seqs and o in graph_outputs:
                raise ExportError(f"{n.where()}: the graph output '{o}' is a sequence; the runtime's outputs "
                                  f"are tensors")
    ir.nodes = out
    return ir
