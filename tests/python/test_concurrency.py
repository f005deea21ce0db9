"""One model file, sessions in 8 Python threads at once (Session.run releases the GIL): every output equals the
sequential run's bit for bit, for fp32, static int8 and pruned (sparse) exports."""
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn

import pyruntime


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16),
                         nn.ReLU(), nn.Conv2d(16, 32, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 32, 1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).eval()


@pytest.mark.parametrize("mode", ["f32", "int8", "pruned"])
def test_threads_match_sequential(tmp_path, mode):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(12)]
    opts = {"f32": {}, "int8": dict(quantize="int8", calibration=xs[:4]), "pruned": dict(prune=0.8, sparse="always")}
    path = str(tmp_path / f"{mode}.pyrt")
    pyruntime.export(cnn(), (torch.from_numpy(xs[0]),), path, **opts[mode])
    ref = pyruntime.Session(path, num_threads=1)
    want = [ref.run(x)[0].copy() for x in xs]
    bad, errors = [], []

    def work(t):
        try:
            s = pyruntime.Session(path, num_threads=1 + t % 2)   # some with their own 2-thread pool
            for it in range(60):
                k = (t * 5 + it) % len(xs)
                if not np.array_equal(s.run(xs[k])[0], want[k]):
                    bad.append((t, it))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))
    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors and not bad, (errors, bad[:5])
