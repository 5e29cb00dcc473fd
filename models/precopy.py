"""Iterative memory pre-copy: passes, dirty-bitmap syncs, stop rules and non-convergence remedies.

Round 0 sends every page (zero pages as headers only, after scanning them); each later pass sends the
pages pending at the last dirty-bitmap sync. A pass ends either when its pages are all sent (vSphere,
Hyper-V, Xen: the sync happens at the end of each pass) or, for QEMU, at the first ~100 ms check at
which fewer pages than the switch-over threshold remain: QEMU then re-syncs the bitmap mid-pass and
stops if what is pending is still below the threshold (docs/qemu-validation-data.md); in round 0
the zero pages still to scan count as pending (they are taken to sit above the data). With a
sequential writer of known phase, QEMU's passes after round 0 follow its arcs exactly
(:func:`_chase_row`, ``models.sequential``). At a sync the pending
set becomes the union of the pages still pending and the pages dirtied since the last sync
(``models.workload``), so a page re-dirtied while pending is owed once. Stop rules: pending fits the
switch-over goal (``rate × downtime_limit``), fewer than ``min_dirty_pages`` pending (Xen), a pass
cap (Hyper-V 10, Xen 30), a traffic cap (Xen 3× memory), a pass that grew at the maximum rate (Xen).
Remedies when dirtying outpaces the link: vSphere SDPS (throttle the vCPUs just enough, record it),
QEMU auto-converge (20 %, +10 % per trigger, 99 % max; trigger: dirtied > 50 % of sent in a ≥ 1 s
sync period, twice), a forced switch-over (Hyper-V, Xen, vSphere without SDPS), or failure (QEMU
without auto-converge never converges). QEMU's rate cap is enforced per 100 ms window: a window
bursts at link speed until its budget is spent, then waits. Without a cap below the link, QEMU's
clock is the sender's: it keeps most of its socket send buffer (``SEND_AHEAD_SHARE``) ahead of the
wire, so round 0 gains that lead once and its times end when its last byte enters the socket. Xen
adapts its rate per round (100 Mbit/s, then last round's dirty rate + 50 Mbit/s, ≤ 500 Mbit/s) and
skips pages re-dirtied within the round.

Not modelled: post-copy, xbzrle/multifd, page-size changes mid-run, CPU contention between the
sender and the guest. Sources: docs/references.md; QEMU 7.2 migration/ram.c and migration.c;
Clark et al. 2005; Xen xc_linux_save (stop when a round at maximum rate sent more than the last).

The physics of one pass lives in scalar kernels compiled with numba (``_plan_row``,
``_finish_row``): :func:`run_row` runs one migration's passes to the stop (``models.migration``
calls it per point, :func:`run` over arrays), and the array step functions (:func:`start`,
:func:`plan`, :func:`finish`) that the scenario engine uses (its rates change between passes) apply
the same kernels to every row. ``run_row`` takes passes that repeat a shape in one step: QEMU's in
closed form (:func:`_fast_forward_row`), Xen's steady passes in reduced form
(:func:`_fast_forward_adaptive_row`). A pass's time is bounded by the chain of dependent operations
from one pass to the next, so divisions by a migration's constants are written as products with
their reciprocal, which is computed off that chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from models.jit import kernel, loop
from models.sequential import (
    MAX_ARCS, N_RECORD, REC_DURATION, REC_PENDING, REC_RATE, REC_SENT, REC_START, REC_THROTTLE,
    REC_WIRE, STALL_SYNCS, add_arc, pending_pages, send_from)
from models.workload import one_minus_exp, sequential_second_overlap, union_pending, unique_dirtied

# remedy codes
NONE, SDPS, AUTO_CONVERGE, FORCE = 0, 1, 2, 3
# status codes
RUNNING, CONVERGED, FORCED, FAILED = 0, 1, 2, 3
# reason codes (FORCED / FAILED)
R_NONE, R_ROUNDS, R_TRAFFIC, R_GROWING, R_STALL, R_TIMEOUT, R_PASSES, R_RATE = range(8)
REASONS = {
    R_NONE: "",
    R_ROUNDS: "pass limit reached: switch-over forced with the pages still dirty",
    R_TRAFFIC: "traffic limit reached: switch-over forced with the pages still dirty",
    R_GROWING: "a pass at the maximum rate sent more than the one before: switch-over forced",
    R_STALL: "pre-copy does not converge: pages are dirtied as fast as they are sent",
    R_TIMEOUT: "cancelled: pre-copy still iterating at the timeout",
    R_PASSES: "pre-copy did not finish within the pass budget of the simulator",
    R_RATE: "dirtying rate above the maximum transfer rate: switch-over forced",
}
MAX_SEGMENTS = 100000         # simulator budget of passes/syncs per migration
STALL_TOLERANCE = 1e-4        # a sync that shrinks pending by less than this share is a stall
STALLS_TO_GIVE_UP = 3         # consecutive stalls before a remedy/failure applies
# A writer blocked on a full socket send buffer is woken once a third of it is free (Linux
# sk_stream_write_space: free space >= sk_stream_min_wspace, half of what is queued), so a
# link-bound sender keeps 2/3 to all of its buffer queued ahead of the wire: 5/6 on average.
SEND_AHEAD_SHARE = 5.0 / 6.0


@dataclass(frozen=True)
class Config:
    """Constant inputs of the pre-copy of n migrations (arrays of shape (n,)).

    Page counts are in pages of ``page_bytes``; rates in bytes/s or pages/s as named.
    """

    pages_nonzero: np.ndarray      # pages with content (round 0 sends them in full)
    pages_zero: np.ndarray         # zero pages (round 0 sends a header)
    wws: np.ndarray                # writable working set, pages
    page_bytes: np.ndarray         # guest page size, bytes
    wire_page: np.ndarray          # wire bytes per normal page (header, compression included)
    wire_zero: np.ndarray          # wire bytes per zero page
    scan_s: np.ndarray             # round-0 time to scan the zero pages, s
    dirty_pps: np.ndarray          # page writes per second on the WWS before any throttle
    hot: np.ndarray                # hot set, pages (rewritten at hot_pps, uniformly; 0: none)
    hot_pps: np.ndarray            # page writes per second on the hot set
    sequential: np.ndarray         # bool: sequential sweep (else random)
    rate_Bps: np.ndarray           # pre-copy wire rate, bytes/s
    burst_Bps: np.ndarray          # wire rate inside a rate-limiter window, bytes/s
    mem_cap_pps: np.ndarray        # pages/s bound from compression CPU (inf: none)
    window_s: np.ndarray           # rate-limiter window (0: smooth)
    check_s: np.ndarray            # mid-pass stop-rule check interval (0: only at pass ends)
    limit_s: np.ndarray            # switch-over goal (downtime limit), s
    min_pages: np.ndarray          # stop when fewer pages than this are pending
    max_rounds: np.ndarray         # pass cap (inf: none)
    max_traffic: np.ndarray        # memory wire bytes cap (inf: none)
    growing_rule: np.ndarray       # bool: Xen stop when a max-rate pass grew
    rate_rule: np.ndarray          # bool: Clark stop when the next pass's rate would exceed the max
    remedy: np.ndarray             # int: NONE | SDPS | AUTO_CONVERGE | FORCE
    sdps_shrink: np.ndarray
    sdps_target: np.ndarray
    ac_initial: np.ndarray         # fractions (0.2 = 20 %)
    ac_increment: np.ndarray
    ac_max: np.ndarray
    ac_ratio: np.ndarray
    ac_period_s: np.ndarray
    adaptive: np.ndarray           # bool: Xen rate adaptation
    rate_initial_Bps: np.ndarray
    rate_increment_Bps: np.ndarray
    rate_max_Bps: np.ndarray
    skip: np.ndarray               # bool: skip pages re-dirtied within the pass
    timeout_s: np.ndarray
    phase: np.ndarray              # sequential writer's position at the start, share of the WWS
                                   # (NaN: unknown; models.sequential)
    send_buffer: np.ndarray        # sender's socket send buffer, bytes (0: not modelled)

    def take(self, idx: np.ndarray) -> "Config":
        """Rows ``idx`` of every array."""
        return Config.from_packed(self.packed()[idx])

    def packed(self) -> np.ndarray:
        """All fields as one float array of shape (n, fields), in declaration order."""
        p = self.__dict__.get("_packed")
        if p is None:
            p = np.stack([np.asarray(getattr(self, f.name), dtype=np.float64)
                          for f in fields(self)], axis=1)
            object.__setattr__(self, "_packed", p)
        return p

    @staticmethod
    def from_packed(p: np.ndarray) -> "Config":
        """A Config whose fields are the columns of ``p`` (shape (n, fields); no copies)."""
        cfg = Config(**{f.name: p[:, j] for j, f in enumerate(fields(Config))})
        object.__setattr__(cfg, "_packed", p)
        return cfg


@dataclass(frozen=True)
class State:
    """Evolving pre-copy state of n migrations (arrays of shape (n,))."""

    seg: np.ndarray                # passes done (round 0 included)
    pending: np.ndarray            # pages pending at the last sync (before round 0: nonzero pages)
    pending_hot: np.ndarray        # ... of which in the hot set
    t: np.ndarray                  # pre-copy time so far, s
    mem_bytes: np.ndarray          # memory wire bytes so far
    theta: np.ndarray              # current vCPU throttle (fraction)
    max_theta: np.ndarray
    ac_cnt: np.ndarray
    ac_t: np.ndarray
    ac_dirty: np.ndarray           # pages newly dirtied in the current auto-converge period
    ac_sent: np.ndarray            # wire bytes in the current auto-converge period
    last_sent: np.ndarray          # pages sent by the previous pass
    last_dirty_Bps: np.ndarray     # dirty rate seen in the previous pass (Xen adaptation)
    stalls: np.ndarray             # consecutive syncs without progress
    prev_remaining: np.ndarray     # pages still pending at the previous sync
    prev_new: np.ndarray           # pages newly dirtied at the previous sync
    status: np.ndarray             # RUNNING | CONVERGED | FORCED | FAILED
    reason: np.ndarray             # reason code

    def take(self, idx: np.ndarray) -> "State":
        """Rows ``idx`` of every array."""
        return State(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def packed(self) -> np.ndarray:
        """All fields as one float array of shape (n, fields), in declaration order."""
        return np.stack([np.asarray(getattr(self, f.name), dtype=np.float64) for f in fields(self)],
                        axis=1)

    @staticmethod
    def unpack(S: np.ndarray) -> "State":
        """Inverse of :meth:`packed`."""
        ints = {"seg", "stalls", "status", "reason"}
        return State(**{f.name: (S[:, j].astype(np.int64) if f.name in ints else S[:, j])
                        for j, f in enumerate(fields(State))})


# Column indices of the packed arrays, in field order, for the kernels (numba reads them as
# compile-time constants).
(C_PAGES_NONZERO, C_PAGES_ZERO, C_WWS, C_PAGE_BYTES, C_WIRE_PAGE, C_WIRE_ZERO, C_SCAN_S,
    C_DIRTY_PPS, C_HOT, C_HOT_PPS, C_SEQUENTIAL, C_RATE_BPS, C_BURST_BPS, C_MEM_CAP_PPS,
    C_WINDOW_S, C_CHECK_S, C_LIMIT_S, C_MIN_PAGES, C_MAX_ROUNDS, C_MAX_TRAFFIC, C_GROWING_RULE,
    C_RATE_RULE, C_REMEDY, C_SDPS_SHRINK, C_SDPS_TARGET, C_AC_INITIAL, C_AC_INCREMENT, C_AC_MAX,
    C_AC_RATIO, C_AC_PERIOD_S, C_ADAPTIVE, C_RATE_INITIAL_BPS, C_RATE_INCREMENT_BPS,
    C_RATE_MAX_BPS, C_SKIP, C_TIMEOUT_S, C_PHASE, C_SEND_BUFFER) = range(38)
(S_SEG, S_PENDING, S_PENDING_HOT, S_T, S_MEM_BYTES, S_THETA, S_MAX_THETA, S_AC_CNT, S_AC_T,
    S_AC_DIRTY, S_AC_SENT, S_LAST_SENT, S_LAST_DIRTY_BPS, S_STALLS, S_PREV_REMAINING, S_PREV_NEW,
    S_STATUS, S_REASON) = range(18)
N_CONFIG, N_STATE = len(fields(Config)), len(fields(State))
assert [f.name for f in fields(Config)][C_SEND_BUFFER] == "send_buffer"
assert N_CONFIG == C_SEND_BUFFER + 1
assert [f.name for f in fields(State)][S_REASON] == "reason" and N_STATE == S_REASON + 1
N_PLAN = 8   # rate, pps, sent, remaining, wire bytes, extra s, remaining hot, ahead bytes
P_RATE, P_PPS, P_SENT, P_REMAINING, P_WIRE, P_EXTRA, P_REM_HOT, P_AHEAD = range(N_PLAN)
ARC_SLOTS = MAX_ARCS + 4    # arc starts (or ends) a chase holds, with room for a split and a wrap
#: Scratch that :func:`run_row` takes: a plan, then the arc starts and ends of a chase.
N_SCRATCH = N_PLAN + 2 * ARC_SLOTS


@dataclass(frozen=True)
class Plan:
    """What the next pass sends (arrays of shape (n,))."""

    rate_Bps: np.ndarray           # wire rate of this pass
    send_pps: np.ndarray           # pages/s at that rate
    sent: np.ndarray               # normal pages sent in this pass
    remaining: np.ndarray          # pages still pending when the pass ends (QEMU mid-pass sync)
    wire_bytes: np.ndarray         # wire bytes of the pass
    extra_s: np.ndarray            # CPU time that does not use the link (zero-page scan)
    remaining_hot: np.ndarray      # ... of the remaining pages, those in the hot set
    ahead_bytes: np.ndarray        # ... of the wire bytes, those the sender's clock does not wait
                                   # for (round 0 filling the send buffer: _lead_bytes)

    def packed(self) -> np.ndarray:
        return np.stack([self.rate_Bps, self.send_pps, self.sent, self.remaining, self.wire_bytes,
                         self.extra_s, self.remaining_hot, self.ahead_bytes],
                        axis=1).astype(np.float64)


# ----------------------------------------------------------------------------- scalar kernels

@kernel(inline="always")
def _adapted_rate(C, i, dirty_Bps, r):
    """Xen's rate after a pass that saw ``dirty_Bps``: that + the increment, within the maximum and
    the stream's rate ``r``."""
    return min(min(dirty_Bps + C[i, C_RATE_INCREMENT_BPS], C[i, C_RATE_MAX_BPS]), r)


