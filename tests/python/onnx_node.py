"""Runs the ONNX backend *node* tests through the ONNX importer and the runtime.

The onnx wheel does not ship the node tests as data: they are generated in memory by running every
`export*` function under onnx/backend/test/case/node (collect_testcases). Each case is one model (a single
node, or its function-expanded form `*_expanded`) with one data set of inputs and expected outputs.

A case ends as one of:
  excluded     out of scope (onnx_node_exclusions.txt, or model_exclusion below)
  not claimed  the importer or the runtime refuses it (ExportError / NotImplementedError): an honest "no"
  fail         claimed, but an error or a wrong answer
  pass         every output matches with ONNX's own tolerances (the case's rtol / atol)

As a script it runs every case (the "full scan"), prints the figures and which cases newly pass:
  python3 tests/python/onnx_node.py --scan                  figures + newly passing / regressed cases
  python3 tests/python/onnx_node.py --scan --write          ... and add the newly passing ones to onnx_node_pass.txt
  python3 tests/python/onnx_node.py --scan --failures F     ... and write the failure groups to F
Run it against the installed package (PYTHONSAFEPATH=1) so it does not import the source tree.
"""
from __future__ import annotations

import argparse
import collections
import fnmatch
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from pyruntime import Session
from pyruntime.exporters import ExportError, export_onnx

HERE = os.path.dirname(os.path.abspath(__file__))
EXCLUSIONS = os.path.join(HERE, "onnx_node_exclusions.txt")
PASS_FILE = os.path.join(HERE, "onnx_node_pass.txt")

# Element types the exclusion list names as out of scope (float8 / float4 / sub-byte integers).
_NARROW = {getattr(TensorProto, n) for n in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
                                              "FLOAT8E8M0", "FLOAT4E2M1", "INT4", "UINT4", "INT2", "UINT2")
           if hasattr(TensorProto, n)}
# String tensors are values of the runtime (graph inputs, outputs, between ops), but the file stores none.
_STRING_CONSTANTS = "string constants"
_OUT_OF_SCOPE_DOMAINS = {"ai.onnx.ml": "ai.onnx.ml domain", "ai.onnx.preview.training": "training ops and losses"}


@dataclass
class NodeCase:
    name: str
    model: onnx.ModelProto
    data_sets: list          # [(inputs, expected outputs)], arrays or TensorProtos as onnx generated them
    rtol: float
    atol: float


_CASES: list[NodeCase] | None = None


def collect() -> list[NodeCase]:
    """Every generated node case, sorted by name. Generation takes seconds (it runs ~1,900 numpy reference
    implementations), so it happens once per process."""
    global _CASES
    if _CASES is None:
        from onnx.backend.test.case.node import collect_testcases
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")   # the reference code overflows on purpose (Cast, Log of 0, ...)
            raw = collect_testcases(None)
        _CASES = sorted((NodeCase(t.name, t.model, list(t.data_sets), t.rtol, t.atol) for t in raw),
                        key=lambda c: c.name)
    return _CASES


def load_exclusions(path: str = EXCLUSIONS) -> list[tuple[str, str]]:
    """[(pattern, reason)]: each pattern belongs to the "# reason" line above it."""
    out, reason = [], None
    for line in open(path):
        line = line.strip()
        if not line:
            reason = None          # a blank line ends a family; the header comment block has no patterns
            continue
        if line.startswith("#"):
            if reason is None:
                reason = line.lstrip("# ").split(":")[0].strip()
            continue
        if reason is None:
            raise ValueError(f"{path}: pattern {line!r} has no '# reason' line above it")
        out.append((line, reason))
    return out


def _type_exclusion(tp: onnx.TypeProto) -> str | None:
    kind = tp.WhichOneof("value")
    if kind in ("sequence_type", "optional_type", "map_type"):
        return "sequence / optional / string types"
    if kind == "sparse_tensor_type":
        return "sparse tensor types"
    if kind == "tensor_type":
        if tp.tensor_type.elem_type in _NARROW:
            return "float8 / float4 / int4 / uint4 element types"
    return None


def _graph_attrs(node):
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            return True
    return False


