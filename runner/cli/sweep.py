"""``migsim sweep | query | summary | plot``: run sweeps on Ray and read their results.

Exit statuses as documented in :mod:`runner.cli.common` (0 every point simulated, whatever the
simulated outcomes; 2 bad input; 3 run failure; 130 interrupted).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from runner.cli import app
from runner.cli.common import (
    EXIT_HELP,
    ForceOption,
    ProgressOption,
    ResumeOption,
    echo_err,
    output_state,
    run_interruptible,
)
from runner.errors import OptionError, QueryError

_SWEEP_HELP = (
    "Run a sweep spec and write its results as Parquet.\n\n"
    "Overrides after the spec change it for this run (Hydra style): key=value replaces a value "
    "(memory=32GiB, grid.link=[1GbE,10GbE]), +key=value adds one, ~key removes one; they are "
    "recorded in run.json and spec.toml.\n\n"
    "--executor auto (default) computes small sweeps in this process and larger ones on an "
    "embedded Ray; --address (or RAY_ADDRESS) joins that Ray cluster, and `ray job submit -- migsim "
    "sweep SPEC ...` works as is.\n\n"
    "Without --out, every run is kept: results/<sweep-name>/<UTC start time>/, with "
    "results/<sweep-name>/latest pointing to the newest (commands taking a run accept "
    "results/<sweep-name>; `migsim runs` lists them). Rerunning a spec whose newest run is complete "
    "and up to date computes nothing; --force computes a new run anyway; --resume finishes the "
    "newest run of the spec. A run directory holds spec.toml, spec.json (resolved spec), run.json "
    "(marker, versions, overrides, counts) and the table results/part-*.parquet (read it with "
    "pl.scan_parquet(\"RUN/results\")). One migsim process at a time writes a run directory (a "
    "lock); --resume verifies every kept part's checksum.\n\n" + EXIT_HELP
)


class Executor(str, Enum):
    """Where a sweep's batches run."""

    auto = "auto"
    local = "local"
    ray = "ray"


@app.command(help=_SWEEP_HELP)
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML), e.g. sweeps/quickstart.toml.",
                                         show_default=False)],
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="Overrides of the spec: key=value, +key=value, ~key (e.g. memory=32GiB "
             "grid.link=[1GbE,10GbE]).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Run directory (default: a new run kept under "
                            "results/<sweep-name>/<time>/).")] = None,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray cluster to join: host:port, ray://host:port or auto "
                          "(default: $RAY_ADDRESS; implies --executor ray).")] = None,
    executor: Annotated[Executor, typer.Option(
        "--executor", help="auto: in this process up to "
                           "5,000,000 points, else an embedded Ray; local: in this process; ray: "
                           "on Ray.")] = Executor.auto,
    resume: ResumeOption = False,
    force: ForceOption = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the point count, sample points and output location; run nothing.")
    ] = False,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, max=10_000_000,
        help="Points per Ray task (default: the spec's, else by sweep size).")] = None,
    progress: ProgressOption = True,
) -> None:
    from runner.sweep.execute import choose_executor
    from runner.sweep.overrides import load_spec

    if resume and force:
        raise OptionError("--resume keeps an existing run and --force replaces it: use one")
    overrides = list(overrides or [])
    loaded = load_spec(spec, overrides)
    chosen = choose_executor(executor.value, loaded.n_points, address)
    if dry_run:
        _dry_run(loaded, out, batch_size, resume, force, chosen)
        return
    _run(loaded, out, address, resume, force, batch_size, progress, executor.value, overrides,
         spec)


