#!/usr/bin/env python3
"""Worked example: a small character-level GPT trained on text that ships with Python, exported three ways
(fp32, quantize="int8-weights", quantize="int4") with exporters.gpt.export_gpt and run by pyruntime.Generator.

    python3 bench/char_gpt.py [--out bench/] [--seconds 120] [--steps 100000] [--threads 2] [--seed 0]

Text: the Zen of Python (`codecs.decode(this.s, "rot13")`) followed by the docstrings of a few standard-library
modules (MODULES below: each module's docstring, then those of its public classes, functions and their methods,
in name order, duplicates dropped), read with inspect.getdoc, so the text depends on the Python version (its
length and SHA-256 are printed). Vocabulary: the sorted set of its characters; id i is vocab[i], written as a
JSON list to OUT/out/char_gpt_vocab.json. The last 10% of the text is held out.

Model: exporters.gpt.GPT (learned positions, LayerNorm, GELU, tied head), 4 layers, 4 heads, 128 wide, context
256 (the 200-character decodes below need the prompt + 199 positions, more than 128). Training: AdamW (lr 3e-3,
betas 0.9/0.99, weight decay 0.01, 20 warm-up steps, cosine decay to 10% over whichever budget runs out first),
batches of 16 random 256-character windows of the training text, gradient norm clipped at 1, until --steps
steps or --seconds seconds of wall time, torch.manual_seed(--seed), torch.set_num_threads(--threads). Losses
(cross-entropy per character, nats) before and after: training text on 32 evenly spaced windows, held-out text
on all its non-overlapping windows.

Exports go to OUT/out/ (bench/out/ is git-ignored): char_gpt_{fp32,int8,int4}.pyrt (logits of the last token:
what decoding reads) and char_gpt_{fp32,int8,int4}_all.pyrt (logits="all", for the teacher-forced check).
Per variant: 200 characters decoded greedily from --prompt and 200 sampled (temperature 0.8, top_k 20, seed 0),
printed in fenced code blocks. Checks: the fp32 greedy text against PyTorch's (a loop of full forward passes of
the torch model); free-running agreement of int8/int4 with fp32 (leading identical tokens, fraction of equal
tokens); teacher-forced agreement on --tf-chunks held-out chunks of 128 characters (each run from an empty cache
through pyruntime.Session with input_ids / position_ids [1, 128]): the fraction of positions whose argmax equals
the fp32 file's, and the held-out loss from each variant's logits. Every figure printed comes from the run; the
markdown section goes to stdout, progress to stderr.
"""
import argparse, codecs, contextlib, hashlib, importlib, inspect, io, json, math, os, platform, re, sys, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from results import cpu_model  # noqa: E402  (bench/results.py)
MODULES = ("collections", "json", "functools", "itertools", "os.path", "textwrap", "argparse", "string", "heapq",
           "bisect", "contextlib", "dataclasses", "random", "statistics", "pathlib")
# (name, quantize, kv_cache): the weight modes with an f32 cache, then the cache types (issue 19: its fidelity)
VARIANTS = (("fp32", None, "f32"), ("int8", "int8-weights", "f32"), ("int4", "int4", "f32"),
            ("fp32-kv-f16", None, "f16"), ("fp32-kv-i8", None, "i8"), ("int4-kv-i8", "int4", "i8"))
MODEL = dict(n_layer=4, n_head=4, n_embd=128, block_size=256)
BATCH = 16
TF_LEN = 128


# --- the text --------------------------------------------------------------------------------------------------

def _docstrings(mod):
    out = [inspect.getdoc(mod)]
    for name in sorted(vars(mod)):
        obj = getattr(mod, name)
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        out.append(inspect.getdoc(obj))
        if inspect.isclass(obj):
            for attr in sorted(vars(obj)):
                if attr.startswith("_"):
                    continue
                v = getattr(obj, attr, None)
                if inspect.isroutine(v) or isinstance(v, property):
                    out.append(inspect.getdoc(v))
    return [d for d in out if d]


def corpus(modules=MODULES) -> str:
    """The Zen of Python, then the modules' docstrings (each once), separated by blank lines."""
    with contextlib.redirect_stdout(io.StringIO()):      # `import this` prints the Zen the first time
        import this
    parts, seen = [codecs.decode(this.s, "rot13")], set()
    for m in modules:
        for d in _docstrings(importlib.import_module(m)):
            if d not in seen:
                seen.add(d)
                parts.append(d)
    return "\n\n".join(parts) + "\n"


