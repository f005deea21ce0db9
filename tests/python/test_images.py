"""pyruntime.save_png_grid: the PNG it writes, decoded by a small independent zlib reader (and by PIL where it is
installed), holds the expected tiling, for grey and RGB; wrong inputs raise ValueError naming the problem."""
import math
import struct
import zlib

import numpy as np
import pytest

import pyruntime
from pyruntime import save_png_grid


def read_png(path) -> np.ndarray:
    """A minimal decoder for what save_png_grid writes: 8-bit grey/RGB, not interlaced, any filter type."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, hdr, kinds = 8, b"", None, []
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        kinds.append(kind)
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (0, 2) and interlace == 0
    ch = 1 if ctype == 0 else 3
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    out = np.zeros((h, w * ch), np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        prev = out[y - 1] if y else np.zeros(w * ch, np.int32)
        cur = np.zeros(w * ch, np.int32)
        for x in range(w * ch):
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2}.get(f)
            if f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
    out = out.astype(np.uint8)
    return out if ch == 1 else out.reshape(h, w, 3)


def expected_grid(pix: np.ndarray, nrow: int, padding: int) -> np.ndarray:
    """pix: uint8 [N, C, H, W] -> the tiled image, built tile by tile (zeros in the padding)."""
    n, c, h, w = pix.shape
    rows, cols = math.ceil(n / nrow), min(nrow, n)
    g = np.zeros((rows * (h + padding) + padding, cols * (w + padding) + padding, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        g[padding + r * (h + padding):][:h, padding + k * (w + padding):][:, :w] = pix[i].transpose(1, 2, 0)
    return g[..., 0] if c == 1 else g


def test_grey_tiling_default_range(tmp_path, rng):
    x = rng.standard_normal((7, 1, 5, 4)).astype(np.float32)
    path = str(tmp_path / "g.png")
    assert save_png_grid(x, path) == path
    got = read_png(path)
    pix = np.rint((x.astype(np.float64) - x.min()) / (x.max() - x.min()) * 255).astype(np.uint8)
    want = expected_grid(pix, 3, 2)      # ceil(sqrt(7)) = 3 per row, 3 rows
    assert got.shape == (3 * 7 + 2, 3 * 6 + 2)
    np.testing.assert_array_equal(got, want)
    assert got.min() == 0 and got.max() == 255


def test_rank3_is_grey_and_value_range_clips(tmp_path):
    x = np.array([[[-1.0, 0.0], [1.0, 3.0]], [[-5.0, 0.5], [-0.5, 1.0]]])   # [N=2, H=2, W=2]
    path = tmp_path / "r.png"
    save_png_grid(x, path, nrow=1, padding=1, value_range=(-1, 1))
    got = read_png(path)
    tile0 = np.array([[0, 128], [255, 255]], np.uint8)    # 0 -> 127.5 -> rint 128; 3 clipped to 255
    tile1 = np.array([[0, 191], [64, 255]], np.uint8)     # 0.5 -> 191.25; -0.5 -> 63.75
    want = np.zeros((2 * 3 + 1, 4), np.uint8)
    want[1:3, 1:3], want[4:6, 1:3] = tile0, tile1
    np.testing.assert_array_equal(got, want)


def test_rgb_tiling(tmp_path, rng):
    pix = rng.integers(0, 256, (5, 3, 3, 6)).astype(np.uint8)
    path = str(tmp_path / "c.png")
    save_png_grid(pix, path, nrow=2, padding=0, value_range=(0, 255))
    got = read_png(path)
    assert got.shape == (9, 12, 3)
    np.testing.assert_array_equal(got, expected_grid(pix, 2, 0))


def test_pil_reads_it(tmp_path, rng):
    Image = pytest.importorskip("PIL.Image")
    x = rng.random((4, 3, 8, 8))
    path = str(tmp_path / "p.png")
    save_png_grid(x, path, value_range=(0, 1))
    im = Image.open(path)
    assert im.mode == "RGB" and im.size == (2 * 8 + 3 * 2, 2 * 8 + 3 * 2)
    np.testing.assert_array_equal(np.asarray(im), read_png(path))
    save_png_grid(x[:, :1], path, value_range=(0, 1))
    assert Image.open(path).mode == "L"


def test_constant_input(tmp_path):
    path = str(tmp_path / "k.png")
    save_png_grid(np.full((2, 1, 3, 3), 0.7), path, padding=0)
    np.testing.assert_array_equal(read_png(path), np.zeros((3, 6), np.uint8))


def test_exported_from_package():
    assert pyruntime.save_png_grid is save_png_grid and "save_png_grid" in pyruntime.__all__


@pytest.mark.parametrize("x, match", [
    (np.zeros((4, 4)), "rank"),
    (np.zeros((1, 1, 2, 2, 2)), "rank"),
    (np.zeros((2, 2, 4, 4)), "channels"),
    (np.zeros((2, 4, 4, 4)), "channels"),
    (np.zeros((0, 1, 4, 4)), "no pixels"),
    (np.zeros((2, 1, 0, 4)), "no pixels"),
    (np.array([[[0.0, np.nan]]]), "non-finite"),
    (np.array([[[0.0, np.inf]]]), "non-finite"),
    (np.array([[["a"]]]), "numeric"),
])
def test_errors(tmp_path, x, match):
    path = tmp_path / "e.png"
    with pytest.raises(ValueError, match=match):
        save_png_grid(x, path)
    assert not path.exists()


@pytest.mark.parametrize("kw, match", [
    (dict(nrow=0), "nrow"),
    (dict(padding=-1), "padding"),
    (dict(value_range=(1, 0)), "value_range"),
    (dict(value_range=(0, float("nan"))), "value_range"),
    (dict(value_range=3), "value_range"),
])
def test_bad_options(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        save_png_grid(np.zeros((2, 1, 2, 2)), tmp_path / "o.png", **kw)
