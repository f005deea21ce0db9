"""Smoke test of an installed pyruntime with numpy alone (a wheel in a clean venv, an editable install, cibuildwheel's
test step): write a small model with an fp32, an int8-weights and an int4 layer, check it on disk, run it on this
CPU's kernel table and on the reference kernels, compare with numpy, print `pyruntime info`.

    python tests/smoke.py          # exit status 0 when it works
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import pyruntime
from pyruntime import Graph, Session


def main() -> int:
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((64, 32)).astype(np.float32)
    w2 = rng.standard_normal((48, 64)).astype(np.float32) / 8
    w3 = rng.standard_normal((10, 48)).astype(np.float32) / 8
    g = Graph("smoke")
    y = g.op("Gemm", g.input("x", [None, 32]), g.const(w1, "fc1"), transB=1, activation="relu")
    y = g.op("Gemm", y, g.const(w2, "fc2", "i8", axis=0), transB=1, activation="relu")
    g.output(g.op("Gemm", y, g.const(w3, "fc3", "i4", group_size=16), transB=1), "logits")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "smoke.pyrt")
        g.save(path)
        m = pyruntime.load(path, verify="full")
        assert [t.encoding for t in m.tensors] == ["dense", "i8", "i4"], m.tensors
        x = rng.standard_normal((4, 32)).astype(np.float32)
        want = x @ w1.T
        want = np.maximum(want, 0) @ m.tensor("fc2").T
        want = np.maximum(want, 0) @ m.tensor("fc3").T
        with Session(path) as s, Session(path, force_reference=True) as ref:
            got, got_ref = s.run(x)[0], ref.run(x)[0]
            kernels, isa = [n["kernel"] for n in s.describe()], s.isa
        for out in (got, got_ref):   # int8 activations on the fly in the low-bit layers: within a few percent
            err = np.abs(out - want).max() / np.abs(want).max()
            assert err < 0.03, err
    print(f"pyruntime {pyruntime.__version__} from {os.path.dirname(pyruntime.__file__)}: smoke model ran on "
          f"{isa} ({', '.join(kernels)})")
    return subprocess.call([sys.executable, "-m", "pyruntime", "info"])


if __name__ == "__main__":
    sys.exit(main())
