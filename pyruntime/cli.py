"""The `pyruntime` command: `inspect`, `demo`, `export`, `run` and `bench` (`pyruntime -h`)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def inspect_table(model) -> str:
    """The tensor table of `pyruntime inspect`: one row per tensor, then totals."""
    import numpy as np
    rows = [("tensor", "shape", "dtype", "encoding", "bits/value", "bytes", "sparsity", "vs f32")]
    total = total_f32 = 0
    for t in model.tensors:
        sp = None
        if t.dtype == "f32" and t.numel:                  # zeros in the decoded tensor (also checks its data)
            sp = 1.0 - np.count_nonzero(model.tensor(t.name)) / t.numel
        ratio = f"{t.f32_bytes / t.nbytes:.2f}x" if t.nbytes and t.dtype == "f32" else "-"
        rows.append((t.name, "x".join(str(d) for d in t.shape) or "scalar", t.dtype,
                     f"{t.encoding} {t.detail}".strip(), f"{8 * t.nbytes / t.numel:.2f}" if t.numel else "-",
                     f"{t.nbytes:,}",
                     "-" if sp is None else f"{100 * sp:.{1 if sp < 0.999 else 3}f}%", ratio))
        total += t.nbytes
        total_f32 += t.f32_bytes if t.dtype == "f32" else t.nbytes
    rows.append(("total", f"{len(model.tensors)} tensors", "", "", "", f"{total:,}", "",
                 f"{total_f32 / total:.2f}x" if total else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6, 7}
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0 or k == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def quantized_layers_table(model) -> str:
    """Static int8 files: one row per integer weight layer (QLinearConv, QGemm): weight bits and bytes, the
    range of its per-channel scales, and the u8 (scale, zero point) of its input and output. Empty otherwise."""
    import numpy as np
    g = model.graph()
    if g is None:
        return ""
    const = {v: model.tensors[t] for v, t in g["consts"]}

    def arr(v):
        return model.tensor(const[v].name) if v in const else None

    def qp(s, z):
        sv, zv = arr(s), arr(z) if z is not None else None
        if sv is None:
            return "f32"
        return f"{float(sv.reshape(-1)[0]):.4g}/{int(zv.reshape(-1)[0]) if zv is not None else 0}"

    rows = [("layer", "op", "weight", "bits", "w scales (min..max)", "in scale/zp", "out scale/zp", "bytes")]
    total = 0
    for n in g["nodes"]:
        if n["op_type"] not in ("QLinearConv", "QGemm"):
            continue
        ins = n["inputs"] + [None] * (9 - len(n["inputs"]))
        w = const.get(ins[3])
        ws = arr(ins[4])
        nbytes = sum(const[v].nbytes for v in (ins[3], ins[4], ins[8] if n["op_type"] == "QLinearConv" else ins[6])
                     if v in const)
        total += nbytes
        out = qp(ins[6], ins[7]) if n["op_type"] == "QLinearConv" else qp(ins[7], ins[8])
        rows.append((n["name"] or "-", n["op_type"], "x".join(str(d) for d in w.shape) if w else "?",
                     "8" if w and w.dtype == "i8" else "?",
                     f"{float(np.min(ws)):.3g}..{float(np.max(ws)):.3g}" if ws is not None else "-",
                     qp(ins[1], ins[2]), out, f"{nbytes:,}"))
    if len(rows) == 1:
        return ""
    rows.append(("total", f"{len(rows) - 1} layers", "", "", "", "", "", f"{total:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if i == 7 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0 or k == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def header_lines(model) -> list[str]:
    from .format import spec
    m = model.meta
    feats = [v for k, v in spec.FEATURE_NAMES.items() if model.required_features & k] or ["none"]
    lines = [f"file      {model.path} ({_fmt_bytes(os.path.getsize(model.path))})",
             f"format    {model.version[0]}.{model.version[1]}, required features: {', '.join(feats)}",
             f"model     {m['model_name'] or '-'} (producer {m['producer'] or '-'} {m['producer_version']})"]
    for kind in ("inputs", "outputs"):
        for name, dt, shape in m[kind]:
            dims = ", ".join("?" if d < 0 else str(d) for d in shape)
            lines.append(f"{kind[:-1]:9s} {name}: {dt}[{dims}]")
    for k, v in m["props"].items():
        shown = repr(v)
        if len(shown) > 120:   # a chat template is kilobytes
            shown = f"{shown[:100]}... ({len(v)} {'characters' if isinstance(v, str) else 'bytes'})"
        lines.append(f"prop      {k} = {shown}")
    g = model.graph()
    if g is not None:
        lines.append(f"graph     {len(g['nodes'])} nodes, {len(g['values'])} values")
    packed = [t for t in model.tensors if t.layouts]
    if packed:
        n = sum(len(t.layouts) for t in packed)
        b = sum(t.layout_bytes for t in packed)
        lines.append(f"layouts   {n} pre-packed forms of {len(packed)} tensors, {_fmt_bytes(b)} beside the canonical data "
                     "(pyruntime pack --strip removes them)")
    return lines


def session_table(model) -> str:
    """What a session on this CPU makes of the weights: per node with constant inputs, the kernel that runs it,
    the weights' bytes in the file and the bytes it holds when it runs (its own repacked or decoded forms, measured
    as the heap its creation kept, plus the stored bytes it reads in place). Empty for a file without a graph."""
    from .session import Session
    g = model.graph()
    if g is None:
        return ""
    try:
        s = Session(model, num_threads=1)
    except Exception as e:  # the tables above still stand; say why this one is missing
        return f"in a session on this CPU: not made ({type(e).__name__}: {e})"
    const = {v: model.tensors[t].name for v, t in g["consts"]}
    rows = [("node", "op", "kernel", "weights", "at rest", "resident", "resident / at rest")]
    rest = held = 0
    unknown = False
    for n, d in zip(g["nodes"], s.describe()):
        if not d["stored_bytes"]:
            continue
        names = [const[v] for v in n["inputs"] if v in const]
        r = d["resident_bytes"]
        unknown |= r is None
        rest += d["stored_bytes"]
        held += r or 0
        rows.append((d["name"] or "-", d["op_type"], d["kernel"], names[0] + (f" (+{len(names) - 1})" if len(names) > 1
                                                                               else ""),
                     f"{d['stored_bytes']:,}", "?" if r is None else f"{r:,}",
                     "?" if r is None else f"{r / d['stored_bytes']:.2f}x"))
    if len(rows) == 1:
        return ""
    rows.append(("total", f"{len(rows) - 1} nodes", "", "", f"{rest:,}", "?" if unknown else f"{held:,}",
                 "?" if unknown else f"{held / rest:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [f"in a session on this CPU (kernels {s.isa}, 1 thread; activations: {s.arena_bytes:,} bytes of arena)"]
    for k, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0 or k == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    out.append("weight forms: " + s.packing()["text"])
    return "\n".join(out)


def cmd_inspect(args) -> int:
    from . import load
    model = load(args.model, verify="full" if args.verify else "lazy")
    print("\n".join(header_lines(model)))
    q = quantized_layers_table(model)
    if q:
        print("\nint8 layers (u8 activations, s8 weights per output channel)\n" + q)
    print()
    print(inspect_table(model))
    if not args.no_session:
        t = session_table(model)
        if t:
            print()
            print(t)
    return 0


def demo_writer():
    """A small model with one tensor per encoding, built from a fixed seed."""
    import numpy as np
    from .format import Writer
    rng = np.random.default_rng(0)
    w = Writer(model_name="encodings-demo")
    base = rng.standard_normal((256, 512)).astype(np.float32)
    pruned = base.copy()
    pruned[np.abs(pruned) < np.quantile(np.abs(pruned), 0.9)] = 0       # 90% unstructured sparsity
    w.add_tensor("fc.f32", base)
    w.add_tensor("fc.f16", base, "f16")
    w.add_tensor("fc.i8", base, "i8", axis=0)
    w.add_tensor("fc.i4", base, "i4", group_size=32)
    w.add_tensor("fc.lut16", base, "lut", k=16)
    w.add_tensor("fc.csr90.f32", pruned, "csr")
    w.add_tensor("fc.csr90.i8", pruned, "csr", values="i8")
    w.add_tensor("fc.csr90.i4", pruned, "csr", values="i4", group_size=32)
    return w, {"base": base, "pruned": pruned}


def cmd_demo(args) -> int:
    if args.format_only:
        return _demo_format(args)
    try:
        import torch  # noqa: F401
        from efficientnet_lite_pytorch import EfficientNet  # noqa: F401
        import skimage  # noqa: F401
    except ImportError as e:
        print(f"pyruntime demo needs the demo extras ({e.name} is missing): pip install '.[demo]'\n"
              "(or run `pyruntime demo --format-only`, which needs nothing else)", file=sys.stderr)
        return 2
    from .demo import run_demo
    return run_demo(args.output)


def _demo_format(args) -> int:
    import numpy as np
    from . import load
    w, src = demo_writer()
    path = args.output or os.path.join(tempfile.mkdtemp(prefix="pyruntime-demo-"), "demo.pyrt")
    w.save(path)
    model = load(path, verify="full")
    print("\n".join(header_lines(model)))
    print()
    print(inspect_table(model))
    print()
    print("rms error of the decoded weights relative to their rms, through the C++ reader:")
    for t in model.tensors:
        ref = src["pruned"] if "csr" in t.name else src["base"]
        err = np.sqrt(np.mean((model.tensor(t.name) - ref) ** 2)) / np.sqrt(np.mean(ref ** 2))
        print(f"  {t.name:14s} {err:.4f}")
    return 0


def _parse_shape(s: str):
    return [int(v) for v in s.split(",")]


def cmd_export(args) -> int:
    from .exporters import export, export_onnx
    t0 = time.perf_counter()
    src = args.source
    comp = {k: v for k, v in (("quantize", args.quantize), ("group_size", args.group_size),
                              ("weight_sharing", args.weight_sharing), ("keep_float", args.keep_float or []))
            if v is not None}
    if args.calibration:
        comp["calibration"] = _calibration(args.calibration)
    if args.calibration_method:
        comp["calibration_method"] = args.calibration_method
    for k in ("prune", "prune_structure", "prune_scope", "sparse"):
        if getattr(args, k) is not None:
            comp[k] = getattr(args, k)
    opts = dict(channels_last=not args.nchw, progress=True, **comp)
    if os.path.isdir(src):   # a Hugging Face checkpoint folder of a decoder: the KV-cache graph of export_gpt
        from .exporters.gpt import export_gpt
        other = sorted(k for k in comp if k not in ("quantize", "group_size", "keep_float"))
        if other or args.calibration or args.report:
            print(f"pyruntime export: a decoder checkpoint folder takes --quantize, --group-size, --keep-float, "
                  f"--max-context and --kv-cache; not {', '.join(other) or 'calibration/report'}", file=sys.stderr)
            return 2
        _progress(f"reading the checkpoint folder {src}")
        n = export_gpt(src, args.output, max_context=args.max_context, kv_cache=args.kv_cache or "f32",
                       **{k: v for k, v in comp.items() if k != "keep_float"}, keep_float=comp.get("keep_float", ()),
                       progress=True)
        blob = None
    elif args.max_context or args.kv_cache:
        print("pyruntime export: --max-context and --kv-cache are for decoder checkpoint folders", file=sys.stderr)
        return 2
    elif src.endswith(".onnx") or os.path.isfile(src):
        _progress(f"importing {src}")
        blob = src
        n = export_onnx(src, args.output, **opts)
    else:
        import torch
        if ":" not in src:
            print("pyruntime export: give an .onnx file or module:factory for a PyTorch model", file=sys.stderr)
            return 2
        from .benchmark import call_factory
        model = call_factory(src)
        if not args.input_shape:
            print("pyruntime export: PyTorch models need --input-shape (e.g. 1,3,224,224)", file=sys.stderr)
            return 2
        inputs = tuple(torch.randn(*_parse_shape(s)) for s in args.input_shape)
        _progress(f"tracing {src} on input shape(s) {', '.join(args.input_shape)}")
        n = export(model, inputs, args.output, **opts)
        if args.report:
            from .exporters.torch_frontend import to_onnx_bytes
            blob = to_onnx_bytes(model, inputs)
    if args.target:
        from .prepack import prepack
        r = prepack(args.output, None, None if args.target == "host" else args.target)
        n = r["file_bytes_after"]
        _progress(f"pre-packed {r['forms']} weight forms for {', '.join(r['targets'])} "
                  f"(+{_fmt_bytes(r['layout_bytes'])})")
    _progress(f"wrote {args.output} ({_fmt_bytes(n)}) in {time.perf_counter() - t0:.1f} s")
    if args.report:
        print(_report(blob, not args.nchw, comp))
    return 0


def _calibration(path: str) -> list:
    """--calibration: a .npy array [N, ...] (one input: N examples of batch 1) or a .npz with one [N, ...] array
    per input name."""
    import numpy as np
    data = np.load(path)
    if isinstance(data, np.ndarray):
        return [data[i:i + 1] for i in range(len(data))]
    arrs = {k: data[k] for k in data.files}
    n = min(len(a) for a in arrs.values())
    return [{k: a[i:i + 1] for k, a in arrs.items()} for i in range(n)]


def _report(onnx_model, channels_last: bool, comp: dict) -> str:
    """The per-layer sensitivity table of the graph export wrote (export.report: the same pipeline), on random
    inputs; for static int8, on the first calibration input, with the whole int8 graph's error first."""
    from .exporters import report
    from .exporters.quantize import format_report
    if not comp.get("quantize") and not comp.get("weight_sharing"):
        return "(no --report: give --quantize or --weight-sharing)"
    rows = report(onnx_model, channels_last=channels_last, **comp)
    if comp.get("quantize") == "int8":
        top1 = "" if "top1_agreement" not in rows[0] else f", top-1 agreement {rows[0]['top1_agreement']:.2f}"
        return (f"int8 graph: max abs error {rows[0]['max_abs_error']:.4g} (relative {rows[0]['relative_error']:.2e}"
                f"{top1}) on the first calibration input\nper-layer sensitivity (output error with only that layer "
                "int8; keep the worst in float with --keep-float NAME):\n" + format_report(rows[1:]))
    return ("per-layer sensitivity (output error with only that layer compressed, random inputs; keep the worst "
            "in float with --keep-float NAME):\n" + format_report(rows))


