#!/usr/bin/env python3
"""Worked example: train a small CNN on scikit-learn's digits, prune it gradually, fine-tune, export, and compare
accuracy / file size / latency with the dense model; distill a 1/4-size student; plot sparsity vs latency vs
accuracy. Everything in one run, a few minutes on 2 cores.

    python3 bench/digits_compression.py [--no-write] [--epochs 15]

Data: sklearn.datasets.load_digits (1797 8x8 images), upsampled to 16x16 so that the convolutions have real
work, a fixed 80/20 split. The network is pointwise-heavy (a 3x3 stem, 1x1 convolutions around a depthwise
3x3, global pooling, a Linear layer), the shape that the runtime's sparse kernels cover. Pruning: the gradual
pruner (pyruntime.compress.finetune_pruned) from the trained dense weights; the export stores every pruned
weight csr (sparse="always"; the 1x1 convolutions and the Linear run sparse kernels, the stem is decoded at
load). Latency: batch 1, median of 200 runs, 1 thread. Distillation: pyruntime.compress.distill (T = 2,
alpha = 0.5) against the dense model as teacher, versus the same student (same initial weights) trained on the
labels alone for the same epochs (half the teacher's). The section "## Digits: pruning and distillation" of bench/RESULTS.md and bench/digits_sparsity.png
are written.
"""
import argparse, datetime, os, sys, tempfile, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def data():
    import torch
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32))[:, None]
    x = torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
    y = torch.from_numpy(d.target.astype(np.int64))
    idx = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    return (x[idx[:cut]], y[idx[:cut]]), (x[idx[cut:]], y[idx[cut:]])


def net(width=1):
    """BatchNorm after every convolution (folded into it at export) keeps this plain stack trainable."""
    import torch.nn as nn
    c1, c2, c3 = int(32 * width), int(96 * width), int(192 * width)

    def cbr(cin, cout, k, groups=1):
        return [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*cbr(1, c1, 3), *cbr(c1, c2, 1), *cbr(c2, c2, 3, c2), *cbr(c2, c2, 1), nn.MaxPool2d(2),
                         *cbr(c2, c3, 1), *cbr(c3, c3, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, 10))


def batches(x, y, bs=64, seed=0):
    g = np.random.default_rng(seed)
    idx = g.permutation(len(y))
    return [(x[idx[i:i + bs]], y[idx[i:i + bs]]) for i in range(0, len(y), bs)]


def train(model, tr, epochs, lr=2e-3):
    import torch
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for e in range(epochs):
        for x, y in batches(*tr, seed=e):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    return model.eval()


def accuracy_torch(model, te):
    import torch
    with torch.no_grad():
        return float((model(te[0]).argmax(1) == te[1]).float().mean())


