// What the 3-D (NCDHW) Conv, ConvTranspose and pooling share: their window attributes read and range-checked
// once, and the output size of a strided, dilated, padded window along one dimension.
#pragma once
#include <string>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {

struct Window3 {
  std::vector<int64_t> k, s, d, p;  // kernel (3), strides (3), dilations (3), pads (begin d h w, end d h w)
};

// kernel: the weight's spatial dims (Conv, ConvTranspose), or empty to take kernel_shape (pooling), which must
// then be there. auto_pad other than NOTSET is refused (explicit pads only, as the 2-D ConvTranspose and
// pooling do); `layout` other than NCHW too (the channels-last pass only rewrites 2-D ops).
inline Window3 window3(const NodeContext& ctx, const std::vector<int64_t>& kernel) {
  Window3 w;
  const std::vector<int64_t> ks = ctx.attr_ints("kernel_shape", kernel);
  if (ks.size() != 3) ctx.fail("kernel_shape must have 3 values for 3-D, got " + std::to_string(ks.size()));
  if (!kernel.empty() && ks != kernel) ctx.fail("kernel_shape does not match the weight's spatial dimensions");
  w.k = ks;
  w.s = ctx.attr_ints("strides", {1, 1, 1});
  w.d = ctx.attr_ints("dilations", {1, 1, 1});
  w.p = ctx.attr_ints("pads", {0, 0, 0, 0, 0, 0});
  if (w.s.size() != 3 || w.d.size() != 3 || w.p.size() != 6)
    ctx.fail("strides/dilations/pads must have 3/3/6 values for 3-D, got " + std::to_string(w.s.size()) + "/" +
             std::to_string(w.d.size()) + "/" + std::to_string(w.p.size()));
  for (int i = 0; i < 3; ++i)
    if (w.k[i] < 1 || w.k[i] > kMaxWindow || w.s[i] < 1 || w.s[i] > kMaxWindow || w.d[i] < 1 || w.d[i] > kMaxWindow)
      ctx.fail("kernel sizes, strides and dilations must be in [1, 2^20]");
  for (int64_t v : w.p)
    if (v < 0 || v > kMaxWindow) ctx.fail("pads must be in [0, 2^20], got " + std::to_string(v));
  const std::string ap = ctx.attr_string("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID") ctx.fail("auto_pad '" + ap + "' is not supported in 3-D; use explicit pads");
  if (ap == "VALID") w.p.assign(6, 0);
  const std::string layout = ctx.attr_string("layout", "NCHW");
  if (layout != "NCHW") ctx.fail("3-D ops run channels-first only, got layout '" + layout + "'");
  return w;
}

// Output size along one dimension of `in` values (pads pa, pb), or -1 when the window does not fit.
// ceil: pooling's ceil_mode (the last window must start inside the input or the begin pad).
inline int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb, bool ceil = false) {
  const int64_t span = in + pa + pb - ((k - 1) * d + 1);
  if (span < 0) return -1;
  int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (o - 1) * s >= in + pa) --o;
  return o;
}

}  // namespace pyrt::ops
