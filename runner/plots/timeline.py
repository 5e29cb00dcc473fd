"""Figures of scenario runs: a Gantt timeline of the migrations, and makespan vs a swept field.

- ``timeline``: one lane per migration, grouped by source host (a band per host), time on the x
  axis: queue wait (hatched grey), setup / storage / trace (light), pre-copy (blue), switch-over
  (red; at least a hairline so that sub-second downtimes stay visible); failed migrations in orange
  ending with a cross, refused ones as a grey tick at their request time. One scenario point
  (``--point``, default the first).
- ``makespan``: makespan and the largest downtime vs the swept numeric field (the first one, or
  ``--x``), one line per value of another swept field; markers show how many migrations were
  forced or failed — the picture of "more concurrency stops helping".

Matplotlib with the Agg backend. Both read the run directory with Polars.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import QueryError
from runner.plots.charts import FORMATS, pyplot, save_figure

KINDS = ("timeline", "makespan")
COLORS = {"queue": "#bdbdbd", "prepare": "#c6dbef", "precopy": "#3182bd", "switchover": "#d62728",
          "failed": "#fd8d3c", "rejected": "#969696"}
MAX_LANES = 400


def check_out(out: str | os.PathLike[str]) -> Path:
    """The output path of a figure: a known image suffix, in a directory that exists."""
    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise QueryError(f"--out {str(out)!r}: allowed: a file ending in {', '.join(FORMATS)}")
    if not path.parent.exists():
        raise QueryError(f"--out {str(out)!r}: directory {str(path.parent)!r} does not exist")
    return path


def _tables(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    from runner.errors import RunDirError
    from runner.scenario.run import load_tables

    try:
        return load_tables(run_dir)
    except RunDirError as exc:
        raise QueryError(str(exc)) from None


def point_of(t: dict[str, Any], run_dir: Any, point: int | None) -> int:
    """The scenario point to draw: ``point``, or the run's first; a point the run lacks is refused."""
    points = t["scenarios"].select("point_id").collect().get_column("point_id").sort()
    if points.len() == 0:
        raise QueryError(f"{run_dir}: no scenario points yet")
    p = int(points[0]) if point is None else point
    if p not in set(points.to_list()):
        raise QueryError(f"--point: invalid value {p}; allowed: a point of the run "
                         f"({int(points.min())}..{int(points.max())})")
    return p


