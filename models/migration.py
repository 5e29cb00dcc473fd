"""One live migration, end to end, for N points at once.

Composes the mechanisms in phase order (docs/design.md §2): setup (fixed per profile), storage (shared:
nothing; mirror / iterative: a storage-only migration, the VM stays on its host and only a local
fast suspend/resume follows; shared-nothing: the disk is mirrored over the migration network first
and the mirror keeps running while memory moves), guest trace (time per GiB of memory), memory
pre-copy, switch-over, network. Inputs are the canonical columns of ``models.fields``; outputs are
``models.fields.OUTPUTS``. Points that the profile refuses (slow link, long RTT, too many NICs,
another subnet, an unavailable transport) or whose inputs are out of domain or contradictory come back
as ``rejected`` rows; points whose pre-copy cannot finish, or whose switch-over exceeds the profile's
maximum, come back as ``failed`` rows; both with a reason. Nothing raises for a bad point.

Per point, everything is scalar code compiled with numba: ``_prepare_row`` (input domains, the
profile's refusals, the link, the storage phase and the pre-copy configuration), the pre-copy
kernels of ``models.precopy``, and ``_assemble_row`` (switch-over and result row). :func:`simulate`
runs the three back to back for each point; :func:`prepare` and :func:`assemble` expose the first and
last as arrays for the scenario engine, which runs the pre-copy itself with the bandwidth each stream
really gets. Python only turns names into codes before and codes into strings after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import numpy as np

from models import precopy
from models.errors import ParameterError, Shown
from models.fields import (
    INPUT_BY_COLUMN, INPUTS, OUTPUT_APPLIES, OUTPUTS, RESOLVED)
from models.jit import kernel, loop
from models.link import stream_rates
from models.policy import PROFILES, REMEDIES, Policy, get_profile
from models.precopy import (
    AUTO_CONVERGE, C_AC_INCREMENT, C_AC_INITIAL, C_AC_MAX, C_AC_PERIOD_S, C_AC_RATIO,
    C_ADAPTIVE, C_BURST_BPS, C_CHECK_S, C_DIRTY_PPS, C_GROWING_RULE, C_HOT, C_HOT_PPS, C_LIMIT_S,
    C_MAX_ROUNDS, C_MAX_TRAFFIC, C_MEM_CAP_PPS, C_MIN_PAGES, C_PAGE_BYTES, C_PAGES_NONZERO,
    C_PAGES_ZERO, C_RATE_BPS, C_RATE_INCREMENT_BPS, C_RATE_INITIAL_BPS, C_RATE_MAX_BPS,
    C_RATE_RULE, C_REMEDY, C_SCAN_S, C_SDPS_SHRINK, C_SDPS_TARGET, C_SEQUENTIAL, C_SKIP,
    C_PHASE, C_SEND_BUFFER, C_TIMEOUT_S, C_WINDOW_S, C_WIRE_PAGE, C_WIRE_ZERO, C_WWS, CONVERGED,
    FAILED, FORCE, FORCED,
    N_CONFIG, N_SCRATCH, N_STATE, R_NONE, S_MAX_THETA, S_MEM_BYTES, S_PENDING, S_REASON, S_SEG,
    S_STATUS, S_T, SDPS, run_row, start_row,
)
from models.storage import iterative_one, mirror_one
from models.switchover import Switchover, switch_over, switch_over_one

GIB = 2.0**30
CHUNK = 1 << 15   # points per block of input codes inside simulate()
# points that simulate() prepares, pre-copies and assembles in step: the preparations (and the
# assemblies) of a block do not wait for each other as they do between two pre-copies (median of
# alternating runs against one point at a time: vSphere +11 %, Hyper-V +6 %, QEMU and Xen level)
BLOCK = 256

# --- input rows of the matrix X (shape (inputs, n)), in the order of models.fields.INPUTS
(X_PROFILE, X_MEMORY, X_PAGE_SIZE, X_VCPUS, X_DIRTY_RATE, X_DIRTY_PATTERN, X_WWS, X_DIRTY_PHASE,
    X_HOT_SET, X_HOT_RATE, X_ZERO_FRACTION, X_COMPRESSIBILITY, X_LINK, X_NICS, X_EFFICIENCY,
    X_STREAM_CAP, X_MAX_BANDWIDTH, X_RTT, X_DOWNTIME_LIMIT, X_DEVICE_STATE, X_DISK,
    X_DISK_WRITE_RATE, X_DISK_WWS, X_STORAGE_RATE, X_STORAGE, X_TRANSPORT, X_AUTO_CONVERGE, X_SDPS,
    X_SAME_SUBNET, X_TIMEOUT) = range(30)
assert [f.name for f in INPUTS][X_TIMEOUT] == "timeout" and len(INPUTS) == X_TIMEOUT + 1
assert [f.name for f in INPUTS][X_DISK_WWS] == "disk_wws"
assert [f.name for f in INPUTS][X_DIRTY_PHASE] == "dirty_phase"

# --- the domain table D: one row per input
KIND_OTHER, KIND_NUMBER, KIND_CHOICE = 0, 1, 2
D_KIND, D_LO, D_HI, D_LO_OPEN, D_COUNT, D_HAS_DEFAULT, D_INF_OK, D_POW2 = range(8)
_DOMAINS = np.array([[KIND_CHOICE if f.kind == "choice" else KIND_OTHER if f.kind == "bool"
                      else KIND_NUMBER, f.lo, f.hi, f.lo_open, f.kind == "count",
                      f.default is not None, f.inf_ok, f.pow2] for f in INPUTS], dtype=np.float64)

# --- the policy table POL: one row per profile, the numeric policy fields as columns
_POLICY_FIELDS = (
    "setup_s", "stop_s", "resume_s", "trace_s_per_gib", "trace_slowdown_pct", "device_state_bytes",
    "page_header_bytes", "zero_page_bytes", "scan_Bps", "max_bandwidth_Bps",
    "cap_lifted_in_switchover", "rate_window_s", "check_interval_s", "tcp_window_bytes", "max_nics",
    "max_nics_10g", "min_link_bps", "max_rtt_ms", "downtime_limit_ms", "min_dirty_pages",
    "max_rounds", "max_traffic_factor", "stop_if_growing_at_max_rate", "stop_if_rate_exceeds_max",
    "remedy", "sdps_shrink", "sdps_target", "ac_initial_pct", "ac_increment_pct", "ac_max_pct",
    "ac_trigger_ratio", "ac_period_s", "max_switchover_s", "adaptive_rate", "rate_initial_bps",
    "rate_increment_bps", "rate_max_bps", "skip_redirtied", "refuses_cross_subnet",
    "mirror_max_share", "storage_max_rounds", "goal_covers_switchover", "vcpu_state_bytes",
    "send_buffer_bytes")
(P_SETUP_S, P_STOP_S, P_RESUME_S, P_TRACE_S_PER_GIB, P_TRACE_SLOWDOWN_PCT, P_DEVICE_STATE_BYTES,
    P_PAGE_HEADER_BYTES, P_ZERO_PAGE_BYTES, P_SCAN_BPS, P_MAX_BANDWIDTH_BPS,
    P_CAP_LIFTED_IN_SWITCHOVER, P_RATE_WINDOW_S, P_CHECK_INTERVAL_S, P_TCP_WINDOW_BYTES, P_MAX_NICS,
    P_MAX_NICS_10G, P_MIN_LINK_BPS, P_MAX_RTT_MS, P_DOWNTIME_LIMIT_MS, P_MIN_DIRTY_PAGES,
    P_MAX_ROUNDS, P_MAX_TRAFFIC_FACTOR, P_STOP_IF_GROWING, P_STOP_IF_RATE_EXCEEDS_MAX,
    P_REMEDY, P_SDPS_SHRINK, P_SDPS_TARGET, P_AC_INITIAL_PCT, P_AC_INCREMENT_PCT, P_AC_MAX_PCT,
    P_AC_TRIGGER_RATIO, P_AC_PERIOD_S, P_MAX_SWITCHOVER_S, P_ADAPTIVE_RATE, P_RATE_INITIAL_BPS,
    P_RATE_INCREMENT_BPS, P_RATE_MAX_BPS, P_SKIP_REDIRTIED, P_REFUSES_CROSS_SUBNET,
    P_MIRROR_MAX_SHARE, P_STORAGE_MAX_ROUNDS, P_GOAL_COVERS_SWITCHOVER,
    P_VCPU_STATE_BYTES, P_SEND_BUFFER_BYTES) = range(len(_POLICY_FIELDS))
assert _POLICY_FIELDS[P_STORAGE_MAX_ROUNDS] == "storage_max_rounds"
P_HAS_AUTO_CONVERGE = len(_POLICY_FIELDS)   # derived column: the profile is QEMU or based on it
assert INPUT_BY_COLUMN["profile"].choices == tuple(PROFILES)   # choice codes index the profiles

# --- the transport table TR: (profile, transport name) -> fields
_TRANSPORT_NAMES = INPUT_BY_COLUMN["transport"].choices
T_AVAILABLE, T_EFFICIENCY, T_STREAM_CAP, T_MULTICHANNEL, T_COMPRESS, T_COMPRESS_BPS = range(6)

# --- storage modes (models.fields.STORAGE_MODES)
STORAGE_SHARED, STORAGE_MIRROR, STORAGE_ITERATIVE, STORAGE_SHARED_NOTHING = range(4)

# --- rejection codes: 1 + input row for a value outside its domain, then the refusals
(REJ_WWS, REJ_DISK_WWS, REJ_MEMORY, REJ_DISK, REJ_TRANSPORT, REJ_LINK, REJ_RTT, REJ_NICS,
    REJ_SUBNET, REJ_AUTO_CONVERGE) = range(64, 74)
_REFUSALS = {
    REJ_WWS: "wws: wws + hot_set exceed the memory that is not zero pages "
             "(memory x (1 - zero_fraction)); lower wws, hot_set or zero_fraction",
    REJ_DISK_WWS: "disk_wws: exceeds disk",
    REJ_MEMORY: "memory: smaller than one page (page_size)",
    REJ_DISK: "storage: moving storage needs disk > 0",
    REJ_TRANSPORT: "transport: {t!r} is not available for {p.name}; allowed: default, {ts}",
    REJ_LINK: "link: {p.name} needs links of at least {gbps:g} Gbit/s",
    REJ_RTT: "rtt: {p.name} allows at most {p.max_rtt_ms:g} ms",
    REJ_NICS: "nics: {p.name} uses at most {p.max_nics:g} NICs below 10 Gbit/s and "
              "{p.max_nics_10g:g} at 10 Gbit/s or more",
    REJ_SUBNET: "same_subnet: {p.name} requires the destination on the VM's L2 subnet",
    REJ_AUTO_CONVERGE: "auto_converge: only the qemu profile has auto-converge",
}

# --- per-point quantities that do not depend on how pre-copy unfolds (columns of E)
_PREPARED_FIELDS = (
    "ok", "moves_memory", "moves_disk", "storage_only", "shared_nothing", "is_iterative",
    "storage_forced", "same_subnet", "pcode", "reject", "rates_wire_Bps", "precopy_Bps",
    "switchover_Bps", "wire_page", "mem_cap_pps", "storage_s", "storage_bytes",
    "mirror_bytes", "mirror_write_Bps", "storage_final_s", "setup_s", "trace_s", "stop_s",
    "resume_s", "max_switchover_s", "trace_slowdown_pct", "rtt_ms", "disk_throttle_pct",
    # the inputs the profile resolves (models.fields.RESOLVED), as used
    "wws_bytes", "dirty_phase", "efficiency", "stream_cap_Bps", "max_bandwidth_Bps",
    "downtime_limit_ms", "device_state_bytes", "disk_wws_bytes")
(E_OK, E_MOVES_MEMORY, E_MOVES_DISK, E_STORAGE_ONLY, E_SHARED_NOTHING, E_IS_ITERATIVE,
    E_STORAGE_FORCED, E_SAME_SUBNET, E_PCODE, E_REJECT, E_RATES_WIRE_BPS, E_PRECOPY_BPS,
    E_SWITCHOVER_BPS, E_WIRE_PAGE, E_MEM_CAP_PPS, E_STORAGE_S, E_STORAGE_BYTES,
    E_MIRROR_BYTES, E_MIRROR_WRITE_BPS, E_STORAGE_FINAL_S, E_SETUP_S, E_TRACE_S, E_STOP_S,
    E_RESUME_S, E_MAX_SWITCHOVER_S, E_TRACE_SLOWDOWN_PCT, E_RTT_MS, E_DISK_THROTTLE_PCT, E_WWS,
    E_DIRTY_PHASE, E_EFFICIENCY,
    E_STREAM_CAP, E_MAX_BANDWIDTH, E_DOWNTIME_LIMIT_MS, E_DEVICE_STATE, E_DISK_WWS
 ) = range(len(_PREPARED_FIELDS))
N_PREPARED = len(_PREPARED_FIELDS)
assert _PREPARED_FIELDS[E_RTT_MS] == "rtt_ms"
assert _PREPARED_FIELDS[E_WWS:] == RESOLVED
_BOOL_PREPARED = _PREPARED_FIELDS[:E_PCODE]

# --- result rows, by dtype: float outputs are rows of F, bool outputs rows of B, and I holds the
# pass count with the codes that Python turns into strings (status, reason, rejection, profile)
_FLOAT_OUTPUTS = tuple(k for k, (dt, _) in OUTPUTS.items() if dt == np.float64)
_BOOL_OUTPUTS = tuple(k for k, (dt, _) in OUTPUTS.items() if dt == np.bool_)
(O_TOTAL_TIME_S, O_DOWNTIME_MS, O_TRANSFERRED, O_MEMORY_TRANSFERRED, O_STORAGE_TRANSFERRED,
    O_MIRROR_TRANSFERRED, O_DEVICE_TRANSFERRED, O_FINAL_ROUND_BYTES, O_MAX_THROTTLE_PCT, O_SETUP_S,
    O_STORAGE_S, O_TRACE_S, O_PRECOPY_S, O_SWITCHOVER_S, O_TRACE_SLOWDOWN_PCT,
    O_WRITE_LATENCY_PENALTY_MS, O_EFFECTIVE_RATE_BPS, O_DISK_WRITE_THROTTLE_PCT
 ) = range(len(_FLOAT_OUTPUTS))
assert _FLOAT_OUTPUTS[O_DISK_WRITE_THROTTLE_PCT] == "disk_write_throttle_pct"
B_CONVERGED, B_FORCED, B_CONNECTIONS_PRESERVED = range(3)
I_PRECOPY_ROUNDS, I_STATUS, I_REASON, I_REJECT, I_PCODE = range(5)
assert _FLOAT_OUTPUTS[O_EFFECTIVE_RATE_BPS] == "effective_rate_Bps"
O_RESOLVED = len(_FLOAT_OUTPUTS)   # rows O_RESOLVED.. of F: the resolved inputs (RESOLVED order)
assert _FLOAT_OUTPUTS[O_TRANSFERRED] == "transferred_bytes"
assert _BOOL_OUTPUTS == ("converged", "forced", "connections_preserved")
assert [k for k in OUTPUTS if k not in _FLOAT_OUTPUTS + _BOOL_OUTPUTS] == [
    "status", "reason", "precopy_rounds"]
COMPLETED, FAILED_ROW, REJECTED = 0, 1, 2                    # status codes of result rows
R_TOO_LONG, R_STORAGE_FORCED, R_REJECTED = 8, 9, 10          # reasons beyond precopy.REASONS
assert max(precopy.REASONS) < R_TOO_LONG
_STATUS_TABLE = np.array(["completed", "failed", "rejected"], dtype=object)
_REASON_TABLE = np.array([precopy.REASONS[k] for k in sorted(precopy.REASONS)]
                         + ["", "storage pass limit reached: the rest copied with the VM suspended",
                            ""], dtype=object)


# ----------------------------------------------------------------------------- inputs

def _as_array(value: Any, n: int, dtype: Any) -> np.ndarray:
    """A length-n array of ``dtype``; scalars become read-only broadcast views (no copy)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return value if dtype == np.dtype(object) else value.astype(dtype, copy=False)
    if dtype == np.dtype(object):
        a = np.asarray(value, dtype=object) if not isinstance(value, str) else None
        if a is not None and a.ndim == 1:
            return a
        scalar = np.empty((), dtype=object)
        scalar[()] = value if a is None else a.item()
        return np.broadcast_to(scalar, (n,))
    a = np.asarray(value, dtype=dtype)
    return np.broadcast_to(a, (n,)) if a.ndim == 0 else a


