"""The Ray-actor execution of scenarios on a real two-node cluster gives the in-process rows.

Heavy tier (``-m cluster``): uses the session's two-raylet ``ray_cluster`` (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.scenario import Engine
from runner.scenario.actors import ActorPool
from runner.scenario.run import load_tables, run_scenario
from runner.scenario.spec import load_scenario

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"
SHIPPED = ["evacuate-vsphere", "evacuate-hyperv", "concurrency-sweep", "rack-uplinks",
           "maintenance-cluster"]

pytestmark = pytest.mark.cluster


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN (values that do not exist)."""
    import math
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    t = load_tables(root)
    return {"migrations": t["migrations"].collect().sort(["point_id", "seq"]),
            "scenarios": t["scenarios"].collect().sort("point_id"),
            "hosts": t["hosts"].collect().sort(["point_id", "host"])}


@pytest.mark.parametrize("name", SHIPPED)
def test_actors_and_in_process_give_identical_rows(ray_cluster, tmp_path, name):
    spec = load_scenario(SWEEPS / f"{name}.toml")
    local = run_scenario(spec, tmp_path / "local", engine="local", progress=False)
    actors = run_scenario(spec, tmp_path / "actors", engine="actors", progress=False,
                          host_actors=4, stream_actors=2)
    assert actors.counts == local.counts and actors.migrations == local.migrations
    assert len(actors.nodes) == 2, actors.nodes          # actors spread over both raylets
    a, b = _tables(tmp_path / "local"), _tables(tmp_path / "actors")
    for table in a:
        assert a[table].schema == b[table].schema
        assert a[table].equals(b[table]), table


def test_local_engine_as_ray_tasks_on_the_cluster(ray_cluster, tmp_path):
    spec = load_scenario(SWEEPS / "evacuate-hyperv.toml")
    run_scenario(spec, tmp_path / "inproc", progress=False)
    res = run_scenario(spec, tmp_path / "tasks", address=ray_cluster.address, batch_size=1,
                       progress=False)
    assert res.n_batches == 4
    a, b = _tables(tmp_path / "inproc"), _tables(tmp_path / "tasks")
    for table in a:
        assert a[table].equals(b[table]), table


def test_one_stream_actor_per_stream_and_a_single_shared_one_agree(ray_cluster):
    spec = load_scenario(SWEEPS / "evacuate-vsphere.toml")
    scn = spec.scenario(1)                                 # 10 GbE: 8 streams at once
    ref = Engine(scn).run(scn.stages)
    for hosts, streams in ((1, 1), (4, 8)):
        pool = ActorPool(hosts, streams)
        try:
            got = Engine(scn, pool.backend()).run(scn.stages)
        finally:
            pool.shutdown()
        for k in ref.rows:
            assert np.array_equal(ref.rows[k], got.rows[k],
                                  equal_nan=ref.rows[k].dtype.kind == "f"), k
        assert _same(ref.summary, got.summary) and _same(ref.host_stats, got.host_stats)


@pytest.mark.parametrize("name", ["rack-uplinks", "maintenance-cluster"])
def test_actors_give_the_in_process_results_on_topology_scenarios(ray_cluster, name):
    """Every point of the topology specs, engine to engine: rows, summary, host books, links."""
    spec = load_scenario(SWEEPS / f"{name}.toml")
    pool = ActorPool(3, 3)
    try:
        for i, scn in spec.scenarios():
            ref = Engine(scn).run(scn.stages)
            got = Engine(scn, pool.backend()).run(scn.stages)
            for k in ref.rows:
                assert np.array_equal(ref.rows[k], got.rows[k],
                                      equal_nan=ref.rows[k].dtype.kind == "f"), (i, k)
            assert _same(ref.summary, got.summary) and _same(ref.host_stats, got.host_stats)
            assert ref.links == got.links
    finally:
        pool.shutdown()


def test_cli_actors_join_the_cluster(ray_cluster, run_cli, tmp_path):
    """``migsim scenario --engine actors --address`` from another process, as a user would."""
    spec = SWEEPS / "evacuate-hyperv.toml"
    r = run_cli(["scenario", spec, "--engine", "actors", "--address", ray_cluster.address,
                 "--host-actors", "2", "--stream-actors", "2", "--out", tmp_path / "a",
                 "--no-progress"], timeout=600)
    assert r.returncode == 0, r.stderr
    assert "actors engine on 2 Ray nodes" in r.stderr
    run_scenario(load_scenario(spec), tmp_path / "l", progress=False)
    a, b = _tables(tmp_path / "a"), _tables(tmp_path / "l")
    for table in a:
        assert a[table].equals(b[table]), table


@pytest.mark.slow
def test_thousand_variant_datacenter_sweep_as_ray_tasks(ray_cluster, tmp_path):
    """sweeps/datacenter-sweep.toml: 1,000 points (concurrency limit x oversubscription x NIOC
    shares) as Ray tasks on the two-node cluster, Parquet tables like any run; sampled points equal
    the in-process engine's."""
    from models.scenario import run

    spec = load_scenario(SWEEPS / "datacenter-sweep.toml")
    assert spec.n_points == 1000
    res = run_scenario(spec, tmp_path / "dc", address=ray_cluster.address, progress=False)
    assert len(res.nodes) == 2
    t = _tables(tmp_path / "dc")
    assert t["scenarios"].height == 1000 and t["migrations"].height == 8000
    for p in (0, 437, 999):
        ref = run(spec.scenario(p))
        row = t["scenarios"].filter(pl.col("point_id") == p).row(0, named=True)
        assert row["makespan_s"] == ref.summary["makespan_s"]
        assert row["events"] == ref.summary["events"]
    shares = t["scenarios"].group_by("network_migration_shares").agg(
        pl.col("makespan_s").mean()).sort("network_migration_shares")
    ms = shares.get_column("makespan_s").to_list()
    assert ms[0] > ms[-1]        # more NIOC shares for vMotion: shorter evacuations on average
