"""Bandwidth sharing: max-min fair shares of host NICs between concurrent migration streams.

Each migration stream leaves its source host through the source's NICs (egress) and enters the
destination through the destination's NICs (ingress); a NIC is full duplex, so egress and ingress
are separate capacities. Concurrent streams share every NIC *max-min fairly*, and each stream is
also bounded by its own cap (its transport's per-stream throughput, TCP window over the round
trip, the profile's bandwidth cap, compression CPU, ...). The allocation is computed by progressive
filling: all unfrozen streams grow at the same pace; a stream freezes when it reaches its cap or
when one of its NICs is full; repeat until every stream is frozen. The result is the unique
max-min fair allocation: no stream can get more without taking from a stream that has less or the
same. ``k`` equal uncapped streams on one link of capacity ``B`` each get exactly ``B / k``.

:class:`NicBook` integrates the load of one host's NICs over time (bytes sent and received, peak
load) from the rates the engine sets at each event.

Left out: TCP dynamics (slow start, loss, RTT unfairness — long-lived TCP flows approach max-min
fairness, which is the usual fluid idealisation), switch fabric and core-link contention (only the
host NICs are bottlenecks), per-NIC bin-packing of single-stream transports on multi-NIC hosts (the
NICs of a host form one aggregate capacity, a single stream being capped at one NIC by its cap).

Sources: D. Bertsekas and R. Gallager, *Data Networks*, 2nd ed. (1992), §6.5.2, max-min fairness
and progressive filling; DESIGN.md §4.
"""

from __future__ import annotations

import numpy as np

#: Relative tolerance under which a link counts as full or a stream as at its cap.
TOLERANCE = 1e-12


def max_min(capacity: np.ndarray, ends: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Max-min fair rates of streams over links, each stream bounded by its own cap.

    Parameters
    ----------
    capacity : ndarray, shape (L,)
        Capacity of each link (a host NIC direction), bytes/s (>= 0; ``inf`` allowed).
    ends : ndarray of int, shape (F, K)
        Links each stream crosses (indices into ``capacity``); ``-1`` pads unused slots. For
        migrations ``K = 2``: the source's egress and the destination's ingress.
    cap : ndarray, shape (F,)
        Per-stream cap, bytes/s (> 0; ``inf``: none).

    Returns
    -------
    ndarray, shape (F,)
        Rate of each stream, bytes/s. Never above its cap; on every link the rates sum to at most
        the capacity (up to rounding, relative 1e-12). A stream that crosses no link and has no cap
        gets ``inf``.

    Notes
    -----
    Deterministic and permutation-equivariant: reordering the streams reorders the rates and
    nothing else, bit for bit (every step is an elementwise operation or an order-free minimum).
    """
    capacity = np.asarray(capacity, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.int64)
    cap = np.asarray(cap, dtype=np.float64)
    n = cap.shape[0]
    rate = np.zeros(n)
    if n == 0:
        return rate
    if ends.ndim == 1:
        ends = ends[:, None]
    n_links = capacity.shape[0]
    # link index n_links is a dummy with infinite capacity for the -1 padding
    cap_links = np.concatenate([capacity, [np.inf]])
    e = np.where(ends < 0, n_links, ends)
    remaining = cap_links.copy()
    active = np.ones(n, dtype=bool)
    while active.any():
        a = np.flatnonzero(active)
        ea = e[a]
        count = np.bincount(ea.ravel(), minlength=n_links + 1).astype(np.float64)
        count[n_links] = 0.0                       # the dummy link never binds
        used = count > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(used, remaining / np.where(used, count, 1.0), np.inf)
        d_link = level.min()
        headroom = cap[a] - rate[a]
        d_cap = headroom.min()
        d = min(d_link, d_cap)
        if not np.isfinite(d):                     # uncapped streams on no real link
            rate[a] = np.inf
            break
        d = max(d, 0.0)
        rate[a] += d
        remaining = np.where(used, remaining - d * count, remaining)
        full = used & (level <= d * (1.0 + TOLERANCE))
        remaining[full] = 0.0
        at_cap = headroom <= d * (1.0 + TOLERANCE)
        rate[a[at_cap]] = np.minimum(rate[a[at_cap]], cap[a[at_cap]])
        on_full = full[ea].any(axis=1)
        active[a[at_cap | on_full]] = False
    return rate


def link_load(n_links: int, ends: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Sum of the stream rates on each link, bytes/s.

    Parameters
    ----------
    n_links : int
        Number of links.
    ends : ndarray of int, shape (F, K)
        Links of each stream (``-1``: none).
    rate : ndarray, shape (F,)
        Stream rates, bytes/s.

    Returns
    -------
    ndarray, shape (n_links,)
    """
    ends = np.asarray(ends, dtype=np.int64)
    if ends.ndim == 1:
        ends = ends[:, None]
    w = np.repeat(np.asarray(rate, dtype=np.float64)[:, None], ends.shape[1], axis=1)
    ok = ends >= 0
    return np.bincount(ends[ok], weights=w[ok], minlength=n_links)[:n_links]


class NicBook:
    """Bytes and peak load of a host's NICs (egress and ingress), integrated from rate changes."""

    def __init__(self) -> None:
        self.t = 0.0
        self.rate = {0: 0.0, 1: 0.0}
        self.bytes = {0: 0.0, 1: 0.0}
        self.peak = {0: 0.0, 1: 0.0}

    def set(self, t: float, direction: int, rate: float) -> None:
        """From ``t`` on, the NIC direction (0 egress, 1 ingress) carries ``rate`` bytes/s."""
        self.advance(t)
        self.rate[direction] = rate
        self.peak[direction] = max(self.peak[direction], rate)

    def advance(self, t: float) -> None:
        """Integrate bytes up to ``t``."""
        dt = t - self.t
        if dt > 0:
            for d in (0, 1):
                self.bytes[d] += self.rate[d] * dt
            self.t = t

    def stats(self) -> dict[str, float]:
        """Bytes sent/received and peak rates."""
        return {"sent_bytes": self.bytes[0], "received_bytes": self.bytes[1],
                "peak_egress_Bps": self.peak[0], "peak_ingress_Bps": self.peak[1]}
