// A session runs one model's graph: ops created once, a plan (shapes, arena offsets) made for each new set of
// input shapes and cached, and run() that only executes. One session per thread; many sessions may share one
// Model (its mapped weights are shared, read-only).
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/op.h"
#include "core/tensor.h"
#include "compute/thread_pool.h"
#include "format/model.h"
#include "kernels/dispatch.h"

namespace pyrt {

struct SessionOptions {
  int num_threads = 0;         // 0: one per hardware thread
  bool force_reference = false;
  // A kernel table by name (kernels::table_by_name: one this CPU runs, or "ref"); empty: the usual choice.
  std::string kernels;
  bool profile = false;        // time every node (adds two clock reads per node)
  // The most the activation arena plus the ops' state (KV caches) may take (0: PYRT_MAX_ARENA_BYTES, else 4 GiB). With static input
  // shapes the plan is made when the session is created, so a model over the cap fails there, not at run.
  uint64_t max_arena_bytes = 0;
  // Low-bit weights (int8-weights, int4, i8g, lut) decoded to f32 at load and multiplied in f32, instead of
  // by the kernels that quantize the activations to int8: f32 arithmetic throughout, at the memory of f32
  // weights. For accuracy checks (a converted file against its source model), as ONNX Runtime's MatMulNBits
  // accuracy_level 0 is.
  bool decode_weights = false;
};

struct NodeReport {
  std::string name, op_type, kernel;
  std::vector<Shape> output_shapes;  // from the current plan (empty before the first plan)
  double total_ms = 0;               // with SessionOptions::profile: time spent in this node over all runs
  uint64_t runs = 0;
  // Its constant inputs: bytes in the file, and the memory making the op kept (decoded or repacked weights;
  // -1 where the C library cannot say, e.g. not glibc) plus the stored bytes it reads at run time.
  uint64_t stored_bytes = 0;
  int64_t resident_bytes = 0;
  uint64_t prepacked_bytes = 0;  // of those, the file's pre-packed forms its op reads in place (SPEC §6.6)
};

class Session {
 public:
  Session(std::shared_ptr<const Model> model, SessionOptions opts = {});
  ~Session();

