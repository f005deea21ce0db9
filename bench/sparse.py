#!/usr/bin/env python3
"""Sparse execution: a 1x1 convolution 256->256 at 56x56 (batch 1, channels first) and a Linear layer 4096x4096
at batch 1, at 70/80/90/95% unstructured sparsity: our csr kernels against our dense f32 and against PyTorch's
and SciPy's CSR products on the same matrices, 1 and 2 threads, in one run.

    python3 bench/sparse.py [--no-write] [--runs 50] [--rounds 2]

Weights are magnitude-pruned Gaussian matrices (seeded). Ours: a one-node .pyrt (Conv / Gemm transB) with the
weight dense, csr with f32 values, or csr with i8 values (per-row scales), and the static int8 layer
(QLinearConv / QGemm, u8 activations, s8 weights) dense or csr; PyTorch: a torch.sparse_csr_tensor
times the dense input; SciPy: scipy.sparse.csr_matrix times it (single-threaded). Each library runs in its own
process per thread count; the median of --runs calls after warm-ups, best of --rounds interleaved rounds.
The section "## Sparse execution" of bench/RESULTS.md is replaced with the results.
"""
import argparse, datetime, json, os, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPARSITY = [0.0, 0.7, 0.8, 0.9, 0.95]
# (label, rows, columns of the input, pixels, kernel size, cost-model kind of the f32 and int8 layers)
CASES = [("conv1x1 256->256 @56x56", 256, 256, 56 * 56, 1, "conv1x1", "qconv"),
         ("linear 4096x4096 batch 1", 4096, 4096, 1, 1, "linear", "qlinear"),
         ("conv3x3 64->64 @56x56 (pad 1)", 64, 64, 56 * 56, 3, "convkxk", None)]

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
    if w.ndim > 2 and not lib.startswith("pyruntime"): continue   # kxk: no CSR convolution in the peers
    w = w.reshape(w.shape[0], -1)
    if lib.startswith("pyruntime"):
        import pyruntime
        enc = lib.split("-", 1)[1]
        path = os.path.join(d, name[:-4] + "." + enc + ".pyrt")
        if not os.path.exists(path): continue
        s = pyruntime.Session(path, num_threads=threads)
        if enc.startswith("int8"):   # u8 activations (the static int8 layer's input), channels last
            xq = np.clip(np.rint(x / 0.02) + 128, 0, 255).astype(np.uint8)
            feed = xq.T.reshape(1, 56, 56, x.shape[0]) if x.shape[1] > 1 else xq.reshape(1, -1)
        else:
            feed = x.reshape(1, x.shape[0], 56, 56) if x.shape[1] > 1 else x.reshape(1, -1)
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
    for ci, (label, n, k, p, ks, _, qkind) in enumerate(CASES):
        base = rng.standard_normal((n, k, ks, ks) if ks > 1 else (n, k)).astype(np.float32)
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
                wc = g.const(w.reshape(n, k, ks, ks) if p > 1 else w, "w", "csr" if enc != "dense" else "dense", **opts)
                if p > 1:
                    y = g.op("Conv", g.input("x", [1, k, 56, 56]), wc, kernel_shape=[ks, ks], pads=[ks // 2] * 4)
                else:
                    y = g.op("Gemm", g.input("x", [1, k]), wc, transB=1)
                g.output(y, "y")
                g.save(os.path.join(d, f"{name}.{enc}.pyrt"))
            for enc in (("int8", "int8csr") if sp else ("int8",)) if qkind else ():
                write_int8(d, f"{name}.{enc}.pyrt", w, p, csr=enc == "int8csr")


def write_int8(d, fname, w, p, csr):
    """The static int8 layer: u8 activations (scale 0.02, zero point 128), s8 weights per output channel, u8
    output for the convolution (channels last), f32 for the Linear (QGemm)."""
    import pyruntime
    n, k = w.shape
    ws = np.maximum(np.abs(w).max(1), 1e-8) / 127
    wq = np.clip(np.rint(w / ws[:, None]), -127, 127).astype(np.int8)
    g = pyruntime.Graph("sparse-int8")
    s, z = g.const(np.array(0.02, np.float32)), g.const(np.array(128, np.uint8))
    wc = g.const(wq.reshape(n, k, 1, 1) if p > 1 else wq, "w", "csr" if csr else "dense")
    wsc, wz = g.const(ws.astype(np.float32)), g.const(np.array(0, np.int8))
    if p > 1:
        ys, yz = g.const(np.array(0.5, np.float32)), g.const(np.array(128, np.uint8))
        y = g.op("QLinearConv", g.input("x", [1, 56, 56, k], "u8"), s, z, wc, wsc, wz, ys, yz, kernel_shape=[1, 1],
                 layout="NHWC")
    else:
        y = g.op("QGemm", g.input("x", [1, k], "u8"), s, z, wc, wsc, wz, transB=1)
    g.output(y, "y")
    g.save(os.path.join(d, fname))


def crossover(best, dense, sparse, ci):
    """The sparsity from which the csr layer is at least as fast as the dense one at every measured sparsity
    above it, on 1 and 2 threads (the time ratio interpolated linearly between measured points); 1.0: never."""
    pts = [sp for sp in SPARSITY if sp > 0]
    r = [max(best[(sparse, t, f"c{ci}_s{int(sp * 100):02d}")] / best[(dense, t, f"c{ci}_s{int(sp * 100):02d}")]
             for t in (1, 2)) for sp in pts]
    for i in range(len(pts) - 1, -1, -1):
        if r[i] > 1:
            if i == len(pts) - 1:
                return 1.0
            return round(pts[i] + (pts[i + 1] - pts[i]) * (r[i] - 1) / (r[i] - r[i + 1]), 3)
    return pts[0]   # faster at every measured point: from the lowest one measured


def write_costs(costs):
    """pyruntime/exporters/sparse_costs.py: the thresholds sparse="auto" uses."""
    from results import machine
    body = ",\n".join(f"    {k!r}: {v}" for k, v in costs.items())
    path = os.path.join(HERE, "..", "pyruntime", "export", "sparse_costs.py")
    with open(path, "w") as f:
        f.write(f'''"""Written by bench/sparse.py (do not edit by hand): for each layer kind, the sparsity from which its csr
kernel runs at least as fast as the dense layer on 1 and 2 threads (1.0: never), measured {datetime.date.today()} on
{machine().replace("Machine: ", "")}. sparse="auto" at export stores a weight csr from there.

Kinds: conv1x1 / convkxk (f32 Conv, channels first), linear (f32 Gemm, batch <= 16), qconv / qlinear (static
int8 QLinearConv / QGemm)."""
MIN_SPARSITY = {{
{body},
}}
''')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    write_models(d)
    libs = ["pyruntime-dense", "pyruntime-csr", "pyruntime-csr8", "pyruntime-int8", "pyruntime-int8csr", "torch", "scipy"]
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
    for ci, (label, n, k, p, ks, kind, qkind) in enumerate(CASES):
        lines = [f"**{label}** (ms; ratios > 1: the second is faster)", "",
                 "| sparsity | threads | dense f32 | csr f32 | csr i8 values | int8 dense | int8 csr | torch CSR | "
                 "scipy CSR | dense / csr f32 | torch / csr f32 | scipy / csr f32 | csr f32 / int8 csr | "
                 "int8 dense / int8 csr |", "|---|" + "---|" * 13]
        for sp in SPARSITY:
            name = f"c{ci}_s{int(sp * 100):02d}"
            for t in (1, 2):
                g = {lib: best.get((lib, t, name)) for lib in libs}
                sc = best.get(("scipy", 1, name)) if t == 1 else None
                csr = g["pyruntime-csr"]
                lines.append(f"| {int(sp * 100)}% | {t} | {f(g['pyruntime-dense'])} | {f(csr)} | "
                             f"{f(g['pyruntime-csr8'])} | {f(g['pyruntime-int8'])} | {f(g['pyruntime-int8csr'])} | "
                             f"{f(g['torch'])} | {f(sc)} | {ratio(g['pyruntime-dense'], csr)} | {ratio(g['torch'], csr)} | "
                             f"{ratio(sc, csr)} | {ratio(csr, g['pyruntime-int8csr'])} | "
                             f"{ratio(g['pyruntime-int8'], g['pyruntime-int8csr'])} |")
        lines.append("")
        lines.append("kernels: " + ", ".join(f"{lib} `{kernels.get((lib, f'c{ci}'), '?')}`" for lib in libs[:5]))
        tables.append("\n".join(lines))
    text = "\n\n".join(tables)
    costs = {}
    for ci, (label, n, k, p, ks, kind, qkind) in enumerate(CASES):
        costs[kind] = crossover(best, "pyruntime-dense", "pyruntime-csr", ci)
        if qkind:
            costs[qkind] = crossover(best, "pyruntime-int8", "pyruntime-int8csr", ci)
    print("sparse='auto' thresholds:", costs)
    if a.no_write:
        return
    write_costs(costs)
    import scipy
    import torch
    from results import machine, write_section
    write_section(f"""## Sparse execution

Command: `python3 bench/sparse.py --rounds {a.rounds}` — {datetime.date.today()}  
{machine()}; torch {torch.__version__}, scipy {scipy.__version__}

Magnitude-pruned Gaussian weights (seeded), batch 1. Ours: a one-node file (Conv in channels-first layout /
Gemm with transB) with the weight dense, csr with f32 values, or csr with i8 values (f32 activations; repacked
at load into per-row nonzero lists, i8 values scaled to f32 there except in the GEMV); "int8": the static int8
layer (QLinearConv channels last with u8 in and out / QGemm with u8 input and f32 output, s8 weights per
output channel) with the weight dense (the u8 x s8 GEMM) or csr with s8 values (the sparse u8 x s8 kernel).
PyTorch: torch.sparse_csr_tensor @ dense; SciPy: csr_matrix @ dense (one thread). Median of
{a.runs} calls, best of {a.rounds} interleaved rounds, each library in its own process.

{text}
""")


if __name__ == "__main__":
    main()
