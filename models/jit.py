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

``python_kernels()`` runs the model without compiling anything: every kernel and loop is swapped
for its plain Python form (``py_func``) in the model's modules for the duration of a ``with``
block. The results are the same floats (the kernels are plain IEEE arithmetic and libm calls, no
fastmath; tests/models/test_jit.py compares both forms bit for bit), at ~100-300 points/s instead
of millions: the first small run of a model version (a ``migsim migrate``, the quickstart) uses
it instead of waiting ~45 s for numba (runner/cli/progress.py decides).
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

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


#: Every dispatcher made by :func:`kernel` and :func:`loop`, by id.
_REGISTRY: dict[int, Any] = {}


def _register(dispatcher: Any) -> Any:
    _REGISTRY[id(dispatcher)] = dispatcher
    return dispatcher


def kernel(fn=None, *, inline: str = "never"):
    """Compile ``fn`` with numba (``@kernel``); ``@kernel(inline="always")`` for a row kernel that
    takes arrays and runs inside a :func:`loop`."""
    jit = functools.partial(numba.njit, cache=True, error_model="numpy", inline=inline)
    if fn is None:
        return lambda f: _register(jit(f))
    return _register(jit(fn))


def loop(fn):
    """Compile a loop over whole arrays (``@loop``): no allocation, no reference counting."""
    return _register(numba.njit(fn, cache=True, error_model="numpy", _nrt=False))


#: Modules whose globals :func:`python_kernels` swaps (the model, and the runner's callers).
_SWAP_PREFIXES = ("models", "runner")


@contextmanager
def python_kernels() -> Iterator[None]:
    """Run the model's kernels as plain Python inside the block (nothing is compiled).

    Every global of a ``models.*`` or ``runner.*`` module that is one of the model's dispatchers
    is replaced by its ``py_func`` and put back on exit; NumPy's floating-point warnings (the
    division by zero that the compiled form does silently, ``error_model="numpy"``) are silenced
    as they are there. Not thread-safe: it changes module globals of this process.
    """
    import numpy as np

    from models import migration  # noqa: F401 - every kernel module is imported before the swap

    swapped: list[tuple[dict[str, Any], str, Any]] = []
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".", 1)[0] not in _SWAP_PREFIXES:
            continue
        d = vars(mod)
        for k, v in list(d.items()):
            if v is not None and _REGISTRY.get(id(v)) is v:
                d[k] = v.py_func
                swapped.append((d, k, v))
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    finally:
        for d, k, v in swapped:
            if d.get(k) is v.py_func:
                d[k] = v


def compiled() -> bool:
    """True when some kernel of this process has been compiled or loaded from the cache."""
    return any(d.signatures for d in _REGISTRY.values())
