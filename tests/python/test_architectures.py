"""Real architectures, exported with the default options (dynamic batch, plus the sequence axis where the model
has one) and run from one file at two batch sizes and two lengths, on the SIMD and the reference kernels:
each output within 1e-4 x its scale of PyTorch's."""
import numpy as np
import pytest
import torch

from architectures import HANDWRITTEN, HF
from pyruntime import Session, export

pytest.importorskip("transformers")


def _check(builder, tmp_path):
    torch.manual_seed(0)
    model, make, dyn, lengths = builder()
    path = tmp_path / "m.pyrt"
    export(model, make(2, lengths[0]), path, dynamic_axes=dyn)
    sessions = [Session(path), Session(path, force_reference=True)]
    assert sessions[1].isa == "ref"
    for batch in (1, 3):
        for length in lengths:
            x = make(batch, length)
            with torch.no_grad():
                want = model(x).numpy()
            scale = max(1.0, float(np.abs(want).max()))
            for s in sessions:
                got = s.run(x.numpy())[0]
                assert got.shape == want.shape
                err = float(np.abs(got - want).max())
                assert err <= 1e-4 * scale, f"{s.isa}: batch {batch}, length {length}: error {err} (scale {scale})"
    return sessions[0]


@pytest.mark.parametrize("name", sorted(HF))
def test_transformers_model_exports_with_defaults_and_matches(name, tmp_path):
    _check(HF[name], tmp_path)


@pytest.mark.parametrize("name", sorted(HANDWRITTEN))
def test_handwritten_model_exports_with_defaults_and_matches(name, tmp_path):
    _check(HANDWRITTEN[name], tmp_path)


def test_shape_arithmetic_runs_when_planning_not_per_run(tmp_path):
    # BERT's attention reshapes read the batch and sequence length through Shape -> Gather -> Concat: those
    # nodes run once when a shape set is planned ("at-plan:" in describe()), and run() skips them.
    s = _check(HF["bert"], tmp_path)
    kernels = {r["name"]: r["kernel"] for r in s.describe()}
    at_plan = [n for n, k in kernels.items() if k.startswith("at-plan:")]
    assert any("Shape" in n for n in at_plan) and any("Concat" in n for n in at_plan)
    assert not any(k.startswith("at-plan:") for n, k in kernels.items() if "MatMul" in n)


# Relative L2 error of the output against PyTorch (random tiny models: pruning half of random weights costs
# far more than it does in a trained one; the bounds are this test's measured figures with room, not targets).
COMPRESSION = [
    ("int8-weights", {"quantize": "int8-weights"}, 0.05),
    ("int4", {"quantize": "int4", "group_size": 16}, 0.3),
    ("prune-0.5", {"prune": 0.5}, 1.0),
    ("2:4+int8-weights", {"prune": 0.5, "prune_structure": "2:4", "quantize": "int8-weights"}, 1.0),
    ("int8-static", {"quantize": "int8"}, 0.1),
]


@pytest.mark.parametrize("name", ["bert", "wav2vec2"])
@pytest.mark.parametrize("label,opts,bound", COMPRESSION, ids=[c[0] for c in COMPRESSION])
def test_compression_options_on_transformer_encoders(name, label, opts, bound, tmp_path):
    torch.manual_seed(0)
    model, make, dyn, lengths = HF[name]()
    x = make(2, lengths[0])
    if opts.get("quantize") == "int8":
        opts = dict(opts, calibration=[make(2, lengths[0]).numpy() for _ in range(4)])
    path = tmp_path / "m.pyrt"
    size = export(model, x, path, dynamic_axes=dyn, **opts)
    dense = export(model, x, tmp_path / "dense.pyrt", dynamic_axes=dyn)
    s = Session(path)
    for batch, length in ((2, lengths[0]), (1, lengths[-1])):   # still dynamic after compression
        x = make(batch, length)
        with torch.no_grad():
            want = model(x).numpy()
        got = s.run(x.numpy())[0]
        assert got.shape == want.shape and np.isfinite(got).all()
        rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
        print(f"{name} {label}: {size} bytes (dense {dense}), relative error {rel:.4f} at batch {batch}, length {length}")
        assert rel <= bound
    if "quantize" in opts and opts["quantize"] != "int8":
        assert size < dense
