"""Pre-copy against the analytic geometric series of REFERENCES.md and QEMU's mechanisms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.migration import simulate
from models.policy import get_profile

GIB = 2.0**30


def _analytic(V, R, D, threshold):
    lam = D / R
    n = 0
    while V * lam**n > threshold:
        n += 1
    total_bytes = V * (1 - lam ** (n + 1)) / (1 - lam)
    return n, total_bytes, total_bytes / R, V * lam**n / R


# Every page dirtyable, linear dirtying (sequential sweep over all memory, rate*t << memory), no
# headers, no fixed costs, stop rule only at pass ends: the textbook model.
TEXTBOOK = {"qemu": {"page_header_bytes": 0, "zero_page_bytes": 0, "setup_s": 0, "resume_s": 0,
                     "check_interval_s": 0, "rate_window_s": 0, "send_buffer_bytes": 0}}


def test_reference_example_50gib():
    r = simulate({"profile": "qemu", "memory_bytes": 50 * GIB, "dirty_rate_Bps": 25e6,
                  "dirty_pattern": "sequential", "link_bps": 800e6, "efficiency": 1.0,
                  "device_state_bytes": 0, "max_bandwidth_Bps": np.inf, "downtime_limit_ms": 300},
                 overrides=TEXTBOOK)
    # REFERENCES.md: n = 6, final round ~13 MB, downtime ~0.13 s, total ~716 s, traffic ~1.33 x
    assert r["precopy_rounds"][0] == 6
    assert r["final_round_bytes"][0] == pytest.approx(13.1e6, rel=0.01)
    assert r["downtime_ms"][0] == pytest.approx(131, rel=0.01)
    assert r["total_time_s"][0] == pytest.approx(716, rel=0.001)
    assert r["memory_transferred_bytes"][0] / (50 * GIB) == pytest.approx(1.333, abs=0.001)


@pytest.mark.parametrize("V_gib, R, D, limit_ms", [
    (4, 1.25e9, 0.3e9, 500), (16, 1.25e8, 1e7, 300), (1, 5e8, 4.5e8, 100), (64, 3e9, 1e8, 30),
])
def test_geometric_series(V_gib, R, D, limit_ms):
    V = V_gib * GIB
    n, total, t, down = _analytic(V, R, D, R * limit_ms / 1e3)
    r = simulate({"profile": "qemu", "memory_bytes": V, "dirty_rate_Bps": D,
                  "dirty_pattern": "sequential", "link_bps": R * 8, "efficiency": 1.0,
                  "device_state_bytes": 0, "max_bandwidth_Bps": np.inf,
                  "downtime_limit_ms": limit_ms}, overrides=TEXTBOOK)
    assert r["precopy_rounds"][0] == n
    assert r["memory_transferred_bytes"][0] == pytest.approx(total, rel=1e-6)
    assert r["total_time_s"][0] == pytest.approx(t, rel=1e-6)
    assert r["downtime_ms"][0] == pytest.approx(down * 1e3, rel=1e-6)


def test_qemu_defaults_stay_close_to_the_textbook():
    # With QEMU's headers, 100 ms checks and mid-pass sync the example moves by well under 1 %.
    r = simulate({"profile": "qemu", "memory_bytes": 50 * GIB, "dirty_rate_Bps": 25e6,
                  "dirty_pattern": "sequential", "link_bps": 800e6, "efficiency": 1.0})
    assert r["total_time_s"][0] == pytest.approx(716, rel=0.01)
    assert r["memory_transferred_bytes"][0] / (50 * GIB) == pytest.approx(1.333, rel=0.01)
    assert r["downtime_ms"][0] <= 300 + 10


def test_qemu_rate_limit_windows_burst_small_transfers():
    # A transfer below one 100 ms window budget goes at link speed (validation/: 1.8 MB in 7 ms at a
    # 64 MB/s cap); a long one averages the cap until fewer pages than the threshold (300 ms at
    # the cap) are left, which go in the stop-and-copy at link speed (measured: bulk-p0003, 64 MiB
    # at 125 MB/s stopped after 0.36 s, not 0.50 s).
    small = simulate({"profile": "qemu", "memory_bytes": 128 * 2**20, "zero_fraction": 0.99,
                      "link_bps": 16e9, "efficiency": 1.0, "max_bandwidth_Bps": 64e6,
                      "device_state_bytes": 0})
    assert small["total_time_s"][0] < 0.015
    big = simulate({"profile": "qemu", "memory_bytes": 1 * GIB, "link_bps": 16e9, "efficiency": 1.0,
                    "max_bandwidth_Bps": 64e6})
    assert big["total_time_s"][0] == pytest.approx(GIB * 4104 / 4096 / 64e6 - 0.2, rel=0.01)


def test_random_dirtying_saturates_at_the_wws():
    # Dirty rate far above the link: each pass re-sends at most the WWS.
    r = simulate({"profile": "hyperv-2012", "memory_bytes": 8 * GIB, "dirty_rate_Bps": 5e9,
                  "wws_bytes": 1 * GIB, "link_bps": 10e9}, detail=True)
    passes = r["rounds"][0]
    assert len(passes) == 10 and r["forced"][0]
    wws_pages = GIB / 4096
    assert all(p.pending_after <= wws_pages + 1e-6 for p in passes)
    assert r["final_round_bytes"][0] == pytest.approx(wws_pages * 4104, rel=0.01)


def _measured(dataset):
    """Rows of tests/data/qemu-measured.csv of one spec (sweeps/qemu/<dataset>.toml) and the model's
    prediction of each, under the data set's own conditions (runner/measure/validate.py)."""
    from pathlib import Path

    from runner.measure.validate import load_measured, measured_columns

    rows, cond = load_measured(Path(__file__).resolve().parents[1] / "data" / "qemu-measured.csv")
    rows = [r for r in rows if r["dataset"] == dataset]
    return rows, simulate(measured_columns(rows, cond), detail=True)