def _codes(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Index of each string in ``names`` (-1 when absent).

    An object array usually repeats a few string objects (numpy's ``choice``, the sweep runner):
    elements that are the same object are coded at once, by comparing the references as integers
    (a string comparison costs 15 ns per element); whatever remains after a few distinct objects
    is compared by value.
    """
    n = values.shape[0]
    lut = {name: i for i, name in enumerate(names)}

    def code(v: Any) -> int:
        return lut.get(v, -1) if isinstance(v, str) else -1

    if n and values.strides == (0,):
        return np.broadcast_to(np.int64(code(values[0])), (n,))
    out = np.zeros(n, dtype=np.int64)                    # code + 1
    todo = np.ones(n, dtype=bool)
    if n and values.dtype == object and values.flags.c_contiguous:
        ref = np.frombuffer(values, dtype=np.intp)       # the elements' addresses
        for _ in range(8):
            first = int(np.argmax(todo))
            if not todo[first]:
                break
            same = ref == ref[first]
            out += same * (code(values[first]) + 1)
            todo &= ~same
    rest = np.flatnonzero(todo)
    if rest.size:
        sub = values[rest]
        for i, name in enumerate(names):
            out[rest[sub == name]] = i + 1
    out -= 1
    return out


@dataclass(frozen=True)
class Inputs:
    """Resolved inputs of N points: every column of ``models.fields.INPUTS`` as an array."""

    columns: Mapping[str, np.ndarray]
    n: int


def resolve_inputs(columns: Mapping[str, Any]) -> Inputs:
    """Broadcast the given columns to a common length and add the global defaults.

    Parameters
    ----------
    columns : mapping
        Column name (``memory_bytes``...) to array or scalar, in column units.

    Returns
    -------
    Inputs
        Profile-dependent defaults (``None`` in the field table) are left as NaN.

    Raises
    ------
    ParameterError
        For an unknown column or arrays of different lengths.
    """
    if not isinstance(columns, Mapping):
        raise ParameterError("columns", type(columns).__name__,
                             "a mapping of input column name to array or scalar")
    n = None
    for k, v in columns.items():
        if k not in INPUT_BY_COLUMN:
            raise ParameterError(k, "(column)", "an input column: " + ", ".join(INPUT_BY_COLUMN))
        a = np.asarray(v)
        _check_dtype(INPUT_BY_COLUMN[k], a)
        if a.ndim > 1:
            raise ParameterError(k, f"array of shape {a.shape}", "a scalar or a 1-d array")
        if a.ndim == 1:
            if n is not None and a.shape[0] != n:
                raise ParameterError(k, Shown(f"an array of length {a.shape[0]}"),
                                     f"length {n} like the other array columns, or a scalar")
            n = a.shape[0]
    n = 1 if n is None else n
    out: dict[str, np.ndarray] = {}
    for f in INPUTS:
        if f.column in columns:
            out[f.column] = _as_array(columns[f.column], n, f.dtype)
        elif f.default is None:
            out[f.column] = np.broadcast_to(np.float64(np.nan), (n,))
        else:
            out[f.column] = _as_array(f.default, n, f.dtype)
    return Inputs(out, n)


def _check_dtype(f: Any, a: np.ndarray) -> None:
    """Refuse an input array whose type cannot mean what the column holds.

    Numbers (ints, floats) in the column's unit for numeric fields; booleans (or 0/1 integers)
    for bool fields; strings for choice fields. Text, objects, datetimes, complex numbers and NaN
    booleans raise :class:`ParameterError` naming the column.
    """
    kind = a.dtype.kind
    if f.kind == "choice":
        ok = kind in "UO"
        want = "strings: " + ", ".join(f.choices)
    elif f.kind == "bool":
        ok = kind == "b" or (kind in "iu" and bool(np.isin(a, (0, 1)).all()))
        want = "booleans (True/False)"
    else:
        ok = kind in "iuf"
        want = (f"numbers in {f.unit or 'the column unit'} (models.migrate and the CLI take "
                f"human units such as '16GiB')")
    if not ok:
        shown = repr(a.item()) if a.ndim == 0 else f"an array of dtype {a.dtype}"
        raise ParameterError(f.column, Shown(shown), want)


def _padded(rows: int, n: int, dtype: Any = np.float64) -> np.ndarray:
    """An uninitialised (rows, n) array whose rows start one cache line apart modulo 4 KiB.

    Rows a power-of-two apart map to the same cache sets; a kernel that walks 20-30 rows in step
    would then evict its own lines at every point (a 3x slowdown measured on 32768-point blocks).
    """
    size = np.dtype(dtype).itemsize
    return np.empty((rows, n + 64 // size + (-n) % (4096 // size)), dtype=dtype)[:, :n]


def _constant_rows(inp: Inputs) -> np.ndarray:
    """Which inputs are one value broadcast to every point."""
    return np.array([inp.n == 1 or inp.columns[f.column].strides == (0,) for f in INPUTS])


def _fill_inputs(X: np.ndarray, inp: Inputs, start: int, rows: Any,
                 profiles: tuple[str, ...] = tuple(PROFILES)) -> None:
    """Rows ``rows`` of the input matrix X (inputs, m) from points start.. of ``inp``: numbers as
    they are, choices as codes (-1: invalid; profiles index ``profiles``), bools as 0/1."""
    for j in rows:
        f = INPUTS[j]
        v = inp.columns[f.column][start:start + X.shape[1]]
        if f.kind == "choice":
            X[j] = _codes(v, profiles if j == X_PROFILE else f.choices)
        else:
            X[j] = v


def _domain_codes(X: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Per point, 1 + the first input outside its domain (invalid choices first), else 0."""
    out = np.zeros(X.shape[1], dtype=np.int64)
    if X.shape[1]:      # (no points: an empty array is "contiguous" and would compile a variant)
        _first_invalid(X, _DOMAINS, constant, out)
    return out


def _policies(overrides: Mapping[str, Mapping[str, Any]] | None,
              profiles: Mapping[str, Policy] | None = None) -> list[Policy]:
    """Every profile with its overrides (checked: known profiles, mappings of policy fields),
    then the custom ``profiles`` (name -> :class:`Policy`, e.g. from a profile file)."""
    extra = _custom(profiles)
    overrides = {} if overrides is None else overrides
    if not isinstance(overrides, Mapping):
        raise ParameterError("overrides", overrides, "a mapping of profile name to policy fields")
    for name, fields in overrides.items():
        if name not in PROFILES:
            raise ParameterError("overrides", name, "a profile: " + ", ".join(PROFILES))
        if not isinstance(fields, Mapping):
            raise ParameterError(f"overrides.{name}", fields, "a mapping of policy field to value")
    return [get_profile(name, **dict(overrides.get(name, {}))) for name in PROFILES] + extra


def _custom(profiles: Mapping[str, Policy] | None) -> list[Policy]:
    """The custom profiles as a list, checked: Policy records under new names."""
    if not profiles:
        return []
    if not isinstance(profiles, Mapping):
        raise ParameterError("profiles", profiles, "a mapping of profile name to Policy")
    out = []
    for name, pol in profiles.items():
        if not isinstance(pol, Policy) or not isinstance(name, str):
            raise ParameterError(f"profiles.{name}", Shown(type(pol).__name__), "a models.Policy")
        if name in PROFILES:
            raise ParameterError("profiles", name, "a name that is not a shipped profile ("
                                 + ", ".join(PROFILES) + ")")
        out.append(pol if pol.name == name else replace(pol, name=name))
    return out


def _profile_names(pols: list[Policy]) -> tuple[str, ...]:
    """The profile names the input column may hold, in code order."""
    return tuple(p.name for p in pols)


def _tables(pols: list[Policy]) -> tuple[np.ndarray, np.ndarray]:
    """The policy table POL (profiles, fields) and the transport table TR (profiles, names, 6)."""
    POL = np.array([[float(REMEDIES.index(p.remedy)) if k == "remedy" else float(getattr(p, k))
                     for k in _POLICY_FIELDS] + [float(p.lineage == "qemu")] for p in pols])
    TR = np.zeros((len(pols), len(_TRANSPORT_NAMES), 6))
    for a, p in enumerate(pols):
        for b, name in enumerate(_TRANSPORT_NAMES):
            key = p.default_transport if name == "default" else name
            t = p.transports.get(key)
            if t is not None:
                TR[a, b] = (1.0, t.efficiency, t.stream_cap_Bps, t.multichannel, t.compress,
                            t.compress_Bps)
    return POL, TR


def _reject_messages(codes: np.ndarray, rows: np.ndarray, columns: Mapping[str, np.ndarray],
                     pcode: np.ndarray, pols: list[Policy]) -> list[str]:
    """The reason of each rejected row (``codes``: its rejection code; ``rows``: into columns)."""
    out = []
    for code, r, pc in zip(codes.tolist(), rows.tolist(), pcode.tolist()):
        if code <= len(INPUTS):
            f = INPUTS[code - 1]
            v = columns[f.column][r]
            shown = repr(v) if f.kind == "choice" else f"{float(v):g}"
            out.append(f"{f.name}: invalid value {shown}; allowed: {f.allowed()}")
        else:
            p = pols[pc]
            out.append(_REFUSALS[code].format(p=p, gbps=p.min_link_bps / 1e9,
                                              t=columns["transport"][r], ts=", ".join(p.transports)))
    return out


# ----------------------------------------------------------------------------- kernels

@kernel(inline="always")
def _invalid(x, D, j):
    """Input row j's value x lies outside its field's domain (NaN: the profile's default)."""
    if D[j, D_KIND] == KIND_CHOICE:
        return x < 0.0
    if math.isnan(x):
        return D[j, D_HAS_DEFAULT] != 0.0
    if math.isinf(x):
        return not (D[j, D_INF_OK] != 0.0 and x > 0.0)
    lo, hi = D[j, D_LO], D[j, D_HI]
    if x < lo or x > hi or (D[j, D_LO_OPEN] != 0.0 and x == lo):
        return True
    if D[j, D_COUNT] != 0.0 and math.floor(x) != x:
        return True
    return D[j, D_POW2] != 0.0 and math.frexp(x)[0] != 0.5


@loop
def _first_invalid(X, D, constant, out):
    """out[i] = 1 + the first input of point i outside its domain: choices, then numbers, each in
    field order (0: none). Walks one input row at a time; a broadcast row is checked once."""
    n = X.shape[1]
    if n == 0:
        return
    for kind in (KIND_CHOICE, KIND_NUMBER):
        for j in range(X.shape[0]):
            if D[j, D_KIND] != kind:
                continue
            if constant[j]:
                if _invalid(X[j, 0], D, j):
                    for i in range(n):
                        if out[i] == 0:
                            out[i] = j + 1
                continue
            for i in range(n):
                if out[i] == 0 and _invalid(X[j, i], D, j):
                    out[i] = j + 1


@kernel
def _default(x, profile_value):
    return profile_value if math.isnan(x) else x


@kernel(inline="always")
def _prepare_row(X, i, rej, POL, TR, C, c, E, e):
    """Point i of X: reject it (E[e, E_REJECT]) or fill its pre-copy row C[c] and its row E[e].

    ``rej`` is the point's domain code (:func:`_first_invalid`); the profile's refusals come next.
    """
    E[e, :] = 0.0
    p = int(max(X[X_PROFILE, i], 0.0))
    t = int(max(X[X_TRANSPORT, i], 0.0))
    E[e, E_PCODE] = p
    memory = X[X_MEMORY, i]
    ps = X[X_PAGE_SIZE, i]
    hot_b = X[X_HOT_SET, i]
    nonzero_b = memory * (1.0 - X[X_ZERO_FRACTION, i])
    wws_b = X[X_WWS, i]
    if math.isnan(wws_b):
        wws_b = max(nonzero_b - hot_b, 0.0)
    disk = X[X_DISK, i]
    disk_wws = _default(X[X_DISK_WWS, i], disk)
    st = X[X_STORAGE, i]
    # the inputs the profile resolves, as used (NaN where the profile or transport is invalid)
    known = X[X_PROFILE, i] >= 0.0
    has_t = known and X[X_TRANSPORT, i] >= 0.0 and TR[p, t, T_AVAILABLE] != 0.0
    E[e, E_WWS] = wws_b
    E[e, E_DIRTY_PHASE] = X[X_DIRTY_PHASE, i]
    # a phase means something only for a sequential writer
    phase = X[X_DIRTY_PHASE, i] if X[X_DIRTY_PATTERN, i] == 1.0 else math.nan
    E[e, E_DISK_WWS] = disk_wws
    E[e, E_EFFICIENCY] = _default(X[X_EFFICIENCY, i], TR[p, t, T_EFFICIENCY] if has_t else math.nan)
    E[e, E_STREAM_CAP] = _default(X[X_STREAM_CAP, i], TR[p, t, T_STREAM_CAP] if has_t else math.nan)
    E[e, E_MAX_BANDWIDTH] = _default(X[X_MAX_BANDWIDTH, i],
                                     POL[p, P_MAX_BANDWIDTH_BPS] if known else math.nan)
    E[e, E_DOWNTIME_LIMIT_MS] = _default(X[X_DOWNTIME_LIMIT, i],
                                         POL[p, P_DOWNTIME_LIMIT_MS] if known else math.nan)
    # device state: the profile's devices and each vCPU's registers, unless given
    devices = POL[p, P_DEVICE_STATE_BYTES] + X[X_VCPUS, i] * POL[p, P_VCPU_STATE_BYTES]
    E[e, E_DEVICE_STATE] = _default(X[X_DEVICE_STATE, i], devices if known else math.nan)
    moves_disk = st >= 1.0
    # a storage-only move (mirror, iterative) stays on its host: no migration network to refuse
    network = not (st == STORAGE_MIRROR or st == STORAGE_ITERATIVE)
    link = X[X_LINK, i]
    max_nics = POL[p, P_MAX_NICS_10G] if link >= 10e9 else POL[p, P_MAX_NICS]
    multichannel = TR[p, t, T_MULTICHANNEL] == 1.0
    if rej != 0:
        pass
    elif wws_b + hot_b > nonzero_b * (1 + 1e-9):
        rej = REJ_WWS
    elif disk_wws > disk * (1 + 1e-9):
        rej = REJ_DISK_WWS
    elif memory < ps:
        rej = REJ_MEMORY
    elif moves_disk and disk <= 0.0:
        rej = REJ_DISK
    elif TR[p, t, T_AVAILABLE] == 0.0:
        rej = REJ_TRANSPORT
    elif network and link < POL[p, P_MIN_LINK_BPS]:
        rej = REJ_LINK
    elif network and X[X_RTT, i] > POL[p, P_MAX_RTT_MS]:
        rej = REJ_RTT
    elif network and multichannel and X[X_NICS, i] > max_nics:
        rej = REJ_NICS
    elif network and X[X_SAME_SUBNET, i] == 0.0 and POL[p, P_REFUSES_CROSS_SUBNET] == 1.0:
        rej = REJ_SUBNET
    elif X[X_AUTO_CONVERGE, i] != 0.0 and POL[p, P_HAS_AUTO_CONVERGE] == 0.0:
        rej = REJ_AUTO_CONVERGE
    E[e, E_REJECT] = rej
    if rej != 0:
        return

    # --- link
    downtime_limit_s = E[e, E_DOWNTIME_LIMIT_MS] / 1e3
    wire, pre, sw, wire_factor, mem_cap = stream_rates(
        link, X[X_NICS, i], E[e, E_EFFICIENCY], E[e, E_STREAM_CAP], X[X_RTT, i],
        POL[p, P_TCP_WINDOW_BYTES], multichannel, max_nics, E[e, E_MAX_BANDWIDTH],
        POL[p, P_CAP_LIFTED_IN_SWITCHOVER] == 1.0, TR[p, t, T_COMPRESS] == 1.0,
        X[X_COMPRESSIBILITY, i], TR[p, t, T_COMPRESS_BPS])
    if POL[p, P_ADAPTIVE_RATE] == 1.0:
        # an adaptive rate (Xen) sends the final round at its maximum (Clark 2005 §5.3)
        sw = min(sw, POL[p, P_RATE_MAX_BPS] / 8.0)

    # --- storage phase
    shared_nothing = st == STORAGE_SHARED_NOTHING
    is_itr = st == STORAGE_ITERATIVE
    storage_only = st == STORAGE_MIRROR or is_itr
    copy_rate = min(X[X_STORAGE_RATE, i], pre) if shared_nothing else X[X_STORAGE_RATE, i]
    disk_moved = disk if moves_disk else 0.0
    mirror_w = 0.0
    if is_itr:
        storage_s, storage_bytes, final_s, _, forced = iterative_one(
            disk_moved, X[X_DISK_WRITE_RATE, i], disk_wws, copy_rate, downtime_limit_s,
            POL[p, P_STORAGE_MAX_ROUNDS])
        mirror_bytes = 0.0
    else:
        storage_s, mirror_bytes, w = mirror_one(disk_moved, X[X_DISK_WRITE_RATE, i], copy_rate,
                                                POL[p, P_MIRROR_MAX_SHARE])
        storage_bytes, final_s, forced = disk_moved, 0.0, False
        if shared_nothing:
            mirror_w = w          # the mirror keeps running while memory moves
        if moves_disk and X[X_DISK_WRITE_RATE, i] > 0.0:
            E[e, E_DISK_THROTTLE_PCT] = 100.0 * (1.0 - w / X[X_DISK_WRITE_RATE, i])

    moves_memory = not storage_only
    E[e, E_OK] = 1.0
    E[e, E_MOVES_MEMORY] = moves_memory
    E[e, E_MOVES_DISK] = moves_disk
    E[e, E_STORAGE_ONLY] = storage_only
    E[e, E_SHARED_NOTHING] = shared_nothing
    E[e, E_IS_ITERATIVE] = is_itr
    E[e, E_STORAGE_FORCED] = is_itr and forced
    E[e, E_SAME_SUBNET] = X[X_SAME_SUBNET, i]
    E[e, E_RATES_WIRE_BPS] = wire
    # the mirror takes at most mirror_max_share of the copy path, so memory keeps the rest
    E[e, E_PRECOPY_BPS] = pre - mirror_w
    E[e, E_SWITCHOVER_BPS] = sw
    wire_page = (ps + POL[p, P_PAGE_HEADER_BYTES]) * wire_factor
    E[e, E_WIRE_PAGE] = wire_page
    E[e, E_MEM_CAP_PPS] = mem_cap / ps
    E[e, E_STORAGE_S] = storage_s
    E[e, E_STORAGE_BYTES] = storage_bytes
    E[e, E_MIRROR_BYTES] = mirror_bytes
    E[e, E_MIRROR_WRITE_BPS] = mirror_w
    E[e, E_STORAGE_FINAL_S] = final_s
    E[e, E_SETUP_S] = POL[p, P_SETUP_S]
    E[e, E_TRACE_S] = POL[p, P_TRACE_S_PER_GIB] * memory / GIB if moves_memory else 0.0
    E[e, E_STOP_S] = POL[p, P_STOP_S]
    E[e, E_RESUME_S] = POL[p, P_RESUME_S]
    E[e, E_MAX_SWITCHOVER_S] = POL[p, P_MAX_SWITCHOVER_S]
    E[e, E_TRACE_SLOWDOWN_PCT] = POL[p, P_TRACE_SLOWDOWN_PCT]
    E[e, E_RTT_MS] = X[X_RTT, i]
    if not moves_memory:
        return

    # --- memory pre-copy configuration
    remedy = POL[p, P_REMEDY]
    if X[X_AUTO_CONVERGE, i] != 0.0:
        remedy = AUTO_CONVERGE
    if remedy == SDPS and X[X_SDPS, i] == 0.0:
        remedy = FORCE
    pages_nonzero = math.ceil(nonzero_b / ps)
    pages_zero = max(math.floor(memory / ps) - pages_nonzero, 0.0)
    C[c, C_PAGES_NONZERO] = pages_nonzero
    C[c, C_PAGES_ZERO] = pages_zero
    C[c, C_WWS] = wws_b / ps
    C[c, C_PAGE_BYTES] = ps
    C[c, C_WIRE_PAGE] = wire_page
    C[c, C_WIRE_ZERO] = POL[p, P_ZERO_PAGE_BYTES]
    C[c, C_SCAN_S] = pages_zero * ps / POL[p, P_SCAN_BPS]
    C[c, C_DIRTY_PPS] = X[X_DIRTY_RATE, i] / ps if wws_b > 0.0 else 0.0
    C[c, C_HOT] = hot_b / ps
    C[c, C_HOT_PPS] = X[X_HOT_RATE, i] / ps if hot_b > 0.0 else 0.0
    C[c, C_SEQUENTIAL] = X[X_DIRTY_PATTERN, i] == 1.0
    C[c, C_RATE_BPS] = pre - mirror_w
    C[c, C_BURST_BPS] = wire
    C[c, C_MEM_CAP_PPS] = mem_cap / ps
    C[c, C_WINDOW_S] = POL[p, P_RATE_WINDOW_S]
    C[c, C_CHECK_S] = POL[p, P_CHECK_INTERVAL_S]
    if POL[p, P_GOAL_COVERS_SWITCHOVER] == 1.0:
        # the goal bounds the whole switch-over: the last pages get what stopping, sending the
        # device state and resuming leave of it (nothing: the stop rule can then only be forced)
        downtime_limit_s = max(downtime_limit_s - POL[p, P_STOP_S] - POL[p, P_RESUME_S]
                               - E[e, E_DEVICE_STATE] / sw, 0.0)
    C[c, C_LIMIT_S] = downtime_limit_s
    # a threshold in pages counts 4 KiB frames (Xen's PFNs), whatever the guest's page size
    C[c, C_MIN_PAGES] = POL[p, P_MIN_DIRTY_PAGES] * 4096.0 / ps
    C[c, C_MAX_ROUNDS] = POL[p, P_MAX_ROUNDS]
    C[c, C_MAX_TRAFFIC] = POL[p, P_MAX_TRAFFIC_FACTOR] * memory
    C[c, C_GROWING_RULE] = POL[p, P_STOP_IF_GROWING]
    C[c, C_RATE_RULE] = POL[p, P_STOP_IF_RATE_EXCEEDS_MAX]
    C[c, C_REMEDY] = remedy
    C[c, C_SDPS_SHRINK] = POL[p, P_SDPS_SHRINK]
    C[c, C_SDPS_TARGET] = POL[p, P_SDPS_TARGET]
    C[c, C_AC_INITIAL] = POL[p, P_AC_INITIAL_PCT] * 1e-2
    C[c, C_AC_INCREMENT] = POL[p, P_AC_INCREMENT_PCT] * 1e-2
    C[c, C_AC_MAX] = POL[p, P_AC_MAX_PCT] * 1e-2
    C[c, C_AC_RATIO] = POL[p, P_AC_TRIGGER_RATIO]
    C[c, C_AC_PERIOD_S] = POL[p, P_AC_PERIOD_S]
    C[c, C_ADAPTIVE] = POL[p, P_ADAPTIVE_RATE]
    C[c, C_RATE_INITIAL_BPS] = POL[p, P_RATE_INITIAL_BPS] / 8.0
    C[c, C_RATE_INCREMENT_BPS] = POL[p, P_RATE_INCREMENT_BPS] / 8.0
    C[c, C_RATE_MAX_BPS] = POL[p, P_RATE_MAX_BPS] / 8.0
    C[c, C_SKIP] = POL[p, P_SKIP_REDIRTIED]
    C[c, C_TIMEOUT_S] = X[X_TIMEOUT, i]
    C[c, C_PHASE] = phase % 1.0          # 1 is the same position as 0 (NaN stays NaN)
    C[c, C_SEND_BUFFER] = POL[p, P_SEND_BUFFER_BYTES]


@kernel(inline="always")
def _no_memory_state(S, s):
    """Row s of S for a point whose memory does not move: nothing sent, nothing pending."""
    S[s, :] = 0.0
    S[s, S_STATUS] = CONVERGED


@kernel(inline="always")
def _assemble_row(E, e, S, s, storage_s, sw_rate, F, B, I, o):
    """Result row o (of F, B, I) from the point's row E[e] and its final pre-copy state S[s]."""
    ok = E[e, E_OK] != 0.0
    mm = E[e, E_MOVES_MEMORY] != 0.0
    status = S[s, S_STATUS]
    reason = int(S[s, S_REASON])
    device = E[e, E_DEVICE_STATE] if mm else 0.0
    down, final_bytes, too_long = switch_over_one(
        S[s, S_PENDING] if mm else 0.0, E[e, E_WIRE_PAGE], sw_rate if mm else 1.0,
        E[e, E_MEM_CAP_PPS], device, E[e, E_STOP_S], E[e, E_RESUME_S], E[e, E_STORAGE_FINAL_S],
        E[e, E_MAX_SWITCHOVER_S])
    precopy_s = S[s, S_T]
    trace_s = E[e, E_TRACE_S]
    total = E[e, E_SETUP_S] + storage_s + trace_s + precopy_s + down
    failed_pre = status == FAILED
    failed = ok and (failed_pre or too_long)
    done = ok and not failed
    storage_forced = ok and E[e, E_STORAGE_FORCED] != 0.0
    if not ok:
        I[I_STATUS, o], I[I_REASON, o] = REJECTED, R_REJECTED
    else:
        I[I_STATUS, o] = FAILED_ROW if failed else COMPLETED
        if too_long and not failed_pre:
            reason = R_TOO_LONG
        elif storage_forced and not failed and reason == R_NONE:
            reason = R_STORAGE_FORCED
        I[I_REASON, o] = reason
    I[I_REJECT, o] = E[e, E_REJECT]
    I[I_PCODE, o] = E[e, E_PCODE]
    z = 1.0 if ok else 0.0
    d = 1.0 if done else 0.0
    F[O_TOTAL_TIME_S, o] = total if done else (total - down if failed else 0.0)
    F[O_DOWNTIME_MS, o] = down * 1e3 * d
    F[O_MEMORY_TRANSFERRED, o] = (S[s, S_MEM_BYTES] + final_bytes * d) * z
    F[O_STORAGE_TRANSFERRED, o] = E[e, E_STORAGE_BYTES] * z
    F[O_MIRROR_TRANSFERRED, o] = (E[e, E_MIRROR_BYTES]
                                    + E[e, E_MIRROR_WRITE_BPS] * (trace_s + precopy_s + down)) * z
    F[O_DEVICE_TRANSFERRED, o] = device * d
    F[O_TRANSFERRED, o] = (F[O_MEMORY_TRANSFERRED, o] + F[O_STORAGE_TRANSFERRED, o]
                             + F[O_MIRROR_TRANSFERRED, o] + F[O_DEVICE_TRANSFERRED, o])
    I[I_PRECOPY_ROUNDS, o] = int(S[s, S_SEG]) if ok else 0
    B[B_CONVERGED, o] = done and status == CONVERGED and not storage_forced
    B[B_FORCED, o] = (done and status == FORCED) or storage_forced
    F[O_FINAL_ROUND_BYTES, o] = final_bytes * d
    F[O_MAX_THROTTLE_PCT, o] = S[s, S_MAX_THETA] * 100.0 * z
    # the MAC moves and the IP stays: connections survive only within one L2 subnet
    B[B_CONNECTIONS_PRESERVED, o] = done and (E[e, E_STORAGE_ONLY] != 0.0
                                              or E[e, E_SAME_SUBNET] != 0.0)
    F[O_SETUP_S, o] = E[e, E_SETUP_S] * z
    F[O_STORAGE_S, o] = storage_s * z
    F[O_TRACE_S, o] = trace_s * z
    F[O_PRECOPY_S, o] = precopy_s * z
    F[O_SWITCHOVER_S, o] = down * d
    F[O_TRACE_SLOWDOWN_PCT, o] = E[e, E_TRACE_SLOWDOWN_PCT] if ok and mm else 0.0
    mirrors = ok and E[e, E_MOVES_DISK] != 0.0 and E[e, E_IS_ITERATIVE] == 0.0
    F[O_WRITE_LATENCY_PENALTY_MS, o] = (E[e, E_RTT_MS] if mirrors and E[e, E_SHARED_NOTHING] != 0.0
                                          else 0.0)
    F[O_EFFECTIVE_RATE_BPS, o] = E[e, E_PRECOPY_BPS] if mm else 0.0
    F[O_DISK_WRITE_THROTTLE_PCT, o] = E[e, E_DISK_THROTTLE_PCT]
    for k in range(E_DISK_WWS - E_WWS + 1):
        F[O_RESOLVED + k, o] = E[e, E_WWS + k]


@loop
def _simulate_rows(X, R, POL, TR, F, B, I, offset, C, S, E, pl):
    """Points of X, prepared, pre-copied and assembled a block at a time, into rows offset + i.

    ``C``, ``S``, ``E`` (a block of rows each) and ``pl`` are scratch.
    """
    n = X.shape[1]
    for lo in range(0, n, C.shape[0]):
        m = min(C.shape[0], n - lo)
        for j in range(m):
            _prepare_row(X, lo + j, R[lo + j], POL, TR, C, j, E, j)
            if E[j, E_MOVES_MEMORY] != 0.0:
                start_row(C, S, j)
                run_row(C, S, j, pl)
            else:
                _no_memory_state(S, j)
        for j in range(m):
            _assemble_row(E, j, S, j, E[j, E_STORAGE_S], E[j, E_SWITCHOVER_BPS], F, B, I,
                          offset + lo + j)


@loop
def _prepare_all(X, R, POL, TR, C, E):
    for i in range(X.shape[1]):
        _prepare_row(X, i, R[i], POL, TR, C, i, E, i)


@loop
def _assemble_all(E, S, storage_s, sw_rate, F, B, I):
    for i in range(E.shape[0]):
        _assemble_row(E, i, S, i, storage_s[i], sw_rate[i], F, B, I, i)


def _results(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uninitialised result blocks F (floats), B (bools), I (pass count and codes) for n rows."""
    return (_padded(len(_FLOAT_OUTPUTS) + len(RESOLVED), n), _padded(len(_BOOL_OUTPUTS), n, np.bool_),
            _padded(5, n, np.int64))


def _outputs(F: np.ndarray, B: np.ndarray, I: np.ndarray, pols: list[Policy],  # noqa: E741
             rejected: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    """Result columns from the kernels' blocks; ``rejected(rows)`` gives those rows' reasons."""
    reason = I[I_REASON]
    out: dict[str, Any] = {"status": _STATUS_TABLE[I[I_STATUS]], "reason": _REASON_TABLE[reason],
                           "precopy_rounds": I[I_PRECOPY_ROUNDS]}
    too_long = np.flatnonzero(reason == R_TOO_LONG)
    if too_long.size:
        out["reason"][too_long] = [f"switch-over would exceed the maximum of "
                                   f"{pols[p].max_switchover_s:g} s; the VM stays on the source"
                                   for p in I[I_PCODE, too_long].tolist()]
    rej = np.flatnonzero(reason == R_REJECTED)
    if rej.size:
        out["reason"][rej] = rejected(rej)
    out.update(zip(_FLOAT_OUTPUTS, F))
    out.update(zip(_BOOL_OUTPUTS, B))
    out.update(zip(RESOLVED, F[O_RESOLVED:]))
    for code, name in ((FAILED_ROW, "failed"), (REJECTED, "rejected")):
        rows = np.flatnonzero(I[I_STATUS] == code)
        if rows.size:     # outputs that do not apply to failed or rejected rows are NaN (null)
            for j, k in enumerate(_FLOAT_OUTPUTS):
                if name not in OUTPUT_APPLIES[k]:
                    F[j, rows] = np.nan
    return {k: out[k] for k in (*OUTPUTS, *RESOLVED)}


# ----------------------------------------------------------------------------- array API

def simulate(columns: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]] | None = None,
             detail: bool = False, profiles: Mapping[str, Policy] | None = None) -> dict[str, Any]:
    """Simulate N live migrations.

    Parameters
    ----------
    columns : mapping
        Input columns (``models.fields.INPUTS`` column names, SI units) to arrays of length N or
        scalars. Missing columns take their defaults (global, or the profile's).
    overrides : mapping, optional
        Profile name to policy-field overrides (``{"hyperv-2012": {"max_rounds": 20}}``).
    detail : bool
        Also return ``"rounds"``: per point, the list of :class:`models.precopy.Detail` passes.
    profiles : mapping, optional
        Custom profiles: name to :class:`~models.policy.Policy` (``get_profile(base, **fields)``,
        or a profile file read by ``runner.profiles``); the ``profile`` column may then hold these
        names besides the shipped ones.

    Returns
    -------
    dict
        Every column of ``models.fields.OUTPUTS`` as an array of length N: float outputs that do
        not apply to a row (``models.fields.null_mask``: the downtime of a failed migration, all of
        a rejected one) are NaN; integer and boolean ones hold 0/False there and are null in
        results. Then the inputs the profile resolves (``models.fields.RESOLVED``: ``wws_bytes``,
        ``downtime_limit_ms``, ...) with the value each point used (NaN: unknown profile).

    Raises
    ------
    ParameterError
        Only for malformed arguments (unknown columns, mismatched lengths, columns of the wrong
        type — text, objects, datetimes, complex numbers —, bad overrides); bad values become
        ``rejected`` rows.
    """
    if detail:
        prep = prepare(columns, overrides, profiles)
        st, details = precopy.run(prep.cfg, detail=True)
        out = assemble(prep, st)
        per_point: list[list[precopy.Detail]] = [[] for _ in range(prep.n)]
        for j, i in enumerate(prep.idx):
            per_point[i] = details[j]
        out["rounds"] = per_point
        return out
    pols = _policies(overrides, profiles)
    names = _profile_names(pols)
    POL, TR = _tables(pols)
    inp = resolve_inputs(columns)
    n = inp.n
    F, B, I = _results(n)  # noqa: E741
    constant = _constant_rows(inp)
    X = _padded(len(INPUTS), min(n, CHUNK))
    _fill_inputs(X, inp, 0, np.flatnonzero(constant), names)
    varying = np.flatnonzero(~constant)
    scratch = (np.empty((BLOCK, N_CONFIG)), np.empty((BLOCK, N_STATE)),
               np.empty((BLOCK, N_PREPARED)), np.empty(N_SCRATCH))
    for s in range(0, n, CHUNK):
        Xs = X[:, :min(CHUNK, n - s)]
        _fill_inputs(Xs, inp, s, varying, names)
        _simulate_rows(Xs, _domain_codes(Xs, constant), POL, TR, F, B, I, s, *scratch)
    reject, pcode = I[I_REJECT], I[I_PCODE]
    return _outputs(F, B, I, pols, lambda rows: _reject_messages(
        reject[rows], rows, inp.columns, pcode[rows], pols))


@dataclass(frozen=True)
class Prepared:
    """Everything about N migrations that does not depend on how pre-copy unfolds.

    ``simulate`` runs the pre-copy at the stream's own rate; the scenario engine runs it with the
    bandwidth share each stream really gets, then both call :func:`assemble`.
    """

    n: int
    columns: Mapping[str, np.ndarray]   # resolved input columns
    reason: np.ndarray                  # rejection reasons (object; "" when not rejected)
    idx: np.ndarray                     # points whose memory moves (rows of ``cfg``)
    cfg: precopy.Config                 # pre-copy configuration of those points
    pols: tuple[Policy, ...]
    ok: np.ndarray                      # not rejected
    moves_memory: np.ndarray
    moves_disk: np.ndarray
    storage_only: np.ndarray
    shared_nothing: np.ndarray
    is_iterative: np.ndarray
    storage_forced: np.ndarray          # iterative storage copy hit its pass cap
    same_subnet: np.ndarray
    pcode: np.ndarray                   # profile index into ``pols`` (PROFILES, then custom ones)
    reject: np.ndarray                  # rejection code (0: accepted)
    rates_wire_Bps: np.ndarray          # stream's idle-link wire rate
    precopy_Bps: np.ndarray             # stream's pre-copy rate (cap and mirror applied)
    switchover_Bps: np.ndarray          # stream's stop-and-copy rate on an idle link
    wire_page: np.ndarray               # wire bytes per page
    mem_cap_pps: np.ndarray             # pages/s bound from compression CPU
    storage_s: np.ndarray               # storage phase on an idle path
    storage_bytes: np.ndarray           # disk bytes the storage phase copies
    mirror_bytes: np.ndarray            # mirrored writes during the storage phase
    mirror_write_Bps: np.ndarray        # mirrored guest writes that keep flowing during pre-copy
    storage_final_s: np.ndarray         # storage copy with the VM suspended
    setup_s: np.ndarray
    trace_s: np.ndarray
    stop_s: np.ndarray
    resume_s: np.ndarray
    max_switchover_s: np.ndarray
    trace_slowdown_pct: np.ndarray
    rtt_ms: np.ndarray
    disk_throttle_pct: np.ndarray       # guest disk writes held back by the synchronous mirror
    # the inputs the profile resolves, as used (models.fields.RESOLVED)
    wws_bytes: np.ndarray
    dirty_phase: np.ndarray
    efficiency: np.ndarray
    stream_cap_Bps: np.ndarray
    max_bandwidth_Bps: np.ndarray
    downtime_limit_ms: np.ndarray
    device_state_bytes: np.ndarray
    disk_wws_bytes: np.ndarray


def prepare(columns: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]] | None = None,
            profiles: Mapping[str, Policy] | None = None) -> Prepared:
    """Resolve inputs, apply the profile's refusals, the link and the storage phase.

    Parameters
    ----------
    columns, overrides, profiles
        As for :func:`simulate`.

    Returns
    -------
    Prepared
    """
    inp = resolve_inputs(columns)
    pols = _policies(overrides, profiles)
    POL, TR = _tables(pols)
    n = inp.n
    C = np.empty((n, N_CONFIG))
    E = np.empty((n, N_PREPARED))
    X = _padded(len(INPUTS), n)
    _fill_inputs(X, inp, 0, range(len(INPUTS)), _profile_names(pols))
    if n:
        _prepare_all(X, _domain_codes(X, _constant_rows(inp)), POL, TR, C, E)
    per_point = {k: (E[:, j] != 0.0 if k in _BOOL_PREPARED else E[:, j].copy())
                 for j, k in enumerate(_PREPARED_FIELDS)}
    per_point["pcode"] = per_point["pcode"].astype(np.int64)
    per_point["reject"] = per_point["reject"].astype(np.int64)
    reason = np.full(n, "", dtype=object)
    bad = np.flatnonzero(per_point["reject"])
    if bad.size:
        reason[bad] = _reject_messages(per_point["reject"][bad], bad, inp.columns,
                                       per_point["pcode"][bad], pols)
    idx = np.flatnonzero(per_point["moves_memory"])
    return Prepared(n=n, columns=inp.columns, reason=reason, idx=idx,
                    cfg=precopy.Config.from_packed(C[idx]), pols=tuple(pols), **per_point)


def switchover(prep: Prepared, rows: np.ndarray, final_pages: np.ndarray,
               rate_Bps: np.ndarray) -> Switchover:
    """The stop-and-copy of some points at given wire rates, as :func:`assemble` computes it.

    Parameters
    ----------
    prep : Prepared
    rows : ndarray of int
        Points (indices into ``prep``).
    final_pages : ndarray
        Pages pending when the guest stops.
    rate_Bps : ndarray
        Wire rate of the stop-and-copy, bytes/s.

    Returns
    -------
    Switchover
    """
    mm = prep.moves_memory[rows]
    return switch_over(np.where(mm, final_pages, 0.0), prep.wire_page[rows],
                       np.where(mm, rate_Bps, 1.0), prep.mem_cap_pps[rows],
                       np.where(mm, prep.device_state_bytes[rows], 0.0), prep.stop_s[rows],
                       prep.resume_s[rows], prep.storage_final_s[rows], prep.max_switchover_s[rows])


def assemble(prep: Prepared, st: precopy.State, storage_s: np.ndarray | None = None,
             switchover_Bps: np.ndarray | None = None) -> dict[str, Any]:
    """Turn pre-copy outcomes into result rows.

    Parameters
    ----------
    prep : Prepared
    st : precopy.State
        Final pre-copy state of the points ``prep.idx`` (status not RUNNING).
    storage_s : ndarray, optional
        Storage phase durations actually achieved (scenario engine); default: idle-path times.
    switchover_Bps : ndarray, optional
        Stop-and-copy wire rates actually available; default: the idle-link rates.

    Returns
    -------
    dict
        Every column of ``models.fields.OUTPUTS``.
    """
    n = prep.n
    E = np.stack([np.broadcast_to(np.asarray(getattr(prep, k), dtype=np.float64), (n,))
                  for k in _PREPARED_FIELDS], axis=1)
    S = np.zeros((n, N_STATE))
    S[:, S_STATUS] = CONVERGED
    S[prep.idx] = st.packed()
    f64 = lambda a, default: np.ascontiguousarray(  # noqa: E731
        np.broadcast_to(default if a is None else a, (n,)), dtype=np.float64)
    F, B, I = _results(n)  # noqa: E741
    if n:
        _assemble_all(E, S, f64(storage_s, prep.storage_s), f64(switchover_Bps, prep.switchover_Bps),
                      F, B, I)
    return _outputs(F, B, I, list(prep.pols), lambda rows: prep.reason[rows])


def result_row(columns: Mapping[str, Any], out: Mapping[str, Any], i: int = 0) -> dict[str, Any]:
    """Point ``i`` as one flat row: every input column (the value used) then every output.

    The same columns as a result row of a sweep (without ``point_id`` and ``seed``). Outputs that
    do not apply to the row's status are ``None``; byte counts and whole numbers are ``int``;
    choices are strings; infinities stay ``float('inf')``.

    Parameters
    ----------
    columns : mapping
        The input columns given to :func:`simulate` (column units).
    out : mapping
        What :func:`simulate` returned.
    i : int
        The point.
    """
    inp = resolve_inputs(columns).columns
    status = str(out["status"][i])
    row: dict[str, Any] = {}
    for f in INPUTS:
        v = out[f.column][i] if f.column in RESOLVED else inp[f.column][i]
        row[f.column] = _plain(f.column, v, f.kind == "count")
    for k in OUTPUTS:
        if status not in OUTPUT_APPLIES[k]:
            row[k] = None
        else:
            row[k] = _plain(k, out[k][i], k == "precopy_rounds")
    return row


def _plain(name: str, v: Any, whole: bool) -> Any:
    """A NumPy scalar as plain Python: NaN as None, bytes and counts as int."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isfinite(v) and (whole or name.endswith("_bytes")):
            return int(round(v))
    return v


def migrate(**inputs: Any) -> dict[str, Any]:
    """One what-if with human units, for notebooks: ``migrate(memory="16GiB", link="10GbE")``.

    Parameters
    ----------
    **inputs
        Canonical input names (``models.fields.INPUTS``) with human values: numbers in the
        column's unit or strings with units (``"200MB/s"``, ``"300ms"``, ``300`` = 300 ms for
        ``downtime_limit``), the same rule as the CLI and sweep specs; ``overrides`` may map a
        profile name to policy-field overrides; ``profiles`` may map custom profile names to
        :class:`~models.policy.Policy` records (``profile=`` may then name one of them).

    Returns
    -------
    dict
        The result row (:func:`result_row`: every input column as used, then every output; ``None``
        where an output does not apply) plus ``rounds``, the list of passes.

    Raises
    ------
    ParameterError
        Naming the input, the value and what is allowed.
    """
    overrides = inputs.pop("overrides", None)
    profiles = inputs.pop("profiles", None)
    custom = inputs.get("profile") if profiles and inputs.get("profile") in profiles else None
    if custom is not None:
        inputs.pop("profile")
    cols = parse_inputs(inputs)
    if custom is not None:
        cols["profile"] = custom
    out = simulate(cols, overrides=overrides, detail=True, profiles=profiles)
    row = result_row(cols, out)
    row["rounds"] = out["rounds"][0]
    return row


def parse_inputs(values: Mapping[str, Any], name: Callable[[str], str] = str) -> dict[str, Any]:
    """Human values by canonical input name to input columns (column units).

    Parameters
    ----------
    values : mapping
        Canonical input name to what the user wrote; ``None`` values are left out (not given).
    name : callable
        How to name an input in errors (the CLI passes ``--flag`` names).

    Raises
    ------
    ParameterError
        For an unknown name or a bad value, naming it, the value and what is allowed.
    """
    by_name = {f.name: f for f in INPUTS}
    given = {k: v for k, v in values.items() if v is not None}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ParameterError(name(unknown[0]), given[unknown[0]],
                             "an input: " + ", ".join(name(k) for k in by_name))

    def parse(f: Any, v: Any, page: float = 4096.0) -> Any:
        try:
            return f.parse(v, page)
        except ParameterError as exc:
            raise ParameterError(name(f.name), exc.value, exc.allowed) from None

    page = parse(by_name["page_size"], given["page_size"]) if "page_size" in given else 4096.0
    return {by_name[k].column: parse(by_name[k], v, page) for k, v in given.items()}
