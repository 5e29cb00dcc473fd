"""Run a scenario spec end to end: validated points → engine (in-process or Ray actors) → Parquet.

The run directory has the layout of a sweep's (``runner.storage.rundir``), with three tables::

    results/<name>/
      spec.toml, spec.json, run.json, .migsim/   as for sweeps (run.json: kind migsim-scenario-run)
      migrations/part-000000.parquet ...  one row per migration (`migsim query`: migrations, results)
      scenarios/part-000000.parquet ...   one row per scenario point (makespan, peak concurrency...)
      hosts/part-000000.parquet ...       one row per host and point (bytes, peak NIC load, queue)

Part ``k`` of each table holds scenario points ``k*batch_size ..``; the three files of a batch are
written in staging and renamed into place, and the batch is committed when the driver records the
three files (size, rows, sha256) in the ledger, so ``--resume`` keeps every complete, intact batch
and a rerun never duplicates rows.

Executions (the rows are the same whichever runs them):

- ``local`` without ``--address``: each point runs in-process in this process — nothing to start;
- ``local`` with ``--address`` (or ``RAY_ADDRESS``): batches of points run as Ray tasks (one CPU
  each, retried if a worker dies), each task in-process;
- ``actors``: every point runs on Ray actors — one per host, a pool for the streams — driven by a
  coordinator in this process (``runner.scenario.actors``); an embedded Ray without an address.

Order matters for the user: the spec is parsed and every point built first, then the output location
is checked, then Ray is reached, and only then is anything written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import models
from models.fields import INPUTS, OUTPUT_APPLIES, OUTPUTS, STATUSES, null_masks
from models.scenario import (
    HOST_PLAN_COLUMNS,
    SUMMARY_COLUMNS,
    TIMELINE_COLUMNS,
    Backend,
    Engine,
    Result,
    Scenario,
)
from runner.storage import rundir
from runner.errors import RunDirError, RunFailure
from runner.cli.progress import Progress, warm_model
from runner.storage.rundir import Layout
from runner.scenario.spec import ScenarioSpec, load_scenario
from runner.storage.schema import INPUT_COLUMNS, OUTPUT_COLUMNS, SCHEMA, arrow_type, to_arrow

MIGRATIONS, SCENARIOS, HOSTS = rundir.SCENARIO_TABLES
ENGINES = ("local", "actors")
MANIFEST_KIND = "migsim-scenario-run"

#: Per-host columns (one row per host and scenario point).
HOST_COLUMNS: dict[str, tuple[Any, str]] = {
    "host": (np.dtype(object), "host name"),
    "sent_bytes": (np.dtype(np.float64), "line bytes the host's NICs sent (migration traffic)"),
    "received_bytes": (np.dtype(np.float64), "line bytes the host's NICs received"),
    "peak_egress_Bps": (np.dtype(np.float64), "largest egress load, line bytes/s"),
    "peak_ingress_Bps": (np.dtype(np.float64), "largest ingress load, line bytes/s"),
    "nic_capacity_Bps": (np.dtype(np.float64), "NIC capacity per direction, line bytes/s"),
    "peak_network_cost": (np.dtype(np.float64), "vSphere: largest network cost in use"),
    "peak_host_cost": (np.dtype(np.float64), "vSphere: largest host cost in use"),
    "peak_live_migrations": (np.dtype(np.float64), "largest number of live migrations at once"),
    "peak_storage_migrations": (np.dtype(np.float64), "largest number of storage migrations"),
    "max_queued": (np.dtype(np.int64), "longest queue of the host's ledger"),
    "rack": (np.dtype(object), "rack of the host (empty: none)"),
    "memory_capacity_bytes": (np.dtype(np.float64), "memory for VMs (null: not declared)"),
    **HOST_PLAN_COLUMNS,
}


# ====================================================================== tables
def _axis_types(spec: ScenarioSpec) -> dict[str, pa.DataType]:
    out: dict[str, pa.DataType] = {}
    for a in spec.axes:
        for path, vals in a.values.items():
            if all(isinstance(v, bool) for v in vals):
                t = pa.bool_()
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                t = pa.int64()
            elif all(isinstance(v, str) for v in vals):
                t = pa.string()
            else:
                t = pa.float64()
            out[spec.columns()[path]] = t
    return out


def _meta(desc: str) -> dict[bytes, bytes]:
    return {b"description": desc.encode()}


def schemas(spec: ScenarioSpec) -> tuple[pa.Schema, pa.Schema, pa.Schema]:
    """Arrow schemas of the migrations, scenarios and hosts tables of a run.

    A swept path whose column name is already a column of a table (``profile`` in ``[grid]``: the
    migrations table has the ``profile`` input and the scenarios table its ``profile`` column)
    adds no second column there: the table's own column already holds the point's value.
    """
    axis_fields = [pa.field(c, t, metadata=_meta("swept spec field"))
                   for c, t in _axis_types(spec).items()]

    def without(taken: list[pa.Field], later: list[str]) -> list[pa.Field]:
        names = {f.name for f in taken} | set(later)
        return [f for f in axis_fields if f.name not in names]

    mig_later = list(TIMELINE_COLUMNS) + [f.column for f in INPUTS] + list(OUTPUTS)
    head = [pa.field("point_id", pa.int64(), nullable=False,
                     metadata=_meta("index of the scenario point in its sweep")),
            pa.field("scenario", pa.string(), metadata=_meta("scenario name"))]
    mig = head + without(head, mig_later) + [pa.field(k, arrow_type(d), metadata=_meta(h))
                                             for k, (d, h) in TIMELINE_COLUMNS.items()]
    mig += [f for f in SCHEMA if f.name in INPUT_COLUMNS + OUTPUT_COLUMNS]
    summ = head + [pa.field("profile", pa.string(), metadata=_meta("hypervisor profile"))]
    summ += without(summ, list(SUMMARY_COLUMNS))
    summ += [pa.field(k, arrow_type(d), metadata=_meta(h)) for k, (d, h) in SUMMARY_COLUMNS.items()]
    hosts = head + without(head, list(HOST_COLUMNS))
    hosts += [pa.field(k, arrow_type(d), metadata=_meta(h)) for k, (d, h) in HOST_COLUMNS.items()]
    return pa.schema(mig), pa.schema(summ), pa.schema(hosts)


def _column(values: list[Any], typ: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    """One column of lists (``runner.storage.schema.to_arrow``); strings as ``str``, ``None`` kept."""
    if pa.types.is_string(typ):
        return pa.array([None if v is None else str(v) for v in values], type=typ)
    return to_arrow(values, typ, null)


def _table(cols: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    """A table of ``schema``; where a ``status`` column is present, outputs that do not apply to
    a row's status are null (``models.fields.OUTPUT_APPLIES``)."""
    nulls = null_masks(cols["status"]) if "status" in cols else None
    return pa.Table.from_arrays(
        [_column(cols[f.name], f.type,
                 nulls[OUTPUT_APPLIES[f.name]] if nulls is not None and f.name in OUTPUTS else None)
         for f in schema], schema=schema)


