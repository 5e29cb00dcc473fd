"""The sweep of measured runs: a resumable run directory of one Parquet and one CSV part per run.

Layout of the output directory::

    spec.toml  spec.json     the spec as written, and resolved (SI units)
    run.json                 manifest: kind migsim-measure-run, fingerprint, counts, conditions
    conditions.json          the data set's conditions (what `migsim validate` needs beyond rows)
    runs/part-000007.parquet run 7 (the table `runs`; nothing else lives in runs/)
    samples/part-000007.json query-migrate samples and events of run 7
    runs.csv                 every measured run, in run order, after `# conditions:` comment lines
    .migsim/                 lock, part ledger (sizes, sha256), staging

The directory is a migsim run like a sweep's (``runner.storage.rundir``: marker, lock, checksummed parts,
``--force`` moving the old run aside); ``--resume`` measures only the runs without an intact part.
A run that fails (QEMU died, a deadline passed) writes nothing and counts as failed (exit status
1); resume measures it again. Runs go one at a time: two migrations at once would measure each
other. Leaves out: the migration itself (:mod:`runner.measure.harness`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq

from runner.storage import rundir
from runner.errors import RunDirError
from runner.measure import guest
from runner.measure.errors import MeasureRunError
from runner.measure.harness import measure_run
from runner.measure.qemu import Tools, check_environment
from runner.measure.rows import NAMES, to_row, to_table
from runner.measure.spec import MeasureSpec

KIND = "migsim-measure-run"
TABLE = rundir.KIND_TABLES[KIND][0]
CONDITIONS = "conditions.json"
RUNS_CSV = "runs.csv"
SAMPLES = "samples"


@dataclass
class MeasureResult:
    """What one invocation did.

    Attributes
    ----------
    root : Path
        The output directory.
    n_runs : int
        Runs of the spec.
    measured, kept : int
        Runs measured now; runs kept from before (``--resume``).
    failed : list of str
        ``run <i>: <message>`` of runs that wrote no row.
    wall_s : float
        Wall time, seconds.
    """

    root: Path
    n_runs: int
    measured: int = 0
    kept: int = 0
    failed: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def needs_tc(spec: MeasureSpec) -> bool:
    """True when some run shapes the link."""
    return any(spec.run(i)[2].shaped for i in range(spec.n_runs))


def prepare(spec: MeasureSpec) -> tuple[Tools, Path]:
    """Check the environment and build the guest (before any run).

    Raises
    ------
    MeasureEnvironmentError
        No QEMU, no ``tc`` when a link is shaped, no gcc, no free port.
    """
    tools = check_environment(spec.settings.qemu, need_tc=needs_tc(spec))
    from runner.measure.qemu import free_port
    free_port(spec.settings.ports)
    return tools, guest.build()


#: Host settings that shape what QEMU's figures mean: on a shaped link QEMU's total-time ends when
#: the source has queued its last byte, up to a send buffer (tcp_wmem's maximum) before the
#: destination has it.
SYSCTLS = ("net/ipv4/tcp_wmem", "net/ipv4/tcp_rmem", "net/core/wmem_max", "net/core/rmem_max")


def host_sysctls() -> dict[str, str]:
    """The values of :data:`SYSCTLS` (``/proc/sys``; missing ones left out)."""
    out = {}
    for name in SYSCTLS:
        try:
            out[name.replace("/", ".")] = " ".join(Path("/proc/sys", name).read_text().split())
        except OSError:
            continue
    return out


def conditions_of(spec: MeasureSpec, tools: Tools) -> dict[str, Any]:
    """The spec's conditions plus the QEMU version, the guest hash and the host's socket buffers."""
    from runner.measure.qemu import qemu_version
    return {**spec.conditions(), "qemu_version": qemu_version(tools.qemu),
            "guest_hash": guest.source_hash(), "sysctl": host_sysctls()}


def _manifest(spec: MeasureSpec, layout: rundir.Layout, conditions: dict[str, Any]) -> dict[str, Any]:
    man = rundir.base_manifest(KIND, spec.name, spec.path, spec.fingerprint(), layout)
    man["n_runs"] = spec.n_runs
    man["repeats"] = spec.repeats()
    man["conditions"] = conditions
    man["counts"] = {"measured": 0, "failed": 0}
    return man


def _write_csv_atomic(path: Path, rows: list[dict[str, Any]], comments: list[str] = ()) -> None:  # type: ignore[assignment]
    buf = io.StringIO()
    for c in comments:
        buf.write(f"# {c}\n")
    w = csv.DictWriter(buf, fieldnames=list(NAMES), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_value(v) for k, v in r.items()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}{rundir.TMP_SUFFIX}")
    tmp.write_text(buf.getvalue())
    os.replace(tmp, path)


def _csv_value(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def conditions_comment(conditions: dict[str, Any]) -> str:
    """The ``# conditions: {...}`` line that heads a data set's CSV."""
    return "conditions: " + json.dumps(conditions, sort_keys=True, default=str)


