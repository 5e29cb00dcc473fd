"""Figures of a run for reports: convergence map, time and downtime curves, traffic vs VM size.

- ``convergence``: page-dirty rate × link speed, one panel per profile, each cell coloured by the
  verdict of its points (converged, converged with vCPU throttling, forced switch-over, failed,
  rejected; the most frequent when other inputs vary) or by median downtime; the dashed line is
  dirty rate = line rate.
- ``time``: median total migration time (top) and downtime (bottom) vs dirty rate, one line per
  link speed, one column per profile (completed points; other inputs pooled).
- ``traffic``: bytes on the wire vs VM memory, median and 10–90 % band per profile, with the
  memory size itself for reference.

Matplotlib with the Agg backend (no display needed). Axes carry units (downtime always in ms);
continuous inputs with many distinct values (random samples) are binned on a log scale. A figure
refuses (exit 2, naming what it needs) rather than mislead when the run lacks the inputs it plots
against; its title names the ``--where`` filter, the inputs fixed across the plotted points and the
inputs that varied but were pooled into the medians.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import QueryError
from runner.storage.query import filtered

KINDS = ("convergence", "time", "traffic")
FORMATS = (".png", ".svg", ".pdf")
VERDICTS = {  # name -> colour
    "converged": "#2ca02c",
    "converged, throttled": "#bcbd22",
    "forced switch-over": "#ff7f0e",
    "failed": "#d62728",
    "rejected": "#9e9e9e",
}
MAX_LINES = 8
MAX_X = 40
MAX_CELLS = 200


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _collect(run_dir: str | os.PathLike[str], where: str | None, columns: list[str]):
    import polars as pl

    from runner.storage.schema import INPUT_COLUMNS

    lf = filtered(run_dir, where)
    names = lf.collect_schema().names()
    extra = [c for c in INPUT_COLUMNS if c in names and c not in columns]
    df = lf.select(columns + extra).collect()
    if df.height == 0:
        raise QueryError("nothing to plot: no points" + (f" match --where {where!r}" if where else ""))
    return df.with_columns(pl.col("profile").cast(pl.String))


def _require(df: Any, kind: str, needs: dict[str, str]) -> None:
    """Refuse a figure whose axes the run does not vary (it would draw a block or a dot)."""
    flat = [f"{label} ({col})" for col, label in needs.items()
            if df.get_column(col).drop_nulls().n_unique() < 2]
    if flat:
        raise QueryError(f"plot {kind}: the run has one value of " + " and ".join(flat) +
                         f"; this figure needs several of each (sweep {', '.join(needs)} in the "
                         f"spec, or choose another figure)")


def context(df: Any, axes: list[str], where: str | None, pooled_label: str = "medians over"
            ) -> str:
    """One or two lines for a title: the filter, the inputs fixed in ``df`` and those pooled.

    Parameters
    ----------
    df : polars.DataFrame
        The plotted points, with their input columns.
    axes : list of str
        Input columns the figure shows (neither fixed nor pooled).
    where : str or None
        The ``--where`` filter.
    """
    from models.fields import INPUT_BY_COLUMN
    from runner.cli.display import human
    from runner.storage.schema import INPUT_COLUMNS

    fixed, pooled = [], []
    for c in INPUT_COLUMNS:
        if c not in df.columns or c in axes:
            continue
        vals = df.get_column(c).drop_nulls().unique()
        if len(vals) == 1:
            fixed.append(f"{INPUT_BY_COLUMN[c].name}={human(c, vals.item())}")
        elif len(vals) > 1:
            pooled.append(c)
    parts = []
    if where:
        parts.append(f"where {where}")
    if fixed:
        parts.append("fixed: " + ", ".join(fixed[:6]) + (" …" if len(fixed) > 6 else ""))
    if pooled:
        parts.append(f"{pooled_label} " + ", ".join(pooled))
    return "\n".join(["; ".join(parts[:2])] + parts[2:]) if parts else ""


def _binned(df: Any, col: str, max_values: int, out: str) -> Any:
    """Add column ``out``: ``col`` itself, or its log-bin centre when it has too many values."""
    import polars as pl

    vals = df.get_column(col)
    if vals.n_unique() <= max_values:
        return df.with_columns(pl.col(col).alias(out))
    pos = vals.filter(vals > 0)
    lo, hi = float(pos.min()), float(pos.max())
    if not lo < hi:
        return df.with_columns(pl.col(col).alias(out))
    edges = np.geomspace(lo, hi, max_values + 1)
    centres = np.sqrt(edges[:-1] * edges[1:])
    idx = np.clip(np.searchsorted(edges, vals.to_numpy(), side="right") - 1, 0, max_values - 1)
    return df.with_columns(pl.Series(out, centres[idx]))


def _profiles(df: Any) -> list[str]:
    """Profiles present, in the order of models.policy.PROFILES."""
    from models.policy import PROFILES

    present = set(df.get_column("profile").unique().to_list())
    return [p for p in PROFILES if p in present] + sorted(present - set(PROFILES))


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges (log scale) around sorted positive centres."""
    if len(v) == 1:
        return np.array([v[0] / 1.25, v[0] * 1.25])
    mid = np.sqrt(v[:-1] * v[1:])
    return np.concatenate([[v[0] ** 2 / mid[0]], mid, [v[-1] ** 2 / mid[-1]]])


