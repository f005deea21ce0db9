"""Writes two small models for pyrt_benchmark runs on other machines (run_qemu.sh): DIR/int8.pyrt (static int8:
integer kernels end to end) and DIR/sparse.pyrt (pruned to 90%, csr weights on the sparse kernels)."""
import os
import sys

import numpy as np
import torch

import pyruntime

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 1),
                          torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
                          torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
d = sys.argv[1]
cal = [np.random.default_rng(i).standard_normal((1, 3, 32, 32)).astype(np.float32) for i in range(4)]
pyruntime.export(net, (torch.from_numpy(x),), os.path.join(d, "int8.pyrt"), quantize="int8", calibration=cal)
pyruntime.export(net, (torch.from_numpy(x),), os.path.join(d, "sparse.pyrt"), prune=0.9, sparse="always")
