"""Whole graphs built with the graph builder from PyTorch modules with random weights — a ResNet basic block,
a MobileNetV2 inverted residual, a DCGAN generator, a VAE decoder and a GRU sequence model — run and match
PyTorch on the SIMD and reference paths. Also: memory stays flat over 10,000 runs, and two sessions on one
file share the weights."""
import ctypes
import gc
import os

import numpy as np
import pytest
import torch
from torch import nn
from graphs import assert_close
from nets import randomize_bn

from pyruntime import Graph, Session

torch.manual_seed(0)
torch.set_num_threads(1)


def npf(t):
    return t.detach().numpy().astype(np.float32)


def conv(g, x, m: nn.Conv2d, bn: nn.BatchNorm2d = None, act=None):
    """Conv (+ BatchNorm folded into it) + fused activation."""
    w, b = npf(m.weight), npf(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32)
    if bn is not None:
        s = npf(bn.weight) / np.sqrt(npf(bn.running_var) + bn.eps)
        w, b = w * s[:, None, None, None], (b - npf(bn.running_mean)) * s + npf(bn.bias)
    p = m.padding
    return g.op("Conv", x, g.const(w), g.const(b.astype(np.float32)), strides=list(m.stride), pads=[p[0], p[1], p[0], p[1]],
                dilations=list(m.dilation), group=m.groups, activation=act)


def bn_op(g, x, bn):
    return g.op("BatchNormalization", x, g.const(npf(bn.weight)), g.const(npf(bn.bias)), g.const(npf(bn.running_mean)),
                g.const(npf(bn.running_var)), epsilon=bn.eps)


def deconv(g, x, m: nn.ConvTranspose2d, act=None, **extra):
    b = npf(m.bias) if m.bias is not None else None
    return g.op("ConvTranspose", x, g.const(npf(m.weight)), g.const(b) if b is not None else None,
                strides=list(m.stride), pads=[m.padding[0], m.padding[1]] * 2, output_padding=list(m.output_padding),
                group=m.groups, activation=act, **extra)


def linear(g, x, m: nn.Linear, act=None):
    return g.op("Gemm", x, g.const(npf(m.weight)), g.const(npf(m.bias)), transB=1, activation=act)


def check(graph: Graph, module, x: np.ndarray, rel=1e-4):
    blob = graph.to_bytes()
    with torch.no_grad():
        want = module(torch.from_numpy(x))
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    for ref in (False, True):
        s = Session(blob, force_reference=ref)
        outs = s.run(x)
        for o, w in zip(outs, want):
            assert_close(o, w, rel)
    return s


# --------------------------------------------------------------------------------------------- ResNet
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
            if stride != 1 or cin != cout else None

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


@pytest.mark.parametrize("cin,cout,stride", [(16, 16, 1), (16, 32, 2)])
def test_resnet_block(cin, cout, stride):
    m = randomize_bn(BasicBlock(cin, cout, stride))
    g = Graph("resnet-block")
    x = g.input("x", [None, cin, 14, 14])
    y = conv(g, x, m.c1, m.b1, "relu")
    y = bn_op(g, g.op("Conv", y, g.const(npf(m.c2.weight)), pads=[1, 1, 1, 1]), m.b2)   # BN kept as an op here
    skip = conv(g, x, m.down[0], m.down[1]) if m.down is not None else x
    g.output(g.op("Add", y, skip, activation="relu"), "y")
    check(g, m, np.random.default_rng(1).standard_normal((2, cin, 14, 14)).astype(np.float32))


# ------------------------------------------------------------------------------------------ MobileNetV2
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.e, self.eb = nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid)
        self.d, self.db = nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid)
        self.p, self.pb = nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        y = nn.functional.relu6(self.eb(self.e(x)))
        y = nn.functional.relu6(self.db(self.d(y)))
        y = self.pb(self.p(y))
        return x + y if self.res else y


@pytest.mark.parametrize("cin,cout,stride,expand", [(24, 24, 1, 6), (16, 24, 2, 6), (32, 32, 1, 4)])
def test_mobilenetv2_block(cin, cout, stride, expand):
    m = randomize_bn(InvertedResidual(cin, cout, stride, expand))
    g = Graph("mbv2-block")
    x = g.input("x", [None, cin, 15, 15])
    y = conv(g, x, m.e, m.eb, "relu6")
    y = conv(g, y, m.d, m.db, "relu6")
    y = conv(g, y, m.p, m.pb)
    g.output(g.op("Add", x, y) if m.res else y, "y")
    s = check(g, m, np.random.default_rng(2).standard_normal((2, cin, 15, 15)).astype(np.float32))
    kernels = [d["kernel"] for d in s.describe()]
    assert any(k.startswith("dwconv") for k in kernels) and any(k.startswith("conv1x1") for k in kernels)


