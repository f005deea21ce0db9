#!/usr/bin/env python3
"""Decoding a GPT, llama-bench style: prefill tokens/s (pp: one run over a prompt) and decode tokens/s (tg: one
token per run, KV cache), pyruntime int4 against PyTorch fp32 and ONNX Runtime (fp32, and int4 MatMulNBits
block 32), all on the same model; the decode step time at 16, 128 and 512 tokens of context; decode bandwidth
against the machine's streaming read bandwidth measured in the same run.

    python3 bench/gpt_decode.py [--no-write] [--threads 2] [--rounds 2] [--quick]

The model: a transformers GPT-2 built from a config with GPT-2's own shapes (random weights, seed 0; no
download): 12 layers, 768 wide, 12 heads, vocabulary 50257, 1024 positions (124M parameters: 498 MB in f32,
far more than the 32 MiB L3).
 - pyruntime: `export_gpt(model, quantize="int4")` with an f32, an f16 and an i8 KV cache (and fp32,
   int8-weights), run as pyruntime.Generator runs them (one Session.run per prefill / per token, the cache
   inside the session).
 - PyTorch: the same transformers model in fp32, `use_cache=True` (past_key_values), inference_mode.
 - ONNX Runtime: the same weights written as an ONNX graph of standard operators with past/present key and
   value inputs/outputs per layer (the cache concatenated in the graph; attention as MatMul/Softmax, not
   ORT's fused contrib Attention), fed back as OrtValues through IOBinding; int4 by `MatMulNBitsQuantizer(block_size=32, is_symmetric=True, accuracy_level=4)`
   on a copy (every MatMul with a constant weight, the LM head included).
Every engine runs in its own process, one after the other, with the same thread count. The section
"## GPT decoding" of bench/RESULTS.md is replaced with the results.
"""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)   # GPT-2's 124M shapes
QUICK = dict(n_layer=2, n_embd=128, n_head=4, vocab_size=512, n_positions=640)

