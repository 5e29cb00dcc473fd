"""Cluster scenarios: many migrations at once, advanced as a fluid model from event to event.

A scenario is hosts (migration NICs, subnet, datastores), VMs on them and a plan of moves
(``models.placement``). Each move goes through *queue → setup → storage → trace → pre-copy passes
→ switch-over → done* (docs/design.md §2, §4). Admission control (``models.admission``) decides when a
queued move starts; while running, every network transfer — the disk copy of a shared-nothing
move, each pre-copy pass, the stop-and-copy — is a *stream* from the source host's NICs (egress) to
the destination's (ingress), and the streams share the NICs max-min fairly, each within its own
cap (``models.sharing``). Rates are recomputed at every event (admission, pass end, phase end,
completion), so a pass lasts as long as its bytes take at the rates it really had, and the
pre-copy (``models.precopy``: the same :func:`~models.precopy.plan` and :func:`~models.precopy.finish`
the single-migration model uses) sees that bandwidth: its stop rule uses the rate the pass achieved
(the measured bandwidth, as QEMU and vMotion do), so k streams on a link of B with dirty rate D
stop converging once k > B / D and the profile's remedy (SDPS throttling, forced switch-over,
failure) applies. The stop-and-copy keeps the bandwidth it had when the guest stopped (reserved on
both NICs while its bytes are sent). Outputs are the single-migration model's result columns
(``models.migration.assemble``) plus the scenario timeline (request, queue wait, start, end).

Determinism: events at the same instant are handled in a fixed order — ties break by (time,
priority, move order): switch-over ends and disk copies first, then the other phase and pass ends,
then the pre-copy passes of the instant (one vectorised step), then requests and the admission scan,
then the shares — and every floating-point operation happens in the same order whatever executes
the engine, so a scenario always gives the same rows. Two executions share this engine:
in-process (:class:`LocalBackend`) and Ray actors (``runner.scenario.actors``: one actor per host keeping its admission ledger and
NIC books, a pool of actors running the pre-copy streams); the backend only decides *where* a
ledger or a stream's state lives, never *what* is computed.

Topology (``models.topology``, issue 14): with racks, a spine, WAN links or datastore throughput, a
stream crosses every link of its path (NIC egress, rack uplink, spine or WAN, rack downlink, NIC
ingress; a disk copy also its datastores, a Storage vMotion only its datastores) and the max-min
allocation runs over all of them; background traffic is one more flow per link capped at its rate
(or, under NIOC, taken off the NIC's capacity for the migration class in the ratio of the shares).
Links beyond the host NICs are booked in the engine (``Result.links``), so both executions report
them identically. Placement checks destination memory and vCPU capacity statically
(``models.placement``): a move it refuses is ``rejected`` at its request, with the reason. Stages of
a plan (evacuations, maintenance holds, returns) give each host's interval (``HOST_PLAN_COLUMNS``).
A spec without topology keeps the two-link paths and gives the same rows, bit for bit.

Left out: CPU contention on the hosts (vCPUs are a placement limit only), datastore throughput for
datastores that declare none (their storage-only copies run at their own rate), QEMU's 100 ms
rate-limiter windows (smoothed: a stream's rate is its share), mirrored disk writes
beyond the idle-path amount (a slowed storage phase mirrors as much as an unslowed one; the writes
mirrored during pre-copy reduce the stream's own cap and are not booked on the NICs). One VM alone
gives exactly the single-migration model's row (QEMU: within its rate-window smoothing).

Sources: docs/design.md §4; docs/references.md (vCenter concurrency limits, Hyper-V simultaneous
migrations, the analytic k > B/D divergence); Bertsekas & Gallager, *Data Networks* (max-min).
"""

from __future__ import annotations

import heapq
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

import numpy as np

from models import admission, migration, precopy, sharing, topology
from models.fields import INPUTS, OUTPUTS, RESOLVED
from models.placement import VM, Host, Move, Stage
from models.topology import Network
from models.policy import Policy, get_profile
from models.sharing import NicBook
from models.switchover import Switchover

# phases of a move
PENDING, QUEUED, SETUP, STORAGE, TRACE, SCAN, PRECOPY, SWITCHOVER, DONE = range(9)
PHASE_NAMES = ("pending", "queued", "setup", "storage", "trace", "scan", "precopy", "switchover",
               "done")
#: Event (not a phase): the stop-and-copy bytes are sent; the reserved bandwidth is free again.
SENT = 9
#: A stream whose remaining bytes would take less than this is complete (rounding), s.
TIME_EPS = 1e-9

#: Columns of a migration row besides the model's inputs and outputs, in file order.
TIMELINE_COLUMNS: dict[str, tuple[Any, str]] = {
    "seq": (np.dtype(np.int64), "position of the move in the plan"),
    "vm": (np.dtype(object), "VM name"),
    "group": (np.dtype(object), "the [[vms]] entry of the VM"),
    "source": (np.dtype(object), "source host"),
    "destination": (np.dtype(object), "destination host (= source for a storage migration)"),
    "source_datastore": (np.dtype(object), "datastore before (empty: none declared)"),
    "destination_datastore": (np.dtype(object), "datastore after (empty: none declared)"),
    "kind": (np.dtype(object), "live | shared-nothing | storage"),
    "stage": (np.dtype(np.int64), "evacuation stage (-1: explicit move)"),
    "request_s": (np.dtype(np.float64), "when the move was requested (joined the queue)"),
    "queue_wait_s": (np.dtype(np.float64), "time waiting for admission"),
    "start_s": (np.dtype(np.float64), "when it was admitted (setup began)"),
    "end_s": (np.dtype(np.float64), "when it ended (resumed on the destination, failed or refused)"),
    "mean_share_Bps": (np.dtype(np.float64), "average wire rate the pre-copy passes achieved"),
    "switchover_share_Bps": (np.dtype(np.float64), "wire rate the stop-and-copy had"),
}

#: Columns of the per-scenario row.
SUMMARY_COLUMNS: dict[str, tuple[Any, str]] = {
    "hosts": (np.dtype(np.int64), "hosts in the scenario"),
    "vms": (np.dtype(np.int64), "VMs in the scenario"),
    "migrations": (np.dtype(np.int64), "moves planned"),
    "completed": (np.dtype(np.int64), "moves completed"),
    "failed": (np.dtype(np.int64), "moves failed (the VM stays on its source)"),
    "rejected": (np.dtype(np.int64), "moves refused (profile, admission, or an earlier move failed)"),
    "makespan_s": (np.dtype(np.float64), "time from 0 to the end of the last move"),
    "peak_concurrency": (np.dtype(np.int64), "most moves running at once"),
    "total_transferred_bytes": (np.dtype(np.float64), "all bytes on the wire"),
    "total_downtime_ms": (np.dtype(np.float64), "sum of the downtimes of completed moves"),
    "max_downtime_ms": (np.dtype(np.float64), "largest downtime of a completed move"),
    "mean_queue_wait_s": (np.dtype(np.float64), "average queue wait of the moves that ran"),
    "max_queue_wait_s": (np.dtype(np.float64), "longest queue wait"),
    "converged": (np.dtype(np.int64), "completed moves whose pre-copy met the stop rule"),
    "forced": (np.dtype(np.int64), "completed moves with a forced switch-over"),
    "throttled": (np.dtype(np.int64), "moves whose guest was throttled (SDPS, auto-converge)"),
    "events": (np.dtype(np.int64), "instants the engine processed"),
    "maintenance_window_s": (np.dtype(np.float64),
                             "first evacuation requested to last stage over (null: no evacuation)"),
    "peak_link_utilisation": (np.dtype(np.float64), "largest migration load / capacity of a rack "
                              "uplink, spine, WAN link or datastore (null: none declared)"),
    "busiest_link": (np.dtype(object), "the link of peak_link_utilisation (null: none)"),
}

