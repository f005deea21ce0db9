// The C API (pyrt.h) and its C++ wrapper (pyrt.hpp): a golden model run through it against the same math done
// here, and the error path of every function (NULL handles and pointers, wrong names, sizes, dtypes, ranks,
// indices, missing and malformed files, an unsupported operator). Decoders (tests/native/data): pyrt_generate
// gives Python's greedy tokens, seeded sampling repeats, callback / eos stops, context overflow, every bad
// argument; the sampler against its distribution. Run under ASan/LSan in CI: no leaks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/generate.h"
#include "format/model.h"
#include "harness.h"
#include "pyrt/pyrt.h"
#include "pyrt/pyrt.hpp"
#include "fuzz/fuzz_support.h"

namespace {

std::string golden(const char* f) { return pyrt_test::g_golden_dir + "/" + f; }

bool error_has(const char* text) { return std::strstr(pyrt_last_error(), text) != nullptr; }

// relu(x . W^T + b) of mlp.pyrt, from its decoded weights
std::vector<float> mlp_reference(const std::vector<float>& x, size_t rows) {
  auto m = pyrt::Model::open_file(golden("mlp.pyrt"));
  std::vector<float> w(64), b(4);
  m->decode(size_t(m->find("fc.weight")), w.data(), w.size() * 4);
  m->decode(size_t(m->find("fc.bias")), b.data(), b.size() * 4);
  std::vector<float> y(rows * 4);
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < 4; ++j) {
      double acc = b[j];
      for (size_t k = 0; k < 16; ++k) acc += double(x[r * 16 + k]) * w[j * 16 + k];
      y[r * 4 + j] = float(std::max(acc, 0.0));
    }
  return y;
}

bool close(const float* got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5f * (1 + std::fabs(want[i])))) return false;
  return true;
}

pyrt_tensor tensor(const char* name, int32_t dtype, std::vector<int64_t> dims, void* data, size_t size) {
  pyrt_tensor t{};
  t.name = name, t.dtype = dtype, t.rank = int32_t(dims.size()), t.data = data, t.size = size;
  for (size_t i = 0; i < dims.size(); ++i) t.dims[i] = dims[i];
  return t;
}

}  // namespace

TEST(capi_runs_a_model) {
  CHECK(pyrt_abi_version() == PYRT_ABI_VERSION);
  CHECK(std::strlen(pyrt_version()) > 0 && std::strlen(pyrt_isa()) > 0);
  pyrt_model* m = nullptr;
  CHECK(pyrt_model_open(golden("mlp.pyrt").c_str(), &m) == PYRT_OK);
  size_t ni = 0, no = 0;
  CHECK(pyrt_model_num_inputs(m, &ni) == PYRT_OK && ni == 1);
  CHECK(pyrt_model_num_outputs(m, &no) == PYRT_OK && no == 1);
  pyrt_io_info info;
  CHECK(pyrt_model_input(m, 0, &info) == PYRT_OK);
  CHECK(std::string(info.name) == "x" && info.dtype == PYRT_F32 && info.rank == 2 && info.dims[0] == -1 &&
        info.dims[1] == 16);
  CHECK(pyrt_model_output(m, 0, &info) == PYRT_OK && std::string(info.name) == "y");

  for (int ref = 0; ref < 2; ++ref) {
    pyrt_session_options o;
    pyrt_session_options_init(&o);
    o.num_threads = 2, o.force_reference = ref, o.profile = 1;
    pyrt_session* s = nullptr;
    CHECK(pyrt_session_create(m, &o, &s) == PYRT_OK);
    CHECK(std::string(pyrt_session_isa(s)) == (ref ? "ref" : pyrt_isa()));
    std::vector<float> x(3 * 16);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7 % 23) - 11) / 5.f;
    const std::vector<float> want = mlp_reference(x, 3);
    pyrt_tensor in = tensor(nullptr, PYRT_F32, {3, 16}, x.data(), x.size() * 4);  // by position
    pyrt_tensor out{};                                                              // the session's buffer
    CHECK(pyrt_session_run(s, &in, 1, &out, 1) == PYRT_OK);
    CHECK(out.dtype == PYRT_F32 && out.rank == 2 && out.dims[0] == 3 && out.dims[1] == 4 && out.size == 48);
    CHECK(std::string(out.name) == "y" && close(static_cast<const float*>(out.data), want));
    std::vector<float> mine(12, -1.f);  // a caller buffer, by name
    pyrt_tensor out2 = tensor("y", 0, {}, mine.data(), mine.size() * 4);
    in.name = "x";
    CHECK(pyrt_session_run(s, &in, 1, &out2, 1) == PYRT_OK);
    CHECK(close(mine.data(), want) && out2.size == 48);
    CHECK(pyrt_session_run(s, &in, 1, nullptr, 0) == PYRT_OK);  // outputs not asked for
    size_t nodes = 0, arena = 0;
    CHECK(pyrt_session_num_nodes(s, &nodes) == PYRT_OK && nodes == 2);
    pyrt_node_info node;
    CHECK(pyrt_session_node(s, 0, &node) == PYRT_OK);
    CHECK(std::string(node.name) == "fc" && std::string(node.op_type) == "Gemm" && std::strlen(node.kernel) > 0);
    CHECK(node.runs == 3);
    CHECK(pyrt_session_arena_bytes(s, &arena) == PYRT_OK);
    pyrt_session_destroy(s);
  }
  pyrt_model_close(m);
}