def collect(root: Path) -> list[dict[str, Any]]:
    """Rows of every committed Parquet part of a run directory, in run order."""
    rows: list[dict[str, Any]] = []
    for p in sorted((root / TABLE).glob("part-*.parquet")):
        rows += pq.read_table(p).to_pylist()
    return rows


def write_runs_csv(root: Path, conditions: dict[str, Any]) -> Path:
    """(Re)write ``runs.csv`` from the parts; return its path."""
    path = root / RUNS_CSV
    _write_csv_atomic(path, collect(root), [conditions_comment(conditions),
                                            "rows: migsim measure qemu (runner/measure/rows.py)"])
    return path


def run_measure(spec: MeasureSpec, root: Path, *, resume: bool = False, force: bool = False,
                progress: Callable[[str], None] | None = None) -> MeasureResult:
    """Measure every run of ``spec`` (those without a valid part when resuming).

    Raises
    ------
    RunDirError
        If ``root`` cannot receive the run (or holds another spec's run when resuming).
    MeasureEnvironmentError
        If the machine lacks QEMU, ``tc``, gcc or a free port (before any run).
    """
    t0 = time.monotonic()
    say = progress or (lambda s: None)
    fp = spec.fingerprint()
    tools, kernel = prepare(spec)      # a missing QEMU, tc or gcc: one line, nothing written
    conditions = conditions_of(spec, tools)
    run = rundir.open_run(
        root, kind=KIND, n_points=spec.n_runs, batch_size=None, default_batch_size=1,
        fingerprint=fp, resume=resume, force=force,
        new_manifest=lambda lay: _manifest(spec, lay, conditions), spec_text=spec.sweep.text,
        resolved=lambda: {**spec.sweep.resolved(), "measure": _settings_json(spec)},
        what="measurement spec", on_damaged=lambda p, why: say(f"{p}: {why}; measuring it again"))
    for text in run.notes:
        say(text)
    conditions = run.manifest.get("conditions") or conditions   # a resumed run keeps its own
    layout = run.layout
    done = set(run.existing)
    result = MeasureResult(root, spec.n_runs, kept=len(done))
    ghash = guest.source_hash()
    try:
        rundir.write_json(root / CONDITIONS, conditions)
        (root / SAMPLES).mkdir(exist_ok=True)
        run.save(status="running")
        for i in range(spec.n_runs):
            if i in done:
                continue
            point, rep, inputs = spec.run(i)
            say(f"run {i + 1}/{spec.n_runs} (point {point}, repeat {rep}): {_brief(inputs)}")
            started = rundir.now()
            try:
                m = measure_run(inputs, spec.settings, tools, kernel)
            except MeasureRunError as exc:
                result.failed.append(f"run {i}: {exc}")
                say(f"  failed: {exc}")
                continue
            row = to_row(spec.name, point, rep, inputs, spec.settings, m, ghash, started)
            run.record(_commit(layout, i, row, m, fp))
            done.add(i)
            result.measured += 1
            say(f"  {row['status']}: total {row['total_time_s']:.3f} s, downtime "
                f"{row['downtime_ms']} ms, {row['ram_transferred_bytes'] / 1e6:.1f} MB, syncs "
                f"{row['dirty_sync_count']}, guest {row['measured_dirty_rate_Bps'] / 4096:.0f} "
                f"pages/s, load {row['loadavg_1m']:.2f}, wall {row['wall_s']:.1f} s")
            write_runs_csv(root, conditions)
    except BaseException:
        run.interrupted(counts={"measured": len(done), "failed": len(result.failed)})
        if root.is_dir():
            write_runs_csv(root, conditions)
        raise
    counts = {"measured": len(done), "failed": len(result.failed)}
    write_runs_csv(root, conditions)
    if len(done) == spec.n_runs:
        run.complete(counts=counts)
    else:
        run.interrupted("incomplete", counts=counts)
    result.wall_s = time.monotonic() - t0
    return result


