// The C API (include/pyrt/pyrt.h) over pyrt::Model / pyrt::Session: every entry point catches what the C++
// side throws and turns it into a status plus this thread's last-error message.
#include "pyrt/pyrt.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/generate.h"
#include "core/kernel_codecs.h"
#include "core/session.h"
#include "format/model.h"
#include "format/spec.h"
#include "kernels/dispatch.h"

#include "core/version.h"

static_assert(PYRT_ABI_VERSION == pyrt::kCAbiVersion, "pyrt.h's PYRT_ABI_VERSION is core/version.h's kCAbiVersion");

// pyrt_string is the C spelling of pyrt::StringRef: string tensors cross the API without a copy.
static_assert(sizeof(pyrt_string) == sizeof(pyrt::StringRef) && offsetof(pyrt_string, size) == offsetof(pyrt::StringRef, size),
              "pyrt_string and pyrt::StringRef must have one layout");
static_assert(int(PYRT_STRING) == int(pyrt::spec::kString), "PYRT_STRING is spec::kString");

struct pyrt_model {
  std::shared_ptr<const pyrt::Model> m;
};

struct pyrt_session {
  std::unique_ptr<pyrt::Session> s;
  std::vector<pyrt::NodeReport> nodes;  // the snapshot pyrt_session_node reads (pyrt_session_num_nodes takes it)
  std::vector<std::string> output_names;
};

namespace {

thread_local std::string g_error;

template <class F>
pyrt_status guard(F&& f) {
  try {
    f();
    return PYRT_OK;
  } catch (const pyrt::Error& e) {
    g_error = e.what();
    return pyrt_status(int(e.status()));
  } catch (const std::bad_alloc&) {
    g_error = "out of memory";
  } catch (const std::exception& e) {
    g_error = e.what();
  } catch (...) {
    g_error = "unknown error";
  }
  return PYRT_INTERNAL;
}

[[noreturn]] void invalid(const std::string& msg) { pyrt::fail(pyrt::Status::kInvalidArgument, msg); }

template <class T>
void need(const T* p, const char* what) {
  if (!p) invalid(std::string(what) + " is NULL");
}

void fill_info(const pyrt::IoDesc& d, pyrt_io_info* out) {
  out->name = d.name.c_str();
  out->dtype = int32_t(d.dtype);
  out->rank = int32_t(d.dims.size());
  out->dims = d.dims.data();
}

// The index of the tensor named `name` (or at position `pos` when name is NULL) among n names.
template <class NameAt>
size_t pick(const char* name, size_t pos, size_t n, NameAt name_at, const char* what) {
  if (!name) {
    if (pos >= n) invalid(std::string(what) + " " + std::to_string(pos) + " out of range: the model has " + std::to_string(n));
    return pos;
  }
  for (size_t i = 0; i < n; ++i)
    if (name_at(i) == name) return i;
  std::string known;
  for (size_t i = 0; i < n; ++i) known += (i ? ", " : "") + name_at(i);
  pyrt::fail(pyrt::Status::kNotFound, std::string("no ") + what + " named '" + name + "' (the model has: " + known + ")");
}

pyrt_status io_info(const pyrt_model* model, size_t index, pyrt_io_info* out, bool input) {
  return guard([&] {
    need(model, "model");
    need(out, "out");
    const auto& v = input ? model->m->meta().inputs : model->m->meta().outputs;
    if (index >= v.size())
      pyrt::fail(pyrt::Status::kNotFound, std::string(input ? "input " : "output ") + std::to_string(index) +
                                              " out of range: the model has " + std::to_string(v.size()));
    fill_info(v[index], out);
  });
}

}  // namespace

