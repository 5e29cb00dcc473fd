"""Scenario engine throughput: in-process at 1,000 VMs, and in-process vs Ray actors at 64 VMs.

Cases (vSphere 5.1, 10 GbE, shared SAN, VM memory 4-16 GiB, dirty rates 5-80 MB/s drawn per VM):

1. ``evacuate-1000``: 100 hosts, 1,000 VMs (10 per host). One host's VMs are spread over the rest,
   then a rolling evacuation of 10 hosts (each starts when the previous is empty), placement
   least-loaded — the issue's scenario; ~120 migrations among 1,000 VMs.
2. ``spread-1000``: the same 100 hosts with all 1,000 VMs migrating: one host holding 1,000 VMs is
   evacuated over the other 99 (8 vMotions at a time from the source, the FIFO queue 992 deep).
3. ``cluster-64``: 16 hosts, 64 VMs; 4 hosts of 16 VMs evacuated at once onto the other 12, run
   in-process and on Ray actors (16 host actors + 4 stream actors on an embedded Ray, or the
   cluster given by ``--address``); the actor pool is started once (timed separately) and the
   scenario run warm.

4. ``datacenter-1000`` (issue 14): 1,000 hosts in 50 racks of 20 (10 GbE NICs, uplinks 4:1
   oversubscribed, 2 Gb/s of VM traffic on every NIC under NIOC 50:100, 512 GiB hosts), 20,000 VMs;
   rolling maintenance of a 64-host cluster (evacuate a host, 30 min patch, VMs back, next host):
   2,560 migrations over 4 racks. Target: ≤ 10 s in-process, spec build included.
5. ``datacenter-1000`` on Ray actors (with ``--dc-actors``; 8 host actors, the stream actors;
   long): identical rows.

For each: wall time, engine instants (events) and events/s, and the peak RSS of the process; for
the actors the pool start-up and the actor/in-process wall-time ratio. Targets (issue 4): case 1 ≤
5 s in-process; actors within 10x of in-process on case 3. Also checks that the actors give the
in-process rows.

Usage::

    python bench/scenario_throughput.py                  # everything (embedded Ray for case 3)
    python bench/scenario_throughput.py --no-actors      # in-process only
    python bench/scenario_throughput.py --address HOST:PORT
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np

from models.scenario import Engine
from runner.scenario.spec import parse_scenario

VMS = """
[[vms]]
name = "vm"
count = {count}
host = "{host}"
memory = {{ choice = ["4GiB", "8GiB", "16GiB"] }}
wws = "1GiB"
dirty_rate = {{ uniform = ["5MB/s", "80MB/s"] }}
"""

HEAD = """
kind = "scenario"
name = "{name}"
profile = "vsphere-5.1"
seed = 4
[[hosts]]
name = "h"
count = {hosts}
link = "10GbE"
nics = 1
subnet = "prod"
datastores = ["san"]
"""


def spec_evacuate_1000() -> str:
    hosts = [f"h-{i}" for i in range(1, 12)]
    return (HEAD.format(name="evacuate-1000", hosts=100)
            + VMS.format(count=1000, host="h")          # spread: 10 per host
            + "[plan]\nevacuate = [" + ", ".join(f'"{h}"' for h in hosts) + "]\n"
            + 'rolling = true\nplacement = "least-loaded"\n')


def spec_spread_1000() -> str:
    return (HEAD.format(name="spread-1000", hosts=100)
            + VMS.format(count=1000, host="h-1")
            + '[plan]\nevacuate = "h-1"\nplacement = "least-loaded"\n')


def spec_datacenter_1000() -> str:
    cluster = ", ".join(f'"dc-{i}"' for i in range(1, 65))
    return f"""
