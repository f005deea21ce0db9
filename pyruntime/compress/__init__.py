"""Compression tools. prune: one-shot magnitude masks on numpy weights (used by the exporter); gradual:
pruning during training; distill: knowledge distillation; lowrank: truncated-SVD factorization. The last three
import torch when called, never at import."""
from .distill import distill, distillation_loss
from .gradual import GradualPruner, finetune_pruned, polynomial_sparsity
from .lowrank import choose_rank, factorize, lowrank
from .prune import channel_masks, magnitude_mask, nm_mask, prune_weights

__all__ = ["magnitude_mask", "nm_mask", "channel_masks", "prune_weights", "GradualPruner", "finetune_pruned",
           "polynomial_sparsity", "distill", "distillation_loss", "lowrank", "factorize", "choose_rank"]