extern "C" {

uint32_t pyrt_abi_version(void) { return PYRT_ABI_VERSION; }
const char* pyrt_version(void) { return pyrt::version(); }
const char* pyrt_last_error(void) { return g_error.c_str(); }
const char* pyrt_isa(void) { return pyrt::kernels::active().name; }

namespace {
pyrt::Limits limits_of(const pyrt_model_limits* l) {
  pyrt::Limits r;
  if (!l) return r;
  for (uint64_t v : l->reserved)
    if (v) invalid("pyrt_model_limits.reserved must be 0 (use pyrt_model_limits_init)");
  r.max_file_bytes = l->max_file_bytes, r.max_tensors = l->max_tensors, r.max_nodes = l->max_nodes;
  return r;
}
}  // namespace

void pyrt_model_limits_init(pyrt_model_limits* limits) {
  if (limits) *limits = pyrt_model_limits{};
}

pyrt_status pyrt_model_open_limited(const char* path, const pyrt_model_limits* limits, pyrt_model** out) {
  return guard([&] {
    need(out, "out");
    *out = nullptr;
    need(path, "path");
    pyrt::use_kernel_codecs();  // CRCs of the whole file at open: the SIMD kernels
    auto m = pyrt::Model::open_file(path, pyrt::Verify::kLazy, limits_of(limits));
    *out = new pyrt_model{std::move(m)};
  });
}

pyrt_status pyrt_model_open(const char* path, pyrt_model** out) { return pyrt_model_open_limited(path, nullptr, out); }

pyrt_status pyrt_model_open_memory_limited(const void* data, size_t size, int copy, const pyrt_model_limits* limits,
                                           pyrt_model** out) {
  return guard([&] {
    need(out, "out");
    *out = nullptr;
    need(data, "data");
    pyrt::use_kernel_codecs();  // CRCs of the whole file at open: the SIMD kernels
    auto m = pyrt::Model::open_memory(data, size, pyrt::Verify::kLazy, copy != 0, limits_of(limits));
    *out = new pyrt_model{std::move(m)};
  });
}

pyrt_status pyrt_model_open_memory(const void* data, size_t size, int copy, pyrt_model** out) {
  return pyrt_model_open_memory_limited(data, size, copy, nullptr, out);
}

void pyrt_model_close(pyrt_model* model) { delete model; }

pyrt_status pyrt_model_num_inputs(const pyrt_model* model, size_t* out) {
  return guard([&] {
    need(model, "model");
    need(out, "out");
    *out = model->m->meta().inputs.size();
  });
}

pyrt_status pyrt_model_num_outputs(const pyrt_model* model, size_t* out) {
  return guard([&] {
    need(model, "model");
    need(out, "out");
    *out = model->m->meta().outputs.size();
  });
}

pyrt_status pyrt_model_input(const pyrt_model* model, size_t index, pyrt_io_info* out) {
  return io_info(model, index, out, true);
}

pyrt_status pyrt_model_output(const pyrt_model* model, size_t index, pyrt_io_info* out) {
  return io_info(model, index, out, false);
}

pyrt_status pyrt_model_random_input(const pyrt_model* model, size_t index, uint64_t seed, pyrt_tensor* tensor) {
  return guard([&] {
    need(model, "model");
    need(tensor, "tensor");
    if (tensor->rank < 0 || tensor->rank > PYRT_MAX_RANK) invalid("tensor rank must be in [0, 8]");
    const pyrt::Meta& meta = model->m->meta();
    const pyrt::Shape shape(tensor->dims, tensor->dims + tensor->rank);
    const size_t bytes = pyrt::random_input_bytes(meta, index, shape);
    tensor->name = meta.inputs[index].name.c_str();
    tensor->dtype = int32_t(meta.inputs[index].dtype);
    if (!tensor->data) {
      tensor->size = bytes;
      return;
    }
    if (tensor->size < bytes)
      invalid("tensor size " + std::to_string(tensor->size) + " is below the " + std::to_string(bytes) + " bytes needed");
    pyrt::random_input(meta, index, shape, seed, tensor->data);
  });
}

void pyrt_session_options_init(pyrt_session_options* options) {
  if (options) *options = pyrt_session_options{};
}

pyrt_status pyrt_session_create(const pyrt_model* model, const pyrt_session_options* options, pyrt_session** out) {
  return guard([&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    pyrt::SessionOptions o;
    if (options) {
      if (options->num_threads < 0) invalid("num_threads must be >= 0, got " + std::to_string(options->num_threads));
      for (int32_t r : options->reserved)
        if (r) invalid("pyrt_session_options.reserved must be 0 (use pyrt_session_options_init)");
      o.num_threads = options->num_threads;
      o.force_reference = options->force_reference != 0;
      o.profile = options->profile != 0;
      o.decode_weights = options->decode_weights != 0;
      if (options->max_arena_mib < 0) invalid("max_arena_mib must be >= 0, got " + std::to_string(options->max_arena_mib));
      o.max_arena_bytes = uint64_t(options->max_arena_mib) << 20;
    }
    auto s = std::make_unique<pyrt_session>();
    s->s = std::make_unique<pyrt::Session>(model->m, o);
    for (size_t i = 0; i < s->s->num_outputs(); ++i) s->output_names.push_back(s->s->output(i).name);
    *out = s.release();
  });
}

void pyrt_session_destroy(pyrt_session* session) { delete session; }

pyrt_status pyrt_session_run(pyrt_session* session, const pyrt_tensor* inputs, size_t n_inputs, pyrt_tensor* outputs,
                             size_t n_outputs) {
  return guard([&] {
    need(session, "session");
    pyrt::Session& s = *session->s;
    const size_t ni = s.num_inputs();
    if (n_inputs != ni)
      invalid("the model has " + std::to_string(ni) + " inputs, " + std::to_string(n_inputs) + " given");
    if (ni) need(inputs, "inputs");
    if (n_outputs > s.num_outputs())
      invalid("the model has " + std::to_string(s.num_outputs()) + " outputs, " + std::to_string(n_outputs) + " asked for");
    if (n_outputs) need(outputs, "outputs");
    std::vector<const void*> data(ni, nullptr);
    std::vector<pyrt::Shape> shapes(ni);
    for (size_t k = 0; k < ni; ++k) {
      const pyrt_tensor& t = inputs[k];
      const size_t i = pick(t.name, k, ni, [&](size_t j) { return s.input(j).name; }, "input");
      const pyrt::IoDesc& d = s.input(i);
      if (data[i]) invalid("input '" + d.name + "' given twice");
      if (t.dtype != int32_t(d.dtype))
        invalid("input '" + d.name + "' must be " + pyrt::spec::dtype_name(d.dtype) + ", got dtype " + std::to_string(t.dtype));
      if (t.rank < 0 || t.rank > PYRT_MAX_RANK)
        invalid("input '" + d.name + "': rank " + std::to_string(t.rank) + " out of [0, " + std::to_string(PYRT_MAX_RANK) + "]");
      shapes[i].assign(t.dims, t.dims + t.rank);
      uint64_t n = 1;
      for (int64_t v : shapes[i]) {
        if (v < 0) invalid("input '" + d.name + "': negative dimension " + std::to_string(v));
        n *= uint64_t(v);
      }
      const uint64_t bytes = n * pyrt::spec::dtype_size(d.dtype);
      if (t.size != bytes)
        invalid("input '" + d.name + "' has " + std::to_string(t.size) + " bytes, its shape needs " + std::to_string(bytes));
      if (bytes) need(t.data, "input data");
      static const uint64_t kEmpty[8] = {};
      data[i] = t.data ? t.data : kEmpty;
    }
    // Outputs are resolved before running, so a wrong name fails without running the model.
    std::vector<size_t> which(n_outputs);
    for (size_t k = 0; k < n_outputs; ++k)
      which[k] = pick(outputs[k].name, k, s.num_outputs(), [&](size_t j) { return session->output_names[j]; }, "output");
    s.run(data, shapes);
    for (size_t k = 0; k < n_outputs; ++k) {
      pyrt_tensor& t = outputs[k];
      const pyrt::TensorDesc& d = s.output_desc(which[k]);
      const size_t bytes = d.nbytes();
      if (t.data && t.size < bytes)
        invalid("output '" + session->output_names[which[k]] + "' needs " + std::to_string(bytes) + " bytes, the buffer has " +
                std::to_string(t.size));
      if (d.shape.size() > PYRT_MAX_RANK) invalid("output rank above PYRT_MAX_RANK");
      t.dtype = int32_t(d.dtype);
      t.rank = int32_t(d.shape.size());
      for (size_t j = 0; j < d.shape.size(); ++j) t.dims[j] = d.shape[j];
      if (!t.name) t.name = session->output_names[which[k]].c_str();
      if (t.data) std::memcpy(t.data, s.output_data(which[k]), bytes);
      else t.data = const_cast<void*>(s.output_data(which[k]));
      t.size = bytes;
    }
  });
}

const char* pyrt_session_isa(const pyrt_session* session) { return session ? session->s->isa() : ""; }

pyrt_status pyrt_session_num_nodes(const pyrt_session* session, size_t* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    auto& nodes = const_cast<pyrt_session*>(session)->nodes;  // a new snapshot (kernels, profile times)
    nodes = session->s->describe();
    *out = nodes.size();
  });
}

