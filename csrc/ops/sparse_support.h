// Which layers run on a sparse kernel when their weight is stored csr: one decision, read by the ops (conv.cc,
// gemm.cc, qlinear_conv.cc, qgemm.cc) and by the exporter (pyruntime._core.sparse_kernel, exporters/sparsity.py),
// so that sparse="auto" stores csr exactly the weights a sparse kernel will read.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pyrt::ops {

// The sparse kernel's kind, named as the cost model names it (exporters/sparse_costs.py, bench/sparse.py), or
// nullptr: a csr weight is decoded at load and the layer runs dense.
//   Conv, group 1, channels-first (the exporter's layout pass keeps these NCHW): 1x1 with stride 1 and no
//     padding: "conv1x1" (the input planes read in place); else stride 1 and no dilation: "convkxk"
//   Gemm with transB 1, transA 0, alpha 1 (a Linear layer, W [N, K]): "linear" (for up to 16 rows)
//   QLinearConv, group 1 (a single 1-in 1-out channel runs depthwise): "qconv"; QGemm: "qlinear"
// w: the weight's shape; attrs: anything with NodeContext's attr_int / attr_float / attr_ints / attr_string.
template <class Attrs>
const char* sparse_kernel(const std::string& op, const Shape& w, const Attrs& attrs) {
  using V = std::vector<int64_t>;
  if (op == "Conv") {
    if (w.size() != 4 || attrs.attr_int("group", 1) != 1 || attrs.attr_string("layout", "NCHW") != "NCHW")
      return nullptr;
    const bool stride1 = attrs.attr_ints("strides", V{1, 1}) == V{1, 1};
    const std::string auto_pad = attrs.attr_string("auto_pad", "NOTSET");
    if (w[2] == 1 && w[3] == 1 && stride1 && attrs.attr_ints("pads", V{0, 0, 0, 0}) == V{0, 0, 0, 0} &&
        (auto_pad == "NOTSET" || auto_pad == "VALID"))
      return "conv1x1";
    return stride1 && attrs.attr_ints("dilations", V{1, 1}) == V{1, 1} ? "convkxk" : nullptr;
  }
  if (op == "Gemm")
    return w.size() == 2 && attrs.attr_int("transB", 0) != 0 && attrs.attr_int("transA", 0) == 0 &&
                   attrs.attr_float("alpha", 1.f) == 1.f
               ? "linear"
               : nullptr;
  if (op == "QLinearConv")
    return w.size() == 4 && attrs.attr_int("group", 1) == 1 && !(w[0] == 1 && w[1] == 1) ? "qconv" : nullptr;
  if (op == "QGemm") return w.size() == 2 ? "qlinear" : nullptr;
  return nullptr;
}

}  // namespace pyrt::ops
