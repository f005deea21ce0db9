"""csr (SPEC §6.2): compressed sparse rows of br x bc blocks over the matrix view; values f32, i8 with row
scales, signed i4 with group scales, or s8 (the elements of a logical-i8 tensor as they are)."""
from __future__ import annotations

import struct

import numpy as np

from .. import spec
from ..errors import FormatError
from ._common import (EncodedTensor, as_f32, check_group, check_positive, le, matrix_view, pack_nibbles, pow2_group,
                      require_f32, require_rank1, store_scale, unpack_nibbles)

ID, NAME, PARAMS_SIZE = spec.ENC_CSR, "csr", 16


def encode(array, values: str = "f32", block=(1, 1), group_size: int = 32,
           index_width: int | None = None) -> EncodedTensor:
    """Block CSR of the matrix view. Blocks with any non-zero element are stored. An int8 array keeps its
    dtype: its values are stored as they are ("s8", the weights of the integer operators)."""
    src = np.asarray(array)
    if src.dtype == np.int8:
        values = "s8"
    elif values == "s8":
        raise ValueError(f"csr values 's8' need an int8 tensor, got {src.dtype}")
    x = src if values == "s8" else as_f32(array)
    rows, cols = matrix_view(x.shape)
    br, bc = (int(block[0]), int(block[1]))
    if br not in spec.CSR_BLOCK_SIZES or bc not in spec.CSR_BLOCK_SIZES:
        raise ValueError(f"block dims must be in {spec.CSR_BLOCK_SIZES}, got {block}")
    venc = {"f32": spec.CSR_F32, "i8": spec.CSR_I8, "i4": spec.CSR_I4, "s8": spec.CSR_S8}[values]
    if venc == spec.CSR_I4:
        check_group(group_size)
    brows, bcols = -(-rows // br), -(-cols // bc)
    if index_width is None:
        index_width = 2 if bcols <= 65536 else 4
    if index_width not in (2, 4) or (index_width == 2 and bcols > 65536):
        raise ValueError(f"index_width {index_width} cannot address {bcols} block columns")
    padded = np.zeros((brows * br, bcols * bc), dtype=x.dtype)
    padded[:rows, :cols] = x.reshape(rows, cols)
    blocks = padded.reshape(brows, br, bcols, bc).transpose(0, 2, 1, 3)   # [brows, bcols, br, bc]
    mask = (blocks != 0).any(axis=(2, 3))
    counts = mask.sum(axis=1).astype(np.int64)
    row_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    bi, bj = np.nonzero(mask)
    nnzb = int(bi.size)
    vals = blocks[bi, bj].reshape(-1)                              # block after block, row-major inside
    bufs = [row_ptr.tobytes(), le(bj, "<u2" if index_width == 2 else "<u4")]
    gs = 0
    if venc == spec.CSR_S8:
        bufs.append(vals.tobytes())
    else:
        vals = vals.astype(np.float64)
    if venc == spec.CSR_F32:
        bufs.append(le(vals, "<f4"))
    elif venc == spec.CSR_I8:
        amax = np.abs(x.reshape(rows, cols)).max(axis=1) if cols else np.zeros(rows)
        scale = (amax / 127.0).astype(np.float32)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        lrow = (bi[:, None] * br + np.arange(br)[None, :])                # [nnzb, br]
        lrow = np.repeat(np.minimum(lrow, rows - 1), bc, axis=1).reshape(-1)
        q = np.clip(np.rint(vals / scale[lrow].astype(np.float64)), -127, 127).astype(np.int8)
        bufs += [q.tobytes(), le(scale, "<f4")]
    elif venc == spec.CSR_I4:
        gs = group_size
        gid = _i4_group_ids(row_ptr.astype(np.int64), br * bc, gs)
        amax = np.zeros(_i4_group_count(row_ptr.astype(np.int64), br * bc, gs))
        np.maximum.at(amax, gid, np.abs(vals))
        s = store_scale(amax / 7.0, spec.SCALE_F32)
        q = np.clip(np.rint(vals / s[gid]), -8, 7).astype(np.int64)
        bufs += [pack_nibbles(q), le(s, "<f4")]
    params = struct.pack("<BBBBIQ", index_width, venc, br, bc, gs, nnzb)
    return EncodedTensor(spec.DT_I8 if venc == spec.CSR_S8 else spec.DT_F32, tuple(x.shape), ID, params,
                         bufs, features({"values": venc}))


def _i4_group_count(rp: np.ndarray, per: int, g: int) -> int:
    """i4 values: each block row's stream is cut into groups of g (the last possibly short)."""
    return int((-(-(np.diff(rp) * per) // g)).sum())


def _i4_group_ids(rp: np.ndarray, per: int, g: int) -> np.ndarray:
    """The scale index of every stored value."""
    n_i = np.diff(rp) * per                                             # values per block row
    goff = np.concatenate([[0], np.cumsum(-(-n_i // g))])
    pos = np.arange(int(n_i.sum())) - np.repeat(rp[:-1] * per, n_i)   # position in its block row
    return np.repeat(goff[:-1], n_i) + pos // g


def parse_params(c, dtype: int, shape: tuple, fail) -> tuple[dict, int]:
    require_f32(NAME, dtype, fail, or_i8=True)
    require_rank1(NAME, shape, fail)
    iw, ve, br, bc, g, nnzb = c.unpack("<BBBBIQ", "csr params")
    if iw not in (2, 4):
        fail(f"csr index width {iw} is not 2 or 4")
    if ve not in spec.CSR_VALUE_NAMES:
        fail(f"csr value encoding {ve} is unknown")
    if (ve == spec.CSR_S8) != (dtype == spec.DT_I8):
        fail(f"csr value encoding {spec.CSR_VALUE_NAMES[ve]} does not fit logical dtype {spec.DTYPE_NAMES[dtype]} "
             "(s8 values for an i8 tensor, f32/i8/i4 for an f32 one)")
    if br not in spec.CSR_BLOCK_SIZES or bc not in spec.CSR_BLOCK_SIZES:
        fail(f"csr block {br}x{bc} is not made of 1, 2, 4 or 8")
    if ve == spec.CSR_I4:
        if not pow2_group(g):
            fail(f"csr i4 group size {g} is not a power of two in [16, 65536]")
    elif g != 0:
        fail("csr group size must be 0 unless values are i4")
    rows, cols = matrix_view(shape)
    brows, bcols = -(-rows // br), -(-cols // bc)
    if brows >= 0xFFFFFFFF:
        fail(f"csr has {brows} block rows (cap 2^32-2)")
    if iw == 2 and bcols > 65536:
        fail(f"csr u16 column indices cannot address {bcols} block columns")
    if nnzb > brows * bcols:
        fail(f"csr nnz {nnzb} exceeds the {brows}x{bcols} block grid")
    return {"index_width": iw, "values": ve, "block": (br, bc), "group_size": g, "nnzb": nnzb}, \
        3 + (ve in (spec.CSR_I8, spec.CSR_I4))


def buffer_sizes(t) -> list:
    p = t.params
    rows, _ = matrix_view(t.shape)
    br, bc = p["block"]
    brows = -(-rows // br)
    count = p["nnzb"] * br * bc
    out = [4 * (brows + 1), p["index_width"] * p["nnzb"]]
    if p["values"] == spec.CSR_F32:
        return out + [4 * count]
    if p["values"] == spec.CSR_S8:
        return out + [count]
    if p["values"] == spec.CSR_I8:
        return out + [count, 4 * rows]
    return out + [(count + 1) // 2, None]   # scale count depends on row_ptr: checked when data is read


def features(p: dict) -> int:
    return spec.FEAT_CSR | (spec.FEAT_INT4 if p["values"] == spec.CSR_I4 else 0)


def check(t, b: list, where: str):
    p = t.params
    rows, cols = matrix_view(t.shape)
    br, bc = p["block"]
    bcols = -(-cols // bc)
    rp = b[0].view("<u4").astype(np.int64)
    if rp[0] != 0:
        raise FormatError(f"{where}: csr row_ptr[0] is {rp[0]}, must be 0")
    if (np.diff(rp) < 0).any():
        raise FormatError(f"{where}: csr row pointers decrease")
    if rp[-1] != p["nnzb"]:
        raise FormatError(f"{where}: csr nnz mismatch: row_ptr ends at {rp[-1]}, params say {p['nnzb']}")
    ci = b[1].view("<u2" if p["index_width"] == 2 else "<u4").astype(np.int64)
    if ci.size and ci.max() >= bcols:
        raise FormatError(f"{where}: csr column index {ci.max()} out of range ({bcols} block columns)")
    if ci.size > 1:
        d = np.diff(ci)
        row_start = np.zeros(ci.size, dtype=bool)
        starts = rp[:-1][rp[:-1] < ci.size]
        row_start[starts] = True
        if (d <= 0)[~row_start[1:]].any():
            raise FormatError(f"{where}: csr column indices are not strictly increasing within a row")
    if p["values"] == spec.CSR_I8:
        check_positive(b[3].view("<f4"), where, "csr row scales")
    elif p["values"] == spec.CSR_I4:
        ng = _i4_group_count(rp, br * bc, p["group_size"])
        if t.extents[3].size != 4 * ng:
            raise FormatError(f"{where} buffer 3: size {t.extents[3].size} does not match the "
                              f"{4 * ng} bytes of i4 group scales")
        check_positive(b[3].view("<f4"), where, "csr group scales")


def decode(t, b: list) -> np.ndarray:
    p = t.params
    rows, cols = matrix_view(t.shape)
    br, bc = p["block"]
    brows, bcols = -(-rows // br), -(-cols // bc)
    rp = b[0].view("<u4").astype(np.int64)
    ci = b[1].view("<u2" if p["index_width"] == 2 else "<u4").astype(np.int64)
    count = p["nnzb"] * br * bc
    brow = np.repeat(np.arange(brows), np.diff(rp))                 # block row of each block
    if p["values"] == spec.CSR_F32:
        v = b[2].view("<f4").astype(np.float32)
    elif p["values"] == spec.CSR_S8:
        v = b[2].view(np.int8)
    elif p["values"] == spec.CSR_I8:
        lrow = np.minimum(brow[:, None] * br + np.arange(br)[None, :], rows - 1)
        lrow = np.repeat(lrow, bc, axis=1).reshape(-1)
        v = b[2].view(np.int8).astype(np.float32) * b[3].view("<f4")[lrow]
    else:
        gid = _i4_group_ids(rp, br * bc, p["group_size"])
        v = unpack_nibbles(b[2], count, True).astype(np.float32) * b[3].view("<f4")[gid]
    dense = np.zeros((brows, bcols, br, bc), dtype=v.dtype)
    dense[brow, ci] = v.reshape(-1, br, bc)
    dense = dense.transpose(0, 2, 1, 3).reshape(brows * br, bcols * bc)[:rows, :cols]
    return np.ascontiguousarray(dense).reshape(t.shape)


def nonzeros(p: dict, numel: int) -> int:
    """Stored elements, edge padding of blocks excluded (inspection's sparsity column)."""
    return min(p["nnzb"] * p["block"][0] * p["block"][1], numel)


def describe(p: dict) -> str:
    br, bc = p["block"]
    return f"{br}x{bc} {spec.CSR_VALUE_NAMES[p['values']]} u{8 * p['index_width']}"