def _progress(msg: str):
    print(f"[pyruntime] {msg}", file=sys.stderr, flush=True)


def _given_inputs(args) -> dict:
    """--input name=file.npy, repeated."""
    import numpy as np
    given = {}
    for spec_ in args.input or []:
        name, _, path = spec_.partition("=")
        given[name] = np.load(path)
    return given


def cmd_convert(args) -> int:
    from .exporters.gguf import is_gguf
    from .exporters.gpt import export_gpt
    t0 = time.perf_counter()
    if not is_gguf(args.model):
        print(f"pyruntime convert: {args.model} is not a .gguf file (for ONNX, PyTorch and checkpoint folders: "
              f"pyruntime export)", file=sys.stderr)
        return 2
    out = args.output or os.path.splitext(args.model)[0] + ".pyrt"
    report: list = []
    _progress(f"reading {args.model}")
    n = export_gpt(args.model, out, max_context=args.max_context, kv_cache=args.kv_cache,
                   requantize=None if args.requantize == "refuse" else args.requantize, report=report,
                   tokenizer=args.tokenizer if args.tokenizer else None, progress=True)
    for r in report:
        _progress(f"  re-quantized {r['tensor']} ({r['type']} -> {r['encoding']}): relative RMS error "
                  f"{r['relative_rms_error']:.3g}")
    _progress(f"wrote {out} ({_fmt_bytes(n)}) in {time.perf_counter() - t0:.1f} s; F32/F16/Q8_0/Q4_0 tensors kept "
              f"exactly, {len(report)} re-quantized")
    return 0


