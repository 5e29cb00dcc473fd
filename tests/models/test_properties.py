"""Invariants of the migration model, checked on random inputs (Hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.migration import simulate
from models.policy import PROFILES

GIB = 2.0**30

point = st.fixed_dictionaries({
    "profile": st.sampled_from(sorted(PROFILES)),
    "memory_bytes": st.floats(0.25, 256).map(lambda g: g * GIB),
    "wws_share": st.floats(0.001, 1.0),
    "zero_fraction": st.floats(0.0, 0.9),
    "dirty_rate_Bps": st.floats(0, 3e9),
    "hot_share": st.sampled_from([0.0, 0.0, 0.01, 0.05]),
    "hot_rate_Bps": st.floats(0, 5e9),
    "dirty_pattern": st.sampled_from(["random", "sequential"]),
    "link_bps": st.sampled_from([1e9, 2.5e9, 10e9, 25e9, 40e9]),
    "nics": st.integers(1, 4),
    "rtt_ms": st.floats(0.05, 4.0),
})

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def columns(p, **changes):
    p = {**p, **changes}
    cols = {k: v for k, v in p.items() if k not in ("wws_share", "hot_share")}
    nonzero = p["memory_bytes"] * (1 - p["zero_fraction"])
    cols["hot_set_bytes"] = nonzero * p["hot_share"]
    cols["wws_bytes"] = (nonzero - cols["hot_set_bytes"]) * p["wws_share"]
    return cols


def run(p, **changes):
    r = simulate(columns(p, **changes))
    return {k: v[0] for k, v in r.items()}


@SETTINGS
@given(point, st.floats(1.0, 8.0))
def test_more_bandwidth_never_slower(p, factor):
    """Unless a remedy acted on the slower link only: a guest that SDPS throttled there finishes
    sooner than the unthrottled one on the faster link (Hypothesis found 4.10 s at 50 % throttle on
    2 x 10 GbE against 4.12 s unthrottled on 2 x 20 GbE); slowing the guest is what SDPS is for."""
    slow, fast = run(p), run(p, link_bps=p["link_bps"] * factor)
    if slow["status"] == "completed":
        assert fast["status"] == "completed"
        if slow["max_throttle_pct"] > fast["max_throttle_pct"]:
            return
        assert fast["total_time_s"] <= slow["total_time_s"] * (1 + 1e-6) + 1e-9


@SETTINGS
@given(point, st.floats(1.0, 4.0))
def test_more_dirtying_never_faster_or_cheaper(p, factor):
    calm, busy = run(p), run(p, dirty_rate_Bps=p["dirty_rate_Bps"] * factor)
    if busy["status"] == "completed" and calm["status"] == "completed":
        worse = [busy[k] >= calm[k] * (1 - 1e-6)
                 for k in ("total_time_s", "transferred_bytes", "downtime_ms", "max_throttle_pct")]
        if p["profile"] in ("xen-clark2005", "vsphere-5.1"):
            # Clark's Xen stops pre-copy early when the dirtying rate outruns its maximum rate and
            # sends pages re-dirtied within its slow first round later at a higher rate; vSphere's
            # SDPS throttles the guest harder the more it dirties. More dirtying can then cost less
            # time or traffic, but never less of everything: it is paid in time, traffic or
            # downtime, or in a strictly larger guest slowdown. (The throttle used to count when
            # merely equal, 0 >= 0 for every unthrottled run, so this could not fail: issue 15.)
            # Clark's skip rule can make the two nearly tie (a 4x faster writer on a small working
            # set, forced after the same round: the final rounds differ by 1e-6), hence 1e-4.
            throttled_more = busy["max_throttle_pct"] > calm["max_throttle_pct"] + 1e-9
            assert any(busy[k] >= calm[k] * (1 - 1e-4)
                       for k in ("total_time_s", "transferred_bytes", "downtime_ms")) or throttled_more
        else:
            assert worse[0] and worse[1]
    if calm["status"] != "completed":
        assert busy["status"] != "completed"


@SETTINGS
@given(point)
def test_bytes_downtime_and_stop_rule(p):
    r = run(p)
    assert r["status"] in ("completed", "failed", "rejected")
    if r["status"] == "rejected":
        return
    nonzero = np.ceil(p["memory_bytes"] * (1 - p["zero_fraction"]) / 4096) * 4096
    assert r["memory_transferred_bytes"] >= nonzero * (1 - 1e-6)
    assert r["transferred_bytes"] >= r["memory_transferred_bytes"]
    if r["status"] == "failed":   # never switched over: downtime and total time do not exist
        assert np.isnan(r["downtime_ms"]) and np.isnan(r["total_time_s"])
        assert r["precopy_s"] > 0
    if r["status"] == "completed":
        assert r["downtime_ms"] >= 0 and r["total_time_s"] > 0
        phases = r["setup_s"] + r["storage_s"] + r["trace_s"] + r["precopy_s"] + r["switchover_s"]
        assert np.isclose(phases, r["total_time_s"])
        assert np.isclose(r["switchover_s"] * 1e3, r["downtime_ms"])
    if r["converged"]:
        pol = PROFILES[p["profile"]]
        limit = pol.downtime_limit_ms / 1e3
        rate = r["effective_rate_Bps"]
        fits = r["final_round_bytes"] <= rate * limit * (1 + 1e-9) + pol.min_dirty_pages * 4104
        assert fits


@SETTINGS
@given(point)
def test_same_inputs_same_outputs(p):
    """self-consistency: determinism."""
    a, b = simulate(columns(p)), simulate(columns(p))
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k


def test_batch_equals_points():
    """self-consistency: one batch equals the same points one at a time."""
    rng = np.random.default_rng(7)
    n = 200
    cols = {
        "profile": rng.choice(sorted(PROFILES), n).astype(object),
        "memory_bytes": rng.uniform(0.5, 64, n) * GIB,
        "dirty_rate_Bps": rng.uniform(0, 1e9, n),
        "wws_bytes": rng.uniform(0.01, 0.5, n) * GIB,
        "dirty_pattern": rng.choice(["random", "sequential"], n).astype(object),
        "link_bps": rng.choice([1e9, 10e9], n),
    }
    batch = simulate(cols)
    for i in range(0, n, 17):
        one = simulate({k: v[i:i + 1] for k, v in cols.items()})
        for k in batch:
            assert one[k][0] == batch[k][i] or (one[k][0] != one[k][0] and batch[k][i] != batch[k][i])


#: Profiles whose total time must not fall as the guest dirties more once their remedies are off.
#: Clark's Xen prototype is left out by design: its adaptive rate limit sends faster the more the
#: guest dirties (100 Mbit/s first, then the dirty rate + 50 Mbit/s), which is what xen-clark2005
#: keeps for the published rows.
MONOTONE = sorted(set(PROFILES) - {"xen-clark2005"})


@SETTINGS
@given(point.filter(lambda p: p["profile"] in MONOTONE), st.floats(1.0, 4.0))
def test_total_time_is_monotone_in_dirty_rate_with_remedies_off(p, factor):
    """Issue 11: vSphere took 479 s at 100 MB/s, 546 s at 150 MB/s and 460 s at 200 MB/s."""
    off = {"sdps": False, "auto_converge": False}
    calm = run(p, **off)
    busy = run(p, **off, dirty_rate_Bps=p["dirty_rate_Bps"] * factor)
    # a forced stop (a pass cap, "not shrinking") is a remedy too: compare converged migrations
    if calm["status"] == busy["status"] == "completed" and calm["converged"] and busy["converged"]:
        assert busy["total_time_s"] >= calm["total_time_s"] * (1 - 1e-9)


@SETTINGS
@given(point.filter(lambda p: p["profile"] == "vsphere-5.1"), st.floats(1.0, 4.0))
def test_sdps_keeps_the_switchover_goal(p, factor):
    """Issue 11: with SDPS, a migration that completes unforced keeps the 500 ms goal (which now
    covers the device state and the resume too: 555 ms were seen before)."""
    for r in (run(p), run(p, dirty_rate_Bps=p["dirty_rate_Bps"] * factor)):
        if r["status"] == "completed" and not r["forced"]:
            assert r["downtime_ms"] <= PROFILES["vsphere-5.1"].downtime_limit_ms * (1 + 1e-9)


def test_sdps_meets_every_rate_above_the_send_rate_with_the_same_remedy():
    """Issue 11: 16 GiB on 1 GbE took 479 s at 100 MB/s, 546 s at 150 MB/s and 460 s at 200 MB/s
    (on 10 GbE 47.4 / 58.8 / 47.1 s at 1000 / 1200 / 2000 MB/s): SDPS engaged after 1-7
    unthrottled passes depending on the rate. It now engages when the guest dirties pages faster
    than they are sent, so above the send rate more dirtying costs more time, never less."""
    for link, rates in ((1e9, [150e6, 200e6, 400e6]), (10e9, [1200e6, 2000e6, 4000e6])):
        r = simulate({"profile": "vsphere-5.1", "memory_bytes": 16 * GIB, "link_bps": link,
                      "dirty_rate_Bps": np.array(rates)})
        assert (r["status"] == "completed").all() and (r["max_throttle_pct"] > 0).all()
        assert (np.diff(r["total_time_s"]) > 0).all(), r["total_time_s"]
        assert (r["downtime_ms"] <= 500).all()
