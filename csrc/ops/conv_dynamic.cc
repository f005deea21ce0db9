// Conv and ConvTranspose whose weight (or bias) is not a constant: a graph input, read when the plan is made.
// The weight is copied then and the ordinary op (2-D or 3-D, picked by the weight's rank) is created on the
// copy, so that it packs it as it packs a constant; it is made again only when the weight's values change.
// Constant weights never come here (registry.cc): their ops are created once, at load, as before.
#include <atomic>
#include <cstring>

#include "ops/common.h"

namespace pyrt::ops {

std::unique_ptr<Op> make_conv(const NodeContext&);
std::unique_ptr<Op> make_conv3d(const NodeContext&);
std::unique_ptr<Op> make_conv_transpose(const NodeContext&);
std::unique_ptr<Op> make_conv_transpose3d(const NodeContext&);

namespace {

// Tensor indices for the copies' ConstTensor: far above any file's, and new for every copy, so that the
// model's cache of packed weights (keyed by tensor index, held weakly) never hands out a stale packing.
std::atomic<uint64_t> next_copy_index{uint64_t(1) << 48};

class ConvRuntimeWeight final : public Op {
 public:
  explicit ConvRuntimeWeight(const NodeContext& ctx)
      : node_(ctx.node()), model_(ctx.model()), kt_(ctx.kernels()), transpose_(ctx.node().op_type == "ConvTranspose") {
    ctx.expect_inputs(2, 3);
    const Graph* g = ctx.model().graph();
    index_ = g && &ctx.node() >= g->nodes.data() && &ctx.node() < g->nodes.data() + g->nodes.size()
                 ? size_t(&ctx.node() - g->nodes.data()) : 0;
    for (size_t i = 1; i <= 2; ++i) {
      cst_[i] = ctx.const_input(i);
      rt_[i] = ctx.has_input(i) && !cst_[i];
    }
  }
  bool plan_input(size_t i) const override { return i < 3 && rt_[i]; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    bool changed = !op_;
    for (size_t i = 1; i <= 2; ++i) {
      if (!rt_[i]) continue;
      const TensorDesc& d = in[i];
      if (!d.value)
        fail(std::string(i == 1 ? "weight" : "bias") + " must be known when the plan is made: a constant or a graph "
             "input (here it depends on the data of a run)");
      const size_t n = size_t(d.nbytes());
      if (!changed && (d.shape != copy_[i]->desc.shape || d.dtype != copy_[i]->desc.dtype || n != data_[i].size() ||
                       std::memcmp(d.value, data_[i].data(), n) != 0))
        changed = true;
    }
    if (changed) rebuild(in);
    op_->infer(in, out);
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    op_->run(ctx, in, out);
  }
  size_t workspace_bytes(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out, int threads) const override {
    return op_ ? op_->workspace_bytes(in, out, threads) : 0;
  }
  int inplace_input() const override { return op_ ? op_->inplace_input() : -1; }
  std::string kernel() const override { return op_ ? op_->kernel() : "ref"; }
  uint64_t prepare_bytes() const override { return op_ ? op_->prepare_bytes() : 0; }
  void prepare() override {
    if (op_) op_->prepare();
  }

 private:
  void rebuild(const std::vector<TensorDesc>& in) {
    // new copies first: the op being replaced points into the old ones until it is gone
    std::unique_ptr<ConstTensor> copy[3];
    std::vector<uint8_t> data[3];
    std::vector<const ConstTensor*> consts(node_.inputs.size(), nullptr);
    for (size_t i = 1; i <= 2 && i < consts.size(); ++i) {
      if (!rt_[i]) {
        consts[i] = cst_[i];
        continue;
      }
      const uint8_t* p = static_cast<const uint8_t*>(in[i].value);
      data[i].reserve(size_t(in[i].nbytes()) + 64);  // slack for kernels' vector loads past the end
      data[i].assign(p, p + in[i].nbytes());
      copy[i] = std::make_unique<ConstTensor>();
      copy[i]->desc = {in[i].shape, in[i].dtype};
      copy[i]->tensor_index = size_t(next_copy_index++);
      copy[i]->set_dense(data[i].data());
      consts[i] = copy[i].get();
    }
    const TensorDesc& w = rt_[1] ? in[1] : cst_[1]->desc;
    const bool is3d = w.shape.size() == 5;
    NodeContext ctx(node_, index_, model_, consts, kt_);
    std::unique_ptr<Op> op = transpose_ ? (is3d ? make_conv_transpose3d(ctx) : make_conv_transpose(ctx))
                                        : (is3d ? make_conv3d(ctx) : make_conv(ctx));
    op->where = where;
    op_ = std::move(op);
    for (size_t i = 1; i <= 2; ++i) copy_[i] = std::move(copy[i]), data_[i] = std::move(data[i]);  // buffers move along
  }

  const Node& node_;
  const Model& model_;
  const kernels::Table& kt_;
  bool transpose_;
  size_t index_ = 0;
  bool rt_[3] = {false, false, false};
  const ConstTensor* cst_[3] = {nullptr, nullptr, nullptr};
  std::unique_ptr<ConstTensor> copy_[3];  // at fixed addresses: the op may keep pointers to them
  std::vector<uint8_t> data_[3];
  std::unique_ptr<Op> op_;
};

}  // namespace

std::unique_ptr<Op> make_conv_runtime_weight(const NodeContext& ctx) { return std::make_unique<ConvRuntimeWeight>(ctx); }

}  // namespace pyrt::ops
