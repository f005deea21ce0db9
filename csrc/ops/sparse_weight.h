// A weight stored in the file's csr encoding, as the rows the sparse kernels read (kernels::SparseRows: per row,
// its nonzeros' f32 values and columns), shared by all sessions of the model. Plain CSR with f32 values and u16
// columns (what the exporter writes for a pruned f32 weight) is read in place from the mapping: the session adds
// only the row order. Other forms are repacked once: blocks expanded and stored zeros dropped, i8 values
// multiplied by their row's scale (same products as the file's decode), i4 values through the dense decode.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {

struct SparseWeight {
  size_t rows = 0, cols = 0, nnz = 0;
  bool in_place = false;  // start / w / col16 are the file's buffers (below: their places in the mapping)
  const uint32_t* file_start = nullptr;
  const float* file_w = nullptr;
  const uint16_t* file_col16 = nullptr;
  // Repacked forms (when not in place): the columns as u16 when cols <= 65536, else u32.
  std::vector<uint32_t> start{0}, col, order;
  std::vector<float> w;
  std::vector<uint16_t> col16;
  std::vector<int8_t> q;  // i8 values with row scales, when the file stores them so (for the spmv)
  std::vector<float> row_scale;
  kernels::SparseRows view() const {
    kernels::SparseRows v{rows, cols, in_place ? file_start : start.data(), in_place ? file_w : w.data(),
                          col.empty() ? nullptr : col.data(), order.data()};
    v.col16 = in_place ? file_col16 : col16.empty() ? nullptr : col16.data();
    if (!q.empty()) v.q = q.data(), v.row_scale = row_scale.data();
    return v;
  }
  void finish() {  // repacked: narrow columns, row order
    nnz = w.size();
    if (cols <= 65536) col16.assign(col.begin(), col.end()), col = {};
    sort_rows();
  }
  void sort_rows() {  // the rows by nonzero count (kernels pair rows of similar length)
    const uint32_t* st = in_place ? file_start : start.data();
    order.resize(rows);
    for (size_t r = 0; r < rows; ++r) order[r] = uint32_t(r);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return st[a + 1] - st[a] < st[b + 1] - st[b]; });
  }
  double density() const { return rows && cols ? double(nnz) / double(rows * cols) : 0.0; }
};

// Plain CSR (1x1 blocks), f32 values, u16 columns, buffers aligned as the spec places them and no stored zero
// (a dropped zero and a kept one differ at an inf input): s reads the file's buffers in place.
inline bool read_in_place(SparseWeight& s, const TensorInfo& t, const uint8_t* rp, const uint8_t* ci, const uint8_t* vals) {
  auto aligned = [](const uint8_t* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; };
  if (t.p.values != spec::kCsrF32 || t.p.br != 1 || t.p.bc != 1 || t.p.index_width != 2 || !aligned(rp, 4) ||
      !aligned(ci, 2) || !aligned(vals, 4))
    return false;
  const uint32_t* start = reinterpret_cast<const uint32_t*>(rp);
  const float* w = reinterpret_cast<const float*>(vals);
  const size_t nnz = start[s.rows];
  for (size_t k = 0; k < nnz; ++k)
    if (w[k] == 0.f) return false;
  s.in_place = true;
  s.file_start = start, s.file_w = w, s.file_col16 = reinterpret_cast<const uint16_t*>(ci);
  s.nnz = nnz, s.start = {};
  s.sort_rows();
  return true;
}

// Whether constant input i is a csr tensor.
inline bool is_csr(const NodeContext& ctx, size_t i) {
  const ConstTensor* c = ctx.const_input(i);
  return c && c->encoded() && ctx.model().tensors()[c->tensor_index].encoding == spec::kCsr;
}

// Input i (csr) as rows x cols = dims[0] x (the rest), shared by all sessions of the model.
inline std::shared_ptr<const SparseWeight> sparse_weight(const NodeContext& ctx, size_t i) {
  return ctx.shared<SparseWeight>(i, "sparse.rows", [&] {
    const ConstTensor& c = *ctx.const_input(i);
    const Model& m = ctx.model();
    const TensorInfo& t = m.tensors()[c.tensor_index];
    m.check_tensor(c.tensor_index);  // the deferred checks a decode would make (SPEC 6.4)
    SparseWeight s;
    s.rows = size_t(t.rows), s.cols = size_t(t.cols);
    auto add_row = [&](auto&& each) {  // each(f(col, value)) walks one row's stored values in column order
      each([&](uint64_t col, float v) {
        if (v != 0.f) s.col.push_back(uint32_t(col)), s.w.push_back(v);
      });
      s.start.push_back(uint32_t(s.w.size()));
    };
    if (read_in_place(s, t, m.buffer(c.tensor_index, 0), m.buffer(c.tensor_index, 1), m.buffer(c.tensor_index, 2)))
      return s;
    if (t.p.values == spec::kCsrI4) {  // i4 values: through the dense decode
      const float* d = c.f32();
      for (size_t r = 0; r < s.rows; ++r)
        add_row([&](auto&& f) {
          for (size_t k = 0; k < s.cols; ++k) f(k, d[r * s.cols + k]);
        });
      s.finish();
      return s;
    }
    const uint8_t* rp = m.buffer(c.tensor_index, 0);
    const uint8_t* ci = m.buffer(c.tensor_index, 1);
    const uint8_t* vals = m.buffer(c.tensor_index, 2);
    const float* scales = t.p.values == spec::kCsrI8 ? reinterpret_cast<const float*>(m.buffer(c.tensor_index, 3)) : nullptr;
    const size_t br = t.p.br, bc = t.p.bc, blk = br * bc;
    auto u32 = [](const uint8_t* p, size_t i) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    };
    auto colidx = [&](size_t k) -> uint64_t {
      if (t.p.index_width == 2) {
        uint16_t v;
        std::memcpy(&v, ci + 2 * k, 2);
        return v;
      }
      return u32(ci, k);
    };
    auto value = [&](size_t e, size_t row) -> float {  // element e of the value stream, in logical row `row`
      if (!scales) {
        float v;
        std::memcpy(&v, vals + 4 * e, 4);
        return v;
      }
      return float(int8_t(vals[e])) * scales[row];
    };
    for (size_t r = 0; r < s.rows; ++r) {
      const size_t bi = r / br, ri = r % br;
      add_row([&](auto&& f) {
        for (uint32_t k = u32(rp, bi); k < u32(rp, bi + 1); ++k)
          for (size_t j = 0; j < bc; ++j) {
            const uint64_t col = colidx(k) * bc + j;
            if (col < s.cols) f(col, value(k * blk + ri * bc + j, r));
          }
      });
    }
    if (scales) {  // i8 values: also kept as stored, for the GEMV (one per kept nonzero, as w)
      s.row_scale.assign(scales, scales + s.rows);
      s.q.reserve(s.w.size());
      for (size_t r = 0; r < s.rows; ++r)
        for (uint32_t k = s.start[r]; k < s.start[r + 1]; ++k) s.q.push_back(int8_t(std::lrint(s.w[k] / scales[r])));
    }
    s.finish();
    return s;
  });
}

}  // namespace pyrt::ops
