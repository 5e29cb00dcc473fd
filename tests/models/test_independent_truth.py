"""Every mechanism of models/ against a value computed OUTSIDE the model's code.

Each expected value here comes from an analytic limit worked out in the test itself (the geometric
series of pre-copy with a constant dirty rate, the coupon-collector count of random writes,
window / RTT, max-min fairness by hand, the mirror's differential equation integrated numerically
with scipy), or from a published figure (docs/references.md) or the vendor rule it names. None
calls a kernel of models/ to compute what it expects. Measured QEMU runs (tests/data) are checked in
tests/models/test_precopy.py and tests/runner/measure/.

| mechanism | test |
|---|---|
| workload / dirtying | test_random_writes_leave_the_coupon_collector_count_pending |
| pre-copy stop rule | test_precopy_is_the_geometric_series_until_the_threshold |
| link / transfer | test_multi_nic_rate_is_nics_times_payload_rate, test_window_over_rtt_bounds_a_stream |
| switch-over | test_precopy_is_the_geometric_series_until_the_threshold (downtime), test_vsphere_fails_a_switchover_over_100_s |
| storage | test_mirror_time_solves_its_differential_equation |
| admission | test_vcenter_network_limits_by_hand, test_hyperv_two_live_migrations_by_hand |
| sharing | test_max_min_by_hand |
| placement | test_least_loaded_placement_by_hand, test_round_robin_by_hand |
| scenario | test_two_vms_on_one_nic_take_twice_as_long |
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from models.admission import LIVE, Admission, demand, resources
from models.migration import simulate
from models.placement import VM, Host, PlanSpec, expand
from models.policy import get_profile
from models.scenario import Scenario, run
from models.sharing import max_min

GIB = 2.0**30
PAGE = 4096.0
WIRE_PAGE = PAGE + 8.0                      # 8-byte page header (every profile but Xen's zero pages)
HYPERV_STREAM_Bps = 339e6                   # Hyper-V 2012 single TCP stream on 10 GbE (references)
PAYLOAD = 1460.0 / 1538.0                   # TCP/IPv4 over Ethernet, MTU 1500


def one(**cols):
    r = simulate({k: np.array([v], dtype=object if isinstance(v, str) else None)
                  for k, v in cols.items()}, detail=True)
    return {k: (v[0] if k != "rounds" else v[0]) for k, v in r.items()}


# ----------------------------------------------------------------------------- pre-copy, dirtying
def test_precopy_is_the_geometric_series_until_the_threshold():
    """Sequential writes at a constant d pages/s over a working set larger than anything a pass
    can dirty: pass k+1 sends what pass k let the guest dirty, ``P_{k+1} = d * T_k`` with
    ``T_k = P_k * 4104 / r``, so the passes shrink by ``rho = d * 4104 / r`` each; pre-copy stops
    when what is pending fits in the 500 ms limit at the stream rate (Hyper-V 2012: 339 MB/s on
    10 GbE, 3 s setup, 50 ms resume, 8 MB device state; docs/references.md). Worked out here by
    hand: pass count, pre-copy time, bytes and downtime."""
    mem = 8 * GIB
    d_Bps = 100e6
    pol = get_profile("hyperv-2012")
    r = HYPERV_STREAM_Bps
    d = d_Bps / PAGE
    threshold = r / WIRE_PAGE * 0.5
    pending, passes, t, sent = mem / PAGE, 0, 0.0, 0.0
    while True:
        T = pending * WIRE_PAGE / r
        t += T
        sent += pending * WIRE_PAGE
        passes += 1
        pending = d * T
        if pending <= threshold:
            break
    assert passes == 4 and pending * PAGE < mem      # the case is the one worked out above
    out = one(profile="hyperv-2012", memory_bytes=mem, dirty_rate_Bps=d_Bps,
              dirty_pattern="sequential", link_bps=10e9)
    assert out["status"] == "completed" and out["converged"]
    assert out["precopy_rounds"] == passes
    assert out["precopy_s"] == pytest.approx(t, rel=1e-9)
    assert out["memory_transferred_bytes"] == pytest.approx(sent + pending * WIRE_PAGE, rel=1e-9)
    device = pol.device_state_bytes + 2 * pol.vcpu_state_bytes      # 2 vCPUs, the default
    downtime_s = (pending * WIRE_PAGE + device) / r + pol.resume_s
    assert out["downtime_ms"] == pytest.approx(downtime_s * 1e3, rel=1e-9)
    assert out["total_time_s"] == pytest.approx(pol.setup_s + t + downtime_s, rel=1e-9)


def test_random_writes_leave_the_coupon_collector_count_pending():
    """Uniform random writes at ``a`` pages/s over ``W`` pages touch ``W (1 - exp(-a t / W))``
    distinct pages in ``t`` (the expected number of distinct coupons after ``a t`` draws,
    for large W): after round 0 of ``T0 = N * 4104 / r`` that many pages are pending."""
    mem, wws, d_Bps = 8 * GIB, 2 * GIB, 200e6
    T0 = mem / PAGE * WIRE_PAGE / HYPERV_STREAM_Bps
    W, a = wws / PAGE, d_Bps / PAGE
    expected = W * (1.0 - math.exp(-a * T0 / W))
    out = one(profile="hyperv-2012", memory_bytes=mem, wws_bytes=wws, dirty_rate_Bps=d_Bps,
              link_bps=10e9)
    first = out["rounds"][0]
    assert first.duration_s == pytest.approx(T0, rel=1e-12)
    assert first.pending_after == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- link
def test_multi_nic_rate_is_nics_times_payload_rate():
    """vMotion streams over every vMotion NIC: 2 x 1 GbE carry 2 x 125 MB/s x 1460/1538."""
    for nics in (1, 2, 4):
        out = one(profile="vsphere-5.1", memory_bytes=4 * GIB, link_bps=1e9, nics=nics)
        assert out["effective_rate_Bps"] == pytest.approx(nics * 1e9 / 8 * PAYLOAD, rel=1e-12)


def test_window_over_rtt_bounds_a_stream():
    """A TCP stream carries at most window / RTT: a 4 MiB window over 100 ms is 41.9 MB/s."""
    window = get_profile("hyperv-2012").tcp_window_bytes
    out = one(profile="hyperv-2012", memory_bytes=4 * GIB, link_bps=10e9, rtt_ms=100.0)
    assert window == 4 * 2**20
    assert out["effective_rate_Bps"] == pytest.approx(window / 0.1, rel=1e-12)


# ----------------------------------------------------------------------------- switch-over
def test_vsphere_fails_a_switchover_over_100_s():
    """vSphere's maxSwitchoverSeconds = 100 (docs/references.md): a stun that would take longer
    fails the migration and the VM stays on the source. 20 GB of device state over one 1 GbE link
    (118.7 MB/s payload) takes 168 s; 10 GB takes 84 s."""
    rate = 1e9 / 8 * PAYLOAD
    slow = one(profile="vsphere-5.1", memory_bytes=4 * GIB, link_bps=1e9, device_state_bytes=20e9)
    fast = one(profile="vsphere-5.1", memory_bytes=4 * GIB, link_bps=1e9, device_state_bytes=10e9)
    assert 20e9 / rate > 100 > 10e9 / rate
    assert slow["status"] == "failed" and "switch" in slow["reason"]
    assert fast["status"] == "completed"


# ----------------------------------------------------------------------------- storage
def test_mirror_time_solves_its_differential_equation():
    """Bulk disk copy with synchronous mirroring: the copy front x advances at the path's rate c
    less the mirrored writes, which fall in the copied part x/S of the disk: dx/dt = c - w x / S.
    Integrated numerically here (scipy), the time to reach x = S is the storage phase."""
    S, w, c = 40 * GIB, 50e6, 200e6
    sol = solve_ivp(lambda t, x: [c - w * x[0] / S], (0, 10 * S / c), [0.0],
                    events=lambda t, x: x[0] - S, rtol=1e-10, atol=1.0)
    T = float(sol.t_events[0][0])
    out = one(profile="vsphere-5.1", storage="mirror", disk_bytes=S, disk_write_rate_Bps=w,
              storage_rate_Bps=c)
    assert out["storage_s"] == pytest.approx(T, rel=1e-6)
    assert out["mirror_transferred_bytes"] == pytest.approx(c * T - S, rel=1e-5)
    assert out["storage_transferred_bytes"] == S


# ----------------------------------------------------------------------------- admission
def _started(profile: str, link_bps: float, n: int) -> int:
    pol = get_profile(profile)
    hosts = [Host("a", link_bps, 1, "net", ("san",)), Host("b", link_bps, 1, "net", ("san",))]
    cap = resources(hosts, pol.limits)
    adm = Admission(cap)
    for t in range(n):
        adm.request(t, demand(LIVE, "a", "b", "san", "san", pol.limits, cap))
    return len(adm.scan())


def test_vcenter_network_limits_by_hand():
    """vCenter: a host's vMotion network allows cost 4 on 1 GbE and 8 on 10 GbE, a vMotion costs
    1 (docs/references.md): of 20 vMotions from one host 4 (1 GbE) or 8 (10 GbE) start at once."""
    assert _started("vsphere-5.1", 1e9, 20) == 4
    assert _started("vsphere-5.1", 10e9, 20) == 8


def test_hyperv_two_live_migrations_by_hand():
    """Hyper-V 2012: 2 simultaneous live migrations per host by default (docs/references.md)."""
    assert _started("hyperv-2012", 10e9, 20) == 2


# ----------------------------------------------------------------------------- sharing
def test_max_min_by_hand():
    """Links A = 10 and B = 4; f1 on A; f2 on A and B; f3 on B; f4 on A capped at 1. By hand:
    B splits 2/2 (f2, f3); f4 takes its cap 1; f1 gets what A has left, 10 - 2 - 1 = 7."""
    rates = max_min(np.array([10.0, 4.0]), np.array([[0, -1], [0, 1], [1, -1], [0, -1]]),
                    np.array([np.inf, np.inf, np.inf, 1.0]))
    assert rates.tolist() == pytest.approx([7.0, 2.0, 2.0, 1.0], rel=1e-12)


# ----------------------------------------------------------------------------- placement
def _vm(name: str, host: str, mem_gib: float) -> VM:
    return VM(name, "g", host, "san", False, "mirror", (("memory_bytes", mem_gib * GIB),))


def test_least_loaded_placement_by_hand():
    """h0 is drained; h1 holds 16 GiB, h2 and h3 hold nothing. VMs of 8, 4, 4, 4 GiB go, each to
    the host with the least memory then (ties: fewer VMs, then host order): 8 -> h2, 4 -> h3,
    4 -> h3 (4 < 8), 4 -> h2 (8 = 8, but h2 holds 1 VM, h3 2)."""
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(4))
    vms = (_vm("big", "h1", 16), _vm("a", "h0", 8), _vm("b", "h0", 4), _vm("c", "h0", 4),
           _vm("d", "h0", 4))
    moves, _ = expand(hosts, vms, PlanSpec(evacuate=("h0",), placement="least-loaded"))
    assert [(m.vm, m.destination) for m in moves] == [("a", "h2"), ("b", "h3"), ("c", "h3"),
                                                       ("d", "h2")]


def test_round_robin_by_hand():
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(3))
    vms = tuple(_vm(f"v{j}", "h0", 4) for j in range(5))
    moves, _ = expand(hosts, vms, PlanSpec(evacuate=("h0",), placement="round-robin"))
    assert [m.destination for m in moves] == ["h1", "h2", "h1", "h2", "h1"]


# ----------------------------------------------------------------------------- scenario
def test_two_vms_on_one_nic_take_twice_as_long():
    """Two idle VMs leave one host over one 10 GbE NIC at the same time for two different hosts:
    the source NIC is the bottleneck and max-min gives each half of its payload rate, so each
    copy takes 2 x memory x 4104/4096 / (1.25 GB/s x 1460/1538) after the 1 s setup."""
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(3))
    vms = tuple(VM(f"v{j}", "g", "h0", "san", False, "mirror",
                   (("memory_bytes", 4 * GIB), ("dirty_rate_Bps", 0.0))) for j in range(2))
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("h0",), placement="round-robin"))
    r = run(Scenario("t", "vsphere-5.1", hosts, vms, moves, stages, (), math.inf))
    pol = get_profile("vsphere-5.1")
    copy = 4 * GIB / PAGE * WIRE_PAGE / (10e9 / 8 * PAYLOAD / 2)
    assert (r.rows["status"] == "completed").all()
    assert r.rows["precopy_s"].tolist() == pytest.approx([copy, copy], rel=1e-6)
    assert r.summary["makespan_s"] > pol.setup_s + copy


def test_a_cancelled_migration_counts_only_what_went_out_before_the_cancel():
    """QEMU sends at its max-bandwidth until the timeout cancels it: a diverging 2 GiB guest with
    a 100 MB/s cap and a 20 s timeout has sent 20 s x 100 MB/s = 2 GB (within one 100 ms window of
    the rate limiter, 10 MB), not the whole pass it was in."""
    out = one(profile="qemu", memory_bytes=2 * GIB, dirty_rate_Bps=200e6,
              max_bandwidth_Bps=100e6, timeout_s=20.0)
    assert out["status"] == "failed" and "timeout" in out["reason"]
    assert out["precopy_s"] == pytest.approx(20.0)
    assert out["memory_transferred_bytes"] == pytest.approx(20.0 * 100e6, abs=100e6 * 0.1)


def test_xen_growing_rule_is_strict():
    """xc_linux_save (Xen 3.x, the prototype's stop rules) forces the last iteration when
    ``sent_this_iter > sent_last_iter && RATE_IS_MAX()``: strictly more. A 1 GiB guest sweeping
    90 % of its memory at 2 GB/s, with Clark's rate rule switched off: every pass at the
    500 Mbit/s maximum sends the same pages (the working set is saturated), so the growing rule
    never fires and pre-copy runs on to the 3 x memory traffic limit."""
    r = simulate({"profile": "xen-clark2005", "memory_bytes": 1 * GIB, "wws_bytes": 0.9 * GIB,
                  "dirty_rate_Bps": 2e9, "dirty_pattern": "sequential", "link_bps": 1e9},
                 overrides={"xen-clark2005": {"stop_if_rate_exceeds_max": False}}, detail=True)
    passes = r["rounds"][0]
    assert passes[1].rate_Bps * 8 == pytest.approx(500e6) and len(passes) > 3
    assert passes[2].pages_sent == passes[1].pages_sent
    assert r["forced"][0] and "traffic" in r["reason"][0]
    # Clark 2005: stop once 3 x memory has been sent (the pass that crossed it is the last one)
    precopy = r["memory_transferred_bytes"][0] - r["final_round_bytes"][0]
    assert 3 * GIB <= precopy < 3 * GIB + passes[-1].wire_bytes


# ----------------------------------------------------------------------------- QEMU rate limiting
def _train_rows():
    import csv
    from pathlib import Path
    with open(Path(__file__).resolve().parents[1] / "data" / "qemu-train.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_qemu_page_cost_is_the_measured_one():
    """Measured (tests/data/qemu-train.csv, bulk runs): transferred bytes minus 9 per zero page,
    over the normal pages, is 4104 wire bytes per 4 KiB page. A guest of only normal pages that
    writes nothing sends that per page, whatever its size."""
    per_page = [(float(r["ram_transferred_bytes"]) - 9 * float(r["ram_duplicate_pages"]))
                / float(r["ram_normal_pages"]) for r in _train_rows()
                if r["run_id"].startswith("A_") and float(r["ram_normal_pages"]) > 10000]
    assert per_page and max(per_page) - min(per_page) < 0.1
    measured = float(np.median(per_page))
    for gib in (1, 4):
        out = one(profile="qemu", memory_bytes=gib * GIB)
        assert out["memory_transferred_bytes"] / (gib * GIB / PAGE) == pytest.approx(measured,
                                                                                     rel=2e-5)


def test_qemu_rate_limiter_windows_and_lifted_cap():
    """QEMU's limiter (migration/qemu-file.c; BUFFER_DELAY = 100 ms) lets max-bandwidth x 100 ms
    through per window, at the link's rate, then waits for the window to end; the stop-and-copy
    runs with the cap lifted (migration.c sets the rate limit to unlimited when it stops the
    guest). Before each window ram_save_pending compares the pages still set in the bitmap with
    the threshold (max-bandwidth x downtime-limit, 300 ms) and, below it, syncs; with nothing
    dirtied the pre-copy then stops, round 0 included (migration.c migration_iteration_run). 4 GiB
    of normal pages at 128 MiB/s on 10 GbE: the first check with fewer than the threshold left is
    after 318 windows; the rest and the device state go at the payload rate, + the 1 ms resume."""
    pol = get_profile("qemu")
    pages = 4 * GIB / PAGE
    budget = 128 * 2**20 * 0.1
    per_window = budget / WIRE_PAGE
    threshold = 128 * 2**20 * 0.3 / WIRE_PAGE
    windows = math.floor((pages - threshold) / per_window) + 1
    link = 10e9 / 8 * PAYLOAD
    out = one(profile="qemu", memory_bytes=4 * GIB, link_bps=10e9)
    assert windows == 318
    assert out["precopy_s"] == pytest.approx(windows * 0.1, rel=1e-9)
    device = pol.device_state_bytes + 2 * pol.vcpu_state_bytes      # 2 vCPUs, the default
    rest = (pages - windows * per_window) * WIRE_PAGE
    assert out["downtime_ms"] == pytest.approx(((rest + device) / link + 0.001) * 1e3, rel=1e-9)


# ----------------------------------------------------------------------------- Xen adaptation
def test_clark_next_round_rate_is_last_dirty_rate_plus_50_mbit():
    """Clark 2005 §5.3: each round after the first goes at the previous round's dirtying rate plus
    50 Mbit/s, capped at 500 Mbit/s. The dirtying rate of a round is what it left dirty (Clark's
    prototype skips pages re-dirtied within the round, so nothing else is pending) over its
    duration."""
    r = simulate({"profile": "xen-clark2005", "memory_bytes": 800e6, "wws_bytes": 128e6,
                  "dirty_rate_Bps": 20e6, "link_bps": 1e9}, detail=True)
    passes = r["rounds"][0]
    assert len(passes) >= 3
    for a, b in zip(passes, passes[1:]):
        dirty_bps = a.pending_after * PAGE * 8 / a.duration_s
        assert b.rate_Bps * 8 == pytest.approx(min(dirty_bps + 50e6, 500e6), rel=1e-9)


# ----------------------------------------------------------------------------- link: streams
def test_single_stream_uses_one_nic_multichannel_all():
    """Hyper-V's TCP transport is one stream (339 MB/s peak on 10 GbE) whatever the NICs; SMB
    Multichannel opens one per NIC: 4 x 10 GbE x 0.98 (SMB Direct efficiency, assumed)."""
    tcp = one(profile="hyperv-2012", memory_bytes=4 * GIB, link_bps=10e9, nics=4)
    smb = one(profile="hyperv-2012", memory_bytes=4 * GIB, link_bps=10e9, nics=4, transport="smb")
    assert tcp["effective_rate_Bps"] == HYPERV_STREAM_Bps
    assert smb["effective_rate_Bps"] == pytest.approx(4 * 10e9 / 8 * 0.98, rel=1e-12)


# ----------------------------------------------------------------------------- storage
def test_shared_nothing_mirror_shares_the_migration_link():
    """vSphere shared-nothing: the disk is copied over the vMotion network (so at most its payload
    rate, 118.7 MB/s on 1 GbE, not the 200 MB/s datastore rate), mirroring guest writes as it
    goes (dx/dt = c - w x / S, integrated here), and the mirror keeps running while memory moves:
    memory gets the link less the 20 MB/s of mirrored writes."""
    S, w = 40 * GIB, 20e6
    c = 1e9 / 8 * PAYLOAD
    sol = solve_ivp(lambda t, x: [c - w * x[0] / S], (0, 10 * S / c), [0.0],
                    events=lambda t, x: x[0] - S, rtol=1e-10, atol=1.0)
    out = one(profile="vsphere-5.1", storage="shared-nothing", disk_bytes=S, disk_write_rate_Bps=w,
              memory_bytes=4 * GIB, link_bps=1e9)
    assert out["storage_s"] == pytest.approx(float(sol.t_events[0][0]), rel=1e-6)
    assert out["effective_rate_Bps"] == pytest.approx(c - w, rel=1e-12)
    # ... and the pre-copy really runs at that rate: an idle guest's one pass
    assert out["precopy_s"] == pytest.approx(4 * GIB / PAGE * WIRE_PAGE / (c - w), rel=1e-9)


def test_mirror_throttles_writes_beyond_its_share():
    """The synchronous mirror may take at most half the copy path (mirror_max_share = 0.5,
    assumed): guest writes of 150 MB/s on a 200 MB/s path are held to 100 MB/s, a third held back."""
    assert get_profile("vsphere-5.1").mirror_max_share == 0.5
    out = one(profile="vsphere-5.1", storage="mirror", disk_bytes=40 * GIB,
              disk_write_rate_Bps=150e6, storage_rate_Bps=200e6)
    assert out["disk_write_throttle_pct"] == pytest.approx(100 / 3, rel=1e-9)


def test_iterative_storage_precopy_is_a_series_of_dirty_block_passes():
    """ESX 4.x iterative block copy: pass 1 copies the disk; each next pass the blocks the guest
    dirtied meanwhile (random writes over the rewritten region: the coupon-collector count); it
    stops when what is dirty can be copied within the 500 ms goal (then copied with the VM
    suspended). Worked out here pass by pass."""
    from models.storage import BLOCK_BYTES
    S, wws, w, c = 40 * GIB, 4 * GIB, 50e6, 200e6
    W, a = wws / BLOCK_BYTES, w / BLOCK_BYTES
    pending, t, total = S, 0.0, 0.0
    for _ in range(100):
        tau = pending / c
        t += tau
        total += pending
        pending = W * (1 - math.exp(-a * tau / W)) * BLOCK_BYTES
        if pending / c <= 0.5:
            break
    out = one(profile="vsphere-5.1", storage="iterative", disk_bytes=S, disk_wws_bytes=wws,
              disk_write_rate_Bps=w, storage_rate_Bps=c)
    assert out["storage_s"] == pytest.approx(t, rel=1e-9)
    assert out["storage_transferred_bytes"] == pytest.approx(total + pending, rel=1e-9)


# ----------------------------------------------------------------------------- placement (more)
def test_least_loaded_means_memory_not_vm_count():
    """h1 runs one 4 GiB VM, h2 two 1 GiB VMs. Least loaded by memory: the first 2 GiB VM goes to
    h2 (2 < 4 GiB), the second to h1 (4 = 4 GiB, and h1 runs fewer VMs)."""
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(3))
    vms = (_vm("x", "h1", 4), _vm("y", "h2", 1), _vm("z", "h2", 1), _vm("a", "h0", 2),
           _vm("b", "h0", 2))
    moves, _ = expand(hosts, vms, PlanSpec(evacuate=("h0",), placement="least-loaded"))
    assert [(m.vm, m.destination) for m in moves] == [("a", "h2"), ("b", "h1")]


def test_rolling_evacuation_refills_hosts_already_drained():
    """Rolling: h0 is drained first (to h2: h1 is still to be drained), then h1 — and h0, empty
    by then, is a destination again: round-robin over h0 and h2, its turn counter carried on
    from the first stage (one VM placed: the next turn is the second host, h2)."""
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(3))
    vms = (_vm("a", "h0", 1), _vm("b", "h1", 1), _vm("c", "h1", 1))
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("h0", "h1"), rolling=True,
                                                placement="round-robin"))
    assert [(m.vm, m.destination) for m in moves] == [("a", "h2"), ("b", "h2"), ("c", "h0")]
    assert stages[1].after == 0


def test_vsphere_max_switchover_bounds_a_suspended_storage_copy():
    """maxSwitchoverSeconds (100 s) bounds all the guest's stun, the final copy of an iterative
    storage migration made with the VM suspended included: a disk rewritten nearly as fast as it
    is copied is still mostly dirty after the 10-pass cap, and its final copy takes far more than
    100 s, so the migration fails; the same disk with a calm guest completes."""
    kw = dict(profile="vsphere-5.1", storage="iterative", disk_bytes=400 * GIB,
              disk_wws_bytes=400 * GIB, storage_rate_Bps=200e6)
    hot = one(**kw, disk_write_rate_Bps=190e6)
    calm = one(**kw, disk_write_rate_Bps=1e6)
    assert hot["status"] == "failed" and "switch" in hot["reason"]
    assert calm["status"] == "completed"


def test_rolling_stage_waits_for_its_gap():
    """A rolling evacuation with a 100 s gap: h1's VM is requested 100 s after h0's stage ends
    (its last migration's end), not before."""
    hosts = tuple(Host(f"h{i}", 10e9, 1, "net", ("san",)) for i in range(3))
    vms = tuple(VM(n, "g", h, "san", False, "mirror",
                   (("memory_bytes", 2 * GIB), ("dirty_rate_Bps", 0.0))) for n, h in
                (("a", "h0"), ("b", "h1")))
    moves, stages = expand(hosts, vms, PlanSpec(evacuate=("h0", "h1"), rolling=True, gap_s=100.0))
    r = run(Scenario("t", "vsphere-5.1", hosts, vms, moves, stages, (), math.inf))
    end_a = r.rows["end_s"][0]
    assert r.rows["start_s"][1] == pytest.approx(end_a + 100.0, rel=1e-12)


def test_a_switchover_keeps_its_bandwidth_on_both_nics():
    """A stop-and-copy keeps the rate it had when the guest stopped, on the source's egress AND
    the destination's ingress, while its bytes are sent. Two Hyper-V VMs from h0 and h1 into h2
    over 1 GbE: a's 5 GB device state keeps h2's ingress full for ~42 s; b, started meanwhile, must
    share what is left of it (nothing), so h2 never receives more than its line rate."""
    from models.placement import MoveSpec
    hosts = tuple(Host(f"h{i}", 1e9, 1, "net", ("san",)) for i in range(3))
    vms = (VM("a", "g", "h0", "san", False, "mirror",
              (("memory_bytes", 2 * GIB), ("dirty_rate_Bps", 0.0), ("device_state_bytes", 5e9))),
           VM("b", "g", "h1", "san", False, "mirror",
              (("memory_bytes", 2 * GIB), ("dirty_rate_Bps", 0.0))))
    plan = PlanSpec(moves=(MoveSpec("a", to="h2"), MoveSpec("b", to="h2", start_s=30.0)))
    moves, stages = expand(hosts, vms, plan)
    r = run(Scenario("t", "hyperv-2012", hosts, vms, moves, stages, (), math.inf))
    assert (r.rows["status"] == "completed").all()
    a_stop = r.rows["end_s"][0] - r.rows["downtime_ms"][0] / 1e3
    assert a_stop < 33.0 < r.rows["end_s"][0]           # b's pre-copy starts in a's stop-and-copy
    assert r.host_stats[2]["peak_ingress_Bps"] <= 1e9 / 8 * (1 + 1e-9)
