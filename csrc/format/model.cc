// Parsing and validation of .pyrt files (SPEC.md). Everything whose cost does not grow with the weights is
// checked at open; the per-tensor data checks (SPEC §6.4) run in check_tensor() before first use.
#include "format/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <tuple>

#include "base/checked.h"
#include "base/error.h"
#include "format/crc32c.h"
#include "format/cursor.h"
#include "format/encoding.h"
#include "format/spec.h"

namespace pyrt {

namespace spec {
const char* dtype_name(uint8_t d) {
  static const char* n[] = {"?", "f32", "f16", "i8", "u8", "i32", "i64", "bool", "f64", "i16", "u16", "u32", "u64", "bf16", "string"};
  return d <= kString ? n[d] : "?";
}
}  // namespace spec

using std::to_string;

bool valid_utf8(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string Cursor::str(uint32_t cap, const std::string& what, bool allow_empty) {
  const uint32_t n = u32(what + " length");
  if (n > cap) fail(what + " length " + to_string(n) + " exceeds the cap " + to_string(cap));
  if (n == 0 && !allow_empty) fail(what + " is empty");
  const uint8_t* b = take(n, what);
  if (!valid_utf8(b, n)) fail(what + " is not valid UTF-8");
  return std::string(reinterpret_cast<const char*>(b), n);
}

uint64_t TensorInfo::nbytes() const {
  uint64_t s = 0;
  for (const auto& e : buffers) s += e.size;
  return s;
}

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + to_string(s[i]);
  return r + "]";
}

// Product of dims with the 2^40 cap (SPEC §4); a zero dim makes it 0 whatever the others are.
uint64_t checked_numel(const std::vector<uint64_t>& dims, const std::string& where,
                       const char* what = "element count") {
  for (uint64_t d : dims)
    if (d == 0) return 0;
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (!mul_ok(n, d, &n) || n > spec::kMaxNumel)
      format_error(where + ": " + what + " exceeds 2^40 (shape " + shape_str(dims) + ")");
  }
  return n;
}

const char* feature_name(uint64_t bit) {
  switch (bit) {
    case spec::kFeatCsr: return "CSR";
    case spec::kFeatInt4: return "INT4";
    case spec::kFeatLut: return "LUT";
    case spec::kFeatF16: return "F16";
    case spec::kFeatI8g: return "I8G";
  }
  return "?";
}

}  // namespace

// ------------------------------------------------------------------------------------------------ open
namespace {
void check_file_size(uint64_t size, const Limits& l) {
  if (l.max_file_bytes && size > l.max_file_bytes)
    fail(Status::kLimit, "the model is " + to_string(size) + " bytes, above the limit of " +
                             to_string(l.max_file_bytes) + " (max_file_bytes)");
}
}  // namespace

std::shared_ptr<Model> Model::open_file(const std::string& path, Verify v, const Limits& limits) {
  std::shared_ptr<Model> m(new Model(Bytes::map_file(path)));  // mapped, not read: nothing allocated yet
  check_file_size(m->bytes_.size(), limits);
  m->limits_ = limits;
  m->parse(v);
  return m;
}

std::shared_ptr<Model> Model::open_memory(const void* data, size_t size, Verify v, bool copy, const Limits& limits) {
  if (!data && size) fail(Status::kInvalidArgument, "open_memory: null data with non-zero size");
  check_file_size(size, limits);  // before the copy
  std::shared_ptr<Model> m(new Model(copy ? Bytes::copy_of(data, size) : Bytes::borrow(data, size)));
  m->limits_ = limits;
  m->parse(v);
  return m;
}

