#!/usr/bin/env python3
"""Worked example: a small DCGAN on scikit-learn's digits, its generator exported three ways (fp32,
quantize="int8-weights", quantize="int4") and run by pyruntime on one fixed batch of latents, next to PyTorch.

    python3 bench/dcgan_digits.py [--out bench/] [--steps 2000] [--threads 1] [--seed 0]

Data: sklearn.datasets.load_digits (1797 8x8 images, 0..16), upsampled to 16x16 (bilinear) and scaled to
[-1, 1]; the GAN trains on a fixed 80% split, the other 20% are the held-out real digits of the quality check.
Networks (DCGAN, Radford et al. 2015, scaled down): generator z [N, 16, 1, 1] -> ConvTranspose 4x4 (64 ch,
4x4) -> ConvTranspose 4/2 (32 ch, 8x8) -> ConvTranspose 4/2 (1 ch, 16x16) -> Tanh, BatchNorm + ReLU between;
discriminator Conv 4/2 -> Conv 4/2 + BatchNorm -> Conv 4x4 -> one logit, LeakyReLU(0.2). Training: Adam
(lr 2e-4, betas 0.5/0.999), batch 64, the non-saturating loss, --steps steps, torch.manual_seed(--seed), on
--threads threads. After training the generator's BatchNorm statistics are re-estimated in train mode over 20
batches of latents (cumulative average), so that the exported eval-mode generator draws what it drew in training.

Exports (pyruntime.export, dynamic batch) go to OUT/out/ (bench/out/ is git-ignored); the 64 fixed latents
(seed --seed + 1) run through PyTorch and each file; the samples are written as 8x8 grids (save_png_grid,
value_range (-1, 1)) to OUT/dcgan_digits_{torch,fp32,int8,int4}.png. Printed (markdown): per variant the file
size, the weight encodings stored, max and mean |difference| from the PyTorch output, and the time per batch of
64 (median of --runs runs, after a warm-up run). Then a quality check: a logistic-regression classifier trained on
the training split's 8x8 digits labels each sample (downsampled back to 8x8 by 2x2 averaging, the same round trip
applied to the real digits); reported are the fraction labelled with probability >= 0.9, how many of the ten
classes those cover, the agreement of each variant's labels with PyTorch's, and the mean distance (RMS per pixel,
[-1, 1] scale) from each sample to its nearest training digit, with the held-out real digits as the reference
(generated samples much closer to the training set than held-out digits are would be memorized copies).
Every figure printed comes from the run.
"""
import argparse, os, platform, sys, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from results import cpu_model  # noqa: E402  (bench/results.py)
NZ = 16
VARIANTS = (("fp32", {}), ("int8", {"quantize": "int8-weights"}), ("int4", {"quantize": "int4"}))


def load_data(seed=0):
    """(train, held-out): float32 [N, 1, 16, 16] in [-1, 1], and the labels (for the quality check only)."""
    import torch
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.from_numpy((d.images / 16.0).astype(np.float32))[:, None]
    x = torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False) * 2 - 1
    idx = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    y = d.target.astype(np.int64)
    return (x[idx[:cut]], y[idx[:cut]]), (x[idx[cut:]], y[idx[cut:]])


def generator(nz=NZ, ngf=32):
    import torch.nn as nn
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),     # 4x4
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),        # 8x8
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False), nn.Tanh())                                       # 16x16


def discriminator(ndf=32):
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),                                  # 8x8
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),   # 4x4
        nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False), nn.Flatten())                                          # 1


