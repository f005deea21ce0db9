"""Writes the golden .pyrt files, their expected decoded values and MANIFEST.txt.

Run from anywhere: `python formats/golden/make_golden.py [outdir]`. The output is deterministic (fixed seeds,
deterministic writer), and tests/python/test_golden.py checks that regenerating gives the same bytes.
Expected values are the decoded tensors as raw little-endian bytes of their logical dtype (f32 for quantized
and sparse encodings, except csr s8 values: i8); tests check them against the original arrays too.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":   # run as a script: the checkout's own (pure-Python) writer; imported, the installed one
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from pyruntime.format import TensorRef, Writer, encode_lut_codes  # noqa: E402
from pyruntime.format.encodings import i4  # noqa: E402
from pyruntime.format.reader import Reader  # noqa: E402


def sparse(rng, shape, density):
    a = rng.standard_normal(shape).astype(np.float32)
    a[rng.random(shape) >= density] = 0
    return a


def build():
    """name -> Writer, plus the source arrays (for tests)."""
    rng = np.random.default_rng(20261122)
    files = {}

    w = Writer(model_name="golden-dense", producer_version="golden")
    w.add_input("x", "f32", [-1, 3, 8, 8])
    w.add_output("y", "f32", [-1, 10])
    w.set_prop("license", "CC0")
    w.set_prop("epoch", 7)
    w.set_prop("accuracy", 0.875)
    w.set_prop("blob", b"\x00\x01\x02")
    w.add_tensor("conv.weight", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    w.add_tensor("scalar", np.float32(3.5))
    w.add_tensor("empty", np.zeros((0, 5), np.float32))
    w.add_tensor("half", rng.standard_normal((5, 7)).astype(np.float32), "f16")
    w.add_tensor("half_native", rng.standard_normal(9).astype(np.float16))
    w.add_tensor("idx64", np.array([0, -1, 2**40, -(2**62)], np.int64))
    w.add_tensor("idx32", np.arange(-3, 4, dtype=np.int32))
    w.add_tensor("bytes_i8", np.array([-128, 0, 127], np.int8))
    w.add_tensor("bytes_u8", np.array([0, 255, 7], np.uint8))
    w.add_tensor("mask", np.array([[True, False], [False, True]]))
    files["dense"] = w

    w = Writer(model_name="golden-i8", producer_version="golden")
    a = rng.standard_normal((6, 20)).astype(np.float32) * np.linspace(0.1, 3, 6, dtype=np.float32)[:, None]
    w.add_tensor("per_tensor", a, "i8")
    w.add_tensor("per_row", a, "i8", axis=0)
    w.add_tensor("per_col_zp", a + 1.5, "i8", axis=1, zero_point=True)
    w.add_tensor("conv_per_oc", rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "i8", axis=0)
    w.add_tensor("zero_channel", np.vstack([np.zeros((1, 4)), np.ones((1, 4))]).astype(np.float32), "i8", axis=0)
    w.add_tensor("one", np.array([0.25], np.float32), "i8")
    files["i8"] = w

    w = Writer(model_name="golden-i4", producer_version="golden")
    b = rng.standard_normal((5, 100)).astype(np.float32)
    w.add_tensor("g16_f16", b, "i4", group_size=16)
    w.add_tensor("g32_f32", b, "i4", group_size=32, scale_dtype="f32")
    w.add_tensor("g64_unsigned", b + 0.5, "i4", group_size=64, signed=False)
    w.add_tensor("conv_g16", rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "i4", group_size=16)
    w.add_tensor("vector", rng.standard_normal(33).astype(np.float32), "i4", group_size=16)
    files["i4"] = w

    w = Writer(model_name="golden-csr", producer_version="golden")
    s = sparse(rng, (12, 40), 0.2)
    s[3] = 0                                            # an empty row
    w.add_tensor("f32", s, "csr")
    w.add_tensor("i8", s, "csr", values="i8")
    w.add_tensor("i4", s, "csr", values="i4", group_size=16)
    w.add_tensor("block_1x4", s, "csr", block=(1, 4))
    w.add_tensor("block_4x1", s, "csr", block=(4, 1))
    w.add_tensor("block_2x2_edges", sparse(rng, (7, 9), 0.3), "csr", block=(2, 2))
    w.add_tensor("block_8x8_i4", sparse(rng, (9, 17), 0.3), "csr", block=(8, 8), values="i4", group_size=32)
    w.add_tensor("all_zero", np.zeros((3, 5), np.float32), "csr")
    w.add_tensor("dense", rng.standard_normal((3, 5)).astype(np.float32) + 10, "csr")
    w.add_tensor("one_row", sparse(rng, (1, 30), 0.3), "csr")
    w.add_tensor("one_col", sparse(rng, (30, 1), 0.3), "csr")
    wide = np.zeros((1, 65600), np.float32)            # more block columns than u16 indices address
    wide[0, [0, 12345, 65535, 65536, 65599]] = [1, -5, 2, 3, 4]
    w.add_tensor("wide_u32", wide, "csr")
    w.add_tensor("conv_kxk", sparse(rng, (8, 4, 3, 3), 0.25), "csr")
    s8 = np.random.default_rng(7).integers(-127, 128, (6, 40)).astype(np.int8)   # own seed: the rest unchanged
    s8[np.random.default_rng(8).random(s8.shape) < 0.7] = 0
    w.add_tensor("s8", s8, "csr")                       # an int8 tensor: its own values, no scales
    files["csr"] = w

    w = Writer(model_name="golden-lut", producer_version="golden")
    idx = rng.integers(0, 16, (6, 11))
    w.add_tensor("u4_tensor", encode_lut_codes(idx, np.linspace(-1, 1, 16, dtype=np.float32)))
    idx8 = rng.integers(0, 200, (4, 9))
    books = rng.standard_normal((4, 200)).astype(np.float32)
    w.add_tensor("u8_per_channel_f16", encode_lut_codes(idx8, books, axis=0, codebook_dtype="f16"))
    w.add_tensor("kmeans", rng.standard_normal((8, 16)).astype(np.float32), "lut", k=8)
    w.add_tensor("odd_u4", encode_lut_codes(rng.integers(0, 5, 7), np.arange(5, dtype=np.float32)))
    files["lut"] = w

    w = Writer(model_name="golden-graph", producer_version="golden")
    w.add_input("x", "f32", [-1, 16])
    w.add_output("y", "f32", [-1, 4])
    w.add_tensor("fc.weight", rng.standard_normal((4, 16)).astype(np.float32), "i8", axis=0)
    w.add_tensor("fc.bias", rng.standard_normal(4).astype(np.float32))
    w.add_layout("fc.weight", 1, 4, bytes(range(64)))
    g = w.new_graph()
    x = g.input("x")
    wt, bias = g.const("fc.weight"), g.const("fc.bias")
    (h,) = g.node("Gemm", [x, wt, bias], ["h"], {"transB": 1, "alpha": 1.0}, name="fc")
    (y,) = g.node("Relu", [h], ["y"], name="relu")
    g.node("Custom", [h, None], 2, {"ints": [1, -2, 3], "floats": [0.5, -1.5], "text": "héllo",
                                  "weight": TensorRef("fc.bias"), "empty": []}, name="all_attrs", version=3)
    g.output(y)
    files["graph"] = w

    # A model every runtime can run (the C API tests): y = relu(x . W^T + b), x [batch, 16] -> y [batch, 4].
    r2 = np.random.default_rng(99)
    w = Writer(model_name="golden-mlp", producer_version="golden")
    w.add_input("x", "f32", [-1, 16])
    w.add_output("y", "f32", [-1, 4])
    w.add_tensor("fc.weight", r2.standard_normal((4, 16)).astype(np.float32))
    w.add_tensor("fc.bias", r2.standard_normal(4).astype(np.float32))
    g = w.new_graph()
    (h,) = g.node("Gemm", [g.input("x"), g.const("fc.weight"), g.const("fc.bias")], ["h"], {"transB": 1}, name="fc")
    (y,) = g.node("Relu", [h], ["y"], name="relu")
    g.output(y)
    files["mlp"] = w

    # String values (dtype 14) at the graph's edges and a list-of-strings attribute (the C API tests run it):
    # y = StringNormalizer(x), stopwords dropped ignoring case, the rest upper-cased.
    w = Writer(model_name="golden-strings", producer_version="golden")
    w.add_input("x", "string", [-1])
    w.add_output("y", "string", [-1])
    g = w.new_graph()
    (y,) = g.node("StringNormalizer", [g.input("x")], ["y"], {"case_change_action": "UPPER", "is_case_sensitive": 0,
                                                              "stopwords": ["the", "a", "héllo"]}, name="norm")
    g.output(y)
    files["strings"] = w

    # i8g (SPEC 6.2), and i4 with the negative and zero scales ggml's Q4_0 blocks carry (pyruntime convert)
    r3 = np.random.default_rng(7)
    w = Writer(model_name="golden-i8g", producer_version="golden")
    c = r3.standard_normal((5, 100)).astype(np.float32)
    w.add_tensor("g32_f16", c, "i8g", group_size=32)
    w.add_tensor("g16_f32", c, "i8g", group_size=16, scale_dtype="f32")
    w.add_tensor("conv_g16", r3.standard_normal((4, 3, 3, 3)).astype(np.float32), "i8g", group_size=16)
    w.add_tensor("vector", r3.standard_normal(33).astype(np.float32), "i8g", group_size=16)
    w.add_tensor("i4_signed_scales", i4.from_parts((3, 32), r3.integers(-8, 8, (3, 32)),
                                                   np.array([[0.5], [-0.25], [0.0]], np.float16), 32))
    files["i8g"] = w
    return files


def main(outdir=HERE):
    os.makedirs(os.path.join(outdir, "expected"), exist_ok=True)
    lines = ["# file tensor expected-bytes (raw little-endian decoded values; f32 unless the tensor is dense)"]
    for name, w in build().items():
        path = os.path.join(outdir, f"{name}.pyrt")
        w.save(path)
        r = Reader(path, verify="full")
        for t in r.tensors:
            rel = f"expected/{name}.{t.name}.bin"
            with open(os.path.join(outdir, rel), "wb") as f:
                f.write(np.ascontiguousarray(r.decode(t.name)).tobytes())
            lines.append(f"{name}.pyrt {t.name} {rel}")
    with open(os.path.join(outdir, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
