"""Questions to a run: Polars SQL over its tables, grouped summaries, and writing frames out.

Every table of the run is registered by name: ``results`` for a sweep (one row per point, columns
as in :mod:`runner.storage.schema`); ``migrations``, ``scenarios`` and ``hosts`` for a scenario run, with
``results`` as an alias of ``migrations``. Queries are confined to the run: nothing but its tables
is reachable — file and URL table functions (``read_csv('/etc/hostname')``, ``read_parquet``,
``scan_*``, ...) are refused before Polars sees the query (Polars SQL has no switch to disable
them), and Polars resolves no other relation (no Python globals, no paths in ``FROM``).

A summary groups the rows by one or more columns and reports, per group, how many points
completed, were rejected or failed, the share that converged (of the completed), and the median
and 95th percentile of total time, downtime and traffic over the completed points (tables without
a ``status`` column: row count and the median and 95th percentile of every float column).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from models.fields import INPUT_BY_NAME
from runner.errors import QueryError
from runner.storage.schema import COLUMNS
from runner.storage.store import ALIASES, find_damaged, load, load_all, run_info

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


_COMMENT = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'?")
_QUOTED_ID = re.compile(r'"((?:[^"]|"")*)"?|`([^`]*)`?')
#: Table functions that read files or URLs (Polars SQL: read_csv, read_parquet, read_json,
#: read_ipc, ...; any read_* / scan_* name is refused, present or future).
_FILE_FUNCTION = re.compile(r"\b((?:read|scan)_\w*|load_\w*)\s*\(", re.IGNORECASE)
_PATH_IN_FROM = re.compile(r"\b(?:from|join)\s*(?:\(\s*)*'", re.IGNORECASE)


def check_confined(sql: str, where: str = "query") -> None:
    """Refuse SQL that could reach anything but the run's tables (files, URLs).

    Comments are dropped, string literals emptied and quoted identifiers unquoted first, so
    ``"read_csv"('/etc/hostname')`` or ``READ_CSV /**/ (...)`` are caught as well.

    Raises
    ------
    QueryError
        Naming the function (or the string in ``FROM``) that was refused.
    """
    text = _STRING.sub("''", _COMMENT.sub(" ", sql))
    if _PATH_IN_FROM.search(text):
        raise QueryError(f"{where}: a file or URL in FROM is not allowed; a query reads the "
                         f"run's tables only")
    text = _QUOTED_ID.sub(lambda m: m.group(1) or m.group(2) or "", text)
    text = _COMMENT.sub(" ", text)
    m = _FILE_FUNCTION.search(text)
    if m:
        raise QueryError(f"{where}: {m.group(1)}(...) is not allowed: a query reads the run's "
                         f"tables only, not files or URLs")


def tables(run_dir: str | os.PathLike[str], verify: bool = False) -> dict[str, Any]:
    """Every table of a run by SQL name (LazyFrames), aliases included.

    Tables of a scenario run that have no part yet are left out (the main one must have parts).
    """
    info = run_info(run_dir, verify=verify)
    out = load_all(run_dir, verify=verify)
    for alias, target in ALIASES.get(info.manifest["kind"], {}).items():
        if target in out:
            out[alias] = out[target]
    return out


def _failed(run_dir: str | os.PathLike[str], what: str, exc: BaseException) -> QueryError:
    """A query failure as one line; a damaged part is named rather than a decoder's complaint."""
    bad = find_damaged(run_dir)
    if bad is not None:
        return bad  # type: ignore[return-value]
    return QueryError(f"{what}: {type(exc).__name__}: {_one_line(exc)}")


def run_sql(run_dir: str | os.PathLike[str], sql: str, *, verify: bool = False):
    """Run a Polars SQL query over a run's tables and collect the answer (a polars.DataFrame).

    Parameters
    ----------
    run_dir : path
        The run.
    sql : str
        The query; tables by name (``results``; ``migrations``, ``scenarios``, ``hosts``).
    verify : bool
        Check every part's sha256 first (else sizes only).

    Raises
    ------
    QueryError
        For SQL that does not parse, names unknown columns or reaches outside the run, in one line.
    DamagedPartError
        Naming a part whose size or checksum differs from the ledger.
    """
    import polars as pl

    check_confined(sql)
    frames = tables(run_dir, verify=verify)
    try:
        with pl.SQLContext(frames, eager=False, register_globals=False) as ctx:
            return ctx.execute(sql).collect()
    except (pl.exceptions.PolarsError, ValueError, TypeError, OSError) as exc:
        raise _failed(run_dir, "query failed", exc) from None


def filtered(run_dir: str | os.PathLike[str], where: str | None, table: str | None = None, *,
             verify: bool = False):  # -> polars.LazyFrame
    """The rows of a table of a run, optionally filtered by a SQL predicate (``profile = 'qemu'``)."""
    import polars as pl

    lf = load(run_dir, table, verify=verify)
    if not where:
        return lf
    check_confined(where, f"--where {where!r}")
    try:
        with pl.SQLContext(results=lf, eager=False) as ctx:
            out = ctx.execute(f"SELECT * FROM results WHERE {where}")
            out.collect_schema()
            return out
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise QueryError(f"--where {where!r}: {type(exc).__name__}: {_one_line(exc)}") from None


def summary(run_dir: str | os.PathLike[str], by: list[str], where: str | None = None,
            table: str | None = None, *, verify: bool = False):
    """Grouped statistics of a table of a run (a polars.DataFrame, one row per group, sorted).

    Parameters
    ----------
    run_dir : path
        The run.
    by : list of str
        Columns or canonical input names to group by (empty: one row for the whole run).
    where : str, optional
        SQL predicate selecting the rows first.
    table : str, optional
        The table (default: ``results`` for sweeps, ``migrations`` for scenario runs).
    verify : bool
        Check every part's sha256 first (else sizes only).
    """
    import polars as pl

    lf = filtered(run_dir, where, table, verify=verify)
    schema = lf.collect_schema()
    names = schema.names()
    keys = [resolve_column(b, names) for b in by if b.strip()]
    if "status" not in names:
        floats = [c for c, t in schema.items() if t.is_float() and c not in keys]
        aggs_plain: list[Any] = [pl.len().alias("rows")]
        for c in floats:
            aggs_plain += [pl.col(c).median().alias(f"{c}_p50"),
                           pl.col(c).quantile(0.95, "linear").alias(f"{c}_p95")]
        try:
            if keys:
                return lf.group_by(keys).agg(aggs_plain).sort(keys).collect()
            return lf.select(aggs_plain).collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _failed(run_dir, "summary failed", exc) from None
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
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _failed(run_dir, "summary failed", exc) from None
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
