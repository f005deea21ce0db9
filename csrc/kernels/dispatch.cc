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

// The reference table: every field the scalar truth. Variants start from it and override by name.
Table ref_table() {
  Table t;
  t.name = "ref";
  t.crc32c_update = ref::crc32c_update;
  t.f16_to_f32 = ref::f16_to_f32;
  t.dequant_i8 = ref::dequant_i8;
  t.dequant_i4 = ref::dequant_i4;
  t.unary = ref::unary;
  t.binary = ref::binary;
  t.f32_gemm = t.f32_gemm_ref = ref::f32_gemm_6x16;
  t.f32_gemm_mr = 6, t.f32_gemm_nr = 16;
  t.dwconv = ref::dwconv;
  t.dwconv_nhwc = ref::dwconv_nhwc;
  t.gemv_i4 = ref::gemv_i4;
  t.gemm_lut4 = ref::gemm_lut4;
  t.qgemm = {ref::qgemm, 4, 16, 4, 0};
  t.qdwconv_nhwc = ref::qdwconv_nhwc;
  t.quantize_u8 = ref::quantize_u8;
  t.quantize_rows_u8 = ref::quantize_rows_u8;
  t.finish_rows = ref::finish_rows;
  t.dequantize_u8 = ref::dequantize_u8;
  t.qadd_u8 = ref::qadd_u8;
  t.spmm = ref::spmm;
  t.spmv = ref::spmv;
  t.sqgemm = {ref::sqgemm, 0, 0};
  t.attn_scores = ref::attn_scores;
  t.attn_values = ref::attn_values;
  t.attn_scores_f16 = ref::attn_scores_f16;
  t.attn_values_f16 = ref::attn_values_f16;
  t.attn_scores_i8 = ref::attn_scores_i8;
  t.attn_values_i8 = ref::attn_values_i8;
  return t;
}

// A variant: its table and whether this CPU runs it.
struct Variant {
  const Table* table;
  bool (*supported)(const CpuInfo&);
};

#if defined(__x86_64__) || defined(_M_X64)
bool has_avx2(const CpuInfo& c) { return c.avx2 && c.fma && c.f16c && c.sse42; }
bool has_avx512(const CpuInfo& c) { return has_avx2(c) && c.avx512f && c.avx512vl && c.avx512bw && c.avx512dq; }
bool has_avx512_vnni(const CpuInfo& c) { return has_avx512(c) && c.avx512vnni; }
bool has_avx512_vnni_vbmi(const CpuInfo& c) { return has_avx512_vnni(c) && c.avx512vbmi; }

