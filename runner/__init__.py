"""migsim's runner: everything that runs the models (CLI, sweeps, Ray, Parquet, queries, plots).

``runner.load(run_dir, table=None)`` returns a table of a run as a Polars LazyFrame: ``results``
of a sweep; ``migrations`` (the default), ``scenarios`` or ``hosts`` of a scenario run
(:func:`runner.storage.store.table_names` lists them). Imported lazily, so ``import runner`` stays light
for the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from runner.storage.store import load
        return load
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
