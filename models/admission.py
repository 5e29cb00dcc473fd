"""Admission control: which concurrent migrations may run, and the FIFO queue of the rest.

vSphere 5.1 (vCenter's cost model): every host *network* (the vMotion network of a host), every
*host* and every *datastore* has a maximum cost; each running migration charges a cost to each
resource it uses, and a migration starts only if *all* its charges fit — otherwise it queues.
Maximum costs: network 4 on 1 GbE and 8 on 10 GbE, host 8, datastore 128. Charges: a vMotion costs
1 on the network of both hosts, 1 on both hosts and 1 on the VM's datastore; a Storage vMotion 4 on
its host and 16 on the source and the destination datastore; a vMotion without shared storage
(5.1 shared-nothing) is both, 1 on both networks, 4 on both hosts, 16 on both datastores. So a host
runs at most 4 vMotions on 1 GbE and 8 on 10 GbE, and 2 Storage vMotions.

Hyper-V 2012: each host allows a number of *simultaneous live migrations* (default 2) and of
*simultaneous storage migrations* (default 2); a live migration takes one live slot on its source and
one on its destination (a Shared Nothing Live Migration counts as a live migration, an assumption:
Microsoft documents the two settings, not how they combine); a storage migration takes one storage
slot on its host. The rest "queue in sequence".

Both models run together (a limit left at ``inf`` never binds), plus an optional scenario-wide cap
on concurrent migrations (a management layer's: a ``cluster`` resource every migration charges 1).

The queue is FIFO *per resource*, scanned in request order whenever something is released or
requested: a waiting migration is *eligible* when no earlier waiting migration holds any of its
resources; an eligible migration whose charges all fit starts; an eligible one that does not fit
*holds* every resource it does not fit on, and keeps holding them until it starts. So a migration
never overtakes an earlier one on a resource that one is waiting for (a Storage vMotion costing 16
is not starved by a stream of vMotions costing 1), while migrations that share nothing with a
blocked one — or share only resources it fits on, like a datastore with room — proceed. The wait
of each migration is recorded by the engine. A migration whose charge on some resource exceeds
that resource's maximum could never start: it is refused up front (:func:`impossible`), never
queued forever.

:class:`Admission` makes the decisions (deterministic: tickets give the order, costs are summed in
ticket order); :class:`Ledger` is the book of one host — its resources, their usage and its queue —
that the engine keeps in-process or in that host's Ray actor, and that checks every charge against
its limits.

Left out: vCenter's provisioning costs (clone, deploy), per-VM "compute resource" limits, DRS
priorities and the 2-per-host Storage vMotion *copy* parallelism inside one migration.

Sources: docs/references.md (vCenter Server 5.1 "Limits on Simultaneous Migrations"; Hyper-V 2012
"Simultaneous live migrations / storage migrations", default 2); docs/design.md §4.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.policy import Limits

#: Migration kinds.
LIVE, SHARED_NOTHING, STORAGE = "live", "shared-nothing", "storage"
KINDS = (LIVE, SHARED_NOTHING, STORAGE)
#: Resource kinds (a resource key is ``(kind, name)``).
NETWORK, HOST, DATASTORE, LIVE_SLOTS, STORAGE_SLOTS, CLUSTER = (
    "network", "host", "datastore", "live", "storage", "cluster")
#: Slack on capacity comparisons (costs are small integers; limits may be any float).
EPS = 1e-9

Key = tuple[str, str]


@dataclass(frozen=True)
class HostLimits:
    """What admission needs to know about one host.

    Attributes
    ----------
    name : str
        Host name.
    link_bps : float
        Line rate of its migration NICs, bit/s (decides the 1 GbE or 10 GbE network cost).
    datastores : tuple of str
        Datastores the host mounts.
    """

    name: str
    link_bps: float
    datastores: tuple[str, ...] = ()


@dataclass(frozen=True)
class Demand:
    """The charges of one migration: ``((resource key, cost), ...)`` on finite resources only."""

    costs: tuple[tuple[Key, float], ...]


def resources(hosts: Sequence[HostLimits], limits: Limits, max_concurrent: float = math.inf
              ) -> dict[Key, float]:
    """Maximum cost of every resource of a cluster (finite ones only).

    Parameters
    ----------
    hosts : sequence of HostLimits
    limits : Limits
        The profile's limits (after overrides).
    max_concurrent : float
        Scenario-wide cap on concurrent migrations (``inf``: none).

    Returns
    -------
    dict
        ``(kind, name) -> maximum cost``. Resources whose limit is ``inf`` are left out: they never
        bind.
    """
    out: dict[Key, float] = {}

    def put(key: Key, value: float) -> None:
        if math.isfinite(value):
            out[key] = float(value)

    for h in hosts:
        put((NETWORK, h.name), limits.network_cost_10g if h.link_bps >= 10e9 else limits.network_cost_1g)
        put((HOST, h.name), limits.host_cost)
        put((LIVE_SLOTS, h.name), limits.max_live_migrations)
        put((STORAGE_SLOTS, h.name), limits.max_storage_migrations)
        for ds in h.datastores:
            put((DATASTORE, ds), limits.datastore_cost)
    put((CLUSTER, "*"), max_concurrent)
    return out


def demand(kind: str, source: str, destination: str, source_datastore: str | None,
           destination_datastore: str | None, limits: Limits, capacity: Mapping[Key, float]
           ) -> Demand:
    """The charges of one migration under the vCenter cost model and the Hyper-V slot limits.

    Parameters
    ----------
    kind : str
        ``live`` (memory only, storage shared), ``shared-nothing`` (memory and disk over the
        network) or ``storage`` (disk only, between datastores of one host).
    source, destination : str
        Hosts (equal for ``storage``).
    source_datastore, destination_datastore : str or None
        The VM's datastore before and after (``None``: none declared; equal when storage stays).
    limits : Limits
        Per-operation costs.
    capacity : mapping
        :func:`resources` of the cluster: charges on resources absent from it are dropped.

    Returns
    -------
    Demand
    """
    if kind not in KINDS:
        raise ValueError(f"migration kind {kind!r}; allowed: {', '.join(KINDS)}")
    costs: dict[Key, float] = {}

    def charge(key: Key, cost: float) -> None:
        if key in capacity and cost > 0:
            costs[key] = costs.get(key, 0.0) + float(cost)

    hosts = (source,) if source == destination else (source, destination)
    charge((CLUSTER, "*"), 1.0)
    if kind in (LIVE, SHARED_NOTHING):
        for h in hosts:
            charge((NETWORK, h), limits.cost_vmotion_network)
            charge((HOST, h), limits.cost_vmotion_host if kind == LIVE else limits.cost_shared_nothing_host)
            charge((LIVE_SLOTS, h), 1.0)
    else:
        charge((HOST, source), limits.cost_svmotion_host)
        charge((STORAGE_SLOTS, source), 1.0)
    if kind == LIVE:
        if source_datastore is not None:
            charge((DATASTORE, source_datastore), limits.cost_vmotion_datastore)
    else:
        for ds in {source_datastore, destination_datastore} - {None}:
            charge((DATASTORE, ds), limits.cost_svmotion_datastore)  # type: ignore[arg-type]
    return Demand(tuple(sorted(costs.items())))


def impossible(d: Demand, capacity: Mapping[Key, float]) -> str:
    """Why a demand can never be admitted (a charge above a maximum), or ``""``.

    Returns
    -------
    str
        One line naming the resource, the charge and the limit; empty when the demand can fit.
    """
    for key, cost in d.costs:
        cap = capacity[key]
        if cost > cap + EPS:
            kind, name = key
            what = {NETWORK: "network cost", HOST: "host cost", DATASTORE: "datastore cost",
                    LIVE_SLOTS: "simultaneous live migrations",
                    STORAGE_SLOTS: "simultaneous storage migrations",
                    CLUSTER: "concurrent migrations"}[kind]
            where = "the scenario" if kind == CLUSTER else f"{kind} {name}"
            return (f"admission: needs {cost:g} of the {what} of {where}, whose limit is "
                    f"{cap:g}; it could never start")
    return ""




class Admission:
    """FIFO admission decisions over a set of resources (see the module docstring).

    Parameters
    ----------
    capacity : mapping
        ``resource key -> maximum cost`` (:func:`resources`).

    Notes
    -----
    Requests are identified by *tickets*: integers given in request order (time, then plan order),
    strictly increasing. :meth:`scan` is the whole decision rule; it is run after every batch of
    :meth:`request` and :meth:`release` calls at one instant and returns the tickets that start.
    """

    def __init__(self, capacity: Mapping[Key, float]) -> None:
        self.capacity: dict[Key, float] = dict(capacity)
        self.used: dict[Key, float] = {k: 0.0 for k in self.capacity}
        self.costs: dict[int, tuple[tuple[Key, float], ...]] = {}
        self.keys: dict[int, frozenset[Key]] = {}
        self.waiting: list[int] = []               # tickets, in order
        self.holds: dict[int, set[Key]] = {}       # ticket -> resources it holds while waiting
        self.running: set[int] = set()
        self._last = -1
        self._dirty = False

    def request(self, ticket: int, d: Demand) -> None:
        """Queue a request (``ticket`` larger than every earlier one; ``d`` must be possible)."""
        if ticket <= self._last:
            raise ValueError(f"ticket {ticket} after {self._last}: tickets must increase")
        if impossible(d, self.capacity):
            raise ValueError(impossible(d, self.capacity))
        self._last = ticket
        self.costs[ticket] = d.costs
        self.keys[ticket] = frozenset(k for k, _ in d.costs)
        self.waiting.append(ticket)
        self.holds[ticket] = set()
        self._dirty = True

    def release(self, ticket: int) -> None:
        """A running migration ended: give its charges back."""
        self.running.remove(ticket)
        del self.keys[ticket]
        for k, c in self.costs.pop(ticket):
            u = self.used[k] - c
            self.used[k] = 0.0 if abs(u) < EPS else u
        self._dirty = True

    def scan(self) -> list[int]:
        """Start every waiting request the FIFO rule lets start now.

        Returns
        -------
        list of int
            Tickets that start, in order (their charges are now counted as used).
        """
        if not self._dirty:
            return []
        self._dirty = False
        held: set[Key] = set()
        started: list[int] = []
        keep: list[int] = []
        used, cap, keys = self.used, self.capacity, self.keys
        for t in self.waiting:
            mine = self.holds[t]
            if held and not held.isdisjoint(keys[t]):
                if mine:
                    held |= mine
                keep.append(t)
                continue
            costs = self.costs[t]
            short = [k for k, c in costs if used[k] + c > cap[k] + EPS]
            if short:
                mine.update(short)
                held |= mine
                keep.append(t)
                continue
            for k, c in costs:
                used[k] += c
            del self.holds[t]
            self.running.add(t)
            started.append(t)
        self.waiting = keep
        return started

    def queued(self) -> int:
        """Requests waiting."""
        return len(self.waiting)


class Ledger:
    """The admission book of one host: its resources, their usage, its queue, its peaks.

    The engine applies every request, start and release that touches this host's resources, in
    order; the ledger checks that no charge ever exceeds a limit (an engine bug would raise here,
    in the process or the Ray actor that keeps the book) and keeps statistics.

    Parameters
    ----------
    capacity : mapping
        ``resource key -> maximum cost`` of the resources this ledger owns.
    """

    def __init__(self, capacity: Mapping[Key, float]) -> None:
        self.capacity: dict[Key, float] = dict(capacity)
        self.used: dict[Key, float] = {k: 0.0 for k in self.capacity}
        self.peak: dict[Key, float] = {k: 0.0 for k in self.capacity}
        self.costs: dict[int, tuple[tuple[Key, float], ...]] = {}
        self.queued: set[int] = set()
        self.max_queued = 0

    def apply(self, ops: Sequence[tuple]) -> int:
        """Apply ``("request", ticket, costs)``, ``("start", ticket)``, ``("release", ticket)``.

        Returns
        -------
        int
            Requests queued here after the operations.

        Raises
        ------
        RuntimeError
            If a start would exceed a limit or an operation is out of order.
        """
        for op in ops:
            kind, t = op[0], op[1]
            if kind == "request":
                self.costs[t] = tuple((k, c) for k, c in op[2] if k in self.capacity)
                self.queued.add(t)
            elif kind == "start":
                if t not in self.queued:
                    raise RuntimeError(f"ledger: start of ticket {t}, which is not queued")
                self.queued.discard(t)
                for k, c in self.costs[t]:
                    u = self.used[k] + c
                    if u > self.capacity[k] + EPS:
                        raise RuntimeError(f"ledger: starting ticket {t} puts {k} at {u:g}, above "
                                           f"its limit {self.capacity[k]:g}")
                    self.used[k] = u
                    self.peak[k] = max(self.peak[k], u)
            elif kind == "release":
                for k, c in self.costs.pop(t):
                    u = self.used[k] - c
                    self.used[k] = 0.0 if abs(u) < EPS else u
            else:
                raise ValueError(f"ledger operation {kind!r}")
        self.max_queued = max(self.max_queued, len(self.queued))
        return len(self.queued)

    def stats(self) -> dict[str, object]:
        """Peak usage per resource and the longest queue seen."""
        return {"peak": {f"{k[0]}:{k[1]}": v for k, v in sorted(self.peak.items())},
                "max_queued": self.max_queued}
