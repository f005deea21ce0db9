"""Progress of long jobs (export, later calibration): a bar redrawn in place on a terminal, one line per step
elsewhere (logs, CI), nothing when disabled. Written to stderr so stdout stays the job's output."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str, enabled: bool = True, stream=None, width: int = 24):
        self.total, self.desc, self.enabled, self.width = max(int(total), 1), desc, enabled, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done, self.t0 = 0, time.perf_counter()

    def step(self, label: str = "", n: int = 1):
        """Marks `n` more steps done; `label` names the step that just finished."""
        self.done = min(self.total, self.done + n)
        if not self.enabled:
            return
        secs = time.perf_counter() - self.t0
        if self.tty:
            fill = self.width * self.done // self.total
            bar = "#" * fill + "-" * (self.width - fill)
            self.stream.write(f"\r[pyruntime] {self.desc} [{bar}] {self.done}/{self.total} {label[:40]:<40} {secs:5.1f} s")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[pyruntime] {self.desc} {self.done}/{self.total} {label} ({secs:.1f} s)\n")
        self.stream.flush()

    def close(self):
        """Ends the bar's line if the job stopped early (an error), so later output starts on a new line."""
        if self.enabled and self.tty and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
