"""Bandwidth sharing: max-min fair shares of host NICs between concurrent migration streams.

Each migration stream leaves its source host through the source's NICs (egress) and enters the
destination through the destination's NICs (ingress); a NIC is full duplex, so egress and ingress
are separate capacities. Concurrent streams share every NIC *max-min fairly*, and each stream is
also bounded by its own cap (its transport's per-stream throughput, TCP window over the round
trip, the profile's bandwidth cap, compression CPU, ...). The allocation is computed by progressive
filling: all unfrozen streams grow at the same pace; a stream freezes when it reaches its cap or
when one of its NICs is full; repeat until every stream is frozen (computed a bottleneck at a time,
by water-filling each link over its streams' sorted caps). The result is the unique
max-min fair allocation: no stream can get more without taking from a stream that has less or the
same. ``k`` equal uncapped streams on one link of capacity ``B`` each get exactly ``B / k``.

:class:`NicBook` integrates the load of one host's NICs over time (bytes sent and received, peak
load) from the rates the engine sets at each event.

The links are whatever the caller passes: the host NICs of a flat scenario, plus rack uplinks,
spines, WAN links and datastores with a topology (``models.topology``); a stream's row of ``ends``
lists every link of its path.

Left out: TCP dynamics (slow start, loss, RTT unfairness — long-lived TCP flows approach max-min
fairness, which is the usual fluid idealisation), ECMP inside a spine, per-NIC bin-packing of single-stream transports on multi-NIC hosts (the
NICs of a host form one aggregate capacity, a single stream being capped at one NIC by its cap).

Sources: D. Bertsekas and R. Gallager, *Data Networks*, 2nd ed. (1992), §6.5.2, max-min fairness
and progressive filling; docs/design.md §4.
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
    Progressive filling, settled a bottleneck at a time: each round computes every link's *water
    level* — the rate ``w`` at which its unsettled streams, each taking ``min(cap, w)``, fill what
    is left of it — and takes the lowest, ``λ``. Streams capped at or below ``λ`` reach their caps
    before any link fills (settled at their caps); the streams of the links at ``λ`` are settled at
    ``λ``. Each round settles at least one link, so there are at most L + 1 rounds of O(F log F).
    Deterministic and permutation-equivariant: reordering the streams reorders the rates and
    nothing else, bit for bit (sums run over caps and rates in sorted order).
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
    if capacity.shape[0] > 64:
        # many links (a datacenter): work on the links the streams cross only, renumbered in
        # increasing order (the same groups in the same order: bit-identical rates)
        used, inv = np.unique(ends[ends >= 0], return_inverse=True)
        if used.size < capacity.shape[0]:
            local = np.full(ends.shape, -1, dtype=np.int64)
            local[ends >= 0] = inv.reshape(-1)
            ends, capacity = local, capacity[used]
    n_links = capacity.shape[0]
    remaining = capacity.copy()
    active = np.ones(n, dtype=bool)
    while active.any():
        a = np.flatnonzero(active)
        ea = ends[a]
        real = ea >= 0
        link = ea[real]                                  # one entry per (stream, link)
        flow = np.broadcast_to(a[:, None], ea.shape)[real]
        if link.size == 0:                               # no link left: caps only
            rate[a] = cap[a]
            break
        c = cap[flow]
        order = np.lexsort((c, link))
        link, c = link[order], c[order]
        count = np.bincount(link, minlength=n_links)
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        j = np.arange(link.size) - first[link]           # position inside the link's group
        csum = np.cumsum(np.where(np.isinf(c), 0.0, c))
        before = csum - np.where(np.isinf(c), 0.0, c) - (csum[first[link]] - np.where(
            np.isinf(c[first[link]]), 0.0, c[first[link]]))  # caps strictly before j in the group
        left = count[link] - j
        cand = (remaining[link] - before) / left
        ok = cand <= c
        # the first position (in cap order) where the candidate fits under the cap gives the level
        pos = np.full(n_links, link.size, dtype=np.int64)
        np.minimum.at(pos, link[ok], np.flatnonzero(ok))
        level = np.full(n_links, np.inf)
        has = pos < link.size
        level[has] = np.maximum(cand[pos[has]], 0.0)
        lam = level.min()
        capped = cap[a] <= lam * (1.0 + TOLERANCE)
        full = level <= lam * (1.0 + TOLERANCE)
        on_full = (full[np.where(ea >= 0, ea, 0)] & real).any(axis=1)
        if not np.isfinite(lam):                         # every stream fits under its cap
            rate[a] = cap[a]
            break
        settle_cap = capped
        settle_lam = on_full & ~capped
        rate[a[settle_cap]] = cap[a[settle_cap]]
        rate[a[settle_lam]] = lam
        done = settle_cap | settle_lam
        dl = ea[done]
        dr = np.broadcast_to(rate[a[done]][:, None], dl.shape)
        m = dl >= 0
        dl, dr = dl[m], dr[m]
        by = np.lexsort((dr, dl))                        # canonical order: sums bit-identical
        remaining = remaining - np.bincount(dl[by], weights=dr[by], minlength=n_links)[:n_links]
        remaining[full] = 0.0
        remaining = np.maximum(remaining, 0.0)
        active[a[done]] = False
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
