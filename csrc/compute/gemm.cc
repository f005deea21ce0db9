#include "compute/gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "compute/thread_pool.h"

namespace pyrt::gemm {
namespace {

// Blocking on this class of machine (L1d 32-48 KiB, L2 512 KiB-1 MiB, big L3): a KC x NR B micro-panel
// (16 KiB for the 6x16 AVX2 tile, 32 KiB for the 14x32 AVX-512 one) stays in L1 while the MC x KC A block
// (~144 KiB) streams from L2; the KC x NC B block (2 MiB) lives in L3. MC is kMC rounded down to a multiple
// of MR (144 for 6 rows, 140 for 14). Measured choices: see bench/RESULTS.md, "fp32 GEMM".
constexpr size_t kMC = 144;
constexpr size_t kKC = 256;
constexpr size_t kNC = 2048;  // rounded down to a multiple of NR by nc_block() (12 does not divide it)
// Below this many flops per thread a split costs more (handing out the job, C lines shared) than it saves.
// Measured with the spinning thread pool: 5e5 takes a 1x1000x1280 Linear (a classifier head) from 24 to 42
// GMAC/s on 2 threads; the earlier 2e6 dated from a pool whose workers slept between jobs.
constexpr double kMinTaskFlops = 5e5;

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Up to this many B panels (N <= 1536 with NR = 32) A is read in place when the table has an unpacked-A
// kernel. Measured (AVX-512, 1 thread, GMAC/s packed -> in place): 12544x16x32 27 -> 75, 3136x24x144 45 -> 101,
// 196x672x112 104 -> 114, 1024^3 99 -> 104; only 2048^3 on 2 threads lost (189 -> 173), so very wide products
// keep packing, where its cost is spread over many panels.
constexpr size_t kUaMaxPanels = 48;
size_t mc_for(size_t mr) { return std::max<size_t>(1, kMC / mr) * mr; }

// Column block width: a whole number of NR panels (2048 for NR = 16, 2040 for NR = 12), so that every
// block starts on a panel boundary of a prepacked B.
size_t nc_block(size_t nr) { return kNC / nr * nr; }
static_assert(kMC % 6 == 0 && kMC % 8 == 0, "MC must be a multiple of every MR");

// Pack the block of outer indices [o0, o0 + on) x k in [k0, k0 + kc) into consecutive kc x TILE panels.
// Element (o, k) is src[k*ld + o] when k_major, else src[o*ld + k].
template <size_t TILE>
void pack_block_t(const float* src, size_t ld, bool k_major, size_t o0, size_t on, size_t k0, size_t kc, float* dst) {
  for (size_t p = 0; p < on; p += TILE) {
    const size_t w = std::min(TILE, on - p);
    float* d = dst + (p / TILE) * kc * TILE;
    if (k_major) {
      const float* s = src + k0 * ld + o0 + p;
      if (w == TILE) {
        for (size_t k = 0; k < kc; ++k) std::memcpy(d + k * TILE, s + k * ld, TILE * sizeof(float));
      } else {
        for (size_t k = 0; k < kc; ++k) {
          for (size_t t = 0; t < w; ++t) d[k * TILE + t] = s[k * ld + t];
          for (size_t t = w; t < TILE; ++t) d[k * TILE + t] = 0.f;
        }
      }
    } else {
      // Read each source row contiguously; the strided writes stay inside one L1-sized panel. The rows are
      // short (kc floats) streams that the hardware prefetcher starts late: fetch the row 4 ahead meanwhile
      // (measured: the loads of this loop were most of its time for a 1024x1024 A coming from L3).
      for (size_t t = 0; t < w; ++t) {
        const float* s = src + (o0 + p + t) * ld + k0;
        if (p + t + 4 < on) {
          const float* ahead = s + 4 * ld;
          for (size_t k = 0; k < kc; k += 16) __builtin_prefetch(ahead + k);
        }
        for (size_t k = 0; k < kc; ++k) d[k * TILE + t] = s[k];
      }
      for (size_t t = w; t < TILE; ++t)
        for (size_t k = 0; k < kc; ++k) d[k * TILE + t] = 0.f;
    }
  }
}

void pack_block(size_t tile, const float* src, size_t ld, bool k_major, size_t o0, size_t on, size_t k0, size_t kc,
                float* dst) {
  switch (tile) {
    case 6: return pack_block_t<6>(src, ld, k_major, o0, on, k0, kc, dst);
    case 8: return pack_block_t<8>(src, ld, k_major, o0, on, k0, kc, dst);
    case 12: return pack_block_t<12>(src, ld, k_major, o0, on, k0, kc, dst);
    case 14: return pack_block_t<14>(src, ld, k_major, o0, on, k0, kc, dst);
    case 16: return pack_block_t<16>(src, ld, k_major, o0, on, k0, kc, dst);
    case 32: return pack_block_t<32>(src, ld, k_major, o0, on, k0, kc, dst);
    default: throw std::logic_error("gemm: no packing routine for this tile");
  }
}

size_t panels_bytes(size_t outer, size_t depth, size_t tile) {
  return round_up(std::max<size_t>(1, round_up(outer, tile) * depth) * sizeof(float), 64);
}

// Panels over bytes a file stores, when they are what pack_panels would make for this shape and tile.
bool view_panels(detail::Panels& p, const void* bytes, size_t size, size_t outer, size_t depth, size_t tile) {
  if (size != panels_bytes(outer, depth, tile) || reinterpret_cast<uintptr_t>(bytes) % 64) return false;
  p.data = static_cast<const float*>(bytes);
  p.outer = outer, p.depth = depth, p.tile = tile, p.kc = kKC;
  return true;
}

detail::Panels pack_panels(const float* src, size_t ld, bool k_major, size_t outer, size_t depth, size_t tile) {
  detail::Panels p;
  p.outer = outer;
  p.depth = depth;
  p.tile = tile;
  p.kc = kKC;
  const size_t padded = round_up(outer, tile);
  const size_t bytes = panels_bytes(outer, depth, tile);
  void* mem = std::aligned_alloc(64, bytes);
  if (!mem) throw std::bad_alloc();
  p.owned.reset(static_cast<float*>(mem));
  p.data = p.owned.get();
  for (size_t k0 = 0; k0 < depth; k0 += kKC)
    pack_block(tile, src, ld, k_major, 0, outer, k0, std::min(kKC, depth - k0), p.owned.get() + k0 * padded);
  return p;
}

// One side of a product: prepacked panels, or a plain matrix packed per call into the workspace.
struct Operand {
  const detail::Panels* packed = nullptr;
  const float* src = nullptr;
  size_t ld = 0;
  bool k_major = false;
};

struct WsLayout {
  size_t a_floats, b_floats, per_thread;  // floats, each a multiple of 16 (64 bytes)
};

// Sized for any kernel's tile (an MC x KC block rounded up to MR rows is at most min(kMC, M) + MR - 1 rows),
// so the workspace a caller sized stays enough whichever kernel run() ends up using.
WsLayout ws_layout(size_t M, size_t N, size_t K, bool need_a, bool need_b) {
  const size_t kc = std::max<size_t>(1, std::min(kKC, K));
  WsLayout w;
  w.a_floats = need_a ? round_up((std::min(kMC, M) + kernels::gemm_max_mr() - 1) * kc, 16) : 0;
  w.b_floats = need_b ? round_up((std::min(kNC, N) + kernels::gemm_max_nr() - 1) * kc, 16) : 0;
  w.per_thread = w.a_floats + w.b_floats;
  return w;
}

void check_epilogue(const Epilogue& ep) {
  switch (ep.act.act) {
    case Act::kNone:
    case Act::kRelu:
    case Act::kClip:
    case Act::kLeakyRelu:
      break;
    default:
      throw std::invalid_argument("gemm: only none/relu/clip/leaky_relu are fused; apply the others after");
  }
  if (ep.bias_kind != Epilogue::kNone && !ep.bias) throw std::invalid_argument("gemm: bias kind set, bias null");
}

void run(const kernels::Table& cur, const Operand& A, const Operand& B, size_t M, size_t N, size_t K, float* C, size_t ldc,
         const Epilogue& ep, ThreadPool* pool, void* workspace) {
  check_epilogue(ep);
  if (M == 0 || N == 0) return;
  // The table's kernel, or one whose tile fits the prepacked operand (packed under another table, e.g. by a
  // session that forced the reference with another tile). All are bit-identical.
  const kernels::GemmKernel uk =
      kernels::gemm_kernel_for(cur, A.packed ? A.packed->tile : 0, B.packed ? B.packed->tile : 0);
  if (!uk.fn) throw std::logic_error("gemm: no microkernel for the tile the operand was packed with");
  const size_t mr = uk.mr, nr = uk.nr, kMCr = mc_for(mr);
  // A row-major and not too many B panels: the kernel reads it in place instead of packing it (the packing
  // costs as much as the FMAs when N is a panel or two: channels-last 1x1 convs with few outputs).
  const bool ua = !A.packed && !A.k_major && cur.f32_gemm_ua && uk.fn == cur.f32_gemm &&
                  round_up(N, nr) / nr <= kUaMaxPanels;
  const size_t kc_blk = A.packed ? A.packed->kc : B.packed ? B.packed->kc : kKC;
  const int threads = pool ? pool->size() : 1;
  const WsLayout wl = ws_layout(M, N, K, !A.packed, !B.packed);
  float* ws = nullptr;
  if (wl.per_thread) {
    if (!workspace) throw std::invalid_argument("gemm: workspace required (see workspace_size)");
    ws = reinterpret_cast<float*>(round_up(reinterpret_cast<uintptr_t>(workspace), 64));
  }
  const size_t pad_m = round_up(M, mr), pad_n = round_up(N, nr);

  kernels::GemmUkArgs args0{};
  args0.act = uint8_t(ep.act.act);
  args0.p0 = ep.act.p0;
  args0.p1 = ep.act.p1;

  // Output rows [m0, m1) x columns [n0, n1), m0 a multiple of mr and n0 of nr (panel boundaries).
  auto block = [&](size_t m0, size_t m1, size_t n0, size_t n1, int thread) {
    float* buf_a = ws ? ws + size_t(thread) * wl.per_thread : nullptr;
    float* buf_b = buf_a ? buf_a + wl.a_floats : nullptr;
    kernels::GemmUkArgs args = args0;
    const size_t nc_blk = nc_block(nr);
    for (size_t jc = n0; jc < n1; jc += nc_blk) {
      const size_t nc = std::min(nc_blk, n1 - jc);
      for (size_t pc = 0;; pc += kc_blk) {
        const size_t kc = std::min(kc_blk, K - pc);
        args.flags = (pc > 0 ? kernels::kGemmLoadC : 0u) | (pc + kc >= K ? kernels::kGemmFinal : 0u);
        const float* bp;
        if (B.packed) {
          bp = B.packed->data + pc * pad_n + (jc / nr) * kc * nr;
        } else {
          pack_block(nr, B.src, B.ld, B.k_major, jc, nc, pc, kc, buf_b);
          bp = buf_b;
        }
        for (size_t ic = m0; ic < m1; ic += kMCr) {
          const size_t mc = std::min(kMCr, m1 - ic);
          const float* ap;
          if (A.packed) {
            ap = A.packed->data + pc * pad_m + (ic / mr) * kc * mr;
          } else if (ua) {
            ap = nullptr;
          } else {
            pack_block(mr, A.src, A.ld, A.k_major, ic, mc, pc, kc, buf_a);
            ap = buf_a;
          }
          for (size_t jr = 0; jr < nc; jr += nr) {
            const size_t w = std::min(nr, nc - jr);
            args.bias_col = ep.bias_kind == Epilogue::kPerCol ? ep.bias + jc + jr : nullptr;
            for (size_t ir = 0; ir < mc; ir += mr) {
              args.bias_row = ep.bias_kind == Epilogue::kPerRow ? ep.bias + ic + ir : nullptr;
              if (ua)
                cur.f32_gemm_ua(std::min(mr, mc - ir), w, kc, A.src + (ic + ir) * A.ld + pc, A.ld,
                                bp + (jr / nr) * kc * nr, C + (ic + ir) * ldc + jc + jr, ldc, args);
              else
                uk.fn(std::min(mr, mc - ir), w, kc, ap + (ir / mr) * kc * mr, bp + (jr / nr) * kc * nr,
                      C + (ic + ir) * ldc + jc + jr, ldc, args);
            }
          }
        }
        if (pc + kc >= K) break;
      }
    }
  };

  // Split the output into ranges of whole panels along N (preferred: each thread packs only its own B
  // columns) or along M when N has too few panels to share evenly.
  const size_t np_m = pad_m / mr, np_n = pad_n / nr;
  // Whole panels per thread: the direction whose last round leaves fewer threads idle wins (5 panels of N on
  // 2 threads idle one for a fifth of the time; 224 of M do not), N on near ties.
  auto idle = [&](size_t panels) { return double(round_up(panels, size_t(threads))) / double(panels); };
  const bool split_n = np_n >= np_m || (np_n >= size_t(2 * threads) && idle(np_n) <= idle(np_m) * 1.05);
  const size_t panels = split_n ? np_n : np_m;
  const double flops_per_panel = 2.0 * double(split_n ? M * nr : N * mr) * double(std::max<size_t>(K, 1));
  const size_t grain = std::max<size_t>(1, size_t(kMinTaskFlops / flops_per_panel));
  auto body = [&](size_t p0, size_t p1, int thread) {
    if (split_n)
      block(0, M, p0 * nr, std::min(N, p1 * nr), thread);
    else
      block(p0 * mr, std::min(M, p1 * mr), 0, N, thread);
  };
  if (threads > 1 && panels >= 2 * grain)
    pool->parallel_for(panels, grain, body);
  else
    body(0, panels, 0);
}

}  // namespace

void detail::Panels::Free::operator()(float* p) const { std::free(p); }

PackedA pack_a(const kernels::Table& kt, const float* a, size_t lda, bool trans, size_t M, size_t K) {
  PackedA r;
  r.p_ = pack_panels(a, lda, /*k_major=*/trans, M, K, kt.f32_gemm_mr);
  return r;
}

PackedB pack_b(const kernels::Table& kt, const float* b, size_t ldb, bool trans, size_t K, size_t N) {
  PackedB r;
  r.p_ = pack_panels(b, ldb, /*k_major=*/!trans, N, K, kt.f32_gemm_nr);
  return r;
}

size_t packed_b_bytes(const kernels::Table& kt, size_t K, size_t N) { return panels_bytes(N, K, kt.f32_gemm_nr); }

std::unique_ptr<PackedA> view_a(const kernels::Table& kt, const void* bytes, size_t size, size_t M, size_t K) {
  auto r = std::make_unique<PackedA>();
  return view_panels(r->p_, bytes, size, M, K, kt.f32_gemm_mr) ? std::move(r) : nullptr;
}

std::unique_ptr<PackedB> view_b(const kernels::Table& kt, const void* bytes, size_t size, size_t K, size_t N) {
  auto r = std::make_unique<PackedB>();
  return view_panels(r->p_, bytes, size, N, K, kt.f32_gemm_nr) ? std::move(r) : nullptr;
}

std::string panels_layout(size_t tile) { return "f32-panels." + std::to_string(tile) + "x" + std::to_string(kKC); }
size_t PackedA::size() const { return panels_bytes(p_.outer, p_.depth, p_.tile); }
size_t PackedB::size() const { return panels_bytes(p_.outer, p_.depth, p_.tile); }


void gemm_packed_a(const kernels::Table& kt, const PackedA& A, const float* B, size_t ldb, size_t N, float* C, size_t ldc, const Epilogue& ep,
                   ThreadPool* pool, void* workspace) {
  Operand a, b;
  a.packed = &A.panels();
  b.src = B;
  b.ld = ldb;
  b.k_major = true;
  run(kt, a, b, A.rows(), N, A.depth(), C, ldc, ep, pool, workspace);
}

void gemm_packed_b(const kernels::Table& kt, const float* A, size_t lda, size_t M, const PackedB& B, float* C, size_t ldc, const Epilogue& ep,
                   ThreadPool* pool, void* workspace) {
  Operand a, b;
  a.src = A;
  a.ld = lda;
  a.k_major = false;
  b.packed = &B.panels();
  run(kt, a, b, M, B.cols(), B.depth(), C, ldc, ep, pool, workspace);
}

void gemm(const kernels::Table& kt, const float* A, size_t lda, bool transA, const float* B, size_t ldb, bool transB, size_t M, size_t N,
          size_t K, float* C, size_t ldc, const Epilogue& ep, ThreadPool* pool, void* workspace) {
  Operand a, b;
  a.src = A;
  a.ld = lda;
  a.k_major = transA;
  b.src = B;
  b.ld = ldb;
  b.k_major = !transB;
  run(kt, a, b, M, N, K, C, ldc, ep, pool, workspace);
}

size_t workspace_size(size_t M, size_t N, size_t K, int threads, Prepacked prepacked) {
  if (M == 0 || N == 0) return 0;
  const WsLayout w = ws_layout(M, N, K, prepacked != Prepacked::kA, prepacked != Prepacked::kB);
  if (w.per_thread == 0) return 0;
  return 64 + size_t(std::max(threads, 1)) * w.per_thread * sizeof(float);
}

Blocking blocking(const kernels::Table& kt) { return {mc_for(kt.f32_gemm_mr), kKC, nc_block(kt.f32_gemm_nr)}; }

}  // namespace pyrt::gemm
