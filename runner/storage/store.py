"""Reading runs back: a table of a run directory as a Polars LazyFrame (``runner.load``).

A sweep run has one table, ``results``; a scenario run has ``migrations`` (one row per
migration; ``results`` is accepted as its alias), ``scenarios`` and ``hosts``. Each table is a
directory of Parquet parts and nothing else, so plain tools read it too::

    pl.scan_parquet("results/quickstart/results")
    pyarrow.dataset.dataset("results/quickstart/results")
    duckdb.sql("SELECT * FROM read_parquet('results/quickstart/results/*.parquet')")

Here only the parts the run's ledger lists as committed are read, and their sizes are checked
against the ledger (checksums too with ``verify=True``), so a damaged part is named instead of
failing deep inside a Parquet reader. Rows come back in point order (parts are named by batch,
zero-padded, and read in name order), so ``load(run)`` of the same spec and seed always yields the
same frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.storage import rundir
from runner.errors import DamagedPartError, RunDirError

#: Another name a table answers to, per run kind (a scenario run's ``results`` is ``migrations``).
ALIASES = {"migsim-scenario-run": {"results": "migrations"}}


@dataclass(frozen=True)
class RunInfo:
    """One table of a run directory on disk.

    Attributes
    ----------
    root : Path
        Run directory.
    manifest : dict
        Its validated ``run.json``.
    table : str
        The table.
    parts : list of Path
        Committed parts present on disk, in point order.
    records : list of dict
        Their ledger records (``name``, ``size``, ``rows``, ``sha256``), in the same order.
    """

    root: Path
    manifest: dict[str, Any]
    table: str
    parts: list[Path]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every batch has its part."""
        return len(self.parts) >= int(self.manifest["n_batches"])

    def describe_missing(self) -> str:
        """One line for an incomplete run."""
        cmd = "scenario" if self.manifest["kind"] == "migsim-scenario-run" else "sweep"
        return (f"{self.root}: incomplete run ({len(self.parts)} of {self.manifest['n_batches']} "
                f"parts); finish it with: migsim {cmd} {self.manifest.get('spec_source') or 'SPEC'} "
                f"--out {self.root} --resume")


