"""Compare two runs (or a run and measured migrations), joined on their input columns.

``migsim compare RUN_A RUN_B`` reads the main table of each side (a sweep's ``results``, a scenario
run's ``migrations``, a frontier run's ``frontier``), or a data set of measured runs (a ``migsim
measure`` run directory, its ``runs.csv``, any CSV or Parquet in migsim's columns), and joins the
rows on the input columns both sides have (``--ignore`` drops some from the key: ``--ignore
profile`` compares two profiles point by point). Rows with the same key on one side (repeats,
pooled profiles) are pooled first: numeric outputs by their median, ``status`` by its most frequent
value — the number pooled is reported.

Per numeric output both sides have, over the joined rows where both are non-null: the median and
p90 of B - A (absolute) and of |B - A| / |A| (relative), and how many rows changed at all. Then the
rows whose verdict (``status``) changed, with the change counted by kind, and the rows found on one
side only. The plot (``--out``) draws B against A for total time and downtime (log scales, the
diagonal for no change), verdict changes in red.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from models.errors import MigsimError
from models.fields import INPUT_BY_COLUMN, INPUT_BY_NAME, OUTPUTS, RESOLVED

#: Relative difference below which two values are the same (float noise; assumed).
SAME = 1e-9


class CompareError(MigsimError):
    """Two sides that cannot be compared (unreadable, no common inputs): exit 2."""


def read_side(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """One side as a Polars DataFrame and a label saying what it is."""
    import polars as pl

    from runner.storage import rundir

    p = rundir.resolve_run(path)       # results/<name> holding kept runs: its latest run
    if not p.exists():
        raise CompareError(f"{path}: no such file or directory; allowed: a run directory, or "
                           f"measured runs (a CSV or Parquet in migsim's columns)")
    if p.is_dir() and (p / rundir.MANIFEST).is_file():
        man = rundir.read_manifest(p)
        if man["kind"] == "migsim-measure-run" and (p / "runs.csv").is_file():
            p = p / "runs.csv"
        else:
            from runner.storage.store import load
            return load(p).collect(), f"{man['kind'].removeprefix('migsim-').removesuffix('-run')} " \
                                      f"run {man.get('name', p.name)} (model {man['model_version']})"
    if p.is_dir():
        if (p / "runs.csv").is_file():
            p = p / "runs.csv"
        else:
            raise CompareError(f"{path}: not a migsim run (no run.json) and no runs.csv")
    try:
        if p.suffix == ".parquet":
            df = pl.read_parquet(p)
        else:
            df = pl.read_csv(p, comment_prefix="#", infer_schema_length=100_000)
    except Exception as exc:  # noqa: BLE001 - Polars' many read errors: one line
        raise CompareError(f"{path}: cannot read: {' '.join(str(exc).split())[:200]}") from None
    if "status" not in df.columns and "converged" in df.columns:
        df = df.with_columns(pl.when(pl.col("converged").cast(pl.String).str.to_lowercase()
                                     .is_in(["true", "1"])).then(pl.lit("completed"))
                             .otherwise(pl.lit("failed")).alias("status"))
    return df, f"data set {p.name}"


@dataclass
class Comparison:
    """What :func:`compare` found."""

    keys: list[str]
    a_label: str
    b_label: str
    joined: Any                          # polars DataFrame: keys, <out>_a, <out>_b
    outputs: list[str]
    stats: Any                           # polars DataFrame, one row per output
    verdicts: Any                        # polars DataFrame: status_a, status_b, rows
    only_a: int
    only_b: int
    pooled_a: int
    pooled_b: int
    notes: list[str] = field(default_factory=list)

    @property
    def verdict_changes(self) -> int:
        return int(self.verdicts["rows"].sum()) if self.verdicts.height else 0

    @property
    def unchanged(self) -> bool:
        """Nothing differs: no output changed, no verdict changed, no row on one side only."""
        return (self.only_a == 0 and self.only_b == 0 and self.verdict_changes == 0
                and int(self.stats["changed"].sum()) == 0)


def _pool(df: Any, keys: list[str], outputs: list[str]) -> tuple[Any, int]:
    import polars as pl

    n = df.height
    aggs = [pl.col(o).median().alias(o) for o in outputs]
    if "status" in df.columns:
        aggs.append(pl.col("status").drop_nulls().mode().first().alias("status"))
    g = df.group_by(keys, maintain_order=True).agg(aggs)
    return g, n - g.height


def compare(a: Any, b: Any, *, ignore: Sequence[str] = (), a_label: str = "A",
            b_label: str = "B") -> Comparison:
    """Join two frames on their common input columns and measure the changes.

    Parameters
    ----------
    a, b : polars.DataFrame
        Rows in migsim's columns.
    ignore : sequence of str
        Input columns (or names: ``profile``) left out of the join key.

    Raises
    ------
    CompareError
        An unknown ``ignore`` column, or no common input column to join on.
    """
    import polars as pl

    drop = []
    for name in ignore:
        col = INPUT_BY_NAME[name].column if name in INPUT_BY_NAME else name
        if col not in INPUT_BY_COLUMN:
            raise CompareError(f"--ignore: invalid value {name!r}; allowed: input columns or "
                               f"names: " + ", ".join(INPUT_BY_NAME))
        drop.append(col)
    keys = [c for c in INPUT_BY_COLUMN if c in a.columns and c in b.columns and c not in drop]
    notes = []
    for c in [k for k in keys if k in RESOLVED]:
        # an input the profile resolves is a key only when both sides hold the same values (a
        # swept input); otherwise it is each profile's own value
        va = set(a.get_column(c).drop_nulls().unique().to_list())
        vb = set(b.get_column(c).drop_nulls().unique().to_list())
        if va != vb:
            keys.remove(c)
            notes.append(f"{c} differs between the sides (each profile's own value): not a "
                         f"join key")
    if not keys:
        raise CompareError(f"{a_label} and {b_label} share no input column to join on")
    # a key column with nulls on a side (a profile's own value) joins on nulls as equal
    outputs = [o for o in OUTPUTS if o in a.columns and o in b.columns
               and a.schema[o].is_numeric() and b.schema[o].is_numeric()]

    def prep(df: Any) -> Any:
        cast = []
        for k in keys:
            dt = df.schema[k]
            if dt.is_float():
                cast.append(pl.col(k).round_sig_figs(12))
            elif dt == pl.Boolean or dt.is_integer():
                cast.append(pl.col(k).cast(pl.Float64))
            else:
                cast.append(pl.col(k).cast(pl.String))
        extra = [pl.col(o).cast(pl.Float64) for o in outputs]
        status = [pl.col("status").cast(pl.String)] if "status" in df.columns else []
        return df.select(cast + extra + status)

    pa_, pooled_a = _pool(prep(a), keys, outputs)
    pb_, pooled_b = _pool(prep(b), keys, outputs)
    for side, n in ((a_label, pooled_a), (b_label, pooled_b)):
        if n:
            notes.append(f"{side}: {n:,} rows pooled with others of the same inputs (medians)")
    j = pa_.join(pb_, on=keys, how="full", suffix="_b", coalesce=True, nulls_equal=True)
    ren = {o: f"{o}_a" for o in outputs + (["status"] if "status" in pa_.columns else [])}
    j = j.rename(ren)
    # rows present on one side only: their key is absent from the other side
    a_keys = pa_.select(keys).with_columns(pl.lit(True).alias("_in_a"))
    b_keys = pb_.select(keys).with_columns(pl.lit(True).alias("_in_b"))
    j = j.join(a_keys, on=keys, how="left", nulls_equal=True) \
         .join(b_keys, on=keys, how="left", nulls_equal=True)
    only_a = int(j.filter(pl.col("_in_a").is_not_null() & pl.col("_in_b").is_null()).height)
    only_b = int(j.filter(pl.col("_in_b").is_not_null() & pl.col("_in_a").is_null()).height)
    both = j.filter(pl.col("_in_a").is_not_null() & pl.col("_in_b").is_not_null())
    rows = []
    for o in outputs:
        x = both.select(pl.col(f"{o}_a"), pl.col(f"{o}_b")).drop_nulls()
        va, vb = x[f"{o}_a"].to_numpy(), x[f"{o}_b"].to_numpy()
        finite = np.isfinite(va) & np.isfinite(vb)
        va, vb = va[finite], vb[finite]
        d = vb - va
        with np.errstate(all="ignore"):
            rel = np.where(va != 0, np.abs(d) / np.abs(va), np.where(d == 0, 0.0, np.inf))
        changed = int(np.sum(np.abs(d) > SAME * np.maximum(np.abs(va), 1e-300)))
        nulls = int(both.filter(pl.col(f"{o}_a").is_null() != pl.col(f"{o}_b").is_null()).height)

        def q(v: np.ndarray, p: float) -> float:
            return float(np.percentile(v, p)) if v.size else math.nan

        rows.append({"output": o, "rows": int(va.size), "changed": changed + nulls,
                     "median_diff": q(d, 50), "p90_abs_diff": q(np.abs(d), 90),
                     "median_rel": q(rel[np.isfinite(rel)], 50),
                     "p90_rel": q(rel[np.isfinite(rel)], 90),
                     "null_on_one_side": nulls})
    stats = pl.DataFrame(rows, schema={"output": pl.String, "rows": pl.Int64,
                                       "changed": pl.Int64, "median_diff": pl.Float64,
                                       "p90_abs_diff": pl.Float64, "median_rel": pl.Float64,
                                       "p90_rel": pl.Float64, "null_on_one_side": pl.Int64})
    if "status_a" in both.columns and "status_b" in both.columns:
        verdicts = (both.filter(pl.col("status_a").ne_missing(pl.col("status_b")))
                    .group_by("status_a", "status_b").agg(pl.len().alias("rows"))
                    .sort("rows", descending=True))
    else:
        verdicts = pl.DataFrame(schema={"status_a": pl.String, "status_b": pl.String,
                                        "rows": pl.UInt32})
        notes.append("no status on one side: verdicts not compared")
    joined = both.drop("_in_a", "_in_b")
    return Comparison(keys, a_label, b_label, joined, outputs, stats, verdicts, only_a, only_b,
                      pooled_a, pooled_b, notes)


def plot(c: Comparison, out: str | os.PathLike[str]) -> Path:
    """B against A for total time and downtime; verdict changes in red."""
    import polars as pl

    from runner.errors import QueryError
    from runner.plots.charts import FORMATS, pyplot, save_figure

    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise QueryError(f"--out {str(out)!r}: allowed: a file ending in {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise QueryError(f"--out {str(out)!r}: directory {str(path.parent)!r} does not exist")
    shown = [o for o in ("total_time_s", "downtime_ms", "transferred_bytes") if o in c.outputs][:2]
    if not shown:
        raise QueryError("compare: no total_time_s or downtime_ms on both sides to plot")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(5.2 * len(shown), 4.6), squeeze=False,
                             constrained_layout=True)
    flip = (pl.col("status_a").ne_missing(pl.col("status_b"))
            if "status_a" in c.joined.columns and "status_b" in c.joined.columns else pl.lit(False))
    df = c.joined.with_columns(flip.alias("_flip"))
    for ax, o in zip(axes[0], shown):
        x = df.select(f"{o}_a", f"{o}_b", "_flip").drop_nulls()
        va, vb, fl = (x[k].to_numpy() for k in (f"{o}_a", f"{o}_b", "_flip"))
        pos = (va > 0) & (vb > 0)
        ax.scatter(va[pos & ~fl], vb[pos & ~fl], s=10, alpha=0.6, label="same verdict")
        if (pos & fl).any():
            ax.scatter(va[pos & fl], vb[pos & fl], s=14, color="#d62728", label="verdict changed")
        if pos.any():
            lo, hi = min(va[pos].min(), vb[pos].min()), max(va[pos].max(), vb[pos].max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="no change")
            if hi / lo > 10:
                ax.set_xscale("log")
                ax.set_yscale("log")
        row = c.stats.filter(pl.col("output") == o).row(0, named=True)
        ax.set_title(f"{o}: median change {100 * row['median_rel']:.2f} %, p90 "
                     f"{100 * row['p90_rel']:.2f} % ({row['rows']} rows)", fontsize=8)
        ax.set_xlabel(f"{o} — A: {c.a_label}", fontsize=8)
        ax.set_ylabel(f"{o} — B: {c.b_label}", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{c.verdict_changes} verdicts changed; {c.only_a} rows only in A, {c.only_b} "
                 f"only in B; joined on {len(c.keys)} inputs", fontsize=9)
    save_figure(fig, path)
    plt.close(fig)
    return path
