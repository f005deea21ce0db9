// RNN (ONNX semantics; PyTorch nn.RNN with tanh exports to it): H_t = tanh(X_t W^T + H_{t-1} R^T + Wb + Rb);
// forward, reverse or bidirectional; batch-first via layout=1; initial h as input; outputs Y, Y_h.
#include <cmath>
#include <cstring>

#include "ops/rnn.h"

namespace pyrt::ops {
namespace {

class Rnn final : public Op {
 public:
  explicit Rnn(const NodeContext& ctx) : c_(parse_rnn(ctx, 1)) {}
  bool plan_input(size_t i) const override { return c_.plan && i >= 1 && i <= 3; }
  void infer(const std::vector<TensorDesc>& in, std::vector<TensorDesc>& out) override {
    rnn_infer(*this, c_, in, out, &s_, &b_);
  }
  size_t workspace_bytes(const std::vector<TensorDesc>&, const std::vector<TensorDesc>&, int threads) const override {
    const size_t H = size_t(c_.hidden), rows = size_t(s_ * b_);
    return align64(rows * H * 4) + 2 * align64(size_t(b_) * H * 4) +
           std::max(gemm::workspace_size(rows, H, size_t(c_.input), threads, gemm::Prepacked::kB),
                    gemm::workspace_size(size_t(b_), H, H, threads, gemm::Prepacked::kB));
  }
  void run(const RunContext& ctx, const std::vector<const void*>& in, const std::vector<void*>& out) override {
    const int64_t H = c_.hidden, S = s_, B = b_;
    const float* x = static_cast<const float*>(in[0]);
    const float* h0 = in.size() > 5 ? static_cast<const float*>(in[5]) : nullptr;
    uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
    float* xw = reinterpret_cast<float*>(ws);
    float* g = reinterpret_cast<float*>(ws += align64(size_t(S * B * H) * 4));
    float* h = reinterpret_cast<float*>(ws += align64(size_t(B * H) * 4));
    void* gws = ws + align64(size_t(B * H) * 4);
    float* y = out.size() > 0 ? static_cast<float*>(out[0]) : nullptr;
    for (int64_t d = 0; d < c_.dirs; ++d) {
      const float* wb = c_.B.data() + d * 2 * H;
      const float* rb = wb + H;
      // all time steps' input projections at once
      gemm::gemm_packed_b(*c_.kt, x, size_t(c_.input), size_t(S * B), *c_.w_packed[size_t(d)], xw, size_t(H),
                          gemm::Epilogue{}, ctx.pool, gws);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < H; ++k) h[b * H + k] = h0 ? h0[state_index(c_, d, b, B) + size_t(k)] : 0.f;
      const bool rev = c_.reverse || d == 1;
      for (int64_t step = 0; step < S; ++step) {
        const int64_t t = rev ? S - 1 - step : step;
        gemm::gemm_packed_b(*c_.kt, h, size_t(H), size_t(B), *c_.r_packed[size_t(d)], g, size_t(H), gemm::Epilogue{},
                            ctx.pool, gws);
        for (int64_t b = 0; b < B; ++b) {
          const float* xr = xw + seq_row(c_, t, b, S, B) * size_t(H);
          for (int64_t k = 0; k < H; ++k) h[b * H + k] = std::tanh(g[b * H + k] + xr[k] + wb[k] + rb[k]);
          if (y) std::memcpy(y + y_index(c_, t, d, b, S, B), h + b * H, size_t(H) * 4);
        }
      }
      if (out.size() > 1 && out[1])
        for (int64_t b = 0; b < B; ++b)
          std::memcpy(static_cast<float*>(out[1]) + state_index(c_, d, b, B), h + b * H, size_t(H) * 4);
    }
  }
  std::string kernel() const override { return "rnn-gemm"; }

 private:
  RnnConfig c_;
  int64_t s_ = 0, b_ = 0;
};

}  // namespace

std::unique_ptr<Op> make_rnn(const NodeContext& ctx) { return std::make_unique<Rnn>(ctx); }

}  // namespace pyrt::ops
