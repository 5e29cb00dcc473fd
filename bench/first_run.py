"""First-run wall times right after an install: an empty kernel cache.

Points ``NUMBA_CACHE_DIR`` at an empty directory (the cache is keyed by the model's source hash,
so this is exactly the state after ``pip install`` or after any edit to ``models/``) and times,
as subprocesses:

- ``migsim migrate`` of one what-if (target ≤ 5 s);
- ``migsim sweep sweeps/quickstart.toml`` (target ≤ 10 s);
- for comparison, compiling every kernel up front (what a first run cost before: it is now done
  by a background process while the first small runs compute with the Python kernels), and the
  same two commands once the cache is warm.

The background compile is switched off for the timed cold commands
(``MIGSIM_BACKGROUND_COMPILE=0``) so that it does not compete with them for the CPU.

Usage::

    python bench/first_run.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIGRATE = ["migrate", "--profile", "vsphere-5.1", "--memory", "16GiB", "--dirty-rate", "200MB/s",
           "--link", "10GbE"]


def run(args: list[str], cache: Path, cwd: Path, background: bool = False) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), RAY_AUTH_MODE="disabled",
               RAY_USAGE_STATS_ENABLED="0", MIGSIM_BACKGROUND_COMPILE="1" if background else "0")
    env.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({res.returncode}): {res.stderr}")
    return dt


def main() -> None:
    quick = str(REPO / "sweeps" / "quickstart.toml")
    with tempfile.TemporaryDirectory(prefix="migsim-first-") as tmp:
        work = Path(tmp)
        cold = work / "cold-cache"
        m_cold = run(["migsim", *MIGRATE], cold, work)
        q_cold = run(["migsim", "sweep", quick, "--out", str(work / "q1"), "--no-progress"], cold,
                     work)
        n_files = len(list(cold.rglob("*.nbi"))) if cold.exists() else 0
        compile_s = run([sys.executable, "-c", "from runner.cli.progress import compile_kernels; "
                                               "compile_kernels()"], cold, work)
        m_warm = run(["migsim", *MIGRATE], cold, work)
        q_warm = run(["migsim", "sweep", quick, "--out", str(work / "q2"), "--no-progress"], cold,
                     work)
    print("first run after an install (empty kernel cache):")
    print(f"  migsim migrate (1 point)        : {m_cold:6.2f} s   (target <= 5 s)")
    print(f"  migsim sweep quickstart (72)    : {q_cold:6.2f} s   (target <= 10 s)")
    print(f"  kernels compiled by those runs  : {n_files} (the Python kernels ran instead)")
    print(f"compiling every kernel up front   : {compile_s:6.2f} s   (now in the background)")
    print("warm cache:")
    print(f"  migsim migrate                  : {m_warm:6.2f} s")
    print(f"  migsim sweep quickstart         : {q_warm:6.2f} s")


if __name__ == "__main__":
    main()
