"""Hypervisor behaviour as data: one policy record per profile.

A profile is a frozen record of named, documented constants: fixed costs, how pages go on the wire,
the pre-copy stop rule, what happens when pre-copy does not converge, transports, storage migration
and admission limits. Nothing here is a class hierarchy: the mechanisms in the other modules read
these fields. Every number carries its source; "assumed" marks a value no publication gives, chosen
to be plausible and overridable. Not modelled: per-version differences inside a product line (only
vSphere 5.1, Hyper-V 2012/2012 R2, QEMU 7.2-era defaults and Xen as in Clark et al. 2005).

Sources: docs/references.md, the QEMU 7.2 source (migration/ram.c, migration.c) as
summarised in docs/qemu-validation-data.md, Clark et al. NSDI 2005, Mashtizadeh et al. USENIX ATC 2011.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from models.errors import ParameterError, UnknownProfileError

INF = math.inf

# Remedies when pre-copy does not converge.
REMEDIES = ("none", "sdps", "auto_converge", "force")


@dataclass(frozen=True)
class Transport:
    """How a profile puts memory on the wire.

    Attributes
    ----------
    efficiency : float
        Payload share of the line rate (TCP/IPv4 over Ethernet at MTU 1500: 1460/1538 = 0.949).
    stream_cap_Bps : float
        Throughput cap of one stream in bytes/s (``inf``: none).
    multichannel : bool
        True when the transport spreads one migration over all NICs (vMotion multi-NIC, SMB
        Multichannel); False for a single TCP connection on one NIC.
    compress : bool
        Memory is compressed before sending (Hyper-V 2012 R2 compression): wire bytes divide by the
        VM's compressibility, and memory throughput is bounded by ``compress_Bps``.
    compress_Bps : float
        Memory bytes/s the idle host CPUs can compress.
    """

    efficiency: float = 1460.0 / 1538.0
    stream_cap_Bps: float = INF
    multichannel: bool = False
    compress: bool = False
    compress_Bps: float = INF


@dataclass(frozen=True)
class Limits:
    """Admission limits for concurrent migrations (cluster scenarios).

    vSphere: the vCenter cost model (docs/references.md): every limit must hold, else the migration
    queues. Hyper-V: simultaneous live and storage migrations per host. ``inf`` means no limit.
    """

    network_cost_1g: float = INF       # max cost per host network on < 10 GbE
    network_cost_10g: float = INF      # max cost per host network on >= 10 GbE
    host_cost: float = INF             # max cost per host
    datastore_cost: float = INF        # max cost per datastore
    cost_vmotion_network: float = 1.0
    cost_vmotion_host: float = 1.0
    cost_svmotion_host: float = 4.0
    cost_shared_nothing_host: float = 4.0
    cost_vmotion_datastore: float = 1.0
    cost_svmotion_datastore: float = 16.0
    max_live_migrations: float = INF   # Hyper-V simultaneous live migrations per host
    max_storage_migrations: float = INF  # Hyper-V simultaneous storage migrations per host


@dataclass(frozen=True)
class Policy:
    """One hypervisor profile. Field units are in the names; see the module docstring for sources."""

    name: str
    description: str
    # --- fixed costs
    setup_s: float                 # handshake + destination reservation
    stop_s: float                  # stop/suspend the guest before the stop-and-copy (downtime)
    resume_s: float                # resume on the destination (inside the downtime)
    trace_s_per_gib: float         # guest trace phase: seconds per GiB of memory
    trace_slowdown_pct: float      # guest slowdown while traces are being installed
    device_state_bytes: float      # default serialized device state, vCPUs aside
    vcpu_state_bytes: float        # serialized state of one vCPU (added per vCPU to the default)
    # --- wire format
    page_header_bytes: float       # per normal page
    zero_page_bytes: float         # a zero page is sent as a header only
    scan_Bps: float                # memory scanned per second when looking for zero pages
    # --- rate
    transports: Mapping[str, Transport]
    default_transport: str
    max_bandwidth_Bps: float       # migration bandwidth cap (QEMU max-bandwidth)
    cap_lifted_in_switchover: bool  # QEMU lifts max-bandwidth for the stop-and-copy
    rate_window_s: float           # rate limiter accounting window (QEMU: 100 ms)
    check_interval_s: float        # stop rule evaluated mid-pass every ... (0: only at pass ends)
    tcp_window_bytes: float        # per-stream window: rate <= window / RTT
    max_nics: float                # NICs one migration may use (links below 10 Gbit/s)
    max_nics_10g: float            # NICs one migration may use on links of 10 Gbit/s and more
    min_link_bps: float            # links slower than this are refused
    max_rtt_ms: float              # RTT above this is refused
    # --- stop rule
    downtime_limit_ms: float       # stop when pending <= rate x limit
    min_dirty_pages: float         # also stop when fewer pages than this are pending (Xen: 50)
    max_rounds: float              # pre-copy passes (round 0 included) before a forced stop
    max_traffic_factor: float      # forced stop once this x memory has been sent
    stop_if_growing_at_max_rate: bool  # Xen: a round sent more than the last one at max rate
    stop_if_rate_exceeds_max: bool  # Clark 2005 §5.3: next round's rate would exceed the maximum
    # --- non-convergence
    remedy: str                    # none | sdps | auto_converge | force
    sdps_shrink: float             # SDPS engages when pending does not drop below this x previous
    sdps_target: float             # ... and throttles vCPUs until dirty bytes / rate <= this
    ac_initial_pct: float          # QEMU cpu-throttle-initial
    ac_increment_pct: float        # QEMU cpu-throttle-increment
    ac_max_pct: float              # QEMU max-cpu-throttle
    ac_trigger_ratio: float        # QEMU throttle-trigger-threshold (dirtied > ratio x sent)
    ac_period_s: float             # QEMU evaluates the trigger once per period of syncs >= 1 s
    max_switchover_s: float        # vSphere maxSwitchoverSeconds: longer -> failed
    # --- Xen rate adaptation (Clark 2005)
    adaptive_rate: bool
    rate_initial_bps: float
    rate_increment_bps: float
    rate_max_bps: float            # the adapted rate never exceeds it; the final round goes at it
    skip_redirtied: bool           # pages dirtied in the current round before their send wait
    # --- network and storage
    refuses_cross_subnet: bool     # profile refuses a move to another L2 subnet
    mirror_max_share: float        # share of the copy path the synchronous mirror may take
    storage_max_rounds: float      # iterative dirty-block pre-copy passes (ESX 4.x)
    limits: Limits = field(default_factory=Limits)
    goal_covers_switchover: bool = False  # the downtime goal bounds the whole switch-over
    #: sender's socket send buffer: a link-bound sender runs ahead of the wire by most of it, and
    #: times end when the last byte enters it (0: not modelled; times end at the destination)
    send_buffer_bytes: float = 0.0
    #: where each constant comes from: a publication, a measurement, "assumed: ...", or "override"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: the shipped profile a custom profile (a profile file) derives from; "" for a shipped one
    base: str = ""

    @property
    def lineage(self) -> str:
        """The shipped profile whose mechanisms this one has (its own name, or its ``base``)."""
        return self.base or self.name

    def source(self, key: str) -> str:
        """Where constant ``key`` comes from (``assumed`` when the profile names no source; a
        limits field takes the source given for the profile's ``limits``)."""
        if key in self.sources:
            return self.sources[key]
        if key in Limits.__dataclass_fields__ and "limits" in self.sources:
            return self.sources["limits"]
        return "assumed"

    def transport(self, name: str) -> Transport:
        """Return the named transport (``default`` → the profile's own)."""
        key = self.default_transport if name == "default" else name
        if key not in self.transports:
            raise ParameterError("transport", name,
                                 f"for {self.name}: default, " + ", ".join(self.transports))
        return self.transports[key]


_TCP = Transport()


#: where the per-vCPU state size comes from (vSphere, Hyper-V and QEMU on x86)
VCPU_STATE_SOURCE = ("assumed: x86 vCPU registers, MSRs, the XSAVE area (2.7 KB with AVX-512) and the "
                     "local APIC, about 8 KiB")


def _profile(**fields: object) -> Policy:
    """A :class:`Policy` from fields given as ``value`` or ``(value, source)``: the sources are
    kept as data beside the values (``Policy.sources``; ``migsim profiles NAME`` prints them)."""
    values, sources = {}, {}
    for k, v in fields.items():
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str):
            values[k], sources[k] = v
        else:
            values[k] = v
    return Policy(**values, sources=MappingProxyType(sources))  # type: ignore[arg-type]

