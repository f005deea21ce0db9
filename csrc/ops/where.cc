// Where (ONNX): y = cond ? x : y elementwise, cond bool, x and y of one element type, numpy broadcasting of
// all three. Elements are copied as bytes, so every element type works alike.
#include <cstring>

#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class Where final : public Op {
 public:
  explicit Where(const NodeContext& ctx) { ctx.expect_inputs(3, 3); }
  bool takes_strings() const override { return true; }  // copies elements by bytes
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    if (in[0].dtype != spec::kBool) fail(std::string("condition must be bool, got ") + spec::dtype_name(in[0].dtype));
    if (in[1].dtype != in[2].dtype)
      fail(std::string("X and Y must have one element type, got ") + spec::dtype_name(in[1].dtype) + " and " +
           spec::dtype_name(in[2].dtype));
    walk_.plan(*this, {in[0].shape, in[1].shape, in[2].shape});
    size_ = spec::dtype_size(in[1].dtype);
    out[0] = {walk_.out, in[1].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* c = static_cast<const uint8_t*>(in[0]);
    const uint8_t* x = static_cast<const uint8_t*>(in[1]);
    const uint8_t* y = static_cast<const uint8_t*>(in[2]);
    uint8_t* r = static_cast<uint8_t*>(out[0]);
    const size_t n = size_;
    walk_.run([&](int64_t o, const int64_t* off) {
      std::memcpy(r + size_t(o) * n, c[off[0]] ? x + size_t(off[1]) * n : y + size_t(off[2]) * n, n);
    });
  }
  std::string kernel() const override { return "where-ref"; }

 private:
  BroadcastWalk walk_;
  size_t size_ = 4;
};

}  // namespace

std::unique_ptr<Op> make_where(const NodeContext& ctx) { return std::make_unique<Where>(ctx); }

}  // namespace pyrt::ops
