// A validated .pyrt model: the parsed META / TENSORS / GRAPH sections over zero-copy bytes (SPEC.md).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/mapped_file.h"

namespace pyrt {

enum class Verify { kLazy, kFull };

struct Extent {
  uint64_t offset = 0, size = 0;
  uint32_t crc = 0;
};

struct TensorParams {
  uint8_t storage = 0;                         // dense
  int32_t axis = -1;                           // i8, lut
  bool zero_point = false;                     // i8
  uint32_t group_size = 0;                     // i4, csr(i4)
  bool is_signed = true;                       // i4
  uint8_t scale_dtype = 0;                     // i4 scales, lut codebook
  uint8_t index_width = 0, values = 0;         // csr
  uint8_t br = 1, bc = 1;                      // csr block
  uint64_t nnzb = 0;                           // csr
  uint8_t index_bits = 0;                      // lut
  uint32_t codebook_size = 0;                  // lut
};

struct Layout {
  uint32_t id = 0, param = 0;
  Extent extent;
};

struct TensorInfo {
  std::string name;
  uint8_t dtype = 0, encoding = 0;
  std::vector<uint64_t> shape;
  uint64_t numel = 0;
  uint64_t rows = 0, cols = 0;   // matrix view (i4, csr)
  TensorParams p;
  std::vector<Extent> buffers;
  std::vector<Layout> layouts;
  uint64_t nbytes() const;
};

struct IoDesc {
  std::string name;
  uint8_t dtype = 0;
  std::vector<int64_t> dims;  // -1 = dynamic
};

struct Prop {
  std::string key;
  uint8_t type = 0;
  std::string str;   // string / bytes
  int64_t i = 0;
  double f = 0;
};

struct Meta {
  std::string producer, producer_version, model_name;
  std::vector<IoDesc> inputs, outputs;
  std::vector<Prop> props;
};

struct Attr {
  std::string name;
  uint8_t type = 0;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;
  std::vector<std::string> strings;
  uint32_t tensor = 0;
};

struct ValueInfo {
  std::string name;
  uint8_t dtype = 0;      // 0 = unknown
  bool rank_known = false;
  std::vector<int64_t> dims;
};

struct Node {
  std::string name, op_type;
  uint16_t version = 1;
  std::vector<uint32_t> inputs, outputs;  // kNoValue = omitted optional input
  std::vector<Attr> attrs;
};

struct Graph {
  std::vector<ValueInfo> values;
  std::vector<uint32_t> inputs, outputs;
  std::vector<std::pair<uint32_t, uint32_t>> consts;  // value id, tensor index
  std::vector<Node> nodes;
};

// Caps on what a file may ask for, below the format's own maxima (0: no cap beyond those). Checked before the
// structures they size are allocated; going over one is Status::kLimit, naming the cap.
struct Limits {
  uint64_t max_file_bytes = 0;
  uint32_t max_tensors = 0;
  uint32_t max_nodes = 0;
};

class Model {
 public:
  static std::shared_ptr<Model> open_file(const std::string& path, Verify v = Verify::kLazy,
                                          const Limits& limits = {});
  // copy=true: the model keeps its own copy; false: the caller keeps `data` alive while the model lives.
  static std::shared_ptr<Model> open_memory(const void* data, size_t size, Verify v = Verify::kLazy,
                                            bool copy = true, const Limits& limits = {});