# -------------------------------------------------------------------------------------------- DCGAN
class DCGAN(nn.Module):
    def __init__(self, nz=16, ngf=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.net(z)


def test_dcgan_generator():
    m = randomize_bn(DCGAN())
    g = Graph("dcgan")
    y = g.input("z", [None, 16, 1, 1])
    layers = list(m.net)
    for i in range(0, 9, 3):
        y = g.op("Relu", bn_op(g, deconv(g, y, layers[i]), layers[i + 1]))
    g.output(g.op("Tanh", deconv(g, y, layers[9])), "image")
    s = check(g, m, np.random.default_rng(3).standard_normal((3, 16, 1, 1)).astype(np.float32))
    assert s.outputs == [("image", "f32", (-1, 3, 32, 32))]


# ---------------------------------------------------------------------------------------- VAE decoder
class VAEDecoder(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.fc = nn.Linear(z, 32 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(32, 16, 4, 2, 1)
        self.c2 = nn.Conv2d(16, 8, 3, 1, 1)
        self.out = nn.Conv2d(8, 1, 3, 1, 1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).view(-1, 32, 4, 4)
        h = nn.functional.leaky_relu(self.up1(h), 0.2)
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = nn.functional.silu(self.c2(h))
        h = nn.functional.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(h))


def test_vae_decoder():
    m = VAEDecoder().eval()
    g = Graph("vae-decoder")
    z = g.input("z", [None, 8])
    h = linear(g, z, m.fc, "relu")
    h = g.op("Reshape", h, g.const(np.array([-1, 32, 4, 4], np.int64)))
    h = deconv(g, h, m.up1, "leaky_relu", activation_alpha=0.2)
    two = g.const(np.array([1, 1, 2, 2], np.float32))
    h = g.op("Resize", h, None, two, mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    h = conv(g, h, m.c2, act="silu")
    h = g.op("Resize", h, None, two, mode="linear", coordinate_transformation_mode="half_pixel")
    g.output(conv(g, h, m.out, act="sigmoid"), "x")
    check(g, m, np.random.default_rng(4).standard_normal((5, 8)).astype(np.float32))


# ----------------------------------------------------------------------------------- GRU sequence model
class SeqModel(nn.Module):
    def __init__(self, vocab=40, emb=16, hid=24):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hid, batch_first=True)
        self.head = nn.Linear(hid, vocab)

    def forward(self, tokens):
        y, _ = self.gru(self.emb(tokens))
        return torch.log_softmax(self.head(y), dim=-1)


def test_gru_sequence_model():
    m = SeqModel().eval()
    g = Graph("gru-lm")
    tok = g.input("tokens", [None, 7], "i64")
    e = g.op("Gather", g.const(npf(m.emb.weight)), tok, axis=0)
    H = 24
    W, R = npf(m.gru.weight_ih_l0), npf(m.gru.weight_hh_l0)
    bw, br = npf(m.gru.bias_ih_l0), npf(m.gru.bias_hh_l0)
    zrh = lambda a: np.concatenate([a[H:2 * H], a[:H], a[2 * H:]])  # noqa: E731  torch r,z,n -> onnx z,r,h
    y, _ = g.op("GRU", e, g.const(zrh(W)[None]), g.const(zrh(R)[None]), g.const(np.concatenate([zrh(bw), zrh(br)])[None]),
                hidden_size=H, layout=1, linear_before_reset=1, outputs=2)
    y = g.op("Squeeze", y, axes=[2])                         # [B, S, 1, H] -> [B, S, H]
    logits = g.op("MatMul", y, g.const(npf(m.head.weight).T.copy()))
    logits = g.op("Add", logits, g.const(npf(m.head.bias)))
    g.output(g.op("LogSoftmax", logits, axis=-1), "logprobs")
    tokens = np.random.default_rng(5).integers(0, 40, (3, 7)).astype(np.int64)
    blob = g.to_bytes()
    with torch.no_grad():
        want = m(torch.from_numpy(tokens)).numpy()
    for ref in (False, True):
        assert_close(Session(blob, force_reference=ref).run(tokens)[0], want)


# ------------------------------------------------------------------------------------- memory and sharing
def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_flat_over_10000_runs():
    m = randomize_bn(InvertedResidual(8, 8, 1, 2))
    g = Graph("small")
    x = g.input("x", [1, 8, 6, 6])
    y = conv(g, conv(g, conv(g, x, m.e, m.eb, "relu6"), m.d, m.db, "relu6"), m.p, m.pb)
    g.output(g.op("Add", x, y), "y")
    s = Session(g.to_bytes(), num_threads=1)
    inp = np.random.default_rng(6).standard_normal((1, 8, 6, 6)).astype(np.float32)
    for _ in range(500):
        s.run(inp)
    gc.collect()
    before = _rss_mb()
    for _ in range(10_000):
        s.run(inp)
    gc.collect()
    assert _rss_mb() - before < 1.0, "memory grew while running"


def test_two_sessions_share_weights(tmp_path):
    rng = np.random.default_rng(7)
    g = Graph("big")
    x = g.input("x", [None, 1024])
    g.output(g.op("Gemm", x, g.const(rng.standard_normal((4096, 1024)).astype(np.float32)), transB=1), "y")  # 16 MiB
    p = tmp_path / "big.pyrt"
    g.save(p)
    del g
    gc.collect()
    # memory freed so far (the writer's buffers) back to the OS, so that the packed copy shows as growth; the
    # file's own pages do not: the session drops them once the weight is packed
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)   # glibc
    if trim:
        trim(0)
    r0 = _rss_mb()
    s1 = Session(p)
    r1 = _rss_mb()
    s2 = Session(str(p))            # opened by path again: the same mapped model and packed weights
    r2 = _rss_mb()
    xin = rng.standard_normal((2, 1024)).astype(np.float32)
    np.testing.assert_array_equal(s1.run(xin)[0], s2.run(xin)[0])
    assert r1 - r0 > 10, "the first session packs the weights"
    assert r2 - r1 < 2, f"a second session on the same model must reuse them (+{r2 - r1:.1f} MiB)"