def _dry_run(spec: Any, out: Path | None, batch_size: int | None, resume: bool, force: bool,
             executor: str) -> None:
    from runner.cli.display import human, table
    from runner.storage import rundir
    from runner.storage.schema import INPUT_COLUMNS
    from runner.sweep.run import MANIFEST_KIND

    plan = spec.plan
    n = plan.n_points
    bs = spec.effective_batch_size(batch_size)
    sizes = " x ".join(f"{a.label.removeprefix('grid.')} {a.length:,}" for a in plan.axes
                       if a.length > 1) or "one point"
    typer.echo(f"sweep {spec.name} ({spec.path}): {n:,} points ({sizes})")
    typer.echo(f"batches: {-(-n // bs):,} of up to {bs:,} points")
    if out is not None:
        typer.echo(f"output: {out} ({output_state(out)})")
    else:
        place = rundir.place_run(spec.name, MANIFEST_KIND, spec.fingerprint(), resume=resume,
                                 force=force)
        state = ("resumed" if place.resume else "complete and up to date: nothing to compute"
                 if place.root.exists() else "a new run, kept beside the earlier ones")
        typer.echo(f"output: {place.root} ({state})")
    typer.echo(f"executor: {executor}")
    swept = plan.swept_columns()
    fixed = [c for c in INPUT_COLUMNS if c in plan.fixed]
    if fixed:
        typer.echo("fixed: " + ", ".join(f"{c}={human(c, plan.fixed[c])}" for c in fixed))
    if plan.random:
        typer.echo("random per point: " + ", ".join(f"{r.column} ~ {r.kind}" for r in plan.random))
    if plan.overrides:
        typer.echo("overrides: " + "; ".join(f"{p}: " + ", ".join(f"{k}={v}" for k, v in o.items())
                                             for p, o in plan.overrides.items()))
    picks = sorted({i for i in (0, 1, 2, n // 2, n - 2, n - 1) if 0 <= i < n})
    cols = ["profile"] + [c for c in swept if c != "profile"]
    rows = []
    for i in picks:
        pt = plan.expand(i, i + 1)
        rows.append([f"{i:,}"] + [_profile_name(plan, _first(pt[c])) if c == "profile" else
                                  human(c, _first(pt[c])) for c in cols])
    typer.echo(f"sample points ({len(picks)} of {n:,}):")
    typer.echo(table(rows, ["point_id"] + cols))


def _profile_name(plan: Any, code: Any) -> str:
    from runner.profiles import profile_names
    return "(profile)" if code is None else profile_names(plan)[int(code)]


def _first(v: Any) -> Any:
    import numpy as np
    return v[0].item() if isinstance(v, np.ndarray) else v


def _run(spec: Any, out: Path | None, address: str | None, resume: bool, force: bool,
         batch_size: int | None, progress: bool, executor: str, overrides: list[str],
         spec_path: Path) -> None:
    import shlex

    from runner.sweep.run import run_sweep

    again = " ".join(shlex.quote(a) for a in [str(spec_path), *overrides]
                     + (["--out", str(out)] if out is not None else []))
    where = out if out is not None else f"results/{spec.name}/latest"
    result = run_interruptible(
        lambda: run_sweep(spec, out, address=address, resume=resume, force=force,
                          batch_size=batch_size, progress=progress, executor=executor,
                          overrides=overrides, on_note=lambda t: echo_err(f"migsim: {t}")),
        f"migsim: interrupted; committed parts are kept in {where}; finish with: "
        f"migsim sweep {again} --resume")
    c = result.counts
    rate = result.computed_points / result.compute_s if result.compute_s > 0 else 0.0
    resumed = f"; {result.resumed_batches} of {result.n_batches} parts kept from before" \
        if result.resumed_batches else ""
    echo_err(f"migsim: {result.n_points:,} points: {c['completed']:,} completed, "
              f"{c['rejected']:,} rejected, {c['failed']:,} failed; {result.wall_s:.1f} s wall, "
              f"{result.compute_s:.1f} s computing ({rate:,.0f} points/s){resumed}")
    from runner.storage.rundir import is_kept_parent

    kept = out is None and is_kept_parent(result.root.parent)
    shown = result.root.parent if kept else result.root     # results/<name> reads the latest
    echo_err(f"migsim: results in {result.root}/results ({result.n_batches} "
             f"part{'s' if result.n_batches != 1 else ''}, {result.executor}); try: migsim "
             f"summary {shown} --by profile")


def _warn_incomplete(run_dir: Path, table: str | None = None, verify: bool = False) -> None:
    from runner.storage.store import run_info

    info = run_info(run_dir, table, verify=verify)
    if not info.complete:
        echo_err(f"migsim: warning: {info.describe_missing()}")


VerifyOption = Annotated[bool, typer.Option(
    "--verify", help="Check every part's sha256 against the run's ledger first (sizes are always "
                     "checked).")]


def _print_frame(df: Any, limit: int) -> None:
    import polars as pl

    rows = df.height if limit <= 0 else min(limit, df.height)
    with pl.Config(tbl_rows=rows, tbl_cols=-1 if df.width <= 16 else 16, fmt_str_lengths=80,
                   tbl_width_chars=max(100, 24 * min(df.width, 16)), tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, thousands_separator=False):
        typer.echo(df.head(rows))
    if rows < df.height:
        echo_err(f"migsim: showing {rows:,} of {df.height:,} rows (--limit 0 shows all, --out "
                  f"FILE.csv writes all)")


@app.command()
def query(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (results/<name>).",
                                            show_default=False)],
    sql: Annotated[str, typer.Argument(help="Polars SQL over the run's tables: `results` (sweeps); "
                                            "`migrations` (alias `results`), `scenarios`, `hosts` "
                                            "(scenario runs), e.g. \"SELECT profile, "
                                            "avg(downtime_ms) FROM results GROUP BY profile\".",
                                            show_default=False)],
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the answer to FILE.csv, .parquet, .json or .ndjson.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Rows to print (0: all).")] = 50,
    verify: VerifyOption = False,
) -> None:
    """Query a run with SQL (Polars SQL over its tables, by name): print a table or write a file.

    Only the run's tables are reachable: file and URL table functions (read_csv, read_parquet,
    scan_..., ...) are refused.
    """
    from runner.storage.query import check_confined, run_sql, write_frame

    check_confined(sql)
    _warn_incomplete(run_dir)
    df = run_sql(run_dir, sql, verify=verify)
    if out is not None:
        write_frame(df, out)
        echo_err(f"migsim: wrote {df.height:,} rows x {df.width} columns to {out}")
        return
    _print_frame(df, limit)


@app.command()
def summary(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (results/<name>).",
                                            show_default=False)],
    by: Annotated[str, typer.Option(
        "--by", help="Comma-separated columns or input names to group by (e.g. profile,link); "
                     "empty: the whole run.")] = "profile",
    where: Annotated[Optional[str], typer.Option(
        "--where", help="SQL predicate selecting points first, e.g. \"memory_bytes > 8e9\".")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Write the summary to FILE.csv, .parquet, .json or .ndjson.")] = None,
    table: Annotated[Optional[str], typer.Option(
        "--table", help="Table to summarise: results (sweeps); migrations (default), scenarios or "
                        "hosts (scenario runs).")] = None,
    verify: VerifyOption = False,
) -> None:
    """Grouped medians and 95th percentiles of time, downtime and traffic, and converged share.

    Statistics are over the completed points of each group; converged_share is the share of
    completed points whose pre-copy met the stop rule (not forced).
    """
    from runner.storage.query import summary as summarise, write_frame

    _warn_incomplete(run_dir, table)
    if by == "profile" and table not in (None, "results", "migrations"):
        from runner.storage.store import load
        if "profile" not in load(run_dir, table).collect_schema().names():
            by = ""
    df = summarise(run_dir, [b for b in by.split(",") if b.strip()], where, table, verify=verify)
    if out is not None:
        write_frame(df, out)
        echo_err(f"migsim: wrote {df.height:,} groups to {out}")
        return
    _print_frame(df, 200)


