"""Heavy tier: short real QEMU live migrations end to end through the installed `migsim` command.

Needs qemu-system-x86_64 and gcc (and root + tc for the shaped link); takes about a minute.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time

import psutil
import pytest

from runner.measure.qemu import TC_HANDLE

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None or
                                 shutil.which("gcc") is None, reason="needs QEMU and gcc")]
CAN_SHAPE = os.geteuid() == 0 and shutil.which("tc") is not None

SPEC = """
name = "e2e"
memory = "64MiB"
zero_fraction = 0.5
[[points]]                # a bulk copy with a small working set: converges
wws = "1MiB"
dirty_rate = "500pages/s"
dirty_pattern = "sequential"
max_bandwidth = "64MB/s"
[[points]]                # 12 MiB rewritten at random 20000 pages/s, 100 ms limit: never converges
wws = "12MiB"
dirty_rate = "20000pages/s"
max_bandwidth = "32MB/s"
downtime_limit = "100ms"
"""
SHAPED_POINT = """
[[points]]                # a link shaped to 100 Mbit/s below an absent cap, auto-converge on
wws = "1MiB"
dirty_rate = "500pages/s"
dirty_pattern = "sequential"
link = "100Mbit/s"
max_bandwidth = "10GB/s"
auto_converge = true
"""
MEASURE = """
[measure]
cancel_after = "4s"
"""


def rows_of(path):
    with open(path) as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def qemu_children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True)
                if "qemu-system" in p.name()]
    except psutil.NoSuchProcess:
        return []


def tc_clean() -> bool:
    if not CAN_SHAPE:
        return True
    out = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True).stdout
    return f" {TC_HANDLE}: " not in out


def test_real_migrations_land_in_rows_and_validate_reads_them(run_cli, tmp_path):
    spec = tmp_path / "e2e.toml"
    spec.write_text(SPEC + (SHAPED_POINT if CAN_SHAPE else "") + MEASURE)
    out = tmp_path / "out"
    res = run_cli(["measure", "qemu", spec, "--out", out], timeout=300)
    assert res.returncode == 0, res.stderr
    rows = rows_of(out / "runs.csv")
    assert len(rows) == (3 if CAN_SHAPE else 2)
    assert sorted(p.name for p in (out / "runs").glob("*.parquet")) == \
        [f"part-{i:06d}.parquet" for i in range(len(rows))]
    assert (out / "conditions.json").is_file() and (out / "samples" / "part-000000.json").is_file()

    bulk, stuck = rows[0], rows[1]
    assert bulk["status"] == "completed" and bulk["converged"] == "true"
    assert 0.3 < float(bulk["total_time_s"]) < 10
    assert int(bulk["ram_normal_pages"]) > 5000 and int(bulk["ram_duplicate_pages"]) > 1000
    assert int(bulk["dirty_sync_count"]) >= 2 and bulk["pass_times_ms"].startswith("1:")
    assert float(bulk["measured_dirty_rate_Bps"]) == pytest.approx(500 * 4096, rel=0.1)
    assert float(bulk["max_bandwidth_Bps"]) == 64e6 and float(bulk["downtime_limit_ms"]) == 300
    assert float(bulk["observed_downtime_ms"]) >= 0 and bulk["qemu_version"].startswith(("7", "8", "9"))
    assert float(bulk["loadavg_1m"]) >= 0
    # 500 pages/s over 256 pages since the guest began writing: a sequential writer's phase
    assert 0.0 <= float(bulk["writer_phase"]) < 1.0

    assert stuck["status"] == "failed" and stuck["converged"] == "false"
    assert stuck["writer_phase"] == ""                  # random writes have no phase
    assert stuck["reason"].startswith("cancelled")
    assert 3.0 < float(stuck["total_time_s"]) < 8.0
    assert float(stuck["downtime_limit_ms"]) == 100 and int(stuck["dirty_sync_count"]) > 3

    if CAN_SHAPE:
        shaped = rows[2]
        assert shaped["link_shaped"] == "true" and shaped["status"] == "completed"
        assert shaped["auto_converge"] == "true"
        # the shaped link, not QEMU's 10 GB/s cap, set the pace; QEMU's clock is the sender's,
        # which runs at most its socket send buffer ahead of the wire ...
        rate = 100e6 / 8
        buffer = float(json.loads((out / "conditions.json").read_text())
                       ["sysctl"]["net.ipv4.tcp_wmem"].split()[2])
        sent = float(shaped["memory_transferred_bytes"])
        assert float(shaped["total_time_s"]) >= 0.95 * (sent - buffer) / rate
        # ... and the link stays shaped until the destination resumes: it receives at least 2/3
        # of that buffer after the source's last byte (the harness once lifted the shaping when
        # the source completed, and the buffer arrived in a few ms)
        late_ms = float(shaped["observed_downtime_ms"]) - float(shaped["downtime_ms"])
        assert late_ms >= 0.9 * (2 / 3 * buffer / rate) * 1e3, late_ms
    assert tc_clean()

    res = run_cli(["validate", out], timeout=300)
    assert res.returncode in (0, 1), res.stderr
    assert f"{len(rows)} runs, {len(rows) - 1} converged; verdicts wrong" in res.stdout

    res = run_cli(["measure", "qemu", spec, "--out", out, "--resume"], timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"0 measured, {len(rows)} kept from before" in res.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_the_harness_mid_run_leaves_no_qemu(start_cli, tmp_path, wait_for, sig):
    spec = tmp_path / "kill.toml"
    spec.write_text('memory = "64MiB"\nwws = "12MiB"\ndirty_rate = "20000pages/s"\n'
                    'max_bandwidth = "32MB/s"\ndowntime_limit = "100ms"\n'
                    + ('link = "400Mbit/s"\n' if CAN_SHAPE and sig == signal.SIGTERM else "")
                    + '[measure]\ncancel_after = "60s"\n')
    out = tmp_path / "out"
    proc = start_cli(["measure", "qemu", spec, "--out", out])
    try:
        both = wait_for(lambda: len(qemu_children(proc.pid)) == 2 and qemu_children(proc.pid), 60)
        assert both, "the two QEMUs did not start"
        pids = [p.pid for p in both]
        time.sleep(4)                 # well into the warm-up or the migration
        proc.send_signal(sig)
        proc.wait(timeout=30)
        if sig == signal.SIGTERM:
            assert proc.returncode == 130
            assert "interrupted" in proc.stderr.read()
        gone = wait_for(lambda: not any(psutil.pid_exists(p) and
                                        psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                        for p in pids), 15)
        assert gone, f"QEMU processes left behind: {pids}"
        assert not list((out / "runs").glob("*.parquet"))
        work = list(__import__("pathlib").Path("/tmp").glob(f"migsim-qemu-{proc.pid}-*"))
        if sig == signal.SIGTERM:
            assert tc_clean()
            assert not work                       # removed on the way out
        else:                                     # the next harness removes it
            from runner.measure.harness import clean_stale_work_dirs
            clean_stale_work_dirs(__import__("pathlib").Path("/tmp"))
            assert not any(w.exists() for w in work)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
