"""Session API: inputs by dict/list/keyword, clear errors for wrong names, dtypes and shapes, unsupported
operators named with their node, dynamic batch re-planning, describe()."""
import sys

import numpy as np
import pytest

import pyruntime
from pyruntime import Graph, Session
from pyruntime.format import Writer


def small_model():
    rng = np.random.default_rng(0)
    g = Graph("small")
    x = g.input("x", [None, 3, 8, 8])
    y = g.op("Conv", x, g.const(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)), pads=[1, 1, 1, 1],
             activation="relu", name="conv1")
    y = g.op("GlobalAveragePool", y)
    g.output(g.op("Flatten", y), "feat")
    return g.to_bytes()


def test_inputs_in_every_form():
    s = Session(small_model())
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    a = s.run({"x": x})[0]
    np.testing.assert_array_equal(s.run([x])[0], a)
    np.testing.assert_array_equal(s.run(x)[0], a)
    np.testing.assert_array_equal(s.run(x=x)[0], a)
    np.testing.assert_array_equal(s.run(np.asfortranarray(x))[0], a)      # non-contiguous input: copied
    assert s.input_names == ["x"] and s.output_names == ["feat"]
    assert s.inputs == [("x", "f32", (-1, 3, 8, 8))] and s.outputs == [("feat", "f32", (-1, 4))]


def test_dynamic_batch_replans():
    s = Session(small_model())
    rng = np.random.default_rng(2)
    for n in (1, 5, 1, 3):
        x = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
        assert s.run(x)[0].shape == (n, 4)
    assert s.output_shapes({"x": (7, 3, 8, 8)}) == [((7, 4), "f32")]
    assert s.arena_bytes > 0


def test_input_errors():
    s = Session(small_model())
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"unknown input name\(s\) \['y'\]"):
        s.run({"y": x})
    with pytest.raises(ValueError, match="missing input"):
        s.run({})
    with pytest.raises(ValueError, match="expected 1 input"):
        s.run([x, x])
    with pytest.raises(ValueError, match="input 'x' has shape \\(1, 4, 8, 8\\), the model expects \\[\\?, 3, 8, 8\\]"):
        s.run(np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="input 'x' has shape"):
        s.run(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="dtype float64, the model expects f32"):
        s.run(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="dtype complex64"):
        s.run(np.zeros((1, 3, 8, 8), np.complex64))


def test_unsupported_op_names_op_and_node():
    blob_w = Writer(model_name="bad")
    blob_w.add_input("x", "f32", [1, 4])
    blob_w.add_output("y", "f32", [1, 4])
    gb = blob_w.new_graph()
    (y,) = gb.node("FancyAttention", [gb.input("x")], ["y"], name="block3.attn")
    gb.output(y)
    with pytest.raises(NotImplementedError, match=r"unsupported operator 'FancyAttention' in node 'block3.attn'.*supported: .*Conv"):
        Session(blob_w.to_bytes())


def test_graph_errors_name_the_node():
    g = Graph("bad-shapes")
    a = g.input("a", [2, 3])
    b = g.const(np.ones((4, 5), np.float32))
    g.output(g.op("Add", a, b, name="the_add"), "y")
    with pytest.raises(ValueError, match=r"node 'the_add' \(Add\): shapes \[2, 3\] and \[4, 5\] cannot be broadcast"):
        g.to_bytes()
    g = Graph("runtime-weight")
    x, w = g.input("x", [1, 3, 4, 4]), g.input("w", [2, 3, 1, 1])
    g.output(g.op("Conv", x, w, name="c"), "y")
    # a weight given as an input is read when the plan is made: without the input's data (this output-shape
    # probe has none) the error names the node and what it needs
    with pytest.raises(ValueError, match=r"node 'c' \(Conv\): weight must be known when the plan is made"):
        g.to_bytes()


def test_gather_index_out_of_range_is_an_error():
    g = Graph("emb")
    i = g.input("i", [3], "i64")
    g.output(g.op("Gather", g.const(np.ones((5, 2), np.float32)), i, name="emb"), "y")
    s = Session(g.to_bytes())
    with pytest.raises(ValueError, match=r"node 'emb' \(Gather\): index 9 out of range"):
        s.run(np.array([0, 9, 1], np.int64))
    np.testing.assert_array_equal(s.run(np.array([0, -1, 1], np.int64))[0], np.ones((3, 2), np.float32))


def test_model_without_graph():
    w = Writer()
    w.add_tensor("t", np.ones(3, np.float32))
    with pytest.raises(ValueError, match="no graph"):
        Session(w.to_bytes())


def test_describe_names_kernels_and_isa(tmp_path):
    p = tmp_path / "m.pyrt"
    p.write_bytes(small_model())
    s = Session(p)
    s.run(np.zeros((2, 3, 8, 8), np.float32))
    d = s.describe()
    assert [n["op_type"] for n in d] == ["Conv", "GlobalAveragePool", "Flatten"]
    assert d[0]["name"] == "conv1" and d[0]["kernel"].endswith(s.isa) and d[0]["output_shapes"] == [(2, 4, 8, 8)]
    assert Session(p, force_reference=True).isa == "ref"
    assert "Conv" in pyruntime.supported_ops() and "LSTM" in pyruntime.supported_ops()


