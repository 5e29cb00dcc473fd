"""Scenarios on Ray actors: one actor per host, a pool of actors for the migration streams.

The engine (``models.scenario.Engine``) runs in the driver as the *coordinator*: it owns the clock,
the event queue, the FIFO admission decisions and the max-min share computation (a global fixpoint
over every NIC of the cluster). What lives in actors:

- :class:`HostActor` — one per host (``--host-actors`` caps the count; hosts then share actors
  round-robin): the host's admission ledger (``models.admission.Ledger``: its resources' limits,
  their usage, its queue; it checks every start against the limits) and the books of its NICs
  (bytes sent and received, peak load), updated at every rate change. These messages are one-way:
  queued per actor in order and delivered in batches (Ray keeps the order of one caller's calls to
  an actor), never waited for, so they cost the coordinator no round trip; a violated limit
  surfaces when the books are read at the end of the scenario.
- :class:`StreamActor` — a pool (``--stream-actors``); each active migration stream lives on one
  of them for its whole pre-copy (assigned to the least busy actor, ties to the lowest index), which
  ends its passes and plans the next with ``models.precopy`` — the same
  ``models.scenario.StreamSet`` code the in-process engine uses, vectorised over the streams of an
  instant. With at least as many actors as concurrent streams, every stream has its own actor.

Both executions call the same pure functions in the same order with the same inputs; the stream
computations are elementwise, so splitting an instant's streams over several actors changes no bit.
Rows are therefore identical to the in-process engine's (on nodes with the same CPU/NumPy build).
Actors are created once per run, spread over the cluster's nodes, reused for every scenario point
and killed at the end.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from models import admission
from models.sharing import NicBook
from runner.errors import RayError

if TYPE_CHECKING:  # the pre-copy stack (numba) is imported only where streams run
    from models import precopy
    from models.scenario import StepResult

#: Default cap on host actors (hosts beyond it share actors).
MAX_HOST_ACTORS = 32
#: Default number of stream actors.
STREAM_ACTORS = 4
#: One-way messages queued per host actor before they are sent as one call.
BATCH = 64


def _pack(obj: Any) -> bytes:
    """Arguments and results travel as one pickled blob: Ray moves small ``bytes`` several times
    faster than dataclasses of small NumPy arrays (each array becomes an out-of-band buffer)."""
    return pickle.dumps(obj, protocol=5)


def _unpack(blob: bytes) -> Any:
    return pickle.loads(blob)


class _Host:
    """State of one host actor: the ledgers and NIC books of the hosts assigned to it."""

    def __init__(self) -> None:
        self.ledgers: dict[int, admission.Ledger] = {}
        self.nics: dict[int, NicBook] = {}
        self.error: str | None = None

    def node(self) -> str:
        import ray
        return ray.get_runtime_context().get_node_id()

    def reset(self, ledgers: Mapping[int, Mapping[admission.Key, float]]) -> int:
        self.ledgers = {h: admission.Ledger(c) for h, c in ledgers.items()}
        self.nics = {h: NicBook() for h in ledgers}
        self.error = None
        return os.getpid()

    def ledger_ops(self, ops: Mapping[int, list[tuple]]) -> None:
        if self.error:
            return
        try:
            for h in sorted(ops):
                self.ledgers[h].apply(ops[h])
        except Exception as exc:  # noqa: BLE001 - reported by stats()
            self.error = f"{type(exc).__name__}: {exc}"

    def nic_rates(self, t: float, rates: Mapping[int, float]) -> None:
        for nic in sorted(rates):
            self.nics[nic // 2].set(t, nic % 2, rates[nic])

    def apply(self, blob: bytes) -> None:
        """Apply queued messages in order: ``("ops", {host: ops})`` and ``("nic", t, rates)``."""
        for m in _unpack(blob):
            if m[0] == "ops":
                self.ledger_ops(m[1])
            else:
                self.nic_rates(m[1], m[2])

    def stats(self, t_end: float) -> dict[int, dict[str, Any]]:
        if self.error:
            raise RuntimeError(self.error)
        out = {}
        for h in sorted(self.ledgers):
            self.nics[h].advance(t_end)
            out[h] = {**self.ledgers[h].stats(), **self.nics[h].stats()}
        return out


class _Streams:
    """State of one stream actor: a ``StreamSet``."""

    def __init__(self) -> None:
        from models.scenario import StreamSet
        self.set = StreamSet()

    def node(self) -> str:
        import ray
        return ray.get_runtime_context().get_node_id()

    def reset(self) -> int:
        from models.scenario import StreamSet
        self.set = StreamSet()
        return os.getpid()

    def open(self, blob: bytes) -> None:
        """Add streams: ``(ids, precopy.Config rows)`` pickled."""
        ids, cfg = _unpack(blob)
        self.set.open(ids, cfg)

    def step(self, blob: bytes) -> bytes:
        """``StreamSet.step(starts, ends, duration_s, rate_Bps)``, pickled in and out."""
        return _pack(self.set.step(*_unpack(blob)))

    def close(self, ids: Sequence[int]) -> None:
        self.set.close(ids)


class ActorPool:
    """Host and stream actors for a run (created on first use, killed by :meth:`shutdown`).

    Parameters
    ----------
    host_actors : int
        Most host actors to create.
    stream_actors : int
        Stream actors.
    """

    def __init__(self, host_actors: int = MAX_HOST_ACTORS, stream_actors: int = STREAM_ACTORS) -> None:
        if host_actors < 1 or stream_actors < 1:
            raise ValueError("at least one host actor and one stream actor")
        self.max_hosts = host_actors
        self.n_streams = stream_actors
        self.hosts: list[Any] = []
        self.streams: list[Any] = []

    def ensure(self, n_hosts: int) -> None:
        """Have ``min(n_hosts, host_actors)`` host actors and the stream actors running."""
        import ray

        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # Round-robin over the live nodes, so a cluster's actors really spread. The affinity is
        # hard: Ray treats a soft one as a preference (on a two-raylet cluster it placed 2-4 of 6
        # actors where asked); a node that dies before its actor starts fails the run with a
        # RayError instead.
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
        placed = len(self.hosts) + len(self.streams)

        def opts() -> dict[str, Any]:
            nonlocal placed
            node = nodes[placed % len(nodes)] if nodes else None
            placed += 1
            strategy = (NodeAffinitySchedulingStrategy(node, soft=False) if node else "SPREAD")
            return {"num_cpus": 0, "scheduling_strategy": strategy, "max_restarts": 0}

        HostActor, StreamActor = ray.remote(_Host), ray.remote(_Streams)
        want = max(1, min(n_hosts, self.max_hosts))
        new = [HostActor.options(**opts()).remote() for _ in range(want - len(self.hosts))]
        new_s = [StreamActor.options(**opts()).remote()
                 for _ in range(self.n_streams - len(self.streams))]
        try:
            ray.get([a.node.remote() for a in new + new_s])
        except Exception as exc:  # noqa: BLE001
            raise RayError(f"cannot start scenario actors: {type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
        self.hosts += new
        self.streams += new_s

    def nodes(self) -> dict[str, int]:
        """Actors per Ray node id."""
        import ray
        out: dict[str, int] = {}
        for n in ray.get([a.node.remote() for a in self.hosts + self.streams]):
            out[n] = out.get(n, 0) + 1
        return out

    def backend(self) -> ActorBackend:
        """A backend over these actors (for one scenario at a time)."""
        return ActorBackend(self)

    def shutdown(self) -> None:
        """Kill every actor of the pool."""
        import ray
        for a in self.hosts + self.streams:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - best effort
                pass
        self.hosts, self.streams = [], []


class ActorBackend:
    """``models.scenario.Backend`` on an :class:`ActorPool`."""

    def __init__(self, pool: ActorPool) -> None:
        self.pool = pool
        self.host_of: list[int] = []
        self.stream_of: dict[int, int] = {}
        self.load: list[int] = [0] * len(pool.streams)
        self.outbox: dict[int, list[tuple]] = {}

    def _post(self, actor: int, message: tuple) -> None:
        box = self.outbox.setdefault(actor, [])
        box.append(message)
        if len(box) >= BATCH:
            self._flush(actor)

    def _flush(self, actor: int | None = None) -> None:
        for a in sorted(self.outbox) if actor is None else [actor]:
            if self.outbox.get(a):
                self.pool.hosts[a].apply.remote(_pack(self.outbox[a]))
                self.outbox[a] = []

    def reset(self, ledgers: Sequence[Mapping[admission.Key, float]], n_hosts: int) -> None:
        import ray

        self.pool.ensure(n_hosts)
        na = len(self.pool.hosts)
        self.host_of = [h % na for h in range(n_hosts)]
        per: list[dict[int, Mapping[admission.Key, float]]] = [{} for _ in range(na)]
        for h in range(n_hosts):
            per[self.host_of[h]][h] = ledgers[h]
        self.stream_of = {}
        self.load = [0] * len(self.pool.streams)
        self.outbox = {}
        ray.get([a.reset.remote(per[i]) for i, a in enumerate(self.pool.hosts)]
                + [s.reset.remote() for s in self.pool.streams])

    def ledger_ops(self, ops: Mapping[int, list[tuple]]) -> None:
        by_actor: dict[int, dict[int, list[tuple]]] = {}
        for h in sorted(ops):
            by_actor.setdefault(self.host_of[h], {})[h] = ops[h]
        for a in sorted(by_actor):
            self._post(a, ("ops", by_actor[a]))

    def nic_rates(self, t: float, rates: Mapping[int, float]) -> None:
        by_actor: dict[int, dict[int, float]] = {}
        for nic in sorted(rates):
            by_actor.setdefault(self.host_of[nic // 2], {})[nic] = rates[nic]
        for a in sorted(by_actor):
            self._post(a, ("nic", t, by_actor[a]))

    def open_streams(self, ids: np.ndarray, cfg: precopy.Config) -> None:
        groups: dict[int, list[int]] = {}
        for j, i in enumerate(ids.tolist()):
            a = min(range(len(self.load)), key=lambda k: (self.load[k], k))
            self.load[a] += 1
            self.stream_of[i] = a
            groups.setdefault(a, []).append(j)
        for a in sorted(groups):
            rows = np.array(groups[a], dtype=np.int64)
            sub = cfg.take(rows)
            self.pool.streams[a].open.remote(_pack((ids[rows], sub)))

    def step_streams(self, starts: np.ndarray, ends: np.ndarray, duration_s: np.ndarray,
                     rate_Bps: np.ndarray) -> list[StepResult]:
        import ray

        s_by: dict[int, list[int]] = {}
        e_by: dict[int, list[int]] = {}
        for j, i in enumerate(starts.tolist()):
            s_by.setdefault(self.stream_of[i], []).append(j)
        for j, i in enumerate(ends.tolist()):
            e_by.setdefault(self.stream_of[i], []).append(j)
        refs = []
        for a in sorted(set(s_by) | set(e_by)):
            sj = np.array(s_by.get(a, []), dtype=np.int64)
            ej = np.array(e_by.get(a, []), dtype=np.int64)
            refs.append(self.pool.streams[a].step.remote(
                _pack((starts[sj], ends[ej], duration_s[ej], rate_Bps[ej]))))
        try:
            return [_unpack(b) for b in ray.get(refs)]
        except Exception as exc:  # noqa: BLE001
            raise RayError(f"a stream actor failed: {type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}") from None

    def close_streams(self, ids: Sequence[int]) -> None:
        groups: dict[int, list[int]] = {}
        for i in ids:
            a = self.stream_of.pop(int(i))
            self.load[a] -= 1
            groups.setdefault(a, []).append(int(i))
        for a in sorted(groups):
            self.pool.streams[a].close.remote(groups[a])

    def host_stats(self, t_end: float) -> list[dict[str, Any]]:
        import ray

        self._flush()
        try:
            parts = ray.get([a.stats.remote(t_end) for a in self.pool.hosts])
        except Exception as exc:  # noqa: BLE001
            raise RayError(f"a host actor failed: {type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}") from None
        merged: dict[int, dict[str, Any]] = {}
        for p in parts:
            merged.update(p)
        return [merged[h] for h in range(len(self.host_of))]
