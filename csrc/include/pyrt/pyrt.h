/* pyrt: the C API of the pyruntime inference runtime (libpyrt).
 *
 * Stable ABI: opaque handles, plain C types, no exception crosses it. Every call that can fail returns a
 * pyrt_status; on failure pyrt_last_error() gives the message (per thread, until the thread's next failing
 * call). Handles passed as NULL are refused with PYRT_INVALID_ARGUMENT, never dereferenced.
 *
 * Threads: a pyrt_model is immutable once open and may be shared by any number of sessions on any threads
 * (its weights are mapped or copied once). A pyrt_session is used by one thread at a time (it owns the
 * activation arena and, with num_threads > 1, its own worker pool). Close a model after its sessions: a
 * session keeps what it needs of the model alive, so closing the handle early is safe too.
 *
 * Typical use:
 *   pyrt_model* m; pyrt_session* s;
 *   if (pyrt_model_open("m.pyrt", &m) != PYRT_OK) fprintf(stderr, "%s\n", pyrt_last_error());
 *   pyrt_session_create(m, NULL, &s);
 *   pyrt_tensor in = {"x", PYRT_F32, 4, {1, 3, 224, 224}, pixels, sizeof pixels};
 *   pyrt_tensor out = {0};                       // data NULL: the session's buffer (valid until the next run)
 *   pyrt_session_run(s, &in, 1, &out, 1);
 */
#ifndef PYRT_PYRT_H_
#define PYRT_PYRT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PYRT_API __declspec(dllexport)
#else
#define PYRT_API __attribute__((visibility("default")))
#endif

/* Bumped when a struct or signature below changes incompatibly. */
#define PYRT_ABI_VERSION 1
#define PYRT_MAX_RANK 8

typedef enum pyrt_status {
  PYRT_OK = 0,
  PYRT_INVALID_ARGUMENT = 1, /* a NULL handle, a wrong size, dtype or shape, ... */
  PYRT_FORMAT = 2,           /* the model file is malformed or needs features this build lacks */
  PYRT_IO = 3,               /* the file could not be read or mapped */
  PYRT_NOT_FOUND = 4,        /* no such file, or no input / output / node with that name or index */
  PYRT_UNSUPPORTED = 5,      /* a valid model this build cannot run (an operator it lacks, ...) */
  PYRT_INTERNAL = 6,
  PYRT_LIMIT = 7             /* above a cap: pyrt_model_limits, pyrt_session_options.max_arena_mib, a decoder's
                                context (its KV cache's max_context) */
} pyrt_status;

typedef enum pyrt_dtype {
  PYRT_F32 = 1, PYRT_F16 = 2, PYRT_I8 = 3, PYRT_U8 = 4, PYRT_I32 = 5, PYRT_I64 = 6, PYRT_BOOL = 7,
  PYRT_F64 = 8, PYRT_I16 = 9, PYRT_U16 = 10, PYRT_U32 = 11, PYRT_U64 = 12, PYRT_BF16 = 13, /* bf16: its bits, uint16 */
  PYRT_STRING = 14  /* text: each element a pyrt_string (16 bytes); graph inputs and outputs only */
} pyrt_dtype;

/* One element of a PYRT_STRING tensor: `size` bytes at `data` (not NUL-terminated; {NULL, 0} is ""). The runtime
 * reads the bytes as they are (its text operators map ASCII letters only).
 * Inputs: the caller owns the bytes; they need only stay valid during pyrt_session_run (the session copies what it
 *   keeps). A handle with size > 0 and data NULL is refused.
 * Outputs: data points into memory the session owns (or, when an input is passed through unchanged, into that
 *   input's bytes), valid until the next pyrt_session_run on the session or pyrt_session_destroy. An output
 *   copied into a caller's buffer copies the handles, not the bytes: the same lifetime applies. */
typedef struct pyrt_string {
  const char* data;
  uint64_t size;
} pyrt_string;

typedef struct pyrt_model pyrt_model;
typedef struct pyrt_session pyrt_session;
typedef struct pyrt_sampler pyrt_sampler;

/* A tensor passed to or returned by pyrt_session_run. dims[0..rank) are the shape; size is data's bytes. */
typedef struct pyrt_tensor {
  const char* name;
  int32_t dtype; /* pyrt_dtype */
  int32_t rank;
  int64_t dims[PYRT_MAX_RANK];
  void* data;
  size_t size;
} pyrt_tensor;

