"""Helpers for runtime tests: build a one-op (or small) graph, run it on both kernel paths, compare."""
import numpy as np

from pyruntime import Graph, Session


_DT = {np.dtype(np.float32): "f32", np.dtype(np.int64): "i64", np.dtype(np.int32): "i32", np.dtype(np.uint8): "u8",
          np.dtype(np.int8): "i8", np.dtype(np.float16): "f16", np.dtype(np.bool_): "bool",
          np.dtype(np.float64): "f64", np.dtype(np.int16): "i16", np.dtype(np.uint16): "u16",
          np.dtype(np.uint32): "u32", np.dtype(np.uint64): "u64"}


def run_graph(build, inputs: dict, force_reference=False, threads=None, dynamic_batch=False, want=None):
    """build(g, values) -> output Value(s); inputs: name -> array (static shapes unless dynamic_batch). `want`
    (the expected outputs) declares the outputs of a graph that plans only with its inputs' data (a weight
    given as an input)."""
    g = Graph("test")
    dt = _DT
    vals = {n: g.input(n, ([None] + list(a.shape[1:])) if dynamic_batch and a.ndim else list(a.shape), dt[a.dtype])
            for n, a in inputs.items()}
    outs = build(g, vals)
    outs = outs if isinstance(outs, (tuple, list)) else [outs]
    for k, v in enumerate(outs):
        w = None if want is None or k >= len(want) else np.asarray(want[k])
        g.output(v, f"out{k}", hint=None if w is None or w.dtype not in _DT else (_DT[w.dtype], list(w.shape)))
    s = Session(g.to_bytes(), num_threads=threads, force_reference=force_reference)
    return s.run(inputs), s


def assert_close(got, want, rel=1e-4):
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    err = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
    assert err <= rel * scale, f"max abs error {err} > {rel} x {scale}"


def check_both_paths(build, inputs, want, rel=1e-4):
    """Runs on the SIMD path and the reference path; both must match `want` (list of arrays)."""
    want = want if isinstance(want, (list, tuple)) else [want]
    for ref in (False, True):
        outs, s = run_graph(build, inputs, force_reference=ref, want=want)
        assert s.isa == ("ref" if ref else s.isa)
        for o, w in zip(outs, want):
            assert_close(o, w, rel)


def check_exact_both_paths(build, inputs, want):
    """As check_both_paths, for outputs that must be equal (integers, bools, exact float results): same dtype,
    shape and values (NaN equal to NaN)."""
    want = want if isinstance(want, (list, tuple)) else [want]
    for ref in (False, True):
        outs, _ = run_graph(build, inputs, force_reference=ref, want=want)
        for o, w in zip(outs, want):
            w = np.asarray(w)
            assert o.dtype == w.dtype and o.shape == w.shape, (o.dtype, o.shape, w.dtype, w.shape)
            np.testing.assert_array_equal(o, w)
