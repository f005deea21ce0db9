// Split along an axis into several outputs.
#include <algorithm>
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

// Split into several outputs along an axis: sizes from the `split` input/attribute, else equal parts.
class Split final : public Op {
 public:
  explicit Split(const NodeContext& ctx) {
    ctx.expect_inputs(1, 2);
    axis_ = ctx.attr_int("axis", 0);
    split_in_ = IntsInput(ctx, 1, "split", "split");
    nout_ = ctx.num_outputs();
  }
  bool plan_input(size_t i) const override { return i == 1; }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    split_ = split_in_.at(*this, in);
    if (!split_.empty() && split_.size() != nout_) fail("split has " + std::to_string(split_.size()) +
                                                         " sizes for " + std::to_string(nout_) + " outputs");
    const Shape& x = in[0].shape;
    const int64_t a = norm_axis(*this, axis_, x.size());
    std::vector<int64_t> sz = split_;
    if (sz.empty()) {
      const int64_t n = x[size_t(a)], part = (n + int64_t(nout_) - 1) / int64_t(nout_);
      for (size_t k = 0; k < nout_; ++k) sz.push_back(std::max<int64_t>(0, std::min(part, n - int64_t(k) * part)));
    }
    int64_t total = 0;
    for (int64_t s : sz) total += s;
    if (total != x[size_t(a)]) fail("split sizes add up to " + std::to_string(total) + ", the axis has " + std::to_string(x[size_t(a)]));
    esize_ = spec::dtype_size(in[0].dtype);
    outer_ = 1, inner_ = 1;
    for (int64_t i = 0; i < a; ++i) outer_ *= size_t(x[size_t(i)]);
    for (size_t i = size_t(a) + 1; i < x.size(); ++i) inner_ *= size_t(x[i]);
    bytes_.clear();
    for (size_t k = 0; k < nout_; ++k) {
      Shape o = x;
      o[size_t(a)] = sz[k];
      out[k] = {o, in[0].dtype};
      bytes_.push_back(size_t(sz[k]) * inner_ * esize_);
    }
    row_ = size_t(x[size_t(a)]) * inner_ * esize_;
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    for (size_t o = 0; o < outer_; ++o) {
      const uint8_t* src = x + o * row_;
      for (size_t k = 0; k < nout_; ++k) {
        if (bytes_[k]) std::memcpy(static_cast<uint8_t*>(out[k]) + o * bytes_[k], src, bytes_[k]);
        src += bytes_[k];
      }
    }
  }
  std::string kernel() const override { return "split-memcpy"; }

 private:
  int64_t axis_;
  std::vector<int64_t> split_;
  IntsInput split_in_;
  size_t nout_, esize_ = 4, outer_ = 1, inner_ = 1, row_ = 0;
  std::vector<size_t> bytes_;
};

}  // namespace

std::unique_ptr<Op> make_split(const NodeContext& ctx) { return std::make_unique<Split>(ctx); }

}  // namespace pyrt::ops
