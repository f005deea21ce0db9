#include "core/session.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "base/checked.h"
#include "format/spec.h"
#include "kernels/dispatch.h"

namespace pyrt {
namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + v[i];
  return r;
}

// The most one node's outputs may take to be computed when the plan is made (shape arithmetic, masks and
// position ids are far smaller; a larger all-constant result is computed by run() as usual).
constexpr size_t kMaxPlanValueBytes = size_t(1) << 22;
// Dense constants up to this size that ops read at run time are copied out of the mapping
// (ConstTensor::set_small): biases, norms, scales.
constexpr size_t kCopyConstBytes = size_t(256) << 10;
constexpr size_t kMaxConstNodeBytes = size_t(1) << 12;

// Bytes the C heap holds now, to tell what making one op kept (-1 where the C library cannot say). mallinfo2
// walks the allocator's arenas, so it is read only around ops that have constant inputs.
int64_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const struct mallinfo2 m = mallinfo2();
  return int64_t(m.uordblks + m.hblkhd);
#else
  return -1;
#endif
}

// Free heap pages go back to the system: repacking and requantizing weights leave freed temporaries between
// the objects that stay (a matrix's int8 rows before packing, its f32 rows, vectors that grew), and glibc
// returns only the top of the heap by itself. Once a session is made, so the run's arena does not add to them.
void release_free_heap() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  malloc_trim(0);
#endif
}

// 2^56 elements: their byte sizes (up to 8 bytes each) and sums of a few of them stay far inside 64 bits.
constexpr int64_t kMaxElements = int64_t(1) << 56;