def test_auto_converge_against_the_measured_runs():
    """Measured (tests/data/qemu-measured.csv, sweeps/qemu/autoconverge.toml; QEMU 7.2, 64 MiB guest,
    16 MiB working set, 32 MB/s cap): at 0.9 x the cap QEMU converged without throttling, for both
    patterns; the only run that throttled, sequential at 1.6 x the cap (``autoconverge-p0002``, a
    test-split point), converged with its first throttle at dirty-bitmap sync 12, a 60 % maximum
    throttle, in 12.05 s (an earlier measurement of the same point, at another writer phase: sync
    11, 60 %, 12.76 s). QEMU's own spread on auto-converge is 14.7 % (qemu-spread.csv)."""
    rows, res = _measured("autoconverge")
    by_id = {r["run_id"]: i for i, r in enumerate(rows)}
    for rid in ("autoconverge-p0000-r0", "autoconverge-p0003-r0"):     # rho 0.9: no throttle
        i = by_id[rid]
        assert res["status"][i] == "completed" and res["max_throttle_pct"][i] == 0.0, rid
    i = by_id["autoconverge-p0002-r0"]
    row = rows[i]
    assert row["converged"] == "true" and float(row["max_throttle_pct"]) == 60.0
    assert int(row["throttle_first_sync"]) == 12
    passes = res["rounds"][i]
    first = next(p for p in passes if p.throttle_pct > 0)
    assert res["status"][i] == "completed"
    # pass p ends with sync p + 2 (setup sync: 1) and runs at the throttle set at sync p + 1
    assert abs((first.index + 1) - 12) <= 2
    assert first.throttle_pct == pytest.approx(20)   # cpu-throttle-initial
    # with the writer's phase the model's syncs fall where QEMU's did (pass_times_ms), to the
    # window, up to the first throttle; after it the writer still outruns the cap (1.28 x) and the
    # outcome is a knife-edge of its arcs: QEMU went on to 60 % and 12.05 s, the model's arcs land
    # on pending pages at sync 16 and it stops at 4.4 s (the 63 % miss `migsim validate` reports)
    measured = [int(x.split(":")[1]) / 1e3 for x in row["pass_times_ms"].split(";")]
    model = [p.start_s + p.duration_s for p in passes]
    assert all(abs(m - q) <= 0.11 for m, q in zip(model[:12], measured[1:13])), (model, measured)


