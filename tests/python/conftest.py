import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "formats", "golden")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def open_both(blob: bytes, verify="full"):
    """The same bytes through the C++ reader and the pure-Python reader."""
    from pyruntime import _core
    from pyruntime.format import Reader
    return _core.Model.from_buffer(blob, verify), Reader(blob, verify)


def bench_script(name: str):
    """bench/<name>.py as a module (its main guard: importing runs nothing), for tests that call its main()."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "bench", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def decode_both(blob: bytes, name: str):
    native, pure = open_both(blob)
    return native.decode(name), pure.decode(name)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# Pass figures of the ONNX backend suites ({title: line}), printed at the end of the run so they show in the test
# output without -s and whichever test of a module ran last.
_FIGURES: dict = {}


@pytest.fixture
def figures():
    return _FIGURES


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES.values():
            terminalreporter.write_line(line)
