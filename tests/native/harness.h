// A tiny test harness (no external dependency): TEST(name) registers a function; CHECK records failures.
#pragma once
#include <dirent.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace pyrt_test {
struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& registry();
extern int g_failures;
extern std::string g_golden_dir;
struct Reg {
  Reg(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};
}  // namespace pyrt_test

// The names of the *.pyrt files in dir (none if it cannot be read: the caller CHECKs what it needs).
inline std::vector<std::string> pyrt_files_in(const std::string& dir) {
  std::vector<std::string> r;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() >= 5 && name.substr(name.size() - 5) == ".pyrt") r.push_back(name);
    }
    closedir(d);
  }
  return r;
}

#define TEST(name)                                                      \
  static void test_##name();                                            \
  static pyrt_test::Reg reg_##name(#name, test_##name);                 \
  static void test_##name()

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++pyrt_test::g_failures;                                                       \
    }                                                                                \
  } while (0)
