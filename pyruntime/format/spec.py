"""Constants of the .pyrt format, version 1.0 (formats/SPEC.md is the source of truth). They mirror
csrc/format/spec.h; tests/python/test_spec_constants.py checks every one against that header."""

MAGIC = b"PYRT\x00\r\n\x1a"
MAJOR = 1
MINOR = 0
HEADER_SIZE = 64
SECTION_ENTRY_SIZE = 32
EXTENT_SIZE = 24
LAYOUT_SIZE = 32
ALIGN = 64

# required feature bits (SPEC §2.1)
FEAT_CSR = 1 << 0
FEAT_INT4 = 1 << 1
FEAT_LUT = 1 << 2
FEAT_F16 = 1 << 3
FEAT_I8G = 1 << 4
KNOWN_REQUIRED = FEAT_CSR | FEAT_INT4 | FEAT_LUT | FEAT_F16 | FEAT_I8G
FEATURE_NAMES = {FEAT_CSR: "CSR", FEAT_INT4: "INT4", FEAT_LUT: "LUT", FEAT_F16: "F16", FEAT_I8G: "I8G"}
# optional feature bits
OPT_PREPACKED = 1 << 0

# section kinds (SPEC §3.1)
SEC_META = 1
SEC_TENSORS = 2
SEC_GRAPH = 3
SEC_DATA = 4
SECTION_NAMES = {SEC_META: "META", SEC_TENSORS: "TENSORS", SEC_GRAPH: "GRAPH", SEC_DATA: "DATA"}
SECTION_FLAG_REQUIRED = 1
MAX_SECTIONS = 64

# dtypes (SPEC §4)
DT_F32, DT_F16, DT_I8, DT_U8, DT_I32, DT_I64, DT_BOOL = 1, 2, 3, 4, 5, 6, 7
DT_F64, DT_I16, DT_U16, DT_U32, DT_U64, DT_BF16 = 8, 9, 10, 11, 12, 13
DT_STRING = 14   # graph inputs / outputs / values only, never a stored tensor; 16-byte handles in memory
DTYPE_NAMES = {DT_F32: "f32", DT_F16: "f16", DT_I8: "i8", DT_U8: "u8", DT_I32: "i32", DT_I64: "i64",
               DT_BOOL: "bool", DT_F64: "f64", DT_I16: "i16", DT_U16: "u16", DT_U32: "u32", DT_U64: "u64",
               DT_BF16: "bf16", DT_STRING: "string"}
DTYPE_IDS = {v: k for k, v in DTYPE_NAMES.items()}
DTYPE_SIZES = {DT_F32: 4, DT_F16: 2, DT_I8: 1, DT_U8: 1, DT_I32: 4, DT_I64: 8, DT_BOOL: 1, DT_F64: 8, DT_I16: 2,
               DT_U16: 2, DT_U32: 4, DT_U64: 8, DT_BF16: 2, DT_STRING: 16}
DTYPE_NUMPY = {DT_F32: "<f4", DT_F16: "<f2", DT_I8: "i1", DT_U8: "u1", DT_I32: "<i4", DT_I64: "<i8",
               DT_BOOL: "u1", DT_F64: "<f8", DT_I16: "<i2", DT_U16: "<u2", DT_U32: "<u4", DT_U64: "<u8",
               DT_BF16: "<u2"}   # bf16: its bits

# encodings (SPEC §6.1)
ENC_DENSE, ENC_I8, ENC_I4, ENC_CSR, ENC_LUT, ENC_I8G = 1, 2, 3, 4, 5, 6
ENCODING_NAMES = {ENC_DENSE: "dense", ENC_I8: "i8", ENC_I4: "i4", ENC_CSR: "csr", ENC_LUT: "lut", ENC_I8G: "i8g"}
ENCODING_IDS = {v: k for k, v in ENCODING_NAMES.items()}

# csr value encodings
CSR_F32, CSR_I8, CSR_I4, CSR_S8 = 1, 2, 3, 4   # s8: the i8 elements of a logical-i8 tensor, no scales
CSR_VALUE_NAMES = {CSR_F32: "f32", CSR_I8: "i8", CSR_I4: "i4", CSR_S8: "s8"}
CSR_BLOCK_SIZES = (1, 2, 4, 8)
# scale dtypes (i4 scales, lut codebooks)
SCALE_F32, SCALE_F16 = 1, 2

# attribute types (SPEC §7)
ATTR_INT, ATTR_FLOAT, ATTR_INTS, ATTR_FLOATS, ATTR_STRING, ATTR_TENSOR, ATTR_STRINGS = 1, 2, 3, 4, 5, 6, 7
# metadata property types (SPEC §5)
PROP_STRING, PROP_INT, PROP_FLOAT, PROP_BYTES = 1, 2, 3, 4

# caps (SPEC §4, §5, §6, §7)
MAX_RANK = 8
MAX_DIM = 1 << 40
MAX_NUMEL = 1 << 40
MAX_NAME = 4096
MAX_PRODUCER = 256
MAX_KEY = 256
MAX_BLOB = 1 << 20
MAX_IO = 4096
MAX_PROPS = 4096
MAX_TENSORS = 1 << 20
MAX_LAYOUTS = 8
LAYOUT_PACKED = 1          # layout ids (SPEC §6.6): 1, a kernel's packed form; param = CRC32C of its key
MAX_VALUES = 1 << 24
MAX_NODES = 1 << 24
MAX_NODE_IO = 4096
MAX_ATTRS = 1024
MAX_OP_TYPE = 128
MAX_LIST = 1 << 20
NO_VALUE = 0xFFFFFFFF
UNKNOWN_RANK = 255
MIN_GROUP, MAX_GROUP = 16, 65536
