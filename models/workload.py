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
