"""Faults on a real two-node Ray cluster: workers killed mid-sweep, the driver killed or
interrupted — and afterwards every point exactly once, identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import psutil

import runner
from runner.sweep.spec import parse_spec
from runner.sweep.run import run_sweep

TEXT = """
name = "faults"
seed = 8
dirty_rate = { loguniform = ["1MB/s", "3GB/s"] }
memory = { loguniform = ["1GiB", "128GiB"] }
repeat = 500
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE", "40Gbps"]
"""
N = 4 * 3 * 500
BATCH = 100


def batch_workers() -> list[psutil.Process]:
    """Ray workers of this test session that are running a sweep batch right now."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "migsim-batch" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def parts(root: Path) -> list[Path]:
    return sorted((root / "results").glob("part-*.parquet")) if (root / "results").exists() else []


def assert_complete(root: Path, n: int) -> pl.DataFrame:
    df = runner.load(root).collect()
    ids = df.get_column("point_id")
    assert df.height == n, f"{df.height} rows for {n} points"
    assert ids.n_unique() == n and ids.to_list() == list(range(n))
    return df


def test_sigkill_workers_mid_sweep_loses_and_duplicates_nothing(ray_cluster, tmp_path: Path,
                                                                wait_for) -> None:
    root = tmp_path / "run"
    killed: list[int] = []

    def killer() -> None:
        for threshold in (1, N // BATCH // 3, N // BATCH // 2):
            if not wait_for(lambda: len(parts(root)) >= threshold, 60):
                return
            victims = wait_for(batch_workers, 10) or []
            for p in victims:
                try:
                    p.send_signal(signal.SIGKILL)
                    killed.append(p.pid)
                except psutil.Error:
                    pass

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    result = run_sweep(parse_spec(TEXT), root, batch_size=BATCH, progress=False)
    t.join(timeout=30)
    assert killed, "no batch worker was caught mid-task"
    assert sum(result.counts.values()) == N
    assert_complete(root, N)
    assert not list((root / "results").glob(".*"))  # nothing but parts in the table directory
    assert not list((root / ".migsim" / "staging").iterdir())  # no half-written part left behind


def test_killed_driver_then_resume_gives_the_rows_of_an_uninterrupted_run(
        ray_cluster, tmp_path: Path, write_spec, run_cli, start_cli, wait_for) -> None:
    spec = write_spec(TEXT, "faults")
    reference = tmp_path / "reference"
    run_sweep(parse_spec(TEXT), reference, batch_size=BATCH, progress=False)
    root = tmp_path / "interrupted"
    proc = start_cli(["sweep", spec, "--out", root, "--address", ray_cluster.address,
                      "--batch-size", BATCH, "--no-progress"])
    try:
        assert wait_for(lambda: len(parts(root)) >= 3 or proc.poll() is not None, 120)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    done = len(parts(root))
    assert 0 < done < N // BATCH, f"{done} parts at the kill: not interrupted mid-sweep"
    man = (root / "run.json").read_text()
    assert '"status": "running"' in man
    res = run_cli(["sweep", spec, "--out", root, "--address", ray_cluster.address, "--resume",
                   "--no-progress"])
    assert res.returncode == 0, res.stderr
    assert "parts kept from before" in res.stderr
    assert_complete(root, N).equals(runner.load(reference).collect())
    assert assert_complete(root, N).equals(assert_complete(reference, N))


def test_interrupted_driver_exits_130_and_says_how_to_resume(ray_cluster, tmp_path: Path,
                                                            write_spec, start_cli,
                                                            wait_for) -> None:
    spec = write_spec(TEXT, "faults")
    root = tmp_path / "run"
    proc = start_cli(["sweep", spec, "--out", root, "--address", ray_cluster.address,
                      "--batch-size", BATCH, "--no-progress"])
    assert wait_for(lambda: len(parts(root)) >= 2 or proc.poll() is not None, 120)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert '"status": "interrupted"' in (root / "run.json").read_text()
    os.environ.pop("RAY_ADDRESS", None)
    r = run_sweep(parse_spec(TEXT), root, resume=True, progress=False)
    assert r.resumed_batches >= 2
    assert_complete(root, N)


def test_wait_for_helper(wait_for) -> None:
    t0 = time.monotonic()
    assert wait_for(lambda: False, 0.2) is None
    assert time.monotonic() - t0 >= 0.2
    assert wait_for(lambda: 5, 1) == 5