@kernel
def _pass_rate(C, S, i, link):
    """Wire rate of the next pass: the link's, or Xen's adapted rate below it."""
    r = C[i, C_RATE_BPS] if link < 0.0 else link
    if C[i, C_ADAPTIVE] == 0.0:
        return r
    if S[i, S_SEG] == 0.0:
        return min(C[i, C_RATE_INITIAL_BPS], r)
    return _adapted_rate(C, i, S[i, S_LAST_DIRTY_BPS], r)


@kernel
def _send_pps(C, i, rate):
    """Pages per second a wire rate carries (bounded by compression CPU)."""
    return min(rate * (1.0 / C[i, C_WIRE_PAGE]), C[i, C_MEM_CAP_PPS])


@kernel
def _threshold(C, i, pps):
    """Pending pages at or below which pre-copy stops: pages/s × limit, or min_pages."""
    return max(pps * C[i, C_LIMIT_S], C[i, C_MIN_PAGES])


@kernel(inline="always")
def _rate_limited(C, i, rate):
    """Whether a sender at ``rate`` waits for its rate limiter's windows (QEMU's cap below the
    link) rather than for the link."""
    return C[i, C_WINDOW_S] > 0.0 and rate < C[i, C_BURST_BPS]


@kernel
def _check_interval(C, i, rate):
    """Seconds between mid-pass stop-rule checks (0: only at pass ends).

    Rate-limited QEMU checks once per limiter window (after waiting for it); link-bound QEMU
    every ``check_s`` (ram_save_iterate returns after 50 ms).
    """
    if _rate_limited(C, i, rate):
        return C[i, C_WINDOW_S]
    return C[i, C_CHECK_S]


