"""Published measurements (docs/references.md): Hyper-V 2012 and Clark et al. 2005 (Xen).

Two kinds of test, kept apart:

* **validation** (``test_hyperv_*``): every input is given by the publication (an idle 512 MB VM on
  1 or 10 GbE; an 8 GB VM per transport) and nothing is chosen per row;
* **calibration** (``test_clark_calibration_*``): the paper names its workloads (a web server,
  SPECweb99, Quake 3) but not their dirty rates, so each row is given a workload chosen to fit
  it, and its own resume time. These show the Xen mechanisms CAN reproduce the paper's rows, not
  that the model predicts them; they are not evidence of accuracy.
"""

import pytest

from models.migration import simulate

MIB = 2.0**20


@pytest.mark.parametrize("link, seconds", [("1GbE", 7.0), ("10GbE", 5.0)])
def test_hyperv_2012_512mb_vm(link, seconds):
    # One 512 MB VM, idle: 1 GbE saturated (~119-123 MB/s), 10 GbE single stream ~339 MB/s,
    # plus Hyper-V's fixed overhead.
    bps = {"1GbE": 1e9, "10GbE": 10e9}[link]
    r = simulate({"profile": "hyperv-2012", "memory_bytes": 512 * MIB, "link_bps": bps})
    assert r["status"][0] == "completed"
    assert r["total_time_s"][0] == pytest.approx(seconds, rel=0.15)
    if link == "1GbE":
        assert 119e6 * 0.97 <= r["effective_rate_Bps"][0] <= 123e6
    else:
        assert r["effective_rate_Bps"][0] == pytest.approx(339e6)


def test_hyperv_2012_r2_transports_8gb():
    # Vendor demo, 8 GB VM: TCP on 1 GbE over 60 s, compression ~15 s, SMB Direct 10 GbE under 10 s.
    base = {"profile": "hyperv-2012", "memory_bytes": 8e9, "compressibility": 8.0}
    tcp = simulate({**base, "link_bps": 1e9, "transport": "tcp"})["total_time_s"][0]
    comp = simulate({**base, "link_bps": 1e9, "transport": "compression"})["total_time_s"][0]
    smb = simulate({**base, "link_bps": 10e9, "transport": "smb"})["total_time_s"][0]
    assert tcp > 60
    assert comp == pytest.approx(15, rel=0.3)
    assert smb < 10


# calibration: Clark et al. 2005 (Xen, gigabit LAN). The paper gives the workloads by name, not
# their dirty rates, so each row is given one plausible workload: a writable working set (wws) rewritten at a
# moderate rate and, for the web servers, the same small hot set (8 MB) rewritten much faster.
# Resume times are the paper's own split of the downtime where it gives one.
CLARK = {
    # name: (memory, wws, dirty_rate, hot_set, hot_rate, resume_s)
    "web": (800e6, 64e6, 3e6, 8e6, 200e6, None),
    "specweb": (800e6, 128e6, 20e6, 8e6, 200e6, 0.009),
    "quake": (64 * 2**20, 16e6, 16e6, 0.0, 0.0, 0.040),
}


def clark(name, **extra):
    mem, wws, rate, hot, hot_rate, resume = CLARK[name]
    over = {"xen-clark2005": {"resume_s": resume}} if resume is not None else None
    cols = {"profile": "xen-clark2005", "memory_bytes": mem, "wws_bytes": wws, "dirty_rate_Bps": rate,
            "hot_set_bytes": hot, "hot_rate_Bps": hot_rate, "link_bps": 1e9, **extra}
    return simulate(cols, overrides=over, detail=True)


def test_clark_calibration_simple_web_server():
    # first pass ~776 MB in ~62 s at 100 Mbit/s, then ~9.8 s more; downtime ~165 ms
    r = clark("web")
    first = r["rounds"][0][0]
    assert first.rate_Bps * 8 == pytest.approx(100e6)
    assert first.wire_bytes == pytest.approx(776e6, rel=0.15)
    assert first.duration_s == pytest.approx(62, rel=0.15)
    assert r["downtime_ms"][0] == pytest.approx(165, rel=0.15)


def test_clark_calibration_specweb():
    # ~960 MB sent for 800 MB (x1.20), last round ~18.2 MB, downtime 210 ms
    r = clark("specweb")
    assert r["memory_transferred_bytes"][0] / 800e6 == pytest.approx(1.20, rel=0.15)
    assert r["downtime_ms"][0] == pytest.approx(210, rel=0.15)
    # The paper's 18.2 MB in 201 ms is 724 Mbit/s, above the 500 Mbit/s at which it says the final
    # round goes; with the final round at the maximum rate, a 210 ms downtime holds ~12 MB.
    assert 0.5 * 18.2e6 < r["final_round_bytes"][0] < 18.2e6


def test_clark_calibration_quake3():
    # ~88 MB sent for 64 MB (x1.37), last round ~148 KB, downtime 60 ms
    r = clark("quake")
    assert r["memory_transferred_bytes"][0] / (64 * 2**20) == pytest.approx(1.37, rel=0.15)
    assert r["downtime_ms"][0] == pytest.approx(60, rel=0.15)
    assert r["final_round_bytes"][0] < 1e6


def test_clark_rates_adapt_from_100_to_500_mbit():
    """validation of the published rule (first round 100 Mbit/s, capped at 500 Mbit/s)."""
    passes = clark("specweb")["rounds"][0]
    rates = [p.rate_Bps * 8 for p in passes]
    assert rates[0] == pytest.approx(100e6)
    assert all(r <= 500e6 + 1 for r in rates)
    assert rates[-1] > rates[1]


def diabolical():
    return simulate({"profile": "xen-clark2005", "memory_bytes": 512 * 2**20, "wws_bytes": 256 * 2**20,
                     "dirty_rate_Bps": 60e6, "dirty_pattern": "sequential", "link_bps": 1e9},
                    detail=True)


def test_clark_constant_writes_cannot_converge():
    # 512 MB VM sweeping a 256 MB region: round 0 sends the other half (the region's pages are
    # re-dirtied before their turn and skipped), the rate climbs to the maximum by the third round,
    # then the VM is suspended: ~638 MB sent (x1.25), last round ~222.5 MB at 500 Mbit/s, ~3.5 s.
    # validation: the workload is given by the paper (a process writing a 256 MB region of a
    # 512 MB VM as fast as it can: modelled as a sequential sweep at 60 MB/s, assumed); the paper
    # gives no number of rounds, so none is asserted (issue 15: `len(passes) == 3` had no source).
    r = diabolical()
    assert r["status"][0] == "completed" and r["forced"][0] and not r["converged"][0]
    passes = r["rounds"][0]
    assert passes[0].rate_Bps * 8 == pytest.approx(100e6)      # §5.3: the first round at 100
    assert passes[0].wire_bytes < 0.6 * 512 * 2**20
    assert all(p.rate_Bps * 8 <= 500e6 * (1 + 1e-12) for p in passes)
    assert r["final_round_bytes"][0] == pytest.approx(222.5e6, rel=0.15)
    assert r["memory_transferred_bytes"][0] / (512 * 2**20) == pytest.approx(1.25, rel=0.15)
    assert r["downtime_ms"][0] == pytest.approx(3500, rel=0.15)