// Whether op's runs read constant input i's bytes in the mapping. An encoded constant the op reads (reads_input)
// is read from its decoded copy, so its file pages can go; ops that compute on the stored encoding say so with
// reads_input false and reads_stored true.
bool reads_file(const Op& op, size_t i, const ConstTensor& c) {
  return op.reads_stored(i) && !(c.encoded() && op.reads_input(i));
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, SessionOptions opts)
    : model_(std::move(model)), opts_(opts), pool_(opts.num_threads) {
  // Kernels are chosen per session: forcing the reference here does not affect other sessions.
  const kernels::Table* named = opts_.kernels.empty() ? nullptr : kernels::table_by_name(opts_.kernels.c_str());
  if (!opts_.kernels.empty() && !named) {
    std::string have = "ref";
    for (const kernels::Table* t : kernels::supported_tables()) have += std::string(", ") + t->name;
    fail(Status::kInvalidArgument, "kernels '" + opts_.kernels + "': not a kernel table this CPU runs (it runs: " +
                                       have + ")");
  }
  const kernels::Table& kt = opts_.force_reference ? kernels::reference() : named ? *named : kernels::active();
  kt_ = &kt;
  isa_ = kt.name;
  const Graph* g = model_->graph();
  if (!g) fail(Status::kInvalidArgument, "the model has no graph to run (it only stores tensors)");
  values_.resize(g->values.size());
  inputs_ = g->inputs;
  outputs_ = g->outputs;
  for (size_t i = 0; i < g->inputs.size(); ++i) {
    ValueSlot& v = values_[g->inputs[i]];
    v.kind = ValueSlot::kInput;
    v.input_index = i;
    v.desc.dtype = model_->meta().inputs[i].dtype;
    if (v.desc.dtype == spec::kString) string_inputs_.push_back(i);
  }
  // Constants: dense tensors are used in place from the mapping (zero copy); other encodings are decoded once.
  consts_.reserve(g->consts.size());
  for (const auto& [vid, ti] : g->consts) {
    const TensorInfo& t = model_->tensors()[ti];
    ConstTensor c;
    c.tensor_index = ti;
    c.desc.shape.assign(t.shape.begin(), t.shape.end());
    if (t.encoding == spec::kDense && t.p.storage == t.dtype) {
      c.desc.dtype = t.dtype;
      static const uint64_t kEmpty[8] = {};
      const void* p = model_->buffer_unchecked(ti, 0);
      const size_t bytes = p ? size_t(t.buffers[0].size) : 0;
      if (p) c.set_stored(model_.get(), p, model_->mapped() && bytes <= kCopyConstBytes ? bytes : 0);
      else c.set_dense(kEmpty);
    } else {
      c.desc.dtype = t.dtype;  // what the decode gives: the logical dtype (f32 for the quantized encodings)
      model_->decoded_bytes(ti);  // refuses absurd sizes now, before any op asks for the data
      c.model = model_.get();     // decoded when an op first reads it (below, or in an op's constructor)
    }
    consts_.push_back(std::move(c));
  }
  for (size_t k = 0; k < g->consts.size(); ++k) {
    ValueSlot& v = values_[g->consts[k].first];
    v.kind = ValueSlot::kConst;
    v.cst = &consts_[k];
    v.desc = consts_[k].desc;
  }
  // Uses of each constant, counted down as ops are made (ConstUse: when none is left, an unread one is released).
  std::vector<ConstUse> uses(consts_.size());
  auto const_of = [&](uint32_t v) -> ConstUse* {
    return v != spec::kNoValue && values_[v].kind == ValueSlot::kConst ? &uses[size_t(values_[v].cst - consts_.data())]
                                                                       : nullptr;
  };
  for (const Node& node : g->nodes)
    for (uint32_t v : node.inputs)
      if (ConstUse* u = const_of(v)) ++u->left;
  for (uint32_t v : outputs_)  // a constant given as a graph output is copied out by every run, decoded
    if (ConstUse* u = const_of(v)) {
      u->reads = u->stored = true;
      values_[v].cst->get();
    }
  nodes_.reserve(g->nodes.size());
  for (size_t n = 0; n < g->nodes.size(); ++n) {
    const Node& node = g->nodes[n];
    std::vector<const ConstTensor*> cin;
    for (uint32_t v : node.inputs)
      cin.push_back(v != spec::kNoValue && values_[v].kind == ValueSlot::kConst ? values_[v].cst : nullptr);
    NodeContext ctx(node, n, *model_, cin, kt, opts_.decode_weights);
    const OpFactory factory = find_op(node.op_type);
    if (!factory)
      fail(Status::kUnsupported, "unsupported operator '" + node.op_type + "' in " + ctx.where() +
                                     "; supported: " + join(supported_ops()));
    if (node.version > 1)
      fail(Status::kUnsupported, ctx.where() + ": op version " + std::to_string(node.version) +
                                     " is newer than this runtime supports (1)");
    NodeRt rt;
    const bool weights = std::any_of(cin.begin(), cin.end(), [](const ConstTensor* c) { return c != nullptr; });
    const int64_t heap0 = weights ? heap_in_use() : -1;
    rt.op = factory(ctx);
    rt.prepacked = ctx.layout_bytes();  // pre-packed forms read in place from the file
    rt.read_stored += rt.prepacked;
    for (size_t i = 0; i < cin.size(); ++i)  // constants the op reads at run time must exist decoded
      if (cin[i] && rt.op->reads_input(i)) cin[i]->get();
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (ConstUse* u = const_of(node.inputs[i])) {
        if (!u->counted) {  // a constant several ops read is reported at the first
          u->counted = true;
          const uint64_t b = model_->tensors()[g->consts[size_t(cin[i] - consts_.data())].second].nbytes();
          rt.stored_bytes += b;
          if (reads_file(*rt.op, i, *cin[i])) rt.read_stored += b;
        }
        u->note(*rt.op, i, *cin[i]);
        if (--u->left == 0) u->done(*values_[node.inputs[i]].cst, *model_);
      }
    if (weights) {
      const int64_t heap1 = heap0 < 0 ? -1 : heap_in_use();
      rt.made_bytes = heap1 < 0 ? -1 : std::max<int64_t>(0, heap1 - heap0);
    }
    rt.op->where = ctx.where();
    rt.in = node.inputs;
    rt.out = node.outputs;
    nodes_.push_back(std::move(rt));
  }
  model_->release_metadata_pages();  // parsed when the model was opened; every op is made now
  release_free_heap();
  // Graph inputs that some op reads when planning (directly, or through nodes computed at plan time): found
  // by walking back from every plan_input() slot to the graph inputs it depends on.
  {
    std::vector<int64_t> producer(values_.size(), -1);
    for (size_t k = 0; k < nodes_.size(); ++k)
      for (uint32_t v : nodes_[k].out) producer[v] = int64_t(k);
    std::vector<bool> seen(values_.size(), false), wanted(inputs_.size(), false);
    std::vector<uint32_t> todo;
    for (auto& n : nodes_)
      for (size_t i = 0; i < n.in.size(); ++i)
        if (n.in[i] != spec::kNoValue && n.op->plan_input(i)) todo.push_back(n.in[i]);
    while (!todo.empty()) {
      const uint32_t v = todo.back();
      todo.pop_back();
      if (seen[v]) continue;
      seen[v] = true;
      if (values_[v].kind == ValueSlot::kInput) wanted[values_[v].input_index] = true;
      if (producer[v] < 0) continue;
      const NodeRt& n = nodes_[size_t(producer[v])];
      for (size_t i = 0; i < n.in.size(); ++i)
        if (n.in[i] != spec::kNoValue && (n.op->reads_input(i) || n.op->plan_input(i))) todo.push_back(n.in[i]);
    }
    for (size_t i = 0; i < inputs_.size(); ++i)
      if (wanted[i]) value_inputs_.push_back(i);
  }
  // Static input shapes: plan now, so that a model needing more memory than allowed fails here, at load. Other
  // planning errors are left for run(), where they have always been reported (the shapes given there).
  std::vector<Shape> declared;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const auto& d = model_->meta().inputs[i].dims;
    if (std::any_of(d.begin(), d.end(), [](int64_t v) { return v < 0; })) return;
    if (!value_inputs_.empty()) return;  // the plan needs the inputs' values: made by the first run
    declared.emplace_back(d.begin(), d.end());
  }
  try {
    make_plan(declared);
  } catch (const Error& e) {
    if (e.status() == Status::kLimit) throw;
    planned_ = false;
  }
}

