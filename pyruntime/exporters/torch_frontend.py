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

import contextlib
import io
import warnings


@contextlib.contextmanager
def _gqa_attention(opset: int):
    """torch's TorchScript exporter refuses scaled_dot_product_attention(enable_gqa=True), which Hugging Face
    Llama / Qwen / Mistral use for grouped-query attention. While tracing, it is rewritten as the plain form on
    key and value heads repeated to the query's head count (what enable_gqa means), then unregistered."""
    import torch
    try:
        from torch.onnx._internal.torchscript_exporter import symbolic_helper as sh, symbolic_opset14 as s14
        plain = s14.scaled_dot_product_attention.__wrapped__
    except (ImportError, AttributeError):   # another torch: leave its exporter as it is
        yield
        return

    def repeat_heads(g, x, r, heads):
        # [B, Hkv, S, D] -> [B, Hkv, 1, S, D] -> expand r on the new axis -> [B, Hkv * r, S, D]; B, S and D
        # from the tensor's shape (the tracer often has lost them)
        c = lambda v: g.op("Constant", value_t=torch.tensor(v))
        shape = g.op("Shape", x)
        x5 = g.op("Expand", g.op("Unsqueeze", x, c([2])), c([1, 1, r, 1, 1]))
        target = g.op("Concat", g.op("Slice", shape, c([0]), c([1])), c([heads]), g.op("Slice", shape, c([2]), c([4])),
                      axis_i=0)
        return g.op("Reshape", x5, target)

    @sh.parse_args("v", "v", "v", "v", "f", "b", "v", "b")
    def sdpa(g, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if enable_gqa:
            hq, hk = sh._get_tensor_sizes(query)[1], sh._get_tensor_sizes(key)[1]
            if not hq or not hk or hq % hk:
                raise RuntimeError("grouped-query attention needs static head counts to export")
            if hq != hk:
                key, value = repeat_heads(g, key, hq // hk, hq), repeat_heads(g, value, hq // hk, hq)
        return plain(g, query, key, value, attn_mask, dropout_p, is_causal, scale, False)

    torch.onnx.register_custom_op_symbolic("aten::scaled_dot_product_attention", sdpa, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::scaled_dot_product_attention", opset)


def _dynamic_axes(input_names, output_names, dynamic_batch, dynamic_axes) -> dict | None:
    """torch.onnx's dynamic_axes: dimension 0 of every input and output when dynamic_batch, plus the
    user's {name: {axis: "label"}} or {name: [axes]} (e.g. a text model's sequence axis)."""
    dyn = {n: {0: "batch"} for n in input_names + output_names} if dynamic_batch else {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in input_names + output_names:
            raise ValueError(f"dynamic_axes names '{name}', which is not an input or output "
                             f"({', '.join(input_names + output_names)})")
        axes = axes if isinstance(axes, dict) else {int(a): f"{name}_{a}" for a in axes}
        dyn.setdefault(name, {}).update({int(a): str(label) for a, label in axes.items()})
    return dyn or None


def to_onnx_bytes(model, example_inputs, input_names=None, output_names=None, dynamic_batch=True,
                  opset=17, dynamic_axes=None) -> bytes:
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
    dyn = _dynamic_axes(input_names, output_names, dynamic_batch, dynamic_axes)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with _gqa_attention(opset):
                torch.onnx.export(model, example_inputs, buf, dynamo=False, opset_version=opset,
                                  input_names=input_names, output_names=output_names, dynamic_axes=dyn,
                                  do_constant_folding=True)
        except Exception as legacy_error:  # pragma: no cover - depends on the model
            buf = io.BytesIO()
            try:
                torch.onnx.export(model, example_inputs, buf, dynamo=True, input_names=input_names,
                                  output_names=output_names)
            except Exception:
                raise legacy_error
    return buf.getvalue()
