"""Network link: the throughput one migration stream achieves, and what the profile refuses.

A migration sends over ``nics`` NICs of line rate ``link`` (bit/s). Its payload rate is the line
rate times the protocol efficiency (TCP/IPv4 over Ethernet at MTU 1500: 1460/1538 ≈ 0.949), bounded
per stream by the stream cap (Hyper-V's single TCP stream peaks near 339 MB/s on 10 GbE) and by the
TCP window over the round trip (``window / RTT``). Multi-channel transports (vMotion multi-NIC, SMB
Multichannel) open one stream per NIC, up to the profile's NIC limit (vMotion: 16 × 1 GbE or
4 × 10 GbE); single-stream transports use one NIC. A migration bandwidth cap (QEMU
``max-bandwidth``) bounds the pre-copy; QEMU lifts it for the stop-and-copy. Compressing transports
(Hyper-V 2012 R2) divide wire bytes by the memory's compressibility and are bounded by how fast the
idle CPUs compress. Not modelled: packet loss, TCP slow start, congestion from other traffic (the
scenario engine shares NICs between concurrent streams), jumbo frames (set ``efficiency``).

Sources: docs/references.md (vMotion NIC and RTT limits, Hyper-V transports and measured rates).
"""

from __future__ import annotations

import math

from models.jit import kernel


@kernel
def stream_rates(link_bps: float, nics: float, efficiency: float, stream_cap_Bps: float,
                 rtt_ms: float, tcp_window_bytes: float, multichannel: bool, max_nics: float,
                 max_bandwidth_Bps: float, cap_lifted: bool, compress: bool, compressibility: float,
                 compress_Bps: float) -> tuple[float, float, float, float, float]:
    """Rates of one migration stream on an otherwise idle link.

    Parameters
    ----------
    link_bps : float
        Line rate of each NIC, bit/s (> 0).
    nics : float
        NICs configured for migration (>= 1).
    efficiency : float
        Payload share of the line rate, (0, 1].
    stream_cap_Bps : float
        Per-stream throughput cap, bytes/s (inf: none).
    rtt_ms : float
        Round-trip time, ms (>= 0).
    tcp_window_bytes : float
        Per-stream window, bytes; a stream carries at most window / RTT.
    multichannel : bool
        One stream per NIC (True) or a single stream (False).
    max_nics : float
        NICs the profile lets one migration use on this link speed.
    max_bandwidth_Bps : float
        Migration bandwidth cap, bytes/s (inf: none).
    cap_lifted : bool
        Cap lifted for the stop-and-copy.
    compress : bool
        Memory compressed before sending.
    compressibility : float
        Compression ratio of the memory (>= 1).
    compress_Bps : float
        Memory bytes/s the CPUs can compress.

    Returns
    -------
    wire_Bps, precopy_Bps, switchover_Bps, wire_factor, memory_cap_Bps : float
        Payload rate the NICs carry for this migration (no cap); wire bytes/s during pre-copy
        (cap applied) and during the stop-and-copy; wire bytes per memory byte (1 /
        compressibility when compressing, else 1); memory bytes/s bound from compression CPU
        (inf when not compressing).
    """
    per_stream = min(link_bps / 8.0 * efficiency, stream_cap_Bps)
    if rtt_ms > 0.0:
        per_stream = min(per_stream, tcp_window_bytes / rtt_ms * 1e3)
    wire = per_stream * (min(nics, max_nics) if multichannel else 1.0)
    pre = min(wire, max_bandwidth_Bps)
    if compress:
        return wire, pre, wire if cap_lifted else pre, 1.0 / compressibility, compress_Bps
    return wire, pre, wire if cap_lifted else pre, 1.0, math.inf