def cmd_pack(args) -> int:
    from .prepack import prepack, strip
    if args.strip:
        r = strip(args.model, args.output)
        print(f"removed the pre-packed layouts: {_fmt_bytes(r['file_bytes_before'])} -> "
              f"{_fmt_bytes(r['file_bytes_after'])}")
        return 0
    r = prepack(args.model, args.output, args.target, keep_other=args.keep)
    print(f"pre-packed {r['forms']} weight forms for {', '.join(r['targets'])}: +{_fmt_bytes(r['layout_bytes'])}, "
          f"{_fmt_bytes(r['file_bytes_before'])} -> {_fmt_bytes(r['file_bytes_after'])}")
    for s_ in r["skipped"]:
        print(f"  not stored: {s_}")
    return 0


def cmd_generate(args) -> int:
    """Streams the text a decoder writes after a prompt, then a llama.cpp-style timing line on stderr."""
    from .benchmark import _peak_rss_kb
    from .generate import Generator
    prompt = args.prompt
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            prompt = f.read()
    if prompt is None:
        print("pyruntime generate: give a prompt with -p TEXT or -f FILE", file=sys.stderr)
        return 2
    g = Generator(args.model, num_threads=args.threads)
    pieces = g.stream(prompt, args.n_predict, temperature=args.temp, top_k=args.top_k, top_p=args.top_p,
                      seed=args.seed, chat=args.chat)
    out = sys.stdout
    if not args.no_echo and not args.chat:
        out.write(prompt)
    for piece in pieces:
        out.write(piece)
        out.flush()
    out.write("\n")
    st = g.stats
    pp, tg = st["prefill_tokens"], st["new_tokens"]

    def rate(n, s):
        return f"{n / s:.1f} tok/s" if s > 0 else "-"
    print(f"prompt: {pp} tokens in {1e3 * st['prefill_s']:.1f} ms ({rate(pp, st['prefill_s'])}) | "
          f"generation: {tg} tokens in {1e3 * st['decode_s']:.1f} ms ({rate(st['decode_tokens'], st['decode_s'])}) | "
          f"peak RSS {_peak_rss_kb() / 1024:.1f} MiB | {g.session.num_threads} thread(s)", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    import numpy as np
    from .benchmark import random_inputs
    from .session import Session
    s = Session(args.model, num_threads=args.threads)
    feeds = random_inputs(args.model, _given_inputs(args), batch=args.batch)   # pyrt_benchmark's inputs

    def run():
        if s.max_context:   # a decoder: every run the same tokens from an empty cache, as pyrt_benchmark
            s.reset_state()
        return s.run(feeds)
    outs = run()
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    for (name, _, _), o in zip(s.outputs, outs):
        flat = o.reshape(-1)
        if o.dtype == object:   # strings: no statistics
            print(f"{name}: shape {tuple(o.shape)} string, first {flat[:5].tolist()}")
            continue
        print(f"{name}: shape {tuple(o.shape)} {o.dtype}, mean {flat.mean():.6g}, min {flat.min():.6g}, "
              f"max {flat.max():.6g}, first {np.array2string(flat[:5], precision=5)}")
    if times:
        ms = np.array(times) * 1e3
        print(f"latency over {args.runs} runs ({s.num_threads} threads, isa {s.isa}): median {np.median(ms):.3f} ms, "
              f"min {ms.min():.3f} ms, max {ms.max():.3f} ms")
    return 0


def cmd_bench(args) -> int:
    from . import benchmark as B
    given = _given_inputs(args)
    shapes = {}
    for spec_ in args.input_shape or []:
        name, sep, dims = spec_.rpartition(":")
        if not sep:
            raise B.BenchError(f"--input-shape {spec_}: give NAME:d,d,...")
        shapes[name] = _parse_shape(dims)
    compare = args.compare.split(",") if args.compare else []
    report = B.bench(args.model, compare, onnx=args.onnx, torch_source=args.torch, threads=args.threads,
                     warmup=args.warmup, num_runs=args.runs, max_secs=args.max_secs, profile=args.profile,
                     given=given, shapes=shapes, batch=args.batch)
    if args.output == "json":
        print(json.dumps(report, indent=1))
    else:
        print(B.format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if not args.no_chart:
        png = args.chart or os.path.splitext(args.model)[0] + ".bench.png"
        B.chart(report, png)
        _progress(f"chart: {png}")
    return 1 if any("error" in r for r in report["results"]) else 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def info() -> dict:
    """What this installation is and what it would run here: versions, ABI, CPU, kernel tables."""
    import platform
    import sysconfig
    from . import __version__, _core
    tables = list(_core.kernel_tables())
    return {"version": __version__, "native_version": _core.__version__, "c_abi": int(_core.abi_version),
            "python": platform.python_version(), "python_abi": sysconfig.get_config_var("EXT_SUFFIX"),
            "native_module": _core.__file__, "machine": platform.machine(), "cpu": _cpu_name(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu_features": sorted(k for k, v in _core.cpu_features().items() if v),
            "kernel_tables": tables, "kernel_table": _core.isa(),
            "forced": os.environ.get("PYRT_KERNELS") or None}


def cmd_info(args) -> int:
    d = info()
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    print(f"pyruntime {d['version']} (native module {d['native_version']}, C ABI {d['c_abi']})")
    print(f"python:        {d['python']} ({d['python_abi']}), {d['native_module']}")
    print(f"cpu:           {d['cpu']} ({d['machine']}, {d['cpus']} usable)")
    print(f"features:      {' '.join(d['cpu_features']) or '(none of those the kernels use)'}")
    print(f"kernel tables: {', '.join(d['kernel_tables']) or '(none: reference kernels only)'} (best first) + ref")
    print(f"in use:        {d['kernel_table']}" + (f" (PYRT_KERNELS={d['forced']})" if d["forced"] else ""))
    return 0


def main(argv=None) -> int:
    from . import __version__
    p = argparse.ArgumentParser(prog="pyruntime", description="Compressed-model runtime tools")
    p.add_argument("--version", action="version", version=f"pyruntime {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    pn = sub.add_parser("info", help="version, ABI, CPU features and the kernel tables this CPU would use")
    pn.add_argument("--json", action="store_true", help="print it as JSON")
    pn.set_defaults(fn=cmd_info)
    pi = sub.add_parser("inspect", help="print a model's metadata and tensor table")
    pi.add_argument("model")
    pi.add_argument("--verify", action="store_true", help="check every CRC and index now")
    pi.add_argument("--no-session", action="store_true",
                    help="leave out the table of what a session on this CPU holds per node (kernels, resident bytes)")
    pi.set_defaults(fn=cmd_inspect)
    pd = sub.add_parser("demo", help="export the trained EfficientNet-Lite0, run it, print a comparison table")
    pd.add_argument("-o", "--output", help="where to write the model (default: a temporary directory)")
    pd.add_argument("--format-only", action="store_true",
                    help="instead: write a model with every weight encoding and print its tensor table")
    pd.set_defaults(fn=cmd_demo)
    pe = sub.add_parser("export", help="convert an ONNX file or a PyTorch model (module:factory) to .pyrt")
    pe.add_argument("source", help="model.onnx, module:factory returning a torch.nn.Module, or a Hugging Face "
                    "decoder checkpoint folder (config.json + safetensors: Llama, Mistral, Qwen2, Qwen3, Phi-3, "
                    "Gemma 2, GPT-NeoX, GPT-2)")
    pe.add_argument("-o", "--output", required=True)
    pe.add_argument("--input-shape", action="append", help="PyTorch: example input shape, e.g. 1,3,224,224 "
                    "(repeat for several inputs; the first dim is exported as a dynamic batch)")
    pe.add_argument("--quantize", metavar="MODE", help="int8 (static: integer kernels, needs --calibration), or "
                    "compress conv/linear weights only: int8-weights or int4")
    pe.add_argument("--calibration", metavar="FILE", help="int8: example inputs, a .npy [N, ...] (one input) or a "
                    ".npz with one [N, ...] array per input name")
    pe.add_argument("--calibration-method", choices=["minmax", "percentile", "mse"],
                    help="int8: how activation ranges are chosen (default minmax)")
    pe.add_argument("--prune", type=float, metavar="S", help="one-shot magnitude pruning to sparsity S (e.g. 0.9)")
    pe.add_argument("--prune-structure", metavar="S",
                    help="unstructured (default), N:M (e.g. 2:4) or channel (filters removed)")
    pe.add_argument("--prune-scope", choices=["layer", "global"], help="per-layer target (default) or one threshold")
    pe.add_argument("--sparse", choices=["auto", "always", "never"],
                    help="store sparse weights csr where the sparse kernel is faster (auto, default), always or never")
    pe.add_argument("--group-size", type=int, help="int4 group size along the input axis (default 32)")
    pe.add_argument("--weight-sharing", type=int, metavar="K", help="cluster each channel's weights to K shared values")
    pe.add_argument("--keep-float", action="append", metavar="NODE", help="keep this layer's weights f32 (repeat)")
    pe.add_argument("--report", action="store_true", help="print the per-layer sensitivity of the compression")
    pe.add_argument("--target", metavar="TABLES", help="also store the packed weight forms of these kernel tables "
                    "(comma-separated, 'host' for the one this CPU uses; see `pyruntime pack`)")
    pe.add_argument("--max-context", type=int, metavar="N", help="decoders: the KV cache's capacity in tokens "
                    "(default: the model's max_position_embeddings)")
    pe.add_argument("--kv-cache", choices=["f32", "f16", "i8"], help="decoders: the cache's element type")
    pe.add_argument("--nchw", action="store_true", help="keep every op in NCHW (default: convolution stacks run "
                    "channels-last inside the file; inputs and outputs keep their layout either way)")
    pe.set_defaults(fn=cmd_export)
    pc = sub.add_parser("convert", help="convert a GGUF decoder (llama, qwen2, qwen3) to .pyrt: F32/F16/Q8_0/Q4_0 "
                        "tensors bit for bit, other types re-quantized with their error printed")
    pc.add_argument("model", help="the .gguf file")
    pc.add_argument("-o", "--output", help="where to write (default: the model's name with .pyrt)")
    pc.add_argument("--requantize", choices=["int4", "int8-weights", "f16", "refuse"], default="int4",
                    help="what tensors of other GGUF types become (default int4 g32; refuse: an error instead)")
    pc.add_argument("--max-context", type=int, metavar="N", help="the KV cache's capacity in tokens (default: the "
                    "file's context_length)")
    pc.add_argument("--kv-cache", choices=["f32", "f16", "i8"], default="f32", help="the cache's element type")
    pc.add_argument("--tokenizer", metavar="PATH", help="a tokenizer.json (or its folder) to store in the file "
                    "instead of the GGUF's own vocabulary (converted when it is SentencePiece or byte-level BPE with "
                    "a known pre-tokenizer)")
    pc.set_defaults(fn=cmd_convert)
    pk = sub.add_parser("pack", help="store the packed weight forms of a kernel table in the file, read in place "
                        "at load instead of packed (SPEC 6.6)")
    pk.add_argument("model")
    pk.add_argument("-o", "--output", help="where to write (default: replace the model file)")
    pk.add_argument("--target", metavar="TABLES", help="comma-separated kernel tables (pyruntime._core.kernel_tables(); "
                    "default: the one this CPU uses)")
    pk.add_argument("--keep", action="store_true", help="keep forms already stored for other tables")
    pk.add_argument("--strip", action="store_true", help="instead: remove every pre-packed form")
    pk.set_defaults(fn=cmd_pack)
    pr = sub.add_parser("run", help="run a model on random (or .npy) inputs; print outputs and timing")
    pr.add_argument("model")
    pr.add_argument("--input", action="append", help="name=file.npy (default: random)")
    pr.add_argument("--runs", type=int, default=10)
    pr.add_argument("--threads", type=int, default=None)
    pr.add_argument("--batch", type=int, default=1, help="size of dynamic dims for random inputs")
    pr.set_defaults(fn=cmd_run)
    pg = sub.add_parser("generate", help="stream the text a decoder writes after a prompt (a file exported with "
                        "its tokenizer), then a timing line")
    pg.add_argument("model")
    pg.add_argument("-p", "--prompt", help="the prompt text")
    pg.add_argument("-f", "--file", help="read the prompt from this file")
    pg.add_argument("-n", "--n-predict", type=int, default=128, help="new tokens at most (default 128)")
    pg.add_argument("--temp", type=float, default=0.0, help="temperature (default 0: greedy)")
    pg.add_argument("--top-k", type=int, help="sample among the k likeliest tokens")
    pg.add_argument("--top-p", type=float, help="nucleus sampling: the likeliest tokens up to this mass")
    pg.add_argument("--seed", type=int, help="the sampler's seed (default: random)")
    pg.add_argument("--chat", action="store_true", help="the prompt is a user message put through the file's "
                    "chat template")
    pg.add_argument("--no-echo", action="store_true", help="print only the new text, not the prompt first")
    pg.add_argument("-t", "--threads", type=int, help="threads (default: the CPUs this process may use)")
    pg.set_defaults(fn=cmd_generate)
    pb = sub.add_parser("bench", help="pyrt_benchmark's figures for a model, beside ONNX Runtime / PyTorch on the "
                        "source model, and a PNG chart")
    pb.add_argument("model")
    pb.add_argument("--compare", metavar="PEERS", help="comma-separated: onnxruntime, torch")
    pb.add_argument("--onnx", metavar="FILE", help="the source ONNX model, for --compare onnxruntime")
    pb.add_argument("--torch", metavar="SOURCE", help="the source PyTorch model: module:factory or a saved module "
                    "file, for --compare torch (and onnxruntime when no --onnx: exported to ONNX here)")
    pb.add_argument("--threads", type=int, help="threads for every runtime (default: the CPUs this process may use)")
    pb.add_argument("--warmup", type=int, default=1, help="untimed runs after the first (default 1)")
    pb.add_argument("--runs", type=int, default=50, help="timed runs (default 50)")
    pb.add_argument("--max-secs", type=float, default=150.0, help="stop timing a runtime after this long")
    pb.add_argument("--profile", action="store_true", help="also print our per-node table (ms, %%, cdf, kernel)")
    pb.add_argument("--input", action="append", metavar="NAME=FILE.npy", help="an input's values (default: random)")
    pb.add_argument("--input-shape", action="append", metavar="NAME:d,d,..", help="an input's shape where the model "
                    "has dynamic dimensions (default: --batch for those)")
    pb.add_argument("--batch", type=int, default=1, help="size of dynamic dimensions of random inputs")
    pb.add_argument("--output", choices=["text", "json"], default="text", help="what to print")
    pb.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    pb.add_argument("--chart", metavar="FILE.png", help="where to write the chart (default: MODEL.bench.png)")
    pb.add_argument("--no-chart", action="store_true")
    pb.set_defaults(fn=cmd_bench)
    args = p.parse_args(argv)
    from .format.errors import FormatError
    try:
        return args.fn(args)
    except FormatError as e:
        print(f"pyruntime: invalid model file: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        print(f"pyruntime: {e}", file=sys.stderr)
        return 2
    except (ValueError, NotImplementedError) as e:
        print(f"pyruntime: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
