// GRU (ONNX semantics; PyTorch nn.GRU exports with linear_before_reset=1): gates z, r, h; forward, reverse or
// bidirectional; batch-first via layout=1; initial h as input; outputs Y, Y_h.
#include <cmath>
#include <cstring>

#include "ops/rnn.h"

namespace pyrt::ops {
namespace {

inline float sigm(float x) { return 1.f / (1.f + std::exp(-x)); }

class Gru final : public Op {
 public:
  explicit Gru(const NodeContext& ctx) : c_(parse_rnn(ctx, 3)) {
    lbr_ = ctx.attr_int("linear_before_reset", 0) != 0;
  }
  bool plan_input(size_t i) const override { return c_.plan && i >= 1 && i <= 3; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    rnn_infer(*this, c_, in, out, &s_, &b_);
  }
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t G = size_t(3 * c_.hidden), rows = size_t(s_ * b_);
    return align64(rows * G * 4) + align64(size_t(b_) * G * 4) + 2 * align64(size_t(b_ * c_.hidden) * 4) +
           std::max(gemm::workspace_size(rows, G, size_t(c_.input), threads, gemm::Prepacked::kB),
                    gemm::workspace_size(size_t(b_), G, size_t(c_.hidden), threads));
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const int64_t H = c_.hidden, S = s_, B = b_, G = 3 * H;
    const float* x = static_cast<const float*>(in[0]);
    const float* h0 = in.size() > 5 ? static_cast<const float*>(in[5]) : nullptr;
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    float* xw = reinterpret_cast<float*>(ws);
    float* hr = reinterpret_cast<float*>(ws += align64(size_t(S * B * G) * 4));
    float* h = reinterpret_cast<float*>(ws += align64(size_t(B * G) * 4));
    float* rh = reinterpret_cast<float*>(ws += align64(size_t(B * H) * 4));
    void* gws = ws + align64(size_t(B * H) * 4);
    float* y = out.size() > 0 ? static_cast<float*>(out[0]) : nullptr;
    for (int64_t d = 0; d < c_.dirs; ++d) {
      const float* wb = c_.B.data() + d * 2 * G;
      const float* rb = wb + G;
      const float* Rd = c_.R + d * G * H;
      gemm::gemm_packed_b(*c_.kt, x, size_t(c_.input), size_t(S * B), *c_.w_packed[size_t(d)], xw, size_t(G), gemm::Epilogue{},
                          ctx.pool, gws);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < H; ++k) h[b * H + k] = h0 ? h0[state_index(c_, d, b, B) + size_t(k)] : 0.f;
      const bool rev = c_.reverse || d == 1;
      for (int64_t step = 0; step < S; ++step) {
        const int64_t t = rev ? S - 1 - step : step;
        // hr = h . R^T (z, r and, with linear_before_reset, h parts)
        gemm::gemm_packed_b(*c_.kt, h, size_t(H), size_t(B), *c_.r_packed[size_t(d)], hr, size_t(G), gemm::Epilogue{},
                            ctx.pool, gws);
        for (int64_t b = 0; b < B; ++b) {
          const float* xr = xw + seq_row(c_, t, b, S, B) * size_t(G);
          float* g = hr + b * G;
          for (int64_t k = 0; k < H; ++k) {
            g[k] = sigm(g[k] + xr[k] + wb[k] + rb[k]);                  // z
            g[H + k] = sigm(g[H + k] + xr[H + k] + wb[H + k] + rb[H + k]);  // r
            rh[b * H + k] = g[H + k] * h[b * H + k];
          }
        }
        if (!lbr_)  // h part recomputed from (r * h): hr[:, 2H:] = (r*h) . Rh^T
          gemm::gemm(*c_.kt, rh, size_t(H), false, Rd + 2 * H * H, size_t(H), true, size_t(B), size_t(H), size_t(H), hr + 2 * H,
                     size_t(G), gemm::Epilogue{}, ctx.pool, gws);
        for (int64_t b = 0; b < B; ++b) {
          const float* xr = xw + seq_row(c_, t, b, S, B) * size_t(G);
          const float* g = hr + b * G;
          for (int64_t k = 0; k < H; ++k) {
            const float r = g[H + k], z = g[k];
            const float ht = lbr_ ? std::tanh(xr[2 * H + k] + wb[2 * H + k] + r * (g[2 * H + k] + rb[2 * H + k]))
                                  : std::tanh(xr[2 * H + k] + wb[2 * H + k] + g[2 * H + k] + rb[2 * H + k]);
            h[b * H + k] = (1.f - z) * ht + z * h[b * H + k];
          }
          if (y) std::memcpy(y + y_index(c_, t, d, b, S, B), h + b * H, size_t(H) * 4);
        }
      }
      if (out.size() > 1 && out[1])
        for (int64_t b = 0; b < B; ++b)
          std::memcpy(static_cast<float*>(out[1]) + state_index(c_, d, b, B), h + b * H, size_t(H) * 4);
    }
  }
  std::string kernel() const override { return "gru-gemm"; }

 private:
  RnnConfig c_;
  bool lbr_ = false;
  int64_t s_ = 0, b_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_gru(const NodeContext& ctx) { return std::make_unique<Gru>(ctx); }

}  // namespace pyrt::ops