const Table kAvx2 = [] {
  Table t = ref_table();
  t.name = "avx2";
  t.gemm_lut4 = nullptr;  // no fast lookup GEMM yet: lut weights take the int8 GEMM, requantized
  t.crc32c_update = x86::crc32c_update_sse42;
  t.f16_to_f32 = x86::f16_to_f32_f16c;
  t.dequant_i8 = x86::dequant_i8_avx2;
  t.dequant_i4 = x86::dequant_i4_avx2;
  t.unary = x86::unary_avx2;
  t.binary = x86::binary_avx2;
  t.f32_gemm = x86::f32_gemm_6x16_avx2, t.f32_gemm_ref = ref::f32_gemm_6x16;
  t.f32_gemm_mr = 6, t.f32_gemm_nr = 16;
  t.dwconv = x86::dwconv_avx2;
  t.dwconv_nhwc = x86::dwconv_nhwc_avx2;
  t.gemv_i4 = x86::gemv_i4_avx2;
  // No int4 GEMM: one on the GEMV's loop (each chunk unpacked once for 4 rows, a float finish per row and group)
  // ran GPT-2's pp128 at 182 tok/s against 454 for the int8 GEMM on the weights requantized to int8 panels (Xeon,
  // 1 thread, 2026-12-07). Many int4 rows here take those panels: a byte a weight, held beside the nibbles.
  t.qgemm = {x86::qgemm_6x16c2_avx2, 6, 16, 2, 0};
  t.qdwconv_nhwc = x86::qdwconv_nhwc_avx2;
  t.quantize_u8 = x86::quantize_u8_avx2;
  t.quantize_rows_u8 = x86::quantize_rows_u8_avx2;
  t.finish_rows = x86::finish_rows_avx2;
  t.dequantize_u8 = x86::dequantize_u8_avx2;
  t.qadd_u8 = x86::qadd_u8_avx2;
  t.spmm = x86::spmm_avx2;
  t.spmv = x86::spmv_avx2;
  t.attn_scores = x86::attn_scores_avx2;
  t.attn_values = x86::attn_values_avx2;
  t.attn_scores_f16 = x86::attn_scores_f16_avx2;
  t.attn_values_f16 = x86::attn_values_f16_avx2;
  t.attn_scores_i8 = x86::attn_scores_i8_avx2;
  t.attn_values_i8 = x86::attn_values_i8_avx2;
  return t;
}();
// AVX2 for everything but the f32 GEMM (a 14x32 tile on 28 of the 32 zmm registers), the depthwise and the
// sparse f32 kernels.
const Table kAvx512 = [] {
  Table t = kAvx2;
  t.name = "avx512";
  t.f32_gemm = x86::f32_gemm_14x32_avx512, t.f32_gemm_ref = ref::f32_gemm_14x32;
  t.f32_gemm_mr = 14, t.f32_gemm_nr = 32;
  t.f32_gemm_ua = x86::f32_gemm_14x32_ua_avx512;
  t.dwconv = x86::dwconv_avx512;
  t.dwconv_nhwc = x86::dwconv_nhwc_avx512;
  t.spmm = x86::spmm_avx512;
  t.spmv = x86::spmv_avx512;
  t.spmv_pack_size = x86::spmv_pack_size_avx512;
  t.spmv_pack = x86::spmv_pack_avx512;
  t.spmv_group = 16;
  return t;
}();
// ... with the int8 dot products of AVX-512 VNNI (vpdpbusd): the int4 GEMV, the u8 GEMM and depthwise.
const Table kAvx512Vnni = [] {
  Table t = kAvx512;
  t.name = "avx512-vnni";
  t.gemv_i4 = x86::gemv_i4_avx512vnni;
  t.i4_pack_size = x86::i4_pack_size_avx512vnni;
  t.i4_pack = x86::i4_pack_avx512vnni;
  t.i4_pack_layout = "i4.avx512vnni.16rows";
  t.gemm_i4 = x86::gemm_i4_avx512vnni;
  t.quantize_i8_rows = x86::quantize_i8_rows_avx512;
  t.gemm_lut4 = x86::gemm_lut4_avx512vnni;
  t.qgemm = {x86::qgemm_12x32c4_avx512vnni, 12, 32, 4, 0};
  t.qdwconv_nhwc = x86::qdwconv_nhwc_avx512vnni;
  return t;
}();
// ... and the sparse u8 GEMM on byte permutes (vpermi2b), for CPUs that also have VBMI.
const Table kAvx512VnniVbmi = [] {
  Table t = kAvx512Vnni;
  t.name = "avx512-vnni-vbmi";
  t.sqgemm = {x86::sqgemm_avx512vbmi, 16, 128};
  return t;
}();

const Variant kVariants[] = {{&kAvx512VnniVbmi, has_avx512_vnni_vbmi},
                             {&kAvx512Vnni, has_avx512_vnni},
                             {&kAvx512, has_avx512},
                             {&kAvx2, has_avx2}};
#elif defined(__aarch64__)
bool has_neon(const CpuInfo& c) { return c.neon; }
bool has_neon_crc(const CpuInfo& c) { return c.neon && c.crc32; }
bool has_neon_dot(const CpuInfo& c) { return c.neon && c.dotprod; }
bool has_neon_dot_crc(const CpuInfo& c) { return has_neon_dot(c) && c.crc32; }