@kernel
def _skip_fraction(x, sequential):
    """Expected share of WWS pages dirtied before their send in a pass, and its derivative.

    ``x`` is the writes per WWS page during the pass. Random writes: a page at position ``u`` of
    the pass is skipped when written in the first ``u`` of it, ``1 − (1 − e^−x)/x``; a sequential
    sweep: ``x/2`` while the sweep covers the WWS at most once, then ``1 − 1/(2x)``. Both are
    concave and increasing in ``x``.
    """
    if sequential != 0.0:
        return (x / 2.0, 0.5) if x <= 1.0 else (1.0 - 1.0 / (2.0 * x), 1.0 / (2.0 * x * x))
    if x < 0.05:                           # the series, to 1e-12 relative
        return (x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (1.0 / 120.0 - x * (
                    1.0 / 720.0 - x * (1.0 / 5040.0)))))),
                0.5 - x * (1.0 / 3.0 - x * (0.125 - x * (1.0 / 30.0 - x * (
                    1.0 / 144.0 - x * (1.0 / 840.0))))))
    e = math.exp(-x)
    r = 1.0 / x
    return 1.0 - (1.0 - e) * r, ((1.0 - e) * r - e) * r


# x/c for the root x of x² = c(1 − e^−x), 0 <= c <= 1, as a polynomial in t = 2c − 1: Chebyshev
# interpolation of degree 20 at 40-digit roots, in monomials; evaluated in double precision it is
# within 1.6e-15 of 30-digit roots at 5,000 random points
_SKIP_POLY = np.array([
    0.8203066422642608, -0.13160820347438948, 0.03335279150113605, -0.009874136741249286,
    0.00317904867292212, -0.0010793815083234917, 0.0003802521685323272, -0.00013764947029357649,
    5.0881001223287655e-05, -1.912125475275317e-05, 7.2840271923816786e-06, -2.810253321020756e-06,
    1.093002987241962e-06, -4.199891691854004e-07, 1.657003057489608e-07, -7.688380193623348e-08,
    3.0814045286465046e-08, -3.588365575943275e-09, 1.3957636441307355e-09, -4.464827989164865e-09,
    1.8231356453186636e-09])


@kernel(inline="always")
def _skip_poly(c):
    """``x/c`` for the root ``x`` of ``x² = c·(1 − e^−x)``, ``0 <= c <= 1`` (:data:`_SKIP_POLY`,
    summed in pairs, then pairs of pairs, so that the products do not wait for each other)."""
    k = _SKIP_POLY
    t = 2.0 * c - 1.0
    t2 = t * t
    t4 = t2 * t2
    t8 = t4 * t4
    p0 = (k[0] + k[1] * t) + t2 * (k[2] + k[3] * t)
    p1 = (k[4] + k[5] * t) + t2 * (k[6] + k[7] * t)
    p2 = (k[8] + k[9] * t) + t2 * (k[10] + k[11] * t)
    p3 = (k[12] + k[13] * t) + t2 * (k[14] + k[15] * t)
    p4 = (k[16] + k[17] * t) + t2 * (k[18] + k[19] * t)
    return (p0 + t4 * p1) + t8 * ((p2 + t4 * p3) + t8 * (p4 + t4 * k[20]))


@kernel(inline="always")
def _skip_root(b, c):
    """The positive root of ``x² − b·x = c·(1 − e^−x)`` (``b >= 0``, ``c > 0``), to ~1e-13 relative.

    The left side minus the right is convex, zero at 0 and decreasing there, so the root is unique;
    it lies below ``(b + √(b² + 4c))/2`` (where ``e^−x`` is dropped). For ``b = 0`` and ``c <= 1``
    the root is ``c`` times a polynomial in ``c`` (:func:`_skip_poly`). Otherwise the start is
    ``b + c/√(1 + c)``, exact to ``c²/24`` relative when ``b = 0`` (it solves the equation with
    ``x/(1 − e^−x)`` replaced by ``x/2 + √(1 + x²/4)``, right at both ends; within 2.5 % between,
    and within 2.3e-5 with the fitted correction applied when ``b = 0``), and Halley's
    iteration (cubic) finishes in one or two steps: a step below 3e-5·x leaves an error near 1e-14.
    """
    if b == 0.0 and c <= 1.0:
        return c * _skip_poly(c)
    x = b + c / math.sqrt(1.0 + c)
    if b == 0.0:
        # times a rational correction: least squares on the relative error against 30-digit
        # roots at 600 points log-spaced over c in [0.02, 1e5] (max 2.3e-5; tends to 1/(2c) above);
        # one Halley step then leaves about 1e-14
        x *= 1.0 + c * c * (1.0 + 1.86562395e-02 * c) / (24.0 + c * (4.82809417e+01 + c * (
            2.26457969e+01 + c * (1.65123931e+00 + c * 3.86650462e-02))))
        hi = np.inf
    else:
        hi = (b + math.sqrt(b * b + 4.0 * c)) / 2.0
        x = min(x, hi)
    for _ in range(12):
        if x < 0.01:
            om = one_minus_exp(x)          # its series: no exponential
            e = 1.0 - om
        else:
            e = math.exp(-x)
            om = 1.0 - e
        F = x * x - b * x - c * om
        F1 = 2.0 * x - b - c * e
        step = 2.0 * F * F1 / (2.0 * F1 * F1 - F * (2.0 + c * e))
        x = min(max(x - step, 0.5 * x), hi)
        if abs(step) <= 3e-5 * x:
            break
    return x


@kernel(inline="always")
def _sent_with_skips(P, pps, extra, share, a, seq, hot, a_hot):
    """Pages a pass sends when pages re-dirtied before their turn are skipped (Xen).

    Solves ``s = P − share·f(a·τ) − hot·f_hot(a_hot·τ)`` with ``τ = s/pps + extra`` the pass
    duration (``a``: writes per WWS page per second). Without a hot set the root is found in
    closed form for a sequential sweep (``f`` is linear up to ``x = 1`` and ``1 − 1/(2x)`` beyond,
    which makes the equation linear or quadratic in ``τ``) and for random writes by
    :func:`_skip_root` in ``x = a·τ``: ``x² − b·x = c·(1 − e^−x)`` with ``b = a·extra +
    a·(P − share)/pps`` and ``c = a·share/pps``. With a hot set, Newton's method in ``s``: the right
    side minus ``s`` is concave and decreasing, so from ``s = P`` it lands at or below the root and
    then climbs to it monotonically (a step below 1e-6·P leaves an error near 1e-12·P).
    """
    if not (hot > 0.0 and a_hot > 0.0):
        if not (share > 0.0 and a > 0.0):
            return P
        r = a / pps                         # writes per WWS page per page sent
        ae = a * extra
        if seq != 0.0 or ae + P * r < 1e-6:
            # a sweep skips x/2 of its share while x <= 1; random writes x/2 − x²/6 + ..., the
            # same to 1e-13 for x < 1e-6 (where the root below would lose digits in x/a)
            k = 1.0 + 0.5 * share * r
            s0 = P - 0.5 * share * ae
            if s0 * r + ae * k <= k:            # x = s·r + a·extra <= 1 with s = s0/k
                return min(max(s0 / k, 0.0), P)
            b = pps * extra + P - share
            s = (b + math.sqrt(b * b + 2.0 * share / r)) / 2.0 - pps * extra
            return min(max(s, 0.0), P)
        x = _skip_root(max(ae + (P - share) * r, 0.0), share * r)
        return min(max(pps * (x / a - extra), 0.0), P)
    s = P
    per_page = 1.0 / pps                   # pass seconds per page sent
    for _ in range(30):
        tau = s * per_page + extra
        F = s - P
        dF = 1.0
        if share > 0.0 and a > 0.0:
            f, df = _skip_fraction(a * tau, seq)
            F += share * f
            dF += share * df * a * per_page
        f, df = _skip_fraction(a_hot * tau, 0.0)
        F += hot * f
        dF += hot * df * a_hot * per_page
        step = F / dF
        s_new = max(s - step, 0.0)
        if abs(s_new - s) <= 1e-6 * P:
            return s_new
        s = s_new
    return s


