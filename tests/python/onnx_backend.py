"""Runs the ONNX backend test data shipped in the onnx wheel (onnx/backend/test/data) through the ONNX
importer and the runtime."""
import os

import numpy as np
import onnx
from onnx import numpy_helper

from pyruntime import Session
from pyruntime.exporters import ExportError, export_onnx

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
LIGHT = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
         "vgg19", "zfnet512"]


def dummy_input(vi):
    """The input ONNX's own runner feeds the light models (onnx.backend.test.runner.generate_dummy_data)."""
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def run_light(name, tmp_path):
    path = os.path.join(DATA, "light", f"light_{name}.onnx")
    m = onnx.load(path)
    inits = {i.name for i in m.graph.initializer}
    feeds = {vi.name: dummy_input(vi) for vi in m.graph.input if vi.name not in inits}
    want = [numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "light", f"light_{name}_output_{k}.pb")))
            for k in range(len(m.graph.output))]
    out = tmp_path / f"{name}.pyrt"
    export_onnx(path, out)
    return Session(out).run(feeds), want


def node_cases(kind):
    base = os.path.join(DATA, kind)
    return sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))


def run_case(kind, case, tmp_path):
    """Returns None when the importer does not claim the case (an unsupported op or attribute), else
    (outputs, expected) for every data set."""
    d = os.path.join(DATA, kind, case)
    out = tmp_path / f"{case}.pyrt"
    try:
        export_onnx(os.path.join(d, "model.onnx"), out)
        s = Session(out)
    except (ExportError, NotImplementedError):
        return None
    results = []
    for ds in sorted(x for x in os.listdir(d) if x.startswith("test_data_set")):
        files = sorted(os.listdir(os.path.join(d, ds)))
        ins = [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, ds, f))) for f in files if f.startswith("input")]
        outs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, ds, f))) for f in files if f.startswith("output")]
        results.append((s.run(ins), outs))
    return results
