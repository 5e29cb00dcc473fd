"""Kept runs (issue 13): without --out every run is kept under results/<name>/<time>/ with
results/<name>/latest; nothing is ever destroyed by rerunning a spec; commands taking a run
accept results/<name>; ``migsim runs`` lists them. Through the installed command, as users run it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

import runner
from runner.storage import rundir
from runner.sweep.spec import parse_spec
from tests.runner.conftest import build_run

SPEC = """
name = "kept"
seed = 5
memory = "8GiB"
[grid]
profile = ["vsphere-5.1", "qemu"]
link = ["1GbE", "10GbE"]
dirty_rate = ["50MB/s", "500MB/s"]
"""


def runs_of(tmp_path: Path) -> list[Path]:
    return rundir.kept_runs(tmp_path / "results" / "kept")


def latest(tmp_path: Path) -> Path:
    return (tmp_path / "results" / "kept" / "latest").resolve()


def test_runs_are_kept_side_by_side_and_latest_is_what_commands_read(tmp_path: Path, write_spec,
                                                                      run_cli) -> None:
    spec = write_spec(SPEC, "kept")
    first = run_cli(["sweep", spec, "--no-progress"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [one] = runs_of(tmp_path)
    assert latest(tmp_path) == one.resolve()
    rows_one = runner.load(one).collect()

    # an identical rerun: complete and up to date, nothing computed, no new directory
    again = run_cli(["sweep", spec, "--no-progress"], cwd=tmp_path)
    assert again.returncode == 0 and "nothing to compute" in again.stderr, again.stderr
    assert runs_of(tmp_path) == [one]

    # an override: a new run beside the first, which stays intact; latest moves
    other = run_cli(["sweep", spec, "grid.link=[25Gbps]", "--no-progress"], cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert len(runs_of(tmp_path)) == 2 and runs_of(tmp_path)[0] == one
    two = runs_of(tmp_path)[1]
    assert latest(tmp_path) == two.resolve()
    assert runner.load(one).collect().equals(rows_one)

    # results/kept means its latest run, for the Python API, query, summary and plot
    assert runner.load(tmp_path / "results" / "kept").collect().height == 4
    q = run_cli(["query", "results/kept", "SELECT count(*) AS n, min(link_bps) AS l FROM results"],
                cwd=tmp_path)
    assert q.returncode == 0 and "2.5000e10" in q.stdout, q.stdout + q.stderr
    s = run_cli(["summary", "results/kept", "--by", "link"], cwd=tmp_path)
    assert s.returncode == 0 and "2.5000e10" in s.stdout, s.stdout + s.stderr
    # external readers follow the latest symlink as a directory
    assert pl.scan_parquet(tmp_path / "results/kept/latest/results").collect().height == 4

    # --force: a new run even though the latest is up to date; earlier runs are never deleted
    forced = run_cli(["sweep", spec, "grid.link=[25Gbps]", "--force", "--no-progress"],
                     cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert len(runs_of(tmp_path)) == 3 and runs_of(tmp_path)[:2] == [one, two]

    listed = run_cli(["runs"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [ln for ln in listed.stdout.splitlines() if ln.startswith("kept ")]
    assert len(lines) == 3 and all("complete" in ln for ln in lines)
    assert sum(" * " in ln or ln.split()[1].endswith("*") or " *  " in ln for ln in lines) == 1
    fp_one = rundir.read_manifest(one)["fingerprint"][:12]
    assert fp_one in lines[0] and "grid.link=[25Gbps]" in lines[1]


def test_resume_finishes_the_latest_run_of_the_spec(tmp_path: Path, write_spec, run_cli) -> None:
    spec_path = write_spec(SPEC, "kept")
    s = parse_spec(SPEC, str(spec_path), "kept")
    parent = tmp_path / "results" / "kept"
    interrupted = parent / "20260101T000000Z"
    build_run(s, interrupted, batch_size=3, batches=[0])
    rundir.set_latest(parent, interrupted)
    kept_part = (interrupted / "results" / "part-000000.parquet").stat().st_mtime_ns
    res = run_cli(["sweep", spec_path, "--resume", "--no-progress"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "1 of 3 parts kept from before" in res.stderr, res.stderr
    assert runs_of(tmp_path) == [interrupted]
    assert rundir.read_manifest(interrupted)["status"] == "complete"
    assert (interrupted / "results" / "part-000000.parquet").stat().st_mtime_ns == kept_part
    # without --resume, an incomplete latest run is left alone and a new run starts beside it
    build_run(s, parent / "20260101T000001Z", batch_size=3, batches=[0])
    rundir.set_latest(parent, parent / "20260101T000001Z")
    fresh = run_cli(["sweep", spec_path, "--no-progress"], cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert len(runs_of(tmp_path)) == 3
    assert rundir.read_manifest(parent / "20260101T000001Z")["status"] == "interrupted"


def test_a_run_in_the_single_run_layout_is_used_as_out(tmp_path: Path, write_spec,
                                                      run_cli) -> None:
    """results/<name> written by an earlier migsim (one run, no timestamps) keeps working."""
    spec_path = write_spec(SPEC, "kept")
    old = tmp_path / "results" / "kept"
    build_run(parse_spec(SPEC, str(spec_path), "kept"), old)
    res = run_cli(["sweep", spec_path, "--no-progress"], cwd=tmp_path)
    assert res.returncode == 0 and "single-run layout" in res.stderr, res.stderr
    assert "nothing to compute" in res.stderr and rundir.kept_runs(old) == []


def test_a_bad_override_writes_nothing(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(SPEC, "kept")
    for arg, words in [("memmory=1GiB", "memmory is not set"), ("grid.link=[1GbE,fast]", "'fast'"),
                       ("+memory=1GiB", "already set"), ("link=1GbE", "the spec sets grid.link")]:
        res = run_cli(["sweep", spec, arg], cwd=tmp_path)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and words in lines[0], (arg, res.stderr)
        assert lines[0].startswith("migsim: error: ") and "Traceback" not in res.stderr
    assert not (tmp_path / "results").exists()


def test_runs_lists_nothing_and_refuses_a_missing_directory(tmp_path: Path, run_cli) -> None:
    (tmp_path / "results").mkdir()
    res = run_cli(["runs"], cwd=tmp_path)
    assert res.returncode == 0 and "no migsim runs under results" in res.stdout
    gone = run_cli(["runs", "nowhere"], cwd=tmp_path)
    assert gone.returncode == 2 and "nowhere: does not exist" in gone.stderr


def test_scenarios_are_kept_the_same_way(tmp_path: Path, run_cli) -> None:
    from tests.conftest import REPO

    spec = REPO / "sweeps" / "evacuate-vsphere.toml"
    first = run_cli(["scenario", spec, "--no-progress"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    parent = tmp_path / "results" / "evacuate-vsphere"
    [one] = rundir.kept_runs(parent)
    assert (parent / "latest").resolve() == one.resolve()
    again = run_cli(["scenario", spec, "--no-progress"], cwd=tmp_path)
    assert again.returncode == 0 and "nothing to compute" in again.stderr, again.stderr
    assert rundir.kept_runs(parent) == [one]
    q = run_cli(["query", "results/evacuate-vsphere", "SELECT count(*) AS n FROM scenarios"],
                cwd=tmp_path)
    assert q.returncode == 0, q.stderr
    plot = run_cli(["plot", "results/evacuate-vsphere", "timeline", "--out", tmp_path / "t.png"],
                   cwd=tmp_path)
    assert plot.returncode == 0 and (tmp_path / "t.png").stat().st_size > 0, plot.stderr
