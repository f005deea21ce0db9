#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

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
    bool ymm = false, zmm = false;
    if (osxsave) {
      unsigned lo, hi;
      __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      ymm = (lo & 6) == 6;  // the OS saves XMM and YMM state
      // ... and opmask (bit 5), the upper halves of zmm0-15 (bit 6) and zmm16-31 (bit 7)
      zmm = ymm && (lo & 0xE0) == 0xE0;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
      c.avx2 = ymm && (b & bit_AVX2);
      c.avx512f = zmm && (b & bit_AVX512F);
      c.avx512dq = zmm && (b & bit_AVX512DQ);
      c.avx512bw = zmm && (b & bit_AVX512BW);
      c.avx512vl = zmm && (b & bit_AVX512VL);
      c.avx512vnni = zmm && (cx & (1u << 11));
      c.avx512vbmi = zmm && (cx & (1u << 1));
    }
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

#if defined(__x86_64__) || defined(_M_X64)
const Table kAvx2 = {"avx2", x86::crc32c_update_sse42, x86::f16_to_f32_f16c, x86::dequant_i8_avx2,
                     x86::dequant_i4_avx2, x86::unary_avx2, x86::binary_avx2, x86::f32_gemm_6x16_avx2, 6, 16,
                     x86::dwconv_avx2, x86::dwconv_nhwc_avx2, nullptr, x86::gemv_i4_avx2,
                     {x86::qgemm_6x16c2_avx2, 6, 16, 2, 0}, x86::qdwconv_nhwc_avx2, x86::quantize_u8_avx2,
                     x86::dequantize_u8_avx2, x86::qadd_u8_avx2, nullptr, nullptr, x86::spmm_avx2, x86::spmv_avx2,
                     {ref::sqgemm, 0, 0}, nullptr, nullptr, 1, x86::attn_scores_avx2, x86::attn_values_avx2,
                     x86::attn_scores_f16_avx2, x86::attn_values_f16_avx2};
// The AVX2 entries for everything but the GEMM, whose 14x32 tile uses 28 of the 32 zmm registers.
const Table kAvx512 = {"avx512", x86::crc32c_update_sse42, x86::f16_to_f32_f16c, x86::dequant_i8_avx2,
                       x86::dequant_i4_avx2, x86::unary_avx2, x86::binary_avx2, x86::f32_gemm_14x32_avx512, 14, 32,
                       x86::dwconv_avx512, x86::dwconv_nhwc_avx512, x86::f32_gemm_14x32_ua_avx512,
                       x86::gemv_i4_avx2, {x86::qgemm_6x16c2_avx2, 6, 16, 2, 0}, x86::qdwconv_nhwc_avx2,
                       x86::quantize_u8_avx2, x86::dequantize_u8_avx2, x86::qadd_u8_avx2, nullptr, nullptr,
                       x86::spmm_avx512, x86::spmv_avx512, {ref::sqgemm, 0, 0}, x86::spmv_pack_size_avx512,
                       x86::spmv_pack_avx512, 16, x86::attn_scores_avx2, x86::attn_values_avx2,
                       x86::attn_scores_f16_avx2, x86::attn_values_f16_avx2};
// The same with the int4 GEMV on AVX-512 VNNI (vpdpbusd), for CPUs that have it.
const Table kAvx512Vnni = [] {
  Table t = kAvx512;
  t.gemv_i4 = x86::gemv_i4_avx512vnni;
  t.i4_pack_size = x86::i4_pack_size_avx512vnni;
  t.i4_pack = x86::i4_pack_avx512vnni;
  t.qgemm = {x86::qgemm_12x32c4_avx512vnni, 12, 32, 4, 0};
  t.qdwconv_nhwc = x86::qdwconv_nhwc_avx512vnni;
  return t;
}();
// ... and the sparse u8 GEMM on byte permutes (vpermi2b), for CPUs that also have VBMI.
const Table kAvx512VnniVbmi = [] {
  Table t = kAvx512Vnni;
  t.sqgemm = {x86::sqgemm_avx512vbmi, 16, 128};
  return t;
}();
#endif

