// The operator interface. An operator is created once per node when a session is built (attributes checked,
// constant weights decoded and repacked), infers its output shapes when the plan is made, and then only runs.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/tensor.h"
#include "format/model.h"
#include "format/spec.h"
#include "kernels/dispatch.h"

namespace pyrt {

class ThreadPool;

// A constant input of a node (a graph value bound to a file tensor), as the op sees it at creation.
struct ConstTensor {
  TensorDesc desc;
  size_t tensor_index = 0;
  const Model* model = nullptr;  // set when the tensor is stored encoded (i8, i4, csr, lut, f16)
  // Dense tensors: into the mapping (zero copy). Encoded ones: decoded to desc.dtype on first use, once,
  // so that an op that computes on the stored encoding (int4 GEMV) never makes the f32 copy.
  const void* get() const {
    if (unchecked_) check();
    if (!data_) decode();
    return data_;
  }
  // What a plan and a run see: the data (checked on first use), or for a dense tensor no op reads, its place in
  // the mapping unchecked and untouched (its pages stay out of the resident set).
  const void* value() const { return !data_ ? nullptr : unread_ ? data_ : get(); }
  const float* f32() const { return static_cast<const float*>(get()); }
  const int64_t* i64() const { return static_cast<const int64_t*>(get()); }
  bool encoded() const { return model != nullptr; }
  bool decoded() const { return data_ != nullptr; }
  void set_dense(const void* p) { data_ = p; }
  // Dense in the file, its CRC checked by the first get(): a session checks (and so pages in) each weight when
  // the op that repacks it is made, not all of them at once before the first op.
  void set_stored(const Model* m, const void* p, size_t n) {
    check_model_ = m;
    unchecked_ = true;
    if (n) set_small(p, n);
    else set_dense(p);
  }
  void set_unread() const { unread_ = true; }
  // A small dense tensor (a bias, a norm, a scale): read in place while ops are made (most repack it), then
  // copied out of the mapping by copy_small() if some op reads it at run time, so that the file's pages around
  // it (the OS maps whole blocks on a fault, repacked weights among them) can leave the resident set. Copying
  // only then, not when the session starts, keeps the heap free of copies made and freed while ops are made.
  void set_small(const void* p, size_t n) {
    data_ = mapped_ = p;
    small_ = n;
  }
  void copy_small() const;
  bool copied() const { return copy_ != nullptr; }
  // Frees the decoded copy of an encoded tensor, or the copy of a small one (no op reads it any more: they made
  // their own forms of it); a copied one points into the mapping again.
  void release() const {
    if (copy_) {
      data_ = mapped_;
      copy_.reset();
      return;
    }
    if (!model) return;
    std::vector<uint8_t>().swap(owned_);
    data_ = nullptr;
  }

 private:
  void decode() const;
  void check() const;
  mutable const void* data_ = nullptr;
  const Model* check_model_ = nullptr;
  mutable bool unchecked_ = false, unread_ = false;
  mutable std::vector<uint8_t> owned_;
  const void* mapped_ = nullptr;
  size_t small_ = 0;
  mutable std::shared_ptr<void> copy_;  // 64-byte aligned, as tensors are in the file
};

// A weight form that only some plans need, e.g. an int4 or csr Linear weight decoded and packed for the f32
// GEMM when a plan has many rows. Declared when the op is created (NodeContext::deferred: its cache key and
// size), built by the op's prepare() when the session makes such a plan, through the model's shared cache (one
// copy for every session of the model), and counted with the arena and the KV caches against the session's
// memory cap (Op::prepare_bytes()).
template <typename T>
class Deferred {
 public:
  Deferred() = default;
  Deferred(const Model* model, std::string key, uint64_t bytes, std::function<T()> make)
      : model_(model), key_(std::move(key)), bytes_(bytes), make_(std::move(make)) {}
  bool declared() const { return model_ != nullptr; }
  bool built() const { return obj_ != nullptr; }
  uint64_t bytes() const { return bytes_; }
  const T& get() const { return *obj_; }
  void build() {
    if (obj_ || !model_) return;
    obj_ = std::static_pointer_cast<const T>(
        model_->shared(key_, [&]() -> std::shared_ptr<const void> { return std::make_shared<T>(make_()); }));
  }

