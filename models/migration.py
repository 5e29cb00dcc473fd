"""One live migration, end to end, for N points at once.

Composes the mechanisms in phase order (DESIGN.md §2): setup (fixed per profile), storage (shared:
nothing; mirror / iterative: a storage-only migration, the VM stays on its host and only a local
fast suspend/resume follows; shared-nothing: the disk is mirrored over the migration network first
and the mirror keeps running while memory moves), guest trace (time per GiB of memory), memory
pre-copy, switch-over, network. Inputs are the canonical columns of ``models.fields``; outputs are
``models.fields.OUTPUTS``. Points that the profile refuses (slow link, long RTT, too many NICs,
another subnet, an unavailable transport) or whose inputs are out of domain or contradictory come back
as ``rejected`` rows; points whose pre-copy cannot finish, or whose switch-over exceeds the profile's
maximum, come back as ``failed`` rows; both with a reason. Nothing raises for a bad point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from models import precopy, storage
from models.errors import ParameterError
from models.fields import INPUTS, INPUT_BY_COLUMN, OUTPUTS
from models.link import stream_rates
from models.policy import PROFILES, REMEDIES, Policy, get_profile
from models.switchover import Switchover, connections_preserved, switch_over

GIB = 2.0**30
CHUNK = 1 << 15   # points per vectorised block inside simulate()


def _length(columns: Mapping[str, Any]) -> int:
    n = 1
    for v in columns.values():
        if np.ndim(v) == 1:
            n = max(n, len(v))
    return n


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
    """Index of each string in ``names`` (-1 when absent)."""
    n = values.shape[0]
    lut = {name: i for i, name in enumerate(names)}
    if n and values.strides == (0,):
        code = lut.get(values[0], -1) if isinstance(values[0], str) else -1
        return np.broadcast_to(np.int64(code), (n,))
    out = np.full(n, -1, dtype=np.int64)
    for i, name in enumerate(names):
        out[values == name] = i
    return out


def _out_of_domain(f: Any, x: np.ndarray) -> np.ndarray:
    """Points whose value of numeric field ``f`` lies outside its domain (NaN = profile default)."""
    with np.errstate(invalid="ignore"):
        bad = (x < f.lo) | (x > f.hi) | (np.isinf(x) & ~(np.isinf(f.hi) & (x > 0)))
        if f.lo_open:
            bad |= x == f.lo
        if f.kind == "count":
            bad |= np.floor(x) != x
    if f.default is not None:
        bad |= np.isnan(x)
    else:
        bad &= ~np.isnan(x)
    return bad


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
    n = 1
    for k, v in columns.items():
        if k not in INPUT_BY_COLUMN:
            raise ParameterError(k, "(column)", "an input column: " + ", ".join(INPUT_BY_COLUMN))
        a = np.asarray(v)
        if a.ndim > 1:
            raise ParameterError(k, f"array of shape {a.shape}", "a scalar or a 1-d array")
        if a.ndim == 1:
            if n != 1 and a.shape[0] != n:
                raise ParameterError(k, f"length {a.shape[0]}", f"length {n} like the other columns")
            n = a.shape[0]
    out: dict[str, np.ndarray] = {}
    for f in INPUTS:
        if f.column in columns:
            out[f.column] = _as_array(columns[f.column], n, f.dtype)
        elif f.default is None:
            out[f.column] = np.broadcast_to(np.float64(np.nan), (n,))
        else:
            out[f.column] = _as_array(f.default, n, f.dtype)
    return Inputs(out, n)


def _gather(pols: list[Policy], codes: np.ndarray, attr: str) -> np.ndarray:
    """Policy field ``attr`` of each point's profile (a broadcast view when all share one)."""
    table = np.array([float(getattr(p, attr)) for p in pols] + [math.nan])
    if codes.shape[0] and codes.strides == (0,):
        return np.broadcast_to(table[codes[0]], codes.shape)
    return table[codes]


