"""A sequential writer whose phase is known, chased by a sender that syncs mid-pass (QEMU).

What it models. After round 0, QEMU's sender walks the dirty bitmap in address order from where it
stopped and never restarts at a sync; every check interval (a rate-limiter window under a cap, else
``ram_save_iterate``'s 50 ms) it compares the pages still pending with its threshold, and below it
syncs the dirty log into the bitmap (QEMU 7.2 ``ram_find_and_save_block``, ``ram_save_pending``,
``migration_iteration_run``). A sequential writer sweeps its working set circularly, so what it
writes between two syncs is one arc of that circle, and the pending set is a union of arcs. Whether
a new arc lands on pages still pending (owed once) or on pages already sent (owed again) depends on
where the writer is relative to the sender, i.e. on its position when migration starts, the
*phase* (``dirty_phase``, a fraction of the working set; 0 is its lowest address, where the sender
enters it after round 0). Near the cap the phase decides the outcome: the same point needs 5 syncs
at one phase and 90 at another (docs/qemu-validation-data.md). With the phase given, this module
follows the arcs exactly, one sync at a time; without it :mod:`models.precopy` takes the overlap in
expectation over phases.

How. Pending pages are at most ``MAX_ARCS`` disjoint arcs of a continuous circle of ``W`` pages;
sending takes pages from the sender's position on, and a sync adds the writer's arc since the last
one. Between syncs nothing but the pending count matters, so the windows up to the next check below
the threshold are taken in one step: the cost is O(arcs) per sync, independent of the working set's
size. It is checked page by page against :mod:`models.qemu_bitmap` (tests/models/test_sequential.py).

Left out: a hot set (the rows with one keep the expectation), vSphere/Hyper-V/Xen (they send every
pending page before they sync, so the phase changes nothing there), the scenario engine (its rates
change between passes: it keeps the expectation), pages as whole units (arcs are continuous; the
difference is below one page per arc). More than ``MAX_ARCS`` arcs (never seen) are merged across
their smallest gap, which counts the gap's pages as pending (conservative).
"""

from __future__ import annotations

import math

from models.jit import kernel

#: Arcs kept per migration (assumed ample: 300 random near-cap chases never held more than 4).
MAX_ARCS = 32
#: Syncs without a new lowest pending count after which a chase that no remedy can change is
#: declared not converging (assumed; QEMU itself iterates until cancelled).
STALL_SYNCS = 200
#: Columns of a chase's per-sync record (``--rounds``).
N_RECORD = 7
REC_START, REC_DURATION, REC_RATE, REC_SENT, REC_WIRE, REC_PENDING, REC_THROTTLE = range(N_RECORD)


@kernel
def _compact(st, en, n, W):
    """Sort arcs by start, drop empty ones, merge overlapping or touching ones; the new count."""
    # insertion sort (n is small)
    for a in range(1, n):
        s, e = st[a], en[a]
        b = a - 1
        while b >= 0 and st[b] > s:
            st[b + 1] = st[b]
            en[b + 1] = en[b]
            b -= 1
        st[b + 1] = s
        en[b + 1] = e
    m = 0
    for a in range(n):
        if en[a] - st[a] <= 1e-9:
            continue
        if m > 0 and st[a] <= en[m - 1] + 1e-9:
            en[m - 1] = max(en[m - 1], en[a])
        else:
            st[m] = st[a]
            en[m] = en[a]
            m += 1
    # (an arc ending at W and one starting at 0 stay two arcs: positions stay in [0, W))
    while m > MAX_ARCS:
        g = 0
        for a in range(1, m - 1):
            if st[a + 1] - en[a] < st[g + 1] - en[g]:
                g = a
        en[g] = en[g + 1]
        for a in range(g + 1, m - 1):
            st[a] = st[a + 1]
            en[a] = en[a + 1]
        m -= 1
    return m


@kernel
def pending_pages(st, en, n):
    """Pages in the arcs."""
    total = 0.0
    for a in range(n):
        total += en[a] - st[a]
    return total


@kernel
def add_arc(st, en, n, start, length, W):
    """Add the writer's arc of ``length`` pages from position ``start`` (any real; taken mod W)."""
    if length <= 0.0:
        return n
    if length >= W:
        st[0] = 0.0
        en[0] = W
        return 1
    a = start - math.floor(start / W) * W
    st[n] = a
    en[n] = min(a + length, W)
    n += 1
    if a + length > W:
        st[n] = 0.0
        en[n] = a + length - W
        n += 1
    return _compact(st, en, n, W)


@kernel
def send_from(st, en, n, p, pages, W):
    """Send up to ``pages`` pending pages from sender position ``p`` on, in address order, wrapping.

    Returns ``(arcs, new position, pages sent)``.
    """
    if n == 0 or pages <= 0.0:
        return n, p, 0.0
    # the first arc at or after the sender; the one it is inside is split there
    k = 0
    while k < n and en[k] <= p:
        k += 1
    if k < n and st[k] < p:
        for a in range(n, k + 1, -1):
            st[a] = st[a - 1]
            en[a] = en[a - 1]
        st[k + 1] = p
        en[k + 1] = en[k]
        en[k] = p
        n += 1
        k += 1
    if k == n:
        k = 0                   # nothing pending above the sender: wrap to the bottom
    left = pages
    q = p
    for j in range(n):
        a = (k + j) % n
        size = en[a] - st[a]
        take = min(size, left)
        st[a] += take
        q = st[a]
        left -= take
        if left <= 0.0:
            break
    if q >= W:
        q -= W
    return _compact(st, en, n, W), q, pages - left
