"""The README's "which mode when" table, made from bench/RESULTS.md (never typed by hand): file size and top-1
agreement from "Compression: fidelity and size" (bench/compression.py), latency from "EfficientNet-Lite0 per weight
mode" (bench/weight_modes.py), with the machines and dates those runs name.

    python3 bench/readme_modes.py            # print the table
    python3 bench/readme_modes.py --write    # put it into README.md between its markers

tests/python/test_packaging.py checks that the README's table is what this makes from RESULTS.md.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
BEGIN, END = "<!-- modes:begin (bench/readme_modes.py --write) -->", "<!-- modes:end -->"

# (mode as the README names it, its row in the compression table, its row in the per-mode table, when to use it,
#  how to ask for it)
MODES = [
    ("fp32", "fp32", "fp32", "the reference; small models, or when every logit matters",
     "`export(model, example, path)`"),
    ("static int8", "int8 static (minmax)", "static int8",
     "CNNs, with a few representative inputs to calibrate on: the fastest, a quarter of the size",
     "`quantize=\"int8\", calibration=calib`"),
    ("int8 weights", "int8 weights", "int8-weights",
     "no calibration data, or activations that vary (transformers, audio): int8 weights, activations quantized "
     "per row as they come", "`quantize=\"int8-weights\"`"),
    ("int4 (g32)", "int4 g32", "int4 (g32)",
     "decoders and other Linear-heavy models, where memory decides; a CNN loses answers without "
     "calibration-based rounding (issue 22)", "`quantize=\"int4\", group_size=32`"),
    ("16 shared values", "shared 16 values", "shared 16 values",
     "between int8 and int4 in size, with a per-channel codebook", "`weight_sharing=16`"),
    ("pruned 80%, csr", None, "pruned 80%, csr",
     "a model pruned (and fine-tuned: `pyruntime.compress`) to high sparsity: a smaller file; the sparse kernels "
     "break even near 80% and pay above it (RESULTS: \"Sparse execution\")", "`prune=0.8`"),
]


def section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        raise SystemExit(f"bench/RESULTS.md has no section '## {title}'")
    return m.group(1)


def rows(body: str) -> list:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def provenance(body: str) -> str:
    cmd = re.search(r"^Command: `([^`]+)` — (\S+)", body, re.M)
    machine = re.search(r"^Machine: ([^,]+)", body, re.M)
    return f"`{cmd.group(1)}` ({cmd.group(2)}, {machine.group(1).strip()})"


def table(results_text: str) -> str:
    comp = section(results_text, "Compression: fidelity and size")
    speed = section(results_text, "EfficientNet-Lite0 per weight mode")
    fidelity = {r[1]: r for r in rows(comp) if r[0] == "EfficientNet-Lite0"}
    timing = {r[0]: r for r in rows(speed)}
    out = ["| mode | file MiB | top-1 agreement with fp32 (60 photos) | 1 thread ms (vs fp32) | "
           "2 threads ms (vs fp32) | when | at export |", "|---|---|---|---|---|---|---|"]
    for name, fid_row, speed_row, when, how in MODES:
        t = timing.get(speed_row)
        f = fidelity.get(fid_row) if fid_row else None
        if t is None or (fid_row and f is None):
            raise SystemExit(f"bench/RESULTS.md lacks the row for {name!r}")
        agree = f[5] if f else "not measured (pruning without fine-tuning)"
        out.append(f"| {name} | {t[1]} | {agree} | {t[2]} ({t[3]}) | {t[4]} ({t[5]}) | {when} | {how} |")
    out.append("")
    out.append(f"EfficientNet-Lite0, trained weights, batch 1. Size and agreement: {provenance(comp)}; latency: "
               f"{provenance(speed)}; from `bench/RESULTS.md`.")
    return "\n".join(out)


def readme_block(readme_text: str) -> str:
    i, j = readme_text.find(BEGIN), readme_text.find(END)
    if i < 0 or j < i:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    return readme_text[i + len(BEGIN):j].strip("\n")


def main(argv) -> int:
    with open(os.path.join(HERE, "RESULTS.md")) as f:
        t = table(f.read())
    if argv[1:] != ["--write"]:
        print(t)
        return 0
    with open(README) as f:
        text = f.read()
    old = readme_block(text)
    text = text.replace(old, t, 1) if old else text.replace(BEGIN + "\n", BEGIN + "\n" + t + "\n", 1)
    with open(README, "w") as f:
        f.write(text)
    print(f"wrote the table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