// Text through the C API: strings.pyrt is StringNormalizer(x): stopwords "the", "a", "héllo" dropped whatever
// their case, the rest upper-cased (ASCII letters).
TEST(capi_string_tensors) {
  pyrt_model* m = nullptr;
  CHECK(pyrt_model_open(golden("strings.pyrt").c_str(), &m) == PYRT_OK);
  pyrt_io_info info;
  CHECK(pyrt_model_input(m, 0, &info) == PYRT_OK && info.dtype == PYRT_STRING && info.rank == 1);
  CHECK(pyrt_model_output(m, 0, &info) == PYRT_OK && info.dtype == PYRT_STRING);
  pyrt_session* s = nullptr;
  CHECK(pyrt_session_create(m, nullptr, &s) == PYRT_OK);
  auto run = [&](std::vector<std::string> words) {
    std::vector<pyrt_string> h;
    for (const std::string& w : words) h.push_back({w.data(), w.size()});
    pyrt_tensor in = tensor("x", PYRT_STRING, {int64_t(h.size())}, h.data(), h.size() * sizeof(pyrt_string));
    pyrt_tensor out{};
    std::vector<std::string> got;
    if (pyrt_session_run(s, &in, 1, &out, 1) != PYRT_OK) return std::vector<std::string>{"error"};
    words.assign(words.size(), std::string(40, '#'));  // the caller's bytes change: outputs are the session's
    CHECK(out.dtype == PYRT_STRING && out.rank == 1 && out.size == size_t(out.dims[0]) * sizeof(pyrt_string));
    const pyrt_string* y = static_cast<const pyrt_string*>(out.data);
    for (int64_t i = 0; i < out.dims[0]; ++i) got.emplace_back(y[i].data, y[i].size);
    return got;
  };
  CHECK((run({"The", "cat", "a", "Mat", "H\xc3\xa9LLO"}) == std::vector<std::string>{"CAT", "MAT"}));  // ASCII folding
  CHECK((run({"the", "dog", "sat", "A", "x"}) == std::vector<std::string>{"DOG", "SAT", "X"}));  // planned again
  CHECK((run({"a", "THE"}) == std::vector<std::string>{""}));
  CHECK((run({"bytes\xff", "b"}) == std::vector<std::string>{"BYTES\xff", "B"}));  // any bytes pass
  // Refused: a handle with bytes but no data, the wrong dtype either way, a size that is not 16 per element.
  pyrt_string bad[2] = {{"x", 1}, {nullptr, 3}};
  pyrt_tensor in = tensor("x", PYRT_STRING, {2}, bad, sizeof bad);
  CHECK(pyrt_session_run(s, &in, 1, nullptr, 0) == PYRT_INVALID_ARGUMENT && error_has("element 1 has 3 bytes but no data"));
  float f[2] = {};
  in = tensor("x", PYRT_F32, {2}, f, sizeof f);
  CHECK(pyrt_session_run(s, &in, 1, nullptr, 0) == PYRT_INVALID_ARGUMENT && error_has("must be string"));
  in = tensor("x", PYRT_STRING, {2}, bad, 2 * sizeof(pyrt_string) - 1);
  CHECK(pyrt_session_run(s, &in, 1, nullptr, 0) == PYRT_INVALID_ARGUMENT && error_has("bytes"));
  pyrt_model* mlp = nullptr;
  pyrt_session* ms = nullptr;
  CHECK(pyrt_model_open(golden("mlp.pyrt").c_str(), &mlp) == PYRT_OK && pyrt_session_create(mlp, nullptr, &ms) == PYRT_OK);
  in = tensor("x", PYRT_STRING, {1, 16}, bad, 16 * sizeof(pyrt_string));
  CHECK(pyrt_session_run(ms, &in, 1, nullptr, 0) == PYRT_INVALID_ARGUMENT && error_has("must be f32"));
  pyrt_session_destroy(ms);
  pyrt_model_close(mlp);
  // What tools feed a string input without data: empty strings.
  pyrt_tensor r = tensor(nullptr, 0, {3}, nullptr, 0);
  CHECK(pyrt_model_random_input(m, 0, 0, &r) == PYRT_OK && r.dtype == PYRT_STRING && r.size == 3 * sizeof(pyrt_string));
  std::vector<pyrt_string> empty(3, pyrt_string{"junk", 4});
  r.data = empty.data();
  CHECK(pyrt_model_random_input(m, 0, 0, &r) == PYRT_OK && empty[2].data == nullptr && empty[2].size == 0);
  pyrt_tensor out{};
  CHECK(pyrt_session_run(s, &r, 1, &out, 1) == PYRT_OK && out.dims[0] == 3);
  pyrt_session_destroy(s);
  pyrt_model_close(m);
}

