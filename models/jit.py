"""Compiled kernels: one decorator for every numba function of the model, and where they are cached.

``kernel`` compiles a scalar function with numba the way every mechanism needs it: cached on disk,
and NumPy's floating-point semantics (a division by zero gives inf or NaN, as the array code it
replaced did, instead of raising). Numba's on-disk cache only notices changes to the source file
of the function itself, not to the kernels it inlines from other modules, so the cache directory is
keyed by a hash of all of ``models/``: an edited mechanism can never run with a stale kernel that
inlined its old version. ``NUMBA_CACHE_DIR``, when set, is respected as given.

``loop`` compiles the loops that Python calls over whole arrays. They allocate nothing (Python
hands them their scratch arrays) and run without numba's reference counting: with it, every array
an inlined row kernel takes costs an atomic increment and decrement, which measured as 30-50 % of
the pre-copy kernel's time.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numba

from models.version import cache_candidates


def _cache_dir(root: Path | None = None) -> str | None:
    """``models/__pycache__/numba-<hash of models/*.py>``, or the same under ~/.cache/migsim when
    the package directory is read-only (None when neither can be written: numba's default).
    ``root``: another copy of the model package (tests)."""
    for d in cache_candidates() if root is None else cache_candidates(root):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(d, os.W_OK):
            return str(d)
    return None


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = _cache_dir() or numba.config.CACHE_DIR


def kernel(fn=None, *, inline: str = "never"):
    """Compile ``fn`` with numba (``@kernel``); ``@kernel(inline="always")`` for a row kernel that
    takes arrays and runs inside a :func:`loop`."""
    jit = functools.partial(numba.njit, cache=True, error_model="numpy", inline=inline)
    return jit if fn is None else jit(fn)


loop = functools.partial(numba.njit, cache=True, error_model="numpy", _nrt=False)