WORKER = r'''
import json, sys, time
import numpy as np
engine, path, threads, spec = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
rng = np.random.default_rng(7)
vocab = spec["vocab"]
prompt = rng.integers(0, vocab, spec["prompt"]).astype(np.int64)


class Pyrt:
    def __init__(self):
        import pyruntime
        self.s = pyruntime.Session(path, num_threads=threads)

    def start(self, ids):          # a new sequence: ids [T]
        self.s.reset_state()
        self.pos = len(ids)
        return self.s.run({"input_ids": ids[None], "position_ids": np.arange(len(ids))[None]})[0][0, -1]

    def step(self, tok):
        out = self.s.run({"input_ids": np.array([[tok]]), "position_ids": np.array([[self.pos]])})[0][0, -1]
        self.pos += 1
        return out


class Torch:
    def __init__(self):
        import torch, transformers
        torch.set_num_threads(threads)
        self.torch = torch
        self.m = transformers.GPT2LMHeadModel.from_pretrained(path).eval()

    def start(self, ids):
        with self.torch.inference_mode():
            # logits of the last token only, as the other engines' graphs compute them
            out = self.m(input_ids=self.torch.from_numpy(ids[None]), use_cache=True, logits_to_keep=1)
        self.past = out.past_key_values
        return out.logits[0, -1].numpy()

    def step(self, tok):
        with self.torch.inference_mode():
            out = self.m(input_ids=self.torch.tensor([[tok]]), past_key_values=self.past, use_cache=True)
        self.past = out.past_key_values
        return out.logits[0, -1].numpy()


class Ort:
    def __init__(self):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
        self.ort = ort
        self.s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
        self.layers, self.heads, self.hd = spec["layers"], spec["heads"], spec["head_dim"]

    def _run(self, ids, start):
        b = self.s.io_binding()
        t = len(ids)
        b.bind_cpu_input("input_ids", ids[None])
        b.bind_cpu_input("position_ids", np.arange(start, start + t, dtype=np.int64)[None])
        bias = np.triu(np.full((t, start + t), -np.inf, np.float32), start + 1)   # causal: key j <= start + i
        b.bind_cpu_input("attn_bias", bias)
        for i in range(self.layers):
            for kv in ("key", "value"):
                b.bind_ortvalue_input(f"past_{kv}_{i}", self.past[f"{kv}_{i}"])
        b.bind_output("logits")
        for i in range(self.layers):
            for kv in ("key", "value"):
                b.bind_output(f"present_{kv}_{i}")
        self.s.run_with_iobinding(b)
        outs = b.get_outputs()
        self.past = {f"{kv}_{i}": outs[1 + 2 * i + j] for i in range(self.layers) for j, kv in enumerate(("key", "value"))}
        self.pos = start + t
        return outs[0].numpy()[0, -1]

    def start(self, ids):
        empty = np.zeros((1, self.heads, 0, self.hd), np.float32)
        self.past = {f"{kv}_{i}": self.ort.OrtValue.ortvalue_from_numpy(empty) for i in range(self.layers)
                     for kv in ("key", "value")}
        return self._run(ids, 0)

    def step(self, tok):
        return self._run(np.array([tok], np.int64), self.pos)


e = {"pyruntime": Pyrt, "torch": Torch, "onnxruntime": Ort}[engine]()
med = lambda xs: float(np.median(xs))


def decode(n_ctx, n):
    """Greedy tokens after a prompt of n_ctx tokens; per-step seconds."""
    logits = e.start(prompt[:n_ctx])
    toks, ts = [], []
    for _ in range(n):
        tok = int(np.argmax(logits))
        toks.append(tok)
        t0 = time.perf_counter()
        logits = e.step(tok)
        ts.append(time.perf_counter() - t0)
    return toks, ts


decode(16, 4)                      # warm-up (plans, packed weights, thread pools)
e.start(prompt[:spec["pp"]])
res = {}
pp = []
for _ in range(spec["reps"]):
    t0 = time.perf_counter(); e.start(prompt[:spec["pp"]]); pp.append(time.perf_counter() - t0)
res["pp_tok_s"] = spec["pp"] / med(pp)
tg = []
for _ in range(spec["reps"]):
    toks, ts = decode(spec["tg_ctx"], spec["tg"])
    tg.append(sum(ts))
res["tg_tok_s"] = spec["tg"] / med(tg)
res["tokens"] = toks
steps, reruns = {c: [] for c in spec["contexts"]}, {c: [] for c in spec["contexts"]}
for _ in range(spec["reps"]):            # the contexts interleaved, so that a noisy moment hits all of them
    for c in spec["contexts"]:
        steps[c].append(med(decode(c, spec["steps"])[1]))
        t0 = time.perf_counter(); e.start(prompt[:c + 1]); reruns[c].append(time.perf_counter() - t0)
res["step_ms"] = {str(c): med(v) * 1e3 for c, v in steps.items()}
res["rerun_ms"] = {str(c): med(v) * 1e3 for c, v in reruns.items()}   # the next token without a cache
print(json.dumps(res))
'''


