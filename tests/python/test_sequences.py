"""ONNX sequences built and read inside a graph (pyruntime/exporters/sequences.py): each model matches onnx's
reference evaluator on both kernel paths, a position given as a graph input is read when the session plans and
a new value replans, and what cannot be lowered is refused with an error naming the node."""
import numpy as np
import pytest

import pyruntime
from pyruntime.exporters import export_onnx

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

R = np.random.default_rng(7)
_T = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}


def _model(nodes, feeds, consts=None, out_type=None):
    consts = consts or {}
    ins = [helper.make_tensor_value_info(k, _T[a.dtype], a.shape) for k, a in feeds.items()]
    outs = [out_type or helper.make_tensor_value_info("out", TensorProto.UNDEFINED, None)]
    g = helper.make_graph(nodes, "seq", ins, outs, [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def _check(tmp_path, model, feed_sets):
    path = tmp_path / "m.pyrt"
    export_onnx(model, str(path))
    sessions = [pyruntime.Session(str(path), force_reference=ref) for ref in (False, True)]
    for feeds in feed_sets:        # one session, several position values: each replans
        want = ReferenceEvaluator(model).run(None, feeds)[0]
        for s in sessions:
            got = s.run(feeds)[0]
            assert got.shape == np.asarray(want).shape
            np.testing.assert_array_equal(got, want)


def _pos(p):
    return np.array(p, np.int64)


def test_insert_erase_at_positions_from_inputs(tmp_path):
    x, y, z = R.standard_normal((2, 3), np.float32), R.standard_normal((1, 3), np.float32), \
        R.standard_normal((4, 3), np.float32)
    nodes = [helper.make_node("SequenceConstruct", ["x", "y"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "z", "pi"], ["s2"]),
             helper.make_node("SequenceErase", ["s2", "pe"], ["s3"]),
             helper.make_node("SequenceAt", ["s3", "pa"], ["y_out"]),
             helper.make_node("Identity", ["y_out"], ["out"])]
    base = {"x": x, "y": y, "z": z}
    model = _model(nodes, {**base, "pi": _pos(0), "pe": _pos(0), "pa": _pos(0)})
    sets = [{**base, "pi": _pos(pi), "pe": _pos(pe), "pa": _pos(pa)}
            for pi, pe, pa in [(0, 0, 0), (1, -1, 1), (-2, 1, -1), (1, 0, 0), (-1, -3, 1)]]
    _check(tmp_path, model, sets)     # different shapes selected from one file
    # inserting at n appends (the spec's range is [-n, n]); onnx's reference wraps n to 0, so not compared
    s = pyruntime.Session(str(tmp_path / "m.pyrt"))
    np.testing.assert_array_equal(s.run({**base, "pi": _pos(2), "pe": _pos(0), "pa": _pos(-1)})[0], z)
    with pytest.raises(Exception, match=r"position 3 is outside a sequence of 2 tensors"):
        s.run({**base, "pi": _pos(3), "pe": _pos(0), "pa": _pos(0)})


def test_positions_out_of_range_are_errors(tmp_path):
    x = R.standard_normal((2, 3), np.float32)
    nodes = [helper.make_node("SequenceConstruct", ["x", "x"], ["s"]),
             helper.make_node("SequenceAt", ["s", "pa"], ["out"])]
    model = _model(nodes, {"x": x, "pa": _pos(0)})
    path = tmp_path / "m.pyrt"
    export_onnx(model, str(path))
    s = pyruntime.Session(str(path))
    np.testing.assert_array_equal(s.run({"x": x, "pa": _pos(-2)})[0], x)
    with pytest.raises(Exception, match=r"SequenceSelect.*position 2 is outside a sequence of 2 tensors"):
        s.run({"x": x, "pa": _pos(2)})
    with pytest.raises(Exception, match=r"input 'pa' has shape \(2,\), the model expects \[\]"):
        s.run({"x": x, "pa": np.array([0, 1], np.int64)})
    np.testing.assert_array_equal(s.run({"x": x, "pa": _pos(1)})[0], x)   # the session still runs


def test_constant_positions_fold_away(tmp_path):
    x, y = R.standard_normal((2, 3), np.float32), R.standard_normal((5, 3), np.float32)
    nodes = [helper.make_node("SequenceEmpty", [], ["s0"]),
             helper.make_node("SequenceInsert", ["s0", "x"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "y", "c0"], ["s2"]),
             helper.make_node("SequenceErase", ["s2"], ["s3"]),
             helper.make_node("SequenceAt", ["s3", "cm1"], ["out"])]
    model = _model(nodes, {"x": x, "y": y}, {"c0": _pos(0), "cm1": _pos(-1)})
    _check(tmp_path, model, [{"x": x, "y": y}])
    assert "SequenceSelect" not in pyruntime.Session(str(tmp_path / "m.pyrt")).describe()


@pytest.mark.parametrize("axis,new_axis", [(0, 0), (1, 0), (-1, 1), (0, 1), (2, 1)])
def test_concat_from_sequence(tmp_path, axis, new_axis):
    x, y = R.standard_normal((2, 3), np.float32), R.standard_normal((2, 3), np.float32)
    nodes = [helper.make_node("SequenceConstruct", ["x", "y", "x"], ["s"]),
             helper.make_node("ConcatFromSequence", ["s"], ["y_out"], axis=axis, new_axis=new_axis),
             helper.make_node("Identity", ["y_out"], ["out"])]
    if not new_axis and axis == 2:
        return
    model = _model(nodes, {"x": x, "y": y})
    _check(tmp_path, model, [{"x": x, "y": y}])


def test_concat_from_sequence_with_a_position_from_an_input(tmp_path):
    x, y, z = (R.standard_normal((2, 3), np.float32) for _ in range(3))
    nodes = [helper.make_node("SequenceConstruct", ["x", "y"], ["s1"]),
             helper.make_node("SequenceInsert", ["s1", "z", "p"], ["s2"]),
             helper.make_node("ConcatFromSequence", ["s2"], ["out"], axis=0)]
    base = {"x": x, "y": y, "z": z}
    _check(tmp_path, _model(nodes, {**base, "p": _pos(0)}), [{**base, "p": _pos(p)} for p in (0, 1, -1, -2)])


@pytest.mark.parametrize("split,keepdims,axis", [(None, 1, 0), (None, 0, 1), ("scalar", 1, 1),
                                                 ("list", 1, -1), ("list", 0, 1)])
def test_split_to_sequence(tmp_path, split, keepdims, axis):
    x = R.standard_normal((3, 5, 4), np.float32)
    consts, ins = {}, ["x"]
    if split == "scalar":
        consts["sp"] = _pos(2)        # 5 = 2 + 2 + 1
        ins.append("sp")
    elif split == "list":
        consts["sp"] = np.array([1, 3], np.int64) if axis == -1 else np.array([2, 0, 3], np.int64)
        ins.append("sp")
    nodes = [helper.make_node("SplitToSequence", ins, ["s"], axis=axis, keepdims=keepdims),
             helper.make_node("SequenceLength", ["s"], ["n"]),
             helper.make_node("SequenceAt", ["s", "n_last"], ["last"]),
             helper.make_node("ConcatFromSequence", ["s"], ["cat"], axis=axis, new_axis=0 if keepdims or split
                              else 1),
             helper.make_node("Shape", ["cat"], ["cs"]),
             helper.make_node("Concat", ["cs", "n1"], ["out"], axis=0)]
    consts.update({"n_last": _pos(-1)})
    nodes.insert(2, helper.make_node("Reshape", ["n", "one"], ["n1"]))
    consts["one"] = np.array([1], np.int64)
    model = _model(nodes, {"x": x}, consts)
    _check(tmp_path, model, [{"x": x}])


def test_what_cannot_be_lowered_is_refused(tmp_path):
    from pyruntime.exporters.ir import ExportError
    x = R.standard_normal((2, 3), np.float32)
    seq_out = helper.make_tensor_sequence_value_info("out", TensorProto.FLOAT, None)
    m = _model([helper.make_node("SequenceConstruct", ["x"], ["out"])], {"x": x}, out_type=seq_out)
    with pytest.raises(ExportError, match=r"graph output 'out' is a sequence"):
        export_onnx(m, str(tmp_path / "a.pyrt"))
    m = _model([helper.make_node("SequenceConstruct", ["x"], ["s"]),
                helper.make_node("Identity", ["s"], ["out"])], {"x": x})
    with pytest.raises(ExportError, match=r"reads the sequence 's'"):
        export_onnx(m, str(tmp_path / "b.pyrt"))


def test_position_computed_from_an_input(tmp_path):
    """A position computed from a graph input's data: the session plans on that input's values."""
    x = np.array([[0.2, 1.7, 0.1]], np.float32)
    w = R.standard_normal((3, 3), np.float32)
    m = _model([helper.make_node("SequenceConstruct", ["x", "w"], ["s"]),
                helper.make_node("ReduceMax", ["x"], ["mx"], keepdims=0),
                helper.make_node("Cast", ["mx"], ["p"], to=TensorProto.INT64),
                helper.make_node("SequenceAt", ["s", "p"], ["out"])], {"x": x, "w": w})
    _check(tmp_path, m, [{"x": x, "w": w}, {"x": x * 0.1, "w": w}])


def test_an_empty_split_as_an_output_is_refused(tmp_path):
    from pyruntime.exporters.ir import ExportError
    x = np.zeros((0, 3), np.float32)
    seq_out = helper.make_tensor_sequence_value_info("out", TensorProto.FLOAT, None)
    m = _model([helper.make_node("SplitToSequence", ["x"], ["out"], axis=0)], {"x": x}, out_type=seq_out)
    with pytest.raises(ExportError, match=r"graph output 'out' is a sequence"):
        export_onnx(m, str(tmp_path / "e.pyrt"))