@kernel(inline="always")
def _lead_bytes(C, S, i, rate):
    """Bytes a pass puts into the socket ahead of the wire without waiting for it.

    A link-bound sender (not waiting for a rate-limiter window) fills its send buffer at the start
    of round 0 and keeps ``SEND_AHEAD_SHARE`` of it queued from then on, so its clock runs that
    far ahead of the wire: round 0 gains the lead, later passes keep it (0 for them).
    """
    if S[i, S_SEG] != 0.0 or _rate_limited(C, i, rate):
        return 0.0
    return SEND_AHEAD_SHARE * C[i, C_SEND_BUFFER]


@kernel(inline="always")
def _plan_row(C, S, i, link, out):
    rate = _pass_rate(C, S, i, link)
    pps = _send_pps(C, i, rate)
    first = S[i, S_SEG] == 0.0
    P = S[i, S_PENDING]
    extra = C[i, C_SCAN_S] if first else 0.0
    lead = _lead_bytes(C, S, i, rate)
    sent = P
    # mid-pass checks (QEMU): send until fewer than the threshold remain at a check
    h = _check_interval(C, i, rate)
    if h > 0.0:
        # round 0's bitmap holds the zero pages too, taken to sit above the data (assumed): it
        # syncs at the first check with fewer than the threshold left, zero pages included
        th = _threshold(C, i, pps) - (C[i, C_PAGES_ZERO] if first else 0.0)
        if th > 0.0:
            per_check = pps * h
            ahead = lead * (1.0 / C[i, C_WIRE_PAGE])
            k = math.floor(max(P - ahead - th, 0.0) / per_check) + 1.0
            sent = min(P, ahead + k * per_check)
    remaining = P - sent
    H = S[i, S_PENDING_HOT]
    # the sender goes by address, so what remains holds hot pages in proportion
    rem_hot = remaining * H / P if P > 0.0 else 0.0
    # Xen: pages dirtied within the pass before their turn wait for the next pass
    if C[i, C_SKIP] != 0.0:
        remaining = 0.0
        rem_hot = 0.0
        keep = 1.0 - S[i, S_THETA]
        d = C[i, C_DIRTY_PPS] * keep
        w = C[i, C_WWS]
        dh = C[i, C_HOT_PPS] * keep
        wh = C[i, C_HOT]
        if (d > 0.0 and w > 0.0) or (dh > 0.0 and wh > 0.0):
            sent = _sent_with_skips(P, pps, extra, w if first else min(P - H, w),
                                    d / w if w > 0.0 else 0.0, C[i, C_SEQUENTIAL],
                                    wh if first else H, dh / wh if wh > 0.0 else 0.0)
    wire = sent * C[i, C_WIRE_PAGE]
    if first:
        wire += C[i, C_PAGES_ZERO] * C[i, C_WIRE_ZERO]
    out[P_RATE] = rate
    out[P_PPS] = pps
    out[P_SENT] = sent
    out[P_REMAINING] = remaining
    out[P_WIRE] = wire
    out[P_EXTRA] = extra
    out[P_REM_HOT] = rem_hot
    out[P_AHEAD] = min(lead, wire)


@kernel
def _wire_time(C, i, x0, nbytes, rate):
    """Seconds to put nbytes on the wire after x0 bytes at ``rate``.

    With a rate-limiter window (QEMU) each window bursts at the link rate until its budget
    ``rate × window`` is spent and then waits for the window to end.
    """
    if _rate_limited(C, i, rate):
        win = C[i, C_WINDOW_S]
        burst = C[i, C_BURST_BPS]
        budget = rate * win
        # byte counts a rounding error short of a window's end count as at its end (a pass that
        # starts where the last stopped at a check would otherwise pay one spurious window)
        k0 = math.floor(x0 / budget + 1e-9)
        k1 = math.floor((x0 + nbytes) / budget + 1e-9)
        return (k1 - k0) * win + ((x0 + nbytes - k1 * budget) - (x0 - k0 * budget)) / burst
    return nbytes * (1.0 / rate)


@kernel(inline="always")
def _duration_row(C, S, i, pl):
    dur = _wire_time(C, i, S[i, S_MEM_BYTES], pl[P_WIRE] - pl[P_AHEAD], pl[P_RATE]) + pl[P_EXTRA]
    return max(dur, pl[P_SENT] * (1.0 / C[i, C_MEM_CAP_PPS]))


@kernel(inline="always")
def _stop_rule(C, i, seg, t, mem, pending, th, sent, last_sent, rate, dirty_Bps, stalled, theta):
    """Status and reason after pass ``seg`` (round 0 is pass 1), in the order the rules apply.

    ``t``, ``mem``, ``pending``: time, memory wire bytes and pending pages after the pass; ``th``:
    the next pass's threshold; ``sent``, ``last_sent``, ``rate``: this pass's and the previous
    pass's pages and this pass's rate; ``stalled``: the pass completed a run of stalls;
    ``theta``: the vCPU throttle the pass ran at.
    """
    remedy = C[i, C_REMEDY]
    if pending <= th:
        return CONVERGED, R_NONE
    if seg >= C[i, C_MAX_ROUNDS]:
        return FORCED, R_ROUNDS
    if mem >= C[i, C_MAX_TRAFFIC]:
        return FORCED, R_TRAFFIC
    if (C[i, C_GROWING_RULE] != 0.0 and seg >= 2.0 and sent > last_sent
            and rate >= C[i, C_RATE_MAX_BPS]):
        return FORCED, R_GROWING
    if stalled and remedy == FORCE and math.isinf(C[i, C_MAX_ROUNDS]) \
            and math.isinf(C[i, C_MAX_TRAFFIC]):
        return FORCED, R_STALL
    if stalled and remedy == SDPS and theta >= 0.99:
        return FORCED, R_STALL
    if C[i, C_RATE_RULE] != 0.0 and dirty_Bps + C[i, C_RATE_INCREMENT_BPS] > C[i, C_RATE_MAX_BPS]:
        return FORCED, R_RATE
    if stalled and (remedy == NONE or (remedy == AUTO_CONVERGE and theta >= C[i, C_AC_MAX])):
        return FAILED, R_STALL
    if t >= C[i, C_TIMEOUT_S]:
        return FAILED, R_TIMEOUT
    if seg >= MAX_SEGMENTS:
        return FAILED, R_PASSES
    return RUNNING, R_NONE