def _init(m):
    import torch.nn as nn
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def train(x, steps, seed=0, batch=64, log=None):
    """Trains G and D for `steps` steps on x [N, 1, 16, 16]; returns the generator in eval mode, its BatchNorm
    statistics re-estimated over 20 batches of latents."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    g, d = generator(), discriminator()
    g.apply(_init)
    d.apply(_init)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        real = x[torch.randint(len(x), (batch,), generator=gen)]
        z = torch.randn(batch, NZ, 1, 1, generator=gen)
        fake = g(z)
        opt_d.zero_grad()
        loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        if log and (step + 1) % max(1, steps // 5) == 0:
            log(f"step {step + 1}/{steps}: loss D {loss_d.item():.3f}, loss G {loss_g.item():.3f}")
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None        # cumulative average over the batches below
    g.train()
    with torch.no_grad():
        for _ in range(20):
            g(torch.randn(batch, NZ, 1, 1, generator=gen))
    return g.eval()


def export_all(g, models_dir):
    """The generator exported fp32, int8-weights and int4: {variant: path}."""
    import torch
    import pyruntime
    os.makedirs(models_dir, exist_ok=True)
    paths = {}
    for name, opts in VARIANTS:
        paths[name] = os.path.join(models_dir, f"dcgan_digits_{name}.pyrt")
        pyruntime.export(g, torch.randn(1, NZ, 1, 1), paths[name], **opts)
    return paths


def latents(seed, n=64):
    return np.random.default_rng(seed).standard_normal((n, NZ, 1, 1)).astype(np.float32)


def run_all(g, paths, z, threads=1, runs=20):
    """{variant: (output [N, 1, 16, 16], median seconds per batch)} for torch and each file."""
    import torch
    import pyruntime

    def timed(f):
        f()                                   # warm-up (plans, packs)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts))

    with torch.no_grad():
        zt = torch.from_numpy(z)
        out = {"torch": (g(zt).numpy(), timed(lambda: g(zt)))}
    for name, path in paths.items():
        s = pyruntime.Session(path, num_threads=threads)
        out[name] = (s.run([z])[0], timed(lambda: s.run([z])))
    return out


def _to8(x):
    """[N, 1, 16, 16] in [-1, 1] -> [N, 64] in 0..16 (2x2 averages), the classifier's input space."""
    x = np.asarray(x, np.float64).reshape(len(x), 8, 2, 8, 2).mean(axis=(2, 4))
    return ((x + 1) * 8).reshape(len(x), 64)


def quality(outputs, train_xy, held_xy):
    """Per variant (and the held-out real digits): confident fraction, classes covered, label agreement with
    PyTorch, mean nearest-training-digit RMS distance. Returns (rows, classifier held-out accuracy)."""
    from sklearn.linear_model import LogisticRegression
    (xtr, ytr), (xte, yte) = train_xy, held_xy
    clf = LogisticRegression(max_iter=5000).fit(_to8(xtr.numpy()), ytr)
    acc = float(clf.score(_to8(xte.numpy()), yte))
    train_flat = xtr.numpy().reshape(len(xtr), -1).astype(np.float64)

    def row(x):
        p = clf.predict_proba(_to8(x))
        conf = p.max(1) >= 0.9
        flat = np.asarray(x, np.float64).reshape(len(x), -1)
        d2 = (flat ** 2).sum(1)[:, None] + (train_flat ** 2).sum(1)[None] - 2 * flat @ train_flat.T
        nn_rms = np.sqrt(np.maximum(d2.min(1), 0) / flat.shape[1])
        return dict(confident=float(conf.mean()), classes=len(set(p.argmax(1)[conf])), labels=p.argmax(1),
                    nn=float(nn_rms.mean()))
    rows = {"held-out real": row(xte.numpy())}
    rows.update({k: row(v[0]) for k, v in outputs.items()})
    ref = rows["torch"]["labels"]
    for k, r in rows.items():
        r["agree"] = float((r["labels"] == ref).mean()) if k != "held-out real" else None
    return rows, acc


