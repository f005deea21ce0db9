"""One-shot magnitude pruning of weight matrices: unstructured (per layer or one global threshold), N:M
(in every N-of-M group along the input axis keep the N largest magnitudes; 2:4 is what sparse tensor cores
and 2:4 kernels expect) and channel (whole output filters with the smallest L2 norm; the exporter then removes
them, exporters/channel_prune.py).

Rows are output channels; the input axis is everything else flattened (a conv weight [O, I, kh, kw] groups
along I*kh*kw, contiguous in memory)."""
from __future__ import annotations

import numpy as np


def magnitude_mask(w: np.ndarray, sparsity: float, threshold: float | None = None) -> np.ndarray:
    """True where the weight is kept: all but the `sparsity` fraction of smallest magnitudes (ties at the
    threshold pruned too), or |w| > threshold when one is given (global pruning)."""
    a = np.abs(w)
    if threshold is None:
        if sparsity <= 0:
            return np.ones(w.shape, bool)
        k = int(round(sparsity * a.size))
        if k <= 0:
            return np.ones(w.shape, bool)
        threshold = np.partition(a.reshape(-1), k - 1)[k - 1]
    return a > threshold


def nm_mask(w: np.ndarray, n: int = 2, m: int = 4) -> np.ndarray:
    """Keep the n largest magnitudes in each group of m consecutive weights along the input axis (a row
    length that is not a multiple of m: the last short group keeps its n largest too)."""
    rows = w.reshape(w.shape[0], -1)
    cols = rows.shape[1]
    pad = (-cols) % m
    # the padding ranks below every weight (-1 after the magnitudes: padded before them it ranked as 1)
    a = np.pad(np.abs(rows), ((0, 0), (0, pad)), constant_values=-1.0).reshape(rows.shape[0], -1, m)
    order = np.argsort(-a, axis=2, kind="stable")
    keep = np.zeros(a.shape, bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(rows.shape[0], -1)[:, :cols].reshape(w.shape)


def channel_masks(weights: dict, sparsity: float, scope: str = "layer") -> dict:
    """name -> bool per output filter (row), True where kept. scope "layer": each weight loses its
    round(sparsity * rows) filters of smallest L2 norm; "global": one threshold over all filters' norms, each
    divided by its layer's mean filter norm (layers differ in fan-in and scale, so raw norms would empty the
    layers with small weights first). Every weight keeps at least one filter."""
    norms = {k: np.linalg.norm(np.asarray(w, np.float64).reshape(len(w), -1), axis=1) for k, w in weights.items()}
    if scope == "global":
        rel = {k: v / max(v.mean(), 1e-30) for k, v in norms.items()}
        allr = np.sort(np.concatenate(list(rel.values()))) if rel else np.zeros(0)
        k = int(round(sparsity * allr.size))
        thr = allr[k - 1] if k > 0 else -1.0
        masks = {n: v > thr for n, v in rel.items()}
        for n, m in masks.items():
            if not m.any():   # ties at the threshold: keep the layer's largest filter
                m[np.argmax(norms[n])] = True
        return masks
    if scope != "layer":
        raise ValueError(f"prune_scope must be 'layer' or 'global', got {scope!r}")
    masks = {}
    for n, v in norms.items():
        m = np.ones(len(v), bool)
        m[np.argsort(v, kind="stable")[:min(int(round(sparsity * len(v))), len(v) - 1)]] = False
        masks[n] = m
    return masks


def prune_weights(weights: dict, sparsity: float, structure: str = "unstructured", scope: str = "layer") -> dict:
    """name -> pruned copy. structure "unstructured" (scope "layer": each weight to `sparsity`; "global": one
    magnitude threshold over all of them, so layers end up at different sparsities), "N:M" (e.g. "2:4";
    `sparsity` is then implied, n/m kept) or "channel" (the `sparsity` fraction of output filters zeroed, as
    channel_masks picks them; biases are not weights here and stay)."""
    if structure == "unstructured":
        if not 0 <= sparsity < 1:
            raise ValueError(f"prune sparsity must be in [0, 1), got {sparsity}")
        thr = None
        if scope == "global":
            allw = np.concatenate([np.abs(w).reshape(-1) for w in weights.values()]) if weights else np.zeros(0)
            k = int(round(sparsity * allw.size))
            thr = np.partition(allw, k - 1)[k - 1] if k > 0 else -1.0
        elif scope != "layer":
            raise ValueError(f"prune_scope must be 'layer' or 'global', got {scope!r}")
        return {k: np.where(magnitude_mask(w, sparsity, thr), w, 0).astype(w.dtype) for k, w in weights.items()}
    if structure == "channel":
        masks = channel_masks(weights, sparsity, scope)
        return {k: np.where(masks[k].reshape(-1, *[1] * (w.ndim - 1)), w, 0).astype(w.dtype)
                for k, w in weights.items()}
    parts = structure.split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts) and 0 < int(parts[0]) < int(parts[1]) <= 16:
        n, m = int(parts[0]), int(parts[1])
        return {k: np.where(nm_mask(w, n, m), w, 0).astype(w.dtype) for k, w in weights.items()}
    raise ValueError(f"prune_structure must be 'unstructured', 'N:M' (e.g. '2:4') or 'channel', got {structure!r}")
