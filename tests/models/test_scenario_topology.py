"""Datacenter scenarios: racks and uplinks, background traffic and NIOC, shared datastores,
destination capacity, whole-cluster maintenance (issue 14). Expected values are analytic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.migration import simulate
from models.placement import VM, Host, MoveSpec, PlanSpec, expand
from models.scenario import Scenario, run
from models.topology import Network, Nioc, Rack

GIB = 2.0**30
EFF = 1460 / 1538                          # QEMU's default transport: payload share of the line
NOCAP = {"max_bandwidth_Bps": math.inf}    # QEMU without its default 32 MiB/s limit


def vm(name: str, host: str, ds: str | None = "san", **inputs: float) -> VM:
    base = {"memory_bytes": 8 * GIB, "dirty_rate_Bps": 0.0}
    base.update(inputs)
    return VM(name, "g", host, ds, False, "mirror", tuple(sorted(base.items())))


def make(hosts, vms, plan, network=None, profile="qemu", overrides=NOCAP) -> Scenario:
    moves, stages = expand(hosts, vms, plan)
    return Scenario("t", profile, tuple(hosts), tuple(vms), moves, stages,
                    tuple(sorted(overrides.items())), math.inf, network)


def two_racks(uplink_bps: float) -> Scenario:
    hosts = [Host(n, 10e9, 1, "net", ("san",), rack=n[0]) for n in ("a1", "a2", "b1", "b2")]
    vms = [vm("x", "a1"), vm("y", "a2")]
    plan = PlanSpec(moves=(MoveSpec("x", "b1"), MoveSpec("y", "b2")))
    return make(hosts, vms, plan, Network(racks=(Rack("a", uplink_bps), Rack("b", uplink_bps))))


def alone_on(link_bps: float) -> float:
    one = simulate({"memory_bytes": np.array([8 * GIB]), "dirty_rate_Bps": np.array([0.0]),
                    "link_bps": np.array([link_bps]), "profile": np.array(["qemu"], dtype=object),
                    "max_bandwidth_Bps": np.array([math.inf])})
    return float(one["total_time_s"][0])


# ---------------------------------------------------------------------------- racks and uplinks
def test_two_racks_uplink_not_the_nics_is_the_bottleneck():
    """Two 10 GbE streams from rack a to rack b over a 10 Gb/s uplink: 5 Gb/s each (line), so each
    migration takes what one migration alone takes on a 5 Gb/s link."""
    r = run(two_racks(10e9))
    assert np.all(r.rows["status"] == "completed")
    assert r.rows["mean_share_Bps"] == pytest.approx([5e9 / 8 * EFF] * 2, rel=1e-9)
    assert r.summary["makespan_s"] == pytest.approx(alone_on(5e9), rel=1e-9)
    assert r.summary["busiest_link"] in ("up:a", "down:b")
    assert r.summary["peak_link_utilisation"] == pytest.approx(1.0, rel=1e-9)
    # the host NICs ran at half their capacity
    assert r.host_stats[0]["peak_egress_Bps"] == pytest.approx(5e9 / 8, rel=1e-9)
    # an uplink as fast as both NICs is no bottleneck: each runs at its NIC's 10 Gb/s
    fast = run(two_racks(20e9))
    assert fast.summary["makespan_s"] == pytest.approx(alone_on(10e9), rel=1e-9)


def test_move_inside_a_rack_does_not_cross_the_uplink():
    hosts = [Host(n, 10e9, 1, "net", ("san",), rack=n[0]) for n in ("a1", "a2", "b1")]
    net = Network(racks=(Rack("a", 1e9), Rack("b", 1e9)))
    r = run(make(hosts, [vm("x", "a1")], PlanSpec(moves=(MoveSpec("x", "a2"),)), net))
    assert r.rows["mean_share_Bps"][0] == pytest.approx(10e9 / 8 * EFF, rel=1e-9)
    assert all(x["bytes"] == 0 for x in r.links)


# ---------------------------------------------------------------------------- background, NIOC
def one_move(background_bps: float, nioc: Nioc | None = None) -> Scenario:
    hosts = [Host("a", 10e9, 1, "net", ("san",), background_bps=background_bps),
             Host("b", 10e9, 1, "net", ("san",))]
    return make(hosts, [vm("x", "a")], PlanSpec(moves=(MoveSpec("x", "b"),)), Network(nioc=nioc))


@pytest.mark.parametrize("bg, share", [(2e9, 8e9), (6e9, 5e9), (20e9, 5e9)])
def test_background_traffic_takes_its_max_min_share(bg, share):
    """One migration stream and background traffic of rate bg on a 10 Gb/s NIC: max-min gives the
    background min(bg, 5 Gb/s) and the stream the rest."""
    r = run(one_move(bg))
    assert r.rows["mean_share_Bps"][0] == pytest.approx(share / 8 * EFF, rel=1e-9)


@pytest.mark.parametrize("mig, vm_shares", [(50.0, 100.0), (100.0, 100.0), (25.0, 100.0)])
def test_nioc_shares_split_a_saturated_nic_in_their_ratio(mig, vm_shares):
    r = run(one_move(20e9, Nioc(mig, vm_shares)))
    got = r.rows["mean_share_Bps"][0] / EFF * 8          # line bit/s of the vMotion class
    assert got == pytest.approx(10e9 * mig / (mig + vm_shares), rel=1e-9)
    assert got / (10e9 - got) == pytest.approx(mig / vm_shares, rel=1e-9)


def test_nioc_leaves_migrations_what_light_background_does_not_use_and_applies_the_limit():
    r = run(one_move(1e9, Nioc(50.0, 100.0)))               # VM class wants less than its share
    assert r.rows["mean_share_Bps"][0] * 8 / EFF == pytest.approx(9e9, rel=1e-9)
    lim = run(one_move(1e9, Nioc(50.0, 100.0, migration_limit_bps=3e9)))
    assert lim.rows["mean_share_Bps"][0] * 8 / EFF == pytest.approx(3e9, rel=1e-9)


# ---------------------------------------------------------------------------- datastores
def storage_vmotions(n: int, throughput_Bps: float | None) -> Scenario:
    ds = ("src", "d1", "d2")
    hosts = [Host("h", 10e9, 1, "net", ds)]
    vms = [vm(f"v{j}", "h", "src", disk_bytes=20 * GIB) for j in range(n)]
    plan = PlanSpec(moves=tuple(MoveSpec(f"v{j}", None, f"d{j + 1}") for j in range(n)))
    net = Network(datastore_Bps=(("src", throughput_Bps),)) if throughput_Bps else None
    return make(hosts, vms, plan, net, profile="vsphere-5.1", overrides={})


def test_datastore_shared_by_two_storage_vmotions_halves_each_rate():
    T = 50e6
    one, two = run(storage_vmotions(1, T)), run(storage_vmotions(2, T))
    assert np.all(two.rows["status"] == "completed")
    assert two.summary["peak_concurrency"] == 2
    bytes_ = one.rows["storage_transferred_bytes"][0]
    assert one.rows["storage_s"][0] == pytest.approx(bytes_ / T, rel=1e-9)
    assert two.rows["storage_s"] == pytest.approx([2 * bytes_ / T] * 2, rel=1e-9)
    free = run(storage_vmotions(2, None))                    # no throughput: each at its own rate
    assert free.rows["storage_s"][0] < one.rows["storage_s"][0]
    assert free.rows["storage_s"][0] == free.rows["storage_s"][1]


# ---------------------------------------------------------------------------- capacity
def capacity_plan(placement: str) -> Scenario:
    hosts = [Host("h0", 10e9, 1, "net", ("san",)),
             Host("h1", 10e9, 1, "net", ("san",), memory_capacity_bytes=32 * GIB,
                  memory_used_bytes=16 * GIB),
             Host("h2", 10e9, 1, "net", ("san",), memory_capacity_bytes=32 * GIB,
                  memory_used_bytes=24 * GIB)]
    vms = [vm(f"v{j}", "h0") for j in range(4)]
    return make(hosts, vms, PlanSpec(evacuate=("h0",), to=("h1", "h2"), placement=placement),
                profile="vsphere-5.1", overrides={})


@pytest.mark.parametrize("placement", ["least-loaded", "round-robin"])
def test_evacuation_that_would_overcommit_is_placed_elsewhere_or_refused(placement):
    scn = capacity_plan(placement)
    r = run(scn)
    st = r.rows["status"]
    assert (st == "completed").sum() == 3 and (st == "rejected").sum() == 1
    refused = np.flatnonzero(st == "rejected")[0]
    assert "no destination has room for v3" in r.rows["reason"][refused]
    placed = {h: 0.0 for h in ("h1", "h2")}
    for d, s in zip(r.rows["destination"], st):
        if s == "completed":
            placed[d] += 8 * GIB
    assert placed["h1"] + 16 * GIB <= 32 * GIB and placed["h2"] + 24 * GIB <= 32 * GIB
    assert r.host_stats[0]["refused_moves"] == 1
    # overcommit 1.5 makes room for all four
    moves, _ = expand(scn.hosts, scn.vms, PlanSpec(evacuate=("h0",), to=("h1", "h2"),
                                                   placement=placement, memory_overcommit=1.5))
    assert not any(m.refused for m in moves)


def test_explicit_move_to_a_full_host_is_refused_with_the_reason():
    hosts = [Host("h0", 10e9, 1, "net", ("san",)),
             Host("h1", 10e9, 1, "net", ("san",), memory_capacity_bytes=8 * GIB, cpus=1)]
    scn = make(hosts, [vm("v", "h0", vcpus=4.0)], PlanSpec(moves=(MoveSpec("v", "h1"),),
                                                        vcpu_ratio=2.0))
    r = run(scn)
    assert r.rows["status"][0] == "rejected"
    assert "h1 has no room for v" in r.rows["reason"][0]


# ---------------------------------------------------------------------------- maintenance
def maintenance(after: str, unit: str = "host", hold: float = 600.0, n: int = 4) -> Scenario:
    hosts = [Host(f"h{i}", 10e9, 1, "net", ("san",), rack="r0" if i < 2 else "r1")
             for i in range(4)]
    vms = [vm(f"v{i}{j}", f"h{i}", memory_bytes=2 * GIB) for i in range(4) for j in range(2)]
    plan = PlanSpec(evacuate=tuple(f"h{i}" for i in range(n)), maintenance_s=hold, after=after, unit=unit,
                    placement="least-loaded")
    net = Network(racks=(Rack("r0"), Rack("r1")))
    return make(hosts, vms, plan, net, profile="vsphere-5.1", overrides={})


def test_rolling_maintenance_evacuates_holds_returns_then_next_host():
    scn = maintenance("return")
    r = run(scn)
    assert np.all(r.rows["status"] == "completed") and len(scn.moves) == 16
    hs = r.host_stats
    for k, h in enumerate(hs):
        assert h["evacuated_s"] > h["evacuation_start_s"]
        assert h["maintenance_end_s"] == pytest.approx(h["evacuated_s"] + 600.0)
        assert h["plan_done_s"] > h["maintenance_end_s"]
        if k:
            assert h["evacuation_start_s"] == hs[k - 1]["plan_done_s"]
    assert r.summary["maintenance_window_s"] == pytest.approx(
        hs[-1]["plan_done_s"] - hs[0]["evacuation_start_s"])
    # every VM ends on its own host again
    final = {}
    for v, d in zip(r.rows["vm"], r.rows["destination"]):
        final[v] = d
    assert all(final[v] == f"h{v[1]}" for v in final)


def test_rack_at_a_time_and_rebalance():
    r = run(maintenance("rebalance", unit="rack", hold=60.0))
    hs = r.host_stats
    assert hs[0]["evacuation_start_s"] == hs[1]["evacuation_start_s"]     # one rack at once
    assert hs[2]["evacuation_start_s"] == hs[0]["plan_done_s"]
    assert np.all(r.rows["status"] == "completed")
    stay = run(maintenance("stay", n=3))        # the VMs stay; hosts still to patch take none
    assert all(h["plan_done_s"] == pytest.approx(h["evacuated_s"] + 600.0)
               for h in stay.host_stats[:3])
    src, dst = stay.rows["source"], stay.rows["destination"]
    for k in range(3):               # never onto a host still to be patched
        assert not set(dst[src == f"h{k}"]) & {f"h{j}" for j in range(k, 3)}


def test_bad_maintenance_fields_name_the_field():
    from models.errors import ParameterError
    scn = maintenance("return")
    with pytest.raises(ParameterError, match="plan.after"):
        expand(scn.hosts, scn.vms, PlanSpec(evacuate=("h0",), maintenance_s=1.0, after="back"))
    with pytest.raises(ParameterError, match="plan.memory_overcommit"):
        expand(scn.hosts, scn.vms, PlanSpec(evacuate=("h0",), memory_overcommit=0.0))


def test_spine_and_wan_links_on_the_path():
    from models.topology import Wan
    hosts = [Host(n, 10e9, 1, "net", ("san",), rack=n[0]) for n in ("a1", "a2", "b1", "b2", "c1")]
    vms = [vm("x", "a1"), vm("y", "a2"), vm("z", "a1")]
    net = Network(racks=(Rack("a"), Rack("b"), Rack("c", site="dr")),
                  spine_bps=(("default", 8e9),), wan=(Wan(("default", "dr"), 1e9, 0.02),))
    # x and y cross the 8 Gb/s spine together: 4 Gb/s each; z crosses the 1 Gb/s WAN to site dr
    plan = PlanSpec(moves=(MoveSpec("x", "b1"), MoveSpec("y", "b2"), MoveSpec("z", "c1")))
    r = run(make(hosts, vms, plan, net))
    share = r.rows["mean_share_Bps"] * 8 / EFF
    assert share[:2] == pytest.approx([4e9, 4e9], rel=1e-9)
    assert share[2] == pytest.approx(1e9, rel=1e-9)
    assert r.rows["rtt_ms"][2] == pytest.approx(0.5 + 20.0) and r.rows["rtt_ms"][0] == 0.5
    names = {x["link"]: x for x in r.links}
    assert names["spine:default"]["peak_Bps"] == pytest.approx(1e9, rel=1e-9)
    assert names["wan:default>dr"]["peak_Bps"] == pytest.approx(1e9 / 8, rel=1e-9)