@kernel(inline="always")
def _auto_converge(C, i, theta, cnt, ac_t, ac_dirty, ac_sent):
    """QEMU auto-converge at a sync, given the period so far (s, pages newly dirtied, wire bytes)
    including the pass that just ended: once the period reaches ``ac_period_s``, a second period
    in a row that dirtied more than ``ac_ratio`` of what it sent starts or raises the throttle.
    Returns the new ``(theta, count, period s, period pages, period bytes)``."""
    if ac_t < C[i, C_AC_PERIOD_S]:
        return theta, cnt, ac_t, ac_dirty, ac_sent
    if ac_dirty * C[i, C_PAGE_BYTES] > C[i, C_AC_RATIO] * ac_sent:
        cnt += 1.0
        if cnt >= 2.0:
            cnt = 0.0
            theta = min(theta + C[i, C_AC_INCREMENT], C[i, C_AC_MAX]) if theta > 0.0 \
                else C[i, C_AC_INITIAL]
    return theta, cnt, 0.0, 0.0, 0.0


@kernel(inline="always")
def _finish_row(C, S, i, pl, duration):
    """Apply a finished pass to row i of S in place: sync, stop rules, remedies."""
    seq = C[i, C_SEQUENTIAL]
    W = C[i, C_WWS]
    theta = S[i, S_THETA]
    d = C[i, C_DIRTY_PPS] * (1.0 - theta)
    dh = C[i, C_HOT_PPS] * (1.0 - theta)
    Wh = C[i, C_HOT]
    seg0 = S[i, S_SEG]
    P0 = S[i, S_PENDING]
    R = pl[P_REMAINING]
    Rh = pl[P_REM_HOT]
    Rw = R - Rh
    new = unique_dirtied(d, W, duration, seq)
    new_hot = unique_dirtied(dh, Wh, duration, 0.0)
    # sequential sweep: 1st mid-pass sync independent (in expectation over the sweep position),
    # 2nd partly overlapping where the first arc wrapped, then the sender trails the guest
    if seq != 0.0 and seg0 == 2.0 and Rw > 0.0:
        ov = sequential_second_overlap(S[i, S_PREV_REMAINING], S[i, S_PREV_NEW], Rw, new, W, 8)
        pending_w = min(Rw + new - ov, W)
    else:
        pending_w = union_pending(Rw, new, W, 1.0 if (seq != 0.0 and seg0 >= 3.0) else 0.0)
    pending_h = union_pending(Rh, new_hot, Wh, 0.0)
    pending = pending_w + pending_h
    seg = seg0 + 1.0
    t = S[i, S_T] + duration
    mem = S[i, S_MEM_BYTES] + pl[P_WIRE]
    dirty_Bps = (new + new_hot) * C[i, C_PAGE_BYTES] / max(duration, 1e-300)
    remedy = C[i, C_REMEDY]

    # QEMU auto-converge bookkeeping (trigger checked once per period of syncs >= 1 s)
    cnt = S[i, S_AC_CNT]
    ac_t = S[i, S_AC_T]
    ac_dirty = S[i, S_AC_DIRTY]
    ac_sent = S[i, S_AC_SENT]
    if remedy == AUTO_CONVERGE:
        theta, cnt, ac_t, ac_dirty, ac_sent = _auto_converge(
            C, i, theta, cnt, ac_t + duration, ac_dirty + max(pending - R, 0.0),
            ac_sent + pl[P_WIRE])

    # the stop rule is evaluated at the next pass's rate
    S[i, S_SEG] = seg
    S[i, S_LAST_DIRTY_BPS] = dirty_Bps
    nxt_rate = _pass_rate(C, S, i, pl[P_RATE] if C[i, C_ADAPTIVE] == 0.0 else -1.0)
    nxt_pps = _send_pps(C, i, nxt_rate)
    th = _threshold(C, i, nxt_pps)

    # Random writes with mid-pass syncs: within the k-th band of pending pages a pass maps P to
    # R + N_k(1 − R/W), R = P − k·s·h, so f(P) − P is largest at the band's bottom, and
    # g_k = N(k·h)(1 − (th − s·h)/W) − k·s·h is concave in k with g_0 = 0. Pre-copy therefore
    # reaches the threshold iff g_1 < 0; otherwise it approaches a fixed point forever.
    h = _check_interval(C, i, nxt_rate)
    s_h = nxt_pps * h
    hopeless = False
    if seq == 0.0 and seg >= 2.0 and h > 0.0 and th > s_h and W > 0.0 and Wh == 0.0:
        g1 = unique_dirtied(d, W, h, seq) * (1.0 - (th - s_h) / W) - s_h
        hopeless = g1 >= 0.0
    progress = pending < P0 * (1.0 - STALL_TOLERANCE) and not hopeless
    stalls = S[i, S_STALLS]
    if progress or seg < 2.0:
        stalls = 0.0
    else:
        stalls += STALLS_TO_GIVE_UP if hopeless else 1.0
    stalled = stalls >= STALLS_TO_GIVE_UP

    # vSphere SDPS engages when it sees the guest dirty pages faster than they are sent (from the
    # first pass on, so every rate above the send rate meets the same throttle), or when a pass
    # stops shrinking the dirty set; it throttles the vCPUs just enough (to sdps_target x sent)
    outpaced = (d + dh) > pl[P_PPS]
    if remedy == SDPS and d + dh > 0.0 and (
            outpaced or (seg >= 2.0 and pending > C[i, C_SDPS_SHRINK] * P0)):
        need = 1.0 - C[i, C_SDPS_TARGET] * pl[P_PPS] / (C[i, C_DIRTY_PPS] + C[i, C_HOT_PPS])
        theta = max(theta, min(max(need, 0.0), 0.99))

    if t > C[i, C_TIMEOUT_S]:
        # cancelled during this pass: count only what went out before the timeout
        status, reason = FAILED, R_TIMEOUT
        used = (C[i, C_TIMEOUT_S] - S[i, S_T]) / duration
        mem = S[i, S_MEM_BYTES] + pl[P_WIRE] * used
        t = C[i, C_TIMEOUT_S]
    else:
        # a remedy gives up only after a pass that ran at its largest throttle still stalled
        status, reason = _stop_rule(C, i, seg, t, mem, pending, th, pl[P_SENT], S[i, S_LAST_SENT],
                                    pl[P_RATE], dirty_Bps, stalled, S[i, S_THETA])

    S[i, S_PENDING] = pending
    S[i, S_PENDING_HOT] = pending_h
    S[i, S_T] = t
    S[i, S_MEM_BYTES] = mem
    S[i, S_MAX_THETA] = max(S[i, S_MAX_THETA], S[i, S_THETA])   # the throttle this pass ran at
    S[i, S_THETA] = theta
    S[i, S_AC_CNT] = cnt
    S[i, S_AC_T] = ac_t
    S[i, S_AC_DIRTY] = ac_dirty
    S[i, S_AC_SENT] = ac_sent
    S[i, S_LAST_SENT] = pl[P_SENT]
    S[i, S_STALLS] = stalls
    S[i, S_PREV_REMAINING] = Rw
    S[i, S_PREV_NEW] = new
    S[i, S_STATUS] = status
    S[i, S_REASON] = reason