def test_auto_converge_not_needed_at_1_2_x_the_cap_sequential():
    """QEMU 7.2 converged at 1.2 x the cap without throttling (autoconverge-p0001). The writer's
    phase decides it: its arcs keep landing on pages still pending (models.sequential); the
    expectation over phases throttled to 30 % and took 6.4 s (the model bug this test kept as an
    expected failure until the phase was an input)."""
    rows, res = _measured("autoconverge")
    i = next(k for k, r in enumerate(rows) if r["run_id"] == "autoconverge-p0001-r0")
    assert float(rows[i]["max_throttle_pct"]) == 0.0
    assert res["max_throttle_pct"][i] == 0.0
    assert res["total_time_s"][i] == pytest.approx(float(rows[i]["total_time_s"]), rel=0.25)


def test_hot_sets_against_the_measured_runs():
    """Measured (sweeps/qemu/hotset.toml): a 16 MiB working set written at random at half the
    32 MB/s cap, plus a hot set of 256 KiB-4 MiB rewritten at 20-82 MB/s: QEMU converged every time
    in 1.21-1.43 s. The model must converge too, within 15 % (QEMU's own spread on hot-set points
    is 8.4 %, qemu-spread.csv)."""
    rows, res = _measured("hotset")
    assert len(rows) == 6
    for i, r in enumerate(rows):
        assert r["converged"] == "true"
        assert res["status"][i] == "completed", r["run_id"]
        assert res["total_time_s"][i] == pytest.approx(float(r["total_time_s"]), rel=0.15), r["run_id"]


def test_gives_up_after_three_passes_without_progress():
    """The model's rule for a pre-copy that cannot converge and has no remedy (models/precopy.py,
    STALLS_TO_GIVE_UP = 3, assumed: QEMU itself iterates until cancelled): it fails at the third
    pass in a row that leaves as much pending as the one before. A 256 MiB working set swept at
    twice the 100 MB/s cap is entirely dirty after every pass: round 0, then three passes."""
    r = simulate({"profile": "qemu", "memory_bytes": 2 * GIB, "wws_bytes": 256 * 2**20,
                  "dirty_rate_Bps": 200e6, "dirty_pattern": "sequential",
                  "max_bandwidth_Bps": 100e6}, detail=True)
    passes = r["rounds"][0]
    assert r["status"][0] == "failed" and "converge" in r["reason"][0]
    wws_pages = 256 * 2**20 / 4096
    assert all(p.pending_after == wws_pages for p in passes)
    assert len(passes) == 1 + 3


def test_qemu_without_auto_converge_fails_when_dirtying_beats_the_link():
    r = simulate({"profile": "qemu", "memory_bytes": 512 * 2**20, "wws_bytes": 64 * 2**20,
                  "dirty_rate_Bps": 1.5 * 32e6, "link_bps": 16e9, "max_bandwidth_Bps": 32e6})
    assert r["status"][0] == "failed" and "converge" in r["reason"][0]
    ac = simulate({"profile": "qemu", "memory_bytes": 512 * 2**20, "wws_bytes": 64 * 2**20,
                   "dirty_rate_Bps": 1.5 * 32e6, "link_bps": 16e9, "max_bandwidth_Bps": 32e6,
                   "auto_converge": True})
    assert ac["status"][0] == "completed" and ac["max_throttle_pct"][0] > 20


def test_sdps_throttles_just_enough_and_records_it():
    base = {"profile": "vsphere-5.1", "memory_bytes": 16 * GIB, "wws_bytes": 8 * GIB,
            "dirty_rate_Bps": 2e9, "link_bps": 10e9}
    r = simulate(base)
    assert r["status"][0] == "completed" and r["converged"][0]
    assert 0 < r["max_throttle_pct"][0] < 99
    off = simulate({**base, "sdps": False})
    assert off["max_throttle_pct"][0] == 0 and not off["converged"][0]