TEST(capi_memory_models_and_lifetimes) {
  std::ifstream f(golden("mlp.pyrt"), std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> x(16, 0.5f), y(4);
  const std::vector<float> want = mlp_reference(x, 1);
  for (int copy = 0; copy < 2; ++copy) {
    pyrt_model* m = nullptr;
    CHECK(pyrt_model_open_memory(bytes.data(), bytes.size(), copy, &m) == PYRT_OK);
    pyrt_session* s = nullptr;
    CHECK(pyrt_session_create(m, nullptr, &s) == PYRT_OK);
    pyrt_model_close(m);  // the session keeps what it needs
    pyrt_tensor in = tensor("x", PYRT_F32, {1, 16}, x.data(), 64), out = tensor("y", 0, {}, y.data(), 16);
    CHECK(pyrt_session_run(s, &in, 1, &out, 1) == PYRT_OK && close(y.data(), want));
    pyrt_session_destroy(s);
  }
  pyrt_model_close(nullptr);
  pyrt_session_destroy(nullptr);
}

TEST(capi_error_paths) {
  pyrt_model* m = reinterpret_cast<pyrt_model*>(1);
  // opening
  CHECK(pyrt_model_open(nullptr, &m) == PYRT_INVALID_ARGUMENT && m == nullptr && error_has("path is NULL"));
  CHECK(pyrt_model_open("x.pyrt", nullptr) == PYRT_INVALID_ARGUMENT && error_has("out is NULL"));
  CHECK(pyrt_model_open(golden("no-such-file.pyrt").c_str(), &m) == PYRT_NOT_FOUND && m == nullptr &&
        error_has("no-such-file.pyrt"));
  const char junk[] = "PYRT but not really a model file at all, just bytes";
  CHECK(pyrt_model_open_memory(junk, sizeof junk, 1, &m) == PYRT_FORMAT && m == nullptr);
  CHECK(pyrt_model_open_memory(nullptr, 10, 1, &m) == PYRT_INVALID_ARGUMENT && error_has("data is NULL"));
  CHECK(pyrt_model_open_memory(junk, sizeof junk, 1, nullptr) == PYRT_INVALID_ARGUMENT);
  // queries
  size_t n;
  pyrt_io_info info;
  CHECK(pyrt_model_num_inputs(nullptr, &n) == PYRT_INVALID_ARGUMENT && error_has("model is NULL"));
  CHECK(pyrt_model_num_outputs(nullptr, &n) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_model_input(nullptr, 0, &info) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_model_output(nullptr, 0, &info) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_model_open(golden("mlp.pyrt").c_str(), &m) == PYRT_OK);
  CHECK(pyrt_model_num_inputs(m, nullptr) == PYRT_INVALID_ARGUMENT && error_has("out is NULL"));
  CHECK(pyrt_model_num_outputs(m, nullptr) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_model_input(m, 1, &info) == PYRT_NOT_FOUND && error_has("input 1 out of range"));
  CHECK(pyrt_model_output(m, 5, &info) == PYRT_NOT_FOUND && error_has("output 5 out of range"));
  CHECK(pyrt_model_input(m, 0, nullptr) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_model_output(m, 0, nullptr) == PYRT_INVALID_ARGUMENT);
  // sessions
  pyrt_session* s = reinterpret_cast<pyrt_session*>(1);
  CHECK(pyrt_session_create(nullptr, nullptr, &s) == PYRT_INVALID_ARGUMENT && s == nullptr);
  CHECK(pyrt_session_create(m, nullptr, nullptr) == PYRT_INVALID_ARGUMENT);
  pyrt_session_options o;
  pyrt_session_options_init(&o);
  o.num_threads = -2;
  CHECK(pyrt_session_create(m, &o, &s) == PYRT_INVALID_ARGUMENT && error_has("num_threads"));
  pyrt_session_options_init(&o);
  o.reserved[2] = 7;
  CHECK(pyrt_session_create(m, &o, &s) == PYRT_INVALID_ARGUMENT && error_has("reserved"));
  pyrt_model* unsupported = nullptr;  // graph.pyrt has a "Custom" node: refused by name, at session creation
  CHECK(pyrt_model_open(golden("graph.pyrt").c_str(), &unsupported) == PYRT_OK);
  CHECK(pyrt_session_create(unsupported, nullptr, &s) != PYRT_OK && s == nullptr && error_has("Custom"));
  pyrt_model_close(unsupported);
  CHECK(pyrt_session_create(m, nullptr, &s) == PYRT_OK);
  // running
  std::vector<float> x(2 * 16, 1.f), y(8);
  pyrt_tensor in = tensor("x", PYRT_F32, {2, 16}, x.data(), x.size() * 4);
  pyrt_tensor out = tensor("y", 0, {}, y.data(), y.size() * 4);
  CHECK(pyrt_session_run(nullptr, &in, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("session is NULL"));
  CHECK(pyrt_session_run(s, nullptr, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("inputs is NULL"));
  CHECK(pyrt_session_run(s, &in, 0, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("has 1 inputs, 0 given"));
  CHECK(pyrt_session_run(s, &in, 1, nullptr, 1) == PYRT_INVALID_ARGUMENT && error_has("outputs is NULL"));
  CHECK(pyrt_session_run(s, &in, 1, &out, 2) == PYRT_INVALID_ARGUMENT && error_has("2 asked for"));
  pyrt_tensor bad = in;
  bad.name = "image";
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_NOT_FOUND && error_has("no input named 'image'") &&
        error_has("x"));
  bad = in, bad.dtype = PYRT_U8;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("must be f32"));
  bad = in, bad.size -= 4;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("its shape needs"));
  bad = in, bad.dims[1] = 15, bad.size = 2 * 15 * 4;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT);  // the model wants 16 columns
  bad = in, bad.dims[0] = -2;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("negative dimension"));
  bad = in, bad.rank = 9;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("rank 9"));
  bad = in, bad.data = nullptr;
  CHECK(pyrt_session_run(s, &bad, 1, &out, 1) == PYRT_INVALID_ARGUMENT && error_has("input data is NULL"));
  pyrt_tensor small = out;
  small.size = 16;
  CHECK(pyrt_session_run(s, &in, 1, &small, 1) == PYRT_INVALID_ARGUMENT && error_has("needs 32 bytes"));
  pyrt_tensor wrong = out;
  wrong.name = "logits";
  CHECK(pyrt_session_run(s, &in, 1, &wrong, 1) == PYRT_NOT_FOUND && error_has("no output named 'logits'"));
  CHECK(pyrt_session_run(s, &in, 1, &out, 1) == PYRT_OK);  // and the session still works
  // introspection
  pyrt_node_info node;
  CHECK(pyrt_session_num_nodes(nullptr, &n) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_num_nodes(s, nullptr) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_node(nullptr, 0, &node) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_node(s, 0, nullptr) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_node(s, 2, &node) == PYRT_NOT_FOUND && error_has("node 2 out of range"));
  CHECK(pyrt_session_arena_bytes(nullptr, &n) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_arena_bytes(s, nullptr) == PYRT_INVALID_ARGUMENT);
  CHECK(std::string(pyrt_session_isa(nullptr)).empty());
  pyrt_session_destroy(s);
  pyrt_model_close(m);
}

TEST(capi_cpp_wrapper) {
  pyrt::api::Model model(golden("mlp.pyrt"));
  CHECK(model.num_inputs() == 1 && std::string(model.output(0).name) == "y");
  pyrt::api::Session session(model, 1);
  std::vector<float> x(16, -0.25f);
  pyrt::api::Outputs out = session.run({pyrt::api::input("x", x.data(), {1, 16})});
  CHECK(out.size() == 1 && close(out.data<float>(0), mlp_reference(x, 1)));
  CHECK(session.nodes().size() == 2);
  bool threw = false;
  try {
    session.run({pyrt::api::input("x", x.data(), {1, 8})});
  } catch (const pyrt::api::Exception& e) {
    threw = e.status() == PYRT_INVALID_ARGUMENT && std::string(e.what()).find("x") != std::string::npos;
  }
  CHECK(threw);
  threw = false;
  try {
    pyrt::api::Model missing(golden("missing.pyrt"));
  } catch (const pyrt::api::Exception& e) {
    threw = e.status() == PYRT_NOT_FOUND;
  }
  CHECK(threw);
}