def test_arena_reuses_memory():
    """A chain of elementwise ops runs in place; a chain of convs needs about two live buffers."""
    g = Graph("chain")
    x = g.input("x", [1, 16, 32, 32])
    y = g.op("Conv", x, g.const(np.ones((16, 16, 1, 1), np.float32) / 16))
    for _ in range(10):
        y = g.op("Sigmoid", y)
    g.output(y, "y")
    s = Session(g.to_bytes())
    s.run(np.zeros((1, 16, 32, 32), np.float32))
    one = 16 * 32 * 32 * 4
    assert s.arena_bytes < 2 * one + (1 << 20)          # conv output + the in-place chain (+ GEMM scratch)
    def convs(n):
        g = Graph("convs")
        y = g.input("x", [1, 16, 32, 32])
        for _ in range(n):
            y = g.op("Conv", y, g.const(np.ones((16, 16, 3, 3), np.float32) / 144), pads=[1, 1, 1, 1])
        g.output(y, "y")
        s = Session(g.to_bytes())
        s.run(np.zeros((1, 16, 32, 32), np.float32))
        return s.arena_bytes
    assert convs(8) == convs(2)                            # dead buffers are reused: two live at a time


def _mapped_pages(path) -> int:
    """Pages of `path`'s mappings resident in this process (Linux /proc/self/pagemap)."""
    import struct
    total = 0
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith(str(path)):
            a, b = (int(v, 16) for v in line.split()[0].split("-"))
            with open("/proc/self/pagemap", "rb") as f:
                f.seek(a // 4096 * 8)
                data = f.read((b - a) // 4096 * 8)
            total += sum(struct.unpack_from("<Q", data, i * 8)[0] >> 63 for i in range((b - a) // 4096))
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/pagemap")
def test_repacked_weights_leave_the_resident_set(tmp_path):
    """A weight every op repacked when the session was made is not read again: its file pages leave the process
    (one form of each weight is resident, not the file's and the packed one), small constants read at run time
    are copied out; a second session and a model given as bytes (nothing to drop there) still compute the same."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2048, 1024)).astype(np.float32)      # 8 MiB
    b = rng.standard_normal(2048).astype(np.float32)
    g = pyruntime.Graph()
    g.output(g.op("Gemm", g.input("x", [3, 1024]), g.const(w, "w"), g.const(b, "b"), transB=1), "y")
    path = tmp_path / "big.pyrt"
    g.save(path)
    x = rng.standard_normal((3, 1024)).astype(np.float32)
    want = x @ w.T + b
    s = pyruntime.Session(str(path))
    y = s.run(x)[0]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-3)
    assert _mapped_pages(path) < 64, "the packed weight's file pages are still resident"
    s2 = pyruntime.Session(str(path))
    np.testing.assert_array_equal(s2.run(x)[0], y)
    s3 = pyruntime.Session(path.read_bytes())
    np.testing.assert_array_equal(s3.run(x)[0], y)
    np.testing.assert_array_equal(s.run(x)[0], y)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/pagemap")
def test_an_encoded_weight_read_decoded_leaves_its_file_pages(tmp_path):
    """An encoded constant that an op reads as f32 (here an i8 one into Mul) is read from its decoded copy: its
    file pages leave the resident set once the session is made (one form of it, not two)."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((1024, 2048)).astype(np.float32)
    g = pyruntime.Graph()
    g.output(g.op("Mul", g.input("x", [1024, 2048]), g.const(w, "w", "i8", axis=0)), "y")
    path = tmp_path / "mul.pyrt"
    g.save(path)
    x = rng.standard_normal((1024, 2048)).astype(np.float32)
    s = pyruntime.Session(str(path))
    y = s.run(x)[0]
    np.testing.assert_allclose(y, x * w, rtol=0, atol=np.abs(x * w).max() / 100)
    assert _mapped_pages(path) < 64, "the i8 weight's file pages are still resident beside its decoded copy"
    np.testing.assert_array_equal(s.run(x)[0], y)


def test_an_encoded_constant_given_as_an_output(tmp_path):
    """A constant stored encoded (i8) that is itself a graph output is decoded for it (no op reads it)."""
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    g = Graph("c")
    x = g.input("x", [2])
    g.output(g.op("Relu", x), "y")
    g.output(g.const(w, "w", "i8", axis=0), "w_out")
    g.save(tmp_path / "c.pyrt")
    y, wo = Session(str(tmp_path / "c.pyrt")).run(np.ones(2, np.float32))
    np.testing.assert_allclose(wo, w, atol=1 / 127)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/pagemap")
@pytest.mark.parametrize("encoding", ["dense", "i8"])
def test_an_embedding_table_gives_its_pages_back_after_each_run(tmp_path, encoding):
    """A large table read a few rows at a time (Gather: an embedding) is given back after each run: the rows'
    neighbourhoods that the OS maps in with them do not pile up into the whole table being resident."""
    rng = np.random.default_rng(1)
    table = rng.standard_normal((4096, 512)).astype(np.float32)      # 8 MiB
    g = pyruntime.Graph()
    g.output(g.op("Gather", g.const(table, "emb", encoding, **({"axis": 0} if encoding == "i8" else {})),
                  g.input("ids", [16], "i64")), "y")
    path = tmp_path / "emb.pyrt"
    g.save(path)
    s = pyruntime.Session(str(path))
    want = pyruntime.load(path).tensor("emb")
    for _ in range(3):
        ids = rng.integers(0, 4096, 16)
        np.testing.assert_array_equal(s.run(ids)[0], want[ids])
        assert _mapped_pages(path) < 64
