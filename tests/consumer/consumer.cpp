// The same check through the C++ wrapper (pyrt.hpp), linked statically: consumer_cpp model.pyrt input.bin
// d0,d1,... expected.bin
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <pyrt/pyrt.hpp>

static std::vector<char> slurp(const char* path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  try {
    pyrt::api::Model model(argv[1]);
    pyrt::api::Session session(model, 1);
    std::vector<char> x = slurp(argv[2]), want = slurp(argv[4]);
    pyrt_tensor in{};
    in.name = model.input(0).name, in.dtype = PYRT_F32, in.data = x.data(), in.size = x.size();
    std::stringstream dims(argv[3]);
    for (std::string d; std::getline(dims, d, ',');) in.dims[in.rank++] = std::stoll(d);
    pyrt::api::Outputs out = session.run({in});
    const float* got = out.data<float>(0);
    const float* w = reinterpret_cast<const float*>(want.data());
    bool ok = out[0].size == want.size();
    for (size_t i = 0; ok && i < want.size() / 4; ++i) ok = std::fabs(got[i] - w[i]) <= 1e-4f * (1.f + std::fabs(w[i]));
    std::printf("%s: %s the Python outputs\n", argv[0], ok ? "matches" : "DIFFERS from");
    return ok ? 0 : 1;
  } catch (const pyrt::api::Exception& e) {
    std::fprintf(stderr, "pyrt: %s\n", e.what());
    return 1;
  }
}