 private:
  const Model* model_ = nullptr;
  std::string key_;
  uint64_t bytes_ = 0;
  std::function<T()> make_;
  std::shared_ptr<const T> obj_;
};

// What an op factory gets: the node, its attributes, its constant inputs, and error helpers that name the node.
class NodeContext {
 public:
  NodeContext(const Node& node, size_t index, const Model& model, std::vector<const ConstTensor*> consts,
              const kernels::Table& kt, bool decode_weights = false)
      : node_(node), index_(index), model_(model), consts_(std::move(consts)), kt_(kt),
        decode_weights_(decode_weights) {}
  // The kernel table this session uses (the best for the CPU, or the reference when forced).
  const kernels::Table& kernels() const { return kt_; }
  // SessionOptions::decode_weights: low-bit weights are decoded to f32 rather than run by the kernels that
  // quantize the activations (StoredLinear declines them).
  bool decode_weights() const { return decode_weights_; }
  const Node& node() const { return node_; }
  const Model& model() const { return model_; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(size_t i) const { return i < node_.inputs.size() && node_.inputs[i] != 0xFFFFFFFFu; }
  // The constant behind input i, or null when the input is computed at run time.
  const ConstTensor* const_input(size_t i) const { return i < consts_.size() ? consts_[i] : nullptr; }
  const ConstTensor& require_const(size_t i, const char* what) const;
  // ... and of this dtype (spec::DType)
  const ConstTensor& require_const(size_t i, const char* what, uint8_t dtype) const;

  const Attr* attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t dflt) const;
  float attr_float(const std::string& name, float dflt) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> dflt = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> dflt = {}) const;
  std::string attr_string(const std::string& name, const std::string& dflt) const;
  std::vector<std::string> attr_strings(const std::string& name) const;  // empty when absent

  // A weight-derived object (e.g. packed panels) shared with every other session of the model; `key` names
  // the transformation, the tensor index of input `input` and the kernel table are added to it.
  template <typename T, typename F>
  std::shared_ptr<const T> shared(size_t input, const std::string& key, F make) const {
    return std::static_pointer_cast<const T>(model_.shared(
        shared_key(input, key), [&]() -> std::shared_ptr<const void> { return std::make_shared<T>(make()); }));
  }
  // A packed form of a weight (GEMM panels, a kernel's own layout) that a file may carry pre-packed (SPEC §6.6,
  // layout kLayoutPacked, param = layout_param(key + "|" + layout)): read in place from the mapping when the
  // tensor has that layout and `view` accepts its bytes, else made by `make`; shared as shared() does. `layout`
  // names the arrangement (e.g. the tile), so one stored form serves every table that reads it. T has bytes() and
  // size() (what a file stores); view(const uint8_t*, uint64_t) returns a std::unique_ptr<T> over them, or null.
  template <typename T, typename F, typename V>
  std::shared_ptr<const T> packed(size_t input, const std::string& key, const std::string& layout, F make, V view) const {
    const uint32_t ti = require_const(input, "weight").tensor_index;
    const std::string lkey = key + "|" + layout;
    const uint32_t param = layout_param(lkey);
    auto r = std::static_pointer_cast<const T>(model_.shared(shared_key(input, key), [&]() -> std::shared_ptr<const void> {
      uint64_t size = 0;
      std::shared_ptr<const T> t;
      if (const uint8_t* p = model_.layout(ti, spec::kLayoutPacked, param, &size)) t = view(p, size);
      const bool from_file = t != nullptr;
      if (!from_file) t = std::make_shared<const T>(make());
      note_packed(ti, param, lkey, t, t->bytes(), t->size(), from_file);
      return t;
    }));
    if (model_.contains(r->bytes())) layout_bytes_ += r->size();
    return r;
  }
  // Bytes of pre-packed layouts the ops made so far read in place (resident when they run).
  uint64_t layout_bytes() const { return layout_bytes_; }
  static uint32_t layout_param(const std::string& layout_key);

  // The same object, declared now and built only when a plan needs it (see Deferred). `make` outlives this
  // context: it may capture the op and its constants, not the context.
  template <typename T>
  Deferred<T> deferred(size_t input, const std::string& key, uint64_t bytes, std::function<T()> make) const {
    return Deferred<T>(&model_, shared_key(input, key), bytes, std::move(make));
  }

