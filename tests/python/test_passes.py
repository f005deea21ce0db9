"""Each exporter pass preserves the model's outputs: the IR after every prefix of the pass list runs and gives
the same outputs as PyTorch (and as the IR before it)."""
import io
import warnings

import numpy as np
import pytest
import torch
from nets import MobileNetV2, UNet, randomize_bn

from pyruntime import Session
from pyruntime.export import passes
from pyruntime.export.emit import to_graph
from pyruntime.export.onnx_import import from_onnx

torch.manual_seed(0)


def onnx_blob(model, x):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), buf, dynamo=False, opset_version=17, input_names=["x"],
                          do_constant_folding=False)
    return buf.getvalue()


@pytest.mark.parametrize("net", [MobileNetV2, UNet])
def test_every_pass_preserves_outputs(net):
    model = randomize_bn(net())
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    blob = onnx_blob(model, x)
    # constant folding comes first: without it, shape arithmetic the runtime has no kernels for remains
    order = passes.DEFAULT
    counts = []
    for k in range(1, len(order) + 1):
        ir = passes.run_passes(from_onnx(blob), order[:k])
        counts.append(len(ir.nodes))
        out = Session(to_graph(ir, "p").to_bytes()).run(x)[0]
        np.testing.assert_allclose(out, want, atol=1e-4 * max(1.0, float(np.abs(want).max())),
                                   err_msg=f"after {[p.__name__ for p in order[:k]]}")
    assert counts[-1] < counts[0]          # the passes did remove nodes (BN folded, activations fused)
