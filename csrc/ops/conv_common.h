// What Conv and QLinearConv share: the attributes (strides, dilations, pads, auto_pad), the output geometry
// and the channels-last im2col (f32 or u8).
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ops/common.h"

namespace pyrt::ops {

struct ConvAttrs {
  std::vector<int64_t> strides, dil, pads;
  std::string auto_pad;
};

inline ConvAttrs conv_attrs(const NodeContext& ctx, int64_t kh, int64_t kw) {
  ConvAttrs a;
  const auto ks = ctx.attr_ints("kernel_shape", {kh, kw});
  if (ks.size() != 2 || ks[0] != kh || ks[1] != kw) ctx.fail("kernel_shape does not match the weight");
  a.strides = ctx.attr_ints("strides", {1, 1});
  a.dil = ctx.attr_ints("dilations", {1, 1});
  a.pads = ctx.attr_ints("pads", {0, 0, 0, 0});
  a.auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  if (a.strides.size() != 2 || a.dil.size() != 2 || a.pads.size() != 4) ctx.fail("strides/dilations/pads must have 2/2/4 values");
  for (int64_t v : {a.strides[0], a.strides[1], a.dil[0], a.dil[1]})
    if (v < 1 || v > kMaxWindow) ctx.fail("strides and dilations must be in [1, 2^20]");
  for (int64_t p : a.pads)
    if (p < 0 || p > kMaxWindow) ctx.fail("pads must be in [0, 2^20]");
  if (a.auto_pad != "NOTSET" && a.auto_pad != "SAME_UPPER" && a.auto_pad != "SAME_LOWER" && a.auto_pad != "VALID")
    ctx.fail("unknown auto_pad '" + a.auto_pad + "'");
  return a;
}

struct ConvOut {
  int64_t pt, pl, pb, pr, oh, ow;
};

// Padding and output size for an h x w input (x: the input shape, for the message).
inline ConvOut conv_output(const Op& op, const ConvAttrs& a, int64_t h, int64_t w, int64_t kh, int64_t kw,
                           const Shape& x) {
  ConvOut o{a.pads[0], a.pads[1], a.pads[2], a.pads[3], 0, 0};
  const int64_t ekh = (kh - 1) * a.dil[0] + 1, ekw = (kw - 1) * a.dil[1] + 1;
  if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") {
    const int64_t oh = (h + a.strides[0] - 1) / a.strides[0], ow = (w + a.strides[1] - 1) / a.strides[1];
    const int64_t ph = std::max<int64_t>(0, (oh - 1) * a.strides[0] + ekh - h);
    const int64_t pw = std::max<int64_t>(0, (ow - 1) * a.strides[1] + ekw - w);
    const bool upper = a.auto_pad == "SAME_UPPER";
    o.pt = upper ? ph / 2 : ph - ph / 2, o.pb = ph - o.pt;
    o.pl = upper ? pw / 2 : pw - pw / 2, o.pr = pw - o.pl;
  } else if (a.auto_pad == "VALID") {
    o.pt = o.pl = o.pb = o.pr = 0;
  }
  if (h + o.pt + o.pb < ekh || w + o.pl + o.pr < ekw)
    op.fail("kernel " + std::to_string(ekh) + "x" + std::to_string(ekw) + " is larger than the padded input " +
            shape_str(x));
  o.oh = (h + o.pt + o.pb - ekh) / a.strides[0] + 1;
  o.ow = (w + o.pl + o.pr - ekw) / a.strides[1] + 1;
  return o;
}

// n elements in fixed-size pieces (the last one overlapping the one before): the pieces compile to plain
// vector moves, where a memcpy call or a loop with a runtime count costs more than the 9 or 21 values it moves
// (im2col of an RGB stem: 3x3 taps of 3 channels are runs of 9).
template <typename T>
inline void copy_run(T* d, const T* s, int64_t n) {
  constexpr int64_t kBig = 32 / sizeof(T), kSmall = 16 / sizeof(T), kTiny = 8 / sizeof(T);
  if (n >= kBig) {
    for (int64_t t = 0; t + kBig <= n; t += kBig) std::memcpy(d + t, s + t, 32);
    if (n % kBig) std::memcpy(d + n - kBig, s + n - kBig, 32);
  } else if (n >= kSmall) {
    std::memcpy(d, s, 16);
    std::memcpy(d + n - kSmall, s + n - kSmall, 16);
  } else if (kTiny > 2 && n >= kTiny) {  // u8 runs of 8-15 (an RGB stem's 9 bytes)
    std::memcpy(d, s, 8);
    std::memcpy(d + n - kTiny, s + n - kTiny, 8);
  } else {
    for (int64_t t = 0; t < n; ++t) d[t] = s[t];
  }
}

