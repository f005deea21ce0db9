"""bench/dcgan_digits.py end to end at 5 training steps: the three exported generators exist and run, the fp32 one
matches PyTorch, the sample grids are written."""
import os

import numpy as np
import pytest


def _script():
    from conftest import bench_script
    return bench_script("dcgan_digits")


def test_dcgan_example_short(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import pyruntime
    dc = _script()
    outs, paths = dc.main(["--out", str(tmp_path), "--steps", "5", "--runs", "2", "--no-quality"])
    assert set(paths) == {"fp32", "int8", "int4"}
    ref = outs["torch"][0]
    assert ref.shape == (64, 1, 16, 16)
    z = dc.latents(1)                  # the script's fixed latents (seed 0 + 1)
    sizes = {}
    for name, path in paths.items():
        assert os.path.isfile(path)
        sizes[name] = os.path.getsize(path)
        y = pyruntime.Session(path, num_threads=1).run([z])[0]
        assert y.shape == ref.shape and np.all(np.isfinite(y))
        np.testing.assert_array_equal(y, outs[name][0])
        assert os.path.isfile(tmp_path / f"dcgan_digits_{name}.png")
    np.testing.assert_allclose(outs["fp32"][0], ref, rtol=0, atol=1e-4)
    assert np.abs(outs["int8"][0] - ref).max() < 0.1
    assert sizes["int4"] < sizes["int8"] < sizes["fp32"]
    printed = capsys.readouterr().out
    assert "| pyruntime int4 |" in printed and "max abs diff" in printed
