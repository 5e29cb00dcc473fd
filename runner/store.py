"""Reading runs back: a run directory as a Polars LazyFrame (``runner.load``).

Rows come back in point order (parts are named by batch, zero-padded, and read in name order; rows
inside a part are in point order), so ``runner.load(run)`` of the same spec and seed always yields
the same frame. Plain Polars and pyarrow work too: ``pl.scan_parquet("results/NAME/parts/*.parquet")``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import rundir
from runner.errors import RunDirError


@dataclass(frozen=True)
class RunInfo:
    """A run directory on disk.

    Attributes
    ----------
    root : Path
        Run directory.
    manifest : dict
        Its ``run.json``.
    parts : list of Path
        Committed parts, in point order.
    """

    root: Path
    manifest: dict[str, Any]
    parts: list[Path]

    @property
    def complete(self) -> bool:
        """Every batch has its part."""
        return len(self.parts) >= int(self.manifest.get("n_batches", 0))

    def describe_missing(self) -> str:
        """One line for an incomplete run."""
        return (f"{self.root}: incomplete run ({len(self.parts)} of {self.manifest.get('n_batches')} "
                f"parts); finish it with: migsim sweep {self.manifest.get('spec_source', 'SPEC')} "
                f"--out {self.root} --resume")


def run_info(run_dir: str | os.PathLike[str]) -> RunInfo:
    """Locate a run directory and its committed parts.

    Parameters
    ----------
    run_dir : path
        The run directory (its ``parts/`` subdirectory is accepted too).

    Raises
    ------
    RunDirError
        If it is not a migsim run directory or holds no part yet.
    """
    root = Path(run_dir)
    if root.name == rundir.PARTS and not rundir.is_run_dir(root) and rundir.is_run_dir(root.parent):
        root = root.parent
    manifest = rundir.read_manifest(root)
    parts = sorted((root / rundir.PARTS).glob("part-*.parquet"))
    if not parts:
        raise RunDirError(f"{root}: no results yet (no committed part in {root / rundir.PARTS})")
    return RunInfo(root, manifest, parts)


def load(run_dir: str | os.PathLike[str]):  # -> polars.LazyFrame
    """The rows of a run as a Polars LazyFrame, in ``point_id`` order.

    Parameters
    ----------
    run_dir : path
        A run directory written by ``migsim sweep`` (``results/<name>``).

    Returns
    -------
    polars.LazyFrame
        One row per point: ``point_id``, ``seed``, every input column (SI units in the names) and
        every output column of ``models.fields.OUTPUTS``.

    Raises
    ------
    RunDirError
        If ``run_dir`` is not a run directory or holds no results yet.

    Examples
    --------
    >>> import runner, polars as pl
    >>> df = runner.load("results/quickstart").filter(pl.col("status") == "completed").collect()
    """
    import polars as pl

    info = run_info(run_dir)
    return pl.scan_parquet([str(p) for p in info.parts])
