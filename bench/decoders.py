"""Decoder families (exporters/decoders.py) against transformers: greedy tokens, logits, and next-token agreement
of the compressed modes, on the tiny random configs of tests/python/test_decoder_families.py.

    python3 bench/decoders.py [--no-write]

Per family: whether 64 greedy tokens equal transformers' generate (fp32), the largest logit difference over
the 76-token sequence, and for int8-weights and int4 (g32) the share of positions whose next token
(argmax, teacher-forced on transformers' sequence) equals transformers' fp32 one — on that greedy sequence and
on 128 random tokens. Random weights have small margins between the top logits, so this is a harsh test of
low-bit modes: trained models keep more (bench/char_gpt.py)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
    import torch
    import pyruntime
    from pyruntime.exporters.gpt import export_gpt
    from test_decoder_families import FAMILIES, PROMPT, all_logits, hf_greedy, tiny
    d = tempfile.mkdtemp(prefix="decoders_")
    rows = []
    rnd = np.random.default_rng(0).integers(0, 97, 128)
    for fam in sorted(FAMILIES):
        m = tiny(fam)
        ref = hf_greedy(m)
        with torch.no_grad():
            want = {"greedy": m(torch.tensor(ref[None])).logits[0].numpy(),
                    "random": m(torch.tensor(rnd[None])).logits[0].numpy()}
        path = os.path.join(d, "m.pyrt")
        export_gpt(m, path)
        same = bool((pyruntime.Generator(path).generate(PROMPT, 64) == ref).all())
        export_gpt(m, path, logits="all")
        err = float(np.abs(all_logits(path, ref) - want["greedy"]).max())
        cells = []
        for q in ("int8-weights", "int4"):
            export_gpt(m, path, logits="all", quantize=q)
            for seq, ids in (("greedy", ref), ("random", rnd)):
                cells.append(float((all_logits(path, ids).argmax(-1) == want[seq].argmax(-1)).mean()))
        cfg = m.config
        kv = getattr(cfg, "num_key_value_heads", None) or getattr(cfg, "num_attention_heads", None) or cfg.n_head
        rows.append(f"| {fam} | {kv} | {'yes' if same else 'no'} | {err:.1e} | "
                    + " | ".join(f"{100 * c:.1f}%" for c in cells) + " |")
        print(rows[-1], flush=True)
    sys.path.insert(0, HERE)
    from results import cpu_model, write_section
    body = ("## Decoder families against transformers\n\n"
            f"Command: `python3 bench/decoders.py`  \nMachine: {cpu_model()}\n\n"
            "Tiny random configs (tests/python/test_decoder_families.py: 3 layers, 64 wide, 4 query heads, vocabulary "
            "97, each family's own features switched on; weights drawn N(0, 0.05)), exported with export_gpt from "
            "the transformers model object. Greedy: 64 new tokens after a 12-token prompt, equal to transformers' "
            "`generate` (fp32). Logit error: the largest |difference| over the 76-token sequence. Agreement: the "
            "share of positions whose next token (teacher-forced) is transformers' fp32 one, on the greedy sequence "
            "(76 positions) and on 128 random tokens. Random weights leave small margins between the top logits: "
            "a harsh test of low-bit modes.\n\n"
            "| family | KV heads | 64 greedy tokens equal | max logit error | int8-weights, greedy seq. | "
            "int8-weights, random seq. | int4 g32, greedy seq. | int4 g32, random seq. |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(body)
    if not a.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