void Model::parse(Verify v) {
  const uint8_t* b = bytes_.data();
  const uint64_t fsize = bytes_.size();
  if (fsize < spec::kHeaderSize)
    format_error("file too short for the header: " + to_string(fsize) + " bytes, need 64");
  if (std::memcmp(b, spec::kMagic, 8) != 0) format_error("bad magic: not a .pyrt file");
  Cursor h(b + 8, 56, "header");
  major_ = h.u16("major");
  minor_ = h.u16("minor");
  const uint32_t hsize = h.u32("header size");
  required_ = h.u64("required features");
  optional_ = h.u64("optional features");
  const uint64_t declared_size = h.u64("file size");
  const uint64_t toff = h.u64("section table offset");
  const uint32_t nsec = h.u32("section count");
  const uint32_t tcrc = h.u32("section table crc");
  const uint32_t reserved = h.u32("reserved");
  const uint32_t hcrc = h.u32("header crc");
  if (major_ != spec::kMajor)
    format_error("unsupported major version " + to_string(major_) + " (this reader reads 1.x)");
  if (crc32c(b, 60) != hcrc) format_error("header CRC32C mismatch");
  if (hsize != spec::kHeaderSize || reserved != 0)
    format_error("header size " + to_string(hsize) + " / reserved " + to_string(reserved) + " invalid");
  if (const uint64_t unknown = required_ & ~spec::kKnownRequired) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "file requires unknown feature bits 0x%llx (this reader knows 0x%llx)",
                  (unsigned long long)unknown, (unsigned long long)spec::kKnownRequired);
    format_error(buf);
  }
  if (declared_size != fsize)
    format_error("file size mismatch: header says " + to_string(declared_size) + " bytes, file has " +
                 to_string(fsize) + " (truncated or padded)");
  if (nsec < 1 || nsec > spec::kMaxSections)
    format_error("section count " + to_string(nsec) + " out of range [1, 64]");
  const uint64_t tsize = uint64_t(nsec) * spec::kSectionEntrySize;
  if (toff % 8 || toff < spec::kHeaderSize || toff > fsize || tsize > fsize - toff)
    format_error("section table at " + to_string(toff) + " (+" + to_string(tsize) +
                 ") is outside the file or misaligned");
  if (crc32c(b + toff, tsize) != tcrc) format_error("section table CRC32C mismatch");

  static const char* kNames[] = {"?", "META", "TENSORS", "GRAPH", "DATA"};
  struct Span {
    uint64_t off, size;
    std::string what;
  };
  std::vector<Span> spans = {{0, spec::kHeaderSize, "header"}, {toff, tsize, "section table"}};
  struct Sec {
    uint64_t off = 0, size = 0;
    uint32_t crc = 0;
    bool present = false;
  } secs[5];
  Cursor t(b + toff, tsize, "section table");
  for (uint32_t i = 0; i < nsec; ++i) {
    const uint32_t kind = t.u32("kind"), flags = t.u32("flags");
    const uint64_t off = t.u64("offset"), size = t.u64("size");
    const uint32_t crc = t.u32("crc"), r = t.u32("reserved");
    const bool known = kind >= spec::kSecMeta && kind <= spec::kSecData;
    const std::string name = known ? kNames[kind] : "kind " + to_string(kind);
    const std::string where = "section " + to_string(i) + " (" + name + ")";
    if ((flags & ~spec::kSectionRequired) || r)
      format_error(where + ": unknown flags or reserved bits set");
    if (off % spec::kAlign) format_error(where + ": offset " + to_string(off) + " is not 64-byte aligned");
    if (off > fsize || size > fsize - off)
      format_error(where + ": extent " + to_string(off) + "+" + to_string(size) +
                   " runs past the end of the file (" + to_string(fsize) + " bytes)");
    if (!known) {
      if (flags & spec::kSectionRequired)
        format_error("section " + to_string(i) + ": unknown required section kind " + to_string(kind));
      spans.push_back({off, size, where});  // skipped, but it must not overlap anything either
      continue;
    }
    if (secs[kind].present) format_error(std::string("duplicate ") + kNames[kind] + " section");
    secs[kind] = {off, size, crc, true};
    spans.push_back({off, size, name + " section"});
  }
  spans.erase(std::remove_if(spans.begin(), spans.end(), [](const Span& s) { return s.size == 0; }),
              spans.end());
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& c) {
    return std::tie(a.off, a.size) < std::tie(c.off, c.size);
  });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].off < spans[i - 1].off + spans[i - 1].size)
      format_error(spans[i - 1].what + " overlaps " + spans[i].what);
  for (uint32_t k : {spec::kSecMeta, spec::kSecTensors})
    if (!secs[k].present) format_error(std::string("missing ") + kNames[k] + " section");
  for (uint32_t k : {spec::kSecMeta, spec::kSecTensors, spec::kSecGraph})
    if (secs[k].present && crc32c(b + secs[k].off, secs[k].size) != secs[k].crc)
      format_error(std::string(kNames[k]) + " section: CRC32C mismatch");
  has_data_ = secs[spec::kSecData].present;
  data_off_ = secs[spec::kSecData].off;
  data_size_ = secs[spec::kSecData].size;
  data_crc_ = secs[spec::kSecData].crc;

  parse_meta(b + secs[spec::kSecMeta].off, secs[spec::kSecMeta].size);
  parse_tensors(b + secs[spec::kSecTensors].off, secs[spec::kSecTensors].size);
  if (secs[spec::kSecGraph].present) {
    has_graph_ = true;
    parse_graph(b + secs[spec::kSecGraph].off, secs[spec::kSecGraph].size);
  }
  checked_.reset(new std::atomic<bool>[tensors_.size()]);
  for (size_t i = 0; i < tensors_.size(); ++i) checked_[i] = false;
  for (const Span& s : spans) {  // sorted; sections 64 bytes apart (zero padding) are one span
    if (secs[spec::kSecData].present && s.off == secs[spec::kSecData].off) continue;
    if (!parsed_spans_.empty() && s.off - (parsed_spans_.back().first + parsed_spans_.back().second) < 64)
      parsed_spans_.back().second = s.off + s.size - parsed_spans_.back().first;
    else
      parsed_spans_.emplace_back(s.off, s.size);
  }
  if (v == Verify::kFull) verify_all();
}

