"""The scenario engine: queues, shares, divergence under contention, subnets, plans, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import precopy
from models.errors import ParameterError
from models.migration import simulate
from models.placement import VM, Host, MoveSpec, PlanSpec, expand
from models.scenario import Engine, LocalBackend, Scenario, StreamSet, run

GIB = 2.0**30


def vm(name: str, host: str, ds: str | None = "san", local: bool = False, group: str = "g",
       **inputs: float) -> VM:
    defaults = {"memory_bytes": 8 * GIB, "dirty_rate_Bps": 20e6}
    defaults.update(inputs)
    return VM(name, group, host, ds, local, "mirror", tuple(sorted(defaults.items())))


def scenario(profile: str = "vsphere-5.1", n_vms: int = 16, link: float = 10e9, n_hosts: int = 4,
             plan: PlanSpec | None = None, subnets: tuple[str, ...] | None = None,
             overrides: dict | None = None, max_concurrent: float = math.inf,
             datastores: tuple[str, ...] = ("san",), **inputs: float) -> Scenario:
    subnets = subnets or ("net",) * n_hosts
    hosts = tuple(Host(f"h{i}", link, 1, subnets[i], datastores) for i in range(n_hosts))
    vms = tuple(vm(f"vm-{j + 1}", "h0", datastores[0] if datastores else None, **inputs)
                for j in range(n_vms))
    moves, stages = expand(hosts, vms, plan or PlanSpec(evacuate=("h0",)))
    return Scenario("t", profile, hosts, vms, moves, stages, tuple(sorted((overrides or {}).items())),
                    max_concurrent)


def running_at(r, t: float) -> int:
    s, e = r.rows["start_s"], r.rows["end_s"]
    return int(((s <= t) & (e > t) & (r.rows["status"] != "rejected")).sum())


# ---------------------------------------------------------------------------- one VM = the model
@pytest.mark.parametrize("profile", ["vsphere-5.1", "hyperv-2012", "xen"])
def test_single_vm_matches_the_single_migration_model(profile):
    scn = scenario(profile, n_vms=1, dirty_rate_Bps=50e6)
    r = run(scn)
    one = simulate({"memory_bytes": np.array([8 * GIB]), "dirty_rate_Bps": np.array([50e6]),
                    "link_bps": np.array([10e9]), "profile": np.array([profile], dtype=object)})
    for col in ("total_time_s", "downtime_ms", "transferred_bytes", "precopy_rounds", "status"):
        a, b = r.rows[col][0], one[col][0]
        if isinstance(a, (str, np.integer, int)):
            assert a == b, col
        else:
            assert a == pytest.approx(b, rel=1e-12), col
    assert r.rows["end_s"][0] - r.rows["start_s"][0] == pytest.approx(r.rows["total_time_s"][0])


def test_single_qemu_vm_close_to_the_model():
    # QEMU's 100 ms rate-limiter windows are smoothed by the fluid engine: close, not equal
    scn = scenario("qemu", n_vms=1, dirty_rate_Bps=50e6)
    r = run(scn)
    one = simulate({"memory_bytes": np.array([8 * GIB]), "dirty_rate_Bps": np.array([50e6]),
                    "link_bps": np.array([10e9]), "profile": np.array(["qemu"], dtype=object)})
    assert r.rows["total_time_s"][0] == pytest.approx(one["total_time_s"][0], rel=0.01)


# ---------------------------------------------------------------------------- admission in time
def test_vsphere_fifth_vmotion_on_1gbe_waits():
    r = run(scenario(link=1e9, dirty_rate_Bps=5e6))
    w = r.rows["queue_wait_s"]
    assert np.all(w[:4] == 0) and np.all(w[4:] > 0)
    assert r.summary["peak_concurrency"] == 4
    assert r.summary["completed"] == 16


def test_vsphere_ninth_vmotion_on_10gbe_waits():
    r = run(scenario(link=10e9, dirty_rate_Bps=5e6))
    w = r.rows["queue_wait_s"]
    assert np.all(w[:8] == 0) and np.all(w[8:] > 0)
    assert r.summary["peak_concurrency"] == 8


def test_queue_is_fifo_and_starts_when_a_slot_frees():
    r = run(scenario(link=1e9, dirty_rate_Bps=5e6))
    first_end = np.sort(r.rows["end_s"][:4])[0]
    assert r.rows["start_s"][4] == pytest.approx(first_end)
    assert np.all(np.diff(r.rows["start_s"]) >= 0)


def test_hyperv_third_live_migration_waits_under_defaults():
    r = run(scenario("hyperv-2012", n_vms=6))
    w = r.rows["queue_wait_s"]
    assert np.all(w[:2] == 0) and np.all(w[2:] > 0)
    assert r.summary["peak_concurrency"] == 2
    for t in np.unique(r.rows["start_s"]):
        assert running_at(r, t) <= 2


def test_hyperv_raised_limit():
    r = run(scenario("hyperv-2012", n_vms=6, overrides={"max_live_migrations": 6.0}))
    assert np.all(r.rows["queue_wait_s"] == 0)


def test_third_storage_vmotion_per_host_waits():
    hosts = (Host("h0", 10e9, 1, "net", ("local", "san")),)
    vms = tuple(vm(f"d-{j}", "h0", "local", disk_bytes=20 * GIB) for j in range(4))
    moves, stages = expand(hosts, vms, PlanSpec(moves=(MoveSpec("g", None, "san"),)))
    assert all(m.kind == "storage" for m in moves)
    r = run(Scenario("s", "vsphere-5.1", hosts, vms, moves, stages))
    w = r.rows["queue_wait_s"]
    assert np.all(w[:2] == 0) and np.all(w[2:] > 0)
    assert np.all(r.rows["storage_transferred_bytes"] > 0)
    assert r.summary["completed"] == 4


def test_max_concurrent_migrations():
    r = run(scenario("qemu", n_vms=10, max_concurrent=3, dirty_rate_Bps=1e6))
    assert r.summary["peak_concurrency"] == 3


# ---------------------------------------------------------------------------- bandwidth sharing
def test_k_equal_streams_get_a_kth_of_the_link_each():
    k = 4
    r = run(scenario("qemu", n_vms=k, overrides={"max_bandwidth_Bps": math.inf}, dirty_rate_Bps=0.0))
    B = 10e9 / 8 * (1460 / 1538)
    # every pass of every stream ran at exactly B / k
    assert np.allclose(r.rows["mean_share_Bps"], B / k, rtol=1e-9)
    alone = run(scenario("qemu", n_vms=1, overrides={"max_bandwidth_Bps": math.inf},
                         dirty_rate_Bps=0.0))
    assert alone.rows["mean_share_Bps"][0] == pytest.approx(B, rel=1e-9)
    assert r.summary["makespan_s"] > alone.summary["makespan_s"] * (k - 0.5)


def test_nic_books_sum_to_traffic():
    r = run(scenario("hyperv-2012", n_vms=6))
    sent = r.host_stats[0]["sent_bytes"]
    received = sum(h["received_bytes"] for h in r.host_stats[1:])
    assert sent == pytest.approx(received, rel=1e-9)
    line = 1538 / 1460
    wire = (r.rows["memory_transferred_bytes"] + r.rows["device_transferred_bytes"]).sum()
    assert sent == pytest.approx(wire * line, rel=1e-6)
    assert r.host_stats[0]["peak_egress_Bps"] <= 10e9 / 8 * (1 + 1e-9)


# ---------------------------------------------------------------------------- divergence
B10 = 10e9 / 8 * (1460 / 1538)


@pytest.mark.parametrize("profile", ["hyperv-2012", "vsphere-5.1", "qemu"])
def test_precopy_diverges_once_k_times_dirty_rate_exceeds_the_link(profile):
    """k streams on a 10 GbE link, dirty rate D each: fine while k·D < B, remedied or failed once
    k·D > B (k > B/D), per profile."""
    D = 100e6                                   # B/D ~ 11.9
    over = {"max_live_migrations": 32.0, "network_cost_10g": 32.0, "host_cost": 32.0,
            "max_bandwidth_Bps": math.inf}
    common = {"n_vms": 16, "n_hosts": 5, "dirty_rate_Bps": D, "memory_bytes": 4 * GIB,
              "overrides": {k: v for k, v in over.items()
                            if profile != "hyperv-2012" or k != "max_bandwidth_Bps"}}
    few = run(scenario(profile, plan=PlanSpec(evacuate=("h0",)), max_concurrent=4, **common))
    many = run(scenario(profile, plan=PlanSpec(evacuate=("h0",)), max_concurrent=16, **common))
    assert few.summary["peak_concurrency"] == 4 and many.summary["peak_concurrency"] == 16
    # few streams: every migration converges on its own
    assert np.all(few.rows["converged"]) and np.all(few.rows["max_throttle_pct"] == 0)
    if profile == "hyperv-2012":   # forced switch-over after 10 passes, with many pages dirty
        assert np.any(many.rows["forced"])
        assert many.rows["downtime_ms"].max() > 10 * few.rows["downtime_ms"].max()
        assert np.any(many.rows["reason"] == precopy.REASONS[precopy.R_ROUNDS])
    elif profile == "vsphere-5.1":  # SDPS throttles the vCPUs to converge
        assert np.any(many.rows["max_throttle_pct"] > 0)
        assert np.all(many.rows["status"] == "completed")
    else:                           # QEMU without auto-converge never converges
        assert np.any(many.rows["status"] == "failed")
        assert np.all(many.rows["status"][many.rows["status"] == "failed"] == "failed")


def test_divergence_threshold_is_b_over_d():
    """vSphere (no pass cap): just below k = B/D the streams converge on their own; just above,
    every pass stops shrinking and SDPS has to throttle every guest."""
    D = 100e6
    kc = B10 / D                                # ~ 11.87
    over = {"network_cost_10g": 64.0, "host_cost": 64.0}
    below = run(scenario("vsphere-5.1", n_vms=math.floor(kc) - 1, n_hosts=13,
                         dirty_rate_Bps=D, memory_bytes=4 * GIB, overrides=over))
    above = run(scenario("vsphere-5.1", n_vms=math.ceil(kc) + 2, n_hosts=16,
                         dirty_rate_Bps=D, memory_bytes=4 * GIB, overrides=over))
    assert below.summary["peak_concurrency"] == math.floor(kc) - 1
    assert below.rows["converged"].all() and not below.rows["max_throttle_pct"].any()
    assert (above.rows["max_throttle_pct"] > 0).all()


# ---------------------------------------------------------------------------- network
@pytest.mark.parametrize("profile,status,kept", [("hyperv-2012", "completed", False),
                                                 ("qemu", "completed", False),
                                                 ("vsphere-5.1", "rejected", False)])
def test_cross_subnet_move(profile, status, kept):
    scn = scenario(profile, n_vms=2, n_hosts=3, subnets=("a", "b", "a"),
                   plan=PlanSpec(evacuate=("h0",), to=("h1", "h2")), dirty_rate_Bps=1e6)
    r = run(scn)
    assert r.rows["destination"].tolist() == ["h1", "h2"]
    assert r.rows["status"][0] == status
    assert bool(r.rows["connections_preserved"][0]) is kept
    assert r.rows["status"][1] == "completed" and r.rows["connections_preserved"][1]
    if status == "rejected":
        assert "subnet" in r.rows["reason"][0]
        assert r.summary["rejected"] == 1


# ---------------------------------------------------------------------------- plans
def test_rolling_evacuation_one_host_after_the_other():
    hosts = tuple(Host(f"h{i}", 10e9, 1, "n", ("san",)) for i in range(4))
    vms = tuple(vm(f"v{h}-{j}", f"h{h}", dirty_rate_Bps=1e6) for h in range(4) for j in range(3))
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("h0", "h1"), rolling=True, gap_s=60.0))
    r = run(Scenario("r", "vsphere-5.1", hosts, vms, moves, stages))
    st_ = r.rows["stage"]
    end0 = r.rows["end_s"][st_ == 0].max()
    assert np.all(r.rows["request_s"][st_ == 1] == pytest.approx(end0 + 60.0))
    assert set(r.rows["destination"][st_ == 0]) <= {"h2", "h3"}   # h1 is evacuated next
    assert r.summary["makespan_s"] == r.rows["end_s"].max()


def test_all_at_once_evacuation():
    hosts = tuple(Host(f"h{i}", 10e9, 1, "n", ("san",)) for i in range(4))
    vms = tuple(vm(f"v{h}-{j}", f"h{h}", dirty_rate_Bps=1e6) for h in range(2) for j in range(3))
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("h0", "h1"), rolling=False))
    r = run(Scenario("r", "vsphere-5.1", hosts, vms, moves, stages))
    assert np.all(r.rows["request_s"] == 0)
    assert set(r.rows["destination"]) <= {"h2", "h3"}


def test_least_loaded_placement_balances_memory():
    hosts = tuple(Host(f"h{i}", 10e9, 1, "n", ("san",)) for i in range(3))
    vms = (vm("big", "h0", memory_bytes=32 * GIB), vm("s1", "h0"), vm("s2", "h0"), vm("s3", "h0"),
           vm("other", "h1", memory_bytes=16 * GIB))
    moves, _ = expand(hosts, vms, PlanSpec(evacuate=("h0",), placement="least-loaded"))
    dest = {m.vm: m.destination for m in moves}
    # big -> h2 (empty); s1, s2 -> h1 (16 -> 24 -> 32 GiB); s3: 32 GiB each, h2 has fewer VMs
    assert dest == {"big": "h2", "s1": "h1", "s2": "h1", "s3": "h2"}


def test_vm_moved_twice_waits_for_its_first_move_and_skips_if_it_failed():
    hosts = tuple(Host(f"h{i}", 10e9, 1, "n", ("san",)) for i in range(3))
    vms = (vm("a", "h0", dirty_rate_Bps=1e6), vm("b", "h0", dirty_rate_Bps=2e9, memory_bytes=4 * GIB))
    plan = PlanSpec(moves=(MoveSpec("a", "h1"), MoveSpec("a", "h2"), MoveSpec("b", "h1"),
                           MoveSpec("b", "h2")))
    moves, stages = expand(hosts, vms, plan)
    r = run(Scenario("m", "qemu", hosts, vms, moves, stages))
    assert r.rows["request_s"][1] == pytest.approx(r.rows["end_s"][0])
    assert r.rows["status"][2] == "failed"               # QEMU: 2 GB/s dirtying never converges
    assert r.rows["status"][3] == "rejected" and "did not complete" in r.rows["reason"][3]


def test_shared_nothing_move_copies_the_disk_over_the_network():
    hosts = (Host("a", 10e9, 1, "n", ("la",)), Host("b", 10e9, 1, "n", ("lb",)))
    vms = (vm("v", "a", "la", disk_bytes=40 * GIB, dirty_rate_Bps=1e6),)
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("a",)))
    assert moves[0].kind == "shared-nothing" and moves[0].destination_datastore == "lb"
    r = run(Scenario("sn", "vsphere-5.1", hosts, vms, moves, stages))
    assert r.rows["storage_s"][0] > 0 and r.rows["storage_transferred_bytes"][0] == 40 * GIB
    assert r.host_stats[0]["sent_bytes"] > 40 * GIB


def test_plan_errors_name_the_field():
    hosts = (Host("a", 10e9, 1, "n"),)
    vms = (vm("v", "a", None),)
    with pytest.raises(ParameterError) as e:
        expand(hosts, vms, PlanSpec(evacuate=("zz",)))
    assert e.value.field == "plan.evacuate"
    with pytest.raises(ParameterError) as e:
        expand(hosts, vms, PlanSpec(evacuate=("a",)))
    assert "destination" in e.value.allowed
    with pytest.raises(ParameterError) as e:
        expand(hosts, vms, PlanSpec(moves=(MoveSpec("nope", "a"),)))
    assert e.value.field == "plan.moves[0].vm"


def test_empty_scenario():
    hosts = (Host("a", 10e9, 1, "n"), Host("b", 10e9, 1, "n"))
    moves, stages = expand(hosts, (), PlanSpec(evacuate=("a",)))
    r = run(Scenario("e", "qemu", hosts, (), moves, stages))
    assert r.summary["migrations"] == 0 and r.summary["makespan_s"] == 0.0


# ---------------------------------------------------------------------------- determinism
def test_same_scenario_same_rows():
    scn = scenario("vsphere-5.1", link=1e9, dirty_rate_Bps=40e6)
    a, b = run(scn), run(scn)
    for k in a.rows:
        assert np.array_equal(a.rows[k], b.rows[k], equal_nan=a.rows[k].dtype.kind == "f"), k
    assert a.summary == b.summary


def test_stream_sets_split_any_way_give_the_same_bits():
    """What makes the actor execution identical: splitting streams over sets changes nothing."""
    scn = scenario("hyperv-2012", n_vms=6, dirty_rate_Bps=90e6)
    eng = Engine(scn)
    eng._prepare()
    cfg = eng.prep.cfg
    ids = np.arange(cfg.pages_nonzero.shape[0])
    one = StreamSet()
    one.open(ids, cfg)
    parts = [StreamSet(), StreamSet()]
    parts[0].open(ids[::2], cfg.take(ids[::2]))
    parts[1].open(ids[1::2], cfg.take(ids[1::2]))
    a = one.step(ids, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    dur = a.wire_bytes / 2e8
    rate = np.full(ids.size, 2e8)
    a2 = one.step(np.zeros(0, dtype=np.int64), ids, dur, rate)
    for p, sel in zip(parts, (ids[::2], ids[1::2])):
        p.step(sel, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
        b2 = p.step(np.zeros(0, dtype=np.int64), sel, dur[sel], rate[sel])
        assert np.array_equal(b2.wire_bytes, a2.wire_bytes[sel])
        assert np.array_equal(b2.status, a2.status[sel])


@st.composite
def small_scenarios(draw):
    profile = draw(st.sampled_from(["vsphere-5.1", "hyperv-2012", "qemu", "xen"]))
    n_hosts = draw(st.integers(2, 4))
    link = draw(st.sampled_from([1e9, 10e9]))
    hosts = tuple(Host(f"h{i}", link, draw(st.integers(1, 2)), "n", ("san",)) for i in range(n_hosts))
    vms = []
    for j in range(draw(st.integers(1, 8))):
        vms.append(vm(f"v{j}", f"h{draw(st.integers(0, n_hosts - 1))}",
                      memory_bytes=draw(st.sampled_from([1, 2, 4])) * GIB,
                      dirty_rate_Bps=draw(st.floats(0, 150e6))))
    evac = tuple(draw(st.lists(st.sampled_from([h.name for h in hosts[:-1]]), min_size=1,
                               max_size=n_hosts - 1, unique=True)))
    plan = PlanSpec(evacuate=evac, rolling=draw(st.booleans()),
                    placement=draw(st.sampled_from(["round-robin", "least-loaded"])))
    moves, stages = expand(hosts, tuple(vms), plan)
    return Scenario("h", profile, hosts, tuple(vms), moves, stages)


@settings(max_examples=40, deadline=None)
@given(small_scenarios())
def test_invariants_and_determinism(scn):
    r = run(scn)
    rows = r.rows
    assert np.all(rows["start_s"] >= rows["request_s"])
    assert np.all(rows["end_s"] >= rows["start_s"])
    ran = rows["status"] == "completed"
    assert np.allclose(rows["end_s"][ran] - rows["start_s"][ran], rows["total_time_s"][ran],
                       rtol=1e-9, atol=1e-9)
    assert r.summary["completed"] + r.summary["failed"] + r.summary["rejected"] == len(scn.moves)
    lim = scn.policy().limits
    # concurrency never exceeds the profile's per-host limits
    for t in np.unique(rows["start_s"]):
        act = (rows["start_s"] <= t) & (rows["end_s"] > t) & (rows["status"] != "rejected")
        for h in scn.hosts:
            n = int((act & ((rows["source"] == h.name) | (rows["destination"] == h.name))).sum())
            net_cap = lim.network_cost_10g if h.link_bps >= 10e9 else lim.network_cost_1g
            assert n <= min(net_cap, lim.host_cost, lim.max_live_migrations)
    again = run(scn)
    for k in rows:
        assert np.array_equal(rows[k], again.rows[k], equal_nan=rows[k].dtype.kind == "f"), k


def test_local_backend_is_the_default():
    scn = scenario(n_vms=2)
    assert Engine(scn).backend.__class__ is LocalBackend