def _human(path: str, v: Any) -> str:
    """A swept value with units when its path ends in a model input."""
    from models.fields import INPUT_BY_NAME
    from runner.cli.display import human

    f = INPUT_BY_NAME.get(path.rsplit(".", 1)[-1])
    if f is not None and f.kind not in ("choice", "bool") and isinstance(v, (int, float)):
        return human(f.column, v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _human_time(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 7200 else f"{s / 60:.1f} min" if s >= 120 else f"{s:.1f} s"


def timeline(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], point: int | None = None,
             title: str | None = None) -> Path:
    """Draw the Gantt chart of one scenario point.

    Parameters
    ----------
    run_dir : path
        A scenario run directory.
    out : path
        Image file (.png, .svg, .pdf).
    point : int, optional
        Scenario point (default: the first).
    title : str, optional

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    QueryError
        Not a scenario run, no such point, or a bad output path.
    """
    import polars as pl

    path = check_out(out)
    t = _tables(run_dir)
    p = point_of(t, run_dir, point)
    df = t["migrations"].filter(pl.col("point_id") == p).sort(["source", "seq"]).collect()
    summ = t["scenarios"].filter(pl.col("point_id") == p).collect().row(0, named=True)
    if df.height == 0:
        raise QueryError(f"point {p}: no migrations to draw")
    shown = df.head(MAX_LANES)
    plt = pyplot()
    n = shown.height
    fig, ax = plt.subplots(figsize=(11, min(2.0 + 0.22 * n, 40)), constrained_layout=True)
    hosts = shown.get_column("source").to_list()
    y = np.arange(n)[::-1]
    end_max = float(np.nanmax(df.get_column("end_s").to_numpy())) or 1.0
    hair = end_max / 600.0
    for i, r in enumerate(shown.iter_rows(named=True)):
        yy = y[i]
        req, start, end = r["request_s"], r["start_s"], r["end_s"]
        if r["status"] == "rejected":
            ax.plot([req, req], [yy - 0.35, yy + 0.35], color=COLORS["rejected"], lw=2)
            continue
        if start > req:
            ax.barh(yy, start - req, left=req, height=0.7, color="white",
                    edgecolor=COLORS["queue"], hatch="////", lw=0.5)
        prep = r["setup_s"] + r["storage_s"] + r["trace_s"]
        ax.barh(yy, prep, left=start, height=0.7, color=COLORS["prepare"], lw=0)
        pre_c = COLORS["failed"] if r["status"] == "failed" else COLORS["precopy"]
        ax.barh(yy, r["precopy_s"], left=start + prep, height=0.7, color=pre_c, lw=0)
        if r["status"] == "failed":
            ax.plot([end], [yy], marker="x", color="black", ms=5)
        else:
            sw = max(r["switchover_s"], hair)
            ax.barh(yy, sw, left=end - sw, height=0.7, color=COLORS["switchover"], lw=0)
    # host bands
    labels, ticks = [], []
    start_i = 0
    for i in range(1, n + 1):
        if i == n or hosts[i] != hosts[start_i]:
            mid = (y[start_i] + y[i - 1]) / 2.0
            ticks.append(mid)
            labels.append(f"{hosts[start_i]} ({i - start_i})")
            if i < n:
                ax.axhline(y[i - 1] - 0.5, color="black", lw=0.6)
            start_i = i
    if n <= 80:
        ax.set_yticks(y, [f"{v} → {d}" for v, d in zip(shown.get_column("vm").to_list(),
                                                       shown.get_column("destination").to_list())],
                      fontsize=7 if n > 24 else 8)
        host_ax = ax.twinx()
        host_ax.set_ylim(-0.7, n - 0.3)
        host_ax.set_yticks(ticks, labels)
        host_ax.set_ylabel("source host (migrations)")
        ax.set_ylabel("migration (VM → destination)")
    else:
        ax.set_yticks(ticks, labels)
        ax.set_ylabel("source host (migrations)")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(0, end_max * 1.02)
    ax.set_xlabel("time (s)")
    ax.grid(True, axis="x", alpha=0.3)
    from matplotlib.patches import Patch
    handles = [Patch(facecolor="white", edgecolor=COLORS["queue"], hatch="////", label="queue wait"),
               Patch(color=COLORS["prepare"], label="setup / storage / trace"),
               Patch(color=COLORS["precopy"], label="pre-copy"),
               Patch(color=COLORS["switchover"], label="switch-over (downtime)"),
               Patch(color=COLORS["failed"], label="failed"),
               Patch(color=COLORS["rejected"], label="refused")]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=8, frameon=False)
    more = f" (first {MAX_LANES} of {df.height})" if df.height > MAX_LANES else ""
    n_points = t["scenarios"].select("point_id").collect().height
    which = f" (one of {n_points}; --point N draws another)" if n_points > 1 else ""
    ax.set_title(title or (
        f"{summ['scenario']} point {p}{which} ({summ['profile']}): {summ['migrations']} "
        f"migrations{more}, "
        f"makespan {_human_time(summ['makespan_s'])}, peak {summ['peak_concurrency']} at once\n"
        f"{summ['completed']} completed, {summ['failed']} failed, {summ['rejected']} refused; "
        f"longest queue wait {_human_time(summ['max_queue_wait_s'])}, "
        f"max downtime {summ['max_downtime_ms']:.0f} ms"), fontsize=10)
    save_figure(fig, path)
    plt.close(fig)
    return path


