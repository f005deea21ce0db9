"""Gradual magnitude pruning during training (Zhu & Gupta, "To prune, or not to prune", 2017): the target
sparsity follows s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))^3 from step t0 to t1, masks are
recomputed every `frequency` steps in that window, and pruned weights are held at zero in between (the mask is
re-applied after every optimizer step), so fine-tuning recovers accuracy around the zeros.

    pruner = GradualPruner(model, final_sparsity=0.9, begin_step=0, end_step=1000)
    for step, (x, y) in enumerate(batches):
        loss(model(x), y).backward(); opt.step(); opt.zero_grad()
        pruner.step()
    pyruntime.export(model, example, "m.pyrt")      # sparse="auto" stores the pruned layers csr

or in one call, finetune_pruned(model, batches, loss_fn, 0.9, epochs=12, end_epoch=6, schedule="cosine"): the
schedule over the first 6 epochs, then 6 at the final masks with the lr decaying to zero. fit is the training
loop (Adam, an optional lr schedule) that it and compress.distill share. torch is imported by these functions
only.
"""
from __future__ import annotations

import numpy as np

from .prune import magnitude_mask, nm_mask


def polynomial_sparsity(step: int, initial: float, final: float, begin: int, end: int, power: float = 3.0) -> float:
    """The schedule's target at `step` (initial before `begin`, final after `end`)."""
    if step <= begin:
        return initial
    if step >= end:
        return final
    frac = (step - begin) / float(end - begin)
    return final + (initial - final) * (1.0 - frac) ** power


def prunable(model) -> list:
    """(name, module) of the Conv2d (group 1) and Linear layers: the ones the runtime has sparse kernels or
    dense GEMMs for. Depthwise convolutions and a stem on at most 3 input channels (few weights, each one
    carrying much) are left alone."""
    import torch
    out = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) or (isinstance(m, torch.nn.Conv2d) and m.groups == 1 and m.in_channels > 3):
            out.append((name, m))
    return out


class GradualPruner:
    def __init__(self, model, final_sparsity: float, begin_step: int, end_step: int, initial_sparsity: float = 0.0,
                 frequency: int = 100, structure: str = "unstructured", layers=None, scope: str = "layer"):
        if not 0 <= initial_sparsity <= final_sparsity < 1:
            raise ValueError("need 0 <= initial_sparsity <= final_sparsity < 1")
        if end_step <= begin_step or frequency < 1:
            raise ValueError("need end_step > begin_step and frequency >= 1")
        if scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
        self.final, self.initial = final_sparsity, initial_sparsity
        self.begin, self.end, self.frequency, self.structure = begin_step, end_step, frequency, structure
        self.scope = scope
        self.layers = layers if layers is not None else [m for _, m in prunable(model)]
        self.masks = [None] * len(self.layers)
        self.t = 0
        self.sparsity = 0.0

    def update_masks(self, sparsity: float):
        import torch
        ws = [m.weight.detach().cpu().numpy() for m in self.layers]
        if self.structure != "unstructured":
            n, mm = (int(v) for v in self.structure.split(":"))
            keeps = [nm_mask(w, n, mm) for w in ws]
        elif self.scope == "global":   # one magnitude threshold over all the layers' weights
            flat = magnitude_mask(np.concatenate([w.reshape(-1) for w in ws]), sparsity)
            keeps = [k.reshape(w.shape) for k, w in zip(np.split(flat, np.cumsum([w.size for w in ws])[:-1]), ws)]
        else:
            keeps = [magnitude_mask(w, sparsity) for w in ws]
        self.masks = [torch.from_numpy(k).to(m.weight.device) for k, m in zip(keeps, self.layers)]
        self.sparsity = sparsity

    def apply(self):
        import torch
        with torch.no_grad():
            for m, mask in zip(self.layers, self.masks):
                if mask is not None:
                    m.weight.mul_(mask)

    def step(self):
        """Call after each optimizer step: recompute masks on schedule points, then hold the zeros."""
        t = self.t
        in_window = self.begin <= t <= self.end and ((t - self.begin) % self.frequency == 0 or t == self.end)
        if in_window or (t > self.end and self.masks[0] is None):
            self.update_masks(polynomial_sparsity(t, self.initial, self.final, self.begin, self.end))
        self.apply()
        self.t += 1

    def achieved(self) -> float:
        """The fraction of zeros over the pruned layers' weights."""
        z = n = 0
        for m in self.layers:
            w = m.weight.detach()
            z += int((w == 0).sum())
            n += w.numel()
        return z / max(n, 1)


