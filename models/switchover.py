"""Switch-over: the downtime, the device state, and the network move.

The source stops the guest, sends the pages still dirty and the serialized device state (CPU, NIC,
disk adapters, SVGA: typically a few MB, can exceed 100 MB), and the destination resumes it. The
downtime is ``stop + final bytes / rate + device state / rate + resume``; QEMU sends this at the uncapped
link rate (it lifts max-bandwidth), Xen at its maximum adapted rate. vSphere fails a migration whose
switch-over would exceed ``maxSwitchoverSeconds`` (100 s): the VM keeps running on the source.
The vNIC keeps its MAC and the destination announces it (RARP for vMotion, unsolicited ARP for
Hyper-V, gratuitous ARP/RARP for QEMU and Xen) so switches learn the new port; established
connections survive only when source and destination share the VM's L2 subnet. Not modelled:
switch MAC-table convergence time, storage-path failover, application-level reconnects.

Sources: REFERENCES.md (vMotion switch-over, device state sizes, RARP, same-subnet requirement;
Hyper-V unsolicited ARP; Clark 2005 resume 9-40 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Switchover:
    """Per-point switch-over results (arrays of shape (n,))."""

    downtime_s: np.ndarray
    final_bytes: np.ndarray        # memory wire bytes sent while stopped
    device_bytes: np.ndarray
    too_long: np.ndarray           # bool: exceeds the profile's maximum switch-over


def switch_over(final_pages: np.ndarray, wire_page: np.ndarray, rate_Bps: np.ndarray,
                mem_cap_pps: np.ndarray, device_bytes: np.ndarray, stop_s: np.ndarray,
                resume_s: np.ndarray, extra_s: np.ndarray, max_switchover_s: np.ndarray) -> Switchover:
    """Compute the stop-and-copy.

    Parameters
    ----------
    final_pages : ndarray
        Pages still dirty when the guest stops.
    wire_page : ndarray
        Wire bytes per page (header and compression included).
    rate_Bps : ndarray
        Wire rate during the stop-and-copy, bytes/s.
    mem_cap_pps : ndarray
        Pages/s bound from compression CPU.
    device_bytes : ndarray
        Serialized device state, bytes.
    stop_s : ndarray
        Time to stop (suspend) the guest before the copy, s.
    resume_s : ndarray
        Time to resume on the destination, s.
    extra_s : ndarray
        Other work done while stopped (final storage copy), s.
    max_switchover_s : ndarray
        Longest switch-over the profile accepts (inf: any).

    Returns
    -------
    Switchover
    """
    final_bytes = final_pages * wire_page
    copy_s = np.maximum(final_bytes / rate_Bps, final_pages / mem_cap_pps)
    send_s = copy_s + device_bytes / rate_Bps
    downtime = stop_s + send_s + resume_s + extra_s
    return Switchover(downtime, final_bytes, device_bytes.astype(float), send_s > max_switchover_s)


def connections_preserved(same_subnet: np.ndarray) -> np.ndarray:
    """Connections survive the move only within one L2 subnet (the MAC moves, the IP stays)."""
    return same_subnet.astype(bool)
