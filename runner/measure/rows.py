"""A measured migration as one row in migsim's column vocabulary (Arrow schema, CSV).

Inputs carry the names and units of :mod:`models.fields` (``memory_bytes``, ``dirty_rate_Bps``,
``max_bandwidth_Bps``, ...), outputs those of :data:`models.fields.OUTPUTS` (``status``,
``total_time_s``, ``downtime_ms``, ``memory_transferred_bytes``, ``precopy_rounds``, ...), and the
measured extras (QEMU's page counts, sync times, the guest's measured write rate, the host load)
follow. How QEMU's figures map:

* ``status`` ``completed`` (QEMU completed) or ``failed`` with the model's reason for a pre-copy
  cancelled at the timeout; ``converged`` = completed; ``forced`` is always false (QEMU 7.2 never
  forces a switch-over);
* ``total_time_s`` = QEMU's ``total-time`` (or, when it answers 0, setup to completed event);
  for a cancelled run, the time until QEMU's last sample before the cancel took effect;
* ``downtime_ms`` = QEMU's ``downtime``; ``observed_downtime_ms`` = source STOP to destination
  RESUME event (guest-visible, QEMU's clocks);
* ``memory_transferred_bytes`` = ``ram.transferred``; ``final_round_bytes`` = ``ram.downtime-bytes``;
* ``precopy_rounds`` = ``dirty-sync-count`` - 1 (the first sync is at setup; the model's round 0
  is the bulk pass that follows it);
* ``max_throttle_pct`` = the largest ``cpu-throttle-percentage`` sampled.

``dirty_rate_Bps`` and ``hot_rate_Bps`` are what the spec asked for; ``measured_dirty_rate_Bps``
and ``measured_hot_rate_Bps`` what the guest wrote in its last second before ``migrate`` (give the
model these). ``zero_fraction`` is the share of guest RAM that was zero when the migration started:
pages neither filled nor in the working or hot set, less ``low_nonzero_bytes`` of firmware below
4 MiB (a condition of the data set).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pyarrow as pa

from runner.measure.guest import PAGE
from runner.measure.harness import Measurement, RunInputs, Settings

REASON_CANCELLED = "cancelled: pre-copy still iterating at the timeout"

F, I, S, B = pa.float64(), pa.int64(), pa.string(), pa.bool_()
#: (column, Arrow type, description); the order of the files.
COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("run_id", S, "stable id of the run: <data set>-p<point>-r<repeat>"),
    ("dataset", S, "name of the spec that made the run"),
    ("point_id", I, "index of the point in the spec's expansion"),
    ("repeat", I, "repeat index of the point (0-based)"),
    ("input_hash", S, "hash of the run's inputs without the repeat (same point, same hash)"),
    ("profile", S, "always qemu"),
    # inputs (models.fields)
    ("memory_bytes", F, "guest RAM"),
    ("page_size_bytes", F, "guest page size"),
    ("vcpus", F, "virtual CPUs"),
    ("dirty_rate_Bps", F, "asked working-set page-write rate (pages/s x page size)"),
    ("dirty_pattern", S, "random or sequential"),
    ("wws_bytes", F, "working-set bytes"),
    ("hot_set_bytes", F, "hot-set bytes"),
    ("hot_rate_Bps", F, "asked hot-set page-write rate"),
    ("zero_fraction", F, "share of RAM that was zero pages at the start"),
    ("link_bps", F, "shaped link rate, or the data set's loopback rate when unshaped"),
    ("efficiency", F, "protocol payload share (loopback: 1)"),
    ("max_bandwidth_Bps", F, "QEMU max-bandwidth in effect"),
    ("rtt_ms", F, "round-trip time (loopback: 0)"),
    ("downtime_limit_ms", F, "QEMU downtime-limit in effect"),
    ("auto_converge", B, "QEMU auto-converge capability"),
    ("timeout_s", F, "pre-copy cancelled after this long (the harness's cancel_after)"),
    # harness inputs beyond the model's
    ("link_shaped", B, "true when lo was shaped with tc to link_bps"),
    ("fill_bytes", F, "bytes filled with non-zero page-distinct data from 4 MiB up"),
    ("wws_offset_bytes", F, "start of the working set above 4 MiB"),
    ("hot_offset_bytes", F, "start of the hot set above 4 MiB"),
    # outputs (models.fields.OUTPUTS)
    ("status", S, "completed | failed (cancelled at the timeout)"),
    ("reason", S, "why the status (empty when completed)"),
    ("converged", B, "QEMU completed the migration"),
    ("forced", B, "always false for QEMU 7.2"),
    ("total_time_s", F, "QEMU total-time"),
    ("downtime_ms", F, "QEMU downtime"),
    ("setup_s", F, "QEMU setup-time"),
    ("memory_transferred_bytes", F, "QEMU ram.transferred (wire bytes of RAM, headers included)"),
    ("final_round_bytes", F, "QEMU ram.downtime-bytes (sent while stopped)"),
    ("precopy_rounds", I, "dirty-sync-count - 1"),
    ("max_throttle_pct", F, "largest cpu-throttle-percentage sampled"),
    # measured extras
    ("measured_dirty_rate_Bps", F, "working-set page writes in the guest's last second before migrate x page size"),
    ("measured_hot_rate_Bps", F, "hot-set page writes in that second x page size"),
    ("writer_phase", F, "a sequential writer's position in its working set at migrate, as a fraction "
                        "(its writes since it began, from its reports, plus the time since the last one "
                        "at the measured rate); null for random writes"),
    ("ram_transferred_bytes", F, "QEMU ram.transferred"),
    ("ram_normal_pages", I, "QEMU ram.normal (full pages sent)"),
    ("ram_duplicate_pages", I, "QEMU ram.duplicate (zero pages sent as headers)"),
    ("ram_normal_bytes", F, "QEMU ram.normal-bytes"),
    ("ram_precopy_bytes", F, "QEMU ram.precopy-bytes"),
    ("ram_downtime_bytes", F, "QEMU ram.downtime-bytes"),
    ("ram_total_bytes", F, "QEMU ram.total"),
    ("dirty_sync_count", I, "QEMU ram.dirty-sync-count (the first at setup)"),
    ("pass_times_ms", S, "pass:ms of each MIGRATION_PASS event after the setup event"),
    ("observed_downtime_ms", F, "source STOP to destination RESUME (QEMU clocks)"),
    ("stop_at_ms", F, "source STOP after the setup event"),
    ("last_mbps", F, "QEMU ram.mbps at the end"),
    ("expected_downtime_ms", F, "QEMU's last expected-downtime while active"),
    ("throttle_first_sync", I, "dirty-sync-count when the throttle first appeared (0: never)"),
    ("total_time_source", S, "qmp (QEMU total-time) or events"),
    ("samples", I, "query-migrate samples taken"),
    ("loadavg_1m", F, "host 1-minute load average at migrate"),
    ("loadavg_1m_end", F, "host 1-minute load average at the end"),
    ("qemu_version", S, "QEMU version (QMP greeting)"),
    ("guest_hash", S, "hash of the guest sources"),
    ("guest_cmdline", S, "the guest's kernel command line"),
    ("started_utc", S, "when the run started"),
    ("wall_s", F, "wall time of the whole run (boot to reap)"),
)
NAMES: tuple[str, ...] = tuple(c[0] for c in COLUMNS)
SCHEMA = pa.schema([pa.field(n, t, metadata={b"description": d.encode()}) for n, t, d in COLUMNS])


def input_hash(inputs: RunInputs, settings: Settings) -> str:
    """Hash (12 hex digits) of what decides a run, without its repeat index."""
    blob = json.dumps({"inputs": {k: (None if v is None else (str(v) if isinstance(v, float) and
                                                               not math.isfinite(v) else v))
                                  for k, v in vars(inputs).items()},
                       "cancel_after_s": settings.cancel_after_s}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def writer_phase(m: Measurement, inputs: RunInputs) -> float:
    """Where a sequential writer was in its working set when ``migrate`` was issued, as a fraction.

    The guest writes pages 0, 1, ... of its working set in turn from its first paced step and
    reports its writes once a second; to their sum the harness adds the writes of the time between
    seeing the last report and ``migrate`` (at the last second's rate; the report is seen within
    10 ms of being printed, so the phase is known to ~10 ms of writing). Near the cap this phase
    decides how a sequential pre-copy ends (docs/qemu-validation-data.md).
    """
    ws = m.layout.ws if m.layout is not None else 0
    if inputs.dirty_pattern != "sequential" or ws <= 0 or not m.guest_reports \
            or math.isnan(m.report_to_migrate_s):
        return math.nan
    written = sum(r[1] for r in m.guest_reports) + m.guest_rate_pps * (m.report_to_migrate_s + 0.005)
    return (written % ws) / ws


def to_row(dataset: str, point_id: int, repeat: int, inputs: RunInputs, settings: Settings,
           m: Measurement, guest_hash: str, started_utc: str) -> dict[str, Any]:
    """One row (column -> value) of a measurement; see the module docstring for the mapping."""
    assert m.layout is not None
    lay = m.layout
    info, ram = m.info, m.info.get("ram", {})
    completed = m.status == "completed"
    mem = inputs.memory_bytes
    nonzero = min(lay.nonzero_pages() * PAGE + settings.low_nonzero_bytes, mem)
    syncs = int(ram.get("dirty-sync-count", 0) or 0)
    throttles = [s.get("throttle_pct") or 0 for s in m.samples]
    first_throttle = next((s.get("dirty_sync_count") or 0 for s in m.samples
                           if (s.get("throttle_pct") or 0) > 0), 0)
    ev = {(e["side"], e["name"]): e for e in reversed(m.events)}   # first of each kind wins
    stop = ev.get(("source", "STOP"))
    resume = ev.get(("destination", "RESUME"))
    observed = resume["t_ms"] - stop["t_ms"] if (stop and resume and completed) else math.nan
    passes = ";".join(f"{e['data'].get('pass')}:{e['t_ms']:.0f}" for e in m.events
                      if e["side"] == "source" and e["name"] == "MIGRATION_PASS")
    total_ms = _num(info.get("total-time"))
    source = m.total_time_source
    if completed and not total_ms:
        source = "events"
        done = next((e for e in m.events if e["side"] == "source" and e["name"] == "MIGRATION"
                     and e["data"].get("status") == "completed"), None)
        total_ms = done["t_ms"] if done else math.nan
    if not completed:
        active = [s for s in m.samples if s.get("status") == "active" and s.get("total_time_ms")]
        total_ms = float(active[-1]["total_time_ms"]) if active else math.nan
        last = active[-1] if active else {}
        ram = {**ram, "transferred": last.get("transferred", ram.get("transferred")),
               "normal": last.get("normal", ram.get("normal")),
               "duplicate": last.get("duplicate", ram.get("duplicate")),
               "dirty-sync-count": last.get("dirty_sync_count", ram.get("dirty-sync-count"))}
        syncs = int(ram.get("dirty-sync-count") or 0)
    expected = [s.get("expected_downtime_ms") for s in m.samples
                if s.get("status") == "active" and s.get("expected_downtime_ms") is not None]
    pid = int(point_id)
    ih = input_hash(inputs, settings)
    row: dict[str, Any] = {
        "run_id": f"{dataset}-p{pid:04d}-r{repeat}", "dataset": dataset, "point_id": pid, "repeat": int(repeat),
        "input_hash": ih, "profile": "qemu",
        "memory_bytes": float(mem), "page_size_bytes": float(PAGE), "vcpus": 1.0,
        "dirty_rate_Bps": float(inputs.dirty_rate_Bps), "dirty_pattern": inputs.dirty_pattern,
        "wws_bytes": float(lay.ws * PAGE), "hot_set_bytes": float(lay.hot * PAGE),
        "hot_rate_Bps": float(inputs.hot_rate_Bps), "zero_fraction": 1.0 - nonzero / mem,
        "link_bps": float(inputs.link_bps if inputs.shaped else settings.loopback_Bps * 8.0),
        "efficiency": 1.0, "max_bandwidth_Bps": _num(m.params.get("max-bandwidth")),
        "rtt_ms": 0.0, "downtime_limit_ms": _num(m.params.get("downtime-limit")),
        "auto_converge": bool(inputs.auto_converge), "timeout_s": float(settings.cancel_after_s),
        "link_shaped": inputs.shaped, "fill_bytes": float(lay.fill * PAGE),
        "wws_offset_bytes": float(lay.wsoff * PAGE), "hot_offset_bytes": float(lay.hotoff * PAGE),
        "status": "completed" if completed else "failed",
        "reason": "" if completed else REASON_CANCELLED,
        "converged": completed, "forced": False,
        "total_time_s": total_ms / 1e3,
        "downtime_ms": _num(info.get("downtime")) if completed else math.nan,
        "setup_s": _num(info.get("setup-time")) / 1e3,
        "memory_transferred_bytes": _num(ram.get("transferred")),
        "final_round_bytes": _num(ram.get("downtime-bytes")) if completed else math.nan,
        "precopy_rounds": max(syncs - 1, 0),
        "max_throttle_pct": float(max(throttles, default=0)),
        "measured_dirty_rate_Bps": m.guest_rate_pps * PAGE,
        "measured_hot_rate_Bps": m.guest_hot_rate_pps * PAGE,
        "writer_phase": writer_phase(m, inputs),
        "ram_transferred_bytes": _num(ram.get("transferred")),
        "ram_normal_pages": int(ram.get("normal") or 0),
        "ram_duplicate_pages": int(ram.get("duplicate") or 0),
        "ram_normal_bytes": _num(ram.get("normal-bytes")),
        "ram_precopy_bytes": _num(ram.get("precopy-bytes")),
        "ram_downtime_bytes": _num(ram.get("downtime-bytes")),
        "ram_total_bytes": _num(ram.get("total")),
        "dirty_sync_count": syncs, "pass_times_ms": passes,
        "observed_downtime_ms": round(observed, 3) if observed == observed else observed,
        "stop_at_ms": stop["t_ms"] if stop else math.nan,
        "last_mbps": _num(ram.get("mbps")),
        "expected_downtime_ms": _num(expected[-1]) if expected else math.nan,
        "throttle_first_sync": int(first_throttle),
        "total_time_source": source, "samples": len(m.samples),
        "loadavg_1m": m.loadavg_1m, "loadavg_1m_end": m.loadavg_1m_end,
        "qemu_version": m.qemu_version, "guest_hash": guest_hash,
        "guest_cmdline": lay.cmdline(), "started_utc": started_utc, "wall_s": m.wall_s,
    }
    assert tuple(row) == NAMES, set(NAMES) ^ set(row)
    return row


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with :data:`SCHEMA`."""
    return pa.Table.from_pylist(rows, schema=SCHEMA)