@dataclass(frozen=True)
class Prepared:
    """Everything about N migrations that does not depend on how pre-copy unfolds.

    ``simulate`` runs the pre-copy at the stream's own rate; the scenario engine runs it with the
    bandwidth share each stream really gets, then both call :func:`assemble`.
    """

    n: int
    columns: Mapping[str, np.ndarray]   # resolved input columns
    ok: np.ndarray                      # not rejected
    reason: np.ndarray                  # rejection reasons (object)
    idx: np.ndarray                     # points whose memory moves (rows of ``cfg``)
    cfg: precopy.Config                 # pre-copy configuration of those points
    policy: Mapping[str, np.ndarray]    # gathered policy fields used after pre-copy
    rates_wire_Bps: np.ndarray          # stream's idle-link wire rate
    precopy_Bps: np.ndarray             # stream's pre-copy rate (cap and mirror applied)
    switchover_Bps: np.ndarray          # stream's stop-and-copy rate on an idle link
    wire_page: np.ndarray
    mem_cap_pps: np.ndarray
    device_bytes: np.ndarray
    moves_memory: np.ndarray
    moves_disk: np.ndarray
    storage_only: np.ndarray
    shared_nothing: np.ndarray
    is_iterative: np.ndarray
    storage_s: np.ndarray               # storage phase on an idle path
    storage_bytes: np.ndarray           # disk bytes the storage phase copies
    mirror_bytes: np.ndarray            # mirrored writes during the storage phase
    mirror_write_Bps: np.ndarray        # mirrored guest writes that keep flowing during pre-copy
    storage_final_s: np.ndarray
    storage_forced: np.ndarray
    setup_s: np.ndarray
    trace_s: np.ndarray
    same_subnet: np.ndarray
    pcode: np.ndarray                   # profile index into models.policy.PROFILES
    pols: tuple[Policy, ...]


