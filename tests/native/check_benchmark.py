"""ctest benchmark_json: runs pyrt_benchmark --output=json (and csv, text) on a model and checks the documented
fields (csrc/tools/pyrt_benchmark.cc) and their consistency.   check_benchmark.py PYRT_BENCHMARK MODEL"""
import json
import subprocess
import sys

exe, model = sys.argv[1], sys.argv[2]


def run(*flags):
    return subprocess.run([exe, f"--graph={model}", "--num_runs=20", "--warmup_runs=2", *flags], check=True,
                          capture_output=True, text=True).stdout


r = json.loads(run("--output=json", "--enable_op_profiling=true", "--num_threads=1", "--input_layer_shape=3,16"))
for k in ("model", "abi_version", "version", "isa", "threads", "init_ms", "first_run_ms", "runs", "avg_ms", "min_ms",
          "max_ms", "p50_ms", "p90_ms", "p99_ms", "peak_rss_kb", "arena_bytes", "inputs", "ops"):
    assert k in r, k
assert r["runs"] == 20 and r["threads"] == 1 and r["abi_version"] >= 1
assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"], r
assert r["min_ms"] <= r["avg_ms"] <= r["max_ms"] and r["peak_rss_kb"] > 0
assert r["inputs"] == [{"name": "x", "dtype": "f32", "shape": [3, 16]}], r["inputs"]
assert [o["op"] for o in r["ops"]] == ["Gemm", "Relu"] and all(o["kernel"] for o in r["ops"])
assert abs(r["ops"][-1]["cdf_percent"] - 100) < 0.01 and abs(sum(o["percent"] for o in r["ops"]) - 100) < 0.01
ref = json.loads(run("--output=json", "--force_reference=true"))
assert ref["isa"] == "ref" and ref["ops"] == []
head, row = run("--output=csv").strip().splitlines()
assert dict(zip(head.split(","), row.split(",")))["runs"] == "20"
text = run("--enable_op_profiling=true")
assert "isa: " in text and "p99" in text and "Gemm" in text
bad = subprocess.run([exe, "--graph=/no/such/model.pyrt"], capture_output=True, text=True)
assert bad.returncode == 1 and "model.pyrt" in bad.stderr, bad.stderr
bad = subprocess.run([exe, f"--graph={model}", "--bogus=1"], capture_output=True, text=True)
assert bad.returncode == 2 and "unknown flag --bogus" in bad.stderr
print("pyrt_benchmark: json / csv / text outputs and errors as documented")
