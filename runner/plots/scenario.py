"""Datacenter figures of scenario runs: link utilisation, concurrency and queue, maintenance Gantt.

- ``links``: utilisation (migration load / capacity) over time of the busiest links of one point —
  rack uplinks, spines, WAN links, datastores and host NICs, the ``--top`` (6) with the highest
  peak. The loads are not stored in the run: the point is run again in this process from the run's
  ``spec.toml`` with the engine's trace on (the engine is deterministic: the same spec gives the
  same rows; the makespan is checked against the stored one).
- ``activity``: migrations running and waiting in the admission queues over time (from the
  ``migrations`` table: ``request_s``, ``start_s``, ``end_s``).
- ``maintenance``: one lane per host of the plan (from the ``hosts`` table): evacuation (blue),
  maintenance hold (grey), return or rebalance (green); the total window in the title.

Matplotlib with the Agg backend, Polars for the tables.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import QueryError
from runner.plots.charts import pyplot, save_figure
from runner.plots.timeline import _human_time, _tables, check_out, point_of

KINDS = ("links", "activity", "maintenance")
#: Links drawn by default (the busiest by peak utilisation).
TOP = 6




def trace(run_dir: str | os.PathLike[str], point: int) -> Any:
    """Run scenario point ``point`` of a run again with the engine's trace on.

    Returns
    -------
    models.scenario.Result
        With ``trace`` set.

    Raises
    ------
    QueryError
        The run has no spec, or the rerun does not give the stored makespan (another model
        version made the run).
    """
    import polars as pl

    from models.errors import SpecError
    from models.scenario import run
    from runner.scenario.spec import load_scenario

    root = Path(run_dir)
    spec_file = root / "spec.toml"
    if not spec_file.exists():
        raise QueryError(f"{root}: no spec.toml to run point {point} again")
    try:
        spec = load_scenario(spec_file)
    except SpecError as exc:
        raise QueryError(f"{root}: its spec.toml no longer loads: {exc}") from None
    res = run(spec.scenario(point), trace=True)
    stored = _tables(root)["scenarios"].filter(pl.col("point_id") == point).collect()
    ms = stored.get_column("makespan_s")[0] if stored.height else None
    if ms is None or not math.isclose(ms, res.summary["makespan_s"], rel_tol=1e-9, abs_tol=1e-9):
        raise QueryError(f"{root}: point {point} run again gives makespan "
                         f"{res.summary['makespan_s']:.6g} s, the run says {ms} s (made by another "
                         f"model version?); run the spec again")
    return res


def links(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], point: int | None = None,
          title: str | None = None, top: int = TOP) -> Path:
    """Utilisation over time of the busiest links of one scenario point (see the module doc)."""
    path = check_out(out)
    t = _tables(run_dir)
    p = point_of(t, run_dir, point)
    res = trace(run_dir, p)
    tr = res.trace
    load = tr["link_load_Bps"]
    if load.shape[0] == 0:
        raise QueryError(f"point {p}: no migration traffic to draw")
    cap = tr["link_capacity_Bps"]
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(cap > 0, load / cap, 0.0)
    peak = util.max(axis=0)
    order = [int(i) for i in np.argsort(-peak, kind="stable") if peak[i] > 0][:top]
    ts = np.append(tr["link_t_s"], res.summary["makespan_s"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5), constrained_layout=True)
    for i in order:
        u = np.append(util[:, i], util[-1, i]) * 100.0
        ax.step(ts, u, where="post", label=f"{tr['link_names'][i]} "
                f"({cap[i] * 8 / 1e9:g} Gbit/s)", lw=1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("migration load / capacity (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or f"{res.summary.get('busiest_link') or 'busiest links'}: busiest links of "
                 f"point {p} (makespan {_human_time(res.summary['makespan_s'])})")
    save_figure(fig, path)
    plt.close(fig)
    return path


def activity(run_dir: str | os.PathLike[str], out: str | os.PathLike[str],
             point: int | None = None, title: str | None = None) -> Path:
    """Migrations running and queued over time for one scenario point."""
    import polars as pl

    path = check_out(out)
    t = _tables(run_dir)
    p = point_of(t, run_dir, point)
    df = t["migrations"].filter((pl.col("point_id") == p) & (pl.col("status") != "rejected")) \
        .select("request_s", "start_s", "end_s").collect()
    if df.height == 0:
        raise QueryError(f"point {p}: no migration ran")
    req, start, end = (df.get_column(c).to_numpy() for c in ("request_s", "start_s", "end_s"))
    ts = np.unique(np.concatenate([req, start, end]))
    running = ((start[None, :] <= ts[:, None]) & (end[None, :] > ts[:, None])).sum(axis=1)
    queued = ((req[None, :] <= ts[:, None]) & (start[None, :] > ts[:, None])).sum(axis=1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4), constrained_layout=True)
    ax.step(ts, running, where="post", label="running", color="#3182bd")
    ax.step(ts, queued, where="post", label="queued (admission)", color="#fd8d3c")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("migrations")
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or f"Concurrency and queue, point {p}")
    save_figure(fig, path)
    plt.close(fig)
    return path


def maintenance(run_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                point: int | None = None, title: str | None = None) -> Path:
    """Gantt chart of the maintenance window, one lane per host."""
    import polars as pl

    path = check_out(out)
    t = _tables(run_dir)
    p = point_of(t, run_dir, point)
    df = t["hosts"].filter((pl.col("point_id") == p) & pl.col("evacuation_start_s").is_not_null()) \
        .sort("evacuation_start_s", "host").collect()
    if df.height == 0:
        raise QueryError(f"point {p}: no host is evacuated by the plan")
    plt = pyplot()
    n = df.height
    fig, ax = plt.subplots(figsize=(10, min(1.5 + 0.3 * n, 40)), constrained_layout=True)
    y = np.arange(n)[::-1]
    for i, r in enumerate(df.iter_rows(named=True)):
        a, b = r["evacuation_start_s"], r["evacuated_s"]
        c, d = r["maintenance_end_s"], r["plan_done_s"]
        ax.barh(y[i], b - a, left=a, height=0.6, color="#3182bd",
                label="evacuation" if i == 0 else None)
        if c is not None:
            ax.barh(y[i], c - b, left=b, height=0.6, color="#d9d9d9",
                    label="maintenance" if i == 0 else None)
            if d is not None and d > c:
                ax.barh(y[i], d - c, left=c, height=0.6, color="#31a354",
                        label="return / rebalance" if i == 0 else None)
        if r["refused_moves"]:
            ax.text(b, y[i], f" {r['refused_moves']} refused", va="center", fontsize=7)
    ax.set_yticks(y, df.get_column("host").to_list(), fontsize=8)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    summ = t["scenarios"].filter(pl.col("point_id") == p).collect().row(0, named=True)
    window = summ.get("maintenance_window_s")
    ax.set_title(title or f"Maintenance window, point {p}: "
                 + (_human_time(window) if window is not None else "n/a"))
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot(run_dir: str | os.PathLike[str], kind: str, out: str | os.PathLike[str],
         point: int | None = None, title: str | None = None) -> Path:
    """Draw a datacenter figure (``links``, ``activity`` or ``maintenance``)."""
    if kind == "links":
        return links(run_dir, out, point, title)
    if kind == "activity":
        return activity(run_dir, out, point, title)
    if kind == "maintenance":
        return maintenance(run_dir, out, point, title)
    raise QueryError(f"plot kind: invalid value {kind!r}; allowed: {', '.join(KINDS)}")
