// Token generation: sampling (generate.h) and the prefill + decode loop over a decoder session.
#include "core/generate.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "base/error.h"
#include "format/spec.h"
#include "kernels/ref/ref.h"

namespace pyrt {
namespace {

[[noreturn]] void invalid(const std::string& msg) { fail(Status::kInvalidArgument, msg); }

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

void check_sampling(const SamplingParams& p) {
  if (!(p.temperature >= 0.0) || !std::isfinite(p.temperature))
    invalid("temperature must be finite and >= 0 (0: greedy), got " + num(p.temperature));
  if (p.top_k < 0) invalid("top_k must be >= 0 (0: off), got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) invalid("top_p must be in (0, 1] (1: off), got " + num(p.top_p));
}

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return r;
}

double Rng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

int64_t argmax(const float* logits, size_t n) {
  size_t best = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(logits[i])) return int64_t(i);
    if (logits[i] > logits[best]) best = i;
  }
  return int64_t(best);
}

Sampler::Sampler(const SamplingParams& p, uint64_t seed) : p_(p), rng_(seed) { check_sampling(p); }

int64_t Sampler::sample(const float* logits, size_t n) {
  if (n == 0) invalid("no logits to sample from");
  if (p_.temperature == 0.0) return argmax(logits, n);
  // in float64: the probabilities of a large vocabulary sum without losing the tail
  z_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(logits[i]))  // softmax over NaN/inf is meaningless (and NaN breaks the top-k ordering)
      invalid("logit " + std::to_string(i) + " is " + (std::isnan(logits[i]) ? "nan" : logits[i] > 0 ? "inf" : "-inf") +
              ": the model's output cannot be sampled (temperature > 0)");
    z_[i] = double(logits[i]) / p_.temperature;
  }
  if (p_.top_k > 0 && uint64_t(p_.top_k) < n) {
    kth_.assign(z_.begin(), z_.end());  // the k-th largest; everything below it goes (ties with it stay)
    std::nth_element(kth_.begin(), kth_.begin() + (p_.top_k - 1), kth_.end(), std::greater<double>());
    const double kth = kth_[size_t(p_.top_k - 1)];
    for (double& v : z_)
      if (v < kth) v = -std::numeric_limits<double>::infinity();
  }
  double mx = -std::numeric_limits<double>::infinity();
  for (double v : z_) mx = std::max(mx, v);
  double sum = 0;
  for (double& v : z_) sum += (v = std::exp(v - mx));
  for (double& v : z_) v /= sum;
  if (p_.top_p < 1.0) {  // the smallest most-likely prefix whose mass reaches top_p (a stable order by -p)
    order_.resize(n);
    for (size_t i = 0; i < n; ++i) order_[i] = uint32_t(i);
    std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) { return z_[a] > z_[b]; });
    double cum = 0, kept = 0;
    for (uint32_t i : order_) {
      const double pi = z_[i];
      cum += pi;
      if (cum - pi < p_.top_p) kept += pi;
      else z_[i] = 0.0;
    }
    for (double& v : z_) v /= kept;
  }
  const double u = rng_.uniform();
  double cum = 0;
  size_t below = 0;  // how many prefix sums are below u: the drawn index
  for (size_t i = 0; i < n; ++i) {
    cum += z_[i];
    if (cum < u) below = i + 1;
  }
  // u at or past the rounded total (or 0 against a zero head) lands on a token top-k/top-p removed: the nearest kept
  size_t k = std::min(below, n - 1), j = k;
  while (j > 0 && z_[j] == 0.0) --j;
  if (z_[j] == 0.0)
    for (j = k; j + 1 < n && z_[j] == 0.0;) ++j;
  return int64_t(j);
}

Decoder::Decoder(Session& s) : s_(s) {
  max_ctx_ = s.max_context();
  if (max_ctx_ <= 0)
    invalid("the model has no KV cache (no CausalAttention node): token generation needs a decoder with one, as "
            "exporters.gpt.export_gpt writes");
  bool has_ids = false, other = false;
  std::string names;
  for (size_t i = 0; i < s.num_inputs(); ++i) {
    const IoDesc& d = s.input(i);
    names += (i ? ", " : "") + d.name;
    if (d.name == "input_ids") has_ids = true, ids_in_ = i;
    else if (d.name == "position_ids") has_pos_ = true, pos_in_ = i;
    else other = true;
  }
  if (!has_ids || other)
    invalid("not a decoder: its inputs are " + (names.empty() ? std::string("(none)") : names) +
            "; expected input_ids (and position_ids), as exporters.gpt.export_gpt writes");
  for (size_t i = 0; i < s.num_inputs(); ++i)
    if (s.input(i).dtype != spec::kI64)
      invalid("not a decoder: input '" + s.input(i).name + "' must be i64, the model declares " +
              spec::dtype_name(s.input(i).dtype));
  if (s.num_outputs() == 0) invalid("not a decoder: the model has no outputs");
  for (size_t i = 0; i < s.num_outputs(); ++i)
    if (s.output(i).name == "logits") logits_out_ = i;
  const IoDesc& o = s.output(logits_out_);
  if (o.dtype != spec::kF32 || o.dims.empty() || o.dims.back() <= 0)
    invalid("not a decoder: output '" + o.name + "' must be f32 logits [batch, tokens, vocab] with a fixed vocab");
  vocab_ = o.dims.back();
  data_.resize(s.num_inputs());
  shapes_.resize(s.num_inputs());
}

