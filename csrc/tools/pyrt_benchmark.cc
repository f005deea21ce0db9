// pyrt_benchmark: times a .pyrt model through the C API only (what an embedding program sees), with the flags of
// TensorFlow Lite's benchmark_model. Random inputs from pyrt_model_random_input (seed 0: the inputs `pyruntime
// bench` and `pyruntime run` feed; f32 uniform in [-1, 1), token ids below the vocabulary, other integers 0 or 1).
//
//   pyrt_benchmark --graph=model.pyrt [--num_threads=N] [--warmup_runs=1] [--num_runs=50] [--max_secs=150]
//                  [--input_layer_shape=1,224,224,3:1,10] [--enable_op_profiling=true]
//                  [--force_reference=true] [--output=text|json|csv] [--prompt_tokens=128] [--gen_tokens=64]
//
// --input_layer_shape gives the shapes of the inputs in order (":" between inputs), needed where the model's
// declared shape has dynamic (-1) dimensions (default: 1 for those). A model with state (a decoder's KV cache)
// has its state reset before each of these runs, so each run is the same work.
//
// Decoders (a KV cache and inputs input_ids [+ position_ids], as exporters.gpt.export_gpt writes) are also timed
// the way llama-bench does: per repetition, the state reset, a prompt of --prompt_tokens random token ids in
// one run (prefill), then --gen_tokens runs of one token each (decode); medians over --num_runs repetitions
// (after --warmup_runs, within --max_secs). Both must fit the model's context (prompt + gen <= max_context);
// left at their defaults they are shrunk to fit (prompt: half the context at most).
//
// JSON output (one object):
//   {"model", "abi_version", "version", "isa", "threads", "init_ms", "first_run_ms",
//    "runs", "avg_ms", "min_ms", "max_ms", "p50_ms", "p90_ms", "p99_ms", "peak_rss_kb", "arena_bytes",
//    "max_context", "prompt_tokens", "gen_tokens", "generate_runs", "prefill_ms", "prefill_tokens_per_s",
//    "decode_ms", "decode_ms_per_token", "decode_tokens_per_s",
//    "inputs": [{"name", "dtype", "shape"}], "ops": [{"name", "op", "kernel", "ms", "percent", "cdf_percent"}]}
// ("ops" is empty without --enable_op_profiling; op times are averages per run of the timed runs above, not of
// the decoder's prefill/decode runs. max_context is 0 and the decoder fields null for other models; prefill_ms
// and decode_ms are medians of the whole prompt's run and of all gen_tokens decode runs.) CSV: one header line
// and one line of the same scalar fields (decoder fields empty for other models).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pyrt/pyrt.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct Flags {
  std::string graph, output = "text", shapes;
  int threads = 0, warmup = 1, runs = 50;
  int prompt_tokens = -1, gen_tokens = -1;  // -1: the defaults (128, 64), shrunk to a small context
  double max_secs = 150;
  bool profile = false, reference = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "pyrt_benchmark: %s\nusage: pyrt_benchmark --graph=model.pyrt [--num_threads=N] [--warmup_runs=N] "
               "[--num_runs=N] [--max_secs=S] [--input_layer_shape=d,d,..:d,..] [--enable_op_profiling=true] "
               "[--force_reference=true] [--output=text|json|csv] [--prompt_tokens=128] [--gen_tokens=64]\n",
               why);
  std::exit(2);
}

bool truthy(const std::string& v) { return v.empty() || v == "true" || v == "1"; }

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) usage(("unexpected argument " + a).c_str());
    const size_t eq = a.find('=');
    const std::string key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const std::string val = eq == std::string::npos ? "" : a.substr(eq + 1);
    try {
      if (key == "graph" || key == "model") f.graph = val;
      else if (key == "num_threads") f.threads = std::stoi(val);
      else if (key == "warmup_runs") f.warmup = std::stoi(val);
      else if (key == "num_runs") f.runs = std::stoi(val);
      else if (key == "max_secs") f.max_secs = std::stod(val);
      else if (key == "input_layer_shape") f.shapes = val;
      else if (key == "enable_op_profiling") f.profile = truthy(val);
      else if (key == "force_reference") f.reference = truthy(val);
      else if (key == "output") f.output = val;
      else if (key == "prompt_tokens") f.prompt_tokens = std::stoi(val);
      else if (key == "gen_tokens") f.gen_tokens = std::stoi(val);
      else usage(("unknown flag --" + key).c_str());
    } catch (const std::exception&) {
      usage(("bad value for --" + key + ": '" + val + "'").c_str());
    }
  }
  if (f.graph.empty()) usage("--graph is required");
  if (f.output != "text" && f.output != "json" && f.output != "csv") usage("--output must be text, json or csv");
  if (f.runs < 1 || f.warmup < 0 || f.threads < 0) usage("--num_runs >= 1, --warmup_runs >= 0, --num_threads >= 0");
  if (f.prompt_tokens == 0 || f.prompt_tokens < -1 || f.gen_tokens < -1)
    usage("--prompt_tokens >= 1, --gen_tokens >= 0");
  return f;
}