def test_vsphere_fails_past_max_switchover():
    # Without SDPS and a huge hot set on 1 GbE the switch-over would exceed 100 s.
    r = simulate({"profile": "vsphere-5.1", "memory_bytes": 64 * GIB, "wws_bytes": 32 * GIB,
                  "dirty_rate_Bps": 5e9, "link_bps": 1e9, "sdps": False})
    assert r["status"][0] == "failed" and "100" in r["reason"][0]
    # the VM stays on the source: no downtime, no total time (null), no connections moved
    assert np.isnan(r["downtime_ms"][0]) and np.isnan(r["total_time_s"][0])
    assert not r["connections_preserved"][0]


@pytest.mark.parametrize("seq", [0.0, 1.0])
@pytest.mark.parametrize("a", [1e-12, 1e-6, 0.05, 0.4, 3.0, 300.0])
@pytest.mark.parametrize("hot", [0.0, 500.0])
@pytest.mark.parametrize("extra, share", [(0.5, 50000.0), (0.0, 60000.0)])  # round 0, later passes
def test_skipped_pages_solve_the_pass_equation(seq, a, hot, extra, share):
    # Xen skips pages re-dirtied before their turn: sent = P - skipped(duration of sending them)
    from models.precopy import _sent_with_skips, _skip_fraction
    P, pps, a_hot = 60000.0, 4000.0, 2.0
    s = _sent_with_skips(P, pps, extra, share, a, seq, hot, a_hot)
    tau = s / pps + extra
    skipped = share * _skip_fraction(a * tau, seq)[0] + hot * _skip_fraction(a_hot * tau, 0.0)[0]
    assert 0.0 <= s <= P
    assert s == pytest.approx(P - skipped, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.just(0.0), st.floats(1e-9, 1e6)), st.floats(1e-12, 1e9))
def test_skip_root_is_the_positive_root(b, c):
    # x² − b·x = c·(1 − e^−x): against bisection in double precision. For b > 0 the root lies in
    # (b, (b + √(b² + 4c))/2]; for b = 0 in [c/(1 + c/2), c] (1 − e^−x between x − x²/2 and x).
    from models.precopy import _skip_root

    def g(x):
        return x * x - b * x + c * math.expm1(-x)

    lo, hi = (b, (b + math.sqrt(b * b + 4 * c)) / 2) if b > 0 else (c / (1 + c / 2) * 0.999, c)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
    assert _skip_root(b, c) == pytest.approx((lo + hi) / 2, rel=1e-12)


def test_skip_poly_holds_to_1e_14_over_its_interval_and_meets_the_iteration_at_1():
    # b = 0, c <= 1: the root is c times a polynomial; 600 points log-spaced down to 1e-9 and 600
    # evenly over [0, 1], against bisection; beyond 1 Halley's iteration takes over, continuously
    from models.precopy import _skip_root

    def root(c):
        lo, hi = c / (1 + c / 2) * 0.999, c
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mid * mid + c * math.expm1(-mid) < 0 else (lo, mid)
        return (lo + hi) / 2

    for c in np.concatenate([np.geomspace(1e-9, 1.0, 600), np.linspace(1e-3, 1.0, 600)]):
        assert _skip_root(0.0, c) == pytest.approx(root(c), rel=1e-14, abs=0.0)
    below, above = _skip_root(0.0, 1.0), _skip_root(0.0, math.nextafter(1.0, 2.0))
    assert above == pytest.approx(below, rel=1e-13)