VSPHERE_51 = _profile(
    name="vsphere-5.1",
    description="VMware vSphere 5.1 vMotion: 500 ms switch-over goal, SDPS, 100 s max switch-over",
    setup_s=(1.0, "assumed: vCenter task + destination reservation"),
    stop_s=(0.0, "assumed: quiesce folded into the switch-over goal"),
    resume_s=(0.02, "assumed; Xen resume measured 9-40 ms (Clark 2005)"),
    trace_s_per_gib=(0.05, "assumed: trace install is a brief dip growing with memory"),
    trace_slowdown_pct=(10.0, "assumed"),
    device_state_bytes=(8e6, "\"usually under 8 MB\" (docs/references.md)"),
    vcpu_state_bytes=(8192.0, VCPU_STATE_SOURCE),
    page_header_bytes=(8.0, "assumed equal to QEMU's per-page header"),
    zero_page_bytes=9.0,
    scan_Bps=(26e9, "as measured for QEMU (tests/data/qemu-train.csv, zero-page runs)"),
    transports=MappingProxyType({
        "multi-nic": Transport(multichannel=True),   # vMotion streams over every vMotion NIC
        "tcp": _TCP,
    }),
    default_transport="multi-nic",
    max_bandwidth_Bps=INF,
    cap_lifted_in_switchover=False,
    rate_window_s=0.0,
    check_interval_s=0.0,
    tcp_window_bytes=(4 * 2.0**20, "assumed per-stream window"),
    max_nics=(16.0, "multi-NIC vMotion: up to 16 x 1 GbE"),
    max_nics_10g=(4.0, "... or 4 x 10 GbE"),
    min_link_bps=(1e9, "vMotion needs >= 1 Gbit/s"),
    max_rtt_ms=(10.0, "5 ms standard, 10 ms Metro vMotion (Enterprise Plus)"),
    downtime_limit_ms=(500.0, "switch-over goal"),
    goal_covers_switchover=(True, "the 500 ms switch-over goal is the guest's stun time: the "
                                  "last pages, the device state and the resume all fit in it "
                                  "(vSphere 5 vMotion architecture; docs/references.md)"),
    min_dirty_pages=0.0,
    max_rounds=INF,
    max_traffic_factor=INF,
    stop_if_growing_at_max_rate=False,
    stop_if_rate_exceeds_max=False,
    remedy="sdps",
    sdps_shrink=(0.9, "assumed: \"dirtied faster than sent\" <=> < 10 % progress"),
    sdps_target=(0.5, "assumed: throttle until dirtying is half the send rate"),
    ac_initial_pct=0.0, ac_increment_pct=0.0, ac_max_pct=0.0, ac_trigger_ratio=INF,
    ac_period_s=1.0,
    max_switchover_s=(100.0, "maxSwitchoverSeconds"),
    adaptive_rate=False, rate_initial_bps=0.0, rate_increment_bps=0.0, rate_max_bps=INF,
    skip_redirtied=False,
    refuses_cross_subnet=(True, "vMotion requires the same L2 network at the destination"),
    mirror_max_share=(0.5, "assumed"),
    storage_max_rounds=(10.0, "assumed cap for ESX 4.x iterative block copy"),
    limits=(Limits(network_cost_1g=4.0, network_cost_10g=8.0, host_cost=8.0, datastore_cost=128.0),
            "vCenter cost model: network 4 (1 GbE) / 8 (10 GbE), host 8, datastore 128; vMotion "
            "costs 1, Storage vMotion 4 per host and 16 per datastore"),
)

