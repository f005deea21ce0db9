// Token generation over a decoder session (exporters.gpt.export_gpt: inputs input_ids [B, T] i64 and, with learned
// positions, position_ids [B, T] i64; output logits [B, 1 or T, V]; a KV cache in its CausalAttention nodes):
// the prompt runs once (prefill), then one token per run (decode), as Python's pyruntime.Generator does.
// The Sampler is the only one: Python's Generator draws its tokens with it too (pyruntime._core.Sampler,
// csrc/python/generate.cc), so a model, prompt, options and seed give the same tokens from C and from Python.
// Greedy is argmax with the lowest id on ties (numpy's argmax); sampling is logits / temperature, top_k,
// softmax, top_p nucleus, one uniform draw against the cumulative sum, from xoshiro256** seeded by splitmix64.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/session.h"
#include "format/model.h"

namespace pyrt {

struct SamplingParams {
  double temperature = 0.0;  // 0: greedy; else finite and > 0
  int64_t top_k = 0;         // 0: off; else keep the top_k largest logits (and any tied with the k-th)
  double top_p = 1.0;        // in (0, 1]; 1: off; else the smallest most-likely prefix whose mass reaches top_p
};

// Throws Status::kInvalidArgument naming the bad field.
void check_sampling(const SamplingParams& p);

// xoshiro256** (Blackman & Vigna), its state filled by splitmix64 from the seed: any seed, 0 included.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

// The index of the largest logit, the lowest on ties; a NaN counts as the largest (numpy's argmax).
int64_t argmax(const float* logits, size_t n);

// Picks one token per call from n logits; keeps its scratch between calls.
class Sampler {
 public:
  Sampler(const SamplingParams& p, uint64_t seed);  // checks p
  int64_t sample(const float* logits, size_t n);

 private:
  SamplingParams p_;
  Rng rng_;
  std::vector<double> z_, kth_;
  std::vector<uint32_t> order_;
};

// A session checked to be a decoder, run a chunk of tokens at a time for `batch` sequences side by side.
class Decoder {
 public:
  // Throws Status::kInvalidArgument when the session's model is not a decoder: inputs other than input_ids
  // (i64) and position_ids (i64), no KV cache (max_context 0), or no f32 logits output with a static vocabulary.
  explicit Decoder(Session& s);

  int64_t vocab() const { return vocab_; }
  int64_t max_context() const { return max_ctx_; }
  // Checks ids in [0, vocab) (Status::kInvalidArgument with what = "token ids" or "prompt token ids").
  void check_tokens(const int64_t* ids, size_t n, const char* what) const;
  // Runs n tokens (n >= 1) of each of `batch` rows (ids [batch, n]) at positions context_length().. and returns
  // the logits of each row's last token: row b at the result + b * (*row_stride) (vocab() floats each; the
  // session's buffer: valid until its next run).
  const float* step(const int64_t* ids, size_t batch, size_t n, size_t* row_stride);
  const float* step(const int64_t* ids, size_t n) {  // batch 1
    size_t stride = 0;
    return step(ids, 1, n, &stride);
  }

 private:
  Session& s_;
  int64_t vocab_ = 0, max_ctx_ = 0;
  size_t ids_in_ = 0, pos_in_ = 0, logits_out_ = 0;
  bool has_pos_ = false;
  std::vector<int64_t> pos_;
  std::vector<const void*> data_;
  std::vector<Shape> shapes_;
};

struct GenerateParams {
  SamplingParams sampling;
  uint64_t seed = 0;
  int64_t eos_token_id = -1;  // -1: none; else in [0, vocab): generation stops after it (it is emitted)
};

// Checks everything (the decoder, the prompt: not empty, ids in [0, vocab); the sampling parameters; the
// context: n_prompt + max_new_tokens - 1 <= max_context, else Status::kLimit "context overflow: ..."), resets
// the session's state, runs the prompt, and emits each new token as it is chosen. Stops after max_new_tokens,
// after eos_token_id, or when emit returns false. Returns the number of tokens emitted.
size_t generate(Session& s, const int64_t* prompt, size_t n_prompt, size_t max_new_tokens, const GenerateParams& p,
                const std::function<bool(int64_t)>& emit);

// The same for `batch` prompts of n_prompt tokens each (prompts [batch, n_prompt]; rows of one length: the
// attention has no padding mask): each step draws one token per row, rows in order, from one sampler (as
// Python's Generator draws a batch), and emits the step's `batch` tokens. Stops after max_new_tokens steps,
// once every row has produced eos_token_id (a row that did keeps being fed its draws, as in Python), or when
// emit returns false. Returns the number of steps.
size_t generate_batch(Session& s, const int64_t* prompts, size_t batch, size_t n_prompt, size_t max_new_tokens,
                      const GenerateParams& p, const std::function<bool(const int64_t*)>& emit);

// What is fed to a model run without data (pyrt_benchmark through pyrt_model_random_input, `pyruntime run` and
// `pyruntime bench` through pyruntime._core.random_input): one maker, so every tool times the same inputs.
//   f32, f16: uniform in [-1, 1)
//   input_ids (integers): token ids uniform in [0, vocab), vocab the last dimension of the logits output (the
//     output named "logits", else the first), when static; else 0 or 1
//   position_ids (integers): 0, 1, 2, ... along the last axis
//   other integers and bool: 0 or 1 (indices and masks stay in range)
// The values depend only on the seed, the input's index, its declaration and the shape (xoshiro256**).
// shape: the shape to fill (its rank and static dimensions those declared: else Status::kInvalidArgument);
// out: room for its numel values of the declared dtype.
void random_input(const Meta& meta, size_t index, const Shape& shape, uint64_t seed, void* out);
// The bytes random_input writes for that shape, after the same checks.
size_t random_input_bytes(const Meta& meta, size_t index, const Shape& shape);

}  // namespace pyrt
