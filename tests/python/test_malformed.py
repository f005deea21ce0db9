"""Every malformed file gives FormatError with a message naming the problem, from both readers, in lazy and
full verification; nothing crashes. With PYRT_MALFORMED_DIR set, the corpus is also written there for the
native sanitizer run (tests/native)."""
import os
import re

import numpy as np
import pytest
from malformed import base_writer, cases

import pyruntime
from pyruntime import FormatError, _core
from pyruntime.format import Reader

CASES = cases()


def test_enough_cases():
    assert len(CASES) >= 25


def test_base_file_is_valid():
    blob = base_writer().to_bytes()
    Reader(blob, "full")
    _core.Model.from_buffer(blob, "full")


def _native_lazy_then_use(blob):
    m = _core.Model.from_buffer(blob, "lazy")
    for t in m.info()["tensors"]:
        m.decode(t["name"])


def _pure_lazy_then_use(blob):
    r = Reader(blob, "lazy")
    for t in r.tensors:
        r.decode(t.name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed(name):
    blob, pattern = CASES[name]
    for label, fn in [("native full", lambda: _core.Model.from_buffer(blob, "full")),
                      ("native lazy", lambda: _native_lazy_then_use(blob)),
                      ("pure full", lambda: Reader(blob, "full")),
                      ("pure lazy", lambda: _pure_lazy_then_use(blob))]:
        with pytest.raises(FormatError) as e:
            fn()
        assert re.search(pattern, str(e.value)), f"{label}: {e.value!r} does not match {pattern!r}"


def test_write_corpus_for_native(tmp_path):
    out = os.environ.get("PYRT_MALFORMED_DIR")
    if not out:
        out = str(tmp_path)
    os.makedirs(out, exist_ok=True)
    for name, (blob, _) in CASES.items():
        with open(os.path.join(out, f"{name}.pyrt"), "wb") as f:
            f.write(blob)
    assert len(os.listdir(out)) >= len(CASES)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        pyruntime.load(tmp_path / "missing.pyrt")
    with pytest.raises(OSError):
        pyruntime.load(tmp_path)                           # a directory
    p = tmp_path / "text.pyrt"
    p.write_text("hello, I am not a model " * 10)
    with pytest.raises(FormatError, match="bad magic"):
        pyruntime.load(p)
    (tmp_path / "empty.pyrt").write_bytes(b"")
    with pytest.raises(FormatError, match="too short"):
        pyruntime.load(tmp_path / "empty.pyrt")
    with pytest.raises(FormatError, match="too short"):
        pyruntime.load(tmp_path / "empty.pyrt", backend="python")


def test_lazy_open_defers_data_errors(tmp_path):
    """A corrupted weight does not stop the model from opening lazily, but its first use fails."""
    blob, _ = CASES["data_crc_mismatch"]
    p = tmp_path / "m.pyrt"
    p.write_bytes(blob)
    m = pyruntime.load(p)
    bad = [t.name for t in m.tensors if _raises(lambda: m.tensor(t.name))]
    assert bad, "some tensor must fail its CRC"
    with pytest.raises(FormatError, match="CRC32C mismatch"):
        m.verify()
    with pytest.raises(FormatError, match="CRC32C mismatch"):
        m.view(bad[0])
    with pytest.raises(FormatError):
        pyruntime.load(p, verify="full")


def _raises(fn):
    try:
        fn()
    except FormatError:
        return True
    return False


def test_errors_are_value_errors():
    assert issubclass(FormatError, ValueError)
    assert np is not None