#: Per-host maintenance columns (null for a host no stage of the plan evacuates).
HOST_PLAN_COLUMNS: dict[str, tuple[Any, str]] = {
    "evacuation_start_s": (np.dtype(np.float64), "its evacuation was requested"),
    "evacuated_s": (np.dtype(np.float64), "its last VM left (or was refused)"),
    "maintenance_end_s": (np.dtype(np.float64), "its maintenance hold ended"),
    "plan_done_s": (np.dtype(np.float64), "its VMs returned / were rebalanced (maintenance over)"),
    "refused_moves": (np.dtype(np.int64), "VMs placement found no room for"),
}


@dataclass(frozen=True)
class Scenario:
    """A fully specified scenario: hosts, VMs, moves, profile and limits.

    Attributes
    ----------
    name : str
    profile : str
        One of ``models.policy.PROFILES`` (one hypervisor for the whole cluster).
    hosts : tuple of Host
    vms : tuple of VM
    moves : tuple of Move
        In plan order (``models.placement.expand``).
    stages : tuple of Stage
        Evacuation stages the moves refer to.
    overrides : tuple of (field, value)
        Policy and limits fields of the profile (``models.policy.get_profile``).
    max_concurrent : float
        Scenario-wide cap on concurrent moves (``inf``: none).
    network : models.topology.Network or None
        Racks, spine, WAN, datastore throughput, NIOC (``None``: the flat network).
    """

    name: str
    profile: str
    hosts: tuple[Host, ...]
    vms: tuple[VM, ...]
    moves: tuple[Move, ...]
    stages: tuple[Stage, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    max_concurrent: float = math.inf
    network: Network | None = None

    def policy(self) -> Policy:
        """The profile with the overrides applied."""
        return get_profile(self.profile, **dict(self.overrides))


@dataclass
class Result:
    """What a scenario produced.

    Attributes
    ----------
    rows : dict
        One entry per column (``TIMELINE_COLUMNS``, every input column of ``models.fields``,
        every output of ``models.fields.OUTPUTS``), arrays of one value per move, in plan order.
    summary : dict
        ``SUMMARY_COLUMNS`` -> value.
    host_stats : list of dict
        Per host: its ledger's peaks and longest queue, bytes sent and received, and the plan
        intervals (``HOST_PLAN_COLUMNS``).
    links : list of dict
        Per link beyond the host NICs: ``link``, ``capacity_Bps``, ``bytes``, ``peak_Bps``.
    trace : dict or None
        With ``Engine(trace=True)``: ``t_s``, ``running``, ``queued`` per instant and
        ``link_t_s``/``link_load_Bps`` (every link, at each load change), ``link_names``,
        ``link_capacity_Bps``.
    """

    rows: dict[str, np.ndarray]
    summary: dict[str, Any]
    host_stats: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    trace: dict[str, Any] | None = None


# ====================================================================== streams
@dataclass(frozen=True)
class StepResult:
    """Outcome of :meth:`StreamSet.step` for the streams it touched (arrays aligned with ``ids``).

    Attributes
    ----------
    ids : ndarray of int
        Move indices: the ended streams first, then the started ones.
    status : ndarray of int
        ``precopy`` status after the step (RUNNING: a new pass was planned).
    wire_bytes, extra_s, cap_Bps : ndarray
        The new pass (RUNNING rows): bytes to send, CPU time before sending, the pass's rate cap.
    final : precopy.State or None
        Final pre-copy state of the rows that stopped (``status != RUNNING``), in ``ids`` order.
    """

    ids: np.ndarray
    status: np.ndarray
    wire_bytes: np.ndarray
    extra_s: np.ndarray
    cap_Bps: np.ndarray
    final: precopy.State | None


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """Field names of a dataclass (``dataclasses.fields`` is slow in the event loop)."""
    got = _NAMES.get(cls)
    if got is None:
        got = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return got


def _concat_state(parts: Sequence[precopy.State]) -> precopy.State:
    return precopy.State(**{n: np.concatenate([getattr(p, n) for p in parts])
                            for n in _names(precopy.State)})


def _rows(obj: Any, idx: np.ndarray) -> Any:
    return type(obj)(**{n: getattr(obj, n)[idx] for n in _names(type(obj))})


def _put(dst: dict[str, np.ndarray], idx: np.ndarray, src: Any) -> None:
    for n in _names(type(src)):
        dst[n][idx] = getattr(src, n)


class StreamSet:
    """Pre-copy state of a set of migration streams (in-process, or inside one Ray actor).

    Each stream is a move whose memory moves; its rows of ``precopy.Config`` arrive with
    :meth:`open`. :meth:`step` ends passes (``precopy.finish`` with the duration the pass really
    took and, for the stop rule, the rate it achieved) and plans the next ones (``precopy.plan`` at
    that rate), over the streams of one instant. The pre-copy kernels work row by row, so how
    streams are spread over sets does not change a single bit of the results.
    """

    def __init__(self) -> None:
        self.slot: dict[int, int] = {}
        self.cfg: dict[str, np.ndarray] | None = None
        self.st: dict[str, np.ndarray] | None = None
        self.pl: dict[str, np.ndarray] | None = None
        self.n = 0

    def _grow(self, need: int, cfg: precopy.Config) -> None:
        cap = 0 if self.cfg is None else next(iter(self.cfg.values())).shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap, 16)

        def grow(d: dict[str, np.ndarray] | None, proto: Any) -> dict[str, np.ndarray]:
            out = {}
            for f in fields(proto):
                a = getattr(proto, f.name)
                b = np.zeros(new, dtype=a.dtype)
                if d is not None:
                    b[:cap] = d[f.name]
                out[f.name] = b
            return out

        st0 = precopy.start(_rows(cfg, np.arange(0)))
        pl0 = precopy.Plan(*(np.zeros(0) for _ in fields(precopy.Plan)))
        self.cfg = grow(self.cfg, cfg)
        self.st = grow(self.st, st0)
        self.pl = grow(self.pl, pl0)

    def open(self, ids: np.ndarray, cfg: precopy.Config) -> None:
        """Add streams ``ids`` (move indices) with their pre-copy configuration rows."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return
        self._grow(self.n + ids.size, cfg)
        slots = np.arange(self.n, self.n + ids.size)
        for i, s in zip(ids.tolist(), slots.tolist()):
            if i in self.slot:
                raise ValueError(f"stream {i} opened twice")
            self.slot[i] = s
        self.n += ids.size
        assert self.cfg is not None
        _put(self.cfg, slots, cfg)

    def close(self, ids: Sequence[int]) -> None:
        """Forget streams (their slots are not reused: sets are per scenario)."""
        for i in ids:
            self.slot.pop(int(i), None)

    def step(self, starts: np.ndarray, ends: np.ndarray, duration_s: np.ndarray,
             rate_Bps: np.ndarray) -> StepResult:
        """End the passes of ``ends`` and plan the next; plan the first pass of ``starts``.

        Parameters
        ----------
        starts : ndarray of int
            Streams beginning pre-copy (opened before).
        ends : ndarray of int
            Streams whose pass just ended.
        duration_s : ndarray
            How long each ended pass took (CPU time included), s.
        rate_Bps : ndarray
            Wire rate each ended pass achieved (bytes / transfer time), bytes/s.

        Returns
        -------
        StepResult
        """
        assert self.cfg is not None and self.st is not None and self.pl is not None
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        se = np.array([self.slot[i] for i in ends.tolist()], dtype=np.int64)
        ss = np.array([self.slot[i] for i in starts.tolist()], dtype=np.int64)
        cfg_all = precopy.Config(**self.cfg)
        n_e = se.size
        status_e = np.zeros(0, dtype=np.int64)
        final = None
        plan_slots = []
        plan_states = []
        plan_links = []
        cfg_p = st_p = None
        if n_e:
            cfg_e = _rows(cfg_all, se)
            measured = np.asarray(rate_Bps, dtype=np.float64)
            st_e = _rows(precopy.State(**self.st), se)
            pl_e = _rows(precopy.Plan(**self.pl), se)
            # the stop rule uses the rate the pass achieved (measured bandwidth), except for Xen's
            # adaptive rate, which is the sender's own choice
            adaptive = cfg_e.adaptive.astype(bool)
            pl_m = replace(pl_e, rate_Bps=np.where(adaptive, pl_e.rate_Bps, measured),
                           send_pps=np.where(adaptive, pl_e.send_pps,
                                             np.minimum(measured / cfg_e.wire_page,
                                                        cfg_e.mem_cap_pps)))
            new = precopy.finish(cfg_e, st_e, pl_m, np.asarray(duration_s, dtype=np.float64))
            _put(self.st, se, new)
            status_e = new.status
            stopped = status_e != precopy.RUNNING
            link_e = np.where(adaptive, cfg_e.rate_Bps, measured)
            if not stopped.any() and not ss.size:       # common case: no gathering again
                plan_slots.append(se)
                cfg_p, st_p, link_p = cfg_e, new, link_e
            else:
                if stopped.any():
                    final = _rows(new, np.flatnonzero(stopped))
                run = np.flatnonzero(~stopped)
                if run.size:
                    plan_slots.append(se[run])
                    plan_states.append(_rows(new, run))
                    plan_links.append(link_e[run])
        if ss.size:
            cfg_s = _rows(cfg_all, ss)
            st_s = precopy.start(cfg_s)
            _put(self.st, ss, st_s)
            plan_slots.append(ss)
            plan_states.append(st_s)
            plan_links.append(cfg_s.rate_Bps)
            if not n_e:
                cfg_p, st_p, link_p = cfg_s, st_s, cfg_s.rate_Bps
        n_out = n_e + ss.size
        wire = np.zeros(n_out)
        extra = np.zeros(n_out)
        cap = np.zeros(n_out)
        if plan_slots:
            slots = np.concatenate(plan_slots)
            if cfg_p is None:
                st_p = plan_states[0] if len(plan_states) == 1 else _concat_state(plan_states)
                link_p = np.concatenate(plan_links)
                cfg_p = _rows(cfg_all, slots)
            link = link_p
            pl = precopy.plan(cfg_p, st_p, link_Bps=link)
            _put(self.pl, slots, pl)
            # the pass's rate cap: the stream's own rate, or Xen's adapted rate below it
            pass_cap = np.where(cfg_p.adaptive.astype(bool), pl.rate_Bps, cfg_p.rate_Bps)
            pos = np.concatenate([np.flatnonzero(status_e == precopy.RUNNING),
                                  n_e + np.arange(ss.size)])
            # the link carries every byte, but the sender's clock (QEMU's times) does not wait for
            # those it puts ahead into its send buffer
            wire[pos] = pl.wire_bytes - pl.ahead_bytes
            extra[pos] = pl.extra_s
            cap[pos] = pass_cap
        status = np.concatenate([status_e, np.full(ss.size, precopy.RUNNING, dtype=np.int64)])
        return StepResult(np.concatenate([ends, starts]), status, wire, extra, cap, final)


# ====================================================================== backends
class Backend(Protocol):
    """Where the ledgers and the stream states live (in-process or Ray actors)."""

    def reset(self, ledgers: Sequence[Mapping[admission.Key, float]], n_hosts: int) -> None:
        """Start a scenario: one ledger per host (its resources' limits)."""

    def ledger_ops(self, ops: Mapping[int, list[tuple]]) -> None:
        """Apply admission operations to ledgers (ledger index -> operations in order)."""

    def nic_rates(self, t: float, rates: Mapping[int, float]) -> None:
        """Book the NIC load of every host from time ``t`` on (NIC index -> bytes/s)."""

    def open_streams(self, ids: np.ndarray, cfg: precopy.Config) -> None:
        """Create the pre-copy state of streams."""

    def step_streams(self, starts: np.ndarray, ends: np.ndarray, duration_s: np.ndarray,
                     rate_Bps: np.ndarray) -> list[StepResult]:
        """Run :meth:`StreamSet.step` wherever the streams live."""

    def close_streams(self, ids: Sequence[int]) -> None:
        """Drop the state of streams that ended."""

    def host_stats(self, t_end: float) -> list[dict[str, Any]]:
        """Per-host books at the end of the scenario."""


class LocalBackend:
    """Everything in this process: one :class:`~models.admission.Ledger` per host, one
    :class:`StreamSet` for every stream."""

    def __init__(self) -> None:
        self.ledgers: list[admission.Ledger] = []
        self.nics: list[NicBook] = []
        self.streams = StreamSet()

    def reset(self, ledgers: Sequence[Mapping[admission.Key, float]], n_hosts: int) -> None:
        self.ledgers = [admission.Ledger(c) for c in ledgers]
        self.nics = [NicBook() for _ in range(n_hosts)]
        self.streams = StreamSet()

    def ledger_ops(self, ops: Mapping[int, list[tuple]]) -> None:
        for i in sorted(ops):
            self.ledgers[i].apply(ops[i])

    def nic_rates(self, t: float, rates: Mapping[int, float]) -> None:
        for nic in sorted(rates):
            self.nics[nic // 2].set(t, nic % 2, rates[nic])

    def open_streams(self, ids: np.ndarray, cfg: precopy.Config) -> None:
        self.streams.open(ids, cfg)

    def step_streams(self, starts: np.ndarray, ends: np.ndarray, duration_s: np.ndarray,
                     rate_Bps: np.ndarray) -> list[StepResult]:
        return [self.streams.step(starts, ends, duration_s, rate_Bps)]

    def close_streams(self, ids: Sequence[int]) -> None:
        self.streams.close(ids)

    def host_stats(self, t_end: float) -> list[dict[str, Any]]:
        out = []
        for led, nic in zip(self.ledgers, self.nics):
            nic.advance(t_end)
            out.append({**led.stats(), **nic.stats()})
        return out


# ====================================================================== inputs
#: Inputs a scenario derives from its hosts and plan (a VM may not set them).
DERIVED = ("profile", "link", "nics", "same_subnet", "storage")


def move_inputs(scn: Scenario) -> dict[str, np.ndarray]:
    """The model input columns of every move (``models.migration.prepare`` form).

    ``link`` and ``nics`` are the smaller of the two hosts'; ``same_subnet`` compares the hosts'
    subnets; ``storage`` follows the move's kind (``shared`` for a live move, ``shared-nothing``,
    or the VM's storage method for a storage migration); the rest comes from the VM.
    """
    hosts = {h.name: h for h in scn.hosts}
    vms = {v.name: v for v in scn.vms}
    n = len(scn.moves)
    cols: dict[str, Any] = {}
    for f in INPUTS:
        if f.kind == "choice":
            cols[f.column] = np.full(n, f.default if f.default is not None else "", dtype=object)
        elif f.kind == "bool":
            cols[f.column] = np.full(n, bool(f.default))
        else:
            cols[f.column] = np.full(n, np.nan if f.default is None else float(f.default))
    for i, m in enumerate(scn.moves):
        v = vms[m.vm]
        for k, val in v.inputs:
            cols[k][i] = val
        src, dst = hosts[m.source], hosts[m.destination]
        cols["link_bps"][i] = min(src.link_bps, dst.link_bps)
        cols["nics"][i] = float(min(src.nics, dst.nics))
        cols["same_subnet"][i] = src.subnet == dst.subnet
        cols["storage"][i] = {"live": "shared", "shared-nothing": "shared-nothing"}.get(
            m.kind, v.storage_method)
    cols["profile"][:] = scn.profile
    return cols


def _efficiency(prep: migration.Prepared, pol: Policy) -> np.ndarray:
    """Payload share of the line rate of each move's transport."""
    c = prep.columns
    eff = np.asarray(c["efficiency"], dtype=np.float64).copy()
    tr = np.asarray(c["transport"], dtype=object)
    for i in np.flatnonzero(np.isnan(eff)):
        key = pol.default_transport if tr[i] == "default" else tr[i]
        t = pol.transports.get(key)
        eff[i] = t.efficiency if t is not None else 1.0
    return eff


def switchover(prep: migration.Prepared, rows: np.ndarray, final_pages: np.ndarray,
               rate_Bps: np.ndarray) -> Switchover:
    """The stop-and-copy of some moves at given rates, exactly as ``migration.assemble`` computes it.

    Parameters
    ----------
    prep : Prepared
    rows : ndarray of int
        Moves.
    final_pages : ndarray
        Pages pending when the guest stops.
    rate_Bps : ndarray
        Wire rate of the stop-and-copy, bytes/s.
    """
    return migration.switchover(prep, rows, final_pages, rate_Bps)


# ====================================================================== engine
class Engine:
    """The event loop of one scenario. See the module docstring.

    Parameters
    ----------
    scn : Scenario
    backend : Backend, optional
        Where ledgers and streams live (default: :class:`LocalBackend`).
    on_progress : callable, optional
        Called with the number of moves that ended, after each instant where some did.
    """

    def __init__(self, scn: Scenario, backend: Backend | None = None,
                 on_progress: Callable[[int], None] | None = None, trace: bool = False) -> None:
        self.scn = scn
        self.backend = backend if backend is not None else LocalBackend()
        self.on_progress = on_progress
        self.trace = trace

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        scn = self.scn
        pol = scn.policy()
        self.pol = pol
        M = len(scn.moves)
        self.M = M
        host_idx = {h.name: i for i, h in enumerate(scn.hosts)}
        self.src = np.array([host_idx[m.source] for m in scn.moves], dtype=np.int64)
        self.dst = np.array([host_idx[m.destination] for m in scn.moves], dtype=np.int64)
        cols = move_inputs(scn)
        self.links = links = topology.build(scn.hosts, scn.moves, scn.network)
        if links.rtt_s.any():                                   # WAN round trips
            cols["rtt_ms"] = cols["rtt_ms"] + links.rtt_s * 1e3
        self.inputs = cols
        over = {scn.profile: dict(scn.overrides)} if scn.overrides else None
        self.prep = prep = migration.prepare(cols, over)
        self.row_of = np.full(M, -1, dtype=np.int64)           # move -> row of prep.cfg
        self.row_of[prep.idx] = np.arange(prep.idx.size)
        eff = _efficiency(prep, pol)
        self.line = 1.0 / np.where(eff > 0, eff, 1.0)           # line bytes per payload byte
        self.line[links.storage_only_shared] = 1.0              # disk bytes: no wire overhead
        # links: egress 2h, ingress 2h + 1, then uplinks, spines, WAN, datastores (topology)
        self.nic_cap = links.capacity_Bps
        self.n_host_links = 2 * len(scn.hosts)
        self.flat = scn.network is None or scn.network.flat
        self.path_net, self.path_disk = links.net, links.disk
        self.bg_links = np.flatnonzero(links.background_Bps > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.storage_cap = np.where(prep.storage_s > 0, (prep.storage_bytes + prep.mirror_bytes)
                                        / np.where(prep.storage_s > 0, prep.storage_s, 1.0), np.inf)
            self.disk_cap = self.storage_cap.copy()             # a Storage vMotion's own rate
        self.storage_cap = np.minimum(self.storage_cap, prep.rates_wire_Bps)
        self.mem_cap_Bps = prep.mem_cap_pps * prep.wire_page
        self.sw_cap = np.minimum(prep.switchover_Bps.astype(np.float64), np.inf)
        # admission: one ledger per host (datastores live in the first host that mounts them,
        # the scenario-wide cap in the first host)
        hl = [admission.HostLimits(h.name, h.link_bps, h.datastores) for h in scn.hosts]
        self.capacity = admission.resources(hl, pol.limits, scn.max_concurrent)
        home: dict[admission.Key, int] = {}
        ds_home: dict[str, int] = {}
        for i, h in enumerate(scn.hosts):
            for d in h.datastores:
                ds_home.setdefault(d, i)
        for k in self.capacity:
            if k[0] == admission.DATASTORE:
                if k[1] in ds_home:
                    home[k] = ds_home[k[1]]
            elif k[0] == admission.CLUSTER:
                if scn.hosts:
                    home[k] = 0
            elif k[1] in host_idx:
                home[k] = host_idx[k[1]]
        self.home = home
        ledgers: list[dict[admission.Key, float]] = [{} for _ in scn.hosts]
        for k, c in self.capacity.items():
            ledgers[home[k]][k] = c
        self.admission = admission.Admission(self.capacity)
        self.demand = [admission.demand(m.kind, m.source, m.destination, m.source_datastore,
                                        m.destination_datastore, pol.limits, self.capacity)
                       for m in scn.moves]
        self.backend.reset(ledgers, len(scn.hosts))

    def _init_state(self) -> None:
        scn, prep, M = self.scn, self.prep, self.M
        self.t = 0.0
        self.phase = np.full(M, PENDING, dtype=np.int64)
        self.request_s = np.full(M, np.nan)
        self.start_s = np.full(M, np.nan)
        self.end_s = np.full(M, np.nan)
        self.storage_s = prep.storage_s.astype(np.float64).copy()
        self.sw_rate = prep.switchover_Bps.astype(np.float64).copy()
        self.refused = np.full(M, "", dtype=object)             # runtime refusals (reason)
        self.too_long: set[int] = set()                         # switch-over over the maximum
        self.ticket = np.full(M, -1, dtype=np.int64)
        self.by_ticket: dict[int, int] = {}
        self.next_ticket = 0
        self.rem = np.zeros(M)                                  # streams: bytes left
        self.rate = np.zeros(M)                                 #   current rate (payload)
        self.fcap = np.zeros(M)                                 #   cap (payload)
        self.flow_t0 = np.zeros(M)
        self.pass_extra = np.zeros(M)
        self.pass_wire = np.zeros(M)
        self.share_sum = np.zeros(M)
        self.share_time = np.zeros(M)
        self.pending_pages = np.zeros(M)
        self.flows: set[int] = set()
        self.entering: list[int] = []                           # moves entering switch-over
        self.reserved: dict[int, float] = {}                    # switch-over rate (payload)
        self.final: dict[int, precopy.State] = {}
        self.timed: list[tuple[float, int, int, int]] = []      # (time, priority, move, phase)
        self.running = 0
        self.peak = 0
        self.events = 0
        self.n_done = 0
        self.nic_last = np.zeros(self.nic_cap.shape[0])
        n_extra = self.nic_cap.shape[0] - self.n_host_links
        self.lt = 0.0                                           # books of the non-host links
        self.lrate = np.zeros(n_extra)
        self.lbytes = np.zeros(n_extra)
        self.lpeak = np.zeros(n_extra)
        self.tr: dict[str, list[Any]] | None = (
            {"t_s": [], "running": [], "queued": [], "link_t_s": [], "link_load_Bps": []}
            if self.trace else None)
        self._signature: Any = None
        # dependencies: the VM's previous move; the stage opening
        self.prev = np.full(M, -1, dtype=np.int64)
        self.nxt: list[list[int]] = [[] for _ in range(M)]
        last: dict[str, int] = {}
        for i, m in enumerate(scn.moves):
            if m.vm in last:
                self.prev[i] = last[m.vm]
                self.nxt[last[m.vm]].append(i)
            last[m.vm] = i
        n_st = len(self.stages)
        self.stage_moves: list[list[int]] = [[] for _ in range(n_st)]
        for i, m in enumerate(scn.moves):
            if m.stage >= 0:
                self.stage_moves[m.stage].append(i)
        self.stage_left = [len(x) for x in self.stage_moves]
        self.stage_open = [math.nan] * n_st
        self.stage_end = [math.nan] * n_st
        self.successors: list[list[int]] = [[] for _ in range(n_st)]
        for k, stg in enumerate(self.stages):
            if stg.after >= 0:
                self.successors[stg.after].append(k)
        self.ready_s = np.array([m.start_s for m in scn.moves], dtype=np.float64)
        self.deps = np.array([int(self.prev[i] >= 0) + int(m.stage >= 0)
                              for i, m in enumerate(scn.moves)], dtype=np.int64)

    # ------------------------------------------------------------------ run
    def run(self, stages: Sequence[Any] = ()) -> Result:
        """Run the scenario to its end.

        Parameters
        ----------
        stages : sequence of models.placement.Stage
            The evacuation stages the moves refer to (``Move.stage``).
        """
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self._run(stages)

    def _run(self, stages: Sequence[Any]) -> Result:
        self._prepare()
        self.stages = tuple(stages)
        n_st = 1 + max([m.stage for m in self.scn.moves] + [-1])
        if n_st > len(self.stages):
            raise ValueError(f"moves refer to {n_st} stages, {len(self.stages)} given")
        self._init_state()
        for i in range(self.M):
            if self.deps[i] == 0:
                self._push(self.ready_s[i], 3, i, PENDING)
        for k, stg in enumerate(self.stages):
            if stg.after < 0:
                self._open_stage(k, stg.start_s)
        while True:
            t_next = self._next_time()
            if t_next is None:
                break
            self._advance(t_next)
            before = self.n_done
            self._instant()
            if self.tr is not None:
                self.tr["t_s"].append(self.t)
                self.tr["running"].append(self.running)
                self.tr["queued"].append(self.admission.queued())
            if self.on_progress is not None and self.n_done > before:
                self.on_progress(self.n_done - before)
        if self.n_done != self.M:
            raise RuntimeError(f"scenario {self.scn.name}: {self.M - self.n_done} moves never ended")
        return self._result()

    # ------------------------------------------------------------------ stages and dependencies
    def _push(self, t: float, prio: int, move: int, phase: int) -> None:
        heapq.heappush(self.timed, (t, prio, move, phase))

    def _open_stage(self, k: int, t_open: float) -> None:
        t_open = max(t_open, self.stages[k].start_s)
        self.stage_open[k] = t_open
        for i in self.stage_moves[k]:
            self._dep_done(i, t_open)
        if not self.stage_moves[k]:
            self._end_stage(k, t_open)

    def _end_stage(self, k: int, t_end: float) -> None:
        self.stage_end[k] = t_end
        for s in self.successors[k]:
            self._open_stage(s, t_end + self.stages[s].gap_s)

    def _dep_done(self, i: int, t_ready: float) -> None:
        self.ready_s[i] = max(self.ready_s[i], t_ready)
        self.deps[i] -= 1
        if self.deps[i] == 0:
            self._push(max(self.ready_s[i], self.t), 3, i, PENDING)

    def _after_done(self, i: int) -> None:
        """Move ``i`` ended: wake its VM's next move, close its stage."""
        self.n_done += 1
        for j in self.nxt[i]:
            self._dep_done(j, self.t)
        k = self.scn.moves[i].stage
        if k >= 0:
            self.stage_left[k] -= 1
            if self.stage_left[k] == 0:
                self._end_stage(k, self.t)

    def _row_status(self, i: int) -> str:
        """Status of an ended move, as its row will say."""
        if self.refused[i]:
            return "rejected"
        fin = self.final.get(i)
        if (fin is not None and int(fin.status[0]) == precopy.FAILED) or i in self.too_long:
            return "failed"
        return "completed"

    # ------------------------------------------------------------------ time
    def _flow_ids(self) -> np.ndarray:
        return np.fromiter(sorted(self.flows), dtype=np.int64, count=len(self.flows))

    def _next_time(self) -> float | None:
        t = self.timed[0][0] if self.timed else math.inf
        if self.flows:
            f = self._flow_ids()
            t = min(t, self.t + float(np.min(self.rem[f] / self.rate[f])))
        return None if math.isinf(t) else max(t, self.t)

    def _advance(self, t: float) -> None:
        dt = t - self.t
        if self.flows and dt > 0:
            f = self._flow_ids()
            self.rem[f] -= self.rate[f] * dt
        self.t = t

    # ------------------------------------------------------------------ one instant
    def _instant(self) -> None:
        """Handle everything that happens at ``self.t``, in the fixed order of the module doc."""
        t = self.t
        self.events += 1
        work: list[tuple[int, int, int]] = []         # (priority, move, phase)
        if self.flows:
            f = self._flow_ids()
            for i in f[self.rem[f] <= self.rate[f] * TIME_EPS].tolist():
                work.append((0 if self.phase[i] == STORAGE else 1, i, int(self.phase[i])))
        starts: list[int] = []
        pass_ends: list[int] = []
        releases: list[int] = []
        requests: list[int] = []
        while True:
            while self.timed and self.timed[0][0] <= t:
                _, prio, i, ph = heapq.heappop(self.timed)
                work.append((prio, i, ph))
            if work:
                work.sort()
                for prio, i, ph in work:
                    if prio == 3:
                        requests.append(i)
                    elif self._phase_end(i, ph, starts, pass_ends):
                        releases.append(i)
                work = []
                continue
            if starts or pass_ends:
                self._streams(sorted(starts), sorted(pass_ends), releases)
                starts, pass_ends = [], []
                continue
            if requests or releases:
                admitted = self._admit(sorted(requests), releases)
                requests, releases = [], []
                for i in admitted:
                    self._begin(i, SETUP)
                continue
            releases = self._shares()
            if releases:
                continue
            break

    def _phase_end(self, i: int, ph: int, starts: list[int], pass_ends: list[int]) -> bool:
        """Handle the end of move ``i``'s phase ``ph``; True when the move is over."""
        if ph == SENT:
            if self.reserved.pop(i, None) is not None:
                self._signature = None
            return False
        if self.phase[i] != ph:
            raise RuntimeError(f"move {i}: end of {PHASE_NAMES[ph]} while in "
                               f"{PHASE_NAMES[self.phase[i]]}")
        prep = self.prep
        if ph == SETUP:
            if prep.shared_nothing[i]:
                self._flow(i, STORAGE, float(prep.storage_bytes[i] + prep.mirror_bytes[i]),
                           float(self.storage_cap[i]))
            elif prep.moves_disk[i] and self.links.storage_only_shared[i]:
                self._flow(i, STORAGE, float(prep.storage_bytes[i] + prep.mirror_bytes[i]),
                           float(self.disk_cap[i]))
            elif prep.moves_disk[i]:
                self._begin(i, STORAGE)
            else:
                self._begin(i, TRACE)
        elif ph == STORAGE:
            if i in self.flows:
                self._unflow(i)
                self.storage_s[i] = self.t - self.flow_t0[i]
            self._begin(i, SWITCHOVER if prep.storage_only[i] else TRACE)
        elif ph == TRACE:
            self.phase[i] = PRECOPY
            starts.append(i)
        elif ph == SCAN:
            self._flow(i, PRECOPY, self.pass_wire[i], self.fcap[i])
        elif ph == PRECOPY:
            self._unflow(i)
            pass_ends.append(i)
        elif ph == SWITCHOVER:
            if self.reserved.pop(i, None) is not None:
                self._signature = None
            self._finish(i)
            return True
        else:
            raise RuntimeError(f"phase {PHASE_NAMES[ph]} has no end")
        return False

    def _begin(self, i: int, ph: int) -> None:
        """Enter a timed phase: setup, a storage-only copy, trace, a storage-only switch-over."""
        prep = self.prep
        if ph == SETUP:
            self.start_s[i] = self.t
            self.running += 1
            self.peak = max(self.peak, self.running)
            d = prep.setup_s[i]
        elif ph == STORAGE:
            d = prep.storage_s[i]
        elif ph == TRACE:
            d = prep.trace_s[i]
        elif ph == SWITCHOVER:           # storage-only: a local suspend/resume, no network
            d = switchover(prep, np.array([i]), np.zeros(1), np.ones(1)).downtime_s[0]
        else:
            raise RuntimeError(f"phase {PHASE_NAMES[ph]} is not timed")
        self.phase[i] = ph
        self._push(self.t + float(d), 0 if ph == SWITCHOVER else 1, i, ph)

    def _flow(self, i: int, ph: int, nbytes: float, cap: float) -> None:
        self.phase[i] = ph
        self.rem[i] = nbytes
        self.fcap[i] = cap
        self.flow_t0[i] = self.t
        self.flows.add(i)

    def _unflow(self, i: int) -> None:
        self.flows.discard(i)

    def _finish(self, i: int) -> None:
        self.phase[i] = DONE
        self.end_s[i] = self.t
        self.running -= 1

    def _streams(self, starts: list[int], ends: list[int], releases: list[int]) -> None:
        """First passes and pass ends of this instant, on the backend's stream sets."""
        t = self.t
        st = np.array(starts, dtype=np.int64)
        en = np.array(ends, dtype=np.int64)
        if st.size:
            self.backend.open_streams(st, _rows(self.prep.cfg, self.row_of[st]))
        dur = np.zeros(en.size)
        rate = np.zeros(en.size)
        for j, i in enumerate(ends):
            xfer = t - self.flow_t0[i]
            dur[j] = xfer + self.pass_extra[i]
            rate[j] = self.pass_wire[i] / xfer if xfer > 0 and self.pass_wire[i] > 0 \
                else self.fcap[i]
            self.share_sum[i] += self.pass_wire[i]
            self.share_time[i] += xfer
        results = self.backend.step_streams(st, en, dur, rate)
        stopped: list[tuple[int, precopy.State, int]] = []
        for res in results:
            k_final = 0
            for j, i in enumerate(res.ids.tolist()):
                s = int(res.status[j])
                if s == precopy.RUNNING:
                    self.pass_wire[i] = float(res.wire_bytes[j])
                    self.pass_extra[i] = float(res.extra_s[j])
                    self.fcap[i] = min(float(res.cap_Bps[j]), float(self.mem_cap_Bps[i]))
                    if res.extra_s[j] > 0:
                        self.phase[i] = SCAN
                        self._push(t + float(res.extra_s[j]), 1, i, SCAN)
                    else:
                        self._flow(i, PRECOPY, self.pass_wire[i], self.fcap[i])
                else:
                    assert res.final is not None
                    stopped.append((i, _rows(res.final, np.array([k_final])), s))
                    k_final += 1
        stopped.sort(key=lambda x: x[0])
        if stopped:
            self.backend.close_streams([i for i, _, _ in stopped])
        for i, fin, s in stopped:
            self.final[i] = fin
            if s == precopy.FAILED:
                self._finish(i)
                releases.append(i)
            else:
                self.pending_pages[i] = float(fin.pending[0])
                self.phase[i] = SWITCHOVER
                self.entering.append(i)

    def _admit(self, requests: list[int], releases: list[int]) -> list[int]:
        """Give back the releases, queue the requests, run the FIFO scan; return the admitted."""
        ops: dict[int, list[tuple]] = {}

        def op(move: int, entry: tuple) -> None:
            for led in sorted({self.home[k] for k, _ in self.demand[move].costs}):
                ops.setdefault(led, []).append(entry)

        for i in releases:
            if self.ticket[i] >= 0:
                self.admission.release(int(self.ticket[i]))
                op(i, ("release", int(self.ticket[i])))
        refused = []
        for i in requests:
            self.request_s[i] = self.t
            p = self.prev[i]
            if self.scn.moves[i].refused:
                why = self.scn.moves[i].refused
            elif p >= 0 and self._row_status(int(p)) != "completed":
                m = self.scn.moves[p]
                why = f"not run: the VM's earlier move {m.source} -> {m.destination} did not complete"
            elif not self.prep.ok[i]:
                why = str(self.prep.reason[i])
            else:
                why = admission.impossible(self.demand[i], self.capacity)
            if why:
                self.refused[i] = why
                self.phase[i] = DONE
                self.start_s[i] = self.end_s[i] = self.t
                refused.append(i)
                continue
            tk = self.next_ticket
            self.next_ticket += 1
            self.ticket[i] = tk
            self.by_ticket[tk] = i
            self.phase[i] = QUEUED
            self.admission.request(tk, self.demand[i])
            op(i, ("request", tk, self.demand[i].costs))
        admitted = [self.by_ticket[tk] for tk in self.admission.scan()]
        for i in admitted:
            op(i, ("start", int(self.ticket[i])))
        if ops:
            self.backend.ledger_ops(ops)
        for i in sorted(releases + refused):
            self._after_done(i)
        return admitted

    def _shares(self) -> list[int]:
        """Recompute max-min shares if anything changed; freeze the rates of moves entering the
        switch-over. Returns moves that failed on entering it (switch-over over the maximum)."""
        flows = sorted(self.flows)
        sig = (tuple(flows), tuple(self.fcap[flows].tolist()), tuple(sorted(self.reserved)))
        if sig == self._signature and not self.entering:
            return []
        ids = flows + sorted(self.entering)
        failed: list[int] = []
        if ids:
            a = np.array(ids, dtype=np.int64)
            cap = self.nic_cap.copy()
            for i, r in sorted(self.reserved.items()):
                for lk in self.path_net[i].tolist():
                    if lk >= 0:
                        cap[lk] -= r * self.line[i]
            cap = np.maximum(cap, 0.0)
            ends = self._ends(a)
            caps = np.concatenate([self.fcap[flows], self.sw_cap[sorted(self.entering)]])
            line = self.line[a]
            if self.bg_links.size:                  # background traffic: one capped flow a link
                bends = np.full((self.bg_links.size, ends.shape[1]), -1, dtype=np.int64)
                bends[:, 0] = self.bg_links
                r = sharing.max_min(cap, np.concatenate([ends, bends]),
                                    np.concatenate([caps * line,
                                                    self.links.background_Bps[self.bg_links]]))
                self.rate[a] = r[:a.size] / line
            else:
                self.rate[a] = sharing.max_min(cap, ends, caps * line) / line
        if self.entering:
            ent = np.array(sorted(self.entering), dtype=np.int64)
            rates = self.rate[ent]
            sw = switchover(self.prep, ent, self.pending_pages[ent], rates)
            for j, i in enumerate(ent.tolist()):
                self.sw_rate[i] = float(rates[j])
                if bool(sw.too_long[j]):
                    self.too_long.add(i)
                    self._finish(i)
                    failed.append(i)
                else:
                    self.reserved[i] = float(rates[j])
                    sent_s = float((sw.final_bytes[j] + sw.device_bytes[j]) / rates[j])
                    self._push(self.t + min(sent_s, float(sw.downtime_s[j])), 0, i, SENT)
                    self._push(self.t + float(sw.downtime_s[j]), 0, i, SWITCHOVER)
            self.entering = []
            sig = None if failed else (sig[0], sig[1], tuple(sorted(self.reserved)))
        self._signature = sig
        self._book_nics()
        return failed

    def _ends(self, a: np.ndarray) -> np.ndarray:
        """Links of the streams ``a``: the disk path while copying a disk, else the network's."""
        if self.flat:
            return np.stack([2 * self.src[a], 2 * self.dst[a] + 1], axis=1)
        disk = self.phase[a] == STORAGE
        return np.where(disk[:, None], self.path_disk[a], self.path_net[a])

    def _book_nics(self) -> None:
        load = np.zeros(self.nic_cap.shape[0])
        if self.flows:
            a = self._flow_ids()
            r = self.rate[a] * self.line[a]
            if self.flat:
                np.add.at(load, 2 * self.src[a], r)
                np.add.at(load, 2 * self.dst[a] + 1, r)
            else:
                ends = self._ends(a)
                ok = ends >= 0
                np.add.at(load, ends[ok], np.broadcast_to(r[:, None], ends.shape)[ok])
        for i, rr in sorted(self.reserved.items()):
            for lk in self.path_net[i].tolist():
                if lk >= 0:
                    load[lk] += rr * self.line[i]
        changed = np.flatnonzero(load != self.nic_last)
        if changed.size:
            self.nic_last = load
            nh = self.n_host_links
            host = changed[changed < nh]
            if host.size:
                self.backend.nic_rates(self.t, dict(zip(host.tolist(), load[host].tolist())))
            if changed[-1] >= nh:
                dt = self.t - self.lt
                if dt > 0:
                    self.lbytes += self.lrate * dt
                self.lt = self.t
                self.lrate = load[nh:].copy()
                self.lpeak = np.maximum(self.lpeak, self.lrate)
            if self.tr is not None:
                self.tr["link_t_s"].append(self.t)
                self.tr["link_load_Bps"].append(load.copy())

    # ------------------------------------------------------------------ result
    def _result(self) -> Result:
        scn, prep, M = self.scn, self.prep, self.M
        n_idx = prep.idx.size
        st = precopy.start(prep.cfg)
        if n_idx:
            st = replace(st, status=np.full(n_idx, precopy.CONVERGED, dtype=np.int64))
            parts = [self.final.get(i, _rows(st, np.array([j]))) for j, i in enumerate(prep.idx.tolist())]
            st = _concat_state(parts)
        refused = self.refused != ""
        ok = prep.ok & ~refused
        reason = np.where(refused, self.refused, prep.reason).astype(object)
        prep2 = replace(prep, ok=ok, reason=reason, moves_memory=prep.moves_memory & ok,
                        moves_disk=prep.moves_disk & ok)
        out = migration.assemble(prep2, st, storage_s=np.where(ok, self.storage_s, 0.0),
                                 switchover_Bps=self.sw_rate)
        moves = scn.moves
        group = {v.name: v.group for v in scn.vms}
        rows: dict[str, np.ndarray] = {
            "seq": np.arange(M, dtype=np.int64),
            "vm": np.array([m.vm for m in moves], dtype=object),
            "group": np.array([group[m.vm] for m in moves], dtype=object),
            "source": np.array([m.source for m in moves], dtype=object),
            "destination": np.array([m.destination for m in moves], dtype=object),
            "source_datastore": np.array([m.source_datastore or "" for m in moves], dtype=object),
            "destination_datastore": np.array([m.destination_datastore or "" for m in moves],
                                              dtype=object),
            "kind": np.array([m.kind for m in moves], dtype=object),
            "stage": np.array([m.stage for m in moves], dtype=np.int64),
            "request_s": self.request_s,
            "queue_wait_s": self.start_s - self.request_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }
        with np.errstate(divide="ignore", invalid="ignore"):
            rows["mean_share_Bps"] = np.where(self.share_time > 0,
                                              self.share_sum / np.where(self.share_time > 0,
                                                                        self.share_time, 1.0), 0.0)
        rows["switchover_share_Bps"] = np.where(prep2.moves_memory & (out["status"] != "rejected"),
                                                self.sw_rate, 0.0)
        for f in INPUTS:    # the value each move used (the profile's where it decides)
            rows[f.column] = out[f.column] if f.column in RESOLVED else self.inputs[f.column]
        for k in OUTPUTS:
            rows[k] = out[k]
        status = out["status"]
        ran = status != "rejected"
        done = status == "completed"
        qw = rows["queue_wait_s"]
        summary = {
            "hosts": len(scn.hosts), "vms": len(scn.vms), "migrations": M,
            "completed": int(done.sum()), "failed": int((status == "failed").sum()),
            "rejected": int((~ran).sum()),
            "makespan_s": float(self.end_s.max()) if M else 0.0,
            "peak_concurrency": int(self.peak),
            "total_transferred_bytes": float(np.nansum(out["transferred_bytes"])),
            "total_downtime_ms": float(out["downtime_ms"][done].sum()),
            # NaN (null in the results) when no migration completed or ran: no such value exists
            "max_downtime_ms": float(out["downtime_ms"][done].max()) if done.any() else math.nan,
            "mean_queue_wait_s": float(qw[ran].mean()) if ran.any() else math.nan,
            "max_queue_wait_s": float(qw.max()) if M else 0.0,
            "converged": int((out["converged"] & done).sum()),
            "forced": int((out["forced"] & done).sum()),
            "throttled": int((out["max_throttle_pct"] > 0).sum()),
            "events": int(self.events),
        }
        summary.update(self._plan_summary())
        links = self._link_stats()
        util = [(x["peak_Bps"] / x["capacity_Bps"], x["link"]) for x in links
                if x["capacity_Bps"] > 0 and math.isfinite(x["capacity_Bps"])]
        best = max(util, key=lambda u: u[0], default=(math.nan, None))
        summary["peak_link_utilisation"] = float(best[0])
        summary["busiest_link"] = best[1]
        hosts = self.backend.host_stats(self.t)
        plan = self._host_plan()
        for hs, extra in zip(hosts, plan):
            hs.update(extra)
        trace = None
        if self.tr is not None:
            trace = {"t_s": np.array(self.tr["t_s"]), "running": np.array(self.tr["running"]),
                     "queued": np.array(self.tr["queued"]),
                     "link_t_s": np.array(self.tr["link_t_s"]),
                     "link_load_Bps": (np.array(self.tr["link_load_Bps"])
                                       if self.tr["link_load_Bps"]
                                       else np.zeros((0, self.nic_cap.shape[0]))),
                     "link_names": list(self.links.names),
                     "link_capacity_Bps": self.nic_cap.copy()}
        return Result(rows, summary, hosts, links, trace)

    def _plan_summary(self) -> dict[str, float]:
        opens = [t for t in self.stage_open if not math.isnan(t)]
        ends = [t for t in self.stage_end if not math.isnan(t)]
        if not opens or not ends:
            return {"maintenance_window_s": math.nan}
        return {"maintenance_window_s": float(max(ends) - min(opens))}

    def _host_plan(self) -> list[dict[str, Any]]:
        """Each host's evacuation / maintenance interval (NaN where no stage evacuates it)."""
        idx = {h.name: i for i, h in enumerate(self.scn.hosts)}
        out = [{"evacuation_start_s": math.nan, "evacuated_s": math.nan,
                "maintenance_end_s": math.nan, "plan_done_s": math.nan, "refused_moves": 0}
               for _ in self.scn.hosts]
        follow: dict[int, int] = {}
        for k, stg in enumerate(self.stages):
            if getattr(stg, "role", "evacuate") != "evacuate" and stg.after >= 0:
                follow[stg.after] = k
        for k, stg in enumerate(self.stages):
            if getattr(stg, "role", "evacuate") != "evacuate":
                continue
            members = stg.members() if hasattr(stg, "members") else (stg.host,)
            refused = {}
            for i in self.stage_moves[k]:
                m = self.scn.moves[i]
                if m.refused:
                    refused[m.source] = refused.get(m.source, 0) + 1
            for h in members:
                o = out[idx[h]]
                o["evacuation_start_s"] = self.stage_open[k]
                o["evacuated_s"] = self.stage_end[k]
                o["refused_moves"] = refused.get(h, 0)
                if k in follow:
                    o["maintenance_end_s"] = self.stage_open[follow[k]]
                    o["plan_done_s"] = self.stage_end[follow[k]]
                else:
                    o["plan_done_s"] = self.stage_end[k]
        return out

    def _link_stats(self) -> list[dict[str, Any]]:
        """Books of the links beyond the host NICs (uplinks, spines, WAN, datastores)."""
        nh = self.n_host_links
        dt = self.t - self.lt
        total = self.lbytes + self.lrate * dt if dt > 0 else self.lbytes
        return [{"link": self.links.names[nh + j], "capacity_Bps": float(self.nic_cap[nh + j]),
                 "bytes": float(total[j]), "peak_Bps": float(self.lpeak[j])}
                for j in range(total.size)]


def run(scn: Scenario, backend: Backend | None = None,
        on_progress: Callable[[int], None] | None = None, trace: bool = False) -> Result:
    """Run a scenario.

    Parameters
    ----------
    scn : Scenario
    backend : Backend, optional
        Default: everything in this process (:class:`LocalBackend`).
    on_progress : callable, optional
        Called with the number of moves that ended, as they end.
    trace : bool
        Record the time series of :attr:`Result.trace` (plots).

    Returns
    -------
    Result
    """
    return Engine(scn, backend, on_progress, trace).run(scn.stages)
