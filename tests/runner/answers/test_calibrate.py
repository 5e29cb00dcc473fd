"""Calibration: recovers known constants from synthetic data, no worse than the shipped profile on
QEMU data (held-out), refuses what the data cannot identify, writes a usable profile file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.policy import get_profile
from runner import profiles as rp
from runner.answers import calibrate as cal

DATA = Path(__file__).resolve().parents[2] / "data" / "qemu-measured.csv"
TRUE = {"rate_window_s": 0.16, "resume_s": 0.012}


def _synthetic(noise: float, seed: int = 3) -> cal.Data:
    """The measured runs' inputs, with outputs made by the model under TRUE constants + noise."""
    d = cal.load_data(DATA)
    truth = replace(get_profile("qemu", **TRUE), name="truth")
    out = cal.predict(d, truth)
    rng = np.random.default_rng(seed)
    obs = {k: np.asarray(out[k], dtype=float) * np.exp(rng.normal(0.0, noise, d.n))
           for k, _, _ in cal.OUTPUTS}
    return replace(d, observed=obs, converged=np.asarray(out["status"]) == "completed")


def test_recovers_known_constants_from_synthetic_data():
    d = _synthetic(noise=0.01)
    rep = cal.calibrate(d, get_profile("qemu"), ["rate_window_s", "resume_s"], k=3)
    for k, v in TRUE.items():
        got, se = rep.fit.values[k], rep.fit.stderr[k]
        assert abs(got - v) <= max(3 * se, 0.05 * v), (k, got, se)
        assert se < 0.2 * v
    assert rep.cv_loss[1] < rep.cv_loss[0]
    assert np.nanmedian(rep.cv_after["total time"]) < np.nanmedian(rep.cv_before["total time"])


def test_qemu_data_cross_validated_no_worse_than_shipped_and_train_only():
    rep = cal.calibrate(cal.load_data(DATA), get_profile("qemu"), ["rate_window_s"])
    assert rep.cv_loss[1] <= rep.cv_loss[0]
    assert rep.train_runs == 143 and rep.test_runs == 55       # fitted on the train split only
    assert rep.test_after is not None and rep.notes == []
    assert 0.01 < rep.fit.values["rate_window_s"] < 1.0


@pytest.mark.parametrize("fields, message", [
    (["downtime_limit_ms"], "downtime_limit_ms cannot be identified"),      # every run sets it
    (["max_bandwidth_Bps"], "max_bandwidth_Bps cannot be identified"),
    (["remedy"], "--fit: invalid field 'remedy'"),
    (["max_rounds"], "max_rounds is inf (no limit) in qemu"),
    (["setup_s", "setup_s"], "named twice"),
])
def test_unidentifiable_or_bad_fields_are_refused(fields, message):
    with pytest.raises(cal.CalibrationError) as exc:
        cal.calibrate(cal.load_data(DATA), get_profile("qemu"), fields)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_cli_writes_a_profile_file_usable_everywhere(tmp_path, run_cli):
    out = tmp_path / "mine.toml"
    r = run_cli(["calibrate", DATA, "--profile", "qemu", "--fit", "rate_window_s", "--out", out,
                 "--folds", "3"])
    assert r.returncode == 0, r.stderr
    assert "cv before" in r.stdout and "test after" in r.stdout and "rate_window_s" in r.stdout
    pf = rp.load(out)
    assert (pf.base, pf.name) == ("qemu", "mine")
    assert "migsim calibrate" in pf.sources["rate_window_s"]
    m = run_cli(["migrate", "--profile", out, "--memory", "1G", "--dirty-rate", "50MB/s",
                 "--json"])
    assert m.returncode == 0 and '"profile": "mine"' in m.stdout
    again = run_cli(["calibrate", DATA, "--fit", "rate_window_s", "--out", out])
    assert again.returncode == 2 and "exists; add --force" in again.stderr
    bad = run_cli(["calibrate", tmp_path / "none.csv", "--fit", "rate_window_s", "--out",
                   tmp_path / "x.toml"])
    assert bad.returncode == 2 and "no such file" in bad.stderr
    assert not (tmp_path / "x.toml").exists()