// ------------------------------------------------------------------------------------------------ META
namespace {
std::vector<IoDesc> parse_io(Cursor& c, const std::string& what) {
  const uint32_t n = c.count(spec::kMaxIo, what + " count");
  std::vector<IoDesc> out;
  std::set<std::string> seen;
  for (uint32_t i = 0; i < n; ++i) {
    IoDesc d;
    d.name = c.str(spec::kMaxName, what + " name");
    const std::string w = what + " " + quoted(d.name);
    d.dtype = c.u8(w + " dtype");
    const uint8_t rank = c.u8(w + " rank");
    const uint16_t res = c.u16(w + " reserved");
    if (!spec::valid_dtype(d.dtype)) c.fail(w + ": unknown dtype " + to_string(d.dtype));
    if (rank > spec::kMaxRank || res)
      c.fail(w + ": rank " + to_string(rank) + " exceeds 8 or reserved bits set");
    if (!seen.insert(d.name).second) c.fail("duplicate " + what + " name " + quoted(d.name));
    d.dims = c.array<int64_t>(rank, w + " dims");
    for (int64_t v : d.dims)
      if (v < -1 || v > int64_t(spec::kMaxDim)) c.fail(w + ": dimension " + to_string(v) + " out of range");
    out.push_back(std::move(d));
  }
  return out;
}
}  // namespace

void Model::parse_meta(const uint8_t* p, size_t n) {
  Cursor c(p, n, "META section");
  meta_.producer = c.str(spec::kMaxProducer, "producer", true);
  meta_.producer_version = c.str(spec::kMaxProducer, "producer version", true);
  meta_.model_name = c.str(spec::kMaxName, "model name", true);
  meta_.inputs = parse_io(c, "input");
  meta_.outputs = parse_io(c, "output");
  const uint32_t np = c.count(spec::kMaxProps, "property count");
  std::set<std::string> keys;
  for (uint32_t i = 0; i < np; ++i) {
    Prop pr;
    pr.key = c.str(spec::kMaxKey, "property key");
    const std::string w = "property " + quoted(pr.key);
    if (!keys.insert(pr.key).second) c.fail("duplicate property key " + quoted(pr.key));
    pr.type = c.u8(w + " type");
    switch (pr.type) {
      case spec::kPropString: pr.str = c.str(spec::kMaxBlob, w, true); break;
      case spec::kPropInt: pr.i = c.i64(w); break;
      case spec::kPropFloat: pr.f = c.get<double>(w); break;
      case spec::kPropBytes: {
        const uint32_t len = c.count(spec::kMaxBlob, w + " length");
        const uint8_t* d = c.take(len, w);
        pr.str.assign(reinterpret_cast<const char*>(d), len);
        break;
      }
      default: c.fail(w + ": unknown type " + to_string(pr.type));
    }
    meta_.props.push_back(std::move(pr));
  }
  c.finish();
}

