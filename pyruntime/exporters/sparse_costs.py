"""Written by bench/sparse.py (do not edit by hand): for each layer kind, the sparsity from which its csr
kernel runs at least as fast as the dense layer on 1 and 2 threads (1.0: never), measured 2026-11-22 on
AMD EPYC, 2 cores, pyruntime ISA `avx512`. sparse="auto" at export stores a weight csr from there.

Kinds: conv1x1 / convkxk (f32 Conv, channels first), linear (f32 Gemm, batch <= 16), qconv / qlinear (static
int8 QLinearConv / QGemm)."""
MIN_SPARSITY = {
    'conv1x1': 0.7,
    'qconv': 0.7,
    'linear': 0.7,
    'qlinear': 0.7,
    'convkxk': 0.7,
}
