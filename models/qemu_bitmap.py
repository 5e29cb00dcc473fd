"""QEMU 7.2's pre-copy of a sequentially written working set, page by page: the exact reference.

What it models. After round 0 (a plain copy that :mod:`models.precopy` gets right), QEMU's sender
walks the migration dirty bitmap in address order from where it stopped, never restarting at a
sync (``ram_find_and_save_block`` keeps ``last_seen_block``/``last_page``). Under a
``max-bandwidth`` cap each 100 ms window sends its budget in one burst at the window's start and
then sleeps (``migration_rate_limit``). Before every burst QEMU compares the pages still set in the
bitmap with its threshold, and when fewer remain it syncs: the pages the guest wrote since the last
sync join the bitmap, and if fewer than the threshold are then set it stops the guest
(``ram_save_pending``, ``migration_iteration_run``). A sequential writer sweeps the working set
circularly; what it writes between two syncs is one arc of the circle, and how much of that arc
falls on pages still pending (owed once) or on pages already sent (owed again) depends on where the
writer is relative to the sender. That relative position — the writer's *phase* when migration
starts — decides the outcome near the cap: at 0.98 × the cap the same point needs 5 syncs for some
phases and 90 for others (docs/qemu-validation-data.md).

How. A boolean page bitmap of the working set, one step per rate-limiter window: exact, and
O(working-set pages) per window, so for small working sets only (the harness's 2,000-20,000 pages).
It is the reference the fast kernel (:mod:`models.precopy`, which treats the overlap in
expectation) is compared with, not a replacement for it.

Left out: random writes (the fast kernel's expectation is exact for them), the hot set, auto-converge,
link-bound transfers (no rate-limiter bursts), the zero pages left in round 0, bandwidth measured
below the cap when the bitmap runs dry within a window (the threshold is taken at the cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """How one pre-copy ended.

    Attributes
    ----------
    converged : bool
        Stopped with fewer pending pages than the threshold (else still iterating at ``timeout_s``).
    total_s : float
        Time from the start of migration to the stop (or the timeout), s.
    syncs : int
        Dirty-bitmap syncs, counted as QEMU's ``dirty-sync-count`` before the final one (the setup
        sync, the one ending round 0, and each later one).
    pending_pages : int
        Pages still set in the bitmap at the stop (sent while the guest is stopped).
    pending_trace : list of int
        Pages set after each burst and, after each sync, the pages then set.
    """

    converged: bool
    total_s: float
    syncs: int
    pending_pages: int
    pending_trace: list[int]


def sequential_precopy(wws_pages: int, dirty_pps: float, cap_pages_per_window: float,
                       round0_s: float, round0_pages_left: float, threshold_pages: float,
                       phase: float, window_s: float = 0.1, timeout_s: float = 20.0,
                       round0_rest_pages: float = 0.0) -> Outcome:
    """Run QEMU's pre-copy after round 0 against a sequential writer, page by page.

    Parameters
    ----------
    wws_pages : int
        Pages of the working set (one circle the writer sweeps in address order).
    dirty_pps : float
        The writer's pages per second.
    cap_pages_per_window : float
        Pages the rate limiter lets through per window (``max-bandwidth × window / wire bytes per
        page``).
    round0_s : float
        When round 0 ends (the sync that starts this simulation), s from the start.
    round0_pages_left : float
        Pages the window in which round 0 ended still lets through after it.
    threshold_pages : float
        QEMU's threshold: bandwidth × downtime-limit, in pages.
    phase : float
        The writer's position in the working set when migration starts, as a fraction of it.
    window_s : float
        The rate limiter's window (QEMU: ``BUFFER_DELAY`` 100 ms).
    timeout_s : float
        Stop simulating (not converged) at this time, s.
    round0_rest_pages : float
        Pages round 0 had not sent when it stopped at a check (QEMU checks its threshold in round
        0 too); they lie above the working set and go before the sender wraps into it.

    Returns
    -------
    Outcome
    """
    W = int(wws_pages)
    bits = np.zeros(W, dtype=bool)

    def mark(start: float, n: float) -> None:
        """Set the arc of ``n`` pages that the writer wrote from position ``start`` on."""
        k = int(round(min(n, W)))
        bits[(int(math.floor(start)) + np.arange(k)) % W] = True

    writer0 = phase * W
    # everything the writer wrote during round 0 is in the dirty log synced when round 0 ends
    mark(writer0, dirty_pps * round0_s)
    synced_at = writer0 + dirty_pps * round0_s      # writer position at the last sync (unwrapped)
    sender = 0                                      # round 0 ended at the top of memory: wrap
    t, budget, carry, syncs = round0_s, round0_pages_left, 0.0, 2
    trace: list[int] = []
    rest = int(round(round0_rest_pages))     # whole pages, like the bitmap
    while t < timeout_s:
        n = int(budget + carry)
        carry = budget + carry - n
        above = min(rest, n)
        rest -= above
        n -= above
        pending = np.flatnonzero(np.roll(bits, -sender))[:n]
        if len(pending):
            pos = (pending + sender) % W
            bits[pos] = False
            sender = int((pos[-1] + 1) % W)
        t = (math.floor(t / window_s + 1e-9) + 1) * window_s      # the next window starts
        left = int(bits.sum()) + rest
        trace.append(left)
        if left < threshold_pages:
            writer = writer0 + dirty_pps * t
            mark(synced_at, writer - synced_at)
            synced_at = writer
            syncs += 1
            left = int(bits.sum()) + rest
            trace.append(left)
            if left < threshold_pages:
                return Outcome(True, t, syncs, left, trace)
        budget = cap_pages_per_window
    return Outcome(False, timeout_s, syncs, int(bits.sum() + rest), trace)
