// The operator registry: one line per op type (ONNX names and semantics; Silu is ours).
#include <algorithm>
#include <cstring>

#include "core/op.h"

namespace pyrt {
namespace ops {
std::unique_ptr<Op> make_unary(const NodeContext&);
std::unique_ptr<Op> make_binary(const NodeContext&);
std::unique_ptr<Op> make_conv(const NodeContext&);
std::unique_ptr<Op> make_conv_transpose(const NodeContext&);
std::unique_ptr<Op> make_gemm(const NodeContext&);
std::unique_ptr<Op> make_matmul(const NodeContext&);
std::unique_ptr<Op> make_pool(const NodeContext&);
std::unique_ptr<Op> make_global_pool(const NodeContext&);
std::unique_ptr<Op> make_reshape(const NodeContext&);
std::unique_ptr<Op> make_transpose(const NodeContext&);
std::unique_ptr<Op> make_concat(const NodeContext&);
std::unique_ptr<Op> make_split(const NodeContext&);
std::unique_ptr<Op> make_slice(const NodeContext&);
std::unique_ptr<Op> make_pad(const NodeContext&);
std::unique_ptr<Op> make_resize(const NodeContext&);
std::unique_ptr<Op> make_batch_norm(const NodeContext&);
std::unique_ptr<Op> make_layer_norm(const NodeContext&);
std::unique_ptr<Op> make_softmax(const NodeContext&);
std::unique_ptr<Op> make_gather(const NodeContext&);
std::unique_ptr<Op> make_reduce(const NodeContext&);
std::unique_ptr<Op> make_lstm(const NodeContext&);
std::unique_ptr<Op> make_gru(const NodeContext&);
std::unique_ptr<Op> make_rnn(const NodeContext&);
std::unique_ptr<Op> make_lrn(const NodeContext&);
std::unique_ptr<Op> make_quantize_linear(const NodeContext&);
std::unique_ptr<Op> make_dequantize_linear(const NodeContext&);
std::unique_ptr<Op> make_qlinear_conv(const NodeContext&);
std::unique_ptr<Op> make_qlinear_add(const NodeContext&);
std::unique_ptr<Op> make_qlinear_global_average_pool(const NodeContext&);
std::unique_ptr<Op> make_qgemm(const NodeContext&);
std::unique_ptr<Op> make_lookup_table(const NodeContext&);
std::unique_ptr<Op> make_attention(const NodeContext&);
std::unique_ptr<Op> make_onnx_attention(const NodeContext&);
std::unique_ptr<Op> make_cast(const NodeContext&);
std::unique_ptr<Op> make_compare(const NodeContext&);
std::unique_ptr<Op> make_logical(const NodeContext&);
std::unique_ptr<Op> make_where(const NodeContext&);
std::unique_ptr<Op> make_depth_to_space(const NodeContext&);
std::unique_ptr<Op> make_arg_max(const NodeContext&);
std::unique_ptr<Op> make_sequence_select(const NodeContext&);
std::unique_ptr<Op> make_trilu(const NodeContext&);
std::unique_ptr<Op> make_string_normalizer(const NodeContext&);
std::unique_ptr<Op> make_string_concat(const NodeContext&);
std::unique_ptr<Op> make_cum_sum(const NodeContext&);
std::unique_ptr<Op> make_instance_norm(const NodeContext&);
std::unique_ptr<Op> make_mod(const NodeContext&);
std::unique_ptr<Op> make_expand(const NodeContext&);
std::unique_ptr<Op> make_tile(const NodeContext&);
std::unique_ptr<Op> make_gather_elements(const NodeContext&);
std::unique_ptr<Op> make_top_k(const NodeContext&);
std::unique_ptr<Op> make_one_hot(const NodeContext&);
std::unique_ptr<Op> make_shape(const NodeContext&);
std::unique_ptr<Op> make_scatter_elements(const NodeContext&);
std::unique_ptr<Op> make_gather_nd(const NodeContext&);
std::unique_ptr<Op> make_range(const NodeContext&);
std::unique_ptr<Op> make_constant_of_shape(const NodeContext&);
std::unique_ptr<Op> make_scatter_nd(const NodeContext&);
std::unique_ptr<Op> make_einsum(const NodeContext&);
std::unique_ptr<Op> make_group_norm(const NodeContext&);
std::unique_ptr<Op> make_conv3d(const NodeContext&);
std::unique_ptr<Op> make_conv_transpose3d(const NodeContext&);
std::unique_ptr<Op> make_pool3d(const NodeContext&);
std::unique_ptr<Op> make_bitwise(const NodeContext&);
std::unique_ptr<Op> make_bit_cast(const NodeContext&);
std::unique_ptr<Op> make_is_inf_nan(const NodeContext&);
std::unique_ptr<Op> make_cum_prod(const NodeContext&);
std::unique_ptr<Op> make_hardmax(const NodeContext&);
std::unique_ptr<Op> make_lp_normalization(const NodeContext&);
std::unique_ptr<Op> make_mean_variance_normalization(const NodeContext&);
std::unique_ptr<Op> make_eye_like(const NodeContext&);
std::unique_ptr<Op> make_reverse_sequence(const NodeContext&);
std::unique_ptr<Op> make_lp_pool(const NodeContext&);
std::unique_ptr<Op> make_rotary_embedding(const NodeContext&);
std::unique_ptr<Op> make_swiglu(const NodeContext&);
std::unique_ptr<Op> make_center_crop_pad(const NodeContext&);
std::unique_ptr<Op> make_col2im(const NodeContext&);
std::unique_ptr<Op> make_grid_sample(const NodeContext&);

std::unique_ptr<Op> make_conv_runtime_weight(const NodeContext& ctx);  // conv_dynamic.cc

// Conv, ConvTranspose, MaxPool and AveragePool: the 3-D (NCDHW) forms are their own ops, so that the 2-D ones
// keep their code paths untouched; a 5-D constant weight (or a 3-value kernel_shape for pooling) picks them.
// A weight or bias that is not a constant is routed when the plan is made, by conv_dynamic.cc.
std::unique_ptr<Op> make_conv_nd(const NodeContext& ctx) {
  if (ctx.has_input(1) && (!ctx.const_input(1) || (ctx.has_input(2) && !ctx.const_input(2))))
    return make_conv_runtime_weight(ctx);
  const ConstTensor* w = ctx.const_input(1);
  return w && w->desc.shape.size() == 5 ? make_conv3d(ctx) : make_conv(ctx);
}
std::unique_ptr<Op> make_conv_transpose_nd(const NodeContext& ctx) {
  if (ctx.has_input(1) && (!ctx.const_input(1) || (ctx.has_input(2) && !ctx.const_input(2))))
    return make_conv_runtime_weight(ctx);
  const ConstTensor* w = ctx.const_input(1);
  return w && w->desc.shape.size() == 5 ? make_conv_transpose3d(ctx) : make_conv_transpose(ctx);
}
std::unique_ptr<Op> make_pool_nd(const NodeContext& ctx) {
  return ctx.attr_ints("kernel_shape").size() == 3 ? make_pool3d(ctx) : make_pool(ctx);
}
}  // namespace ops

namespace {
struct Entry {
  const char* name;
  OpFactory factory;
};
const Entry kOps[] = {
    {"Abs", ops::make_unary},          {"Add", ops::make_binary},
    {"And", ops::make_logical},        {"Cast", ops::make_cast},
    {"CastLike", ops::make_cast},      {"Equal", ops::make_compare},
    {"Greater", ops::make_compare},    {"GreaterOrEqual", ops::make_compare},
    {"Less", ops::make_compare},       {"LessOrEqual", ops::make_compare},
    {"Not", ops::make_logical},        {"Or", ops::make_logical},
    {"Where", ops::make_where},        {"Xor", ops::make_logical},
    {"ReduceL1", ops::make_reduce},    {"ReduceL2", ops::make_reduce},
    {"ReduceLogSum", ops::make_reduce}, {"ReduceLogSumExp", ops::make_reduce},
    {"ReduceMax", ops::make_reduce},   {"ReduceMin", ops::make_reduce},
    {"ReduceProd", ops::make_reduce},  {"ReduceSum", ops::make_reduce},
    {"ReduceSumSquare", ops::make_reduce},
    {"ArgMax", ops::make_arg_max},     {"ArgMin", ops::make_arg_max},
    {"CumSum", ops::make_cum_sum},     {"DepthToSpace", ops::make_depth_to_space},
    {"InstanceNormalization", ops::make_instance_norm},
    {"SpaceToDepth", ops::make_depth_to_space}, {"Trilu", ops::make_trilu},
    {"SequenceSelect", ops::make_sequence_select},
    {"Expand", ops::make_expand},      {"GatherElements", ops::make_gather_elements},
    {"Mod", ops::make_mod},            {"OneHot", ops::make_one_hot},
    {"Shape", ops::make_shape},        {"Size", ops::make_shape},
    {"Tile", ops::make_tile},          {"TopK", ops::make_top_k},
    {"GatherND", ops::make_gather_nd}, {"ScatterElements", ops::make_scatter_elements},
    {"Range", ops::make_range},        {"ConstantOfShape", ops::make_constant_of_shape},
    {"ScatterND", ops::make_scatter_nd}, {"Einsum", ops::make_einsum},
    {"GroupNormalization", ops::make_group_norm},
    {"Ceil", ops::make_unary},         {"Celu", ops::make_unary},
    {"Cos", ops::make_unary},          {"Elu", ops::make_unary},
    {"Floor", ops::make_unary},        {"Log", ops::make_unary},
    {"Mish", ops::make_unary},         {"PRelu", ops::make_binary},
    {"Reciprocal", ops::make_unary},   {"Round", ops::make_unary},
    {"Selu", ops::make_unary},         {"Sign", ops::make_unary},
    {"Sin", ops::make_unary},          {"Softplus", ops::make_unary},
    {"Softsign", ops::make_unary},     {"ThresholdedRelu", ops::make_unary},
    {"AveragePool", ops::make_pool_nd},   {"BatchNormalization", ops::make_batch_norm},
    {"CausalAttention", ops::make_attention},
    {"Attention", ops::make_onnx_attention},
    {"Clip", ops::make_unary},         {"Concat", ops::make_concat},
    {"Conv", ops::make_conv_nd},       {"ConvTranspose", ops::make_conv_transpose_nd},
    {"DequantizeLinear", ops::make_dequantize_linear},
    {"Div", ops::make_binary},         {"Dropout", ops::make_unary},
    {"Erf", ops::make_unary},
    {"Exp", ops::make_unary},          {"Flatten", ops::make_reshape},
    {"Gather", ops::make_gather},      {"Gelu", ops::make_unary},
    {"Gemm", ops::make_gemm},          {"GlobalAveragePool", ops::make_global_pool},
    {"GlobalMaxPool", ops::make_global_pool}, {"GRU", ops::make_gru},
    {"HardSigmoid", ops::make_unary},  {"HardSwish", ops::make_unary},
    {"Identity", ops::make_unary},     {"LayerNormalization", ops::make_layer_norm},
    {"LeakyRelu", ops::make_unary},    {"LogSoftmax", ops::make_softmax},
    {"LookupTable", ops::make_lookup_table},
    {"LRN", ops::make_lrn},
    {"LSTM", ops::make_lstm},          {"MatMul", ops::make_matmul},
    {"Max", ops::make_binary},         {"MaxPool", ops::make_pool_nd},
    {"Min", ops::make_binary},         {"Mul", ops::make_binary},
    {"Neg", ops::make_unary},          {"Pad", ops::make_pad},
    {"Pow", ops::make_binary},         {"QGemm", ops::make_qgemm},
    {"QLinearAdd", ops::make_qlinear_add}, {"QLinearConv", ops::make_qlinear_conv},
    {"QLinearGlobalAveragePool", ops::make_qlinear_global_average_pool},
    {"QuantizeLinear", ops::make_quantize_linear}, {"ReduceMean", ops::make_reduce},
    {"Relu", ops::make_unary},         {"Reshape", ops::make_reshape},
    {"Resize", ops::make_resize},      {"RMSNormalization", ops::make_layer_norm},
    {"RNN", ops::make_rnn},
    {"Sigmoid", ops::make_unary},
    {"Silu", ops::make_unary},         {"Slice", ops::make_slice},
    {"Softmax", ops::make_softmax},    {"Split", ops::make_split},
    {"Sqrt", ops::make_unary},         {"Squeeze", ops::make_reshape},
    {"Sub", ops::make_binary},         {"Tanh", ops::make_unary},
    {"Transpose", ops::make_transpose}, {"Unsqueeze", ops::make_reshape},
    {"Upsample", ops::make_resize},
    {"BitShift", ops::make_bitwise},   {"BitwiseAnd", ops::make_bitwise},
    {"BitwiseNot", ops::make_bitwise}, {"BitwiseOr", ops::make_bitwise},
    {"BitwiseXor", ops::make_bitwise}, {"BitCast", ops::make_bit_cast},
    {"IsInf", ops::make_is_inf_nan},   {"IsNaN", ops::make_is_inf_nan},
    {"CumProd", ops::make_cum_prod},
    {"Acos", ops::make_unary},         {"Acosh", ops::make_unary},
    {"Asin", ops::make_unary},         {"Asinh", ops::make_unary},
    {"Atan", ops::make_unary},         {"Atanh", ops::make_unary},
    {"Cosh", ops::make_unary},         {"Sinh", ops::make_unary},
    {"Tan", ops::make_unary},          {"Swish", ops::make_unary},
    {"Shrink", ops::make_unary},       {"Hardmax", ops::make_hardmax},
    {"LpNormalization", ops::make_lp_normalization},
    {"MeanVarianceNormalization", ops::make_mean_variance_normalization},
    {"EyeLike", ops::make_eye_like},   {"ReverseSequence", ops::make_reverse_sequence},
    {"Scatter", ops::make_scatter_elements}, {"LpPool", ops::make_lp_pool},
    {"RotaryEmbedding", ops::make_rotary_embedding}, {"SwiGLU", ops::make_swiglu},
    {"CenterCropPad", ops::make_center_crop_pad}, {"Col2Im", ops::make_col2im},
    {"GridSample", ops::make_grid_sample},
    {"StringNormalizer", ops::make_string_normalizer}, {"StringConcat", ops::make_string_concat},
};
}  // namespace

OpFactory find_op(const std::string& op_type) {
  for (const Entry& e : kOps)
    if (op_type == e.name) return e.factory;
  return nullptr;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> r;
  for (const Entry& e : kOps) r.push_back(e.name);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace pyrt
