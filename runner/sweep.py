"""Run a sweep end to end: spec → validated plan → run directory → Ray tasks → Parquet parts.

Order matters for the user: the spec is parsed and every value checked first, then the output
location is checked, then Ray is reached — and only then is anything written, so a bad spec, a
taken output directory or an unreachable cluster leave no trace on disk. With ``resume`` the run
directory's manifest must match the spec (fingerprint, model version, batch size); the parts already
committed are kept and only the missing batches run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import models
from models.fields import STATUSES
from runner import rundir
from runner.execute import dispatch, ray_session
from runner.progress import Progress
from runner.rundir import Layout
from runner.schema import COLUMNS
from runner.spec import Spec, load_spec



@dataclass
class SweepResult(rundir.RunResult):
    """What a sweep produced (see :class:`runner.rundir.RunResult`).

    Attributes
    ----------
    compute_s : float
        Wall time from the first task submitted to the last part committed, seconds.
    """

    compute_s: float = 0.0


#: ``kind`` of a sweep's manifest.
MANIFEST_KIND = "migsim-sweep-run"


def _manifest(spec: Spec, layout: Layout, fingerprint: str) -> dict[str, Any]:
    return {
        **rundir.base_manifest(MANIFEST_KIND, spec.name, spec.path, fingerprint, layout),
        "counts": {s: 0 for s in STATUSES}, "wall_s": None, "columns": list(COLUMNS),
    }


def run_sweep(spec: Spec | str | Path, out: str | Path | None = None, *,
              address: str | None = None, resume: bool = False, force: bool = False,
              batch_size: int | None = None, progress: bool = True,
              max_in_flight: int | None = None) -> SweepResult:
    """Run a sweep and write its run directory.

    Parameters
    ----------
    spec : Spec or path
        The sweep spec (a path is loaded and validated).
    out : path, optional
        Run directory (default ``results/<sweep-name>``).
    address : str, optional
        Ray cluster to join (default: ``RAY_ADDRESS``, else an embedded Ray).
    resume : bool
        Keep the committed parts of an earlier run of the same spec; compute the rest.
    force : bool
        Replace an existing run in ``out``.
    batch_size : int, optional
        Points per batch (default: the spec's, else by sweep size).
    progress : bool
        Draw a progress bar on stderr.
    max_in_flight : int, optional
        Tasks in flight (default ``2 × cluster CPUs``).

    Returns
    -------
    SweepResult

    Raises
    ------
    SpecError, RunDirError, RayError
        Before anything is written, for a bad spec, output location or cluster.
    """
    t0 = time.monotonic()
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    root = Path(out) if out is not None else rundir.default_out(spec.name)
    fingerprint = spec.fingerprint()
    existing: dict[int, dict[str, Any]] = {}
    resuming = resume and rundir.is_run_dir(root)
    if resuming:
        # the manifest kind is not checked for sweeps (another kind fails on its fingerprint)
        layout, man = rundir.resume_layout(root, spec.n_points, fingerprint, batch_size)
    else:
        layout = Layout(root, spec.n_points, spec.effective_batch_size(batch_size))
        rundir.check_fresh(root, force)
        man = _manifest(spec, layout, fingerprint)

    result = SweepResult(root=root, n_points=spec.n_points, n_batches=layout.n_batches)
    with ray_session(address) as where:
        if resuming:
            rundir.clean_temporaries(layout)
            for b in range(layout.n_batches):
                meta = rundir.part_is_valid(layout, b, fingerprint)
                if meta is not None:
                    existing[b] = meta
            result.keep(existing)
        else:
            rundir.prepare_fresh(root, force)
            rundir.create(root, spec.text, spec.resolved(), man)
        man.update(status="running", updated=rundir.now(), ray=where)
        rundir.write_json(root / rundir.MANIFEST, man)

        done_points = sum(layout.bounds(b)[1] - layout.bounds(b)[0] for b in existing)
        bar = Progress(spec.n_points, done_points, enabled=progress)
        bar.draw(force=True)

        def on_result(stats: dict[str, Any]) -> None:
            result.add(stats)
            result.computed_points += int(stats["rows"])
            result.nodes.add(str(stats.get("node_id")))
            bar.advance(int(stats["rows"]))

        missing = [b for b in range(layout.n_batches) if b not in existing]
        # workers (maybe on other nodes, with another working directory) get an absolute path
        absolute = Layout(root.resolve(), layout.n_points, layout.batch_size)
        t_dispatch = time.monotonic()
        try:
            dispatch(spec.plan, absolute, missing, fingerprint, models.MODEL_VERSION, on_result,
                     on_tick=bar.draw, max_in_flight=max_in_flight)
        except BaseException:
            bar.close()
            rundir.mark_interrupted(root, man, counts=result.counts)
            raise
        bar.close()
        result.compute_s = time.monotonic() - t_dispatch
        rundir.clean_temporaries(layout)  # left by workers killed mid-write (their batch was retried)
    result.wall_s = time.monotonic() - t0
    man.update(status="complete", updated=rundir.now(), counts=result.counts,
               wall_s=round(result.wall_s, 3))
    rundir.write_json(root / rundir.MANIFEST, man)
    return result
