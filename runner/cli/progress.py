"""A progress bar on stderr: points done, points per second, time left.

On a terminal the bar redraws in place (at most 10 times a second); otherwise (``ray job submit``
logs, CI, a pipe) it prints a plain line at most every 5 seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ContextManager, TextIO


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


#: Runs of at most this many points start at once on a cold kernel cache: the model runs as plain
#: Python (same results, ~100-300 points/s measured on this project's 2-core machine, so at most
#: ~5-10 s) while the kernels compile in a background process for later runs. Larger runs compile
#: first (~45 s on 2 cores), which pays for itself within a few thousand points.
PYTHON_MAX_POINTS = 1_000


_PYTHON_FOR_GOOD: ContextManager[Any] | None = None


def announce_compile(stream: TextIO | None = None) -> bool:
    """On a cold kernel cache, for a what-if of one or a few points (``migsim migrate``): run the
    model as plain Python in this process (identical results, no compile) and compile the kernels
    in the background for the next runs, saying so on stderr. Returns True when the cache was cold.
    """
    from models.version import kernels_cached

    if kernels_cached():
        return False
    from models import jit

    global _PYTHON_FOR_GOOD
    if _PYTHON_FOR_GOOD is None:              # for the rest of this one-shot process (kept
        _PYTHON_FOR_GOOD = jit.python_kernels()   # referenced: a collected one would restore)
        _PYTHON_FOR_GOOD.__enter__()
    _python_now_compile_later(stream)
    return True


def _python_now_compile_later(stream: TextIO | None) -> None:
    started = compile_in_background()
    out = stream or sys.stderr
    out.write("migsim: first run of this model version: computing without compiled kernels"
              + ("; compiling them in the background for later runs (about 40-50 s on 2 cores)\n"
                 if started else " (same results; slower for large runs)\n"))
    out.flush()


def compile_in_background() -> bool:
    """Start a detached, low-priority process that compiles the model's kernels into the cache
    (:func:`compile_kernels`); False when one is already running (its lock is held) or
    ``MIGSIM_BACKGROUND_COMPILE=0`` (tests that start from an empty cache set it).
    """
    import os
    import subprocess

    if os.environ.get("MIGSIM_BACKGROUND_COMPILE", "1") == "0":
        return False
    from models.version import cache_candidates

    lock = _compile_lock_path(cache_candidates())
    if lock is not None and _locked(lock):
        return False
    env = dict(os.environ)
    subprocess.Popen([sys.executable, "-c", "from runner.cli.progress import compile_kernels; "
                                            "compile_kernels()"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                     preexec_fn=lambda: os.nice(10))
    return True


def _compile_lock_path(candidates: list[Path]) -> Path | None:
    for d in candidates:
        try:
            Path(d).mkdir(parents=True, exist_ok=True)
            return Path(d) / ".compiling"
        except OSError:
            continue
    return None


def _locked(path: Path) -> bool:
    import fcntl
    import os

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def compile_kernels() -> None:
    """Compile (or load) every kernel of the model into the cache, holding the compile lock so
    that only one process compiles at a time (the background process of a cold first run)."""
    import fcntl
    import os

    from models.version import cache_candidates

    lock = _compile_lock_path(cache_candidates())
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644) if lock is not None else None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
        _compile_all()
    finally:
        if fd is not None:
            os.close(fd)


def _compile_all() -> None:
    """Call every path of the model once (all profiles; with and without per-round detail)."""
    import numpy as np

    from models.migration import simulate
    from models.policy import PROFILES

    profiles = np.array(list(PROFILES), dtype=object)
    simulate({"profile": profiles})
    simulate({"profile": profiles}, detail=True)


def warm_model(stream: TextIO | None = None, n_points: int | None = None) -> ContextManager[Any]:
    """Make the model ready in this process before a run of ``n_points`` points.

    Warm cache: nothing to do (the kernels load on first use). Cold cache and a small run
    (``n_points <= PYTHON_MAX_POINTS``): plain Python now, compile in the background
    (the returned context runs the kernels as Python: run the points inside it). Otherwise
    compile here, announcing it and how long it took, so
    that Ray workers started afterwards load the kernels from the cache instead of each compiling
    them while the progress bar stands still.
    """
    from models.version import kernels_cached

    if kernels_cached():
        return nullcontext()
    if n_points is not None and n_points <= PYTHON_MAX_POINTS:
        from models import jit

        _python_now_compile_later(stream)
        return jit.python_kernels()
    out = stream or sys.stderr
    out.write("migsim: first run of this model version: compiling the model's kernels once "
              "(about 40-50 s on 2 cores; cached for every later run)\n")
    out.flush()
    t0 = time.monotonic()
    _compile_all()
    out.write(f"migsim: model compiled in {time.monotonic() - t0:.0f} s\n")
    out.flush()
    return nullcontext()