HYPERV_2012 = _profile(
    name="hyperv-2012",
    description="Microsoft Hyper-V 2012 / 2012 R2 Live Migration: 10 passes, then forced stop",
    setup_s=(3.0, "practitioners measure 2-3 s fixed overhead per migration"),
    stop_s=(0.0, "assumed"),
    resume_s=(0.05, "assumed"),
    trace_s_per_gib=0.0,
    trace_slowdown_pct=0.0,
    device_state_bytes=(8e6, "assumed like vSphere"),
    vcpu_state_bytes=(8192.0, VCPU_STATE_SOURCE),
    page_header_bytes=8.0,
    zero_page_bytes=9.0,
    scan_Bps=26e9,
    transports=MappingProxyType({
        "tcp": Transport(stream_cap_Bps=339e6),       # single stream, 10 GbE peak 339 MB/s
        "compression": Transport(stream_cap_Bps=339e6, compress=True,
                                 compress_Bps=1.0e9),  # assumed idle-CPU compression throughput
        "smb": Transport(efficiency=0.98, multichannel=True),  # SMB Direct/Multichannel, RDMA
    }),
    default_transport="tcp",
    max_bandwidth_Bps=INF,
    cap_lifted_in_switchover=False,
    rate_window_s=0.0,
    check_interval_s=0.0,
    tcp_window_bytes=4 * 2.0**20,
    max_nics=(16.0, "assumed: SMB Multichannel uses every NIC given"),
    max_nics_10g=16.0,
    min_link_bps=0.0,
    max_rtt_ms=INF,
    downtime_limit_ms=(500.0, "assumed: Microsoft publishes no switch-over goal"),
    min_dirty_pages=0.0,
    max_rounds=(10.0, "at most 10 passes, then the VM is paused"),
    max_traffic_factor=INF,
    stop_if_growing_at_max_rate=False,
    stop_if_rate_exceeds_max=False,
    remedy="force",
    sdps_shrink=0.0, sdps_target=0.0,
    ac_initial_pct=0.0, ac_increment_pct=0.0, ac_max_pct=0.0, ac_trigger_ratio=INF,
    ac_period_s=1.0,
    max_switchover_s=INF,
    adaptive_rate=False, rate_initial_bps=0.0, rate_increment_bps=0.0, rate_max_bps=INF,
    skip_redirtied=False,
    refuses_cross_subnet=(False, "moves, sends unsolicited ARP; connections are lost"),
    mirror_max_share=0.5,
    storage_max_rounds=10.0,
    limits=(Limits(max_live_migrations=2.0, max_storage_migrations=2.0),
            "simultaneous live migrations default 2, storage migrations default 2"),
)