void Decoder::check_tokens(const int64_t* ids, size_t n, const char* what) const {
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab_)
      invalid(std::string(what) + " must be in [0, " + std::to_string(vocab_) + "): id " + std::to_string(ids[i]) +
              " at index " + std::to_string(i));
}

const float* Decoder::step(const int64_t* ids, size_t batch, size_t n, size_t* row_stride) {
  if (n == 0 || batch == 0) invalid("a decoder step needs at least one token in at least one row");
  const int64_t start = s_.context_length();
  data_[ids_in_] = ids;
  shapes_[ids_in_] = {int64_t(batch), int64_t(n)};
  if (has_pos_) {
    pos_.resize(batch * n);
    for (size_t i = 0; i < batch * n; ++i) pos_[i] = start + int64_t(i % n);
    data_[pos_in_] = pos_.data();
    shapes_[pos_in_] = {int64_t(batch), int64_t(n)};
  }
  s_.run(data_, shapes_);
  const TensorDesc& d = s_.output_desc(logits_out_);
  const int64_t count = d.numel(), per_row = count / int64_t(batch);
  if (d.dtype != spec::kF32 || count < vocab_ * int64_t(batch) || count % (vocab_ * int64_t(batch)) ||
      d.shape.empty() || d.shape.back() != vocab_ || d.shape[0] != int64_t(batch))
    fail(Status::kInternal, "the logits output has " + std::to_string(count) + " values, not " +
                                std::to_string(batch) + " rows of whole f32 vectors of " + std::to_string(vocab_));
  *row_stride = size_t(per_row);  // [B, 1 or T, V]: a row's last token is its last vocab() floats
  return static_cast<const float*>(s_.output_data(logits_out_)) + (per_row - vocab_);
}

namespace {

// The checks generate and generate_batch share; throws naming what is wrong.
void check_generate(const Decoder& dec, const int64_t* prompt, size_t rows, size_t n_prompt, size_t max_new_tokens,
                    const GenerateParams& p) {
  if (n_prompt == 0 || rows == 0) invalid("the prompt is empty: give at least one token id");
  if (!prompt) invalid("prompt is NULL");
  dec.check_tokens(prompt, rows * n_prompt, "prompt token ids");
  check_sampling(p.sampling);
  if (p.eos_token_id < -1 || p.eos_token_id >= dec.vocab())
    invalid("eos_token_id must be -1 (none) or in [0, " + std::to_string(dec.vocab()) + "), got " +
            std::to_string(p.eos_token_id));
  // the last new token is never fed back: the run needs n_prompt + max_new_tokens - 1 positions
  const uint64_t ctx = uint64_t(dec.max_context()), extra = max_new_tokens ? uint64_t(max_new_tokens) - 1 : 0;
  if (uint64_t(n_prompt) > ctx || extra > ctx - uint64_t(n_prompt)) {
    const uint64_t need = uint64_t(n_prompt) + extra;
    fail(Status::kLimit, "context overflow: a prompt of " + std::to_string(n_prompt) + " tokens + " +
                             std::to_string(max_new_tokens) + " new tokens needs " +
                             (need < extra ? std::string("over 2^64") : std::to_string(need)) +
                             " positions; the model's context is " + std::to_string(ctx));
  }
}

}  // namespace

size_t generate(Session& s, const int64_t* prompt, size_t n_prompt, size_t max_new_tokens, const GenerateParams& p,
                const std::function<bool(int64_t)>& emit) {
  // batch 1 stops at its eos itself (the batch loop stops when every row has had one: the same for one row)
  return generate_batch(s, prompt, 1, n_prompt, max_new_tokens, p, [&](const int64_t* tok) { return emit(*tok); });
}

