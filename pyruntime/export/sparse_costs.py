"""Placeholder until bench/sparse.py writes this file."""
MIN_SPARSITY = {"conv1x1": 0.7, "linear": 0.75, "convkxk": 0.8, "qconv": 0.5, "qlinear": 0.5}
