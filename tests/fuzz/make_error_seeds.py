"""Writes the error-path seeds of this folder: small graphs that must fail with a clear error when run on the
fuzz target's zero inputs, never crash (the structure of a run that stops in an op's checks is what the fuzzer
should mutate from). Run from anywhere: python3 tests/fuzz/make_error_seeds.py"""
import os

import numpy as np

from pyruntime import Graph

HERE = os.path.dirname(os.path.abspath(__file__))


def unchecked_bytes(g: Graph, out, name="y", dtype="f32") -> bytes:
    # Graph.to_bytes() plans the graph to infer the outputs, which these graphs must fail: write it as it is.
    g.g.output(out.id, name)
    g.w.add_output(name, dtype, [])
    return g.w.to_bytes()


def seeds() -> dict:
    s = {}
    g = Graph("cast-nan")                                   # 0 / 0 = NaN on zero inputs, then to int32
    x = g.input("x", [2])
    s["cast-nan-to-int.pyrt"] = unchecked_bytes(g, g.op("Cast", g.op("Div", x, x), to=6), dtype="i32")
    g = Graph("expand")                                     # [3] cannot broadcast to [2]
    x = g.input("x", [3])
    s["expand-no-broadcast.pyrt"] = unchecked_bytes(g, g.op("Expand", x, g.const(np.array([2], np.int64))))
    g = Graph("mod")                                        # integer division by zero
    x = g.input("x", [4], "i64")
    s["mod-by-zero.pyrt"] = unchecked_bytes(g, g.op("Mod", x, x), dtype="i64")
    g = Graph("gather")                                     # index 5 of an axis of 2
    x = g.input("x", [2, 2])
    s["gather-elements-oob.pyrt"] = unchecked_bytes(
        g, g.op("GatherElements", x, g.const(np.array([[5, 0]], np.int64)), axis=0))
    g = Graph("shape-negative")                             # a shape subgraph giving [2 - 5, 3 - 5]
    x = g.input("x", [2, 3])
    neg = g.op("Sub", g.op("Shape", x), g.const(np.array([5, 5], np.int64)))
    s["shape-subgraph-negative-dim.pyrt"] = unchecked_bytes(g, g.op("Reshape", x, neg))
    g = Graph("shape-overflow")                             # [2 * 2^40, 3 * 2^40]: past any element count
    x = g.input("x", [2, 3])
    big = g.op("Mul", g.op("Shape", x), g.const(np.array([1 << 40, 1 << 40], np.int64)))
    s["shape-subgraph-overflow.pyrt"] = unchecked_bytes(g, g.op("ConstantOfShape", big))
    g = Graph("range")                                      # Range(0, numel, 0): delta 0
    x = g.input("x", [2, 3])
    s["range-delta-0.pyrt"] = unchecked_bytes(
        g, g.op("Range", g.const(np.array(0, np.int64)), g.op("Size", x), g.const(np.array(0, np.int64))), dtype="i64")
    g = Graph("int-div")                                    # shape / (shape - shape): integer division by zero
    x = g.input("x", [2, 3])
    sh = g.op("Shape", x)
    s["shape-div-by-zero.pyrt"] = unchecked_bytes(g, g.op("Div", sh, g.op("Sub", sh, sh)), dtype="i64")
    g = Graph("scatter-nd")                                 # row [5] of a dimension of 2
    x = g.input("x", [2, 2])
    s["scatter-nd-oob.pyrt"] = unchecked_bytes(
        g, g.op("ScatterND", x, g.const(np.array([[0], [5]], np.int64)), g.const(np.zeros((2, 2), np.float32)),
                reduction="add"))
    g = Graph("einsum")                                     # label j: 3 in x, 2 in the constant
    x = g.input("x", [2, 3])
    s["einsum-size-mismatch.pyrt"] = unchecked_bytes(
        g, g.op("Einsum", x, g.const(np.zeros((2, 4), np.float32)), equation="ij,jk->ik"))
    g = Graph("group-norm")                                 # 4 groups of 6 channels
    x = g.input("x", [1, 6, 3])
    s["group-norm-groups.pyrt"] = unchecked_bytes(
        g, g.op("GroupNormalization", x, g.const(np.ones(6, np.float32)), g.const(np.zeros(6, np.float32)),
                num_groups=4))
    g = Graph("conv3d")                                     # a 3-D kernel of 4 on a padded depth of 3
    x = g.input("x", [1, 2, 3, 4, 4])
    s["conv3d-kernel-too-big.pyrt"] = unchecked_bytes(
        g, g.op("Conv", x, g.const(np.zeros((2, 2, 4, 1, 1), np.float32))))
    g = Graph("sequence-select")                            # position 5 of a sequence of 2 tensors
    x = g.input("x", [2, 3])
    s["sequence-position-oob.pyrt"] = unchecked_bytes(
        g, g.op("SequenceSelect", x, x, g.const(np.array(5, np.int64)), items=2, steps=[0, 0, 0, 0, 1, 0], at=2))
    return s


if __name__ == "__main__":
    for name, blob in seeds().items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(blob)
        print(name, len(blob))
