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

Sources: docs/references.md (vMotion switch-over, device state sizes, RARP, same-subnet requirement;
Hyper-V unsolicited ARP; Clark 2005 resume 9-40 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.jit import kernel, loop


@dataclass(frozen=True)
class Switchover:
    """Per-point switch-over results (arrays of shape (n,))."""

    downtime_s: np.ndarray
    final_bytes: np.ndarray        # memory wire bytes sent while stopped
    device_bytes: np.ndarray
    too_long: np.ndarray           # bool: exceeds the profile's maximum switch-over


@kernel
def switch_over_one(final_pages: float, wire_page: float, rate_Bps: float, mem_cap_pps: float,
                    device_bytes: float, stop_s: float, resume_s: float, extra_s: float,
                    max_switchover_s: float) -> tuple[float, float, bool]:
    """The stop-and-copy of one migration.

    Parameters
    ----------
    final_pages : float
        Pages still dirty when the guest stops.
    wire_page : float
        Wire bytes per page (header and compression included).
    rate_Bps : float
        Wire rate during the stop-and-copy, bytes/s.
    mem_cap_pps : float
        Pages/s bound from compression CPU.
    device_bytes : float
        Serialized device state, bytes.
    stop_s : float
        Time to stop (suspend) the guest before the copy, s.
    resume_s : float
        Time to resume on the destination, s.
    extra_s : float
        Other work done while stopped (final storage copy), s.
    max_switchover_s : float
        Longest switch-over the profile accepts (inf: any).

    Returns
    -------
    downtime_s, final_bytes, too_long : float, float, bool
    """
    final_bytes = final_pages * wire_page
    send_s = max(final_bytes / rate_Bps, final_pages / mem_cap_pps) + device_bytes / rate_Bps
    # the profile's maximum bounds everything sent while the guest is stopped: the last pages, the
    # device state and a storage copy finished with the VM suspended (iterative storage)
    return stop_s + send_s + resume_s + extra_s, final_bytes, send_s + extra_s > max_switchover_s


@loop
def _switch_over_all(a, down, final, too):
    for i in range(a.shape[1]):
        down[i], final[i], too[i] = switch_over_one(a[0, i], a[1, i], a[2, i], a[3, i], a[4, i],
                                                    a[5, i], a[6, i], a[7, i], a[8, i])


def switch_over(final_pages: np.ndarray, wire_page: np.ndarray, rate_Bps: np.ndarray,
                mem_cap_pps: np.ndarray, device_bytes: np.ndarray, stop_s: np.ndarray,
                resume_s: np.ndarray, extra_s: np.ndarray, max_switchover_s: np.ndarray) -> Switchover:
    """:func:`switch_over_one` for arrays (broadcast to a common shape (n,))."""
    args = np.broadcast_arrays(final_pages, wire_page, rate_Bps, mem_cap_pps, device_bytes, stop_s,
                               resume_s, extra_s, max_switchover_s)
    a = np.array(args, dtype=np.float64).reshape(9, -1)
    n = a.shape[1]
    down, final, too = np.empty(n), np.empty(n), np.empty(n, dtype=np.bool_)
    _switch_over_all(a, down, final, too)
    return Switchover(down, final, a[4].copy(), too)