Session::~Session() { std::free(arena_); }

const IoDesc& Session::input(size_t i) const { return model_->meta().inputs.at(i); }
const IoDesc& Session::output(size_t i) const { return model_->meta().outputs.at(i); }
const char* Session::isa() const { return isa_; }

std::vector<TensorDesc> Session::plan(const std::vector<Shape>& shapes) {
  std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
  if (!busy.owns_lock())
    fail(Status::kInvalidArgument, "the session is running in another thread (use one session per thread)");
  if (!planned_ || shapes != planned_shapes_) make_plan(shapes);
  std::vector<TensorDesc> r;
  for (uint32_t v : outputs_) r.push_back(values_[v].desc);
  return r;
}

bool Session::values_changed(const std::vector<const void*>& data) const {
  if (value_inputs_.empty()) return false;
  if (!planned_with_values_) return true;
  for (size_t k = 0; k < value_inputs_.size(); ++k) {
    const std::vector<uint8_t>& was = planned_values_[k];
    if (values_[inputs_[value_inputs_[k]]].desc.dtype == spec::kString) {
      // the same shape as planned (run() compares shapes first), so as many elements
      const StringRef* now = static_cast<const StringRef*>(data[value_inputs_[k]]);
      const std::vector<std::string>& strs = planned_strings_[k];
      for (size_t j = 0; j < strs.size(); ++j)
        if (now[j].size != strs[j].size() || (now[j].size && std::memcmp(now[j].data, strs[j].data(), now[j].size)))
          return true;
      continue;
    }
    if (!was.empty() && std::memcmp(was.data(), data[value_inputs_[k]], was.size()) != 0) return true;
  }
  return false;
}

