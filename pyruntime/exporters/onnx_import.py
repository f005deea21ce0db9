"""ONNX ModelProto -> IR. Opset differences are normalized here (Constant nodes become constants, opset-10
Resize gets its roi slot, Dropout/Identity are kept for the passes to remove)."""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node
from .sequences import lower_sequences

_DT = {1: "f32", 10: "f16", 3: "i8", 2: "u8", 6: "i32", 7: "i64", 9: "bool", 11: "f64", 5: "i16", 4: "u16",
       12: "u32", 13: "u64", 16: "bf16", 8: "string"}


def _attr_value(a):
    import onnx
    from onnx import numpy_helper
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list):
        if v and isinstance(v[0], bytes):
            return [x.decode("utf-8") for x in v]
        if v and not isinstance(v[0], (int, float)):
            raise ExportError(f"attribute '{a.name}' of type {type(v[0]).__name__} lists is not supported")
        return list(v)
    if isinstance(v, onnx.GraphProto):
        raise ExportError(f"attribute '{a.name}' holds a subgraph (control flow), which is not supported")
    return v


def _external_tensors(m):
    from onnx.external_data_helper import _get_all_tensors, uses_external_data
    return [t for t in _get_all_tensors(m) if uses_external_data(t)]


def _load_external_data(m, base_dir: str):
    """Reads the weights of a model saved with external data (model.onnx + a weights file beside it). Every
    location must name a file inside the model's folder: an absolute path, '..' or a link that leads out of it
    is refused before anything is opened."""
    import os
    from onnx.external_data_helper import load_external_data_for_tensor
    base = os.path.realpath(base_dir)
    for t in _external_tensors(m):
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        full = os.path.realpath(os.path.join(base, loc))
        if not loc or os.path.isabs(loc) or os.path.commonpath([base, full]) != base:
            raise ExportError(f"tensor '{t.name}' keeps its data at '{loc}', outside the model's folder; "
                              "external data must be a file beside the model")
        if not os.path.isfile(full):
            raise ExportError(f"tensor '{t.name}' keeps its data in '{loc}', which does not exist beside the model")
        load_external_data_for_tensor(t, base)
        del t.external_data[:]
        t.data_location = 0   # TensorProto.DEFAULT: the bytes are in the tensor now


def load_onnx(model) -> "onnx.ModelProto":
    import os
    import onnx
    if isinstance(model, bytes):
        m = onnx.load_from_string(model)
        if _external_tensors(m):
            raise ExportError("the model keeps weights in external data files; pass the .onnx file's path, not "
                              "its bytes, so that they can be found beside it")
        return m
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise ExportError(f"no ONNX file at '{path}'")
        m = onnx.load(path, load_external_data=False)
        _load_external_data(m, os.path.dirname(os.path.abspath(path)))
        return m
    if _external_tensors(model):
        raise ExportError("the model's weights are in external data files that are not loaded; pass the .onnx "
                          "file's path, or load it with onnx.load(path)")
    return model


