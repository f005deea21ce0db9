"""The layers of csrc/ include only downwards (ARCHITECTURE.md): python -> capi -> core -> ops -> compute ->
kernels, format beside core. Kernels are leaves (no threads, no graph, no file format); the format reader gets
its CRC and decode functions from the layer above instead of reaching into the kernel tables; command-line
tools use the public C API only. This reads every #include under csrc/ and names each one that points the
wrong way."""
import pathlib
import re

CSRC = pathlib.Path(__file__).resolve().parents[2] / "csrc"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# Which top-level folders of csrc/ each layer may include (besides its own). base/ is the bottom every layer
# may include: dependency-free headers (errors, overflow-checked arithmetic, the format's scalar codecs).
ALLOWED = {
    "base": set(),
    "kernels": {"base"},
    "compute": {"base", "kernels"},
    "format": {"base"},
    "ops": {"base", "core", "format", "compute", "kernels"},
    "core": {"base", "format", "ops", "compute", "kernels"},
    "capi": {"base", "include", "core", "format", "ops", "compute", "kernels"},
    "python": {"base", "core", "format", "ops", "compute", "kernels"},
    "tools": {"include"},
    "include": set(),
}


def includes():
    for path in sorted(CSRC.rglob("*")):
        if path.suffix not in (".h", ".cc", ".hpp", ".c"):
            continue
        layer = path.relative_to(CSRC).parts[0]
        for inc in INCLUDE.findall(path.read_text()):
            yield path.relative_to(CSRC), layer, inc


def target_layer(inc: str) -> str:
    top = inc.split("/")[0]
    return "include" if top == "pyrt" else top


def test_every_layer_is_known():
    layers = {p.name for p in CSRC.iterdir() if p.is_dir()}
    assert layers == set(ALLOWED), f"csrc/ has layers {sorted(layers)}; ALLOWED names {sorted(ALLOWED)}"


def test_includes_point_down():
    wrong = []
    for path, layer, inc in includes():
        target = target_layer(inc)
        if target == layer:
            continue
        if target not in ALLOWED[layer]:
            wrong.append(f"{path}: #include \"{inc}\" ({layer} -> {target})")
    assert not wrong, "includes against the layering:\n" + "\n".join(wrong)


def test_the_rules_of_the_issue_hold():
    # Spelled out once more, as the structure issue states them.
    for path, layer, inc in includes():
        target = target_layer(inc)
        if layer == "kernels":
            assert target not in ("core", "ops", "format", "compute"), f"{path} includes {inc}: kernels are leaves"
        if layer == "format":
            assert target not in ("kernels", "compute", "ops"), f"{path} includes {inc}: format is beside core"
        if layer == "base":
            assert target == "base", f"{path} includes {inc}: base depends on nothing"
        if layer == "tools":
            assert target in ("include", "tools"), f"{path} includes {inc}: tools use the public headers only"
