"""`pyruntime inspect` prints a correct table for a file with every encoding; `pyruntime demo` runs."""
import os
import re
import subprocess
import sys

import numpy as np

import pyruntime
from pyruntime.cli import demo_writer, inspect_table, main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pyruntime", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(pyruntime.__file__)))


def test_inspect_table_every_encoding(tmp_path, capsys):
    w, src = demo_writer()
    w.add_tensor("ids", np.arange(10, dtype=np.int64))
    p = tmp_path / "all.pyrt"
    w.save(p)
    assert main(["inspect", str(p), "--verify"]) == 0
    out = capsys.readouterr().out
    m = pyruntime.load(p)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("fc.", "ids", "total"))}
    assert set(rows) == {t.name for t in m.tensors} | {"total"}
    for t in m.tensors:
        r = rows[t.name]
        assert r[1] == "x".join(map(str, t.shape)) and r[2] == t.dtype and r[3] == t.encoding
        nbytes = int(r[-3].replace(",", ""))
        assert nbytes == t.nbytes
        if t.dtype == "f32":
            assert r[-1] == f"{4 * t.numel / t.nbytes:.2f}x"
    # sparsity: fraction of zeros in the decoded tensor; '-' for non-float tensors
    for name in ("fc.csr90.f32", "fc.csr90.i8", "fc.csr90.i4"):
        zeros = 1 - np.count_nonzero(m.tensor(name)) / m.entry(name).numel
        assert rows[name][-2] == f"{100 * zeros:.1f}%" and abs(zeros - 0.9) < 0.01
    assert rows["fc.f32"][-2] == "0.0%" and rows["ids"][-2] == "-"
    total = sum(t.nbytes for t in m.tensors)
    assert int(rows["total"][3].replace(",", "")) == total
    # encodings and their parameters are named
    assert re.search(r"fc\.i4\s+256x512\s+f32\s+i4 g=32 f16", out)
    assert re.search(r"fc\.csr90\.i8 .* csr 1x1 i8 u16", out)
    assert "required features: CSR, INT4, LUT, F16" in out
    assert src["base"].shape == (256, 512)


def test_inspect_bad_file_message(tmp_path):
    p = tmp_path / "bad.pyrt"
    p.write_bytes(b"PYRT" + b"\0" * 100)
    r = run_cli("inspect", str(p))
    assert r.returncode == 2 and "invalid model file" in r.stderr and "magic" in r.stderr
    r = run_cli("inspect", str(tmp_path / "missing.pyrt"))
    assert r.returncode == 2 and "No such file" in r.stderr


def test_demo_runs(tmp_path):
    r = run_cli("demo", "--format-only", "-o", str(tmp_path / "d.pyrt"))
    assert r.returncode == 0, r.stderr
    assert "fc.csr90.i4" in r.stdout and "total" in r.stdout


def test_inspect_table_function(tmp_path):
    w, _ = demo_writer()
    p = tmp_path / "d.pyrt"
    w.save(p)
    assert "fc.lut16" in inspect_table(pyruntime.load(p))


def test_progress_bar_on_a_terminal_and_lines_elsewhere():
    """The export progress: redrawn in place on a TTY (ending with a newline), one line per step in logs."""
    import io
    from pyruntime.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        with Progress(3, "export", stream=stream) as bar:
            for label in ("imported", "fold_constants", "wrote m.pyrt"):
                bar.step(label)
    assert tty.getvalue().count("\r") == 3 and tty.getvalue().endswith("\n") and "[" + "#" * 24 + "] 3/3" in tty.getvalue()
    assert log.getvalue().splitlines()[1].startswith("[pyruntime] export 2/3 fold_constants")
    quiet = io.StringIO()
    with Progress(3, "export", enabled=False, stream=quiet) as bar:
        bar.step("x")
    assert quiet.getvalue() == ""
    broken = Tty()
    with Progress(5, "export", stream=broken) as bar:   # an error after 1 of 5 steps still ends the line
        bar.step("one")
    assert broken.getvalue().endswith("\n")


