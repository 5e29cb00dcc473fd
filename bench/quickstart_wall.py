"""Wall time of the front door, as a user sees it: ``migsim sweep`` as a subprocess.

Prints, on a warm machine (kernels compiled and cached; run any sweep once first):

- ``sweeps/quickstart.toml`` end to end with ``--executor auto`` (target ≤ 2 s) and with
  ``--executor ray`` (an embedded Ray start and stop), into a fresh directory;
- ``--resume`` of the finished run (target ≤ 1 s);
- the same generated sweep at several sizes with ``--executor local`` and ``ray``: where Ray's
  extra cores start to pay for its start-up (how ``AUTO_LOCAL_MAX_POINTS`` in
  runner/sweep/execute.py was chosen).

Usage::

    python bench/quickstart_wall.py                  # quickstart + sizes 10k, 100k, 1M
    python bench/quickstart_wall.py --sizes 0        # quickstart only
    python bench/quickstart_wall.py --sizes 100000 3000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = """\
name = "wall-{n}"
seed = 7
dirty_rate = {{ loguniform = ["1MB/s", "2GB/s"] }}
repeat = {repeat}
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE", "25Gbps", "40Gbps", "100Gbps"]
memory = {{ logspace = ["1GiB", "512GiB"], num = 50 }}
"""
GRID = 4 * 5 * 50


def env() -> dict[str, str]:
    e = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    e.pop("RAY_ADDRESS", None)
    return e


def timed(args: list[str], cwd: Path) -> float:
    """Wall seconds of ``migsim ARGS`` (raises if it fails)."""
    t0 = time.perf_counter()
    res = subprocess.run(["migsim", *args, "--no-progress"], cwd=cwd, env=env(),
                         capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"migsim {' '.join(args)} failed ({res.returncode}): {res.stderr}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each quickstart figure (best)")
    a = ap.parse_args()
    quick = str(REPO / "sweeps" / "quickstart.toml")
    with tempfile.TemporaryDirectory(prefix="migsim-wall-") as tmp:
        work = Path(tmp)
        auto, ray, resume = [], [], []
        for i in range(a.repeat):
            out = work / f"q{i}"
            auto.append(timed(["sweep", quick, "--out", str(out)], work))
            resume.append(timed(["sweep", quick, "--out", str(out), "--resume"], work))
        ray.append(timed(["sweep", quick, "--out", str(work / "qr"), "--executor", "ray"], work))
        print(f"quickstart (72 points), best of {a.repeat}:")
        print(f"  --executor auto (in-process) : {min(auto):6.2f} s wall   (target <= 2 s)")
        print(f"  --resume of the finished run : {min(resume):6.2f} s wall   (target <= 1 s)")
        print(f"  --executor ray (embedded)    : {min(ray):6.2f} s wall")
        sizes = [n for n in a.sizes if n > 0]
        if sizes:
            print(f"{'points':>10}  {'local s':>8}  {'ray s':>8}  faster")
        for n in sizes:
            repeat = max(1, n // GRID)
            spec = work / f"wall-{n}.toml"
            spec.write_text(SPEC.format(n=n, repeat=repeat))
            local = timed(["sweep", str(spec), "--out", str(work / f"l{n}"), "--executor",
                           "local"], work)
            ray_s = timed(["sweep", str(spec), "--out", str(work / f"r{n}"), "--executor", "ray"],
                          work)
            shutil.rmtree(work / f"l{n}")
            shutil.rmtree(work / f"r{n}")
            print(f"{GRID * repeat:>10,}  {local:8.2f}  {ray_s:8.2f}  "
                  f"{'local' if local <= ray_s else 'ray'}")


if __name__ == "__main__":
    main()
