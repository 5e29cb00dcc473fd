"""`migsim validate` on harness output: run directory, runs.csv and Parquet; conditions from the data."""

from __future__ import annotations

import json

import pytest

from runner.storage import rundir
from runner.measure.harness import Measurement, RunInputs, Settings
from runner.measure.rows import to_row, to_table
from runner.measure.run import conditions_comment, write_runs_csv
from runner.measure.split import split_of
from runner.measure.validate import check_qemu, load_measured, regime_of

MIB = 2**20


def fake_run(inputs: RunInputs, settings: Settings, total_ms: float, transferred: float) -> Measurement:
    info = {"status": "completed", "setup-time": 1, "downtime": 5, "total-time": total_ms,
            "ram": {"transferred": transferred, "normal": int(transferred // 4096), "duplicate": 10,
                    "dirty-sync-count": 3, "downtime-bytes": 1e5}}
    return Measurement(status="completed", info=info,
                       params={"max-bandwidth": int(inputs.max_bandwidth_Bps or 134217728),
                               "downtime-limit": 300},
                       guest_rate_pps=inputs.dirty_rate_Bps / 4096, guest_hot_rate_pps=0.0,
                       layout=inputs.layout(settings.low_nonzero_bytes), loadavg_1m=1.0,
                       qemu_version="7.2.22", wall_s=3.0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory of three synthetic runs (two repeats of a bulk copy, one uncapped)."""
    root = tmp_path_factory.mktemp("m") / "ds"
    (root / "runs").mkdir(parents=True)
    settings = Settings(cancel_after_s=20.0, jitter_s=0.02)
    bulk = RunInputs(memory_bytes=64 * MIB, wws_bytes=MIB, dirty_rate_Bps=1000 * 4096.0,
                     dirty_pattern="sequential", max_bandwidth_Bps=32e6)
    fast = RunInputs(memory_bytes=64 * MIB, wws_bytes=MIB, max_bandwidth_Bps=10e9)
    layout = rundir.Layout(root, 3, 1, "runs")
    for i, (inp, t, b) in enumerate([(bulk, 1950, 62.9e6), (bulk, 1960, 62.9e6), (fast, 150, 62.9e6)]):
        row = to_row("ds", i // 2, i % 2, inp, settings, fake_run(inp, settings, t, b), "g", "t")
        rundir.write_part(layout, i, to_table([row]), {"fingerprint": "f", "batch": i})
    conditions = {"cancel_after_s": 20.0, "jitter_s": 0.02, "loopback_Bps": 2e9,
                  "low_nonzero_bytes": 0.5 * MIB}
    rundir.write_json(root / "conditions.json", conditions)
    write_runs_csv(root, conditions)
    return root


def test_directory_csv_and_parquet_give_the_same_checks(run_dir):
    a = check_qemu(run_dir)
    b = check_qemu(run_dir / "runs.csv")
    c = check_qemu(run_dir / "runs" / "part-000000.parquet")
    assert len(a) == len(b) == 3 and len(c) == 1
    assert [x.predicted_total_time_s for x in a] == [x.predicted_total_time_s for x in b]
    assert c[0].predicted_total_time_s == a[0].predicted_total_time_s
    assert a[0].total_time_s == pytest.approx(1.95) and a[0].converged and a[0].predicted_converged
    # a 64 MiB bulk copy at 32 MB/s: about 2 s in the model too
    assert a[0].predicted_total_time_s == pytest.approx(2.0, rel=0.1)
    assert a[0].group == a[1].group != a[2].group and a[0].split == split_of(a[0].group)


def test_conditions_come_from_the_data_set_not_from_constants(run_dir, tmp_path):
    rows, cond = load_measured(run_dir / "runs.csv")
    assert cond["loopback_Bps"] == 2e9 and len(rows) == 3
    slow = tmp_path / "slow.csv"
    text = (run_dir / "runs.csv").read_text()
    first = text.splitlines()[0]
    assert first == "# " + conditions_comment(json.loads(first.split("conditions: ", 1)[1]))
    slow.write_text(text.replace('"loopback_Bps": 2000000000.0', '"loopback_Bps": 100000000.0')
                        .replace('"jitter_s": 0.02', '"jitter_s": 0.5'))
    base, changed = check_qemu(run_dir / "runs.csv"), check_qemu(slow)
    # the uncapped run is bounded by the loopback rate the data set states
    assert changed[2].predicted_total_time_s > 5 * base[2].predicted_total_time_s
    # the capped one only in its uncapped stop-and-copy
    assert changed[0].predicted_total_time_s == pytest.approx(base[0].predicted_total_time_s, rel=0.05)
    assert changed[0].jitter_s == 0.5 and base[0].jitter_s == 0.02


def test_validate_command_reports_regimes_and_repeat_spread(run_cli, run_dir):
    res = run_cli(["validate", run_dir], timeout=300)
    assert res.returncode in (0, 1), res.stderr
    assert "3 runs, 3 converged; verdicts wrong: 0" in res.stdout
    assert "regime" in res.stdout and "bulk" in res.stdout
    spread = [ln for ln in res.stdout.splitlines() if ln.startswith("bulk")][0]
    assert spread.rstrip().endswith("0.5% (1)")     # (1960 - 1950) / 1955
    res = run_cli(["validate", run_dir, "--split", "test"], timeout=300)
    n_test = sum(split_of(c.group) == "test" for c in check_qemu(run_dir))
    if n_test:
        assert f"{n_test} runs" in res.stdout
    else:
        assert res.returncode == 2 and "no runs to check in the test part" in res.stderr


def test_the_training_csv_still_validates_as_before(run_cli):
    res = run_cli(["validate", "tests/data/qemu-train.csv"], timeout=300)
    assert res.returncode == 0, res.stdout[-2000:]
    assert ("30 runs, 28 converged; verdicts wrong: 0; total time median 0.0% p90 2.8% worst 12.0%"
            in res.stdout)


@pytest.mark.parametrize("row, regime", [
    ({"auto_converge": "true", "hot_set_bytes": "1"}, "auto-converge"),
    ({"hot_set_bytes": "4096"}, "hot-set"),
    ({"link_shaped": "true", "link_bps": "2e8", "max_bandwidth_Bps": "1e10"}, "shaped-nocap"),
    ({"link_shaped": "true", "link_bps": "2e8", "max_bandwidth_Bps": "6.4e7"}, "shaped-cap"),
    ({"link_bps": "1.6e10", "max_bandwidth_Bps": "3.2e7", "measured_dirty_rate_Bps": "1e5"}, "bulk"),
    ({"link_bps": "1.6e10", "max_bandwidth_Bps": "3.2e7", "measured_dirty_rate_Bps": "2.88e7"},
     "rho0.7-0.98"),
    ({"link_bps": "1.6e10", "max_bandwidth_Bps": "3.2e7", "measured_dirty_rate_Bps": "3.2e7"},
     "rho>=0.98"),
])
def test_regime_rule(row, regime):
    assert regime_of(row) == regime


def test_split_rule_is_the_written_one():
    assert split_of("000000000000") == "test"          # 0 % 3 == 0
    assert split_of("000000010000") == "train"         # 1
    assert split_of("00000003ffff") == "test"          # 3
    assert {split_of(f"{i:08x}") for i in range(30)} == {"train", "test"}


SHIPPED = __import__("pathlib").Path(__file__).resolve().parents[2] / "data" / "qemu-measured.csv"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="tests/data/qemu-measured.csv not shipped yet")
def test_the_shipped_measured_set_reads_with_its_conditions():
    rows, cond = load_measured(SHIPPED)
    assert len(rows) >= 100 and cond["qemu_version"].startswith("7.2")
    assert {"cancel_after_s", "jitter_s", "loopback_Bps", "low_nonzero_bytes"} <= set(cond)
    checks = check_qemu(SHIPPED)
    assert len(checks) == len(rows)
    assert {c.split for c in checks} == {"train", "test"}
    assert all(c.total_time_s > 0 for c in checks)
    assert len({r["run_id"] for r in rows}) == len(rows)


def test_merge_keeps_rows_and_conditions_and_refuses_mixed_conditions(run_dir, tmp_path):
    import shutil

    from runner.errors import RunDirError
    from runner.measure.run import KIND, merge

    rundir.write_json(run_dir / "run.json",
                      rundir.base_manifest(KIND, "ds", None, "f", rundir.Layout(run_dir, 3, 1, "runs")))
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    out = tmp_path / "all.csv"
    with pytest.raises(RunDirError, match="appears twice"):
        merge([run_dir, other], out)
    assert merge([run_dir], out) == 3
    rows, cond = load_measured(out)
    assert len(rows) == 3 and cond["cancel_after_s"] == 20.0
    cond2 = json.loads((other / "conditions.json").read_text()) | {"cancel_after_s": 45.0}
    rundir.write_json(other / "conditions.json", cond2)
    with pytest.raises(RunDirError, match=r"conditions differ .*\(cancel_after_s\)"):
        merge([run_dir, other], out)


def test_conditions_record_the_hosts_socket_buffers():
    from runner.measure.run import host_sysctls

    got = host_sysctls()
    if not __import__("os").path.exists("/proc/sys/net/ipv4/tcp_wmem"):
        pytest.skip("no /proc/sys")
    assert len(got["net.ipv4.tcp_wmem"].split()) == 3


CROSS = SHIPPED.with_name("qemu-crosscheck.csv")


@pytest.mark.skipif(not CROSS.is_file(), reason="tests/data/qemu-crosscheck.csv not shipped")
def test_this_harness_measures_what_the_training_harness_measured():
    """Three training points measured again (sweeps/qemu/crosscheck.toml): same pages, same bytes,
    same time for the bulk and the shaped copy; the many-rounds point within QEMU's own spread."""
    import csv

    with open(CROSS.with_name("qemu-train.csv")) as fh:
        train = {r["run_id"]: r for r in csv.DictReader(fh)}
    rows, _ = load_measured(CROSS)
    by_point = {}
    for r in rows:
        by_point.setdefault(int(r["point_id"]), []).append(r)
    pairs = [(0, ["A_m512_f384_bw64_r1", "A_m512_f384_bw64_r2", "A_m512_f384_bw64_r3"], 0.02),
             (1, ["C_bw32_rho0.9_r1", "C_bw32_rho0.9_r2", "C_bw32_rho0.9_r3"], 0.15),
             (2, ["G_link32_nocap_m512_f384"], 0.02)]
    for point, ids, tol in pairs:
        ref_t = sorted(float(train[i]["total_time_ms"]) / 1e3 for i in ids)
        for r in by_point[point]:
            t = float(r["total_time_s"])
            assert ref_t[0] * (1 - tol) <= t <= ref_t[-1] * (1 + tol), (point, t, ref_t)
            if point != 1:   # a bulk copy: the same pages, to a few firmware pages
                assert abs(int(r["ram_normal_pages"]) - int(train[ids[0]]["ram_normal_pages"])) <= 8
                assert float(r["memory_transferred_bytes"]) == pytest.approx(
                    float(train[ids[0]]["ram_transferred_bytes"]), rel=1e-3)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="tests/data/qemu-measured.csv not shipped")
def test_links_shaped_below_the_cap_are_predicted():
    """Issue 11: on links shaped below QEMU's cap the model over-predicted total time, single
    passes by 8-15 % and sequential writers near 0.9 x the link by up to 48 % both ways. QEMU's
    times are the sender's, which runs most of its socket buffer ahead of the wire. Train-part
    shaped runs: single passes within 3 %, all within 8 % (the 400 Mbit/s ones lose a few % to
    the host's CPU, which the model does not know)."""
    checks = [c for c in check_qemu(SHIPPED) if c.regime.startswith("shaped") and c.split == "train"]
    assert len(checks) >= 9
    for c in checks:
        assert c.converged and c.predicted_converged, c.run_id
        assert c.time_error <= 0.08, (c.run_id, c.total_time_s, c.predicted_total_time_s)
        assert c.bytes_error <= 0.08, c.run_id
    single = [c for c in checks if c.ram_bytes < 34e6]
    assert len(single) >= 3
    assert all(c.time_error <= 0.03 for c in single), [(c.run_id, c.time_error) for c in single]
