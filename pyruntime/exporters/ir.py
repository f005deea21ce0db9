"""The exporter's graph IR: what every frontend (ONNX, PyTorch) produces and every pass rewrites.

Values are named by strings; constants are numpy arrays; nodes use ONNX op types and attribute names (the
runtime's operators follow ONNX semantics), so an ONNX graph maps onto it one to one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ExportError(ValueError):
    """The model cannot be exported: names the op, the node and (when known) where it came from."""


@dataclass
class Node:
    op: str
    inputs: list            # value names; "" or None for an omitted optional input
    outputs: list
    attrs: dict = field(default_factory=dict)
    name: str = ""
    source: str = ""        # e.g. the PyTorch module path or ONNX node name

    def where(self) -> str:
        s = f"node '{self.name}' ({self.op})" if self.name else f"a {self.op} node"
        return s + (f" from {self.source}" if self.source and self.source != self.name else "")


@dataclass
class IR:
    inputs: list = field(default_factory=list)    # (name, dtype str, shape with -1 for dynamic)
    outputs: list = field(default_factory=list)   # [value name, external name]: passes may change the value
    nodes: list = field(default_factory=list)
    consts: dict = field(default_factory=dict)    # name -> np.ndarray
    name: str = ""
    # what passes learn along the way (declared here, not attached ad hoc):
    shapes: dict = field(default_factory=dict)       # value -> its shape from ONNX shape inference (-1: dynamic)
    dim_names: dict = field(default_factory=dict)    # value -> per dim its symbolic name ("batch") or None
    sent_sources: list = field(default_factory=list)  # values whose Shape became sentinels (passes._SENT)
    channel_report: dict | None = None               # channel pruning's removed / kept (channel_prune.py)
    out_types: dict = field(default_factory=dict)    # graph output -> (dtype str, dims) from the frontend

    def producers(self) -> dict:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict:
        c: dict = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    c.setdefault(i, []).append(n)
        return c

    def const(self, name) -> np.ndarray | None:
        return self.consts.get(name) if name else None

    def rename(self, old: str, new: str):
        """Every use of value `old` now reads `new` (graph outputs keep their names: see passes)."""
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [[new if v == old else v, ext] for v, ext in self.outputs]

    def fresh(self, base: str) -> str:
        used = {o for n in self.nodes for o in n.outputs} | set(self.consts) | {i[0] for i in self.inputs}
        k, name = 0, base
        while name in used:
            k += 1
            name = f"{base}_{k}"
        return name
