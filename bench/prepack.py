#!/usr/bin/env python3
"""Pre-packed layouts (SPEC §6.6): what storing the packed weight forms in the file costs (file size) and gives
(load time, private memory), against the same file without them, for EfficientNet-Lite0 (trained weights) and a
GPT-2 124M-shaped decoder, in every weight mode of bench/memory.py.

    python3 bench/prepack.py [--no-write] [--quick] [--rounds 3]

Each measurement is a fresh process: it opens the file, makes a session (the load: the ops pack their weights,
or read them from the file) and runs once (an image; a 512-token prompt then 8 tokens). Load time: the best of
--rounds interleaved rounds. Memory, from /proc/self/status after the run, beside the growth of the resident set:
its private part (RssAnon: the packed copies, the arena, the KV cache; each process pays it) and its file-backed
part (RssFile: the mapped model's pages; shared by every process that maps the file, dropped under memory pressure
and read again, never swapped). The section "## Pre-packed layouts" of bench/RESULTS.md is replaced.
"""
import argparse, datetime, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

WORKER = r'''
import json, sys, time
import numpy as np
import pyruntime
sys.path.insert(0, '.')  # the workers run in bench/ (also under PYTHONSAFEPATH)
from results import proc_status as status, worker_inputs, worker_run
kind, path = sys.argv[1], sys.argv[2]
spec = json.loads(sys.argv[3])


inputs = worker_inputs(kind, spec)
base = {k: status(k) for k in ("VmRSS", "RssAnon", "RssFile")}
t0 = time.perf_counter()
s = pyruntime.Session(path, num_threads=1)
load = time.perf_counter() - t0
worker_run(s, kind, inputs, spec)
p = s.packing()
print(json.dumps({"load": load, "peak": status("VmHWM") - base["VmRSS"],
                  "anon": status("RssAnon") - base["RssAnon"], "file": status("RssFile") - base["RssFile"],
                  "from_file": p["from_file"], "packed": p["packed_at_load"], "isa": s.isa}))
'''


def measure(kind, path, spec):
    out = subprocess.run([sys.executable, "-c", WORKER, kind, path, json.dumps(spec)], cwd=HERE,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--quick", action="store_true", help="two EfficientNet modes and a tiny GPT (a smoke test)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    import memory
    import pyruntime
    from pyruntime import _core
    from pyruntime.prepack import prepack
    with tempfile.TemporaryDirectory() as d:
        files = memory.efficientnet_files(d, args.quick)
        memory.GPT_MODES[:] = [m for m in memory.GPT_MODES if "KV" not in m[0]]   # the cache is not a weight
        gfiles, vocab = memory.gpt_files(d, args.quick)
        files += gfiles
        spec = {"vocab": vocab, "prompt": 64 if args.quick else 512, "tokens": 8}
        rows = []
        for model, mode, kind, path in files:
            packed = path[:-5] + ".packed.pyrt"
            r = prepack(path, packed)
            every = prepack(path, path[:-5] + ".all.pyrt", targets=list(_core.kernel_tables()))
            os.unlink(path[:-5] + ".all.pyrt")
            rows.append(dict(model=model, mode=mode, kind=kind, path=path, packed=packed, forms=r["forms"],
                             size=r["file_bytes_before"], size_packed=r["file_bytes_after"],
                             size_all=every["file_bytes_after"], runs={"canonical": [], "packed": []}))
        for _ in range(args.rounds):   # interleaved: every file once per round
            for row in rows:
                for which in ("canonical", "packed"):
                    row["runs"][which].append(measure(row["kind"], row["path" if which == "canonical" else "packed"],
                                                      spec))
                    print(row["model"], row["mode"], which, row["runs"][which][-1], file=sys.stderr, flush=True)
    mib = lambda b: f"{b / 2**20:.1f}"
    lines = ["| model | mode | forms | file MiB | pre-packed for this table MiB | for every table of this CPU MiB | load ms | "
             "load ms, pre-packed | RSS growth MiB | pre-packed | private (anon) MiB | pre-packed | file-backed MiB | "
             "pre-packed |", "|" + "---|" * 14]
    for row in rows:
        c, p = row["runs"]["canonical"], row["runs"]["packed"]
        best = lambda rs, k: min(r[k] for r in rs)
        assert all(r["packed"] == 0 for r in p), f"{row['model']} {row['mode']}: a form was packed at load"
        lines.append(f"| {row['model']} | {row['mode']} | {row['forms']} | {mib(row['size'])} | "
                     f"{mib(row['size_packed'])} (+{100 * (row['size_packed'] / row['size'] - 1):.0f}%) | "
                     f"{mib(row['size_all'])} (+{100 * (row['size_all'] / row['size'] - 1):.0f}%) | "
                     f"{1e3 * best(c, 'load'):.1f} | {1e3 * best(p, 'load'):.1f} | {mib(best(c, 'peak'))} | "
                     f"{mib(best(p, 'peak'))} | {mib(best(c, 'anon'))} | {mib(best(p, 'anon'))} | "
                     f"{mib(best(c, 'file'))} | {mib(best(p, 'file'))} |")
    from results import machine, write_section
    section = "\n".join([
        "## Pre-packed layouts", "",
        f"Command: `python3 bench/prepack.py{' --quick' if args.quick else ''} --rounds {args.rounds}` — "
        f"{datetime.date.today()}  ",
        f"{machine()}, 1 thread", "",
        "The same files without and with the packed weight forms of this CPU's kernel table stored in them "
        "(`pyruntime pack`, SPEC §6.6 layout 1), and with those of every kernel table this CPU runs "
        f"({', '.join(_core.kernel_tables())}: tables of one tile share their forms). Each figure: a fresh process "
        "that makes a session and runs once (an image; a 512-token prompt then 8 tokens); load ms is the session's "
        f"creation, best of {args.rounds} interleaved rounds; memory after the run, against the process before the "
        "load. Private (RssAnon): what each process pays (packed copies, arena, KV cache); file-backed (RssFile): "
        "the mapped model's pages, shared by every process on the file and dropped under memory pressure. "
        "\"forms\": packed weight forms the table makes at load (f32 GEMM panels, int8 GEMM panels with their "
        "column sums and scales, the AVX-512 int4 GEMV's layout); not stored: the channels-last depthwise taps, "
        "the shared-values codebooks (small), repacked csr forms, the AVX-512 spmv's layout (it holds offsets: "
        "checking a stored one costs what packing it does) and the forms a plan makes (int4 rows requantized for "
        "many rows on a table without the int4 GEMM).", "",
    ] + lines + [""])
    print(section)
    if not args.no_write and not args.quick:
        write_section(section)

if __name__ == "__main__":
    main()