class PlotKind(str, Enum):
    """Figures ``migsim plot`` draws."""

    convergence = "convergence"
    time = "time"
    traffic = "traffic"
    timeline = "timeline"      # scenario runs: runner.plots.timeline (issue 4)
    makespan = "makespan"      # scenario runs: makespan vs a swept field
    links = "links"            # scenario runs: busiest links over time (runner.plots.scenario)
    activity = "activity"      # scenario runs: running and queued migrations over time
    maintenance = "maintenance"  # scenario runs: maintenance window per host (Gantt)
    frontier = "frontier"      # frontier runs: boundary vs an axis (runner.plots.frontier)
    xy = "xy"                  # any run: runner.plots.generic
    cdf = "cdf"


#: Colourings of the convergence map (``--color`` of the other figures is a field).
CONVERGENCE_COLORS = ("verdict", "downtime")


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (results/<name>: its latest run).",
                                            show_default=False)],
    kind: Annotated[PlotKind, typer.Argument(
        help="convergence: dirty rate x link speed by verdict/downtime; time: total time and "
             "downtime vs dirty rate per link speed; traffic: bytes on the wire vs VM size; "
             "scenario runs: timeline (Gantt per host), makespan (vs the swept field), links "
             "(busiest links over time), activity (running and queued), maintenance (window per "
             "host); frontier runs: frontier (boundary vs the first varying input, a line per "
             "profile); any run: xy (--x, --y, median and band), cdf (distribution of --y).",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Image file (.png, .svg or .pdf).",
                                      show_default=False)],
    where: Annotated[Optional[str], typer.Option(
        "--where", help="SQL predicate selecting points first, e.g. \"memory_bytes = 17179869184\".")
    ] = None,
    x: Annotated[Optional[str], typer.Option(
        "--x", help="xy: the field on the x axis (a column or input name, e.g. dirty_rate).")
    ] = None,
    y: Annotated[Optional[str], typer.Option(
        "--y", help="xy, cdf: the field plotted (e.g. downtime_ms).")] = None,
    color: Annotated[Optional[str], typer.Option(
        "--color", help="convergence: verdict (default) or downtime; xy, cdf: a field, one line "
                        "per value.")] = None,
    facet: Annotated[Optional[str], typer.Option(
        "--facet", help="xy: a field, one panel per value.")] = None,
    table: Annotated[Optional[str], typer.Option(
        "--table", help="xy, cdf: the table of a scenario run (migrations, scenarios, hosts).")
    ] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="Figure title.")] = None,
    point: Annotated[Optional[int], typer.Option(
        "--point", min=0, help="timeline: the scenario point to draw (default: the first).")] = None,
) -> None:
    """Draw a figure of a run (PNG for reports: axes with units, legends)."""
    k = kind.value
    used = {"--x": x, "--facet": facet, "--table": table} if k != "xy" else {}
    if k == "cdf":
        used = {"--x": x, "--facet": facet}
    elif k != "xy":
        used["--y"] = y
    given = [o for o, v in used.items() if v is not None]
    if given:
        raise OptionError(f"{', '.join(given)}: not an option of plot {k} (xy takes --x --y "
                          f"--color --facet --table; cdf takes --y --color --table)")
    _warn_incomplete(run_dir)
    if k in ("timeline", "makespan", "links", "activity", "maintenance", "frontier"):
        from runner.storage.rundir import resolve_run

        run_dir = resolve_run(run_dir)   # results/<name>: its latest run
    if k in ("timeline", "makespan"):  # scenario figures (runner.plots.timeline)
        from runner.plots.timeline import plot as draw_scenario

        echo_err(f"migsim: wrote {draw_scenario(run_dir, k, out, point=point, title=title)}")
        return
    if k in ("links", "activity", "maintenance"):   # runner.plots.scenario (issue 14)
        from runner.plots.scenario import plot as draw_dc

        echo_err(f"migsim: wrote {draw_dc(run_dir, k, out, point=point, title=title)}")
        return
    if k in ("xy", "cdf"):
        from runner.plots import generic

        need = ["--y"] + (["--x"] if k == "xy" else [])
        missing = [o for o in need if {"--x": x, "--y": y}[o] is None]
        if missing:
            raise OptionError(f"plot {k}: needs {' and '.join(missing)} FIELD (a column or input "
                              f"name, e.g. --x dirty_rate --y downtime_ms)")
        if k == "xy":
            path = generic.xy(run_dir, out, x, y, color=color, facet=facet, where=where,
                              table=table, title=title)
        else:
            path = generic.cdf(run_dir, out, y, color=color, where=where, table=table, title=title)
        echo_err(f"migsim: wrote {path}")
        return
    from runner.plots.frontier import is_frontier_run
    from runner.storage.rundir import resolve_run

    if k == "frontier" or is_frontier_run(resolve_run(run_dir)):
        from runner.plots.frontier import plot as draw_frontier

        if k != "frontier":
            raise QueryError(f"plot {k}: {run_dir} is a frontier run; allowed: "
                             f"migsim plot {run_dir} frontier")
        echo_err(f"migsim: wrote {draw_frontier(run_dir, out, where=where, title=title)}")
        return
    from runner.plots.charts import plot as draw

    if k == "convergence" and color not in (None, *CONVERGENCE_COLORS):
        raise OptionError(f"--color: invalid value {color!r} for plot convergence; allowed: "
                          f"{', '.join(CONVERGENCE_COLORS)}")
    if k != "convergence" and color is not None:
        raise OptionError(f"--color: not an option of plot {k} (convergence, xy and cdf take it)")
    path = draw(run_dir, k, out, where=where, color=color or "verdict", title=title)
    echo_err(f"migsim: wrote {path}")