// --------------------------------------------------------------------------------------------- TENSORS
void Model::parse_tensors(const uint8_t* p, size_t n) {
  Cursor c(p, n, "TENSORS section");
  const uint32_t count = c.count(spec::kMaxTensors, "tensor count");
  if (limits_.max_tensors && count > limits_.max_tensors)
    fail(Status::kLimit, "the model has " + to_string(count) + " tensors, above the limit of " +
                             to_string(limits_.max_tensors) + " (max_tensors)");
  const uint64_t d0 = data_off_, d1 = data_off_ + data_size_;
  struct Span {
    uint64_t off, size;
    size_t tensor, buf;
  };
  std::vector<Span> spans;
  uint64_t used = 0;
  // Each record is at least 40 bytes, so `count` cannot make this reserve huge relative to the section.
  tensors_.reserve(std::min<uint64_t>(count, n / 16 + 1));
  for (uint32_t i = 0; i < count; ++i) {
    TensorInfo t;
    t.name = c.str(spec::kMaxName, "tensor " + to_string(i) + " name");
    const std::string where = "tensor " + quoted(t.name);
    if (index_.count(t.name)) c.fail("duplicate tensor name " + quoted(t.name));
    t.dtype = c.u8(where + " header");
    t.encoding = c.u8(where + " header");
    const uint8_t rank = c.u8(where + " header");
    const uint8_t nl = c.u8(where + " header");
    if (!spec::valid_dtype(t.dtype)) c.fail(where + ": unknown dtype " + to_string(t.dtype));
    if (t.dtype == spec::kString)  // a string element is a handle to bytes elsewhere: nothing a file can hold
      c.fail(where + ": dtype string is for graph inputs, outputs and values only, not stored tensors");
    const EncodingTraits* enc = find_encoding(t.encoding);
    if (!enc) c.fail(where + ": unknown encoding " + to_string(t.encoding));
    if (rank > spec::kMaxRank) c.fail(where + ": rank " + to_string(rank) + " exceeds the cap 8");
    if (nl > spec::kMaxLayouts) c.fail(where + ": " + to_string(nl) + " layouts exceed the cap 8");
    t.shape = c.array<uint64_t>(rank, where + " dims");
    for (uint64_t d : t.shape)
      if (d > spec::kMaxDim) c.fail(where + ": dimension " + to_string(d) + " out of range");
    t.numel = checked_numel(t.shape, where);
    if (!t.shape.empty()) {
      // Matrix view (SPEC §6.1). The trailing product is capped too, so a zero leading dim cannot hide an
      // overflowing column count.
      t.rows = t.shape.size() == 1 ? 1 : t.shape[0];
      t.cols = t.shape.size() == 1 ? t.shape[0]
                                   : checked_numel(std::vector<uint64_t>(t.shape.begin() + 1, t.shape.end()), where,
                                                   "column count (product of the dims after the first)");
    }
    const size_t nbuf = enc->parse(c, t, where);
    auto extent = [&](const std::string& w, size_t buf) {
      Extent e;
      e.offset = c.u64(w + " extent");
      e.size = c.u64(w + " extent");
      e.crc = c.u32(w + " extent");
      if (c.u32(w + " extent") != 0) c.fail(w + ": reserved extent field is not zero");
      if (e.size == 0) {
        if (e.offset || e.crc) c.fail(w + ": an empty extent must have offset 0 and CRC 0");
      } else {
        if (e.offset % spec::kAlign)
          format_error(w + ": buffer offset " + to_string(e.offset) + " is not 64-byte aligned");
        if (!has_data_ || e.offset < d0 || e.offset > d1 || e.size > d1 - e.offset)
          format_error(w + ": buffer " + to_string(e.offset) + "+" + to_string(e.size) +
                       " lies outside the DATA section [" + to_string(d0) + ", " + to_string(d1) + ")");
        spans.push_back({e.offset, e.size, tensors_.size(), buf});
      }
      return e;
    };
    for (size_t k = 0; k < nbuf; ++k) t.buffers.push_back(extent(where + " buffer " + to_string(k), k));
    for (size_t k = 0; k < nl; ++k) {
      Layout l;
      l.id = c.u32(where + " layout");
      l.param = c.u32(where + " layout");
      if (l.id == 0) c.fail(where + ": layout id 0 is invalid");
      l.extent = extent(where + " layout " + to_string(k), 100 + k);
      t.layouts.push_back(l);
    }
    const std::vector<uint64_t> want = enc->buffer_sizes(t);
    for (size_t k = 0; k < want.size(); ++k)
      if (want[k] != UINT64_MAX && want[k] != t.buffers[k].size)
        format_error(where + " buffer " + to_string(k) + ": size " + to_string(t.buffers[k].size) +
                     " does not match the " + to_string(want[k]) + " bytes its shape " + shape_str(t.shape) +
                     " and encoding need");
    used |= enc->features(t);
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  c.finish();
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return std::tie(a.off, a.size) < std::tie(b.off, b.size);
  });
  auto name = [&](const Span& s) {
    return "tensor " + quoted(tensors_[s.tensor].name) +
           (s.buf >= 100 ? " layout " + to_string(s.buf - 100) : " buffer " + to_string(s.buf));
  };
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].off < spans[i - 1].off + spans[i - 1].size)
      format_error(name(spans[i - 1]) + " overlaps " + name(spans[i]));
  if (const uint64_t missing = used & ~required_) {
    std::string names;
    for (uint64_t bit = 1; bit <= spec::kFeatI8g; bit <<= 1)
      if (missing & bit) names += std::string(names.empty() ? "" : ", ") + feature_name(bit);
    format_error("file uses feature(s) " + names + " without declaring them required");
  }
}