def evaluate_file(path, te):
    import pyruntime
    s = pyruntime.Session(path, num_threads=1)
    pred = np.array([s.run(te[0][i:i + 1].numpy())[0].argmax() for i in range(len(te[1]))])
    acc = float((pred == te[1].numpy()).mean())
    x = te[0][:1].numpy()
    for _ in range(20):
        s.run(x)
    ts = []
    for _ in range(200):
        t = time.perf_counter()
        s.run(x)
        ts.append(time.perf_counter() - t)
    return acc, float(np.median(ts) * 1e3), os.path.getsize(path), [d["kernel"] for d in s.describe()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--epochs", type=int, default=15)
    a = ap.parse_args()
    import copy
    import torch
    import pyruntime
    from pyruntime.compress import distill, finetune_pruned
    torch.manual_seed(0)
    torch.set_num_threads(2)
    tr, te = data()
    d = tempfile.mkdtemp()
    example = (te[0][:1],)
    dense = train(net(), tr, a.epochs)
    rows = []
    path = os.path.join(d, "dense.pyrt")
    pyruntime.export(dense, example, path, sparse="never")
    acc, ms, size, _ = evaluate_file(path, te)
    rows.append((0.0, acc, ms, size, accuracy_torch(dense, te)))
    kernels90 = None
    for sp in (0.5, 0.7, 0.8, 0.9, 0.95):
        m = copy.deepcopy(dense)
        torch.manual_seed(1)
        finetune_pruned(m, batches(*tr), torch.nn.functional.cross_entropy, sp, epochs=max(4, a.epochs // 2), lr=1e-3)
        path = os.path.join(d, f"p{int(sp * 100)}.pyrt")
        pyruntime.export(m, example, path, sparse="always")
        acc, ms, size, kern = evaluate_file(path, te)
        rows.append((sp, acc, ms, size, accuracy_torch(m, te)))
        if sp == 0.9:
            kernels90 = kern
    # distillation: a student with a quarter of the parameters or fewer
    torch.manual_seed(2)
    student0 = net(width=0.5)
    student_kd = copy.deepcopy(student0)
    n_t, n_s = (sum(p.numel() for p in m.parameters()) for m in (dense, student0))
    se = max(4, a.epochs // 2)   # students: a short budget, where the teacher's soft targets matter most
    plain = train(student0, tr, se)
    kd = distill(student_kd, dense, batches(*tr), epochs=se, lr=2e-3, temperature=2.0, alpha=0.5)
    acc_t, acc_plain, acc_kd = accuracy_torch(dense, te), accuracy_torch(plain, te), accuracy_torch(kd, te)

    lines = ["| sparsity | test accuracy (pyruntime) | (PyTorch) | file KiB | file vs dense | latency ms (1 thread) | "
             "dense / this |", "|---|---|---|---|---|---|---|"]
    base = rows[0]
    for sp, acc, ms, size, acc_pt in rows:
        lines.append(f"| {int(sp * 100)}% | {100 * acc:.2f}% | {100 * acc_pt:.2f}% | {size / 1024:.1f} | "
                     f"{base[3] / size:.2f}x smaller | {ms:.3f} | {base[2] / ms:.2f} |")
    table = "\n".join(lines)
    kd_table = "\n".join([
        "| model | parameters | test accuracy |", "|---|---|---|",
        f"| teacher (dense) | {n_t:,} | {100 * acc_t:.2f}% |",
        f"| student, labels only ({se} epochs) | {n_s:,} ({n_s / n_t:.2f}x) | {100 * acc_plain:.2f}% |",
        f"| student, distilled ({se} epochs, T=2, alpha=0.5) | {n_s:,} | {100 * acc_kd:.2f}% |"])
    print(table + "\n\n" + kd_table)
    print("kernels at 90%:", kernels90)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sps = [100 * r[0] for r in rows]
    ax.plot(sps, [r[2] for r in rows], "o-", color="tab:blue")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("latency, batch 1 (ms)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(sps, [100 * r[1] for r in rows], "s--", color="tab:red")
    ax2.set_ylabel("test accuracy (%)", color="tab:red")
    ax2.set_ylim(min(90.0, min(100 * r[1] for r in rows) - 1), 100.5)
    ax.set_title("digits CNN: gradual pruning, pyruntime sparse kernels")
    fig.tight_layout()
    png = os.path.join(HERE, "digits_sparsity.png")
    if not a.no_write:
        fig.savefig(png, dpi=100)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)
    if a.no_write:
        return
    from results import machine, write_section
    write_section(f"""## Digits: pruning and distillation

Command: `python3 bench/digits_compression.py --epochs {a.epochs}` — {datetime.date.today()}  
{machine()}

A pointwise-heavy CNN on sklearn's digits (upsampled to 16x16, 80/20 split, {a.epochs} epochs), pruned
gradually from the trained weights (`pyruntime.compress.finetune_pruned`, {max(4, a.epochs // 2)} epochs per
target) and exported with every pruned weight csr (`sparse="always"`): accuracy of the exported file on the
held-out 360 images, file size, batch-1 latency on 1 thread. At 90% the kernels are: {', '.join(kernels90 or [])}.
![sparsity vs latency vs accuracy](digits_sparsity.png)

{table}

Distillation (`pyruntime.compress.distill` against the dense model):

{kd_table}
""")


if __name__ == "__main__":
    main()
