#!/usr/bin/env python3
"""Worked example: train a small CNN on scikit-learn's digits, prune it gradually, fine-tune, export, and compare
accuracy / file size / latency with the dense model; distill a student with under a quarter of the parameters;
plot sparsity vs latency vs accuracy. Everything in one run, about six minutes on one core.

    python3 bench/digits_compression.py [--no-write] [--epochs 30] [--prune-epochs 16] [--seeds 5] [--shift 1]
        [--per-class 25] [--student-shift 2] [--student-epochs 100]

Data: sklearn.datasets.load_digits (1797 8x8 images), upsampled to 16x16 so that the convolutions have real work,
a fixed 80/20 split; the dense and pruned models train on random shifts of up to --shift pixels (Batches), the
students as below. The network is pointwise-heavy (a 3x3 stem, 1x1 convolutions around a depthwise 3x3, global
pooling, a Linear layer), the shape that the runtime's sparse kernels cover. Training: Adam with a cosine lr
(pyruntime.compress.gradual.fit). Pruning: the gradual pruner (pyruntime.compress.finetune_pruned) from the
trained dense weights: the polynomial schedule over the first half of the epochs, one magnitude threshold over
all the pruned layers (scope "global"), then the second half at the final masks with the lr decaying to zero; the
export stores every pruned weight csr (sparse="always": the 1x1 convolutions and the Linear run sparse kernels).
Accuracy, size and latency (batch 1, median of 200 runs, 1 thread) are of the exported files run by pyruntime.
Distillation: pyruntime.compress.distill (Hinton: T = 4, alpha = 0.9) from the dense model, versus the same
student (same initial weights, same batches and shifts, same optimizer and schedule, same epochs) trained on the
labels alone, over --seeds seeds. With the whole training split and shifts of 1 px the task is saturated (both
students reach 99.44% on average, the teacher 99.72%, and distilling gains nothing), so the students train in the
regime where distillation is used in practice: labelled data scarce, the teacher trained on all of it. Per seed,
both students see the same random --per-class images of every class of the training split (250 of its 1437 at the
default), with shifts of up to --student-shift (2) px, for --student-epochs (100) passes over them; the teacher's
soft targets on those shifted images carry what the 250 labels do not (how a digit looks when moved, which
classes it resembles). The section "## Digits: pruning and distillation" of bench/RESULTS.md and
bench/digits_sparsity.png are written. Training runs on one thread (torch.set_num_threads(1)): these small
batches gain little from a second, and oversubscribing a shared machine costs much.
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


def net(width=1, pooled_dw=False):
    """BatchNorm after every convolution (folded into it at export) keeps this plain stack trainable. pooled_dw:
    one more depthwise 3x3 after the pooling, which widens the receptive field before the global pooling from
    6x6 to 10x10 pixels of the 16x16 input, for a few hundred weights; the thin student uses it (the teacher,
    whose depthwise weights stay dense in every file, does without)."""
    import torch.nn as nn
    c1, c2, c3 = int(32 * width), int(96 * width), int(192 * width)

    def cbr(cin, cout, k, groups=1):
        return [nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*cbr(1, c1, 3), *cbr(c1, c2, 1), *cbr(c2, c2, 3, c2), *cbr(c2, c2, 1), nn.MaxPool2d(2),
                         *(cbr(c2, c2, 3, c2) if pooled_dw else []), *cbr(c2, c3, 1), *cbr(c3, c3, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, 10))


class Batches:
    """A re-iterable of shuffled (x, y) mini-batches: every pass a fresh order and, with shift > 0, every image
    moved by a random whole number of pixels in [-shift, shift] along each axis (zeros shifted in). The same
    seed gives the same sequence of passes, so two models trained on Batches(..., seed=s) see the same data."""

    def __init__(self, x, y, bs=64, shift=0, seed=0):
        self.x, self.y, self.bs, self.shift = x, y, bs, shift
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.y) // self.bs)

    def __iter__(self):
        import torch
        idx = self.rng.permutation(len(self.y))
        x, y = self.x[idx], self.y[idx]
        if self.shift:
            n, _, h, w = x.shape
            s = self.shift
            d = torch.from_numpy(self.rng.integers(0, 2 * s + 1, (n, 2)))
            xp = torch.nn.functional.pad(x, (s, s, s, s))
            rows, cols = d[:, :1] + torch.arange(h), d[:, 1:] + torch.arange(w)
            x = xp[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]
        for i in range(0, len(y), self.bs):
            yield x[i:i + self.bs], y[i:i + self.bs]


def train(model, batches, epochs, lr):
    """Labels only, with the loop and schedule that finetune_pruned and distill use too."""
    import torch
    from pyruntime.compress.gradual import fit
    return fit(model, batches, lambda out, x, y: torch.nn.functional.cross_entropy(out, y), epochs, lr, "cosine")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


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


LR, PRUNE_LR, STUDENT_WIDTH, T, ALPHA, SHIFT = 3e-3, 2e-3, 0.45, 4.0, 0.9, 1
PER_CLASS, STUDENT_SHIFT, STUDENT_EPOCHS = 25, 2, 100   # the students' labelled subset, shifts and epochs
SPARSITIES = (0.5, 0.8, 0.9, 0.95)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true", help="print the tables; write neither RESULTS.md nor the PNG")
    ap.add_argument("--epochs", type=int, default=30, help="the dense model's (the teacher's)")
    ap.add_argument("--prune-epochs", type=int, default=16, help="per sparsity: half pruning, half at final masks")
    ap.add_argument("--seeds", type=int, default=5, help="student pairs (labels only / distilled)")
    ap.add_argument("--shift", type=int, default=SHIFT,
                    help="random shifts of up to this many pixels, the dense and pruned models")
    ap.add_argument("--per-class", type=int, default=PER_CLASS,
                    help="the students' labelled images per class, drawn per seed from the training split (0: all)")
    ap.add_argument("--student-shift", type=int, default=STUDENT_SHIFT, help="the students' random shifts")
    ap.add_argument("--student-epochs", type=int, default=STUDENT_EPOCHS,
                    help="both students', passes over their subset")
    a = ap.parse_args()
    import copy
    import torch
    import pyruntime
    from pyruntime.compress import distill, finetune_pruned
    t_start = time.perf_counter()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tr, te = data()

    def batches(seed):
        return Batches(*tr, shift=a.shift, seed=seed)
    d = tempfile.mkdtemp()
    example = (te[0][:1],)
    dense = train(net(), batches(0), a.epochs, LR)
    rows = []
    path = os.path.join(d, "dense.pyrt")
    pyruntime.export(dense, example, path, sparse="never")
    acc, ms, size, _ = evaluate_file(path, te)
    rows.append((0.0, acc, ms, size, accuracy_torch(dense, te)))
    layers90 = kernels90 = None
    for sp in SPARSITIES:
        m = copy.deepcopy(dense)
        pruner = finetune_pruned(m, batches(1), torch.nn.functional.cross_entropy, sp, epochs=a.prune_epochs,
                                 lr=PRUNE_LR, end_epoch=a.prune_epochs // 2, schedule="cosine", scope="global")
        path = os.path.join(d, f"p{int(sp * 100)}.pyrt")
        pyruntime.export(m, example, path, sparse="always")
        acc, ms, size, kern = evaluate_file(path, te)
        rows.append((pruner.achieved(), acc, ms, size, accuracy_torch(m, te)))
        if sp == 0.9:
            kernels90 = kern
            layers90 = [f"{100 * float((l.weight == 0).float().mean()):.0f}%" for l in pruner.layers]
    t_pruned = time.perf_counter()
    # distillation: a student with at most a quarter of the teacher's parameters; per seed, the two students
    # start from the same weights and see the same labelled subset, batches, shifts, optimizer and lr schedule
    # for the same epochs: only the loss differs (the teacher's softened outputs and the labels / the labels)
    se = a.student_epochs
    accs = []
    for seed in range(a.seeds):
        x, y = tr
        if a.per_class:
            rng, yn = np.random.default_rng(200 + seed), y.numpy()
            idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(yn == c), a.per_class, replace=False)
                                          for c in range(10)]))
            x, y = x[idx], y[idx]
        torch.manual_seed(100 + seed)
        student = net(width=STUDENT_WIDTH, pooled_dw=True)
        kd = distill(copy.deepcopy(student), dense, Batches(x, y, shift=a.student_shift, seed=100 + seed), epochs=se,
                     lr=LR, temperature=T, alpha=ALPHA, schedule="cosine")
        plain = train(student, Batches(x, y, shift=a.student_shift, seed=100 + seed), se, LR)
        accs.append((accuracy_torch(plain, te), accuracy_torch(kd, te)))
    accs = 100 * np.array(accs)
    gain = accs[:, 1] - accs[:, 0]   # distilled - labels only, per seed (paired: same start, same data)
    n_t, n_s = n_params(dense), n_params(student)
    n_lab = len(y)
    wall = time.perf_counter() - t_start

    lines = ["| sparsity | test accuracy (pyruntime) | (PyTorch) | file KiB | file vs dense | latency ms (1 thread) | "
             "dense / this |", "|---|---|---|---|---|---|---|"]
    base = rows[0]
    for sp, acc, ms, size, acc_pt in rows:
        lines.append(f"| {100 * sp:.0f}% | {100 * acc:.2f}% | {100 * acc_pt:.2f}% | {size / 1024:.1f} | "
                     f"{base[3] / size:.2f}x smaller | {ms:.3f} | {base[2] / ms:.2f} |")
    table = "\n".join(lines)

    def per_seed(col):
        return f"{accs[:, col].mean():.2f}% ({', '.join(f'{v:.2f}' for v in accs[:, col])})"
    kd_table = "\n".join([
        f"| model | parameters | test accuracy (mean over {a.seeds} seeds; each seed) |", "|---|---|---|",
        f"| teacher (dense; {len(tr[1])} labelled images, {a.epochs} epochs) | {n_t:,} | {100 * rows[0][4]:.2f}% |",
        f"| student, labels only ({n_lab} labelled images, {se} epochs) | {n_s:,} ({n_s / n_t:.2f}x) | "
        f"{per_seed(0)} |",
        f"| student, distilled (the same {n_lab} images, {se} epochs, T={T:g}, alpha={ALPHA:g}) | {n_s:,} | "
        f"{per_seed(1)} |"])
    sem = f", standard error {gain.std(ddof=1) / np.sqrt(len(gain)):.2f}" if len(gain) > 1 else ""
    kd_gain = (f"Distilled minus labels only, per seed: {', '.join(f'{v:+.2f}' for v in gain)} points; mean "
               f"{gain.mean():+.2f}{sem} (one test image is {100 / len(te[1]):.2f} points).")
    kd_gain += (f" The distilled student is {100 * rows[0][4] - accs[:, 1].mean():.2f} points below the teacher "
                f"with {n_s / n_t:.2f}x its parameters.")
    print(table + "\n\n" + kd_table + "\n\n" + kd_gain)
    print("layer sparsities at 90%:", layers90, "kernels:", kernels90)
    print(f"wall: {wall:.0f} s (dense and pruned {t_pruned - t_start:.0f} s, students {wall - t_pruned + t_start:.0f})")

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

Command: `python3 bench/digits_compression.py --epochs {a.epochs} --prune-epochs {a.prune_epochs} --seeds {a.seeds} \
--shift {a.shift} --per-class {a.per_class} --student-shift {a.student_shift} --student-epochs {se}` —
{datetime.date.today()}, {wall / 60:.1f} minutes in all (training on 1 thread)  
{machine()}

A pointwise-heavy CNN on sklearn's digits (upsampled to 16x16, 80/20 split, shifts of up to {a.shift} px), trained
{a.epochs} epochs (Adam, cosine lr), then pruned gradually from the trained weights
(`pyruntime.compress.finetune_pruned`, {a.prune_epochs} epochs per target: the polynomial schedule over the
first {a.prune_epochs // 2} with one magnitude threshold over the pruned layers, the rest at the final masks
with the lr decaying to zero) and exported with every pruned weight csr (`sparse="always"`): accuracy of the
exported file on the held-out {len(te[1])} images, file size, batch-1 latency on 1 thread. Sparsity is over
the pruned layers (the 1x1 convolutions and the Linear); at 90% they are at {', '.join(layers90 or [])}
and the kernels are: {', '.join(kernels90 or [])}.
![sparsity vs latency vs accuracy](digits_sparsity.png)

{table}

Distillation (`pyruntime.compress.distill` against the dense model). The student is the same stack at width
{STUDENT_WIDTH:g} with one more depthwise 3x3 after the pooling (a wider receptive field). Trained on the whole
split with 1 px shifts, a student distilled or not comes within 0.3 points of the teacher (the task is
saturated, distilling gains nothing), so the students train where distillation is used in practice, with few
labels: per seed, both students get the same random {a.per_class or "all"} images per class of the training
split ({n_lab} of its {len(tr[1])}; the teacher trained on all of them), shifts of up to {a.student_shift} px,
and start from the same weights and train on the same batches and shifts with the same optimizer, lr schedule
and epochs; only the loss differs. On those shifted images the teacher's soft targets carry what the labels do
not:

{kd_table}

{kd_gain}
""")


if __name__ == "__main__":
    main()
