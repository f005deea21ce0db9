#!/usr/bin/env python3
"""A small Llama-shaped language model against llama.cpp and ONNX Runtime, llama-bench style, on the same weights:
prompt tokens/s (pp128), generation tokens/s (tg64) and peak RSS, at 1 and 2 threads.

    python3 bench/llm_decode.py [--no-write] [--rounds 3] [--reps 5] [--threads 1,2] [--llama-dir DIR] [--quick]

The model: SmolLM-135M's shapes (Llama: 30 layers, 576 wide, 9 query heads and 3 key/value heads of 64, SwiGLU
1536 wide, vocabulary 49152, head tied to the embedding; 135M parameters), random weights (seed 0), written once
as a GGUF whose every matrix is Q4_0 (the gguf package's quantizer, llama.cpp's own rounding; q and k rows
permuted as llama.cpp's converter writes them). llama.cpp runs that file; `pyruntime convert` turns it into a
.pyrt holding the same values bit for bit (i4, groups of 32, the Q4_0 scales), which pyruntime runs. Both engines
multiply int4 weights by int8-quantized activations, per block of 32.
 - llama.cpp: `llama-bench -m model.gguf -p 128 -n 64 -r R -t T -o json` (avg tokens/s of R repetitions after a
   warm-up; tg feeds one random token per step), built once by this script from the llama.cpp that the
   llama-cpp-python sdist vendors (CMake, Release, GGML_NATIVE, -DGGML_AMX_INT8=OFF: its AMX path crashes on
   prompts of 16 tokens or more; ~15 min on 2 cores) under --llama-dir (default ~/.cache/pyruntime/llama.cpp).
   Not run in CI.
 - pyruntime: the same tests in a worker process: pp = one Session.run over a 128-token prompt from an empty
   cache, tg = 64 one-token runs from an empty cache (random tokens), R repetitions averaged after a warm-up.
 - ONNX Runtime: the same model as a plain ONNX graph (opset 17: RMSNorm, rotary, grouped-query attention by
   broadcasting, past / present keys and values fed back as OrtValues) of the GGUF's dequantized weights, every
   MatMul then quantized by ORT's MatMulNBitsQuantizer (blocks of 32, symmetric, accuracy level 4: int8
   activations), so its int4 values are ORT's own rounding of the Q4_0 values; the same worker as pyruntime's.
 - RSS: the peak resident set (VmHWM) of each engine's process, weights mapped from the file included.
Rounds alternate the engines; each figure is the best round. The section "## Small LLM against llama.cpp and
ONNX Runtime" of bench/RESULTS.md is replaced with the results.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = dict(layers=30, d=576, heads=9, kv=3, ff=1536, vocab=49152)          # SmolLM-135M
QUICK = dict(layers=2, d=128, heads=4, kv=2, ff=256, vocab=1024)

WORKER = r'''
import json, sys, time
import numpy as np
engine, path, threads, spec = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
hwm = lambda: [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
if engine == "pyruntime":
    import pyruntime
else:
    import onnxruntime
base = hwm()   # the interpreter, numpy and the engine's module, before the model
rng = np.random.default_rng(7)
prompt = rng.integers(0, spec["vocab"], spec["pp"]).astype(np.int64)
steps = rng.integers(0, spec["vocab"], spec["tg"]).astype(np.int64)


class Pyrt:
    def __init__(self):
        import pyruntime
        self.s = pyruntime.Session(path, num_threads=threads)

    def reset(self):
        self.s.reset_state()

    def run(self, ids):
        return self.s.run({"input_ids": ids[None]})[0]


class Ort:   # the graph of onnx_llama(): past / present keys and values per layer, fed back as OrtValues
    def __init__(self):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
        self.ort = ort
        self.s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])

    def reset(self):
        empty = np.zeros((1, spec["kv"], 0, spec["hd"]), np.float32)
        self.past = [self.ort.OrtValue.ortvalue_from_numpy(empty) for _ in range(2 * spec["layers"])]
        self.pos = 0

    def run(self, ids):
        b = self.s.io_binding()
        t, p = len(ids), self.pos
        b.bind_cpu_input("input_ids", ids[None])
        b.bind_cpu_input("position_ids", np.arange(p, p + t, dtype=np.int64)[None])
        b.bind_cpu_input("attn_bias", np.triu(np.full((t, p + t), -np.inf, np.float32), p + 1))
        for i, v in enumerate(self.past):
            b.bind_ortvalue_input(f"past_{i}", v)
        b.bind_output("logits")
        for i in range(len(self.past)):
            b.bind_output(f"present_{i}")
        self.s.run_with_iobinding(b)
        outs = b.get_outputs()
        self.past, self.pos = outs[1:], p + t
        return outs[0]


e = {"pyruntime": Pyrt, "onnxruntime": Ort}[engine]()


def pp():
    e.reset()
    t = time.perf_counter()
    e.run(prompt)
    return spec["pp"] / (time.perf_counter() - t)


def tg():
    e.reset()
    t = time.perf_counter()
    for tok in steps:
        e.run(np.array([tok], np.int64))
    return spec["tg"] / (time.perf_counter() - t)


pp(), tg()   # warm-up, as llama-bench makes one
out = {"pp": float(np.mean([pp() for _ in range(spec["reps"])])),
       "tg": float(np.mean([tg() for _ in range(spec["reps"])]))}
out["rss"], out["base"] = hwm(), base
print(json.dumps(out))
'''


def make_gguf(path: str, sh: dict):
    """The model as a GGUF: Q4_0 matrices, F32 norms, a placeholder byte-level vocabulary (llama-bench feeds
    token ids; llama.cpp needs a vocabulary to load)."""
    import gguf
    Q = gguf.GGMLQuantizationType
    rng = np.random.default_rng(0)
    L, d, H, KV, ff, V = sh["layers"], sh["d"], sh["heads"], sh["kv"], sh["ff"], sh["vocab"]
    hd = d // H
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("llm-decode-bench")
    w.add_context_length(2048)
    w.add_embedding_length(d)
    w.add_block_count(L)
    w.add_feed_forward_length(ff)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(V)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    byte_chars = [chr(c) for c in range(33, 127)] + [chr(c) for c in range(161, 173)] + \
                 [chr(c) for c in range(174, 256)]
    byte_chars += [chr(256 + i) for i in range(256 - len(byte_chars))]
    tokens = byte_chars + [f"<t{i}>" for i in range(V - len(byte_chars))]
    w.add_token_list(tokens)
    w.add_token_types([1] * V)
    w.add_token_merges([f"{tokens[0]} {tokens[1]}"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def mat(rows, cols, std=0.02):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(std))

    def permute(a, heads):   # llama.cpp's convert_hf_to_gguf row order for q / k
        return a.reshape(heads, 2, a.shape[0] // heads // 2, a.shape[1]).swapaxes(1, 2).reshape(a.shape)

    def q4(name, a):
        w.add_tensor(name, gguf.quants.quantize(a, Q.Q4_0), raw_dtype=Q.Q4_0)

    q4("token_embd.weight", mat(V, d))
    w.add_tensor("output_norm.weight", (1 + 0.1 * rng.standard_normal(d)).astype(np.float32))
    for i in range(L):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(d)).astype(np.float32))
        w.add_tensor(b + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(d)).astype(np.float32))
        q4(b + "attn_q.weight", permute(mat(H * hd, d), H))
        q4(b + "attn_k.weight", permute(mat(KV * hd, d), KV))
        q4(b + "attn_v.weight", mat(KV * hd, d))
        q4(b + "attn_output.weight", mat(d, H * hd))
        q4(b + "ffn_gate.weight", mat(ff, d))
        q4(b + "ffn_up.weight", mat(ff, d))
        q4(b + "ffn_down.weight", mat(d, ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_bench(llama_dir: str) -> str:
    """Path of llama-bench, built once under llama_dir from the llama-cpp-python sdist's vendored llama.cpp."""
    exe = os.path.join(llama_dir, "build", "bin", "llama-bench")
    if os.path.exists(exe):
        return exe
    os.makedirs(llama_dir, exist_ok=True)
    sdists = sorted(glob.glob(os.path.join(llama_dir, "llama_cpp_python-*.tar.gz")))
    if not sdists:
        print("downloading the llama-cpp-python sdist (it vendors llama.cpp)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "llama-cpp-python", "--no-binary", ":all:",
                        "--no-deps", "-d", llama_dir], check=True)
        sdists = sorted(glob.glob(os.path.join(llama_dir, "llama_cpp_python-*.tar.gz")))
    src = os.path.join(llama_dir, "src")
    if not os.path.isdir(src):
        with tarfile.open(sdists[-1]) as t:
            root = t.getnames()[0].split("/")[0]
            members = [m for m in t.getmembers() if m.name.startswith(f"{root}/vendor/llama.cpp/")]
            for m in members:
                m.name = m.name[len(f"{root}/vendor/llama.cpp/"):]
            t.extractall(src, members=[m for m in members if m.name], filter="data")
    build = os.path.join(llama_dir, "build")
    print("building llama-bench (about 15 minutes on 2 cores)", file=sys.stderr, flush=True)
    for cmd in (["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON",
                 "-DGGML_AMX_INT8=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DBUILD_SHARED_LIBS=OFF"],
                ["cmake", "--build", build, "--target", "llama-bench", "-j", str(os.cpu_count() or 2)]):
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise RuntimeError(f"building llama.cpp failed ({' '.join(cmd[:2])}): {r.stderr[-3000:]}")
    return exe


