"""A small graph builder that writes runnable .pyrt files (used by tests, examples and the exporters).

>>> g = Graph("tiny")
>>> x = g.input("x", [None, 3, 32, 32])
>>> y = g.op("Conv", x, g.const(w), g.const(b), pads=[1, 1, 1, 1], activation="relu")
>>> g.output(g.op("GlobalAveragePool", y), "y")
>>> g.save("tiny.pyrt")

Op types and attributes follow ONNX (see `pyruntime.supported_ops()`); a fused activation is the attribute
`activation` (relu, relu6, leaky_relu, sigmoid, tanh, silu, hardswish, ...) on Conv, ConvTranspose, Gemm and
binary ops. Output shapes are inferred by the runtime when the file is saved.
"""
from __future__ import annotations

import numpy as np

from .format import Writer
from .format.encode import EncodedTensor


class Value:
    """A value of the graph (an input, a constant or a node output)."""

    def __init__(self, graph: "Graph", vid: int, name: str):
        self.graph, self.id, self.name = graph, vid, name

    def __repr__(self):
        return f"<Value {self.name!r}>"


class Graph:
    def __init__(self, name: str = ""):
        self.w = Writer(model_name=name)
        self.g = self.w.new_graph()
        self._n = 0
        self._outputs: list[tuple[Value, str]] = []
        self._hints: dict = {}   # output name -> (dtype, dims) for graphs that plan only on input values

    def input(self, name: str, shape, dtype="f32") -> Value:
        """A model input; None or -1 in `shape` is a dynamic dimension (e.g. the batch)."""
        self.w.add_input(name, dtype, shape)
        return Value(self, self.g.input(name), name)

    def const(self, array, name: str | None = None, encoding: str = "dense", **options) -> Value:
        """A constant tensor (weights, shapes...), stored with `encoding` (dense, f16, i8, i4, i8g, csr, lut),
        or an EncodedTensor stored as it is."""
        if name is None:
            name = f"const_{len(self.w._tensors)}"
        if isinstance(array, EncodedTensor):   # already encoded (a converter's exact bytes)
            self.w.add_tensor(name, array)
            return Value(self, self.g.const(name), name)
        arr = np.asarray(array)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        self.w.add_tensor(name, arr, encoding, **options)
        return Value(self, self.g.const(name), name)

    def op(self, op_type: str, *inputs, outputs: int = 1, name: str | None = None, version: int = 1, **attrs):
        """Adds a node; `inputs` are Values (None for an omitted optional input). Returns a Value, or a tuple of
        Values when outputs > 1."""
        self._n += 1
        name = name or f"{op_type.lower()}_{self._n}"
        out_names = [f"{name}:{k}" if outputs > 1 else name for k in range(outputs)]
        ids = self.g.node(op_type, [None if v is None else v.id for v in inputs], out_names,
                          {k: v for k, v in attrs.items() if v is not None}, name=name, version=version)
        vals = tuple(Value(self, i, n) for i, n in zip(ids, out_names))
        return vals if outputs > 1 else vals[0]

    def output(self, value: Value, name: str | None = None, hint: tuple | None = None):
        """Marks `value` as a model output named `name`. A graph input, or a value already output under another
        name, gets an Identity node: every output must be a distinct value named like its META entry."""
        if value.id in self.g.inputs or any(v.id == value.id for v, _ in self._outputs):
            value = self.op("Identity", value)
        self._outputs.append((value, name or value.name))
        if hint is not None:   # (dtype, dims): what the file declares when no plan can be made without data
            self._hints[name or value.name] = hint

    def to_bytes(self) -> bytes:
        """Serializes, inferring the outputs' dtypes and shapes with the runtime (dims that follow a dynamic
        input dim are written as dynamic)."""
        from . import _core
        if not self._outputs:
            raise ValueError("the graph has no outputs; call output()")
        self.g.outputs = []
        self.w.outputs = []
        for v, n in self._outputs:
            self.g.output(v.id, n)
            self.w.add_output(n, "f32", [])
        probe = self.w.to_bytes()
        sess = _core.Session(_core.Model.from_buffer(probe), 1, True)
        dims = [d for _, _, d in sess.inputs]
        # Two plans that differ in every dynamic dim tell which output dims follow them. Dims after the first
        # (sequence, audio samples, pixels) get larger values when a model needs a minimum length (a strided
        # convolution stack needs hundreds of audio samples).
        first_error = None
        for rest in (0, 64, 512):
            try:
                plans = [sess.plan([[(b if k == 0 or not rest else rest + b - 1) if d < 0 else d
                                     for k, d in enumerate(ds)] for ds in dims]) for b in (1, 2)]
                break
            except ValueError as e:
                first_error = first_error or e
        else:
            # A graph whose shapes follow an input's values (a Reshape's shape fed as an input) plans only at
            # run time: the outputs are declared from the frontend's types, when it gave them.
            if "must be known when the plan is made" in str(first_error) and \
                    all(n in self._hints for _, n in self._outputs):
                self.w.outputs = []
                for _, n in self._outputs:
                    self.w.add_output(n, *self._hints[n])
                return self.w.to_bytes()
            raise ValueError(f"inferring the output shapes (dynamic input dims set to 1 and 2): {first_error}") \
                from first_error
        self.w.outputs = []
        for (v, n), (s1, dt), (s2, _) in zip(self._outputs, plans[0], plans[1]):
            self.w.add_output(n, dt, [a if a == b else -1 for a, b in zip(s1, s2)])
        return self.w.to_bytes()

    def save(self, path, probe: bool = True) -> int:
        """Writes the model atomically (temporary file + rename). probe=False declares the outputs from their
        hints (output(..., hint=)) instead of planning a session on the file's bytes: what a spooling writer
        needs, as it holds no weights (Writer.spool)."""
        from .format.writer import atomic_write
        if probe:
            return atomic_write(path, self.to_bytes())
        missing = [n for _, n in self._outputs if n not in self._hints]
        if missing:
            raise ValueError(f"outputs {missing} have no declared type: give output(..., hint=(dtype, dims))")
        self.g.outputs, self.w.outputs = [], []
        for v, n in self._outputs:
            self.g.output(v.id, n)
            self.w.add_output(n, *self._hints[n])
        return self.w.save(path)


__all__ = ["Graph", "Value"]
