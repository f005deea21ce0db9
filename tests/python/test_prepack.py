"""Pre-packed layouts (SPEC §6.6, layout 1): pyruntime.prepack stores the packed weight forms a kernel table's
sessions make at load; sessions with that table read them in place, others pack at load as before."""
import subprocess
import sys

import numpy as np
import pytest

import pyruntime
from pyruntime import _core
from pyruntime.format.reader import Reader
from pyruntime.graph import Graph
from pyruntime.prepack import LAYOUT_PACKED, PACKED_FOR, _rewrite, prepack, strip


def _model(path, int4=False):
    """Conv (NCHW im2col and a channels-last 1x1), Gemm and MatMul with constant f32 weights (+ an int4 Gemm)."""
    rng = np.random.default_rng(0)
    g = Graph("prepack")
    x = g.input("x", [1, 8, 6, 6])
    y = g.op("Conv", x, g.const(rng.standard_normal((16, 8, 3, 3)).astype(np.float32) * 0.2, "conv.w"),
             g.const(rng.standard_normal(16).astype(np.float32), "conv.b"), pads=[1, 1, 1, 1], activation="relu")
    y = g.op("Transpose", y, perm=[0, 2, 3, 1])
    y = g.op("Conv", y, g.const(rng.standard_normal((24, 16, 1, 1)).astype(np.float32) * 0.2, "pw.w"),
             layout="NHWC")
    y = g.op("Reshape", y, g.const(np.array([36, 24], np.int64), "shape"))
    y = g.op("Gemm", y, g.const(rng.standard_normal((40, 24)).astype(np.float32) * 0.2, "fc.w"), transB=1)
    y = g.op("MatMul", y, g.const(rng.standard_normal((40, 20)).astype(np.float32) * 0.2, "mm.w"))
    if int4:
        y = g.op("Gemm", y, g.const(rng.standard_normal((64, 20)).astype(np.float32), "q4.w", "i4", group_size=32),
                 transB=1)
    g.output(y, "y")
    g.save(path)
    return {"x": rng.standard_normal((1, 8, 6, 6)).astype(np.float32)}


def _int8_model(path):
    """Static int8 (QLinearConv, channels-last) and int8-weights (a Gemm with an i8 weight) layers."""
    rng = np.random.default_rng(1)
    g = Graph("prepack-int8")
    x = g.input("x", [1, 4, 4, 16])
    s, z = g.const(np.array(0.05, np.float32)), g.const(np.array(128, np.uint8))
    q = g.op("QuantizeLinear", x, s, z)
    w = rng.integers(-60, 60, (24, 16, 1, 1)).astype(np.int8)
    q = g.op("QLinearConv", q, s, z, g.const(w, "qconv.w"), g.const(np.full(24, 0.01, np.float32)),
             g.const(np.array(0, np.int8)), s, z, layout="NHWC")
    y = g.op("DequantizeLinear", q, s, z)
    y = g.op("Reshape", y, g.const(np.array([16, 24], np.int64), "shape"))
    y = g.op("Gemm", y, g.const(rng.standard_normal((32, 24)).astype(np.float32), "i8.w", "i8", axis=0), transB=1)
    g.output(y, "y")
    g.save(path)
    return {"x": rng.standard_normal((1, 4, 4, 16)).astype(np.float32)}


