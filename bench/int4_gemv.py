#!/usr/bin/env python3
"""int4 GEMV (a Linear layer at batch 1, K = N = 8192, int4 weights in groups of 32): pyruntime's Gemm on the
stored nibbles vs ONNX Runtime's MatMulNBits (block 32, accuracy level 4: the same int8 activation scheme)
on the same quantized weights, and pyruntime fp32, 1 and 2 threads, against the machine's streaming read
bandwidth measured in the same run.

    python3 bench/int4_gemv.py [--no-write] [--shapes 8192x8192,16384x16384]

Each peer runs in its own process (median of 50 runs after warm-up); the section "## int4 GEMV" of
bench/RESULTS.md is replaced with the results.
"""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

PEER = r'''
import json, sys, time
import numpy as np
lib, threads, path, k = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
x = np.random.default_rng(1).standard_normal((1, k)).astype(np.float32)
if lib == "onnxruntime":
    import onnxruntime as ort
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    f = lambda: s.run(None, {"x": x})
else:
    import pyruntime
    s = pyruntime.Session(path, num_threads=threads)
    f = lambda: s.run(x)
y = f()[0]
for _ in range(10): f()
ts = []
for _ in range(50):
    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
kernel = s.describe()[0]["kernel"] if lib != "onnxruntime" else "MatMulNBits"
np.save(path + f".{lib}.{threads}.npy", y)
print(json.dumps({"ms": float(np.median(ts) * 1e3), "kernel": kernel}))
'''


