"""A progress bar on stderr: points done, points per second, time left.

On a terminal the bar redraws in place (at most 10 times a second); otherwise (``ray job submit``
logs, CI, a pipe) it prints a plain line at most every 5 seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def _clock(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Tracks and draws sweep progress.

    Parameters
    ----------
    total : int
        Points in the sweep.
    done : int
        Points already done (resumed runs).
    stream : TextIO
        Where to draw (stderr).
    enabled : bool
        False draws nothing.
    """

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total = total
        self.done = done
        self.start_done = done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last = 0.0
        self._drawn = False

    @property
    def rate(self) -> float:
        """Points per second in this run (resumed points excluded)."""
        dt = time.monotonic() - self.t0
        return (self.done - self.start_done) / dt if dt > 0 else 0.0

    def advance(self, points: int) -> None:
        """Count finished points and redraw if due."""
        self.done += points
        self.draw()

    def line(self) -> str:
        """The progress text."""
        frac = self.done / self.total if self.total else 1.0
        width = 24
        fill = int(frac * width)
        bar = "#" * fill + "." * (width - fill)
        rate = self.rate
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = _clock(left) if left == left else "--:--"
        return (f"[{bar}] {frac * 100:5.1f}%  {self.done:,}/{self.total:,} points  "
                f"{_count(rate)} points/s  elapsed {_clock(time.monotonic() - self.t0)}  eta {eta}")

    def draw(self, force: bool = False) -> None:
        """Draw the bar (rate-limited unless ``force``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Final redraw and newline."""
        if not self.enabled:
            return
        self.draw(force=True)
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def announce_compile(stream: TextIO | None = None) -> bool:
    """Say so on stderr when this model version's kernels are not compiled yet; return True then.

    The first run after an install (or after any change to ``models/``) compiles the numba
    kernels once, about 40-50 s on 2 cores; they are cached, and later runs start at once.
    """
    from models.version import kernels_cached

    if kernels_cached():
        return False
    out = stream or sys.stderr
    out.write("migsim: first run of this model version: compiling the model's kernels once "
              "(about 40-50 s on 2 cores; cached for every later run)\n")
    out.flush()
    return True


def warm_model(stream: TextIO | None = None) -> None:
    """Compile (or load) the model's kernels in this process, announcing a first compile and how
    long it took, so that Ray workers started afterwards load them from the cache instead of each
    compiling them while the progress bar stands still."""
    if not announce_compile(stream):
        return
    import numpy as np

    from models.migration import simulate
    from models.policy import PROFILES

    t0 = time.monotonic()
    simulate({"profile": np.array(list(PROFILES), dtype=object)})
    out = stream or sys.stderr
    out.write(f"migsim: model compiled in {time.monotonic() - t0:.0f} s\n")
    out.flush()
