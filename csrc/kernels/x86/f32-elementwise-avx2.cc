// AVX2+FMA elementwise kernels: activations (exp-based ones through a degree-6 polynomial, ~2 ulp) and binary
// arithmetic. Functions without a vector form here (GELU's erf, sqrt of negatives' NaN rules, pow) use the
// scalar reference, so every activation is always available.
#include <immintrin.h>

#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"
#include "kernels/x86/x86.h"

namespace pyrt::kernels::x86 {
namespace {

// exp(x): x = n ln2 + r, |r| <= ln2/2, exp(r) by a Taylor/minimax polynomial. x is clamped to [-104, 89]
// (beyond, exp rounds to 0 / inf in f32) and 2^n applied as 2^h 2^(n-h), h = floor(n/2), both normal for
// n in [-150, 128]: results round once into the subnormal range, and overflow to inf past ln(FLT_MAX).
inline __m256 exp256(__m256 x) {
  // MAXPS/MINPS return the 2nd operand when one is NaN: x goes 2nd so that NaN propagates (as std::exp).
  x = _mm256_min_ps(_mm256_set1_ps(89.f), _mm256_max_ps(_mm256_set1_ps(-104.f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two for accuracy
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i ni = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(ni, 1), bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

inline __m256 sigmoid256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

template <typename F>
void map(const float* x, float* y, size_t n, F f, const ActParams& a) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  ref::unary(a, x + i, y + i, n - i);
}

}  // namespace

void unary_avx2(const ActParams& a, const float* x, float* y, size_t n) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  const __m256 p0 = _mm256_set1_ps(a.p0), p1 = _mm256_set1_ps(a.p1);
  switch (a.act) {
    case Act::kNone:
      if (x != y) map(x, y, n, [](__m256 v) { return v; }, a);
      return;
    case Act::kRelu: return map(x, y, n, [&](__m256 v) { return _mm256_max_ps(v, zero); }, a);
    case Act::kClip: return map(x, y, n, [&](__m256 v) { return _mm256_min_ps(_mm256_max_ps(v, p0), p1); }, a);
    case Act::kLeakyRelu:
      return map(x, y, n, [&](__m256 v) {
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, p0), _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
      }, a);
    case Act::kSigmoid: return map(x, y, n, [](__m256 v) { return sigmoid256(v); }, a);
    case Act::kSilu: return map(x, y, n, [](__m256 v) { return _mm256_mul_ps(v, sigmoid256(v)); }, a);
    case Act::kTanh:
      // tanh(x) = 2 sigmoid(2x) - 1; for |x| < 2^-4 use x - x^3/3 (the subtraction would lose digits)
      return map(x, y, n, [&](__m256 v) {
        const __m256 t = _mm256_fmsub_ps(_mm256_set1_ps(2.f), sigmoid256(_mm256_add_ps(v, v)), one);
        const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        const __m256 small = _mm256_fnmadd_ps(v3, _mm256_set1_ps(1.f / 3.f), v);
        const __m256 absv = _mm256_andnot_ps(_mm256_set1_ps(-0.f), v);
        return _mm256_blendv_ps(t, small, _mm256_cmp_ps(absv, _mm256_set1_ps(0.0625f), _CMP_LT_OQ));
      }, a);
    case Act::kHardSigmoid:
      return map(x, y, n, [&](__m256 v) {
        return _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(v, p0, p1), zero), one);
      }, a);
    case Act::kHardSwish:
      return map(x, y, n, [&](__m256 v) {
        const __m256 g = _mm256_fmadd_ps(v, _mm256_set1_ps(1.f / 6.f), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(v, _mm256_min_ps(_mm256_max_ps(g, zero), one));
      }, a);
    case Act::kGeluTanh:  // x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): as the reference
      return map(x, y, n, [](__m256 v) {
        // the reference's roundings, FMA included: exp magnifies any difference in u
        const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                                       _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
        return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.f), exp256(_mm256_mul_ps(u, _mm256_set1_ps(-2.f)))));
      }, a);
    case Act::kExp: return map(x, y, n, [](__m256 v) { return exp256(v); }, a);
    case Act::kNeg: return map(x, y, n, [](__m256 v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.f)); }, a);
    case Act::kAbs: return map(x, y, n, [](__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }, a);
    default: return ref::unary(a, x, y, n);
  }
}

void binary_avx2(int op, const float* a, size_t as, const float* b, size_t bs, float* y, size_t n) {
  if (op == kPow || op > kMin || (as != 0 && as != 1) || (bs != 0 && bs != 1)) return ref::binary(op, a, as, b, bs, y, n);
  size_t i = 0;
  auto ld = [](const float* p, size_t step, size_t i) { return step ? _mm256_loadu_ps(p + i) : _mm256_set1_ps(*p); };
  for (; i + 8 <= n; i += 8) {
    const __m256 va = ld(a, as, i), vb = ld(b, bs, i);
    __m256 r;
    switch (op) {
      case kAdd: r = _mm256_add_ps(va, vb); break;
      case kSub: r = _mm256_sub_ps(va, vb); break;
      case kMul: r = _mm256_mul_ps(va, vb); break;
      case kDiv: r = _mm256_div_ps(va, vb); break;
      case kMax: r = _mm256_max_ps(va, vb); break;
      default: r = _mm256_min_ps(va, vb); break;
    }
    // fmax/fmin return the number when one operand is NaN; MAXPS/MINPS return vb, which is right when va
    // is NaN, so only a NaN in vb needs fixing.
    if (op >= kMax) r = _mm256_blendv_ps(r, va, _mm256_cmp_ps(vb, vb, _CMP_UNORD_Q));
    _mm256_storeu_ps(y + i, r);
  }
  ref::binary(op, a + i * as, as, b + i * bs, bs, y + i, n - i);
}

}  // namespace pyrt::kernels::x86
