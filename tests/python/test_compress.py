"""Training-side compression tools (pyruntime/compress): the gradual pruning schedule and masks, the
distillation loss, truncated-SVD factorization."""
import numpy as np
import pytest
import torch

from pyruntime.compress import (GradualPruner, choose_rank, distill, distillation_loss, factorize, finetune_pruned,
                                lowrank, polynomial_sparsity)
from pyruntime.compress.gradual import cosine, fit

torch.manual_seed(0)


def test_polynomial_schedule():
    assert polynomial_sparsity(0, 0.0, 0.9, 10, 110) == 0.0
    assert polynomial_sparsity(110, 0.0, 0.9, 10, 110) == 0.9 and polynomial_sparsity(500, 0.0, 0.9, 10, 110) == 0.9
    mid = polynomial_sparsity(60, 0.0, 0.9, 10, 110)
    assert mid == pytest.approx(0.9 * (1 - 0.5 ** 3))
    v = [polynomial_sparsity(t, 0.1, 0.8, 0, 100) for t in range(0, 101, 10)]
    assert all(a <= b for a, b in zip(v, v[1:]))   # non-decreasing, fastest early


def test_gradual_pruner_reaches_target_and_holds_zeros():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3, groups=16),
                              torch.nn.Conv2d(16, 16, 1), torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10))
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,))
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
    pruner = finetune_pruned(net, batches, torch.nn.functional.cross_entropy, 0.8, epochs=6, lr=1e-2)
    assert len(pruner.layers) == 2   # the 1x1 conv and the Linear; the RGB stem and the depthwise conv are left alone
    assert pruner.achieved() == pytest.approx(0.8, abs=0.01)
    zeros = [m.weight == 0 for m in pruner.layers]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):   # training on keeps the pruned weights at zero
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        pruner.step()
    assert all(bool((m.weight[z] == 0).all()) for m, z in zip(pruner.layers, zeros))
    p24 = GradualPruner(net, 0.5, 0, 1, structure="2:4")
    p24.step()
    w = p24.layers[0].weight.detach().numpy()
    assert (w.reshape(w.shape[0], -1, 4) != 0).sum(2).max() <= 2
    with pytest.raises(ValueError):
        GradualPruner(net, 0.5, 10, 5)


def test_global_scope_and_lr_schedule(monkeypatch):
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 16, 10))
    with torch.no_grad():
        net[0].weight.mul_(10.0)   # the conv's weights the larger: one threshold prunes the Linear more
    x, y = torch.randn(32, 4, 4, 4), torch.randint(0, 10, (32,))
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
    pruner = finetune_pruned(net, batches, torch.nn.functional.cross_entropy, 0.8, epochs=4, lr=1e-3,
                             schedule="cosine", scope="global")
    assert pruner.achieved() == pytest.approx(0.8, abs=0.01)
    conv, lin = (float((m.weight == 0).float().mean()) for m in pruner.layers)
    assert conv < 0.8 < lin
    with pytest.raises(ValueError):
        GradualPruner(net, 0.5, 0, 10, scope="model")
    f = cosine(0.5)   # held for the first half, then a half cosine to zero
    assert f(0.0) == f(0.49) == 1.0 and f(0.75) == pytest.approx(0.5) and f(1.0) == pytest.approx(0.0)
    lrs, adam_step = [], torch.optim.Adam.step

    def spy(self, *a, **k):   # the lr of every step
        lrs.append(self.param_groups[0]["lr"])
        return adam_step(self, *a, **k)
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    fit(net, batches, lambda out, x, y: torch.nn.functional.cross_entropy(out, y), 2, 1e-2, "cosine")
    assert lrs[0] == pytest.approx(1e-2) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-3
    with pytest.raises(ValueError):
        fit(net, batches, lambda out, x, y: out.sum(), 1, schedule="step")


def test_distillation_loss():
    s, t = torch.randn(5, 7, requires_grad=True), torch.randn(5, 7)
    y = torch.randint(0, 7, (5,))
    T, a = 3.0, 0.7
    ps, pt = torch.softmax(s / T, 1), torch.softmax(t / T, 1)
    kl = (pt * (pt.log() - ps.log())).sum(1).mean()
    want = a * T * T * kl + (1 - a) * torch.nn.functional.cross_entropy(s, y)
    got = distillation_loss(s, t, y, T, a)
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    got.backward()
    assert s.grad is not None and float(s.grad.abs().sum()) > 0
    assert float(distillation_loss(t.clone(), t, y, T, 1.0)) == pytest.approx(0.0, abs=1e-6)  # matching logits


def test_lowrank_factorization():
    s = np.array([10.0, 5.0, 1.0, 0.1])
    assert choose_rank(s, energy=0.99) == 2 and choose_rank(s, energy=0.9999) == 3
    assert choose_rank(np.ones(64), ratio=0.25, shape=(64, 64)) == 8
    lin = torch.nn.Linear(128, 96)
    with torch.no_grad():   # an exactly rank-8 weight: kept whole by the factorization
        lin.weight.copy_(torch.randn(96, 8) @ torch.randn(8, 128))
    f = factorize(lin, energy=0.9999)
    assert isinstance(f, torch.nn.Sequential) and f[0].out_features == 8
    x = torch.randn(4, 128)
    assert torch.allclose(f(x), lin(x), atol=1e-3)
    conv = torch.nn.Conv2d(64, 64, 1)
    fc = factorize(conv, ratio=0.25)
    assert sum(p.numel() for p in fc.parameters()) < 0.3 * sum(p.numel() for p in conv.parameters())
    assert factorize(torch.nn.Conv2d(64, 64, 3), ratio=0.25).kernel_size == (3, 3)   # only 1x1 convs
    net = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    n0 = sum(p.numel() for p in net.parameters())
    lowrank(net, ratio=0.25)
    assert sum(p.numel() for p in net.parameters()) < 0.5 * n0 and isinstance(net[0], torch.nn.Sequential)


def test_distill_trains_student():
    torch.manual_seed(1)
    teacher = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3)).eval()
    student = torch.nn.Linear(10, 3)
    x = torch.randn(64, 10)
    y = teacher(x).argmax(1).detach()
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    before = float((student(x).argmax(1) == y).float().mean())
    distill(student, teacher, batches, epochs=60, lr=1e-2)
    assert float((student(x).argmax(1) == y).float().mean()) > max(before, 0.8)
