"""Migration plans: evacuations (round-robin or least-loaded placement), rolling evacuations and
explicit moves, expanded into an ordered list of moves before anything runs.

An *evacuation* moves every VM off a host — the VMs it starts with and any that earlier stages of
the plan moved onto it — to destination hosts chosen by *round-robin* (cycling through the
destinations in order, continuing across stages) or *least-loaded* (the destination with the least
VM memory placed on it so far; ties: fewest VMs, then list order). Several hosts are evacuated
either at once or *rolling*: one after the other, each host's evacuation requested when the
previous one is over (plus an optional maintenance gap), as in a rolling upgrade; by default the
hosts still to be evacuated are not used as destinations. *Explicit moves* name a VM (or a group
of VMs), a destination host and/or a destination datastore, and a start time. A VM moved twice
moves the second time only after its first move ended (and only if it completed).

The kind of each move follows from the topology: the disk stays when the VM's datastore is mounted
on the destination (a *live* migration of memory only); otherwise — or when the VM has local storage
(``storage = "shared-nothing"``) or the move names another datastore — the disk moves too
(*shared-nothing*); a move that changes only the datastore is a *storage* migration (Storage
vMotion, Hyper-V storage migration). Placement is static and deterministic: it looks at VM memory
as planned, not at the live state of the simulation. Left out: DRS affinity rules, CPU contention
(vCPUs are a placement limit only), memory reservations beyond the configured overcommit ratio.

*Capacity.* A host may declare its memory (and vCPU) capacity and a load it already carries besides
the scenario's VMs. Placement then never puts a VM where the memory placed would exceed
``memory_overcommit x capacity`` (or the vCPUs ``vcpu_ratio x cpus``): least-loaded and round-robin
skip destinations without room; when no destination has room — or an explicit move names a full host
— the move is *refused*, with the reason in its row (``rejected``), and the VM stays.

*Maintenance.* ``maintenance_s`` set makes the evacuation a whole-cluster maintenance plan: one unit
at a time (a host, or a rack: all its hosts at once), evacuate, hold ``maintenance_s`` (patching),
then ``after``: ``return`` (the VMs that left go back), ``rebalance`` (the most loaded hosts give VMs
to the patched unit until it reaches the mean load) or ``stay``; then the next unit. Each unit is two
stages (evacuate, then return/rebalance opening ``maintenance_s`` after the first ends), so the
engine reports each unit's interval.

Sources: docs/design.md §4 (evacuate host H, rebalance, explicit lists); vSphere 5.1 maintenance mode
and "change both host and datastore"; Hyper-V Shared Nothing Live Migration (docs/references.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from models.errors import ParameterError

PLACEMENTS = ("round-robin", "least-loaded")
#: What a maintenance plan does with a unit's VMs after its maintenance.
AFTER = ("return", "rebalance", "stay")
#: Maintenance units.
UNITS = ("host", "rack")


@dataclass(frozen=True)
class Host:
    """A host of a scenario.

    Attributes
    ----------
    name : str
    link_bps : float
        Line rate of each migration NIC, bit/s.
    nics : int
        Migration NICs (their capacities add up).
    subnet : str
        L2 network of the host's VM port groups (any label); moves across subnets lose connections
        or are refused, per profile.
    datastores : tuple of str
        Datastores mounted (a datastore listed by several hosts is shared storage).
    rack : str
        Rack (``models.topology.Rack``) the host sits in ("": none, no uplink crossed).
    memory_capacity_bytes : float
        Memory for VMs, bytes (``inf``: placement does not check).
    cpus : float
        Physical cores for vCPUs (``inf``: not checked).
    memory_used_bytes : float
        Memory already used by VMs outside the scenario, bytes.
    background_bps : float
        Background VM traffic on the host's NICs, each direction, bit/s.
    """

    name: str
    link_bps: float
    nics: int
    subnet: str
    datastores: tuple[str, ...] = ()
    rack: str = ""
    memory_capacity_bytes: float = math.inf
    cpus: float = math.inf
    memory_used_bytes: float = 0.0
    background_bps: float = 0.0


@dataclass(frozen=True)
class VM:
    """A VM of a scenario.

    Attributes
    ----------
    name : str
    group : str
        The ``[[vms]]`` entry it comes from.
    host : str
        Where it runs at the start.
    datastore : str or None
        Where its disk is (``None``: no datastore declared — shared storage everywhere).
    local_disk : bool
        Its disk moves with every host move (``storage = "shared-nothing"``).
    storage_method : str
        How storage moves without a host move: ``mirror`` (ESX 5.x, Hyper-V) or ``iterative``.
    inputs : tuple of (column, value)
        Model inputs (``models.fields`` columns, column units; choices by name).
    """

    name: str
    group: str
    host: str
    datastore: str | None
    local_disk: bool
    storage_method: str
    inputs: tuple[tuple[str, object], ...]

    def input(self, column: str, default: object = None) -> object:
        """One input value (``default`` when not set)."""
        for k, v in self.inputs:
            if k == column:
                return v
        return default


@dataclass(frozen=True)
class Move:
    """One planned migration.

    Attributes
    ----------
    vm : str
    source, destination : str
        Hosts (equal for a storage migration).
    source_datastore, destination_datastore : str or None
    kind : str
        ``live``, ``shared-nothing`` or ``storage``.
    start_s : float
        Earliest request time, s.
    stage : int
        Evacuation stage (0, 1, ...) or -1 for an explicit move.
    after_stage : int
        Stage that must be over before this move is requested (-1: none).
    gap_s : float
        Pause after ``after_stage`` ends, s.
    refused : str
        Placement refused the move ("" when placed): why (no destination with room). The VM stays
        (``destination == source``).
    """

    vm: str
    source: str
    destination: str
    source_datastore: str | None
    destination_datastore: str | None
    kind: str
    start_s: float = 0.0
    stage: int = -1
    after_stage: int = -1
    gap_s: float = 0.0
    refused: str = ""


@dataclass(frozen=True)
class Stage:
    """One host's evacuation.

    Attributes
    ----------
    host : str
        The host evacuated.
    after : int
        Stage that must be over before this one opens (-1: none; rolling evacuations chain).
    gap_s : float
        Pause after ``after`` ends, s.
    start_s : float
        Earliest time the stage opens, s.
    role : str
        ``evacuate``, or (maintenance) ``return`` / ``rebalance`` / ``stay`` after the hold.
    hosts : tuple of str
        Every host of the unit (a rack: several; default: ``host`` alone).
    """

    host: str
    after: int = -1
    gap_s: float = 0.0
    start_s: float = 0.0
    role: str = "evacuate"
    hosts: tuple[str, ...] = ()

    def members(self) -> tuple[str, ...]:
        """The hosts of the stage's unit."""
        return self.hosts or (self.host,)


