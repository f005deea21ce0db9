"""String tensors (dtype 14): StringNormalizer through the ONNX exporter against the ONNX spec's semantics, the ops
that move strings by bytes, planning on the strings' values (and planning again when they change), and the
refusals: wrong element types at an input, non-UTF-8 bytes, string tensors at numeric ops, string constants."""
import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper

from pyruntime import Graph, Session
from pyruntime.exporters import ExportError, export_onnx
from pyruntime.format import spec
from pyruntime.format.reader import Reader
from pyruntime.format.writer import Writer


def normalizer_model(shape, opset=10, **attrs):
    attrs = {k: v for k, v in attrs.items() if v != []}   # onnx.helper cannot type an empty list
    n = helper.make_node("StringNormalizer", ["x"], ["y"], **attrs)
    g = helper.make_graph([n], "strnorm", [helper.make_tensor_value_info("x", TensorProto.STRING, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.STRING, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def session(model, tmp_path, name="m"):
    path = tmp_path / f"{name}.pyrt"
    export_onnx(model, path)
    return Session(path)


def reference(x, action="NONE", sensitive=0, stopwords=()):
    """The ONNX spec: elements equal to a stopword are dropped (ignoring case unless is_case_sensitive), the rest
    case-changed; nothing left gives one empty string."""
    key = (lambda w: w) if sensitive else str.lower
    stops = {key(w) for w in stopwords}
    kept = [w for w in np.asarray(x).reshape(-1).tolist() if key(w) not in stops]
    kept = [w.lower() if action == "LOWER" else w.upper() if action == "UPPER" else w for w in kept] or [""]
    return np.array(kept, dtype=object).reshape((len(kept),) if np.ndim(x) == 1 else (1, len(kept)))


WORDS = ["Monday", "tuesday", "MONDAY", "wednesday", "Tuesday", "x", "", "monday"]


@pytest.mark.parametrize("action,sensitive,stopwords,two_d", list(itertools.product(
    ["NONE", "LOWER", "UPPER"], [0, 1], [[], ["monday", "Tuesday"]], [False, True])))
def test_string_normalizer_matches_the_spec(action, sensitive, stopwords, two_d, tmp_path):
    shape = [1, None] if two_d else [None]
    s = session(normalizer_model(shape, case_change_action=action, is_case_sensitive=sensitive,
                                 stopwords=stopwords), tmp_path)
    assert s.inputs[0][1] == "string" and s.outputs[0][1] == "string"
    x = np.array(WORDS, dtype=object).reshape(1, -1) if two_d else np.array(WORDS, dtype=object)
    (y,) = s.run([x])
    want = reference(x, action, sensitive, stopwords)
    assert y.dtype == object and y.shape == want.shape
    assert y.tolist() == want.tolist()
    assert all(type(v) is str for v in y.reshape(-1))


@pytest.mark.parametrize("two_d", [False, True])
def test_everything_removed_gives_one_empty_string(two_d, tmp_path):
    s = session(normalizer_model([1, 3] if two_d else [3], case_change_action="UPPER", stopwords=["a", "B"]),
                tmp_path)
    x = np.array(["A", "b", "a"], dtype=object)
    (y,) = s.run([x.reshape(1, 3) if two_d else x])
    assert y.shape == ((1, 1) if two_d else (1,)) and y.reshape(-1).tolist() == [""]


def test_numpy_str_and_bytes_arrays_and_utf8(tmp_path):
    s = session(normalizer_model([None], case_change_action="UPPER", stopwords=["stop"]), tmp_path)
    assert s.run([np.array(["abc", "stop", "déjà"])])[0].tolist() == ["ABC", "DéJà"]   # ASCII letters only
    assert s.run([np.array([b"abc", b"STOP", "é".encode()])])[0].tolist() == ["ABC", "é"]
    assert s.run([np.array(["x", b"y"], dtype=object)])[0].tolist() == ["X", "Y"]
    assert s.run([np.array(["a", "b", "c", "d"])[::2]])[0].tolist() == ["A", "C"]       # not contiguous


def test_plans_again_when_the_strings_change(tmp_path):
    s = session(normalizer_model([None], case_change_action="LOWER", stopwords=["the", "a"]), tmp_path)
    runs = [["The", "cat", "a", "mat"], ["the", "cat", "sat", "on"], ["dog", "cat", "sat", "on"],
            ["a", "the", "A", "THE"], ["The", "cat", "a", "mat"]]
    for words in runs:   # same shape each time: only the values tell how long the output is
        (y,) = s.run([np.array(words, dtype=object)])
        assert y.tolist() == reference(np.array(words, dtype=object), "LOWER", 0, ["the", "a"]).tolist()
    (y,) = s.run([np.array(["x"] * 7, dtype=object)])   # another shape too
    assert y.tolist() == ["x"] * 7
    # an earlier result stays what it was (the outputs are copies)
    (a,) = s.run([np.array(["Keep", "a"], dtype=object)])
    s.run([np.array(["other"], dtype=object)])
    assert a.tolist() == ["keep"]


def test_strings_through_the_byte_moving_ops():
    x = np.array([["a", "bb"], ["ccc", ""]], dtype=object)
    g = Graph("moves")
    v = g.input("x", [2, 2], "string")
    idx = g.const(np.array([1, 0], np.int64))
    t = g.op("Transpose", v, perm=[1, 0])
    c = g.op("Concat", t, v, axis=0)
    r = g.op("Reshape", c, g.const(np.array([-1], np.int64)))
    gathered = g.op("Gather", v, idx, axis=0)
    g.output(r, "flat")
    g.output(gathered, "rows")
    g.output(g.op("Identity", v), "same")
    s = Session(g.to_bytes())
    flat, rows, same = s.run([x])
    assert flat.tolist() == np.concatenate([x.T, x]).reshape(-1).tolist()
    assert rows.tolist() == x[[1, 0]].tolist()
    assert same.tolist() == x.tolist()


def test_wrong_element_types_at_inputs_are_refused(tmp_path):
    s = session(normalizer_model([None]), tmp_path)
    with pytest.raises(ValueError, match="input 'x' has dtype float32, the model expects string"):
        s.run([np.zeros(3, np.float32)])
    with pytest.raises(TypeError, match="input 'x': element 1 is int"):
        s.run([np.array(["a", 3], dtype=object)])
    with pytest.raises(TypeError, match="input 'x': element 0 is NoneType"):
        s.run([np.array([None], dtype=object)])
    with pytest.raises(ValueError, match="input 'x': element 1 is not valid UTF-8"):
        s.run([np.array([b"ok", b"\xff\xfe"], dtype=object)])
    with pytest.raises(ValueError, match="input 'x': element 0 cannot be encoded as UTF-8"):
        s.run([np.array(["\ud800"], dtype=object)])
    g = Graph("f")
    g.output(g.op("Relu", g.input("x", [3])), "y")
    f = Session(g.to_bytes())
    for bad in (np.array(["a", "b", "c"]), np.array(["a", "b", "c"], dtype=object), np.array([b"a", b"b", b"c"])):
        with pytest.raises(ValueError, match="input 'x' has dtype .*, the model expects f32"):
            f.run([bad])


def test_numeric_ops_refuse_string_tensors():
    g = Graph("bad")
    g.output(g.op("Relu", g.input("x", [3], "string"), name="act"), "y")
    with pytest.raises(NotImplementedError, match=r"node 'act' \(Relu\): input 0 is a string tensor"):
        g.to_bytes()
    for op in ("Add", "Less"):
        g = Graph("bad2")
        x = g.input("x", [3], "string")
        g.output(g.op(op, x, x, name="two"), "y")
        with pytest.raises(NotImplementedError, match=rf"node 'two' \({op}\): input 0 is a string tensor"):
            g.to_bytes()


def test_string_normalizer_refusals(tmp_path):
    with pytest.raises(ExportError, match="case_change_action must be NONE, LOWER or UPPER, got 'TITLE'"):
        session(normalizer_model([None], case_change_action="TITLE"), tmp_path)
    with pytest.raises(ExportError, match="locale 'tr_TR': only ASCII case mapping"):
        session(normalizer_model([None], locale="tr_TR"), tmp_path)
    g = Graph("rank")
    g.output(g.op("StringNormalizer", g.input("x", [None, None], "string"), locale="en_US"), "y",
             hint=("string", [1, -1]))
    s = Session(g.to_bytes())
    assert s.run([np.array([["a", "b"]], dtype=object)])[0].tolist() == [["a", "b"]]
    with pytest.raises(ValueError, match=r"x must have shape \[C\] or \[1, C\], got \[2, 2\]"):
        s.run([np.array([["a", "b"], ["c", "d"]], dtype=object)])
    g = Graph("f")
    g.output(g.op("StringNormalizer", g.input("x", [3]), name="sn"), "y")
    with pytest.raises(ValueError, match=r"node 'sn' \(StringNormalizer\): x must be a string tensor, got f32"):
        g.to_bytes()


def test_strings_computed_too_late_for_the_plan_are_named():
    """x must be known when the plan is made; an Identity whose output is too large to run while planning
    leaves it to the run, and the normalizer says so."""
    g = Graph("late")
    x = g.op("Identity", g.input("x", [None], "string"))
    g.output(g.op("StringNormalizer", x, name="norm"), "y", hint=("string", [-1]))
    s = Session(g.to_bytes())
    assert s.run([np.array(["a", "b"], dtype=object)])[0].tolist() == ["a", "b"]   # small: computed at plan
    with pytest.raises(ValueError, match=r"node 'norm' \(StringNormalizer\): x .* must be known when the plan"):
        s.run([np.array(["w"] * 1000, dtype=object)])


def test_string_constants_are_refused_and_string_lists_round_trip():
    w = Writer()
    with pytest.raises(ValueError, match="string tensors cannot be stored"):
        w.add_tensor("words", np.array(["a"], dtype=object))
    g = Graph("attrs")
    g.output(g.op("StringNormalizer", g.input("x", [2], "string"), stopwords=["a", "", "ü"]), "y",
             hint=("string", [-1]))
    g.output(g.op("StringNormalizer", g.input("z", [2], "string"), stopwords=[]), "z2", hint=("string", [-1]))
    raw = g.to_bytes()
    assert Session(raw).run([np.array(["a", "b"], dtype=object), np.array(["A", "b"], dtype=object)])[1].tolist() \
        == ["A", "b"]   # an empty list is stored as a list of numbers, and read as no stopwords
    r = Reader(raw)
    node = r.graph["nodes"][0]
    assert node["attrs"]["stopwords"] == ["a", "", "ü"]
    assert r.meta["inputs"][0][1] == "string" and spec.DTYPE_SIZES[spec.DT_STRING] == 16


def test_string_concat_broadcasts_and_where_picks_strings():
    g = Graph("concat")
    a, b = g.input("a", [2, None], "string"), g.input("b", [None], "string")
    g.output(g.op("StringConcat", a, b), "ab")
    g.output(g.op("Where", g.input("c", [2, 1], "bool"), a, g.op("StringConcat", b, b)), "w")
    s = Session(g.to_bytes())
    x = np.array([["a", "é"], ["", "cc"]], dtype=object)
    y = np.array(["1", "-"], dtype=object)
    ab, w = s.run([x, y, np.array([[True], [False]])])
    assert ab.tolist() == [["a1", "é-"], ["1", "cc-"]]
    assert w.tolist() == [["a", "é"], ["11", "--"]]
    g = Graph("eq")
    g.output(g.op("Equal", g.input("a", [3], "string"), g.input("b", [1], "string")), "y")
    (eq,) = Session(g.to_bytes()).run([np.array(["x", "xy", ""], dtype=object), np.array(["xy"], dtype=object)])
    assert eq.tolist() == [False, True, False]
    g = Graph("bad")
    g.output(g.op("StringConcat", g.input("a", [2], "string"), g.input("b", [2]), name="cat"), "y")
    with pytest.raises(ValueError, match=r"node 'cat' \(StringConcat\): Y must be a string tensor, got f32"):
        g.to_bytes()
