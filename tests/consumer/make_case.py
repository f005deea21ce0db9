"""Writes a consumer test case into DIR: a small CNN exported with pyruntime (model.pyrt), an input (input.bin,
f32), its shape (shape.txt) and the Python session's first output (expected.bin); the same CNN with int4 weights
(model_i4.pyrt) and its output with decode_weights=True (expected_i4_decoded.bin), for --decode-weights."""
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
    path_i4 = os.path.join(d, "model_i4.pyrt")
    pyruntime.export(net, (torch.from_numpy(x),), path_i4, quantize="int4", group_size=16)
    y_i4 = pyruntime.Session(path_i4, decode_weights=True).run(x)[0]
    y_i4.astype(np.float32).tofile(os.path.join(d, "expected_i4_decoded.bin"))
    x.tofile(os.path.join(d, "input.bin"))
    y.astype(np.float32).tofile(os.path.join(d, "expected.bin"))
    with open(os.path.join(d, "shape.txt"), "w") as f:
        f.write(",".join(map(str, x.shape)))


if __name__ == "__main__":
    main(sys.argv[1])
