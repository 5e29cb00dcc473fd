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
USENIX ATC 2011 (REFERENCES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.workload import unique_dirtied


@dataclass(frozen=True)
class StorageResult:
    """Per-point storage phase results (arrays of shape (n,))."""

    time_s: np.ndarray             # storage phase duration (VM running)
    copied_bytes: np.ndarray       # bulk and re-copied disk bytes
    mirror_bytes: np.ndarray       # guest writes mirrored during the phase
    mirror_write_Bps: np.ndarray   # guest write rate while mirroring (after any slow-down)
    final_s: np.ndarray            # disk copy with the VM suspended (iterative only)
    final_bytes: np.ndarray
    rounds: np.ndarray             # passes over the disk
    forced: np.ndarray             # iterative pass cap hit


def mirror(disk_bytes: np.ndarray, write_Bps: np.ndarray, copy_Bps: np.ndarray,
           max_share: np.ndarray) -> StorageResult:
    """Bulk copy with synchronous mirroring of writes to copied regions.

    Parameters
    ----------
    disk_bytes : ndarray
        Disk size S, bytes.
    write_Bps : ndarray
        Guest write rate w, bytes/s.
    copy_Bps : ndarray
        Copy path throughput c, bytes/s (> 0).
    max_share : ndarray
        Largest share of the path the mirrored writes may take, in (0, 1).

    Returns
    -------
    StorageResult
    """
    w = np.minimum(write_Bps, max_share * copy_Bps)
    c = copy_Bps
    S = disk_bytes
    ratio = w / c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        T = np.where(w > 0, -(S / np.maximum(w, 1e-300)) * np.log1p(-ratio), S / c)
    T = np.where(S > 0, T, 0.0)
    mirror_bytes = np.maximum(c * T - S, 0.0)
    z = np.zeros_like(S)
    return StorageResult(T, S.astype(float), mirror_bytes, w, z, z.copy(), np.where(S > 0, 1, 0),
                         np.zeros(S.shape, dtype=bool))


def iterative(disk_bytes: np.ndarray, write_Bps: np.ndarray, disk_wws_bytes: np.ndarray,
              copy_Bps: np.ndarray, limit_s: np.ndarray, max_rounds: np.ndarray,
              block_bytes: float = 65536.0) -> StorageResult:
    """ESX 4.x iterative dirty-block pre-copy of a disk.

    Parameters
    ----------
    disk_bytes : ndarray
        Disk size, bytes.
    write_Bps : ndarray
        Guest write rate, bytes/s (random over ``disk_wws_bytes``).
    disk_wws_bytes : ndarray
        Region of the disk that is rewritten, bytes.
    copy_Bps : ndarray
        Copy throughput, bytes/s.
    limit_s : ndarray
        Stop when the dirty blocks can be copied within this time.
    max_rounds : ndarray
        Pass cap; the rest is copied with the VM suspended (forced).
    block_bytes : float
        Dirty-tracking granularity (64 KiB, assumed).

    Returns
    -------
    StorageResult
    """
    S = disk_bytes.astype(float)
    wws_blocks = np.maximum(disk_wws_bytes / block_bytes, 1e-300)
    w_blocks = write_Bps / block_bytes
    pending = S.copy()
    total = np.zeros_like(S)
    t = np.zeros_like(S)
    rounds = np.zeros(S.shape, dtype=np.int64)
    active = S > 0
    forced = np.zeros(S.shape, dtype=bool)
    rnd = np.zeros(S.shape, dtype=bool)
    for _ in range(int(np.max(np.where(active, np.minimum(max_rounds, 1000), 0), initial=0))):
        if not active.any():
            break
        tau = np.where(active, pending / copy_Bps, 0.0)
        total += np.where(active, pending, 0.0)
        t += tau
        rounds += active
        new = unique_dirtied(w_blocks, wws_blocks, tau, rnd) * block_bytes
        pending = np.where(active, new, pending)
        fits = pending / copy_Bps <= limit_s
        capped = rounds >= max_rounds
        forced |= active & ~fits & capped
        active &= ~fits & ~capped
    final_bytes = np.where(S > 0, pending, 0.0)
    return StorageResult(t, total + final_bytes, np.zeros_like(S), np.zeros_like(S),
                         final_bytes / copy_Bps, final_bytes, rounds, forced)
