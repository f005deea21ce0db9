"""Writes the tiny decoders the C API generation tests (tests/native/test_capi.cc) run, and the tokens
pyruntime.Generator picks greedily on them:

    tiny_gpt.pyrt          1 layer, vocab 32, n_embd 16, 2 heads, block_size 16, learned positions (position_ids)
    tiny_gpt_rotary.pyrt   the same with rotary positions and RMSNorm (input_ids only)
    attention_only.pyrt    one CausalAttention node on an f32 input "x": a KV cache, but not a decoder
    tiny_gpt.expected.txt  per model: the prompt and the greedy new tokens (Generator.generate, temperature 0),
                           then the tokens Generator.generate samples with the options and seeds in SAMPLED
                           (pyrt_generate must give the same: one sampler, csrc/core/generate.h)

Run from outside the repository (so the installed pyruntime is the one imported), with torch installed:
    python3 /path/to/tests/native/data/make_tiny_gpt.py
Weights: GPT's init after torch.manual_seed(0), every parameter times 10, so that greedy decoding moves through
many tokens (with the 0.02 init it repeats one) and the top two logits stay far apart (the same tokens on every
kernel table: ref, AVX2, NEON).
"""
import os

import torch

import pyruntime
from pyruntime.format import Writer
from pyruntime.exporters.gpt import GPT, GPTConfig, export_gpt

HERE = os.path.dirname(os.path.abspath(__file__))
NEW = 12  # a prompt of 4 + 12 - 1 = 15 positions of the 16
SAMPLED = [dict(temperature=3.0, top_k=8, top_p=0.95, seed=7), dict(temperature=5.0, seed=2026)]


def make(name, prompt, **cfg):
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=32, n_layer=1, n_head=2, n_embd=16, block_size=16, **cfg)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(10.0)
    path = os.path.join(HERE, name + ".pyrt")
    export_gpt(m, path)
    g = pyruntime.Generator(path, num_threads=1)
    new = g.generate(prompt, NEW)[len(prompt):].tolist()
    # the top-2 logit gap at every step, so a kernel's rounding cannot flip a greedy pick
    seq = prompt + new
    with torch.no_grad():
        logits = m(torch.tensor([seq[:-1]]))[0, len(prompt) - 1:]
    top2 = torch.topk(logits, 2, dim=-1).values
    gap = float((top2[:, 0] - top2[:, 1]).min())
    assert logits.argmax(-1).tolist() == new, (logits.argmax(-1).tolist(), new)
    assert len(set(new)) >= 6 and gap > 0.5, (new, gap)
    print(f"{name}: {new} (smallest top-2 logit gap {gap:.3f})")
    ids = ' '.join(map(str, prompt))
    lines = [f"{name} prompt {ids} new {' '.join(map(str, new))}\n"]
    for kw in SAMPLED:
        drawn = g.generate(prompt, NEW, **kw)[len(prompt):].tolist()
        assert drawn != new, (kw, drawn)
        opts = ' '.join(f"{k} {v}" for k, v in kw.items())
        lines.append(f"sampled {name} {opts} prompt {ids} new {' '.join(map(str, drawn))}\n")
    return lines


lines = ["# model prompt <ids> new <greedy ids>: written by make_tiny_gpt.py with pyruntime.Generator\n",
         "# sampled model <option value>... prompt <ids> new <sampled ids>: the same with Generator's sampling\n"]
lines += make("tiny_gpt", [21, 20, 20, 2])  # prompts picked for a wide top-2 gap
lines += make("tiny_gpt_rotary", [29, 29, 14, 25], pos="rotary", norm="rmsnorm", act="silu")
w = Writer(model_name="attention-only", producer_version="test")
w.add_input("x", "f32", [1, -1, 12])
w.add_output("y", "f32", [1, -1, 4])
g = w.new_graph()
(y,) = g.node("CausalAttention", [g.input("x")], ["y"], {"num_heads": 2, "max_context": 8}, name="attn")
g.output(y)
w.save(os.path.join(HERE, "attention_only.pyrt"))
with open(os.path.join(HERE, "tiny_gpt.expected.txt"), "w") as f:
    f.writelines(lines)
