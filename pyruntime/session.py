"""`pyruntime.Session`: run a .pyrt model's graph."""
from __future__ import annotations

import os

import numpy as np

from .format import spec

_NP = {"f32": np.float32, "f16": np.float16, "i8": np.int8, "u8": np.uint8, "i32": np.int32, "i64": np.int64,
       "bool": np.bool_, "f64": np.float64, "i16": np.int16, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64,
       "bf16": np.uint16}   # bf16 travels as its bits


def _bf16():
    try:
        import ml_dtypes
        return ml_dtypes.bfloat16
    except ImportError:   # without it, bf16 outputs stay their uint16 bits
        return np.uint16


class Session:
    """Runs the graph of a .pyrt file.

    >>> s = pyruntime.Session("model.pyrt", num_threads=2)
    >>> (logits,) = s.run({"image": batch})          # or s.run([batch]) / s.run(batch)

    Inputs that are C-contiguous arrays of the declared dtype are read in place; outputs are new arrays.
    One session per thread; sessions on the same file share its mapped weights. kernels names a kernel table
    this CPU runs (``pyruntime._core.kernel_tables()`` or "ref"; default: the best one). decode_weights: low-bit
    weights (int8-weights, int4, i8g, shared values) are decoded to f32 at load and multiplied in f32, instead of by
    the kernels that quantize the activations to int8 on the fly: f32 arithmetic throughout, at the memory of f32
    weights (checking a converted or quantized file against its source).

    Caps for untrusted files (LimitError naming the cap, before anything is allocated): max_file_bytes,
    max_tensors, max_nodes when the file is opened; max_arena_bytes for the activation memory of a plan (default
    4 GiB or $PYRT_MAX_ARENA_BYTES), checked here when the inputs' shapes are static, else at the first run
    with shapes that need more.

    ``with Session(...) as s:`` closes it at the end (``close()``: its plan, arena and the file's mapping once no
    other session uses them). A session pickles as its file's path (or its bytes, when made from bytes) and
    options, so it can be handed to ``multiprocessing`` / ``concurrent.futures`` workers: each worker opens its
    own session on the file, fresh (a decoder's KV cache is not carried).
    """

    def __init__(self, model, num_threads: int | None = None, force_reference: bool = False, profile: bool = False,
                 *, max_arena_bytes: int | None = None, max_file_bytes: int | None = None,
                 max_tensors: int | None = None, max_nodes: int | None = None, kernels: str | None = None,
                 decode_weights: bool = False):
        from . import _core
        from .model import Model
        # What pickling needs to open the same session elsewhere (see __reduce__)
        self._options = dict(num_threads=num_threads, force_reference=force_reference, profile=profile,
                             max_arena_bytes=max_arena_bytes, max_file_bytes=max_file_bytes, max_tensors=max_tensors,
                             max_nodes=max_nodes, kernels=kernels, decode_weights=decode_weights)
        self._source = (model if isinstance(model, (bytes, bytearray, memoryview))   # no copy until pickled
                        else os.path.abspath(os.fspath(model.path if isinstance(model, Model) else model)))
        limits = dict(max_file_bytes=int(max_file_bytes or 0), max_tensors=int(max_tensors or 0),
                      max_nodes=int(max_nodes or 0))
        if isinstance(model, Model) and not any(limits.values()):
            native = model._impl if model.backend == "native" else _core.Model(model.path)
        elif isinstance(model, (bytes, bytearray, memoryview)):
            native = _core.Model.from_buffer(model, **limits)
        elif any(limits.values()):   # its own handle: the shared one was opened without these caps
            native = _core.Model(os.fspath(model.path if isinstance(model, Model) else model), **limits)
        else:
            native = _open_shared(os.fspath(model))
        self._model = native
        self._s = _core.Session(native, int(num_threads or 0), bool(force_reference), bool(profile),
                                int(max_arena_bytes or 0), str(kernels or ""), bool(decode_weights))
        self.inputs = [(n, dt, tuple(d)) for n, dt, d in self._s.inputs]
        self.outputs = [(n, dt, tuple(d)) for n, dt, d in self._s.outputs]
        self.input_names = [n for n, _, _ in self.inputs]
        self.output_names = [n for n, _, _ in self.outputs]
        self._bf16_outputs = {k for k, (_, dt, _) in enumerate(self.outputs) if dt == "bf16"}

    @property
    def isa(self) -> str:
        return self._s.isa

    @property
    def num_threads(self) -> int:
        return self._s.threads

    @property
    def arena_bytes(self) -> int:
        """Bytes of the activation arena of the current plan (0 before the first run)."""
        return self._s.arena_bytes

    @property
    def state_bytes(self) -> int:
        """Bytes the model's carried state holds now (a decoder's KV caches; 0 for stateless models)."""
        return self._s.state_bytes

    @property
    def prepared_bytes(self) -> int:
        """Bytes of weight forms the current plan made beyond those made at load (e.g. an int4 weight decoded
        and packed for the f32 GEMM when a plan has many rows), shared by the sessions of one model."""
        return self._s.prepared_bytes

    def _arrays(self, inputs, kwargs) -> list:
        if kwargs:
            if inputs is not None:
                raise ValueError("give inputs either as a dict/list or as keywords, not both")
            inputs = kwargs
        if isinstance(inputs, dict):
            unknown = set(inputs) - set(self.input_names)
            if unknown:
                raise ValueError(f"unknown input name(s) {sorted(unknown)}; the model's inputs are {self.input_names}")
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(f"missing input(s) {missing}; the model's inputs are {self.input_names}")
            arrays = [inputs[n] for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            arrays = [inputs]
        else:
            arrays = list(inputs)
        if len(arrays) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} input(s) {self.input_names}, got {len(arrays)}")
        out = []
        for a, (name, dt, dims) in zip(arrays, self.inputs):
            a = np.asarray(a)
            if dt == "string" or a.dtype.kind in "OUS":
                # text: the native layer checks the elements (str, or bytes that are UTF-8) and copies them
                if dt != "string" or a.dtype.kind not in "OUS":
                    raise ValueError(f"input '{name}' has dtype {a.dtype}, the model expects {dt}"
                                     + (" (a numpy array of str, bytes or object)" if dt == "string" else ""))
                self._check_shape(name, a, dims)
                out.append(a)
                continue
            if dt == "bf16" and a.dtype.name == "bfloat16":   # ml_dtypes' bfloat16 (as onnx gives it): its bits
                a = a.view(np.uint16)
            want = np.dtype(_NP[dt])
            if a.dtype != want:
                ok = (a.dtype.kind == want.kind) or (want.kind == "f" and a.dtype.kind in "iuf")
                if not ok:
                    raise ValueError(f"input '{name}' has dtype {a.dtype}, the model expects {dt}")
                if a.dtype.kind != want.kind or a.dtype.itemsize > want.itemsize:
                    raise ValueError(f"input '{name}' has dtype {a.dtype}, the model expects {dt} "
                                     f"(convert it explicitly, e.g. x.astype(np.{want.name}))")
                a = a.astype(want)
            self._check_shape(name, a, dims)
            out.append(np.asarray(a, order="C"))   # no copy when already contiguous; keeps 0-d arrays 0-d
        return out

    @staticmethod
    def _check_shape(name, a, dims):
        if a.ndim != len(dims) or any(d >= 0 and d != s for d, s in zip(dims, a.shape)):
            shape = ", ".join("?" if d < 0 else str(d) for d in dims)
            raise ValueError(f"input '{name}' has shape {tuple(a.shape)}, the model expects [{shape}]")

    def run(self, inputs=None, **kwargs) -> list:
        """Runs the model; returns the outputs (numpy arrays) in the model's output order."""
        outs = self._s.run(self._arrays(inputs, kwargs))
        if self._bf16_outputs:   # bf16 travels as its bits; numpy has no bfloat16, ml_dtypes (onnx's) does
            outs = [o.view(_bf16()) if k in self._bf16_outputs else o for k, o in enumerate(outs)]
        return outs

    def reset_state(self):
        """Starts a new sequence: empties the KV caches of a decoder (see pyruntime.Generator)."""
        self._s.reset_state()

    @property
    def context_length(self) -> int:
        """Tokens held in the model's KV caches (each run continues the sequence; 0 for stateless models)."""
        return self._s.context_length

    @property
    def max_context(self) -> int:
        """The most tokens the model's KV caches take (0 for stateless models)."""
        return self._s.max_context

    def output_shapes(self, shapes: dict | list) -> list:
        """Plans for these input shapes and returns [(shape, dtype)] of the outputs, without running."""
        if isinstance(shapes, dict):
            shapes = [shapes[n] for n in self.input_names]
        return [(tuple(s), dt) for s, dt in self._s.plan([list(s) for s in shapes])]

    def describe(self) -> list:
        """One entry per node: name, op_type, kernel chosen (with its ISA) and output shapes of the last plan."""
        return [dict(d, output_shapes=[tuple(s) for s in d["output_shapes"]]) for d in self._s.describe()]

    def packing(self) -> dict:
        """Where the packed weight forms (GEMM panels, kernels' own layouts) of this file's sessions came from:
        read in place from the file's pre-packed layouts (``pyruntime.prepack``) or packed at load, the tables
        the file was pre-packed for, and a sentence saying so."""
        from .prepack import PACKED_FOR
        use = dict(self._model.packed_use)
        info = self._model.info()
        packed_for = [t for t in str(info["meta"]["props"].get(PACKED_FOR, "")).split(",") if t]
        stored = sum(1 for t in info["tensors"] for lay in t["layouts"] if lay[0] == 1)
        if not stored:
            text = (f"no pre-packed layouts in the file: {use['packed']} weight forms packed at load "
                    "(pyruntime pack adds them)")
        elif use["packed"] == 0:
            text = f"{use['from_file']} weight forms read in place from the file's pre-packed layouts"
        else:
            text = (f"{use['from_file']} weight forms read in place from the file, {use['packed']} packed at load: "
                    f"the file was packed for {', '.join(packed_for) or 'other tables'}, this session runs "
                    f"{self.isa}")
        return dict(from_file=use["from_file"], packed_at_load=use["packed"], stored_forms=stored,
                    packed_for=packed_for, table=self.isa, text=text)

    def profile(self) -> list:
        """With profile=True: per node, the mean milliseconds per run, slowest first."""
        rows = [dict(name=d["name"], op_type=d["op_type"], kernel=d["kernel"], ms=d["total_ms"] / max(d["runs"], 1),
                     output_shapes=d["output_shapes"]) for d in self.describe()]
        return sorted(rows, key=lambda r: -r["ms"])

    def close(self):
        """Releases the native session (plan, arena, caches) and this session's hold on the file's mapping; any
        later call raises ValueError. Closing twice is fine."""
        self._s = self._model = _CLOSED

    @property
    def closed(self) -> bool:
        return self._s is _CLOSED

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __reduce__(self):
        src = self._source if isinstance(self._source, str) else bytes(self._source)
        return (_reopen, (src, self._options))

    def __repr__(self):
        if self.closed:
            return "<pyruntime.Session (closed)>"
        return (f"<pyruntime.Session {len(self.describe())} nodes, isa={self.isa}, threads={self.num_threads}, "
                f"inputs={self.input_names}, outputs={self.output_names}>")


class _Closed:
    """Stands in for the native session after close(): every use says so."""

    def __getattr__(self, name):
        raise ValueError("this Session is closed")


_CLOSED = _Closed()


def _reopen(source, options) -> Session:
    return Session(source, **options)


_OPEN: "weakref.WeakValueDictionary" = None


def _open_shared(path: str):
    """One native model per file (while any session uses it): sessions opened on the same path share its
    mapping and the weights packed from it."""
    global _OPEN
    import weakref
    from . import _core
    if _OPEN is None:
        _OPEN = weakref.WeakValueDictionary()
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    m = _OPEN.get(key)
    if m is None:
        m = _core.Model(path)
        _OPEN[key] = m
    return m


def supported_ops() -> list:
    from . import _core
    return list(_core.supported_ops())


__all__ = ["Session", "supported_ops", "spec"]