struct Im2colNhwc {
  int64_t cin, kh, kw, h, w, ow, sh, sw, dh, dw, pt, pl;
};

// col[r][(i*kw + j)*Cin + c] = x[oh*sh - pt + i*dh][ow*sw - pl + j*dw][c] (`pad` outside; row stride ldcol) for
// output pixels [p0, p0 + pn) of one image, r = pixel - p0. With dilation 1 the kw taps of a row are one
// contiguous run of kw*Cin values. (oh, ow) advance by increment: a division per pixel cost as much as the
// copies for an RGB stem.
// Columns [K, ldcol) of each row (alignment padding) are set to `pad` too.
template <typename T>
void im2col_nhwc(const RunContext& ctx, const Im2colNhwc& g, const T* x, size_t p0, size_t pn, T* col, size_t ldcol,
                 T pad) {
  // locals, so that the compiler keeps them in registers across the copies
  const int64_t cin = g.cin, kh = g.kh, kw = g.kw, run = kw * cin, H = g.h, W = g.w, OW = g.ow;
  const int64_t sh = g.sh, sw = g.sw, dh = g.dh, dw = g.dw, pt = g.pt, pl = g.pl, ld = int64_t(ldcol);
  parallel(ctx, pn, 16, [=](size_t b, size_t e, int) {
    int64_t oh = int64_t(p0 + b) / OW, ow = int64_t(p0 + b) % OW;
    for (size_t r = b; r < e; ++r) {
      const int64_t iw0 = ow * sw - pl;
      const bool whole_row = dw == 1 && iw0 >= 0 && iw0 + kw <= W;
      T* d = col + int64_t(r) * ld;
      for (int64_t i = 0; i < kh; ++i, d += run) {
        const int64_t ih = oh * sh - pt + i * dh;
        if (ih < 0 || ih >= H) {
          std::fill(d, d + run, pad);
        } else if (whole_row) {
          copy_run(d, x + (ih * W + iw0) * cin, run);
        } else {
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t iw = iw0 + j * dw;
            T* dj = d + j * cin;
            if (iw < 0 || iw >= W) std::fill(dj, dj + cin, pad);
            else std::copy(x + (ih * W + iw) * cin, x + (ih * W + iw + 1) * cin, dj);
          }
        }
      }
      for (T* e = col + int64_t(r) * ld + kh * run; e < col + int64_t(r + 1) * ld; ++e) *e = pad;
      if (++ow == OW) ow = 0, ++oh;
    }
  });
}

// Splits a channels-last depthwise convolution over threads. Work items are (image, output row, block of 64
// channels), so that 7x7 maps with many channels still split evenly; a chunk's whole rows go to one call.
// fn(image, cb, ce, oh0, oh1) computes channels [cb, ce) of output rows [oh0, oh1) of that image.
template <typename F>
void parallel_dw_rows(const RunContext& ctx, int64_t images, int64_t oh, int64_t channels, F&& fn) {
  const size_t CB = 64, nb = (size_t(channels) + CB - 1) / CB, OH = size_t(oh), per_img = OH * nb;
  parallel(ctx, size_t(images) * per_img, 1, [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e;) {
      const size_t n = i / per_img, r = (i % per_img) / nb, blk = i % nb;
      int64_t cb = 0, ce = channels;
      size_t rows = 1, items;
      if (blk == 0 && i + nb <= e) {  // whole rows
        rows = std::min((e - i) / nb, OH - r);
        items = rows * nb;
      } else {                         // part of one row
        const size_t end = std::min(nb, blk + (e - i));
        cb = int64_t(blk * CB), ce = std::min<int64_t>(channels, int64_t(end * CB));
        items = end - blk;
      }
      fn(n, cb, ce, int64_t(r), int64_t(r + rows));
      i += items;
    }
  });
}

}  // namespace pyrt::ops
