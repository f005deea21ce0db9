"""Caps for untrusted files: each one gives LimitError naming it, before the memory it guards is allocated; the
arena cap is checked when the session is created if the input shapes are static, else at the run whose shapes
need more; the default comes from PYRT_MAX_ARENA_BYTES."""
import os
import subprocess
import sys

import numpy as np
import pytest

from pyruntime import Graph, LimitError, Session


def chain(n_nodes: int, shape):
    g = Graph("chain")
    v = g.input("x", shape)
    for _ in range(n_nodes):
        v = g.op("Relu", v)
    g.output(v, "y")
    return g.to_bytes()


def test_file_tensor_and_node_caps(tmp_path):
    blob = chain(3, [1, 8])
    path = tmp_path / "m.pyrt"
    path.write_bytes(blob)
    for src in (str(path), blob):
        with pytest.raises(LimitError, match=rf"the model is {len(blob)} bytes, above the limit of 100 \(max_file_bytes\)"):
            Session(src, max_file_bytes=100)
        with pytest.raises(LimitError, match=r"the graph has 3 nodes, above the limit of 2 \(max_nodes\)"):
            Session(src, max_nodes=2)
        Session(src, max_file_bytes=len(blob), max_nodes=3)              # at the cap: fine
    g = Graph("consts")
    x = g.input("x", [4])
    for k in range(3):
        x = g.op("Add", x, g.const(np.full(4, k, np.float32)))
    g.output(x, "y")
    with pytest.raises(LimitError, match=r"the model has 3 tensors, above the limit of 2 \(max_tensors\)"):
        Session(g.to_bytes(), max_tensors=2)
    assert Session(g.to_bytes(), max_tensors=3).run(np.zeros(4, np.float32))[0].tolist() == [3, 3, 3, 3]


def test_arena_cap_static_shapes_fails_at_load():
    blob = chain(2, [1000, 1000])                                     # 4 MB activations
    with pytest.raises(LimitError, match=r"input shapes \[1000, 1000\] needs a \d+-byte activation arena, above the "
                                         r"limit of 1000000 \(max_arena_bytes"):
        Session(blob, max_arena_bytes=1_000_000)
    s = Session(blob, max_arena_bytes=64 << 20)
    assert s.arena_bytes > 1_000_000                                  # planned at creation
    assert s.run(np.ones((1000, 1000), np.float32))[0].sum() == 1e6


def test_arena_cap_dynamic_shapes_fails_at_the_run_that_needs_more():
    s = Session(chain(2, [None, 1000]), max_arena_bytes=1_000_000)
    assert s.run(np.ones((10, 1000), np.float32))[0].shape == (10, 1000)
    with pytest.raises(LimitError, match=r"input shapes \[1000, 1000\] needs"):
        s.run(np.ones((1000, 1000), np.float32))
    assert s.run(np.ones((5, 1000), np.float32))[0].shape == (5, 1000)   # the session is still usable


def test_arena_cap_default_from_the_environment(tmp_path):
    path = tmp_path / "m.pyrt"
    path.write_bytes(chain(2, [1000, 1000]))
    code = ("import pyruntime, sys\n"
            "try:\n    pyruntime.Session(sys.argv[1])\n"
            "except pyruntime.LimitError as e:\n    print('LIMIT', e)\n")
    env = dict(os.environ, PYRT_MAX_ARENA_BYTES="500000")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0 and "LIMIT" in r.stdout and "PYRT_MAX_ARENA_BYTES" in r.stdout, r.stdout + r.stderr


def int4_linear(n: int, k: int):
    """Y = X W^T with W [n, k] stored int4: few rows run on the stored encoding, many on a form made once when a
    plan needs it and counted then (a Deferred weight: int8 panels)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, k)).astype(np.float32)
    g = Graph("lin")
    x = g.input("x", [None, k])
    y = g.op("Gemm", x, g.const(w, "w", encoding="i4", group_size=32), transB=1)
    g.output(y, "y")
    return g.to_bytes()


def test_weights_decoded_for_many_rows_count_against_the_memory_cap():
    # (a csr weight has no such form: many rows run the spmm on it as stored, tests/python/test_sparse.py)
    n, k = 512, 1024
    blob = int4_linear(n, k)
    # what the many-row form holds: int4 requantized to int8 panels (a byte a weight)
    packed, many = n * k, "qd8-gemm-i4w-as-i8"
    rows = np.ones((64, k), np.float32)
    # the reference table: int4 has no GEMM there (a table with one runs many rows on the int4 weights)
    ref = True
    big = Session(blob, force_reference=ref)
    want = big.run(rows)[0]
    assert many in big.describe()[0]["kernel"] and packed <= big.prepared_bytes < packed * 1.1
    # A cap with room for the arena but not for the decoded weight: few rows still run (on the stored
    # encoding), the plan with many rows is refused, naming the decoded bytes, and leaves the session usable.
    arena = big.arena_bytes
    s = Session(blob, max_arena_bytes=arena + packed // 2, force_reference=ref)
    few = s.run(rows[:4])[0]
    assert many not in s.describe()[0]["kernel"]
    np.testing.assert_allclose(few, want[:4], rtol=0.05, atol=0.05 * np.abs(want).max())
    with pytest.raises(LimitError, match=r"bytes of decoded weights, above the limit"):
        s.run(rows)
    assert s.run(rows[:2])[0].shape == (2, n)
    # With room for both, the same session plans the many-row run and gives the first session's result.
    s2 = Session(blob, max_arena_bytes=arena + packed + (1 << 20), force_reference=ref)
    np.testing.assert_array_equal(s2.run(rows)[0], want)