@dataclass
class Batch:
    """The rows of a batch of scenario points."""

    migrations: pa.Table
    scenarios: pa.Table
    hosts: pa.Table
    counts: dict[str, int]
    points: int
    rows: int


def evaluate(spec: ScenarioSpec, start: int, stop: int,
             backend_factory: Callable[[], Backend | None] = lambda: None,
             on_progress: Callable[[int], None] | None = None) -> Batch:
    """Run scenario points ``start .. stop-1`` and build their tables.

    Parameters
    ----------
    spec : ScenarioSpec
    start, stop : int
        Half-open range of points.
    backend_factory : callable
        Returns the engine backend for a point (``None``: in-process).
    on_progress : callable, optional
        Called with the number of migrations that ended, as they end.
    """
    mig_schema, sum_schema, host_schema = schemas(spec)
    axis_cols = spec.columns()
    mig_axes, sum_axes, host_axes = (_swept_in(sch, axis_cols)
                                     for sch in (mig_schema, sum_schema, host_schema))
    mig: dict[str, list[Any]] = {f.name: [] for f in mig_schema}
    summ: dict[str, list[Any]] = {f.name: [] for f in sum_schema}
    hst: dict[str, list[Any]] = {f.name: [] for f in host_schema}
    counts = {s: 0 for s in STATUSES}
    for p in range(start, stop):
        scn = spec.scenario(p)
        res = Engine(scn, backend_factory(), on_progress).run(scn.stages)
        vals = spec.point_values(p)
        n = len(scn.moves)
        mig["point_id"] += [p] * n
        mig["scenario"] += [scn.name] * n
        for path, col in mig_axes.items():
            mig[col] += [vals[path]] * n
        for k in TIMELINE_COLUMNS:
            mig[k] += res.rows[k].tolist()
        for f in INPUTS:
            mig[f.column] += np.asarray(res.rows[f.column]).tolist()
        for k in OUTPUTS:
            mig[k] += res.rows[k].tolist()
        for s in STATUSES:
            counts[s] += int(res.summary[s])
        summ["point_id"].append(p)
        summ["scenario"].append(scn.name)
        summ["profile"].append(scn.profile)
        for path, col in sum_axes.items():
            summ[col].append(vals[path])
        for k in SUMMARY_COLUMNS:
            summ[k].append(res.summary[k])
        _host_rows(hst, p, scn, res, vals, host_axes)
    rows = len(mig["point_id"])
    return Batch(_table(mig, mig_schema), _table(summ, sum_schema), _table(hst, host_schema),
                 counts, stop - start, rows)


