"""Exporters: PyTorch modules and ONNX models to .pyrt, through one IR, one set of passes and one writer.

    pyruntime.export(model, example_inputs, "model.pyrt")      # the functions of this package, re-exported
    pyruntime.export_onnx("model.onnx", "model.pyrt")

The package is `pyruntime.exporters`, not `pyruntime.export`: a subpackage of that name would replace the
`pyruntime.export` function as soon as anything imported it. torch and onnx are imported here only, never by
`import pyruntime` or by running a model.
"""
from __future__ import annotations

from .ir import IR, ExportError, Node
from .passes import DEFAULT as DEFAULT_PASSES, run_passes

# Compression options (exporters/quantize.py, exporters/static_quant.py) and sparsity options (exporters/sparsity.py).
_COMPRESSION = ("quantize", "group_size", "weight_sharing", "keep_float", "calibration", "calibration_method")
_SPARSITY = ("prune", "prune_structure", "prune_scope", "sparse")


def _check_compression(options: dict):
    unknown = [k for k in options if k not in _COMPRESSION + _SPARSITY]
    if unknown:
        raise TypeError(f"unsupported export option(s): {', '.join(sorted(unknown))}; supported: "
                        f"{', '.join(_COMPRESSION + _SPARSITY)}")
    from .sparsity import check_options as check_sparsity
    check_sparsity(options.get("prune"), options.get("prune_structure", "unstructured"),
                   options.get("prune_scope", "layer"), options.get("sparse", "auto"))
    from .quantize import check_options
    check_options(options.get("quantize"), options.get("group_size", 32), options.get("weight_sharing"),
                  options.get("keep_float", ()), options.get("calibration"), options.get("calibration_method", "minmax"))


def _int8_step(compression: dict) -> int:
    """Progress steps beyond the passes: calibration, pruning."""
    return int(compression.get("quantize") == "int8") + int(bool(compression.get("prune")))


def _passes(channels_last: bool) -> list:
    from .passes import to_channels_last
    return [p for p in DEFAULT_PASSES if channels_last or p is not to_channels_last]


def onnx_to_ir(onnx_model, channels_last: bool = True) -> IR:
    from .onnx_import import from_onnx
    return run_passes(from_onnx(onnx_model), _passes(channels_last))


def _float_graph(onnx_model, channels_last: bool, bar, compression: dict) -> tuple:
    """The pipeline export writes, up to its float graph: ONNX -> IR -> passes, pruning and the sparse-storage
    decision (before the layout pass, which leaves sparse convolutions channels-first), one progress step each.
    Returns (ir, the csr encodings of its pruned weights). `--report` measures this graph (report())."""
    from . import sparsity
    from .onnx_import import from_onnx
    from .passes import to_channels_last
    keep = compression.get("keep_float", ())
    ir = from_onnx(onnx_model)
    bar.step("imported the ONNX graph")
    for p in _passes(channels_last):
        if p is not to_channels_last:
            ir = p(ir)
            bar.step(p.__name__)
    if compression.get("prune"):
        ir = sparsity.prune(ir, compression["prune"], compression.get("prune_structure", "unstructured"),
                            compression.get("prune_scope", "layer"), keep)
        # channel pruning may remove fewer (its exactness rule): its report says how many
        bar.step(ir.channel_report["summary"] if ir.channel_report else
                 f"pruned to {compression['prune']:.0%} ({compression.get('prune_structure', 'unstructured')})")
    static = compression.get("quantize") == "int8"   # static int8: the sparse decision is made on the s8 weights
    sparse_enc, sparse_convs = sparsity.plan(ir, "never" if static else compression.get("sparse", "auto"), keep)
    if channels_last:
        ir = to_channels_last(ir, keep_nchw=sparse_convs)
        bar.step("to_channels_last")
    return ir, sparse_enc


def _encodings(ir: IR, compression: dict, sparse_enc: dict) -> dict:
    """const name -> (encoding, options): what the file stores for each compressed weight."""
    from . import sparsity
    from .quantize import plan
    return sparsity.merge(plan(ir, **{k: v for k, v in compression.items() if k not in _SPARSITY}), sparse_enc)


def _export_ir(onnx_model, path, name: str, channels_last: bool, bar, compression: dict) -> int:
    """The float graph (_float_graph), static int8 quantization when asked, the file: one progress step each."""
    from . import sparsity
    from .emit import to_graph
    ir, sparse_enc = _float_graph(onnx_model, channels_last, bar, compression)
    comp = {k: v for k, v in compression.items() if k not in _SPARSITY}
    if comp.get("quantize") == "int8":
        from .static_quant import quantize_static
        ir = quantize_static(ir, comp["calibration"], comp.get("calibration_method", "minmax"),
                             keep=comp.get("keep_float", ()))
        bar.step("calibrated and quantized to int8")
        sparse_enc = sparsity.plan_int8(ir, compression.get("sparse", "auto"))
    g = to_graph(ir, name, _encodings(ir, compression, sparse_enc))
    n = g.save(path)
    bar.step(f"wrote {path}")
    return n


