"""migsim's runner: everything that runs the models (CLI, sweeps, Ray, Parquet, queries, plots).

``runner.load(run_dir)`` returns a sweep's results as a Polars LazyFrame (imported lazily, so
``import runner`` stays light for the CLI).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from runner.store import load
        return load
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