def _peak_rss_of(cmd) -> tuple[str, int]:
    """(stdout, the process's peak RSS in bytes): its VmHWM, read every 20 ms while it runs (ru_maxrss would carry
    the forking parent's high-water mark across exec)."""
    import threading
    import time
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll():
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            except OSError:
                pass
            time.sleep(0.02)
    t = threading.Thread(target=poll)
    t.start()
    out, err = p.communicate()
    t.join()
    if p.returncode:
        raise RuntimeError(f"{cmd[0]} failed: {err[-2000:]}")
    return out, peak[0]


def run_llama(exe, gguf_path, threads, spec):
    out, rss = _peak_rss_of([exe, "-m", gguf_path, "-p", str(spec["pp"]), "-n", str(spec["tg"]), "-r",
                             str(spec["reps"]), "-t", str(threads), "-o", "json"])
    res = {"rss": rss}
    for row in json.loads(out[out.index("["):out.rindex("]") + 1]):
        res["pp" if row["n_prompt"] else "tg"] = float(row["avg_ts"])
    return res


def run_worker(engine, path, threads, spec):
    env = dict(os.environ, PYTHONSAFEPATH="1")
    r = subprocess.run([sys.executable, "-c", WORKER, engine, path, str(threads), json.dumps(spec)],
                       capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if r.returncode:
        raise RuntimeError(f"{engine} worker failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def onnx_llama(src, path):
    """The model as a plain ONNX graph (opset 17) of the GGUF's dequantized weights: RMSNorm, rotary on the
    position ids (rotate-half, tables of cos / sin), grouped-query attention by broadcasting [KV, group] against
    the key/value heads, past / present keys and values per layer, an additive causal bias input, SwiGLU, the
    last token's logits through the tied embedding."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    c = src.config
    d, H, KV, L = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"]
    hd, eps, G = c["head_dim"], c["rms_norm_eps"], H // KV
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(t, ins, name, **attrs):
        nodes.append(helper.make_node(t, ins, [name], name=name, **attrs))
        return name

    def linear(x, name, hf):
        return op("MatMul", [x, const(name + ".wT", src.get(hf).T)], name)

    def rms(x, name, hf):
        ms = op("ReduceMean", [op("Mul", [x, x], name + ".sq")], name + ".ms", axes=[-1], keepdims=1)
        r = op("Sqrt", [op("Add", [ms, "eps"], name + ".eps")], name + ".rms")
        return op("Mul", [op("Div", [x, r], name + ".n"), const(name + ".w", src.get(hf))], name)

    const("eps", np.array(eps, np.float32))
    inv = 1.0 / (float(c["rope_parameters"]["rope_theta"]) ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.arange(4096)[:, None] * inv[None]
    const("cos", np.concatenate([np.cos(ang)] * 2, 1).astype(np.float32))
    const("sin", np.concatenate([np.sin(ang)] * 2, 1).astype(np.float32))
    cos = op("Unsqueeze", [op("Gather", ["cos", "position_ids"], "cos.g"), const("ax1", np.array([1], np.int64))],
             "cos.u")
    sin = op("Unsqueeze", [op("Gather", ["sin", "position_ids"], "sin.g"), "ax1"], "sin.u")
    const("halves", np.array([hd // 2, hd // 2], np.int64))

    def rotary(x, name):
        nodes.append(helper.make_node("Split", [x, "halves"], [name + ".a", name + ".b"], name=name + ".split",
                                      axis=-1))
        rot = op("Concat", [op("Neg", [name + ".b"], name + ".nb"), name + ".a"], name + ".rot", axis=-1)
        return op("Add", [op("Mul", [x, cos], name + ".c"), op("Mul", [rot, sin], name + ".s")], name)

    def heads(x, n, name):   # [1, T, n hd] -> [1, n, T, hd]
        r = op("Reshape", [x, const(name + ".shape", np.array([0, 0, n, hd], np.int64))], name + ".r")
        return op("Transpose", [r], name, perm=[0, 2, 1, 3])

    emb = src.get("model.embed_tokens.weight")
    x = op("Gather", [const("wte", emb), "input_ids"], "embed")
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("attn_bias", TensorProto.FLOAT, ["T", "P_T"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, c["vocab_size"]])]
    const("q5", np.array([1, KV, G, -1, hd], np.int64))
    const("q4", np.array([1, H, -1, hd], np.int64))
    const("merge", np.array([0, 0, H * hd], np.int64))
    const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    const("ax2", np.array([2], np.int64))
    for i in range(L):
        p, A = f"h{i}.", f"model.layers.{i}."
        xn = rms(x, p + "ln1", A + "input_layernorm.weight")
        q = rotary(heads(linear(xn, p + "q", A + "self_attn.q_proj.weight"), H, p + "qh"), p + "qr")
        k = rotary(heads(linear(xn, p + "k", A + "self_attn.k_proj.weight"), KV, p + "kh"), p + "kr")
        v = heads(linear(xn, p + "v", A + "self_attn.v_proj.weight"), KV, p + "vh")
        for j, z in ((2 * i, k), (2 * i + 1, v)):
            inputs.append(helper.make_tensor_value_info(f"past_{j}", TensorProto.FLOAT, [1, KV, "P", hd]))
            outputs.append(helper.make_tensor_value_info(f"present_{j}", TensorProto.FLOAT, [1, KV, "P_T", hd]))
            nodes.append(helper.make_node("Concat", [f"past_{j}", z], [f"present_{j}"], axis=2, name=f"{p}cat{j}"))
        kT = op("Unsqueeze", [op("Transpose", [f"present_{2 * i}"], p + "kT", perm=[0, 1, 3, 2]), "ax2"], p + "kT5")
        vv = op("Unsqueeze", [f"present_{2 * i + 1}", "ax2"], p + "v5")
        s_ = op("MatMul", [op("Reshape", [q, "q5"], p + "q5"), kT], p + "qk")    # [1, KV, G, T, P+T]
        s_ = op("Add", [op("Mul", [s_, "scale"], p + "scaled"), "attn_bias"], p + "masked")
        a = op("Reshape", [op("MatMul", [op("Softmax", [s_], p + "probs", axis=-1), vv], p + "av"), "q4"], p + "a4")
        a = op("Reshape", [op("Transpose", [a], p + "at", perm=[0, 2, 1, 3]), "merge"], p + "merged")
        x = op("Add", [x, linear(a, p + "o", A + "self_attn.o_proj.weight")], p + "res1")
        xn = rms(x, p + "ln2", A + "post_attention_layernorm.weight")
        g = linear(xn, p + "gate", A + "mlp.gate_proj.weight")
        g = op("Mul", [g, op("Sigmoid", [g], p + "sig")], p + "silu")
        f = op("Mul", [g, linear(xn, p + "up", A + "mlp.up_proj.weight")], p + "glu")
        x = op("Add", [x, linear(f, p + "down", A + "mlp.down_proj.weight")], p + "res2")
    last = op("Slice", [x, const("s0", np.array([-1], np.int64)), const("s1", np.array([2**62], np.int64)),
                        const("s2", np.array([1], np.int64))], "last")
    nodes.append(helper.make_node("MatMul", [rms(last, "ln_f", "model.norm.weight"), const("wteT", emb.T)],
                                  ["logits"], name="lm_head"))
    g = helper.make_graph(nodes, "llama_past", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.save(m, path, save_as_external_data=True, location=os.path.basename(path) + ".data")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--llama-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "pyruntime", "llama.cpp"))
    ap.add_argument("--quick", action="store_true", help="a 2-layer model, one round (checks the script)")
    a = ap.parse_args()
    sh = QUICK if a.quick else SHAPES
    spec = {"pp": 128, "tg": 64, "reps": 1 if a.quick else a.reps, "vocab": sh["vocab"], "layers": sh["layers"],
            "kv": sh["kv"], "hd": sh["d"] // sh["heads"]}
    rounds = 1 if a.quick else a.rounds
    threads = [int(t) for t in a.threads.split(",")]
    exe = llama_bench(a.llama_dir)
    d = tempfile.mkdtemp(prefix="llm_decode_")
    files = {e: os.path.join(d, f) for e, f in (("llama.cpp", "model.gguf"), ("pyruntime", "model.pyrt"),
                                                  ("onnxruntime", "model-int4.onnx"))}
    make_gguf(files["llama.cpp"], sh)
    from pyruntime.exporters.gguf import GGUFSource
    from pyruntime.exporters.gpt import export_gpt
    export_gpt(files["llama.cpp"], files["pyruntime"], max_context=256, tokenizer=False)   # (a placeholder vocabulary)
    onnx_llama(GGUFSource(files["llama.cpp"]), os.path.join(d, "model.onnx"))
    from gpt_decode import ort_int4   # ONNX Runtime's own int4: MatMulNBits, blocks of 32, symmetric, int8 activations
    ort_int4(os.path.join(d, "model.onnx"), files["onnxruntime"])
    sizes = {e: sum(os.path.getsize(p) for p in glob.glob(f + "*")) for e, f in files.items()}
    engines = {"llama.cpp": lambda p, t: run_llama(exe, p, t, spec),
               "pyruntime": lambda p, t: run_worker("pyruntime", p, t, spec),
               "onnxruntime": lambda p, t: run_worker("onnxruntime", p, t, spec)}
    best = {}
    for _ in range(rounds):
        for t in threads:
            for eng, fn in engines.items():
                r = fn(files[eng], t)
                b = best.setdefault((eng, t), {"pp": 0.0, "tg": 0.0, "rss": 1 << 62, "base": 0})
                b["pp"], b["tg"], b["rss"] = max(b["pp"], r["pp"]), max(b["tg"], r["tg"]), min(b["rss"], r["rss"])
                b["base"] = r.get("base", 0)
                print(f"# {eng} t={t}: pp {r['pp']:.1f} tg {r['tg']:.1f} tok/s, RSS {r['rss'] / 2**20:.0f} MiB",
                      file=sys.stderr, flush=True)
    sys.path.insert(0, HERE)
    from results import machine
    hd = sh["d"] // sh["heads"]
    n_params = sh["vocab"] * sh["d"] + sh["layers"] * (2 * sh["d"] * sh["d"] + 2 * sh["d"] * sh["kv"] * hd +
                                                        3 * sh["d"] * sh["ff"])
    print("## Small LLM against llama.cpp and ONNX Runtime\n")
    print(f"Command: `python3 bench/llm_decode.py{' --quick' if a.quick else ''} --rounds {rounds} --reps "
          f"{spec['reps']}`  \n{machine()}\n")
    print(f"A Llama-shaped model of {n_params / 1e6:.0f}M parameters ({sh['layers']} layers, {sh['d']} wide, "
          f"{sh['heads']} query / {sh['kv']} key-value heads of {hd}, SwiGLU {sh['ff']}, vocabulary {sh['vocab']}, "
          f"tied head; SmolLM-135M's shapes unless --quick), random weights, every matrix Q4_0. llama.cpp runs the "
          f"GGUF ({sizes['llama.cpp'] / 2**20:.1f} MiB); pyruntime the file `pyruntime convert` makes of it, the same "
          f"int4 values and scales bit for bit ({sizes['pyruntime'] / 2**20:.1f} MiB); ONNX Runtime "
          f"an ONNX graph of the dequantized weights quantized by its MatMulNBits quantizer (blocks of 32, symmetric, "
          f"int8 activations; {sizes['onnxruntime'] / 2**20:.1f} MiB). pp{spec['pp']}: prompt tokens/s; "
          f"tg{spec['tg']}: generated tokens/s, one token per step from an empty cache; each the mean of "
          f"{spec['reps']} repetitions after a warm-up, best of {rounds} alternating rounds, each engine in its own "
          f"process; RSS: that process's peak resident set (mapped weights included).\n")
    print("| threads | test | llama.cpp | ONNX Runtime | pyruntime | pyruntime / llama.cpp | pyruntime / ORT |")
    print("|---|---|---|---|---|---|---|")
    for t in threads:
        lc, ort, us = best[("llama.cpp", t)], best[("onnxruntime", t)], best[("pyruntime", t)]
        for k, unit in (("pp", f"pp{spec['pp']} tok/s"), ("tg", f"tg{spec['tg']} tok/s")):
            print(f"| {t} | {unit} | {lc[k]:.1f} | {ort[k]:.1f} | {us[k]:.1f} | {us[k] / lc[k]:.2f}x | "
                  f"{us[k] / ort[k]:.2f}x |")
        print(f"| {t} | peak RSS MiB (lower is better) | {lc['rss'] / 2**20:.0f} | {ort['rss'] / 2**20:.0f} | "
              f"{us['rss'] / 2**20:.0f} | {us['rss'] / lc['rss']:.2f}x | {us['rss'] / ort['rss']:.2f}x |")
        print(f"| {t} | of it, Python + numpy + the module before the model | - | {ort['base'] / 2**20:.0f} | "
              f"{us['base'] / 2**20:.0f} | | |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    from results import record
    record(main)
