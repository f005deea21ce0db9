"""CRC-32C (Castagnoli) in numpy: the checksum of every .pyrt section and buffer (SPEC §3.2).

A byte-at-a-time loop in Python would take minutes on a large model, so the data is cut into equal chunks
processed in lockstep (one numpy op per byte position across all chunks). CRC without the final XOR is linear
over GF(2), so the chunk states combine as state(A+B) = shift_len(B)(state(A)) ^ state_from_zero(B), where
shift_n is "feed n zero bytes", a linear map applied through four 256-entry tables.
"""
import functools

import numpy as np

_POLY = 0x82F63B78


def _make_table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


_TABLE = _make_table()


def _run(states, cols):
    """Feed the columns of `cols` (uint8 [nchunks, n]) into `states` (uint32 [nchunks])."""
    table = _TABLE
    for i in range(cols.shape[1]):
        states = table[(states ^ cols[:, i]) & 0xFF] ^ (states >> 8)
    return states


def _shift_tables(n):
    """Four byte tables for the linear map 'feed n zero bytes into the CRC register'."""
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    images = _run(basis, np.zeros((32, n), dtype=np.uint8))
    tables = np.zeros((4, 256), dtype=np.uint32)
    byte = np.arange(256)
    for k in range(4):
        acc = np.zeros(256, dtype=np.uint32)
        for bit in range(8):
            acc ^= np.where((byte >> bit) & 1, images[8 * k + bit], 0).astype(np.uint32)
        tables[k] = acc
    return tables


def _shift(tables, s):
    return int(tables[0][s & 0xFF] ^ tables[1][(s >> 8) & 0xFF] ^ tables[2][(s >> 16) & 0xFF]
               ^ tables[3][s >> 24])


def crc32c(data) -> int:
    """CRC-32C of a bytes-like object or numpy array (its raw bytes)."""
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    n = buf.size
    state = 0xFFFFFFFF
    if n == 0:
        return 0
    if n < 4096:
        return int(_run(np.array([state], dtype=np.uint32), buf.reshape(1, n))[0]) ^ 0xFFFFFFFF
    chunk = max(256, int(np.sqrt(n)) & ~63)
    m = n // chunk
    body = buf[: m * chunk].reshape(m, chunk)
    init = np.zeros(m, dtype=np.uint32)
    init[0] = state
    states = _run(init, body)
    tables = _shift_tables(chunk)
    acc = int(states[0])
    for s in states[1:]:
        acc = _shift(tables, acc) ^ int(s)
    tail = buf[m * chunk:]
    if tail.size:
        acc = int(_run(np.array([acc], dtype=np.uint32), tail.reshape(1, -1))[0])
    return acc ^ 0xFFFFFFFF


@functools.lru_cache(maxsize=1)
def _byte_operator():
    """'Feed one zero byte into the CRC register' as a GF(2) matrix: the images of the 32 basis states."""
    basis = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    return tuple(int(v) for v in _run(basis, np.zeros((32, 1), dtype=np.uint8)))


def _apply(op, v: int) -> int:
    out, i = 0, 0
    while v:
        if v & 1:
            out ^= op[i]
        v >>= 1
        i += 1
    return out


def crc32c_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC-32C of A followed by B from the CRCs of A and B and the length of B (zlib's crc32_combine): A's CRC
    moved past len_b zero bytes (the operator squared log2(len_b) times), xor B's. Lets a writer checksum a
    section it streams to disk without holding it."""
    op, v, n = list(_byte_operator()), int(crc_a), int(len_b)
    while n:
        if n & 1:
            v = _apply(op, v)
        op = [_apply(op, c) for c in op]
        n >>= 1
    return v ^ int(crc_b)