void Session::make_plan(const std::vector<Shape>& shapes, const std::vector<const void*>* data) {
  const Meta& meta = model_->meta();
  if (shapes.size() != inputs_.size())
    fail(Status::kInvalidArgument, "expected " + std::to_string(inputs_.size()) + " inputs, got " +
                                       std::to_string(shapes.size()));
  for (size_t i = 0; i < shapes.size(); ++i) {
    const IoDesc& io = meta.inputs[i];
    bool ok = shapes[i].size() == io.dims.size();
    for (size_t d = 0; ok && d < shapes[i].size(); ++d)
      ok = shapes[i][d] >= 0 && (io.dims[d] < 0 || io.dims[d] == shapes[i][d]);
    if (!ok) {
      Shape want(io.dims.begin(), io.dims.end());
      fail(Status::kInvalidArgument, "input '" + io.name + "' has shape " + shape_str(shapes[i]) +
                                         ", the model expects " + shape_str(want) + " (-1 = any)");
    }
    if (numel(shapes[i]) > kMaxElements)  // numel also throws past int64
      fail(Status::kInvalidArgument, "input '" + io.name + "' has shape " + shape_str(shapes[i]) + ": too many elements");
    values_[inputs_[i]].desc.shape = shapes[i];
    values_[inputs_[i]].desc.value = nullptr;
  }
  // Inputs read by value: this run's data (copied, so that the next run can tell whether they changed).
  planned_values_.assign(value_inputs_.size(), {});
  planned_strings_.assign(value_inputs_.size(), {});
  planned_with_values_ = data != nullptr;
  for (size_t k = 0; data && k < value_inputs_.size(); ++k) {
    TensorDesc& d = values_[inputs_[value_inputs_[k]]].desc;
    if (d.numel() > (int64_t(1) << 16))
      fail(Status::kInvalidArgument, "input '" + meta.inputs[value_inputs_[k]].name + "' gives a shape-like value "
           "(read when the plan is made), but has " + std::to_string(d.numel()) + " elements");
    const uint8_t* p = static_cast<const uint8_t*>((*data)[value_inputs_[k]]);
    if (!p && d.numel()) fail(Status::kInvalidArgument, "input '" + meta.inputs[value_inputs_[k]].name + "' has no data");
    planned_values_[k].assign(p, p + d.nbytes());
    if (d.dtype == spec::kString) {  // own copies of the bytes, and handles to them (run() checked the handles)
      std::vector<std::string>& strs = planned_strings_[k];
      const StringRef* h = reinterpret_cast<const StringRef*>(p);
      for (int64_t j = 0; j < d.numel(); ++j) strs.emplace_back(h[j].size ? h[j].data : "", size_t(h[j].size));
      StringRef* own = reinterpret_cast<StringRef*>(planned_values_[k].data());
      for (size_t j = 0; j < strs.size(); ++j) own[j] = {strs[j].data(), strs[j].size()};
    }
    d.value = planned_values_[k].empty() ? static_cast<const void*>(&kAlign) : planned_values_[k].data();
  }
  planned_ = false;
  plan_values_.clear();
  plan_value_bytes_ = 0;
  // Shapes, node by node; nodes whose inputs are all known now run now.
  for (auto& v : values_) {
    if (v.kind == ValueSlot::kArena || v.kind == ValueSlot::kPlan) v.kind = ValueSlot::kUnused;
    if (v.kind == ValueSlot::kConst) v.desc.value = v.cst->value();
  }
  std::vector<TensorDesc> in, out;
  size_t max_io = 0;
  for (auto& n : nodes_) {
    in.clear();
    for (uint32_t v : n.in) in.push_back(v == spec::kNoValue ? TensorDesc{{}, 0} : values_[v].desc);
    out.assign(n.out.size(), TensorDesc{});
    const bool strings = n.op->takes_strings();
    for (size_t i = 0; i < in.size() && !strings; ++i)
      if (in[i].dtype == spec::kString)
        fail(Status::kUnsupported, n.op->where + ": input " + std::to_string(i) + " is a string tensor, which this "
             "operator does not take");
    n.op->infer(in, out);
    for (size_t k = 0; k < n.out.size(); ++k) {
      if (out[k].dtype == spec::kString && !strings)
        fail(Status::kUnsupported, n.op->where + ": gives a string tensor, which this operator does not support");
      for (int64_t d : out[k].shape)
        if (d < 0) n.op->fail("inferred a negative dimension " + shape_str(out[k].shape));
      // Every shape an op sees has a small element count, so the products of its dimensions that ops form
      // while inferring (n * c, h * w, ...) cannot overflow either.
      if (numel(out[k].shape) > kMaxElements) n.op->fail("inferred shape " + shape_str(out[k].shape) + " is too large");
      out[k].value = nullptr;
      values_[n.out[k]].desc = out[k];
    }
    n.workspace = align_up(n.op->workspace_bytes(in, out, pool_.size()));
    n.at_plan = run_at_plan(n, in, out);
    if (n.at_plan) n.workspace = 0;
    max_io = std::max(max_io, std::max(n.in.size(), n.out.size()));
  }
  // Liveness: the last node that reads each value (graph outputs live to the end).
  const size_t end = nodes_.size();
  std::vector<size_t> last_use(values_.size(), 0);
  for (size_t k = 0; k < nodes_.size(); ++k)
    if (!nodes_[k].at_plan)
      for (uint32_t v : nodes_[k].in)
      if (v != spec::kNoValue) last_use[v] = k;
  for (uint32_t v : outputs_) last_use[v] = end;
  // Storage: aliases share their input's storage; in-place ops reuse a dying input's; others get their own.
  storages_.clear();
  std::vector<int64_t> alias_of(values_.size(), -1);
  for (size_t k = 0; k < nodes_.size(); ++k) {
    NodeRt& n = nodes_[k];
    if (n.at_plan) continue;
    for (size_t o = 0; o < n.out.size(); ++o) {
      const uint32_t v = n.out[o];
      ValueSlot& slot = values_[v];
      slot.kind = ValueSlot::kArena;
      if (o == 0 && n.op->is_alias() && values_[n.in[0]].kind == ValueSlot::kArena) {
        slot.storage = values_[n.in[0]].storage;
        Storage& s = storages_[slot.storage];
        s.last = std::max(s.last, last_use[v]);
        continue;
      }
      if (o == 0 && n.op->is_alias()) {  // aliasing a graph input or constant: read it in place
        alias_of[v] = n.in[0];
        slot.kind = ValueSlot::kUnused;
        continue;
      }
      const int ip = o == 0 ? n.op->inplace_input() : -1;
      if (ip >= 0 && size_t(ip) < n.in.size() && n.in[size_t(ip)] != spec::kNoValue) {
        const ValueSlot& src = values_[n.in[size_t(ip)]];
        if (src.kind == ValueSlot::kArena && storages_[src.storage].last == k &&
            storages_[src.storage].bytes == align_up(slot.desc.nbytes())) {
          slot.storage = src.storage;
          storages_[src.storage].last = std::max(k, last_use[v]);
          continue;
        }
      }
      Storage s;
      s.bytes = align_up(slot.desc.nbytes());
      s.first = k;
      s.last = std::max(k, last_use[v]);
      slot.storage = storages_.size();
      storages_.push_back(s);
    }
  }
  // Aliases of inputs/consts: resolve to the original slot (kind and pointer source).
  for (size_t v = 0; v < values_.size(); ++v)
    if (alias_of[v] >= 0) {
      int64_t root = alias_of[v];
      while (alias_of[size_t(root)] >= 0) root = alias_of[size_t(root)];
      TensorDesc d = values_[v].desc;
      values_[v] = values_[size_t(root)];
      values_[v].desc = d;
    }
  // Offsets: biggest first, each at the lowest address free during its lifetime.
  std::vector<size_t> order(storages_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return storages_[a].bytes != storages_[b].bytes ? storages_[a].bytes > storages_[b].bytes : a < b;
  });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t i : order) {
    Storage& s = storages_[i];
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const Storage& o = storages_[j];
      if (o.first <= s.last && s.first <= o.last) busy.emplace_back(o.offset, o.offset + o.bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& [b, e] : busy) {
      if (off + s.bytes <= b) break;
      off = std::max(off, e);
    }
    s.offset = off;
    total = std::max(total, off + s.bytes);
    placed.push_back(i);
  }
  size_t ws = 0;
  for (const auto& n : nodes_) ws = std::max(ws, n.workspace);
  workspace_offset_ = align_up(total);
  const size_t need = workspace_offset_ + ws;
  // A file can declare shapes whose activations need more memory than the host has: refused before allocating.
  // The KV caches already held and the weights this plan prepares (decoded for the GEMM) count against the
  // same limit.
  const uint64_t limit = memory_limit();
  uint64_t state = 0, prepared = 0;
  for (const auto& n : nodes_) state += n.op->state_bytes(), prepared += n.op->prepare_bytes();
  const uint64_t held = state + prepared + plan_value_bytes_;
  if (need > limit || held > limit - need) {
    std::vector<std::string> given;
    for (const Shape& x : shapes) given.push_back(shape_str(x));
    std::string beside;
    if (state) beside += " beside " + std::to_string(state) + " bytes of KV cache";
    if (prepared) beside += std::string(state ? " and " : " beside ") + std::to_string(prepared) + " bytes of decoded weights";
    if (plan_value_bytes_)
      beside += std::string(beside.empty() ? " beside " : " and ") + std::to_string(plan_value_bytes_) +
                " bytes of values computed at plan time";
    fail(Status::kLimit, "the plan for input shapes " + join(given) + " needs a " + std::to_string(need) +
                             "-byte activation arena" + beside + ", above the limit of " + std::to_string(limit) +
                             " (max_arena_bytes, or PYRT_MAX_ARENA_BYTES)");
  }
  for (auto& n : nodes_)
    if (!n.at_plan) n.op->prepare();
  prepared_bytes_ = prepared + plan_value_bytes_;
  if (need > arena_size_ || !arena_) {
    std::free(arena_);
    arena_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, std::max<size_t>(need, kAlign)));
    if (!arena_) fail(Status::kInternal, "out of memory allocating a " + std::to_string(need) + "-byte arena");
  }
  arena_size_ = need;
  scratch_in_.reserve(max_io);
  scratch_out_.reserve(max_io);
  planned_shapes_ = shapes;
  planned_ = true;
}

