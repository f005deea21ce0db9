"""`pyruntime bench model.pyrt [--compare onnxruntime,torch]`: pyrt_benchmark's figures from Python, for our
runtime and for peers running the source model on the same inputs, side by side, plus a PNG chart.

Each runtime is measured in its own Python process (a worker started from this module): thread settings, import
costs and peak memory of one library do not leak into another's figures, and a peer that crashes costs only its
column. Inputs are drawn once and given to every runtime; each output is compared with ours.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

PEERS = ("onnxruntime", "torch")
# The scalar figures of one runtime, in pyrt_benchmark's JSON names (csrc/tools/pyrt_benchmark.cc).
FIELDS = ("init_ms", "first_run_ms", "runs", "avg_ms", "min_ms", "max_ms", "p50_ms", "p90_ms", "p99_ms",
          "peak_rss_kb", "rss_growth_kb")


class BenchError(ValueError):
    """A bad argument or a model that cannot be measured (the message names it)."""


def random_inputs(path: str, given: dict | None = None, shapes: dict | None = None, batch: int = 1,
                  seed: int = 0) -> dict:
    """One array per model input: the runtime's random inputs, the ones pyrt_benchmark feeds for the same seed
    (pyrt_model_random_input: f32 uniform in [-1, 1), token ids below the vocabulary, position ids 0, 1, ...,
    other integers 0 or 1). `given` arrays win; `shapes` fixes dynamic dimensions (else `batch`)."""
    import numpy as np
    from . import _core
    from .model import load
    model = load(path)   # the header only: no session, no weight packing
    declared = model.meta["inputs"]
    feeds = {}
    for i, (name, dt, dims) in enumerate(declared):
        if given and name in given:
            feeds[name] = np.ascontiguousarray(given[name])
            continue
        shape = list(shapes[name]) if shapes and name in shapes else [batch if d < 0 else d for d in dims]
        feeds[name] = _core.random_input(model._impl, i, shape, seed)
    unknown = sorted(set(given or {}) - set(feeds))
    if unknown:
        raise BenchError(f"--input names {unknown} are not inputs of the model (inputs: {[d[0] for d in declared]})")
    return feeds


def _rss_kb() -> int:
    """The current resident set (Linux /proc; elsewhere 0: growth is then not reported)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _peak_rss_kb() -> int:
    """This process's peak resident set. Linux: VmHWM (getrusage's maxrss keeps the parent's peak across exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak      # bytes on macOS, KiB on Linux


def _time_runs(run, warmup: int, num_runs: int, max_secs: float) -> dict:
    """pyrt_benchmark's loop: one first run (timed alone), `warmup` more, then up to `num_runs` timed runs, stopping
    early once `max_secs` have passed (at least one timed run)."""
    import numpy as np
    t = time.perf_counter()
    outs = run()
    first = (time.perf_counter() - t) * 1e3
    for _ in range(warmup):
        run()
    times = []
    start = time.perf_counter()
    while len(times) < num_runs:
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e3)
        if time.perf_counter() - start > max_secs:
            break
    ms = np.array(times)
    return dict(first_run_ms=first, runs=len(times), avg_ms=float(ms.mean()), min_ms=float(ms.min()),
                max_ms=float(ms.max()), p50_ms=float(np.percentile(ms, 50)), p90_ms=float(np.percentile(ms, 90)),
                p99_ms=float(np.percentile(ms, 99))), outs


def _load_torch(source: str):
    """module:factory (a callable returning the nn.Module, imported from the current directory first) or a saved
    model file (TorchScript, else a whole pickled module)."""
    import torch
    if os.path.isfile(source):
        try:
            return torch.jit.load(source, map_location="cpu")
        except Exception:
            m = torch.load(source, map_location="cpu", weights_only=False)
            if not isinstance(m, torch.nn.Module):
                raise BenchError(f"--torch {source}: holds a {type(m).__name__}, not a module (a state dict needs "
                                 "its model class: give module:factory)")
            return m
    if ":" not in source:
        raise BenchError(f"--torch {source}: not a file; give module:factory or a TorchScript / saved module file")
    return call_factory(source)


def call_factory(spec: str):
    """"module:factory" -> factory(), the module looked up in the current folder first (as `python -c` would),
    without leaving that folder on sys.path: the process (a test run, a notebook) keeps the path it had."""
    import importlib
    mod, fn = spec.split(":", 1)
    cwd = os.getcwd()
    sys.path.insert(0, cwd)
    try:
        return getattr(importlib.import_module(mod), fn)()
    finally:
        if cwd in sys.path:
            sys.path.remove(cwd)


def _worker(cfg: dict) -> dict:
    """Runs in its own process: load one runtime and model, time it on the saved inputs, save its outputs."""
    import numpy as np
    data = np.load(cfg["inputs"])
    names = cfg["input_names"]
    feeds = {n: data[n] for n in names}
    threads, kind = cfg["threads"], cfg["runtime"]
    res = dict(runtime=kind, threads=threads)
    if kind == "pyruntime":
        from .session import Session
        base = _rss_kb()
        t = time.perf_counter()
        s = Session(cfg["model"], num_threads=threads, profile=cfg["profile"])
        res["init_ms"] = (time.perf_counter() - t) * 1e3
        res["file_bytes"] = os.path.getsize(cfg["model"])
        res.update(isa=s.isa, version=_version("pyruntime"))
        if s.max_context:   # a decoder: every run is the same prompt from an empty KV cache, not a longer sequence

            def run():
                s.reset_state()
                return s.run(feeds)
        else:
            run = lambda: s.run(feeds)                              # noqa: E731
    elif kind == "onnxruntime":
        import onnxruntime as ort
        base = _rss_kb()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t = time.perf_counter()
        s = ort.InferenceSession(cfg["source"], so, providers=["CPUExecutionProvider"])
        res["init_ms"] = (time.perf_counter() - t) * 1e3
        res["file_bytes"] = os.path.getsize(cfg["source"])
        res.update(version=ort.__version__)
        ort_names = [i.name for i in s.get_inputs()]
        if len(ort_names) != len(names):
            raise BenchError(f"the ONNX model has inputs {ort_names}, the .pyrt model {names}")
        # ONNX names usually equal ours; otherwise inputs go by position.
        ort_feeds = {on: feeds[on] if on in feeds else feeds[n] for on, n in zip(ort_names, names)}
        run = lambda: s.run(None, ort_feeds)                        # noqa: E731
    elif kind == "torch":
        import torch
        torch.set_num_threads(threads)
        base = _rss_kb()
        t = time.perf_counter()
        m = _load_torch(cfg["source"]).eval()
        res["init_ms"] = (time.perf_counter() - t) * 1e3
        res.update(version=torch.__version__)
        args = [torch.from_numpy(feeds[n]) for n in names]

        def run():
            with torch.inference_mode():
                o = m(*args)
            o = o if isinstance(o, (tuple, list)) else [o]
            return [x.numpy() for x in o]
    else:
        raise BenchError(f"unknown runtime {kind}")
    stats, outs = _time_runs(run, cfg["warmup"], cfg["num_runs"], cfg["max_secs"])
    res.update(stats)
    res["peak_rss_kb"] = _peak_rss_kb()
    res["rss_growth_kb"] = max(res["peak_rss_kb"] - base, 0) if base else None
    if kind == "pyruntime":
        res["arena_bytes"] = s.arena_bytes
        if cfg["profile"]:
            rows = s.profile()
            total = sum(r["ms"] for r in rows) or 1.0
            cdf = 0.0
            res["ops"] = []
            for r in rows:
                cdf += r["ms"]
                res["ops"].append(dict(name=r["name"], op=r["op_type"], kernel=r["kernel"], ms=r["ms"],
                                       percent=100 * r["ms"] / total, cdf_percent=100 * cdf / total))
    np.savez(cfg["outputs"], *[np.asarray(o) for o in outs])
    return res


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "?"


def _spawn(cfg: dict, tmp: str) -> dict:
    """Runs _worker in a fresh interpreter; a failure becomes {"error": last lines of its stderr}."""
    path = os.path.join(tmp, f"{cfg['runtime']}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ)
    # The worker imports this same pyruntime (not a source checkout in the current directory), then the user's
    # modules for --torch module:factory from the current directory.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, os.getcwd()] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    p = subprocess.run([sys.executable, "-m", "pyruntime.benchmark", "--worker", path], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        return dict(runtime=cfg["runtime"], error=lines[-1] if lines else f"worker exited with {p.returncode}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench(model: str, compare=(), onnx: str | None = None, torch_source: str | None = None, threads: int | None = None,
          warmup: int = 1, num_runs: int = 50, max_secs: float = 150.0, profile: bool = False,
          given: dict | None = None, shapes: dict | None = None, batch: int = 1) -> dict:
    """Measures `model` on our runtime and each peer in `compare` ("onnxruntime": the ONNX file `onnx`, else the
    `torch_source` model exported to ONNX here; "torch": `torch_source`), on the same random inputs. Returns
    {"model", "threads", "inputs", "results": [one dict per runtime, ours first]}; every result has FIELDS and
    `max_abs_diff` against our outputs (a failed peer: {"runtime", "error"})."""
    import numpy as np
    if not os.path.isfile(model):
        raise FileNotFoundError(f"no such model file: {model}")
    compare = [c.strip() for c in compare if c.strip()]
    bad = [c for c in compare if c not in PEERS]
    if bad:
        raise BenchError(f"--compare: unknown runtime {', '.join(bad)} (known: {', '.join(PEERS)})")
    if "torch" in compare and not torch_source:
        raise BenchError("--compare torch needs the source model: --torch module:factory (or a saved module file)")
    if "onnxruntime" in compare and not (onnx or torch_source):
        raise BenchError("--compare onnxruntime needs the source model: --onnx model.onnx (or --torch, exported "
                         "to ONNX here)")
    if onnx and not os.path.isfile(onnx):
        raise FileNotFoundError(f"no such ONNX file: {onnx}")
    if num_runs < 1 or warmup < 0 or max_secs <= 0:
        raise BenchError("--runs >= 1, --warmup >= 0 and --max-secs > 0")
    if not threads:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    feeds = random_inputs(model, given, shapes, batch)
    names = list(feeds)
    with tempfile.TemporaryDirectory(prefix="pyrt-bench-") as tmp:
        inputs = os.path.join(tmp, "inputs.npz")
        np.savez(inputs, **feeds)
        if "onnxruntime" in compare and not onnx:
            onnx = os.path.join(tmp, "source.onnx")
            _export_onnx(torch_source, feeds, names, onnx)
        base = dict(inputs=inputs, input_names=names, threads=threads, warmup=warmup, num_runs=num_runs,
                    max_secs=max_secs, profile=profile)
        results = []
        for kind in ["pyruntime"] + compare:
            src = model if kind == "pyruntime" else onnx if kind == "onnxruntime" else torch_source
            outs = os.path.join(tmp, f"{kind}-outputs.npz")
            r = _spawn(dict(base, runtime=kind, model=model, source=src, outputs=outs), tmp)
            if kind == "pyruntime" and "error" in r:
                raise BenchError(f"pyruntime could not run {model}: {r['error']}")
            if "error" not in r:
                got = np.load(outs)
                got = [got[f"arr_{i}"] for i in range(len(got.files))]
                if kind == "pyruntime":
                    ours = got
                    r["max_abs_diff"] = 0.0
                else:
                    r["max_abs_diff"] = _max_diff(ours, got)
            results.append(r)
    return dict(model=model, threads=threads, inputs=[dict(name=n, dtype=str(a.dtype), shape=list(a.shape))
                                                      for n, a in feeds.items()], results=results)


def _max_diff(ours: list, theirs: list):
    """The largest absolute difference over all outputs (None where the outputs do not line up)."""
    import numpy as np
    if len(ours) != len(theirs) or any(a.shape != b.shape for a, b in zip(ours, theirs)):
        return None
    return float(max((np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.size else 0.0)
                     for a, b in zip(ours, theirs))) if ours else 0.0


def _export_onnx(torch_source: str, feeds: dict, names: list, path: str):
    """The torch model as ONNX for onnxruntime (when no --onnx is given), traced on the benchmark's inputs."""
    import torch
    from .exporters.torch_frontend import to_onnx_bytes
    m = _load_torch(torch_source).eval()
    blob = to_onnx_bytes(m, tuple(torch.from_numpy(feeds[n]) for n in names), input_names=names)
    with open(path, "wb") as f:
        f.write(blob)


