"""bench/RESULTS.md: each benchmark owns one "## " section and replaces it (or appends it) when it runs."""
import os
import re

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo's "model name", or "Model" on some ARM boards)."""
    import platform
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_ms(fn, n: int) -> float:
    """The median wall time of n calls of fn, in milliseconds."""
    import time
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return 1e3 * (ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2]))


def proc_status(key: str) -> int:
    """A byte figure of this process's /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile...), 0 when absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def worker_inputs(kind: str, spec: dict):
    """The inputs of memory.py's and prepack.py's workers: an image, or a prompt of spec["prompt"] token ids."""
    import numpy as np
    rng = np.random.default_rng(0)
    if kind == "image":
        return rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    return rng.integers(0, spec["vocab"], spec["prompt"]).astype(np.int64)


def worker_run(s, kind: str, inputs, spec: dict):
    """One run of a session on worker_inputs(): the image, or the prompt then spec["tokens"] one-token runs."""
    import numpy as np
    if kind == "image":
        s.run(inputs)
        return
    prompt = inputs
    s.run({"input_ids": prompt[None], "position_ids": np.arange(len(prompt))[None]})
    for t in range(spec["tokens"]):
        s.run({"input_ids": np.array([[int(prompt[t])]]), "position_ids": np.array([[len(prompt) + t]])})


def machine() -> str:
    """The "Machine: ..." words of a section: CPU model, cores and the ISA pyruntime picked."""
    from pyruntime import _core
    return f"Machine: {cpu_model()}, {os.cpu_count()} cores, pyruntime ISA `{_core.isa()}`"


def write_section(section: str, path: str = PATH) -> str:
    """Replaces the section whose heading is the first line of `section` (from that heading to the next "## "
    heading or the end), or appends it. Returns the file's path."""
    heading = section.splitlines()[0]
    assert heading.startswith("## "), heading
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    body = section.rstrip("\n") + "\n"
    m = re.search("^" + re.escape(heading) + r"\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
    if m:
        text = text[:m.start()] + body + ("\n" if text[m.end():] else "") + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    with open(path, "w") as f:
        f.write(text)
    return path


def record(main):
    """Runs a benchmark's main() (which prints its "## " section), prints the section and, unless --no-write is
    among the arguments, replaces the section in bench/RESULTS.md with it."""
    import contextlib
    import io
    import sys
    with contextlib.redirect_stdout(io.StringIO()) as out:
        main()
    sys.stdout.write(out.getvalue())
    if "--no-write" not in sys.argv[1:]:
        write_section(out.getvalue())