bool Session::run_at_plan(NodeRt& n, const std::vector<TensorDesc>& in, const std::vector<TensorDesc>& out) {
  if (n.op->state_capacity() || n.op->state_bytes()) return false;  // carries state from run to run
  bool reads_any = false;
  for (size_t i = 0; i < in.size(); ++i) {
    if (n.in[i] == spec::kNoValue || !n.op->reads_input(i)) continue;
    if (!in[i].value) return false;
    reads_any = reads_any || values_[n.in[i]].kind == ValueSlot::kPlan;
  }
  // Shape / Size read no data at all. A node of constants only is normally folded by the exporter; one it
  // left (an op it does not evaluate) runs here when its result is small, as shape arithmetic is, but not
  // when it may be a weight (a per-session copy of it).
  bool shape_only = true;
  for (size_t i = 0; i < in.size(); ++i) shape_only = shape_only && (n.in[i] == spec::kNoValue || !n.op->reads_input(i));
  size_t bytes = 0;
  for (const TensorDesc& d : out) bytes += align_up(d.nbytes());
  if (bytes > (reads_any || shape_only ? kMaxPlanValueBytes : kMaxConstNodeBytes)) return false;
  std::vector<const void*> ins;
  for (uint32_t v : n.in) ins.push_back(v == spec::kNoValue ? nullptr : values_[v].kind == ValueSlot::kPlan ? values_[v].plan_data : values_[v].desc.value);
  std::vector<void*> outs;
  for (size_t k = 0; k < out.size(); ++k) {
    void* p = std::aligned_alloc(kAlign, std::max<size_t>(align_up(out[k].nbytes()), kAlign));
    if (!p) fail(Status::kInternal, "out of memory computing " + n.op->where + " at plan time");
    plan_values_.emplace_back(static_cast<uint8_t*>(p), std::free);
    outs.push_back(p);
  }
  std::vector<uint8_t> ws(n.workspace + kAlign);
  RunContext ctx;  // one thread: these are small
  ctx.threads = 1;
  ctx.workspace = ws.data() + (kAlign - reinterpret_cast<uintptr_t>(ws.data()) % kAlign) % kAlign;
  n.op->prepare();
  n.op->run(ctx, ins, outs);
  plan_value_bytes_ += bytes;
  for (size_t k = 0; k < out.size(); ++k) {
    ValueSlot& slot = values_[n.out[k]];
    slot.kind = ValueSlot::kPlan;
    slot.plan_data = outs[k];
    slot.desc.value = outs[k];
  }
  return true;
}

