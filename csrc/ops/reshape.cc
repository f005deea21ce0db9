// Reshape, Flatten, Squeeze, Unsqueeze: the output is the input with another shape; no data moves (the
// planner makes the output share the input's buffer).
#include <algorithm>

#include "base/checked.h"
#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Reshape final : public Op {
 public:
  explicit Reshape(const NodeContext& ctx) : type_(ctx.node().op_type) {
    ctx.expect_inputs(1, 2);
    if (type_ == "Reshape") {
      ints_ = IntsInput(ctx, 1, "shape", "shape");
      allowzero_ = ctx.attr_int("allowzero", 0) != 0;
    } else if (type_ == "Flatten") {
      axis_ = ctx.attr_int("axis", 1);
    } else {  // Squeeze / Unsqueeze: axes as attribute (opset < 13) or constant input
      ints_ = IntsInput(ctx, 1, "axes", "axes");
      if (type_ == "Unsqueeze" && !ints_.present()) ctx.fail("Unsqueeze needs axes");
    }
  }
  bool is_alias() const override { return true; }
  bool plan_input(size_t i) const override { return i == 1; }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& x = in[0].shape;
    Shape o;
    if (type_ == "Reshape") spec_ = ints_.at(*this, in);
    else if (type_ != "Flatten") axes_ = ints_.at(*this, in);
    if (type_ == "Reshape") {
      int64_t infer_at = -1, known = 1;
      for (size_t i = 0; i < spec_.size(); ++i) {
        int64_t d = spec_[i];
        if (d == 0 && !allowzero_) {
          if (i >= x.size()) fail("shape entry 0 at position " + std::to_string(i) + " has no input dim to copy");
          d = x[i];
        }
        if (d == -1) {
          if (infer_at >= 0) fail("more than one -1 in shape");
          infer_at = int64_t(i);
          o.push_back(1);
          continue;
        }
        if (d < 0) fail("invalid shape entry " + std::to_string(d));
        o.push_back(d);
        uint64_t prod = 0;  // a shape read from a file or an input: its product may not fit
        if (!mul_ok(uint64_t(known), uint64_t(d), &prod) || prod > uint64_t(INT64_MAX))
          fail("shape " + shape_str(spec_) + " has more elements than can be addressed");
        known = int64_t(prod);
      }
      if (infer_at >= 0) {
        if (known == 0 || in[0].numel() % known) fail("cannot reshape " + shape_str(x) + " to " + shape_str(spec_));
        o[size_t(infer_at)] = in[0].numel() / known;
      }
    } else if (type_ == "Flatten") {
      const int64_t a = axis_ < 0 ? axis_ + int64_t(x.size()) : axis_;
      if (a < 0 || a > int64_t(x.size())) fail("axis " + std::to_string(axis_) + " out of range");
      int64_t outer = 1;
      for (int64_t i = 0; i < a; ++i) outer *= x[size_t(i)];
      o = {outer, outer ? in[0].numel() / outer : 0};
      if (!outer) { int64_t inner = 1; for (size_t i = size_t(a); i < x.size(); ++i) inner *= x[i]; o[1] = inner; }
    } else if (type_ == "Squeeze") {
      std::vector<bool> drop(x.size(), false);
      if (axes_.empty()) {
        for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
      } else {
        for (int64_t a : axes_) {
          const int64_t k = norm_axis(*this, a, x.size());
          if (x[size_t(k)] != 1) fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x[size_t(k)]));
          drop[size_t(k)] = true;
        }
      }
      for (size_t i = 0; i < x.size(); ++i)
        if (!drop[i]) o.push_back(x[i]);
    } else {  // Unsqueeze
      const size_t r = x.size() + axes_.size();
      std::vector<bool> ins(r, false);
      for (int64_t a : axes_) {
        const int64_t k = norm_axis(*this, a, r);
        if (ins[size_t(k)]) fail("repeated axis " + std::to_string(a));
        ins[size_t(k)] = true;
      }
      size_t j = 0;
      for (size_t i = 0; i < r; ++i) o.push_back(ins[i] ? 1 : x[j++]);
    }
    if (numel(o) != in[0].numel()) fail("cannot reshape " + shape_str(x) + " (" + std::to_string(in[0].numel()) +
                                        " elements) to " + shape_str(o));
    out[0] = {o, in[0].dtype};
    bytes_ = in[0].nbytes();
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    // Normally the planner aliases the buffers; copy only if it could not (e.g. an input read in place).
    if (out[0] != in[0]) std::copy_n(static_cast<const uint8_t*>(in[0]), bytes_, static_cast<uint8_t*>(out[0]));
  }
  std::string kernel() const override { return "alias"; }

 private:
  std::string type_;
  IntsInput ints_;
  std::vector<int64_t> spec_, axes_;
  int64_t axis_ = 1;
  bool allowzero_ = false;
  size_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_reshape(const NodeContext& ctx) { return std::make_unique<Reshape>(ctx); }

}  // namespace pyrt::ops