def encodings(path):
    import pyruntime
    ws = [t for t in pyruntime.load(path).tensors if len(t.shape) == 4]   # the three ConvTranspose weights
    return ", ".join(f"{t.encoding}" + (f" ({t.detail})" if t.encoding != "dense" else "") for t in ws)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=HERE, help="where the PNGs go (the .pyrt files go to OUT/out/)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1, help="torch training/inference and pyruntime threads")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per variant (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--no-quality", action="store_true", help="skip the classifier / nearest-neighbour check")
    a = ap.parse_args(argv)

    import torch
    import pyruntime
    torch.set_num_threads(a.threads)
    log = lambda s: print(s, file=sys.stderr, flush=True)   # noqa: E731
    train_xy, held_xy = load_data(a.seed)
    t0 = time.perf_counter()
    g = train(train_xy[0], a.steps, a.seed, log=log)
    train_s = time.perf_counter() - t0
    paths = export_all(g, os.path.join(a.out, "out"))
    z = latents(a.seed + 1)
    outs = run_all(g, paths, z, a.threads, a.runs)
    pngs = {}
    for name, (x, _) in outs.items():
        pngs[name] = pyruntime.save_png_grid(x, os.path.join(a.out, f"dcgan_digits_{name}.png"), nrow=8,
                                             value_range=(-1, 1))

    ref = outs["torch"][0].astype(np.float64)
    cmd = " ".join(["python3 bench/dcgan_digits.py", *(sys.argv[1:] if argv is None else argv)])
    print("## DCGAN on digits: generator exported fp32 / int8-weights / int4")
    print()
    print("Written by `bench/dcgan_digits.py`: a DCGAN trained briefly on `load_digits`, its generator exported three "
          "ways and run by pyruntime on the same latents as PyTorch.")
    print()
    print(f"Command: `{cmd}`  ")
    print(f"Machine: {platform.machine()}, {cpu_model()}; torch {torch.__version__}, numpy {np.__version__}, "
          f"{a.threads} thread(s)")
    n_g = sum(p.numel() for p in g.parameters())
    print(f"Training: {a.steps} steps of batch 64 on {len(train_xy[0])} digits, {train_s:.1f} s; generator "
          f"{n_g} parameters; {len(z)} fixed latents (seed {a.seed + 1})")
    print()
    print(f"| variant | file bytes | weights (3 ConvTranspose) | max abs diff vs torch | mean abs diff vs torch "
          f"| ms per batch of {len(z)} (median of {a.runs}) |")
    print("|---|---:|---|---:|---:|---:|")
    print(f"| PyTorch (eval) | - | f32 | 0 | 0 | {outs['torch'][1] * 1e3:.3f} |")
    for name, _ in VARIANTS:
        x, t = outs[name]
        diff = np.abs(x.astype(np.float64) - ref)
        print(f"| pyruntime {name} | {os.path.getsize(paths[name])} | {encodings(paths[name])} | {diff.max():.3g} "
              f"| {diff.mean():.3g} | {t * 1e3:.3f} |")
    print()
    print("Samples (8x8 grids, same latents): " + ", ".join(
        f"[{k}]({os.path.relpath(p, a.out)})" for k, p in pngs.items()))
    print()
    for k, p in pngs.items():
        print(f"![{k}]({os.path.relpath(p, a.out)})")
    if not a.no_quality:
        rows, acc = quality(outs, train_xy, held_xy)
        print()
        print(f"Quality check (logistic regression on the training split's 8x8 digits, {acc:.1%} accurate on the "
              f"held-out digits; distances RMS per pixel on the [-1, 1] scale, 16x16):")
        print()
        print("| images | labelled with p >= 0.9 | classes among those | argmax labels = PyTorch's | "
              "mean distance to nearest training digit |")
        print("|---|---:|---:|---:|---:|")
        for k, r in rows.items():
            agree = "-" if r["agree"] is None else f"{r['agree']:.1%}"
            print(f"| {k} ({len(r['labels'])}) | {r['confident']:.1%} | {r['classes']} | {agree} | {r['nn']:.3f} |")
    return outs, paths


if __name__ == "__main__":
    from results import record
    record(main)   # the printed section also replaces its own in bench/RESULTS.md (unless --no-write)
