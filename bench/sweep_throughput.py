"""Sweep throughput and memory, end to end: ``migsim sweep`` on an embedded Ray.

Runs the same kind of sweep at 1 M and 10 M points (4 profiles × 5 link speeds × 50 VM sizes on a
grid, dirty rate and zero-page share drawn per point, ``repeat`` for the count) as a subprocess
``migsim sweep SPEC --out TMP``, samples the memory of the whole process tree (the driver, the
raylet/GCS and every Ray worker) every 0.2 s with psutil, then reads the Parquet back and checks the
row count. Prints wall time, points/s, and peak RSS (sum over the tree) and peak PSS (proportional
set size: shared pages such as the object store counted once). Targets (issue 3): 10 M points in
≤ 30 s and ≤ 2 GB, and peak memory at 10 M not above that at 1 M by more than noise.

Usage::

    python bench/sweep_throughput.py                 # 1 M then 10 M
    python bench/sweep_throughput.py --points 1000000
    python bench/sweep_throughput.py --keep DIR      # keep the run directories in DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

SPEC = """\
name = "bench-{n}"
description = "throughput benchmark: {n:,} points"
seed = 7
dirty_rate = {{ loguniform = ["1MB/s", "2GB/s"] }}
zero_fraction = {{ uniform = [0.0, 0.5] }}
repeat = {repeat}

[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE", "25Gbps", "40Gbps", "100Gbps"]
memory = {{ logspace = ["1GiB", "512GiB"], num = 50 }}
"""
GRID = 4 * 5 * 50


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants."""

    def __init__(self, pid: int, period_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.period_s = period_s
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_driver_rss = 0
        self.cpu_s: dict[int, float] = {}
        self.stop_event = threading.Event()

    def sample(self) -> None:
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return
        rss = pss = 0
        for p in procs:
            try:
                info = p.memory_full_info()
                t = p.cpu_times()
                self.cpu_s[p.pid] = max(self.cpu_s.get(p.pid, 0.0), t.user + t.system)
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            if p.pid == self.root.pid:
                self.peak_driver_rss = max(self.peak_driver_rss, info.rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            time.sleep(self.period_s)


def run(n: int, workdir: Path, batch_size: int | None) -> dict[str, float]:
    """Run one sweep of ``n`` points; return its figures."""
    repeat = max(1, n // GRID)
    n = repeat * GRID
    spec = workdir / f"bench-{n}.toml"
    spec.write_text(SPEC.format(n=n, repeat=repeat))
    out = workdir / f"bench-{n}"
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    cmd = [shutil.which("migsim") or "migsim", "sweep", str(spec), "--out", str(out), "--force",
           "--no-progress"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = TreeMemory(proc.pid)
    mon.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    mon.stop_event.set()
    mon.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"migsim sweep failed ({proc.returncode}):\n{stderr}")
    import polars as pl
    rows = pl.scan_parquet(str(out / "parts" / "*.parquet")).select(pl.len()).collect().item()
    assert rows == n, (rows, n)
    return {"points": n, "wall_s": wall, "points_per_s": n / wall, "peak_rss": mon.peak_rss,
            "peak_pss": mon.peak_pss, "peak_driver_rss": mon.peak_driver_rss,
            "cpu_s": sum(mon.cpu_s.values()),
            "parquet_bytes": sum(p.stat().st_size for p in (out / "parts").glob("*.parquet")),
            "summary": next((ln for ln in stderr.splitlines() if " points: " in ln), "")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, action="append",
                    help="sweep sizes to run (default: 1,000,000 and 10,000,000)")
    ap.add_argument("--batch-size", type=int, default=None, help="points per Ray task")
    ap.add_argument("--keep", type=Path, default=None, help="keep run directories here")
    args = ap.parse_args()
    sizes = args.points or [1_000_000, 10_000_000]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="migsim-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB, load "
          f"average {os.getloadavg()[0]:.1f}; run directories in {workdir}")
    try:
        for n in sizes:
            r = run(n, workdir, args.batch_size)
            print(f"{r['points']:>12,} points  wall {r['wall_s']:7.1f} s  "
                  f"{r['points_per_s']:>10,.0f} points/s  peak RSS {r['peak_rss'] / 2**30:5.2f} GiB "
                  f"(driver {r['peak_driver_rss'] / 2**30:.2f} GiB)  peak PSS "
                  f"{r['peak_pss'] / 2**30:5.2f} GiB  parquet {r['parquet_bytes'] / 2**20:,.0f} MiB  "
                  f"CPU {r['cpu_s']:.0f} s (load average now {os.getloadavg()[0]:.1f})",
                  flush=True)
            print(f"    {r['summary']}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