@dataclass(frozen=True)
class MoveSpec:
    """An explicit move as written in a plan.

    Attributes
    ----------
    vm : str
        A VM name or a group name (all its VMs, in order).
    to : str or None
        Destination host (``None``: the VM stays; ``datastore`` must change).
    datastore : str or None
        Destination datastore (``None``: keep it if the destination mounts it).
    start_s : float
        Earliest request time, s.
    """

    vm: str
    to: str | None = None
    datastore: str | None = None
    start_s: float = 0.0


@dataclass(frozen=True)
class PlanSpec:
    """A plan as written: evacuations and explicit moves.

    Attributes
    ----------
    evacuate : tuple of str
        Hosts to evacuate, in order.
    to : tuple of str or None
        Destinations (default: every host not (yet) evacuated).
    placement : str
        ``round-robin`` or ``least-loaded``.
    rolling : bool
        Evacuate one host after the other (else all at once).
    gap_s : float
        Rolling: pause between one host's evacuation and the next, s.
    start_s : float
        When the (first) evacuation is requested, s.
    moves : tuple of MoveSpec
        Explicit moves, planned after the evacuations.
    memory_overcommit : float
        Most memory placed on a host with a capacity, as a multiple of its capacity.
    vcpu_ratio : float
        Most vCPUs placed per physical core of a host with ``cpus`` (``inf``: not checked).
    maintenance_s : float or None
        Maintenance plan (see the module docstring): the hold per unit, s (``None``: a plain
        evacuation).
    after : str
        Maintenance: ``return``, ``rebalance`` or ``stay``.
    unit : str
        Maintenance: ``host`` or ``rack`` at a time.
    """

    evacuate: tuple[str, ...] = ()
    to: tuple[str, ...] | None = None
    placement: str = "round-robin"
    rolling: bool = True
    gap_s: float = 0.0
    start_s: float = 0.0
    moves: tuple[MoveSpec, ...] = ()
    memory_overcommit: float = 1.0
    vcpu_ratio: float = math.inf
    maintenance_s: float | None = None
    after: str = "return"
    unit: str = "host"


