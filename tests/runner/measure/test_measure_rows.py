"""A measurement as a row: migsim's column vocabulary and the mapping of QEMU's figures."""

from __future__ import annotations

import math

import pytest

from models.fields import INPUT_BY_COLUMN, OUTPUTS
from models.precopy import R_TIMEOUT, REASONS
from runner.measure.harness import Measurement, RunInputs, Settings
from runner.measure.rows import COLUMNS, NAMES, SCHEMA, input_hash, to_row, to_table

INPUTS = RunInputs(memory_bytes=64 * 2**20, dirty_rate_Bps=2000 * 4096.0, dirty_pattern="random",
                   wws_bytes=8 * 2**20, max_bandwidth_Bps=32e6)
SETTINGS = Settings(cancel_after_s=20.0, low_nonzero_bytes=0.5 * 2**20, loopback_Bps=2e9)


def measurement(status="completed", total_time=1815, samples=None, events=None) -> Measurement:
    info = {"status": status, "setup-time": 3, "downtime": 11, "total-time": total_time,
            "ram": {"transferred": 64205164, "normal": 15642, "duplicate": 1129,
                    "normal-bytes": 64069632, "precopy-bytes": 57620986,
                    "downtime-bytes": 6584178, "total": 67641344, "dirty-sync-count": 4,
                    "mbps": 283.6}}
    ev = events if events is not None else [
        {"side": "source", "name": "MIGRATION", "data": {"status": "setup"}, "t_ms": 0.0},
        {"side": "source", "name": "MIGRATION_PASS", "data": {"pass": 1}, "t_ms": 2.7},
        {"side": "source", "name": "MIGRATION_PASS", "data": {"pass": 2}, "t_ms": 1703.9},
        {"side": "source", "name": "STOP", "data": {}, "t_ms": 1803.9},
        {"side": "source", "name": "MIGRATION", "data": {"status": "completed"}, "t_ms": 1815.0},
        {"side": "destination", "name": "RESUME", "data": {}, "t_ms": 1824.2},
    ]
    smp = samples if samples is not None else [
        {"t_ms": 100, "status": "active", "total_time_ms": 100, "throttle_pct": 0,
         "dirty_sync_count": 1, "expected_downtime_ms": 300},
        {"t_ms": 200, "status": "active", "total_time_ms": 200, "throttle_pct": 30,
         "dirty_sync_count": 3, "expected_downtime_ms": 120},
        {"t_ms": 300, "status": "completed", "total_time_ms": 1815, "throttle_pct": 0}]
    m = Measurement(status=status, info=info, params={"max-bandwidth": 32000000, "downtime-limit": 300},
                    samples=smp, events=ev, guest_rate_pps=1987.0, guest_hot_rate_pps=0.0,
                    layout=INPUTS.layout(SETTINGS.low_nonzero_bytes), loadavg_1m=1.5,
                    loadavg_1m_end=1.7, qemu_version="7.2.22", wall_s=4.2)
    return m


def test_columns_are_migsims_vocabulary():
    names = set(NAMES)
    model_inputs = {"memory_bytes", "page_size_bytes", "vcpus", "dirty_rate_Bps", "dirty_pattern",
                    "wws_bytes", "hot_set_bytes", "hot_rate_Bps", "zero_fraction", "link_bps",
                    "efficiency", "max_bandwidth_Bps", "rtt_ms", "downtime_limit_ms",
                    "auto_converge", "timeout_s"}
    assert model_inputs <= names and model_inputs <= set(INPUT_BY_COLUMN)
    outputs = {"status", "reason", "converged", "forced", "total_time_s", "downtime_ms", "setup_s",
               "memory_transferred_bytes", "final_round_bytes", "precopy_rounds", "max_throttle_pct"}
    assert outputs <= names and outputs <= set(OUTPUTS)
    assert len(NAMES) == len(names) == len(COLUMNS) == len(SCHEMA)


