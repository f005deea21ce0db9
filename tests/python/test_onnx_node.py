"""The ONNX backend node tests, generated from the installed onnx package (onnx_node.py), run through the importer
and the runtime. Each in-scope case is either refused ("not claimed") or must match ONNX's expected outputs; the
passing ones are listed in onnx_node_pass.txt, which only grows, so a regression or a newly passing case shows up
here. The whole run (generation + every in-scope case) takes ~15 s on 2 cores, so CI runs all of it."""
import fnmatch
import time

import onnx
import pytest
from onnx_node import Figures, collect, load_exclusions, pass_list_onnx_version, read_pass_list, scan, split_scope

PASS_LIST = read_pass_list()
LISTED_WITH = pass_list_onnx_version()
# Another onnx release generates other cases (new ones, renamed ones): the listed cases that exist must still pass,
# but the checks that need the exact set (no unknown names, no unlisted passes) only hold for the listed release.
SAME_ONNX = LISTED_WITH == onnx.__version__
MAX_EXCLUDED = 0.30
SCAN = "PYTHONSAFEPATH=1 python3 tests/python/onnx_node.py --scan --write"


@pytest.fixture(scope="module")
def node_scan():
    t0 = time.time()
    cases = collect()
    in_scope, excluded = split_scope(cases)
    res = scan(in_scope)
    return cases, in_scope, excluded, res, time.time() - t0


@pytest.fixture(scope="module", autouse=True)
def print_figures(node_scan):
    from conftest import _FIGURES
    cases, in_scope, excluded, res, secs = node_scan
    st = [s for s, _ in res.values()]
    fig = Figures(len(cases), len(excluded), len(in_scope), st.count("pass"), st.count("not_claimed"),
                  st.count("fail"))
    print(f"\n{fig} [{secs:.1f} s]")
    _FIGURES["onnx-node"] = str(fig)


def test_exclusions_are_bounded_and_live(node_scan):
    cases, _, excluded, _, _ = node_scan
    assert len(excluded) <= MAX_EXCLUDED * len(cases), \
        f"{len(excluded)} of {len(cases)} cases excluded, more than {MAX_EXCLUDED:.0%}"
    names = [c.name for c in cases]
    # a pattern that matches nothing is stale (a renamed case) and would hide the next case it happens to match
    stale = [p for p, _ in load_exclusions() if not fnmatch.filter(names, p)]
    assert not stale or not SAME_ONNX, f"exclusion patterns that match no case: {stale}"


def test_listed_cases_pass(node_scan):
    _, _, excluded, res, _ = node_scan
    unknown = [n for n in PASS_LIST if n not in res]
    assert not unknown or not SAME_ONNX, "listed cases that are excluded or no longer generated: " + ", ".join(
        f"{n} ({excluded.get(n, 'not a case')})" for n in unknown)
    regressed = {n: res[n] for n in PASS_LIST if n in res and res[n][0] != "pass"}
    assert not regressed, "listed cases that stopped passing:\n" + "\n".join(
        f"  {n}: {st}: {why[:300]}" for n, (st, why) in regressed.items())


def test_no_unlisted_case_passes(node_scan):
    if not SAME_ONNX:
        pytest.skip(f"onnx_node_pass.txt lists the cases of onnx {LISTED_WITH}, this is onnx {onnx.__version__}")
    listed = set(PASS_LIST)
    new = sorted(n for n, (st, _) in node_scan[3].items() if st == "pass" and n not in listed)
    assert not new, f"{len(new)} cases pass and must be added to onnx_node_pass.txt (run `{SCAN}`): " + ", ".join(new)


def test_claimed_cases_are_right(node_scan):
    # the importer refuses what the runtime cannot do; a claimed case with a wrong answer or a crash is a bug
    wrong = {n: why for n, (st, why) in node_scan[3].items() if st == "fail"}
    assert not wrong, f"{len(wrong)} claimed cases fail:\n" + "\n".join(f"  {n}: {w[:300]}" for n, w in wrong.items())


def test_pass_list_is_substantial():
    assert len(PASS_LIST) >= 400
