"""Storage migration: shared storage, synchronous mirroring, iterative dirty-block pre-copy.

* shared (SAN datastore, SMB 3.0 share): no disk bytes move.
* mirror (Storage vMotion since ESX 5.0, Hyper-V storage migration): one bulk pass over the disk at
  the copy rate ``c``; meanwhile every guest write to an already-copied region is sent to both sides
  and acknowledged when both acknowledge. With the copied share ``x(t)`` and guest writes ``w``
  spread uniformly over the disk, mirror traffic is ``w·x`` and competes with the bulk copy:
  ``S·dx/dt = c − w·x``, so ``x(t) = (c/w)(1 − e^{−wt/S})`` and the pass ends at
  ``T = −(S/w)·ln(1 − w/c)``; the mirror carried ``c·T − S`` bytes. Synchronous writes cannot outrun
  the path: the guest's writes are slowed to at most ``mirror_max_share·c`` (recorded), so the
  mirror always converges. Each mirrored write waits one extra round trip.
* iterative (ESX 4.x): pre-copy over disk blocks, like memory pre-copy: pass 0 copies the disk,
  pass i the blocks written during pass i−1 (random writes over the disk's rewritten region),
  until the rest fits the switch-over goal or the pass cap; the rest is copied with the VM
  suspended.

Not modelled: per-block tracking granularity, multiple disks in parallel (5.1 copies up to 4),
datastore contention between migrations (the scenario engine shares links only), thin provisioning.
Source: Mashtizadeh et al., "The Design and Evolution of Live Storage Migration in VMware ESX",
USENIX ATC 2011 (docs/references.md).
"""

from __future__ import annotations

import math

from models.jit import kernel
from models.workload import unique_dirtied

BLOCK_BYTES = 65536.0      # dirty-tracking granularity of the iterative copy (assumed)
MAX_PASSES = 1000          # simulator budget of iterative passes


@kernel
def mirror_one(disk_bytes: float, write_Bps: float, copy_Bps: float,
               max_share: float) -> tuple[float, float, float]:
    """Bulk copy with synchronous mirroring of writes to copied regions.

    Parameters
    ----------
    disk_bytes : float
        Disk size S, bytes.
    write_Bps : float
        Guest write rate w, bytes/s.
    copy_Bps : float
        Copy path throughput c, bytes/s (> 0).
    max_share : float
        Largest share of the path the mirrored writes may take, in (0, 1).

    Returns
    -------
    time_s, mirror_bytes, mirror_write_Bps : float
        Duration of the bulk pass, guest writes mirrored during it, and the guest write rate
        while mirroring (after any slow-down).
    """
    w = min(write_Bps, max_share * copy_Bps)
    if disk_bytes <= 0.0:
        return 0.0, 0.0, w
    if w > 0.0:
        T = -(disk_bytes / w) * math.log1p(-(w / copy_Bps))
    else:
        T = disk_bytes / copy_Bps
    return T, max(copy_Bps * T - disk_bytes, 0.0), w


@kernel
def iterative_one(disk_bytes: float, write_Bps: float, disk_wws_bytes: float, copy_Bps: float,
                  limit_s: float, max_rounds: float) -> tuple[float, float, float, float, bool]:
    """ESX 4.x iterative dirty-block pre-copy of a disk.

    Parameters
    ----------
    disk_bytes : float
        Disk size, bytes.
    write_Bps : float
        Guest write rate, bytes/s (random over ``disk_wws_bytes``).
    disk_wws_bytes : float
        Region of the disk that is rewritten, bytes.
    copy_Bps : float
        Copy throughput, bytes/s.
    limit_s : float
        Stop when the dirty blocks can be copied within this time.
    max_rounds : float
        Pass cap; the rest is copied with the VM suspended (forced).

    Returns
    -------
    time_s, copied_bytes, final_s, passes, forced : float, float, float, float, bool
        Duration with the VM running, disk bytes copied in all (the final copy included), the
        final copy with the VM suspended, passes over the disk, and whether the pass cap was hit.
    """
    if disk_bytes <= 0.0:
        return 0.0, 0.0, 0.0, 0.0, False
    wws_blocks = max(disk_wws_bytes / BLOCK_BYTES, 1e-300)
    w_blocks = write_Bps / BLOCK_BYTES
    pending = disk_bytes
    total = 0.0
    t = 0.0
    rounds = 0.0
    forced = False
    while rounds < min(max_rounds, MAX_PASSES):
        tau = pending / copy_Bps
        total += pending
        t += tau
        rounds += 1.0
        pending = unique_dirtied(w_blocks, wws_blocks, tau, 0.0) * BLOCK_BYTES
        if pending / copy_Bps <= limit_s:
            break
        if rounds >= max_rounds:
            forced = True
    return t, total + pending, pending / copy_Bps, rounds, forced
