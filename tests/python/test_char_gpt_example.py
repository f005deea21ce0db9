"""bench/char_gpt.py end to end at 3 training steps: the three exported decoders (and the vocabulary) exist, the fp32
greedy text equals PyTorch's, the printed section has its tables."""
import json
import os

import numpy as np
import pytest


def _script():
    from conftest import bench_script
    return bench_script("char_gpt")


def test_char_gpt_example_short(tmp_path, capsys):
    pytest.importorskip("torch")
    import pyruntime
    cg = _script()
    res = cg.main(["--out", str(tmp_path), "--steps", "3", "--seconds", "60", "--new", "60", "--tf-chunks", "2",
                  "--threads", "1"])
    paths = res["paths"]
    assert set(paths) == {"fp32", "int8", "int4", "fp32-kv-f16", "fp32-kv-i8", "int4-kv-i8"}
    for name, path in paths.items():
        assert os.path.isfile(path) and os.path.isfile(res["paths_all"][name])
        assert os.path.dirname(path) == str(tmp_path / "out")
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    assert sizes["int4"] < sizes["int8"] < sizes["fp32"]
    assert res["steps"] == 3

    with open(res["vocab_path"], encoding="utf-8") as f:
        vocab = json.load(f)
    assert vocab == sorted(set(vocab)) == res["vocab"] and 40 < len(vocab) < 200

    ref = res["torch_greedy"]
    assert len(ref) == 60
    np.testing.assert_array_equal(res["greedy"]["fp32"], ref)
    # the file's greedy text, decoded again here, is the one the script reports
    again = pyruntime.Generator(paths["fp32"], num_threads=1).generate(cg.encode("The ", vocab), 60)
    np.testing.assert_array_equal(again[4:], ref)

    printed = capsys.readouterr().out
    assert printed.startswith("## Character-level GPT")
    assert "= PyTorch greedy text (full forward passes): **yes** (60/60 tokens equal" in printed
    assert "| loss (nats/char) | training text" in printed and "| after training |" in printed
    assert "| variant | file bytes |" in printed
    for name in paths:
        assert f"\n| {name} | {sizes[name]} |" in printed
    # the cache types: bytes per token of the 4 layers x (key + value) x 128 features, i8 with a scale per head
    for name, per_token in (("fp32", 4 * 2 * 128 * 4), ("fp32-kv-f16", 4 * 2 * 128 * 2), ("fp32-kv-i8", 4 * 2 * (128 + 4 * 4))):
        assert f"| {per_token} | " in printed.split(f"\n| {name} | ")[1].split("\n")[0]
    assert printed.count("```text\nThe ") == 7      # torch greedy + (greedy, sampled) per variant
