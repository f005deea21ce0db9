"""Writes a consumer test case into DIR: a small CNN exported with pyruntime (model.pyrt), an input (input.bin,
f32), its shape (shape.txt) and the Python session's first output (expected.bin)."""
import os
import sys

import numpy as np

import pyruntime


def main(d):
    os.makedirs(d, exist_ok=True)
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 16, 1),
                              torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(16, 5)).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 12, 12)).astype(np.float32)
    path = os.path.join(d, "model.pyrt")
    pyruntime.export(net, (torch.from_numpy(x),), path)
    y = pyruntime.Session(path).run(x)[0]
    x.tofile(os.path.join(d, "input.bin"))
    y.astype(np.float32).tofile(os.path.join(d, "expected.bin"))
    with open(os.path.join(d, "shape.txt"), "w") as f:
        f.write(",".join(map(str, x.shape)))


if __name__ == "__main__":
    main(sys.argv[1])