const Table kNeon = [] {
  Table t = ref_table();
  t.name = "neon";
  t.gemm_lut4 = arm::gemm_lut4_neon;
  t.f16_to_f32 = arm::f16_to_f32_neon;
  t.dequant_i8 = arm::dequant_i8_neon;
  t.dequant_i4 = arm::dequant_i4_neon;
  t.unary = arm::unary_neon;
  t.binary = arm::binary_neon;
  t.f32_gemm = arm::f32_gemm_8x12_neon, t.f32_gemm_ref = ref::f32_gemm_8x12;
  t.f32_gemm_mr = 8, t.f32_gemm_nr = 12;
  t.dwconv = arm::dwconv_neon;
  t.dwconv_nhwc = arm::dwconv_nhwc_neon;
  t.gemv_i4 = arm::gemv_i4_neon;
  t.gemm_i4 = arm::gemm_i4_neon;  // many rows on the file's nibbles: no int8 panels beside them (boards: memory)
  t.quantize_i8_rows = kernels::quantize_i8_rows_chunked, t.i4_rows_chunked = true;
  t.qgemm = {arm::qgemm_4x16_neon, 4, 16, 1, 0};
  t.qdwconv_nhwc = arm::qdwconv_nhwc_neon;
  t.quantize_u8 = arm::quantize_u8_neon;
  t.quantize_rows_u8 = arm::quantize_rows_u8_neon;
  t.finish_rows = arm::finish_rows_neon;
  t.dequantize_u8 = arm::dequantize_u8_neon;
  t.qadd_u8 = arm::qadd_u8_neon;
  t.spmm = arm::spmm_neon;
  t.spmv = arm::spmv_neon;
  t.sqgemm = {arm::sqgemm_neon, 4, 64};
  t.attn_scores = arm::attn_scores_neon;
  t.attn_values = arm::attn_values_neon;
  t.attn_scores_f16 = arm::attn_scores_f16_neon;
  t.attn_values_f16 = arm::attn_values_f16_neon;
  t.attn_scores_i8 = arm::attn_scores_i8_neon;
  t.attn_values_i8 = arm::attn_values_i8_neon;
  return t;
}();
// The CRC32 instructions are optional in ARMv8.0 (absent from some Cortex-A53/A72 configurations and from
// qemu's cortex-a72 model): only these variants use them.
Table with_crc(Table t, const char* name) {
  t.name = name;
  t.crc32c_update = arm::crc32c_update_armv8;
  return t;
}
// The int4 GEMV and the u8 GEMM on sdot, for CPUs with the dotprod extension.
Table with_sdot(Table t, const char* name) {
  t.name = name;
  t.gemv_i4 = arm::gemv_i4_neondot;
  t.gemm_i4 = arm::gemm_i4_neondot;
  t.gemm_lut4 = arm::gemm_lut4_neondot;
  t.qgemm = {arm::qgemm_4x16c4_neondot, 4, 16, 4, 128};
  return t;
}
const Table kNeonCrc = with_crc(kNeon, "neon-crc");
const Table kNeonDot = with_sdot(kNeon, "neon-dot");
const Table kNeonDotCrc = with_crc(kNeonDot, "neon-dot-crc");

const Variant kVariants[] = {{&kNeonDotCrc, has_neon_dot_crc},
                             {&kNeonDot, has_neon_dot},
                             {&kNeonCrc, has_neon_crc},
                             {&kNeon, has_neon}};
#endif

template <typename F>
void for_each_variant(F f) {
#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
  for (const Variant& v : kVariants) f(v);
#else
  (void)f;
#endif
}

// The reference table with a variant's GEMM tile (its named twin): one per variant, in kVariants' order.
const std::vector<Table>& reference_twins() {
  static const std::vector<Table> twins = [] {
    std::vector<Table> r;
    for_each_variant([&](const Variant& v) {
      Table t = ref_table();
      t.f32_gemm = t.f32_gemm_ref = v.table->f32_gemm_ref;
      t.f32_gemm_mr = v.table->f32_gemm_mr, t.f32_gemm_nr = v.table->f32_gemm_nr;
      r.push_back(t);
    });
    return r;
  }();
  return twins;
}

