"""Profile files: a file round-trips (run -> recorded constants -> same rows); file errors are one
line naming the field; the file works wherever a profile name does."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import models
from models.policy import Limits, Policy, get_profile
from runner import profiles as rp
from runner.sweep.spec import load_spec
from tests.runner.conftest import build_run

PROFILE = """
base = "vsphere-5.1"
name = "vsphere-6.7"
description = "test: 1 s goal"
downtime_limit_ms = "1s"
setup_s = "250ms"
max_nics_10g = 8
max_bandwidth_Bps = "2GB/s"
host_cost = 16
[sources]
downtime_limit_ms = "assumed for the test"
"""

SPEC = """
name = "pf"
memory = "32GiB"
[grid]
profile = ["vsphere-5.1", "./profiles/v67.toml"]
dirty_rate = ["50MB/s", "300MB/s", "900MB/s"]
link = ["10GbE", "25Gbps"]
"""


@pytest.fixture
def spec_file(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "v67.toml").write_text(PROFILE)
    p = tmp_path / "spec.toml"
    p.write_text(SPEC)
    return p


def test_values_take_units_and_sources():
    pf = rp.from_doc(__import__("tomllib").loads(PROFILE), "v67.toml")
    assert pf.overrides == {"downtime_limit_ms": 1000.0, "setup_s": 0.25, "max_nics_10g": 8.0,
                            "max_bandwidth_Bps": 2e9, "host_cost": 16.0}
    p = pf.policy()
    assert (p.name, p.base, p.lineage) == ("vsphere-6.7", "vsphere-5.1", "vsphere-5.1")
    assert p.limits.host_cost == 16.0 and p.setup_s == 0.25
    assert p.source("downtime_limit_ms") == "assumed for the test"
    assert p.source("setup_s") == "profile file v67.toml"
    assert p.source("stop_s") == get_profile("vsphere-5.1").source("stop_s")


def test_round_trip_run_recorded_constants_same_rows(spec_file, tmp_path):
    spec = load_spec(spec_file)
    build_run(spec, tmp_path / "run")
    rows = pl.read_parquet(tmp_path / "run" / "results").sort("point_id")
    assert set(rows["profile"]) == {"vsphere-5.1", "vsphere-6.7"}
    custom = rows.filter(pl.col("profile") == "vsphere-6.7")
    assert (custom["downtime_limit_ms"] == 1000.0).all()
    shipped = rows.filter(pl.col("profile") == "vsphere-5.1")
    assert (shipped["downtime_limit_ms"] == 500.0).all()
    assert not custom["total_time_s"].equals(shipped["total_time_s"])
    # the run records every resolved constant; rebuilding the profile from them gives the rows
    recorded = json.loads((tmp_path / "run" / "spec.json").read_text())["profiles"]["vsphere-6.7"]
    base = get_profile(recorded["base"])
    over = {}
    for key, rec in recorded["constants"].items():
        v = rec["value"]
        v = math.inf if v == "inf" else v
        k = key.removeprefix("limits.")
        cur = getattr(base.limits, k) if key.startswith("limits.") else getattr(base, k)
        if v != cur:
            over[k] = v
    assert over == {"downtime_limit_ms": 1000.0, "setup_s": 0.25, "max_nics_10g": 8.0,
                    "max_bandwidth_Bps": 2e9, "host_cost": 16.0}
    pol = replace(get_profile(recorded["base"], **over), name="again")
    out = models.simulate({"profile": "again", "memory_bytes": 32 * 2**30,
                           "dirty_rate_Bps": custom["dirty_rate_Bps"].to_numpy(),
                           "link_bps": custom["link_bps"].to_numpy()}, profiles={"again": pol})
    np.testing.assert_array_equal(out["total_time_s"], custom["total_time_s"].to_numpy())
    np.testing.assert_array_equal(out["downtime_ms"], custom["downtime_ms"].to_numpy())


def test_a_changed_file_changes_the_fingerprint(spec_file, tmp_path):
    before = load_spec(spec_file).fingerprint()
    (tmp_path / "profiles" / "v67.toml").write_text(PROFILE.replace('"1s"', '"2s"'))
    assert load_spec(spec_file).fingerprint() != before


def test_auto_converge_follows_the_base_profile():
    q = replace(get_profile("qemu", downtime_limit_ms=50.0), name="q2", base="qemu")
    v = replace(get_profile("vsphere-5.1"), name="v2", base="vsphere-5.1")
    out = models.simulate({"profile": np.array(["q2", "v2"], dtype=object), "auto_converge": True,
                           "memory_bytes": 2.0**30}, profiles={"q2": q, "v2": v})
    assert list(out["status"]) == ["completed", "rejected"]


@pytest.mark.parametrize("text, message", [
    ('name = "x"\n', "base: invalid value None; allowed: a shipped profile: vsphere-5.1"),
    ('base = "vsphere-5"\n', "base: invalid value 'vsphere-5'"),
    ('base = "qemu"\ndowntime_limt_ms = 5\n', "downtime_limt_ms: unknown field (did you mean "
                                              "downtime_limit_ms?)"),
    ('base = "qemu"\ndowntime_limit_ms = "5 parsecs"\n', "downtime_limit_ms: invalid value "
                                                          "'5 parsecs'"),
    ('base = "qemu"\nmax_rounds = -1\n', "max_rounds: invalid value -1"),
    ('base = "qemu"\nremedy = "pray"\n', "remedy: invalid value 'pray'; allowed: one of none"),
    ('base = "qemu"\nadaptive_rate = 1\n', "adaptive_rate: invalid value 1; allowed: true or false"),
    ('base = "qemu"\nname = "qemu"\n', "name: invalid value 'qemu'; allowed: a name that is not"),
    ('base = "qemu"\n[sources]\nsetup_s = "x"\n', "sources.setup_s: invalid value 'x'"),
    ('base = \n', "valid TOML"),
])
def test_file_errors_are_one_line(tmp_path, text, message):
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(models.MigsimError) as exc:
        rp.load(p)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_cli_paths(spec_file, tmp_path, run_cli):
    pfile = tmp_path / "profiles" / "v67.toml"
    r = run_cli(["migrate", "--profile", pfile, "--memory", "32GiB", "--dirty-rate", "300MB/s",
                 "--json"])
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["profile"] == "vsphere-6.7" and row["downtime_limit_ms"] == 1000.0
    assert row["setup_s"] == 0.25
    shown = run_cli(["profiles", pfile])
    assert shown.returncode == 0 and "based on vsphere-5.1" in shown.stdout
    assert "assumed for the test" in shown.stdout and "250 ms" not in shown.stdout  # 0.25 s
    missing = run_cli(["migrate", "--profile", tmp_path / "nope.toml"])
    assert missing.returncode == 2 and "a profile file (TOML) that exists" in missing.stderr
    dry = run_cli(["sweep", spec_file, "--dry-run"])
    assert dry.returncode == 0 and "vsphere-6.7" in dry.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("./profiles/v67.toml", "./profiles/none.toml"))
    r = run_cli(["sweep", bad, "--dry-run"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.toml" in r.stderr


def test_every_policy_field_but_structure_is_overridable():
    names = set(rp.overridable())
    assert {f.name for f in fields(Limits)} <= names
    assert {f.name for f in fields(Policy)} - names == {"name", "transports", "limits", "sources",
                                                        "base"}


def test_a_scenario_takes_a_profile_file(tmp_path):
    from runner.scenario.spec import load_scenario

    (tmp_path / "v67.toml").write_text(PROFILE)
    text = (Path(__file__).resolve().parents[2] / "sweeps" / "evacuate-vsphere.toml").read_text()
    spec = tmp_path / "ev.toml"
    spec.write_text(text.replace('profile = "vsphere-5.1"', 'profile = "v67.toml"'))
    pol = load_scenario(spec).scenario(0).policy()
    assert pol.downtime_limit_ms == 1000.0 and pol.setup_s == 0.25 and pol.limits.host_cost == 16
    (tmp_path / "v67.toml").write_text('base = "vsphere-5.1"\nsetup = 1\n')
    with pytest.raises(models.MigsimError, match="setup: unknown field"):
        load_scenario(spec)