def test_export_and_run_commands(tmp_path):
    """`pyruntime export` (ONNX file and module:factory) shows its steps and writes a runnable file; --nchw keeps
    the convolutions in NCHW; `pyruntime run` prints outputs and timing."""
    import torch
    (tmp_path / "tinynet.py").write_text(
        "import torch.nn as nn\n"
        "def make():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),\n"
        "                         nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()\n")
    import importlib.util
    spec = importlib.util.spec_from_file_location("tinynet", tmp_path / "tinynet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    onnx_path = tmp_path / "tiny.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(mod.make(), (torch.randn(1, 3, 16, 16),), str(onnx_path), dynamo=False, opset_version=17)
    kinds = {}
    for flag in ([], ["--nchw"]):
        out = tmp_path / f"tiny{len(flag)}.pyrt"
        r = run_cli("export", str(onnx_path), "-o", str(out), *flag)
        assert r.returncode == 0, r.stderr
        assert "[pyruntime] export 1/" in r.stderr and "fold_batchnorm" in r.stderr and "wrote" in r.stderr
        kinds[bool(flag)] = [d["kernel"] for d in pyruntime.Session(str(out)).describe()]
    assert any("nhwc" in k for k in kinds[False]) and not any("nhwc" in k for k in kinds[True])
    r = subprocess.run([sys.executable, "-m", "pyruntime", "export", "tinynet:make", "--input-shape", "1,3,16,16",
                        "-o", str(tmp_path / "t.pyrt")], capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "traced with torch.onnx.export" in r.stderr
    r = run_cli("run", str(tmp_path / "t.pyrt"), "--runs", "3")
    assert r.returncode == 0, r.stderr
    assert "ms" in r.stdout
    # compression flags, the sensitivity report, and inspect's bits per value
    q = tmp_path / "q.pyrt"
    r = run_cli("export", str(onnx_path), "-o", str(q), "--quantize", "int8-weights", "--report")
    assert r.returncode == 0, r.stderr
    assert "per-layer sensitivity" in r.stdout and "max abs err" in r.stdout and " i8 " in r.stdout
    r = run_cli("inspect", str(q))
    assert re.search(r"\bi8 axis=0\s+\d+\.\d\d\s", r.stdout) and "bits/value" in r.stdout, r.stdout
    r = run_cli("export", str(onnx_path), "-o", str(q), "--quantize", "int8")
    assert r.returncode != 0 and "needs calibration data" in r.stderr
    # static int8 from a .npy of calibration inputs: the whole graph's error and the per-layer table, then
    # inspect's int8 layer table (scales, zero points)
    import numpy as np
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).standard_normal((4, 3, 16, 16)).astype(np.float32))
    r = run_cli("export", str(onnx_path), "-o", str(q), "--quantize", "int8", "--calibration", str(tmp_path / "cal.npy"),
                "--calibration-method", "percentile", "--report")
    assert r.returncode == 0, r.stderr
    assert "int8 graph: max abs error" in r.stdout and "QLinearConv" in r.stdout and "calibrated" in r.stderr
    r = run_cli("inspect", str(q))
    assert "int8 layers" in r.stdout and re.search(r"QLinearConv\s+8x3x3x3\s+8\s", r.stdout), r.stdout
    assert "QGemm" in r.stdout
    # pruning from the shell: 2:4 stored csr
    r = run_cli("export", str(onnx_path), "-o", str(q), "--prune", "0.5", "--prune-structure", "2:4", "--sparse", "always")
    assert r.returncode == 0, r.stderr
    assert "pruned to 50% (2:4)" in r.stderr
    assert re.search(r"\bcsr\b", run_cli("inspect", str(q)).stdout)


def test_inspect_session_table_resident_bytes(tmp_path):
    """`pyruntime inspect` reports, per node with weights, the kernel a session on this CPU runs and the bytes it
    holds: int8-weights Linear layers keep about their stored bytes (the int8 panels), not a 4x f32 copy; a
    session that cannot be made leaves the other tables and says why."""
    import warnings
    import torch
    from pyruntime.cli import session_table
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128)).eval()
    onnx_path = tmp_path / "mlp.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.randn(4, 512),), str(onnx_path), dynamo=False, opset_version=17)
    ratios = {}
    for mode in ("fp32", "int8-weights"):
        p = tmp_path / f"{mode}.pyrt"
        pyruntime.export_onnx(str(onnx_path), str(p), **({} if mode == "fp32" else {"quantize": mode}))
        r = run_cli("inspect", str(p))
        assert r.returncode == 0, r.stderr
        assert "in a session on this CPU" in r.stdout, r.stdout
        total = [ln for ln in r.stdout.splitlines() if ln.startswith("total") and "nodes" in ln][-1]
        rest, held = (int(v.replace(",", "")) for v in total.split()[-3:-1])
        ratios[mode] = held / rest
        if mode == "int8-weights":
            assert "i8w" in r.stdout, r.stdout
    assert 0.9 < ratios["int8-weights"] < 1.3, ratios  # int8 panels + column sums, not f32
    assert 0.9 < ratios["fp32"] < 1.3, ratios
    bad = tmp_path / "bad.pyrt"
    w = pyruntime.format.Writer()
    w.add_tensor("t", np.zeros(4, np.float32))
    w.save(str(bad))
    assert session_table(pyruntime.load(str(bad))) == ""  # no graph: no session table
