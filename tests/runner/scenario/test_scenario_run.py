"""Scenario runs: run directory layout, tables, resume, the CLI, plots."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from models.fields import OUTPUTS
from models.scenario import SUMMARY_COLUMNS, TIMELINE_COLUMNS
from runner.storage import rundir
from runner.errors import QueryError, RunDirError
from runner.plots.timeline import plot
from runner.scenario.run import load_tables, run_scenario
from runner.scenario.spec import load_scenario, parse_scenario

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"

SMALL = """
kind = "scenario"
name = "small"
profile = "hyperv-2012"
[[hosts]]
name = "hv"
count = 3
link = "10GbE"
[[vms]]
name = "vm"
count = 5
host = "hv-1"
memory = "2GiB"
dirty_rate = { uniform = ["5MB/s", "50MB/s"] }
[plan]
evacuate = "hv-1"
[grid]
overrides.max_live_migrations = [1, 2, 3, 5]
"""


@pytest.fixture
def small(tmp_path: Path):
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return load_scenario(p)


def test_run_writes_three_tables(small, tmp_path):
    out = tmp_path / "run"
    res = run_scenario(small, out, batch_size=2, progress=False)
    assert res.n_points == 4 and res.n_batches == 2 and res.migrations == 20
    assert res.counts == {"completed": 20, "failed": 0, "rejected": 0}
    man = json.loads((out / "run.json").read_text())
    assert man["kind"] == "migsim-scenario-run" and man["status"] == "complete"
    assert man["swept"] == {"overrides.max_live_migrations": "overrides_max_live_migrations"}
    assert (out / "spec.toml").read_text() == SMALL
    t = {k: v.collect() for k, v in load_tables(out).items()}
    mig, summ, hosts = t["migrations"], t["scenarios"], t["hosts"]
    assert mig.height == 20 and summ.height == 4 and hosts.height == 12
    for c in ["point_id", "vm", "source", "destination", "queue_wait_s", "start_s", "end_s",
              *OUTPUTS, *TIMELINE_COLUMNS, "overrides_max_live_migrations", "memory_bytes"]:
        assert c in mig.columns, c
    for c in ["makespan_s", "peak_concurrency", *SUMMARY_COLUMNS]:
        assert c in summ.columns
    peak = summ.sort("point_id").get_column("peak_concurrency").to_list()
    assert peak == [1, 2, 3, 5]
    # the makespan falls as more migrations run at once (5 small VMs, 10 GbE)
    ms = summ.sort("point_id").get_column("makespan_s").to_list()
    assert ms[0] > ms[1] > ms[3]
    # the per-scenario row agrees with the migration rows
    for r in summ.iter_rows(named=True):
        rows = mig.filter(pl.col("point_id") == r["point_id"])
        assert r["makespan_s"] == pytest.approx(rows.get_column("end_s").max())
        assert r["total_transferred_bytes"] == pytest.approx(rows.get_column("transferred_bytes").sum())
    # parts carry their metadata; the runner's store reads the migrations as a run
    meta = json.loads(pq.read_metadata(out / "migrations" / "part-000000.parquet").metadata[b"migsim"])
    assert meta["points"] == 2 and meta["rows"] == 10
    import runner
    assert runner.load(out).collect().height == 20


def test_resume_recomputes_only_missing_batches(small, tmp_path):
    out = tmp_path / "run"
    run_scenario(small, out, batch_size=1, progress=False)
    before = load_tables(out)["migrations"].collect().sort(["point_id", "seq"])
    (out / "migrations" / "part-000002.parquet").unlink()
    (out / "scenarios" / "part-000003.parquet").unlink()
    res = run_scenario(small, out, resume=True, progress=False)
    assert res.resumed_batches == 2 and res.computed_points == 2
    after = load_tables(out)["migrations"].collect().sort(["point_id", "seq"])
    assert after.equals(before)
    assert res.counts["completed"] == 20


def test_existing_run_needs_force_or_resume(small, tmp_path):
    out = tmp_path / "run"
    run_scenario(small, out, progress=False)
    again = run_scenario(small, out, progress=False)     # complete and up to date: nothing to do
    assert again.computed_points == 0 and any("nothing to compute" in n for n in again.notes)
    other = parse_scenario(SMALL.replace('"5MB/s"', '"6MB/s"'), str(tmp_path / "small.toml"))
    with pytest.raises(RunDirError):
        run_scenario(other, out, progress=False)
    run_scenario(other, out, force=True, progress=False)


def test_resume_refuses_another_spec(small, tmp_path):
    out = tmp_path / "run"
    run_scenario(small, out, progress=False)
    other = parse_scenario(SMALL.replace('"5MB/s"', '"6MB/s"'), str(tmp_path / "small.toml"))
    with pytest.raises(RunDirError, match="different scenario spec"):
        run_scenario(other, out, resume=True, progress=False)


def test_timeline_and_makespan_plots(small, tmp_path):
    out = tmp_path / "run"
    run_scenario(small, out, progress=False)
    png = plot(out, "timeline", tmp_path / "t.png", point=1)
    assert png.stat().st_size > 10_000
    png2 = plot(out, "makespan", tmp_path / "m.png")
    assert png2.stat().st_size > 10_000
    with pytest.raises(QueryError, match="--point"):
        plot(out, "timeline", tmp_path / "t2.png", point=99)
    with pytest.raises(QueryError, match="allowed"):
        plot(out, "timeline", tmp_path / "t.gif")


# ---------------------------------------------------------------------------- CLI
def test_cli_runs_shipped_scenario(run_cli, tmp_path):
    out = tmp_path / "ev"
    r = run_cli(["scenario", SWEEPS / "evacuate-vsphere.toml", "--out", out, "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert "32 migrations: 32 completed" in r.stderr
    assert "makespan_s" in r.stderr
    summ = pl.read_parquet(out / "scenarios" / "*.parquet").sort("point_id")
    assert summ.get_column("hosts_link").to_list() == [1e9, 10e9]
    assert summ.get_column("peak_concurrency").to_list() == [4, 8]
    q = run_cli(["query", out, "SELECT count(*) AS n, max(queue_wait_s) AS w FROM results"])
    assert q.returncode == 0, q.stderr
    assert "32" in q.stdout


def test_cli_dry_run_writes_nothing(run_cli, tmp_path):
    out = tmp_path / "dry"
    r = run_cli(["scenario", SWEEPS / "concurrency-sweep.toml", "--out", out, "--dry-run"])
    assert r.returncode == 0, r.stderr
    assert "18 points" in r.stdout and "migrations: 576" in r.stdout
    assert not out.exists()


def test_cli_bad_spec_exit_2_one_line_no_output(run_cli, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(SMALL.replace('count = 5', 'count = "five"'))
    out = tmp_path / "bad-run"
    r = run_cli(["scenario", spec, "--out", out])
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert str(spec) in lines[0] and "vms[0].count" in lines[0] and "five" in lines[0]
    assert not out.exists()


def test_cli_failed_migrations_exit_0(run_cli, tmp_path):
    spec = tmp_path / "q.toml"
    spec.write_text("""