QEMU = _profile(
    name="qemu",
    description="QEMU/KVM 7.2: pending < measured bandwidth x downtime-limit; max-bandwidth cap",
    setup_s=(0.001, "tests/data/qemu-train.csv: setup_time_ms 0-6, median 1"),
    stop_s=(0.0, "tests/data/qemu-train.csv: 1 MB stop-and-copies take 1-4 ms in all"),
    resume_s=(0.001, "tests/data/qemu-train.csv: downtime_ms of the bulk runs 0-4 ms"),
    trace_s_per_gib=(0.0, "dirty logging starts inside setup"),
    trace_slowdown_pct=0.0,
    device_state_bytes=(0.18e6, "measured (QEMU 7.2, migrate to a file): a q35 guest with 2 vCPUs, "
                        "std VGA, virtio-net, xHCI + tablet and a balloon sends 204 KB besides RAM, "
                        "of which 19 KB its vCPUs (docs/qemu-validation-data.md)"),
    vcpu_state_bytes=(9731.0, "measured (QEMU 7.2 x86, q35): the stream grows 68,117 bytes from 1 "
                      "to 8 vCPUs"),
    page_header_bytes=(8.0, "tests/data/qemu-train.csv: 4104 wire bytes per normal page"),
    zero_page_bytes=(9.0, "tests/data/qemu-train.csv: 9 wire bytes per zero page"),
    scan_Bps=(26e9, "tests/data/qemu-train.csv: 1 GiB of zero pages scanned in ~41 ms"),
    transports=MappingProxyType({"tcp": Transport(efficiency=1460.0 / 1538.0)}),
    default_transport="tcp",
    max_bandwidth_Bps=(128 * 2.0**20, "max-bandwidth default 128 MiB/s"),
    cap_lifted_in_switchover=(True, "QEMU lifts the cap for the stop-and-copy"),
    rate_window_s=(0.1, "BUFFER_DELAY: the cap is enforced per 100 ms window"),
    check_interval_s=(0.05, "link-bound: ram_save_iterate returns after MAX_WAIT 50 ms"),
    tcp_window_bytes=4 * 2.0**20,
    send_buffer_bytes=(4 * 2.0**20, "Linux net.ipv4.tcp_wmem maximum, default 4 MiB (as on the "
                       "harness host: tests/data/qemu-measured.csv conditions); QEMU's total-time "
                       "and downtime end when the last byte is written to the socket"),
    max_nics=(1.0, "one TCP stream (multifd is off by default)"),
    max_nics_10g=1.0,
    min_link_bps=0.0,
    max_rtt_ms=INF,
    downtime_limit_ms=(300.0, "downtime-limit default"),
    min_dirty_pages=0.0,
    max_rounds=(INF, "no round cap"),
    max_traffic_factor=INF,
    stop_if_growing_at_max_rate=False,
    stop_if_rate_exceeds_max=False,
    remedy=("none", "auto-converge off by default (input auto_converge=true)"),
    sdps_shrink=0.0, sdps_target=0.0,
    ac_initial_pct=(20.0, "cpu-throttle-initial"),
    ac_increment_pct=(10.0, "cpu-throttle-increment"),
    ac_max_pct=(99.0, "max-cpu-throttle"),
    ac_trigger_ratio=(0.5, "throttle-trigger-threshold 50 %"),
    ac_period_s=(1.0, "migration_bitmap_sync: trigger checked once a second"),
    max_switchover_s=INF,
    adaptive_rate=False, rate_initial_bps=0.0, rate_increment_bps=0.0, rate_max_bps=INF,
    skip_redirtied=False,
    refuses_cross_subnet=False,
    mirror_max_share=0.5,
    storage_max_rounds=10.0,
)