def test_int8_forms_are_read_in_place(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    feeds = _int8_model(src)
    _, want = _run(src, feeds)
    assert prepack(src, dst)["forms"] == 2
    s, got = _run(dst, feeds)
    np.testing.assert_array_equal(got, want)
    assert s.packing()["from_file"] == 2 and s.packing()["packed_at_load"] == 0
    for op in ("QLinearConv", "Gemm"):
        d = next(d for d in s.describe() if d["op_type"] == op)
        assert d["prepacked_bytes"] > 0, d


def _run(path, feeds, **kw):
    s = pyruntime.Session(str(path), num_threads=1, **kw)
    return s, s.run(feeds)[0]


def test_prepacked_file_runs_in_place_with_the_same_outputs(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "m.packed.pyrt"
    feeds = _model(src)
    _, want = _run(src, feeds)
    r = prepack(src, dst)
    assert r["targets"] == [_core.isa()] and r["forms"] >= 4 and r["layout_bytes"] > 0
    assert r["file_bytes_after"] == dst.stat().st_size > src.stat().st_size
    s, got = _run(dst, feeds)
    np.testing.assert_array_equal(got, want)   # the same panels, read from the file instead of packed
    p = s.packing()
    assert p["from_file"] >= 4 and p["packed_at_load"] == 0 and p["packed_for"] == [_core.isa()], p
    assert "read in place" in p["text"]
    by_op = {d["op_type"]: d for d in s.describe() if d["stored_bytes"]}
    for op in ("Conv", "Gemm", "MatMul"):
        assert by_op[op]["prepacked_bytes"] > 0, by_op[op]
    # a file without layouts packs them all at load and says how to add them
    s0, _ = _run(src, feeds)
    assert s0.packing()["from_file"] == 0 and "pyruntime pack" in s0.packing()["text"]
    r2 = Reader(str(dst), verify="full")        # the Python reader checks every layout's CRC too
    assert r2.meta["props"][PACKED_FOR] == _core.isa()
    assert any(lay[0] == LAYOUT_PACKED for t in r2.tensors for lay in t.layouts)


def test_strip_gives_back_the_exported_bytes(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    _model(src, int4=True)
    prepack(src, dst)
    strip(dst, tmp_path / "s.pyrt")
    assert (tmp_path / "s.pyrt").read_bytes() == src.read_bytes()


def test_a_file_packed_for_another_table_packs_at_load(tmp_path):
    tables = list(_core.kernel_tables())
    other = [t for t in tables if t != _core.isa()]
    if not other:
        pytest.skip("this CPU runs one SIMD kernel table")
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    feeds = _model(src)
    _, want = _run(src, feeds)
    prepack(src, dst, targets=[other[-1]])
    s, got = _run(dst, feeds)
    np.testing.assert_array_equal(got, want)
    s_other, got_other = _run(dst, feeds, kernels=other[-1])
    np.testing.assert_allclose(got_other, want, rtol=1e-5, atol=1e-5)
    assert s_other.isa == other[-1]
    # the default table reads what it shares with the other one (same tile) and packs the rest
    p = s.packing()
    assert p["packed_for"] == [other[-1]]
    assert p["from_file"] + p["packed_at_load"] >= 4


def test_several_targets_in_one_file(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    feeds = _model(src)
    targets = list(_core.kernel_tables())[:2] + ["ref"]
    r = prepack(src, dst, targets=",".join(targets))
    assert r["targets"] == targets
    _, want = _run(src, feeds)
    for t in targets:
        s, got = _run(dst, feeds, kernels=t)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert s.isa == t or t == "ref"


@pytest.mark.skipif("avx512-vnni" not in _core.kernel_tables(), reason="the int4 GEMV's own layout is AVX-512 VNNI's")
def test_int4_gemv_layout_is_read_in_place(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    feeds = _model(src, int4=True)
    _, want = _run(src, feeds)
    prepack(src, dst, targets="avx512-vnni")
    s, got = _run(dst, feeds, kernels="avx512-vnni")
    np.testing.assert_array_equal(got, want) if _core.isa() == "avx512-vnni" else \
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    q4 = [d for d in s.describe() if d["op_type"] == "Gemm" and "i4" in d["kernel"]]
    assert q4 and q4[0]["prepacked_bytes"] > 0, q4


def test_a_layout_of_the_wrong_size_is_not_read(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    feeds = _model(src)
    _, want = _run(src, feeds)
    model = _core.Model(str(src))
    forms = {}
    for ti, param, key, data in model.packed_forms([_core.isa()]):
        forms.setdefault(ti, []).append((param, key, data[:-64]))   # right key, short by one cache line
    r = Reader(str(src))
    out, _ = _rewrite(r, r._buf, forms, dict(r.meta["props"]))
    dst.write_bytes(out)
    s, got = _run(dst, feeds)
    np.testing.assert_array_equal(got, want)
    assert s.packing()["from_file"] == 0 and s.packing()["packed_at_load"] >= 4


def test_a_corrupt_layout_is_a_named_error(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    _model(src)
    prepack(src, dst)
    r = Reader(str(dst))
    t = next(t for t in r.tensors if t.name == "fc.w")
    off = t.layouts[0][2].offset + 8
    blob = bytearray(dst.read_bytes())
    blob[off] ^= 0xFF
    dst.write_bytes(bytes(blob))
    with pytest.raises(Exception, match=r"tensor 'fc.w' layout 0: CRC32C mismatch"):
        pyruntime.Session(str(dst))
    with pytest.raises(Exception, match=r"CRC32C mismatch"):
        _core.Model(str(dst)).verify()


def test_unknown_target_and_kernels_are_named(tmp_path):
    src = tmp_path / "m.pyrt"
    _model(src)
    with pytest.raises(ValueError, match=r"target 'neon-nope' is not a kernel table this CPU runs"):
        prepack(src, tmp_path / "p.pyrt", targets="neon-nope")
    assert not (tmp_path / "p.pyrt").exists()
    with pytest.raises(Exception, match=r"kernels 'nope': not a kernel table this CPU runs \(it runs: ref"):
        pyruntime.Session(str(src), kernels="nope")
    w = pyruntime.format.Writer()
    w.add_tensor("t", np.ones((4, 4), np.float32))
    w.save(tmp_path / "tensors.pyrt")
    with pytest.raises(ValueError, match=r"no graph, so no op packs its tensors"):
        prepack(tmp_path / "tensors.pyrt")


def test_cli_pack_and_inspect(tmp_path):
    src, dst = tmp_path / "m.pyrt", tmp_path / "p.pyrt"
    _model(src)
    cli = [sys.executable, "-m", "pyruntime"]
    out = subprocess.run(cli + ["pack", str(src), "-o", str(dst)], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert "pre-packed" in out.stdout and _core.isa() in out.stdout
    out = subprocess.run(cli + ["inspect", str(dst)], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert "weight forms read in place from the file's pre-packed layouts" in out.stdout, out.stdout
    assert "pre-packed forms of" in out.stdout
    out = subprocess.run(cli + ["pack", str(dst), "--strip"], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert dst.read_bytes() == src.read_bytes()
    out = subprocess.run(cli + ["pack", str(src), "--target", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "target 'nope'" in out.stderr


def test_export_target_host(tmp_path):
    torch = pytest.importorskip("torch")
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8)).eval()
    x = torch.randn(2, 16)
    n = pyruntime.export(m, (x,), tmp_path / "a.pyrt")
    n2 = pyruntime.export(m, (x,), tmp_path / "b.pyrt", target="host")
    assert n2 == (tmp_path / "b.pyrt").stat().st_size > n
    s = pyruntime.Session(str(tmp_path / "b.pyrt"))
    got = s.run([x.numpy()])[0]
    np.testing.assert_allclose(got, m(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    assert s.packing()["from_file"] == 2 and s.packing()["packed_at_load"] == 0


def test_garbage_in_a_well_formed_layout_does_not_crash(tmp_path):
    """Stored forms hold weights, column sums and scales, no offsets (the one layout with offsets, the AVX-512
    spmv's, is never taken from a file): random bytes of the right size with a valid CRC give wrong numbers or
    none (int8 column sums out of reach: packed at load instead), never a crash. Run in a child process."""
    rng = np.random.default_rng(3)
    for build in (_model, _int8_model):
        src, dst = tmp_path / "m.pyrt", tmp_path / "g.pyrt"
        feeds = build(src) if build is _int8_model else _model(src, int4=True)
        forms = {}
        for ti, param, key, data in _core.Model(str(src)).packed_forms([_core.isa()]):
            forms.setdefault(ti, []).append((param, key, rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()))
        r = Reader(str(src))
        dst.write_bytes(_rewrite(r, r._buf, forms, dict(r.meta["props"]))[0])
        np.save(tmp_path / "x.npy", feeds["x"])
        code = ("import numpy as np, pyruntime; s = pyruntime.Session(%r); s.run(np.load(%r)); print('ran')"
                % (str(dst), str(tmp_path / "x.npy")))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
        assert out.returncode == 0 and "ran" in out.stdout, (build.__name__, out.returncode, out.stderr[-2000:])
