"""Run a sweep end to end: spec → validated plan → run directory → batches → Parquet parts.

Batches run in this process or as Ray tasks (:func:`runner.sweep.execute.choose_executor`:
``auto`` keeps small sweeps in-process, with no Ray start). Without ``out``, runs are kept side by
side under ``results/<name>/<UTC start time>/`` with ``results/<name>/latest`` pointing to the
newest (:func:`runner.storage.rundir.place_run`); an identical rerun of a complete, up-to-date run
has nothing to compute.

Order matters for the user: the spec is parsed and every value checked first, then the output
location is checked and locked (:func:`runner.storage.rundir.open_run`), a cluster address probed, and
only then is anything written — so a bad spec, a taken or foreign output directory or an
unreachable cluster leave no trace on disk. With ``resume`` the run directory's manifest must match
the spec (fingerprint, model version, batch size); the parts already committed are kept if their
size and sha256 match the ledger, and only the missing or damaged batches run. The lock is held
until the run ends.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import models
from models.fields import STATUSES
from runner.storage import rundir
from runner.errors import RunFailure
from runner.sweep.execute import choose_executor, dispatch, probe, ray_session, run_local
from runner.cli.progress import Progress, warm_model
from runner.storage.rundir import Layout
from runner.storage.schema import COLUMNS
from runner.sweep.spec import Spec
from runner.sweep.overrides import load_spec


@dataclass
class SweepResult(rundir.RunResult):
    """What a sweep produced (see :class:`runner.storage.rundir.RunResult`).

    Attributes
    ----------
    compute_s : float
        Wall time from the first task submitted to the last part committed, seconds.
    """

    compute_s: float = 0.0
    executor: str = "none"


#: ``kind`` of a sweep's manifest.
MANIFEST_KIND = "migsim-sweep-run"


def _manifest(spec: Spec, layout: Layout, fingerprint: str,
              overrides: Sequence[str] = ()) -> dict[str, Any]:
    return {
        **rundir.base_manifest(MANIFEST_KIND, spec.name, spec.path, fingerprint, layout),
        "overrides": list(overrides),
        "counts": {s: 0 for s in STATUSES}, "wall_s": None, "columns": list(COLUMNS),
    }


def run_sweep(spec: Spec | str | Path, out: str | Path | None = None, *,
              address: str | None = None, resume: bool = False, force: bool = False,
              batch_size: int | None = None, progress: bool = True,
              max_in_flight: int | None = None, executor: str = "auto",
              overrides: Sequence[str] = (),
              on_note: Callable[[str], None] | None = None) -> SweepResult:
    """Run a sweep and write its run directory.

    Parameters
    ----------
    spec : Spec or path
        The sweep spec (a path is loaded and validated).
    out : path, optional
        Run directory. Default: a new run kept beside the earlier ones,
        ``results/<sweep-name>/<UTC start time>/``, ``results/<sweep-name>/latest`` pointing to it.
    address : str, optional
        Ray cluster to join (default: ``RAY_ADDRESS``; implies the Ray executor).
    resume : bool
        Keep the committed parts of an earlier run of the same spec (sizes and sha256 checked;
        damaged parts are recomputed); compute the rest. Without ``out``: the newest kept run of
        this spec.
    force : bool
        Replace an existing migsim run in ``out`` (moved aside, deleted once this one completes).
        Without ``out``: compute a new run even if the newest one is complete and up to date
        (earlier runs are kept).
    batch_size : int, optional
        Points per batch (default: the spec's, else by sweep size).
    progress : bool
        Draw a progress bar on stderr.
    max_in_flight : int, optional
        Tasks in flight (default ``2 × cluster CPUs``).
    executor : str
        ``auto`` (in-process for small sweeps, else Ray), ``local`` or ``ray``.
    overrides : sequence of str
        Hydra-style overrides (:mod:`runner.sweep.overrides`), recorded in ``run.json``: applied
        to a spec given as a path; a :class:`Spec` is taken as already overridden
        (``runner.sweep.overrides.load_spec(path, overrides)``).
    on_note : callable, optional
        Called with each note for the user (a half-made directory started anew, a damaged part
        recomputed), as they arise.

    Returns
    -------
    SweepResult

    Raises
    ------
    SpecError, RunDirError
        Before anything is written, for a bad spec or an unusable output location (exit 2).
    RunFailure, RayError
        When the run could not compute its points (exit 3); committed parts stay.
    """
    t0 = time.monotonic()
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    fingerprint = spec.fingerprint()
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if on_note is not None:
            on_note(text)

    addr = address or os.environ.get("RAY_ADDRESS") or None
    choose_executor(executor, spec.n_points, address)   # bad combinations: before anything else
    if addr and executor != "local":
        probe(addr)  # an unreachable cluster: one line, nothing written
    place = rundir.RunPlace(Path(out), None, resume) if out is not None else rundir.place_run(
        spec.name, MANIFEST_KIND, fingerprint, resume=resume, force=force)
    for text in place.notes:
        note(text)
    root = place.root
    kept = place.parent is not None
    run = rundir.open_run(
        root, kind=MANIFEST_KIND, n_points=spec.n_points, batch_size=batch_size,
        default_batch_size=spec.effective_batch_size(batch_size), fingerprint=fingerprint,
        resume=place.resume, force=force and not kept,
        new_manifest=lambda lay: _manifest(spec, lay, fingerprint, overrides),
        spec_text=spec.text, resolved=spec.resolved,
        on_damaged=lambda p, why: note(f"{p}: {why}; recomputing it"))
    previous_latest = rundir.latest_run(place.parent) if kept else None
    if kept and run.created:
        try:
            rundir.set_latest(place.parent, root)
        except OSError as exc:
            run.abandon()
            raise rundir.path_error(root, exc) from None
    for text in run.notes:
        note(text)
    layout, existing = run.layout, run.existing
    result = SweepResult(root=root, n_points=spec.n_points, n_batches=layout.n_batches,
                         notes=notes)
    result.keep(existing)
    started = False
    bar = Progress(spec.n_points, 0, enabled=False)
    missing = [b for b in range(layout.n_batches) if b not in existing]
    todo = sum(layout.bounds(b)[1] - layout.bounds(b)[0] for b in missing)
    where = choose_executor(executor, todo, address) if missing else "none"
    result.executor = where
    # a cold kernel cache: a small local run computes with the Python kernels (same rows) while
    # they compile in the background; otherwise they compile once, here, and it says so
    model = warm_model(n_points=todo if where == "local" else None) if missing else nullcontext()
    try:
        # nothing to compute (a finished run resumed or rerun): no Ray to start
        with ray_session(address) if where == "ray" else nullcontext(where) as session:
            started = True
            run.save(status="running", ray=session if where == "ray" else None, executor=where)
            done_points = sum(layout.bounds(b)[1] - layout.bounds(b)[0] for b in existing)
            bar = Progress(spec.n_points, done_points, enabled=progress)
            bar.draw(force=True)

            def on_result(stats: dict[str, Any]) -> None:
                run.record(stats)
                result.add(stats)
                result.computed_points += int(stats["rows"])
                result.nodes.add(str(stats.get("node_id")))
                bar.advance(int(stats["rows"]))

            # workers (maybe on other nodes, with another working directory) get an absolute path
            absolute = Layout(root.resolve(), layout.n_points, layout.batch_size, layout.table)
            t_dispatch = time.monotonic()
            if missing and where == "ray":
                dispatch(spec.plan, absolute, missing, fingerprint, models.MODEL_VERSION,
                         on_result, on_tick=bar.draw, max_in_flight=max_in_flight)
            elif missing:
                with model:
                    run_local(spec.plan, absolute, missing, fingerprint, models.MODEL_VERSION,
                              on_result, on_tick=bar.draw)
            bar.close()
            result.compute_s = time.monotonic() - t_dispatch
    except BaseException as exc:
        bar.close()
        if not started and isinstance(exc, RunFailure):
            run.abandon()  # Ray did not start: leave no trace of a run created just now
            if kept and run.created:
                _restore_latest(place.parent, root, previous_latest)
        else:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            run.interrupted(status, counts=result.counts)
        if isinstance(exc, OSError):
            raise rundir.path_error(root, exc) from None
        raise
    result.wall_s = time.monotonic() - t0
    try:
        run.complete(counts=result.counts, wall_s=round(result.wall_s, 3))
    except OSError as exc:
        raise rundir.path_error(root, exc) from None
    notes.extend(n for n in run.notes if n not in notes)
    return result


def _restore_latest(parent: Path, abandoned: Path, previous: Path | None) -> None:
    """Point ``latest`` back where it was when a run created just now was abandoned."""
    try:
        if rundir.latest_run(parent) in (None, abandoned) or not abandoned.exists():
            rundir.set_latest(parent, previous)
        if not any(parent.iterdir()):
            parent.rmdir()
    except OSError:
        pass