// The table PYRT_KERNELS (read once) asks for: the best one for the CPU unless it names another; null = ref.
const Table* env_choice() {
  static const Table* const t = [] {
    const char* env = std::getenv("PYRT_KERNELS");
    if (env && std::strcmp(env, "ref") == 0) return static_cast<const Table*>(nullptr);
    if (env) {
      if (const Table* a = table_by_name(env)) return a;
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

const Table& reference_for(const Table& t) {
  static const Table plain = ref_table();
  size_t i = 0;
  const Table* found = nullptr;
  for_each_variant([&](const Variant& v) {
    if (!found && v.table->f32_gemm_mr == t.f32_gemm_mr && v.table->f32_gemm_nr == t.f32_gemm_nr)
      found = &reference_twins()[i];
    ++i;
  });
  return found ? *found : plain;
}

const Table& reference() {
  // Same GEMM tile as the SIMD table in use (PYRT_KERNELS honoured), so that panels packed under one table
  // stay valid when PYRT_KERNELS=ref / force_reference() switches to the other. The GEMM driver copes with
  // any other mix too (gemm_kernel_for()).
  static const Table& t = [] () -> const Table& {
    const char* env = std::getenv("PYRT_KERNELS");
    const Table* s = env && std::strcmp(env, "ref") != 0 ? table_by_name(env) : nullptr;
    if (!s) s = simd_table();
    return s ? reference_for(*s) : reference_for(Table{});
  }();
  return t;
}

const std::vector<const Table*>& supported_tables() {
  static const std::vector<const Table*> list = [] {
    std::vector<const Table*> r;
    for_each_variant([&](const Variant& v) {
      if (v.supported(cpu())) r.push_back(v.table);
    });
    return r;
  }();
  return list;
}

const Table* simd_table() {
  const std::vector<const Table*>& s = supported_tables();
  return s.empty() ? nullptr : s.front();
}

const Table* table_by_name(const char* name) {
  if (std::strcmp(name, "ref") == 0) return &reference();
  for (const Table* t : supported_tables())
    if (std::strcmp(t->name, name) == 0) return t;
  return nullptr;
}

void force_table(const Table* t) {
  g_override.store(t);
  g_overridden.store(t != nullptr);
}

void force_reference(bool on) {
  // off: back to the SIMD choice (PYRT_KERNELS=<variant> still honoured; PYRT_KERNELS=ref is not)
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

GemmKernel gemm_kernel_for(const Table& preferred, size_t mr, size_t nr) {
  auto fits = [&](size_t tmr, size_t tnr) { return (mr == 0 || mr == tmr) && (nr == 0 || nr == tnr); };
  if (fits(preferred.f32_gemm_mr, preferred.f32_gemm_nr))
    return {preferred.f32_gemm, preferred.f32_gemm_mr, preferred.f32_gemm_nr};
  // All kernels are bit-identical, so any with the right tile gives the same result; keep to the
  // reference twins when a reference table was asked for.
  const bool want_ref = preferred.f32_gemm == preferred.f32_gemm_ref;
  GemmKernel g{nullptr, 0, 0};
  for (const bool simd : {true, false}) {
    if (simd && want_ref) continue;
    for_each_variant([&](const Variant& v) {
      const Table& t = *v.table;
      if (g.fn || !fits(t.f32_gemm_mr, t.f32_gemm_nr) || (simd && !v.supported(cpu()))) return;
      g = {simd ? t.f32_gemm : t.f32_gemm_ref, t.f32_gemm_mr, t.f32_gemm_nr};
    });
  }
  if (!g.fn && fits(6, 16)) g = {ref::f32_gemm_6x16, 6, 16};
  return g;
}

// Workspaces are sized for the largest tile of any compiled table (their reference twins share the tiles).
size_t gemm_max_mr() {
  size_t m = reference_for(Table{}).f32_gemm_mr;
  for_each_variant([&](const Variant& v) { m = v.table->f32_gemm_mr > m ? v.table->f32_gemm_mr : m; });
  return m;
}

size_t gemm_max_nr() {
  size_t m = reference_for(Table{}).f32_gemm_nr;
  for_each_variant([&](const Variant& v) { m = v.table->f32_gemm_nr > m ? v.table->f32_gemm_nr : m; });
  return m;
}

}  // namespace pyrt::kernels