@pytest.mark.parametrize("pattern", ["random", "sequential"])
@pytest.mark.parametrize("uncapped", [False, True])
def test_xen_steady_passes_in_reduced_form_equal_iterating_them(pattern, uncapped):
    """self-consistency: the reduced form against the pass-by-pass path of the same kernels (a bug
    in a shared kernel passes this; the physics is checked in test_independent_truth.py)."""
    # simulate() runs Xen's passes after round 0 in reduced form; the --rounds path iterates every
    # pass through the general kernels. Points cover every way a Xen pre-copy stops; without the
    # pass and traffic caps, runs of up to 70 passes.
    n = 60
    rng = np.random.default_rng(7)
    memory = np.exp(rng.uniform(np.log(1), np.log(64), n)) * GIB
    cols = {"profile": "xen-clark2005", "memory_bytes": memory, "wws_bytes": memory * rng.uniform(0.02, 1, n),
            "dirty_pattern": pattern, "link_bps": rng.choice([1e9, 10e9, 25e9], n),
            "dirty_rate_Bps": np.exp(rng.uniform(np.log(1e6), np.log(1e8), n))}
    over = {"xen-clark2005": {"max_rounds": np.inf, "max_traffic_factor": np.inf}} if uncapped else None
    fast = simulate(cols, over)
    slow = simulate(cols, over, detail=True)
    if uncapped:
        assert fast["precopy_rounds"].max() > 60
    else:
        assert fast["precopy_rounds"].max() == get_profile("xen-clark2005").max_rounds
        assert len(set(fast["reason"])) >= 3                # converged, pass cap, rate rule
    assert list(fast["reason"]) == list(slow["reason"])
    np.testing.assert_array_equal(fast["precopy_rounds"], slow["precopy_rounds"])
    for k in ("total_time_s", "transferred_bytes", "downtime_ms", "final_round_bytes"):
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9, err_msg=k)


def test_xen_final_round_goes_at_the_maximum_rate():
    # Clark 2005 §5.3: the stop-and-copy runs at the administrator's maximum (500 Mbit/s), not
    # at line rate
    r = simulate({"profile": "xen-clark2005", "memory_bytes": 512 * 2**20, "wws_bytes": 256 * 2**20,
                  "dirty_rate_Bps": 1e9, "link_bps": 10e9})
    pol = get_profile("xen-clark2005")
    copy_s = r["final_round_bytes"][0] / (pol.rate_max_bps / 8) + \
        r["device_transferred_bytes"][0] / (pol.rate_max_bps / 8)
    assert r["downtime_ms"][0] == pytest.approx((copy_s + pol.stop_s + pol.resume_s) * 1e3)


@pytest.mark.parametrize("pattern, exact", [("random", True), ("sequential", False)])
def test_passes_applied_in_closed_form_equal_iterating_them(pattern, exact):
    """self-consistency: closed form against iterating the same kernels."""
    # QEMU at a dirty rate just under the link: tens to hundreds of passes, which simulate() applies
    # in closed form and the --rounds path iterates one by one. Random writes: the same arithmetic.
    # A sequential chase across many bands is advanced in expectation over the band phase.
    n = 40
    cols = {"profile": "qemu", "memory_bytes": 8 * 2**30, "wws_bytes": 2 * 2**30,
            "dirty_pattern": pattern, "link_bps": 10e9, "max_bandwidth_Bps": 128 * 2**20,
            "dirty_rate_Bps": 128 * 2**20 * 4096 / 4104 * np.linspace(0.80, 0.97, n)}
    fast = simulate(cols)
    slow = simulate(cols, detail=True)
    assert fast["precopy_rounds"].max() > 50
    assert list(fast["status"]) == list(slow["status"])
    if exact:
        np.testing.assert_array_equal(fast["precopy_rounds"], slow["precopy_rounds"])
    else:
        assert np.abs(fast["precopy_rounds"] - slow["precopy_rounds"]).max() <= 1
    for k in ("total_time_s", "transferred_bytes"):
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9 if exact else 1e-3, err_msg=k)
    # the final pending pages lie in the same band of one check interval's pages either way
    np.testing.assert_allclose(fast["downtime_ms"], slow["downtime_ms"], rtol=1e-9 if exact else 0.05)


