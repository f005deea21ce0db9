// Gather (Embedding): out = data indexed along `axis` by integer indices (i32 or i64, negative allowed).
// Indices are checked at run time: an out-of-range index is an error naming the node, never a wild read.
// A constant 2-D f32 table stored int8/int4 (a quantized embedding, often shared with the LM head) gathered
// along axis 0 is read a row at a time from its stored encoding: the f32 table is never made.
// A large constant table (an embedding of a vocabulary) read from the file is given back to the OS after each
// run (Model::release_pages): a few rows are read, but a fault maps a whole block of the file around each, and
// the table would end up resident, beside the LM head's packed copy of the same weights.
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {
namespace {

class Gather final : public Op {
 public:
  explicit Gather(const NodeContext& ctx) {
    ctx.expect_inputs(2, 2);
    axis_ = ctx.attr_int("axis", 0);
    const ConstTensor* d = ctx.const_input(0);
    if (d && d->encoded() && ctx.model().decodes_rows(d->tensor_index) && (axis_ == 0 || axis_ == -2)) {
      ctx.model().check_tensor(d->tensor_index);  // the deferred checks a decode would have made
      rows_ = d;
    }
    if (d && ctx.model().mapped() && !d->copied() && ctx.model().tensors()[d->tensor_index].nbytes() >= kGiveBack)
      table_ = d, model_ = &ctx.model();
  }
  bool reads_input(size_t i) const override { return !(i == 0 && rows_); }
  bool takes_strings() const override { return true; }  // moves elements by bytes
  bool reads_stored(size_t i) const override { return reads_input(i) || (i == 0 && rows_); }  // rows decoded per run
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    const Shape& d = in[0].shape;
    if (in[1].dtype != spec::kI64 && in[1].dtype != spec::kI32) fail("indices must be i32 or i64");
    if (d.empty()) fail("data must have rank >= 1");
    const int64_t a = norm_axis(*this, axis_, d.size());
    Shape o(d.begin(), d.begin() + a);
    o.insert(o.end(), in[1].shape.begin(), in[1].shape.end());
    o.insert(o.end(), d.begin() + a + 1, d.end());
    outer_ = 1, inner_ = 1;
    for (int64_t i = 0; i < a; ++i) outer_ *= size_t(d[size_t(i)]);
    for (size_t i = size_t(a) + 1; i < d.size(); ++i) inner_ *= size_t(d[i]);
    dim_ = d[size_t(a)];
    nidx_ = size_t(in[1].numel());
    i64_ = in[1].dtype == spec::kI64;
    esize_ = spec::dtype_size(in[0].dtype);
    out[0] = {o, in[0].dtype};
  }
  void run(const RunContext&, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    const size_t row = inner_ * esize_;
    for (size_t k = 0; k < nidx_; ++k) {
      int64_t idx = i64_ ? static_cast<const int64_t*>(in[1])[k] : static_cast<const int32_t*>(in[1])[k];
      if (idx < 0) idx += dim_;
      if (idx < 0 || idx >= dim_)
        fail("index " + std::to_string(idx) + " out of range for a dimension of size " + std::to_string(dim_));
      if (rows_) {  // axis 0: outer_ is 1
        rows_->model->decode_row(rows_->tensor_index, uint64_t(idx), reinterpret_cast<float*>(y + k * row));
        continue;
      }
      for (size_t o = 0; o < outer_; ++o)
        std::memcpy(y + (o * nidx_ + k) * row, x + (o * size_t(dim_) + size_t(idx)) * row, row);
    }
    if (table_) model_->release_pages(table_->tensor_index);
  }
  std::string kernel() const override { return rows_ ? "gather-decode-rows" : "gather-memcpy"; }

 private:
  int64_t axis_, dim_ = 0;
  size_t outer_ = 1, inner_ = 1, nidx_ = 0, esize_ = 4;
  bool i64_ = true;
  const ConstTensor* rows_ = nullptr;  // a table read from its encoding, a row per index
  static constexpr uint64_t kGiveBack = uint64_t(1) << 20;  // tables this large give their pages back each run
  const ConstTensor* table_ = nullptr;  // ... this one
  const Model* model_ = nullptr;
};

}  // namespace

std::unique_ptr<Op> make_gather(const NodeContext& ctx) { return std::make_unique<Gather>(ctx); }

}  // namespace pyrt::ops
