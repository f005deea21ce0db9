#include "core/op.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "format/crc32c.h"
#include "format/spec.h"

namespace pyrt {

std::string NodeContext::where() const {
  return "node " + (node_.name.empty() ? "#" + std::to_string(index_) : "'" + node_.name + "'") + " (" +
         node_.op_type + ")";
}

std::string NodeContext::shared_key(size_t input, const std::string& key) const {
  const ConstTensor& c = require_const(input, "weight");
  return key + "#" + std::to_string(c.tensor_index) + "@" + kt_.name + "." + std::to_string(kt_.f32_gemm_mr) + "x" +
         std::to_string(kt_.f32_gemm_nr);
}

uint32_t NodeContext::layout_param(const std::string& layout_key) {
  return crc32c(layout_key.data(), layout_key.size());
}

void NodeContext::note_packed(uint32_t tensor, uint32_t param, const std::string& lkey, std::shared_ptr<const void> keep,
                              const void* data, size_t size, bool from_file) const {
  model_.count_packed(from_file);
  if (model_.recording_packed()) model_.add_packed({tensor, param, lkey, std::move(keep), data, size});
}

void NodeContext::expect_inputs(size_t lo, size_t hi) const {
  if (num_inputs() < lo || num_inputs() > hi)
    fail("takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
         " inputs, got " + std::to_string(num_inputs()));
  for (size_t i = 0; i < lo; ++i)
    if (!has_input(i)) fail("input " + std::to_string(i) + " is required");
}

void ConstTensor::copy_small() const {
  if (!small_ || copy_) return;
  if (unchecked_) check();
  void* c = std::aligned_alloc(64, (small_ + 63) / 64 * 64);
  if (!c) throw std::bad_alloc();
  std::memcpy(c, mapped_, small_);
  copy_ = std::shared_ptr<void>(c, std::free);
  data_ = c;
}

void ConstTensor::check() const {
  check_model_->check_tensor(tensor_index);
  unchecked_ = false;
}

void ConstTensor::decode() const {
  // only encoded tensors start without data (dense ones point into the mapping from the start)
  owned_.resize(std::max<size_t>(desc.nbytes(), 1));
  model->decode(tensor_index, owned_.data(), desc.nbytes());
  data_ = owned_.data();
}

const ConstTensor& NodeContext::require_const(size_t i, const char* what) const {
  const ConstTensor* c = const_input(i);
  if (!c) fail(std::string(what) + " (input " + std::to_string(i) + ") must be a constant tensor");
  return *c;
}

const ConstTensor& NodeContext::require_const(size_t i, const char* what, uint8_t dtype) const {
  const ConstTensor& c = require_const(i, what);
  if (c.desc.dtype != dtype)
    fail(std::string(what) + " must be " + spec::dtype_name(dtype) + ", got " + spec::dtype_name(c.desc.dtype));
  return c;
}

const Attr* NodeContext::attr(const std::string& name) const {
  for (const auto& a : node_.attrs)
    if (a.name == name) return &a;
  return nullptr;
}

int64_t NodeContext::attr_int(const std::string& name, int64_t dflt) const {
  const Attr* a = attr(name);
  if (!a) return dflt;
  if (a->type != spec::kAttrInt) fail("attribute '" + name + "' must be an int");
  return a->i;
}

float NodeContext::attr_float(const std::string& name, float dflt) const {
  const Attr* a = attr(name);
  if (!a) return dflt;
  if (a->type == spec::kAttrInt) return float(a->i);
  if (a->type != spec::kAttrFloat) fail("attribute '" + name + "' must be a float");
  return a->f;
}

std::vector<int64_t> NodeContext::attr_ints(const std::string& name, std::vector<int64_t> dflt) const {
  const Attr* a = attr(name);
  if (!a) return dflt;
  if (a->type != spec::kAttrInts) fail("attribute '" + name + "' must be a list of ints");
  return a->ints;
}

std::vector<float> NodeContext::attr_floats(const std::string& name, std::vector<float> dflt) const {
  const Attr* a = attr(name);
  if (!a) return dflt;
  if (a->type == spec::kAttrInts) return std::vector<float>(a->ints.begin(), a->ints.end());
  if (a->type != spec::kAttrFloats) fail("attribute '" + name + "' must be a list of floats");
  return a->floats;
}

std::string NodeContext::attr_string(const std::string& name, const std::string& dflt) const {
  const Attr* a = attr(name);
  if (!a) return dflt;
  if (a->type != spec::kAttrString) fail("attribute '" + name + "' must be a string");
  return a->s;
}

std::vector<std::string> NodeContext::attr_strings(const std::string& name) const {
  const Attr* a = attr(name);
  if (!a) return {};
  // An empty list has no element type to tell: writers may store it as any list type.
  if ((a->type == spec::kAttrInts && a->ints.empty()) || (a->type == spec::kAttrFloats && a->floats.empty())) return {};
  if (a->type != spec::kAttrStrings) fail("attribute '" + name + "' must be a list of strings");
  return a->strings;
}

}  // namespace pyrt
