"""Dirty-page workload: how many distinct pages the guest dirties in an interval, and overlaps.

The guest rewrites pages of its writable working set (WWS, ``W`` pages) at ``r`` page writes per
second. Two patterns (DESIGN.md §2):

* ``random``: writes land uniformly on the WWS, so the distinct pages dirtied in ``t`` seconds are
  ``W·(1 − exp(−r·t/W))``: linear for small ``t`` and saturating at ``W``.
* ``sequential``: the guest sweeps the WWS in address order and wraps: ``min(r·t, W)``.

The classic linear model of the literature is ``W = memory`` with ``r·t ≪ W``.

Overlap (what makes the pending set smaller than "remaining + newly dirtied"): when the dirty
bitmap is synchronised, a page that is still pending and was dirtied again is owed once. For random
writes the new pages are independent of the pending ones, so the expected union is
``R + N − R·N/W``. For a sequential sweep the overlap follows from the order of the guest's sweep and
of the sender (ascending addresses): right after the first full pass the guest's position relative to
the sender is uniform (expected union as for random, averaged over where the sweep starts); after
that the sender trails the guest, the pages still pending are the ones just behind the guest's
previous position and the new pages lie ahead of it, so the two sets are adjacent arcs of the WWS
and the union is ``min(R + N, W)``. Not modelled: multiple hot regions with different rates, reads,
or writes that leave a page's content unchanged.
"""

from __future__ import annotations

import numpy as np

RANDOM = 0
SEQUENTIAL = 1


def unique_dirtied(rate_pps: np.ndarray, wws_pages: np.ndarray, t_s: np.ndarray,
                   sequential: np.ndarray) -> np.ndarray:
    """Distinct pages dirtied in an interval.

    Parameters
    ----------
    rate_pps : ndarray
        Page writes per second (after any vCPU throttle).
    wws_pages : ndarray
        Writable working set in pages (> 0 where ``rate_pps`` > 0).
    t_s : ndarray
        Interval length in seconds (>= 0).
    sequential : ndarray of bool
        True for a sequential sweep, False for uniform random writes.

    Returns
    -------
    ndarray
        Expected distinct pages dirtied, in ``[0, wws_pages]``.
    """
    w = np.maximum(wws_pages, 1e-300)
    x = rate_pps * t_s
    rnd = w * -np.expm1(-x / w)
    return np.where(sequential, np.minimum(x, wws_pages), rnd)


def union_pending(remaining: np.ndarray, new: np.ndarray, wws_pages: np.ndarray,
                  adjacent: np.ndarray) -> np.ndarray:
    """Pending pages after a bitmap sync: the union of still-pending and newly dirtied pages.

    Parameters
    ----------
    remaining : ndarray
        Pages still pending from the current pass (all within the WWS).
    new : ndarray
        Distinct pages dirtied since the previous sync.
    wws_pages : ndarray
        Writable working set in pages.
    adjacent : ndarray of bool
        True when the two sets are adjacent arcs of a sequential sweep (sender trailing the guest);
        False when they are independent (random writes, or the first sync of a sequential sweep,
        in expectation over where the sweep starts).

    Returns
    -------
    ndarray
        Expected pending pages, at most ``wws_pages`` more than nothing and never below either set.
    """
    w = np.maximum(wws_pages, 1e-300)
    indep = remaining + new - remaining * new / w
    adj = np.minimum(remaining + new, wws_pages)
    out = np.where(adjacent, adj, indep)
    return np.maximum(out, np.maximum(remaining, new))


SWEEP_PHASES = 16


def sequential_second_overlap(r1: np.ndarray, l1: np.ndarray, r2: np.ndarray, l2: np.ndarray,
                              wws_pages: np.ndarray, phases: int = SWEEP_PHASES) -> np.ndarray:
    """Expected overlap at the second mid-pass sync of a sequential sweep.

    The pass after round 0 starts at the lowest address of a fully dirty WWS; at its mid-pass sync
    ``r1`` pages at the top of the WWS are still pending and the guest has rewritten an arc of
    ``l1`` pages starting where it happened to be. The sender continues upwards from its position
    and wraps; at the next sync ``r2`` pages are still pending — the last ones in the sender's order —
    and the guest has rewritten the next ``l2`` pages of its sweep. Some of those can lie in the
    still-pending pages when the first arc wrapped around the WWS end. The expectation is taken
    over where the guest's sweep was (``phases`` evenly spaced positions). In the sender's
    coordinates (0 = where it stood at the first sync) the pending set is ``[0, b) ∪ [a, c)``.

    Parameters
    ----------
    r1, l1 : ndarray
        Pages pending and pages newly dirtied at the first mid-pass sync.
    r2, l2 : ndarray
        Pages pending and pages newly dirtied at the second.
    wws_pages : ndarray
        Writable working set, pages.
    phases : int
        Sweep positions averaged over.

    Returns
    -------
    ndarray
        Expected pages counted in both ``r2`` and ``l2``.
    """
    W = np.maximum(wws_pages, 1e-300)[:, None]
    r1, l1, r2, l2 = (np.minimum(x, wws_pages)[:, None] for x in (r1, l1, r2, l2))
    a = (np.arange(phases) + 0.5)[None, :] / phases * W      # start of the first new arc
    e2 = np.maximum(a + l1 - W, 0.0)                           # its part wrapped past the end
    b = np.maximum(r1, e2)
    c = np.minimum(a + l1, W)
    j2_lo = np.maximum(a, b)
    j2_len = np.maximum(c - j2_lo, 0.0)
    # y: where the last r2 pending pages (in sender order) begin
    y = np.where(r2 <= j2_len, c - r2, b - (r2 - j2_len))
    y = np.maximum(y, 0.0)
    s = (a + l1) % W                                           # next arc of the guest's sweep
    n_lo = [s, np.zeros_like(s)]
    n_hi = [np.minimum(s + l2, W), np.maximum(s + l2 - W, 0.0)]
    ov = np.zeros_like(a)
    for lo, hi in ((np.maximum(y, 0.0), np.maximum(b, y)), (np.maximum(j2_lo, y), np.maximum(c, y))):
        for nl, nh in zip(n_lo, n_hi):
            ov += np.maximum(np.minimum(hi, nh) - np.maximum(lo, nl), 0.0)
    return np.minimum(ov.mean(axis=1), np.minimum(r2, l2)[:, 0])