@pytest.mark.parametrize("timeout", [math.inf, 3600.0])
def test_the_closed_form_applies_without_a_timeout(timeout):
    """Passes that repeat their band are applied at once whatever the timeout. With none (the
    default), floor(inf) raised OverflowError in pure Python (NUMBA_DISABLE_JIT, the mode of
    bench/mutation_score.py, whose baseline then had to set 8 tests aside)."""
    from models import precopy
    from models.migration import prepare

    cfg = prepare({"profile": "qemu", "memory_bytes": 8 * 2**30, "wws_bytes": 2 * 2**30,
                   "dirty_pattern": "random", "link_bps": 10e9, "max_bandwidth_Bps": 128 * 2**20,
                   "dirty_rate_Bps": 0.9 * 128 * 2**20, "timeout_s": timeout}).cfg
    st = precopy.start(cfg)
    jumped = 0.0
    for _ in range(40):                     # iterate; after each pass, try the closed form
        pl = precopy.plan(cfg, st)
        st = precopy.finish(cfg, st, pl, precopy.pass_duration(cfg, st, pl))
        S = st.packed()
        before = S[0, precopy.S_SEG]
        precopy._fast_forward_row(cfg.packed(), S, 0)
        jumped = max(jumped, S[0, precopy.S_SEG] - before)
    assert jumped >= 1.0


def test_sdps_throttles_up_to_99_percent_then_forces():
    """SDPS (models/policy.py: throttle until dirtying is half the send rate, at most 99 %,
    assumed): a guest dirtying 50 GB/s over 1 GbE needs more than 99 %, so it is throttled to
    exactly 99 %, stalls there, and the switch-over is forced (vSphere completes the migration
    with a longer stun; it never gives up)."""
    r = simulate({"profile": "vsphere-5.1", "memory_bytes": 8 * GIB, "wws_bytes": 4 * GIB,
                  "dirty_rate_Bps": 50e9, "link_bps": 1e9})
    assert r["max_throttle_pct"][0] == pytest.approx(99.0)
    assert r["status"][0] == "completed" and r["forced"][0]


def test_sdps_off_forces_the_switchover_instead():
    """--sdps false: vSphere does not throttle; a pre-copy that stalls is forced to switch over
    (the VM is stunned with the pages still dirty), it does not fail."""
    r = simulate({"profile": "vsphere-5.1", "memory_bytes": 8 * GIB, "wws_bytes": 4 * GIB,
                  "dirty_rate_Bps": 2e9, "link_bps": 1e9, "sdps": False})
    assert r["max_throttle_pct"][0] == 0.0
    assert r["status"][0] == "completed" and r["forced"][0]


def test_auto_converge_steps_follow_qemu_defaults():
    """QEMU 7.2 (migration/ram.c, mig_throttle_guest_down and migration_trigger_throttle): once a
    second, if the guest dirtied more than throttle-trigger-threshold (50 %) of what was sent,
    for the second time in a row, the throttle starts at cpu-throttle-initial (20 %), then rises by
    cpu-throttle-increment (10 %) up to max-cpu-throttle (99 %). Passes here last over a second,
    so each sync is a check: the throttle set at the end of the third pass acts from the fourth on
    and rises every second pass."""
    r = simulate({"profile": "qemu", "memory_bytes": 2 * GIB, "wws_bytes": 256 * 2**20,
                  "dirty_rate_Bps": 20e9, "max_bandwidth_Bps": 100e6, "auto_converge": True},
                 detail=True)
    passes = r["rounds"][0]
    assert all(p.duration_s > 1.0 for p in passes)
    steps = [round(p.throttle_pct, 6) for p in passes]
    assert steps[:6] == [0, 0, 0, 20, 20, 30]
    seen = [s for i, s in enumerate(steps) if s and (i == 0 or steps[i - 1] != s)]
    assert seen == [20, 30, 40, 50, 60, 70, 80, 90, 99]
    assert r["max_throttle_pct"][0] == pytest.approx(99.0)


def test_auto_converge_triggers_above_half_of_what_is_sent():
    """A guest dirtying 75 % of the cap at random over a 3 GiB working set: more than the 50 %
    trigger, so auto-converge throttles it (and a guest dirtying 40 % of it is left alone)."""
    def run(rho):
        return simulate({"profile": "qemu", "memory_bytes": 4 * GIB, "wws_bytes": 3 * GIB,
                         "dirty_rate_Bps": rho * 100e6, "max_bandwidth_Bps": 100e6,
                         "auto_converge": True})
    busy, calm = run(0.75), run(0.40)
    assert busy["status"][0] == "completed" and busy["max_throttle_pct"][0] >= 20
    assert calm["max_throttle_pct"][0] == 0.0