def _kind(host_changes: bool, disk_moves: bool) -> str:
    if host_changes:
        return "shared-nothing" if disk_moves else "live"
    return "storage"


def expand(hosts: Sequence[Host], vms: Sequence[VM], plan: PlanSpec,
           default_memory: float = 4 * 2.0**30) -> tuple[tuple[Move, ...], tuple[Stage, ...]]:
    """Expand a plan into its moves, in plan order (evacuations first, then explicit moves).

    Parameters
    ----------
    hosts, vms : sequences
        The scenario's hosts and VMs (names unique; VM hosts and datastores valid).
    plan : PlanSpec
    default_memory : float
        VM memory when a VM does not set ``memory_bytes`` (least-loaded placement), bytes.

    Returns
    -------
    (tuple of Move, tuple of Stage)
        The moves, and one stage per evacuated host (moves carry their stage index).

    Raises
    ------
    ParameterError
        Naming the plan field (``plan.evacuate``, ``plan.moves[2].to``...), the value and what is
        allowed.
    """
    by_host = {h.name: h for h in hosts}
    host_index = {h.name: i for i, h in enumerate(hosts)}
    vm_by_name = {v.name: v for v in vms}
    groups: dict[str, list[str]] = {}
    for v in vms:
        groups.setdefault(v.group, []).append(v.name)
    host_list = ", ".join(by_host) or "(none)"
    if plan.placement not in PLACEMENTS:
        raise ParameterError("plan.placement", plan.placement, "one of " + ", ".join(PLACEMENTS))
    if not (math.isfinite(plan.gap_s) and plan.gap_s >= 0):
        raise ParameterError("plan.gap_s", plan.gap_s, "a duration >= 0 s")
    if not (math.isfinite(plan.start_s) and plan.start_s >= 0):
        raise ParameterError("plan.start_s", plan.start_s, "a time >= 0 s")

    if plan.after not in AFTER:
        raise ParameterError("plan.after", plan.after, "one of " + ", ".join(AFTER))
    if plan.unit not in UNITS:
        raise ParameterError("plan.unit", plan.unit, "one of " + ", ".join(UNITS))
    if plan.maintenance_s is not None and not (math.isfinite(plan.maintenance_s)
                                               and plan.maintenance_s >= 0):
        raise ParameterError("plan.maintenance_s", plan.maintenance_s, "a duration >= 0 s")
    if not (plan.memory_overcommit > 0 and not math.isnan(plan.memory_overcommit)):
        raise ParameterError("plan.memory_overcommit", plan.memory_overcommit, "a ratio > 0")
    if not (plan.vcpu_ratio > 0 and not math.isnan(plan.vcpu_ratio)):
        raise ParameterError("plan.vcpu_ratio", plan.vcpu_ratio, "a ratio > 0 (inf: no check)")

    # static state: where each VM is, and what each host holds
    loc = {v.name: v.host for v in vms}
    dstore = {v.name: v.datastore for v in vms}
    on_host: dict[str, list[str]] = {h.name: [] for h in hosts}
    for v in vms:
        on_host[v.host].append(v.name)
    memory = {v.name: float(v.input("memory_bytes", default_memory) or default_memory) for v in vms}
    vcpus = {v.name: float(v.input("vcpus", 2.0) or 2.0) for v in vms}
    load = {h.name: 0.0 for h in hosts}
    vload = {h.name: 0.0 for h in hosts}
    count = {h.name: 0 for h in hosts}
    for h in hosts:
        if h.memory_used_bytes:
            load[h.name] += h.memory_used_bytes
    for v in vms:
        load[v.host] += memory[v.name]
        vload[v.host] += vcpus[v.name]
        count[v.host] += 1
    mem_room = {h.name: plan.memory_overcommit * h.memory_capacity_bytes for h in hosts}
    cpu_room = {h.name: plan.vcpu_ratio * h.cpus for h in hosts}
    checks = any(math.isfinite(x) for x in mem_room.values()) or \
        any(math.isfinite(x) for x in cpu_room.values())

    def fits(vm: str, dest: str) -> bool:
        return (load[dest] + memory[vm] <= mem_room[dest]
                and vload[dest] + vcpus[vm] <= cpu_room[dest])

    def no_room(vm: str, dests: Sequence[str]) -> str:
        free = max((mem_room[d] - load[d] for d in dests), default=0.0)
        cfree = max((cpu_room[d] - vload[d] for d in dests), default=0.0)
        return (f"no destination has room for {vm} ({memory[vm] / 2**30:.3g} GiB, "
                f"{vcpus[vm]:g} vCPUs): most free memory {max(free, 0.0) / 2**30:.3g} GiB at memory "
                f"overcommit {plan.memory_overcommit:g}"
                + (f", most free vCPUs {max(cfree, 0.0):g}" if math.isfinite(cfree) else ""))

    moves: list[Move] = []

    def refuse(vm: str, why: str, start_s: float, stage: int, after: int, gap: float) -> None:
        src = loc[vm]
        moves.append(Move(vm=vm, source=src, destination=src, source_datastore=dstore[vm],
                          destination_datastore=dstore[vm], kind="live", start_s=start_s,
                          stage=stage, after_stage=after, gap_s=gap, refused=why))

    def place(vm: str, dest: str, ds: str | None, start_s: float, stage: int, after: int,
              gap: float) -> None:
        v = vm_by_name[vm]
        src = loc[vm]
        src_ds = dstore[vm]
        dh = by_host[dest]
        if ds is None:
            visible = src_ds is None or not dh.datastores or src_ds in dh.datastores
            if src != dest and (v.local_disk or not visible):
                ds = dh.datastores[0] if dh.datastores else None
                disk_moves = True
            else:
                ds = src_ds
                disk_moves = False
        else:
            disk_moves = ds != src_ds or (v.local_disk and src != dest)
        moves.append(Move(vm=vm, source=src, destination=dest, source_datastore=src_ds,
                          destination_datastore=ds, kind=_kind(src != dest, disk_moves),
                          start_s=start_s, stage=stage, after_stage=after, gap_s=gap))
        if src != dest:
            on_host[src].remove(vm)
            on_host[dest].append(vm)
            load[src] -= memory[vm]
            load[dest] += memory[vm]
            vload[src] -= vcpus[vm]
            vload[dest] += vcpus[vm]
            count[src] -= 1
            count[dest] += 1
        loc[vm] = dest
        dstore[vm] = ds

    rr = 0

    def evacuate(unit: Sequence[str], dests: list[str], stage: int, after: int, gap: float
                 ) -> list[tuple[str, str]]:
        """Move every VM off the unit's hosts; return (vm, its host) of the VMs that left."""
        nonlocal rr
        left: list[tuple[str, str]] = []
        for h in unit:
            for vm in list(on_host[h]):
                if plan.placement == "round-robin":
                    dest = None
                    for k in range(len(dests)):
                        cand = dests[(rr + k) % len(dests)]
                        if not checks or fits(vm, cand):
                            dest = cand
                            rr += k + 1
                            break
                else:
                    ok = [d for d in dests if not checks or fits(vm, d)]
                    dest = min(ok, key=lambda d: (load[d], count[d], host_index[d])) if ok else None
                if dest is None:
                    refuse(vm, no_room(vm, dests), plan.start_s, stage, after, gap)
                else:
                    place(vm, dest, None, plan.start_s, stage, after, gap)
                    left.append((vm, h))
        return left

    # ---------------------------------------------------------------- evacuations
    evac = tuple(plan.evacuate)
    for i, h in enumerate(evac):
        if h not in by_host:
            raise ParameterError(f"plan.evacuate[{i}]" if len(evac) > 1 else "plan.evacuate", h,
                                 f"a host of the scenario: {host_list}")
        if evac.index(h) != i:
            raise ParameterError(f"plan.evacuate[{i}]", h, "each host once")
    if plan.to is not None:
        if not plan.to:
            raise ParameterError("plan.to", [], "one or more destination hosts")
        for i, h in enumerate(plan.to):
            if h not in by_host:
                raise ParameterError(f"plan.to[{i}]", h, f"a host of the scenario: {host_list}")
    stages: list[Stage] = []
    if plan.maintenance_s is None:
        for k, h in enumerate(evac):
            if plan.to is not None:
                dests = [d for d in plan.to if d != h]
            else:
                excluded = set(evac[k:]) if plan.rolling else set(evac)
                dests = [d.name for d in hosts if d.name not in excluded]
            if not dests:
                raise ParameterError("plan.to" if plan.to is not None else "plan.evacuate", h,
                                     f"at least one destination host other than {h} (the plan "
                                     f"leaves none)")
            after = k - 1 if plan.rolling else -1
            stages.append(Stage(h, after, plan.gap_s if plan.rolling and k > 0 else 0.0,
                                plan.start_s))
            evacuate([h], dests, k, after, stages[k].gap_s)
    else:
        units: list[list[str]] = []
        if plan.unit == "rack":
            by_rack: dict[str, list[str]] = {}
            for h in evac:
                r = by_host[h].rack
                if not r:
                    units.append([h])
                elif r in by_rack:
                    by_rack[r].append(h)
                else:
                    by_rack[r] = [h]
                    units.append(by_rack[r])
        else:
            units = [[h] for h in evac]
        for u, unit in enumerate(units):
            label = by_host[unit[0]].rack if plan.unit == "rack" and by_host[unit[0]].rack \
                else unit[0]
            later = {x for w in units[u + 1:] for x in w} if plan.after == "stay" else set()
            pool = plan.to if plan.to is not None else [d.name for d in hosts]
            dests = [d for d in pool if d not in unit and d not in later]
            if not dests:
                raise ParameterError("plan.to" if plan.to is not None else "plan.evacuate", label,
                                     f"at least one destination host outside {label} (the plan "
                                     f"leaves none)")
            se = len(stages)
            after = se - 1 if se else -1             # one unit after the other
            gap = plan.gap_s if u else 0.0
            stages.append(Stage(label, after, gap, plan.start_s, "evacuate", tuple(unit)))
            left = evacuate(unit, dests, se, after, gap)
            sr = len(stages)
            stages.append(Stage(label, se, plan.maintenance_s, plan.start_s, plan.after,
                                tuple(unit)))
            if plan.after == "return":
                for vm, h in left:
                    place(vm, h, None, plan.start_s, sr, se, plan.maintenance_s)
            elif plan.after == "rebalance":
                members = list(unit) + dests
                mean = sum(load[m] for m in members) / len(members)
                for h in unit:
                    while True:
                        donors = [d for d in dests if on_host[d]]
                        if not donors:
                            break
                        donor = max(donors, key=lambda d: (load[d], count[d], -host_index[d]))
                        vm = on_host[donor][-1]
                        if load[h] + memory[vm] > mean or (checks and not fits(vm, h)):
                            break
                        place(vm, h, None, plan.start_s, sr, se, plan.maintenance_s)

    # ---------------------------------------------------------------- explicit moves
    for i, ms in enumerate(plan.moves):
        path = f"plan.moves[{i}]"
        if ms.vm in vm_by_name:
            names = [ms.vm]
        elif ms.vm in groups:
            names = groups[ms.vm]
        else:
            shown = ", ".join(list(vm_by_name)[:8]) + (", ..." if len(vm_by_name) > 8 else "")
            raise ParameterError(f"{path}.vm", ms.vm, f"a VM or group name of the scenario ({shown})")
        if ms.to is not None and ms.to not in by_host:
            raise ParameterError(f"{path}.to", ms.to, f"a host of the scenario: {host_list}")
        if not (math.isfinite(ms.start_s) and ms.start_s >= 0):
            raise ParameterError(f"{path}.start_s", ms.start_s, "a time >= 0 s")
        for vm in names:
            dest = ms.to if ms.to is not None else loc[vm]
            dh = by_host[dest]
            if ms.datastore is not None and dh.datastores and ms.datastore not in dh.datastores:
                raise ParameterError(f"{path}.datastore", ms.datastore,
                                     f"a datastore of host {dest}: " + ", ".join(dh.datastores))
            if dest == loc[vm] and (ms.datastore is None or ms.datastore == dstore[vm]):
                raise ParameterError(f"{path}.to" if ms.to is not None else f"{path}.datastore",
                                     ms.to if ms.to is not None else ms.datastore,
                                     f"a move: {vm} is already on {dest}"
                                     + (f" and {dstore[vm]}" if dstore[vm] else "")
                                     + " (name another host, or another datastore)")
            if checks and dest != loc[vm] and not fits(vm, dest):
                refuse(vm, f"{dest} has no room for {vm} ({memory[vm] / 2**30:.3g} GiB, "
                           f"{vcpus[vm]:g} vCPUs): {max(mem_room[dest] - load[dest], 0.0) / 2**30:.3g}"
                           f" GiB free at memory overcommit {plan.memory_overcommit:g}",
                       ms.start_s, -1, -1, 0.0)
                continue
            place(vm, dest, ms.datastore, ms.start_s, -1, -1, 0.0)
    return tuple(moves), tuple(stages)
