// Deferred data checks (SPEC §6.4) and decoding to the logical dtype: the CRCs here, the rest by the tensor's
// encoding (format/encoding.h). The checks run before any byte of a tensor's data is used.
#include <algorithm>
#include <cstring>

#include "base/checked.h"
#include "base/error.h"
#include "format/codecs.h"
#include "format/crc32c.h"
#include "format/encoding.h"
#include "format/model.h"
#include "format/spec.h"

namespace pyrt {
namespace {

using std::to_string;

// Tensors are parsed only with a known encoding, so the row exists.
const EncodingTraits& traits(const TensorInfo& t) { return *find_encoding(t.encoding); }

}  // namespace

void Model::check_tensor(size_t ti) const {
  if (ti >= tensors_.size()) fail(Status::kNotFound, "tensor index " + to_string(ti) + " out of range");
  if (checked_[ti].load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(check_mu_);
  if (checked_[ti].load(std::memory_order_relaxed)) return;
  const TensorInfo& t = tensors_[ti];
  const std::string where = "tensor '" + t.name + "'";
  const uint8_t* base = bytes_.data();
  for (size_t k = 0; k < t.buffers.size(); ++k)
    if (crc32c(base + t.buffers[k].offset, t.buffers[k].size) != t.buffers[k].crc)
      format_error(where + " buffer " + to_string(k) + ": CRC32C mismatch");
  // Layouts are checked when a session reads one (layout()), or by verify_all: a file packed for several
  // targets is not read whole when one tensor is.
  traits(t).check(TensorData{t, base}, where);
  checked_[ti].store(true, std::memory_order_release);
}

void Model::verify_all() const {
  if (has_data_ && crc32c(bytes_.data() + data_off_, data_size_) != data_crc_)
    format_error("DATA section: CRC32C mismatch");
  for (size_t i = 0; i < tensors_.size(); ++i) {
    check_tensor(i);
    for (const Layout& l : tensors_[i].layouts) {
      uint64_t size = 0;
      layout(i, l.id, l.param, &size);
    }
  }
}

const uint8_t* Model::layout(size_t ti, uint32_t id, uint32_t param, uint64_t* size) const {
  *size = 0;
  if (ti >= tensors_.size()) return nullptr;
  const TensorInfo& t = tensors_[ti];
  for (size_t k = 0; k < t.layouts.size(); ++k) {
    const Layout& l = t.layouts[k];
    if (l.id != id || l.param != param) continue;
    const uint8_t* p = bytes_.data() + l.extent.offset;
    std::lock_guard<std::mutex> lock(check_mu_);
    const uint64_t tag = (uint64_t(ti) << 3) | k;
    if (std::find(layouts_checked_.begin(), layouts_checked_.end(), tag) == layouts_checked_.end()) {
      if (crc32c(p, l.extent.size) != l.extent.crc)
        format_error("tensor '" + t.name + "' layout " + to_string(k) + ": CRC32C mismatch");
      layouts_checked_.push_back(tag);
    }
    *size = l.extent.size;
    return l.extent.size ? p : nullptr;
  }
  return nullptr;
}

Model::PackedUse Model::packed_use() const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  return packed_use_;
}

void Model::count_packed(bool from_file) const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  ++(from_file ? packed_use_.from_file : packed_use_.packed);
}

void Model::record_packed(bool on) const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  recording_ = on;
  if (!on) packed_forms_.clear();
}

bool Model::recording_packed() const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  return recording_;
}

void Model::add_packed(PackedForm f) const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  if (recording_) packed_forms_.push_back(std::move(f));
}

std::vector<Model::PackedForm> Model::packed_forms() const {
  std::lock_guard<std::mutex> lock(packed_mu_);
  return packed_forms_;
}

const uint8_t* Model::buffer(size_t t, size_t k) const {
  check_tensor(t);
  return buffer_unchecked(t, k);
}

const uint8_t* Model::buffer_unchecked(size_t t, size_t k) const {
  if (t >= tensors_.size()) fail(Status::kNotFound, "tensor index " + to_string(t) + " out of range");
  if (k >= tensors_[t].buffers.size())
    fail(Status::kInvalidArgument, "tensor '" + tensors_[t].name + "' has " +
                                       to_string(tensors_[t].buffers.size()) + " buffers, asked for " + to_string(k));
  return tensors_[t].buffers[k].size ? bytes_.data() + tensors_[t].buffers[k].offset : nullptr;
}

void Model::release_pages(size_t t) const {
  if (t >= tensors_.size()) return;
  for (const auto& b : tensors_[t].buffers) bytes_.drop_pages(bytes_.data() + b.offset, b.size);
}

void Model::release_metadata_pages() const {
  for (const auto& [off, size] : parsed_spans_) bytes_.drop_pages(bytes_.data() + off, size);
}

std::shared_ptr<const void> Model::shared(const std::string& key,
                                          const std::function<std::shared_ptr<const void>()>& make) const {
  std::lock_guard<std::mutex> lock(shared_mu_);
  if (auto p = shared_[key].lock()) return p;
  std::shared_ptr<const void> p = make();
  shared_[key] = p;
  return p;
}

uint64_t Model::decoded_bytes(size_t ti) const {
  const TensorInfo& t = tensors_.at(ti);
  const uint64_t n = t.numel * spec::dtype_size(t.dtype);  // every encoding decodes to its logical dtype
  static const uint64_t limit = env_bytes("PYRT_MAX_DECODE_BYTES", uint64_t(4) << 30);
  if (n > limit)
    fail(Status::kInvalidArgument, "tensor '" + t.name + "' decodes to " + to_string(n) +
                                       " bytes, above the limit of " + to_string(limit) +
                                       " (set PYRT_MAX_DECODE_BYTES to allow it)");
  return n;
}

uint64_t Model::resident_bytes(size_t ti) const { return traits(tensors_.at(ti)).resident_bytes(tensors_[ti]); }

bool Model::decodes_rows(size_t ti) const {
  const TensorInfo& t = tensors_.at(ti);
  return traits(t).decode_row && t.dtype == spec::kF32 && t.shape.size() == 2;
}

void Model::decode_row(size_t ti, uint64_t r, float* out) const {
  const TensorInfo& t = tensors_[ti];
  const EncodingTraits& e = traits(t);
  if (!e.decode_row) fail(Status::kInternal, "decode_row: tensor '" + t.name + "' is not stored by rows");
  e.decode_row(TensorData{t, bytes_.data()}, codecs(), r, out);
}

void Model::decode(size_t ti, void* out, size_t out_bytes) const {
  check_tensor(ti);
  const TensorInfo& t = tensors_[ti];
  const uint64_t need = t.numel * spec::dtype_size(t.dtype);
  if (out_bytes != need)
    fail(Status::kInvalidArgument, "decode of tensor '" + t.name + "': output has " + to_string(out_bytes) +
                                       " bytes, need " + to_string(need));
  if (t.numel == 0) return;
  traits(t).decode(TensorData{t, bytes_.data()}, codecs(), out);
}

}  // namespace pyrt
