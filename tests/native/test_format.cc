// The C++ reader against the golden files (decoded bytes must equal the expected files exactly), the
// malformed corpus written by tests/python (every file must give a FormatError), and a mutation loop.

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/kernel_codecs.h"
#include "format/codecs.h"
#include "format/crc32c.h"
#include "format/encoding.h"
#include "format/model.h"
#include "format/spec.h"
#include "harness.h"
#include "fuzz/fuzz_support.h"
#include "kernels/dispatch.h"

using namespace pyrt;
using pyrt::testing::refix;

static std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

static size_t out_bytes(const TensorInfo& t) {
  return t.numel * (t.encoding == spec::kDense || t.dtype == spec::kI8 ? spec::dtype_size(t.dtype) : 4);
}

// Opens, fully verifies and decodes everything; returns the status (kOk or the error's).
static Status exercise(const std::vector<uint8_t>& bytes, std::string* msg = nullptr) {
  try {
    auto m = Model::open_memory(bytes.data(), bytes.size(), Verify::kLazy);
    for (size_t i = 0; i < m->tensors().size(); ++i) {
      std::vector<uint8_t> out(out_bytes(m->tensors()[i]));
      m->decode(i, out.data(), out.size());
    }
    return Status::kOk;
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.status();
  }
}

TEST(golden_files_decode_exactly) {
  const std::string dir = pyrt_test::g_golden_dir;
  std::ifstream manifest(dir + "/MANIFEST.txt");
  CHECK(manifest.good());
  std::string line;
  int checked = 0;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string file, tensor, expected;
    ss >> file >> tensor >> expected;
    auto m = Model::open_file(dir + "/" + file, Verify::kFull);
    const int i = m->find(tensor);
    CHECK(i >= 0);
    if (i < 0) continue;
    const std::vector<uint8_t> want = read_all(dir + "/" + expected);
    std::vector<uint8_t> got(out_bytes(m->tensors()[size_t(i)]));
    m->decode(size_t(i), got.data(), got.size());
    CHECK(got == want);
    if (got != want) std::fprintf(stderr, "  mismatch: %s %s\n", file.c_str(), tensor.c_str());
    ++checked;
  }
  CHECK(checked > 10);
}

TEST(malformed_corpus_gives_format_errors) {
  const char* dir = std::getenv("PYRT_MALFORMED_DIR");
  if (!dir) return;  // written by tests/python/test_malformed.py; CI sets it for the sanitizer run
  int n = 0;
  for (const std::string& name : pyrt_files_in(dir)) {
    std::string msg;
    const Status s = exercise(read_all(std::string(dir) + "/" + name), &msg);
    if (s != Status::kFormat) std::fprintf(stderr, "  %s: expected a format error\n", name.c_str());
    CHECK(s == Status::kFormat);
    CHECK(!msg.empty());
    ++n;
  }
  std::printf("  %d malformed files rejected\n", n);
  CHECK(n >= 25);
}

TEST(mutations_never_crash) {
  // Bit flips and truncations of every golden file: each must open fine or fail with a FormatError. The
  // value of this test is in running it under AddressSanitizer/UBSan.
  const std::string dir = pyrt_test::g_golden_dir;
  const std::vector<std::string> files = pyrt_files_in(dir);
  CHECK(!files.empty());
  std::mt19937_64 rng(1234);
  const char* env = std::getenv("PYRT_MUTATIONS");
  const int per_file = env ? std::atoi(env) : 300;
  int total = 0, rejected = 0;
  for (const std::string& name : files) {
    const std::vector<uint8_t> orig = read_all(dir + "/" + name);
    for (int k = 0; k < per_file; ++k) {
      std::vector<uint8_t> b = orig;
      const int kind = int(rng() % 5);
      if (kind == 0) {
        b.resize(rng() % b.size());
      } else {
        const int flips = 1 + int(rng() % 4);
        static const uint8_t kSpecial[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
        for (int f = 0; f < flips; ++f) {
          // Bias towards the metadata at the front, where the interesting structure is.
          const size_t pos = (rng() % 10 < 7 && b.size() > 1024) ? rng() % 1024 : rng() % b.size();
          if (kind == 4) b[pos] = kSpecial[rng() % 5];
          else b[pos] ^= uint8_t(1u << (rng() % 8));
        }
        if (kind >= 2) refix(b, rng() % 2);
      }
      const Status s = exercise(b);
      CHECK(s == Status::kOk || s == Status::kFormat);
      rejected += s == Status::kFormat;
      ++total;
    }
  }
  std::printf("  %d mutations, %d rejected\n", total, rejected);
  CHECK(total > 1000);
}

// The format layer alone uses its scalar codecs; once the kernels' are installed (what the C API and the
// Python module do) it uses those, with the same results: the golden files decode to the same bytes.
TEST(codecs_scalar_default_and_kernel_install) {
  const uint8_t* msg = reinterpret_cast<const uint8_t*>("123456789");
  CHECK(~scalar_codecs().crc32c_update(~0u, msg, 9) == 0xE3069283u);
  CHECK(~kernels::active().crc32c_update(~0u, msg, 9) == 0xE3069283u);
  set_codecs(nullptr);
  CHECK(&codecs() == &scalar_codecs());
  CHECK(crc32c(msg, 9) == 0xE3069283u);
  // Every golden file's tensors, decoded with the scalar codecs, then again with the kernels'.
  auto decode_all = [] {
    std::vector<std::vector<uint8_t>> out;
    for (const char* f : {"dense", "i8", "i4", "csr", "lut"}) {
      const auto m = Model::open_file(pyrt_test::g_golden_dir + "/" + f + ".pyrt", Verify::kFull);
      for (size_t i = 0; i < m->tensors().size(); ++i) {
        out.emplace_back(out_bytes(m->tensors()[i]));
        m->decode(i, out.back().data(), out.back().size());
      }
    }
    return out;
  };
  const auto scalar_out = decode_all();
  use_kernel_codecs();
  CHECK(&codecs() != &scalar_codecs());
  CHECK(crc32c(msg, 9) == 0xE3069283u);
  CHECK(decode_all() == scalar_out);
  CHECK(scalar_out.size() > 10);
}

// The registry knows SPEC §6.1's encodings by id and name, and each row's bookkeeping holds on the goldens.
TEST(encoding_traits_rows) {
  CHECK(all_encodings().size() == 6);
  for (const EncodingTraits* e : all_encodings()) CHECK(find_encoding(e->id) == e);
  CHECK(find_encoding(0) == nullptr && find_encoding(7) == nullptr);
  CHECK(std::string(spec::encoding_name(spec::kEncI4)) == "i4" && std::string(spec::encoding_name(9)) == "?");
  for (const char* f : {"dense", "i8", "i4", "csr", "lut", "i8g"}) {
    const auto m = Model::open_file(pyrt_test::g_golden_dir + "/" + f + ".pyrt");
    for (size_t i = 0; i < m->tensors().size(); ++i) {
      const TensorInfo& t = m->tensors()[i];
      const bool in_place = t.encoding == spec::kDense && t.p.storage == t.dtype;
      CHECK(m->resident_bytes(i) == (in_place ? 0 : m->decoded_bytes(i)));
    }
  }
}