pyrt_status pyrt_session_node(const pyrt_session* session, size_t index, pyrt_node_info* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    auto& nodes = const_cast<pyrt_session*>(session)->nodes;
    if (nodes.empty()) nodes = session->s->describe();
    if (index >= nodes.size())
      pyrt::fail(pyrt::Status::kNotFound, "node " + std::to_string(index) + " out of range: the graph has " + std::to_string(nodes.size()));
    const pyrt::NodeReport& r = nodes[index];
    *out = {r.name.c_str(), r.op_type.c_str(), r.kernel.c_str(), r.total_ms, r.runs};
  });
}

pyrt_status pyrt_session_arena_bytes(const pyrt_session* session, size_t* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    *out = session->s->arena_bytes();
  });
}

pyrt_status pyrt_session_reset_state(pyrt_session* session) {
  return guard([&] {
    need(session, "session");
    session->s->reset_state();
  });
}

pyrt_status pyrt_session_context_length(const pyrt_session* session, int64_t* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    *out = session->s->context_length();
  });
}

pyrt_status pyrt_session_max_context(const pyrt_session* session, int64_t* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    *out = session->s->max_context();
  });
}

void pyrt_generate_options_init(pyrt_generate_options* options) {
  if (!options) return;
  *options = pyrt_generate_options{};
  options->top_p = 1.0;
  options->eos_token_id = -1;
}

