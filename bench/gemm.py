#!/usr/bin/env python3
"""fp32 GEMM: pyrt_gemm_bench against numpy (OpenBLAS) and PyTorch CPU in the same run.

    python3 bench/gemm.py [--tool build/rel/pyrt_gemm_bench] [--rounds 2] [--no-write]

Same shapes and layouts for every peer: square A[M,K] @ B[K,N]; conv W[M,K] @ X[K,N]; linear
X[M,K] @ W[N,K]^T. Every peer runs in its own subprocess per thread count (numpy: OPENBLAS_NUM_THREADS,
torch: set_num_threads); OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from those environments
(an extra column forces OPENBLAS_CORETYPE=Haswell: OpenBLAS's AVX2 kernel, the same ISA as ours).
Each figure is a median over 7 samples within a process; with --rounds R the whole set runs R times
interleaved and each cell keeps its best round (all peers alike), which filters out other processes'
load. The CPU time other processes used during each measurement is reported. pyrt runs twice: with the
table it picks for the CPU (AVX-512 where available) and with PYRT_KERNELS=avx2 (its AVX2 6x16 kernel).
"""
import argparse, datetime, json, os, platform, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SHAPES = [("square", 256, 256, 256), ("square", 512, 512, 512), ("square", 1024, 1024, 1024),
          ("square", 2048, 2048, 2048), ("conv", 64, 3136, 576), ("conv", 256, 196, 2304),
          ("linear", 1, 1024, 1024), ("linear", 2, 1024, 1024), ("linear", 4, 1024, 1024),
          ("linear", 8, 1024, 1024)]

PEER = r'''
import json, sys, time
lib, threads, shapes = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
import numpy as np
if lib == "torch":
    import torch
    torch.set_num_threads(threads)
rng = np.random.default_rng(1)
def median_seconds(f, min_time=0.5):
    f(); t = time.perf_counter(); f(); once = time.perf_counter() - t
    iters = max(1, int(min_time / 7 / max(once, 1e-9))); ts = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(iters): f()
        ts.append((time.perf_counter() - t) / iters)
    return sorted(ts)[3]
for kind, M, N, K in shapes:
    a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
    b = rng.uniform(-1, 1, (N, K) if kind == "linear" else (K, N)).astype(np.float32)
    if lib == "torch":
        a, b = torch.from_numpy(a), torch.from_numpy(b)
        bb = b.t() if kind == "linear" else b
        with torch.inference_mode():
            sec = median_seconds(lambda: torch.matmul(a, bb))
    else:
        bb = b.T if kind == "linear" else b   # a view: sgemm with a transposed operand, no copy
        out = np.empty((M, N), np.float32)
        sec = median_seconds(lambda: np.matmul(a, bb, out=out))
    print(json.dumps({"kind": kind, "M": M, "N": N, "K": K, "threads": threads, "seconds": sec,
                      "gflops": 2.0 * M * N * K / sec * 1e-9}), flush=True)
'''


def cpu_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all CPUs, seconds not idle / iowait


def run(cmd, env):
    """Runs a measurement; returns its JSON lines and the CPU seconds other processes used meanwhile."""
    b0, c0, t0 = cpu_busy(), os.times(), time.time()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    b1, c1, t1 = cpu_busy(), os.times(), time.time()
    ours = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    other = max(0.0, (b1 - b0) - ours)
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")], other / (t1 - t0)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(extra)
    return env


