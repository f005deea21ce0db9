// pyrt.hpp: a header-only C++ wrapper of the C API (pyrt.h) with RAII handles, in namespace pyrt::api;
// failures throw pyrt::api::Exception (the status and the runtime's message). Only the C ABI crosses the
// library boundary.
//
//   pyrt::api::Model model("m.pyrt");
//   pyrt::api::Session session(model, /*threads=*/2);
//   std::vector<float> x(1 * 16);
//   pyrt::api::Outputs out = session.run({pyrt::api::input("x", x.data(), {1, 16})});
//   const float* y = out.data<float>(0);
//
//   pyrt::api::Session gpt(pyrt::api::Model("gpt.pyrt"));        // a decoder (export.gpt.export_gpt)
//   std::vector<int64_t> ids = gpt.generate({5, 17, 3}, 32);      // greedy: the 32 new tokens
//   pyrt_generate_options o = pyrt::api::generate_options();
//   o.temperature = 0.8, o.top_k = 40, o.seed = 1;
//   gpt.generate({5, 17, 3}, 32, o, [](int64_t t) { std::printf("%lld ", (long long)t); return true; });
//
//   pyrt::api::Sampler sampler(o);                                // a loop of one's own (pyrt_decode_step)
//   std::vector<float> logits = gpt.decode_step({5, 17, 3});      // the prompt: last-token logits per row
//   for (int i = 0; i < 32; ++i) logits = gpt.decode_step({sampler.sample(logits)});
#ifndef PYRT_PYRT_HPP_
#define PYRT_PYRT_HPP_

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pyrt/pyrt.h"

namespace pyrt::api {

class Exception : public std::runtime_error {
 public:
  Exception(pyrt_status s, const std::string& what) : std::runtime_error(what), status_(s) {}
  pyrt_status status() const { return status_; }

