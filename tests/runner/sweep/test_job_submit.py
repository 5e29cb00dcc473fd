"""Heavy tier: a real two-raylet cluster started with ``ray start``, a sweep submitted with
``ray job submit -- migsim sweep ...``, and its Parquet read back.

The cluster lives on loopback with its own ports and temp dir; teardown stops exactly the
processes it started (found by that temp dir), never ``ray stop`` (which would stop every Ray on
the machine).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

import runner

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

SPEC = """
name = "job-submit"
seed = 13
memory = { loguniform = ["1GiB", "64GiB"] }
repeat = 50
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "xen"]
link = ["1GbE", "10GbE"]
dirty_rate = { logspace = ["5MB/s", "2GB/s"], num = 10 }
"""
N = 50 * 3 * 2 * 10
OBJECT_STORE = str(80 * 2**20)


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def ray_env() -> dict[str, str]:
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    return env


def ours(temp_dir: str) -> list[psutil.Process]:
    """Processes of the test cluster: their command line names its temp dir."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if temp_dir in " ".join(p.info["cmdline"] or []):
                out.append(p)
        except psutil.Error:
            pass
    return out


def stop_cluster(temp_dir: str) -> None:
    procs = ours(temp_dir)
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture
def ray_started_cluster():
    """Head + one worker raylet via ``ray start`` (1 CPU and a small object store each)."""
    ray = shutil.which("ray")
    assert ray, "the ray CLI is not on PATH"
    temp_dir = f"/tmp/rmt-{secrets.token_hex(3)}"
    gcs, dash, client, agent_h, agent_g, rtenv_h, metrics_h, nm_h, om_h = free_ports(9)
    agent_w, agent_gw, rtenv_w, metrics_w, nm_w, om_w = free_ports(6)
    common = ["--num-cpus=1", f"--object-store-memory={OBJECT_STORE}", "--disable-usage-stats",
              "--node-ip-address=127.0.0.1"]
    head = [ray, "start", "--head", f"--port={gcs}", f"--temp-dir={temp_dir}",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
            f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent_h}",
            f"--dashboard-agent-grpc-port={agent_g}", f"--runtime-env-agent-port={rtenv_h}",
            f"--metrics-export-port={metrics_h}", f"--node-manager-port={nm_h}",
            f"--object-manager-port={om_h}", "--min-worker-port=0", "--max-worker-port=0"] + common
    worker = [ray, "start", f"--address=127.0.0.1:{gcs}", f"--temp-dir={temp_dir}",
              f"--dashboard-agent-listen-port={agent_w}", f"--dashboard-agent-grpc-port={agent_gw}",
              f"--runtime-env-agent-port={rtenv_w}", f"--metrics-export-port={metrics_w}",
              f"--node-manager-port={nm_w}", f"--object-manager-port={om_w}",
              "--min-worker-port=0", "--max-worker-port=0"] + common
    try:
        for cmd in (head, worker):
            res = subprocess.run(cmd, env=ray_env(), capture_output=True, text=True, timeout=180)
            assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout}\n{res.stderr}"
        yield {"gcs": f"127.0.0.1:{gcs}", "dashboard": f"http://127.0.0.1:{dash}",
               "temp_dir": temp_dir}
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_job_submit_runs_a_sweep_on_two_raylets(ray_started_cluster, tmp_path: Path) -> None:
    spec = tmp_path / "job.toml"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    ray = shutil.which("ray")
    cmd = [ray, "job", "submit", "--address", ray_started_cluster["dashboard"], "--",
           "migsim", "sweep", str(spec), "--out", str(out), "--batch-size", "500"]
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=ray_env(), capture_output=True, text=True, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log
    assert "succeeded" in log.lower(), log
    assert f"{N:,} points" in log  # the sweep summary, streamed back from the job
    df = runner.load(out).collect()
    assert df.height == N and df.get_column("point_id").to_list() == list(range(N))
    man = json.loads((out / "run.json").read_text())
    assert man["status"] == "complete"
    assert man["ray"] not in ("embedded", None)  # joined the cluster through RAY_ADDRESS
    nodes = {json.loads(pq.read_metadata(p).metadata[b"migsim"])["node_id"]
             for p in (out / "results").glob("*.parquet")}
    assert len(nodes) == 2, f"parts came from {nodes}"
    assert time.monotonic() - t0 < 600
