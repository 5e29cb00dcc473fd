"""Datacenter scenarios the way a user runs them: the shipped specs through the installed
``migsim`` (tables, intervals, the three figures), and a bad [network] table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from models.scenario import run
from runner.errors import QueryError
from runner.plots.scenario import plot
from runner.scenario.run import load_tables, run_scenario
from runner.scenario.spec import load_scenario

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"


@pytest.fixture(scope="module")
def maintenance_run(tmp_path_factory, run_cli) -> Path:
    out = tmp_path_factory.mktemp("mc") / "mc"
    r = run_cli(["scenario", SWEEPS / "maintenance-cluster.toml", "--out", out, "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert "192 migrations: 192 completed" in r.stderr
    return out


def test_maintenance_cluster_host_intervals_chain(maintenance_run):
    hosts = load_tables(maintenance_run)["hosts"].collect().sort("point_id", "host")
    summ = load_tables(maintenance_run)["scenarios"].collect().sort("point_id")
    assert summ.get_column("profile").to_list() == ["vsphere-5.1", "hyperv-2012"]
    for p in (0, 1):
        h = hosts.filter(pl.col("point_id") == p)
        start = h.get_column("evacuation_start_s").to_list()
        done = h.get_column("plan_done_s").to_list()
        hold = (h.get_column("maintenance_end_s") - h.get_column("evacuated_s")).to_list()
        assert start[1:] == done[:-1]                         # next host when the previous is back
        assert hold == pytest.approx([1800.0] * 8)
        assert summ.get_column("maintenance_window_s")[p] == pytest.approx(done[-1] - start[0])
        assert h.get_column("rack").to_list() == ["esx-rack-1"] * 4 + ["esx-rack-2"] * 4
    # Hyper-V's 2 live migrations at a time make each evacuation, and the window, longer
    w = summ.get_column("maintenance_window_s").to_list()
    assert w[1] > w[0]
    mig = load_tables(maintenance_run)["migrations"].collect()
    assert mig.filter(pl.col("status") != "completed").height == 0


@pytest.mark.parametrize("kind", ["links", "activity", "maintenance"])
def test_cli_draws_the_datacenter_figures(maintenance_run, run_cli, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    r = run_cli(["plot", maintenance_run, kind, "--out", out, "--point", "1"])
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


def test_plot_of_a_missing_point_is_one_line_exit_2(maintenance_run, run_cli, tmp_path):
    r = run_cli(["plot", maintenance_run, "maintenance", "--out", tmp_path / "m.png",
                 "--point", "7"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["migsim: error: --point: invalid value 7; allowed: "
                                             "a point of the run (0..1)"]


def test_links_figure_refuses_a_run_the_spec_no_longer_reproduces(maintenance_run, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(maintenance_run, copy)
    spec = copy / "spec.toml"
    spec.write_text(spec.read_text().replace('maintenance = "30min"', 'maintenance = "31min"'))
    with pytest.raises(QueryError, match="run again gives makespan"):
        plot(copy, "links", tmp_path / "l.png", point=0)


def test_trace_busiest_link_is_the_saturated_uplink():
    spec = load_scenario(SWEEPS / "rack-uplinks.toml")
    i = next(k for k in range(spec.n_points)
             if spec.point_values(k) == {"network.oversubscription": 8,
                                         "network.uplink_background": 0.0})
    res = run(spec.scenario(i), trace=True)
    assert res.summary["busiest_link"] == "up:rack-a"
    names = res.trace["link_names"]
    up = names.index("up:rack-a")
    load = res.trace["link_load_Bps"][:, up]
    assert load.max() == pytest.approx(10e9 / 8, rel=1e-9)     # 80 Gb/s / 8 of oversubscription
    assert len(res.trace["t_s"]) == res.summary["events"]


def test_rack_uplinks_makespan_grows_with_oversubscription(tmp_path):
    res = run_scenario(SWEEPS / "rack-uplinks.toml", tmp_path / "ru", progress=False)
    assert res.counts["completed"] == 8 * 16
    s = load_tables(tmp_path / "ru")["scenarios"].collect().filter(
        pl.col("network_uplink_background") == 0).sort("network_oversubscription")
    ms = s.get_column("makespan_s").to_list()
    assert ms[0] == pytest.approx(ms[1], rel=1e-9)            # 1:1 and 2:1: the NICs decide
    assert ms[2] > 1.8 * ms[1] and ms[3] > 1.8 * ms[2]         # 4:1, 8:1: the uplink decides


def test_cli_bad_network_table_exit_2_one_line(run_cli, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text((SWEEPS / "rack-uplinks.toml").read_text().replace(
        "oversubscription = 1 ", "oversubscription = 0 "))
    r = run_cli(["scenario", spec, "--out", tmp_path / "o"])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "network.oversubscription" in lines[0] and "0" in lines[0]
    assert not (tmp_path / "o").exists()
