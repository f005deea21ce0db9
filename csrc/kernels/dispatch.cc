#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/ref/ref.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

#include "kernels/x86/x86.h"
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>

#include "kernels/arm/arm.h"
// From the kernel's uapi (asm/hwcap.h); spelled out for older headers.
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#endif

namespace pyrt::kernels {
namespace {

CpuInfo detect() {
  CpuInfo c;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, cx, d;
  if (__get_cpuid(1, &a, &b, &cx, &d)) {
    c.sse42 = cx & bit_SSE4_2;
    c.fma = cx & bit_FMA;
    c.f16c = cx & bit_F16C;
    const bool osxsave = cx & bit_OSXSAVE;
    bool ymm = false;
    if (osxsave) {
      unsigned lo, hi;
      __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      ymm = (lo & 6) == 6;  // the OS saves XMM and YMM state
    }
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) c.avx2 = ymm && (b & bit_AVX2);
    if (!ymm) c.fma = c.f16c = false;
  }
#elif defined(__aarch64__)
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  c.neon = true;  // Advanced SIMD is mandatory in AArch64 (and the compiler already uses it everywhere)
  c.crc32 = hw & HWCAP_CRC32;
  c.dotprod = hw & HWCAP_ASIMDDP;
  c.i8mm = hw2 & HWCAP2_I8MM;
#endif
  return c;
}

// The reference GEMM uses the same tile as the SIMD kernel of the platform, so panels packed under one
// table stay valid when PYRT_KERNELS=ref / force_reference() switches to the other.
#if defined(__aarch64__)
const Table kRef = {"ref", ref::crc32c_update, ref::f16_to_f32, ref::dequant_i8, ref::dequant_i4, ref::unary,
                    ref::binary, ref::f32_gemm_8x12, 8, 12, ref::dwconv};
#else
const Table kRef = {"ref", ref::crc32c_update, ref::f16_to_f32, ref::dequant_i8, ref::dequant_i4, ref::unary,
                    ref::binary, ref::f32_gemm_6x16, 6, 16, ref::dwconv};
#endif

#if defined(__x86_64__) || defined(_M_X64)
const Table kAvx2 = {"avx2", x86::crc32c_update_sse42, x86::f16_to_f32_f16c, x86::dequant_i8_avx2,
                     x86::dequant_i4_avx2, x86::unary_avx2, x86::binary_avx2, x86::f32_gemm_6x16_avx2, 6, 16,
                     x86::dwconv_avx2};
#endif

#if defined(__aarch64__)
// The CRC32 instructions are optional in ARMv8.0 (e.g. absent from some Cortex-A53/A72 configurations, and
// from qemu's cortex-a72 model): without them the NEON table keeps the table-driven CRC.
const Table kNeon = {"neon", ref::crc32c_update, arm::f16_to_f32_neon, arm::dequant_i8_neon,
                     arm::dequant_i4_neon, arm::unary_neon, arm::binary_neon, arm::f32_gemm_8x12_neon, 8, 12,
                     arm::dwconv_neon};
const Table kNeonCrc = {"neon", arm::crc32c_update_armv8, arm::f16_to_f32_neon, arm::dequant_i8_neon,
                        arm::dequant_i4_neon, arm::unary_neon, arm::binary_neon, arm::f32_gemm_8x12_neon, 8, 12,
                        arm::dwconv_neon};
#endif

std::atomic<int> g_forced{-1};  // -1: read PYRT_KERNELS once; 0: best; 1: reference

}  // namespace

size_t dwconv_scratch_floats(const DwConvParams& p) {
  // padded input plane split into sw column phases, plus 8 floats of slack per row for vector loads
  const int64_t ph = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1, pw = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  return size_t(ph * p.sw * ((pw + p.sw - 1) / p.sw + 16));
}

const CpuInfo& cpu() {
  static const CpuInfo info = detect();
  return info;
}

const Table& reference() { return kRef; }

const Table* avx2_table() {
#if defined(__x86_64__) || defined(_M_X64)
  const CpuInfo& c = cpu();
  if (c.avx2 && c.fma && c.f16c && c.sse42) return &kAvx2;
#endif
  return nullptr;
}

const Table* neon_table() {
#if defined(__aarch64__)
  return cpu().crc32 ? &kNeonCrc : &kNeon;
#else
  return nullptr;
#endif
}

const Table* simd_table() {
#if defined(__aarch64__)
  return neon_table();
#else
  return avx2_table();
#endif
}

void force_reference(bool on) { g_forced.store(on ? 1 : 0); }

const Table& active() {
  int f = g_forced.load();
  if (f < 0) {
    const char* env = std::getenv("PYRT_KERNELS");
    f = (env && std::strcmp(env, "ref") == 0) ? 1 : 0;
    g_forced.store(f);
  }
  if (f == 1) return kRef;
  if (const Table* t = simd_table()) return *t;
  return kRef;
}

}  // namespace pyrt::kernels
