// The C API (pyrt.h) and its C++ wrapper (pyrt.hpp): a golden model run through it against the same math done
// here, and the error path of every function (NULL handles and pointers, wrong names, sizes, dtypes, ranks,
// indices, missing and malformed files, an unsupported operator). Run under ASan/LSan in CI: no leaks.
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "format/model.h"
#include "harness.h"
#include "pyrt/pyrt.h"
#include "pyrt/pyrt.hpp"
#include "tools/fuzz_support.h"

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
