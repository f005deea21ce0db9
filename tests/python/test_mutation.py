"""Randomized mutation of valid files: thousands of bit flips, byte overwrites and truncations, some with the
CRCs recomputed so that the mutation reaches the structural checks behind them. Every mutant either loads and
decodes or raises FormatError; the C++ reader never crashes (the same loop runs natively under ASan/UBSan)."""
import os

import numpy as np
from conftest import GOLDEN
from malformed import refix

from pyruntime import FormatError, _core
from pyruntime.format import Reader

N_NATIVE = int(os.environ.get("PYRT_MUTATIONS", "3000"))


def mutants(blob: bytes, n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        b = bytearray(blob)
        kind = rng.integers(0, 5)
        if kind == 0:
            b = b[: rng.integers(0, len(b))]
        else:
            for _ in range(rng.integers(1, 5)):
                # mostly in the metadata at the front, where the structure is
                pos = rng.integers(0, min(len(b), 1024)) if rng.random() < 0.7 else rng.integers(0, len(b))
                if kind == 4:
                    b[pos] = rng.choice([0, 1, 0x7F, 0x80, 0xFF])
                else:
                    b[pos] ^= 1 << rng.integers(0, 8)
            if kind >= 2 and len(b) >= 64:
                b = bytearray(refix(bytes(b), data_too=rng.random() < 0.5))
        yield bytes(b)


def exercise_native(blob):
    m = _core.Model.from_buffer(blob, "lazy")
    for t in m.info()["tensors"]:
        m.decode(t["name"])
    m.graph()


def exercise_pure(blob):
    r = Reader(blob, "lazy")
    for t in r.tensors:
        r.decode(t.name)


def _files():
    return [open(os.path.join(GOLDEN, f), "rb").read() for f in sorted(os.listdir(GOLDEN)) if f.endswith(".pyrt")]


def test_native_mutations_never_crash():
    total = rejected = 0
    for i, blob in enumerate(_files()):
        for m in mutants(blob, N_NATIVE // len(_files()) + 1, seed=i):
            try:
                exercise_native(m)
            except FormatError:
                rejected += 1
            total += 1
    assert total >= 3000 or N_NATIVE < 3000
    assert 0 < rejected < total          # some mutants survive (e.g. flips in padding), most are caught


def test_pure_reader_mutations():
    """The pure reader raises only FormatError too (never IndexError, struct.error, ...)."""
    for i, blob in enumerate(_files()):
        for m in mutants(blob, 150, seed=100 + i):
            try:
                exercise_pure(m)
            except FormatError:
                pass


def test_readers_agree_on_mutants():
    """Where one reader accepts a mutant, the other accepts it and decodes the same values."""
    for i, blob in enumerate(_files()):
        for m in mutants(blob, 100, seed=200 + i):
            results = []
            for fn in (lambda: _core.Model.from_buffer(m, "full"), lambda: Reader(m, "full")):
                try:
                    fn()
                    results.append(True)
                except FormatError:
                    results.append(False)
            assert results[0] == results[1]
            if results[0]:
                a, b = _core.Model.from_buffer(m), Reader(m)
                for t in b.tensors:
                    np.testing.assert_array_equal(a.decode(t.name), b.decode(t.name))