@kernel(inline="always")
def _fast_forward_row(C, S, i):
    """Apply at once the passes of a mid-pass-sync (QEMU) pre-copy that repeat the same shape.

    From the third sync on, with a constant rate and throttle, a pass that ends after ``k`` checks
    maps the pending pages affinely: random writes ``P' = a·P + b`` with ``a = 1 − N/W``; a
    sequential sweep with the sender trailing the guest ``P' = P + b`` (``a = 1``), where
    ``N = U(k·h)`` and ``b = N − k·s·h·a``. Once a pass ends in the same band ``k`` as the one
    before, the passes that stay in it are applied in closed form (the arithmetic of iterating
    them); a pre-copy that changes band every pass is left to iterate. While many bands are crossed
    per pass, a
    sequential chase shrinks ``u = (P − th)/(s·h)`` geometrically, ``u + ½ → (u + ½)(d/s)`` per
    pass in expectation over the band phase, and is advanced in closed form down to 64 bands.
    """
    if S[i, S_STATUS] != RUNNING or S[i, S_SEG] < 3.0:
        return
    if (C[i, C_REMEDY] == AUTO_CONVERGE or C[i, C_ADAPTIVE] != 0.0 or C[i, C_SKIP] != 0.0
            or C[i, C_HOT_PPS] > 0.0):
        return
    rate = C[i, C_RATE_BPS]
    pps = _send_pps(C, i, rate)
    h = _check_interval(C, i, rate)
    th = _threshold(C, i, pps)
    d = C[i, C_DIRTY_PPS] * (1.0 - S[i, S_THETA])
    seq = C[i, C_SEQUENTIAL]
    W = C[i, C_WWS]
    if h <= 0.0 or th <= pps * h or d <= 0.0 or W <= 0.0 or (seq != 0.0 and d >= pps):
        return
    per = pps * h
    P = S[i, S_PENDING]
    room_t = C[i, C_TIMEOUT_S] - S[i, S_T]
    cap = min(C[i, C_MAX_ROUNDS], MAX_SEGMENTS) - S[i, S_SEG] - 1.0
    u = (P - th) / per
    if seq != 0.0 and u > 128.0:
        lam = d / pps
        # passes until u falls to 64 bands: (u + 1/2) lam^m = 64.5
        m = math.floor(math.log(64.5 / (u + 0.5)) / math.log(lam))
        m = min(m, cap)
        # time and pages of those passes: sum of (u_j + 1/2) bands of per pages each
        geo = (u + 0.5) * (1.0 - lam ** m) / (1.0 - lam)
        if m >= 1.0 and geo * h < room_t:
            u_new = (u + 0.5) * lam ** m - 0.5
            S[i, S_SEG] += m
            S[i, S_PENDING] = th + u_new * per
            S[i, S_T] += geo * h
            S[i, S_MEM_BYTES] += geo * per * C[i, C_WIRE_PAGE]
            S[i, S_LAST_SENT] = (u_new + 1.0) * per
            S[i, S_STALLS] = 0.0
        return
    k = math.floor(max(P - th, 0.0) / per) + 1.0
    if S[i, S_LAST_SENT] != k * per:
        return                  # the last pass ended in another band: the shape is still changing
    lo = th + (k - 1.0) * per
    hi = th + k * per
    N = unique_dirtied(d, W, k * h, seq)
    a = 1.0 if seq != 0.0 else 1.0 - N / W
    b = N - k * per * a
    if a < 1.0:
        fixed = b / (1.0 - a)
        if P > fixed:
            if fixed >= lo:
                return          # approaches a fixed point inside the band: finish() stalls it
            m = math.floor(math.log((lo - fixed) / (P - fixed)) / math.log(a))
        else:
            if fixed < hi:
                return
            m = math.floor(math.log((fixed - hi) / (fixed - P)) / math.log(a))
    else:
        if b >= 0.0:
            return
        m = math.floor((P - lo) / -b)
    seg_time = k * h
    if not math.isinf(room_t):          # no timeout: floor(inf) is an error in pure Python
        m = min(m, math.floor(room_t / seg_time))
    m = min(m - 1.0, cap)
    if not (m >= 1.0):
        return
    if a < 1.0:
        am = a ** m
        P_new = am * P + b * (1.0 - am) / (1.0 - a)
    else:
        P_new = P + m * b
    S[i, S_SEG] += m
    S[i, S_PENDING] = P_new
    S[i, S_T] += m * seg_time
    S[i, S_MEM_BYTES] += m * k * per * C[i, C_WIRE_PAGE]
    S[i, S_LAST_SENT] = k * per
    S[i, S_LAST_DIRTY_BPS] = N / seg_time * C[i, C_PAGE_BYTES]
    S[i, S_STALLS] = 0.0


@kernel(inline="always")
def _fast_forward_adaptive_row(C, S, i):
    """Run the steady passes of a Xen pre-copy in reduced form, up to the pass that stops it.

    After round 0, without a hot set, throttle, remedy or mid-pass checks, a Xen pass is a map of
    two numbers: the pending pages ``P`` (all in the WWS, each sent or skipped) and the rate, the
    last pass's dirty rate + the increment. Each pass here is the arithmetic of :func:`_plan_row`,
    :func:`_duration_row` and :func:`_finish_row` with what is zero in this regime left out (pages
    left for a mid-pass sync, the hot set, the zero-page scan, the remedies), and solved in the
    pass's writes per WWS page: for random writes the pages dirtied in the pass come from the skip
    equation's root (``W·x²/c = W(1 − e^−x)``) instead of a second exponential, and a sequential
    sweep's pass is :func:`_sent_with_skips`'s closed form with one division. Results agree with
    the pass-by-pass kernels to about 1e-12. The pass that stops pre-copy ends it here too
    (:func:`_stop_rule`, as in :func:`_finish_row`); a pass that a timeout cuts short or that does
    not shrink the pending set is left to those kernels.
    """
    if S[i, S_STATUS] != RUNNING or S[i, S_SEG] < 1.0 or C[i, C_ADAPTIVE] == 0.0:
        return
    if (C[i, C_SKIP] == 0.0 or (C[i, C_HOT] > 0.0 and C[i, C_HOT_PPS] > 0.0)
            or C[i, C_REMEDY] == SDPS or C[i, C_REMEDY] == AUTO_CONVERGE or S[i, S_THETA] != 0.0
            or C[i, C_WINDOW_S] > 0.0 or C[i, C_CHECK_S] > 0.0
            or not math.isinf(C[i, C_MEM_CAP_PPS])):
        return
    W = C[i, C_WWS]
    d = C[i, C_DIRTY_PPS]
    P = S[i, S_PENDING]
    if not (W > 0.0 and d > 0.0 and 0.0 < P <= W) or S[i, S_PENDING_HOT] != 0.0:
        return
    seq = C[i, C_SEQUENTIAL]
    a = d / W
    wire = C[i, C_WIRE_PAGE]
    seg0 = S[i, S_SEG]
    seg, t, mem = seg0, S[i, S_T], S[i, S_MEM_BYTES]
    last_dirty, last_sent = S[i, S_LAST_DIRTY_BPS], S[i, S_LAST_SENT]
    status, reason = RUNNING, R_NONE
    rate = _adapted_rate(C, i, last_dirty, C[i, C_RATE_BPS])
    page = C[i, C_PAGE_BYTES]
    while True:
        per_page = wire / rate          # seconds per page sent
        y = P * a * per_page            # writes per WWS page while P pages are sent
        if seq != 0.0:
            # with x = s·y/P writes per WWS page in a pass that sends s pages, a sweep skips
            # P·x/2 of the P pages while x <= 1 (y <= 2), and P(1 − 1/(2x)) once it laps
            # (_skip_fraction): s = P/(1 + y/2), or P/√(2y)
            if y <= 2.0:
                sent = P / (1.0 + 0.5 * y)
                dirty = d * page
            else:
                sent = P / math.sqrt(2.0 * y)
                dirty = d * page / (sent * a * per_page)
            dur = sent * per_page
            n_new = min(d * dur, W)
        elif y < 1e-6:
            sent = _sent_with_skips(P, 1.0 / per_page, 0.0, P, a, 0.0, 0.0, 0.0)
            dur = sent * per_page
            n_new = unique_dirtied(d, W, dur, seq)
            dirty = n_new * page / max(dur, 1e-300)
        else:
            # x = a·dur solves x² = y(1 − e^−x); the pass sends P·q pages (q = x/y) and
            # dirties W(1 − e^−x) = W·x·q of the WWS
            q = _skip_poly(y) if y <= 1.0 else _skip_root(0.0, y) / y
            sent = min(P * q, P)
            dur = sent * per_page
            n_new = W * (y * q * q)
            dirty = d * q * page
        wire_b = sent * wire
        if t + dur > C[i, C_TIMEOUT_S] or not (n_new < P * (1.0 - STALL_TOLERANCE)):
            break               # a timeout within the pass, or a stall: finish() accounts for them
        nxt = _adapted_rate(C, i, dirty, C[i, C_RATE_BPS])
        status, reason = _stop_rule(C, i, seg + 1.0, t + dur, mem + wire_b, n_new,
                                    _threshold(C, i, nxt * (1.0 / wire)), sent, last_sent, rate,
                                    dirty, False, 0.0)
        seg += 1.0
        t += dur
        mem += wire_b
        P = n_new
        last_dirty = dirty
        last_sent = sent
        rate = nxt
        if status != RUNNING:
            break
    if seg == seg0:
        return
    S[i, S_SEG] = seg
    S[i, S_PENDING] = P
    S[i, S_T] = t
    S[i, S_MEM_BYTES] = mem
    S[i, S_LAST_DIRTY_BPS] = last_dirty
    S[i, S_LAST_SENT] = last_sent
    S[i, S_PREV_NEW] = P                # every pending page was dirtied in the last pass
    S[i, S_PREV_REMAINING] = 0.0
    S[i, S_STALLS] = 0.0
    S[i, S_STATUS] = status
    S[i, S_REASON] = reason