def model_exclusion(model: onnx.ModelProto) -> str | None:
    """The reason a case is out of scope judged from its model (types and ops), which catches cases whose
    names do not say it (e.g. test_cast_FLOAT_to_FLOAT8E4M3FN, test_range_*_expanded built on Loop). String
    tensors are in scope as values; a string constant (initializer or tensor attribute) is not."""
    g = model.graph
    for o in model.opset_import:
        if o.domain in _OUT_OF_SCOPE_DOMAINS:
            return _OUT_OF_SCOPE_DOMAINS[o.domain]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        r = _type_exclusion(vi.type)
        if r:
            return r
    for n in g.node:
        if _graph_attrs(n):
            return "control flow"
        for a in n.attribute:
            # a Cast / Constant / QuantizeLinear that produces or holds a narrow type inside an expanded graph
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type in _NARROW:
                return _type_exclusion(onnx.helper.make_tensor_type_proto(a.t.data_type, None))
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.STRING:
                return _STRING_CONSTANTS
            if a.name in ("to", "output_dtype", "dtype") and a.type == onnx.AttributeProto.INT \
                    and a.i in _NARROW:
                return "float8 / float4 / int4 / uint4 element types"
    for t in g.initializer:
        if t.data_type in _NARROW:
            return "float8 / float4 / int4 / uint4 element types"
        if t.data_type == TensorProto.STRING:
            return _STRING_CONSTANTS
    return None


def exclusion(case: NodeCase, patterns: list[tuple[str, str]]) -> str | None:
    for pat, reason in patterns:
        if fnmatch.fnmatchcase(case.name, pat):
            return reason
    return model_exclusion(case.model)


def _array(x):
    return numpy_helper.to_array(x) if isinstance(x, TensorProto) else np.asarray(x)


class NotClaimed(Exception):
    """The importer or the runtime refused the case (an unsupported op, attribute, type or rank)."""


def compare(got: list, want: list, rtol: float, atol: float) -> None:
    """What onnx.backend.test.runner.Runner.assert_similar_outputs checks: count, shape, dtype, allclose."""
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"output {i}: shape {g.shape}, expected {w.shape}"
        assert g.dtype == w.dtype, f"output {i}: dtype {g.dtype}, expected {w.dtype}"
        if w.dtype.kind in "OUS":          # strings: the runner compares them exactly
            assert g.tolist() == w.tolist(), f"output {i}: {g.tolist()}, expected {w.tolist()}"
            continue
        r = rtol
        if w.dtype.name == "bfloat16":    # the runner's allowance: two bfloat16 ULPs
            r, g, w = max(rtol, 2 ** -6), g.astype(np.float32), w.astype(np.float32)
        np.testing.assert_allclose(g, w, rtol=r, atol=atol, err_msg=f"output {i}")


def run(case: NodeCase, tmpdir: str) -> None:
    """Exports and runs one case. Returns when every output matches; raises NotClaimed when refused,
    anything else (AssertionError for a wrong answer) when the runtime claimed it and got it wrong."""
    out = os.path.join(tmpdir, f"{case.name}.pyrt")
    try:
        export_onnx(case.model, out)
        s = Session(out)
    except (ExportError, NotImplementedError) as e:
        raise NotClaimed(f"{type(e).__name__}: {e}") from None
    try:
        in_names = [vi.name for vi in case.model.graph.input]
        out_names = [vi.name for vi in case.model.graph.output]
        for inputs, expected in case.data_sets:
            feeds = dict(zip(in_names, (_array(x) for x in inputs)))
            # inputs the exporter folded away (unused, or constant-folded) are not session inputs
            try:
                got = s.run({n: feeds[n] for n in s.input_names})
            except NotImplementedError as e:      # a refusal at run time (e.g. a dtype seen only then)
                raise NotClaimed(f"{type(e).__name__}: {e}") from None
            if set(s.output_names) == set(out_names):      # compare by name when the names survived export
                got = [got[s.output_names.index(n)] for n in out_names]
            compare(got, [_array(x) for x in expected], case.rtol, case.atol)
    finally:
        del s
        try:
            os.remove(out)
        except OSError:
            pass