def onnx_with_past(cfg, w, path):
    """The decoder as a plain ONNX graph (opset 17) with past/present keys and values per layer, learned positions,
    an additive attention bias input, and the last token's logits, from export.gpt's weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    d, h, L = cfg.n_embd, cfg.n_head, cfg.n_layer
    hd = d // h
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(t, ins, name, **attrs):
        nodes.append(helper.make_node(t, ins, [name], name=name, **attrs))
        return name

    def linear(x, p):
        y = op("MatMul", [x, const(p + ".wT", w[p + ".w"].T)], p)
        return op("Add", [y, const(p + ".b", w[p + ".b"])], p + ".bias")

    def ln(x, p):
        return op("LayerNormalization", [x, const(p + ".w", w[p + ".w"]), const(p + ".b", w[p + ".b"])], p,
                  axis=-1, epsilon=float(cfg.eps))

    def gelu(x, p):   # tanh GELU (GPT-2's gelu_new) in opset-17 ops; ORT fuses it
        c = const(p + ".c", np.array(np.sqrt(2 / np.pi), np.float32))
        c3 = const(p + ".c3", np.array(0.044715, np.float32))
        half, one = const(p + ".half", np.array(0.5, np.float32)), const(p + ".one", np.array(1.0, np.float32))
        x3 = op("Mul", [op("Mul", [x, x], p + ".x2"), x], p + ".x3")
        inner = op("Mul", [op("Add", [x, op("Mul", [x3, c3], p + ".k")], p + ".s"), c], p + ".in")
        return op("Mul", [op("Mul", [x, half], p + ".hx"), op("Add", [op("Tanh", [inner], p + ".t"), one], p + ".t1")], p)

    heads_shape = const("heads_shape", np.array([0, 0, h, hd], np.int64))
    merge_shape = const("merge_shape", np.array([0, 0, d], np.int64))
    split = const("split3", np.array([d, d, d], np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(hd), np.float32))
    x = op("Add", [op("Gather", [const("wte", w["wte"]), "input_ids"], "tok"),
                   op("Gather", [const("wpe", w["wpe"]), "position_ids"], "pos")], "embed")
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("attn_bias", TensorProto.FLOAT, ["T", "P_T"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, cfg.vocab_size])]
    for i in range(L):
        p = f"h{i}."
        nodes.append(helper.make_node("Split", [linear(ln(x, p + "ln1"), p + "qkv"), split],
                                      [p + "q", p + "k", p + "v"], name=p + "split", axis=2))
        q, k, v = (op("Transpose", [op("Reshape", [p + z, heads_shape], p + z + ".r")], p + z + ".t",
                      perm=[0, 2, 1, 3]) for z in "qkv")
        for kv, z in (("key", k), ("value", v)):
            inputs.append(helper.make_tensor_value_info(f"past_{kv}_{i}", TensorProto.FLOAT, [1, h, "P", hd]))
            outputs.append(helper.make_tensor_value_info(f"present_{kv}_{i}", TensorProto.FLOAT, [1, h, "P_T", hd]))
            nodes.append(helper.make_node("Concat", [f"past_{kv}_{i}", z], [f"present_{kv}_{i}"], axis=2,
                                          name=f"{p}cat_{kv}"))
        s = op("MatMul", [q, op("Transpose", [f"present_key_{i}"], p + "kT", perm=[0, 1, 3, 2])], p + "qk")
        s = op("Add", [op("Mul", [s, scale], p + "scaled"), "attn_bias"], p + "masked")
        a = op("MatMul", [op("Softmax", [s], p + "probs", axis=-1), f"present_value_{i}"], p + "av")
        a = op("Reshape", [op("Transpose", [a], p + "at", perm=[0, 2, 1, 3]), merge_shape], p + "merged")
        x = op("Add", [x, linear(a, p + "proj")], p + "res1")
        x = op("Add", [x, linear(gelu(linear(ln(x, p + "ln2"), p + "fc"), p + "gelu"), p + "fc_out")], p + "res2")
    last = op("Slice", [x, const("s0", np.array([-1], np.int64)), const("s1", np.array([2**62], np.int64)),
                        const("s2", np.array([1], np.int64))], "last")
    nodes.append(helper.make_node("MatMul", [ln(last, "ln_f"), const("wteT", w["wte"].T)], ["logits"], name="lm_head"))
    g = helper.make_graph(nodes, "gpt2_past", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    _fresh(path)
    onnx.save(m, path, save_as_external_data=True, location=os.path.basename(path) + ".data")


def _fresh(path):
    """onnx appends external data to an existing file: a rerun into the same --out starts from none."""
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)


def ort_int4(src, dst):
    import logging
    import onnx
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    q = MatMulNBitsQuantizer(onnx.load(src), block_size=32, is_symmetric=True, accuracy_level=4)  # a copy: in place
    q.process()
    _fresh(dst)
    q.model.save_model_to_file(dst, use_external_data_format=True)


def run(engine, path, threads, spec):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None), env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run([sys.executable, "-c", WORKER, engine, path, str(threads), json.dumps(spec)],
                         capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if out.returncode:
        raise RuntimeError(f"{engine} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(a, b):
    """Two rounds' results of one engine: the faster of each figure (the same greedy tokens in both)."""
    if a is None:
        return b
    r = dict(b)
    r["pp_tok_s"], r["tg_tok_s"] = max(a["pp_tok_s"], b["pp_tok_s"]), max(a["tg_tok_s"], b["tg_tok_s"])
    for key in [k for k in b if isinstance(b[k], dict)]:   # per-context step times (and the like): the lowest
        r[key] = {c: min(a[key][c], b[key][c]) for c in b[key]}
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--quick", action="store_true", help="a tiny model and few repetitions (a smoke test)")
    ap.add_argument("--out", default=None, help="directory for the model files (default: a temporary one)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over every engine, interleaved; each figure is "
                    "the best of the rounds (the machine's noise only ever slows a run)")
    a = ap.parse_args(argv)
    import torch
    import transformers
    import pyruntime
    from pyruntime import _core
    from pyruntime.exporters.gpt import export_gpt, weights_of
    conf = QUICK if a.quick else CONFIG
    d = a.out or tempfile.mkdtemp(prefix="gpt_decode_")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**conf, bos_token_id=0, eos_token_id=0)).eval()
    model.save_pretrained(os.path.join(d, "torch"))
    cfg, w = weights_of(model)
    w = {k: np.asarray(v) for k, v in w.items()}   # (weights_of reads tensors lazily: decoders.Lazy)
    files = {"pyruntime int4": os.path.join(d, "int4.pyrt"), "pyruntime int4, f16 KV": os.path.join(d, "int4kv16.pyrt"),
             "pyruntime int4, i8 KV": os.path.join(d, "int4kv8.pyrt"),
             "pyruntime int8-weights": os.path.join(d, "int8.pyrt"),
             "pyruntime fp32": os.path.join(d, "fp32.pyrt"), "onnxruntime fp32": os.path.join(d, "fp32.onnx"),
             "onnxruntime int4": os.path.join(d, "int4.onnx")}
    export_gpt(model, files["pyruntime int4"], quantize="int4")
    export_gpt(model, files["pyruntime int4, f16 KV"], quantize="int4", kv_cache="f16")
    export_gpt(model, files["pyruntime int4, i8 KV"], quantize="int4", kv_cache="i8")
    export_gpt(model, files["pyruntime int8-weights"], quantize="int8-weights")
    export_gpt(model, files["pyruntime fp32"])
    onnx_with_past(cfg, w, files["onnxruntime fp32"])
    ort_int4(files["onnxruntime fp32"], files["onnxruntime int4"])
    n_params = sum(v.size for v in w.values())
    del model, w
    spec = dict(vocab=cfg.vocab_size, prompt=512, pp=128, tg=64, tg_ctx=16, contexts=[16, 128, 512],
                steps=8 if a.quick else 48, reps=2 if a.quick else 5, layers=cfg.n_layer, heads=cfg.n_head,
                head_dim=cfg.n_embd // cfg.n_head)
    engines = [("pyruntime int4", "pyruntime"), ("pyruntime int4, f16 KV", "pyruntime"), ("pyruntime int4, i8 KV", "pyruntime"),
               ("onnxruntime int4", "onnxruntime"), ("torch fp32", "torch"),
               ("onnxruntime fp32", "onnxruntime"), ("pyruntime int8-weights", "pyruntime"),
               ("pyruntime fp32", "pyruntime")]
    res = {}
    for rnd in range(1 if a.quick else a.rounds):
        for label, engine in engines:
            path = os.path.join(d, "torch") if engine == "torch" else files[label]
            r = run(engine, path, a.threads, spec)
            print(f"round {rnd + 1} {label}: pp{spec['pp']} {r['pp_tok_s']:.1f} tok/s, tg{spec['tg']} "
                  f"{r['tg_tok_s']:.1f} tok/s, step ms {r['step_ms']}", file=sys.stderr)
            res[label] = best_of(res.get(label), r)
    bw = _core.read_bandwidth(1024, a.threads, 5)   # GB/s
    text = report(a, cfg, n_params, spec, res, bw, files)
    print(text)
    if not a.no_write:
        from results import write_section
        write_section(text)


def report(a, cfg, n_params, spec, res, bw, files):
    import onnxruntime
    import torch
    import pyruntime
    ref = res["torch fp32"]["tokens"]
    size = lambda label: (os.path.getsize(files[label]) + (os.path.getsize(files[label] + ".data")  # noqa: E731
                                                           if os.path.exists(files[label] + ".data") else 0))
    kv_bytes = lambda label, ctx: 2 * cfg.n_layer * ctx * (  # noqa: E731  (i8: a 4-byte scale per head's vector)
        cfg.n_embd * 2 if "f16 KV" in label else cfg.n_embd + 4 * cfg.n_head if "i8 KV" in label else cfg.n_embd * 4)
    # what a token reads: the whole file but the position table (one row of it) and, in the ONNX files, the
    # token table the Gather reads one row of (their LM head has its own copy; ours shares it with the head)
    weights_read = {label: size(label) - cfg.block_size * cfg.n_embd * 4
                    - (cfg.vocab_size * cfg.n_embd * 4 if label.startswith("onnxruntime") else 0) for label in files}
    weights_read["torch fp32"] = weights_read["pyruntime fp32"]
    files = dict(files, **{"torch fp32": files["pyruntime fp32"]})   # its size: the same f32 weights
    from results import cpu_model
    cpu = cpu_model()
    lines = ["## GPT decoding", "", f"Command: `python3 bench/gpt_decode.py --threads {a.threads}` — {datetime.date.today()}  ",
             f"Machine: {cpu}, {os.cpu_count()} cores, {a.threads} threads; pyruntime ISA "
             f"`{pyruntime.Session(files['pyruntime int4']).isa}`; onnxruntime {onnxruntime.__version__}, torch "
             f"{torch.__version__}, Python {platform.python_version()}", "",
             f"A transformers GPT-2 built from a config (random weights, seed 0): {cfg.n_layer} layers, {cfg.n_embd} "
             f"wide, {cfg.n_head} heads, vocabulary {cfg.vocab_size}, {n_params / 1e6:.1f}M parameters. pp{spec['pp']}: "
             f"one run over a {spec['pp']}-token prompt from an empty cache; tg{spec['tg']}: {spec['tg']} one-token runs "
             f"after a {spec['tg_ctx']}-token prompt (greedy); medians of {spec['reps']} repetitions, each engine in its "
             f"own process, best of {1 if a.quick else a.rounds} interleaved rounds over all engines. Read bandwidth: `pyruntime._core.read_bandwidth` (1 GiB streaming sum, {a.threads} threads) "
             f"in this run: **{bw:.1f} GB/s**. Decode GB/s counts the weights each token reads as stored (the file "
             f"minus the f32 embedding tables a token reads one row of) plus the KV cache at the mean context.", "",
             f"| engine | weights | file MB | pp{spec['pp']} tok/s | tg{spec['tg']} tok/s | ms/token | decode GB/s | "
             f"% of read bandwidth | tg vs pyruntime int4 | greedy tokens = torch's |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ours = res["pyruntime int4"]["tg_tok_s"]
    for label, r in res.items():
        eng, wt = label.split(" ", 1)
        ctx = spec["tg_ctx"] + spec["tg"] / 2
        gbs = (weights_read[label] + kv_bytes(label, ctx)) * r["tg_tok_s"] / 1e9
        mb = size(label) / 1e6
        same = sum(x == y for x, y in zip(r["tokens"], ref))
        lines.append(f"| {eng} | {wt} | {mb:.1f} | {r['pp_tok_s']:.0f} | {r['tg_tok_s']:.1f} | {1e3 / r['tg_tok_s']:.2f} | "
                     f"{gbs:.1f} | {100 * gbs / bw:.0f}% | {ours / r['tg_tok_s']:.2f}x | {same}/{len(ref)} |")
    lines += ["", f"Decode step time (ms: the median over {spec['reps']} sequences of the median of {spec['steps']} "
                  f"one-token runs) against the context already "
                  f"cached. Each step reads every weight once and the whole KV cache once; the last column is how "
                  f"much more a step must read at ctx {spec['contexts'][-1]} than at ctx {spec['contexts'][0]} (weights "
                  f"+ cache), the floor for a memory-bound step. Without a cache the next token costs a run over the "
                  f"whole context: the last column, measured (one run over ctx + 1 tokens).", "",
              "| engine | weights | " + " | ".join(f"ctx {c}" for c in spec["contexts"]) +
              f" | ctx {spec['contexts'][-1]} / ctx {spec['contexts'][0]} | bytes read, ctx {spec['contexts'][-1]} / "
              f"ctx {spec['contexts'][0]} | no cache: a run over ctx {spec['contexts'][-1]} + 1 (ms) |",
              "|---|---|" + "---|" * (len(spec["contexts"]) + 3)]
    lo, hi = spec["contexts"][0], spec["contexts"][-1]
    for label, r in res.items():
        eng, wt = label.split(" ", 1)
        ms = [r["step_ms"][str(c)] for c in spec["contexts"]]
        floor = (weights_read[label] + kv_bytes(label, hi)) / (weights_read[label] + kv_bytes(label, lo))
        lines.append(f"| {eng} | {wt} | " + " | ".join(f"{x:.2f}" for x in ms) + f" | {ms[-1] / ms[0]:.2f} | "
                     f"{floor:.2f} | {r['rerun_ms'][str(hi)]:.1f} |")
    s = pyruntime.Session(files["pyruntime int4"], num_threads=1)   # the kernel a prefill's Linear layers take here
    s.run({"input_ids": np.zeros((1, 16), np.int64), "position_ids": np.arange(16)[None]})
    kern = next(d["kernel"] for d in s.describe() if d["op_type"] == "MatMul" and "i4" in d["kernel"])
    prefill = (f"runs the int4 GEMM on the int4 weights (`{kern}`: activations quantized per group of 32, as the "
               "GEMV; no other form of the weights)" if kern.startswith("gemm-i4") else
               f"runs the int8 GEMM on each weight requantized to int8 once (`{kern}`: first prefill; activations "
               "quantized per row)")
    lines += ["", "Notes: the int4 files quantize every matrix (LM head included) in groups of 32 with symmetric "
                  "scales; ONNX Runtime's int4 runs MatMulNBits at accuracy level 4 (int8 activations, as ours). "
                  f"pyruntime's int4 prefill {prefill}; decode runs the int4 GEMV on the stored nibbles. "
                  "int8-weights run as stored on the int8 GEMM (activations quantized per row), prefill and decode. ONNX Runtime's graph is standard operators (attention "
                  "as MatMul/Softmax with the cache concatenated each step), not the fused contrib Attention its "
                  "transformers optimizer can produce: its step time against the context may be better with that. tg "
                  "is tokens over the total time of the steps (a mean); the context table takes medians. The last column of the first table compares greedy tokens "
                  "with PyTorch's: this random model's logits are nearly flat (GPT-2's init), so int4 weights move "
                  "its argmax from the first token on (ONNX Runtime's int4 as much as ours); fp32 engines agree."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
