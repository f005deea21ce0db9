"""Property-based (Hypothesis) round trips of the writer and both readers: any tensor set the writer accepts -
shapes with zero and one dimensions, every dtype, every encoding with its options, names and metadata - reads
back the same from the C++ reader and the pure-Python one (bit for bit between them, exact where the encoding
is exact); and whatever bytes a file is cut or flipped into, the readers answer with FormatError, never another
exception."""
import os

import numpy as np
from conftest import open_both
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyruntime import FormatError, _core
from pyruntime.format import Reader, Writer

# 150 examples per test in the suite; PYRT_HYPOTHESIS_EXAMPLES for a long fuzzing run
SETTINGS = settings(max_examples=int(os.environ.get("PYRT_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
shapes = st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple)
names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=20)


@st.composite
def tensors(draw):
    """(encoding, array, options, exact)."""
    shape = draw(shapes)
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["dense", "f16", "i8", "i4", "csr", "lut"]))
    if kind == "dense":
        dt = draw(st.sampled_from([np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_]))
        a = (rng.standard_normal(shape) * 50).astype(dt) if dt != np.bool_ else rng.random(shape) > 0.5
        return "dense", a, {}, True
    a = np.asarray(rng.standard_normal(shape) * draw(st.sampled_from([1e-3, 1.0, 1e3])), np.float32)
    if kind in ("i4", "csr", "lut") and not shape:
        shape, a = (1,), a.reshape(1)                                # these encodings are for rank >= 1
    if kind == "f16":
        return "f16", a, {}, False
    if kind == "i8":
        axis = draw(st.sampled_from([None] + list(range(len(shape)))))
        return "i8", a, dict(axis=axis, zero_point=draw(st.booleans())), False
    if kind == "i4":
        return "i4", a, dict(group_size=draw(st.sampled_from([16, 32, 64])), signed=draw(st.booleans()),
                             scale_dtype=draw(st.sampled_from(["f16", "f32"]))), False
    if kind == "csr":
        a[rng.random(shape) >= draw(st.floats(0, 1))] = 0
        block = draw(st.sampled_from([(1, 1), (1, 4), (4, 1), (2, 8)]))
        return "csr", a, dict(block=block), True
    return "lut", a, dict(k=draw(st.sampled_from([2, 16, 256])), axis=draw(st.sampled_from([None, 0]))), False


@SETTINGS
@given(st.lists(tensors(), min_size=1, max_size=4), st.lists(names, min_size=4, max_size=4, unique=True), names)
def test_writer_readers_round_trip(items, tnames, model_name):
    w = Writer(model_name=model_name)
    w.set_prop("note", model_name)
    for (enc, a, opt, _), name in zip(items, tnames):
        w.add_tensor(name, a, enc, **opt)
    blob = w.to_bytes()
    native, pure = open_both(blob)
    assert pure.meta["model_name"] == model_name and pure.meta["props"]["note"] == model_name
    for (enc, a, opt, exact), name in zip(items, tnames):
        x, y = native.decode(name), pure.decode(name)
        assert x.shape == y.shape == a.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)                          # the two readers agree bit for bit
        if exact:
            np.testing.assert_array_equal(x, a)
        elif enc == "lut" and a.size:                                  # at most k shared values (per row)
            rows = x.reshape(1, -1) if opt["axis"] is None else x.reshape(len(x), -1)
            assert all(len(np.unique(r)) <= opt["k"] for r in rows)
            assert np.all(np.isfinite(x)) and np.max(np.abs(x - a)) <= np.ptp(a) + 1e-6
        elif a.size:                                                    # f16, i8, i4: within a step or so
            assert np.all(np.isfinite(x)) and np.max(np.abs(x - a)) <= np.max(np.abs(a)) * 0.6 + 1e-6


@SETTINGS
@given(tensors(), st.data())
def test_damaged_files_raise_format_error(item, data):
    enc, a, opt, _ = item
    w = Writer()
    w.add_tensor("t", a, enc, **opt)
    blob = bytearray(w.to_bytes())
    if data.draw(st.booleans()):
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 6))):
            pos = data.draw(st.integers(0, len(blob) - 1))
            blob[pos] = data.draw(st.integers(0, 255))
    blob = bytes(blob)
    for open_ in (lambda b: Reader(b, verify="full"), lambda b: _core.Model.from_buffer(b, "full")):
        try:
            m = open_(blob)
            m.decode("t")
        except FormatError:
            pass
