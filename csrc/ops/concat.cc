// Concat along an axis (dtype-agnostic), e.g. skip connections in U-Nets and channel concatenation.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Concat final : public Op {
 public:
  explicit Concat(const NodeContext& ctx) {
    if (ctx.num_inputs() < 1) ctx.fail("needs at least one input");
    if (!ctx.attr("axis")) ctx.fail("attribute 'axis' is required");
    axis_ = ctx.attr_int("axis", 0);
  }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& s0 = in[0].shape;
    const int64_t a = norm_axis(*this, axis_, s0.size());
    Shape o = s0;
    o[size_t(a)] = 0;
    sizes_.clear();
    for (const auto& d : in) {
      if (d.dtype != in[0].dtype) fail("inputs have different dtypes");
      if (d.shape.size() != s0.size()) fail("inputs have different ranks");
      for (size_t i = 0; i < s0.size(); ++i)
        if (int64_t(i) != a && d.shape[i] != s0[i])
          fail("input shapes " + shape_str(s0) + " and " + shape_str(d.shape) + " differ outside axis " + std::to_string(a));
      o[size_t(a)] += d.shape[size_t(a)];
    }
    esize_ = spec::dtype_size(in[0].dtype);
    outer_ = 1;
    for (int64_t i = 0; i < a; ++i) outer_ *= size_t(s0[size_t(i)]);
    size_t inner = 1;
    for (size_t i = size_t(a) + 1; i < s0.size(); ++i) inner *= size_t(s0[i]);
    for (const auto& d : in) sizes_.push_back(size_t(d.shape[size_t(a)]) * inner * esize_);
    row_ = size_t(o[size_t(a)]) * inner * esize_;
    out[0] = {o, in[0].dtype};
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    parallel(ctx, outer_, 1, [&](size_t b, size_t e, int) {
      for (size_t o = b; o < e; ++o) {
        uint8_t* dst = y + o * row_;
        for (size_t k = 0; k < in.size(); ++k) {
          if (sizes_[k]) std::memcpy(dst, static_cast<const uint8_t*>(in[k]) + o * sizes_[k], sizes_[k]);
          dst += sizes_[k];
        }
      }
    });
  }
  std::string kernel() const override { return "concat-memcpy"; }

 private:
  int64_t axis_;
  std::vector<size_t> sizes_;
  size_t outer_ = 1, row_ = 0, esize_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_concat(const NodeContext& ctx) { return std::make_unique<Concat>(ctx); }

}  // namespace pyrt::ops