  std::string where() const;  // "node 'conv1' (Conv)"
  // The cache key of a weight-derived object: the transformation, the tensor behind input `input` and the
  // kernel table (its variant name and GEMM tile: reference tables of different tiles share the name "ref").
  std::string shared_key(size_t input, const std::string& key) const;
  [[noreturn]] void fail(const std::string& msg) const { pyrt::fail(Status::kInvalidArgument, where() + ": " + msg); }
  void expect_inputs(size_t lo, size_t hi) const;

 private:
  const Node& node_;
  size_t index_;
  const Model& model_;
  std::vector<const ConstTensor*> consts_;
  const kernels::Table& kt_;
  bool decode_weights_ = false;
  mutable uint64_t layout_bytes_ = 0;
  void note_packed(uint32_t tensor, uint32_t param, const std::string& lkey, std::shared_ptr<const void> keep,
                   const void* data, size_t size, bool from_file) const;
};

struct RunContext {
  ThreadPool* pool = nullptr;
  void* workspace = nullptr;  // workspace_bytes() of this node, 64-byte aligned
  int threads = 1;
  // Bytes the ops' carried state (KV caches) may still grow by in this run: the session's memory cap minus its
  // arena and all the state already held, shared by every op of the session (ops run one after the other).
  uint64_t* state_room = nullptr;
};

class Op {
 public:
  virtual ~Op() = default;
  // Output descriptions from input descriptions (inputs that are absent have an empty desc with dtype 0).
  virtual void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) = 0;
  virtual void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) = 0;
  // Scratch needed by run() for these shapes (bytes); the arena provides it.
  virtual size_t workspace_bytes(const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out,
                                 int threads) const {
    (void)in, (void)out, (void)threads;
    return 0;
  }
  // Output 0 may be written over input i (same size, elementwise): lets the planner reuse its buffer.
  virtual int inplace_input() const { return -1; }
  // Output 0 is input 0 reinterpreted (Reshape, Flatten, Squeeze...): no data is moved.
  virtual bool is_alias() const { return false; }
  // The kernel the plan chose, for describe() and profiling, e.g. "gemm-6x16-avx2".
  virtual std::string kernel() const { return "ref"; }
  // False for a constant input the op does not read at run time (it computes on the stored encoding):
  // the session then leaves that constant undecoded.
  virtual bool reads_input(size_t /*i*/) const { return true; }
  // Whether run() reads constant input i's bytes in the file (the mapping): a dense constant it reads, or an
  // encoded one it computes on as stored (int4 nibbles, embedding rows). A constant that no op of a session reads
  // or reads as stored (every op packed or decoded its own form of it when created) leaves the resident set.
  virtual bool reads_stored(size_t i) const { return reads_input(i); }
  // Input i is read by infer() (a shape, axes, starts, scales, K): its data must be known when the plan is
  // made. When it comes from a graph input, the session plans on that input's values (and plans again when
  // they change).
  virtual bool plan_input(size_t /*i*/) const { return false; }
  // Whether the op takes or gives string tensors (spec::kString: 16-byte StringRef handles). Only ops that move
  // elements by bytes or compute on text say yes; the session refuses a string tensor at any other op when it
  // plans, naming the node, so no op reads handles as numbers.
  virtual bool takes_strings() const { return false; }

  // State carried from one run to the next (a KV cache): run() writes the new step's state and commit_state()
  // keeps it once the whole graph has run, so a run that fails part-way leaves the state as it was.
  virtual void commit_state() {}
  virtual void reset_state() {}
  // Tokens held in the state, and the most it can hold (0, 0 for stateless ops).
  virtual int64_t state_tokens() const { return 0; }
  virtual int64_t state_capacity() const { return 0; }
  virtual uint64_t state_bytes() const { return 0; }  // memory the state holds

  // Weights the current plan needs beyond those made at creation (Deferred): after infer(), the session
  // counts prepare_bytes() (what they hold once built) against its memory cap, then calls prepare().
  virtual uint64_t prepare_bytes() const { return 0; }
  virtual void prepare() {}

  // Set by the session: error messages name the node.
  std::string where;
  [[noreturn]] void fail(const std::string& msg) const { pyrt::fail(Status::kInvalidArgument, where + ": " + msg); }
};

using OpFactory = std::unique_ptr<Op> (*)(const NodeContext&);

// csrc/ops/registry.cc: one line per operator.
OpFactory find_op(const std::string& op_type);
std::vector<std::string> supported_ops();

}  // namespace pyrt
