"""A corpus of malformed .pyrt files, each with the words its error message must contain.

Every case starts from a valid file made by the writer, then breaks exactly one rule: by byte surgery with the
CRCs recomputed (so that the intended check, not a CRC, is what fires), or by handing the writer an
EncodedTensor whose buffers break a data rule. `cases()` returns {name: (bytes, regex)}.
"""
import struct

import numpy as np

from pyruntime.format import EncodedTensor, Writer, crc32c, spec

HDR_FMT = "<8sHHIQQQQIII"  # magic .. header crc (64 bytes)


def base_writer(graph=True):
    rng = np.random.default_rng(7)
    w = Writer(model_name="victim")
    w.add_input("x", "f32", [-1, 8])
    w.add_output("y", "f32", [-1, 4])
    w.add_tensor("w", rng.standard_normal((4, 8)).astype(np.float32), "i8", axis=0)
    s = rng.standard_normal((6, 10)).astype(np.float32)
    s[np.abs(s) < 0.8] = 0
    w.add_tensor("sp", s, "csr")
    w.add_tensor("b", rng.standard_normal(4).astype(np.float32))
    if graph:
        g = w.new_graph()
        x = g.input("x")
        (y,) = g.node("Gemm", [x, g.const("w"), g.const("b")], ["y"], {"transB": 1}, name="fc")
        g.output(y)
    return w


def sections(blob):
    """[(kind, flags, offset, size, crc)] from the section table."""
    n = struct.unpack_from("<I", blob, 48)[0]
    toff = struct.unpack_from("<Q", blob, 40)[0]
    return [struct.unpack_from("<IIQQI", blob, toff + 32 * i) for i in range(n)]


def section(blob, kind):
    for k, _, off, size, _ in sections(blob):
        if k == kind:
            return off, size
    raise KeyError(kind)


def refix(blob, data_too=False):
    """Recomputes section CRCs (META/TENSORS/GRAPH; DATA if asked), the table CRC and the header CRC."""
    b = bytearray(blob)
    n = struct.unpack_from("<I", b, 48)[0]
    toff = struct.unpack_from("<Q", b, 40)[0]
    for i in range(min(n, 64)):
        e = toff + 32 * i
        if e + 32 > len(b):
            break
        kind, _, off, size = struct.unpack_from("<IIQQ", b, e)
        if (kind != spec.SEC_DATA or data_too) and off + size <= len(b):
            struct.pack_into("<I", b, e + 24, crc32c(bytes(b[off:off + size])))
    if toff + 32 * n <= len(b):
        struct.pack_into("<I", b, 52, crc32c(bytes(b[toff:toff + 32 * n])))
    struct.pack_into("<I", b, 60, crc32c(bytes(b[:60])))
    return bytes(b)


def set_header(blob, field_offset, fmt, value):
    b = bytearray(blob)
    struct.pack_into(fmt, b, field_offset, value)
    return refix(bytes(b))


def set_section_field(blob, index, field_offset, fmt, value):
    b = bytearray(blob)
    struct.pack_into(fmt, b, 64 + 32 * index + field_offset, value)
    return refix(bytes(b))


def patch_tensors(blob, old: bytes, new: bytes, count=1):
    """Replaces bytes inside the TENSORS section (which must occur there) and fixes the CRCs."""
    off, size = section(blob, spec.SEC_TENSORS)
    body = blob[off:off + size]
    assert body.count(old) >= count, "pattern not found in TENSORS"
    body = body.replace(old, new, count)
    assert len(body) == size
    return refix(blob[:off] + body + blob[off + size:])


def extent_of(blob, tensor, k):
    from pyruntime.format import Reader
    e = Reader(blob).tensor_info(tensor).extents[k]
    return e.offset, e.size, e.crc


def ext_bytes(off, size, crc):
    return struct.pack("<QQII", off, size, crc, 0)


def with_tensor(enc: EncodedTensor, name="bad"):
    w = base_writer(graph=False)
    w.add_tensor(name, enc)
    return w.to_bytes()


