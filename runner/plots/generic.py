"""Generic figures of any run: ``xy`` (one field against another) and ``cdf`` (distribution of a
field), with the rules of :mod:`runner.plots.charts`.

- Fields are result columns or model input names (``link`` means ``link_bps``); axis labels are
  the column names, which carry their unit (``downtime_ms``, ``memory_bytes``), plus the unit
  spelled out where the name abbreviates it. Axes go logarithmic when every value is positive
  and they span more than :data:`LOG_SPAN`.
- ``xy``: the median of ``y`` at each ``x`` (one line per ``--color`` value, one panel per
  ``--facet`` value) with the 10–90 % band when several points share an ``x``; rows where ``y``
  is null (it does not apply, e.g. the downtime of a failed migration) are left out and counted
  in the title. A numeric ``x`` or ``--color`` with many distinct values (random draws) is
  binned on a log scale, as the fixed figures do.
- ``cdf``: the empirical cumulative distribution of ``y``, one curve per ``--color`` value.
- The title names the run, the ``--where`` filter, the inputs fixed across the plotted rows and
  the inputs that varied but were pooled into the medians / distribution.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import QueryError
from runner.plots.charts import (MAX_LINES, MAX_X, _binned, context, pyplot,
                                 save_figure)
from runner.plots.timeline import check_out

KINDS = ("xy", "cdf")
#: Ratio of largest to smallest value above which an all-positive axis is drawn on a log scale.
LOG_SPAN = 100.0
#: Most panels ``--facet`` draws.
MAX_FACETS = 12
#: Units of column-name suffixes, spelled out on the axes.
UNITS = {"_bytes": "bytes", "_Bps": "bytes/s", "_bps": "bit/s", "_ms": "ms", "_s": "s",
         "_pct": "%", "_pps": "pages/s"}


def axis_label(col: str) -> str:
    """The column name with its unit spelled out: ``downtime_ms`` → ``downtime_ms (ms)``."""
    for suffix, unit in UNITS.items():
        if col.endswith(suffix):
            return f"{col} ({unit})"
    return col




def _frame(run_dir: str | os.PathLike[str], fields: dict[str, str | None], where: str | None,
           table: str | None) -> tuple[Any, dict[str, str]]:
    """The rows (filtered) and the resolved column of each option (``--x`` → ``link_bps``)."""
    import polars as pl

    from runner.storage.query import filtered, resolve_column
    from runner.storage.schema import INPUT_COLUMNS

    lf = filtered(run_dir, where, table)
    names = lf.collect_schema().names()
    cols: dict[str, str] = {}
    for opt, name in fields.items():
        if name is None:
            continue
        try:
            cols[opt] = resolve_column(name, names)
        except QueryError:
            raise QueryError(f"{opt}: unknown field {name!r}; allowed: a column of this run "
                             f"({', '.join(names)}) or a model input name") from None
    keep = list(dict.fromkeys(list(cols.values()) + [c for c in INPUT_COLUMNS if c in names]))
    df = lf.select(keep).collect()
    if df.height == 0:
        raise QueryError("nothing to plot: no rows" + (f" match --where {where!r}" if where else ""))
    for c in set(cols.values()):
        if df.schema[c] == pl.Categorical or isinstance(df.schema[c], pl.Enum):
            df = df.with_columns(pl.col(c).cast(pl.String))
    return df, cols


def _numeric(df: Any, col: str) -> bool:
    return df.schema[col].is_numeric()


def _is_log(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return bool(len(v)) and float(v.min()) > 0 and float(v.max()) / float(v.min()) > LOG_SPAN


def _groups(df: Any, col: str | None, what: str, max_values: int) -> tuple[Any, str | None]:
    """Bin a numeric grouping column with too many values; refuse a string one."""
    if col is None:
        return df, None
    n = df.get_column(col).n_unique()
    if n <= max_values:
        return df, col
    if _numeric(df, col):
        return _binned(df, col, max_values, f"{col} (binned)"), f"{col} (binned)"
    raise QueryError(f"{what} {col}: {n} distinct values; at most {max_values} (filter with "
                     f"--where, or choose a field with fewer values)")


def _label(col: str, value: Any) -> str:
    from runner.cli.display import human
    from runner.storage.schema import INPUT_COLUMNS

    base = col.removesuffix(" (binned)")
    if value is None:
        return "null"
    if base in INPUT_COLUMNS and isinstance(value, (int, float)):
        return ("~" if base != col else "") + human(base, value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _run_name(run_dir: str | os.PathLike[str]) -> str:
    p = Path(run_dir)
    return p.name if p.name != "latest" else p.parent.name


def xy(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], x: str, y: str,
       color: str | None = None, facet: str | None = None, where: str | None = None,
       table: str | None = None, title: str | None = None) -> Path:
    """Median of ``y`` against ``x`` (band 10–90 %), per ``color`` line and ``facet`` panel.

    Raises
    ------
    QueryError
        Unknown field, non-numeric ``y``, nothing to plot, too many facets or colours.
    """
    import polars as pl

    path = check_out(out)
    df, cols = _frame(run_dir, {"--x": x, "--y": y, "--color": color, "--facet": facet}, where,
                      table)
    xc, yc = cols["--x"], cols["--y"]
    if not _numeric(df, yc):
        raise QueryError(f"--y {y}: {yc} is not numeric; allowed: a numeric field")
    total = df.height
    df = df.filter(pl.col(yc).is_not_null() & pl.col(xc).is_not_null())
    if yc in df.columns and df.schema[yc].is_float():
        df = df.filter(pl.col(yc).is_finite())
    if df.height == 0:
        raise QueryError(f"nothing to plot: {yc} is null in every row (it does not apply to them)")
    df, cc = _groups(df, cols.get("--color"), "--color", MAX_LINES)
    df, fc = _groups(df, cols.get("--facet"), "--facet", MAX_FACETS)
    x_num = _numeric(df, xc)
    if x_num and df.get_column(xc).n_unique() > MAX_X:
        df = _binned(df, xc, MAX_X, "__x")
    else:
        df = df.with_columns(pl.col(xc).alias("__x"))
    facets = sorted(df.get_column(fc).unique().to_list(), key=_sort_key) if fc else [None]
    plt = pyplot()
    ncol = min(len(facets), 4)
    nrow = -(-len(facets) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(5.5, 4.6 * ncol), 4.2 * nrow),
                             squeeze=False, sharey=True, constrained_layout=True)
    categories = sorted(df.get_column("__x").unique().to_list(), key=_sort_key) if not x_num \
        else None
    pooled_any = False
    for i, fv in enumerate(facets):
        ax = axes[i // ncol][i % ncol]
        part = df if fc is None else df.filter(pl.col(fc) == fv)
        lines = sorted(part.get_column(cc).unique().to_list(), key=_sort_key) if cc else [None]
        for lv in lines:
            sub = part if cc is None else part.filter(pl.col(cc) == lv)
            g = (sub.group_by("__x").agg(pl.col(yc).median().alias("m"),
                                         pl.col(yc).quantile(0.1, "linear").alias("lo"),
                                         pl.col(yc).quantile(0.9, "linear").alias("hi"),
                                         pl.len().alias("n")).sort("__x"))
            xs = g.get_column("__x").to_list()
            pos = np.array([categories.index(v) for v in xs], dtype=float) if categories \
                else np.array(xs, dtype=float)
            label = _label(cc, lv) if cc else None
            line, = ax.plot(pos, g.get_column("m").to_numpy(), marker="o", ms=3, label=label)
            if int(g.get_column("n").max()) > 1:
                pooled_any = True
                ax.fill_between(pos, g.get_column("lo").to_numpy(), g.get_column("hi").to_numpy(),
                                color=line.get_color(), alpha=0.18, linewidth=0)
        if categories:
            ax.set_xticks(range(len(categories)), [str(c) for c in categories],
                          rotation=30 if len(categories) > 4 else 0)
        elif _is_log(df.get_column("__x").to_numpy().astype(float)):
            ax.set_xscale("log")
        if _is_log(df.get_column(yc).to_numpy().astype(float)):
            ax.set_yscale("log")
        ax.set_xlabel(axis_label(xc))
        if i % ncol == 0:
            ax.set_ylabel(axis_label(yc) + (" (median)" if pooled_any else ""))
        if fc is not None:
            ax.set_title(f"{fc} = {_label(fc, fv)}", fontsize=9)
        if cc is not None:
            ax.legend(title=cc, fontsize=8, title_fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for j in range(len(facets), nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    shown = [c for c in (xc, cols.get("--color"), cols.get("--facet")) if c]
    about = _wrap(context(df, shown, where, "medians (band 10-90 %) over" if pooled_any
                          else "also varying:"))
    count = _count(df.height, total, yc)
    fig.suptitle(title or f"{yc} vs {xc}: {_run_name(run_dir)}\n{count}"
                 + (f"\n{about}" if about else ""), fontsize=10)
    save_figure(fig, path)
    plt.close(fig)
    return path


def cdf(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], y: str,
        color: str | None = None, where: str | None = None, table: str | None = None,
        title: str | None = None) -> Path:
    """Empirical CDF of ``y``, one curve per ``color`` value.

    Raises
    ------
    QueryError
        Unknown field, non-numeric ``y``, nothing to plot, too many colours.
    """
    import polars as pl

    path = check_out(out)
    df, cols = _frame(run_dir, {"--y": y, "--color": color}, where, table)
    yc = cols["--y"]
    if not _numeric(df, yc):
        raise QueryError(f"--y {y}: {yc} is not numeric; allowed: a numeric field")
    total = df.height
    df = df.filter(pl.col(yc).is_not_null())
    if df.schema[yc].is_float():
        df = df.filter(pl.col(yc).is_finite())
    if df.height == 0:
        raise QueryError(f"nothing to plot: {yc} is null in every row (it does not apply to them)")
    df, cc = _groups(df, cols.get("--color"), "--color", MAX_LINES)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 5.0), constrained_layout=True)
    groups = sorted(df.get_column(cc).unique().to_list(), key=_sort_key) if cc else [None]
    for gv in groups:
        v = np.sort((df if cc is None else df.filter(pl.col(cc) == gv)).get_column(yc)
                    .to_numpy().astype(float))
        frac = np.arange(1, len(v) + 1) / len(v)
        ax.step(v, frac, where="post",
                label=f"{_label(cc, gv)} (n={len(v):,})" if cc else f"n={len(v):,}")
    if _is_log(df.get_column(yc).to_numpy().astype(float)):
        ax.set_xscale("log")
    ax.set_xlabel(axis_label(yc))
    ax.set_ylabel("fraction of rows <= x (CDF)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title=cc, fontsize=8, title_fontsize=8)
    about = _wrap(context(df, [c for c in (cols.get("--color"),) if c], where, "pooled over"), 90)
    count = _count(df.height, total, yc)
    ax.set_title(title or f"Distribution of {yc}: {_run_name(run_dir)}\n{count}"
                 + (f"\n{about}" if about else ""), fontsize=9)
    save_figure(fig, path)
    plt.close(fig)
    return path


def _count(kept: int, total: int, yc: str) -> str:
    """Title line: the rows drawn, and how many were left out for a null ``yc``."""
    dropped = total - kept
    return f"{kept:,} rows" + (f" ({dropped:,} without {yc}: null, it does not apply)"
                               if dropped else "")


def _wrap(text: str, width: int = 120) -> str:
    """Title lines wrapped so that none runs off the figure."""
    import textwrap

    return "\n".join(w for line in text.splitlines() for w in textwrap.wrap(line, width) or [""])


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (2, 0)
    return (0, v) if isinstance(v, (int, float)) else (1, str(v))