namespace {

// The options (defaults for NULL) checked for what only the C side knows, as the core's parameters.
pyrt::GenerateParams generate_params(const pyrt_generate_options* opts, pyrt_generate_options* o) {
  pyrt_generate_options_init(o);
  if (opts) *o = *opts;
  for (int32_t r : o->reserved)
    if (r) invalid("pyrt_generate_options.reserved must be 0 (use pyrt_generate_options_init)");
  pyrt::GenerateParams p;
  p.sampling.temperature = o->temperature;
  p.sampling.top_k = o->top_k;
  p.sampling.top_p = o->top_p;
  p.seed = o->seed;
  p.eos_token_id = o->eos_token_id;
  return p;
}

}  // namespace

struct pyrt_sampler {
  pyrt::Sampler s;
};

// The loop and the sampling are in core/generate.cc; here only the C side: pointers, options, the callback.
pyrt_status pyrt_generate(pyrt_session* session, const int64_t* prompt, size_t n_prompt, size_t max_new_tokens,
                          const pyrt_generate_options* opts, int64_t* out_tokens, size_t* n_out) {
  return guard([&] {
    need(n_out, "n_out");
    *n_out = 0;
    need(session, "session");  // prompt: checked by generate(), after "the prompt is empty"
    pyrt_generate_options o;
    const pyrt::GenerateParams p = generate_params(opts, &o);
    if (!out_tokens && !o.on_token && max_new_tokens)
      invalid("out_tokens is NULL (and no on_token callback takes the tokens)");
    pyrt::generate(*session->s, prompt, n_prompt, max_new_tokens, p, [&](int64_t tok) {
      if (out_tokens) out_tokens[*n_out] = tok;
      ++*n_out;
      return !o.on_token || o.on_token(o.user, tok) == 0;
    });
  });
}

