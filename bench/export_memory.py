"""Peak memory of exporting a checkpoint folder: streamed (one tensor at a time) against the whole model in memory.

    python3 bench/export_memory.py [--dir DIR] [--quick] [--no-write]

Writes (once, kept in DIR) a Qwen2.5-0.5B-shaped checkpoint with random weights (transformers' init,
save_pretrained, f32 safetensors: 494 M parameters), then exports it to int4 (groups of 32) in fresh processes:
export_gpt's default for a folder (stream=True: each tensor read, quantized and written to a temporary file
before the next; the file streamed into place) and stream=False (the tensors are still read one at a time, but
the writer holds every encoded tensor, makes the file's bytes in memory and plans a session on them to declare
the outputs: the path a model object takes).
Peak = the process's VmHWM minus its resident set once torch and pyruntime are imported. Target (issue 20):
peak < 1.3 x the largest tensor + 300 MiB."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
              num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True, max_position_embeddings=32768)
QUICK = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=4096, tie_word_embeddings=True, max_position_embeddings=512)

MAKE = r'''
import sys, json, torch, transformers
torch.manual_seed(0)
m = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**json.loads(sys.argv[2])))
m.save_pretrained(sys.argv[1])
print(sum(p.numel() for p in m.parameters()))
'''

EXPORT = r'''
import json, sys, time
import torch   # noqa: F401  (what an export imports anyway: counted in the base)
import pyruntime
from pyruntime.exporters.gpt import export_gpt

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
base = status("VmRSS")
t0 = time.perf_counter()
n = export_gpt(sys.argv[1], sys.argv[2], quantize="int4", stream=sys.argv[3] == "1")
print(json.dumps({"base": base, "peak": status("VmHWM") - base, "secs": time.perf_counter() - t0, "file": n}))
'''


def largest_tensor(folder: str) -> tuple[str, int]:
    from safetensors import safe_open
    best = ("", 0)
    with safe_open(os.path.join(folder, "model.safetensors"), framework="pt") as f:
        for k in f.keys():
            shape = f.get_slice(k).get_shape()
            n = 4
            for d in shape:
                n *= d
            best = max(best, (k, n), key=lambda t: t[1])
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "pyrt-qwen2-0.5b-random"),
                    help="where the checkpoint is written (and reused)")
    ap.add_argument("--quick", action="store_true", help="a tiny checkpoint (a smoke test)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    shapes = QUICK if a.quick else SHAPES
    folder = a.dir + ("-quick" if a.quick else "")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        params = subprocess.run([sys.executable, "-c", MAKE, folder, json.dumps(shapes)], check=True,
                                capture_output=True, text=True).stdout.split()[-1]
        print(f"wrote {folder} ({int(params) / 1e6:.0f} M parameters)", file=sys.stderr)
    name, big = largest_tensor(folder)
    ckpt = os.path.getsize(os.path.join(folder, "model.safetensors"))
    bound = 1.3 * big + (300 << 20)
    rows = []
    out = tempfile.mkdtemp(prefix="export_memory_")
    for stream in (True, False):
        r = subprocess.run([sys.executable, "-c", EXPORT, folder, os.path.join(out, "m.pyrt"), "1" if stream else "0"],
                           check=True, capture_output=True, text=True, cwd=out)
        m = json.loads(r.stdout.strip().splitlines()[-1])
        mib = lambda b: b / 2**20   # noqa: E731
        rows.append(f"| {'streamed (default for a folder)' if stream else 'in-memory writer and probe session (stream=False)'} | "
                    f"{mib(m['peak']):.0f} | {mib(bound):.0f} | {'yes' if m['peak'] < bound else 'no'} | "
                    f"{m['peak'] / big:.2f}x | {m['secs']:.1f} | {mib(m['file']):.1f} |")
        print(rows[-1], flush=True)
        os.remove(os.path.join(out, "m.pyrt"))
    sys.path.insert(0, HERE)
    from results import cpu_model, write_section
    body = ("## Export memory: a checkpoint folder to int4\n\n"
            f"Command: `python3 bench/export_memory.py{' --quick' if a.quick else ''}`  \nMachine: {cpu_model()}\n\n"
            f"A Qwen2.5-0.5B-shaped checkpoint{' (quick: tiny shapes)' if a.quick else ''} with random weights "
            f"(save_pretrained, f32 safetensors, {mib(ckpt):.0f} MiB; largest tensor `{name}`, {mib(big):.0f} MiB) "
            "exported with `export_gpt(folder, path, quantize=\"int4\")` in a fresh process each; stream=False keeps "
            "every encoded tensor and the file's bytes in memory and plans a session on them. Peak: VmHWM minus "
            "the resident set after importing torch and pyruntime. Target (issue 20): below 1.3 x the largest "
            "tensor + 300 MiB.\n\n"
            "| export | peak MiB | target MiB | within | peak / largest tensor | seconds | file MiB |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(body)
    if not a.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