  const Model& model() const { return *model_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  const IoDesc& input(size_t i) const;
  const IoDesc& output(size_t i) const;

  // Plans for these input shapes (validated against the model) and returns the output descriptions.
  std::vector<TensorDesc> plan(const std::vector<Shape>& input_shapes);
  // Runs with caller-owned inputs (dtypes as declared, C-contiguous). Output buffers are owned by the session
  // and valid until the next run(); output_descs() describes them.
  void run(const std::vector<const void*>& inputs, const std::vector<Shape>& input_shapes);
  const void* output_data(size_t i) const;
  const TensorDesc& output_desc(size_t i) const;

  // Models with state (a transformer's KV cache): each run() continues the sequence the previous runs
  // started; reset_state() starts a new one. context_length() is the tokens held, max_context() the most the
  // model's caches take (the smallest of them; 0 for stateless models).
  void reset_state();
  int64_t context_length() const;
  int64_t max_context() const;

  std::vector<NodeReport> describe() const;
  size_t arena_bytes() const { return arena_size_; }
  // Memory the ops' carried state holds now (KV caches), and the weight forms the current plan built (Deferred).
  uint64_t state_bytes() const;
  uint64_t prepared_bytes() const;
  int threads() const { return pool_.size(); }
  const char* isa() const;

 private:
  // How the ops made so far use one constant (see Session::ConstUse::done).
  struct ConstUse {
    size_t left = 0;                       // uses whose op is not made yet
    bool reads = false, stored = false;    // some op reads it at run time / reads its stored bytes
    bool counted = false;                  // its bytes are reported at an op (describe)
    void note(const Op& op, size_t i, const ConstTensor& c);
    void done(const ConstTensor& c, const Model& model) const;
  };
  struct ValueSlot {
    enum Kind { kUnused, kInput, kConst, kArena, kPlan } kind = kUnused;
    TensorDesc desc;
    const void* plan_data = nullptr;  // kPlan: computed when the plan was made (plan_values_)
    size_t input_index = 0;      // kInput
    const ConstTensor* cst = nullptr;  // kConst
    size_t storage = 0;          // kArena: index into storages_
  };
  struct Storage {
    size_t bytes = 0, offset = 0;
    size_t first = 0, last = 0;  // live from node `first` to node `last` (inclusive)
  };
  struct NodeRt {
    std::unique_ptr<Op> op;
    std::vector<uint32_t> in, out;
    size_t workspace = 0;
    bool at_plan = false;  // this plan computed the node's outputs when it was made; run() skips it
    int64_t made_bytes = 0;     // heap the op kept when it was made (-1: unknown), for describe()
    uint64_t stored_bytes = 0;  // its constants' bytes in the file (each constant counted at its first reader)
    uint64_t read_stored = 0;   // ... of those, the ones run() reads as stored (mapped pages or a small copy)
    uint64_t prepacked = 0;     // pre-packed forms (SPEC §6.6) its op reads in place from the file
    double total_ms = 0;
    uint64_t runs = 0;
  };

  // `data`: the run's inputs, when there is a run (the inputs read by value need them), else null.
  void make_plan(const std::vector<Shape>& shapes, const std::vector<const void*>* data = nullptr);
  // Whether the values of the inputs read by value (value_inputs_) differ from those the plan was made with.
  bool values_changed(const std::vector<const void*>& data) const;
  // Runs node k now, while planning, when every input it reads is known (a constant or an earlier plan-time
  // value) and its outputs are small: shape arithmetic is computed once per shape set, not per run.
  bool run_at_plan(NodeRt& n, const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out);
  // max_arena_bytes, else PYRT_MAX_ARENA_BYTES, else 4 GiB: the cap on the arena plus all op state (KV caches)
  uint64_t memory_limit() const;
  void* ptr(uint32_t value, const std::vector<const void*>& inputs) const;

  std::shared_ptr<const Model> model_;
  SessionOptions opts_;
  const char* isa_ = "ref";
  const kernels::Table* kt_ = nullptr;
  ThreadPool pool_;
  std::vector<ConstTensor> consts_;
  std::vector<uint32_t> inputs_, outputs_;  // value ids
  std::vector<ValueSlot> values_;
  std::vector<NodeRt> nodes_;
  std::vector<Storage> storages_;
  std::vector<Shape> planned_shapes_;
  // Graph inputs whose values an op reads when planning (a Reshape's shape fed as an input), and the bytes the
  // current plan was made with.
  std::vector<size_t> value_inputs_;
  std::vector<std::vector<uint8_t>> planned_values_;
  // ... for string inputs, their contents: planned_values_ then holds handles into these (the caller's bytes may
  // not outlive the run), and the next run compares contents, not handles.
  std::vector<std::vector<std::string>> planned_strings_;
  std::vector<size_t> string_inputs_;  // graph inputs of dtype string: their handles are checked by each run
  bool planned_with_values_ = false;  // plan() has no data: the first run() then plans again
  bool planned_ = false;
  size_t arena_size_ = 0, workspace_offset_ = 0;
  uint64_t prepared_bytes_ = 0;
  // Values the current plan computed (run_at_plan), 64-byte aligned, and their total size (counted with the arena)
  std::vector<std::unique_ptr<uint8_t, void (*)(void*)>> plan_values_;
  uint64_t plan_value_bytes_ = 0;  // weights the current plan prepared (Op::prepare_bytes), counted with the arena
  uint8_t* arena_ = nullptr;
  std::vector<const void*> run_inputs_;
  // reused per run so the hot path does not allocate
  std::vector<const void*> scratch_in_;
  std::vector<void*> scratch_out_;
  std::mutex busy_;  // one run/plan at a time: a second thread gets an error, not a data race
};

}  // namespace pyrt