/* An input or output of a model as declared: dims of -1 are dynamic. Pointers live as long as the model. */
typedef struct pyrt_io_info {
  const char* name;
  int32_t dtype;
  int32_t rank;
  const int64_t* dims;
} pyrt_io_info;

typedef struct pyrt_session_options {
  int32_t num_threads;     /* 0: one per hardware thread */
  int32_t force_reference; /* 1: the scalar reference kernels (for checking), whatever the CPU has */
  int32_t profile;         /* 1: time every node (pyrt_session_node) */
  int32_t max_arena_mib;   /* the largest activation arena a plan may take, in MiB; 0: PYRT_MAX_ARENA_BYTES or
                              4 GiB. With static input shapes the plan is made at create: over it, PYRT_LIMIT
                              there; otherwise at the first run with shapes that need more. */
  int32_t decode_weights;  /* 1: low-bit weights (int8-weights, int4, i8g, shared values) decoded to f32 at create
                              and multiplied in f32 (no activation quantization), at the memory of f32 weights:
                              for checking a converted or quantized file against its source. 0 (default): run
                              on the stored encodings. (Was reserved[0]: callers that set it 0 are unchanged.) */
  int32_t reserved[3];     /* 0 */
} pyrt_session_options;

/* Caps on what a model file may ask for, checked before the structures they size are allocated (0: none beyond
 * the format's own maxima). Over a cap: PYRT_LIMIT, naming it. */
typedef struct pyrt_model_limits {
  uint64_t max_file_bytes;
  uint32_t max_tensors;
  uint32_t max_nodes;
  uint64_t reserved[4]; /* 0 */
} pyrt_model_limits;

/* One node of a session's graph, with profile times when the session profiles: pyrt_session_num_nodes takes
 * a snapshot (kernels and times as of that call) that pyrt_session_node reads; its strings stay valid until
 * the next pyrt_session_num_nodes call on that session, or its destroy. */
typedef struct pyrt_node_info {
  const char* name;
  const char* op_type;
  const char* kernel; /* the kernel the node runs, e.g. "conv1x1-nhwc-gemm-avx512" */
  double total_ms;    /* summed over runs (profile only) */
  uint64_t runs;
} pyrt_node_info;

/* Token generation (pyrt_generate): sampling settings and an optional per-token callback. Initialize with
 * pyrt_generate_options_init, then set the fields wanted. */
typedef struct pyrt_generate_options {
  double temperature;   /* 0 (default): greedy, the argmax of the logits (the lowest id on ties, as Python's
                           pyruntime.Generator); > 0 (finite): a draw from softmax(logits / temperature) */
  int32_t top_k;        /* 0 (default): off; > 0: only the top_k largest logits (and any tied with the k-th) */
  double top_p;         /* 1 (default): off; in (0, 1): only the smallest set of most likely tokens whose
                           probability reaches top_p (nucleus), applied after top_k */
  uint64_t seed;        /* the sampler's seed: the same model, prompt, options and seed give the same tokens on
                           every machine, and the same as Python's pyruntime.Generator (one sampler) */
  int64_t eos_token_id; /* -1 (default): none; else in [0, vocab): generation stops after this token (it is
                           returned, as the last token) */
  /* NULL (default), or called with each new token, in order, as soon as it is chosen (it is already in
   * out_tokens); a non-zero return stops generation after that token. It must not call into this session. */
  int (*on_token)(void* user, int64_t token);
  void* user;           /* passed to on_token */
  int32_t reserved[4];  /* 0 */
} pyrt_generate_options;

PYRT_API uint32_t pyrt_abi_version(void);
PYRT_API const char* pyrt_version(void);
/* The message of this thread's last failed call ("" if none). */
PYRT_API const char* pyrt_last_error(void);
/* The kernel family the CPU gets: "avx512", "avx2", "neon" or "ref". */
PYRT_API const char* pyrt_isa(void);

PYRT_API pyrt_status pyrt_model_open(const char* path, pyrt_model** out);
/* copy = 1: the model keeps its own copy; 0: the caller keeps data alive (and 64-byte aligned for zero copy)
 * while the model and its sessions live. */
