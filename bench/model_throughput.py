"""Throughput of the vectorised migration model, per profile, against a per-point loop.

Evaluates 1,000,000 random points per profile with ``models.simulate`` (one call, vectorised; the
best of ``--repeat`` calls, as timeit reports, since this machine's timings vary by +-25 % from
run to run) and a sample of the same points one by one (``simulate`` with N = 1, as a scalar loop
would call the model), and prints points/s of both and their ratio, plus the peak RSS of this
process. Run: ``python bench/model_throughput.py [--points N] [--loop-points M] [--repeat R]``.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from models import simulate
from models.policy import PROFILES

GIB = 2.0**30


def random_points(profile: str, n: int, seed: int) -> dict[str, np.ndarray | str]:
    """A spread of realistic what-ifs: 1-256 GiB VMs, 0-1 GB/s dirtying, 1-25 Gbit/s links."""
    rng = np.random.default_rng(seed)
    memory = np.exp(rng.uniform(np.log(1), np.log(256), n)) * GIB
    zero = rng.uniform(0.0, 0.5, n)
    return {
        "profile": profile,
        "memory_bytes": memory,
        "zero_fraction": zero,
        "wws_bytes": memory * (1 - zero) * rng.uniform(0.01, 1.0, n),
        "dirty_rate_Bps": np.exp(rng.uniform(np.log(1e6), np.log(1e9), n)),
        "dirty_pattern": rng.choice(np.array(["random", "sequential"], dtype=object), n),
        "link_bps": rng.choice(np.array([1e9, 10e9, 25e9]), n),
        "nics": rng.integers(1, 3, n).astype(float),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--loop-points", type=int, default=3_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    simulate(random_points("qemu", 100, 0))  # load the compiled kernels once
    print(f"{'profile':<12} {'points':>9} {'vectorised pts/s':>17} {'loop pts/s':>11} {'ratio':>7} "
          f"{'completed':>10} {'wall s':>7}")
    total_n, total_t = 0, 0.0
    for k, profile in enumerate(sorted(PROFILES)):
        cols = random_points(profile, args.points, seed=k)
        dt = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = simulate(cols)
            dt = min(dt, time.perf_counter() - t0)
        m = args.loop_points
        t1 = time.perf_counter()
        for i in range(m):
            simulate({c: (v[i] if isinstance(v, np.ndarray) else v) for c, v in cols.items()})
        loop = m / (time.perf_counter() - t1)
        vec = args.points / dt
        done = float(np.mean(out["status"] == "completed"))
        print(f"{profile:<12} {args.points:>9,} {vec:>17,.0f} {loop:>11,.0f} {vec / loop:>6.0f}x "
              f"{done:>9.1%} {dt:>7.2f}")
        total_n += args.points
        total_t += dt
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"all profiles: {total_n / total_t:,.0f} points/s on one core; peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