def classify(case: NodeCase, tmpdir: str) -> tuple[str, str]:
    """("pass", "") | ("not_claimed", why) | ("fail", why)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            run(case, tmpdir)
        return "pass", ""
    except NotClaimed as e:
        return "not_claimed", str(e)
    except AssertionError as e:
        return "fail", "wrong answer: " + str(e).strip().splitlines()[0]
    except Exception as e:   # noqa: BLE001 - any crash of a claimed case is a failure, kept with its type
        return "fail", f"{type(e).__name__}: {e}"


PASS_HEADER = ("# ONNX node tests that pass: test_onnx_node.py fails if one stops passing or an unlisted one passes.\n"
               "# Only grows. Add newly passing: PYTHONSAFEPATH=1 python3 tests/python/onnx_node.py --scan --write\n"
               f"# onnx {onnx.__version__}\n")


def pass_list_onnx_version(path: str = PASS_FILE) -> str | None:
    """The onnx version the pass list was written with: the generated cases differ between onnx releases."""
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"# onnx (\S+)$", line.strip())
            if m:
                return m.group(1)
    return None


def read_pass_list(path: str = PASS_FILE) -> list[str]:
    if not os.path.exists(path):
        return []
    return sorted(line.strip() for line in open(path) if line.strip() and not line.startswith("#"))


@dataclass
class Figures:
    total: int
    excluded: int
    in_scope: int
    passing: int
    not_claimed: int | None = None     # None when the run did not try them (the CI form)
    failing: int | None = None

    @property
    def pct(self) -> float:
        return 100.0 * self.passing / self.in_scope if self.in_scope else 0.0

    def __str__(self):
        s = (f"ONNX node tests (onnx {onnx.__version__}): total {self.total}, excluded {self.excluded} "
             f"({100.0 * self.excluded / self.total:.1f}%), in-scope {self.in_scope}, passing {self.passing} "
             f"= {self.pct:.1f}% of in-scope")
        if self.not_claimed is not None:
            s += f" (not claimed {self.not_claimed}, claimed but failing {self.failing})"
        return s


def split_scope(cases=None, patterns=None):
    """(in_scope cases, {name: exclusion reason})."""
    cases = collect() if cases is None else cases
    patterns = load_exclusions() if patterns is None else patterns
    excluded, in_scope = {}, []
    for c in cases:
        r = exclusion(c, patterns)
        if r:
            excluded[c.name] = r
        else:
            in_scope.append(c)
    return in_scope, excluded


def scan(cases, progress: bool = False) -> dict[str, tuple[str, str]]:
    """{name: (status, why)} for the given cases."""
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, c in enumerate(cases):
            res[c.name] = classify(c, tmp)
            if progress and k % 200 == 0:
                print(f"  {k}/{len(cases)}", file=sys.stderr, flush=True)
    return res


def failure_key(why: str) -> str:
    """Groups failures by their cause, keeping the op and the input or type at fault but not node names,
    generated tensor names or the list of supported ops, so that one missing feature is one group."""
    w = why.splitlines()[0] if why else why
    m = re.search(r"unsupported operator '([^']+)'", w)
    if m:
        return f"ExportError: unsupported operator {m.group(1)}"
    w = re.sub(r"; the runtime supports:.*", "", w)
    w = re.sub(r"node '[^']*'", "node", w)
    w = re.sub(r"element type (\d+)", lambda m: "element type " + TensorProto.DataType.Name(int(m.group(1))), w)
    w = re.sub(r"input '[^']*'", "input", w)
    w = re.sub(r"'[^']*test_[^']*'", "'…'", w)       # tensor names made from the case name
    w = re.sub(r"dimension \d+", "dimension", w)
    w = re.sub(r"\(dynamic input dims set to [^)]*\)", "", w)
    return w[:200]


def coarse_key(fine: str) -> str:
    """The cause without the op: how many cases one kind of runtime work would unlock."""
    if fine.startswith("ExportError: unsupported operator"):
        return "ExportError: unsupported operator"
    w = re.sub(r"\([A-Z][A-Za-z0-9]*\)", "(op)", fine)
    w = re.sub(r"\(op\): \w+ \(input \d+\) must be a constant tensor",
               "(op): an input given as a graph input must be a constant tensor", w)
    w = re.sub(r"(ONNX )?element type \w+", "element type", w)
    w = re.sub(r"must be \w+, got \w+", "has a dtype the kernel does not take", w)
    return w


def op_of(case: NodeCase) -> str:
    ops = sorted({n.op_type for n in case.model.graph.node})
    return ops[0] if len(ops) == 1 else "expanded:" + case.name[len("test_"):].split("_")[0]


def write_failures(path: str, in_scope, res) -> None:
    """The in-scope cases that do not pass, grouped by cause (top 30), then by coarse cause and by op."""
    groups = collections.defaultdict(list)
    for c in in_scope:
        st, why = res[c.name]
        if st != "pass":
            groups[(st, failure_key(why))].append(c)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    n_bad = sum(len(v) for v in groups.values())
    coarse = collections.Counter()
    for (st, key), cs in groups.items():
        coarse[(st, coarse_key(key))] += len(cs)
    with open(path, "w") as f:
        f.write(f"ONNX node tests (onnx {onnx.__version__}): the {n_bad} in-scope cases of {len(in_scope)} that "
                f"fail or are not claimed, grouped by cause ({len(groups)} groups).\n"
                f"not_claimed = refused by the importer / runtime; fail = claimed but wrong or crashed.\n"
                f"An op named in a message is the node at fault: for *_expanded cases, an op of the function body.\n"
                f"Regenerate: PYTHONSAFEPATH=1 python3 tests/python/onnx_node.py --scan --failures {path}\n\n")
        f.write("Top 30 groups\n")
        for (st, key), cs in ranked[:30]:
            ops = collections.Counter(op_of(c) for c in cs)
            f.write(f"{len(cs):5d}  [{st}] {key}\n")
            f.write(f"       cases by op: {', '.join(f'{o} ({n})' for o, n in ops.most_common(10))}"
                    f"{' ...' if len(ops) > 10 else ''}\n")
            f.write(f"       e.g. {', '.join(c.name for c in cs[:4])}\n")
        rest = ranked[30:]
        if rest:
            f.write(f"  ... {len(rest)} smaller groups, {sum(len(cs) for _, cs in rest)} cases\n")
        f.write("\nBy coarse cause (the op left out)\n")
        for (st, key), n in coarse.most_common():
            f.write(f"{n:5d}  [{st}] {key}\n")
        by_op = collections.Counter(op_of(c) for cs in groups.values() for c in cs)
        f.write("\nBy the case's op (top 40; expanded:X = the function-expanded form of X)\n")
        for o, n in by_op.most_common(40):
            f.write(f"{n:5d}  {o}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scan", action="store_true", help="run every in-scope case")
    ap.add_argument("--write", action="store_true", help="add the newly passing cases to onnx_node_pass.txt")
    ap.add_argument("--failures", metavar="PATH", help="write the failure groups (top 30) to PATH")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case that does not pass")
    a = ap.parse_args(argv)
    if not a.scan:
        ap.print_help()
        return 2
    t0 = time.time()
    cases = collect()
    in_scope, excluded = split_scope(cases)
    t1 = time.time()
    res = scan(in_scope, progress=sys.stderr.isatty())
    t2 = time.time()
    passing = sorted(n for n, (st, _) in res.items() if st == "pass")
    listed = set(read_pass_list())
    fig = Figures(len(cases), len(excluded), len(in_scope), len(passing),
                  sum(st == "not_claimed" for st, _ in res.values()), sum(st == "fail" for st, _ in res.values()))
    print(fig)
    by_reason = collections.Counter(excluded.values())
    print("excluded by reason: " + ", ".join(f"{r} {n}" for r, n in by_reason.most_common()))
    print(f"collect {t1 - t0:.1f} s, run {t2 - t1:.1f} s")
    new = [n for n in passing if n not in listed]
    gone = sorted(listed - set(passing))
    print(f"newly passing (not in onnx_node_pass.txt): {len(new)}")
    for n in new:
        print("  +", n)
    if gone:
        print(f"REGRESSED (listed but not passing): {len(gone)}")
        for n in gone:
            st, why = res.get(n, ("excluded", excluded.get(n, "not a case")))
            print(f"  - {n}: {st}: {why}")
    if a.verbose:
        for n, (st, why) in sorted(res.items()):
            if st != "pass":
                print(f"{st:12s} {n}: {why}")
    if a.write:
        # the list only grows: a regressed case stays listed so that the test keeps failing until it is fixed
        keep = sorted(set(passing) | listed)
        with open(PASS_FILE, "w") as f:
            f.write(PASS_HEADER + "\n".join(keep) + "\n")
        print(f"wrote {PASS_FILE}: {len(keep)} cases")
    if a.failures:
        write_failures(a.failures, in_scope, res)
        print(f"wrote {a.failures}")
    return 1 if gone else 0


if __name__ == "__main__":
    sys.exit(main())
