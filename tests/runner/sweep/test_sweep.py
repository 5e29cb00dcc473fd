"""Sweeps on a real two-node Ray cluster: complete, spread over both nodes, deterministic,
resumable, and careful with existing run directories."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

import runner
from models.fields import STATUSES
from runner.errors import RunDirError
from runner.sweep.spec import parse_spec
from runner.sweep.run import run_sweep

TEXT = """
name = "ray-sweep"
seed = 21
memory = { loguniform = ["1GiB", "64GiB"] }
repeat = 5
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE"]
dirty_rate = { logspace = ["5MB/s", "2GB/s"], num = 30 }
"""
SPEC = parse_spec(TEXT, "ray-sweep.toml", "ray-sweep")
N = 4 * 2 * 30 * 5


def frame(root: Path) -> pl.DataFrame:
    return runner.load(root).collect()


def two_at_once(barrier: Path, timeout_s: float = 120.0):
    """``run_batch`` that, for the first two batches to start, waits until both have started.

    Each raylet of the test cluster has one CPU and a batch takes one, and the wait is a sleep
    (not a Ray call, which would lend the CPU out): two batches running at once are on two
    different nodes, so both nodes are used by construction, not by luck of scheduling. Each
    starting batch leaves ``<barrier>/<batch>`` holding its node id. Defined inside a function so
    that Ray ships it by value to the workers.
    """
    from runner.sweep.task import run_batch

    def batch(plan, root, n_points, batch_size, b, *rest):
        import ray
        (barrier / str(b)).write_text(ray.get_runtime_context().get_node_id())
        end = time.monotonic() + timeout_s
        while len(os.listdir(barrier)) < 2 and time.monotonic() < end:
            time.sleep(0.01)
        return run_batch(plan, root, n_points, batch_size, b, *rest)

    return batch


def test_sweep_runs_every_point_once_on_both_nodes(ray_cluster, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.sweep import execute

    root = tmp_path / "run"
    barrier = tmp_path / "started"
    barrier.mkdir()
    monkeypatch.setattr(execute, "run_batch", two_at_once(barrier))
    r = run_sweep(SPEC, root, batch_size=100, progress=False)
    started = {p.name: p.read_text() for p in barrier.iterdir()}
    assert len(started) == 12 and len(set(started.values())) == 2, started
    assert r.n_points == N and r.n_batches == 12 and r.computed_points == N
    assert sum(r.counts.values()) == N
    assert len(r.nodes) == 2  # both raylets ran batches
    df = frame(root)
    assert df.get_column("point_id").to_list() == list(range(N))
    counts = df.group_by("status").len()
    for s in STATUSES:
        got = counts.filter(pl.col("status") == s).get_column("len").sum()
        assert got == r.counts[s]
    man = json.loads((root / "run.json").read_text())
    assert man["status"] == "complete" and man["n_points"] == N and man["counts"] == r.counts
    assert man["model_version"] and man["fingerprint"] == SPEC.fingerprint()
    assert (root / "spec.toml").read_text() == TEXT
    resolved = json.loads((root / "spec.json").read_text())
    assert resolved["n_points"] == N and resolved["axes"][0]["label"] == "grid.profile"
    nodes = {json.loads(pq.read_metadata(p).metadata[b"migsim"])["node_id"]
             for p in (root / "results").glob("*.parquet")}
    assert len(nodes) == 2


def test_same_spec_and_seed_give_identical_rows_whatever_the_batching(ray_cluster,
                                                                      tmp_path: Path) -> None:
    run_sweep(SPEC, tmp_path / "a", batch_size=100, progress=False)
    run_sweep(SPEC, tmp_path / "b", batch_size=333, progress=False)
    a, b = frame(tmp_path / "a"), frame(tmp_path / "b")
    assert a.equals(b)
    other = parse_spec(TEXT.replace("seed = 21", "seed = 22"))
    run_sweep(other, tmp_path / "c", batch_size=100, progress=False)
    assert not frame(tmp_path / "c").get_column("memory_bytes").equals(a.get_column("memory_bytes"))


def test_resume_computes_only_missing_parts(ray_cluster, tmp_path: Path) -> None:
    root = tmp_path / "run"
    run_sweep(SPEC, root, batch_size=100, progress=False)
    before = frame(root)
    parts = sorted((root / "results").glob("*.parquet"))
    for p in parts[3:6]:
        p.unlink()
    (root / ".migsim" / "staging" / ".results.part-000004.parquet.999.dead.tmp").write_bytes(
        b"half a part")
    kept = {p: p.stat().st_mtime_ns for p in parts if p.exists()}
    r = run_sweep(SPEC, root, resume=True, progress=False)
    assert r.resumed_batches == 9 and r.computed_points == 300
    assert sum(r.counts.values()) == N
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # untouched
    assert not list((root / ".migsim" / "staging").iterdir())  # temporaries cleaned
    assert frame(root).equals(before)
    # resuming a complete run computes nothing
    again = run_sweep(SPEC, root, resume=True, progress=False)
    assert again.computed_points == 0 and sum(again.counts.values()) == N


def test_existing_runs_are_protected(ray_cluster, tmp_path: Path) -> None:
    root = tmp_path / "run"
    run_sweep(SPEC, root, batch_size=200, progress=False)
    again = run_sweep(SPEC, root, progress=False)        # complete and up to date: nothing to do
    assert again.computed_points == 0 and any("nothing to compute" in n for n in again.notes)
    other = parse_spec(TEXT.replace("repeat = 5", "repeat = 6"))
    with pytest.raises(RunDirError, match="--resume"):
        run_sweep(other, root, progress=False)
    with pytest.raises(RunDirError, match="different spec"):
        run_sweep(other, root, resume=True, progress=False)
    with pytest.raises(RunDirError, match="batch size"):
        run_sweep(SPEC, root, resume=True, batch_size=100, progress=False)
    r = run_sweep(other, root, force=True, progress=False)
    assert r.n_points == 4 * 2 * 30 * 6 and frame(root).height == r.n_points
