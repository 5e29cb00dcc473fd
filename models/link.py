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

Sources: REFERENCES.md (vMotion NIC and RTT limits, Hyper-V transports and measured rates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinkRates:
    """Per-point rates of one migration stream (arrays of shape (n,)).

    Attributes
    ----------
    wire_Bps : ndarray
        Payload rate the NICs carry for this migration, bytes/s (no cap applied).
    precopy_Bps : ndarray
        Wire bytes/s during pre-copy (after the migration bandwidth cap).
    switchover_Bps : ndarray
        Wire bytes/s during the stop-and-copy.
    wire_factor : ndarray
        Wire bytes per memory byte (1 / compressibility when compressing, else 1).
    memory_cap_Bps : ndarray
        Upper bound on memory bytes/s from compression CPU (inf when not compressing).
    nics_used : ndarray
        NICs the migration spreads over.
    """

    wire_Bps: np.ndarray
    precopy_Bps: np.ndarray
    switchover_Bps: np.ndarray
    wire_factor: np.ndarray
    memory_cap_Bps: np.ndarray
    nics_used: np.ndarray


def stream_rates(link_bps: np.ndarray, nics: np.ndarray, efficiency: np.ndarray,
                 stream_cap_Bps: np.ndarray, rtt_ms: np.ndarray, tcp_window_bytes: np.ndarray,
                 multichannel: np.ndarray, max_nics: np.ndarray, max_bandwidth_Bps: np.ndarray,
                 cap_lifted: np.ndarray, compress: np.ndarray, compressibility: np.ndarray,
                 compress_Bps: np.ndarray) -> LinkRates:
    """Compute the rates of one migration stream on an otherwise idle link.

    Parameters
    ----------
    link_bps : ndarray
        Line rate of each NIC, bit/s (> 0).
    nics : ndarray
        NICs configured for migration (>= 1).
    efficiency : ndarray
        Payload share of the line rate, (0, 1].
    stream_cap_Bps : ndarray
        Per-stream throughput cap, bytes/s (inf: none).
    rtt_ms : ndarray
        Round-trip time, ms (>= 0).
    tcp_window_bytes : ndarray
        Per-stream window, bytes; a stream carries at most window / RTT.
    multichannel : ndarray of bool
        One stream per NIC (True) or a single stream (False).
    max_nics : ndarray
        NICs the profile lets one migration use on this link speed.
    max_bandwidth_Bps : ndarray
        Migration bandwidth cap, bytes/s (inf: none).
    cap_lifted : ndarray of bool
        Cap lifted for the stop-and-copy.
    compress : ndarray of bool
        Memory compressed before sending.
    compressibility : ndarray
        Compression ratio of the memory (>= 1).
    compress_Bps : ndarray
        Memory bytes/s the CPUs can compress.

    Returns
    -------
    LinkRates
    """
    per_stream = link_bps / 8.0 * efficiency
    window_Bps = np.where(rtt_ms > 0, tcp_window_bytes / np.where(rtt_ms > 0, rtt_ms, 1.0) * 1e3,
                          np.inf)
    per_stream = np.minimum(np.minimum(per_stream, stream_cap_Bps), window_Bps)
    nics_used = np.where(multichannel, np.minimum(nics, max_nics), 1.0)
    wire = per_stream * nics_used
    pre = np.minimum(wire, max_bandwidth_Bps)
    sw = np.where(cap_lifted, wire, pre)
    wire_factor = np.where(compress, 1.0 / compressibility, 1.0)
    mem_cap = np.where(compress, compress_Bps, np.inf)
    return LinkRates(wire, pre, sw, wire_factor, mem_cap, nics_used)
