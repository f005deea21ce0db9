#!/usr/bin/env python3
"""Sparse execution: a 1x1 convolution 256->256 at 56x56 (batch 1, channels first) and a Linear layer 4096x4096
at batch 1, at 70/80/90/95% unstructured sparsity: our csr kernels against our dense f32 and against PyTorch's
and SciPy's CSR products on the same matrices, 1 and 2 threads, in one run.

    python3 bench/sparse.py [--no-write] [--runs 50] [--rounds 2]

Weights are magnitude-pruned Gaussian matrices (seeded). Ours: a one-node .pyrt (Conv / Gemm transB) with the
weight dense, csr with f32 values, or csr with i8 values (per-row scales); PyTorch: a torch.sparse_csr_tensor
times the dense input; SciPy: scipy.sparse.csr_matrix times it (single-threaded). Each library runs in its own
process per thread count; the median of --runs calls after warm-ups, best of --rounds interleaved rounds.
The section "## Sparse execution" of bench/RESULTS.md is replaced with the results.
"""
import argparse, datetime, json, os, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPARSITY = [0.0, 0.7, 0.8, 0.9, 0.95]
CASES = [("conv1x1 256->256 @56x56", 256, 256, 56 * 56), ("linear 4096x4096 batch 1", 4096, 4096, 1)]

PEER = r'''
import json, os, sys, time
import numpy as np
lib, threads, runs, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def med(f):
    for _ in range(3): f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)
if lib == "torch":
    import torch
    torch.set_num_threads(threads)
for name in sorted(os.listdir(d)):
    if not name.endswith(".npz"): continue
    z = np.load(os.path.join(d, name)); w, x = z["w"], z["x"]
    if lib.startswith("pyruntime"):
        import pyruntime
        enc = lib.split("-", 1)[1]
        path = os.path.join(d, name[:-4] + "." + enc + ".pyrt")
        if not os.path.exists(path): continue
        s = pyruntime.Session(path, num_threads=threads)
        feed = x.reshape(1, w.shape[1], 56, 56) if x.shape[1] > 1 else x.reshape(1, -1)
        ms = med(lambda: s.run(feed))
        kernel = s.describe()[0]["kernel"]
    elif lib == "torch":
        ws = torch.from_numpy(w).to_sparse_csr(); xt = torch.from_numpy(x)
        with torch.inference_mode():
            ms = med(lambda: ws @ xt)
        kernel = "torch.sparse_csr"
    else:
        import scipy.sparse
        ws = scipy.sparse.csr_matrix(w)
        ms = med(lambda: ws @ x)
        kernel = "scipy.sparse.csr_matrix"
    print(json.dumps({"case": name[:-4], "ms": ms, "kernel": kernel}), flush=True)
'''


def write_models(d):
    import pyruntime
    rng = np.random.default_rng(0)
    for ci, (label, n, k, p) in enumerate(CASES):
        base = rng.standard_normal((n, k)).astype(np.float32)
        x = rng.standard_normal((k, p)).astype(np.float32)
        for sp in SPARSITY:
            w = base.copy()
            if sp:
                w[np.abs(w) < np.quantile(np.abs(w), sp)] = 0
            name = f"c{ci}_s{int(sp * 100):02d}"
            np.savez(os.path.join(d, name + ".npz"), w=w, x=x)
            for enc, opts in (("dense", {}), ("csr", {"values": "f32"}), ("csr8", {"values": "i8"})):
                if enc != "dense" and sp == 0:
                    continue
                g = pyruntime.Graph("sparse")
                wc = g.const(w.reshape(n, k, 1, 1) if p > 1 else w, "w", "csr" if enc != "dense" else "dense", **opts)
                if p > 1:
                    y = g.op("Conv", g.input("x", [1, k, 56, 56]), wc)
                else:
                    y = g.op("Gemm", g.input("x", [1, k]), wc, transB=1)
                g.output(y, "y")
                g.save(os.path.join(d, f"{name}.{enc}.pyrt"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    write_models(d)
    libs = ["pyruntime-dense", "pyruntime-csr", "pyruntime-csr8", "torch", "scipy"]
    best, kernels = {}, {}
    for _ in range(a.rounds):
        for t in (1, 2):
            for lib in libs:
                if lib == "scipy" and t == 2:
                    continue
                out = subprocess.run([sys.executable, "-c", PEER, lib, str(t), str(a.runs), d], capture_output=True, cwd=HERE,
                                     text=True, check=True).stdout
                for line in out.splitlines():
                    r = json.loads(line)
                    k = (lib, t, r["case"])
                    best[k] = min(best.get(k, 1e9), r["ms"])
                    kernels[(lib, r["case"][:2])] = r["kernel"]
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)

    def f(v):
        return "—" if v is None else f"{v:.3f}"

    def ratio(a_, b_):
        return "—" if a_ is None or b_ is None else f"{a_ / b_:.2f}"

    tables = []
    for ci, (label, n, k, p) in enumerate(CASES):
        lines = [f"**{label}** (ms; ratios > 1: our csr f32 is faster)", "",
                 "| sparsity | threads | ours dense | ours csr f32 | ours csr i8 | torch CSR | scipy CSR | "
                 "dense / csr | torch / csr | scipy / csr | csr f32 / csr i8 |", "|---|" + "---|" * 10]
        for sp in SPARSITY:
            name = f"c{ci}_s{int(sp * 100):02d}"
            for t in (1, 2):
                g = {lib: best.get((lib, t, name)) for lib in libs}
                sc = best.get(("scipy", 1, name)) if t == 1 else None
                lines.append(f"| {int(sp * 100)}% | {t} | {f(g['pyruntime-dense'])} | {f(g['pyruntime-csr'])} | "
                             f"{f(g['pyruntime-csr8'])} | {f(g['torch'])} | {f(sc)} | "
                             f"{ratio(g['pyruntime-dense'], g['pyruntime-csr'])} | {ratio(g['torch'], g['pyruntime-csr'])} | "
                             f"{ratio(sc, g['pyruntime-csr'])} | {ratio(g['pyruntime-csr'], g['pyruntime-csr8'])} |")
        lines.append("")
        lines.append("kernels: " + ", ".join(f"{lib} `{kernels.get((lib, f'c{ci}'), '?')}`" for lib in libs[:3]))
        tables.append("\n".join(lines))
    text = "\n\n".join(tables)
    print(text)
    if a.no_write:
        return
    import scipy
    import torch
    from results import machine, write_section
    write_section(f"""## Sparse execution

Command: `python3 bench/sparse.py --rounds {a.rounds}` — {datetime.date.today()}  
{machine()}; torch {torch.__version__}, scipy {scipy.__version__}

Magnitude-pruned Gaussian weights (seeded), batch 1. Ours: a one-node file (Conv in channels-first layout /
Gemm with transB) with the weight dense, csr with f32 values, or csr with i8 values; csr weights are repacked
at load into per-row nonzero lists (i8 values scaled to f32 there, so "csr i8" is a smaller file at csr f32's
speed). PyTorch: torch.sparse_csr_tensor @ dense; SciPy: csr_matrix @ dense (one thread). Median of
{a.runs} calls, best of {a.rounds} interleaved rounds, each library in its own process.

{text}
""")


if __name__ == "__main__":
    main()
