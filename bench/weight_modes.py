#!/usr/bin/env python3
"""EfficientNet-Lite0 (trained weights, batch 1) in every compression mode against our fp32: latency, and the
kernels its 1x1 convolutions and its classifier ran (how each stored encoding is computed on).

    python3 bench/weight_modes.py [--no-write] [--rounds 6] [--runs 20]

The files are the ones bench/memory.py measures (the same export options). All sessions live in one process
and are timed in alternating rounds (each round: every mode, 1 thread then 2 threads); a figure is the best
median over the rounds. The section "## EfficientNet-Lite0 per weight mode" of bench/RESULTS.md is replaced.
"""
import argparse, collections, datetime, os, sys, tempfile, warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))


def kernels(session) -> str:
    """The kernels of the 1x1 convolutions (sparse ones: spmm) and the Gemm, with counts (the ISA suffix dropped)."""
    from pyruntime import _core
    isa = "-" + _core.isa()
    c = collections.Counter(d["kernel"].replace(isa, "") for d in session.describe()
                            if d["op_type"] == "Gemm" or "conv1x1" in d["kernel"] or d["kernel"].startswith("spmm"))
    return ", ".join(f"{k} ×{n}" for k, n in c.most_common())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    import pyruntime
    from memory import efficientnet_files
    from results import machine, median_ms, write_section
    d = tempfile.mkdtemp(prefix="modes_")
    files = efficientnet_files(d, False)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    sessions = {(label, t): pyruntime.Session(path, num_threads=t) for _, label, _, path in files for t in (1, 2)}
    for s in sessions.values():
        for _ in range(3):
            s.run(x)
    best: dict = {}
    for r in range(a.rounds):
        for key, s in sessions.items():
            ms = median_ms(lambda: s.run(x), a.runs)
            best[key] = min(ms, best.get(key, ms))
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr)
    lines = ["| mode | file MiB | 1 thread (ms) | vs fp32 | 2 threads (ms) | vs fp32 | 1x1 convolutions and classifier ran |",
             "|---|---|---|---|---|---|---|"]
    for _, label, _, path in files:
        t1, t2 = best[(label, 1)], best[(label, 2)]
        lines.append(f"| {label} | {os.path.getsize(path) / 2**20:.1f} | {t1:.2f} | {best[('fp32', 1)] / t1:.2f}x | "
                     f"{t2:.2f} | {best[('fp32', 2)] / t2:.2f}x | {kernels(sessions[(label, 1)])} |")
    table = "\n".join(lines)
    print(table)
    sessions.clear()
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)
    if a.no_write:
        return
    write_section(f"""## EfficientNet-Lite0 per weight mode

Command: `python3 bench/weight_modes.py` — {datetime.date.today()}  
{machine()}

EfficientNet-Lite0 (trained weights, one 224x224 image) exported in each mode of bench/memory.py, against our
fp32 file: best median of {a.rounds} alternating rounds of {a.runs} runs, all sessions in one process. "vs fp32":
fp32 time / the mode's (above 1: faster). The last column names the kernels of the 1x1 convolutions and of the
classifier (Gemm): `qd8-gemm-i8w` int8 weights as stored, `gemm-i4` the int4 GEMM on the stored nibbles,
`qd8-gemm-lut4` the lookup GEMM on the stored 4-bit codes (shared values), `gemm` f32 (layers a mode keeps f32),
`qgemm` static int8, `spmm` / `spmv` the sparse kernels on csr weights.

{table}
""")


if __name__ == "__main__":
    main()
