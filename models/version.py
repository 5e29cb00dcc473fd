"""The model's version: a release series plus a hash of the model's own source.

``MODEL_VERSION`` changes whenever any file of ``models/`` changes, so a run made by one model is
never resumed, compared or cached as if another had made it (the compiled kernels' cache directory
is keyed by the same hash). Reads only this package's own source files; imports nothing heavy, so
the CLI can ask whether the kernels still need compiling without loading numba.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
#: The release series of the model (bumped by hand when its physics change meaningfully).
SERIES = "0.2"


def source_hash(root: Path = _HERE) -> str:
    """SHA-256 (hex) of every ``*.py`` file of ``root`` (the model package), in name order."""
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(root.glob("*.py")))).hexdigest()


_HASH = source_hash()
#: ``<series>+<12 hex digits of the source hash>``, recorded in every run.
MODEL_VERSION = f"{SERIES}+{_HASH[:12]}"


def cache_candidates(root: Path = _HERE) -> list[Path]:
    """Directories the compiled kernels of the model in ``root`` may be cached in, by preference:
    ``<root>/__pycache__/numba-<hash>``, then ``~/.cache/migsim/numba-<hash>`` (read-only installs);
    ``NUMBA_CACHE_DIR`` alone when set."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [Path(os.environ["NUMBA_CACHE_DIR"])]
    name = f"numba-{(_HASH if root == _HERE else source_hash(root))[:16]}"
    return [root / "__pycache__" / name, Path.home() / ".cache" / "migsim" / name]


def kernels_cached() -> bool:
    """True when a compiled-kernel cache for this exact model source exists (no compile needed)."""
    return any(next(d.rglob("*.nbi"), None) is not None for d in cache_candidates() if d.is_dir())
