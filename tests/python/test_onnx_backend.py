"""The ONNX backend test data shipped in the onnx wheel: every `light` model matches its expected output, and
every pytorch-converted / pytorch-operator / simple case the importer accepts matches its data. The cases that
pass are listed in onnx_backend_pass.txt, so a regression (or a newly accepted case) shows up here. Each suite's
pass figures are printed at the end of the run (conftest.pytest_terminal_summary)."""
import os

import numpy as np
import pytest
from onnx_backend import LIGHT, node_cases, run_case, run_light

HERE = os.path.dirname(os.path.abspath(__file__))
PASS_LIST = sorted(line.strip() for line in open(os.path.join(HERE, "onnx_backend_pass.txt")) if line.strip())
SUITES = ("pytorch-converted", "pytorch-operator", "simple")
ALL = [f"{k}/{c}" for k in SUITES for c in node_cases(k)]
OUTCOMES: dict = {}      # case -> "pass" | "not_claimed" | "fail", for the figures


def _out_of_scope(case: str) -> bool:
    """The node tests' excluded families, judged from the case's model as onnx_node.model_exclusion does: a
    sequence / string graph input or output, an op of the training domain (the simple suite's Gradient),
    control flow... (a sequence built and read inside the graph is in scope: the exporter lowers it)."""
    import onnx
    from onnx_backend import DATA
    from onnx_node import model_exclusion
    kind, name = case.split("/")
    return model_exclusion(onnx.load(os.path.join(DATA, kind, name, "model.onnx"))) is not None


def _record(figures, case, outcome):
    OUTCOMES[case] = outcome
    kind = case.split("/")[0]
    mine = [v for k, v in OUTCOMES.items() if k.startswith(kind + "/")]
    n = sum(c.startswith(kind + "/") for c in ALL)
    passing = mine.count("pass")
    scope = [c for c in ALL if c.startswith(kind + "/") and not _out_of_scope(c)]
    in_pass = sum(OUTCOMES.get(c) == "pass" for c in scope)
    figures[f"onnx-backend-{kind}"] = (
        f"ONNX backend {kind}: {n} cases, passing {passing} = {100.0 * passing / n:.1f}% "
        f"(not claimed {mine.count('not_claimed')}, failing {mine.count('fail')}, not run {n - len(mine)}); "
        f"in scope (the node tests' excluded families) {len(scope)}, passing {in_pass} = "
        f"{100.0 * in_pass / max(len(scope), 1):.1f}%")


@pytest.mark.parametrize("name", LIGHT)
def test_light_models(name, tmp_path):
    got, want = run_light(name, tmp_path)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("case", ALL)
def test_node_cases(case, tmp_path, figures):
    kind, name = case.split("/")
    _record(figures, case, "fail")          # until it is shown to pass or be refused
    results = run_case(kind, name, tmp_path)
    if results is None:                      # not claimed: an unsupported op, attribute or dimensionality
        _record(figures, case, "not_claimed")
        assert case not in PASS_LIST, f"{case} is in the pass list but the importer now refuses it"
        return
    assert case in PASS_LIST, f"{case} is accepted and must be added to onnx_backend_pass.txt"
    for got, want in results:
        for g, w in zip(got, want):
            assert g.shape == w.shape
            if w.dtype.kind in "OUS":   # strings: exactly equal, element by element
                assert g.tolist() == w.tolist()
                continue
            np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5, equal_nan=True)
    _record(figures, case, "pass")


def test_pass_list_is_substantial():
    assert len(PASS_LIST) >= 60