def _panels(plt: Any, n: int, rows: int = 1, height: float = 4.2) -> tuple[Any, np.ndarray]:
    fig, axes = plt.subplots(rows, n, figsize=(max(5.0, 4.6 * n), height * rows), squeeze=False,
                             constrained_layout=True)
    return fig, axes


def save_figure(fig: Any, out: Path) -> None:
    """Save a figure atomically (temporary file, then rename)."""
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        fig.savefig(tmp, dpi=150)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def _fmt_link(bps: float) -> str:
    return f"{bps / 1e9:g} Gbit/s" if bps >= 1e9 else f"{bps / 1e6:g} Mbit/s"


def _verdicts(df: Any) -> Any:
    import polars as pl

    return df.with_columns(
        pl.when(pl.col("status") == "rejected").then(pl.lit("rejected"))
        .when(pl.col("status") == "failed").then(pl.lit("failed"))
        .when(pl.col("forced")).then(pl.lit("forced switch-over"))
        .when(pl.col("max_throttle_pct") > 0).then(pl.lit("converged, throttled"))
        .otherwise(pl.lit("converged")).alias("verdict"))


def convergence(run_dir: str | os.PathLike[str], out: Path, where: str | None = None,
                color: str = "verdict", title: str | None = None) -> None:
    """Convergence map: dirty rate × link speed per profile, coloured by verdict or downtime."""
    import polars as pl

    if color not in ("verdict", "downtime"):
        raise QueryError(f"--color: invalid value {color!r}; allowed: verdict, downtime")
    plt = pyplot()
    df = _collect(run_dir, where, ["profile", "dirty_rate_Bps", "link_bps", "status", "forced",
                                   "max_throttle_pct", "downtime_ms"])
    _require(df, "convergence", {"dirty_rate_Bps": "page-dirty rate", "link_bps": "link speed"})
    about = context(df, ["profile", "dirty_rate_Bps", "link_bps"], where,
                    "most frequent verdict over" if color == "verdict" else "medians over")
    df = _verdicts(df)
    df = _binned(df, "dirty_rate_Bps", MAX_CELLS, "x")
    df = _binned(df, "link_bps", MAX_CELLS, "y")
    profiles = _profiles(df)
    ncols = len(profiles) if len(profiles) <= 3 else 2
    nrows = -(-len(profiles) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.2 * nrows + 0.6), squeeze=False,
                             constrained_layout=True)
    for ax in axes.ravel()[len(profiles):]:
        ax.set_visible(False)
    keys = ["profile", "x", "y"]
    if color == "verdict":
        cells = (df.group_by(keys + ["verdict"]).len()
                 .sort(keys + ["len", "verdict"], descending=[False, False, False, True, False])
                 .group_by(keys, maintain_order=True).first())
    else:
        cells = df.filter(pl.col("status") == "completed").group_by(keys).agg(
            pl.col("downtime_ms").median().alias("downtime_ms"))
        if cells.height == 0:
            raise QueryError("nothing to plot: no completed points to show downtime for")
    xs_all = df.get_column("x").to_numpy() / 1e6
    ys_all = df.get_column("y").to_numpy() / 1e9
    ux = np.unique(xs_all[xs_all > 0])
    uy = np.unique(ys_all[ys_all > 0])
    names = list(VERDICTS)
    from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
    vmap = ListedColormap([VERDICTS[n] for n in names])
    vnorm = BoundaryNorm(np.arange(len(names) + 1) - 0.5, len(names))
    if color == "downtime":
        dt = cells.get_column("downtime_ms").to_numpy()
        dmin = max(float(np.nanmin(dt)), 1e-3)
        dnorm = LogNorm(dmin, max(float(np.nanmax(dt)), dmin * 10))
    mappable = None
    seen: set[str] = set()
    for ax, prof in zip(axes.ravel(), profiles):
        sub = cells.filter(pl.col("profile") == prof)
        x = sub.get_column("x").to_numpy() / 1e6
        y = sub.get_column("y").to_numpy() / 1e9
        if color == "verdict":
            z = np.array([names.index(v) for v in sub.get_column("verdict").to_list()], dtype=float)
            seen |= set(sub.get_column("verdict").to_list())
            cmap, norm = vmap, vnorm
        else:
            z = np.maximum(sub.get_column("downtime_ms").to_numpy(), 1e-3)
            cmap, norm = "viridis", dnorm
        if len(ux) * len(uy) <= 250_000 and (x > 0).all() and (y > 0).all():
            grid = np.full((len(uy), len(ux)), np.nan)
            grid[np.searchsorted(uy, y), np.searchsorted(ux, x)] = z
            mappable = ax.pcolormesh(_edges(ux), _edges(uy), np.ma.masked_invalid(grid),
                                     cmap=cmap, norm=norm, shading="flat")
        else:
            mappable = ax.scatter(x, y, c=z, s=12, marker="s", cmap=cmap, norm=norm,
                                  edgecolors="none")
        lo, hi = max(xs_all.min(), 1e-3), max(xs_all.max(), 1e-3)
        ref = np.geomspace(lo / 2, hi * 2, 50)
        ax.plot(ref, ref * 8e6 / 1e9, "k--", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(_edges(ux)[0], _edges(ux)[-1])
        ax.set_ylim(_edges(uy)[0], _edges(uy)[-1])
        ax.set_xlabel("page-dirty rate (MB/s)")
        ax.set_ylabel("link speed per NIC (Gbit/s)")
        ax.set_title(prof)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    ref_handle = Line2D([], [], color="k", ls="--", lw=1, label="dirty rate = line rate")
    if color == "verdict":
        handles = [Patch(color=VERDICTS[n], label=n) for n in names if n in seen] + [ref_handle]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    else:
        fig.colorbar(mappable, ax=axes.ravel().tolist(), label="median downtime (ms)")
        blank = Patch(facecolor="white", edgecolor="0.5", label="no completed point (failed/rejected)")
        fig.legend(handles=[blank, ref_handle], loc="outside lower center", ncol=2)
    fig.suptitle(title or f"Pre-copy convergence by profile: {Path(run_dir).name} "
                 f"({df.height:,} points)" + (f"\n{about}" if about else ""), fontsize=11)
    save_figure(fig, out)
    plt.close(fig)


def time_curves(run_dir: str | os.PathLike[str], out: Path, where: str | None = None,
                title: str | None = None) -> None:
    """Median total time and downtime vs dirty rate, a line per link speed, a column per profile."""
    import polars as pl

    plt = pyplot()
    df = _collect(run_dir, where, ["profile", "dirty_rate_Bps", "link_bps", "status",
                                   "total_time_s", "downtime_ms"])
    _require(df, "time", {"dirty_rate_Bps": "page-dirty rate"})
    done = df.filter(pl.col("status") == "completed")
    if done.height == 0:
        raise QueryError("nothing to plot: no completed points")
    done = _binned(done, "dirty_rate_Bps", MAX_X, "x")
    done = _binned(done, "link_bps", MAX_LINES, "link")
    profiles = _profiles(df)
    links = sorted(done.get_column("link").unique().to_list())
    cmap = plt.get_cmap("viridis")
    colours = {lk: cmap(i / max(1, len(links) - 1) * 0.9) for i, lk in enumerate(links)}
    agg = (done.group_by(["profile", "link", "x"])
           .agg(pl.col("total_time_s").median(), pl.col("downtime_ms").median())
           .sort(["profile", "link", "x"]))
    fig, axes = _panels(plt, len(profiles), rows=2, height=3.6)
    for j, prof in enumerate(profiles):
        for lk in links:
            sub = agg.filter((pl.col("profile") == prof) & (pl.col("link") == lk))
            if sub.height == 0:
                continue
            x = sub.get_column("x").to_numpy() / 1e6
            for i, col in enumerate(("total_time_s", "downtime_ms")):
                axes[i, j].plot(x, sub.get_column(col).to_numpy(), marker="o", ms=3, lw=1.5,
                                color=colours[lk], label=_fmt_link(lk))
        axes[0, j].set_title(prof)
        axes[0, j].set_ylabel("total migration time (s)")
        axes[1, j].set_ylabel("downtime (ms)")
        for i in range(2):
            ax = axes[i, j]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("page-dirty rate (MB/s)")
            ax.grid(True, which="both", alpha=0.25)
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, title="link speed per NIC", loc="outside right center")
    n_failed = df.height - done.height
    about = context(done, ["profile", "dirty_rate_Bps", "link_bps"], where)
    fig.suptitle(title or f"Migration time and downtime vs dirty rate: {Path(run_dir).name}\n"
                 f"medians of {done.height:,} completed points ({n_failed:,} failed or rejected "
                 f"not shown)" + (f"\n{about}" if about else ""), fontsize=10)
    save_figure(fig, out)
    plt.close(fig)


