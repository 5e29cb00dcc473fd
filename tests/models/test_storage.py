"""Storage migration: synchronous mirror (closed form), iterative dirty-block pre-copy, modes."""

import numpy as np
import pytest

from models import storage
from models.migration import simulate

GB = 1e9


def test_mirror_without_writes_is_one_pass():
    time_s, mirror_bytes, _ = storage.mirror_one(100 * GB, 0.0, 200e6, 0.5)
    assert time_s == pytest.approx(500)
    assert mirror_bytes == 0


def test_mirror_closed_form_and_conservation():
    S, w, c = 100 * GB, 50e6, 200e6
    time_s, mirror_bytes, _ = storage.mirror_one(S, w, c, 0.5)
    T = -(S / w) * np.log(1 - w / c)
    assert time_s == pytest.approx(T)
    # every byte of the path went to the bulk copy (the whole disk) or to mirrored writes
    assert S + mirror_bytes == pytest.approx(c * T)
    # mirrored writes are those that hit copied regions: less than all writes during the pass
    assert 0 < mirror_bytes < w * T


def test_mirror_always_converges_by_slowing_writes():
    time_s, _, write_Bps = storage.mirror_one(10 * GB, 5e9, 200e6, 0.5)
    assert np.isfinite(time_s)
    assert write_Bps == pytest.approx(100e6)


def test_iterative_converges_or_is_forced():
    _, _, final_s, passes, forced = storage.iterative_one(50 * GB, 10e6, 5 * GB, 200e6, 0.5, 10.0)
    assert not forced and passes > 1
    assert final_s * 200e6 <= 200e6 * 0.5
    _, _, _, passes, forced = storage.iterative_one(50 * GB, 400e6, 50 * GB, 200e6, 0.5, 10.0)
    assert forced and passes == 10


def test_modes_end_to_end():
    base = {"profile": "vsphere-5.1", "memory_bytes": 8 * 2**30, "disk_bytes": 100 * GB,
            "disk_write_rate_Bps": 20e6, "dirty_rate_Bps": 50e6, "wws_bytes": 2**30,
            "link_bps": 10e9, "rtt_ms": 1.0}
    modes = np.array(["shared", "mirror", "iterative", "shared-nothing"], dtype=object)
    r = simulate({**base, "storage": modes})
    shared, mirror, iterative, nothing = range(4)
    assert all(r["status"] == "completed")
    assert r["storage_transferred_bytes"][shared] == 0 and r["storage_s"][shared] == 0
    # storage-only migrations move the disk but no memory over the network
    assert r["memory_transferred_bytes"][mirror] == 0 and r["storage_transferred_bytes"][mirror] == 100 * GB
    assert r["mirror_transferred_bytes"][mirror] > 0
    assert r["storage_transferred_bytes"][iterative] > 100 * GB
    # shared-nothing: disk first, then memory; mirrored writes cost a round trip each
    assert r["storage_s"][nothing] > 0 and r["memory_transferred_bytes"][nothing] > 8 * 2**30
    assert r["write_latency_penalty_ms"][nothing] == pytest.approx(1.0)
    assert r["total_time_s"][nothing] > r["total_time_s"][shared] + r["storage_s"][nothing] * 0.99
    assert r["transferred_bytes"][nothing] > r["transferred_bytes"][shared]


def test_moving_storage_needs_a_disk():
    r = simulate({"profile": "hyperv-2012", "storage": "shared-nothing", "disk_bytes": 0.0})
    assert r["status"][0] == "rejected" and "disk" in r["reason"][0]


def test_a_storage_only_move_does_not_cross_the_migration_network():
    """Issue 11: a same-host Storage vMotion was refused for vMotion's network rules."""
    slow_net = {"profile": "vsphere-5.1", "disk_bytes": 20 * 2**30, "link_bps": 100e6,
                "rtt_ms": 20.0, "same_subnet": False}
    r = simulate({**slow_net, "storage": np.array(["mirror", "iterative", "shared-nothing"],
                                                  dtype=object)})
    assert list(r["status"][:2]) == ["completed", "completed"]
    assert r["status"][2] == "rejected"            # a shared-nothing vMotion crosses the network


def test_iterative_copy_obeys_the_switchover_maximum_and_flags_agree():
    """Issue 11: 100 GiB at 1 TB/s of writes 'completed' with 537 s of downtime, converged and
    forced at once."""
    r = simulate({"profile": "vsphere-5.1", "storage": "iterative", "disk_bytes": 100 * 2**30,
                  "disk_write_rate_Bps": np.array([1e12, 1e6])})
    assert r["status"][0] == "failed" and "100 s" in r["reason"][0]
    assert not (r["converged"] & r["forced"]).any()
    assert r["status"][1] == "completed" and r["downtime_ms"][1] < 100e3


def test_the_mirror_reports_how_much_it_slows_guest_writes():
    """Issue 11: writes of 80 and 150 MB/s were capped at half the copy rate silently."""
    r = simulate({"profile": "vsphere-5.1", "storage": "mirror", "disk_bytes": 40 * 2**30,
                  "storage_rate_Bps": 200e6, "disk_write_rate_Bps": np.array([80e6, 150e6, 0.0])})
    # the mirror may take half of the 200 MB/s path: 150 MB/s of writes are held to 100 MB/s
    assert r["disk_write_throttle_pct"] == pytest.approx([0.0, 100 / 3, 0.0])
    assert r["storage_s"][1] > r["storage_s"][0] > r["storage_s"][2]
    shared = simulate({"profile": "vsphere-5.1", "disk_write_rate_Bps": 150e6})
    assert shared["disk_write_throttle_pct"][0] == 0.0     # nothing mirrored, nothing slowed
