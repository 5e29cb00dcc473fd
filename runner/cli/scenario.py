"""``migsim scenario``: run a cluster scenario spec (many migrations at once) and write Parquet.

Exit statuses as documented in :mod:`runner.cli.common`: 0 every scenario point simulated
(``failed`` and ``rejected`` migrations are results); 2 bad input; 3 run failure; 130 interrupted.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from runner.cli import app
from runner.storage.rundir import default_out
from runner.cli.common import (
    EXIT_HELP,
    ForceOption,
    ProgressOption,
    ResumeOption,
    echo_err,
    output_state,
    run_interruptible,
)

_HELP = (
    "Run a cluster scenario (hosts, VMs, an evacuation or a list of moves; kind = \"scenario\") "
    "and write its results as Parquet.\n\n"
    "--engine local (default) runs each scenario in this process, or as Ray tasks on the cluster "
    "given by --address / RAY_ADDRESS; --engine actors runs it on Ray actors, one per host and a "
    "pool for the migration streams (an embedded Ray without --address). Both give the same rows.\n\n"
    "Results go to results/<name>/ (or --out): three tables, each a directory of Parquet parts — "
    "migrations/ (one row per migration), scenarios/ (one row per scenario point: makespan, peak "
    "concurrency, traffic, downtime), hosts/ (per host) — with spec.toml, spec.json and run.json "
    "as for sweeps.\n\n" + EXIT_HELP
)


class Engine(str, Enum):
    """Executions of the scenario engine."""

    local = "local"
    actors = "actors"


@app.command(help=_HELP)
def scenario(
    spec: Annotated[Path, typer.Argument(help="Scenario spec (TOML, kind = \"scenario\"), e.g. "
                                              "sweeps/evacuate-vsphere.toml.", show_default=False)],
    engine: Annotated[Engine, typer.Option(
        "--engine", help="local: in-process (Ray tasks with --address); actors: Ray actors per "
                         "host and stream.")] = Engine.local,
    address: Annotated[str | None, typer.Option(
        "--address", help="Ray cluster to join: host:port, ray://host:port or auto "
                          "(default: $RAY_ADDRESS).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run directory (default: results/<name>).")] = None,
    resume: ResumeOption = False,
    force: ForceOption = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the scenario points, hosts, VMs and moves; run nothing.")] = False,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, max=100_000,
        help="Scenario points per part (default: the spec's, else by size).")] = None,
    host_actors: Annotated[int | None, typer.Option(
        "--host-actors", min=1, max=4096,
        help="--engine actors: most host actors (default: one per host up to 32; more hosts "
             "share actors).")] = None,
    stream_actors: Annotated[int | None, typer.Option(
        "--stream-actors", min=1, max=4096,
        help="--engine actors: stream actors in the pool (default 4).")] = None,
    progress: ProgressOption = True,
) -> None:
    from runner.scenario.spec import load_scenario

    if resume and force:
        raise typer.BadParameter("use either --resume or --force, not both", param_hint="--resume")
    if engine != Engine.actors and (host_actors is not None or stream_actors is not None):
        raise typer.BadParameter("--host-actors and --stream-actors need --engine actors",
                                 param_hint="--engine")
    loaded = load_scenario(spec, on_progress=_checking_progress(spec))
    if dry_run:
        _dry_run(loaded, out if out is not None else default_out(loaded.name), batch_size)
        return
    _run(loaded, out, engine.value, address, resume, force, batch_size, progress, host_actors,
         stream_actors)


def _checking_progress(path: Path, first_after_s: float = 1.0, every_s: float = 2.0) -> Any:
    """A callback for :func:`runner.scenario.spec.load_scenario` that says, on stderr, how far
    the check of every scenario point has got (only when it takes more than ``first_after_s``)."""
    import time

    t0 = time.monotonic()
    last = [t0 - every_s + first_after_s]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s and done < total:
            return
        if done >= total and now - t0 < first_after_s:
            return
        last[0] = now
        left = (now - t0) / done * (total - done) if done else 0.0
        echo_err(f"migsim: checking the points of {path}: {done:,} of {total:,} "
                 f"({100 * done / total:.0f}%, {now - t0:.0f} s, ~{left:.0f} s left)")

    return report


def _dry_run(spec: Any, root: Path, batch_size: int | None) -> None:
    from collections import Counter

    from runner.cli.display import table

    n = spec.n_points
    bs = spec.effective_batch_size(batch_size)
    sizes = " x ".join(f"{a.label.removeprefix('grid.')} {a.length:,}" for a in spec.axes
                       if a.length > 1) or "one point"
    typer.echo(f"scenario {spec.name} ({spec.path}): {n:,} point{'s' if n != 1 else ''} ({sizes})")
    typer.echo(f"parts: {-(-n // bs):,} of up to {bs:,} points")
    typer.echo(f"output: {root} ({output_state(root)})")
    picks = sorted({i for i in (0, 1, 2, n // 2, n - 2, n - 1) if 0 <= i < n})
    swept = spec.swept()
    rows = []
    total = sum(spec.move_counts())
    for i in picks:
        scn = spec.scenario(i)
        kinds = Counter(m.kind for m in scn.moves)
        vals = spec.point_values(i)
        rows.append([f"{i:,}", scn.profile, str(len(scn.hosts)), str(len(scn.vms)),
                     str(len(scn.moves)), ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())),
                     str(len(scn.stages))] + [_fmt(vals[p], p) for p in swept])
    typer.echo(f"migrations: {total:,} in all")
    typer.echo(f"sample points ({len(picks)} of {n:,}):")
    typer.echo(table(rows, ["point_id", "profile", "hosts", "vms", "moves", "kinds", "stages"]
                     + swept))


def _fmt(v: Any, path: str = "") -> str:
    """A value for the terminal: human units when the path ends in a model input."""
    from models.fields import INPUT_BY_NAME
    from runner.cli.display import human

    f = INPUT_BY_NAME.get(path.rsplit(".", 1)[-1])
    if f is not None and f.kind not in ("choice", "bool") and isinstance(v, (int, float)):
        return human(f.column, v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _run(spec: Any, root: Path | None, engine: str, address: str | None, resume: bool, force: bool,
         batch_size: int | None, progress: bool, host_actors: int | None,
         stream_actors: int | None) -> None:
    from runner.scenario.run import run_scenario

    result = run_interruptible(
        lambda: run_scenario(spec, root, engine=engine, address=address, resume=resume,
                             force=force, batch_size=batch_size, progress=progress,
                             host_actors=host_actors, stream_actors=stream_actors,
                             on_note=lambda t: echo_err(f"migsim: {t}")),
        f"migsim: interrupted; committed parts are kept in {root or default_out(spec.name)}; "
        f"finish with: migsim scenario {spec.path}{f' --out {root}' if root else ''} --resume")
    c = result.counts
    resumed = f"; {result.resumed_batches} of {result.n_batches} parts kept from before" \
        if result.resumed_batches else ""
    where = f" on {len(result.nodes)} Ray node{'s' if len(result.nodes) != 1 else ''}" \
        if result.nodes else ""
    echo_err(f"migsim: {result.n_points:,} scenario point{'s' if result.n_points != 1 else ''}, "
              f"{result.migrations:,} migrations: {c['completed']:,} completed, "
              f"{c['rejected']:,} rejected, {c['failed']:,} failed; {result.wall_s:.1f} s wall "
              f"({engine} engine{where}){resumed}")
    _print_points(result.root)
    echo_err(f"migsim: results in {result.root}; try: migsim plot {result.root} timeline "
              f"--out timeline.png")


def _print_points(root: Path, limit: int = 20) -> None:
    """A short table of the scenario points (makespan, concurrency, downtime)."""
    from runner.cli.display import table
    from runner.scenario.run import load_tables

    try:
        df = load_tables(root)["scenarios"].sort("point_id").head(limit + 1).collect()
    except Exception:  # noqa: BLE001 - a summary is a courtesy
        return
    import json

    swept = json.loads((root / "run.json").read_text()).get("swept", {})
    path_of = {c: p for p, c in swept.items()}
    cols = ["point_id"] + list(dict.fromkeys(swept.values())) + ["makespan_s", "peak_concurrency", "completed",
                                                  "failed", "rejected", "max_queue_wait_s",
                                                  "max_downtime_ms"]
    rows = [[_fmt(r[c], path_of.get(c, "")) for c in cols]
            for r in df.head(limit).iter_rows(named=True)]
    echo_err(table(rows, cols))
    if df.height > limit:
        echo_err(f"(first {limit} points; all in {root / 'scenarios'}: migsim query {root} "
                 f"\"SELECT * FROM scenarios\")")
