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
on concurrent migrations (a management layer's). Queues are FIFO per resource: a waiting migration
never overtakes an earlier waiting one that needs any of the same resources (so big requests —
a Storage vMotion costing 16 — are not starved by small ones), while migrations that share nothing
with the blocked one proceed. The time each migration waits is recorded by the engine. A migration
whose charge on some resource exceeds that resource's maximum could never start: it is refused up
front (:func:`impossible`), never queued forever.

Resources are grouped into *ledgers* (one per host: its network, host, live and storage slots and
the datastores it is home for), so that admission can be decided host by host — in-process or by
one Ray actor per host — with the same result: the requests that are at the head of every queue
they wait in are pairwise resource-disjoint, so each ledger can judge its share of a request on its
own and a request starts when every ledger it touches says it fits (:func:`candidates`).

Left out: vCenter's provisioning costs (clone, deploy), per-VM "compute resource" limits, DRS
priorities and the 2-per-host Storage vMotion *copy* parallelism inside one migration.

Sources: REFERENCES.md (vCenter Server 5.1 "Limits on Simultaneous Migrations"; Hyper-V 2012
"Simultaneous live migrations / storage migrations", default 2); DESIGN.md §4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from models.policy import Limits

#: Migration kinds.
LIVE, SHARED_NOTHING, STORAGE = "live", "shared-nothing", "storage"
KINDS = (LIVE, SHARED_NOTHING, STORAGE)
#: Resource kinds (a resource key is ``(kind, name)``).
NETWORK, HOST, DATASTORE, LIVE_SLOTS, STORAGE_SLOTS = "network", "host", "datastore", "live", "storage"
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


def resources(hosts: Sequence[HostLimits], limits: Limits) -> dict[Key, float]:
    """Maximum cost of every resource of a cluster (finite ones only).

    Parameters
    ----------
    hosts : sequence of HostLimits
    limits : Limits
        The profile's limits (after overrides).

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
                    STORAGE_SLOTS: "simultaneous storage migrations"}[kind]
            return (f"admission: needs {cost:g} of the {what} of {kind} {name}, whose limit is "
                    f"{cap:g}; it could never start")
    return ""


class Ledger:
    """FIFO admission state of a group of resources (one host's): maximum costs, usage, queues.

    Parameters
    ----------
    capacity : mapping
        ``resource key -> maximum cost`` of the resources this ledger owns.

    Notes
    -----
    A ledger sees only its own part of each request (the charges on its resources). Operations
    arrive in a deterministic order from the engine; the ledger never decides on its own, it reports
    its *heads* — requests at the front of every one of its queues they wait in — and whether each
    fits its resources now. All state changes go through :meth:`apply`.
    """

    def __init__(self, capacity: Mapping[Key, float]) -> None:
        self.capacity: dict[Key, float] = dict(capacity)
        self.used: dict[Key, float] = {k: 0.0 for k in self.capacity}
        self.queues: dict[Key, list[int]] = {k: [] for k in self.capacity}
        self._front: dict[Key, int] = {k: 0 for k in self.capacity}   # index of the queue head
        self.costs: dict[int, tuple[tuple[Key, float], ...]] = {}     # ticket -> local charges
        self.running: set[int] = set()

    # ------------------------------------------------------------------ operations
    def enqueue(self, ticket: int, costs: Iterable[tuple[Key, float]]) -> None:
        """Append a request (identified by its ticket: the engine's FIFO order) to its queues."""
        local = tuple((k, c) for k, c in costs if k in self.capacity)
        self.costs[ticket] = local
        for k, _ in local:
            self.queues[k].append(ticket)

    def admit(self, ticket: int) -> None:
        """Start a request: charge its costs and take it out of its queues (it must be a head)."""
        for k, c in self.costs[ticket]:
            q, f = self.queues[k], self._front[k]
            if f >= len(q) or q[f] != ticket:
                raise RuntimeError(f"ticket {ticket} is not at the head of queue {k}")
            self._front[k] = f + 1
            if self._front[k] > 64 and self._front[k] * 2 > len(q):   # compact consumed prefix
                del q[:self._front[k]]
                self._front[k] = 0
            self.used[k] += c
        self.running.add(ticket)

    def release(self, ticket: int) -> None:
        """A running request finished: give its charges back."""
        if ticket not in self.running:
            raise RuntimeError(f"ticket {ticket} is not running")
        self.running.discard(ticket)
        for k, c in self.costs.pop(ticket):
            self.used[k] -= c
            if abs(self.used[k]) < EPS:
                self.used[k] = 0.0

    def apply(self, ops: Sequence[tuple]) -> tuple[tuple[int, bool], ...]:
        """Apply operations in order, then report :meth:`heads`.

        Parameters
        ----------
        ops : sequence of tuple
            ``("enqueue", ticket, costs)``, ``("admit", ticket)`` or ``("release", ticket)``.
        """
        for op in ops:
            if op[0] == "enqueue":
                self.enqueue(op[1], op[2])
            elif op[0] == "admit":
                self.admit(op[1])
            elif op[0] == "release":
                self.release(op[1])
            else:
                raise ValueError(f"ledger operation {op[0]!r}")
        return self.heads()

    # ------------------------------------------------------------------ queries
    def fits(self, ticket: int) -> bool:
        """True when every local charge of the request fits the free capacity now."""
        return all(self.used[k] + c <= self.capacity[k] + EPS for k, c in self.costs[ticket])

    def heads(self) -> tuple[tuple[int, bool], ...]:
        """Requests at the front of every local queue they wait in, with whether they fit here.

        Returns
        -------
        tuple of (ticket, fits)
            In ticket order.
        """
        fronts: dict[int, int] = {}
        for k, q in self.queues.items():
            f = self._front[k]
            if f < len(q):
                t = q[f]
                fronts[t] = fronts.get(t, 0) + 1
        out = []
        for t in sorted(fronts):
            if fronts[t] == len(self.costs[t]):
                out.append((t, self.fits(t)))
        return tuple(out)

    def waiting(self) -> int:
        """Requests queued here."""
        return len(self.costs) - len(self.running)


def candidates(waiting: Iterable[int], ledgers_of: Mapping[int, Sequence[int]],
               heads: Mapping[int, Mapping[int, bool]]) -> list[int]:
    """Waiting requests that may start now: at the head of all their queues and fitting everywhere.

    Parameters
    ----------
    waiting : iterable of int
        Tickets of the waiting requests to consider.
    ledgers_of : mapping
        Ticket -> ledgers the request has charges in (empty: no finite resource, always fits).
    heads : mapping
        Ledger -> its current heads (``ticket -> fits``), as reported by :meth:`Ledger.heads`.

    Returns
    -------
    list of int
        Tickets in FIFO order. They are pairwise resource-disjoint (each is the head of every queue
        it waits in), so admitting all of them at once keeps every limit.
    """
    out = []
    for t in waiting:
        ok = True
        for led in ledgers_of[t]:
            h = heads.get(led)
            if h is None or not h.get(t, False):
                ok = False
                break
        if ok:
            out.append(t)
    out.sort()
    return out