def _settings_json(spec: MeasureSpec) -> dict[str, Any]:
    from dataclasses import asdict
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(spec.settings).items()} | {"wws_offset_bytes": spec.wws_offset_bytes}


def _brief(inputs: Any) -> str:
    parts = [f"{inputs.memory_bytes / 2**20:g} MiB"]
    if inputs.dirty_rate_Bps:
        parts.append(f"{inputs.dirty_rate_Bps / 4096:g} pages/s {inputs.dirty_pattern}")
    if inputs.wws_bytes is not None:
        parts.append(f"wws {inputs.wws_bytes / 2**20:g} MiB")
    if inputs.max_bandwidth_Bps is not None:
        parts.append(f"cap {inputs.max_bandwidth_Bps / 1e6:g} MB/s")
    if inputs.shaped:
        parts.append(f"link {inputs.link_bps / 1e6:g} Mbit/s")
    if inputs.hot_set_bytes:
        parts.append(f"hot {inputs.hot_set_bytes / 2**20:g} MiB @ {inputs.hot_rate_Bps / 4096:g} pages/s")
    if inputs.auto_converge:
        parts.append("auto-converge")
    return ", ".join(parts)


def _commit(layout: rundir.Layout, index: int, row: dict[str, Any], m: Any, fp: str
            ) -> dict[str, Any]:
    """Write run ``index``: its samples, then its Parquet part (the one resume trusts); return
    the part's ledger record."""
    root = layout.root
    samples = root / SAMPLES / f"part-{index:06d}.json"
    tmp = samples.with_name(f".{samples.name}.{os.getpid()}{rundir.TMP_SUFFIX}")
    tmp.write_text(json.dumps({"run_id": row["run_id"], "samples": m.samples, "events": m.events,
                               "guest_reports": m.guest_reports, "params": m.params,
                               "final": m.info}, default=str))
    os.replace(tmp, samples)
    record = rundir.write_part(layout, index, to_table([row]),
                               {"fingerprint": fp, "batch": index, "run_id": row["run_id"],
                                "counts": {row["status"]: 1}})
    return {"batch": index, "files": {layout.table: record}, "rows": 1, "points": 1,
            row["status"]: 1}


__all__ = ["run_measure", "MeasureResult", "collect", "write_runs_csv", "merge"]


def merge(dirs: list[Path], out: Path) -> int:
    """Write the rows of several measurement directories as one CSV (a shippable data set).

    Rows keep their order (directory by directory, run by run); the CSV opens with the shared
    ``# conditions:`` line. Returns the number of rows.

    Raises
    ------
    RunDirError
        If a directory is not a measurement run, or the conditions differ between directories
        (one data set, one set of conditions), or two rows share a ``run_id``.
    """
    rows: list[dict[str, Any]] = []
    conditions: dict[str, Any] | None = None
    first: Path | None = None
    for d in dirs:
        man = rundir.read_manifest(d)
        if man.get("kind") != KIND:
            raise RunDirError(f"{d}: is not a measurement run (it is a {man.get('kind')} run)")
        cond = json.loads((d / CONDITIONS).read_text())
        if conditions is None:
            conditions, first = cond, d
        elif cond != conditions:
            diff = sorted(k for k in set(cond) | set(conditions) if cond.get(k) != conditions.get(k))
            raise RunDirError(f"{d}: its conditions differ from {first}'s ({', '.join(diff)}); "
                              f"one data set needs one set of conditions")
        rows += collect(d)
    ids = [r["run_id"] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise RunDirError(f"run {dup} appears twice; give each spec its own name")
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_csv_atomic(out, rows, [conditions_comment(conditions or {}),
                                  "rows: migsim measure qemu (runner/measure/rows.py); made by "
                                  "migsim measure merge " + " ".join(d.name for d in dirs)])
    return len(rows)
