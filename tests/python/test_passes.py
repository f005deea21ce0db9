"""Each exporter pass preserves the model's outputs: the IR after every prefix of the pass list runs and gives
the same outputs as PyTorch (and as the IR before it)."""
import io
import warnings

import numpy as np
import pytest
import torch
from nets import MobileNetV2, UNet, randomize_bn

from pyruntime import Session
from pyruntime.exporters import passes
from pyruntime.exporters.emit import to_graph
from pyruntime.exporters.onnx_import import from_onnx

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


def _ops(ir, op):
    return [n for n in ir.nodes if n.op == op]


def test_channels_last_mobilenet_one_transpose_each_way():
    """MobileNetV2: every conv and the pooling run NHWC; one Transpose in, one out (before Flatten/Gemm)."""
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model = randomize_bn(MobileNetV2())
    ir = passes.run_passes(from_onnx(onnx_blob(model, x)))
    assert _ops(ir, "Conv") and all(n.attrs.get("layout") == "NHWC" for n in _ops(ir, "Conv"))
    assert [n.attrs["perm"] for n in _ops(ir, "Transpose")] == [[0, 2, 3, 1], [0, 3, 1, 2]]
    s = Session(to_graph(ir, "m").to_bytes())
    assert any("nhwc" in d["kernel"] for d in s.describe())
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(s.run(x)[0], want, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_channels_last_unet_concat_takes_nchw_skip():
    """U-Net: ConvTranspose stays NCHW; the Concat after it runs NHWC with the upsampled input transposed in."""
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32)
    ir = passes.run_passes(from_onnx(onnx_blob(randomize_bn(UNet()), x)))
    cats = _ops(ir, "Concat")
    assert cats and all(n.attrs["axis"] == 3 for n in cats)
    assert all(n.attrs.get("layout", "NCHW") == "NCHW" for n in _ops(ir, "ConvTranspose"))


def _conv_chain_ir(extra):
    """x -> Conv -> extra(ir, value) -> Conv -> y, in IR form, and the same IR without the pass."""
    from pyruntime.exporters.ir import IR, Node
    rng = np.random.default_rng(3)
    ir = IR(inputs=[("x", "f32", [2, 4, 9, 7])], outputs=[["y", "y"]])
    ir.consts = {"w1": rng.standard_normal((6, 4, 3, 3)).astype(np.float32),
                 "w2": rng.standard_normal((6, 1, 3, 3)).astype(np.float32)}
    ir.nodes = [Node("Conv", ["x", "w1"], ["a"], {"pads": [1, 1, 1, 1]}, name="c1")]
    v = extra(ir, "a")
    ir.nodes.append(Node("Conv", [v, "w2"], ["y"], {"pads": [1, 1, 1, 1], "group": 6}, name="c2"))
    return ir


@pytest.mark.parametrize("const_shape", [(1, 6, 1, 1), (6, 1, 1), (7,), (1,), (2, 6, 9, 7), ()])
def test_channels_last_binary_constants_follow_the_layout(const_shape):
    import copy
    c = np.random.default_rng(4).standard_normal(const_shape).astype(np.float32) + 2

    def extra(ir, v):
        from pyruntime.exporters.ir import Node
        ir.consts["k"] = c
        ir.nodes += [Node("Mul", [v, "k"], ["m"], name="mul"), Node("Relu", ["m"], ["r"], name="relu")]
        return "r"

    ir = _conv_chain_ir(extra)
    x = np.random.default_rng(5).standard_normal((2, 4, 9, 7)).astype(np.float32)
    want = Session(to_graph(copy.deepcopy(ir), "a").to_bytes()).run(x)[0]
    out_ir = passes.to_channels_last(ir)
    assert all(n.attrs.get("layout") == "NHWC" for n in _ops(out_ir, "Conv"))
    assert len(_ops(out_ir, "Transpose")) == 2
    got = Session(to_graph(out_ir, "b").to_bytes()).run(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_channels_last_leaves_single_convs_and_can_be_turned_off(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    from pyruntime import Model
    from pyruntime.exporters import export_onnx, onnx_to_ir
    w = np.ones((2, 3, 1, 1), np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [onnx.numpy_helper.from_array(w, "w")])
    ir = onnx_to_ir(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert not _ops(ir, "Transpose") and "layout" not in _ops(ir, "Conv")[0].attrs   # one conv: not worth it
    x = np.random.default_rng(6).standard_normal((2, 3, 32, 32)).astype(np.float32)
    blob = onnx_blob(randomize_bn(MobileNetV2()), x)
    ir = onnx_to_ir(blob, channels_last=False)
    assert not _ops(ir, "Transpose") and all("layout" not in n.attrs for n in _ops(ir, "Conv"))
    a, b = tmp_path / "a.pyrt", tmp_path / "b.pyrt"
    export_onnx(blob, a)
    export_onnx(blob, b, channels_last=False)
    ya, yb = Session(str(a)).run(x)[0], Session(str(b)).run(x)[0]
    np.testing.assert_allclose(ya, yb, atol=1e-4 * max(1.0, float(np.abs(yb).max())))
    assert Model(str(a)).inputs == Model(str(b)).inputs