def simulate(columns: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]] | None = None,
             detail: bool = False) -> dict[str, Any]:
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

    Returns
    -------
    dict
        Every column of ``models.fields.OUTPUTS`` as an array of length N.

    Raises
    ------
    ParameterError
        Only for malformed arguments (unknown columns, mismatched lengths, bad overrides); bad
        values become ``rejected`` rows.
    """
    n = _length(columns)
    if n > CHUNK and not detail:
        # cache-sized chunks: the same results, without gigabytes of temporaries
        parts = [simulate({k: (v[s:s + CHUNK] if np.ndim(v) else v) for k, v in columns.items()},
                          overrides) for s in range(0, n, CHUNK)]
        return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUTS}
    prep = prepare(columns, overrides)
    st, details = precopy.run(prep.cfg, detail=detail)
    out = assemble(prep, st)
    if detail:
        per_point: list[list[precopy.Detail]] = [[] for _ in range(prep.n)]
        for j, i in enumerate(prep.idx):
            per_point[i] = details[j]
        out["rounds"] = per_point
    return out


def prepare(columns: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]] | None = None
            ) -> Prepared:
    """Resolve inputs, apply the profile's refusals, the link and the storage phase.

    Parameters
    ----------
    columns, overrides
        As for :func:`simulate`.

    Returns
    -------
    Prepared
    """
    inp = resolve_inputs(columns)
    c = inp.columns
    n = inp.n
    reason = np.full(n, "", dtype=object)
    rejected = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, why: Any) -> None:
        """Mark ``mask`` rejected with ``why``: a string, an array, or a callable giving one."""
        sel = mask & ~rejected
        if sel.any():
            why = why() if callable(why) else why
            reason[sel] = why if isinstance(why, str) else np.broadcast_to(why, (n,))[sel]
            rejected[sel] = True

    # --- categorical inputs
    cat: dict[str, np.ndarray] = {}
    for f in INPUTS:
        if f.kind == "choice":
            cat[f.name] = _codes(c[f.column], f.choices)
            bad = cat[f.name] < 0
            if bad.any():
                shown = np.array([f"{f.name}: invalid value {v!r}; allowed: {f.allowed()}"
                                  for v in c[f.column][bad]], dtype=object)
                full = np.full(n, "", dtype=object)
                full[bad] = shown
                reject(bad, full)
    # --- numeric domains (a scalar broadcast to every point is checked once)
    for f in INPUTS:
        if f.kind in ("choice", "bool"):
            continue
        x = c[f.column]
        if n and x.strides == (0,):
            x = x[:1]
        bad = _out_of_domain(f, x)
        if bad.any():
            if bad.shape[0] != n:
                bad = np.broadcast_to(bad, (n,))
                x = np.broadcast_to(x, (n,))
            msgs = np.full(n, "", dtype=object)
            msgs[bad] = [f"{f.name}: invalid value {v:g}; allowed: {f.allowed()}" for v in x[bad]]
            reject(bad, msgs)

    pcode = cat["profile"]
    pcode = (np.broadcast_to(max(pcode[0], 0), (n,)) if n and pcode.strides == (0,)
             else np.where(pcode >= 0, pcode, 0))
    pols = [get_profile(name, **dict((overrides or {}).get(name, {}))) for name in PROFILES]

    def g(attr: str) -> np.ndarray:
        return _gather(pols, pcode, attr)

    # --- profile defaults
    def dflt(col: str, attr: str, scale: float = 1.0) -> np.ndarray:
        x = c[col]
        return np.where(np.isnan(x), g(attr) * scale, x)

    memory = c["memory_bytes"]
    ps = c["page_size_bytes"]
    downtime_limit_s = dflt("downtime_limit_ms", "downtime_limit_ms") / 1e3
    device = dflt("device_state_bytes", "device_state_bytes")
    max_bw = dflt("max_bandwidth_Bps", "max_bandwidth_Bps")
    zero_frac = c["zero_fraction"]
    wws_b = c["wws_bytes"]
    hot_b = c["hot_set_bytes"]
    nonzero_b = memory * (1.0 - zero_frac)
    wws_b = np.where(np.isnan(wws_b), np.maximum(nonzero_b - hot_b, 0.0), wws_b)
    disk = c["disk_bytes"]
    disk_wws = np.where(np.isnan(c["disk_wws_bytes"]), disk, c["disk_wws_bytes"])

    reject(wws_b + hot_b > nonzero_b * (1 + 1e-9),
           "wws: wws + hot_set exceed the memory that is not zero pages "
           "(memory x (1 - zero_fraction)); lower wws, hot_set or zero_fraction")
    reject(disk_wws > disk * (1 + 1e-9), "disk_wws: exceeds disk")
    reject(memory < ps, "memory: smaller than one page (page_size)")
    st_code = cat["storage"]
    moves_disk = (st_code >= 1)
    reject(moves_disk & (disk <= 0), "storage: moving storage needs disk > 0")

    # --- transport per (profile, transport)
    tcode = np.where(cat["transport"] >= 0, cat["transport"], 0)
    tnames = INPUT_BY_COLUMN["transport"].choices
    tr_fields = ("efficiency", "stream_cap_Bps", "multichannel", "compress", "compress_Bps")
    tr = {k: np.full(n, np.nan) for k in tr_fields}
    for pi, pol in enumerate(pols):
        for ti, tname in enumerate(tnames):
            sel = (pcode == pi) & (tcode == ti)
            if not sel.any():
                continue
            key = pol.default_transport if tname == "default" else tname
            if key not in pol.transports:
                reject(sel, f"transport: {tname!r} is not available for {pol.name}; allowed: default, "
                       + ", ".join(pol.transports))
                continue
            t = pol.transports[key]
            for k in tr_fields:
                tr[k][sel] = float(getattr(t, k))
    efficiency = np.where(np.isnan(c["efficiency"]), tr["efficiency"], c["efficiency"])
    stream_cap = np.where(np.isnan(c["stream_cap_Bps"]), tr["stream_cap_Bps"], c["stream_cap_Bps"])
    link_bps = c["link_bps"]
    ten_g = link_bps >= 10e9
    max_nics = np.where(ten_g, g("max_nics_10g"), g("max_nics"))
    multichannel = tr["multichannel"] == 1.0
    nics = c["nics"]

    # --- what the profile refuses (messages per profile, built only when something is refused)
    def per_profile(template: str) -> Any:
        return lambda: np.array([template.format(p=p, gbps=p.min_link_bps / 1e9) for p in pols],
                                dtype=object)[pcode]

    reject(link_bps < g("min_link_bps"),
           per_profile("link: {p.name} needs links of at least {gbps:g} Gbit/s"))
    reject(c["rtt_ms"] > g("max_rtt_ms"), per_profile("rtt: {p.name} allows at most {p.max_rtt_ms:g} ms"))
    reject(multichannel & (nics > max_nics),
           per_profile("nics: {p.name} uses at most {p.max_nics:g} NICs below 10 Gbit/s and "
                       "{p.max_nics_10g:g} at 10 Gbit/s or more"))
    same_subnet = c["same_subnet"].astype(bool)
    reject(~same_subnet & (g("refuses_cross_subnet") == 1.0),
           per_profile("same_subnet: {p.name} requires the destination on the VM's L2 subnet"))
    reject(c["auto_converge"].astype(bool) & (pcode != list(PROFILES).index("qemu")),
           "auto_converge: only the qemu profile has auto-converge")

    ok = ~rejected
    nanfix = lambda a, v: np.where(ok, a, v)  # noqa: E731  keep rejected rows finite
    rates = stream_rates(nanfix(link_bps, 1e9), nanfix(nics, 1.0), nanfix(efficiency, 1.0),
                         nanfix(stream_cap, np.inf), nanfix(c["rtt_ms"], 0.0),
                         g("tcp_window_bytes"), multichannel, nanfix(max_nics, 1.0),
                         nanfix(max_bw, np.inf), g("cap_lifted_in_switchover") == 1.0,
                         tr["compress"] == 1.0, nanfix(c["compressibility"], 1.0),
                         nanfix(tr["compress_Bps"], np.inf))

    # an adaptive rate (Xen) sends the final round at its maximum (Clark 2005 §5.3)
    switchover_Bps = np.where(g("adaptive_rate") == 1.0,
                              np.minimum(rates.switchover_Bps, g("rate_max_bps") / 8.0),
                              rates.switchover_Bps)

    # --- storage phase
    shared_nothing = st_code == STORAGE_SHARED_NOTHING
    storage_only = (st_code == STORAGE_MIRROR) | (st_code == STORAGE_ITERATIVE)
    copy_rate = np.where(shared_nothing, np.minimum(c["storage_rate_Bps"], rates.precopy_Bps),
                         c["storage_rate_Bps"])
    copy_rate = nanfix(copy_rate, 1.0)
    disk_ok = np.where(ok & moves_disk, disk, 0.0)
    mir = storage.mirror(np.where(st_code != STORAGE_ITERATIVE, disk_ok, 0.0),
                         nanfix(c["disk_write_rate_Bps"], 0.0), copy_rate, g("mirror_max_share"))
    itr = storage.iterative(np.where(st_code == STORAGE_ITERATIVE, disk_ok, 0.0),
                            nanfix(c["disk_write_rate_Bps"], 0.0), nanfix(disk_wws, 0.0), copy_rate,
                            nanfix(downtime_limit_s, 0.5), g("storage_max_rounds"))
    is_itr = st_code == STORAGE_ITERATIVE
    storage_s = np.where(is_itr, itr.time_s, mir.time_s)
    storage_bytes = np.where(is_itr, itr.copied_bytes, mir.copied_bytes)
    mirror_bytes = np.where(is_itr, 0.0, mir.mirror_bytes)
    mirror_w = np.where(shared_nothing, mir.mirror_write_Bps, 0.0)
    storage_final_s = np.where(is_itr, itr.final_s, 0.0)

    # --- memory pre-copy (memory moves unless this is a storage-only migration)
    moves_memory = ok & ~storage_only
    pages_total = np.floor(memory / ps)
    pages_nonzero = np.ceil(nonzero_b / ps)
    pages_zero = np.maximum(pages_total - pages_nonzero, 0.0)
    wire_page = (ps + g("page_header_bytes")) * rates.wire_factor
    mem_cap_pps = rates.memory_cap_Bps / ps
    # the mirror takes at most mirror_max_share of the copy path, so memory keeps the rest
    pre_rate = rates.precopy_Bps - mirror_w
    remedy_names = list(REMEDIES)
    remedy = np.array([remedy_names.index(p.remedy) for p in pols])[pcode]
    ac_on = c["auto_converge"].astype(bool)
    remedy = np.where(ac_on, precopy.AUTO_CONVERGE, remedy)
    remedy = np.where((remedy == precopy.SDPS) & ~c["sdps"].astype(bool), precopy.FORCE, remedy)
    pct = 1e-2
    idx = np.flatnonzero(moves_memory)
    cfg = precopy.Config.build(
        len(idx),
        pages_nonzero=pages_nonzero[idx], pages_zero=pages_zero[idx],
        wws=(wws_b / ps)[idx], page_bytes=ps[idx], wire_page=wire_page[idx],
        wire_zero=g("zero_page_bytes")[idx],
        scan_s=(pages_zero * ps / g("scan_Bps"))[idx],
        dirty_pps=np.where(wws_b > 0, c["dirty_rate_Bps"] / ps, 0.0)[idx],
        hot=(hot_b / ps)[idx], hot_pps=np.where(hot_b > 0, c["hot_rate_Bps"] / ps, 0.0)[idx],
        sequential=(cat["dirty_pattern"] == 1)[idx],
        rate_Bps=pre_rate[idx], burst_Bps=rates.wire_Bps[idx], mem_cap_pps=mem_cap_pps[idx],
        window_s=g("rate_window_s")[idx], check_s=g("check_interval_s")[idx],
        limit_s=downtime_limit_s[idx], min_pages=g("min_dirty_pages")[idx],
        max_rounds=g("max_rounds")[idx],
        max_traffic=(g("max_traffic_factor") * memory)[idx],
        growing_rule=(g("stop_if_growing_at_max_rate") == 1.0)[idx],
        rate_rule=(g("stop_if_rate_exceeds_max") == 1.0)[idx], remedy=remedy[idx],
        sdps_shrink=g("sdps_shrink")[idx], sdps_target=g("sdps_target")[idx],
        ac_initial=(g("ac_initial_pct") * pct)[idx], ac_increment=(g("ac_increment_pct") * pct)[idx],
        ac_max=(g("ac_max_pct") * pct)[idx], ac_ratio=g("ac_trigger_ratio")[idx],
        ac_period_s=g("ac_period_s")[idx], adaptive=(g("adaptive_rate") == 1.0)[idx],
        rate_initial_Bps=(g("rate_initial_bps") / 8.0)[idx],
        rate_increment_Bps=(g("rate_increment_bps") / 8.0)[idx],
        rate_max_Bps=(g("rate_max_bps") / 8.0)[idx], skip=(g("skip_redirtied") == 1.0)[idx],
        timeout_s=c["timeout_s"][idx],
    )
    return Prepared(
        n=n, columns=c, ok=ok, reason=reason, idx=idx, cfg=cfg,
        policy={k: g(k) for k in ("stop_s", "resume_s", "max_switchover_s",
                                  "trace_slowdown_pct")},
        rates_wire_Bps=rates.wire_Bps, precopy_Bps=pre_rate, switchover_Bps=switchover_Bps,
        wire_page=wire_page, mem_cap_pps=mem_cap_pps, device_bytes=device,
        moves_memory=moves_memory, moves_disk=moves_disk, storage_only=storage_only,
        shared_nothing=shared_nothing, is_iterative=is_itr, storage_s=storage_s,
        storage_bytes=storage_bytes, mirror_bytes=mirror_bytes, mirror_write_Bps=mirror_w,
        storage_final_s=storage_final_s, storage_forced=ok & is_itr & itr.forced,
        setup_s=g("setup_s"), trace_s=np.where(moves_memory, g("trace_s_per_gib") * memory / GIB, 0.0),
        same_subnet=same_subnet, pcode=pcode, pols=tuple(pols))


def switchover(prep: Prepared, rows: np.ndarray, final_pages: np.ndarray,
               rate_Bps: np.ndarray) -> Switchover:
    """The stop-and-copy of some points at given wire rates.

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
    g = {k: np.broadcast_to(v, (prep.n,))[rows] for k, v in prep.policy.items()}
    return switch_over(np.where(mm, final_pages, 0.0), prep.wire_page[rows],
                       np.where(mm, rate_Bps, 1.0), prep.mem_cap_pps[rows],
                       np.where(mm, prep.device_bytes[rows], 0.0), g["stop_s"], g["resume_s"],
                       prep.storage_final_s[rows], g["max_switchover_s"])


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
    n, idx, ok, c = prep.n, prep.idx, prep.ok, prep.columns
    moves_memory, moves_disk = prep.moves_memory, prep.moves_disk
    pols, pcode = list(prep.pols), prep.pcode
    storage_s = prep.storage_s if storage_s is None else storage_s
    rejected = ~ok
    reason = prep.reason
    is_itr, shared_nothing, storage_only = prep.is_iterative, prep.shared_nothing, prep.storage_only
    mirror_w = prep.mirror_write_Bps
    same_subnet = prep.same_subnet
    storage_bytes = prep.storage_bytes
    mirror_bytes = prep.mirror_bytes

    def g(attr: str) -> np.ndarray:
        return prep.policy[attr]

    def scatter(a: np.ndarray, fill: float = 0.0, dtype: Any = float) -> np.ndarray:
        out = np.full(n, fill, dtype=dtype)
        out[idx] = a
        return out

    status_code = scatter(st.status, precopy.CONVERGED, np.int64)
    reason_code = scatter(st.reason, precopy.R_NONE, np.int64)
    final_pages = scatter(st.pending)
    precopy_s = scatter(st.t)
    mem_bytes = scatter(st.mem_bytes)
    rounds = scatter(st.seg, 0, np.int64)
    max_theta = scatter(st.max_theta)

    # --- switch-over
    sw = switchover(prep, np.arange(n), final_pages,
                    prep.switchover_Bps if switchover_Bps is None else switchover_Bps)
    trace_s = prep.trace_s
    setup_s = prep.setup_s
    total = setup_s + storage_s + trace_s + precopy_s + sw.downtime_s
    mirror_bytes = mirror_bytes + mirror_w * (trace_s + precopy_s + sw.downtime_s)

    failed_pre = status_code == precopy.FAILED
    failed = ok & (failed_pre | (moves_memory & sw.too_long))
    status = _STATUS_TABLE[np.where(rejected, 2, np.where(failed, 1, 0))]
    reason = _REASON_TABLE[np.where(ok, reason_code, 0)]
    too_long = ok & sw.too_long & ~failed_pre
    if too_long.any():
        reason[too_long] = np.array([f"switch-over would exceed the maximum of {p.max_switchover_s:g} "
                                     "s; the VM stays on the source" for p in pols],
                                    dtype=object)[np.broadcast_to(pcode, (n,))[too_long]]
    storage_forced = prep.storage_forced
    patch = storage_forced & ~failed & (reason_code == precopy.R_NONE)
    if patch.any():
        reason[patch] = "storage pass limit reached: the rest copied with the VM suspended"
    if rejected.any():
        reason[rejected] = prep.reason[rejected]
    converged = ok & (status_code == precopy.CONVERGED) & ~failed
    forced = ok & (status_code == precopy.FORCED) & ~failed
    done = ok & ~failed
    zero = np.zeros(n)
    z = lambda a: np.where(ok, a, 0.0)  # noqa: E731
    downtime_ms = np.where(done, sw.downtime_s * 1e3, 0.0)
    out: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "total_time_s": np.where(done, total, np.where(failed, z(total - sw.downtime_s), 0.0)),
        "downtime_ms": downtime_ms,
        "memory_transferred_bytes": z(mem_bytes + np.where(done, sw.final_bytes, 0.0)),
        "storage_transferred_bytes": z(storage_bytes),
        "mirror_transferred_bytes": z(mirror_bytes),
        "device_transferred_bytes": np.where(done, sw.device_bytes, 0.0),
        "precopy_rounds": np.where(ok, rounds, 0),
        "converged": converged,
        "forced": forced | storage_forced,
        "final_round_bytes": np.where(done, sw.final_bytes, 0.0),
        "max_throttle_pct": z(max_theta * 100.0),
        "connections_preserved": done & (storage_only | connections_preserved(same_subnet)),
        "setup_s": z(setup_s),
        "storage_s": z(storage_s),
        "trace_s": z(trace_s),
        "precopy_s": z(precopy_s),
        "switchover_s": np.where(done, sw.downtime_s, 0.0),
        "trace_slowdown_pct": np.where(ok & moves_memory, g("trace_slowdown_pct"), 0.0),
        "write_latency_penalty_ms": np.where(ok & moves_disk & ~is_itr,
                                             np.where(shared_nothing, c["rtt_ms"], 0.0), 0.0),
        "effective_rate_Bps": np.where(moves_memory, prep.precopy_Bps, zero),
    }
    out["transferred_bytes"] = (out["memory_transferred_bytes"] + out["storage_transferred_bytes"]
                                + out["mirror_transferred_bytes"] + out["device_transferred_bytes"])
    return {k: out[k].astype(OUTPUTS[k][0], copy=False) for k in OUTPUTS}


