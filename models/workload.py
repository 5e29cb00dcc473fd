"""Dirty-page workload: how many distinct pages the guest dirties in an interval, and overlaps.

The guest rewrites pages of its writable working set (WWS, ``W`` pages) at ``r`` page writes per
second. Two patterns (docs/design.md §2):

* ``random``: writes land uniformly on the WWS, so the distinct pages dirtied in ``t`` seconds are
  ``W·(1 − exp(−r·t/W))``: linear for small ``t`` and saturating at ``W``.
* ``sequential``: the guest sweeps the WWS in address order and wraps: ``min(r·t, W)``.

The classic linear model of the literature is ``W = memory`` with ``r·t ≪ W``.

A second, optional tier — the hot set — is rewritten uniformly at its own, usually much higher,
rate: Clark et al.'s writable working set, pages rewritten so often that resending them is
pointless. It is disjoint from the WWS and counted the same way (random pattern).

Overlap (what makes the pending set smaller than "remaining + newly dirtied"): when the dirty
bitmap is synchronised, a page that is still pending and was dirtied again is owed once. For random
writes the new pages are independent of the pending ones, so the expected union is
``R + N − R·N/W``. For a sequential sweep the overlap follows from the order of the guest's sweep and
of the sender (ascending addresses): right after the first full pass the guest's position relative to
the sender is uniform (expected union as for random, averaged over where the sweep starts); after
that the sender trails the guest, the pages still pending are the ones just behind the guest's
previous position and the new pages lie ahead of it, so the two sets are adjacent arcs of the WWS
and the union is ``min(R + N, W)``. Not modelled: more than two regions with different rates, reads,
or writes that leave a page's content unchanged.
"""

from __future__ import annotations

import math

from models.jit import kernel

SWEEP_PHASES = 8


@kernel
def one_minus_exp(y: float) -> float:
    """``1 − e^−y`` for ``y >= 0`` to about 1e-13 relative: its series below 0.01, ``exp`` above.

    The kernels evaluate this several times per pass; ``exp`` costs about half of ``expm1`` here
    (and the series multiplies by constants: a division would cost as much again).
    """
    if y < 0.01:
        return y * (1.0 - y * 0.5 * (1.0 - y * (1.0 / 3.0) * (1.0 - y * 0.25 * (1.0 - y * 0.2))))
    return 1.0 - math.exp(-y)


@kernel
def unique_dirtied(rate_pps: float, wws_pages: float, t_s: float, sequential: float) -> float:
    """Distinct pages dirtied in an interval.

    Parameters
    ----------
    rate_pps : float
        Page writes per second (after any vCPU throttle).
    wws_pages : float
        Writable working set in pages.
    t_s : float
        Interval length in seconds (>= 0).
    sequential : float
        Nonzero for a sequential sweep, 0 for uniform random writes.

    Returns
    -------
    float
        Expected distinct pages dirtied, in ``[0, wws_pages]``.
    """
    if sequential != 0.0:
        return min(rate_pps * t_s, wws_pages)
    if wws_pages <= 0.0:
        return 0.0
    # rate/W does not depend on t: dividing first keeps the division off the chain of passes
    return wws_pages * one_minus_exp(rate_pps / wws_pages * t_s)


@kernel
def union_pending(remaining: float, new: float, wws_pages: float, adjacent: float) -> float:
    """Pending pages after a bitmap sync: the union of still-pending and newly dirtied pages.

    Parameters
    ----------
    remaining : float
        Pages still pending from the current pass (all within the WWS).
    new : float
        Distinct pages dirtied since the previous sync.
    wws_pages : float
        Writable working set in pages.
    adjacent : float
        Nonzero when the two sets are adjacent arcs of a sequential sweep (sender trailing the
        guest); 0 when they are independent (random writes, or the first sync of a sequential
        sweep, in expectation over where the sweep starts).

    Returns
    -------
    float
        Expected pending pages, never below either set.
    """
    if adjacent != 0.0:
        out = min(remaining + new, wws_pages)
    elif wws_pages > 0.0:
        out = remaining + new - remaining * (new * (1.0 / wws_pages))
    else:
        out = remaining + new
    return max(out, max(remaining, new))


@kernel
def sequential_second_overlap(r1: float, l1: float, r2: float, l2: float, wws_pages: float,
                              phases: int = SWEEP_PHASES) -> float:
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
    r1, l1 : float
        Pages pending and pages newly dirtied at the first mid-pass sync.
    r2, l2 : float
        Pages pending and pages newly dirtied at the second.
    wws_pages : float
        Writable working set, pages.
    phases : int
        Sweep positions averaged over.

    Returns
    -------
    float
        Expected pages counted in both ``r2`` and ``l2``.
    """
    W = wws_pages
    if W <= 0.0:
        return 0.0
    r1, l1, r2, l2 = min(r1, W), min(l1, W), min(r2, W), min(l2, W)
    total = 0.0
    for j in range(phases):
        a = (j + 0.5) / phases * W                  # start of the first new arc
        e2 = max(a + l1 - W, 0.0)                   # its part wrapped past the end
        b = max(r1, e2)
        c = min(a + l1, W)
        j2_lo = max(a, b)
        j2_len = max(c - j2_lo, 0.0)
        y = c - r2 if r2 <= j2_len else b - (r2 - j2_len)   # the last r2 pending pages start here
        y = max(y, 0.0)
        s = a + l1 if a + l1 < W else a + l1 - W    # next arc of the guest's sweep (wraps)
        n_lo0, n_hi0 = s, min(s + l2, W)
        n_lo1, n_hi1 = 0.0, max(s + l2 - W, 0.0)
        for lo, hi in ((y, max(b, y)), (max(j2_lo, y), max(c, y))):
            total += max(min(hi, n_hi0) - max(lo, n_lo0), 0.0)
            total += max(min(hi, n_hi1) - max(lo, n_lo1), 0.0)
    return min(total / phases, min(r2, l2))