def key(r):
    return (r["kind"], r["M"], r["N"], r["K"], r["threads"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default=os.path.join(ROOT, "build/rel/pyrt_gemm_bench"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    shapes = json.dumps(SHAPES)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False

    best = {}       # (peer, key) -> gflops
    bg = {}         # peer -> max background CPUs seen during its runs
    header = None
    isa2 = {}       # peer -> the ISA that pyrt run reported (ours_avx2 must say avx2)
    for rnd in range(args.rounds):
        for t in threads:
            runs = [("ours", [args.tool, "--threads", str(t)], clean_env())]
            runs.append(("ours_avx2", [args.tool, "--threads", str(t)], clean_env(PYRT_KERNELS="avx2")))
            runs.append(("openblas", [sys.executable, "-c", PEER, "numpy", str(t), shapes],
                         clean_env(OPENBLAS_NUM_THREADS=str(t))))
            runs.append(("openblas_avx2", [sys.executable, "-c", PEER, "numpy", str(t), shapes],
                         clean_env(OPENBLAS_NUM_THREADS=str(t), OPENBLAS_CORETYPE="Haswell")))
            if have_torch:
                runs.append(("torch", [sys.executable, "-c", PEER, "torch", str(t), shapes],
                             clean_env(OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))))
            for peer, cmd, env in runs:
                rows, other = run(cmd, env)
                bg[peer] = max(bg.get(peer, 0.0), other)
                print(f"round {rnd + 1} threads {t} {peer}: background {other:.2f} CPUs", file=sys.stderr)
                for r in rows:
                    if "isa" in r:
                        if peer == "ours":
                            header = r
                        else:
                            isa2[peer] = r["isa"]
                        continue
                    name = peer if not peer.startswith("ours") else peer + "_" + r["mode"]
                    k = (name, key(r))
                    best[k] = max(best.get(k, 0.0), r["gflops"])

    def g(name, k):
        return best.get((name, k))

    def fmt(x):
        return "—" if x is None else f"{x:.1f}"

    def ratio(a, b):
        return "—" if a is None or b is None else f"{a / b:.2f}"

    lines = ["| shape (M×N×K) | threads | ours plain | ours prepacked | ours AVX2 plain | OpenBLAS | OpenBLAS AVX2 | "
             "torch | ours/OpenBLAS | ours AVX2/OpenBLAS AVX2 | ours/torch | ours int8 (GOPS) | int8/fp32 prepacked |",
             "|" + "---|" * 13]
    for t in threads:
        for kind, M, N, K in SHAPES:
            k = (kind, M, N, K, t)
            plain = g("ours_plain", k)
            pre = g("ours_packed_b", k) or g("ours_packed_a", k)
            ob, oh, to = g("openblas", k), g("openblas_avx2", k), g("torch", k)
            a2 = g("ours_avx2_plain", k)
            i8 = g("ours_int8", k)
            lines.append(f"| {kind} {M}×{N}×{K} | {t} | {fmt(plain)} | {fmt(pre)} | {fmt(a2)} | {fmt(ob)} | {fmt(oh)} | "
                         f"{fmt(to)} | {ratio(plain, ob)} | {ratio(a2, oh)} | {ratio(plain, to)} | {fmt(i8)} | "
                         f"{ratio(i8, pre)} |")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return

    import numpy
    tv = "not installed"
    if have_torch:
        import torch
        tv = torch.__version__
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    date = datetime.date.today().isoformat()
    big = [(M, g("ours_plain", (kind, M, N, K, 1)), g("openblas", (kind, M, N, K, 1)))
           for kind, M, N, K in SHAPES if kind == "square" and M >= 1024]
    worst = max(bg.values()) if bg else 0.0
    load_note = ("" if worst < 0.5 else
                 f"- Other processes used up to {worst:.2f} CPUs of the {os.cpu_count()} during these runs: the "
                 "2-thread rows can then measure contention as much as the libraries (a run loses part of a core to "
                 "other work at random), and single-thread figures are noisier than usual.\n")
    big_txt = ", ".join(f"{M}²: {ratio(o, b)}" for M, o, b in big)
    section = f"""## fp32 GEMM

Command: `python3 bench/gemm.py --rounds {args.rounds}` (after `ninja -C build/rel pyrt_gemm_bench`) — {date}  
Machine: {cpu}, {os.cpu_count()} cores, pyrt ISA `{header['isa']}` (tile {header['mr']}x{header['nr']}, MC={header['mc']} KC={header['kc']} NC={header['nc']}); Linux {platform.release()}, Python {platform.python_version()}, numpy {numpy.__version__} (OpenBLAS), torch {tv}

GFLOPS (2·M·N·K / time), median of 7 samples per process, best of {args.rounds} interleaved rounds for every column.
"ours plain" packs both operands on every call, as the peers do; "ours prepacked" is the runtime's layer path
(weights packed once at load: `gemm_packed_b` for linear X·Wᵀ, `gemm_packed_a` for conv W·X;
square uses `gemm_packed_b`). "ours int8" is the static-int8 layer path on the same shape (u8 activations
[M,K] read in place x s8 weights [N,K] packed once, int32 sums requantized to u8: `qgemm::run`, the kernel of
QLinearConv/QGemm), in GOPS (2·M·N·K per second), and its ratio to the f32 prepacked path. "ours AVX2 plain" is the same tool under PYRT_KERNELS=avx2 (pyrt's AVX2 6x16
kernel, reported ISA `{isa2.get('ours_avx2', '?')}`). Ratios use the plain columns. OpenBLAS runs with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset, so on this CPU it picks its AVX-512 kernel; "OpenBLAS AVX2" forces
OPENBLAS_CORETYPE=Haswell (its AVX2+FMA kernel). Most CPU time other processes used
during one measurement (CPUs): {', '.join(f'{k} {v:.2f}' for k, v in bg.items())}.

{table}

Notes (hold for this machine; see the table for the figures):
- The 80%-of-OpenBLAS target is stated against single-thread SGEMM at 1024² and above; ours/OpenBLAS
  (AVX-512 both) single-thread in this run: {big_txt}. pyrt's AVX-512 kernel is a 14x32 tile (28 zmm
  accumulators, inline-asm loop); the AVX2 6x16 kernel stays for CPUs without AVX-512 (column "ours AVX2").
- Every C element is one FMA chain in k order (bit-identical across thread counts and against the
  reference). At M = 1 that leaves two dependent chains per NR columns (16 AVX2, 32 AVX-512), so prepacked
  batch-1 Linear is bound by FMA latency (~30 GFLOPS AVX2, ~40 AVX-512). OpenBLAS's sgemv reduces k in
  several partial sums and gets ~42.
- "ours plain" at M ≤ 8 packs all of B on every call (the same traffic as the product itself); the runtime's
  Linear uses the prepacked path. A direct-B path for small M is not written yet.
- Blocking MC/KC was swept for the 6x16 tile at {{72,144,288}} × {{192,256,384,512}}; differences were within
  noise on squares, and 144/256 was as good as any on the conv shapes. The 14x32 tile uses MC=140 (144
  rounded down to 14 rows) and the same KC/NC; not re-swept yet.
{load_note}"""
    from results import write_section
    path = write_section(section)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
