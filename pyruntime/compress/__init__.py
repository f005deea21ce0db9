"""Compression tools on numpy weights (used by the exporter; the training-side tools join them here)."""
from .prune import magnitude_mask, nm_mask, prune_weights

__all__ = ["magnitude_mask", "nm_mask", "prune_weights"]