@kernel(inline="always")
def start_row(C, S, i):
    """Row i of S: nothing sent, every nonzero page pending for round 0."""
    S[i, :] = 0.0
    S[i, S_PENDING] = C[i, C_PAGES_NONZERO]
    S[i, S_PENDING_HOT] = C[i, C_HOT]
    S[i, S_LAST_SENT] = np.inf


@kernel
def _chases(C, S, i):
    """Whether row i's pre-copy goes on as an exact chase of arcs (:func:`_chase_row`): after
    round 0, a sequential writer of known phase, no hot set, and a sender that syncs mid-pass."""
    return (S[i, S_STATUS] == RUNNING and S[i, S_SEG] >= 1.0 and C[i, C_SEQUENTIAL] != 0.0
            and not math.isnan(C[i, C_PHASE]) and C[i, C_HOT] == 0.0 and C[i, C_WWS] > 0.0
            and C[i, C_ADAPTIVE] == 0.0 and C[i, C_SKIP] == 0.0
            and (C[i, C_REMEDY] == NONE or C[i, C_REMEDY] == AUTO_CONVERGE)
            and _check_interval(C, i, C[i, C_RATE_BPS]) > 0.0)


@kernel
def _send(st, en, n, p, rest, pages, W):
    """Send ``pages``: first what round 0 left above the working set (``rest``), then the
    working set's arcs from the sender's position. Returns ``(arcs, position, rest, sent)``."""
    above = min(rest, pages)
    n, p, sent = send_from(st, en, n, p, pages - above, W)
    return n, p, rest - above, above + sent


@kernel
def _record(rec, nrec, start, duration, rate, sent, wire, pending, theta):
    """Write one sync's record (``models.sequential.REC_*``) if ``rec`` has room; the count."""
    if (nrec + 1) * N_RECORD > rec.shape[0]:
        return nrec
    r = nrec * N_RECORD
    rec[r + REC_START] = start
    rec[r + REC_DURATION] = duration
    rec[r + REC_RATE] = rate
    rec[r + REC_SENT] = sent
    rec[r + REC_WIRE] = wire
    rec[r + REC_PENDING] = pending
    rec[r + REC_THROTTLE] = theta * 100.0
    return nrec + 1


@kernel
def _chase_row(C, S, i, rec, st, en):
    """Finish row i's pre-copy after round 0 by following its sequential writer's arcs exactly.

    The writer starts at ``phase × W`` and its round-0 arc is what the sync that ended round 0
    found; the pages round 0 had not sent when it stopped at a check are sent next (they lie above
    the working set), then the sender enters the working set at its bottom. Every check interval
    sends its pages (the first only what round 0 left of its window); at the first check with
    fewer pages pending than the threshold the writer's arc since the last sync is added, and
    pre-copy stops if still below it. Auto-converge acts as in :func:`_finish_row`. The state row
    ends as :func:`run_row` leaves it; ``rec`` receives one record per sync while it has room
    (``models.sequential.N_RECORD`` numbers each, in the order of ``REC_*``); ``st``, ``en``: scratch
    for the arcs (``ARC_SLOTS`` each). Returns the records written.
    """
    W = C[i, C_WWS]
    rate = C[i, C_RATE_BPS]
    pps = _send_pps(C, i, rate)
    h = _check_interval(C, i, rate)
    th = _threshold(C, i, pps)
    per = pps * h
    wire_page = C[i, C_WIRE_PAGE]
    d0 = C[i, C_DIRTY_PPS]
    remedy = C[i, C_REMEDY]
    timeout = C[i, C_TIMEOUT_S]
    t_sync = S[i, S_T]
    mem = S[i, S_MEM_BYTES]
    # round 0 is never throttled: its arc runs from the phase for the whole of round 0
    writer = C[i, C_PHASE] * W
    n = add_arc(st, en, 0, writer, d0 * t_sync, W)
    writer += d0 * t_sync
    # what round 0 left when it stopped at a check lies above the working set: sent first
    rest = S[i, S_PREV_REMAINING]
    # the first check: the end of the window round 0 ended in, with what that window had left
    if _rate_limited(C, i, rate):
        win = C[i, C_WINDOW_S]
        budget = rate * win
        first = (budget - (mem - math.floor(mem / budget) * budget)) / wire_page
        t = (math.floor(t_sync / win + 1e-9) + 1.0) * win
    else:
        first = per
        t = t_sync + h
    n, p, rest, sent = _send(st, en, n, 0.0, rest, first, W)
    pending = pending_pages(st, en, n) + rest
    theta = S[i, S_THETA]
    max_theta = S[i, S_MAX_THETA]
    seg = S[i, S_SEG]
    cnt = S[i, S_AC_CNT]
    ac_t = S[i, S_AC_T]
    ac_dirty = S[i, S_AC_DIRTY]
    ac_sent = S[i, S_AC_SENT]
    best = np.inf
    since_best = 0.0
    status = RUNNING
    reason = R_NONE
    nrec = 0
    last = 0.0
    while status == RUNNING:
        if pending >= th:
            # the checks until the first below the threshold send a window's pages each
            k = math.floor((pending - th) / per) + 1.0
            if t + k * h > timeout + 1e-9:
                # cancelled first: the windows that fit before the timeout
                k = max(math.floor((timeout - t) / h + 1e-9), 0.0)
                n, p, rest, more = _send(st, en, n, p, rest, k * per, W)
                sent += more
                mem += sent * wire_page
                pending = pending_pages(st, en, n) + rest
                nrec = _record(rec, nrec, t_sync, timeout - t_sync, rate, sent, sent * wire_page,
                               pending, theta)
                last = sent
                seg += 1.0              # the cancelled pass counts, as in _finish_row
                t = timeout
                status = FAILED
                reason = R_TIMEOUT
                break
            n, p, rest, more = _send(st, en, n, p, rest, k * per, W)
            sent += more
            t += k * h
        # the sync: the writer's arc since the last one joins the pending pages
        dur = t - t_sync
        before = pending_pages(st, en, n) + rest
        step = d0 * (1.0 - theta) * dur
        n = add_arc(st, en, n, writer, step, W)
        writer += step
        pending = pending_pages(st, en, n) + rest
        wire = sent * wire_page
        mem += wire
        seg += 1.0
        nrec = _record(rec, nrec, t_sync, dur, rate, sent, wire, pending, theta)
        ran_at = theta
        max_theta = max(max_theta, theta)
        if remedy == AUTO_CONVERGE:
            theta, cnt, ac_t, ac_dirty, ac_sent = _auto_converge(
                C, i, theta, cnt, ac_t + dur, ac_dirty + max(pending - before, 0.0), ac_sent + wire)
        if pending < best * (1.0 - STALL_TOLERANCE):
            best = pending
            since_best = 0.0
        else:
            since_best += 1.0
        last = sent
        sent = 0.0
        t_sync = t
        if pending < th:
            status = CONVERGED
        elif since_best >= STALL_SYNCS and (
                remedy == NONE or (remedy == AUTO_CONVERGE and ran_at >= C[i, C_AC_MAX])):
            status = FAILED
            reason = R_STALL
        elif t >= timeout:
            status = FAILED
            reason = R_TIMEOUT
        elif seg >= MAX_SEGMENTS:
            status = FAILED
            reason = R_PASSES
    S[i, S_SEG] = seg
    S[i, S_PENDING] = pending
    S[i, S_PENDING_HOT] = 0.0
    S[i, S_T] = t
    S[i, S_MEM_BYTES] = mem
    S[i, S_THETA] = theta
    S[i, S_MAX_THETA] = max_theta
    S[i, S_AC_CNT] = cnt
    S[i, S_AC_T] = ac_t
    S[i, S_AC_DIRTY] = ac_dirty
    S[i, S_AC_SENT] = ac_sent
    S[i, S_LAST_SENT] = last
    S[i, S_STALLS] = 0.0
    S[i, S_STATUS] = status
    S[i, S_REASON] = reason
    return nrec