def csr(rows, cols, row_ptr, col_idx, values, nnzb=None, iw=2):
    rp = np.asarray(row_ptr, "<u4").tobytes()
    ci = np.asarray(col_idx, "<u2" if iw == 2 else "<u4").tobytes()
    v = np.asarray(values, "<f4").tobytes()
    params = struct.pack("<BBBBIQ", iw, spec.CSR_F32, 1, 1, 0, len(col_idx) if nnzb is None else nnzb)
    return EncodedTensor(spec.DT_F32, (rows, cols), spec.ENC_CSR, params, [rp, ci, v], spec.FEAT_CSR)


def cases():
    good = base_writer().to_bytes()
    c = {}
    secs = sections(good)
    meta_off, meta_size = section(good, spec.SEC_META)
    ten_off, ten_size = section(good, spec.SEC_TENSORS)
    gr_off, gr_size = section(good, spec.SEC_GRAPH)
    data_off, data_size = section(good, spec.SEC_DATA)

    # --- truncation at every section boundary (and inside the header)
    c["empty_file"] = (b"", "too short")
    c["truncated_header"] = (good[:40], "too short")
    for name, cut in [("after_header", 64), ("after_section_table", 64 + 32 * len(secs)),
                      ("after_meta", meta_off + meta_size), ("after_tensors", ten_off + ten_size),
                      ("after_graph", gr_off + gr_size), ("inside_data", data_off + data_size // 2),
                      ("last_byte", len(good) - 1)]:
        c[f"truncated_{name}"] = (good[:cut], "size mismatch")
    c["appended_junk"] = (good + b"\0" * 64, "size mismatch")

    # --- header
    c["bad_magic"] = (b"PYRX" + good[4:], "bad magic")
    c["unknown_major"] = (set_header(good, 8, "<H", 2), "major version 2")
    c["unknown_required_feature"] = (set_header(good, 16, "<Q", struct.unpack_from("<Q", good, 16)[0] | 1 << 20),
                                     "unknown feature bits 0x100000")
    c["header_crc_mismatch"] = (good[:24] + bytes([good[24] ^ 1]) + good[25:], "header CRC32C")
    c["header_reserved_nonzero"] = (set_header(good, 56, "<I", 1), "reserved")
    c["section_count_zero"] = (set_header(good, 48, "<I", 0), "section count 0")
    c["section_count_huge"] = (set_header(good, 48, "<I", 100000), "section count")
    c["section_table_past_end"] = (set_header(good, 40, "<Q", len(good) - 8), "outside the file")
    b = bytearray(good)
    b[64 + 4] ^= 0  # no-op keeps shape; then break table crc only
    struct.pack_into("<I", b, 52, struct.unpack_from("<I", b, 52)[0] ^ 0xFFFF)
    struct.pack_into("<I", b, 60, crc32c(bytes(b[:60])))
    c["section_table_crc_mismatch"] = (bytes(b), "section table CRC32C")

    # --- section table
    c["section_offset_past_end"] = (set_section_field(good, 3, 8, "<Q", len(good) + 64), "past the end")
    c["section_size_past_end"] = (set_section_field(good, 3, 16, "<Q", 1 << 62), "past the end")
    c["section_misaligned"] = (set_section_field(good, 0, 8, "<Q", meta_off + 8), "not 64-byte aligned")
    c["sections_overlap"] = (set_section_field(good, 1, 8, "<Q", meta_off), "overlaps")
    c["section_over_header"] = (set_section_field(good, 0, 8, "<Q", 0), "overlaps")
    c["missing_meta"] = (set_section_field(set_section_field(good, 0, 4, "<I", 0), 0, 0, "<I", 77),
                         "missing META")      # an unknown optional section is skipped; then META is missing
    c["duplicate_section"] = (set_section_field(good, 2, 0, "<I", spec.SEC_TENSORS), "duplicate TENSORS")
    c["unknown_required_section"] = (set_section_field(good, 2, 0, "<I", 99), "unknown required section kind 99")
    c["section_flags_unknown"] = (set_section_field(good, 0, 4, "<I", 3), "unknown flags")
    b = bytearray(good)
    b[meta_off + 10] ^= 0x40
    c["meta_crc_mismatch"] = (bytes(b), "META section: CRC32C mismatch")
    b = bytearray(good)
    b[data_off + 3] ^= 0x01
    c["data_crc_mismatch"] = (bytes(b), "CRC32C mismatch")

    # --- META
    c["meta_trailing_bytes"] = (_grow_section(good, spec.SEC_META, b"\0\0\0\0"), "unexpected bytes")
    name_len = struct.pack("<I", len("pyruntime")) + b"pyruntime"
    b = bytearray(good)
    i = good.index(name_len, meta_off)
    struct.pack_into("<I", b, i, 0x7FFFFFFF)
    c["huge_string_length"] = (refix(bytes(b)), "length 2147483647 exceeds the cap")
    b = bytearray(good)
    b[i + 4] = 0xFF
    c["invalid_utf8"] = (refix(bytes(b)), "UTF-8")

    # --- TENSORS: counts, names, ranks, shapes, encodings
    b = bytearray(good)
    struct.pack_into("<I", b, ten_off, 0xFFFFFFF0)
    c["huge_tensor_count"] = (refix(bytes(b)), "tensor count 4294967280 exceeds the cap")
    c["duplicate_tensor_name"] = (patch_tensors(good, b"\x02\x00\x00\x00sp", b"\x02\x00\x00\x00w\x00")
                                  if False else _dup_name(good), "duplicate tensor name")
    r8 = with_tensor(EncodedTensor(spec.DT_F32, (1,) * 8, spec.ENC_DENSE, struct.pack("<B7x", 1), [b"\0" * 4]))
    c["rank_cap"] = (patch_tensors(r8, b"\x03\x00\x00\x00bad\x01\x01\x08", b"\x03\x00\x00\x00bad\x01\x01\x09"),
                     "rank 9 exceeds")
    c["shape_product_overflow"] = (with_tensor(EncodedTensor(spec.DT_F32, (1 << 40, 1 << 40, 16), spec.ENC_DENSE,
                                                             struct.pack("<B7x", 1), [b"\0" * 64])),
                                   "exceeds 2\\^40")
    c["dimension_too_large"] = (with_tensor(EncodedTensor(spec.DT_F32, (1 << 41,), spec.ENC_DENSE,
                                                          struct.pack("<B7x", 1), [b"\0" * 64])), "out of range")
    c["unknown_encoding"] = (with_tensor(EncodedTensor(spec.DT_F32, (4,), 9, b"", [])), "unknown encoding 9")
    c["unknown_dtype"] = (with_tensor(EncodedTensor(42, (4,), spec.ENC_DENSE, struct.pack("<B7x", 1),
                                                    [b"\0" * 16])), "unknown dtype 42")
    c["wrong_buffer_size"] = (with_tensor(EncodedTensor(spec.DT_F32, (4,), spec.ENC_DENSE, struct.pack("<B7x", 1),
                                                        [b"\0" * 12])), "size 12 does not match the 16 bytes")
    q = np.zeros(12, np.int8).tobytes()
    c["wrong_scale_count"] = (with_tensor(EncodedTensor(spec.DT_F32, (3, 4), spec.ENC_I8, struct.pack("<iB3x", 0, 0),
                                                        [q, np.ones(4, "<f4").tobytes()])),
                              "buffer 1: size 16 does not match the 12 bytes")
    c["i8_axis_out_of_range"] = (with_tensor(EncodedTensor(spec.DT_F32, (3, 4), spec.ENC_I8,
                                                           struct.pack("<iB3x", 2, 0),
                                                           [q, np.ones(3, "<f4").tobytes()])), "axis 2 out of range")
    c["i8_nan_scale"] = (with_tensor(EncodedTensor(spec.DT_F32, (3, 4), spec.ENC_I8, struct.pack("<iB3x", 0, 0),
                                                   [q, np.array([1, np.nan, 1], "<f4").tobytes()])),
                         "finite and > 0")
    c["i4_group_not_pow2"] = (with_tensor(EncodedTensor(spec.DT_F32, (2, 24), spec.ENC_I4,
                                                        struct.pack("<IBB2x", 24, 1, 1),
                                                        [b"\0" * 24, b"\0" * 8], spec.FEAT_INT4)), "power of two")
    c["i4_zero_point_range"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 16), spec.ENC_I4,
                                                          struct.pack("<IBB2x", 16, 0, 1),
                                                          [b"\0" * 8, np.ones(1, "<f4").tobytes(), b"\x10"],
                                                          spec.FEAT_INT4)), "zero points must be <= 15")
    c["i4_inf_scale"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 16), spec.ENC_I4, struct.pack("<IBB2x", 16, 1, 1),
                                                   [b"\0" * 8, np.array([np.inf], "<f4").tobytes()], spec.FEAT_INT4)),
                         "i4 scales must be finite")
    q8 = np.zeros(32, np.int8).tobytes()
    c["i8g_group_not_pow2"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 32), spec.ENC_I8G, struct.pack("<IB3x", 24, 1),
                                                         [q8, b"\0" * 8], spec.FEAT_I8G)), "power of two")
    c["i8g_scale_dtype"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 32), spec.ENC_I8G, struct.pack("<IB3x", 32, 3),
                                                      [q8, b"\0" * 4], spec.FEAT_I8G)), "scale dtype 3")
    c["i8g_nan_scale"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 32), spec.ENC_I8G, struct.pack("<IB3x", 32, 1),
                                                    [q8, np.array([np.nan], "<f4").tobytes()], spec.FEAT_I8G)),
                          "i8g scales must be finite")
    c["i8g_undeclared"] = (with_tensor(EncodedTensor(spec.DT_F32, (1, 32), spec.ENC_I8G, struct.pack("<IB3x", 32, 1),
                                                     [q8, np.ones(1, "<f4").tobytes()], 0)),
                           "without declaring them required")
    c["undeclared_feature"] = (set_header(good, 16, "<Q", 0), "without declaring them required")
    c["dense_bool_byte"] = (with_tensor(EncodedTensor(spec.DT_BOOL, (3,), spec.ENC_DENSE, struct.pack("<B7x", 7),
                                                      [b"\x00\x01\x02"])), "bool bytes")

    # --- extents
    off, size, crc = extent_of(good, "b", 0)
    c["buffer_misaligned"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(off + 4, size, crc)),
                              "not 64-byte aligned")
    c["buffer_offset_past_end"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(1 << 40, size, crc)),
                                   "outside the DATA section")
    c["buffer_size_wraps"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(off, (1 << 64) - 32, crc)),
                              "outside the DATA section")
    woff, wsize, wcrc = extent_of(good, "w", 0)
    c["buffers_overlap"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(woff, size, crc)), "overlaps")
    c["empty_extent_with_offset"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(off, 0, 0)),
                                     "empty extent")
    c["buffer_in_metadata"] = (patch_tensors(good, ext_bytes(off, size, crc), ext_bytes(meta_off, size, crc)),
                               "outside the DATA section")

    # --- CSR data
    c["csr_row_ptr_decreasing"] = (with_tensor(csr(3, 4, [0, 2, 1, 3], [0, 1, 2], [1, 2, 3])), "decrease")
    c["csr_row_ptr_not_zero_start"] = (with_tensor(csr(2, 4, [1, 2, 3], [0, 1, 2], [1, 2, 3])), "row_ptr\\[0\\]")
    c["csr_column_out_of_range"] = (with_tensor(csr(2, 4, [0, 1, 2], [0, 4], [1, 2])), "column index 4 out of range")
    c["csr_nnz_mismatch"] = (with_tensor(csr(2, 4, [0, 1, 3], [0, 1], [1, 2], nnzb=2)), "nnz mismatch")
    c["csr_nnz_exceeds_grid"] = (with_tensor(csr(1, 2, [0, 3], [0, 1, 1], [1, 2, 3])), "exceeds the 1x2 block grid")
    c["csr_columns_unsorted"] = (with_tensor(csr(1, 4, [0, 2], [2, 1], [1, 2])), "strictly increasing")
    c["csr_u16_too_narrow"] = (with_tensor(csr(1, 70000, [0, 1], [5], [1])), "cannot address 70000")
    c["csr_row_ptr_overshoot"] = (with_tensor(csr(2, 4, [0, 5, 3], [0, 1, 2], [1, 2, 3])), "decrease")

    # --- LUT
    idx = np.array([0, 1, 7], np.uint8).tobytes()
    c["lut_index_out_of_range"] = (with_tensor(EncodedTensor(spec.DT_F32, (3,), spec.ENC_LUT,
                                                             struct.pack("<BBHi", 8, 1, 4, -1),
                                                             [idx, np.zeros(4, "<f4").tobytes()], spec.FEAT_LUT)),
                                   "lut index 7 out of range")
    c["lut_codebook_too_big_for_u4"] = (with_tensor(EncodedTensor(spec.DT_F32, (2,), spec.ENC_LUT,
                                                                  struct.pack("<BBHi", 4, 1, 17, -1),
                                                                  [b"\0", np.zeros(17, "<f4").tobytes()],
                                                                  spec.FEAT_LUT)), "codebook size 17")

    # --- GRAPH
    c["graph_value_out_of_range"] = (_graph_case(lambda g, x, w_, b_: g.node("Relu", [99], 1)),
                                     "value id 99 out of range")
    c["graph_use_before_define"] = (_graph_case(lambda g, x, w_, b_: (g.nodes.append(
        ("n0", "Relu", 1, [len(g.values)], [g.value()], {})), g.node("Relu", [x], 1))), "used before it is defined")
    c["graph_value_defined_twice"] = (_graph_case(lambda g, x, w_, b_: g.nodes.append(("n", "Relu", 1, [x], [w_], {}))),
                                      "defined twice")
    c["graph_op_version_zero"] = (_graph_case(lambda g, x, w_, b_: g.node("Relu", [x], 1, version=0)), "op version")
    c["graph_output_not_meta_output"] = (_graph_case(lambda g, x, w_, b_: None, out_name="zzz"),
                                         "graph outputs do not match the META outputs")
    c["graph_value_never_defined"] = (_graph_case(lambda g, x, w_, b_: g.value("orphan")), "never defined")
    c["unknown_section_overlaps"] = (_unknown_section_over(good, meta_off), "overlaps")
    return c


def _unknown_section_over(good, meta_off):
    """Turns the GRAPH entry into an optional unknown section (kind 77) lying on top of META: it is skipped,
    but it still may not overlap anything."""
    b = set_section_field(good, 2, 4, "<I", 0)
    b = set_section_field(b, 2, 0, "<I", 77)
    return set_section_field(b, 2, 8, "<Q", meta_off)


def _dup_name(good):
    w = base_writer(graph=False)
    w._tensors.append(("w", w._tensors[0][1]))     # bypass the writer's own duplicate check
    return w.to_bytes()


def _grow_section(blob, kind, extra):
    """Appends bytes to a section by rebuilding the file around it (offsets shifted, CRCs fixed)."""
    w = base_writer()
    if kind == spec.SEC_META:
        orig = w._meta
        w._meta = lambda: orig() + extra
    return w.to_bytes()


def _graph_case(mutate, out_name="y"):
    w = base_writer(graph=False)
    g = w.new_graph()
    x = g.input("x")
    wt, b = g.const("w"), g.const("b")
    mutate(g, x, wt, b)
    (y,) = g.node("Gemm", [x, wt, b], [out_name])
    g.output(y)
    return w.to_bytes()
