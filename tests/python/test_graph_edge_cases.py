"""Edge cases of graphs the runtime plans and the exporter writes: rank-0 inputs, a scalar softmax, outputs
that are inputs or repeated, a Gemm bias of the wrong length, one session used by two threads, a Reshape by
another tensor's dynamic dimension, Pad then AvgPool with ceil_mode."""
import io
import threading
import warnings

import numpy as np
import pytest
import torch

from pyruntime import Graph, Session
from pyruntime.exporters import ExportError, export_onnx


@pytest.mark.parametrize("op,attrs,extra", [("Concat", {"axis": 0}, 1), ("ReduceMean", {"axes": [0]}, 0),
                                            ("Split", {"axis": 0}, 0), ("Squeeze", {"axes": [0]}, 0)])
def test_rank0_inputs_are_errors_not_crashes(op, attrs, extra):
    g = Graph("t")
    x = g.input("x", [])
    g.output(g.op(op, *([x] * (1 + extra)), **attrs), "y")
    with pytest.raises(ValueError, match="out of range"):
        g.to_bytes()


def test_softmax_of_a_scalar():
    g = Graph("t")
    g.output(g.op("Softmax", g.input("x", [])), "y")
    assert Session(g.to_bytes()).run(np.array(3.0, np.float32))[0] == 1.0


def test_outputs_that_are_inputs_or_repeated():
    g = Graph("t")
    x = g.input("x", [2])
    r = g.op("Relu", x)
    g.output(x, "same")
    g.output(r, "a")
    g.output(r, "b")
    s = Session(g.to_bytes())
    out = s.run(np.array([-1, 2], np.float32))
    assert s.output_names == ["same", "a", "b"]
    np.testing.assert_array_equal(out[0], [-1, 2])
    np.testing.assert_array_equal(out[2], [0, 2])


def test_gemm_bias_length_is_checked():
    g = Graph("t")
    a, b = g.input("a", [2, 4]), g.input("b", [4, 5])
    g.output(g.op("Gemm", a, b, g.const(np.array([1, 2, 3], np.float32))), "y")
    with pytest.raises(ValueError, match="C has 3 values for 5 output columns"):
        g.to_bytes()


def test_one_session_two_threads_is_an_error_not_a_race():
    g = Graph("t")
    y = g.input("x", [1, 16, 64, 64])
    for _ in range(6):
        y = g.op("Conv", y, g.const(np.ones((16, 16, 3, 3), np.float32) / 144), pads=[1, 1, 1, 1])
    g.output(y, "y")
    s = Session(g.to_bytes(), num_threads=1)
    x = np.ones((1, 16, 64, 64), np.float32)
    errors, results = [], []

    def work():
        for _ in range(20):
            try:
                results.append(s.run(x)[0])
            except ValueError as e:
                errors.append(str(e))
    ts = [threading.Thread(target=work) for _ in range(3)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all("another thread" in e for e in errors)
    assert results and all(np.array_equal(r, results[0]) for r in results)


def _onnx(model, inputs, names, dyn):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, buf, dynamo=False, opset_version=17, input_names=names,
                          dynamic_axes=dyn)
    return buf.getvalue()


def test_reshape_by_another_tensors_dynamic_dim_is_computed_when_planning(tmp_path):
    # z's dynamic dimension shapes x: the runtime computes the target shape when it plans each shape set
    class M(torch.nn.Module):
        def forward(self, x, z):
            return x.reshape(z.shape[0], -1)
    blob = _onnx(M(), (torch.randn(4, 6), torch.randn(8, 1)), ["x", "z"], {"x": {0: "n"}, "z": {0: "m"}})
    export_onnx(blob, tmp_path / "m.pyrt")
    s = Session(tmp_path / "m.pyrt")
    for n, m in ((4, 8), (2, 4), (6, 3)):
        x = np.random.default_rng(n).standard_normal((n, 6)).astype(np.float32)
        got = s.run({"x": x, "z": np.zeros((m, 1), np.float32)})[0]
        np.testing.assert_array_equal(got, x.reshape(m, -1))
    with pytest.raises(ValueError, match="Reshape.*cannot reshape"):   # 18 elements into 4 rows
        s.run({"x": np.zeros((3, 6), np.float32), "z": np.zeros((4, 1), np.float32)})


def test_pad_then_avgpool_ceil_mode_keeps_its_shape(tmp_path):
    class M(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (0, 2, 0, 2)), 2, 2, ceil_mode=True,
                                                  count_include_pad=True)
    x = torch.randn(1, 1, 4, 4)
    export_onnx(_onnx(M(), (x,), ["x"], None), tmp_path / "m.pyrt")
    want = M()(x).numpy()
    got = Session(tmp_path / "m.pyrt").run(x.numpy())[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_reshape_to_a_shape_whose_product_overflows_is_an_error():
    """Found by the CI fuzzer: the product of a Reshape's shape entries overflowed int64 (UB) before any check."""
    import numpy as np
    import pyruntime
    g = pyruntime.Graph("r")
    x = g.input("x", [2, 3])
    g.output(g.op("Reshape", x, g.const(np.array([32, 3456513189640929523], np.int64))), "y")
    with pytest.raises(ValueError, match="more elements than can be addressed"):
        g.to_bytes()