TEST(capi_limits) {
  // model caps: file size, tensor count, node count; each PYRT_LIMIT with the cap named
  pyrt_model_limits l;
  pyrt_model_limits_init(&l);
  pyrt_model* m = nullptr;
  l.max_file_bytes = 64;
  CHECK(pyrt_model_open_limited(golden("mlp.pyrt").c_str(), &l, &m) == PYRT_LIMIT && m == nullptr &&
        error_has("(max_file_bytes)"));
  std::ifstream f(golden("mlp.pyrt"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(pyrt_model_open_memory_limited(bytes.data(), bytes.size(), 1, &l, &m) == PYRT_LIMIT && error_has("max_file_bytes"));
  pyrt_model_limits_init(&l);
  l.max_tensors = 1;
  CHECK(pyrt_model_open_limited(golden("mlp.pyrt").c_str(), &l, &m) == PYRT_LIMIT && error_has("(max_tensors)"));
  pyrt_model_limits_init(&l);
  l.max_nodes = 1;
  CHECK(pyrt_model_open_limited(golden("mlp.pyrt").c_str(), &l, &m) == PYRT_LIMIT && error_has("(max_nodes)"));
  pyrt_model_limits_init(&l);
  l.reserved[2] = 1;
  CHECK(pyrt_model_open_limited(golden("mlp.pyrt").c_str(), &l, &m) == PYRT_INVALID_ARGUMENT && error_has("reserved"));
  pyrt_model_limits_init(&l);
  l.max_file_bytes = bytes.size(), l.max_tensors = 2, l.max_nodes = 2;
  CHECK(pyrt_model_open_limited(golden("mlp.pyrt").c_str(), &l, &m) == PYRT_OK && m != nullptr);
  // the arena cap: mlp's batch is dynamic, so it is checked at the run whose shapes need more
  pyrt_session_options o;
  pyrt_session_options_init(&o);
  o.max_arena_mib = -1;
  pyrt_session* s = nullptr;
  CHECK(pyrt_session_create(m, &o, &s) == PYRT_INVALID_ARGUMENT && error_has("max_arena_mib"));
  o.max_arena_mib = 1;
  CHECK(pyrt_session_create(m, &o, &s) == PYRT_OK);
  for (size_t rows : {size_t(100), size_t(100000), size_t(3)}) {
    std::vector<float> x(rows * 16, 0.5f);
    pyrt_tensor in = tensor("x", PYRT_F32, {int64_t(rows), 16}, x.data(), x.size() * 4);
    const pyrt_status st = pyrt_session_run(s, &in, 1, nullptr, 0);
    CHECK(rows == 100000 ? st == PYRT_LIMIT && error_has("(max_arena_bytes") : st == PYRT_OK);
  }
  pyrt_session_destroy(s);
  pyrt_model_close(m);
}

TEST(fuzz_regressions_fail_cleanly) {
  // Files the fuzzer once crashed on (tests/fuzz): through the C API as the fuzz target takes them, with the
  // arena cap it sets; each must give an error status or run, under the sanitizers of this build.
  const std::string dir = pyrt_test::g_golden_dir + "/../../tests/fuzz";
  int n = 0;
  for (const std::string& name : pyrt_files_in(dir)) {
    std::ifstream f(dir + "/" + name, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    pyrt::testing::exercise(bytes.data(), bytes.size());
    ++n;
  }
  CHECK(n >= 2);
}

// ---- decoders: pyrt_generate, the state calls, the sampler (tests/native/data, made by make_tiny_gpt.py) ----
namespace {

std::string data_file(const std::string& f) { return pyrt_test::g_golden_dir + "/../../tests/native/data/" + f; }

struct Expected {
  std::vector<int64_t> prompt, greedy;  // what pyruntime.Generator gave (greedy, 12 new tokens)
};

// tiny_gpt.expected.txt: "<model> prompt <ids...> new <ids...>" per line, '#' comments
Expected expected_for(const std::string& model) {
  std::ifstream f(data_file("tiny_gpt.expected.txt"));
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name, word;
    if (!(in >> name) || name != model) continue;
    Expected e;
    std::vector<int64_t>* into = nullptr;
    while (in >> word) {
      if (word == "prompt") into = &e.prompt;
      else if (word == "new") into = &e.greedy;
      else if (into) into->push_back(std::stoll(word));
    }
    return e;
  }
  return {};
}

// "sampled <model> <option> <value>... prompt <ids...> new <ids...>": what pyruntime.Generator sampled with those
// options (temperature, top_k, top_p, seed); test_generate.py checks that Python still draws them
struct Sampled {
  std::string model;
  pyrt_generate_options o;
  std::vector<int64_t> prompt, tokens;
};

std::vector<Sampled> sampled_expected() {
  std::ifstream f(data_file("tiny_gpt.expected.txt"));
  std::vector<Sampled> all;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string word;
    if (!(in >> word) || word != "sampled") continue;
    Sampled e;
    pyrt_generate_options_init(&e.o);
    in >> e.model;
    std::vector<int64_t>* into = nullptr;
    while (in >> word) {
      if (word == "prompt") into = &e.prompt;
      else if (word == "new") into = &e.tokens;
      else if (into) into->push_back(std::stoll(word));
      else if (word == "temperature") in >> e.o.temperature;
      else if (word == "top_k") in >> e.o.top_k;
      else if (word == "top_p") in >> e.o.top_p;
      else if (word == "seed") in >> e.o.seed;
    }
    all.push_back(e);
  }
  return all;
}

struct Decoder {
  pyrt_model* m = nullptr;
  pyrt_session* s = nullptr;
  explicit Decoder(const std::string& file, int threads = 2, int ref = 0) {
    pyrt_session_options o;
    pyrt_session_options_init(&o);
    o.num_threads = threads, o.force_reference = ref;
    CHECK(pyrt_model_open(data_file(file).c_str(), &m) == PYRT_OK);
    CHECK(pyrt_session_create(m, &o, &s) == PYRT_OK);
  }
  ~Decoder() {
    pyrt_session_destroy(s);
    pyrt_model_close(m);
  }
  int64_t context() const {
    int64_t n = -1;
    CHECK(pyrt_session_context_length(s, &n) == PYRT_OK);
    return n;
  }
};

std::vector<int64_t> gen(pyrt_session* s, const std::vector<int64_t>& prompt, size_t n, const pyrt_generate_options* o,
                         pyrt_status want = PYRT_OK) {
  std::vector<int64_t> out(n + 1, -7);
  size_t got = 99;
  const pyrt_status st = pyrt_generate(s, prompt.data(), prompt.size(), n, o, out.data(), &got);
  CHECK(st == want);
  if (st != want) std::fprintf(stderr, "  pyrt_generate: status %d: %s\n", int(st), pyrt_last_error());
  CHECK(got <= n && out[got] == -7);  // nothing written past the tokens it reports
  out.resize(got);
  return out;
}

struct Collected {
  std::vector<int64_t> tokens;
  size_t stop_after = 0;  // 0: never stop
};

int collect(void* user, int64_t token) {
  auto* c = static_cast<Collected*>(user);
  c->tokens.push_back(token);
  return c->stop_after && c->tokens.size() >= c->stop_after;
}

}  // namespace

TEST(capi_generate_greedy_matches_python) {
  for (const char* name : {"tiny_gpt", "tiny_gpt_rotary"}) {  // learned positions (position_ids fed) / rotary
    const Expected e = expected_for(name);
    CHECK(e.prompt.size() == 4 && e.greedy.size() == 12);
    for (int ref = 0; ref < 2; ++ref) {
      Decoder d(std::string(name) + ".pyrt", ref ? 1 : 2, ref);
      int64_t ctx = 0;
      CHECK(pyrt_session_max_context(d.s, &ctx) == PYRT_OK && ctx == 16);
      CHECK(d.context() == 0);
      CHECK(gen(d.s, e.prompt, 12, nullptr) == e.greedy);  // NULL options: greedy
      CHECK(d.context() == 4 + 11);                         // the last new token is not fed back
      Collected c;
      pyrt_generate_options o;
      pyrt_generate_options_init(&o);
      o.on_token = collect, o.user = &c;
      CHECK(gen(d.s, e.prompt, 12, &o) == e.greedy && c.tokens == e.greedy);  // again: the state was reset
      size_t n = 0;  // the callback alone takes the tokens
      c.tokens.clear();
      CHECK(pyrt_generate(d.s, e.prompt.data(), 4, 12, &o, nullptr, &n) == PYRT_OK && n == 12 && c.tokens == e.greedy);
      // the same by hand through pyrt_session_run: prefill, then one token per run (the state calls)
      CHECK(pyrt_session_reset_state(d.s) == PYRT_OK && d.context() == 0);
      size_t ni = 0;
      CHECK(pyrt_model_num_inputs(d.m, &ni) == PYRT_OK && ni == (std::string(name) == "tiny_gpt" ? 2u : 1u));
      std::vector<int64_t> ids = e.prompt, pos = {0, 1, 2, 3}, mine;
      for (int step = 0; step < 12; ++step) {
        pyrt_tensor in[2] = {tensor("input_ids", PYRT_I64, {1, int64_t(ids.size())}, ids.data(), ids.size() * 8),
                             tensor("position_ids", PYRT_I64, {1, int64_t(pos.size())}, pos.data(), pos.size() * 8)};
        pyrt_tensor out{};
        CHECK(pyrt_session_run(d.s, in, ni, &out, 1) == PYRT_OK);
        CHECK(out.rank == 3 && out.dims[0] == 1 && out.dims[1] == 1 && out.dims[2] == 32);
        const float* l = static_cast<const float*>(out.data);
        mine.push_back(std::max_element(l, l + 32) - l);
        CHECK(d.context() == 4 + step);
        ids = {mine.back()}, pos = {4 + step};
      }
      CHECK(mine == e.greedy);
    }
  }
}

TEST(capi_generate_sampling_matches_python) {  // one sampler: a seed gives Python's tokens
  const std::vector<Sampled> all = sampled_expected();
  CHECK(all.size() == 4);
  for (const Sampled& e : all)
    for (int ref = 0; ref < 2; ++ref) {
      Decoder d(e.model + ".pyrt", ref ? 1 : 2, ref);
      CHECK(e.tokens.size() == 12 && gen(d.s, e.prompt, 12, &e.o) == e.tokens);
    }
}

TEST(capi_decode_step_and_sampler_drive_a_loop) {  // an embedder's own loop gives pyrt_generate's tokens
  for (const char* name : {"tiny_gpt", "tiny_gpt_rotary"}) {
    const Expected e = expected_for(name);
    Decoder d(std::string(name) + ".pyrt");
    int64_t vocab = 0;
    CHECK(pyrt_decoder_vocab(d.s, &vocab) == PYRT_OK && vocab == 32);
    std::vector<float> logits(32);
    std::vector<int64_t> mine;
    CHECK(pyrt_session_reset_state(d.s) == PYRT_OK);
    CHECK(pyrt_decode_step(d.s, e.prompt.data(), 1, e.prompt.size(), logits.data(), 32) == PYRT_OK);
    for (int step = 0; step < 12; ++step) {
      mine.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
      if (step < 11) CHECK(pyrt_decode_step(d.s, &mine.back(), 1, 1, logits.data(), 32) == PYRT_OK);
    }
    CHECK(mine == e.greedy && d.context() == 4 + 11);
    // bad calls: named, and the state kept
    CHECK(pyrt_decode_step(d.s, mine.data(), 1, 1, logits.data(), 31) == PYRT_INVALID_ARGUMENT);
    CHECK(std::string(pyrt_last_error()).find("room for 31 floats") != std::string::npos);
    const int64_t bad = 32;
    CHECK(pyrt_decode_step(d.s, &bad, 1, 1, logits.data(), 32) == PYRT_INVALID_ARGUMENT && d.context() == 15);
    CHECK(pyrt_decode_step(d.s, mine.data(), 1, 2, logits.data(), 32) == PYRT_LIMIT && d.context() == 15);
    CHECK(pyrt_decode_step(nullptr, mine.data(), 1, 1, logits.data(), 32) == PYRT_INVALID_ARGUMENT);
  }
  for (const Sampled& e : sampled_expected()) {  // the sampler: a seed gives pyrt_generate's (and Python's) draws
    Decoder d(e.model + ".pyrt");
    pyrt_sampler* smp = nullptr;
    CHECK(pyrt_sampler_create(&e.o, &smp) == PYRT_OK && smp);
    std::vector<float> logits(32);
    std::vector<int64_t> mine;
    CHECK(pyrt_session_reset_state(d.s) == PYRT_OK);
    CHECK(pyrt_decode_step(d.s, e.prompt.data(), 1, e.prompt.size(), logits.data(), 32) == PYRT_OK);
    for (int step = 0; step < 12; ++step) {
      int64_t tok = -1;
      CHECK(pyrt_sampler_sample(smp, logits.data(), 32, &tok) == PYRT_OK);
      mine.push_back(tok);
      if (step < 11) CHECK(pyrt_decode_step(d.s, &tok, 1, 1, logits.data(), 32) == PYRT_OK);
    }
    CHECK(mine == e.tokens);
    pyrt_sampler_destroy(smp);
  }
  pyrt_generate_options bad;
  pyrt_generate_options_init(&bad);
  bad.temperature = -1;
  pyrt_sampler* smp = reinterpret_cast<pyrt_sampler*>(1);
  CHECK(pyrt_sampler_create(&bad, &smp) == PYRT_INVALID_ARGUMENT && smp == nullptr);
  pyrt_sampler_destroy(nullptr);
}

TEST(capi_generate_batch_rows_are_their_own_sequences) {
  for (const char* name : {"tiny_gpt", "tiny_gpt_rotary"}) {
    const Expected e = expected_for(name);
    Decoder d(std::string(name) + ".pyrt");
    // row 0 the expected prompt, row 1 another: each row gives what it gives alone
    std::vector<int64_t> other = {e.prompt[3], e.prompt[2], e.prompt[1], e.prompt[0]}, prompts = e.prompt;
    prompts.insert(prompts.end(), other.begin(), other.end());
    const std::vector<int64_t> alone = gen(d.s, other, 12, nullptr);
    std::vector<int64_t> out(2 * 12, -7);
    size_t steps = 0;
    CHECK(pyrt_generate_batch(d.s, prompts.data(), 2, 4, 12, nullptr, out.data(), &steps) == PYRT_OK && steps == 12);
    CHECK(std::vector<int64_t>(out.begin(), out.begin() + 12) == e.greedy);
    CHECK(std::vector<int64_t>(out.begin() + 12, out.end()) == alone);
    pyrt_generate_options o;
    pyrt_generate_options_init(&o);
    o.on_token = collect;
    CHECK(pyrt_generate_batch(d.s, prompts.data(), 2, 4, 12, &o, out.data(), &steps) == PYRT_INVALID_ARGUMENT);
    CHECK(pyrt_generate_batch(d.s, prompts.data(), 0, 4, 12, nullptr, out.data(), &steps) == PYRT_INVALID_ARGUMENT);
    CHECK(pyrt_generate_batch(d.s, prompts.data(), 2, 4, 14, nullptr, out.data(), &steps) == PYRT_LIMIT);
    // sampled: one sampler over the rows in order, as Python's Generator draws a batch (test_generate.py)
    o.on_token = nullptr, o.temperature = 0.9, o.seed = 7;
    CHECK(pyrt_generate_batch(d.s, prompts.data(), 2, 4, 12, &o, out.data(), &steps) == PYRT_OK && steps == 12);
    pyrt_sampler* smp = nullptr;
    CHECK(pyrt_sampler_create(&o, &smp) == PYRT_OK);
    std::vector<float> logits(64);
    std::vector<int64_t> mine(24), tok(2);
    CHECK(pyrt_session_reset_state(d.s) == PYRT_OK);
    CHECK(pyrt_decode_step(d.s, prompts.data(), 2, 4, logits.data(), 64) == PYRT_OK);
    for (int step = 0; step < 12; ++step) {
      for (int b = 0; b < 2; ++b) CHECK(pyrt_sampler_sample(smp, logits.data() + 32 * b, 32, &tok[b]) == PYRT_OK);
      mine[step] = tok[0], mine[12 + step] = tok[1];
      if (step < 11) CHECK(pyrt_decode_step(d.s, tok.data(), 2, 1, logits.data(), 64) == PYRT_OK);
    }
    CHECK(mine == out);
    pyrt_sampler_destroy(smp);
  }
}

TEST(capi_random_inputs) {  // what pyrt_benchmark, `pyruntime run` and `pyruntime bench` feed
  pyrt_model* m = nullptr;
  CHECK(pyrt_model_open(data_file("tiny_gpt.pyrt").c_str(), &m) == PYRT_OK);
  pyrt_tensor t{};
  t.rank = 2, t.dims[0] = 1, t.dims[1] = 8;
  CHECK(pyrt_model_random_input(m, 0, 0, &t) == PYRT_OK && t.size == 64 && t.dtype == PYRT_I64 &&
        std::string(t.name) == "input_ids");  // data NULL: the size only
  std::vector<int64_t> ids(8), pos(8);
  t.data = ids.data();
  CHECK(pyrt_model_random_input(m, 0, 0, &t) == PYRT_OK);
  // token ids below the vocabulary (32); the same values as Python's (test_bench_cli.py pins them too)
  CHECK(ids == (std::vector<int64_t>{8, 28, 11, 0, 28, 7, 12, 20}));
  t.data = pos.data();
  CHECK(pyrt_model_random_input(m, 1, 0, &t) == PYRT_OK && std::string(t.name) == "position_ids");
  CHECK(pos == (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  t.size = 63;
  CHECK(pyrt_model_random_input(m, 1, 0, &t) == PYRT_INVALID_ARGUMENT && error_has("below the 64 bytes needed"));
  t.rank = 1;
  CHECK(pyrt_model_random_input(m, 0, 0, &t) == PYRT_INVALID_ARGUMENT && error_has("does not fit the model's"));
  CHECK(pyrt_model_random_input(m, 2, 0, &t) == PYRT_NOT_FOUND);
  pyrt_model_close(m);
  CHECK(pyrt_model_open(data_file("attention_only.pyrt").c_str(), &m) == PYRT_OK);  // x: f32 [1, -1, 12]
  std::vector<float> a(36), b(36), c(36);
  pyrt_tensor x{};
  x.rank = 3, x.dims[0] = 1, x.dims[1] = 3, x.dims[2] = 12, x.size = 36 * 4;
  std::vector<float>* into[] = {&a, &b, &c};
  for (uint64_t k = 0; k < 3; ++k) {
    x.data = into[k]->data();
    CHECK(pyrt_model_random_input(m, 0, k / 2, &x) == PYRT_OK && x.dtype == PYRT_F32);  // seeds 0, 0, 1
  }
  CHECK(a == b && a != c);
  for (float v : a) CHECK(v >= -1.f && v < 1.f);
  pyrt_model_close(m);
}

TEST(capi_generate_sampling_stops_and_overflow) {
  const Expected e = expected_for("tiny_gpt");
  Decoder d("tiny_gpt.pyrt");
  pyrt_generate_options o;
  pyrt_generate_options_init(&o);
  CHECK(o.temperature == 0 && o.top_k == 0 && o.top_p == 1 && o.seed == 0 && o.eos_token_id == -1 && !o.on_token);
  // seeded sampling: the same seed, the same tokens; other seeds, other tokens
  o.temperature = 4.0;
  std::vector<std::vector<int64_t>> runs;
  for (uint64_t seed : {1, 2, 3, 1}) {
    o.seed = seed;
    runs.push_back(gen(d.s, e.prompt, 12, &o));
    CHECK(runs.back().size() == 12);
    for (int64_t t : runs.back()) CHECK(t >= 0 && t < 32);
  }
  CHECK(runs[0] == runs[3] && runs[0] != e.greedy);
  CHECK(runs[0] != runs[1] || runs[0] != runs[2]);
  o.top_k = 5, o.top_p = 0.9, o.seed = 11;
  const std::vector<int64_t> a = gen(d.s, e.prompt, 12, &o);
  CHECK(gen(d.s, e.prompt, 12, &o) == a && a.size() == 12);
  // top_k 1, or a tiny top_p: only the most likely token is left, whatever the temperature and seed
  o.top_k = 1, o.top_p = 1.0;
  CHECK(gen(d.s, e.prompt, 12, &o) == e.greedy);
  o.top_k = 0, o.top_p = 1e-9, o.temperature = 100.0;
  CHECK(gen(d.s, e.prompt, 12, &o) == e.greedy);
  // the callback stops after its third token; eos after the first occurrence of its id (both included)
  pyrt_generate_options_init(&o);
  Collected c;
  c.stop_after = 3;
  o.on_token = collect, o.user = &c;
  const std::vector<int64_t> first3(e.greedy.begin(), e.greedy.begin() + 3);
  CHECK(gen(d.s, e.prompt, 12, &o) == first3 && c.tokens == first3);
  pyrt_generate_options_init(&o);
  o.eos_token_id = e.greedy[4];  // 21, which first comes at index 2
  const size_t at = size_t(std::find(e.greedy.begin(), e.greedy.end(), e.greedy[4]) - e.greedy.begin());
  CHECK(at == 2 && gen(d.s, e.prompt, 12, &o) == std::vector<int64_t>(e.greedy.begin(), e.greedy.begin() + 3));
  // no new tokens: checked, state reset, nothing run
  CHECK(gen(d.s, e.prompt, 0, nullptr).empty() && d.context() == 0);
  // the context: 4 + 13 - 1 = 16 positions fit, 4 + 14 - 1 = 17 do not (PYRT_LIMIT, nothing made or run)
  CHECK(gen(d.s, e.prompt, 13, nullptr).size() == 13 && d.context() == 16);
  CHECK(gen(d.s, e.prompt, 14, nullptr, PYRT_LIMIT).empty() && error_has("context overflow") &&
        error_has("needs 17 positions") && error_has("context is 16"));
  CHECK(d.context() == 16);  // refused before the state was touched
  std::vector<int64_t> long_prompt(17, 1);
  CHECK(gen(d.s, long_prompt, 1, nullptr, PYRT_LIMIT).empty() && error_has("context overflow"));
  std::vector<int64_t> room(4);
  size_t n = 99;  // no room for SIZE_MAX tokens is needed: it is refused before anything is written
  CHECK(pyrt_generate(d.s, e.prompt.data(), 4, SIZE_MAX, nullptr, room.data(), &n) == PYRT_LIMIT && n == 0 &&
        error_has("context overflow") && error_has("needs over 2^64 positions"));
  // a run past the cache through pyrt_session_run: PYRT_LIMIT as well, the state as it was
  int64_t one = 1;
  pyrt_tensor in[2] = {tensor("input_ids", PYRT_I64, {1, 1}, &one, 8), tensor("position_ids", PYRT_I64, {1, 1}, &one, 8)};
  CHECK(pyrt_session_run(d.s, in, 2, nullptr, 0) == PYRT_LIMIT && error_has("context overflow") && d.context() == 16);
  CHECK(pyrt_session_reset_state(d.s) == PYRT_OK && d.context() == 0);
  CHECK(pyrt_session_run(d.s, in, 2, nullptr, 0) == PYRT_OK && d.context() == 1);
}

TEST(capi_generate_errors) {
  const Expected e = expected_for("tiny_gpt");
  Decoder d("tiny_gpt.pyrt");
  std::vector<int64_t> out(16);
  size_t n = 0;
  const int64_t* p = e.prompt.data();
  pyrt_generate_options o;
  auto bad = [&](const pyrt_generate_options* opts, const char* msg, const std::vector<int64_t>& prompt) {
    n = 99;
    const pyrt_status st = pyrt_generate(d.s, prompt.data(), prompt.size(), 4, opts, out.data(), &n);
    const bool ok = st == PYRT_INVALID_ARGUMENT && n == 0 && error_has(msg);
    if (!ok) std::fprintf(stderr, "  expected '%s', got status %d: %s\n", msg, int(st), pyrt_last_error());
    return ok;
  };
  // pointers
  CHECK(pyrt_generate(nullptr, p, 4, 4, nullptr, out.data(), &n) == PYRT_INVALID_ARGUMENT && error_has("session is NULL"));
  CHECK(pyrt_generate(d.s, nullptr, 4, 4, nullptr, out.data(), &n) == PYRT_INVALID_ARGUMENT && error_has("prompt is NULL"));
  CHECK(pyrt_generate(d.s, p, 4, 4, nullptr, out.data(), nullptr) == PYRT_INVALID_ARGUMENT && error_has("n_out is NULL"));
  CHECK(pyrt_generate(d.s, p, 4, 4, nullptr, nullptr, &n) == PYRT_INVALID_ARGUMENT && error_has("out_tokens is NULL"));
  CHECK(pyrt_generate(d.s, p, 4, 0, nullptr, nullptr, &n) == PYRT_OK && n == 0);  // nothing to write
  // the prompt
  CHECK(bad(nullptr, "the prompt is empty", {}));
  CHECK(pyrt_generate(d.s, p, 0, 4, nullptr, out.data(), &n) == PYRT_INVALID_ARGUMENT && error_has("prompt is empty"));
  CHECK(bad(nullptr, "prompt token ids must be in [0, 32): id 32 at index 1", {3, 32}));
  CHECK(bad(nullptr, "id -1 at index 0", {-1, 3}));
  // the options
  const double nan = std::nan(""), inf = HUGE_VAL;
  for (double t : {-1.0, nan, inf}) {
    pyrt_generate_options_init(&o);
    o.temperature = t;
    CHECK(bad(&o, "temperature must be finite and >= 0", e.prompt));
  }
  pyrt_generate_options_init(&o);
  o.top_k = -1;
  CHECK(bad(&o, "top_k must be >= 0", e.prompt));
  for (double tp : {0.0, -0.5, 1.5, nan}) {
    pyrt_generate_options_init(&o);
    o.top_p = tp;
    CHECK(bad(&o, "top_p must be in (0, 1]", e.prompt));
  }
  for (int64_t eos : {int64_t(-2), int64_t(32)}) {
    pyrt_generate_options_init(&o);
    o.eos_token_id = eos;
    CHECK(bad(&o, "eos_token_id must be -1 (none) or in [0, 32)", e.prompt));
  }
  pyrt_generate_options_init(&o);
  o.reserved[3] = 1;
  CHECK(bad(&o, "pyrt_generate_options.reserved must be 0", e.prompt));
  pyrt_generate_options_init(nullptr);  // fine
  // the session still generates
  CHECK(gen(d.s, e.prompt, 12, nullptr) == e.greedy);
  // models that are not decoders: no KV cache (mlp.pyrt); a KV cache but no input_ids (attention_only.pyrt)
  for (const char* f : {"mlp", "attention_only"}) {
    pyrt_model* m = nullptr;
    pyrt_session* s = nullptr;
    CHECK(pyrt_model_open((std::string(f) == "mlp" ? golden("mlp.pyrt") : data_file("attention_only.pyrt")).c_str(), &m) ==
          PYRT_OK);
    CHECK(pyrt_session_create(m, nullptr, &s) == PYRT_OK);
    int64_t ctx = -1, len = -1;
    CHECK(pyrt_session_max_context(s, &ctx) == PYRT_OK && ctx == (std::string(f) == "mlp" ? 0 : 8));
    CHECK(pyrt_session_context_length(s, &len) == PYRT_OK && len == 0);
    CHECK(pyrt_session_reset_state(s) == PYRT_OK);
    CHECK(pyrt_generate(s, p, 4, 4, nullptr, out.data(), &n) == PYRT_INVALID_ARGUMENT && n == 0);
    CHECK(std::string(f) == "mlp" ? error_has("no KV cache")
                                  : error_has("not a decoder: its inputs are x") && error_has("input_ids"));
    pyrt_session_destroy(s);
    pyrt_model_close(m);
  }
  // the state calls
  int64_t v;
  CHECK(pyrt_session_reset_state(nullptr) == PYRT_INVALID_ARGUMENT && error_has("session is NULL"));
  CHECK(pyrt_session_context_length(nullptr, &v) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_context_length(d.s, nullptr) == PYRT_INVALID_ARGUMENT && error_has("out is NULL"));
  CHECK(pyrt_session_max_context(nullptr, &v) == PYRT_INVALID_ARGUMENT);
  CHECK(pyrt_session_max_context(d.s, nullptr) == PYRT_INVALID_ARGUMENT && error_has("out is NULL"));
}

TEST(capi_cpp_wrapper_generate) {
  const Expected e = expected_for("tiny_gpt_rotary");
  pyrt::api::Model model(data_file("tiny_gpt_rotary.pyrt"));
  pyrt::api::Session s(model, 1);
  CHECK(s.max_context() == 16 && s.context_length() == 0);
  CHECK(s.generate(e.prompt, 12) == e.greedy && s.context_length() == 15);
  s.reset_state();
  CHECK(s.context_length() == 0);
  std::vector<int64_t> seen;
  pyrt_generate_options o = pyrt::api::generate_options();
  o.temperature = 2.0, o.seed = 5;
  const std::vector<int64_t> sampled = s.generate(e.prompt, 12, o, [&](int64_t t) {
    seen.push_back(t);
    return seen.size() < 5;  // stop after the fifth
  });
  CHECK(sampled.size() == 5 && seen == sampled);
  bool threw = false;  // what the callback throws comes back out of generate(), not through the C ABI
  try {
    s.generate(e.prompt, 12, pyrt::api::generate_options(), [](int64_t) -> bool { throw std::out_of_range("enough"); });
  } catch (const std::out_of_range& x) {
    threw = std::string(x.what()) == "enough";
  }
  CHECK(threw);
  threw = false;
  try {
    s.generate(e.prompt, 40);
  } catch (const pyrt::api::Exception& x) {
    threw = x.status() == PYRT_LIMIT && std::string(x.what()).find("context overflow") != std::string::npos;
  }
  CHECK(threw);
}

TEST(capi_cpp_wrapper_decode_loop) {  // pyrt.hpp's decode_step, Sampler and generate_batch: the C calls' tokens
  for (const Sampled& e : sampled_expected()) {
    pyrt::api::Session s(pyrt::api::Model(data_file(e.model + ".pyrt")), 1);
    CHECK(s.vocab() == 32);
    pyrt::api::Sampler sampler(e.o);
    std::vector<float> logits = s.decode_step(e.prompt);
    std::vector<int64_t> mine;
    for (int step = 0; step < 12; ++step) {
      mine.push_back(sampler.sample(logits));
      if (step < 11) logits = s.decode_step({mine.back()});
    }
    CHECK(mine == e.tokens);
    // two rows, the prompt twice: each row's tokens are its own draws, rows in order
    std::vector<int64_t> prompts = e.prompt;
    prompts.insert(prompts.end(), e.prompt.begin(), e.prompt.end());
    const std::vector<int64_t> both = s.generate_batch(prompts, 2, 12, e.o);
    CHECK(both.size() == 24);
    bool threw = false;
    try {
      s.decode_step({1, 2, 3}, 2);
    } catch (const pyrt::api::Exception& x) {
      threw = x.status() == PYRT_INVALID_ARGUMENT;
    }
    CHECK(threw);
  }
}

TEST(capi_decode_weights_option) {  // f32 arithmetic on decoded weights: the same outputs for an f32 model
  pyrt_model* m = nullptr;
  pyrt_session *plain = nullptr, *decoded = nullptr;
  CHECK(pyrt_model_open(golden("mlp.pyrt").c_str(), &m) == PYRT_OK);
  pyrt_session_options o;
  pyrt_session_options_init(&o);
  CHECK(o.decode_weights == 0);
  CHECK(pyrt_session_create(m, &o, &plain) == PYRT_OK);
  o.decode_weights = 1;
  CHECK(pyrt_session_create(m, &o, &decoded) == PYRT_OK);
  std::vector<float> x(2 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  pyrt_tensor in = tensor("x", PYRT_F32, {2, 16}, x.data(), x.size() * 4), a{}, b{};
  CHECK(pyrt_session_run(plain, &in, 1, &a, 1) == PYRT_OK && pyrt_session_run(decoded, &in, 1, &b, 1) == PYRT_OK);
  CHECK(a.size == b.size && std::memcmp(a.data, b.data, a.size) == 0);
  pyrt_session_destroy(plain);
  pyrt_session_destroy(decoded);
  pyrt_model_close(m);
}

TEST(generate_sampler_follows_the_distribution) {
  // the sampler's steps (core/generate.cc) on fixed logits: temperature, top_k, top_p; frequencies of 40000 draws
  const std::vector<float> logits = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  auto freq = [&](pyrt::SamplingParams p, uint64_t seed) {
    pyrt::Sampler s(p, seed);
    std::vector<double> f(4);
    const int n = 40000;
    for (int i = 0; i < n; ++i) f[size_t(s.sample(logits.data(), 4))] += 1.0 / n;
    return f;
  };
  auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    for (size_t i = 0; i < want.size(); ++i)
      if (std::fabs(got[i] - want[i]) > 0.012) return false;
    return true;
  };
  pyrt::SamplingParams p;
  p.temperature = 1.0;
  CHECK(near(freq(p, 1), {0.1, 0.2, 0.3, 0.4}));
  p.top_k = 2;  // 0.3 and 0.4, renormalized
  CHECK(near(freq(p, 2), {0, 0, 3.0 / 7, 4.0 / 7}));
  p.top_k = 0, p.top_p = 0.5;  // 0.4 (cum 0) and 0.3 (cum 0.4 < 0.5) stay
  CHECK(near(freq(p, 3), {0, 0, 3.0 / 7, 4.0 / 7}));
  p.top_p = 0.4;  // 0.3 starts at 0.4, not below top_p: only 0.4
  CHECK(near(freq(p, 4), {0, 0, 0, 1}));
  p.top_p = 1.0, p.temperature = 1e6;  // flat
  CHECK(near(freq(p, 5), {0.25, 0.25, 0.25, 0.25}));
  // greedy: the lowest index on ties; a NaN wins (numpy's argmax)
  const float tie[] = {1.f, 3.f, 3.f, -2.f};
  CHECK(pyrt::argmax(tie, 4) == 1);
  const float with_nan[] = {1.f, 3.f, std::nanf(""), 5.f};
  CHECK(pyrt::argmax(with_nan, 4) == 2);
  pyrt::Sampler greedy(pyrt::SamplingParams{}, 9);
  CHECK(greedy.sample(tie, 4) == 1);
  // the generator: reproducible per seed, seed 0 included, in [0, 1)
  pyrt::Rng a(0), b(0), c(1);
  bool differ = false;
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    CHECK(u >= 0.0 && u < 1.0 && u == b.uniform());
    differ |= u != c.uniform();
  }
  CHECK(differ);
  bool threw = false;
  try {
    pyrt::SamplingParams bad;
    bad.top_p = 0;
    pyrt::Sampler s(bad, 0);
  } catch (const pyrt::Error& x) {
    threw = x.status() == pyrt::Status::kInvalidArgument;
  }
  CHECK(threw);
}