def makespan(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], x: str | None = None,
             title: str | None = None) -> Path:
    """Makespan and largest downtime vs a swept field, one line per other swept value.

    Raises
    ------
    QueryError
        Not a scenario run, or no numeric swept field to put on the x axis.
    """
    import json

    import polars as pl

    path = check_out(out)
    t = _tables(run_dir)
    df = t["scenarios"].collect()
    paths = json.loads((Path(run_dir) / "run.json").read_text()).get("swept", {})
    swept = list(paths.values())
    path_of = {c: p for p, c in paths.items()}
    numeric = [c for c in swept if df.schema[c].is_numeric()]
    if x is None:
        if not numeric:
            raise QueryError(f"{run_dir}: no numeric swept field to plot against (the spec has "
                             f"no [grid]/[zip] of numbers)")
        x = numeric[-1]
    elif x not in swept:
        raise QueryError(f"--x: invalid value {x!r}; allowed: a swept column: {', '.join(swept)}")
    others = [c for c in swept if c != x]
    series = others[0] if others else None
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, constrained_layout=True)
    groups = [(None, df)] if series is None else \
        [(k[0], g) for k, g in df.sort(series).group_by([series], maintain_order=True)]
    for key, g in groups:
        agg = g.group_by(x).agg(pl.col("makespan_s").mean(), pl.col("max_downtime_ms").max(),
                                pl.col("forced").sum(), pl.col("failed").sum(),
                                pl.col("migrations").sum()).sort(x)
        xs = agg.get_column(x).to_numpy()
        label = "" if key is None else f"{axis_label(path_of.get(series, series))} = " \
            f"{_human(path_of.get(series, ''), key)}"
        line, = ax1.plot(xs, agg.get_column("makespan_s").to_numpy(), marker="o", label=label)
        ax2.plot(xs, agg.get_column("max_downtime_ms").to_numpy(), marker="o",
                 color=line.get_color())
        bad = (agg.get_column("forced") + agg.get_column("failed")).to_numpy() > 0
        ax2.scatter(xs[bad], agg.get_column("max_downtime_ms").to_numpy()[bad], s=80,
                    facecolors="none", edgecolors="black", zorder=3)
    ax1.set_ylabel("makespan (s)")
    ax2.set_ylabel("largest downtime (ms)")
    ax2.set_yscale("log")
    ax2.set_xlabel(axis_label(path_of.get(x, x)))
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    if series is not None:
        ax1.legend(fontsize=8)
    ax2.text(0.01, 0.97, "circled: some migrations forced or failed", transform=ax2.transAxes,
             va="top", fontsize=8)
    pooled = f"\nmean makespan and largest downtime over {', '.join(others[1:])}" \
        if len(others) > 1 else ""
    ax1.set_title(title or f"{Path(run_dir).name}: makespan vs {axis_label(path_of.get(x, x))}"
                  f"{pooled}", fontsize=11)
    save_figure(fig, path)
    plt.close(fig)
    return path


def axis_label(path: str) -> str:
    """A human axis label for a swept spec path (``overrides.max_live_migrations`` →
    ``max live migrations (policy)``, ``vms.memory`` → ``VM memory size (vms.memory)``)."""
    from models.fields import INPUT_BY_NAME

    last = path.rsplit(".", 1)[-1]
    f = INPUT_BY_NAME.get(last)
    if f is not None:
        unit = f" ({f.unit})" if f.unit else ""
        return f"{f.help.split(';')[0].split(' (')[0]}{unit}"
    words = last.replace("_", " ")
    return f"{words} (policy)" if path.startswith("overrides") else words


def plot(run_dir: str | os.PathLike[str], kind: str, out: str | os.PathLike[str],
         point: int | None = None, x: str | None = None, title: str | None = None) -> Path:
    """Draw a scenario figure (``timeline`` or ``makespan``)."""
    if kind == "timeline":
        return timeline(run_dir, out, point, title)
    if kind == "makespan":
        return makespan(run_dir, out, x, title)
    raise QueryError(f"plot kind: invalid value {kind!r}; allowed: {', '.join(KINDS)}")
