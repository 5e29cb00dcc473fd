"""Compiled kernels: one decorator for every numba function of the model, and where they are cached.

``kernel`` compiles a scalar function with numba the way every mechanism needs it: cached on disk,
and NumPy's floating-point semantics (a division by zero gives inf or NaN, as the array code it
replaced did, instead of raising). Numba's on-disk cache only notices changes to the source file
of the function itself, not to the kernels it inlines from other modules, so the cache directory is
keyed by a hash of all of ``models/``: an edited mechanism can never run with a stale kernel that
inlined its old version. ``NUMBA_CACHE_DIR``, when set, is respected as given.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numba

_HERE = Path(__file__).resolve().parent
if not os.environ.get("NUMBA_CACHE_DIR"):
    _key = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(_HERE.glob("*.py"))))
    numba.config.CACHE_DIR = str(_HERE / "__pycache__" / f"numba-{_key.hexdigest()[:16]}")

kernel = functools.partial(numba.njit, cache=True, error_model="numpy")
