"""prune_structure="channel" (exporters/channel_prune.py): the exported file computes exactly what the PyTorch model
with the removed filters' weights zeroed (biases kept) computes, its weights really are smaller, and layers whose
channels are tied (residual Add, graph outputs) keep every filter."""
import copy
import io
import warnings

import numpy as np
import pytest

from nets import randomize_bn
from pyruntime import Model, Session

RNG = np.random.default_rng(0)


def _onnx(net, x) -> bytes:
    import torch
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.from_numpy(x),), buf, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "b"}})
    return buf.getvalue()


def _prune_report(blob, **opts):
    """What the exporter removes: the same passes and pruning export_onnx runs, stopped before the writer."""
    from pyruntime.exporters import onnx_to_ir
    from pyruntime.exporters.sparsity import prune
    ir = prune(onnx_to_ir(blob, channels_last=False), opts.get("prune", 0.5), "channel",
               opts.get("prune_scope", "layer"))
    return ir.channel_report


def _module(net, node_name):
    """The torch module of an ONNX node name such as '/layers/layers.0/c1/Conv' (layers.0.c1)."""
    return net.get_submodule(".".join(seg.rsplit(".", 1)[-1] for seg in node_name.strip("/").split("/")[:-1]))


def _zeroed(net, removed):
    """The pruned model by definition: the removed filters' weights zero, their biases kept."""
    import torch
    ref = copy.deepcopy(net)
    with torch.no_grad():
        for name, idx in removed.items():
            _module(ref, name).weight[torch.from_numpy(idx)] = 0
    return ref


def _check_export(net, x, tmp_path, **opts):
    """Exports with channel pruning (and without), checks the file against the zeroed torch model; returns the
    report and the two files' tensor shapes."""
    import torch
    from pyruntime.exporters import export_onnx
    blob = _onnx(net, x)
    report = _prune_report(blob, **opts)
    p, d = tmp_path / "p.pyrt", tmp_path / "d.pyrt"
    n_pruned = export_onnx(blob, str(p), prune_structure="channel", **opts)
    n_dense = export_onnx(blob, str(d))
    with torch.no_grad():
        want = _zeroed(net, report["removed"])(torch.from_numpy(x)).numpy()
        orig = net(torch.from_numpy(x)).numpy()
    got = Session(str(p)).run(x)[0]
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale)
    if report["removed"]:
        assert np.abs(orig - want).max() > 1e-3 * scale   # pruning changed the model: the comparison means something
        assert n_pruned < n_dense
    shapes = [{t.name: t.shape for t in Model(str(f)).tensors} for f in (p, d)]
    return report, shapes


def _folded(conv, bn):
    """The BN-folded weight and bias of a torch conv (what the exporter ranks and what the constant comes from)."""
    s = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().numpy()
    w = conv.weight.detach().numpy() * s[:, None, None, None]
    b0 = 0 if conv.bias is None else conv.bias.detach().numpy()
    b = b0 - bn.running_mean.numpy() * s + bn.bias.detach().numpy()
    return w, b


def _cnn():
    import torch.nn as nn
    import torch
    torch.manual_seed(0)
    return randomize_bn(nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),          # stem: not a target
        nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),        # -> padded depthwise: only zeros
        nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.ReLU(),                  # follows /3/Conv
        nn.Conv2d(32, 24, 1), nn.ReLU(),                                        # -> pool, flatten, Linear: any
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10))).eval()


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_channel_prune_cnn_matches_zeroed_torch(tmp_path, scope):
    net = _cnn()
    x = RNG.standard_normal((3, 3, 12, 12)).astype(np.float32)
    report, (pruned, dense) = _check_export(net, x, tmp_path, prune=0.5, prune_scope=scope)
    removed = report["removed"]
    assert set(removed) == {"/3/Conv", "/8/Conv"}, report
    assert set(report["kept"]) == {"/12/Gemm"} and "graph output" in report["kept"]["/12/Gemm"]
    # the file's weights shrank: the pruned convs lost rows, the depthwise conv and the readers lost channels
    n3, n8 = 32 - len(removed["/3/Conv"]), 24 - len(removed["/8/Conv"])
    got = sorted(pruned.values())
    for s in [(n3, 16, 1, 1), (n3, 1, 3, 3), (n8, n3, 1, 1), (10, n8), (16, 3, 3, 3)]:
        assert s in got, (s, got)
    assert sum(np.prod(s) for s in pruned.values()) < 0.8 * sum(np.prod(s) for s in dense.values())
    # /3/Conv feeds a zero-padded depthwise conv: only filters whose constant relu(b) is exactly 0 may go
    _, b3 = _folded(net[3], net[4])
    assert (b3[removed["/3/Conv"]] <= 0).all()
    if scope == "layer":
        # the removed filters are among the half with the smallest L2 norm of the BN-folded weights; /8/Conv's
        # readers (pool, flatten, Linear) absorb any constant, so it loses exactly half
        w3, _ = _folded(net[3], net[4])
        lowest = np.argsort(np.linalg.norm(w3.reshape(32, -1), axis=1), kind="stable")[:16]
        assert set(removed["/3/Conv"]) <= set(lowest) and 0 < len(removed["/3/Conv"]) < 16
        w8 = net[8].weight.detach().numpy()
        assert set(removed["/8/Conv"]) == set(np.argsort(np.linalg.norm(w8.reshape(24, -1), axis=1))[:12])


