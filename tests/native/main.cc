#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "harness.h"
#include "kernels/dispatch.h"

namespace pyrt_test {
std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
int g_failures = 0;
std::string g_golden_dir = "formats/golden";
}  // namespace pyrt_test

int main(int argc, char** argv) {
  if (argc > 1) pyrt_test::g_golden_dir = argv[1];
  // The kernel table run() uses (PYRT_KERNELS=ref forces "ref") and every variant the tests compare against
  // the reference: scripts (tests/native/run_qemu.sh) check these lines.
  {
    namespace k = pyrt::kernels;
    const k::CpuInfo& c = k::cpu();
    std::string tested;
    for (const k::Table* t : k::supported_tables()) tested += (tested.empty() ? "" : ", ") + std::string(t->name);
    std::printf("isa: %s\n", k::active().name);
    std::printf("kernel variants tested: %s; cpu:%s%s%s%s%s%s%s%s%s%s%s\n", tested.empty() ? "none" : tested.c_str(),
                c.avx2 ? " avx2" : "",
                c.fma ? " fma" : "", c.f16c ? " f16c" : "", c.sse42 ? " sse4.2" : "", c.avx512f ? " avx512f" : "",
                c.avx512vnni ? " avx512vnni" : "", c.avx512vbmi ? " avx512vbmi" : "", c.neon ? " neon" : "", c.crc32 ? " crc32" : "",
                c.dotprod ? " dotprod" : "", c.i8mm ? " i8mm" : "");
  }
  int passed = 0, failed = 0;
  const char* only = std::getenv("PYRT_TEST_FILTER");  // run only the tests whose name contains this
  for (auto& c : pyrt_test::registry()) {
    if (only && !std::strstr(c.name, only)) continue;
    const int before = pyrt_test::g_failures;
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  unexpected exception: %s\n", e.what());
      ++pyrt_test::g_failures;
    }
    const bool ok = pyrt_test::g_failures == before;
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", c.name);
    (ok ? passed : failed)++;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
