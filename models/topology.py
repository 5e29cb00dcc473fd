"""Network and storage topology of a scenario: the links every migration stream crosses.

Links, in index order (the engine's capacity vector):

- ``2h`` / ``2h + 1``: host ``h``'s migration NICs, egress / ingress (full duplex; ``nics x link``),
  exactly as without topology;
- per rack ``r``: its top-of-rack uplink, up (rack -> spine) and down (spine -> rack);
- the spine / core of each site, one link that every inter-rack stream of the site crosses;
- per WAN link between two sites, one link per direction (its RTT adds to the moves across it);
- per datastore with a declared throughput, one link (reads and writes of the array share it).

A memory stream from host ``a`` to host ``b`` crosses ``egress(a)``, then — when ``a`` and ``b`` are
in different racks — ``up(rack a)``, the spine of the site (same site) or the WAN link (sites
differ), ``down(rack b)``, and finally ``ingress(b)``. A disk copy (shared-nothing storage phase)
crosses the same network links plus the source and destination datastores; a Storage vMotion
(datastore change on one host) crosses the two datastores only. A scenario without racks, WAN and
datastore throughput has only the host NIC links and two-link paths, the engine's arrays are then
exactly what they were before topology existed, and it gives the same rows bit for bit.

Background traffic: per host NIC (``Host.background_bps``, both directions) and per link
(``Link.background_Bps``), VM traffic of a constant rate that the migration streams share with.
Without Network I/O Control it is one more flow of the max-min allocation, capped at its rate (so
it takes ``min(rate, fair share)``); with NIOC (:class:`Nioc`) on the host NICs, the vMotion
traffic class and the VM traffic class split a saturated NIC in the ratio of their shares, each
class taking what the other leaves: the migration class gets ``C - min(background, C * s_vm /
(s_vm + s_mig))``, further capped by the class limit. (Hyper-V 2012's equivalent is the QoS
minimum-bandwidth *weight* of the live-migration traffic class, ``New-NetQosPolicy -LiveMigration
-MinBandwidthWeightAction``, against the default flow weight of the VM switch: the same
proportional split under contention, and ``-MaximumBandwidth`` for a cap.)

Sources: VMware, *vSphere Networking* 5.1 / 6.0, "Network I/O Control": shares 1-100 give "the
relative priority of a system traffic type against the other system traffic types that are active
on the same physical adapter", applied only when the adapter is saturated; limit = the most a
traffic type may use on one adapter; the predefined share levels Low 25, Normal 50, High 100, with
vMotion at Normal (50) and virtual machine traffic at High (100) by default (vSphere 5.x NIOC v2
defaults). Microsoft, Windows Server 2012 "QoS Minimum Bandwidth" (weights 1-100, proportional under
congestion; ``Set-VMSwitch -DefaultFlowMinimumBandwidthWeight``). Max-min fairness: Bertsekas &
Gallager, *Data Networks* §6.5.2. Left out: ECMP (the spine is one aggregate link), per-NIC teaming
policies, NIOC reservations (NIOC v3), TCP dynamics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import ParameterError

#: vSphere 5.x NIOC predefined share levels (vSphere Networking guide).
NIOC_LEVELS = {"low": 25.0, "normal": 50.0, "high": 100.0}
#: Default NIOC shares: vMotion traffic Normal, virtual machine traffic High (vSphere 5.x NIOC v2).
NIOC_DEFAULT_MIGRATION_SHARES = 50.0
NIOC_DEFAULT_VM_SHARES = 100.0

#: Most links a stream's path has (egress, up, spine or WAN, down, ingress, two datastores).
MAX_PATH = 7


@dataclass(frozen=True)
class Nioc:
    """Network I/O Control (vSphere) / QoS minimum-bandwidth weights (Hyper-V) on the host NICs.

    Attributes
    ----------
    migration_shares : float
        Shares (weight) of the migration traffic class, 1-100.
    vm_shares : float
        Shares of the VM traffic class (the background traffic), 1-100.
    migration_limit_bps : float
        Most the migration class may use on one host's NICs, bit/s (``inf``: no limit).
    """

    migration_shares: float = NIOC_DEFAULT_MIGRATION_SHARES
    vm_shares: float = NIOC_DEFAULT_VM_SHARES
    migration_limit_bps: float = math.inf

    def migration_capacity(self, capacity_Bps: np.ndarray, background_Bps: np.ndarray) -> np.ndarray:
        """What the migration class may use of NICs carrying some background traffic, bytes/s.

        The VM class keeps ``min(background, C * s_vm / (s_vm + s_mig))`` (its guaranteed share,
        or less when it wants less); migrations get the rest, within the class limit.
        """
        share_vm = self.vm_shares / (self.vm_shares + self.migration_shares)
        kept = np.minimum(background_Bps, capacity_Bps * share_vm)
        return np.minimum(np.maximum(capacity_Bps - kept, 0.0), self.migration_limit_bps / 8.0)


@dataclass(frozen=True)
class Rack:
    """A rack (or any group of hosts behind one uplink).

    Attributes
    ----------
    name : str
    uplink_bps : float
        Top-of-rack uplink capacity, each direction, bit/s (``inf``: not a bottleneck).
    site : str
        Site (data centre) of the rack.
    background_bps : float
        Background traffic on the uplink, each direction, bit/s.
    """

    name: str
    uplink_bps: float = math.inf
    site: str = "default"
    background_bps: float = 0.0


@dataclass(frozen=True)
class Wan:
    """A WAN link between two sites (one capacity per direction).

    Attributes
    ----------
    sites : (str, str)
    link_bps : float
        Capacity each direction, bit/s.
    rtt_s : float
        Round trip added to the moves that cross it, s.
    background_bps : float
        Background traffic each direction, bit/s.
    """

    sites: tuple[str, str]
    link_bps: float
    rtt_s: float = 0.0
    background_bps: float = 0.0


@dataclass(frozen=True)
class Network:
    """The topology beyond the host NICs (all optional; the default is the flat network).

    Attributes
    ----------
    racks : tuple of Rack
        Racks that hosts name (``Host.rack``); a host without a rack is behind no uplink.
    spine_bps : dict-like tuple of (site, bit/s)
        Spine/core capacity of each site that has one.
    wan : tuple of Wan
    datastore_Bps : tuple of (datastore, bytes/s)
        Throughput of datastores whose bytes are shared (storage copies and disk copies).
    nioc : Nioc or None
        NIOC on the host NICs (with background traffic).
    """

    racks: tuple[Rack, ...] = ()
    spine_bps: tuple[tuple[str, float], ...] = ()
    wan: tuple[Wan, ...] = ()
    datastore_Bps: tuple[tuple[str, float], ...] = ()
    nioc: Nioc | None = None

    @property
    def flat(self) -> bool:
        """No racks, spine, WAN or datastore throughput: streams cross their two NICs only."""
        return not (self.racks or self.spine_bps or self.wan or self.datastore_Bps)


@dataclass(frozen=True)
class Links:
    """The link vector of a scenario and every move's paths.

    Attributes
    ----------
    names : list of str
        ``egress:h``, ``ingress:h``, ``up:rack``, ``down:rack``, ``spine:site``, ``wan:a>b``,
        ``datastore:ds``.
    capacity_Bps : ndarray
        Capacity of each link for migration traffic (after NIOC), line bytes/s.
    background_Bps : ndarray
        Background traffic on each link (0 where NIOC already took it off the capacity), bytes/s.
    net : ndarray of int, shape (M, K)
        Links of each move's memory stream (``-1`` pads).
    disk : ndarray of int, shape (M, K)
        Links of each move's disk copy (network path plus datastores; ``-1`` pads).
    storage_only_shared : ndarray of bool, shape (M,)
        Storage migrations whose datastores have a throughput (their copy becomes a stream).
    rtt_s : ndarray, shape (M,)
        WAN round trip each move adds, s.
    """

    names: list[str]
    capacity_Bps: np.ndarray
    background_Bps: np.ndarray
    net: np.ndarray
    disk: np.ndarray
    storage_only_shared: np.ndarray
    rtt_s: np.ndarray


def build(hosts: Sequence, moves: Sequence, network: Network | None) -> Links:
    """The links of a scenario and the paths of its moves.

    Parameters
    ----------
    hosts : sequence of models.placement.Host
    moves : sequence of models.placement.Move
    network : Network or None

    Returns
    -------
    Links

    Raises
    ------
    ParameterError
        A host names a rack the network does not declare.
    """
    net = network or Network()
    H = len(hosts)
    host_idx = {h.name: i for i, h in enumerate(hosts)}
    names: list[str] = []
    cap: list[float] = []
    bg: list[float] = []
    for h in hosts:
        c = h.nics * h.link_bps / 8.0
        names += [f"egress:{h.name}", f"ingress:{h.name}"]
        cap += [c, c]
        b = getattr(h, "background_bps", 0.0) / 8.0
        bg += [b, b]
    cap_a = np.array(cap, dtype=np.float64)
    bg_a = np.array(bg, dtype=np.float64)
    if net.nioc is not None and H:
        has = bg_a > 0
        cap_a = np.where(has, net.nioc.migration_capacity(cap_a, bg_a), cap_a)
        if math.isfinite(net.nioc.migration_limit_bps):
            cap_a = np.minimum(cap_a, net.nioc.migration_limit_bps / 8.0)
        bg_a = np.zeros_like(bg_a)
    cap, bg = cap_a.tolist(), bg_a.tolist()
    rack_idx: dict[str, int] = {}
    rack_site: dict[str, str] = {}
    for r in net.racks:
        rack_idx[r.name] = len(names)
        rack_site[r.name] = r.site
        names += [f"up:{r.name}", f"down:{r.name}"]
        cap += [r.uplink_bps / 8.0] * 2
        bg += [r.background_bps / 8.0] * 2
    spine_idx: dict[str, int] = {}
    for site, bps in net.spine_bps:
        spine_idx[site] = len(names)
        names.append(f"spine:{site}")
        cap.append(bps / 8.0)
        bg.append(0.0)
    wan_idx: dict[tuple[str, str], tuple[int, float]] = {}
    for w in net.wan:
        a, b = w.sites
        wan_idx[(a, b)] = (len(names), w.rtt_s)
        names.append(f"wan:{a}>{b}")
        wan_idx[(b, a)] = (len(names), w.rtt_s)
        names.append(f"wan:{b}>{a}")
        cap += [w.link_bps / 8.0] * 2
        bg += [w.background_bps / 8.0] * 2
    ds_idx: dict[str, int] = {}
    for ds, Bps in net.datastore_Bps:
        ds_idx[ds] = len(names)
        names.append(f"datastore:{ds}")
        cap.append(Bps)
        bg.append(0.0)
    host_rack: list[str | None] = []
    for h in hosts:
        r = getattr(h, "rack", "") or None
        if r is not None and r not in rack_idx:
            raise ParameterError(f"hosts.{h.name}.rack", r, "a rack of the network: "
                                 + (", ".join(rack_idx) or "(none declared)"))
        host_rack.append(r)
    M = len(moves)
    K = 2 if net.flat else MAX_PATH
    pnet = np.full((M, K), -1, dtype=np.int64)
    pdisk = np.full((M, K), -1, dtype=np.int64)
    so_shared = np.zeros(M, dtype=bool)
    rtt = np.zeros(M)
    for i, m in enumerate(moves):
        s, d = host_idx[m.source], host_idx[m.destination]
        path = [2 * s]
        rs, rd = host_rack[s], host_rack[d]
        if rs is not None and rd is not None and rs != rd:
            path.append(rack_idx[rs])
            ss, sd = rack_site[rs], rack_site[rd]
            if ss == sd:
                if ss in spine_idx:
                    path.append(spine_idx[ss])
            elif (ss, sd) in wan_idx:
                li, r_s = wan_idx[(ss, sd)]
                path.append(li)
                rtt[i] = r_s
            else:
                raise ParameterError("network.wan", f"{m.vm}: {m.source} -> {m.destination}",
                                     f"a [[network.wan]] link between sites {ss} and {sd} (the "
                                     f"plan moves a VM between them)")
            path.append(rack_idx[rd] + 1)
        path.append(2 * d + 1)
        dss = [ds_idx[x] for x in dict.fromkeys([m.source_datastore, m.destination_datastore])
               if x is not None and x in ds_idx and m.source_datastore != m.destination_datastore]
        if m.kind == "storage":
            so_shared[i] = bool(dss)
            disk = dss
        else:
            disk = path + dss
        pnet[i, :len(path)] = path
        pdisk[i, :len(disk)] = disk
    return Links(names, np.array(cap, dtype=np.float64), np.array(bg, dtype=np.float64), pnet,
                 pdisk, so_shared, rtt)