XEN_CLARK2005 = _profile(
    name="xen-clark2005",
    description="Xen research prototype of Clark et al. 2005: 30 rounds, < 50 pages, 3x memory, "
                "adaptive 100-500 Mbit/s",
    setup_s=0.0,
    stop_s=(0.017, "Clark 2005: Quake 3 stop-and-copy of 148 KB took 20 ms"),
    resume_s=(0.02, "Clark 2005: resume 9-40 ms"),
    trace_s_per_gib=(0.0, "shadow page tables enabled inside the first round"),
    trace_slowdown_pct=0.0,
    device_state_bytes=(0.2e6, "assumed: small paravirtual device state"),
    vcpu_state_bytes=(4096.0, "assumed: a PV/HVM vCPU context (registers, FPU/XSAVE) in about a page"),
    page_header_bytes=(8.0, "one 8-byte PFN entry per page in each batch"),
    zero_page_bytes=(4104.0, "assumed: Clark 2005 describes no zero-page elision"),
    scan_Bps=26e9,
    transports=MappingProxyType({"tcp": Transport()}),
    default_transport="tcp",
    max_bandwidth_Bps=INF,
    cap_lifted_in_switchover=(True, "Clark 2005 §5.3: the final round at the maximum rate"),
    rate_window_s=0.0,
    check_interval_s=0.0,
    tcp_window_bytes=4 * 2.0**20,
    max_nics=(1.0, "one TCP connection"),
    max_nics_10g=1.0,
    min_link_bps=0.0,
    max_rtt_ms=INF,
    downtime_limit_ms=(0.0, "stop rule is a page count, not a time"),
    min_dirty_pages=(50.0, "< 50 pages (4 KiB frames) dirtied in a round"),
    max_rounds=(29.0, "30 iterations: 29 pre-copy rounds + the stop-and-copy"),
    max_traffic_factor=(3.0, "3 x memory sent"),
    stop_if_growing_at_max_rate=(True, "xc_linux_save: sent more than last round at max rate"),
    stop_if_rate_exceeds_max=(True, "Clark 2005 §5.3: dirtying rate + 50 Mbit/s above the maximum"),
    remedy="force",
    sdps_shrink=0.0, sdps_target=0.0,
    ac_initial_pct=0.0, ac_increment_pct=0.0, ac_max_pct=0.0, ac_trigger_ratio=INF,
    ac_period_s=1.0,
    max_switchover_s=INF,
    adaptive_rate=True,
    rate_initial_bps=(100e6, "first round 100 Mbit/s"),
    rate_increment_bps=(50e6, "next round: last round's dirty rate + 50 Mbit/s"),
    rate_max_bps=(500e6, "capped at 500 Mbit/s; the last round at the maximum"),
    skip_redirtied=(True, "pages dirtied again within the current round are skipped"),
    refuses_cross_subnet=False,
    mirror_max_share=0.5,
    storage_max_rounds=10.0,
)