def report(onnx_model, *, channels_last: bool = True, **compression) -> list:
    """Per compressed layer of the graph export writes with these options (the same pipeline: passes,
    pruning, sparse storage, layout), the output error with only that layer compressed, worst first. Static
    int8: first the whole int8 graph's row, on the first calibration input; otherwise on random inputs (the
    runtime's: pyrt_model_random_input, dynamic dimensions 1)."""
    _check_compression(compression)
    from ..progress import Progress
    from .quantize import sensitivity
    with Progress(1, "report", enabled=False) as bar:
        ir, sparse_enc = _float_graph(onnx_model, channels_last, bar, compression)
    if compression.get("quantize") == "int8":
        from .static_quant import sensitivity_int8
        cal = compression["calibration"]
        first = cal[0] if isinstance(cal[0], dict) else {ir.inputs[0][0]: cal[0]}
        return sensitivity_int8(ir, cal, first, compression.get("calibration_method", "minmax"))
    from .. import _core
    from .emit import to_graph
    m = _core.Model.from_buffer(to_graph(ir, "report").to_bytes())
    inputs = {name: _core.random_input(m, i, [d if d > 0 else 1 for d in shape], 0)
              for i, (name, _, shape) in enumerate(ir.inputs)}
    return sensitivity(ir, inputs, encodings=_encodings(ir, compression, sparse_enc))


def export_onnx(onnx_model, path, *, name: str = "", channels_last: bool = True, progress: bool = False,
                target=None, **compression) -> int:
    """Converts an ONNX model (ModelProto, path or bytes; opset >= 9) to a .pyrt file. Returns its size.

    channels_last: run convolution stacks in NHWC inside the file (the runtime's fastest CNN layout; inputs
    and outputs keep the model's layout). False keeps every op in ONNX's NCHW.
    progress: show a progress bar on stderr (one line per step when stderr is not a terminal).
    Compression (exporters/quantize.py): quantize="int8-weights" | "int4" (group_size=32), weight_sharing=K,
    keep_float=[node names]; quantize="int8" (static: integer kernels, exporters/static_quant.py) with
    calibration=[example inputs] and calibration_method="minmax" | "percentile" | "mse".
    Sparsity (exporters/sparsity.py): prune=0.9, prune_structure="unstructured" | "2:4" | "channel" (filters
    removed, exporters/channel_prune.py), prune_scope="layer" | "global", sparse="auto" | "always" | "never".
    target: also store the packed weight forms of these kernel tables, read in place at load ("host": the
    table this CPU uses; pyruntime.prepack). Default: the canonical data only (a session packs at load)."""
    _check_compression(compression)
    from ..progress import Progress
    with Progress(2 + len(_passes(channels_last)) + _int8_step(compression), "export", enabled=progress) as bar:
        return _prepacked(_export_ir(onnx_model, path, name, channels_last, bar, compression), path, target)


def _prepacked(n: int, path, target) -> int:
    """export's target=: the file with the tables' packed forms; its size."""
    if not target:
        return n
    from ..prepack import prepack
    return prepack(path, None, None if target == "host" else target)["file_bytes_after"]


def export(model, example_inputs, path, *, input_names=None, output_names=None, dynamic_batch: bool = True,
           dynamic_axes: dict | None = None, name: str = "", channels_last: bool = True, progress: bool = False,
           target=None, **compression) -> int:
    """Converts a torch.nn.Module (traced on `example_inputs`) to a .pyrt file. Returns its size.

    dynamic_batch: dimension 0 of every input and output may change from run to run. dynamic_axes: more
    dimensions that may, as {input or output name: [axes]} or {name: {axis: "label"}}, e.g.
    {"input": [1]} for a text model's sequence length (names default to "input" / "input0", "input1"...).
    Shapes computed from them are evaluated when the runtime plans each new shape set. target: as export_onnx."""
    _check_compression(compression)
    from ..progress import Progress
    from .torch_frontend import to_onnx_bytes
    with Progress(3 + len(_passes(channels_last)) + _int8_step(compression), "export", enabled=progress) as bar:
        blob = to_onnx_bytes(model, example_inputs, input_names, output_names, dynamic_batch,
                             dynamic_axes=dynamic_axes)
        bar.step("traced with torch.onnx.export")
        return _prepacked(_export_ir(blob, path, name or type(model).__name__, channels_last, bar, compression),
                          path, target)


__all__ = ["export", "export_onnx", "report", "onnx_to_ir", "IR", "Node", "ExportError", "DEFAULT_PASSES", "run_passes"]