void check(pyrt_status s, const char* what) {
  if (s == PYRT_OK) return;
  std::fprintf(stderr, "pyrt_benchmark: %s: %s\n", what, pyrt_last_error());
  std::exit(1);
}

const char* dtype_name(int32_t d) {
  static const char* names[] = {"?", "f32", "f16", "i8", "u8", "i32", "i64", "bool"};
  return d >= 1 && d <= 7 ? names[d] : "?";
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
      continue;
    }
    o += c;
  }
  return o + "\"";
}

std::string num_or_null(bool have, double v, const char* fmt = "%.4f") {
  if (!have) return "null";
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// A decoder's prefill and decode figures (llama-bench's pp / tg).
struct GenBench {
  bool on = false;
  int64_t max_context = 0;
  int prompt = 0, gen = 0;
  size_t runs = 0;
  double prefill_ms = 0, decode_ms = 0;  // medians: the prompt's run, all gen decode runs together
  double prefill_tps() const { return prefill_ms > 0 ? prompt * 1e3 / prefill_ms : 0; }
  double decode_per_token() const { return gen ? decode_ms / gen : 0; }
  double decode_tps() const { return decode_ms > 0 ? gen * 1e3 / decode_ms : 0; }
};

// The decoder's inputs (input_ids and maybe position_ids, nothing else) and vocab, or false for other models.
bool decoder_io(pyrt_model* model, size_t ni, int* ids_in, int* pos_in, int64_t* vocab) {
  *ids_in = *pos_in = -1;
  for (size_t i = 0; i < ni; ++i) {
    pyrt_io_info info;
    check(pyrt_model_input(model, i, &info), "input");
    if (std::strcmp(info.name, "input_ids") == 0 && info.dtype == PYRT_I64) *ids_in = int(i);
    else if (std::strcmp(info.name, "position_ids") == 0 && info.dtype == PYRT_I64) *pos_in = int(i);
    else return false;
  }
  size_t no = 0;
  check(pyrt_model_num_outputs(model, &no), "outputs");
  pyrt_io_info logits{};
  for (size_t i = 0; i < no; ++i) {
    pyrt_io_info info;
    check(pyrt_model_output(model, i, &info), "output");
    if (i == 0 || std::strcmp(info.name, "logits") == 0) logits = info;
  }
  *vocab = no && logits.rank > 0 ? logits.dims[logits.rank - 1] : 0;
  return *ids_in >= 0 && *vocab > 0;
}

GenBench bench_decoder(const Flags& f, pyrt_model* model, pyrt_session* session, size_t ni) {
  GenBench g;
  check(pyrt_session_max_context(session, &g.max_context), "max_context");
  int ids_in, pos_in;
  int64_t vocab;
  if (g.max_context <= 0 || !decoder_io(model, ni, &ids_in, &pos_in, &vocab)) return g;
  const int64_t ctx = g.max_context;
  if (f.prompt_tokens > 0 && f.gen_tokens >= 0) {
    if (int64_t(f.prompt_tokens) + f.gen_tokens > ctx)
      usage(("--prompt_tokens + --gen_tokens = " + std::to_string(int64_t(f.prompt_tokens) + f.gen_tokens) +
             " exceeds the model's context of " + std::to_string(ctx) + " tokens").c_str());
    g.prompt = f.prompt_tokens, g.gen = f.gen_tokens;
  } else if (f.prompt_tokens > 0) {
    if (f.prompt_tokens > ctx)
      usage(("--prompt_tokens=" + std::to_string(f.prompt_tokens) + " exceeds the model's context of " +
             std::to_string(ctx) + " tokens").c_str());
    g.prompt = f.prompt_tokens, g.gen = int(std::min<int64_t>(64, ctx - g.prompt));
  } else if (f.gen_tokens >= 0) {
    if (f.gen_tokens >= ctx)
      usage(("--gen_tokens=" + std::to_string(f.gen_tokens) + " leaves no room for a prompt in the model's context of " +
             std::to_string(ctx) + " tokens").c_str());
    g.gen = f.gen_tokens, g.prompt = int(std::min<int64_t>(128, ctx - g.gen));
  } else {
    g.prompt = int(std::min<int64_t>(128, std::max<int64_t>(1, ctx / 2)));
    g.gen = int(std::min<int64_t>(64, ctx - g.prompt));
  }
  g.on = true;
  std::vector<int64_t> ids(size_t(g.prompt + g.gen)), pos(ids.size());
  pyrt_tensor t{};  // the prompt and the fed-back tokens: random ids below vocab
  t.rank = 2, t.dims[0] = 1, t.dims[1] = int64_t(ids.size()), t.data = ids.data(), t.size = ids.size() * 8;
  check(pyrt_model_random_input(model, size_t(ids_in), 0, &t), "token ids");
  for (size_t i = 0; i < ids.size(); ++i) pos[i] = int64_t(i);
  std::vector<pyrt_tensor> in(ni, pyrt_tensor{});
  auto run_tokens = [&](size_t start, size_t n) {
    for (int k : {ids_in, pos_in}) {
      if (k < 0) continue;
      pyrt_tensor& t = in[size_t(k)];
      t.name = k == ids_in ? "input_ids" : "position_ids";
      t.dtype = PYRT_I64, t.rank = 2, t.dims[0] = 1, t.dims[1] = int64_t(n);
      t.data = (k == ids_in ? ids.data() : pos.data()) + start, t.size = n * 8;
    }
    check(pyrt_session_run(session, in.data(), ni, nullptr, 0), "running the decoder");
  };
  std::vector<double> pre, dec;
  auto once = [&](bool keep) {
    check(pyrt_session_reset_state(session), "resetting the state");
    auto t = Clock::now();
    run_tokens(0, size_t(g.prompt));
    const double p = ms_since(t);
    t = Clock::now();
    for (int i = 0; i < g.gen; ++i) run_tokens(size_t(g.prompt + i), 1);
    if (keep) pre.push_back(p), dec.push_back(ms_since(t));
  };
  for (int i = 0; i < f.warmup; ++i) once(false);
  const auto start = Clock::now();
  while (int(pre.size()) < f.runs && (pre.empty() || ms_since(start) < f.max_secs * 1e3)) once(true);
  check(pyrt_session_reset_state(session), "resetting the state");
  g.runs = pre.size(), g.prefill_ms = median(pre), g.decode_ms = median(dec);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = parse(argc, argv);
  const auto t0 = Clock::now();
  pyrt_model* model = nullptr;
  pyrt_session* session = nullptr;
  check(pyrt_model_open(f.graph.c_str(), &model), "opening the model");
  pyrt_session_options o;
  pyrt_session_options_init(&o);
  o.num_threads = f.threads, o.force_reference = f.reference, o.profile = f.profile;
  check(pyrt_session_create(model, &o, &session), "creating the session");
  const double init_ms = ms_since(t0);

  // inputs: the declared shapes, dynamic dims from --input_layer_shape (or 1); random data
  size_t ni = 0;
  check(pyrt_model_num_inputs(model, &ni), "inputs");
  std::vector<std::string> given;
  for (size_t p = 0, q; p <= f.shapes.size() && !f.shapes.empty(); p = q + 1) {
    q = f.shapes.find(':', p);
    if (q == std::string::npos) q = f.shapes.size();
    given.push_back(f.shapes.substr(p, q - p));
  }
  if (!given.empty() && given.size() != ni) usage("--input_layer_shape must give one shape per model input");
  std::vector<pyrt_tensor> in(ni);
  std::vector<std::vector<unsigned char>> data(ni);
  for (size_t i = 0; i < ni; ++i) {
    pyrt_io_info info;
    check(pyrt_model_input(model, i, &info), "input");
    pyrt_tensor& t = in[i];
    t = pyrt_tensor{};
    t.name = info.name, t.dtype = info.dtype, t.rank = info.rank;
    if (!given.empty()) {
      t.rank = 0;
      for (size_t p = 0, q; p <= given[i].size(); p = q + 1) {
        q = given[i].find(',', p);
        if (q == std::string::npos) q = given[i].size();
        if (t.rank == PYRT_MAX_RANK) usage("--input_layer_shape: rank above 8");
        t.dims[t.rank++] = std::atoll(given[i].substr(p, q - p).c_str());
      }
    } else {
      for (int32_t d = 0; d < info.rank; ++d) t.dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
    }
    check(pyrt_model_random_input(model, i, 0, &t), "input shape");  // data NULL: the size
    data[i].resize(t.size);
    t.data = data[i].data();
    check(pyrt_model_random_input(model, i, 0, &t), "random input");
  }
  size_t no = 0;
  check(pyrt_model_num_outputs(model, &no), "outputs");
  std::vector<pyrt_tensor> out(no);

  int64_t max_context = 0;
  check(pyrt_session_max_context(session, &max_context), "max_context");
  auto run_once = [&] {
    for (auto& t : out) t = pyrt_tensor{};
    if (max_context > 0) check(pyrt_session_reset_state(session), "resetting the state");  // the same work each run
    const auto t = Clock::now();
    check(pyrt_session_run(session, in.data(), ni, out.data(), no), "running");
    return ms_since(t);
  };
  const double first_ms = run_once();
  for (int i = 0; i < f.warmup; ++i) run_once();
  std::vector<double> times;
  const auto start = Clock::now();
  while (int(times.size()) < f.runs && (times.empty() || ms_since(start) < f.max_secs * 1e3)) times.push_back(run_once());
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) { return sorted[std::min(sorted.size() - 1, size_t(p / 100.0 * double(sorted.size())))]; };
  double sum = 0;
  for (double t : times) sum += t;
  const double avg = sum / double(times.size());
  size_t arena = 0, nodes = 0;
  check(pyrt_session_arena_bytes(session, &arena), "arena");
  check(pyrt_session_num_nodes(session, &nodes), "nodes");
  std::vector<pyrt_node_info> ops;
  double op_total = 0;
  if (f.profile)
    for (size_t i = 0; i < nodes; ++i) {
      pyrt_node_info n;
      check(pyrt_session_node(session, i, &n), "node");
      ops.push_back(n);
      op_total += n.total_ms;
    }
  const GenBench gen = bench_decoder(f, model, session, ni);  // after the op snapshot: its runs are not in it
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto per_run = [](const pyrt_node_info& n) { return n.runs ? n.total_ms / double(n.runs) : 0.0; };
  const char* isa = pyrt_session_isa(session);
  const int threads = f.threads;

  if (f.output == "json") {
    std::printf("{\"model\": %s, \"abi_version\": %u, \"version\": %s, \"isa\": %s, \"threads\": %d, ",
                json_str(f.graph).c_str(), pyrt_abi_version(), json_str(pyrt_version()).c_str(), json_str(isa).c_str(),
                threads);
    std::printf("\"init_ms\": %.4f, \"first_run_ms\": %.4f, \"runs\": %zu, \"avg_ms\": %.4f, \"min_ms\": %.4f, "
                "\"max_ms\": %.4f, \"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, \"peak_rss_kb\": %ld, "
                "\"arena_bytes\": %zu, ",
                init_ms, first_ms, times.size(), avg, sorted.front(), sorted.back(), pct(50), pct(90), pct(99),
                ru.ru_maxrss, arena);
    const bool d = gen.on && gen.gen > 0;
    std::printf("\"max_context\": %lld, \"prompt_tokens\": %s, \"gen_tokens\": %s, \"generate_runs\": %s, "
                "\"prefill_ms\": %s, \"prefill_tokens_per_s\": %s, \"decode_ms\": %s, \"decode_ms_per_token\": %s, "
                "\"decode_tokens_per_s\": %s, \"inputs\": [",
                (long long)gen.max_context, num_or_null(gen.on, gen.prompt, "%.0f").c_str(),
                num_or_null(gen.on, gen.gen, "%.0f").c_str(), num_or_null(gen.on, double(gen.runs), "%.0f").c_str(),
                num_or_null(gen.on, gen.prefill_ms, "%.6f").c_str(), num_or_null(gen.on, gen.prefill_tps(), "%.2f").c_str(),
                num_or_null(d, gen.decode_ms, "%.6f").c_str(), num_or_null(d, gen.decode_per_token(), "%.6f").c_str(),
                num_or_null(d, gen.decode_tps(), "%.2f").c_str());
    for (size_t i = 0; i < ni; ++i) {
      std::printf("%s{\"name\": %s, \"dtype\": \"%s\", \"shape\": [", i ? ", " : "", json_str(in[i].name).c_str(),
                  dtype_name(in[i].dtype));
      for (int32_t d = 0; d < in[i].rank; ++d) std::printf("%s%lld", d ? ", " : "", (long long)in[i].dims[d]);
      std::printf("]}");
    }
    std::printf("], \"ops\": [");
    double cdf = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      const double pc = op_total > 0 ? 100 * ops[i].total_ms / op_total : 0;
      cdf += pc;
      std::printf("%s{\"name\": %s, \"op\": %s, \"kernel\": %s, \"ms\": %.5f, \"percent\": %.3f, \"cdf_percent\": %.3f}",
                  i ? ", " : "", json_str(ops[i].name).c_str(), json_str(ops[i].op_type).c_str(),
                  json_str(ops[i].kernel).c_str(), per_run(ops[i]), pc, cdf);
    }
    std::printf("]}\n");
  } else if (f.output == "csv") {
    std::printf("model,isa,threads,init_ms,first_run_ms,runs,avg_ms,min_ms,max_ms,p50_ms,p90_ms,p99_ms,peak_rss_kb,"
                "max_context,prompt_tokens,gen_tokens,prefill_tokens_per_s,decode_ms_per_token,decode_tokens_per_s\n");
    std::printf("%s,%s,%d,%.4f,%.4f,%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%ld,%lld,", f.graph.c_str(), isa, threads, init_ms,
                first_ms, times.size(), avg, sorted.front(), sorted.back(), pct(50), pct(90), pct(99), ru.ru_maxrss,
                (long long)gen.max_context);
    const bool d = gen.on && gen.gen > 0;
    auto cell = [](bool have, double v, const char* fmt) { return have ? num_or_null(true, v, fmt) : std::string(); };
    std::printf("%s,%s,%s,%s,%s\n", cell(gen.on, gen.prompt, "%.0f").c_str(), cell(gen.on, gen.gen, "%.0f").c_str(),
                cell(gen.on, gen.prefill_tps(), "%.2f").c_str(), cell(d, gen.decode_per_token(), "%.6f").c_str(),
                cell(d, gen.decode_tps(), "%.2f").c_str());
  } else {
    std::printf("pyrt_benchmark %s (ABI %u)\nmodel: %s\nthreads: %d%s, warmup runs: %d, runs: %d, max secs: %g\n",
                pyrt_version(), pyrt_abi_version(), f.graph.c_str(), threads, threads ? "" : " (one per core)", f.warmup,
                f.runs, f.max_secs);
    std::printf("isa: %s%s\n", isa, f.reference ? " (reference kernels forced)" : "");
    for (size_t i = 0; i < ni; ++i) {
      std::printf("input %s: %s [", in[i].name, dtype_name(in[i].dtype));
      for (int32_t d = 0; d < in[i].rank; ++d) std::printf("%s%lld", d ? ", " : "", (long long)in[i].dims[d]);
      std::printf("]\n");
    }
    std::printf("init: %.3f ms, first run: %.3f ms\n", init_ms, first_ms);
    std::printf("%zu runs: avg %.4f ms, min %.4f, max %.4f, p50 %.4f, p90 %.4f, p99 %.4f\n", times.size(), avg,
                sorted.front(), sorted.back(), pct(50), pct(90), pct(99));
    std::printf("peak memory (RSS): %.1f MiB, activation arena: %.1f KiB\n", double(ru.ru_maxrss) / 1024.0,
                double(arena) / 1024.0);
    if (gen.on) {
      std::printf("decoder: context %lld; per repetition the state reset, pp%d (a prompt of %d tokens, one run), "
                  "tg%d (%d one-token runs); medians of %zu repetitions\n",
                  (long long)gen.max_context, gen.prompt, gen.prompt, gen.gen, gen.gen, gen.runs);
      std::printf("pp%d: %.2f tokens/s (%.4f ms)", gen.prompt, gen.prefill_tps(), gen.prefill_ms);
      if (gen.gen > 0)
        std::printf(", tg%d: %.2f tokens/s (%.4f ms/token)", gen.gen, gen.decode_tps(), gen.decode_per_token());
      std::printf("\n");
    }
    if (f.profile) {
      std::printf("\n%-32s %-22s %-36s %10s %7s %7s\n", "node", "op", "kernel", "ms/run", "%", "cdf %");
      double cdf = 0;
      for (const auto& n : ops) {
        const double pc = op_total > 0 ? 100 * n.total_ms / op_total : 0;
        cdf += pc;
        std::printf("%-32.32s %-22.22s %-36.36s %10.4f %7.2f %7.2f\n", n.name, n.op_type, n.kernel, per_run(n),
                    pc, cdf);
      }
    }
  }
  pyrt_session_destroy(session);
  pyrt_model_close(model);
  return 0;
}