pyrt_status pyrt_generate_batch(pyrt_session* session, const int64_t* prompts, size_t batch, size_t n_prompt,
                                size_t max_new_tokens, const pyrt_generate_options* opts, int64_t* out_tokens,
                                size_t* n_steps) {
  return guard([&] {
    need(n_steps, "n_steps");
    *n_steps = 0;
    need(session, "session");
    pyrt_generate_options o;
    const pyrt::GenerateParams p = generate_params(opts, &o);
    if (o.on_token) invalid("pyrt_generate_batch takes no on_token callback (it is for pyrt_generate, batch 1)");
    if (batch == 0) invalid("batch must be >= 1");
    if (!out_tokens && max_new_tokens) invalid("out_tokens is NULL");
    pyrt::generate_batch(*session->s, prompts, batch, n_prompt, max_new_tokens, p, [&](const int64_t* toks) {
      for (size_t b = 0; b < batch; ++b) out_tokens[b * max_new_tokens + *n_steps] = toks[b];
      ++*n_steps;
      return true;
    });
  });
}

pyrt_status pyrt_decoder_vocab(const pyrt_session* session, int64_t* out) {
  return guard([&] {
    need(session, "session");
    need(out, "out");
    *out = pyrt::Decoder(*session->s).vocab();
  });
}

pyrt_status pyrt_decode_step(pyrt_session* session, const int64_t* tokens, size_t batch, size_t n_tokens,
                             float* logits, size_t capacity) {
  return guard([&] {
    need(session, "session");
    need(tokens, "tokens");
    need(logits, "logits");
    pyrt::Decoder dec(*session->s);
    if (batch == 0 || n_tokens == 0) invalid("a decoder step needs at least one token in at least one row");
    const size_t vocab = size_t(dec.vocab());
    if (capacity / vocab < batch)
      invalid("logits has room for " + std::to_string(capacity) + " floats; " + std::to_string(batch) + " rows of " +
              std::to_string(vocab) + " need " + std::to_string(batch * vocab));
    if (n_tokens > SIZE_MAX / batch) invalid("batch x n_tokens overflows");
    dec.check_tokens(tokens, batch * n_tokens, "token ids");
    const int64_t held = session->s->context_length();  // positions past the context: refused before the run
    if (uint64_t(n_tokens) > uint64_t(dec.max_context() - held))
      pyrt::fail(pyrt::Status::kLimit, "context overflow: " + std::to_string(held) + " cached + " +
                                           std::to_string(n_tokens) + " new tokens exceed the model's context " +
                                           std::to_string(dec.max_context()) + " (reset the state to start anew)");
    size_t stride = 0;
    const float* rows = dec.step(tokens, batch, n_tokens, &stride);
    for (size_t b = 0; b < batch; ++b) std::memcpy(logits + b * vocab, rows + b * stride, vocab * sizeof(float));
  });
}

pyrt_status pyrt_sampler_create(const pyrt_generate_options* opts, pyrt_sampler** out) {
  return guard([&] {
    need(out, "out");
    *out = nullptr;
    pyrt_generate_options o;
    const pyrt::GenerateParams p = generate_params(opts, &o);
    *out = new pyrt_sampler{pyrt::Sampler(p.sampling, p.seed)};
  });
}

void pyrt_sampler_destroy(pyrt_sampler* sampler) { delete sampler; }

pyrt_status pyrt_sampler_sample(pyrt_sampler* sampler, const float* logits, size_t n, int64_t* out) {
  return guard([&] {
    need(sampler, "sampler");
    need(logits, "logits");
    need(out, "out");
    if (n == 0) invalid("n must be >= 1 (the logits of one row)");
    *out = sampler->s.sample(logits, n);
  });
}

}  // extern "C"
