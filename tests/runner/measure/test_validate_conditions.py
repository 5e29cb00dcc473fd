"""Validation says what it assumes: the harness conditions are the data set's own metadata, shown
in `migsim validate`'s report, and runs QEMU never finished are compared like with like."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.migration import simulate
from runner.measure.validate import (DEFAULT_CONDITIONS, check_qemu, load_measured,
                                     measured_columns, qemu_columns, read_runs,
                                     training_conditions)

DATA = Path(__file__).resolve().parents[2] / "data"
TRAIN = DATA / "qemu-train.csv"
MEASURED = DATA / "qemu-measured.csv"


def test_the_training_csv_has_its_conditions_beside_it():
    cond, source = training_conditions(TRAIN)
    assert source.endswith("qemu-train.meta.toml")
    assert set(DEFAULT_CONDITIONS) <= set(cond)
    assert cond["cancel_after_s"] == 45.0 and cond["jitter_s"] == 0.02


def test_validate_report_names_the_conditions_and_their_source(run_cli):
    r = run_cli(["validate", TRAIN])
    first = r.stdout.splitlines()[0]
    assert first.startswith("conditions assumed (from ") and "qemu-train.meta.toml" in first
    assert "cancelled after 45 s (the model's timeout)" in first and "20 ms jitter" in first
    m = run_cli(["validate", MEASURED, "--split", "test"])
    first = m.stdout.splitlines()[0]
    assert "qemu-measured.csv's own conditions" in first and "cancelled after 20 s" in first
    assert "qemu_version 7.2.22" in first


def test_conditions_are_read_from_the_sidecar_not_from_constants(tmp_path):
    """The same runs with a sidecar saying the loopback carried only 10 MB/s (below every cap):
    every unshaped copy gets slower; with one saying runs were cancelled after 1 s, the runs the
    model needs longer for are not finished."""
    csv = tmp_path / "train.csv"
    shutil.copy(TRAIN, csv)
    meta = tmp_path / "train.meta.toml"
    base = check_qemu(TRAIN)
    meta.write_text("[conditions]\nloopback_Bps = 1e7\njitter_s = 0.5\n")
    slow = check_qemu(csv)
    assert [c.run_id for c in slow] == [c.run_id for c in base]
    rows = read_runs(TRAIN)
    unshaped = [i for i, r in enumerate(rows) if not float(r["link_shaped_Bps"] or 0)
                and base[i].predicted_converged]
    assert len(unshaped) > 10
    for i in unshaped:
        assert not slow[i].predicted_total_time_s <= base[i].predicted_total_time_s, rows[i]["run_id"]
    assert all(c.jitter_s == 0.5 for c in slow)
    meta.write_text("[conditions]\ncancel_after_s = 1.0\n")
    cut = check_qemu(csv)
    long_ = [i for i, c in enumerate(base) if c.predicted_converged and c.predicted_total_time_s > 1.5]
    assert long_ and all(not cut[i].predicted_converged for i in long_)
    assert all(cut[i].predicted_converged for i, c in enumerate(base)
               if c.predicted_converged and c.predicted_total_time_s < 0.5)


def test_a_bad_sidecar_is_one_clear_error(run_cli, tmp_path):
    csv = tmp_path / "t.csv"
    shutil.copy(TRAIN, csv)
    (tmp_path / "t.meta.toml").write_text("[conditions]\ncancel_after_s = -1\n")
    r = run_cli(["validate", csv])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "conditions.cancel_after_s" in r.stderr and "-1" in r.stderr


def _never_finished(path: Path):
    if path == MEASURED:
        rows, cond = load_measured(path)
        cols = measured_columns(rows, cond)
        done = np.array([r["converged"] == "true" for r in rows])
    else:
        rows = read_runs(path)
        cond, _ = training_conditions(path)
        cols = qemu_columns(rows, cond)
        done = np.array([r["converged"] == "1" for r in rows])
    return rows, cond, cols, ~done


@pytest.mark.parametrize("path", [TRAIN, MEASURED], ids=["train", "measured"])
def test_runs_qemu_never_finished_are_compared_like_with_like(path):
    """QEMU was still iterating when the harness cancelled these runs. With the user's default
    timeout (none) the model may say they complete — but never before the cancel time (e.g. the
    training point D_bw32_rho1.0: 339 s, 741 passes). Validation gives the model the cancel time
    as its timeout, so the model's verdict is the one QEMU had: not finished."""
    rows, cond, cols, never = _never_finished(path)
    assert never.any()
    free = simulate({**cols, "timeout_s": np.full(len(rows), np.inf)})
    cancel = float(cond["cancel_after_s"])
    for i in np.flatnonzero(never):
        if free["status"][i] == "completed":
            assert free["total_time_s"][i] > cancel, rows[i]["run_id"]
    checks = check_qemu(path)
    for i in np.flatnonzero(never):
        assert not checks[i].predicted_converged, checks[i].run_id