def test_auto_converge_tries_its_largest_throttle_before_giving_up():
    """A guest dirtying 5 GB/s against a 100 MB/s cap still outruns the cap at a 90 % throttle
    (500 MB/s) but not at QEMU's 99 % maximum (50 MB/s): QEMU then converges. The model used to
    give up at the sync that set 99 %, before any pass ran at it."""
    r = simulate({"profile": "qemu", "memory_bytes": 2 * GIB, "wws_bytes": 256 * 2**20,
                  "dirty_rate_Bps": 5e9, "max_bandwidth_Bps": 100e6, "auto_converge": True},
                 detail=True)
    assert r["status"][0] == "completed"
    assert r["max_throttle_pct"][0] == pytest.approx(99.0)
    assert r["rounds"][0][-1].throttle_pct == pytest.approx(99.0)


# ------------------------------------------------------------------ the sender's socket buffer
ONE_PASS = {"profile": "qemu", "memory_bytes": 256 * 2**20, "zero_fraction": 0.0,
            "dirty_rate_Bps": 0.0, "link_bps": 400e6, "efficiency": 1.0, "device_state_bytes": 0}


def test_a_link_bound_sender_gains_its_send_buffer_once():
    """QEMU's clock is the sender's: a link-bound round 0 fills the 4 MiB socket buffer at once
    and keeps 5/6 of it queued ahead of the wire, so the copy ends 5/6 x 4 MiB / rate earlier
    than the wire finishes; a rate-limited sender waits for its windows, not for the socket."""
    from models.precopy import SEND_AHEAD_SHARE

    assert SEND_AHEAD_SHARE == pytest.approx(5 / 6)       # woken with a third of it free
    none = {"qemu": {"send_buffer_bytes": 0}}
    link_bound = dict(ONE_PASS, max_bandwidth_Bps=np.inf)
    r, r0 = simulate(link_bound), simulate(link_bound, overrides=none)
    rate = 400e6 / 8
    assert r0["total_time_s"][0] - r["total_time_s"][0] == pytest.approx(
        5 / 6 * 4 * 2**20 / rate, rel=1e-9)
    assert r["memory_transferred_bytes"][0] == r0["memory_transferred_bytes"][0]   # every byte
    assert r["downtime_ms"][0] <= 300 and r0["downtime_ms"][0] <= 300   # checks fall elsewhere
    capped = dict(ONE_PASS, max_bandwidth_Bps=16e6)
    assert simulate(capped)["total_time_s"][0] == simulate(capped, overrides=none)["total_time_s"][0]
    for other in ("vsphere-5.1", "hyperv-2012", "xen"):       # their times end at the destination
        assert get_profile(other).send_buffer_bytes == 0


def test_the_measured_sender_runs_five_sixths_of_its_buffer_ahead():
    """query-migrate's transferred bytes (the sender's) minus what a 100 or 200 Mbit/s link
    carried by then, during round 0 of three shaped runs (train part): the lead saws between
    2/3 and all of the 4 MiB send buffer, and averages 5/6 of it (SEND_AHEAD_SHARE)."""
    import json
    from pathlib import Path

    from models.precopy import SEND_AHEAD_SHARE

    data = json.loads((Path(__file__).parents[1] / "data" / "qemu-samples-shaped.json").read_text())
    rates = {"shaped-p0000-r0": 100e6 / 8, "shaped-p0003-r0": 200e6 / 8, "shaped-p0012-r0": 200e6 / 8}
    buffer = 4 * 2**20
    for run, samples in data["runs"].items():
        lead = np.array([sent - rates[run] * t_ms / 1e3 for t_ms, sent, syncs in samples
                         if syncs == 1 and t_ms >= 100])
        assert len(lead) >= 8
        assert 0.6 * buffer <= lead.min() and lead.max() <= 1.1 * buffer, (run, lead / buffer)
        assert lead.mean() == pytest.approx(SEND_AHEAD_SHARE * buffer, rel=0.1), run
