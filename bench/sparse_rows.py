#!/usr/bin/env python3
"""A pruned Linear layer (csr weight) over many rows (a prefill, a batch): the spmm on the transposed rows, on the
weight as stored, against the f32 GEMM on the same weight stored dense.

    python3 bench/sparse_rows.py [--no-write] [--rounds 5]

Gemm(x [M, K], W^T) with W [N, K] = [3072, 768] (GPT-2's MLP), M = 128 rows, magnitude-pruned to each sparsity;
one file stores W csr (f32 values, u16 columns: what the exporter writes), the other dense f32. Best median of
--rounds interleaved rounds of 20 runs, 1 and 2 threads. The section "## Sparse Linear over many rows" of
bench/RESULTS.md is replaced.
"""
import argparse, datetime, os, sys, tempfile, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    import pyruntime
    from pyruntime.graph import Graph
    from results import machine, median_ms, write_section
    rng = np.random.default_rng(0)
    N, K, M = 3072, 768, 128
    x = rng.standard_normal((M, K)).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for sp in (0.5, 0.7, 0.8, 0.9, 0.95):
            w = rng.standard_normal((N, K)).astype(np.float32)
            w[np.abs(w) < np.quantile(np.abs(w), sp)] = 0
            paths = {}
            for enc in ("csr", "dense"):
                g = Graph(enc)
                g.output(g.op("Gemm", g.input("x", [M, K]), g.const(w, "w", enc), transB=1), "y")
                paths[enc] = os.path.join(d, f"{enc}.pyrt")
                g.save(paths[enc])
            for th in (1, 2):
                ss = {e: pyruntime.Session(p, num_threads=th) for e, p in paths.items()}
                best = {e: float("inf") for e in ss}
                for _ in range(a.rounds):
                    for e, s in ss.items():
                        s.run(x)
                        best[e] = min(best[e], median_ms(lambda: s.run(x), 20))
                kern = ss["csr"].describe()[0]["kernel"]
                rows.append(f"| {100 * sp:.0f}% | {th} | {best['dense']:.3f} | {best['csr']:.3f} | "
                            f"{best['dense'] / best['csr']:.2f}x | {os.path.getsize(paths['csr']) / 2**20:.1f} / "
                            f"{os.path.getsize(paths['dense']) / 2**20:.1f} | `{kern}` |")
                print(rows[-1], file=sys.stderr, flush=True)
    section = "\n".join([
        "## Sparse Linear over many rows", "",
        f"Command: `python3 bench/sparse_rows.py --rounds {a.rounds}` — {datetime.date.today()}  ", machine(), "",
        f"Gemm over M = {M} rows with a magnitude-pruned W [{N}, {K}] stored csr (f32 values, u16 columns) against the "
        "same W stored dense f32 (the f32 GEMM on its packed panels). The csr weight runs the spmm on the rows "
        "transposed (Y^T = W A^T, then transposed back) on the stored nonzeros: no f32 form of the weight. Best median "
        f"of {a.rounds} interleaved rounds of 20 runs.", "",
        "| sparsity | threads | dense f32 (ms) | csr (ms) | dense / csr | file csr / dense (MiB) | csr kernel |",
        "|---|---|---|---|---|---|---|"] + rows + [""])
    print(section)
    if not a.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
