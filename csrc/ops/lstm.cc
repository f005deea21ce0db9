// LSTM (ONNX semantics; PyTorch nn.LSTM exports to it): gates i, o, f, c; sigmoid/tanh/tanh; forward,
// reverse or bidirectional; batch-first via layout=1; initial h/c as inputs; outputs Y, Y_h, Y_c.
#include <cmath>
#include <cstring>

#include "ops/rnn.h"

namespace pyrt::ops {
namespace {

inline float sigm(float x) { return 1.f / (1.f + std::exp(-x)); }

class Lstm final : public Op {
 public:
  explicit Lstm(const NodeContext& ctx) : c_(parse_rnn(ctx, 4)) {
    if (ctx.attr_int("input_forget", 0)) ctx.fail("input_forget is not supported");
  }
  bool plan_input(size_t i) const override { return c_.plan && i >= 1 && i <= 3; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    rnn_infer(*this, c_, in, out, &s_, &b_);
  }
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t G = size_t(4 * c_.hidden), rows = size_t(s_ * b_);
    return align64(rows * G * 4) + align64(size_t(b_) * G * 4) + 2 * align64(size_t(b_ * c_.hidden) * 4) +
           std::max(gemm::workspace_size(rows, G, size_t(c_.input), threads, gemm::Prepacked::kB),
                    gemm::workspace_size(size_t(b_), G, size_t(c_.hidden), threads, gemm::Prepacked::kB));
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const int64_t H = c_.hidden, S = s_, B = b_, G = 4 * H;
    const float* x = static_cast<const float*>(in[0]);
    const float* h0 = in.size() > 5 ? static_cast<const float*>(in[5]) : nullptr;
    const float* c0 = in.size() > 6 ? static_cast<const float*>(in[6]) : nullptr;
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    float* xw = reinterpret_cast<float*>(ws);
    float* gates = reinterpret_cast<float*>(ws += align64(size_t(S * B * G) * 4));
    float* h = reinterpret_cast<float*>(ws += align64(size_t(B * G) * 4));
    float* cell = reinterpret_cast<float*>(ws += align64(size_t(B * H) * 4));
    void* gws = ws + align64(size_t(B * H) * 4);
    float* y = out.size() > 0 ? static_cast<float*>(out[0]) : nullptr;
    for (int64_t d = 0; d < c_.dirs; ++d) {
      const float* wb = c_.B.data() + d * 2 * G;
      const float* rb = wb + G;
      // all time steps' input projections at once: [rows in X's memory order, 4H]
      gemm::gemm_packed_b(*c_.kt, x, size_t(c_.input), size_t(S * B), *c_.w_packed[size_t(d)], xw, size_t(G), gemm::Epilogue{},
                          ctx.pool, gws);
      for (int64_t b = 0; b < B; ++b) {
        const size_t si = state_index(c_, d, b, B);
        for (int64_t k = 0; k < H; ++k) {
          h[b * H + k] = h0 ? h0[si + size_t(k)] : 0.f;
          cell[b * H + k] = c0 ? c0[si + size_t(k)] : 0.f;
        }
      }
      const bool rev = c_.reverse || d == 1;
      for (int64_t step = 0; step < S; ++step) {
        const int64_t t = rev ? S - 1 - step : step;
        gemm::gemm_packed_b(*c_.kt, h, size_t(H), size_t(B), *c_.r_packed[size_t(d)], gates, size_t(G), gemm::Epilogue{},
                            ctx.pool, gws);
        for (int64_t b = 0; b < B; ++b) {
          const float* xr = xw + seq_row(c_, t, b, S, B) * size_t(G);
          float* g = gates + b * G;
          for (int64_t k = 0; k < H; ++k) {
            const float gi = sigm(g[k] + xr[k] + wb[k] + rb[k]);
            const float go = sigm(g[H + k] + xr[H + k] + wb[H + k] + rb[H + k]);
            const float gf = sigm(g[2 * H + k] + xr[2 * H + k] + wb[2 * H + k] + rb[2 * H + k]);
            const float gc = std::tanh(g[3 * H + k] + xr[3 * H + k] + wb[3 * H + k] + rb[3 * H + k]);
            const float cn = gf * cell[b * H + k] + gi * gc;
            cell[b * H + k] = cn;
            h[b * H + k] = go * std::tanh(cn);
          }
          if (y) std::memcpy(y + y_index(c_, t, d, b, S, B), h + b * H, size_t(H) * 4);
        }
      }
      for (int64_t b = 0; b < B; ++b) {
        const size_t si = state_index(c_, d, b, B);
        if (out.size() > 1 && out[1]) std::memcpy(static_cast<float*>(out[1]) + si, h + b * H, size_t(H) * 4);
        if (out.size() > 2 && out[2]) std::memcpy(static_cast<float*>(out[2]) + si, cell + b * H, size_t(H) * 4);
      }
    }
  }
  std::string kernel() const override { return "lstm-gemm"; }

 private:
  RnnConfig c_;
  int64_t s_ = 0, b_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_lstm(const NodeContext& ctx) { return std::make_unique<Lstm>(ctx); }

}  // namespace pyrt::ops