def test_completed_run_maps_qemus_figures():
    row = to_row("ds", 3, 1, INPUTS, SETTINGS, measurement(), "g", "2026-01-01T00:00:00Z")
    assert list(row) == list(NAMES)
    assert row["run_id"] == "ds-p0003-r1" and row["dataset"] == "ds"
    assert row["status"] == "completed" and row["converged"] and row["reason"] == ""
    assert row["total_time_s"] == pytest.approx(1.815) and row["total_time_source"] == "qmp"
    assert row["downtime_ms"] == 11 and row["setup_s"] == pytest.approx(0.003)
    assert row["memory_transferred_bytes"] == row["ram_transferred_bytes"] == 64205164
    assert row["final_round_bytes"] == 6584178
    assert row["precopy_rounds"] == 3 and row["dirty_sync_count"] == 4
    assert row["ram_normal_pages"] == 15642 and row["ram_duplicate_pages"] == 1129
    assert row["observed_downtime_ms"] == pytest.approx(1824.2 - 1803.9)
    assert row["pass_times_ms"] == "1:3;2:1704"
    assert row["max_throttle_pct"] == 30 and row["throttle_first_sync"] == 3
    assert row["measured_dirty_rate_Bps"] == 1987 * 4096 and row["dirty_rate_Bps"] == 2000 * 4096
    assert row["max_bandwidth_Bps"] == 32e6 and row["downtime_limit_ms"] == 300
    assert row["link_bps"] == 16e9 and not row["link_shaped"]      # the data set's loopback rate
    assert row["timeout_s"] == 20.0 and row["loadavg_1m"] == 1.5
    # zero share: the random working set and the fill of a zero_fraction-0 guest, plus 512 KiB
    lay = INPUTS.layout(SETTINGS.low_nonzero_bytes)
    assert row["zero_fraction"] == pytest.approx(1 - (lay.nonzero_pages() * 4096 + 2**19) / 2**26)
    table = to_table([row])
    assert table.schema.equals(SCHEMA) and table.num_rows == 1


def test_total_time_zero_is_timed_from_the_events():
    row = to_row("ds", 0, 0, INPUTS, SETTINGS, measurement(total_time=0), "g", "t")
    assert row["total_time_s"] == pytest.approx(1.815) and row["total_time_source"] == "events"


def test_cancelled_run_is_failed_with_the_models_reason_and_last_active_figures():
    samples = [{"t_ms": 100, "status": "active", "total_time_ms": 19900, "transferred": 5e8,
                "normal": 120000, "duplicate": 7, "dirty_sync_count": 40, "throttle_pct": 0},
               {"t_ms": 200, "status": "cancelling", "total_time_ms": None},
               {"t_ms": 300, "status": "cancelled"}]
    m = measurement(status="cancelled", samples=samples, events=[])
    m.info = {"status": "cancelled"}
    row = to_row("ds", 0, 0, INPUTS, SETTINGS, m, "g", "t")
    assert row["status"] == "failed" and not row["converged"]
    assert row["reason"] == REASONS[R_TIMEOUT]            # the model's words for the same thing
    assert row["total_time_s"] == pytest.approx(19.9)
    assert row["memory_transferred_bytes"] == 5e8 and row["dirty_sync_count"] == 40
    assert math.isnan(row["downtime_ms"]) and math.isnan(row["observed_downtime_ms"])


def test_shaped_link_row_carries_the_shaped_rate():
    shaped = RunInputs(memory_bytes=64 * 2**20, link_bps=200e6, max_bandwidth_Bps=10e9)
    m = measurement()
    m.layout = shaped.layout(SETTINGS.low_nonzero_bytes)
    row = to_row("ds", 0, 0, shaped, SETTINGS, m, "g", "t")
    assert row["link_shaped"] and row["link_bps"] == 200e6


def test_input_hash_ignores_the_repeat_and_sees_every_input():
    a = input_hash(INPUTS, SETTINGS)
    assert a == input_hash(RunInputs(**vars(INPUTS)), SETTINGS)
    b = input_hash(RunInputs(**{**vars(INPUTS), "dirty_pattern": "sequential"}), SETTINGS)
    c = input_hash(INPUTS, Settings(cancel_after_s=30.0))
    assert len({a, b, c}) == 3
