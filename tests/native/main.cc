#include <cstdio>
#include <cstring>

#include "harness.h"

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
  int passed = 0, failed = 0;
  for (auto& c : pyrt_test::registry()) {
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