def _swept_in(schema: pa.Schema, axis_cols: dict[str, str]) -> dict[str, str]:
    """The swept paths that have their own column in a table (see :func:`schemas`)."""
    own = {f.name for f in schema if (f.metadata or {}).get(b"description") == b"swept spec field"}
    return {p: c for p, c in axis_cols.items() if c in own}


def _host_rows(hst: dict[str, list[Any]], p: int, scn: Scenario, res: Result,
               vals: dict[str, Any], axis_cols: dict[str, str]) -> None:
    for h, st in zip(scn.hosts, res.host_stats):
        hst["point_id"].append(p)
        hst["scenario"].append(scn.name)
        for path, col in axis_cols.items():
            hst[col].append(vals[path])
        peak = st.get("peak", {})
        hst["host"].append(h.name)
        hst["sent_bytes"].append(float(st["sent_bytes"]))
        hst["received_bytes"].append(float(st["received_bytes"]))
        hst["peak_egress_Bps"].append(float(st["peak_egress_Bps"]))
        hst["peak_ingress_Bps"].append(float(st["peak_ingress_Bps"]))
        hst["nic_capacity_Bps"].append(h.nics * h.link_bps / 8.0)
        for col, kind in (("peak_network_cost", "network"), ("peak_host_cost", "host"),
                          ("peak_live_migrations", "live"), ("peak_storage_migrations", "storage")):
            v = peak.get(f"{kind}:{h.name}")
            hst[col].append(float("nan") if v is None else float(v))
        hst["max_queued"].append(int(st["max_queued"]))
        hst["rack"].append(h.rack)
        hst["memory_capacity_bytes"].append(h.memory_capacity_bytes
                                            if np.isfinite(h.memory_capacity_bytes) else np.nan)
        for k in HOST_PLAN_COLUMNS:
            hst[k].append(st[k])


# ====================================================================== run directory
def _layouts(root: Path, n: int, bs: int) -> tuple[Layout, Layout, Layout]:
    return tuple(Layout(root, n, bs, t) for t in rundir.SCENARIO_TABLES)  # type: ignore[return-value]


def write_batch(root: Path, n_points: int, batch_size: int, batch: int, b: Batch,
                fingerprint: str, engine: str) -> dict[str, Any]:
    """Write a batch's three parts (hosts, scenarios, migrations); return its counters and the
    parts' records (``files``: table -> name, size, rows, sha256) for the driver's ledger."""
    mig_l, sum_l, host_l = _layouts(root, n_points, batch_size)
    start, stop = mig_l.bounds(batch)
    node = rundir.node_id()
    meta = {"batch": batch, "start": start, "stop": stop, "points": b.points, "rows": b.rows,
            "fingerprint": fingerprint, "model_version": models.MODEL_VERSION,
            "counts": b.counts, "node_id": node, "pid": os.getpid(), "engine": engine}
    files = {HOSTS: rundir.write_part(host_l, batch, b.hosts, meta),
             SCENARIOS: rundir.write_part(sum_l, batch, b.scenarios, meta),
             MIGRATIONS: rundir.write_part(mig_l, batch, b.migrations, meta)}
    return {"batch": batch, "points": b.points, "rows": b.rows, **b.counts, "node_id": node,
            "files": files}


# ====================================================================== progress
class MigrationProgress(Progress):
    """The sweep progress bar, counting migrations."""

    def line(self) -> str:
        return super().line().replace("points", "migrations")


# ====================================================================== running
@dataclass
class ScenarioRunResult(rundir.RunResult):
    """What a scenario run produced (see :class:`runner.storage.rundir.RunResult`; its counts are of
    migration rows).

    Attributes
    ----------
    migrations : int
        Migration rows of the run.
    """

    migrations: int = 0


