"""The way in: importing next to a source checkout, version and `pyruntime info`, type stubs that are current,
Session as a context manager and across processes (pickled by path + options)."""
import concurrent.futures as cf
import json
import multiprocessing
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import pyruntime
from pyruntime import Graph, Session, _core

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.dirname(os.path.abspath(pyruntime.__file__))


def python(code: str, cwd: str):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}   # as a user runs it: the folder first
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env)


def test_import_inside_the_checkout_works_or_says_what_to_do():
    """`python -c "import pyruntime"` from the checkout's root imports the source folder. With an editable
    install that is the package and it works; with a plain `pip install .` the pure-Python parts (format reader and
    writer) work and the first native call fails with one sentence naming the two ways out, not a confusing error
    about `_core`."""
    r = python("import pyruntime; from pyruntime import _core; print(_core.isa())", ROOT)
    editable = PACKAGE == os.path.join(ROOT, "pyruntime") or \
        os.path.exists(os.path.join(os.path.dirname(PACKAGE), "_editable_skbc_pyruntime.py"))
    if editable:
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pyruntime was imported from the source checkout"), r.stderr
    assert "run Python from another folder" in last and "pip install -e ." in last
    golden = os.path.join(ROOT, "formats", "golden", "graph.pyrt")
    for code in (f"import pyruntime; pyruntime.Session({golden!r})", "import pyruntime; pyruntime.supported_ops()"):
        r = python(code, ROOT)
        assert r.stderr.strip().splitlines()[-1] == last, r.stderr
    r = python("import pyruntime, inspect; from pyruntime.format import Writer, Reader; inspect.getmodule(Writer); "
               f"print(len(Reader(open({golden!r}, 'rb').read()).tensors))", ROOT)
    assert r.returncode == 0, r.stderr
    # and from any other folder the installed package imports
    assert python("from pyruntime import _core; _core.isa()", "/").returncode == 0


def test_version_agrees_everywhere():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        project = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        cmake = re.search(r"project\(pyrt VERSION (\S+)", f.read()).group(1)
    assert pyruntime.__version__ == project == cmake == _core.__version__
    r = subprocess.run([sys.executable, "-m", "pyruntime", "--version"], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and r.stdout.strip() == f"pyruntime {project}"


def test_info_names_this_cpus_kernel_tables():
    r = subprocess.run([sys.executable, "-m", "pyruntime", "info", "--json"], capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["kernel_tables"] == list(_core.kernel_tables()) and d["kernel_table"] == _core.isa()
    assert d["c_abi"] == 1 and d["version"] == pyruntime.__version__
    assert set(d["cpu_features"]) == {k for k, v in _core.cpu_features().items() if v}
    assert d["python_abi"] and d["native_module"].endswith(d["python_abi"])
    text = subprocess.run([sys.executable, "-m", "pyruntime", "info"], capture_output=True, text=True,
                          cwd="/").stdout
    assert f"in use:        {_core.isa()}" in text and "kernel tables:" in text
    r = subprocess.run([sys.executable, "-m", "pyruntime", "info"], capture_output=True, text=True, cwd="/",
                       env={**os.environ, "PYRT_KERNELS": "ref"})
    assert "in use:        ref (PYRT_KERNELS=ref)" in r.stdout


def test_stubs_are_current_and_ship():
    pytest.importorskip("pybind11_stubgen")   # in the test extra
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import stubs
    with open(stubs.CHECKED_IN) as f:
        checked_in = f.read()
    assert stubs.generate() == checked_in, "pyruntime/_core.pyi is stale: python tests/python/stubs.py --write"
    # the installed package carries them (PEP 561)
    assert os.path.exists(os.path.join(PACKAGE, "py.typed")) and os.path.exists(os.path.join(PACKAGE, "_core.pyi"))
    for name in ("Model", "Session", "Sampler", "kernel_tables", "cpu_features", "supported_ops"):
        assert re.search(rf"^(class|def) {name}\b", checked_in, re.M), name


def small_model(path):
    rng = np.random.default_rng(3)
    g = Graph("small")
    x = g.input("x", [None, 16])
    w = rng.standard_normal((8, 16)).astype(np.float32)
    g.output(g.op("Gemm", x, g.const(w, "w", "i8", axis=0), transB=1, activation="relu"), "y")
    g.save(path)
    return path


def run_one(session, x):
    return session.run(x)[0]


def test_session_is_a_context_manager(tmp_path):
    p = small_model(tmp_path / "m.pyrt")
    x = np.ones((2, 16), np.float32)
    with Session(p) as s:
        want = s.run(x)[0]
    assert s.closed and "closed" in repr(s)
    with pytest.raises(ValueError, match="this Session is closed"):
        s.run(x)
    with pytest.raises(ValueError, match="this Session is closed"):
        s.describe()
    s.close()   # twice is fine
    with Session(p) as s2:
        np.testing.assert_array_equal(s2.run(x)[0], want)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_session_pickles_and_runs_in_a_process_pool(tmp_path, start):
    p = small_model(tmp_path / "m.pyrt")
    s = Session(p, num_threads=1, kernels="ref")
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.num_threads == 1 and s2.isa == "ref" and s2.input_names == s.input_names
    xs = [np.random.default_rng(i).standard_normal((3, 16)).astype(np.float32) for i in range(6)]
    want = [s.run(x)[0] for x in xs]
    ctx = multiprocessing.get_context(start)
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        got = list(pool.map(run_one, [s] * len(xs), xs))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # a session made from bytes pickles its bytes
    blob = open(p, "rb").read()
    sb = pickle.loads(pickle.dumps(Session(blob)))
    np.testing.assert_array_equal(sb.run(xs[0])[0], Session(p).run(xs[0])[0])


def test_readme_mode_table_comes_from_results():
    """The README's "which mode when" figures are bench/RESULTS.md's, as bench/readme_modes.py makes them."""
    from conftest import bench_script
    modes = bench_script("readme_modes")
    with open(os.path.join(ROOT, "README.md")) as f:
        block = modes.readme_block(f.read())
    with open(os.path.join(ROOT, "bench", "RESULTS.md")) as f:
        assert block == modes.table(f.read()), "README's mode table is stale: python3 bench/readme_modes.py --write"
    assert "Xeon" in block or "EPYC" in block or "Processor" in block   # the CPU is named


def test_a_model_factory_leaves_sys_path_as_it_was(tmp_path, monkeypatch):
    """`pyruntime export mymodule:make_model` (and bench --torch) import from the current folder; called in a
    process (a test run, a notebook), they must not leave that folder on sys.path: a worker started later by
    spawn would import a source checkout there instead of the installed package."""
    from pyruntime.benchmark import call_factory
    (tmp_path / "factory_mod_for_test.py").write_text("def make():\n    return 42\n")
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    assert call_factory("factory_mod_for_test:make") == 42
    assert sys.path == before
