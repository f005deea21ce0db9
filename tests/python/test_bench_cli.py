"""`pyruntime bench`: our figures beside ONNX Runtime and PyTorch on the source model, on the same inputs (outputs
compared), JSON and a PNG chart; clear errors for bad arguments; a failing peer costs only its column."""
import json
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

from pyruntime import _core

NET = ("import torch, torch.nn as nn\n"
       "def make():\n"
       "    torch.manual_seed(0)\n"
       "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1),\n"
       "                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5)).eval()\n"
       "def broken():\n"
       "    raise RuntimeError('this factory is broken on purpose')\n")


def cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pyruntime", *args], capture_output=True, text=True,
                          cwd=str(tmp_path))


@pytest.fixture
def model(tmp_path):
    (tmp_path / "benchnet.py").write_text(NET)
    r = cli(tmp_path, "export", "benchnet:make", "--input-shape", "1,3,24,24", "-o", "m.pyrt")
    assert r.returncode == 0, r.stderr
    return tmp_path / "m.pyrt"


def png_size(path):
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and blob[12:16] == b"IHDR"
    return struct.unpack(">II", blob[16:24])


def test_bench_compares_peers_on_the_same_inputs(tmp_path, model):
    r = cli(tmp_path, "bench", "m.pyrt", "--compare", "onnxruntime,torch", "--torch", "benchnet:make",
            "--runs", "5", "--threads", "1", "--profile", "--json", "r.json", "--chart", "c.png")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [x["runtime"] for x in rep["results"]] == ["pyruntime", "onnxruntime", "torch"]
    assert rep["threads"] == 1 and rep["inputs"] == [dict(name="input", dtype="float32", shape=[1, 3, 24, 24])]
    for x in rep["results"]:
        assert "error" not in x, x
        assert x["runs"] == 5 and x["threads"] == 1
        assert 0 < x["min_ms"] <= x["p50_ms"] <= x["p90_ms"] <= x["p99_ms"] <= x["max_ms"]
        assert x["min_ms"] <= x["avg_ms"] <= x["max_ms"] and x["init_ms"] > 0 and x["first_run_ms"] > 0
        assert x["peak_rss_kb"] > 10_000                   # a Python process with numpy: tens of MiB at least
        assert x["max_abs_diff"] < 1e-4                     # the same model on the same inputs (fp32)
    ours = rep["results"][0]
    assert ours["isa"] in _core.kernel_tables() + ["ref"] and ours["arena_bytes"] > 0
    assert ours["file_bytes"] == (tmp_path / "m.pyrt").stat().st_size and rep["results"][2].get("file_bytes") is None
    rss_row = next(line for line in r.stdout.splitlines() if line.startswith("RSS growth / model file"))
    assert rss_row.split()[-1] == "-" and rss_row.split()[5].endswith("x")   # torch loads no file; ours does
    ops = ours["ops"]
    assert {o["op"] for o in ops} >= {"Conv", "Gemm"} and all(o["kernel"] for o in ops)
    assert abs(ops[-1]["cdf_percent"] - 100) < 1e-6 and abs(sum(o["percent"] for o in ops) - 100) < 1e-6
    # the text table: a column per runtime, our speed against each, then the per-node table
    head = r.stdout.splitlines()[1]
    assert "pyruntime" in head and "onnxruntime" in head and "torch" in head
    assert "ours vs this (p50)" in r.stdout and "max |out - ours|" in r.stdout and "kernel" in r.stdout
    assert png_size(tmp_path / "c.png") == (1200, 380)


