"""Published measurements (REFERENCES.md): Hyper-V 2012 and Clark et al. 2005 (Xen)."""

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
