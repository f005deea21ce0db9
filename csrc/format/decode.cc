// Deferred data checks (SPEC §6.4) and decoding of every encoding to its logical dtype (f32 for the
// quantized and sparse ones). The checks run before any byte of a tensor's data is used.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/checked.h"
#include "core/error.h"
#include "core/scalar_codecs.h"
#include "format/codecs.h"
#include "format/crc32c.h"
#include "format/model.h"
#include "format/spec.h"

namespace pyrt {
namespace {

using std::to_string;

template <typename T>
T load(const uint8_t* p, size_t i) {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}

float scale_at(const uint8_t* p, size_t i, uint8_t sd) {
  return sd == spec::kScaleF32 ? load<float>(p, i) : scalar::f16_to_f32(load<uint16_t>(p, i));
}

void check_positive(const uint8_t* p, size_t n, uint8_t sd, const std::string& what) {
  for (size_t i = 0; i < n; ++i) {
    const float s = scale_at(p, i, sd);
    if (!(std::isfinite(s) && s > 0)) format_error(what + " must be finite and > 0");
  }
}

// Number of i4 group scales of a csr tensor: sum over block rows of ceil(nnz_i * br * bc / G).
uint64_t csr_i4_groups(const TensorInfo& t, const uint8_t* rp, uint64_t brows) {
  uint64_t total = 0;
  const uint64_t per = uint64_t(t.p.br) * t.p.bc;
  for (uint64_t i = 0; i < brows; ++i)
    total += ceil_div((load<uint32_t>(rp, i + 1) - load<uint32_t>(rp, i)) * per, t.p.group_size);
  return total;
}

}  // namespace

void Model::check_tensor(size_t ti) const {
  if (ti >= tensors_.size()) fail(Status::kNotFound, "tensor index " + to_string(ti) + " out of range");
  if (checked_[ti].load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(check_mu_);
  if (checked_[ti].load(std::memory_order_relaxed)) return;
  const TensorInfo& t = tensors_[ti];
  const std::string where = "tensor '" + t.name + "'";
  const uint8_t* base = bytes_.data();
  auto buf = [&](size_t k) { return base + t.buffers[k].offset; };
  for (size_t k = 0; k < t.buffers.size(); ++k)
    if (crc32c(base + t.buffers[k].offset, t.buffers[k].size) != t.buffers[k].crc)
      format_error(where + " buffer " + to_string(k) + ": CRC32C mismatch");
  for (size_t k = 0; k < t.layouts.size(); ++k)
    if (crc32c(base + t.layouts[k].extent.offset, t.layouts[k].extent.size) != t.layouts[k].extent.crc)
      format_error(where + " layout " + to_string(k) + ": CRC32C mismatch");
  const TensorParams& p = t.p;
  switch (t.encoding) {
    case spec::kDense:
      if (p.storage == spec::kBool)
        for (uint64_t i = 0; i < t.numel; ++i)
          if (buf(0)[i] > 1) format_error(where + ": bool bytes must be 0 or 1");
      break;
    case spec::kEncI8:
      check_positive(buf(1), t.buffers[1].size / 4, spec::kScaleF32, where + ": i8 scales");
      break;
    case spec::kEncI4:
      check_positive(buf(1), t.buffers[1].size / (p.scale_dtype == spec::kScaleF32 ? 4 : 2), p.scale_dtype,
                     where + ": i4 scales");
      if (!p.is_signed)
        for (uint64_t i = 0; i < t.buffers[2].size; ++i)
          if (buf(2)[i] > 15) format_error(where + ": i4 zero points must be <= 15");
      break;
    case spec::kCsr: {
      const uint64_t brows = ceil_div(t.rows, p.br), bcols = ceil_div(t.cols, p.bc);
      const uint8_t* rp = buf(0);
      const uint8_t* ci = t.buffers[1].size ? buf(1) : nullptr;
      if (load<uint32_t>(rp, 0) != 0)
        format_error(where + ": csr row_ptr[0] is " + to_string(load<uint32_t>(rp, 0)) + ", must be 0");
      for (uint64_t i = 0; i < brows; ++i)
        if (load<uint32_t>(rp, i + 1) < load<uint32_t>(rp, i)) format_error(where + ": csr row pointers decrease");
      if (load<uint32_t>(rp, brows) != p.nnzb)
        format_error(where + ": csr nnz mismatch: row_ptr ends at " + to_string(load<uint32_t>(rp, brows)) +
                     ", params say " + to_string(p.nnzb));
      // Row pointers are now monotone and end at nnzb, so every j below indexes inside col_idx.
      for (uint64_t i = 0; i < brows; ++i) {
        const uint32_t a = load<uint32_t>(rp, i), b = load<uint32_t>(rp, i + 1);
        for (uint64_t j = a; j < b; ++j) {
          const uint64_t col = p.index_width == 2 ? load<uint16_t>(ci, j) : load<uint32_t>(ci, j);
          if (col >= bcols)
            format_error(where + ": csr column index " + to_string(col) + " out of range (" + to_string(bcols) +
                         " block columns)");
          if (j > a) {
            const uint64_t prev = p.index_width == 2 ? load<uint16_t>(ci, j - 1) : load<uint32_t>(ci, j - 1);
            if (col <= prev) format_error(where + ": csr column indices are not strictly increasing within a row");
          }
        }
      }
      if (p.values == spec::kCsrI8) {
        check_positive(buf(3), t.rows, spec::kScaleF32, where + ": csr row scales");
      } else if (p.values == spec::kCsrI4) {
        const uint64_t ng = csr_i4_groups(t, rp, brows);
        if (t.buffers[3].size != 4 * ng)
          format_error(where + " buffer 3: size " + to_string(t.buffers[3].size) + " does not match the " +
                       to_string(4 * ng) + " bytes of i4 group scales");
        check_positive(buf(3), ng, spec::kScaleF32, where + ": csr group scales");
      }
      break;
    }
    case spec::kLut: {
      const uint8_t* idx = t.buffers[0].size ? buf(0) : nullptr;
      for (uint64_t i = 0; i < t.numel; ++i) {
        const uint32_t v = p.index_bits == 8 ? idx[i] : scalar::nibble(idx, i);
        if (v >= p.codebook_size)
          format_error(where + ": lut index " + to_string(v) + " out of range (codebook size " +
                       to_string(p.codebook_size) + ")");
      }
      const size_t n = t.buffers[1].size / (p.scale_dtype == spec::kScaleF32 ? 4 : 2);
      for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(scale_at(buf(1), i, p.scale_dtype)))
          format_error(where + ": lut codebook entries must be finite");
      break;
    }
  }
  checked_[ti].store(true, std::memory_order_release);
}

void Model::verify_all() const {
  if (has_data_ && crc32c(bytes_.data() + data_off_, data_size_) != data_crc_)
    format_error("DATA section: CRC32C mismatch");
  for (size_t i = 0; i < tensors_.size(); ++i) check_tensor(i);
}

const uint8_t* Model::buffer(size_t t, size_t k) const {
  check_tensor(t);
  if (k >= tensors_[t].buffers.size())
    fail(Status::kInvalidArgument, "tensor '" + tensors_[t].name + "' has " +
                                       to_string(tensors_[t].buffers.size()) + " buffers, asked for " + to_string(k));
  return tensors_[t].buffers[k].size ? bytes_.data() + tensors_[t].buffers[k].offset : nullptr;
}

std::shared_ptr<const void> Model::shared(const std::string& key,
                                          const std::function<std::shared_ptr<const void>()>& make) const {
  std::lock_guard<std::mutex> lock(shared_mu_);
  if (auto p = shared_[key].lock()) return p;
  std::shared_ptr<const void> p = make();
  shared_[key] = p;
  return p;
}

uint64_t Model::decoded_bytes(size_t ti) const {
  const TensorInfo& t = tensors_.at(ti);
  const uint64_t n = t.numel * (t.encoding == spec::kDense || t.dtype == spec::kI8 ? spec::dtype_size(t.dtype) : 4);
  static const uint64_t limit = env_bytes("PYRT_MAX_DECODE_BYTES", uint64_t(4) << 30);
  if (n > limit)
    fail(Status::kInvalidArgument, "tensor '" + t.name + "' decodes to " + to_string(n) +
                                       " bytes, above the limit of " + to_string(limit) +
                                       " (set PYRT_MAX_DECODE_BYTES to allow it)");
  return n;
}

bool Model::decodes_rows(size_t ti) const {
  const TensorInfo& t = tensors_.at(ti);
  const bool enc = t.encoding == spec::kDense || t.encoding == spec::kEncI8 || t.encoding == spec::kEncI4;
  return enc && t.dtype == spec::kF32 && t.shape.size() == 2 && (t.encoding != spec::kEncI4 || t.rows == t.shape[0]);
}

void Model::decode_row(size_t ti, uint64_t r, float* out) const {
  const TensorInfo& t = tensors_[ti];
  const TensorParams& p = t.p;
  const Codecs& K = codecs();
  const uint8_t* base = bytes_.data();
  auto buf = [&](size_t k) { return base + t.buffers[k].offset; };
  const uint64_t cols = t.shape[1];
  switch (t.encoding) {
    case spec::kDense:
      if (p.storage == t.dtype) std::memcpy(out, buf(0) + r * cols * 4, cols * 4);
      else K.f16_to_f32(reinterpret_cast<const uint16_t*>(buf(0)) + r * cols, out, cols);
      return;
    case spec::kEncI8: {  // as decode(): per tensor, per row (axis 0) or per column (axis 1)
      const int8_t* q = reinterpret_cast<const int8_t*>(buf(0)) + r * cols;
      const int8_t* zp = p.zero_point ? reinterpret_cast<const int8_t*>(buf(2)) : nullptr;
      if (p.axis == 1) {
        for (uint64_t c = 0; c < cols; ++c) K.dequant_i8(q + c, 1, zp ? zp[c] : 0, load<float>(buf(1), c), out + c);
      } else {
        const uint64_t i = p.axis == 0 ? r : 0;
        K.dequant_i8(q, cols, zp ? zp[i] : 0, load<float>(buf(1), i), out);
      }
      return;
    }
    case spec::kEncI4: {
      const uint64_t G = p.group_size, ng = ceil_div(t.cols, G);
      std::vector<float> tmp;  // the last group of a row, when padded in the file
      for (uint64_t g = 0; g < ng; ++g) {
        const uint64_t gi = r * ng + g, c0 = g * G, n = std::min<uint64_t>(G, cols - c0);
        const int32_t zp = p.is_signed ? 0 : buf(2)[gi];
        if (n != G) tmp.resize(G);
        K.dequant_i4(buf(0) + gi * G / 2, G, p.is_signed, zp, scale_at(buf(1), gi, p.scale_dtype),
                     n == G ? out + c0 : tmp.data());
        if (n != G) std::memcpy(out + c0, tmp.data(), n * 4);
      }
      return;
    }
    default: fail(Status::kInternal, "decode_row: tensor '" + t.name + "' is not stored by rows");
  }
}

void Model::decode(size_t ti, void* out_v, size_t out_bytes) const {
  check_tensor(ti);
  const TensorInfo& t = tensors_[ti];
  const TensorParams& p = t.p;
  const uint64_t esize = t.encoding == spec::kDense || t.dtype == spec::kI8 ? spec::dtype_size(t.dtype) : 4;
  if (out_bytes != t.numel * esize)
    fail(Status::kInvalidArgument, "decode of tensor '" + t.name + "': output has " + to_string(out_bytes) +
                                       " bytes, need " + to_string(t.numel * esize));
  if (t.numel == 0) return;
  const Codecs& K = codecs();
  const uint8_t* base = bytes_.data();
  auto buf = [&](size_t k) { return base + t.buffers[k].offset; };
  float* out = static_cast<float*>(out_v);
  switch (t.encoding) {
    case spec::kDense: {
      if (p.storage == t.dtype) {
        std::memcpy(out_v, buf(0), t.buffers[0].size);
      } else {  // f32 stored as f16; the buffer is 64-byte aligned, so the u16 view is aligned
        K.f16_to_f32(reinterpret_cast<const uint16_t*>(buf(0)), out, t.numel);
      }
      return;
    }
    case spec::kEncI8: {
      // Per-axis: [outer, n, inner] with one (scale, zero point) per index along the axis.
      uint64_t outer = 1, n = 1, inner = 1;
      if (p.axis >= 0) {
        for (int k = 0; k < p.axis; ++k) outer *= t.shape[size_t(k)];
        n = t.shape[size_t(p.axis)];
        for (size_t k = size_t(p.axis) + 1; k < t.shape.size(); ++k) inner *= t.shape[k];
      } else {
        inner = t.numel;
      }
      const int8_t* q = reinterpret_cast<const int8_t*>(buf(0));
      const int8_t* zp = p.zero_point ? reinterpret_cast<const int8_t*>(buf(2)) : nullptr;
      for (uint64_t o = 0; o < outer; ++o)
        for (uint64_t c = 0; c < n; ++c) {
          const uint64_t off = (o * n + c) * inner;
          K.dequant_i8(q + off, inner, zp ? zp[c] : 0, load<float>(buf(1), c), out + off);
        }
      return;
    }
    case spec::kEncI4: {
      const uint64_t G = p.group_size, ng = ceil_div(t.cols, G);
      std::vector<float> tmp(G);
      for (uint64_t r = 0; r < t.rows; ++r)
        for (uint64_t g = 0; g < ng; ++g) {
          const uint64_t gi = r * ng + g;
          const uint8_t* packed = buf(0) + gi * G / 2;
          const float s = scale_at(buf(1), gi, p.scale_dtype);
          const int32_t zp = p.is_signed ? 0 : buf(2)[gi];
          const uint64_t c0 = g * G, n = std::min<uint64_t>(G, t.cols - c0);
          float* dst = out + r * t.cols + c0;
          if (n == G) {
            K.dequant_i4(packed, G, p.is_signed, zp, s, dst);
          } else {  // the last group of a row is padded in the file but not in the output
            K.dequant_i4(packed, G, p.is_signed, zp, s, tmp.data());
            std::memcpy(dst, tmp.data(), n * 4);
          }
        }
      return;
    }
    case spec::kCsr: {
      std::memset(out_v, 0, t.numel * esize);
      const uint64_t br = p.br, bc = p.bc, per = br * bc;
      const uint64_t brows = ceil_div(t.rows, br);
      const uint8_t* rp = buf(0);
      const uint8_t* ci = t.buffers[1].size ? buf(1) : nullptr;
      const uint8_t* vals = t.buffers[2].size ? buf(2) : nullptr;
      uint64_t group = 0;  // running i4 group index
      const uint64_t bcols = ceil_div(t.cols, bc), nscales = t.buffers.size() > 3 ? t.buffers[3].size / 4 : 0;
      for (uint64_t i = 0; i < brows; ++i) {
        // The data was checked (check_tensor); the clamps below keep the loops in bounds even if a mapped file
        // is modified behind our back after the check.
        const uint64_t a = std::min<uint64_t>(load<uint32_t>(rp, i), p.nnzb);
        const uint64_t b = std::min<uint64_t>(std::max<uint64_t>(load<uint32_t>(rp, i + 1), a), p.nnzb);
        for (uint64_t j = a; j < b; ++j) {
          const uint64_t col = p.index_width == 2 ? load<uint16_t>(ci, j) : load<uint32_t>(ci, j);
          if (col >= bcols) continue;
          for (uint64_t e = 0; e < per; ++e) {
            const uint64_t r = i * br + e / bc, cc = col * bc + e % bc, k = j * per + e;
            if (r >= t.rows || cc >= t.cols) continue;  // edge-block padding
            if (p.values == spec::kCsrS8) {
              static_cast<int8_t*>(out_v)[r * t.cols + cc] = int8_t(vals[k]);
              continue;
            }
            float v;
            if (p.values == spec::kCsrF32) {
              v = load<float>(vals, k);
            } else if (p.values == spec::kCsrI8) {
              v = float(int8_t(vals[k])) * load<float>(buf(3), r);
            } else {
              const uint64_t pos = k - a * per;  // position in this block row's stream
              const int32_t q = int32_t(scalar::nibble(vals, k) ^ 8) - 8;
              const uint64_t gi = group + pos / p.group_size;
              v = gi < nscales ? float(q) * load<float>(buf(3), gi) : 0.f;
            }
            out[r * t.cols + cc] = v;
          }
        }
        if (p.values == spec::kCsrI4) group += ceil_div((b - a) * per, p.group_size);
      }
      return;
    }
    case spec::kLut: {
      const uint64_t K2 = p.codebook_size;
      const uint64_t per = p.axis == -1 ? t.numel : t.numel / t.shape[0];
      std::vector<float> book(256, 0.f);  // every u8/u4 index lands inside, checked or not
      const uint8_t* idx = buf(0);
      const uint64_t nbooks = p.axis == -1 ? 1 : t.shape[0];
      for (uint64_t bk = 0; bk < nbooks; ++bk) {
        for (uint64_t k = 0; k < K2; ++k) book[k] = scale_at(buf(1), bk * K2 + k, p.scale_dtype);
        const uint64_t e0 = bk * per;
        for (uint64_t e = e0; e < e0 + per; ++e)
          out[e] = book[p.index_bits == 8 ? idx[e] : scalar::nibble(idx, e)];
      }
      return;
    }
  }
}

}  // namespace pyrt