def ort_model(path, q_bytes, scales, k, n, group):
    """MatMulNBits with the same quantized weights: ORT stores w + 8 (unsigned, default zero point 8) where
    pyruntime stores w's two's complement nibble: the same byte with bits 3 and 7 flipped."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nb = k // group
    b = (np.frombuffer(q_bytes, np.uint8) ^ 0x88).reshape(n, nb, group // 2)
    node = helper.make_node("MatMulNBits", ["x", "B", "scales"], ["y"], domain="com.microsoft", K=k, N=n, bits=4,
                            block_size=group, accuracy_level=4)
    g = helper.make_graph([node], "gemv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
                          [numpy_helper.from_array(b, "B"), numpy_helper.from_array(scales.astype(np.float32), "scales")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                          ir_version=9)   # what every onnxruntime 1.2x reads
    onnx.save(m, path)


def measure(k, n, group, with_fp32):
    """(results, int4 bytes, ours-vs-ORT agreement) for one K x N layer."""
    import pyruntime
    from pyruntime import _core
    d = tempfile.mkdtemp()
    w = (np.random.default_rng(0).standard_normal((n, k)) * 0.02).astype(np.float32)
    paths = {}
    for label, enc, opts in (("int4", "i4", {"group_size": group}), ("lut16", "lut", {}), ("fp32", "dense", {})):
        if label == "fp32" and not with_fp32:
            continue
        g = pyruntime.Graph("gemv")
        x = g.input("x", [1, k])
        if label == "lut16":   # 16 shared values a row on an even grid (k-means on 2^26 weights would take long)
            from pyruntime.format.encode import encode_lut_codes
            lo, hi = w.min(1, keepdims=True), w.max(1, keepdims=True)
            step = (hi - lo) / 15
            g.w.add_tensor("w", encode_lut_codes(np.clip(np.rint((w - lo) / step), 0, 15).astype(np.uint8),
                                                 lo + step * np.arange(16, dtype=np.float32), 0))
            wv = pyruntime.graph.Value(g, g.g.const("w"), "w")
        else:
            wv = g.const(w, "w", enc, **opts)
        g.output(g.op("Gemm", x, wv, transB=1), "y")
        paths[label] = os.path.join(d, f"{label}.pyrt")
        g.save(paths[label])
    del w
    m = pyruntime.load(paths["int4"])
    scales = np.frombuffer(m.view("w", 1), np.float16).astype(np.float32)
    paths["ort"] = os.path.join(d, "ort.onnx")
    ort_model(paths["ort"], m.view("w", 0), scales, k, n, group)
    del m
    int4_bytes = n * k // 2 + scales.size * 2
    res = {}
    env = {kk: v for kk, v in os.environ.items() if kk not in ("OPENBLAS_CORETYPE",)}
    for threads in (1, 2):
        res[("bw", threads)] = _core.read_bandwidth(1024, threads, 5)
        for lib in ("pyruntime", "onnxruntime", "lut16", "fp32"):
            path = paths.get({"pyruntime": "int4", "onnxruntime": "ort", "lut16": "lut16", "fp32": "fp32"}[lib])
            if path is None:
                continue
            out = subprocess.run([sys.executable, "-c", PEER, "onnxruntime" if lib == "onnxruntime" else "pyruntime",
                                  str(threads), path, str(k)], env=env, cwd=HERE, capture_output=True, text=True,
                                 check=True).stdout
            res[(lib, threads)] = json.loads(out.strip().splitlines()[-1])
    y_ours = np.load(paths["int4"] + ".pyruntime.1.npy")
    y_ort = np.load(paths["ort"] + ".onnxruntime.1.npy")
    agree = float(np.abs(y_ours - y_ort).max() / np.abs(y_ort).max())
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)
    return res, int4_bytes, agree


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--shapes", default="8192x8192,16384x16384",
                    help="KxN list; fp32 runs for the first only (a 16384^2 f32 weight is 1 GiB)")
    a = ap.parse_args()
    group = 32
    lines = ["| K × N | int4 MiB | threads | read bandwidth (GB/s) | pyruntime int4 (ms) | its GB/s | % of bandwidth | "
             "ONNX Runtime MatMulNBits (ms) | pyruntime shared 16 (ms) | pyruntime fp32 (ms) | ORT / ours | "
             "int4 / shared 16 | fp32 / int4 |", "|---|" * 1 + "---|" * 12]
    notes, kernel, lut_kernel = [], "?", "?"
    for i, shape in enumerate(a.shapes.split(",")):
        k, n = (int(v) for v in shape.split("x"))
        res, int4_bytes, agree = measure(k, n, group, with_fp32=i == 0)
        kernel = res[("pyruntime", 1)]["kernel"]
        lut_kernel = res[("lut16", 1)]["kernel"]
        for t in (1, 2):
            bw, o, r = res[("bw", t)], res[("pyruntime", t)]["ms"], res[("onnxruntime", t)]["ms"]
            f = res.get(("fp32", t), {}).get("ms")
            lut = res[("lut16", t)]["ms"]
            gbs = int4_bytes / (o * 1e-3) * 1e-9
            lines.append(f"| {k} × {n} | {int4_bytes / 2**20:.0f} | {t} | {bw:.1f} | {o:.3f} | {gbs:.1f} | "
                         f"{100 * gbs / bw:.0f}% | {r:.3f} | {lut:.3f} | {'—' if f is None else f'{f:.3f}'} | "
                         f"{r / o:.2f} | {o / lut:.2f} | {'—' if f is None else f'{f / o:.2f}'} |")
        notes.append(f"{k} × {n}: {agree:.1e}")
    table = "\n".join(lines)
    print(table)
    print(f"kernels: {kernel}, {lut_kernel}; outputs ours vs ORT: max |diff| / max |y| = {'; '.join(notes)}")
    if a.no_write:
        return
    import onnxruntime
    from results import machine
    section = (f"## int4 GEMV\n\nCommand: `python3 bench/int4_gemv.py` — {datetime.date.today()}  \n"
               f"{machine()} (kernels `{kernel}`, `{lut_kernel}`); onnxruntime {onnxruntime.__version__}, Python "
               f"{platform.python_version()}\n\n"
               f"A Linear layer at batch 1, int4 weights in groups of {group} with f16 scales: pyruntime's Gemm "
               "runs the int4 x int8 GEMV (activations quantized to int8 per group) on the weights as stored, or on "
               "the copy the table prepacks at load (AVX-512 VNNI: 16 rows interleaved per 64-byte step, f16 scales "
               "kept; as many bytes as the file's); ONNX Runtime runs MatMulNBits (block 32, accuracy_level 4: int8 "
               "activations too) on the same quantized weights, whose outputs agree with ours to "
               f"{'; '.join(notes)} of the largest; pyruntime fp32 is the same layer with f32 weights; \"shared 16\" "
               "is the layer stored as 16 shared values a row (lut, 4-bit codes on an even grid between the row's "
               "extremes, f32 codebooks: 4.0 bits a weight plus 64 bytes a row), run by the lookup GEMM on the "
               "stored codes (each row's codebook as int8, activations as u8 rows). Read "
               "bandwidth: `pyruntime._core.read_bandwidth` (a 1 GiB streaming sum with as many threads, software "
               "prefetch 16 KiB ahead), measured in this run; \"its GB/s\" counts the int4 weights and scales "
               "read per call. The 8192² weights (36 MiB) do not fit the 32 MiB L3 but part of them is still there "
               "on the next call, so a kernel that keeps the memory system busy reads faster than a pure DRAM "
               "stream (above 100%); the 16384² weights (144 MiB) come from DRAM. Median of 50 runs, each peer in "
               "its own process.\n\n" + table + "\n")
    from results import write_section
    write_section(section)


if __name__ == "__main__":
    main()