def format_table(report: dict) -> str:
    """Rows = figures, one column per runtime (failed peers show their error below)."""
    res = [r for r in report["results"] if "error" not in r]
    label = {"init_ms": "init (ms)", "first_run_ms": "first run (ms)", "runs": "timed runs", "avg_ms": "avg (ms)",
             "min_ms": "min (ms)", "max_ms": "max (ms)", "p50_ms": "p50 (ms)", "p90_ms": "p90 (ms)",
             "p99_ms": "p99 (ms)", "peak_rss_kb": "peak RSS (MiB)", "rss_growth_kb": "RSS growth (MiB)",
             "max_abs_diff": "max |out - ours|", "speedup": "ours vs this (p50)",
             "rss_per_file": "RSS growth / model file"}
    ours = res[0]

    def cell(r, k):
        v = r.get(k)
        if k == "speedup":
            return "-" if r is ours else f"{r['p50_ms'] / ours['p50_ms']:.2f}x"
        if k == "rss_per_file":   # what a session costs against the file it loads (issue 19's figure)
            ok = r.get("rss_growth_kb") is not None and r.get("file_bytes")
            return f"{r['rss_growth_kb'] * 1024 / r['file_bytes']:.2f}x" if ok else "-"
        if v is None:
            return "-"
        if k.endswith("_kb"):
            return f"{v / 1024:.1f}"
        if k == "runs":
            return str(v)
        if k == "max_abs_diff":
            return f"{v:.3g}"
        return f"{v:.3f}"
    head = ["", *[f"{r['runtime']} {r.get('version', '')}".strip() for r in res]]
    rows = [head] + [[label[k], *[cell(r, k) for r in res]]
                     for k in (*FIELDS, "rss_per_file", "max_abs_diff", "speedup")]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [f"model {report['model']}, {report['threads']} threads, isa {ours.get('isa')}, inputs "
             + ", ".join(f"{i['name']} {i['dtype']}[{','.join(map(str, i['shape']))}]" for i in report["inputs"])]
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    for r in report["results"]:
        if "error" in r:
            lines.append(f"{r['runtime']}: failed: {r['error']}")
    if ours.get("ops"):
        lines.append("")
        lines.append(format_ops(ours["ops"]))
    return "\n".join(lines)


