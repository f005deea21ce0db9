// Conv and ConvTranspose whose weight (or bias) is not a constant: a graph input, read when the plan is made.
// The weight is copied then and the ordinary op (2-D or 3-D, picked by the weight's rank) is created on the
// copy, so that it packs it as it packs a constant; it is made again only when the weight's values change.
// A 1-D one (3-D weight) runs as 2-D over a height of 1.
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
    for (size_t i = 1; i <= 2; ++i) {  // what the file declares, refused now as a constant would be
      const ValueInfo* v = rt_[i] ? declared_input(ctx, i) : nullptr;
      if (v && v->dtype && v->dtype != spec::kF32)
        ctx.fail(std::string(i == 1 ? "weight" : "bias") + " must be f32, got " + spec::dtype_name(v->dtype));
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
    if (!one_d_) return op_->infer(in, out);
    // 1-D: run as 2-D on [N, C, 1, L] (the same memory), as the exporter lifts a constant-weight 1-D conv
    in4_ = in;
    for (size_t i = 0; i < 2; ++i) {
      if (in4_[i].shape.size() != 3) fail("a 1-D convolution needs a 3-D input and weight, got " + shape_str(in4_[i].shape));
      in4_[i].shape.insert(in4_[i].shape.begin() + 2, 1);
    }
    out4_.assign(out.size(), TensorDesc{});
    op_->infer(in4_, out4_);
    out = out4_;
    for (auto& o : out) o.shape.erase(o.shape.begin() + 2);
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    op_->run(ctx, in, out);
  }
  size_t workspace_bytes(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out, int threads) const override {
    if (!op_) return 0;
    return one_d_ ? op_->workspace_bytes(in4_, out4_, threads) : op_->workspace_bytes(in, out, threads);
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
      if (i == 1 && in[1].shape.size() == 3) copy[i]->desc.shape.insert(copy[i]->desc.shape.begin() + 2, 1);
      copy[i]->tensor_index = size_t(next_copy_index++);
      copy[i]->set_dense(data[i].data());
      consts[i] = copy[i].get();
    }
    const TensorDesc& w = rt_[1] ? in[1] : cst_[1]->desc;
    const bool is3d = w.shape.size() == 5;
    one_d_ = w.shape.size() == 3 && rt_[1];
    if (one_d_ && !node1d_) node1d_ = std::make_unique<Node>(lift_1d(node_));
    NodeContext ctx(one_d_ ? *node1d_ : node_, index_, model_, consts, kt_);
    std::unique_ptr<Op> op = transpose_ ? (is3d ? make_conv_transpose3d(ctx) : make_conv_transpose(ctx))
                                        : (is3d ? make_conv3d(ctx) : make_conv(ctx));
    op->where = where;
    op_ = std::move(op);
    for (size_t i = 1; i <= 2; ++i) copy_[i] = std::move(copy[i]), data_[i] = std::move(data[i]);  // buffers move along
  }

  // The node with its 1-D attributes made 2-D (a leading 1, or 0 for pads and output_padding).
  static Node lift_1d(const Node& n) {
    Node r = n;
    for (Attr& a : r.attrs) {
      if (a.ints.size() != 1 && !(a.name == "pads" && a.ints.size() == 2)) continue;
      if (a.name == "kernel_shape" || a.name == "strides" || a.name == "dilations" || a.name == "output_shape")
        a.ints.insert(a.ints.begin(), 1);
      else if (a.name == "output_padding")
        a.ints.insert(a.ints.begin(), 0);
      else if (a.name == "pads")
        a.ints = {0, a.ints[0], 0, a.ints[1]};
    }
    return r;
  }

  const Node& node_;
  std::unique_ptr<Node> node1d_;
  bool one_d_ = false;
  std::vector<TensorDesc> in4_, out4_;  // the 1-D case's descriptions as 2-D
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