PYRT_API pyrt_status pyrt_model_open_memory(const void* data, size_t size, int copy, pyrt_model** out);
/* The same with caps (limits may be NULL: none). */
PYRT_API void pyrt_model_limits_init(pyrt_model_limits* limits);
PYRT_API pyrt_status pyrt_model_open_limited(const char* path, const pyrt_model_limits* limits, pyrt_model** out);
PYRT_API pyrt_status pyrt_model_open_memory_limited(const void* data, size_t size, int copy,
                                                    const pyrt_model_limits* limits, pyrt_model** out);
PYRT_API void pyrt_model_close(pyrt_model* model); /* NULL is fine */
PYRT_API pyrt_status pyrt_model_num_inputs(const pyrt_model* model, size_t* out);
PYRT_API pyrt_status pyrt_model_num_outputs(const pyrt_model* model, size_t* out);
PYRT_API pyrt_status pyrt_model_input(const pyrt_model* model, size_t index, pyrt_io_info* out);
PYRT_API pyrt_status pyrt_model_output(const pyrt_model* model, size_t index, pyrt_io_info* out);
/* Values for input `index` when a tool has no data for it: what pyrt_benchmark and Python's `pyruntime run` /
 * `pyruntime bench` feed. f32/f16 uniform in [-1, 1); an integer input_ids: token ids uniform in [0, vocab),
 * vocab the last dimension of the logits output; position_ids 0, 1, 2, ... along the last axis; other integers
 * and bool 0 or 1 (indices and masks stay in range). The same seed gives the same values everywhere.
 *   tensor: rank and dims set by the caller (the declared shape, dynamic dims chosen); name and dtype are set.
 *   data NULL: size is set to the bytes needed, nothing written; else size must be at least that. */
PYRT_API pyrt_status pyrt_model_random_input(const pyrt_model* model, size_t index, uint64_t seed,
                                             pyrt_tensor* tensor);

PYRT_API void pyrt_session_options_init(pyrt_session_options* options);
/* options may be NULL (the defaults). */
PYRT_API pyrt_status pyrt_session_create(const pyrt_model* model, const pyrt_session_options* options,
                                         pyrt_session** out);
PYRT_API void pyrt_session_destroy(pyrt_session* session); /* NULL is fine */
/* Runs the model. inputs: one per model input, matched by name (or by position when name is NULL), dtype and
 * size checked against rank/dims. outputs: n_outputs <= the model's, by name or position; an output with data
 * set gets a copy (size must be enough; size is set to the bytes written), one with data NULL gets the
 * session's own buffer (valid until the next run or destroy). dtype, rank and dims are filled in. */
PYRT_API pyrt_status pyrt_session_run(pyrt_session* session, const pyrt_tensor* inputs, size_t n_inputs,
                                      pyrt_tensor* outputs, size_t n_outputs);
/* The kernel family this session runs ("ref" when forced). */
PYRT_API const char* pyrt_session_isa(const pyrt_session* session);
PYRT_API pyrt_status pyrt_session_num_nodes(const pyrt_session* session, size_t* out);
PYRT_API pyrt_status pyrt_session_node(const pyrt_session* session, size_t index, pyrt_node_info* out);
/* Bytes of the activation arena of the current plan. */
PYRT_API pyrt_status pyrt_session_arena_bytes(const pyrt_session* session, size_t* out);

/* Sessions of models with state (a decoder's KV cache, exporters.gpt.export_gpt): each pyrt_session_run continues
 * the sequence the previous runs started, at the positions after them; pyrt_session_reset_state starts a new
 * one (the cache keeps its memory). A run that would go past the cache's capacity fails with PYRT_LIMIT and
 * leaves the state as it was; so does any failed run. Stateless models: reset does nothing, both counts are 0. */
PYRT_API pyrt_status pyrt_session_reset_state(pyrt_session* session);
/* The tokens the session's state holds (the current sequence's length). */
PYRT_API pyrt_status pyrt_session_context_length(const pyrt_session* session, int64_t* out);
/* The most tokens the state can hold (the model's max_context), 0 for a model without a KV cache. */
PYRT_API pyrt_status pyrt_session_max_context(const pyrt_session* session, int64_t* out);

