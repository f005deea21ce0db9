"""ReduceMean as models people bring use it (torch's x.mean((2, 3)) instead of a global pooling, a mean over the
last axis, a mean over channels), pyruntime against ONNX Runtime on the same one-node ONNX model: best median of
interleaved rounds, 1 thread, both in this process.

    python3 bench/reduce.py [--no-write]
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from results import machine, median_ms, record  # noqa: E402

CASES = [  # (shape, axes): what each stands for
    ((1, 8, 224, 224), (2, 3), "mean over H, W of an early feature map"),
    ((1, 96, 112, 112), (2, 3), "mean over H, W (squeeze-excite input)"),
    ((1, 1280, 7, 7), (2, 3), "mean over H, W before a classifier"),
    ((1, 128, 768), (2,), "mean over the last axis (a LayerNorm written out)"),
    ((1, 64, 56, 56), (1,), "mean over channels (not trailing)"),
]


def onnx_model(shape, axes) -> bytes:
    import onnx
    from onnx import TensorProto, helper
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    out = [1 if i in axes else d for i, d in enumerate(shape)]
    g = helper.make_graph([node], "reduce", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                          [helper.make_tensor("axes", TensorProto.INT64, [len(axes)], list(axes))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


def main():
    import onnxruntime as ort
    import pyruntime
    from pyruntime.exporters import export_onnx
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for shape, axes, what in CASES:
            blob = onnx_model(shape, axes)
            path = os.path.join(d, "r.pyrt")
            export_onnx(blob, path)
            ours = pyruntime.Session(path, num_threads=1)
            so = ort.SessionOptions()
            so.intra_op_num_threads = so.inter_op_num_threads = 1
            peer = ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            np.testing.assert_allclose(ours.run(x)[0], peer.run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)
            best = {"ours": 1e9, "ort": 1e9}
            for _ in range(5):   # interleaved rounds
                best["ours"] = min(best["ours"], median_ms(lambda: ours.run(x), 50))
                best["ort"] = min(best["ort"], median_ms(lambda: peer.run(None, {"x": x}), 50))
            kernel = ours.describe()[-1]["kernel"]
            rows.append(f"| {'x'.join(map(str, shape))} | {list(axes)} | {what} | {best['ours']:.3f} | "
                        f"{best['ort']:.3f} | {best['ort'] / best['ours']:.2f} | {kernel} |")
    print(f"## ReduceMean\n\nCommand: `python3 bench/reduce.py` — {__import__('datetime').date.today()}  \n"
          f"{machine()}; onnxruntime {ort.__version__}\n\n"
          "One ReduceMean node (ONNX opset 18, keepdims), 1 thread, both runtimes in one process on the same input: "
          "best of 5 interleaved rounds of the median of 50 runs. Above 1: pyruntime faster. The reduction walks the "
          "input once in order, summing in double (one contiguous run per output when the reduced axes trail).\n\n"
          "| shape | axes | as in | pyruntime (ms) | ONNX Runtime (ms) | ORT / ours | kernel |\n"
          "|---|---|---|---|---|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    record(main)
