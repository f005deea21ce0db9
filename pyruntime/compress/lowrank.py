"""Low-rank factorization of Linear and 1x1 Conv2d layers by truncated SVD: W [out, in] ~ U_r S_r V_r^T becomes
two layers, in -> r (V_r^T, scaled by sqrt(S_r)) and r -> out (U_r sqrt(S_r), with the bias), which pays when
r (in + out) < in * out. The rank is the smallest keeping `energy` of the squared singular values, or the
largest within `ratio` of the layer's parameters. torch is imported here only."""
from __future__ import annotations

import numpy as np


def choose_rank(s: np.ndarray, energy: float | None = None, ratio: float | None = None, shape=None) -> int:
    """Rank from singular values s: by retained energy (sum of s^2), or by a parameter budget for a [out, in]
    layer (r (in + out) <= ratio * in * out)."""
    if energy is not None:
        c = np.cumsum(s.astype(np.float64) ** 2)
        return int(min(len(s), np.searchsorted(c, energy * c[-1] - 1e-12) + 1)) if c[-1] > 0 else 1
    if ratio is not None and shape is not None:
        out_f, in_f = shape
        return max(1, min(len(s), int(ratio * in_f * out_f / (in_f + out_f))))
    raise ValueError("give energy= or ratio=")


def factorize(layer, energy: float | None = None, ratio: float | None = None):
    """The two-layer replacement of a Linear or 1x1 Conv2d (group 1), or the layer itself when factorizing would
    not reduce its parameters."""
    import torch
    conv = isinstance(layer, torch.nn.Conv2d)
    if conv and (layer.kernel_size != (1, 1) or layer.groups != 1 or layer.stride != (1, 1) or layer.padding != (0, 0)):
        return layer
    w = layer.weight.detach().reshape(layer.weight.shape[0], -1).cpu().numpy().astype(np.float64)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    r = choose_rank(s, energy, ratio, w.shape)
    out_f, in_f = w.shape
    if r * (in_f + out_f) >= in_f * out_f:
        return layer
    a = (np.sqrt(s[:r])[:, None] * vt[:r]).astype(np.float32)     # [r, in]
    b = (u[:, :r] * np.sqrt(s[:r])[None, :]).astype(np.float32)    # [out, r]
    bias = layer.bias is not None
    if conv:
        first, second = torch.nn.Conv2d(in_f, r, 1, bias=False), torch.nn.Conv2d(r, out_f, 1, bias=bias)
        a, b = a[:, :, None, None], b[:, :, None, None]
    else:
        first, second = torch.nn.Linear(in_f, r, bias=False), torch.nn.Linear(r, out_f, bias=bias)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(a))
        second.weight.copy_(torch.from_numpy(b))
        if bias:
            second.bias.copy_(layer.bias.detach())
    return torch.nn.Sequential(first, second)


def lowrank(model, energy: float | None = None, ratio: float | None = None, min_params: int = 4096):
    """Replaces, in place, every Linear and 1x1 Conv2d with at least `min_params` weights by its factorization
    where that is smaller. Returns the model."""
    import torch
    for name, child in list(model.named_children()):
        if isinstance(child, (torch.nn.Linear, torch.nn.Conv2d)) and child.weight.numel() >= min_params:
            setattr(model, name, factorize(child, energy, ratio))
        else:
            lowrank(child, energy, ratio, min_params)
    return model