 private:
  pyrt_status status_;
};

inline void check(pyrt_status s) {
  if (s != PYRT_OK) throw Exception(s, pyrt_last_error());
}

template <class T> constexpr pyrt_dtype dtype_of();
template <> constexpr pyrt_dtype dtype_of<float>() { return PYRT_F32; }
template <> constexpr pyrt_dtype dtype_of<int8_t>() { return PYRT_I8; }
template <> constexpr pyrt_dtype dtype_of<uint8_t>() { return PYRT_U8; }
template <> constexpr pyrt_dtype dtype_of<int32_t>() { return PYRT_I32; }
template <> constexpr pyrt_dtype dtype_of<int64_t>() { return PYRT_I64; }

// An input tensor over caller-owned data (kept alive until run() returns).
template <class T>
pyrt_tensor input(const char* name, const T* data, std::initializer_list<int64_t> dims) {
  pyrt_tensor t{};
  t.name = name;
  t.dtype = dtype_of<T>();
  size_t n = 1;
  for (int64_t d : dims) {
    if (t.rank == PYRT_MAX_RANK) throw Exception(PYRT_INVALID_ARGUMENT, "rank above PYRT_MAX_RANK");
    t.dims[t.rank++] = d;
    n *= size_t(d < 0 ? 0 : d);
  }
  t.data = const_cast<T*>(data);
  t.size = n * sizeof(T);
  return t;
}

// pyrt_generate_options with the defaults (greedy, no top_k / top_p, seed 0, no eos, no callback).
inline pyrt_generate_options generate_options() {
  pyrt_generate_options o;
  pyrt_generate_options_init(&o);
  return o;
}

class Model {
 public:
  explicit Model(const std::string& path) { check(pyrt_model_open(path.c_str(), &m_)); }
  Model(const std::string& path, const pyrt_model_limits& limits) {
    check(pyrt_model_open_limited(path.c_str(), &limits, &m_));
  }
  Model(const void* data, size_t size, bool copy = true) { check(pyrt_model_open_memory(data, size, copy, &m_)); }
  ~Model() { pyrt_model_close(m_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Model& operator=(Model&& o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }

  size_t num_inputs() const {
    size_t n;
    check(pyrt_model_num_inputs(m_, &n));
    return n;
  }
  size_t num_outputs() const {
    size_t n;
    check(pyrt_model_num_outputs(m_, &n));
    return n;
  }
  pyrt_io_info input(size_t i) const {
    pyrt_io_info info;
    check(pyrt_model_input(m_, i, &info));
    return info;
  }
  pyrt_io_info output(size_t i) const {
    pyrt_io_info info;
    check(pyrt_model_output(m_, i, &info));
    return info;
  }
  const pyrt_model* get() const { return m_; }

 private:
  pyrt_model* m_ = nullptr;
};

// The outputs of one run: the session's buffers, valid until its next run.
class Outputs {
 public:
  explicit Outputs(std::vector<pyrt_tensor> t) : t_(std::move(t)) {}
  size_t size() const { return t_.size(); }
  const pyrt_tensor& operator[](size_t i) const { return t_.at(i); }
  template <class T>
  const T* data(size_t i) const {
    if (t_.at(i).dtype != dtype_of<T>()) throw Exception(PYRT_INVALID_ARGUMENT, "output dtype differs");
    return static_cast<const T*>(t_[i].data);
  }

 private:
  std::vector<pyrt_tensor> t_;
};

class Session {
 public:
  explicit Session(const Model& model, int num_threads = 0, bool force_reference = false, bool profile = false) {
    pyrt_session_options o;
    pyrt_session_options_init(&o);
    o.num_threads = num_threads;
    o.force_reference = force_reference;
    o.profile = profile;
    check(pyrt_session_create(model.get(), &o, &s_));
    n_out_ = model.num_outputs();
  }
  Session(const Model& model, const pyrt_session_options& options) {  // e.g. with max_arena_mib
    check(pyrt_session_create(model.get(), &options, &s_));
    n_out_ = model.num_outputs();
  }
  ~Session() { pyrt_session_destroy(s_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&& o) noexcept : s_(std::exchange(o.s_, nullptr)), n_out_(o.n_out_) {}
  Session& operator=(Session&& o) noexcept {
    std::swap(s_, o.s_);
    std::swap(n_out_, o.n_out_);
    return *this;
  }

  Outputs run(const std::vector<pyrt_tensor>& inputs) {
    std::vector<pyrt_tensor> out(n_out_, pyrt_tensor{});
    check(pyrt_session_run(s_, inputs.data(), inputs.size(), out.data(), out.size()));
    return Outputs(std::move(out));
  }
  const char* isa() const { return pyrt_session_isa(s_); }
  std::vector<pyrt_node_info> nodes() const {  // strings valid until the next nodes() call
    size_t n;
    check(pyrt_session_num_nodes(s_, &n));
    std::vector<pyrt_node_info> r(n);
    for (size_t i = 0; i < n; ++i) check(pyrt_session_node(s_, i, &r[i]));
    return r;
  }
  // A decoder's state (KV cache): pyrt_session_reset_state / _context_length / _max_context.
  void reset_state() { check(pyrt_session_reset_state(s_)); }
  int64_t context_length() const {
    int64_t n;
    check(pyrt_session_context_length(s_, &n));
    return n;
  }
  int64_t max_context() const {
    int64_t n;
    check(pyrt_session_max_context(s_, &n));
    return n;
  }
  // pyrt_generate: the new tokens (not the prompt). on_token, when given, gets each token as it is chosen and
  // returns false to stop (it replaces options.on_token); what it throws stops generation and is rethrown here.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, size_t max_new_tokens,
                                pyrt_generate_options options = generate_options(),
                                const std::function<bool(int64_t)>& on_token = {}) {
    struct Hook {
      const std::function<bool(int64_t)>* fn;
      std::exception_ptr error;
      static int call(void* user, int64_t token) {
        Hook* h = static_cast<Hook*>(user);
        try {
          return (*h->fn)(token) ? 0 : 1;
        } catch (...) {
          h->error = std::current_exception();
          return 1;
        }
      }
    } hook{&on_token, nullptr};
    if (on_token) options.on_token = &Hook::call, options.user = &hook;
    // no more than max_context + 1 tokens can come (more is refused before anything is written)
    std::vector<int64_t> out(std::min(max_new_tokens, size_t(max_context()) + 1));
    size_t n = 0;
    const pyrt_status st = pyrt_generate(s_, prompt.data(), prompt.size(), max_new_tokens, &options, out.data(), &n);
    if (hook.error) std::rethrow_exception(hook.error);
    check(st);
    out.resize(n);
    return out;
  }
  // pyrt_generate_batch: `batch` prompts of one length (row-major); row b's new tokens at [b * max_new_tokens
  // + t] for the steps made (the result holds batch x steps, rows in order).
  std::vector<int64_t> generate_batch(const std::vector<int64_t>& prompts, size_t batch, size_t max_new_tokens,
                                      const pyrt_generate_options& options = generate_options()) {
    if (batch == 0 || prompts.size() % batch) throw Exception(PYRT_INVALID_ARGUMENT, "prompts must be batch x n");
    std::vector<int64_t> out(batch * max_new_tokens);
    size_t steps = 0;
    check(pyrt_generate_batch(s_, prompts.data(), batch, prompts.size() / batch, max_new_tokens, &options,
                              out.data(), &steps));
    std::vector<int64_t> r;
    for (size_t b = 0; b < batch; ++b)
      r.insert(r.end(), out.begin() + b * max_new_tokens, out.begin() + b * max_new_tokens + steps);
    return r;
  }
  // pyrt_decode_step: n_tokens = tokens.size() / batch tokens of each row at the next positions; returns each
  // row's last-token logits (batch x vocab).
  std::vector<float> decode_step(const std::vector<int64_t>& tokens, size_t batch = 1) {
    if (batch == 0 || tokens.size() % batch) throw Exception(PYRT_INVALID_ARGUMENT, "tokens must be batch x n");
    std::vector<float> logits(batch * size_t(vocab()));
    check(pyrt_decode_step(s_, tokens.data(), batch, tokens.size() / batch, logits.data(), logits.size()));
    return logits;
  }
  int64_t vocab() const {
    int64_t v;
    check(pyrt_decoder_vocab(s_, &v));
    return v;
  }
  pyrt_session* get() { return s_; }

 private:
  pyrt_session* s_ = nullptr;
  size_t n_out_ = 0;
};

// pyrt_sampler: pyrt_generate's draws (temperature, top_k, top_p, seed of the options) for a loop of one's own.
class Sampler {
 public:
  explicit Sampler(const pyrt_generate_options& options = generate_options()) {
    check(pyrt_sampler_create(&options, &s_));
  }
  ~Sampler() { pyrt_sampler_destroy(s_); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  Sampler(Sampler&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Sampler& operator=(Sampler&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  int64_t sample(const float* logits, size_t n) {  // one row
    int64_t t;
    check(pyrt_sampler_sample(s_, logits, n, &t));
    return t;
  }
  int64_t sample(const std::vector<float>& logits) { return sample(logits.data(), logits.size()); }

 private:
  pyrt_sampler* s_ = nullptr;
};

}  // namespace pyrt::api

#endif  // PYRT_PYRT_HPP_
