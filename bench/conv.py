#!/usr/bin/env python3
"""fp32 convolution: a pyruntime Session running one Conv node, in NCHW and in the NHWC layout the exporter
emits for CNNs (its channels-last pass), against PyTorch (F.conv2d, NCHW) and numpy (im2col with stride
tricks + OpenBLAS matmul) in the same run, 1 and 2 threads.

    python3 bench/conv.py [--no-write] [--quick]

Every peer runs in its own subprocess per thread count; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed
from those environments. Figures: GFLOPS = 2·N·Cout·OH·OW·(Cin/groups)·kH·kW / median time of 7 samples.
The section "## fp32 convolution" of bench/RESULTS.md is replaced with the results.
"""
import argparse, datetime, json, os, platform, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name, N, Cin, H, W, Cout, k, stride, pad, groups
SHAPES = [("resnet 3x3 64->64 @56", 1, 64, 56, 56, 64, 3, 1, 1, 1),
          ("resnet 3x3 128->128 @28 s1", 1, 128, 28, 28, 128, 3, 1, 1, 1),
          ("stem 3x3 s2 3->32 @224", 1, 3, 224, 224, 32, 3, 2, 1, 1),
          ("pointwise 1x1 32->192 @56", 1, 32, 56, 56, 192, 1, 1, 0, 1),
          ("pointwise 1x1 192->32 @56", 1, 192, 56, 56, 32, 1, 1, 0, 1),
          ("depthwise 3x3 144 @56", 1, 144, 56, 56, 144, 3, 1, 1, 144),
          ("depthwise 3x3 s2 96 @112", 1, 96, 112, 112, 96, 3, 2, 1, 96)]
QUICK = SHAPES[:1] + SHAPES[3:4] + SHAPES[5:6]

PEER = r'''
import json, sys, time
lib, threads, shapes = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
import numpy as np
rng = np.random.default_rng(1)
def median_seconds(f, min_time=0.4):
    f(); t = time.perf_counter(); f(); once = time.perf_counter() - t
    iters = max(1, int(min_time / 7 / max(once, 1e-9))); ts = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(iters): f()
        ts.append((time.perf_counter() - t) / iters)
    return sorted(ts)[3]
if lib == "torch":
    import torch
    torch.set_num_threads(threads)
for name, N, C, H, W, CO, k, s, p, g in shapes:
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((CO, C // g, k, k)) * 0.1).astype(np.float32)
    b = rng.standard_normal(CO).astype(np.float32)
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    if lib.startswith("pyruntime"):
        import pyruntime
        layout = "NHWC" if lib.endswith("nhwc") else "NCHW"
        if layout == "NHWC":
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        gr = pyruntime.Graph("conv")
        xi = gr.input("x", list(x.shape))
        gr.output(gr.op("Conv", xi, gr.const(w), gr.const(b), strides=[s, s], pads=[p] * 4, group=g, layout=layout),
                  "y")
        sess = pyruntime.Session(gr.to_bytes(), num_threads=threads)
        f = lambda: sess.run(x)
        f()
        kernel = sess.describe()[0]["kernel"]   # after a run: the plan has chosen it
    elif lib == "torch":
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        def f():
            with torch.inference_mode():
                torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p, groups=g)
        kernel = "torch"
    else:  # numpy: im2col by stride tricks (copied per group) + OpenBLAS sgemm
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        sn, sc, sh, sw = xp.strides
        cg, og = C // g, CO // g
        wm = w.reshape(g, og, cg * k * k)
        def f():
            cols = np.lib.stride_tricks.as_strided(xp, (N, C, k, k, OH, OW), (sn, sc, sh, sw, sh * s, sw * s))
            out = np.empty((N, g, og, OH * OW), np.float32)
            for n in range(N):
                for gi in range(g):
                    cm = np.ascontiguousarray(cols[n, gi * cg:(gi + 1) * cg]).reshape(cg * k * k, OH * OW)
                    np.matmul(wm[gi], cm, out=out[n, gi])
            out += b.reshape(1, g, og, 1)
        kernel = "im2col+sgemm"
    sec = median_seconds(f)
    flops = 2.0 * N * CO * OH * OW * (C // g) * k * k
    print(json.dumps({"name": name, "threads": threads, "gflops": flops / sec * 1e-9, "ms": sec * 1e3,
                      "kernel": kernel}), flush=True)
'''


def run_peer(lib, threads, shapes):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-c", PEER, lib, str(threads), json.dumps(shapes)], env=env, cwd=HERE,
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--quick", action="store_true", help="three shapes, one thread count, no RESULTS.md")
    a = ap.parse_args()
    shapes = QUICK if a.quick else SHAPES
    rows = {}
    for threads in ((1,) if a.quick else (1, 2)):
        for lib in ("pyruntime", "pyruntime-nhwc", "numpy", "torch"):
            for r in run_peer(lib, threads, shapes):
                rows.setdefault((r["name"], threads), {})[lib] = r
    lines = ["| conv | threads | pyruntime NCHW GFLOPS (kernel) | pyruntime NHWC GFLOPS (kernel) | numpy im2col+OpenBLAS "
             "| torch | NHWC/numpy | NHWC/torch |", "|---|---|---|---|---|---|---|---|"]
    for (name, t), d in rows.items():
        o, h, n, tt = d["pyruntime"], d["pyruntime-nhwc"], d["numpy"], d["torch"]
        lines.append(f"| {name} | {t} | {o['gflops']:.1f} ({o['kernel']}) | {h['gflops']:.1f} ({h['kernel']}) | "
                     f"{n['gflops']:.1f} | {tt['gflops']:.1f} | {h['gflops'] / n['gflops']:.2f} | "
                     f"{h['gflops'] / tt['gflops']:.2f} |")
    table = "\n".join(lines)
    print(table)
    if a.quick or a.no_write:
        return
    import pyruntime
    from results import machine
    section = (f"## fp32 convolution\n\nCommand: `python3 bench/conv.py` — {datetime.date.today()}  \n"
               f"{machine()}; Python {platform.python_version()}\n\n"
               "One Conv node (bias, no activation) run by a Session on NCHW input and with `layout=NHWC` on "
               "channels-last input (what exported CNNs run), vs `torch.nn.functional.conv2d` (NCHW) and numpy "
               "(im2col by stride tricks + OpenBLAS sgemm, OPENBLAS_CORETYPE unset so it uses its AVX-512 kernel "
               "on this CPU), each in its own process, median of 7 samples. Batch 1.\n\n" + table + "\n")
    from results import write_section
    path = write_section(section)
    print("wrote", path, pyruntime.__version__)


if __name__ == "__main__":
    main()