kind = "scenario"
profile = "qemu"
[[hosts]]
name = "a"
[[hosts]]
name = "b"
[[vms]]
name = "hot"
host = "a"
memory = "1GiB"
dirty_rate = "2GB/s"
[plan]
evacuate = "a"
""")
    r = run_cli(["scenario", spec, "--out", tmp_path / "q", "--no-progress"])
    assert r.returncode == 0, r.stderr  # a failed migration is a result (issue 10, item 7)
    assert "1 failed" in r.stderr
    assert (tmp_path / "q" / "migrations" / "part-000000.parquet").exists()


def test_cli_existing_run_exit_2(run_cli, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SMALL)
    out = tmp_path / "s"
    assert run_cli(["scenario", spec, "--out", out, "--no-progress"]).returncode == 0
    r = run_cli(["scenario", spec, "--out", out, "--no-progress"])
    assert r.returncode == 0 and "nothing to compute" in r.stderr     # the same run, up to date
    spec.write_text(SMALL.replace('"5MB/s"', '"6MB/s"'))
    r = run_cli(["scenario", spec, "--out", out, "--no-progress"])
    assert r.returncode == 2 and "--resume" in r.stderr
    spec.write_text(SMALL)
    r = run_cli(["scenario", spec, "--out", out, "--no-progress", "--resume"])
    assert r.returncode == 0 and "4 of 4 parts kept" in r.stderr


def test_rundir_layout_matches_sweeps(small, tmp_path):
    out = tmp_path / "run"
    run_scenario(small, out, progress=False)
    assert rundir.is_run_dir(out)
    assert {p.name for p in out.iterdir()} == {"spec.toml", "spec.json", "run.json", ".migsim",
                                               "migrations", "scenarios", "hosts"}
