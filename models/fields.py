"""The canonical parameters and results of one migration: names, units, kinds, domains.

This is the one place where an input's canonical name (``memory``), its column name with unit
(``memory_bytes``), its kind (how a human string is parsed), its domain and its global default are
defined; the CLI flags, the sweep-spec fields, the model's batch arrays and the Parquet schema are
all derived from here. A default of ``None`` means "the profile decides" (see ``models.policy``).
Pure data; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from models import units
from models.errors import ParameterError


@dataclass(frozen=True)
class Field:
    """One model input.

    Attributes
    ----------
    name : str
        Canonical name, used in specs and as ``--name`` on the CLI (``_`` ↔ ``-``).
    column : str
        Result column name, carrying the SI unit (``memory_bytes``).
    kind : str
        ``size`` (bytes), ``rate`` (bytes/s), ``link`` (bit/s), ``duration`` (stored in the unit of
        the column: ``_s`` or ``_ms``), ``count``, ``fraction``, ``ratio``, ``choice``, ``bool``.
    default : Any
        Default in column units, or ``None`` when the profile supplies it.
    lo, hi : float
        Allowed closed range (in column units) for numeric kinds.
    lo_open : bool
        True when ``lo`` itself is not allowed (strictly positive quantities).
    choices : tuple of str
        Allowed values for ``choice`` fields.
    help : str
        One line for the CLI and the docs.
    """

    name: str
    column: str
    kind: str
    default: Any
    help: str
    lo: float = 0.0
    hi: float = math.inf
    lo_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def dtype(self) -> Any:
        """NumPy dtype of the column."""
        if self.kind == "choice":
            return np.dtype(object)
        if self.kind == "bool":
            return np.dtype(bool)
        return np.dtype(np.float64)

    def allowed(self) -> str:
        """Human description of the domain, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        lo = f"> {self.lo:g}" if self.lo_open else f">= {self.lo:g}"
        if self.kind == "count":
            lo = "a whole number " + lo
        hi = "" if math.isinf(self.hi) else f" and <= {self.hi:g}"
        unit = {"size": " bytes (e.g. 16GiB)", "rate": " bytes/s (e.g. 200MB/s, 7000pages/s)",
                "link": " bit/s (e.g. 10GbE, 25Gbps)"}.get(self.kind, "")
        if self.kind == "duration":
            unit = " ms (e.g. 300ms)" if self.column.endswith("_ms") else " s (e.g. 5s)"
        return f"{lo}{hi}{unit}"

    def parse(self, value: Any, page_size: float = 4096.0) -> Any:
        """Convert a human value (``"16GiB"``, ``"300ms"``, ``true``) to column units and check it.

        Parameters
        ----------
        value : Any
            What the user wrote.
        page_size : float
            Bytes per page, for rates given in pages/s.

        Returns
        -------
        Any
            The value in column units.

        Raises
        ------
        ParameterError
            If the value cannot be parsed or lies outside the domain.
        """
        k = self.kind
        if k == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParameterError(self.name, value, self.allowed())
            return value
        if k == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "yes", "no"):
                return value.lower() in ("true", "on", "yes")
            raise ParameterError(self.name, value, self.allowed())
        if k == "size":
            x = units.parse_size(value, self.name)
        elif k == "rate":
            x = units.parse_rate(value, self.name, page_size)
        elif k == "link":
            x = units.parse_link(value, self.name)
        elif k == "duration":
            x = units.parse_duration(value, self.name)
            if self.column.endswith("_ms") and isinstance(value, str):
                x *= 1e3
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(self.name, value, self.allowed())
            x = float(value)
        self.check(x, value)
        return x

    def check(self, x: float, shown: Any = None) -> None:
        """Raise :class:`ParameterError` if ``x`` (column units) is outside the domain."""
        if self.kind in ("choice", "bool"):
            return
        bad = (not math.isfinite(x) and not (math.isinf(self.hi) and x == math.inf)) or x < self.lo \
            or (self.lo_open and x == self.lo) or x > self.hi
        if self.kind == "count" and not bad and x != math.floor(x):
            bad = True
        if math.isnan(x) or bad:
            raise ParameterError(self.name, x if shown is None else shown, self.allowed())


DIRTY_PATTERNS = ("random", "sequential")
STORAGE_MODES = ("shared", "mirror", "iterative", "shared-nothing")
TRANSPORTS = ("default", "tcp", "compression", "smb", "multi-nic")

