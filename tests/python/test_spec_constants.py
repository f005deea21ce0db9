"""pyruntime/format/spec.py mirrors csrc/format/spec.h by hand: every constant of the header is checked here,
and the Python encodings registry against the C++ one.

The header is parsed as text rather than exposed through the native module: it is the source the C++ reader
compiles from, so parsing it checks every constant (a new one without a Python mirror fails here) without a
hand-written binding per constant, which would be one more copy to drift. The encodings' traits are data the
C++ code builds at run time, so those come from pyruntime._core.encodings()."""
import re
from pathlib import Path

import numpy as np
import pytest

from pyruntime.format import spec
from pyruntime.format.encodings import REGISTRY

HEADER = Path(__file__).resolve().parents[2] / "csrc" / "format" / "spec.h"
# C++ names whose Python name is not the mechanical one (kCamelCase -> CAMEL_CASE, enum prefixes below).
RENAMED = {"kSectionRequired": "SECTION_FLAG_REQUIRED"}
# Python-side prefix of each enum's members: DType kF32 -> DT_F32, Encoding kDense / kEncI8 -> ENC_DENSE / ENC_I8.
ENUM_PREFIX = {"DType": "DT_", "Encoding": "ENC_"}


def _python_name(cpp: str, enum: str | None) -> str:
    if cpp in RENAMED:
        return RENAMED[cpp]
    stem = cpp[1:]
    prefix = ENUM_PREFIX.get(enum, "")
    if prefix == "ENC_" and stem.startswith("Enc"):
        stem = stem[3:]
    return prefix + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).upper()


def _value(expr: str, env: dict):
    expr = re.sub(r"\b(?:uint(?:8|16|32|64)_t)\((\w+)\)", r"\1", expr)      # uint64_t(1) -> 1
    expr = re.sub(r"\b(0x[0-9A-Fa-f]+|\d+)[uU]?(?:ll|LL|ull|ULL)?\b", r"\1", expr)
    return eval(expr, {"__builtins__": {}}, env)                            # our own header's integer expressions


def header_constants() -> dict:
    """{C++ name: (value, enum name or None)} of every constexpr and enum member in spec.h."""
    text = re.sub(r"//[^\n]*", "", HEADER.read_text())
    out, env = {}, {}
    for name, members in re.findall(r"enum\s+(\w+)\s*:\s*\w+\s*\{([^}]*)\}", text):
        for m in members.split(","):
            k, v = (s.strip() for s in m.split("="))
            env[k] = _value(v, env)
            out[k] = (env[k], name)
    for decl in re.findall(r"constexpr\s+[\w:]+\s+([^;]+);", text):
        if decl.startswith("kMagic"):
            chars = re.search(r"\{([^}]*)\}", decl).group(1).split(",")
            out["kMagic"] = (bytes(ord(c.strip()[1]) if "'" in c else int(c, 0) for c in chars), None)
            continue
        for part in decl.split(","):
            k, v = (s.strip() for s in part.split("="))
            env[k] = _value(v, env)
            out[k] = (env[k], None)
    return out


def test_header_parses_to_every_kind_of_constant():
    c = header_constants()
    assert c["kMagic"][0] == b"PYRT\x00\r\n\x1a"
    assert c["kKnownRequired"][0] == 0x1F and c["kMaxDim"][0] == 1 << 40 and c["kMaxGroup"][0] == 65536
    assert c["kEncI4"] == (3, "Encoding") and c["kAttrTensor"] == (6, "AttrType")
    assert len(c) > 60


@pytest.mark.parametrize("cpp,value,enum", [(k, v, e) for k, (v, e) in header_constants().items()])
def test_python_constant_matches_header(cpp, value, enum):
    name = _python_name(cpp, enum)
    assert hasattr(spec, name), f"spec.h {cpp} has no mirror {name} in pyruntime/format/spec.py"
    assert getattr(spec, name) == value, f"spec.py {name} = {getattr(spec, name)!r}, spec.h {cpp} = {value!r}"


def test_python_enum_sets_have_no_extra_members():
    """Each Python group of ids is exactly its C++ enum (a member added on one side only fails)."""
    c = header_constants()
    groups = {"DType": spec.DTYPE_NAMES, "Encoding": spec.ENCODING_NAMES, "CsrValues": spec.CSR_VALUE_NAMES,
              "SectionKind": spec.SECTION_NAMES, "Feature": spec.FEATURE_NAMES}
    for enum, names in groups.items():
        assert set(names) == {v for v, e in c.values() if e == enum}, enum


def test_encodings_registry_matches_cpp_and_spec():
    core = pytest.importorskip("pyruntime._core")
    cpp = {e["id"]: e["name"] for e in core.encodings()}
    assert cpp == {i: m.NAME for i, m in REGISTRY.items()} == spec.ENCODING_NAMES
    assert {m.ID for m in REGISTRY.values()} == set(REGISTRY)


@pytest.mark.parametrize("enc", sorted(REGISTRY))
def test_each_module_encodes_its_own_id_and_params_size(enc):
    m = REGISTRY[enc]
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
    e = m.encode(x)
    assert e.encoding == m.ID and len(e.params) == m.PARAMS_SIZE