void* Session::ptr(uint32_t v, const std::vector<const void*>& inputs) const {
  const ValueSlot& s = values_[v];
  switch (s.kind) {
    case ValueSlot::kInput: return const_cast<void*>(inputs[s.input_index]);
    case ValueSlot::kConst: return const_cast<void*>(s.cst->value());
    case ValueSlot::kArena: return arena_ + storages_[s.storage].offset;
    case ValueSlot::kPlan: return const_cast<void*>(s.plan_data);
    default: return nullptr;
  }
}

void Session::run(const std::vector<const void*>& inputs, const std::vector<Shape>& shapes) {
  if (inputs.size() != inputs_.size())
    fail(Status::kInvalidArgument, "expected " + std::to_string(inputs_.size()) + " inputs, got " +
                                       std::to_string(inputs.size()));
  std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
  if (!busy.owns_lock())
    fail(Status::kInvalidArgument, "the session is running in another thread (use one session per thread)");
  pool_.wake();  // workers asleep since the last run start spinning while the plan and inputs are checked
  for (size_t i : string_inputs_) {  // a handle with a size must point somewhere: ops read its bytes
    if (i >= shapes.size() || !inputs[i]) continue;  // make_plan names wrong counts and shapes
    const StringRef* h = static_cast<const StringRef*>(inputs[i]);
    const int64_t n = numel(shapes[i]);
    for (int64_t j = 0; j < n; ++j)
      if (!h[j].data && h[j].size)
        fail(Status::kInvalidArgument, "input '" + input(i).name + "': string element " + std::to_string(j) +
                                           " has " + std::to_string(h[j].size) + " bytes but no data");
  }
  if (!planned_ || shapes != planned_shapes_ || values_changed(inputs)) make_plan(shapes, &inputs);
  run_inputs_ = inputs;
  RunContext ctx;
  ctx.pool = &pool_;
  ctx.threads = pool_.size();
  ctx.workspace = arena_ + workspace_offset_;
  uint64_t held = arena_size_;
  held += prepared_bytes_;  // this plan's decoded weights, counted when it was made
  for (const auto& n : nodes_) held += n.op->state_bytes();
  uint64_t room = memory_limit() > held ? memory_limit() - held : 0;
  ctx.state_room = &room;
  for (auto& n : nodes_) {
    if (n.at_plan) continue;
    scratch_in_.clear();
    scratch_out_.clear();
    for (uint32_t v : n.in) scratch_in_.push_back(v == spec::kNoValue ? nullptr : ptr(v, inputs));
    for (uint32_t v : n.out) scratch_out_.push_back(ptr(v, inputs));
    if (!opts_.profile) {
      n.op->run(ctx, scratch_in_, scratch_out_);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    n.op->run(ctx, scratch_in_, scratch_out_);
    n.total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++n.runs;
  }
  for (auto& n : nodes_) n.op->commit_state();
}

uint64_t Session::memory_limit() const {
  static const uint64_t env_limit = env_bytes("PYRT_MAX_ARENA_BYTES", uint64_t(4) << 30);
  return opts_.max_arena_bytes ? opts_.max_arena_bytes : env_limit;
}

void Session::reset_state() {
  std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
  if (!busy.owns_lock())
    fail(Status::kInvalidArgument, "the session is running in another thread (use one session per thread)");
  for (auto& n : nodes_) n.op->reset_state();
}

int64_t Session::context_length() const {
  int64_t t = 0;
  for (const auto& n : nodes_) t = std::max(t, n.op->state_tokens());
  return t;
}

int64_t Session::max_context() const {  // the smallest cache bounds the sequence
  int64_t t = 0;
  for (const auto& n : nodes_)
    if (const int64_t c = n.op->state_capacity()) t = t ? std::min(t, c) : c;
  return t;
}

const void* Session::output_data(size_t i) const { return ptr(outputs_.at(i), run_inputs_); }
const TensorDesc& Session::output_desc(size_t i) const { return values_[outputs_.at(i)].desc; }

std::vector<NodeReport> Session::describe() const {
  std::vector<NodeReport> r;
  const Graph* g = model_->graph();
  for (size_t k = 0; k < nodes_.size(); ++k) {
    NodeReport n;
    n.name = g->nodes[k].name;
    n.op_type = g->nodes[k].op_type;
    n.kernel = nodes_[k].op->kernel();
    if (planned_ && nodes_[k].at_plan) n.kernel = "at-plan:" + n.kernel;
    n.total_ms = nodes_[k].total_ms;
    n.runs = nodes_[k].runs;
    n.stored_bytes = nodes_[k].stored_bytes;
    n.prepacked_bytes = nodes_[k].prepacked;
    n.resident_bytes = nodes_[k].made_bytes < 0 ? -1
                       : nodes_[k].made_bytes + int64_t(nodes_[k].read_stored + nodes_[k].op->prepare_bytes());
    if (planned_)
      for (uint32_t v : nodes_[k].out) n.output_shapes.push_back(values_[v].desc.shape);
    r.push_back(std::move(n));
  }
  return r;
}

uint64_t Session::state_bytes() const {
  uint64_t n = 0;
  for (const auto& node : nodes_) n += node.op->state_bytes();
  return n;
}

uint64_t Session::prepared_bytes() const {
  uint64_t n = 0;
  for (const auto& node : nodes_) n += node.op->prepare_bytes();
  return n;
}

// Weights the ops repacked (GEMM panels, channels-last taps, int8 panels) or decoded into their own form when
// they were created are not read again: their decoded copy is freed and their file pages leave the resident set
// as soon as the last op that uses them is made (not at the end: the peak is what decides whether a model fits),
// so a session holds one form of each weight, not the file's and its own. Pages are read again from the file if
// something touches them later (another session's op that reads them as stored), so this only saves memory.
void Session::ConstUse::note(const Op& op, size_t i, const ConstTensor& c) {
  const bool plan = op.plan_input(i);
  reads = reads || op.reads_input(i) || plan;
  stored = stored || reads_file(op, i, c) || plan;
}

void Session::ConstUse::done(const ConstTensor& c, const Model& model) const {
  if (reads || (stored && !c.encoded())) c.get();  // checked now, while the session is made, not by a run
  if (reads) c.copy_small();
  if (!reads) c.release();
  if (!reads && !stored) c.set_unread();
  if (c.copied() || !stored) model.release_pages(c.tensor_index);  // read, if at all, from its own copy
}

}  // namespace pyrt
