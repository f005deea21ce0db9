"""PyTorch nn.Module -> ONNX (in memory) -> the same importer as ONNX files.

Why ONNX as the bridge, traced with the TorchScript-based `torch.onnx.export(..., dynamo=False)`: on
torch 2.13 it traces every model this runtime targets (EfficientNet, SE blocks, channel shuffle, ConvTranspose
generators, VAEs, LSTM/GRU, GPT blocks) in well under a second, keeps LSTM/GRU/Resize/GlobalAveragePool as
single high-level ops our kernels implement (torch.export's default decompositions unroll LSTM/GRU into
per-step ops and turn reflect padding into index arithmetic), and gives dynamic batch through dynamic_axes.
Going through ONNX also means one importer, one set of passes and one writer for both frontends. The
dynamo-based exporter is tried when the legacy one fails.
"""
from __future__ import annotations

import io
import warnings


def to_onnx_bytes(model, example_inputs, input_names=None, output_names=None, dynamic_batch=True,
                  opset=17) -> bytes:
    import torch
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    input_names = list(input_names or [f"input{i}" if len(example_inputs) > 1 else "input"
                                       for i in range(len(example_inputs))])
    model = model.eval()
    with torch.no_grad():
        outs = model(*example_inputs)
    n_out = len(outs) if isinstance(outs, (tuple, list)) else 1
    output_names = list(output_names or ([f"output{i}" for i in range(n_out)] if n_out > 1 else ["output"]))
    dyn = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else None
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, example_inputs, buf, dynamo=False, opset_version=opset, input_names=input_names,
                              output_names=output_names, dynamic_axes=dyn, do_constant_folding=True)
        except Exception as legacy_error:  # pragma: no cover - depends on the model
            buf = io.BytesIO()
            try:
                torch.onnx.export(model, example_inputs, buf, dynamo=True, input_names=input_names,
                                  output_names=output_names)
            except Exception:
                raise legacy_error
    return buf.getvalue()