#if defined(__aarch64__)
// The CRC32 instructions are optional in ARMv8.0 (e.g. absent from some Cortex-A53/A72 configurations, and
// from qemu's cortex-a72 model): without them the NEON table keeps the table-driven CRC.
const Table kNeon = {"neon", ref::crc32c_update, arm::f16_to_f32_neon, arm::dequant_i8_neon,
                     arm::dequant_i4_neon, arm::unary_neon, arm::binary_neon, arm::f32_gemm_8x12_neon, 8, 12,
                     arm::dwconv_neon, arm::dwconv_nhwc_neon, nullptr, arm::gemv_i4_neon,
                     {arm::qgemm_4x16_neon, 4, 16, 1, 0}, arm::qdwconv_nhwc_neon, arm::quantize_u8_neon,
                     arm::dequantize_u8_neon, arm::qadd_u8_neon, nullptr, nullptr, arm::spmm_neon, arm::spmv_neon,
                     {arm::sqgemm_neon, 4, 64}, nullptr, nullptr, 1, arm::attn_scores_neon, arm::attn_values_neon,
                     arm::attn_scores_f16_neon, arm::attn_values_f16_neon};
const Table kNeonCrc = {"neon", arm::crc32c_update_armv8, arm::f16_to_f32_neon, arm::dequant_i8_neon,
                        arm::dequant_i4_neon, arm::unary_neon, arm::binary_neon, arm::f32_gemm_8x12_neon, 8, 12,
                        arm::dwconv_neon, arm::dwconv_nhwc_neon, nullptr, arm::gemv_i4_neon,
                        {arm::qgemm_4x16_neon, 4, 16, 1, 0}, arm::qdwconv_nhwc_neon, arm::quantize_u8_neon,
                        arm::dequantize_u8_neon, arm::qadd_u8_neon, nullptr, nullptr, arm::spmm_neon, arm::spmv_neon,
                        {arm::sqgemm_neon, 4, 64}, nullptr, nullptr, 1, arm::attn_scores_neon, arm::attn_values_neon,
                        arm::attn_scores_f16_neon, arm::attn_values_f16_neon};
// The same with the int4 GEMV and the u8 GEMM on sdot, for CPUs with the dotprod extension.
Table with_sdot(Table t) {
  t.gemv_i4 = arm::gemv_i4_neondot;
  t.qgemm = {arm::qgemm_4x16c4_neondot, 4, 16, 4, 128};
  return t;
}
const Table kNeonDot = with_sdot(kNeon), kNeonCrcDot = with_sdot(kNeonCrc);
#endif

// Reference GEMM kernels, one per SIMD tile.
constexpr GemmKernel kRefGemms[] = {{ref::f32_gemm_6x16, 6, 16}, {ref::f32_gemm_14x32, 14, 32},
                                    {ref::f32_gemm_8x12, 8, 12}};

Table ref_table(size_t mr, size_t nr) {
  Table t = {"ref", ref::crc32c_update, ref::f16_to_f32, ref::dequant_i8, ref::dequant_i4, ref::unary,
             ref::binary, ref::f32_gemm_6x16, 6, 16, ref::dwconv, ref::dwconv_nhwc, nullptr, ref::gemv_i4,
             {ref::qgemm, 4, 16, 4, 0}, ref::qdwconv_nhwc, ref::quantize_u8, ref::dequantize_u8, ref::qadd_u8,
             nullptr, nullptr, ref::spmm, ref::spmv, {ref::sqgemm, 0, 0}, nullptr, nullptr, 1, ref::attn_scores,
             ref::attn_values, ref::attn_scores_f16, ref::attn_values_f16};
  for (const GemmKernel& g : kRefGemms)
    if (g.mr == mr && g.nr == nr) t.f32_gemm = g.fn, t.f32_gemm_mr = mr, t.f32_gemm_nr = nr;
  return t;
}

// The table PYRT_KERNELS (read once) asks for: the best one for the CPU unless it names another; null = ref.
const Table* env_choice() {
  static const Table* const t = [] {
    const char* env = std::getenv("PYRT_KERNELS");
    if (env && std::strcmp(env, "ref") == 0) return static_cast<const Table*>(nullptr);
    if (env && std::strcmp(env, "avx2") == 0) {
      if (const Table* a = avx2_table()) return a;
    }
    return simd_table();
  }();
  return t;
}

std::atomic<const Table*> g_override{nullptr};  // set by force_table() / force_reference()
std::atomic<bool> g_overridden{false};

}  // namespace

size_t dwconv_scratch_floats(const DwConvParams& p) {
  // The padded input plane split into sw column phases, with 16 floats of slack per row for the row-wise
  // kernels; the narrow-output path also keeps its virtual output grid (at most one plane more) after it.
  const int64_t ph = (p.oh - 1) * p.sh + (p.kh - 1) * p.dh + 1, pw = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  const int64_t plane = (ph + p.sh) * p.sw * ((pw + p.sw - 1) / p.sw + 16);
  return size_t(2 * plane + 128);
}