/* Generates up to max_new_tokens tokens after a prompt (batch 1) with a decoder session: a model with inputs
 * input_ids [B, T] i64 (and, optionally, position_ids [B, T] i64, fed 0, 1, 2, ...), an f32 logits output
 * [B, 1 or T, vocab] with a fixed vocab (named "logits", else the first output) and a KV cache, as
 * exporters.gpt.export_gpt writes. It resets the session's state, runs the prompt once (prefill), then one token
 * per run (decode), as Python's pyruntime.Generator does, with its sampler: Python's tokens, greedy or seeded.
 *   prompt: n_prompt >= 1 token ids, each in [0, vocab).  opts: NULL for the defaults (greedy).
 *   out_tokens: room for max_new_tokens ids; receives the new tokens only (not the prompt). It may be NULL when
 *   opts->on_token takes the tokens.  n_out: set to the number of tokens written (also on failure: the tokens
 *   made before it). Generation ends after max_new_tokens tokens, after eos_token_id, or when on_token returns
 *   non-zero. max_new_tokens 0: the arguments are checked and the state reset, nothing runs.
 * Errors: PYRT_INVALID_ARGUMENT for NULL pointers, an empty prompt, a token id outside [0, vocab), a bad option
 * (temperature < 0 or not finite, top_k < 0, top_p outside (0, 1], eos_token_id < -1 or >= vocab, reserved not
 * 0) or a model that is not such a decoder (its inputs; no KV cache); PYRT_LIMIT for a context overflow
 * (n_prompt + max_new_tokens - 1 > max_context: the last new token is never fed back); a failed run's status. */
PYRT_API void pyrt_generate_options_init(pyrt_generate_options* options);
PYRT_API pyrt_status pyrt_generate(pyrt_session* session, const int64_t* prompt, size_t n_prompt,
                                   size_t max_new_tokens, const pyrt_generate_options* opts, int64_t* out_tokens,
                                   size_t* n_out);

/* pyrt_generate for `batch` prompts of n_prompt tokens each (prompts: batch x n_prompt ids, row-major; one
 * length for every row: the attention has no padding mask). Each step draws one token per row, rows in order,
 * from one sampler: Python's pyruntime.Generator on a [batch, n_prompt] prompt gives the same tokens.
 *   out_tokens: batch x max_new_tokens ids; row b's step t at out_tokens[b * max_new_tokens + t].
 *   n_steps: set to the steps made (also on failure). Generation ends after max_new_tokens steps, or once every
 *   row has produced eos_token_id (a row that did goes on drawing: its tokens after eos are to be ignored).
 *   opts->on_token must be NULL here. Errors: as pyrt_generate, and batch 0 or out_tokens NULL. */
PYRT_API pyrt_status pyrt_generate_batch(pyrt_session* session, const int64_t* prompts, size_t batch,
                                         size_t n_prompt, size_t max_new_tokens, const pyrt_generate_options* opts,
                                         int64_t* out_tokens, size_t* n_steps);

/* A loop of one's own: pyrt_decode_step runs `n_tokens` tokens of each of `batch` rows (tokens: batch x n_tokens
 * ids, row-major) at the positions after those the session holds (the first call after a reset or a new session
 * is the prompt), and copies each row's last-token logits into logits (batch x vocab floats; capacity: the
 * floats it has room for). pyrt_decoder_vocab gives vocab. A sampler (pyrt_sampler_create, with the options'
 * temperature, top_k, top_p and seed) draws tokens as pyrt_generate does: one pyrt_sampler_sample per row, in
 * order, reproduces its tokens. Errors: PYRT_INVALID_ARGUMENT for NULL pointers, a model that is not a decoder,
 * ids outside [0, vocab), a batch that changes in the middle of a sequence, too little capacity; PYRT_LIMIT
 * for a context overflow (the state is kept as it was). */
PYRT_API pyrt_status pyrt_decoder_vocab(const pyrt_session* session, int64_t* out);
PYRT_API pyrt_status pyrt_decode_step(pyrt_session* session, const int64_t* tokens, size_t batch, size_t n_tokens,
                                      float* logits, size_t capacity);
PYRT_API pyrt_status pyrt_sampler_create(const pyrt_generate_options* opts, pyrt_sampler** out);
PYRT_API void pyrt_sampler_destroy(pyrt_sampler* sampler); /* NULL is fine */
/* One token from n logits (one row). */
PYRT_API pyrt_status pyrt_sampler_sample(pyrt_sampler* sampler, const float* logits, size_t n, int64_t* out);

#ifdef __cplusplus
}
#endif

#endif /* PYRT_PYRT_H_ */
