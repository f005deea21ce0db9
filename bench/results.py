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
