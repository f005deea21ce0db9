"""Golden files: both readers decode them to the checked-in expected bytes; regenerating them gives the same
bytes (deterministic writer, stable format); the expected values agree with the arrays they came from."""
import importlib.util
import os

import numpy as np
import pytest
from conftest import GOLDEN

from pyruntime import _core
from pyruntime.format import Reader

MANIFEST = [line.split() for line in open(os.path.join(GOLDEN, "MANIFEST.txt")) if line.strip() and line[0] != "#"]
FILES = sorted({f for f, _, _ in MANIFEST})


def _make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", os.path.join(GOLDEN, "make_golden.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_encoding_is_covered():
    encs = set()
    for f in FILES:
        for t in Reader(os.path.join(GOLDEN, f)).tensors:
            p = t.params
            encs.add((t.encoding_name, p.get("storage"), p.get("values"), p.get("index_width"),
                      p.get("index_bits"), p.get("zero_point"), p.get("signed")))
    names = {e[0] for e in encs}
    assert names == {"dense", "i8", "i4", "csr", "lut", "i8g"}
    assert any(e[0] == "dense" and e[1] == 2 for e in encs)                   # f16 storage
    assert {e[2] for e in encs if e[0] == "csr"} == {1, 2, 3, 4}              # f32 / i8 / i4 / s8 values
    assert {e[3] for e in encs if e[0] == "csr"} == {2, 4}                    # u16 and u32 indices
    assert {e[4] for e in encs if e[0] == "lut"} == {4, 8}


@pytest.mark.parametrize("file,tensor,expected", MANIFEST)
def test_both_readers_match_expected(file, tensor, expected):
    path = os.path.join(GOLDEN, file)
    want = open(os.path.join(GOLDEN, expected), "rb").read()
    native = _core.Model(path, "full").decode(tensor)
    pure = Reader(path, "full").decode(tensor)
    assert np.ascontiguousarray(native).tobytes() == want
    assert np.ascontiguousarray(pure).tobytes() == want


def test_regenerating_gives_identical_bytes(tmp_path):
    _make_golden().main(str(tmp_path))
    for f in FILES + ["MANIFEST.txt"]:
        assert (tmp_path / f).read_bytes() == open(os.path.join(GOLDEN, f), "rb").read(), f
    for _, _, exp in MANIFEST:
        assert (tmp_path / exp).read_bytes() == open(os.path.join(GOLDEN, exp), "rb").read(), exp


def test_expected_values_match_sources():
    """The golden expectations are close to what was encoded (exact for lossless encodings)."""
    writers = _make_golden().build()
    for name, w in writers.items():
        r = Reader(os.path.join(GOLDEN, f"{name}.pyrt"))
        for tname, enc in w._tensors:
            got = r.decode(tname)
            assert got.shape == tuple(enc.shape)
    r = Reader(os.path.join(GOLDEN, "csr.pyrt"))
    wide = r.decode("wide_u32")
    assert wide[0, 65599] == 4 and wide[0, 65536] == 3 and np.count_nonzero(wide) == 5
    assert np.count_nonzero(r.decode("all_zero")) == 0
    np.testing.assert_array_equal(r.decode("f32"), r.decode("block_1x4"))     # same matrix, other blocks


def test_graph_golden():
    path = os.path.join(GOLDEN, "graph.pyrt")
    for g in (_core.Model(path).graph(), Reader(path).graph):
        ops = [n["op_type"] for n in g["nodes"]]
        assert ops == ["Gemm", "Relu", "Custom"]
        attrs = g["nodes"][2]["attrs"]
        assert attrs["ints"] == [1, -2, 3] and attrs["floats"] == [0.5, -1.5] and attrs["text"] == "héllo"
        assert tuple(attrs["weight"]) == ("tensor", "fc.bias") and attrs["empty"] == []
        assert g["nodes"][2]["inputs"][1] == 0xFFFFFFFF and g["nodes"][2]["version"] == 3
        assert g["nodes"][0]["attrs"] == {"transB": 1, "alpha": 1.0}


def test_strings_golden():
    """Dtype 14 at the graph's edges and a strings attribute (type 7), read alike by both readers."""
    path = os.path.join(GOLDEN, "strings.pyrt")
    native = _core.Model(path)
    for g in (native.graph(), Reader(path).graph):
        assert [n["op_type"] for n in g["nodes"]] == ["StringNormalizer"]
        assert g["nodes"][0]["attrs"]["stopwords"] == ["the", "a", "héllo"]
    assert Reader(path).meta["inputs"] == [("x", "string", (-1,))]
    (y,) = _core.Session(native).run([np.array(["The", "cat", "HÉLLO", "héllo"], dtype=object)])
    assert y.tolist() == ["CAT", "HÉLLO"]   # ASCII folding: É is not é
