"""ONNX ModelProto -> IR. Opset differences are normalized here (Constant nodes become constants, opset-10
Resize gets its roi slot, Dropout/Identity are kept for the passes to remove)."""
from __future__ import annotations

import numpy as np

from .ir import IR, ExportError, Node

_DT = {1: "f32", 10: "f16", 3: "i8", 2: "u8", 6: "i32", 7: "i64", 9: "bool"}


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


def load_onnx(model) -> "onnx.ModelProto":
    import onnx
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        m = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model)
    else:
        m = model
    return m


def from_onnx(model) -> IR:
    import onnx
    from onnx import numpy_helper
    m = load_onnx(model)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset and opset < 9:
        raise ExportError(f"ONNX opset {opset} is not supported (9 and newer are)")
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
        tt = vi.type.tensor_type
        if tt.elem_type not in _DT:
            raise ExportError(f"input '{vi.name}' has an unsupported ONNX element type {tt.elem_type}")
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        ir.inputs.append((vi.name, _DT[tt.elem_type], shape))
    ir.outputs = [[o.name, o.name] for o in g.output]
    # known shapes of intermediate values (for folding Shape)
    ir.shapes = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            ir.shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
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
        if n.op_type == "Resize" and len(inputs) == 2:      # opset 10: (X, scales)
            inputs = [inputs[0], "", inputs[1]]
        ir.nodes.append(Node(n.op_type, inputs, list(n.output), attrs, n.name or f"{n.op_type}_{k}", n.name))
    return ir
