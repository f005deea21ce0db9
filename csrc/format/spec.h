// Constants of the .pyrt format 1.0. formats/SPEC.md is the source of truth; pyruntime/format/spec.py mirrors
// this file.
#pragma once
#include <cstdint>

namespace pyrt::spec {

constexpr uint8_t kMagic[8] = {'P', 'Y', 'R', 'T', 0x00, 0x0D, 0x0A, 0x1A};
constexpr uint16_t kMajor = 1;
constexpr uint16_t kMinor = 0;
constexpr uint32_t kHeaderSize = 64;
constexpr uint32_t kSectionEntrySize = 32;
constexpr uint64_t kAlign = 64;

enum Feature : uint64_t { kFeatCsr = 1, kFeatInt4 = 2, kFeatLut = 4, kFeatF16 = 8, kFeatI8g = 16 };
constexpr uint64_t kKnownRequired = kFeatCsr | kFeatInt4 | kFeatLut | kFeatF16 | kFeatI8g;
constexpr uint64_t kOptPrepacked = 1;

enum SectionKind : uint32_t { kSecMeta = 1, kSecTensors = 2, kSecGraph = 3, kSecData = 4 };
constexpr uint32_t kSectionRequired = 1;
constexpr uint32_t kMaxSections = 64;

// 8..13 (format 1.3): the element types models carry at their edges and in index / mask arithmetic; ops
// compute in f32 and the integer types, and move or convert the others.
// 14: text. Only graph inputs, outputs and the values between ops have it; no tensor of the file does. In
// memory an element is a 16-byte handle (core/tensor.h StringRef) to bytes held elsewhere, so ops that only
// move elements move handles.
enum DType : uint8_t {
  kF32 = 1, kF16 = 2, kI8 = 3, kU8 = 4, kI32 = 5, kI64 = 6, kBool = 7,
  kF64 = 8, kI16 = 9, kU16 = 10, kU32 = 11, kU64 = 12, kBF16 = 13, kString = 14
};
inline bool valid_dtype(uint32_t d) { return d >= kF32 && d <= kString; }
inline uint32_t dtype_size(uint8_t d) {
  switch (d) {
    case kString: return 16;
    case kF32: case kI32: case kU32: return 4;
    case kF16: case kI16: case kU16: case kBF16: return 2;
    case kI64: case kU64: case kF64: return 8;
    default: return 1;
  }
}
const char* dtype_name(uint8_t d);

enum Encoding : uint8_t { kDense = 1, kEncI8 = 2, kEncI4 = 3, kCsr = 4, kLut = 5, kEncI8g = 6 };
const char* encoding_name(uint8_t e);

// kCsrS8: the i8 elements of a logical-i8 tensor as stored (the weights of the integer operators), no scales.
enum CsrValues : uint8_t { kCsrF32 = 1, kCsrI8 = 2, kCsrI4 = 3, kCsrS8 = 4 };
enum ScaleDType : uint8_t { kScaleF32 = 1, kScaleF16 = 2 };
enum AttrType : uint8_t { kAttrInt = 1, kAttrFloat = 2, kAttrInts = 3, kAttrFloats = 4, kAttrString = 5,
                          kAttrTensor = 6, kAttrStrings = 7 };
enum PropType : uint8_t { kPropString = 1, kPropInt = 2, kPropFloat = 3, kPropBytes = 4 };

constexpr uint32_t kMaxRank = 8;
constexpr uint64_t kMaxDim = uint64_t(1) << 40;
constexpr uint64_t kMaxNumel = uint64_t(1) << 40;
constexpr uint32_t kMaxName = 4096;
constexpr uint32_t kMaxProducer = 256;
constexpr uint32_t kMaxKey = 256;
constexpr uint32_t kMaxBlob = 1u << 20;
constexpr uint32_t kMaxIo = 4096;
constexpr uint32_t kMaxProps = 4096;
constexpr uint32_t kMaxTensors = 1u << 20;
constexpr uint32_t kMaxLayouts = 8;
// Layout ids (SPEC §6.6, formats/CHANGELOG.md). 1: a kernel's packed form of the tensor; its param is the CRC32C
// of the form's key (the transformation and the arrangement, e.g. "gemm.B.t1.alpha0x1p+0|f32-panels.32x256").
constexpr uint32_t kLayoutPacked = 1;
constexpr uint32_t kMaxValues = 1u << 24;
constexpr uint32_t kMaxNodes = 1u << 24;
constexpr uint32_t kMaxNodeIo = 4096;
constexpr uint32_t kMaxAttrs = 1024;
constexpr uint32_t kMaxOpType = 128;
constexpr uint32_t kMaxList = 1u << 20;
constexpr uint32_t kNoValue = 0xFFFFFFFFu;
constexpr uint8_t kUnknownRank = 255;
constexpr uint32_t kMinGroup = 16, kMaxGroup = 65536;

}  // namespace pyrt::spec
