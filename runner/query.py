"""Questions to a run: Polars SQL over the rows, grouped summaries, and writing frames out.

The SQL table is ``results`` (one row per point, columns as in :mod:`runner.schema`). A summary
groups the points by one or more input columns and reports, per group, how many points completed,
were rejected or failed, the share that converged (of the completed), and the median and 95th
percentile of total time, downtime and traffic over the completed points.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from models.fields import INPUT_BY_NAME
from runner.errors import QueryError
from runner.schema import COLUMNS
from runner.store import load

#: Output formats of ``--out`` by suffix.
WRITERS = (".csv", ".parquet", ".json", ".ndjson")
#: Metrics of a summary: column -> (label, scale) for medians and p95.
SUMMARY_METRICS = {
    "total_time_s": ("total_time_s", 1.0),
    "downtime_ms": ("downtime_ms", 1.0),
    "transferred_bytes": ("transferred_GiB", 1.0 / 2**30),
}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def resolve_column(name: str, columns: Any = COLUMNS) -> str:
    """A column of the results from a column name or a canonical input name (``link`` → ``link_bps``).

    ``columns`` are the run's own columns (a scenario run has more than a sweep's schema).
    """
    name = name.strip()
    if name in columns:
        return name
    if name in INPUT_BY_NAME and INPUT_BY_NAME[name].column in columns:
        return INPUT_BY_NAME[name].column
    raise QueryError(f"--by: unknown column {name!r}; allowed: a column of the results "
                     f"({', '.join(columns)}) or a model input name ({', '.join(INPUT_BY_NAME)})")


def run_sql(run_dir: str | os.PathLike[str], sql: str):  # -> polars.DataFrame
    """Run a Polars SQL query over a run (table ``results``) and collect the answer.

    Raises
    ------
    QueryError
        For SQL that does not parse or names unknown columns, in one line.
    """
    import polars as pl

    lf = load(run_dir)
    try:
        with pl.SQLContext(results=lf, eager=False) as ctx:
            return ctx.execute(sql).collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise QueryError(f"query failed: {type(exc).__name__}: {_one_line(exc)}") from None


def filtered(run_dir: str | os.PathLike[str], where: str | None):  # -> polars.LazyFrame
    """The rows of a run, optionally filtered by a SQL predicate (``profile = 'qemu'``)."""
    import polars as pl

    lf = load(run_dir)
    if not where:
        return lf
    try:
        with pl.SQLContext(results=lf, eager=False) as ctx:
            out = ctx.execute(f"SELECT * FROM results WHERE {where}")
            out.collect_schema()
            return out
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise QueryError(f"--where {where!r}: {type(exc).__name__}: {_one_line(exc)}") from None


def summary(run_dir: str | os.PathLike[str], by: list[str], where: str | None = None):
    """Grouped statistics of a run (a polars.DataFrame, one row per group, sorted by the keys).

    Parameters
    ----------
    run_dir : path
        The run.
    by : list of str
        Columns or canonical input names to group by (empty: one row for the whole run).
    where : str, optional
        SQL predicate selecting the points first.
    """
    import polars as pl

    lf = filtered(run_dir, where)
    names = lf.collect_schema().names()
    keys = [resolve_column(b, names) for b in by if b.strip()]
    done = pl.col("status") == "completed"
    aggs: list[Any] = [
        pl.len().alias("points"),
        done.sum().alias("completed"),
        (pl.col("status") == "rejected").sum().alias("rejected"),
        (pl.col("status") == "failed").sum().alias("failed"),
        (pl.col("converged") & done).sum().truediv(done.sum()).alias("converged_share"),
    ]
    for col, (label, scale) in SUMMARY_METRICS.items():
        x = pl.col(col).filter(done) * scale
        aggs += [x.median().alias(f"{label}_p50"), x.quantile(0.95, "linear").alias(f"{label}_p95")]
    try:
        if keys:
            df = lf.group_by(keys).agg(aggs).sort(keys).collect()
        else:
            df = lf.select(aggs).collect()
    except pl.exceptions.PolarsError as exc:
        raise QueryError(f"summary failed: {type(exc).__name__}: {_one_line(exc)}") from None
    return df


def write_frame(df: Any, path: str | os.PathLike[str]) -> None:
    """Write a polars.DataFrame by the file suffix: .csv, .parquet, .json (array) or .ndjson."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in WRITERS:
        raise QueryError(f"--out {str(path)!r}: unknown format; allowed: a file ending in "
                         + ", ".join(WRITERS))
    if p.parent and not p.parent.exists():
        raise QueryError(f"--out {str(path)!r}: directory {str(p.parent)!r} does not exist")
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        if suffix == ".csv":
            df.write_csv(tmp)
        elif suffix == ".parquet":
            df.write_parquet(tmp)
        elif suffix == ".json":
            df.write_json(tmp)
        else:
            df.write_ndjson(tmp)
        os.replace(tmp, p)
    except OSError as exc:
        raise QueryError(f"--out {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