def test_bench_onnx_source_and_json_output(tmp_path, model):
    """--onnx gives onnxruntime the source file; --output json prints the report; the chart defaults to
    MODEL.bench.png; given inputs are used as they are."""
    import torch
    sys.path.insert(0, str(tmp_path))
    try:
        import benchnet
    finally:
        sys.path.remove(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(benchnet.make(), (torch.randn(1, 3, 24, 24),), str(tmp_path / "src.onnx"), dynamo=False,
                          input_names=["input"], opset_version=17)
    x = np.full((1, 3, 24, 24), 0.5, np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli(tmp_path, "bench", "m.pyrt", "--compare", "onnxruntime", "--onnx", "src.onnx", "--runs", "3",
            "--input", "input=x.npy", "--output", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert [x["runtime"] for x in rep["results"]] == ["pyruntime", "onnxruntime"]
    assert rep["results"][1]["max_abs_diff"] < 1e-4
    assert (tmp_path / "m.bench.png").exists()


def test_bench_errors(tmp_path, model):
    cases = [
        (["--compare", "tflite"], "unknown runtime tflite"),
        (["--compare", "torch"], "--compare torch needs the source model"),
        (["--compare", "onnxruntime"], "--compare onnxruntime needs the source model"),
        (["--compare", "onnxruntime", "--onnx", "nope.onnx"], "no such ONNX file: nope.onnx"),
        (["--input", "image=x.npy"], "No such file or directory"),
        (["--input-shape", "input:1,3,24"], "does not fit the model's"),
        (["--runs", "0"], "--runs >= 1"),
    ]
    for extra, msg in cases:
        r = cli(tmp_path, "bench", "m.pyrt", "--no-chart", *extra)
        assert r.returncode == 2 and msg in r.stderr, (extra, r.stderr)
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 24, 24), np.float32))
    r = cli(tmp_path, "bench", "m.pyrt", "--no-chart", "--input", "image=x.npy")
    assert r.returncode == 2 and "'image'" in r.stderr and "not inputs of the model" in r.stderr
    r = cli(tmp_path, "bench", "missing.pyrt")
    assert r.returncode == 2 and "no such model file: missing.pyrt" in r.stderr
    (tmp_path / "bad.pyrt").write_bytes(b"PYRT" + b"\0" * 60)
    r = cli(tmp_path, "bench", "bad.pyrt")
    assert r.returncode == 2 and "invalid model file" in r.stderr
    # a peer that fails: its error is printed, ours and the others still are, the exit status says so
    r = cli(tmp_path, "bench", "m.pyrt", "--no-chart", "--runs", "2", "--compare", "torch", "--torch",
            "benchnet:broken")
    assert r.returncode == 1
    assert "torch: failed: RuntimeError: this factory is broken on purpose" in r.stdout and "p50 (ms)" in r.stdout


def test_bench_runs_a_decoder_from_an_empty_cache_each_time(tmp_path):
    torch = pytest.importorskip("torch")
    from pyruntime.exporters.gpt import GPT, GPTConfig, export_gpt
    torch.manual_seed(0)
    export_gpt(GPT(GPTConfig(vocab_size=16, n_layer=1, n_head=2, n_embd=16, block_size=8)), tmp_path / "g.pyrt")
    # 30 runs of a 1-token prompt into an 8-token cache: each run must start a new sequence
    r = cli(tmp_path, "bench", "g.pyrt", "--runs", "30", "--output", "json", "--chart", "none")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"][0]["runs"] == 30


def test_run_bench_and_pyrt_benchmark_feed_the_same_random_inputs(tmp_path):
    """One maker (pyrt_model_random_input): test_capi.cc pins the same token ids for tiny_gpt and seed 0, so
    `pyruntime bench` / `run` and pyrt_benchmark time the same inputs; token ids stay below the vocabulary."""
    import os
    from pyruntime.benchmark import random_inputs
    data = os.path.join(os.path.dirname(__file__), "..", "native", "data")
    feeds = random_inputs(os.path.join(data, "tiny_gpt.pyrt"), shapes={"input_ids": [1, 8], "position_ids": [1, 8]})
    assert feeds["input_ids"].tolist() == [[8, 28, 11, 0, 28, 7, 12, 20]]
    assert feeds["position_ids"].tolist() == [list(range(8))]
    x = random_inputs(os.path.join(data, "attention_only.pyrt"), batch=5)["x"]
    assert x.dtype == np.float32 and x.shape == (1, 5, 12) and -1 <= x.min() and x.max() < 1
    np.testing.assert_array_equal(x, random_inputs(os.path.join(data, "attention_only.pyrt"), batch=5)["x"])
    # `run` on a decoder: in-vocabulary ids [12, 12], the cache reset before each run (11 runs of 12 tokens, 16 fit)
    r = cli(tmp_path, "run", os.path.abspath(os.path.join(data, "tiny_gpt.pyrt")), "--batch", "12")
    assert r.returncode == 0 and "logits: shape (12, 1, 32)" in r.stdout, r.stderr
