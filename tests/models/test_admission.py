"""Admission control: the vCenter cost model, Hyper-V's simultaneous migrations, FIFO queues."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import admission as adm
from models.admission import (
    Admission,
    HostLimits,
    Ledger,
    demand,
    impossible,
    resources,
)
from models.policy import get_profile

VSPHERE = get_profile("vsphere-5.1").limits
HYPERV = get_profile("hyperv-2012").limits


def cluster(link_bps: float, n: int = 4, ds: tuple[str, ...] = ("san",)) -> list[HostLimits]:
    return [HostLimits(f"h{i}", link_bps, ds) for i in range(n)]


def evacuate(limits, hosts, k: int, kind: str = "live", dests=None) -> Admission:
    """Request ``k`` moves off h0 (round-robin over the other hosts; storage moves from its local
    datastore to the SAN)."""
    cap = resources(hosts, limits)
    a = Admission(cap)
    dests = dests or [h.name for h in hosts[1:]]
    for t in range(k):
        dst = "h0" if kind == "storage" else dests[t % len(dests)]
        d = demand(kind, "h0", dst, "san" if kind != "storage" else "local", "san", limits, cap)
        a.request(t, d)
    return a


def test_vsphere_1gbe_fifth_vmotion_waits():
    hosts = cluster(1e9)
    a = evacuate(VSPHERE, hosts, 16)
    assert a.scan() == [0, 1, 2, 3]          # network cost 4 on 1 GbE, a vMotion costs 1
    assert a.queued() == 12
    a.release(0)
    assert a.scan() == [4]                    # the 5th starts when one ends, in FIFO order


def test_vsphere_10gbe_ninth_vmotion_waits():
    hosts = cluster(10e9)
    a = evacuate(VSPHERE, hosts, 16)
    assert a.scan() == list(range(8))         # network cost 8 on 10 GbE (host cost 8 too)
    assert a.queued() == 8


def test_vsphere_third_storage_vmotion_per_host_waits():
    hosts = [HostLimits("h0", 10e9, ("local", "san"))]
    a = evacuate(VSPHERE, hosts, 5, kind="storage")
    assert a.scan() == [0, 1]                 # host cost 8, a Storage vMotion costs 4
    a.release(1)
    assert a.scan() == [2]


def test_vsphere_datastore_limit_eight_storage_vmotions():
    # 16 hosts, each with its own Storage vMotion to the shared datastore: 128 / 16 = 8 at once
    hosts = [HostLimits(f"h{i}", 10e9, (f"l{i}", "san")) for i in range(16)]
    cap = resources(hosts, VSPHERE)
    a = Admission(cap)
    for i in range(16):
        a.request(i, demand("storage", f"h{i}", f"h{i}", f"l{i}", "san", VSPHERE, cap))
    assert a.scan() == list(range(8))


def test_hyperv_third_live_migration_waits():
    hosts = cluster(10e9)
    a = evacuate(HYPERV, hosts, 6)
    assert a.scan() == [0, 1]                 # 2 simultaneous live migrations per host
    a.release(0)
    assert a.scan() == [2]


def test_hyperv_destination_counts_too():
    hosts = cluster(10e9, n=3)
    cap = resources(hosts, HYPERV)
    a = Admission(cap)
    a.request(0, demand("live", "h0", "h2", None, None, HYPERV, cap))
    a.request(1, demand("live", "h1", "h2", None, None, HYPERV, cap))
    a.request(2, demand("live", "h1", "h2", None, None, HYPERV, cap))
    assert a.scan() == [0, 1]                 # h2 has 2 incoming


def test_hyperv_storage_migrations_limited_separately():
    hosts = [HostLimits("h0", 10e9, ("a", "b"))]
    cap = resources(hosts, HYPERV)
    a = Admission(cap)
    for t in range(3):
        a.request(t, demand("storage", "h0", "h0", "a", "b", HYPERV, cap))
    assert a.scan() == [0, 1]


def test_overridden_limit():
    lim = get_profile("hyperv-2012", max_live_migrations=8).limits
    a = evacuate(lim, cluster(10e9, n=9), 20)
    assert len(a.scan()) == 8


def test_cluster_wide_cap():
    hosts = cluster(10e9, n=8)
    cap = resources(hosts, get_profile("qemu").limits, max_concurrent=3)
    a = Admission(cap)
    for t in range(4):
        a.request(t, demand("live", f"h{t}", f"h{t + 4}", None, None, get_profile("qemu").limits, cap))
    assert a.scan() == [0, 1, 2]


def test_no_limits_admits_everything():
    lim = get_profile("qemu").limits
    a = evacuate(lim, cluster(10e9), 50)
    assert len(a.scan()) == 50


def test_fifo_big_request_not_starved():
    """A Storage vMotion (host cost 4) blocked behind vMotions holds the host: later vMotions
    on that host wait behind it, so it starts as soon as the host drains enough."""
    hosts = [HostLimits("h0", 10e9, ("l0", "san")), HostLimits("h1", 10e9, ("san",))]
    cap = resources(hosts, VSPHERE)
    a = Admission(cap)
    for t in range(6):
        a.request(t, demand("live", "h0", "h1", "san", "san", VSPHERE, cap))
    assert a.scan() == list(range(6))          # host cost 6 of 8
    a.request(6, demand("storage", "h0", "h0", "l0", "san", VSPHERE, cap))   # needs 4: waits
    a.request(7, demand("live", "h0", "h1", "san", "san", VSPHERE, cap))     # would fit, but FIFO
    assert a.scan() == []
    a.release(0)
    a.release(1)
    assert a.scan() == [6]                     # the Storage vMotion first


def test_unrelated_request_overtakes_blocked_one():
    """FIFO is per resource: a request blocked on its source does not block moves elsewhere,
    even though they share a datastore with room."""
    hosts = [HostLimits(f"h{i}", 1e9, ("san",)) for i in range(4)]
    cap = resources(hosts, VSPHERE)
    a = Admission(cap)
    for t in range(5):
        a.request(t, demand("live", "h0", "h1", "san", "san", VSPHERE, cap))
    a.request(5, demand("live", "h2", "h3", "san", "san", VSPHERE, cap))
    assert a.scan() == [0, 1, 2, 3, 5]         # the 5th from h0 waits; h2 -> h3 goes


def test_impossible_demand_is_explained():
    lim = get_profile("vsphere-5.1", host_cost=2.0).limits
    hosts = [HostLimits("h0", 10e9, ("a", "b"))]
    cap = resources(hosts, lim)
    d = demand("storage", "h0", "h0", "a", "b", lim, cap)
    why = impossible(d, cap)
    assert "host cost" in why and "h0" in why and "limit is 2" in why
    with pytest.raises(ValueError):
        Admission(cap).request(0, d)


def test_tickets_must_increase():
    cap = resources(cluster(1e9), VSPHERE)
    a = Admission(cap)
    d = demand("live", "h0", "h1", "san", "san", VSPHERE, cap)
    a.request(3, d)
    with pytest.raises(ValueError):
        a.request(2, d)


def test_ledger_checks_limits():
    led = Ledger({("network", "h0"): 1.0})
    led.apply([("request", 0, ((("network", "h0"), 1.0),)), ("start", 0)])
    with pytest.raises(RuntimeError):
        led.apply([("request", 1, ((("network", "h0"), 1.0),)), ("start", 1)])
    led2 = Ledger({("network", "h0"): 4.0})
    led2.apply([("request", 0, ((("network", "h0"), 1.0),)), ("start", 0), ("release", 0)])
    assert led2.stats()["peak"] == {"network:h0": 1.0}


def test_costs_of_each_kind():
    cap = resources([HostLimits("a", 10e9, ("x",)), HostLimits("b", 10e9, ("y",))], VSPHERE)
    live = dict(demand("live", "a", "b", "x", "x", VSPHERE, cap).costs)
    assert live[(adm.NETWORK, "a")] == 1 and live[(adm.NETWORK, "b")] == 1
    assert live[(adm.HOST, "a")] == 1 and live[(adm.DATASTORE, "x")] == 1
    sn = dict(demand("shared-nothing", "a", "b", "x", "y", VSPHERE, cap).costs)
    assert sn[(adm.HOST, "a")] == 4 and sn[(adm.DATASTORE, "x")] == 16 and sn[(adm.DATASTORE, "y")] == 16
    sto = dict(demand("storage", "a", "a", "x", "x", VSPHERE, cap).costs)
    assert (adm.NETWORK, "a") not in sto and sto[(adm.HOST, "a")] == 4


# ---------------------------------------------------------------------------- properties
ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(adm.KINDS),
                         st.booleans()), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(ops, st.sampled_from(["vsphere-5.1", "hyperv-2012"]), st.sampled_from([1e9, 10e9]))
def test_limits_always_hold_and_earliest_waiting_is_served(seq, profile, link):
    lim = get_profile(profile).limits
    hosts = [HostLimits(f"h{i}", link, (f"d{i}", "san")) for i in range(4)]
    cap = resources(hosts, lim)
    a = Admission(cap)
    running: list[int] = []
    t = 0
    for src, dst, kind, release in seq:
        if release and running:
            a.release(running.pop(0))
        else:
            if kind == "storage":
                dst = src
            elif dst == src:
                dst = (src + 1) % 4
            d = demand(kind, f"h{src}", f"h{dst}", "san" if kind == "live" else f"d{src}",
                       "san", lim, cap)
            if impossible(d, cap):
                continue
            a.request(t, d)
            t += 1
        started = a.scan()
        running += started
        for k, used in a.used.items():
            assert used <= cap[k] + 1e-9
        if a.waiting:
            head = a.waiting[0]
            # the earliest waiting request is blocked by real usage, not by the queue
            assert any(a.used[k] + c > cap[k] + 1e-9 for k, c in a.costs[head])


@settings(max_examples=60, deadline=None)
@given(ops)
def test_scan_is_deterministic(seq):
    def play() -> list[list[int]]:
        cap = resources(cluster(1e9), VSPHERE)
        a = Admission(cap)
        out, running, t = [], [], 0
        for src, dst, _kind, release in seq:
            if release and running:
                a.release(running.pop())
            else:
                a.request(t, demand("live", f"h{src}", f"h{(src + 1 + dst) % 4}", "san", "san",
                                    VSPHERE, cap))
                t += 1
            s = a.scan()
            running += s
            out.append(s)
        return out

    assert play() == play()


def test_infinite_limits_are_not_resources():
    cap = resources(cluster(1e9), get_profile("qemu").limits)
    assert cap == {}
    assert math.isinf(get_profile("qemu").limits.host_cost)
