"""The train/test split of measured runs, fixed before any model error was looked at.

A run is in the *test* part when the first 8 hex digits of its ``input_hash`` (a hash of the run's
inputs without its repeat index; :func:`runner.measure.rows.input_hash`), read as an integer, are
divisible by 3; otherwise it is in the *train* part. All repeats of a point share the hash, so a
point is never on both sides; about a third of the points are test points, whatever regime they
belong to. No constant may be fitted to the test part.
"""

from __future__ import annotations

SPLITS = ("train", "test")


def split_of(input_hash: str) -> str:
    """``test`` or ``train`` for a run's ``input_hash`` (hex)."""
    return "test" if int(input_hash[:8], 16) % 3 == 0 else "train"