def traffic(run_dir: str | os.PathLike[str], out: Path, where: str | None = None,
            title: str | None = None) -> None:
    """Bytes on the wire vs VM memory: median and 10–90 % band per profile."""
    import polars as pl

    plt = pyplot()
    df = _collect(run_dir, where, ["profile", "memory_bytes", "status", "transferred_bytes"])
    _require(df, "traffic", {"memory_bytes": "VM memory"})
    done = df.filter(pl.col("status") == "completed")
    if done.height == 0:
        raise QueryError("nothing to plot: no completed points")
    done = _binned(done, "memory_bytes", MAX_X, "x")
    agg = (done.group_by(["profile", "x"])
           .agg(pl.col("transferred_bytes").median().alias("p50"),
                pl.col("transferred_bytes").quantile(0.1, "linear").alias("p10"),
                pl.col("transferred_bytes").quantile(0.9, "linear").alias("p90"))
           .sort(["profile", "x"]))
    fig, axes = plt.subplots(1, 1, figsize=(8.0, 5.5), squeeze=False, constrained_layout=True)
    ax = axes[0, 0]
    gib = 2.0**30
    for prof in _profiles(agg):
        sub = agg.filter(pl.col("profile") == prof)
        x = sub.get_column("x").to_numpy() / gib
        line, = ax.plot(x, sub.get_column("p50").to_numpy() / gib, marker="o", ms=4, label=prof)
        ax.fill_between(x, sub.get_column("p10").to_numpy() / gib,
                        sub.get_column("p90").to_numpy() / gib, color=line.get_color(), alpha=0.15)
    xs = done.get_column("x").to_numpy() / gib
    ref = np.array([xs.min(), xs.max()])
    ax.plot(ref, ref, "k--", lw=1, label="VM memory size")
    if xs.max() > 8 * max(xs.min(), 1e-12):
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("VM memory (GiB)")
    ax.set_ylabel("bytes on the wire (GiB)\nmemory + disk + mirror + device state")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(title="profile (median, 10-90 % band)")
    about = context(done, ["profile", "memory_bytes"], where, "median and band over")
    ax.set_title(title or f"Migration traffic vs VM size: {Path(run_dir).name}\n"
                 f"{done.height:,} completed points" + (f"\n{about}" if about else ""), fontsize=10)
    save_figure(fig, out)
    plt.close(fig)


def plot(run_dir: str | os.PathLike[str], kind: str, out: str | os.PathLike[str],
         where: str | None = None, color: str = "verdict", title: str | None = None) -> Path:
    """Draw a figure of a run into ``out`` (.png, .svg or .pdf).

    Raises
    ------
    QueryError
        For an unknown kind or format, a missing output directory, or nothing to plot.
    """
    path = Path(out)
    if kind not in KINDS:
        raise QueryError(f"plot kind: invalid value {kind!r}; allowed: {', '.join(KINDS)}")
    if path.suffix.lower() not in FORMATS:
        raise QueryError(f"--out {str(out)!r}: allowed: a file ending in {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise QueryError(f"--out {str(out)!r}: directory {str(path.parent)!r} does not exist")
    if kind == "convergence":
        convergence(run_dir, path, where, color, title)
    elif kind == "time":
        time_curves(run_dir, path, where, title)
    else:
        traffic(run_dir, path, where, title)
    return path
