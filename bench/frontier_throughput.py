"""Throughput of ``migsim frontier``: 10,000 boundaries by vectorised bisection.

A frontier over 2 profiles x 50 VM sizes x 100 link speeds (10,000 combinations): the highest dirty
rate that keeps the downtime within 500 ms and completes, searched in 1 MB/s .. 4 GB/s to 0.1 %
(relative), with the non-monotonicity probes on. Prints the wall time of the search (the model's
kernels compiled beforehand, as after any first run), the model calls and points evaluated, and the
outcomes. Run: ``python bench/frontier_throughput.py [--memory N] [--links N] [--probes N]``.
Figures, not assertions. Target (issue 13): 10,000 boundaries in <= 5 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SPEC = """
name = "frontier-bench"
dirty_pattern = "random"
[grid]
profile = ["vsphere-5.1", "hyperv-2012"]
memory = {{ logspace = ["1GiB", "1TiB"], num = {memory} }}
link = {{ logspace = ["1Gbps", "100Gbps"], num = {links} }}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", type=int, default=50)
    ap.add_argument("--links", type=int, default=100)
    ap.add_argument("--probes", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-3)
    args = ap.parse_args()

    import models
    from runner.answers import frontier as fr
    from runner.sweep.spec import load_spec

    models.simulate({"memory_bytes": [2.0**30]})          # compile / load the kernels first
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frontier-bench.toml"
        path.write_text(SPEC.format(memory=args.memory, links=args.links))
        spec = load_spec(path)
        t0 = time.perf_counter()
        req = fr.request(spec, "max:dirty_rate", "downtime_ms <= 500 AND status = 'completed'",
                         tol=args.tol, range_="1MB/s,4GB/s", probes=args.probes)
        result = fr.run(req)
        search_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        fr.write_run(req, result, Path(tmp) / "run")
        write_s = time.perf_counter() - t1
    n = result.n
    print(f"frontier: {n:,} boundaries of max:dirty_rate (tol {args.tol:g}, {args.probes} probes)")
    print(f"  search      {search_s:7.2f} s  ({n / search_s:,.0f} boundaries/s)")
    print(f"  write run   {write_s:7.2f} s")
    print(f"  model calls {result.model_calls}, points {result.model_points:,} "
          f"({result.model_points / search_s:,.0f} points/s), max steps {result.steps.max()}")
    print("  outcomes    " + ", ".join(f"{k} {v:,}" for k, v in result.counts().items()))


if __name__ == "__main__":
    main()