kind = "scenario"
name = "datacenter-1000"
profile = "vsphere-5.1"
seed = 14
[[hosts]]
name = "dc"
count = 1000
rack_size = 20
link = "10GbE"
datastores = ["san"]
memory = "512GiB"
background = "2Gbps"
[network]
oversubscription = 4
nioc = true
spine = "400Gbps"
[[vms]]
name = "vm"
count = 20000
host = "dc"
memory = {{ choice = ["4GiB", "8GiB", "16GiB"] }}
wws = "1GiB"
dirty_rate = {{ uniform = ["5MB/s", "80MB/s"] }}
[plan]
evacuate = [{cluster}]
to = [{cluster}]
maintenance = "30min"
after = "return"
placement = "least-loaded"
"""


def peak_rss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def spec_cluster_64() -> str:
    text = HEAD.format(name="cluster-64", hosts=16)
    for h in range(1, 5):
        text += VMS.format(count=16, host=f"h-{h}").replace('name = "vm"', f'name = "vm{h}"')
    return text + '[plan]\nevacuate = ["h-1", "h-2", "h-3", "h-4"]\nrolling = false\n' \
                  'placement = "round-robin"\n'


#: CPU time of this process for the best run of :func:`timed` (the machine is shared: wall time
#: grows with other users' load, CPU time much less).
LAST_CPU = [0.0]


def timed(scn, backend=None, repeat: int = 1):
    best, res = float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = Engine(scn, backend).run(scn.stages)
        wall = time.perf_counter() - t0
        if wall < best:
            best, LAST_CPU[0] = wall, time.process_time() - c0
    return best, res


def report(label: str, scn, wall: float, res) -> None:
    s = res.summary
    print(f"{label:<28} {len(scn.hosts):>5} hosts {len(scn.vms):>6} VMs {s['migrations']:>6} moves  "
          f"wall {wall:7.3f} s  events {s['events']:>7,}  {s['events'] / wall:>9,.0f} events/s  "
          f"makespan {s['makespan_s']:8.0f} s  peak {s['peak_concurrency']:>3}  "
          f"done {s['completed']}/{s['migrations']}  cpu {LAST_CPU[0]:.2f} s  "
          f"peak RSS {peak_rss_mib():,.0f} MiB")


def _eq(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_eq, a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def same(a, b) -> bool:
    return all(np.array_equal(a.rows[k], b.rows[k], equal_nan=a.rows[k].dtype.kind == "f")
               for k in a.rows) and _eq(a.summary, b.summary) and _eq(a.host_stats, b.host_stats)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", help="Ray cluster for the actor case (default: embedded Ray)")
    ap.add_argument("--no-actors", action="store_true", help="skip the Ray actor case")
    ap.add_argument("--repeat", type=int, default=3, help="runs per in-process case (best kept)")
    ap.add_argument("--stream-actors", type=int, default=4)
    ap.add_argument("--only-datacenter", action="store_true", help="case 4 only")
    ap.add_argument("--dc-actors", action="store_true",
                    help="also run case 4 on Ray actors and compare the rows (slow)")
    args = ap.parse_args()

    # warm up imports and numba's compiled kernels (cached on disk after the first run)
    warm = parse_scenario(spec_cluster_64()).scenario(0)
    Engine(warm).run(warm.stages)

    print("in-process engine")
    ok = True
    t0 = time.perf_counter()
    dc = parse_scenario(spec_datacenter_1000(), check_points=False).scenario(0)
    build = time.perf_counter() - t0
    wall, dc_res = timed(dc, repeat=1)
    report(dc.name, dc, wall, dc_res)
    links = sum(1 for x in dc_res.links if x["bytes"] > 0)
    print(f"{'':<28} spec parse + placement {build:.2f} s; total {build + wall:.2f} s "
          f"(target <= 10 s: {'met' if build + wall <= 10 else 'MISSED'}); maintenance window "
          f"{dc_res.summary['maintenance_window_s'] / 3600:.2f} h; {links} uplinks/spines used, "
          f"busiest {dc_res.summary['busiest_link']} at "
          f"{dc_res.summary['peak_link_utilisation']:.0%}")
    ok &= build + wall <= 10
    if args.only_datacenter and not args.dc_actors:
        return 0 if ok else 1
    for make in () if args.only_datacenter else (spec_evacuate_1000, spec_spread_1000,
                                                 spec_cluster_64):
        t0 = time.perf_counter()
        scn = parse_scenario(make()).scenario(0)
        build = time.perf_counter() - t0
        wall, res = timed(scn, repeat=args.repeat)
        report(scn.name, scn, wall, res)
        print(f"{'':<28} (spec parse + plan expansion {build:.3f} s)")
        if scn.name == "evacuate-1000":
            target = wall <= 5.0
            ok &= target
            print(f"{'':<28} target <= 5 s in-process: {'met' if target else 'MISSED'}")
        if scn.name == "cluster-64":
            local_wall, local_res = wall, res
            small = scn
    if args.no_actors:
        return 0 if ok else 1
    if args.only_datacenter:
        small = None

    import ray

    from runner.scenario.actors import ActorPool

    print("\nRay actors (coordinator in this process)")
    t0 = time.perf_counter()
    if args.address:
        ray.init(address=args.address, logging_level="ERROR", log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False, object_store_memory=256 * 2**20)   # a private instance
    t_ray = time.perf_counter() - t0
    pool = ActorPool(host_actors=64, stream_actors=args.stream_actors)
    try:
        if args.dc_actors:
            dc_pool = ActorPool(host_actors=8, stream_actors=args.stream_actors)
            dc_pool.ensure(len(dc.hosts))
            t0 = time.perf_counter()
            try:
                res_dc = Engine(dc, dc_pool.backend()).run(dc.stages)
            finally:
                dc_pool.shutdown()
            wall_dc = time.perf_counter() - t0
            report("datacenter-1000 (actors)", dc, wall_dc, res_dc)
            print(f"{'':<28} rows identical to in-process: {same(dc_res, res_dc)}")
            ok &= same(dc_res, res_dc)
        if small is None:
            return 0 if ok else 1
        t0 = time.perf_counter()
        pool.ensure(len(small.hosts))
        t_pool = time.perf_counter() - t0
        print(f"ray.init {t_ray:.2f} s; {len(pool.hosts)} host actors + {len(pool.streams)} stream "
              f"actors started in {t_pool:.2f} s on {len(pool.nodes())} node(s)")
        wall_a, res_a = timed(small, pool.backend(), repeat=args.repeat)
        report("cluster-64 (actors, warm)", small, wall_a, res_a)
        identical = same(local_res, res_a)
        ratio = wall_a / local_wall
        print(f"{'':<28} actor / in-process wall time: {ratio:.1f}x (target <= 10x: "
              f"{'met' if ratio <= 10 else 'MISSED'}); with pool start-up: "
              f"{(wall_a + t_pool) / local_wall:.0f}x")
        print(f"{'':<28} rows identical to in-process: {identical}")
        ok &= identical and ratio <= 10
    finally:
        pool.shutdown()
        ray.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