def from_onnx(model) -> IR:
    import onnx
    from onnx import numpy_helper
    m = load_onnx(model)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset and opset < 6:
        raise ExportError(f"ONNX opset {opset} is not supported (6 and newer are)")
    for o in m.opset_import:
        if o.domain not in ("", "ai.onnx"):
            raise ExportError(f"ONNX operator domain '{o.domain}' is not supported")
    try:
        m = onnx.shape_inference.infer_shapes(m)
    except Exception:   # shapes only help constant folding; a model without them still imports
        pass
    g = m.graph
    ir = IR(name=g.name)
    for t in g.initializer:
        ir.consts[t.name] = numpy_helper.to_array(t)
    for vi in g.input:
        if vi.name in ir.consts:
            continue
        if vi.type.WhichOneof("value") != "tensor_type":
            raise ExportError(f"input '{vi.name}' is of ONNX type {vi.type.WhichOneof('value')}; the runtime's "
                              f"graph inputs and outputs are tensors (sequences may be built inside the graph)")
        tt = vi.type.tensor_type
        if tt.elem_type not in _DT:
            raise ExportError(f"input '{vi.name}' has an unsupported ONNX element type {tt.elem_type}")
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        ir.inputs.append((vi.name, _DT[tt.elem_type], shape))
    ir.outputs = [[o.name, o.name] for o in g.output]
    for o in g.output:
        tt = o.type.tensor_type
        if tt.elem_type in _DT and tt.HasField("shape"):
            ir.out_types[o.name] = (_DT[tt.elem_type], [d.dim_value if d.HasField("dim_value") else -1
                                                        for d in tt.shape.dim])
    # known shapes of intermediate values (for folding Shape)
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            ir.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            # symbolic names of dynamic dims (e.g. "batch"), propagated by ONNX shape inference
            ir.dim_names[vi.name] = [d.dim_param if d.HasField("dim_param") and d.dim_param else None
                                     for d in tt.shape.dim]
    for k, n in enumerate(g.node):
        if n.domain not in ("", "ai.onnx"):
            raise ExportError(f"operator '{n.op_type}' of domain '{n.domain}' in node '{n.name}' is not supported")
        attrs = {a.name: _attr_value(a) for a in n.attribute}
        if n.op_type == "Constant":
            if "value" in attrs:
                val = np.asarray(attrs["value"])
            elif "value_float" in attrs:
                val = np.array(attrs["value_float"], np.float32)
            elif "value_floats" in attrs:
                val = np.array(attrs["value_floats"], np.float32)
            elif "value_int" in attrs:
                val = np.array(attrs["value_int"], np.int64)
            elif "value_ints" in attrs:
                val = np.array(attrs["value_ints"], np.int64)
            else:
                raise ExportError(f"Constant node '{n.name}' has no supported value attribute")
            ir.consts[n.output[0]] = val
            continue
        inputs = list(n.input)
        name = n.name or f"{n.op_type}_{k}"
        if n.op_type == "Resize" and len(inputs) == 2:      # opset 10: (X, scales)
            inputs = [inputs[0], "", inputs[1]]
        if n.op_type in ("Sum", "Mean") and len(inputs) >= 1:   # variadic: a chain of Adds (then a scale)
            acc = inputs[0]
            for j, other in enumerate(inputs[1:]):
                last = j == len(inputs) - 2 and n.op_type == "Sum"
                out = n.output[0] if last else f"{name}/acc{j}"
                ir.nodes.append(Node("Add", [acc, other], [out], {}, f"{name}/add{j}", n.name))
                acc = out
            if n.op_type == "Mean" or len(inputs) == 1:
                scale = f"{name}/scale"
                ir.consts[scale] = np.array(1.0 / len(inputs), np.float32)
                ir.nodes.append(Node("Mul", [acc, scale], [n.output[0]], {}, f"{name}/mean", n.name))
            continue
        if n.op_type in ("Add", "Sub", "Mul", "Div", "Pow") and attrs.pop("broadcast", 0):
            # opset < 7 "legacy" broadcasting: B's dims line up with A's starting at `axis` (default: the end)
            axis = attrs.pop("axis", None)
            ra = len(ir.shapes.get(inputs[0], []))
            b_shape = ir.shapes.get(inputs[1]) if inputs[1] not in ir.consts else list(ir.consts[inputs[1]].shape)
            if axis is not None and ra and b_shape is not None:
                axis = axis % ra
                trailing = ra - axis - len(b_shape)
                if trailing > 0:
                    new = f"{name}/b_aligned"
                    if inputs[1] in ir.consts:
                        ir.consts[new] = ir.consts[inputs[1]].reshape(list(b_shape) + [1] * trailing)
                    else:
                        ir.nodes.append(Node("Unsqueeze", [inputs[1]], [new],
                                             {"axes": list(range(len(b_shape), len(b_shape) + trailing))},
                                             f"{name}/align", n.name))
                    inputs[1] = new
        if n.op_type in ("Softmax", "LogSoftmax") and opset < 13:
            attrs.setdefault("axis", 1)
            attrs["coerce_2d"] = 1   # before opset 13 the input is flattened to 2-D at `axis`
        if n.op_type in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
            ks = attrs.get("kernel_shape")
            w = ir.consts.get(inputs[1]) if n.op_type.startswith("Conv") and len(inputs) > 1 else None
            nd = len(ks) if ks is not None else (w.ndim - 2 if w is not None else 2)
            if nd not in (1, 2, 3):   # 1-D runs as 2-D on a [N, C, 1, W] view (passes.lift_1d_to_2d)
                raise ExportError(f"{n.op_type} in node '{name}' is {nd}-D; the runtime implements 1-D, 2-D and "
                                  f"3-D {n.op_type} only")
        if n.op_type == "PRelu" and opset < 7 and inputs[1] in ir.consts:
            # before numpy broadcasting (opset 7), a 1-D slope of C values is per channel (axis 1), as PyTorch's
            slope, rank = ir.consts[inputs[1]], len(ir.shapes.get(inputs[0], []))
            if slope.ndim == 1 and slope.size > 1 and rank > 2:
                new = f"{name}/slope"
                ir.consts[new] = slope.reshape([slope.size] + [1] * (rank - 2))
                inputs = [inputs[0], new]
        if n.op_type == "ConstantOfShape":   # the value attribute (a one-element tensor) as a constant input
            v = np.asarray(attrs.pop("value", np.zeros(1, np.float32))).reshape(1)
            inputs = [inputs[0], f"{name}/value"]
            ir.consts[inputs[1]] = v
        if n.op_type == "BatchNormalization":
            attrs.pop("spatial", None)                   # opset < 9: 'spatial' = 1 is the only meaning we have
            attrs.pop("momentum", None)
            attrs.pop("is_test", None)
            attrs.pop("consumed_inputs", None)
        ir.nodes.append(Node(n.op_type, inputs, list(n.output), attrs, name, n.name))
    return lower_sequences(ir)
