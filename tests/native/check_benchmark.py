"""ctest benchmark_json: runs pyrt_benchmark --output=json (and csv, text) on a model and checks the documented
fields (csrc/tools/pyrt_benchmark.cc) and their consistency; with a decoder (a KV cache), its prefill / decode
figures too.   check_benchmark.py PYRT_BENCHMARK MODEL [DECODER]"""
import json
import subprocess
import sys

exe, model = sys.argv[1], sys.argv[2]
decoder = sys.argv[3] if len(sys.argv) > 3 else None
GEN = ("max_context", "prompt_tokens", "gen_tokens", "generate_runs", "prefill_ms", "prefill_tokens_per_s", "decode_ms",
       "decode_ms_per_token", "decode_tokens_per_s")


def run(*flags, graph=None):
    return subprocess.run([exe, f"--graph={graph or model}", "--num_runs=20", "--warmup_runs=2", *flags], check=True,
                          capture_output=True, text=True).stdout


r = json.loads(run("--output=json", "--enable_op_profiling=true", "--num_threads=1", "--input_layer_shape=3,16"))
for k in ("model", "abi_version", "version", "isa", "threads", "init_ms", "first_run_ms", "runs", "avg_ms", "min_ms",
          "max_ms", "p50_ms", "p90_ms", "p99_ms", "peak_rss_kb", "arena_bytes", "inputs", "ops"):
    assert k in r, k
assert r["runs"] == 20 and r["threads"] == 1 and r["abi_version"] >= 1
assert r["max_context"] == 0 and all(r[k] is None for k in GEN[1:]), r  # not a decoder
assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"], r
assert r["min_ms"] <= r["avg_ms"] <= r["max_ms"] and r["peak_rss_kb"] > 0
assert r["inputs"] == [{"name": "x", "dtype": "f32", "shape": [3, 16]}], r["inputs"]
assert [o["op"] for o in r["ops"]] == ["Gemm", "Relu"] and all(o["kernel"] for o in r["ops"])
assert abs(r["ops"][-1]["cdf_percent"] - 100) < 0.01 and abs(sum(o["percent"] for o in r["ops"]) - 100) < 0.01
ref = json.loads(run("--output=json", "--force_reference=true"))
assert ref["isa"] == "ref" and ref["ops"] == []
head, row = run("--output=csv").strip().splitlines()
csv = dict(zip(head.split(","), row.split(",")))
assert csv["runs"] == "20" and csv["max_context"] == "0" and csv["decode_tokens_per_s"] == "", csv
text = run("--enable_op_profiling=true")
assert "isa: " in text and "p99" in text and "Gemm" in text
bad = subprocess.run([exe, "--graph=/no/such/model.pyrt"], capture_output=True, text=True)
assert bad.returncode == 1 and "model.pyrt" in bad.stderr, bad.stderr
bad = subprocess.run([exe, f"--graph={model}", "--bogus=1"], capture_output=True, text=True)
assert bad.returncode == 2 and "unknown flag --bogus" in bad.stderr
if decoder:
    d = json.loads(run("--output=json", "--num_threads=1", "--prompt_tokens=6", "--gen_tokens=9", graph=decoder))
    assert d["max_context"] == 16 and d["prompt_tokens"] == 6 and d["gen_tokens"] == 9 and d["generate_runs"] == 20, d
    assert d["runs"] == 20 and d["min_ms"] > 0  # the plain runs: the state reset before each, so none overflows
    assert d["prefill_ms"] > 0 and abs(d["prefill_tokens_per_s"] - 6e3 / d["prefill_ms"]) <= 1e-2 * d["prefill_tokens_per_s"]
    assert d["decode_ms"] > 0 and abs(d["decode_ms_per_token"] - d["decode_ms"] / 9) <= 1e-5
    assert abs(d["decode_tokens_per_s"] - 9e3 / d["decode_ms"]) <= 1e-2 * d["decode_tokens_per_s"], d
    assert [i["name"] for i in d["inputs"]] == ["input_ids", "position_ids"]
    dflt = json.loads(run("--output=json", graph=decoder))  # defaults 128 / 64 shrunk to the context of 16
    assert dflt["prompt_tokens"] == 8 and dflt["gen_tokens"] == 8 and dflt["decode_tokens_per_s"] > 0, dflt
    row = dict(zip(*[line.split(",") for line in run("--output=csv", "--gen_tokens=4", graph=decoder).strip().splitlines()]))
    assert row["max_context"] == "16" and row["prompt_tokens"] == "12" and row["gen_tokens"] == "4", row
    assert float(row["prefill_tokens_per_s"]) > 0 and float(row["decode_tokens_per_s"]) > 0
    text = run("--prompt_tokens=5", "--gen_tokens=3", graph=decoder)
    assert "pp5: " in text and "tg3: " in text and "tokens/s" in text and "ms/token" in text, text
    bad = subprocess.run([exe, f"--graph={decoder}", "--prompt_tokens=10", "--gen_tokens=7"], capture_output=True, text=True)
    assert bad.returncode == 2 and "exceeds the model's context of 16" in bad.stderr, bad.stderr
print("pyrt_benchmark: json / csv / text outputs and errors as documented" + (", decoder figures" if decoder else ""))