def cosine(hold: float = 0.0):
    """An lr schedule for fit: the full lr for the first `hold` fraction of the run, then a half cosine to zero."""
    import math

    def factor(f: float) -> float:
        return 1.0 if f < hold else 0.5 * (1.0 + math.cos(math.pi * (f - hold) / max(1.0 - hold, 1e-12)))
    return factor


def fit(model, batches, loss_fn, epochs: int, lr: float = 1e-3, schedule=None, after_step=None):
    """The training loop of finetune_pruned and distill: Adam over `epochs` passes of a re-iterable of (x, y)
    (iterated once per epoch, so a fresh shuffle or augmentation per pass is fine), minimising
    loss_fn(model(x), x, y). schedule: None (constant lr), "cosine" (cosine() from the start) or a function of the
    fraction of the run done, in [0, 1), giving the lr's factor; applied every batch. after_step() runs after
    every optimizer step. The model trains in train mode throughout, so BatchNorm statistics follow the weights
    to the end; it is returned in eval mode."""
    import torch
    if schedule == "cosine":
        schedule = cosine()
    elif schedule is not None and not callable(schedule):
        raise ValueError(f"schedule must be None, 'cosine' or a callable, got {schedule!r}")
    total = max(1, epochs * _count(batches))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: schedule(t / total)) if schedule else None
    model.train()
    for _ in range(epochs):
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), x, y).backward()
            opt.step()
            if sched is not None:
                sched.step()
            if after_step is not None:
                after_step()
    return model.eval()


def _count(batches) -> int:
    try:
        return len(batches)
    except TypeError:
        return sum(1 for _ in batches)


def finetune_pruned(model, batches, loss_fn, final_sparsity: float, epochs: int = 10, lr: float = 1e-3,
                    begin_epoch: int = 0, end_epoch: int | None = None, structure: str = "unstructured",
                    frequency: int | None = None, schedule=None, scope: str = "layer"):
    """Fine-tunes `model` (fit: Adam) while pruning it gradually to `final_sparsity` between begin_epoch and
    end_epoch (default: 3/4 of the epochs), the rest of the epochs at the final masks. batches: a re-iterable
    of (x, y); loss_fn(output, y). schedule: None (constant lr), "cosine" (the lr held while pruning, then a
    half cosine to zero over the epochs at the final masks) or a callable as in fit. scope: "layer" (every
    layer to final_sparsity) or "global" (one magnitude threshold over all the pruned layers, which then end
    at different sparsities: those with larger weights, typically the small fan-ins, keep more). Returns the
    pruner (its masks stay applied)."""
    steps_per_epoch = max(1, _count(batches))
    end_epoch = end_epoch if end_epoch is not None else max(begin_epoch + 1, (3 * epochs) // 4)
    pruner = GradualPruner(model, final_sparsity, begin_epoch * steps_per_epoch, end_epoch * steps_per_epoch,
                           structure=structure, frequency=frequency or max(1, steps_per_epoch // 2), scope=scope)
    if schedule == "cosine":
        schedule = cosine(min(1.0, end_epoch / max(epochs, 1)))
    fit(model, batches, lambda out, x, y: loss_fn(out, y), epochs, lr, schedule, pruner.step)
    return pruner