def _manifest(spec: ScenarioSpec, layout: Layout, fingerprint: str, engine: str) -> dict[str, Any]:
    return {
        **rundir.base_manifest(MANIFEST_KIND, spec.name, spec.path, fingerprint, layout),
        "engine": engine, "counts": {s: 0 for s in STATUSES}, "migrations": 0, "wall_s": None,
        "table_rows": {MIGRATIONS: "one row per migration", SCENARIOS: "one row per scenario point",
                       HOSTS: "one row per host and scenario point"},
        "swept": spec.columns(),
    }


def run_scenario(spec: ScenarioSpec | str | Path, out: str | Path | None = None, *,
                 engine: str = "local", address: str | None = None, resume: bool = False,
                 force: bool = False, batch_size: int | None = None, progress: bool = True,
                 host_actors: int | None = None, stream_actors: int | None = None,
                 on_note: Callable[[str], None] | None = None) -> ScenarioRunResult:
    """Run a scenario spec and write its run directory.

    Parameters
    ----------
    spec : ScenarioSpec or path
    out : path, optional
        Run directory (default ``results/<name>``).
    engine : str
        ``local`` (in-process; Ray tasks with an address) or ``actors``.
    address : str, optional
        Ray cluster to join (default ``RAY_ADDRESS``; ``actors`` without one: embedded Ray).
    resume, force : bool
        Keep an interrupted run's complete batches; replace an existing run.
    batch_size : int, optional
        Scenario points per part.
    progress : bool
        Progress bar on stderr.
    host_actors, stream_actors : int, optional
        Actor counts for ``engine="actors"``.
    on_note : callable, optional
        Called with each note for the user (half-made directory, damaged part recomputed).

    Raises
    ------
    SpecError, RunDirError
        Before anything is written, for a bad spec or output location (exit 2).
    RunFailure, RayError
        When the run could not compute its points (exit 3); committed batches stay.
    """
    t0 = time.monotonic()
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if not isinstance(spec, ScenarioSpec):
        spec = load_scenario(spec)
    fingerprint = spec.fingerprint()
    # without --out: kept side by side under results/<name>/<time>/ (runner.storage.rundir.place_run)
    place = rundir.RunPlace(Path(out), None, resume) if out is not None else rundir.place_run(
        spec.name, MANIFEST_KIND, fingerprint, resume=resume, force=force)
    root, resume, force = place.root, place.resume, force and place.parent is None
    address = address or os.environ.get("RAY_ADDRESS") or None
    use_ray = engine == "actors" or address is not None
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if on_note is not None:
            on_note(text)

    if address:
        from runner.sweep.execute import probe
        probe(address)
    run = rundir.open_run(
        root, kind=MANIFEST_KIND, n_points=spec.n_points, batch_size=batch_size,
        default_batch_size=spec.effective_batch_size(batch_size), fingerprint=fingerprint,
        resume=resume, force=force,
        new_manifest=lambda lay: _manifest(spec, lay, fingerprint, engine),
        spec_text=spec.text, resolved=spec.resolved, what="scenario spec",
        on_damaged=lambda p, why: note(f"{p}: {why}; recomputing it"))
    if place.parent is not None and run.created:
        rundir.set_latest(place.parent, root)
    for text in place.notes + run.notes:
        note(text)
    layout, existing = run.layout, run.existing
    moves = spec.move_counts()
    result = ScenarioRunResult(root=root, n_points=spec.n_points, n_batches=layout.n_batches,
                               notes=notes)
    result.keep(existing)
    result.migrations += sum(int(rec.get("rows", 0)) for rec in existing.values())
    started = False

    def body() -> None:
        nonlocal started
        started = True
        run.save(status="running", engine=engine)
        done_moves = sum(sum(moves[layout.bounds(b)[0]:layout.bounds(b)[1]]) for b in existing)
        bar = MigrationProgress(sum(moves), done_moves, enabled=progress)
        bar.draw(force=True)

        def on_result(stats: dict[str, Any]) -> None:
            run.record(stats)
            result.add(stats)
            result.migrations += int(stats["rows"])
            result.computed_points += int(stats["points"])
            if stats.get("node_id") and use_ray:
                result.nodes.add(str(stats["node_id"]))

        try:
            if not missing:
                pass                     # a finished run resumed or rerun: nothing to start
            elif engine == "actors":
                _run_actors(spec, layout, missing, fingerprint, bar, on_result, host_actors,
                            stream_actors, result)
            elif address is not None:
                _run_tasks(spec, layout, missing, fingerprint, bar, on_result, moves)
            else:
                for b in missing:
                    start, stop = layout.bounds(b)
                    batch = evaluate(spec, start, stop, on_progress=bar.advance)
                    on_result(write_batch(root, layout.n_points, layout.batch_size, b, batch,
                                          fingerprint, engine))
        finally:
            bar.close()

    missing = [b for b in range(layout.n_batches) if b not in existing]
    if missing:
        warm_model()        # a first run compiles the kernels once, here, and says so
    try:
        if use_ray and missing:
            from runner.sweep.execute import ray_session
            with ray_session(address):
                body()
        else:
            body()
    except BaseException as exc:
        if not started and isinstance(exc, RunFailure):
            run.abandon()  # Ray did not start: leave no trace of a run created just now
        else:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            run.interrupted(status, counts=result.counts, migrations=result.migrations)
        if isinstance(exc, OSError):
            raise rundir.path_error(root, exc) from None
        raise
    result.wall_s = time.monotonic() - t0
    try:
        run.complete(counts=result.counts, migrations=result.migrations,
                     wall_s=round(result.wall_s, 3))
    except OSError as exc:
        raise rundir.path_error(root, exc) from None
    notes.extend(n for n in run.notes if n not in notes)
    return result


