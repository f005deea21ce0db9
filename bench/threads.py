#!/usr/bin/env python3
"""Python threads: throughput of 1 and 2 Python threads, each with its own single-threaded session on one
model file (Session.run releases the GIL, so the threads run in parallel on the two cores). The model: a small
CNN at 128x128 (about a millisecond a run, so Python's own per-call work is a small part), fp32 and static int8.

    python3 bench/threads.py [--runs 300] [--rounds 3] [--no-write]

Throughput = runs completed / wall time, best of --rounds interleaved rounds; writes the section "## Python
threads" of bench/RESULTS.md.
"""
import argparse, os, sys, tempfile, threading, time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def cnn():
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, stride=2), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1, groups=32),
                         nn.ReLU(), nn.Conv2d(32, 64, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, groups=64),
                         nn.ReLU(), nn.Conv2d(64, 128, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(128, 128, 1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)).eval()


def throughput(path, x, threads, runs):
    import pyruntime
    sessions = [pyruntime.Session(path, num_threads=1) for _ in range(threads)]
    for s in sessions:
        s.run(x)
    start = threading.Barrier(threads + 1)

    def work(s):
        start.wait()
        for _ in range(runs):
            s.run(x)
    ts = [threading.Thread(target=work, args=(s,)) for s in sessions]
    [t.start() for t in ts]
    start.wait()
    t0 = time.perf_counter()
    [t.join() for t in ts]
    return threads * runs / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300, help="runs per thread per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import torch
    import pyruntime
    from results import machine, write_section
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 128, 128)).astype(np.float32)
    d = tempfile.mkdtemp()
    models = {}
    models["fp32"] = os.path.join(d, "f32.pyrt")
    pyruntime.export(cnn(), (torch.from_numpy(x),), models["fp32"])
    models["static int8"] = os.path.join(d, "i8.pyrt")
    cal = [rng.standard_normal((1, 3, 128, 128)).astype(np.float32) for _ in range(8)]
    pyruntime.export(cnn(), (torch.from_numpy(x),), models["static int8"], quantize="int8", calibration=cal)
    rows = []
    for name, path in models.items():
        best = {1: 0.0, 2: 0.0}
        for _ in range(a.rounds):
            for t in (1, 2):
                best[t] = max(best[t], throughput(path, x, t, a.runs))
        ms = 1e3 / best[1]
        rows.append((name, ms, best[1], best[2], best[2] / best[1]))
        print(f"{name}: {ms:.3f} ms a run; 1 thread {best[1]:.0f}/s, 2 threads {best[2]:.0f}/s: "
              f"{best[2] / best[1]:.2f}x", flush=True)
    table = "\n".join(f"| {n} | {ms:.3f} | {t1:.0f} | {t2:.0f} | {r:.2f}x |" for n, ms, t1, t2, r in rows)
    section = f"""## Python threads

`python3 bench/threads.py --runs {a.runs} --rounds {a.rounds}` ({time.strftime('%Y-%m-%d')}). {machine()}.
Python threads, each with its own single-threaded `Session` on the same file (one model, shared), run a small
CNN at 128x128 (batch 1); `Session.run` releases the GIL. Throughput = runs / wall time, best of {a.rounds}
interleaved rounds of {a.runs} runs per thread.

| model | ms / run | 1 thread (runs/s) | 2 threads (runs/s) | 2 vs 1 |
|---|---|---|---|---|
{table}
"""
    if not a.no_write:
        print("wrote", write_section(section))
    else:
        print(section)


if __name__ == "__main__":
    main()