XEN = _profile(
    name="xen",
    description="Xen >= 4.6 migration stream (libxc xc_sr_save.c): no rate limit, at most 5 "
                "iterations, stop at <= 50 dirty pages, then suspend and send the rest",
    setup_s=(0.0, "assumed: the stream starts at once"),
    stop_s=(0.017, "assumed as measured for Xen by Clark 2005 (stop-and-copy of 148 KB: 20 ms)"),
    resume_s=(0.02, "assumed as measured for Xen by Clark 2005 (resume 9-40 ms)"),
    trace_s_per_gib=(0.0, "log-dirty mode is enabled inside the first iteration"),
    trace_slowdown_pct=0.0,
    device_state_bytes=(0.2e6, "assumed: small paravirtual device state"),
    vcpu_state_bytes=(4096.0, "assumed: a PV/HVM vCPU context (registers, FPU/XSAVE) in about a page"),
    page_header_bytes=(8.0, "one 8-byte PFN entry per page in each PAGE_DATA record"),
    zero_page_bytes=(4104.0, "assumed: the stream sends populated pages whole"),
    scan_Bps=26e9,
    transports=MappingProxyType({"tcp": Transport()}),
    default_transport="tcp",
    max_bandwidth_Bps=(INF, "no rate limit: pages go as fast as the stream allows"),
    cap_lifted_in_switchover=False,
    rate_window_s=0.0,
    check_interval_s=0.0,
    tcp_window_bytes=4 * 2.0**20,
    max_nics=(1.0, "one stream"),
    max_nics_10g=1.0,
    min_link_bps=0.0,
    max_rtt_ms=INF,
    downtime_limit_ms=(0.0, "stop rule is a page count, not a time"),
    min_dirty_pages=(50.0, "simple precopy policy: stop and copy at <= 50 dirty pages (4 KiB "
                           "frames)"),
    max_rounds=(5.0, "simple precopy policy: at most 5 iterations, round 0 included"),
    max_traffic_factor=INF,
    stop_if_growing_at_max_rate=False,
    stop_if_rate_exceeds_max=False,
    remedy=("force", "after the last iteration the domain is suspended and the rest sent"),
    sdps_shrink=0.0, sdps_target=0.0,
    ac_initial_pct=0.0, ac_increment_pct=0.0, ac_max_pct=0.0, ac_trigger_ratio=INF,
    ac_period_s=1.0,
    max_switchover_s=INF,
    adaptive_rate=False, rate_initial_bps=0.0, rate_increment_bps=0.0, rate_max_bps=INF,
    skip_redirtied=(False, "assumed: each iteration sends the pages of the bitmap it read"),
    refuses_cross_subnet=False,
    mirror_max_share=0.5,
    storage_max_rounds=10.0,
)