def test_channel_prune_residual_add_ties_channels(tmp_path):
    import torch
    import torch.nn as nn

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
            self.pre = nn.Sequential(nn.Conv2d(16, 16, 1), nn.ReLU())      # read by the block and the Add
            self.a = nn.Conv2d(16, 32, 1, bias=False)                      # relu(0) = 0: all may go before b
            self.b = nn.Conv2d(32, 16, 3, padding=1)                        # feeds the Add
            self.head = nn.Linear(16, 10)

        def forward(self, x):
            h = self.pre(self.stem(x))
            y = torch.relu(h + self.b(torch.relu(self.a(h))))
            return self.head(y.mean((2, 3)))

    torch.manual_seed(0)
    net = Res().eval()
    x = RNG.standard_normal((2, 3, 10, 10)).astype(np.float32)
    report, (pruned, _) = _check_export(net, x, tmp_path, prune=0.5)
    assert set(report["removed"]) == {"/a/Conv"} and len(report["removed"]["/a/Conv"]) == 16
    assert "Add" in report["kept"]["/pre/pre.0/Conv"] and "Add" in report["kept"]["/b/Conv"], report["kept"]
    assert "/stem/stem.0/Conv" not in report["kept"]   # a stem on 3 channels is not a target at all
    # pre and b keep their shapes; a lost half its filters and b the matching input channels
    assert sorted(s for s in pruned.values() if len(s) == 4 and s[1] != 3) == [(16, 16, 1, 1), (16, 16, 1, 1),
                                                                              (16, 16, 3, 3)]


@pytest.mark.parametrize("arch", ["ResNet18", "MobileNetV2"])
def test_channel_prune_real_architectures(tmp_path, arch):
    """Every block's inner convs lose filters; the convs feeding residual Adds and the classifier keep theirs."""
    import torch
    import nets
    torch.manual_seed(0)
    net = randomize_bn(getattr(nets, arch)())
    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    report, _ = _check_export(net, x, tmp_path, prune=0.5)
    assert len(report["removed"]) >= 8
    adds = [k for k, why in report["kept"].items() if "(Add)" in why]
    assert len(adds) >= 8 and not set(adds) & set(report["removed"]), report["kept"]


def test_channel_prune_mlp_batchnorm_and_constants(tmp_path):
    """Gemm producers; a BatchNorm1d and a Tanh between them (kept apart from the Gemm by the BatchNorm); the
    removed features' nonzero constants folded into the next Linear's bias."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    net = randomize_bn(nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.Tanh(), nn.Linear(64, 48),
                                      nn.Sigmoid(), nn.Linear(48, 10))).eval()
    x = RNG.standard_normal((5, 20)).astype(np.float32)
    report, (pruned, _) = _check_export(net, x, tmp_path, prune=0.25)
    assert {k: len(v) for k, v in report["removed"].items()} == {"/0/Gemm": 16, "/3/Gemm": 12}
    assert sorted(s for s in pruned.values() if len(s) == 2) == [(10, 36), (36, 48), (48, 20)]


def test_channel_masks_and_prune_weights():
    from pyruntime.compress import channel_masks, prune_weights
    w = {"a": RNG.standard_normal((8, 4, 3, 3)), "b": 100 * RNG.standard_normal((6, 5))}
    p = prune_weights(w, 0.5, "channel")
    assert [int((np.abs(v).reshape(len(v), -1).sum(1) == 0).sum()) for v in p.values()] == [4, 3]
    m = channel_masks(w, 0.5, "global")   # norms relative to each layer's mean: b's scale does not protect it
    assert 0 < (~m["b"]).sum() and sum((~v).sum() for v in m.values()) == 7
    assert channel_masks({"c": np.ones((4, 2))}, 0.99, "global")["c"].sum() == 1   # ties: one filter stays


def test_channel_prune_cli(tmp_path, capsys):
    from pyruntime.cli import main
    net = _cnn()
    x = RNG.standard_normal((1, 3, 12, 12)).astype(np.float32)
    (tmp_path / "m.onnx").write_bytes(_onnx(net, x))
    out = tmp_path / "m.pyrt"
    assert main(["export", str(tmp_path / "m.onnx"), "-o", str(out), "--prune", "0.5",
                 "--prune-structure", "channel"]) == 0
    assert "filters in 2 layers (channel)" in capsys.readouterr().err
    assert (10, 12) in [t.shape for t in Model(str(out)).tensors]
