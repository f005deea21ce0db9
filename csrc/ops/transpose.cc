// Transpose with any permutation (dtype-agnostic: moves elements of 1, 2, 4 or 8 bytes).
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
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t r = oshape_.size();
    if (r == 0) return std::memcpy(y, x, esize_), void();
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
  std::string kernel() const override { return "transpose-ref"; }

 private:
  std::vector<int64_t> perm_, src_strides_;
  Shape oshape_;
  size_t esize_ = 4, n_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_transpose(const NodeContext& ctx) { return std::make_unique<Transpose>(ctx); }

}  // namespace pyrt::ops