PROFILES: Mapping[str, Policy] = MappingProxyType(
    {p.name: p for p in (VSPHERE_51, HYPERV_2012, QEMU, XEN, XEN_CLARK2005)})


#: Overrides of policy fields that a model input also sets must lie in that input's domain.
_SAME_AS_INPUT = {"downtime_limit_ms": "downtime_limit", "device_state_bytes": "device_state",
                  "max_bandwidth_Bps": "max_bandwidth"}


def _check_override(key: str, value: object, current: object) -> None:
    """An override has the type of the value it replaces; numbers are finite or +inf, >= 0, and
    in the input's domain where an input sets the same quantity."""
    where = f"overrides.{key}"
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ParameterError(where, value, "true or false")
    elif isinstance(current, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or value < 0:
            raise ParameterError(where, value, f"a number >= 0 (the profile has {current:g})")
        if key in _SAME_AS_INPUT:
            from models.fields import INPUT_BY_NAME
            f = INPUT_BY_NAME[_SAME_AS_INPUT[key]]
            if not f.valid(float(value)):
                raise ParameterError(where, value, f.allowed())
    elif not isinstance(value, str):
        raise ParameterError(where, value, f"a string (the profile has {current!r})")


def get_profile(name: str, **overrides: float) -> Policy:
    """Return a profile by name, with optional field overrides.

    Parameters
    ----------
    name : str
        ``vsphere-5.1``, ``hyperv-2012``, ``qemu`` or ``xen``.
    **overrides
        Policy fields to replace (for example ``max_rounds=20``) or ``limits`` fields
        (``max_live_migrations=4``).

    Returns
    -------
    Policy
        The (possibly modified) frozen policy record.

    Raises
    ------
    UnknownProfileError
        If the name is not a shipped profile.
    ParameterError
        If an override names no policy or limits field.
    """
    if name not in PROFILES:
        raise UnknownProfileError("profile", name, "one of " + ", ".join(PROFILES))
    policy = PROFILES[name]
    if not overrides:
        return policy
    pol_fields = set(Policy.__dataclass_fields__) - {"name", "transports", "limits", "sources",
                                                     "base"}
    lim_fields = set(Limits.__dataclass_fields__)
    pol_over = {k: v for k, v in overrides.items() if k in pol_fields}
    lim_over = {k: v for k, v in overrides.items() if k in lim_fields}
    unknown = set(overrides) - set(pol_over) - set(lim_over)
    if unknown:
        k = sorted(unknown)[0]
        raise ParameterError(f"overrides.{k}", overrides[k],
                             "a policy or limits field: " + ", ".join(sorted(pol_fields | lim_fields)))
    for k, v in {**pol_over, **lim_over}.items():
        current = getattr(policy, k) if k in pol_over else getattr(policy.limits, k)
        _check_override(k, v, current)
    if "remedy" in pol_over and pol_over["remedy"] not in REMEDIES:
        raise ParameterError("overrides.remedy", pol_over["remedy"], "one of " + ", ".join(REMEDIES))
    sources = {**policy.sources, **{k: "override" for k in (*pol_over, *lim_over)}}
    if lim_over:
        pol_over["limits"] = replace(policy.limits, **lim_over)
    return replace(policy, **pol_over, sources=MappingProxyType(sources))
