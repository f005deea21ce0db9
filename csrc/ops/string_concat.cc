// StringConcat (ONNX): y = x + y, the strings joined element by element, with numpy broadcasting. The joined
// bytes are the op's own, valid until it runs again (the session's outputs live until the next run).
#include "ops/typed.h"

namespace pyrt::ops {
namespace {

class StringConcat final : public Op {
 public:
  explicit StringConcat(const NodeContext& ctx) { ctx.expect_inputs(2, 2); }
  bool takes_strings() const override { return true; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    for (size_t i = 0; i < 2; ++i)
      if (in[i].dtype != spec::kString)
        fail(std::string(i ? "Y" : "X") + " must be a string tensor, got " + spec::dtype_name(in[i].dtype));
    walk_.plan(*this, {in[0].shape, in[1].shape});
    out[0] = {walk_.out, spec::kString};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const StringRef* a = static_cast<const StringRef*>(in[0]);
    const StringRef* b = static_cast<const StringRef*>(in[1]);
    text_.assign(size_t(numel(walk_.out)), std::string());
    walk_.run([&](int64_t o, const int64_t* off) {
      std::string& t = text_[size_t(o)];
      t.append(a[off[0]].data ? a[off[0]].data : "", size_t(a[off[0]].size));
      t.append(b[off[1]].data ? b[off[1]].data : "", size_t(b[off[1]].size));
    });
    // handles only once every string is built: text_ does not move any more
    StringRef* y = static_cast<StringRef*>(out[0]);
    for (size_t i = 0; i < text_.size(); ++i) y[i] = {text_[i].data(), text_[i].size()};
  }
  std::string kernel() const override { return "string-concat"; }

 private:
  BroadcastWalk walk_;
  std::vector<std::string> text_;
};

}  // namespace

std::unique_ptr<Op> make_string_concat(const NodeContext& ctx) { return std::make_unique<StringConcat>(ctx); }

}  // namespace pyrt::ops
