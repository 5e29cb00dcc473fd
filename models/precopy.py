"""Iterative memory pre-copy: passes, dirty-bitmap syncs, stop rules and non-convergence remedies.

Round 0 sends every page (zero pages as headers only, after scanning them); each later pass sends the
pages pending at the last dirty-bitmap sync. A pass ends either when its pages are all sent (vSphere,
Hyper-V, Xen: the sync happens at the end of each pass) or, for QEMU, at the first ~100 ms check at
which fewer pages than the switch-over threshold remain: QEMU then re-syncs the bitmap mid-pass and
stops if what is pending is still below the threshold (validation/README.md). At a sync the pending
set becomes the union of the pages still pending and the pages dirtied since the last sync
(``models.workload``), so a page re-dirtied while pending is owed once. Stop rules: pending fits the
switch-over goal (``rate × downtime_limit``), fewer than ``min_dirty_pages`` pending (Xen), a pass
cap (Hyper-V 10, Xen 30), a traffic cap (Xen 3× memory), a pass that grew at the maximum rate (Xen).
Remedies when dirtying outpaces the link: vSphere SDPS (throttle the vCPUs just enough, record it),
QEMU auto-converge (20 %, +10 % per trigger, 99 % max; trigger: dirtied > 50 % of sent in a ≥ 1 s
sync period, twice), a forced switch-over (Hyper-V, Xen, vSphere without SDPS), or failure (QEMU
without auto-converge never converges). QEMU's rate cap is enforced per 100 ms window: a window
bursts at link speed until its budget is spent, then waits. Xen adapts its rate per round (100 Mbit/s,
then last round's dirty rate + 50 Mbit/s, ≤ 500 Mbit/s) and skips pages re-dirtied within the round.

Not modelled: post-copy, xbzrle/multifd, page-size changes mid-run, CPU contention between the
sender and the guest. Sources: REFERENCES.md; QEMU 7.2 migration/ram.c and migration.c;
Clark et al. 2005; Xen xc_linux_save (stop when a round at maximum rate sent more than the last).

The step functions (:func:`start`, :func:`plan`, :func:`finish`) are pure and vectorised: the
batch driver :func:`run` and the scenario engine (which changes the rate between passes) share them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from models.workload import sequential_second_overlap, union_pending, unique_dirtied

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
MAX_SEGMENTS = 20000          # simulator budget of passes/syncs per migration
STALL_TOLERANCE = 1e-4        # a sync that shrinks pending by less than this share is a stall
STALLS_TO_GIVE_UP = 3         # consecutive stalls before a remedy/failure applies


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
    dirty_pps: np.ndarray          # page writes per second before any throttle
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

    def take(self, idx: np.ndarray) -> "Config":
        """Rows ``idx`` of every array."""
        return Config(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


@dataclass(frozen=True)
class State:
    """Evolving pre-copy state of n migrations (arrays of shape (n,))."""

    seg: np.ndarray                # passes done (round 0 included)
    pending: np.ndarray            # pages pending at the last sync (before round 0: nonzero pages)
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


@dataclass(frozen=True)
class Plan:
    """What the next pass sends (arrays of shape (n,))."""

    rate_Bps: np.ndarray           # wire rate of this pass
    send_pps: np.ndarray           # pages/s at that rate
    sent: np.ndarray               # normal pages sent in this pass
    remaining: np.ndarray          # pages still pending when the pass ends (QEMU mid-pass sync)
    wire_bytes: np.ndarray         # wire bytes of the pass
    extra_s: np.ndarray            # CPU time that does not use the link (zero-page scan)


def start(cfg: Config) -> State:
    """Initial state: nothing sent, every nonzero page pending for round 0."""
    n = cfg.pages_nonzero.shape[0]
    z = np.zeros(n)
    return State(seg=np.zeros(n, dtype=np.int64), pending=cfg.pages_nonzero.astype(float), t=z.copy(),
                 mem_bytes=z.copy(), theta=z.copy(), max_theta=z.copy(), ac_cnt=z.copy(),
                 ac_t=z.copy(), ac_dirty=z.copy(), ac_sent=z.copy(), last_sent=np.full(n, np.inf),
                 last_dirty_Bps=z.copy(), stalls=np.zeros(n, dtype=np.int64),
                 prev_remaining=z.copy(), prev_new=z.copy(), status=np.zeros(n, dtype=np.int64), reason=np.zeros(n, dtype=np.int64))


def pass_rate(cfg: Config, st: State, link_Bps: np.ndarray | None = None) -> np.ndarray:
    """Wire rate of the next pass, bytes/s: the link's, or Xen's adapted rate below it."""
    r = cfg.rate_Bps if link_Bps is None else link_Bps
    xen = np.where(st.seg == 0, cfg.rate_initial_Bps,
                   np.minimum(st.last_dirty_Bps + cfg.rate_increment_Bps, cfg.rate_max_Bps))
    return np.where(cfg.adaptive, np.minimum(xen, r), r)


def send_pps(cfg: Config, rate_Bps: np.ndarray) -> np.ndarray:
    """Pages per second a wire rate carries (bounded by compression CPU)."""
    return np.minimum(rate_Bps / cfg.wire_page, cfg.mem_cap_pps)


def threshold_pages(cfg: Config, pps: np.ndarray) -> np.ndarray:
    """Pending pages at or below which pre-copy stops: ``pages/s × limit`` or ``min_pages``."""
    return np.maximum(pps * cfg.limit_s, cfg.min_pages)


def _skip_fraction(x: np.ndarray, sequential: np.ndarray) -> np.ndarray:
    """Expected share of WWS pages dirtied before their send in a pass (x = writes/WWS in the pass)."""
    x = np.maximum(x, 1e-12)
    rnd = 1.0 - (-np.expm1(-x)) / x
    seq = np.where(x <= 1.0, x / 2.0, 1.0 - 1.0 / (2.0 * x))
    return np.where(sequential, seq, rnd)


def wire_time(cfg: Config, x0: np.ndarray, nbytes: np.ndarray, rate_Bps: np.ndarray) -> np.ndarray:
    """Seconds to put ``nbytes`` on the wire after ``x0`` bytes, at ``rate_Bps``.

    With a rate-limiter window (QEMU) each window bursts at ``burst_Bps`` until its budget
    ``rate × window`` is spent and then waits for the window to end.
    """
    smooth = nbytes / rate_Bps
    win = cfg.window_s
    windowed = (win > 0) & (rate_Bps < cfg.burst_Bps)
    if not windowed.any():
        return smooth
    budget = rate_Bps * np.where(windowed, win, 1.0)

    def f(x: np.ndarray) -> np.ndarray:
        k = np.floor(x / budget)
        return k * win + (x - k * budget) / cfg.burst_Bps

    return np.where(windowed, f(x0 + nbytes) - f(x0), smooth)


def plan(cfg: Config, st: State, link_Bps: np.ndarray | None = None) -> Plan:
    """Plan the next pass of every running migration.

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
    rate = pass_rate(cfg, st, link_Bps)
    pps = send_pps(cfg, rate)
    first = st.seg == 0
    d = cfg.dirty_pps * (1.0 - st.theta)
    P = st.pending
    # mid-pass checks (QEMU): send until fewer than the threshold remain at a check
    h = np.where((cfg.window_s > 0) & (rate < cfg.burst_Bps), cfg.window_s, cfg.check_s)
    th = threshold_pages(cfg, pps)
    per_check = pps * np.maximum(h, 1e-300)
    k = np.floor(np.maximum(P - th, 0.0) / per_check) + 1.0
    sent = np.where((h > 0) & ~first, np.minimum(P, k * per_check), P)
    # Xen: pages dirtied within the pass before their turn wait for the next pass
    tau = sent / pps + np.where(first, cfg.scan_s, 0.0)
    for _ in range(2):
        wws_share = np.where(first, cfg.wws, np.minimum(sent, cfg.wws))
        skipped = wws_share * _skip_fraction(d * tau / np.maximum(cfg.wws, 1e-300), cfg.sequential)
        sent_skip = np.maximum(P - skipped, 0.0)
        tau = sent_skip / pps + np.where(first, cfg.scan_s, 0.0)
    sent = np.where(cfg.skip & (d > 0), sent_skip, sent)
    remaining = np.where(cfg.skip, 0.0, P - sent)
    wire = sent * cfg.wire_page + np.where(first, cfg.pages_zero * cfg.wire_zero, 0.0)
    return Plan(rate_Bps=rate, send_pps=pps, sent=sent, remaining=remaining, wire_bytes=wire,
                extra_s=np.where(first, cfg.scan_s, 0.0))


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
    theta = st.theta
    d = cfg.dirty_pps * (1.0 - theta)
    new = unique_dirtied(d, cfg.wws, duration_s, cfg.sequential)
    # sequential sweep: 1st mid-pass sync independent (in expectation over the sweep position),
    # 2nd partly overlapping where the first arc wrapped, then the sender trails the guest
    pending = union_pending(pl.remaining, new, cfg.wws, cfg.sequential & (st.seg >= 3))
    second = cfg.sequential & (st.seg == 2) & (pl.remaining > 0)
    if second.any():
        i = np.flatnonzero(second)
        ov = sequential_second_overlap(st.prev_remaining[i], st.prev_new[i], pl.remaining[i],
                                       new[i], cfg.wws[i])
        pending[i] = np.minimum(pl.remaining[i] + new[i] - ov, cfg.wws[i])
    seg = st.seg + 1
    t = st.t + duration_s
    mem = st.mem_bytes + pl.wire_bytes
    dirty_Bps = new * cfg.page_bytes / np.maximum(duration_s, 1e-300)

    # QEMU auto-converge bookkeeping (period of syncs lasting >= 1 s)
    ac = cfg.remedy == AUTO_CONVERGE
    ac_t = st.ac_t + duration_s
    ac_dirty = st.ac_dirty + np.maximum(pending - pl.remaining, 0.0)
    ac_sent = st.ac_sent + pl.wire_bytes
    period_over = ac & (ac_t >= cfg.ac_period_s)
    high = period_over & (ac_dirty * cfg.page_bytes > cfg.ac_ratio * ac_sent)
    cnt = st.ac_cnt + high
    bump = high & (cnt >= 2)
    cnt = np.where(bump, 0.0, cnt)
    theta = np.where(bump, np.where(theta > 0, np.minimum(theta + cfg.ac_increment, cfg.ac_max),
                                    cfg.ac_initial), theta)
    ac_t = np.where(period_over, 0.0, ac_t)
    ac_dirty = np.where(period_over, 0.0, ac_dirty)
    ac_sent = np.where(period_over, 0.0, ac_sent)

    # stop rule for the next pass at the next pass's rate
    nxt = replace(st, seg=seg, last_dirty_Bps=dirty_Bps)
    th = threshold_pages(cfg, send_pps(cfg, pass_rate(cfg, nxt)))
    converged = pending <= th

    progress = pending < st.pending * (1.0 - STALL_TOLERANCE)
    stalls = np.where(progress | (seg < 2), 0, st.stalls + 1)
    stalled = stalls >= STALLS_TO_GIVE_UP

    # vSphere SDPS: throttle just enough when a pass does not shrink the dirty set enough
    sdps = (cfg.remedy == SDPS) & (seg >= 2) & (pending > cfg.sdps_shrink * st.pending) & (d > 0)
    need = 1.0 - cfg.sdps_target * pl.send_pps / np.maximum(cfg.dirty_pps, 1e-300)
    theta = np.where(sdps, np.maximum(theta, np.clip(need, 0.0, 0.99)), theta)

    status = np.full_like(st.status, RUNNING)
    reason = np.full_like(st.reason, R_NONE)

    def mark(mask: np.ndarray, code: int, why: int) -> None:
        sel = mask & (status == RUNNING)
        status[sel] = code
        reason[sel] = why

    mark(converged, CONVERGED, R_NONE)
    mark(seg >= cfg.max_rounds, FORCED, R_ROUNDS)
    mark(mem >= cfg.max_traffic, FORCED, R_TRAFFIC)
    mark(cfg.growing_rule & (seg >= 2) & (pl.sent > st.last_sent) & (pl.rate_Bps >= cfg.rate_max_Bps),
         FORCED, R_GROWING)
    give_up = stalled & ((cfg.remedy == NONE) | ((cfg.remedy == AUTO_CONVERGE) & (theta >= cfg.ac_max)))
    uncapped = np.isinf(cfg.max_rounds) & np.isinf(cfg.max_traffic)  # caps force soon enough
    mark(stalled & (cfg.remedy == FORCE) & uncapped, FORCED, R_STALL)
    mark(stalled & (cfg.remedy == SDPS) & (theta >= 0.99), FORCED, R_STALL)
    mark(cfg.rate_rule & (dirty_Bps + cfg.rate_increment_Bps > cfg.rate_max_Bps), FORCED, R_RATE)
    mark(give_up, FAILED, R_STALL)
    mark(t >= cfg.timeout_s, FAILED, R_TIMEOUT)
    mark(seg >= MAX_SEGMENTS, FAILED, R_PASSES)

    return State(seg=seg, pending=pending, t=t, mem_bytes=mem, theta=theta,
                 max_theta=np.maximum(st.max_theta, theta), ac_cnt=cnt, ac_t=ac_t,
                 ac_dirty=ac_dirty, ac_sent=ac_sent, last_sent=pl.sent, last_dirty_Bps=dirty_Bps,
                 stalls=stalls, prev_remaining=pl.remaining, prev_new=new, status=status,
                 reason=reason)


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
    throttle_pct: float