size_t generate_batch(Session& s, const int64_t* prompts, size_t batch, size_t n_prompt, size_t max_new_tokens,
                      const GenerateParams& p, const std::function<bool(const int64_t*)>& emit) {
  Decoder dec(s);
  check_generate(dec, prompts, batch, n_prompt, max_new_tokens, p);
  Sampler sampler(p.sampling, p.seed);
  s.reset_state();
  if (max_new_tokens == 0) return 0;
  size_t stride = 0;
  const float* logits = dec.step(prompts, batch, n_prompt, &stride);
  std::vector<int64_t> toks(batch);
  std::vector<char> ended(batch, 0);
  size_t steps = 0;
  for (;;) {
    size_t open = 0;
    for (size_t b = 0; b < batch; ++b) {
      toks[b] = sampler.sample(logits + b * stride, size_t(dec.vocab()));
      ended[b] = ended[b] || toks[b] == p.eos_token_id;
      open += !ended[b];
    }
    ++steps;
    if (!emit(toks.data()) || open == 0 || steps == max_new_tokens) return steps;
    logits = dec.step(toks.data(), batch, 1, &stride);
  }
}

size_t random_input_bytes(const Meta& meta, size_t index, const Shape& shape) {
  if (index >= meta.inputs.size())
    fail(Status::kNotFound, "input " + std::to_string(index) + " out of range: the model has " +
                                std::to_string(meta.inputs.size()));
  const IoDesc& d = meta.inputs[index];
  bool fits = shape.size() == d.dims.size();
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = shape[i] >= 0 && (d.dims[i] < 0 || d.dims[i] == shape[i]);
  if (!fits)
    invalid("input '" + d.name + "': shape " + shape_str(shape) + " does not fit the model's " + shape_str(d.dims) +
            " (-1 = any)");
  const int64_t n = numel(shape);
  if (uint64_t(n) > (uint64_t(1) << 48)) invalid("input '" + d.name + "': shape " + shape_str(shape) + " is too large");
  return size_t(n) * spec::dtype_size(d.dtype);
}

void random_input(const Meta& meta, size_t index, const Shape& shape, uint64_t seed, void* out) {
  const size_t bytes = random_input_bytes(meta, index, shape);
  const IoDesc& d = meta.inputs[index];
  const size_t n = bytes / spec::dtype_size(d.dtype);
  if (d.dtype == spec::kString) {  // empty strings: handles {NULL, 0}, no bytes to own
    std::memset(out, 0, bytes);
    return;
  }
  Rng rng(seed ^ (0x9e3779b97f4a7c15ull * (index + 1)));  // each input its own stream
  int64_t vocab = 2;                                      // integers: 0 or 1
  if (d.name == "input_ids" && !meta.outputs.empty()) {
    const IoDesc* logits = &meta.outputs[0];
    for (const IoDesc& o : meta.outputs)
      if (o.name == "logits") logits = &o;
    if (!logits->dims.empty() && logits->dims.back() > 0) vocab = logits->dims.back();
  }
  const size_t row = shape.empty() || shape.back() <= 0 ? 1 : size_t(shape.back());
  for (size_t i = 0; i < n; ++i) {
    const double u = rng.uniform();
    const int64_t k = d.name == "position_ids" ? int64_t(i % row) : std::min(int64_t(u * double(vocab)), vocab - 1);
    switch (d.dtype) {
      case spec::kF32: static_cast<float*>(out)[i] = float(2 * u - 1); break;
      case spec::kF16: static_cast<uint16_t*>(out)[i] = kernels::ref::f32_to_f16_one(float(2 * u - 1)); break;
      case spec::kI64: static_cast<int64_t*>(out)[i] = k; break;
      case spec::kI32: static_cast<int32_t*>(out)[i] = int32_t(k); break;
      case spec::kI8: static_cast<int8_t*>(out)[i] = int8_t(std::min<int64_t>(k, 1)); break;
      case spec::kF64: static_cast<double*>(out)[i] = 2 * u - 1; break;
      case spec::kBF16: {  // the top half of the f32
        const float f = float(2 * u - 1);
        uint32_t b;
        std::memcpy(&b, &f, 4);
        static_cast<uint16_t*>(out)[i] = uint16_t(b >> 16);
        break;
      }
      case spec::kI16: case spec::kU16: static_cast<uint16_t*>(out)[i] = uint16_t(k); break;
      case spec::kU32: static_cast<uint32_t*>(out)[i] = uint32_t(k); break;
      case spec::kU64: static_cast<uint64_t*>(out)[i] = uint64_t(k); break;
      default: static_cast<uint8_t*>(out)[i] = uint8_t(std::min<int64_t>(k, 1)); break;  // u8, bool
    }
  }
}

}  // namespace pyrt
