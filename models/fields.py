"""The canonical parameters and results of one migration: names, units, kinds, domains.

This is the one place where an input's canonical name (``memory``), its column name with unit
(``memory_bytes``), its kind (how a human string is parsed), its domain and its global default are
defined; the CLI flags, the sweep-spec fields, the model's batch arrays and the Parquet schema are
all derived from here. A default of ``None`` means "the profile decides" (see ``models.policy``).
Pure data; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from models import units
from models.errors import ParameterError, Shown


@dataclass(frozen=True)
class Field:
    """One model input.

    The one parsing rule of every front door (CLI flag, TOML spec, ``models.migrate``): a bare
    number — ``300`` or the string ``"300"`` — is in the column's unit (``downtime_limit = 300`` is
    300 ms because the column is ``downtime_limit_ms``); a string with a unit is converted
    (``"0.3s"``); single-letter size prefixes are binary (``16G`` = 16 GiB, as in QEMU and libvirt),
    ``GB`` decimal and ``GiB`` binary as written. ``models.simulate`` takes numbers in column units
    only.

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
        Allowed closed range (in column units) for numeric kinds. Every numeric field has a finite
        ``hi`` that keeps the model's arithmetic exact (byte counts below 2^53).
    lo_open : bool
        True when ``lo`` itself is not allowed (strictly positive quantities).
    inf_ok : bool
        ``inf`` is allowed beyond ``hi`` and means "no limit".
    pow2 : bool
        The value must be a power of two (page sizes).
    choices : tuple of str
        Allowed values for ``choice`` fields.
    example : str
        A value as a user writes it, for ``--help`` and the docs.
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
    inf_ok: bool = False
    pow2: bool = False
    choices: tuple[str, ...] = ()
    example: str = ""

    @property
    def dtype(self) -> Any:
        """NumPy dtype of the column in the model's arrays (counts are float64 there so that a
        non-integral count becomes a rejected row, not a truncated one)."""
        if self.kind == "choice":
            return np.dtype(object)
        if self.kind == "bool":
            return np.dtype(bool)
        return np.dtype(np.float64)

    @property
    def unit(self) -> str:
        """The unit of a bare number for this field (empty for dimensionless kinds)."""
        if self.kind == "duration":
            return "ms" if self.column.endswith("_ms") else "s"
        return {"size": "bytes", "rate": "bytes/s", "link": "bit/s"}.get(self.kind, "")

    def format(self, value: Any) -> str:
        """A value in column units written the way a user would (``4 GiB``, ``10 Gbit/s``).

        ``None`` or NaN (the profile decides) is ``(profile)``; choice codes are accepted too.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "(profile)"
        if self.kind == "choice":
            return self.choices[int(value)] if not isinstance(value, str) else value
        if self.kind == "bool":
            return "true" if value else "false"
        x = float(value)
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if self.kind == "size":
            return units.format_bytes(x)
        if self.kind == "rate":
            return units.format_rate(x)
        if self.kind == "link":
            return units.format_link(x)
        text = f"{x:.0f}" if x == math.floor(x) and abs(x) < 1e15 else f"{x:.6g}"
        return f"{text} {self.unit}" if self.kind == "duration" else text

    def allowed(self) -> str:
        """Human description of the domain, for error messages and ``--help``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        forms = _FORMS.get(self.kind)
        if forms is None:
            return self.bounds()
        bare = f"; a bare number is {self.unit}" if self.unit else ""
        return f"{self.bounds()} (e.g. {forms}{bare})"

    def bounds(self) -> str:
        """The numeric domain in the column's unit (``> 0 B and <= 64 TiB``)."""
        lo = f"> {self.format(self.lo)}" if self.lo_open else f">= {self.format(self.lo)}"
        if self.kind == "count":
            lo = "a whole number " + lo
        if self.pow2:
            lo = "a power of two " + lo
        hi = f" and <= {self.format(self.hi)}"
        if self.inf_ok:
            hi += ", or inf (no limit)"
        return lo + hi

    def parse(self, value: Any, page_size: float = 4096.0) -> Any:
        """Convert a human value (``"16GiB"``, ``"300ms"``, ``"2"``, ``true``) to column units and
        check it.

        Parameters
        ----------
        value : Any
            What the user wrote: a number (in the column's unit) or a string.
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
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            raise ParameterError(self.name, value, self.allowed())
        try:
            if k == "size":
                x = units.parse_size(value, self.name)
            elif k == "rate":
                x = units.parse_rate(value, self.name, page_size)
            elif k == "link":
                x = units.parse_link(value, self.name)
            elif k == "duration":   # a bare number is taken as it is: no round trip via seconds
                bare = units.bare_number(value, self.name)
                if bare is not None:
                    x = bare
                else:
                    col_s = 1e-3 if self.unit == "ms" else 1.0   # (bare_s: for the message)
                    x = units.parse_duration(value, self.name, col_s, unit_s=col_s)
            else:
                x = units.parse_number(value, self.name, percent=k == "fraction")
        except ParameterError as exc:   # not a number or a known unit: the forms, then the range
            raise ParameterError(self.name, value, f"{exc.allowed}; {self.bounds()}") from None
        self.check(x, value)
        return x

    def check(self, x: float, shown: Any = None) -> None:
        """Raise :class:`ParameterError` if ``x`` (column units) is outside the domain.

        The message shows what the user wrote and, when it had a unit, its value in the column's
        unit, then the allowed range.
        """
        if self.kind in ("choice", "bool"):
            return
        if self.valid(x):
            return
        text = repr(x if shown is None else shown)
        if isinstance(shown, str) and units.bare_number(shown) is None and math.isfinite(x):
            text += f" (= {self.format(x)})"
        raise ParameterError(self.name, Shown(text), self.allowed())

    def valid(self, x: float) -> bool:
        """``x`` (column units) lies in the domain (the compiled check in ``models.migration``
        implements the same rule)."""
        if math.isnan(x):
            return False
        if math.isinf(x):
            return self.inf_ok and x > 0
        if x < self.lo or x > self.hi or (self.lo_open and x == self.lo):
            return False
        if self.kind == "count" and x != math.floor(x):
            return False
        return not self.pow2 or math.frexp(x)[0] == 0.5


#: How values of each kind may be written, for messages (the field's own example is in ``--help``).
_FORMS = {"size": "16GiB, 16G = 16 GiB", "rate": "200MB/s, 7000pages/s", "link": "10GbE, 25Gbps",
          "duration": "300ms, 2s", "fraction": "0.25 or 25%"}
_BOOL_WORDS = {"true": True, "false": False, "on": True, "off": False, "yes": True, "no": False,
               "1": True, "0": False}
#: Upper bounds that keep byte counts exact in float64 (2^53) with room for traffic factors:
#: 64 TiB of memory (vSphere 8 allows 24 TB VMs), 1 PiB of disk, 10 TB/s of any rate, 10 Tbit/s
#: links (the fastest Ethernet is 800 Gbit/s).
MAX_MEMORY = 2.0**46
MAX_DISK = 2.0**50
MAX_RATE = 1e13
MAX_LINK = 1e13
#: Lower bound of every transfer rate (bytes/s; links: 8x in bit/s): 1 kB/s keeps times finite.
MIN_RATE = 1e3
#: Device state: 1 TiB, far above the largest published (vSphere: "can exceed 128 MB").
MAX_DEVICE_STATE = 2.0**40
#: Protocol efficiency: assumed floor of 1 % (below it a link carries no useful payload).
MIN_EFFICIENCY = 0.01
#: Timeout: about a year, in seconds (inf: never).
MAX_TIMEOUT_S = 3.2e7


DIRTY_PATTERNS = ("random", "sequential")
STORAGE_MODES = ("shared", "mirror", "iterative", "shared-nothing")
TRANSPORTS = ("default", "tcp", "compression", "smb", "multi-nic")

INPUTS: tuple[Field, ...] = (
    Field("profile", "profile", "choice", "vsphere-5.1", "hypervisor profile",
          choices=("vsphere-5.1", "hyperv-2012", "qemu", "xen", "xen-clark2005")),
    Field("memory", "memory_bytes", "size", 4 * 2.0**30, "VM memory size", lo=0.0, lo_open=True,
          hi=MAX_MEMORY),
    Field("page_size", "page_size_bytes", "size", 4096.0, "guest page size", lo=512.0, hi=2.0**30,
          pow2=True),
    Field("vcpus", "vcpus", "count", 2.0,
          "virtual CPUs (each adds its registers to the device state of the switch-over)",
          lo=1.0, hi=768.0),
    Field("dirty_rate", "dirty_rate_Bps", "rate", 0.0, "page-dirty rate of the guest",
          hi=MAX_RATE),
    Field("dirty_pattern", "dirty_pattern", "choice", "random",
          "random: uniform over the WWS; sequential: sweeps the WWS in order", choices=DIRTY_PATTERNS),
    Field("wws", "wws_bytes", "size", None,
          "writable working set (the pages that are rewritten); default: all nonzero memory "
          "outside the hot set", hi=MAX_MEMORY),
    Field("dirty_phase", "dirty_phase", "fraction", None,
          "where a sequential writer is in its WWS when migration starts, as a share of it "
          "(0: its lowest page, where the sender enters it); default: unknown, the model takes "
          "the expectation over phases; acts on sequential writers where the sender syncs "
          "mid-pass (qemu)", hi=1.0),
    Field("hot_set", "hot_set_bytes", "size", 0.0,
          "hot set: pages rewritten far faster than the WWS (Clark's writable working set), "
          "disjoint from it; written uniformly at hot_rate", hi=MAX_MEMORY),
    Field("hot_rate", "hot_rate_Bps", "rate", 0.0, "page-dirty rate on the hot set",
          hi=MAX_RATE),
    Field("zero_fraction", "zero_fraction", "fraction", 0.0,
          "share of memory that is zero pages (sent as headers only)", hi=1.0),
    Field("compressibility", "compressibility", "ratio", 2.0,
          "memory compression ratio achievable by compressing transports", lo=1.0, hi=1000.0),
    Field("link", "link_bps", "link", 10e9, "line rate of each migration NIC", lo=MIN_RATE * 8,
          hi=MAX_LINK),
    Field("nics", "nics", "count", 1.0, "number of NICs used for migration", lo=1.0, hi=64.0),
    Field("efficiency", "efficiency", "fraction", None,
          "protocol payload share of the line rate (default: transport's)", lo=MIN_EFFICIENCY,
          hi=1.0),
    Field("stream_cap", "stream_cap_Bps", "rate", None,
          "per-stream throughput cap (default: transport's; inf = none)", lo=MIN_RATE,
          hi=MAX_RATE, inf_ok=True),
    Field("max_bandwidth", "max_bandwidth_Bps", "rate", None,
          "migration bandwidth cap (QEMU max-bandwidth; default: profile's; inf = none)",
          lo=MIN_RATE, hi=MAX_RATE, inf_ok=True),
    Field("rtt", "rtt_ms", "duration", 0.5, "round-trip time between source and destination",
          hi=1000.0),
    Field("downtime_limit", "downtime_limit_ms", "duration", None,
          "switch-over goal / downtime limit (default: profile's)", lo=0.0, lo_open=True, hi=3.6e6),
    Field("device_state", "device_state_bytes", "size", None,
          "serialized device state sent in the switch-over (default: the profile's devices "
          "plus its per-vCPU state times vcpus)",
          hi=MAX_DEVICE_STATE),
    Field("disk", "disk_bytes", "size", 0.0, "virtual disk size (moves only if storage moves)",
          hi=MAX_DISK),
    Field("disk_write_rate", "disk_write_rate_Bps", "rate", 0.0, "guest disk write rate", hi=MAX_RATE),
    Field("disk_wws", "disk_wws_bytes", "size", None,
          "disk blocks that are rewritten (iterative storage pre-copy); default: whole disk",
          hi=MAX_DISK),
    Field("storage_rate", "storage_rate_Bps", "rate", 200e6,
          "datastore copy throughput (bulk disk copy)", lo=MIN_RATE, hi=MAX_RATE),
    Field("storage", "storage", "choice", "shared",
          "shared: no disk moves; mirror/iterative: storage migration only; "
          "shared-nothing: disk (mirror) then memory", choices=STORAGE_MODES),
    Field("transport", "transport", "choice", "default",
          "migration transport (Hyper-V: tcp, compression, smb; vSphere: multi-nic)", choices=TRANSPORTS),
    Field("auto_converge", "auto_converge", "bool", False, "QEMU auto-converge (vCPU throttling)"),
    Field("sdps", "sdps", "bool", True, "vSphere Stun During Page Send when pre-copy diverges"),
    Field("same_subnet", "same_subnet", "bool", True, "destination shares the VM's L2 subnet"),
    Field("timeout", "timeout_s", "duration", math.inf,
          "cancel the migration if pre-copy has not finished after this long (inf = never)",
          lo=0.0, lo_open=True, hi=MAX_TIMEOUT_S, inf_ok=True),
)

#: One example value per input, as a user writes it (``--help``, the docs, the contract tests).
EXAMPLES = {
    "profile": "qemu", "memory": "16GiB", "page_size": "2MiB", "vcpus": "8",
    "dirty_rate": "200MB/s", "dirty_pattern": "sequential", "wws": "1GiB", "dirty_phase": "0.25", "hot_set": "64MiB",
    "hot_rate": "50MB/s", "zero_fraction": "25%", "compressibility": "2.5", "link": "25Gbps",
    "nics": "2", "efficiency": "0.9", "stream_cap": "300MB/s", "max_bandwidth": "128MiB/s",
    "rtt": "5ms", "downtime_limit": "300ms", "device_state": "16MiB", "disk": "40GiB",
    "disk_write_rate": "20MB/s", "disk_wws": "10GiB", "storage_rate": "400MB/s",
    "storage": "mirror", "transport": "tcp", "auto_converge": "true", "sdps": "false",
    "same_subnet": "false", "timeout": "10min",
}
INPUTS = tuple(replace(f, example=EXAMPLES[f.name]) for f in INPUTS)
INPUT_BY_NAME: dict[str, Field] = {f.name: f for f in INPUTS}
#: Input columns whose default the profile (or the rest of the point) resolves; results hold the
#: value each point used.
RESOLVED: tuple[str, ...] = tuple(f.column for f in INPUTS if f.default is None)
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
    "disk_write_throttle_pct": (np.dtype(np.float64),
                                "guest disk writes held back by the synchronous mirror (share of "
                                "the write rate asked; the mirror takes at most mirror_max_share "
                                "of the copy path)"),
}

_DONE = ("completed",)
_RAN = ("completed", "failed")
#: Statuses each output applies to; elsewhere it is null (a rejected migration never ran, a failed
#: one never switched over: no downtime, no total time, no device state sent). Bytes sent and
#: phases run before a failure are real and kept.
OUTPUT_APPLIES: dict[str, tuple[str, ...]] = {
    "status": STATUSES, "reason": STATUSES,
    "total_time_s": _DONE, "downtime_ms": _DONE, "final_round_bytes": _DONE,
    "device_transferred_bytes": _DONE, "switchover_s": _DONE, "connections_preserved": _DONE,
    **{k: _RAN for k in OUTPUTS if k not in (
        "status", "reason", "total_time_s", "downtime_ms", "final_round_bytes",
        "device_transferred_bytes", "switchover_s", "connections_preserved")},
}
assert set(OUTPUT_APPLIES) == set(OUTPUTS)


def null_mask(output: str, status: np.ndarray) -> np.ndarray:
    """Rows where ``output`` does not apply (null), given their status strings."""
    return null_masks(status)[OUTPUT_APPLIES[output]]


def null_masks(status: np.ndarray) -> dict[tuple[str, ...], np.ndarray]:
    """For each set of statuses an output applies to (``OUTPUT_APPLIES`` values), the rows where
    it does not: one pass over the status strings for a whole table."""
    status = np.asarray(status, dtype=object)
    out = {}
    for applies in set(OUTPUT_APPLIES.values()):
        mask = np.zeros(len(status), dtype=bool)
        for s in STATUSES:
            if s not in applies:
                mask |= status == s
        out[applies] = mask
    return out