def _run_actors(spec: ScenarioSpec, layout: Layout, missing: Iterable[int], fingerprint: str,
                bar: Progress, on_result: Callable[[dict[str, Any]], None],
                host_actors: int | None, stream_actors: int | None,
                result: ScenarioRunResult) -> None:
    from runner.scenario.actors import MAX_HOST_ACTORS, STREAM_ACTORS, ActorPool

    pool = ActorPool(host_actors or MAX_HOST_ACTORS, stream_actors or STREAM_ACTORS)
    try:
        for b in missing:
            start, stop = layout.bounds(b)
            batch = evaluate(spec, start, stop, backend_factory=pool.backend,
                             on_progress=bar.advance)
            stats = write_batch(layout.root, layout.n_points, layout.batch_size, b, batch,
                                fingerprint, "actors")
            on_result(stats)
        if pool.hosts:
            result.nodes |= set(pool.nodes())
    finally:
        pool.shutdown()


def _task(spec: ScenarioSpec, root: str, n_points: int, batch_size: int, batch: int,
          fingerprint: str) -> dict[str, Any]:
    """One batch of points in a Ray task (in-process engine)."""
    lay = Layout(Path(root), n_points, batch_size)
    start, stop = lay.bounds(batch)
    b = evaluate(spec, start, stop)
    return write_batch(Path(root), n_points, batch_size, batch, b, fingerprint, "local")


def _run_tasks(spec: ScenarioSpec, layout: Layout, missing: list[int], fingerprint: str,
               bar: Progress, on_result: Callable[[dict[str, Any]], None],
               moves: list[int]) -> None:
    import ray

    from runner.sweep.execute import MAX_RETRIES, cluster_cpus, run_bounded

    task = ray.remote(_task).options(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False,
                                     name="migsim-scenario-batch")
    spec_ref = ray.put(spec)
    cap = max(2, 2 * cluster_cpus())

    def submit(b: int) -> Any:
        return task.remote(spec_ref, str(layout.root.resolve()), layout.n_points,
                           layout.batch_size, b, fingerprint)

    def on_done(b: int, stats: dict[str, Any]) -> None:
        on_result(stats)
        start, stop = layout.bounds(b)
        bar.advance(sum(moves[start:stop]))

    run_bounded(submit, missing, on_done, cap, on_tick=bar.draw, max_retries=MAX_RETRIES)


def load_tables(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A scenario run's three tables as Polars LazyFrames: ``migrations``, ``scenarios``, ``hosts``.

    Raises
    ------
    RunDirError
        If ``run_dir`` is not a scenario run or holds no results.
    """
    from runner.storage import store

    root = rundir.resolve_run(run_dir)
    man = rundir.read_manifest(root)
    if man["kind"] != MANIFEST_KIND:
        raise RunDirError(f"{root}: is not a scenario run (run.json kind {man['kind']!r})")
    return {t: store.load(root, t) for t in rundir.SCENARIO_TABLES}
