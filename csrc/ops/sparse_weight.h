// A weight stored in the file's csr encoding, repacked once per model into the rows the sparse kernels read
// (kernels::SparseRows: per row, its nonzeros' f32 values and columns). Blocks are expanded and stored zeros
// dropped; i8 values are multiplied by their row's scale here (same products as the file's decode); i4 values
// are decoded through the tensor's dense decode.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {

struct SparseWeight {
  size_t rows = 0, cols = 0;
  std::vector<uint32_t> start{0}, col, order;
  std::vector<float> w;
  std::vector<uint16_t> col16;  // when cols <= 65536 (the GEMV reads fewer bytes)
  std::vector<int8_t> q;        // i8 values with row scales, when the file stores them so
  std::vector<float> row_scale;
  kernels::SparseRows view() const {
    return {rows,         cols,          start.data(),
            w.data(),     col.data(),    order.data(),
            col16.empty() ? nullptr : col16.data(), q.empty() ? nullptr : q.data(),
            q.empty() ? nullptr : row_scale.data()};
  }
  void finish() {  // row order, narrow columns
    sort_rows();
    if (cols <= 65536) col16.assign(col.begin(), col.end());
  }
  void sort_rows() {  // the rows by nonzero count (kernels pair rows of similar length)
    order.resize(rows);
    for (size_t r = 0; r < rows; ++r) order[r] = uint32_t(r);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return start[a + 1] - start[a] < start[b + 1] - start[b]; });
  }
  double density() const { return rows && cols ? double(w.size()) / double(rows * cols) : 0.0; }
};

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