def format_ops(ops: list) -> str:
    rows = [("node", "op", "kernel", "ms", "%", "cdf %")] + [
        (o["name"] or "-", o["op"], o["kernel"], f"{o['ms']:.4f}", f"{o['percent']:.1f}", f"{o['cdf_percent']:.1f}")
        for o in ops]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def chart(report: dict, path: str):
    """A PNG: warm latency (bar at p50, whiskers min..p99), init + first run, and peak memory, per runtime."""
    try:
        import matplotlib
    except ImportError:
        raise BenchError("the chart needs matplotlib (pip install matplotlib), or pass --no-chart") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = [r for r in report["results"] if "error" not in r]
    names = [r["runtime"] for r in res]
    colors = ["#1f77b4" if n == "pyruntime" else "#999999" for n in names]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    try:
        p50 = [r["p50_ms"] for r in res]
        lo = [r["p50_ms"] - r["min_ms"] for r in res]
        hi = [r["p99_ms"] - r["p50_ms"] for r in res]
        axes[0].bar(names, p50, color=colors, yerr=[lo, hi], capsize=4)
        axes[0].set_title("warm latency, ms (p50; min..p99)")
        for i, v in enumerate(p50):
            axes[0].text(i, v / 2, f"{v:.3g}", ha="center", va="center", color="white", fontweight="bold")
        axes[1].bar(names, [r["init_ms"] for r in res], color=colors, label="init")
        axes[1].bar(names, [r["first_run_ms"] for r in res], bottom=[r["init_ms"] for r in res], color=colors,
                    alpha=0.45, label="first run")
        axes[1].set_title("init + first run, ms")
        axes[1].legend(fontsize=8)
        grow = [r.get("rss_growth_kb") for r in res]
        key = "rss_growth_kb" if all(g is not None for g in grow) else "peak_rss_kb"
        axes[2].bar(names, [r[key] / 1024 for r in res], color=colors)
        axes[2].set_title("memory, MiB (" + ("RSS growth: load + run" if key == "rss_growth_kb" else "peak RSS")
                          + ")")
        fig.suptitle(f"{os.path.basename(report['model'])}: {report['threads']} threads, isa {res[0].get('isa')}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _main_worker(argv) -> int:
    with open(argv[0]) as f:
        cfg = json.load(f)
    print(json.dumps(_worker(cfg)))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(_main_worker(sys.argv[2:]))
    sys.exit("pyruntime.benchmark is run through `pyruntime bench` (or bench() from Python)")
