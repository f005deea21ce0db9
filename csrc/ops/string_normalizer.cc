// StringNormalizer (ONNX): drops the elements of a [C] or [1, C] string tensor that are stopwords, then lower- or
// upper-cases the rest. When every element is dropped the output is one empty string ([1] or [1, 1]).
// How many elements remain depends on x's values, and the planner sizes every tensor first: x is read when the
// plan is made (plan_input), so a graph input feeding it is read by value and a run with other strings plans
// again. Case mapping and the case-insensitive stopword match are ASCII only (other bytes pass unchanged);
// locales other than "", C / POSIX and en_* are refused rather than mapped wrongly (Turkish dotless i, ...).
#include <set>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

std::string ascii_case(std::string s, int to) {  // to: -1 lower, +1 upper
  for (char& c : s) {
    if (to < 0 && c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (to > 0 && c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  }
  return s;
}

bool ascii_locale(const std::string& l) {
  return l.empty() || l == "C" || l == "POSIX" || l.rfind("en_", 0) == 0 || l.rfind("C.", 0) == 0;
}

class StringNormalizer final : public Op {
 public:
  explicit StringNormalizer(const NodeContext& ctx) {
    ctx.expect_inputs(1, 1);
    const std::string act = ctx.attr_string("case_change_action", "NONE");
    if (act == "LOWER") case_ = -1;
    else if (act == "UPPER") case_ = 1;
    else if (act != "NONE") ctx.fail("case_change_action must be NONE, LOWER or UPPER, got '" + act + "'");
    sensitive_ = ctx.attr_int("is_case_sensitive", 0) != 0;
    const std::string locale = ctx.attr_string("locale", "");
    if (!ascii_locale(locale))
      pyrt::fail(Status::kUnsupported, ctx.where() + ": locale '" + locale + "': only ASCII case mapping is "
                                                     "implemented (locale \"\", C or en_*)");
    for (const std::string& w : ctx.attr_strings("stopwords")) stops_.insert(sensitive_ ? w : ascii_case(w, -1));
  }
  bool plan_input(size_t i) const override { return i == 0; }
  bool takes_strings() const override { return true; }

  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const TensorDesc& x = in[0];
    if (x.dtype != spec::kString) fail(std::string("x must be a string tensor, got ") + spec::dtype_name(x.dtype));
    if (!(x.shape.size() == 1 || (x.shape.size() == 2 && x.shape[0] == 1)))
      fail("x must have shape [C] or [1, C], got " + shape_str(x.shape));
    const StringRef* s = plan_strings(*this, x, "x (the output's length depends on its strings)");
    n_ = size_t(x.numel());
    kept_ = count_kept(s, n_);
    Shape o = x.shape;
    o.back() = int64_t(std::max<size_t>(kept_, 1));
    out[0] = {o, spec::kString};
  }

  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const StringRef* x = static_cast<const StringRef*>(in[0]);
    const size_t n = n_;
    // The session plans again whenever x changes; checked anyway, as the output was sized by the plan.
    if (count_kept(x, n) != kept_) fail("x differs from the strings the plan was made with");
    // Outputs point into text_, which lives until this op runs again: built whole first, as moving a short
    // std::string moves its bytes.
    text_.clear();
    for (size_t i = 0; i < n; ++i)
      if (!stopword(x[i])) text_.push_back(case_ ? ascii_case(str(x[i]), case_) : str(x[i]));
    if (text_.empty()) text_.emplace_back();
    StringRef* y = static_cast<StringRef*>(out[0]);
    for (size_t i = 0; i < text_.size(); ++i) y[i] = {text_[i].data(), text_[i].size()};
  }
  std::string kernel() const override { return "string-normalizer-ascii"; }

 private:
  static std::string str(const StringRef& r) { return r.size ? std::string(r.data, size_t(r.size)) : std::string(); }
  bool stopword(const StringRef& r) const {
    return !stops_.empty() && stops_.count(sensitive_ ? str(r) : ascii_case(str(r), -1));
  }
  size_t count_kept(const StringRef* x, size_t n) const {
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) k += !stopword(x[i]);
    return k;
  }

  int case_ = 0;
  bool sensitive_ = false;
  std::set<std::string> stops_;  // folded to lower case unless is_case_sensitive
  size_t kept_ = 0, n_ = 0;
  std::vector<std::string> text_;
};

}  // namespace

std::unique_ptr<Op> make_string_normalizer(const NodeContext& ctx) { return std::make_unique<StringNormalizer>(ctx); }

}  // namespace pyrt::ops