  uint16_t major() const { return major_; }
  uint16_t minor() const { return minor_; }
  uint64_t required_features() const { return required_; }
  uint64_t optional_features() const { return optional_; }
  const Meta& meta() const { return meta_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const Graph* graph() const { return has_graph_ ? &graph_ : nullptr; }
  bool mapped() const { return bytes_.mapped(); }
  // Whether p points into the model's bytes (the mapping, or its own copy).
  bool contains(const void* p) const {
    const uint8_t* b = bytes_.data();
    return p && static_cast<const uint8_t*>(p) >= b && static_cast<const uint8_t*>(p) < b + bytes_.size();
  }
  size_t file_size() const { return bytes_.size(); }

  int find(const std::string& name) const;  // -1 if absent
  // The deferred checks of SPEC §6.4 for tensor t (CRC, indices, scales); once, thread-safe.
  void check_tensor(size_t t) const;
  void verify_all() const;
  // Tensor t's bytes leave this process's resident set (a mapped file only; read again if touched): for a
  // weight that every session has repacked or decoded and no op reads as stored.
  void release_pages(size_t t) const;
  // Drops the pages of what open parsed (header, section table, META, TENSORS, GRAPH): nothing reads them again
  // (a later touch reads the file again), and on a file mapped in large folios they are a 2 MiB block.
  void release_metadata_pages() const;
  // Zero-copy pointer to buffer k of tensor t, after check_tensor(t).
  const uint8_t* buffer(size_t t, size_t k) const;
  // The same pointer before the check: for a reader that calls check_tensor(t) before the first byte is used.
  const uint8_t* buffer_unchecked(size_t t, size_t k) const;
  // Decodes tensor t into out (out_bytes must be numel * sizeof(logical dtype)); checks the data first.
  void decode(size_t t, void* out, size_t out_bytes) const;
  // Whether decode_row() can read tensor t a row at a time: a 2-D f32 tensor stored dense, i8 or i4.
  bool decodes_rows(size_t t) const;
  // Row r (along the first axis) of tensor t into out (its shape[1] floats), after check_tensor(t) and with
  // r < shape[0] (the caller checks both): an embedding lookup reads the rows it needs, not the whole table.
  void decode_row(size_t t, uint64_t r, float* out) const;
  // Bytes decode(t) writes; throws when above the decode limit (PYRT_MAX_DECODE_BYTES, default 4 GiB), so a
  // tiny sparse file cannot make a caller allocate terabytes.
  uint64_t decoded_bytes(size_t t) const;
  // Bytes a session holds for tensor t beyond the mapped file when it decodes it: 0 for a tensor used in place
  // (dense in its logical dtype), else the decoded size (its encoding's traits, format/encoding.h).
  uint64_t resident_bytes(size_t t) const;

  // Objects derived from the weights (decoded or repacked tensors) shared by every session of this model:
  // the first caller builds one with `make`, later callers get the same object while any session holds it.
  std::shared_ptr<const void> shared(const std::string& key,
                                     const std::function<std::shared_ptr<const void>()>& make) const;

  // Pre-packed layouts (SPEC §6.6). The bytes of tensor t's layout with this id and param (*size set), after
  // their CRC check (once), or null when the tensor carries none such.
  const uint8_t* layout(size_t t, uint32_t id, uint32_t param, uint64_t* size) const;
  // How the packed forms sessions made (NodeContext::packed) came about: read in place from the file's
  // layouts, or packed at load.
  struct PackedUse {
    uint64_t from_file = 0, packed = 0;
  };
  PackedUse packed_use() const;
  void count_packed(bool from_file) const;
  // The export side (pyruntime.prepack): while recording, every packed form a session makes is kept here, with
  // the tensor and layout param a file stores it under.
  struct PackedForm {
    uint32_t tensor = 0, param = 0;
    std::string key;
    std::shared_ptr<const void> keep;  // holds the bytes below
    const void* data = nullptr;
    size_t size = 0;
  };
  void record_packed(bool on) const;
  bool recording_packed() const;
  void add_packed(PackedForm f) const;
  std::vector<PackedForm> packed_forms() const;

 private:
  Limits limits_;
  explicit Model(Bytes b) : bytes_(std::move(b)) {}
  void parse(Verify v);
  void parse_meta(const uint8_t* p, size_t n);
  void parse_tensors(const uint8_t* p, size_t n);
  void parse_graph(const uint8_t* p, size_t n);

  Bytes bytes_;
  uint16_t major_ = 0, minor_ = 0;
  uint64_t required_ = 0, optional_ = 0;
  uint64_t data_off_ = 0, data_size_ = 0;
  uint32_t data_crc_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> parsed_spans_;  // offset, size: what parse() read (not DATA)
  bool has_data_ = false, has_graph_ = false;
  Meta meta_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  Graph graph_;
  mutable std::mutex check_mu_, shared_mu_;
  mutable std::unordered_map<std::string, std::weak_ptr<const void>> shared_;
  mutable std::unique_ptr<std::atomic<bool>[]> checked_;
  mutable std::mutex packed_mu_;
  mutable std::vector<PackedForm> packed_forms_;
  mutable std::vector<uint64_t> layouts_checked_;  // (tensor << 3) | layout index, checked once
  mutable PackedUse packed_use_;
  mutable bool recording_ = false;
};

}  // namespace pyrt
