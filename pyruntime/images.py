"""Image grids as PNG files, for looking at what a generative model produced. numpy + the standard library only
(zlib, struct): no PIL, so `import pyruntime` stays light.

    pyruntime.save_png_grid(samples, "samples.png", value_range=(-1, 1))
"""
from __future__ import annotations

import math
import os
import struct
import zlib

import numpy as np

__all__ = ["save_png_grid"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _encode_png(pixels: np.ndarray) -> bytes:
    """pixels: uint8 [H, W] (grey) or [H, W, 3] (RGB) -> PNG bytes (8 bits per sample, filter 0 on every row)."""
    h, w = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    rows = np.ascontiguousarray(pixels).reshape(h, -1)
    raw = np.zeros((h, rows.shape[1] + 1), np.uint8)   # a 0 filter byte before each row
    raw[:, 1:] = rows
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
            + _chunk(b"IEND", b""))


def save_png_grid(images, path, nrow: int | None = None, padding: int = 2, value_range=None) -> str:
    """Writes images [N, C, H, W] (C = 1 or 3) or [N, H, W] as one PNG, tiled nrow per row (default
    ceil(sqrt(N))) with `padding` black pixels between and around the tiles. Values are mapped linearly from
    value_range (lo, hi) (default: the array's min..max; e.g. (-1, 1) for a tanh generator) to 0..255, values
    outside it clipped. C = 1 and [N, H, W] give an 8-bit grey PNG, C = 3 an 8-bit RGB one. Returns `path`."""
    a = np.asarray(images)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise ValueError(f"save_png_grid: images must be a numeric array, got dtype {a.dtype}")
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim != 4:
        raise ValueError(f"save_png_grid: images must have rank 3 [N, H, W] or 4 [N, C, H, W], got shape "
                         f"{tuple(a.shape)} (rank {a.ndim})")
    n, c, h, w = a.shape
    if c not in (1, 3):
        raise ValueError(f"save_png_grid: images must have 1 (grey) or 3 (RGB) channels, got {c} "
                         f"(shape {tuple(a.shape)}, read as [N, C, H, W])")
    if n == 0 or h == 0 or w == 0:
        raise ValueError(f"save_png_grid: no pixels to write (shape {tuple(a.shape)})")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"save_png_grid: images contain {bad} non-finite value(s) (NaN or inf)")
    if value_range is None:
        lo, hi = float(a.min()), float(a.max())
    else:
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"save_png_grid: value_range must be a pair (lo, hi), got {value_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
            raise ValueError(f"save_png_grid: value_range must be finite with lo <= hi, got {value_range!r}")
    if nrow is None:
        nrow = int(math.ceil(math.sqrt(n)))
    if int(nrow) != nrow or nrow < 1:
        raise ValueError(f"save_png_grid: nrow must be a positive integer, got {nrow!r}")
    if int(padding) != padding or padding < 0:
        raise ValueError(f"save_png_grid: padding must be a non-negative integer, got {padding!r}")
    nrow, padding = int(nrow), int(padding)
    scaled = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)   # a constant image maps to 0
    pix = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)

    cols = min(nrow, n)
    rows = int(math.ceil(n / nrow))
    gh, gw = rows * h + (rows + 1) * padding, cols * w + (cols + 1) * padding
    grid = np.zeros((gh, gw, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = pix[i].transpose(1, 2, 0)
    data = _encode_png(grid[:, :, 0] if c == 1 else grid)
    with open(os.fspath(path), "wb") as f:
        f.write(data)
    return path