INPUTS: tuple[Field, ...] = (
    Field("profile", "profile", "choice", "vsphere-5.1", "hypervisor profile",
          choices=("vsphere-5.1", "hyperv-2012", "qemu", "xen")),
    Field("memory", "memory_bytes", "size", 4 * 2.0**30, "VM memory size", lo=0.0, lo_open=True),
    Field("page_size", "page_size_bytes", "size", 4096.0, "guest page size", lo=512.0, hi=2.0**30),
    Field("vcpus", "vcpus", "count", 2.0, "virtual CPUs", lo=1.0, hi=768.0),
    Field("dirty_rate", "dirty_rate_Bps", "rate", 0.0, "page-dirty rate of the guest"),
    Field("dirty_pattern", "dirty_pattern", "choice", "random",
          "random: uniform over the WWS; sequential: sweeps the WWS in order", choices=DIRTY_PATTERNS),
    Field("wws", "wws_bytes", "size", None,
          "writable working set (the pages that are rewritten); default: all nonzero memory "
          "outside the hot set"),
    Field("hot_set", "hot_set_bytes", "size", 0.0,
          "hot set: pages rewritten far faster than the WWS (Clark's writable working set), "
          "disjoint from it; written uniformly at hot_rate"),
    Field("hot_rate", "hot_rate_Bps", "rate", 0.0, "page-dirty rate on the hot set"),
    Field("zero_fraction", "zero_fraction", "fraction", 0.0,
          "share of memory that is zero pages (sent as headers only)", hi=1.0),
    Field("compressibility", "compressibility", "ratio", 2.0,
          "memory compression ratio achievable by compressing transports", lo=1.0, hi=1000.0),
    Field("link", "link_bps", "link", 10e9, "line rate of each migration NIC", lo=0.0, lo_open=True),
    Field("nics", "nics", "count", 1.0, "number of NICs used for migration", lo=1.0, hi=64.0),
    Field("efficiency", "efficiency", "fraction", None,
          "protocol payload share of the line rate (default: transport's)", lo=0.0, lo_open=True, hi=1.0),
    Field("stream_cap", "stream_cap_Bps", "rate", None,
          "per-stream throughput cap (default: transport's; inf = none)", lo=0.0, lo_open=True),
    Field("max_bandwidth", "max_bandwidth_Bps", "rate", None,
          "migration bandwidth cap (QEMU max-bandwidth; default: profile's)", lo=0.0, lo_open=True),
    Field("rtt", "rtt_ms", "duration", 0.5, "round-trip time between source and destination",
          hi=1000.0),
    Field("downtime_limit", "downtime_limit_ms", "duration", None,
          "switch-over goal / downtime limit (default: profile's)", lo=0.0, lo_open=True, hi=3.6e6),
    Field("device_state", "device_state_bytes", "size", None,
          "serialized device state sent in the switch-over (default: profile's)"),
    Field("disk", "disk_bytes", "size", 0.0, "virtual disk size (moves only if storage moves)"),
    Field("disk_write_rate", "disk_write_rate_Bps", "rate", 0.0, "guest disk write rate"),
    Field("disk_wws", "disk_wws_bytes", "size", None,
          "disk blocks that are rewritten (iterative storage pre-copy); default: whole disk"),
    Field("storage_rate", "storage_rate_Bps", "rate", 200e6,
          "datastore copy throughput (bulk disk copy)", lo=0.0, lo_open=True),
    Field("storage", "storage", "choice", "shared",
          "shared: no disk moves; mirror/iterative: storage migration only; "
          "shared-nothing: disk (mirror) then memory", choices=STORAGE_MODES),
    Field("transport", "transport", "choice", "default",
          "migration transport (Hyper-V: tcp, compression, smb; vSphere: multi-nic)", choices=TRANSPORTS),
    Field("auto_converge", "auto_converge", "bool", False, "QEMU auto-converge (vCPU throttling)"),
    Field("sdps", "sdps", "bool", True, "vSphere Stun During Page Send when pre-copy diverges"),
    Field("same_subnet", "same_subnet", "bool", True, "destination shares the VM's L2 subnet"),
    Field("timeout", "timeout_s", "duration", math.inf,
          "cancel the migration if pre-copy has not finished after this long", lo=0.0, lo_open=True),
)

INPUT_BY_NAME: dict[str, Field] = {f.name: f for f in INPUTS}
INPUT_BY_COLUMN: dict[str, Field] = {f.column: f for f in INPUTS}

STATUSES = ("completed", "failed", "rejected")

# Outputs: column name -> (numpy dtype, description). Units are in the names.
OUTPUTS: dict[str, tuple[Any, str]] = {
    "status": (np.dtype(object), "completed | failed | rejected"),
    "reason": (np.dtype(object), "why the status (empty when completed normally)"),
    "total_time_s": (np.dtype(np.float64), "start of setup to resume on the destination"),
    "downtime_ms": (np.dtype(np.float64), "guest frozen: stop-and-copy + device state + resume"),
    "transferred_bytes": (np.dtype(np.float64), "all bytes on the wire"),
    "memory_transferred_bytes": (np.dtype(np.float64), "memory pages on the wire, headers included"),
    "storage_transferred_bytes": (np.dtype(np.float64), "disk bulk copy and re-copied blocks"),
    "mirror_transferred_bytes": (np.dtype(np.float64), "guest writes mirrored to the destination"),
    "device_transferred_bytes": (np.dtype(np.float64), "serialized device state"),
    "precopy_rounds": (np.dtype(np.int64), "passes over memory before the stop-and-copy, round 0 included"),
    "converged": (np.dtype(bool), "pre-copy met the profile's stop rule (not forced)"),
    "forced": (np.dtype(bool), "switch-over forced by a cap (rounds, traffic, not shrinking)"),
    "final_round_bytes": (np.dtype(np.float64), "memory bytes sent while the guest was stopped"),
    "max_throttle_pct": (np.dtype(np.float64), "largest vCPU throttle applied (SDPS, auto-converge)"),
    "connections_preserved": (np.dtype(bool), "guest network connections survive the move"),
    "setup_s": (np.dtype(np.float64), "handshake and destination reservation"),
    "storage_s": (np.dtype(np.float64), "storage migration phase"),
    "trace_s": (np.dtype(np.float64), "guest trace phase"),
    "precopy_s": (np.dtype(np.float64), "iterative memory pre-copy"),
    "switchover_s": (np.dtype(np.float64), "stop-and-copy through resume (= downtime)"),
    "trace_slowdown_pct": (np.dtype(np.float64), "guest slowdown during the trace phase"),
    "write_latency_penalty_ms": (np.dtype(np.float64), "added guest write latency while mirroring"),
    "effective_rate_Bps": (np.dtype(np.float64), "memory pre-copy throughput of the stream"),
}