const CpuInfo& cpu() {
  static const CpuInfo info = detect();
  return info;
}

const Table& reference() {
  // Same GEMM tile as the SIMD table in use (PYRT_KERNELS honoured), so that panels packed under one table
  // stay valid when PYRT_KERNELS=ref / force_reference() switches to the other. The GEMM driver copes with
  // any other mix too (gemm_kernel_for()).
  static const Table t = [] {
    const Table* s = nullptr;
    const char* env = std::getenv("PYRT_KERNELS");
    if (env && std::strcmp(env, "avx2") == 0) s = avx2_table();
    if (!s) s = simd_table();
    return s ? ref_table(s->f32_gemm_mr, s->f32_gemm_nr) : ref_table(6, 16);
  }();
  return t;
}

const Table* avx2_table() {
#if defined(__x86_64__) || defined(_M_X64)
  const CpuInfo& c = cpu();
  if (c.avx2 && c.fma && c.f16c && c.sse42) return &kAvx2;
#endif
  return nullptr;
}

const Table* avx512_table() {
#if defined(__x86_64__) || defined(_M_X64)
  const CpuInfo& c = cpu();
  if (avx2_table() && c.avx512f && c.avx512vl && c.avx512bw && c.avx512dq) {
    if (!c.avx512vnni) return &kAvx512;
    return c.avx512vbmi ? &kAvx512VnniVbmi : &kAvx512Vnni;
  }
#endif
  return nullptr;
}

const Table* neon_table() {
#if defined(__aarch64__)
  const CpuInfo& c = cpu();
  if (c.dotprod) return c.crc32 ? &kNeonCrcDot : &kNeonDot;
  return c.crc32 ? &kNeonCrc : &kNeon;
#else
  return nullptr;
#endif
}

const Table* simd_table() {
  if (const Table* t = avx512_table()) return t;
  if (const Table* t = avx2_table()) return t;
  return neon_table();
}

void force_table(const Table* t) {
  g_override.store(t);
  g_overridden.store(t != nullptr);
}

void force_reference(bool on) {
  // off: back to the SIMD choice (PYRT_KERNELS=avx2 still honoured; PYRT_KERNELS=ref is not)
  const Table* s = env_choice();
  if (!s) s = simd_table();
  force_table(on ? &reference() : s);
}

const Table& active() {
  if (g_overridden.load()) {
    if (const Table* t = g_override.load()) return *t;
  }
  if (const Table* t = env_choice()) return *t;
  return reference();
}

namespace {
thread_local const Table* t_current = nullptr;
}  // namespace

const Table& current() { return t_current ? *t_current : active(); }
ScopedTable::ScopedTable(const Table& t) : prev_(t_current) { t_current = &t; }
ScopedTable::~ScopedTable() { t_current = prev_; }

GemmKernel gemm_kernel_for(const Table& preferred, size_t mr, size_t nr) {
  auto fits = [&](size_t tmr, size_t tnr) { return (mr == 0 || mr == tmr) && (nr == 0 || nr == tnr); };
  if (fits(preferred.f32_gemm_mr, preferred.f32_gemm_nr))
    return {preferred.f32_gemm, preferred.f32_gemm_mr, preferred.f32_gemm_nr};
  // All kernels are bit-identical, so any with the right tile gives the same result; keep to the
  // reference when the reference was asked for.
  if (std::strcmp(preferred.name, "ref") != 0) {
    for (const Table* t : {avx512_table(), avx2_table(), neon_table()})
      if (t && fits(t->f32_gemm_mr, t->f32_gemm_nr)) return {t->f32_gemm, t->f32_gemm_mr, t->f32_gemm_nr};
  }
  for (const GemmKernel& g : kRefGemms)
    if (fits(g.mr, g.nr)) return g;
  return {nullptr, 0, 0};
}

size_t gemm_max_mr() {
  size_t m = 0;
  for (const GemmKernel& g : kRefGemms) m = g.mr > m ? g.mr : m;
  return m;
}

size_t gemm_max_nr() {
  size_t m = 0;
  for (const GemmKernel& g : kRefGemms) m = g.nr > m ? g.nr : m;
  return m;
}

}  // namespace pyrt::kernels