def run(cfg: Config, detail: bool = False) -> tuple[State, list[list[Detail]]]:
    """Run pre-copy to its stop for every migration at the constant rates of ``cfg``.

    Parameters
    ----------
    cfg : Config
    detail : bool
        Also return each migration's passes.

    Returns
    -------
    (State, list of list of Detail)
        Final state (status never RUNNING) and, with ``detail``, the passes of each migration.
    """
    n = cfg.pages_nonzero.shape[0]
    final = start(cfg)
    out = {f.name: getattr(final, f.name).copy() for f in fields(final)}
    details: list[list[Detail]] = [[] for _ in range(n)] if detail else []
    idx = np.arange(n)
    c, st = cfg, final
    while idx.size:
        pl = plan(c, st)
        dur = wire_time(c, st.mem_bytes, pl.wire_bytes, pl.rate_Bps) + pl.extra_s
        dur = np.maximum(dur, pl.sent / np.maximum(c.mem_cap_pps, 1e-300))
        new = finish(c, st, pl, dur)
        if detail:
            for j, i in enumerate(idx):
                details[i].append(Detail(int(st.seg[j]), float(st.t[j]), float(dur[j]),
                                         float(pl.rate_Bps[j]), float(pl.sent[j]),
                                         float(pl.wire_bytes[j]), float(new.pending[j]),
                                         float(new.theta[j] * 100)))
        done = new.status != RUNNING
        if done.any():
            di = idx[done]
            for f in fields(new):
                out[f.name][di] = getattr(new, f.name)[done]
            keep = ~done
            idx = idx[keep]
            c, st = c.take(keep), new.take(keep)
        else:
            st = new
    return State(**out), details
