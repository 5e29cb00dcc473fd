"""Compare: identical runs report no change; a known change is reported exactly; one-sided rows
and verdict changes are counted."""

from __future__ import annotations

import polars as pl
import pytest

from runner.answers import compare as cmp
from runner.sweep.spec import load_spec
from tests.runner.conftest import build_run

SPEC = """
name = "{name}"
memory = "32GiB"
[grid]
profile = ["{profile}"]
dirty_rate = {{ logspace = ["10MB/s", "2GB/s"], num = {num} }}
link = ["1GbE", "10GbE"]
"""
SLOWER = 'base = "hyperv-2012"\nname = "hyperv-slow"\nsetup_s = "3.5s"\nmax_rounds = 3\n'


def _run(tmp_path, name, profile="hyperv-2012", num=10):
    spec = tmp_path / f"{name}.toml"
    spec.write_text(SPEC.format(name=name, profile=profile, num=num))
    build_run(load_spec(spec), tmp_path / name)
    return tmp_path / name


def _cmp(a, b, **kw):
    (da, la), (db, lb) = cmp.read_side(a), cmp.read_side(b)
    return cmp.compare(da, db, a_label=la, b_label=lb, **kw)


def test_identical_runs_report_no_change(tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    c = _cmp(a, b)
    assert c.unchanged and c.joined.height == 20 and c.only_a == c.only_b == 0
    assert (c.stats["changed"] == 0).all() and c.verdict_changes == 0


def test_a_known_change_is_reported(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOWER)
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b", profile="slow.toml")
    joined_on_profile = _cmp(a, b)           # different profiles: nothing joins
    assert joined_on_profile.joined.height == 0 and joined_on_profile.only_a == 20
    c = _cmp(a, b, ignore=["profile"])
    assert not c.unchanged and c.joined.height == 20
    setup = c.stats.filter(pl.col("output") == "setup_s").row(0, named=True)
    assert setup["changed"] == 20 and setup["median_diff"] == pytest.approx(0.5)
    assert setup["median_rel"] == pytest.approx(0.5 / 3.0)
    rounds = c.stats.filter(pl.col("output") == "precopy_rounds").row(0, named=True)
    assert rounds["median_diff"] < 0                  # 3 passes instead of 10
    tt = c.stats.filter(pl.col("output") == "total_time_s").row(0, named=True)
    assert tt["changed"] > 0


def test_rows_on_one_side_and_verdict_changes(tmp_path):
    a, b = _run(tmp_path, "a", profile="vsphere-5.1"), _run(tmp_path, "b", profile="vsphere-5.1",
                                                              num=5)
    c = _cmp(a, b)
    # logspace 10 and 5 share only their ends: 2 dirty rates x 2 links join, 3 x 2 are B's own
    assert c.joined.height == 4 and c.only_a == 16 and c.only_b == 6
    va, _ = cmp.read_side(a)
    flipped = va.with_columns(pl.lit("failed").alias("status"))
    d = cmp.compare(va, flipped)
    assert d.verdict_changes == 20
    assert d.verdicts.row(0, named=True) == {"status_a": "completed", "status_b": "failed",
                                             "rows": 20}


def test_cli_compare(tmp_path, run_cli):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    r = run_cli(["compare", a, b, "--out", tmp_path / "c.png"])
    assert r.returncode == 0, r.stderr
    assert "no change" in r.stdout and (tmp_path / "c.png").stat().st_size > 5_000
    bad = run_cli(["compare", a, tmp_path / "nope"])
    assert bad.returncode == 2 and "no such file" in bad.stderr
    bad = run_cli(["compare", a, b, "--ignore", "colour"])
    assert bad.returncode == 2 and "--ignore: invalid value 'colour'" in bad.stderr
