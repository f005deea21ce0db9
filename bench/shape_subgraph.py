#!/usr/bin/env python3
"""What computing shapes in the graph costs per run: a BERT-class encoder (transformers BertModel from a config,
random weights, seed 0: 4 layers, 256 wide, 4 heads, 1024 intermediate) exported twice from the same weights,
 - static: dynamic_batch=False, so the exporter folds every Shape -> Gather -> Concat -> Reshape to constants;
 - dynamic: batch and sequence dynamic (the default plus dynamic_axes), so those shape subgraphs stay in the file
   and the runtime computes them when it plans a shape set (once; run() skips them),
both run at the same input shape (batch 1, 128 tokens) in alternating rounds; ONNX Runtime runs the dynamic
model's ONNX graph in the same process for scale. Per-run time is the median of a round, best of the rounds.

    python3 bench/shape_subgraph.py [--no-write] [--threads 2] [--rounds 5]

Replaces the section "## Shape subgraphs" of bench/RESULTS.md.
"""
import argparse, datetime, os, sys, tempfile, warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_models import bert_encoder  # noqa: E402
from results import machine, median_ms, write_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    import pyruntime
    from pyruntime.exporters.torch_frontend import to_onnx_bytes
    torch.manual_seed(0)
    model = bert_encoder(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=1024, max_position_embeddings=512)
    x = torch.randint(0, 1000, (1, 128))
    tmp = tempfile.mkdtemp()
    static, dynamic = os.path.join(tmp, "static.pyrt"), os.path.join(tmp, "dynamic.pyrt")
    pyruntime.export(model, x, static, dynamic_batch=False)
    pyruntime.export(model, x, dynamic, dynamic_axes={"input": [1], "output": [1]})
    ss = pyruntime.Session(static, num_threads=a.threads)
    sd = pyruntime.Session(dynamic, num_threads=a.threads)
    feed = x.numpy()
    np.testing.assert_allclose(ss.run(feed)[0], sd.run(feed)[0], rtol=1e-5, atol=1e-5)
    at_plan = sum(r["kernel"].startswith("at-plan:") for r in sd.describe())
    nodes_static, nodes_dynamic = len(ss.describe()), len(sd.describe())
    engines = {"pyruntime static": lambda: ss.run(feed), "pyruntime dynamic": lambda: sd.run(feed)}
    try:
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = a.threads
        blob = to_onnx_bytes(model, x, dynamic_axes={"input": [1], "output": [1]})
        so = ort.InferenceSession(blob, o, providers=["CPUExecutionProvider"])
        engines["onnxruntime dynamic"] = lambda: so.run(None, {"input": feed})
    except ImportError:
        pass
    best = {k: float("inf") for k in engines}
    for _ in range(a.rounds):   # interleaved rounds: drift on a shared machine hits every engine alike
        for k, fn in engines.items():
            fn()
            best[k] = min(best[k], median_ms(fn, a.runs))
    ratio = best["pyruntime dynamic"] / best["pyruntime static"]
    lines = [f"| {k} | {v:.3f} |" for k, v in best.items()]
    section = "\n".join([
        "## Shape subgraphs",
        "",
        f"{datetime.date.today()}, `python3 bench/shape_subgraph.py --threads {a.threads} --rounds {a.rounds}`. "
        f"{machine()}, {a.threads} threads.",
        "",
        f"BERT-class encoder (4 layers, 256 wide), batch 1 x 128 tokens. The static file has {nodes_static} nodes; "
        f"the dynamic one {nodes_dynamic}, of which {at_plan} (Shape, Gather, Concat, ...) run when a shape set "
        f"is planned and are skipped by run().",
        "",
        "| engine | ms per run (best median) |",
        "|---|---|",
        *lines,
        "",
        f"dynamic / static: **{ratio:.3f}** (1.0 = the shape subgraph costs nothing per run).",
    ])
    print(section)
    if not a.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