// ----------------------------------------------------------------------------------------------- GRAPH
void Model::parse_graph(const uint8_t* p, size_t n) {
  Cursor c(p, n, "GRAPH section");
  Graph& g = graph_;
  const uint32_t nv = c.count(spec::kMaxValues, "value count");
  // Each value takes at least 8 bytes in the section: bound the reservation by what is really there.
  if (uint64_t(nv) * 8 > n) c.fail("value count " + to_string(nv) + " does not fit in the section");
  g.values.reserve(nv);
  for (uint32_t i = 0; i < nv; ++i) {
    ValueInfo v;
    const std::string w = "value " + to_string(i);
    v.name = c.str(spec::kMaxName, w + " name", true);
    v.dtype = c.u8(w + " dtype/rank");
    const uint8_t rank = c.u8(w + " dtype/rank");
    const uint16_t res = c.u16(w + " dtype/rank");
    if (v.dtype != 0 && !spec::valid_dtype(v.dtype)) c.fail(w + ": unknown dtype " + to_string(v.dtype));
    if (res || (rank > spec::kMaxRank && rank != spec::kUnknownRank))
      c.fail(w + ": rank " + to_string(rank) + " invalid or reserved bits set");
    v.rank_known = rank != spec::kUnknownRank;
    if (v.rank_known) {
      v.dims = c.array<int64_t>(rank, w + " dims");
      for (int64_t d : v.dims)
        if (d < -1 || d > int64_t(spec::kMaxDim)) c.fail(w + ": dimension " + to_string(d) + " out of range");
    }
    g.values.push_back(std::move(v));
  }
  std::vector<uint8_t> defined(nv, 0);
  auto ids = [&](uint32_t count, const std::string& what, bool allow_none) {
    std::vector<uint32_t> r = c.array<uint32_t>(count, what);
    for (uint32_t v : r)
      if (!(v < nv || (allow_none && v == spec::kNoValue)))
        c.fail(what + ": value id " + to_string(v) + " out of range (" + to_string(nv) + " values)");
    return r;
  };
  auto define = [&](uint32_t v, const std::string& what) {
    if (defined[v]) c.fail(what + ": value " + to_string(v) + " (" + quoted(g.values[v].name) + ") is defined twice");
    defined[v] = 1;
  };
  g.inputs = ids(c.count(spec::kMaxIo, "graph input count"), "graph inputs", false);
  for (uint32_t v : g.inputs) define(v, "graph input");
  g.outputs = ids(c.count(spec::kMaxIo, "graph output count"), "graph outputs", false);
  const uint32_t nc = c.count(spec::kMaxTensors, "const count");
  for (uint32_t k = 0; k < nc; ++k) {
    const uint32_t v = c.u32("const " + to_string(k)), t = c.u32("const " + to_string(k));
    if (v >= nv || t >= tensors_.size())
      c.fail("const " + to_string(k) + ": value " + to_string(v) + " or tensor " + to_string(t) + " out of range");
    define(v, "const " + to_string(k));
    g.consts.emplace_back(v, t);
  }
  const uint32_t nn = c.count(spec::kMaxNodes, "node count");
  if (limits_.max_nodes && nn > limits_.max_nodes)
    fail(Status::kLimit, "the graph has " + to_string(nn) + " nodes, above the limit of " +
                             to_string(limits_.max_nodes) + " (max_nodes)");
  if (uint64_t(nn) * 24 > n) c.fail("node count " + to_string(nn) + " does not fit in the section");
  g.nodes.reserve(nn);
  for (uint32_t k = 0; k < nn; ++k) {
    Node node;
    node.name = c.str(spec::kMaxName, "node " + to_string(k) + " name", true);
    const std::string where = "node " + to_string(k) + (node.name.empty() ? "" : " (" + quoted(node.name) + ")");
    node.op_type = c.str(spec::kMaxOpType, where + " op type");
    node.version = c.u16(where + " version");
    if (node.version == 0 || c.u16(where + " version") != 0)
      c.fail(where + ": op version must be >= 1 and reserved 0");
    node.inputs = ids(c.count(spec::kMaxNodeIo, where + " input count"), where + " inputs", true);
    for (uint32_t v : node.inputs)
      if (v != spec::kNoValue && !defined[v])
        c.fail(where + ": input value " + to_string(v) + " is used before it is defined");
    const uint32_t nout = c.count(spec::kMaxNodeIo, where + " output count");
    if (nout == 0) c.fail(where + ": a node needs at least one output");
    node.outputs = ids(nout, where + " outputs", false);
    for (uint32_t v : node.outputs) define(v, where);
    const uint32_t na = c.count(spec::kMaxAttrs, where + " attribute count");
    std::set<std::string> seen;
    for (uint32_t a = 0; a < na; ++a) {
      Attr at;
      at.name = c.str(spec::kMaxKey, where + " attribute name");
      const std::string aw = where + " attribute " + quoted(at.name);
      if (!seen.insert(at.name).second) c.fail(where + ": duplicate attribute " + quoted(at.name));
      at.type = c.u8(aw + " type");
      switch (at.type) {
        case spec::kAttrInt: at.i = c.i64(aw); break;
        case spec::kAttrFloat: at.f = c.get<float>(aw); break;
        case spec::kAttrInts: at.ints = c.array<int64_t>(c.count(spec::kMaxList, aw + " length"), aw); break;
        case spec::kAttrFloats: at.floats = c.array<float>(c.count(spec::kMaxList, aw + " length"), aw); break;
        case spec::kAttrString: at.s = c.str(spec::kMaxBlob, aw, true); break;
        case spec::kAttrStrings: {
          // No reserve from the count: each string takes at least its 4-byte length, so the section's end bounds it.
          const uint32_t n = c.count(spec::kMaxList, aw + " length");
          for (uint32_t k = 0; k < n; ++k) at.strings.push_back(c.str(spec::kMaxBlob, aw, true));
          break;
        }
        case spec::kAttrTensor:
          at.tensor = c.u32(aw);
          if (at.tensor >= tensors_.size()) c.fail(aw + ": tensor index " + to_string(at.tensor) + " out of range");
          break;
        default: c.fail(aw + ": unknown attribute type " + to_string(at.type));
      }
      node.attrs.push_back(std::move(at));
    }
    g.nodes.push_back(std::move(node));
  }
  c.finish();
  for (uint32_t v = 0; v < nv; ++v)
    if (!defined[v]) c.fail("value " + to_string(v) + " (" + quoted(g.values[v].name) + ") is never defined");
  auto matches = [&](const std::vector<uint32_t>& ids, const std::vector<IoDesc>& io) {
    bool ok = ids.size() == io.size();
    for (size_t i = 0; ok && i < ids.size(); ++i) ok = g.values[ids[i]].name == io[i].name;
    return ok;
  };
  if (!matches(g.inputs, meta_.inputs)) c.fail("graph inputs do not match the META inputs");
  if (!matches(g.outputs, meta_.outputs)) c.fail("graph outputs do not match the META outputs");
}

int Model::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : int(it->second);
}

}  // namespace pyrt
