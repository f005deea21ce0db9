// Transpose with any permutation (dtype-agnostic: moves elements of 1, 2, 4 or 8 bytes). Permutations that
// reduce to a batch of 2-D transposes once unit axes are dropped and axes that stay adjacent are merged (NCHW
// <-> NHWC among them) of 4-byte elements take a cache-blocked path.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Transpose final : public Op {
 public:
  explicit Transpose(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    perm_ = ctx.attr_ints("perm");
  }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& x = in[0].shape;
    std::vector<int64_t> p = perm_;
    if (p.empty()) {
      p.resize(x.size());
      for (size_t i = 0; i < p.size(); ++i) p[i] = int64_t(x.size() - 1 - i);
    }
    if (p.size() != x.size()) fail("perm has " + std::to_string(p.size()) + " entries for a rank-" + std::to_string(x.size()) + " input");
    std::vector<bool> seen(p.size(), false);
    for (int64_t v : p) {
      if (v < 0 || v >= int64_t(p.size()) || seen[size_t(v)]) fail("perm is not a permutation");
      seen[size_t(v)] = true;
    }
    Shape o(x.size());
    std::vector<int64_t> in_strides(x.size(), 1);
    for (size_t i = x.size(); i-- > 1;) in_strides[i - 1] = in_strides[i] * x[i];
    src_strides_.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      o[i] = x[size_t(p[i])];
      src_strides_[i] = in_strides[size_t(p[i])];
    }
    oshape_ = o;
    esize_ = spec::dtype_size(in[0].dtype);
    n_ = size_t(numel(o));
    out[0] = {o, in[0].dtype};
    plan_2d(x, p);
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t r = oshape_.size();
    if (r == 0) return std::memcpy(y, x, esize_), void();
    if (rows_2d_) return run_2d(ctx, reinterpret_cast<const uint32_t*>(x), reinterpret_cast<uint32_t*>(y));
    const size_t inner = size_t(oshape_[r - 1]);
    const size_t rows = inner ? n_ / inner : 0;
    const int64_t is = src_strides_[r - 1];
    parallel(ctx, rows, 64, [&](size_t b, size_t e, int) {
      for (size_t row = b; row < e; ++row) {
        size_t rem = row, off = 0;
        for (size_t d = r - 1; d-- > 0;) {
          off += (rem % size_t(oshape_[d])) * size_t(src_strides_[d]);
          rem /= size_t(oshape_[d]);
        }
        uint8_t* dst = y + row * inner * esize_;
        switch (esize_) {
          case 4: for (size_t i = 0; i < inner; ++i) std::memcpy(dst + 4 * i, x + 4 * (off + i * size_t(is)), 4); break;
          default:
            for (size_t i = 0; i < inner; ++i) std::memcpy(dst + esize_ * i, x + esize_ * (off + i * size_t(is)), esize_);
        }
      }
    });
  }
  std::string kernel() const override { return rows_2d_ ? "transpose-2d-blocked" : "transpose-ref"; }

 private:
  // batch_ x [rows_2d_, cols_2d_] -> batch_ x [cols_2d_, rows_2d_] when the permutation is that (rows_2d_ = 0
  // otherwise).
  void plan_2d(const Shape& x, const std::vector<int64_t>& p) {
    rows_2d_ = 0;
    if (esize_ != 4) return;
    std::vector<int64_t> keep;  // input axes of size > 1, in output order
    for (int64_t a : p)
      if (x[size_t(a)] != 1) keep.push_back(a);
    std::vector<std::vector<int64_t>> groups;  // runs of consecutive input axes
    for (int64_t a : keep) {
      if (!groups.empty() && groups.back().back() + 1 == a) groups.back().push_back(a);
      else groups.push_back({a});
    }
    auto size = [&](const std::vector<int64_t>& g) {
      int64_t n = 1;
      for (int64_t a : g) n *= x[size_t(a)];
      return n;
    };
    if (groups.size() == 2 && groups[0][0] > groups[1][0]) {
      batch_ = 1, rows_2d_ = size_t(size(groups[1])), cols_2d_ = size_t(size(groups[0]));
    } else if (groups.size() == 3 && groups[0][0] < groups[2][0] && groups[2][0] < groups[1][0]) {
      batch_ = size_t(size(groups[0])), rows_2d_ = size_t(size(groups[2])), cols_2d_ = size_t(size(groups[1]));
    }
  }

  // y[b][j][i] = x[b][i][j] in 32 x 32 tiles (both sides stay in L1 while a tile moves). A few rows (an RGB
  // image going channels-last) interleave them directly, the row count a compile-time constant.
  void run_2d(const RunContext& ctx, const uint32_t* x, uint32_t* y) const {
    switch (rows_2d_) {
      case 2: return interleave<2>(ctx, x, y);
      case 3: return interleave<3>(ctx, x, y);
      case 4: return interleave<4>(ctx, x, y);
      default: break;
    }
    const size_t R = rows_2d_, C = cols_2d_, T = 32, tiles_c = (C + T - 1) / T;
    parallel(ctx, batch_ * tiles_c, 1, [&](size_t b, size_t e, int) {
      for (size_t t = b; t < e; ++t) {
        const size_t n = t / tiles_c, j0 = (t % tiles_c) * T, j1 = std::min(C, j0 + T);
        const uint32_t* xb = x + n * R * C;
        uint32_t* yb = y + n * R * C;
        for (size_t i0 = 0; i0 < R; i0 += T) {
          const size_t i1 = std::min(R, i0 + T);
          for (size_t j = j0; j < j1; ++j)
            for (size_t i = i0; i < i1; ++i) yb[j * R + i] = xb[i * C + j];
        }
      }
    });
  }

  template <size_t R>
  void interleave(const RunContext& ctx, const uint32_t* x, uint32_t* y) const {
    const size_t C = cols_2d_, chunk = 4096, chunks = (C + chunk - 1) / chunk;
    parallel(ctx, batch_ * chunks, 1, [&](size_t b, size_t e, int) {
      for (size_t t = b; t < e; ++t) {
        const size_t n = t / chunks, j0 = (t % chunks) * chunk, j1 = std::min(C, j0 + chunk);
        const uint32_t* xb = x + n * R * C;
        uint32_t* yb = y + n * R * C;
        for (size_t j = j0; j < j1; ++j)
          for (size_t i = 0; i < R; ++i) yb[j * R + i] = xb[i * C + j];
      }
    });
  }

  size_t batch_ = 0, rows_2d_ = 0, cols_2d_ = 0;
  std::vector<int64_t> perm_, src_strides_;
  Shape oshape_;
  size_t esize_ = 4, n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_transpose(const NodeContext& ctx) { return std::make_unique<Transpose>(ctx); }

}  // namespace pyrt::ops
