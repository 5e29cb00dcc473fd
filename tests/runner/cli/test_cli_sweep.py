"""The ``migsim`` command line, run as users run it (a subprocess): sweep on an embedded local Ray
and on a cluster, dry runs, exit statuses, query, summary and plot."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

import runner

LOCAL = """
name = "cli-local"
seed = 3
memory = "4GiB"
[grid]
profile = ["vsphere-5.1", "hyperv-2012"]
link = ["1GbE", "10GbE"]
dirty_rate = { logspace = ["10MB/s", "1GB/s"], num = 10 }
"""
FAILING = """
name = "cli-failing"
memory = "4GiB"
profile = "qemu"
[grid]
link = ["1GbE", "10GbE"]
dirty_rate = ["10MB/s", "500MB/s"]
"""


def one_line_error(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migsim: error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def test_sweep_on_an_embedded_local_ray(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(LOCAL, "local")
    res = run_cli(["sweep", spec, "--executor", "ray"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    root = (tmp_path / "results" / "cli-local" / "latest").resolve()   # kept runs: <name>/<time>
    assert "40 points: 40 completed, 0 rejected, 0 failed" in res.stderr, res.stderr
    assert f"results in results/cli-local/{root.name}" in res.stderr, res.stderr
    assert "points/s" in res.stderr, res.stderr  # progress lines (stderr is not a terminal)
    man = json.loads((root / "run.json").read_text())
    assert man["status"] == "complete" and man["ray"] == "embedded"
    assert (root / "spec.toml").read_text() == LOCAL and (root / "spec.json").is_file()
    df = runner.load(root).collect()
    assert df.height == 40 and df.get_column("point_id").to_list() == list(range(40))
    # the same command again: the run is complete and up to date, nothing to compute, no Ray
    # (issue 10, item 11: a shipped command run twice said "already holds a run", exit 2)
    again = run_cli(["sweep", spec], cwd=tmp_path)
    assert again.returncode == 0 and "nothing to compute" in again.stderr, again.stderr
    assert "40 points: 40 completed" in again.stderr
    # another spec into the same directory is refused, naming --resume and --force
    spec.write_text(LOCAL.replace("seed = 3", "seed = 4"))
    other = run_cli(["sweep", spec, "--out", root], cwd=tmp_path)
    assert other.returncode == 2 and "--force" in one_line_error(other)


def test_failed_points_exit_0_after_writing_every_row(ray_cluster, tmp_path: Path, write_spec,
                                                      run_cli) -> None:
    spec = write_spec(FAILING, "failing")
    out = tmp_path / "run"
    res = run_cli(["sweep", spec, "--out", out, "--address", ray_cluster.address, "--no-progress"])
    assert res.returncode == 0, res.stderr  # failed migrations are results (issue 10, item 7)
    assert "failed; " in res.stderr and "exit status" not in res.stderr
    df = runner.load(out).collect()
    assert df.height == 4
    failed = df.filter(pl.col("status") == "failed")
    assert failed.height >= 1 and all(failed.get_column("reason").str.len_chars() > 0)


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(LOCAL, "local")
    res = run_cli(["sweep", spec, "--dry-run", "--batch-size", "7"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "40 points (profile 2 x link 2 x dirty_rate 10)" in out
    assert "batches: 6 of up to 7 points" in out
    assert "output: results/cli-local/20" in out and "(a new run, kept beside" in out
    assert "executor: local" in out
    assert "vsphere-5.1" in out and "1 Gbit/s" in out and "10 MB/s" in out
    assert not (tmp_path / "results").exists()


def test_click_usage_errors_exit_2_without_traceback(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(LOCAL, "local")
    res = run_cli(["sweep", spec, "--frobnicate"], cwd=tmp_path)
    assert res.returncode == 2 and "No such option" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    res = run_cli(["sweep", spec, "--batch-size", "0"], cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = run_cli(["plot", spec, "pie", "--out", tmp_path / "x.png"], cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_bad_options_exit_2(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(LOCAL, "local")
    res = run_cli(["sweep", spec, "--resume", "--force"], cwd=tmp_path)
    assert res.returncode == 2 and "--resume" in one_line_error(res)
    res = run_cli(["sweep", spec, "--address", "127.0.0.1:1"], cwd=tmp_path)
    assert res.returncode == 3 and "cannot connect" in one_line_error(res)  # Ray unreachable
    assert not (tmp_path / "results").exists()


def test_query_prints_or_writes(small_run: Path, tmp_path: Path, run_cli) -> None:
    sql = "SELECT profile, count(*) AS n, median(downtime_ms) AS dt FROM results GROUP BY profile ORDER BY profile"
    res = run_cli(["query", small_run, sql])
    assert res.returncode == 0, res.stderr
    assert "hyperv-2012" in res.stdout and "xen" in res.stdout and "32" in res.stdout
    csv = tmp_path / "a.csv"
    res = run_cli(["query", small_run, sql, "--out", csv])
    assert res.returncode == 0 and "wrote 4 rows" in res.stderr
    assert pl.read_csv(csv).get_column("n").to_list() == [32, 32, 32, 32]
    pq_out = tmp_path / "all.parquet"
    assert run_cli(["query", small_run, "SELECT * FROM results", "--out", pq_out]).returncode == 0
    assert pl.read_parquet(pq_out).height == 128
    bad = run_cli(["query", small_run, "SELECT FROM WHERE"])
    assert bad.returncode == 2 and "query failed" in one_line_error(bad)
    missing = run_cli(["query", tmp_path / "nope", "SELECT 1"])
    assert missing.returncode == 2 and "does not exist" in one_line_error(missing)


def test_summary(small_run: Path, tmp_path: Path, run_cli) -> None:
    res = run_cli(["summary", small_run, "--by", "profile,link"])
    assert res.returncode == 0, res.stderr
    for word in ("converged_share", "total_time_s_p50", "downtime_ms_p95", "transferred_GiB_p50"):
        assert word in res.stdout
    out = tmp_path / "s.csv"
    assert run_cli(["summary", small_run, "--by", "storage", "--out", out]).returncode == 0
    assert pl.read_csv(out).height == 2
    bad = run_cli(["summary", small_run, "--by", "colour"])
    assert bad.returncode == 2 and "unknown column 'colour'" in one_line_error(bad)


def test_plot(small_run: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "map.png"
    res = run_cli(["plot", small_run, "convergence", "--out", out])
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    res = run_cli(["plot", small_run, "time", "--out", tmp_path / "t.gif"])
    assert res.returncode == 2 and ".png" in one_line_error(res)


def test_incomplete_run_warns(small_run: Path, tmp_path: Path, run_cli) -> None:
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(small_run, partial)
    (partial / "results" / "part-000000.parquet").unlink()
    res = run_cli(["query", partial, "SELECT count(*) AS n FROM results"])
    assert res.returncode == 0
    assert "incomplete run (3 of 4 parts)" in res.stderr and "--resume" in res.stderr
    assert "96" in res.stdout
