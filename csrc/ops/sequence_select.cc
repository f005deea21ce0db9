// SequenceSelect (runtime op; the exporter lowers ONNX sequences to it): the runtime has no sequence values, so
// a sequence built inside the graph (SequenceConstruct / SequenceEmpty / SequenceInsert / SequenceErase) and
// read by SequenceAt becomes one node that gets every tensor the sequence may hold (inputs 0..items-1) and every
// position (the inputs after them), replays the building steps on indices when the plan is made, and copies the
// selected tensor. The positions must be known then (constants, graph inputs read by value, or plan-time
// values): the output's shape is the selected tensor's, so it depends on them.
//
// Attribute `steps`: triples [kind, item, position input]: kind 0 appends `item`, 1 inserts `item` before the
// position, 2 erases at the position, 3 erases the last. Attribute `at`: the input holding the position read.
// Positions follow ONNX: -n..n-1 (insert: -n..n), negative counts from the end.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class SequenceSelect final : public Op {
 public:
  explicit SequenceSelect(const NodeContext& ctx) {
    items_ = ctx.attr_int("items", -1);
    steps_ = ctx.attr_ints("steps");
    at_ = ctx.attr_int("at", -1);
    const int64_t n = int64_t(ctx.num_inputs());
    if (items_ < 1 || items_ > n) ctx.fail("attribute 'items' must be in [1, " + std::to_string(n) + "]");
    if (steps_.size() % 3 != 0) ctx.fail("attribute 'steps' must hold triples");
    if (at_ < items_ || at_ >= n) ctx.fail("attribute 'at' must name a position input");
    for (size_t s = 0; s < steps_.size(); s += 3) {
      const int64_t kind = steps_[s], item = steps_[s + 1], pos = steps_[s + 2];
      if (kind < 0 || kind > 3) ctx.fail("unknown sequence step " + std::to_string(kind));
      if (kind <= 1 && (item < 0 || item >= items_)) ctx.fail("a sequence step names no item input");
      if ((kind == 1 || kind == 2) && (pos < items_ || pos >= n)) ctx.fail("a sequence step names no position input");
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!ctx.has_input(size_t(i))) ctx.fail("input " + std::to_string(i) + " is missing");
      if (i >= items_) positions_.push_back(IntsInput(ctx, size_t(i), "position", ""));
    }
  }
  bool plan_input(size_t i) const override { return int64_t(i) >= items_; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    auto position = [&](int64_t input) {
      const std::vector<int64_t>& v = positions_[size_t(input - items_)].at(*this, in);
      if (v.size() != 1) fail("a position must be a scalar, got " + std::to_string(v.size()) + " values");
      return v[0];
    };
    // Checks an ONNX position against a sequence of n (inserting: n + 1 places) and makes it non-negative.
    auto place = [&](int64_t p, size_t n, bool inserting) {
      const int64_t len = int64_t(n), hi = inserting ? len : len - 1;
      if (p < -len || p > hi)
        fail("position " + std::to_string(p) + " is outside a sequence of " + std::to_string(len) + " tensors");
      return size_t(p < 0 ? p + len : p);
    };
    std::vector<int64_t> seq;
    for (size_t s = 0; s < steps_.size(); s += 3) {
      const int64_t kind = steps_[s], item = steps_[s + 1];
      if (kind == 0) seq.push_back(item);
      if (kind == 1) seq.insert(seq.begin() + ptrdiff_t(place(position(steps_[s + 2]), seq.size(), true)), item);
      if (kind == 2) seq.erase(seq.begin() + ptrdiff_t(place(position(steps_[s + 2]), seq.size(), false)));
      if (kind == 3) {
        if (seq.empty()) fail("erasing from an empty sequence");
        seq.pop_back();
      }
    }
    selected_ = size_t(seq[place(position(at_), seq.size(), false)]);
    out[0] = in[selected_];
    out[0].value = nullptr;
    bytes_ = size_t(in[selected_].numel()) * spec::dtype_size(in[selected_].dtype);
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    if (bytes_) std::memcpy(out[0], in[selected_], bytes_);
  }
  std::string kernel() const override { return "select-ref"; }

 private:
  int64_t items_ = 0, at_ = 0;
  std::vector<int64_t> steps_;
  std::vector<IntsInput> positions_;
  size_t selected_ = 0, bytes_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_sequence_select(const NodeContext& ctx) { return std::make_unique<SequenceSelect>(ctx); }

}  // namespace pyrt::ops