def _root_of(run_dir: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """The run directory, and the table when ``run_dir`` names a table directory."""
    root = rundir.resolve_run(run_dir)
    if root.name in rundir.ALL_TABLES and not (root / rundir.MANIFEST).exists() \
            and (root.parent / rundir.MANIFEST).is_file():
        return root.parent, root.name
    return root, None


def table_names(run_dir: str | os.PathLike[str]) -> list[str]:
    """The tables of a run (``["results"]`` for a sweep; ``["migrations", "scenarios",
    "hosts"]`` for a scenario run), main table first.

    Raises
    ------
    RunDirError
        If ``run_dir`` is not a migsim run directory.
    """
    root, _ = _root_of(run_dir)
    return list(rundir.read_manifest(root)["tables"])


def resolve_table(manifest: dict[str, Any], table: str | None, where: Path) -> str:
    """The table named ``table`` (``None``: the main one) of a run, aliases applied."""
    tables = list(manifest["tables"])
    if table is None:
        return tables[0]
    name = ALIASES.get(manifest["kind"], {}).get(table, table)
    if name not in tables:
        raise RunDirError(f"{where}: table {table!r}: no such table; allowed: "
                          + ", ".join(tables + list(ALIASES.get(manifest["kind"], {}))))
    return name


def run_info(run_dir: str | os.PathLike[str], table: str | None = None, *,
             verify: bool = False) -> RunInfo:
    """Locate a table of a run directory and its committed parts (sizes checked).

    Parameters
    ----------
    run_dir : path
        The run directory (a table directory such as ``RUN/results`` is accepted too).
    table : str, optional
        The table (default: the run's main table).
    verify : bool
        Compare every part's sha256 with the ledger too (reads every byte).

    Raises
    ------
    RunDirError
        If it is not a migsim run directory or holds no part yet.
    DamagedPartError
        Naming the first part whose size (or checksum) differs from its ledger record.
    """
    root, from_path = _root_of(run_dir)
    manifest = rundir.read_manifest(root)
    name = resolve_table(manifest, table or from_path, root)
    layout = rundir.Layout(root, manifest["n_points"], manifest["batch_size"], name)
    parts: list[Path] = []
    records: list[dict[str, Any]] = []
    for b, rec in sorted(rundir.read_ledger(root).items()):
        frec = rec["files"].get(name)
        if frec is None or not 0 <= b < layout.n_batches:
            continue
        path = layout.part_path(b)
        problem = rundir.check_part(path, frec, verify)
        if problem == "missing":
            continue
        if problem is not None:
            raise damaged(root, manifest, path, problem)
        parts.append(path)
        records.append(frec)
    if not parts:
        raise RunDirError(f"{root}: no results yet (no committed part in {layout.table_dir})")
    return RunInfo(root, manifest, name, parts, records)


def damaged(root: Path, manifest: dict[str, Any], path: Path, problem: str) -> DamagedPartError:
    """The error naming a damaged part and how to recompute it."""
    cmd = "scenario" if manifest["kind"] == "migsim-scenario-run" else "sweep"
    return DamagedPartError(f"{path}: {problem}; recompute it with: migsim {cmd} "
                            f"{manifest.get('spec_source') or 'SPEC'} --out {root} --resume")


def verify(run_dir: str | os.PathLike[str]) -> None:
    """Check every committed part of every table of a run against its sha256.

    Raises
    ------
    DamagedPartError
        Naming the first damaged part.
    """
    for t in table_names(run_dir):
        run_info(run_dir, t, verify=True)


def load(run_dir: str | os.PathLike[str], table: str | None = None, *,
         verify: bool = False):  # -> polars.LazyFrame
    """The rows of a table of a run as a Polars LazyFrame, in ``point_id`` order.

    Parameters
    ----------
    run_dir : path
        A run directory written by ``migsim sweep`` or ``migsim scenario`` (``results/<name>``).
    table : str, optional
        ``results`` (sweeps); ``migrations`` (alias ``results``), ``scenarios`` or ``hosts``
        (scenario runs). Default: the run's main table.
    verify : bool
        Check every part's sha256 first (else sizes only).

    Returns
    -------
    polars.LazyFrame
        A sweep's ``results``: one row per point: ``point_id``, ``seed``, every input column (SI
        units in the names) and every output column of ``models.fields.OUTPUTS``.

    Raises
    ------
    RunDirError
        If ``run_dir`` is not a run directory, has no such table or holds no results yet
        (:class:`~runner.errors.DamagedPartError` for a damaged part).

    Examples
    --------
    >>> import runner, polars as pl
    >>> df = runner.load("results/quickstart").filter(pl.col("status") == "completed").collect()
    """
    import polars as pl

    info = run_info(run_dir, table, verify=verify)
    return pl.scan_parquet([str(p) for p in info.parts])


def load_all(run_dir: str | os.PathLike[str], *, verify: bool = False) -> dict[str, Any]:
    """Every table of a run by name (LazyFrames); tables without parts yet are left out."""
    out: dict[str, Any] = {}
    for t in table_names(run_dir):
        try:
            out[t] = load(run_dir, t, verify=verify)
        except DamagedPartError:
            raise
        except RunDirError:
            continue
    if not out:
        run_info(run_dir)  # raises "no results yet"
    return out


def find_damaged(run_dir: str | os.PathLike[str]) -> DamagedPartError | None:
    """The first damaged part of a run (full checksums), or ``None``; never raises for it."""
    try:
        verify(run_dir)
    except DamagedPartError as exc:
        return exc
    except RunDirError:
        return None
    return None