STORAGE_SHARED, STORAGE_MIRROR, STORAGE_ITERATIVE, STORAGE_SHARED_NOTHING = range(4)
_STATUS_TABLE = np.array(["completed", "failed", "rejected"], dtype=object)
_REASON_TABLE = np.array([precopy.REASONS[k] for k in sorted(precopy.REASONS)], dtype=object)


def migrate(**inputs: Any) -> dict[str, Any]:
    """One what-if with human units, for notebooks: ``migrate(memory="16GiB", link="10GbE")``.

    Parameters
    ----------
    **inputs
        Canonical input names (``models.fields.INPUTS``) with human values (``"200MB/s"``,
        ``"300ms"``, ``True``); ``overrides`` may map a profile name to policy-field overrides.

    Returns
    -------
    dict
        The result row (canonical output names) plus ``rounds``, the list of passes.

    Raises
    ------
    ParameterError
        Naming the input, the value and what is allowed.
    """
    overrides = inputs.pop("overrides", None)
    by_name = {f.name: f for f in INPUTS}
    unknown = sorted(set(inputs) - set(by_name))
    if unknown:
        raise ParameterError(unknown[0], inputs[unknown[0]], "an input: " + ", ".join(by_name))
    page = by_name["page_size"].parse(inputs["page_size"]) if "page_size" in inputs else 4096.0
    cols = {by_name[k].column: by_name[k].parse(v, page) for k, v in inputs.items()}
    out = simulate(cols, overrides=overrides, detail=True)
    row = {k: (v[0].item() if isinstance(v[0], np.generic) else v[0])
           for k, v in out.items() if k != "rounds"}
    row["rounds"] = out["rounds"][0]
    return row