@kernel(inline="always")
def run_row(C, S, i, pl):
    """Run the pre-copy of row i to its stop at the constant rates of C (``pl``: scratch of
    ``N_SCRATCH``)."""
    while S[i, S_STATUS] == RUNNING:
        _plan_row(C, S, i, -1.0, pl)
        dur = _duration_row(C, S, i, pl)
        _finish_row(C, S, i, pl, dur)
        if S[i, S_SEG] == 1.0 and _chases(C, S, i):      # after round 0 only: checked once
            _chase_row(C, S, i, pl[:0], pl[N_PLAN:N_PLAN + ARC_SLOTS], pl[N_PLAN + ARC_SLOTS:])
            return
        _fast_forward_row(C, S, i)
        _fast_forward_adaptive_row(C, S, i)


@loop
def _run_all(C, S, pl):
    for i in range(C.shape[0]):
        start_row(C, S, i)
        run_row(C, S, i, pl)


@loop
def _chase_some(C, S, rows, rec, counts, st, en):
    """Chase rows ``rows`` (those :func:`_chases` picks), their records into rec[j]."""
    for j in range(rows.shape[0]):
        counts[j] = _chase_row(C, S, rows[j], rec[j], st, en)


@loop
def _chase_mask(C, S, out):
    for i in range(C.shape[0]):
        out[i] = _chases(C, S, i)


@loop
def _plan_all(C, S, link, out):
    for i in range(C.shape[0]):
        _plan_row(C, S, i, link[i], out[i])


@loop
def _finish_all(C, S, PL, duration):
    for i in range(C.shape[0]):
        _finish_row(C, S, i, PL[i], duration[i])


@loop
def _duration_all(C, S, PL, out):
    for i in range(C.shape[0]):
        out[i] = _duration_row(C, S, i, PL[i])


# ----------------------------------------------------------------------------- array API

def _start_packed(cfg: Config) -> np.ndarray:
    S = np.zeros((cfg.pages_nonzero.shape[0], N_STATE))
    S[:, S_PENDING] = cfg.pages_nonzero
    S[:, S_PENDING_HOT] = cfg.hot
    S[:, S_LAST_SENT] = np.inf
    return S


def start(cfg: Config) -> State:
    """Initial state: nothing sent, every nonzero page pending for round 0."""
    return State.unpack(_start_packed(cfg))


def plan(cfg: Config, st: State, link_Bps: np.ndarray | None = None) -> Plan:
    """Plan the next pass of every migration.

    Parameters
    ----------
    cfg : Config
    st : State
    link_Bps : ndarray, optional
        Wire rate the stream has now (scenario engine); default ``cfg.rate_Bps``.

    Returns
    -------
    Plan
    """
    n = cfg.pages_nonzero.shape[0]
    link = np.full(n, -1.0) if link_Bps is None else np.asarray(link_Bps, dtype=float)
    out = np.empty((n, N_PLAN))
    _plan_all(cfg.packed(), st.packed(), link, out)
    return Plan(*out.T.copy())


def pass_duration(cfg: Config, st: State, pl: Plan) -> np.ndarray:
    """Seconds a planned pass takes at its own rate (windowed cap, zero scan, compression CPU)."""
    out = np.empty(cfg.pages_nonzero.shape[0])
    _duration_all(cfg.packed(), st.packed(), pl.packed(), out)
    return out


def finish(cfg: Config, st: State, pl: Plan, duration_s: np.ndarray) -> State:
    """Apply a finished pass: sync the dirty bitmap, apply stop rules and remedies.

    Parameters
    ----------
    cfg, st, pl
        Configuration, state before the pass, and the pass's plan.
    duration_s : ndarray
        How long the pass took, s (the scenario engine passes what its shares gave).

    Returns
    -------
    State
        With ``status`` CONVERGED/FORCED/FAILED where pre-copy stopped (``pending`` is then what the
        stop-and-copy sends).
    """
    S = st.packed()
    _finish_all(cfg.packed(), S, pl.packed(), np.asarray(duration_s, dtype=float))
    return State.unpack(S)


@dataclass(frozen=True)
class Detail:
    """One pass of one migration, for ``--rounds`` output."""

    index: int
    start_s: float
    duration_s: float
    rate_Bps: float
    pages_sent: float
    wire_bytes: float
    pending_after: float
    throttle_pct: float            # vCPU throttle while the pass ran (a remedy acts from the next)


def run(cfg: Config, detail: bool = False) -> tuple[State, list[list[Detail]]]:
    """Run pre-copy to its stop for every migration at the constant rates of ``cfg``.

    Parameters
    ----------
    cfg : Config
    detail : bool
        Also return each migration's passes (then every pass is taken one by one).

    Returns
    -------
    (State, list of list of Detail)
        Final state (status never RUNNING) and, with ``detail``, the passes of each migration.
    """
    if not detail:
        S = np.empty((cfg.pages_nonzero.shape[0], N_STATE))
        _run_all(cfg.packed(), S, np.empty(N_SCRATCH))
        return State.unpack(S), []
    n = cfg.pages_nonzero.shape[0]
    st = start(cfg)
    details: list[list[Detail]] = [[] for _ in range(n)]
    C = cfg.packed()
    while (st.status == RUNNING).any():
        S = st.packed()
        chased = np.zeros(n, dtype=np.bool_)
        _chase_mask(C, S, chased)
        if chased.any():
            # one row at a time through one record buffer (a chase may sync MAX_SEGMENTS times)
            rec = np.zeros((1, MAX_SEGMENTS * N_RECORD))
            count = np.zeros(1, dtype=np.int64)
            scratch = np.empty(ARC_SLOTS), np.empty(ARC_SLOTS)
            for i in np.flatnonzero(chased):
                _chase_some(C, S, np.array([i]), rec, count, *scratch)
                records = rec[0, :count[0] * N_RECORD].reshape(-1, N_RECORD)
                details[i].extend(Detail(int(st.seg[i]) + k, *(float(x) for x in r))
                                  for k, r in enumerate(records))
            st = State.unpack(S)
            continue
        pl = plan(cfg, st)
        dur = pass_duration(cfg, st, pl)
        new = finish(cfg, st, pl, dur)
        for i in np.flatnonzero(st.status == RUNNING):
            details[i].append(Detail(int(st.seg[i]), float(st.t[i]), float(dur[i]),
                                     float(pl.rate_Bps[i]), float(pl.sent[i]),
                                     float(pl.wire_bytes[i]), float(new.pending[i]),
                                     float(st.theta[i] * 100)))
        keep = st.status != RUNNING
        st = State(**{f.name: np.where(keep, getattr(st, f.name), getattr(new, f.name))
                      for f in fields(State)})
    return st, details