def vocab_of(text):
    return sorted(set(text))


def encode(text, vocab):
    stoi = {c: i for i, c in enumerate(vocab)}
    return np.array([stoi[c] for c in text], np.int64)


def decode(ids, vocab):
    return "".join(vocab[int(i)] for i in ids)


# --- training --------------------------------------------------------------------------------------------------

def make_model(vocab_size, seed):
    import torch
    from pyruntime.exporters.gpt import GPT, GPTConfig
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, **MODEL))


def windows(data, starts, t):
    import torch
    x = np.stack([data[s:s + t] for s in starts])
    y = np.stack([data[s + 1:s + t + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


def eval_starts(n, t, count=None):
    """Non-overlapping windows of t (+1 target) in n tokens: all of them, or `count` evenly spaced."""
    last = n - t - 1
    if count is None:
        return list(range(0, last + 1, t))
    return [int(s) for s in np.linspace(0, last, count).round()]


def loss_on(model, data, starts, t):
    import torch
    import torch.nn.functional as F
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(starts), 16):
            x, y = windows(data, starts[i:i + 16], t)
            logits = model(x)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            n += y.numel()
    return total / n


def train(model, data, steps, seconds, seed=0, lr=3e-3, batch=BATCH, log=None):
    """AdamW on random windows until `steps` steps or `seconds` seconds; returns (steps done, wall seconds,
    CPU seconds of this process: below threads x wall when other processes took the cores)."""
    import torch
    t = model.cfg.block_size
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    gen = np.random.default_rng(seed)
    warm = min(20, max(1, steps // 10))
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    step, last_log = 0, t0
    while step < steps:
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
        progress = max(step / steps, elapsed / seconds)
        scale = (step + 1) / warm if step < warm else 0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr * scale
        x, y = windows(data, gen.integers(0, len(data) - t - 1, batch), t)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if log and (time.perf_counter() - last_log > 10 or step == steps):
            last_log = time.perf_counter()
            log(f"step {step}: loss {loss.item():.3f}, {last_log - t0:.0f} s")
    model.eval()
    return step, time.perf_counter() - t0, time.process_time() - c0


# --- running ---------------------------------------------------------------------------------------------------

def torch_greedy(model, prompt, n):
    """n new ids by argmax over full forward passes of the whole sequence (no cache). On one thread: steps this
    small gain nothing from two, and lose much when another process holds a core."""
    import torch
    ids = torch.tensor([list(prompt)], dtype=torch.int64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for _ in range(n):
                ids = torch.cat([ids, model(ids)[0, -1].argmax().view(1, 1)], 1)
    finally:
        torch.set_num_threads(threads)
    return ids[0, len(prompt):].numpy()


def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def teacher_forced(path, data, starts, threads):
    """(logits [chunks, TF_LEN, V], targets [chunks, TF_LEN]) of a logits="all" file on held-out chunks."""
    import pyruntime
    s = pyruntime.Session(path, num_threads=threads)
    pos = np.arange(TF_LEN, dtype=np.int64)[None]
    out, tgt = [], []
    for st in starts:
        s.reset_state()                           # each chunk starts a new sequence
        out.append(s.run({"input_ids": data[None, st:st + TF_LEN].copy(), "position_ids": pos})[0][0])
        tgt.append(data[st + 1:st + TF_LEN + 1])
    return np.stack(out), np.stack(tgt)


def xent(logits, targets):
    lp = log_softmax(logits)
    return float(-np.take_along_axis(lp, targets[..., None], -1).mean())


def leading_equal(a, b):
    neq = np.flatnonzero(np.asarray(a) != np.asarray(b))
    return int(neq[0]) if len(neq) else len(a)


def encodings(path):
    """The weight matrices' encodings, counted (named when fewer than 3): e.g. 'i4 (g=32 f16) x17, f32 x1 (wpe)'."""
    import pyruntime
    names = {}
    for t in pyruntime.load(path).tensors:
        if len(t.shape) == 2:
            names.setdefault("f32" if t.encoding == "dense" else f"{t.encoding} ({t.detail})", []).append(t.name)
    return ", ".join(f"{k} x{len(v)}" + (f" ({', '.join(v)})" if len(v) < 3 else "") for k, v in names.items())


def fenced(text):
    """A fenced code block that holds `text` verbatim (the fence longer than any run of backticks in it)."""
    fence = "`" * max([3] + [len(r) + 1 for r in re.findall("`+", text)])
    return f"{fence}text\n{text}\n{fence}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=HERE, help="the .pyrt files and the vocabulary go to OUT/out/")
    ap.add_argument("--seconds", type=float, default=120.0, help="training wall-time budget")
    ap.add_argument("--steps", type=int, default=100000, help="training step budget")
    ap.add_argument("--threads", type=int, default=2, help="torch and pyruntime threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--new", type=int, default=200, help="characters decoded per sample")
    ap.add_argument("--tf-chunks", type=int, default=8, help="held-out chunks of 128 for the teacher-forced check")
    a = ap.parse_args(argv)

    import torch
    import pyruntime
    from pyruntime.exporters.gpt import export_gpt
    torch.set_num_threads(a.threads)
    log = lambda s: print(s, file=sys.stderr, flush=True)   # noqa: E731

    text = corpus()
    vocab = vocab_of(text)
    data = encode(text, vocab)
    cut = int(0.9 * len(data))
    train_d, held_d = data[:cut], data[cut:]
    if any(c not in vocab for c in a.prompt):
        raise SystemExit(f"the prompt {a.prompt!r} has characters outside the vocabulary")
    prompt = encode(a.prompt, vocab)
    models_dir = os.path.join(a.out, "out")
    os.makedirs(models_dir, exist_ok=True)
    vocab_path = os.path.join(models_dir, "char_gpt_vocab.json")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)

    model = make_model(len(vocab), a.seed)
    t = model.cfg.block_size
    tr_starts, held_starts = eval_starts(len(train_d), t, 32), eval_starts(len(held_d), t)
    losses = {"before": (loss_on(model, train_d, tr_starts, t), loss_on(model, held_d, held_starts, t))}
    log(f"text {len(text)} chars, vocab {len(vocab)}; loss before: train {losses['before'][0]:.3f}, "
        f"held-out {losses['before'][1]:.3f}")
    steps, train_s, train_cpu = train(model, train_d, a.steps, a.seconds, a.seed, log=log)
    losses["after"] = (loss_on(model, train_d, tr_starts, t), loss_on(model, held_d, held_starts, t))

    paths, paths_all, sizes = {}, {}, {}
    for name, q, kv in VARIANTS:
        paths[name] = os.path.join(models_dir, f"char_gpt_{name}.pyrt")
        paths_all[name] = os.path.join(models_dir, f"char_gpt_{name}_all.pyrt")
        sizes[name] = export_gpt(model, paths[name], quantize=q, kv_cache=kv)
        export_gpt(model, paths_all[name], quantize=q, logits="all", kv_cache=kv)

    ref = torch_greedy(model, prompt, a.new)
    greedy, sampled, speed, cache = {}, {}, {}, {}
    for name, _, _ in VARIANTS:
        g = pyruntime.Generator(paths[name], num_threads=a.threads)
        greedy[name] = g.generate(prompt, a.new)[len(prompt):]
        full = pyruntime.Session(paths[name], num_threads=a.threads)  # a prompt of the whole context: the cache
        full.run({"input_ids": held_d[None, :t], "position_ids": np.arange(t)[None]})  # holds exactly t tokens
        cache[name] = full.state_bytes / t  # bytes per token, all layers
        st = g.stats
        speed[name] = st["decode_tokens"] / st["decode_s"] if st["decode_s"] > 0 else float("nan")
        sampled[name] = g.generate(prompt, a.new, temperature=0.8, top_k=20, seed=0)[len(prompt):]

    tf_starts = [int(s) for s in np.linspace(0, len(held_d) - TF_LEN - 1, max(a.tf_chunks, 1)).round()]
    tf = {name: teacher_forced(paths_all[name], held_d, tf_starts, a.threads) for name, _, _ in VARIANTS}
    targets = tf["fp32"][1]
    with torch.no_grad():
        x = torch.from_numpy(np.stack([held_d[s:s + TF_LEN] for s in tf_starts]))
        torch_tf = model(x).numpy()
    fp32_arg = tf["fp32"][0].argmax(-1)

    # --- the report ---
    cmd = " ".join(["python3 bench/char_gpt.py", *(sys.argv[1:] if argv is None else argv)])
    n_params = sum(p.numel() for p in model.parameters())
    match = bool(np.array_equal(greedy["fp32"], ref))
    print("## Character-level GPT on Python's own text: exported fp32 / int8-weights / int4")
    print()
    print(f"Command: `{cmd}`  ")
    print(f"Machine: {platform.machine()}, {cpu_model()}; Python {platform.python_version()}, "
          f"torch {torch.__version__}, numpy {np.__version__}, {a.threads} thread(s)  ")
    print(f"Text: the Zen of Python + docstrings of {', '.join(MODULES)}: {len(text)} characters (sha256 "
          f"{hashlib.sha256(text.encode()).hexdigest()[:12]}), vocabulary {len(vocab)}; training {len(train_d)}, "
          f"held-out (last 10%) {len(held_d)}  ")
    print(f"Model: GPT {MODEL['n_layer']} layers, {MODEL['n_head']} heads, width {MODEL['n_embd']}, context {t}; "
          f"{n_params} parameters  ")
    print(f"Training: {steps} steps of {BATCH} x {t} characters (AdamW), {train_s:.1f} s wall "
          f"(budget: {a.steps} steps or {a.seconds:g} s), {train_cpu:.1f} s CPU")
    print()
    print("| loss (nats/char) | training text (32 windows) | held-out text (all windows) |")
    print("|---|---:|---:|")
    for k, (lt, lh) in losses.items():
        print(f"| {k} training | {lt:.3f} | {lh:.3f} |")
    print()
    print(f"fp32 greedy text = PyTorch greedy text (full forward passes): **{'yes' if match else 'no'}** "
          f"({int((greedy['fp32'] == ref).sum())}/{len(ref)} tokens equal, {leading_equal(greedy['fp32'], ref)} "
          f"leading)")
    print()
    print(f"Free-running: greedy {a.new} characters from {a.prompt!r}, compared with the fp32 file's. Teacher-forced: "
          f"{len(tf_starts)} held-out chunks of {TF_LEN} characters ({targets.size} positions), logits=\"all\" files; "
          f"argmax compared with the fp32 file's; loss = cross-entropy of the next character. PyTorch on the same "
          f"chunks: loss {xent(torch_tf, targets):.4f}, argmax = fp32 file's at "
          f"{(torch_tf.argmax(-1) == fp32_arg).mean():.2%} of positions.")
    print()
    print("| variant | file bytes | vs fp32 | weight matrices | KV cache | cache bytes / token | greedy: leading "
          "tokens = fp32 | greedy: tokens = fp32 | teacher-forced argmax = fp32 | teacher-forced held-out loss | "
          "greedy decode tok/s |")
    print("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for name, _, kv in VARIANTS:
        lead = leading_equal(greedy[name], greedy["fp32"])
        frac = (greedy[name] == greedy["fp32"]).mean()
        agree = (tf[name][0].argmax(-1) == fp32_arg).mean()
        print(f"| {name} | {sizes[name]} | {sizes[name] / sizes['fp32']:.3f} | {encodings(paths[name])} | {kv} | "
              f"{cache[name]:.0f} | {lead}/{a.new} | {frac:.1%} | {agree:.2%} | {xent(tf[name][0], targets):.4f} | "
              f"{speed[name]:.0f} |")
    print()
    print(f"Samples: {a.new} new characters after the prompt {a.prompt!r} (shown with it).")
    print()
    print("PyTorch, greedy:")
    print()
    print(fenced(a.prompt + decode(ref, vocab)))
    for name, _, kv in VARIANTS:
        if kv != "f32":  # the cache variants' texts: as the agreement columns say
            continue
        for kind, ids in (("greedy", greedy[name]), ("temperature 0.8, top_k 20, seed 0", sampled[name])):
            print()
            print(f"pyruntime {name}, {kind}:")
            print()
            print(fenced(a.prompt + decode(ids, vocab)))
    return dict(paths=paths, paths_all=paths_all, vocab_path=vocab_path, vocab=vocab, torch_greedy=ref,
                greedy=greedy, sampled=sampled, losses=losses, steps=steps, sizes=sizes)


if __name__ == "__main__":
    from results import record
    record(main)   # the printed section also replaces its own in bench/RESULTS.md (unless --no-write)
