"""Frontiers (goal-seek): the boundary value of one input under a predicate, for every combination.

``migsim frontier SPEC --find max:dirty_rate --subject-to "downtime_ms <= 500 AND status =
'completed'"`` answers "the highest dirty rate that still meets the goal" for every combination of
the spec's *other* axes at once. The searched input's own axis in the spec (if any) gives the search
bracket ``[min, max]``; else ``--range LO,HI`` (human units), else the field's documented domain
(:mod:`models.fields`).

The search is a vectorised bisection over :func:`models.simulate`: every combination still open
advances together, one model call per step over all of them. Both ends of the bracket are evaluated
first; a combination is then

- ``found`` — feasible at one end, infeasible at the other: bisected until the last feasible and the
  first infeasible value differ by at most ``tol`` (relative; geometric midpoints when both ends are
  positive, so every decade gets the same relative precision; whole numbers for counts);
- ``always_feasible`` — feasible at both ends (the boundary is beyond the bracket: the bracket's far
  end is reported);
- ``never_feasible`` — infeasible at both ends (boundary null);
- ``reversed`` — feasible only at the far end (``max:`` where larger values are *more* feasible:
  ask ``min:`` instead);
- ``non_monotone`` — ``probes`` values spread over the bracket disagree with the boundary (a
  feasible value past it, or an infeasible one before it): the boundary found is one of several.

The predicate is Polars SQL (the grammar of ``migsim query``) over the rows a sweep would write
(:data:`runner.storage.schema.SCHEMA`: every input column and every output, nulls where an output
does not apply); a null verdict (``downtime_ms <= 500`` of a failed migration) is infeasible.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pyarrow as pa

from models.errors import MigsimError
from models.fields import INPUT_BY_COLUMN, INPUT_BY_NAME, INPUTS, OUTPUTS, RESOLVED, Field
from runner.errors import QueryError

#: Relative tolerance of a boundary by default: 0.1 % (the model's own agreement with QEMU is a few
#: per cent, so finer is noise; assumed).
DEFAULT_TOL = 1e-3
#: Bisection steps at most (2^-200 of a bracket is far below any tolerance; a guard, not a limit).
MAX_STEPS = 200
#: Probe values per combination for the non-monotonicity check by default.
DEFAULT_PROBES = 8
#: Outputs kept for each side of the boundary (last feasible, first infeasible point).
SIDE_OUTPUTS = ("status", "reason", "total_time_s", "downtime_ms", "transferred_bytes",
                "precopy_rounds")
OUTCOMES = ("found", "always_feasible", "never_feasible", "reversed", "non_monotone")
#: Numeric kinds of input a frontier may search.
SEARCHABLE = ("size", "rate", "link", "duration", "count", "fraction", "ratio")
#: The table a frontier run writes.
TABLE = "frontier"


class FrontierError(QueryError):
    """A frontier request that cannot be answered (bad --find, --range, predicate, spec axis)."""


# ----------------------------------------------------------------------------- the request

@dataclass(frozen=True)
class Goal:
    """What to find: ``max`` or ``min`` of an input."""

    sense: str          # "max" | "min"
    field: Field

    @property
    def text(self) -> str:
        return f"{self.sense}:{self.field.name}"


def parse_find(text: str) -> Goal:
    """``max:dirty_rate`` / ``min:link`` (a canonical input name or its column) → :class:`Goal`.

    Raises
    ------
    FrontierError
        One line naming the value and what is allowed.
    """
    allowed_fields = [f.name for f in INPUTS if f.kind in SEARCHABLE]
    sense, sep, name = str(text).strip().partition(":")
    if not sep or sense not in ("max", "min"):
        raise FrontierError(f"--find: invalid value {text!r}; allowed: max:FIELD or min:FIELD "
                            f"(e.g. max:dirty_rate, min:link)")
    f = INPUT_BY_NAME.get(name.strip()) or INPUT_BY_COLUMN.get(name.strip())
    if f is None or f.kind not in SEARCHABLE:
        raise FrontierError(f"--find: invalid field {name.strip()!r}; allowed: a numeric input: "
                            + ", ".join(allowed_fields))
    return Goal(sense, f)


def parse_range(text: str, f: Field) -> tuple[float, float]:
    """``LO,HI`` in human units (``"1MB/s,2GB/s"``) → column units, checked against the domain."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2 or not all(parts):
        raise FrontierError(f"--range: invalid value {text!r}; allowed: LO,HI in {f.name}'s units "
                            f"(e.g. {f.example or '1,10'})")
    try:
        lo, hi = (float(f.parse(p)) for p in parts)
    except MigsimError as exc:
        raise FrontierError(f"--range: {' '.join(str(exc).split())}") from None
    if not lo < hi:
        raise FrontierError(f"--range: invalid value {text!r}; allowed: LO < HI")
    if math.isinf(hi):
        raise FrontierError(f"--range: invalid value {text!r}; allowed: a finite HI")
    return lo, hi


class Predicate:
    """A SQL boolean expression over result rows, evaluated with Polars SQL.

    Parameters
    ----------
    sql : str
        E.g. ``downtime_ms <= 500 AND status = 'completed'``.

    Raises
    ------
    FrontierError
        On construction, if it reaches outside the rows (file functions), does not parse, names
        an unknown column, or is not boolean — one line.
    """

    def __init__(self, sql: str, where: str = "--subject-to") -> None:
        from runner.storage.query import check_confined
        from runner.storage.schema import SCHEMA

        self.sql = str(sql).strip()
        self.where = where
        if not self.sql:
            raise FrontierError(f"{where}: empty; allowed: a SQL condition on result columns, "
                                f"e.g. \"downtime_ms <= 500 AND status = 'completed'\"")
        if ";" in self.sql:
            raise FrontierError(f"{where}: invalid value {self.sql!r}; allowed: one SQL condition "
                                f"(no ';')")
        try:
            check_confined(self.sql, where)
        except QueryError as exc:
            raise FrontierError(str(exc)) from None
        self(pa.Table.from_batches([], schema=SCHEMA))   # parse and type-check once

    def __call__(self, table: pa.Table) -> np.ndarray:
        """The verdict per row (null → False)."""
        import polars as pl

        df = pl.from_arrow(table)
        try:
            with pl.SQLContext({"results": df}, eager=True, register_globals=False) as ctx:
                got = ctx.execute(f"SELECT ({self.sql}) AS ok FROM results")
        except Exception as exc:  # noqa: BLE001 - Polars raises several kinds; all mean "bad SQL"
            text = " ".join(str(exc).split()) or type(exc).__name__
            m = re.search(r'unable to find column "([^"]+)"', text)
            if m:
                raise FrontierError(f"{self.where}: unknown column {m.group(1)!r} in "
                                    f"{self.sql!r}; allowed: a column of the results (e.g. "
                                    f"status, downtime_ms, total_time_s, transferred_bytes, "
                                    f"memory_bytes; `migsim query RUN` lists them)") from None
            raise FrontierError(f"{self.where}: {self.sql!r}: {text[:300]}; allowed: a SQL "
                                f"condition on result columns (as in migsim query), e.g. "
                                f"\"downtime_ms <= 500 AND status = 'completed'\"") from None
        col = got.get_column("ok")
        if col.dtype != pl.Boolean:
            raise FrontierError(f"{self.where}: {self.sql!r} is a {col.dtype}, not a condition; "
                                f"allowed: a boolean SQL expression such as \"downtime_ms <= 500\"")
        return col.fill_null(False).to_numpy().astype(bool)


# ----------------------------------------------------------------------------- the search

@dataclass
class Side:
    """Values and key outputs at one side of the boundary, per combination (NaN / None: none)."""

    value: np.ndarray
    outputs: dict[str, np.ndarray]

    @classmethod
    def empty(cls, n: int) -> "Side":
        outs: dict[str, np.ndarray] = {}
        for k in (*SIDE_OUTPUTS, *RESOLVED):
            dt = OUTPUTS[k][0] if k in OUTPUTS else np.dtype(np.float64)
            outs[k] = np.full(n, None, dtype=object) if dt == np.dtype(object) else \
                np.full(n, np.nan)
        return cls(np.full(n, np.nan), outs)

    def put(self, rows: np.ndarray, values: np.ndarray, out: Mapping[str, np.ndarray],
            sel: np.ndarray) -> None:
        """Record ``values[sel]`` and their outputs for combinations ``rows[sel]``."""
        r = rows[sel]
        self.value[r] = values[sel]
        for k, a in self.outputs.items():
            src = np.asarray(out[k])[sel]
            a[r] = src if a.dtype == object else src.astype(np.float64)


@dataclass
class Frontier:
    """The result of :func:`search`: one entry per combination."""

    goal: Goal
    predicate: str
    tol: float
    bracket: tuple[float, float]
    bracket_source: str
    cols: dict[str, Any]              # the combinations' input columns (plan.expand form)
    n: int
    boundary: np.ndarray
    outcome: np.ndarray               # object: OUTCOMES
    steps: np.ndarray                 # bisection steps per combination
    feasible: Side
    infeasible: Side
    model_calls: int = 0
    model_points: int = 0
    seconds: float = 0.0
    profiles: dict[str, Any] = field(default_factory=dict)
    profile_names: tuple[str, ...] | None = None

    def counts(self) -> dict[str, int]:
        return {o: int(np.sum(self.outcome == o)) for o in OUTCOMES}


def _take(cols: Mapping[str, Any], idx: np.ndarray) -> dict[str, Any]:
    return {k: v[idx] if isinstance(v, np.ndarray) else v for k, v in cols.items()}


def _midpoints(a: np.ndarray, b: np.ndarray, count: bool) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(all="ignore"):
        mid = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * (lo + hi))
    if count:
        mid = np.floor(0.5 * (lo + hi))
    return np.clip(mid, lo, hi)


def _closed(a: np.ndarray, b: np.ndarray, tol: float, floor: float, count: bool) -> np.ndarray:
    """Bisection of these brackets is done: within ``tol`` relative, or below ``floor``."""
    width = np.abs(a - b)
    if count:
        return width <= 1.0
    scale = np.maximum(np.abs(a), np.abs(b))
    return (width <= tol * scale) | (scale <= floor)


def _probe_values(lo: float, hi: float, k: int) -> np.ndarray:
    """``k`` values strictly inside ``(lo, hi)``: geometric when lo > 0, else linear."""
    t = np.arange(1, k + 1) / (k + 1)
    if lo > 0:
        return np.exp(np.log(lo) + t * (np.log(hi) - np.log(lo)))
    return lo + t * (hi - lo)


def search(cols: Mapping[str, Any], n: int, goal: Goal, predicate: Predicate,
           bracket: tuple[float, float], *, tol: float = DEFAULT_TOL, probes: int = DEFAULT_PROBES,
           simulate: Callable[..., Mapping[str, Any]] | None = None,
           overrides: Mapping[str, Mapping[str, Any]] | None = None,
           bracket_source: str = "", profile_names: tuple[str, ...] | None = None) -> Frontier:
    """Find the boundary of ``goal`` under ``predicate`` for ``n`` combinations at once.

    Parameters
    ----------
    cols : mapping
        The combinations' input columns as :meth:`runner.sweep.plan.Plan.expand` gives them
        (arrays of length ``n``, scalars, ``None``; choice codes); the searched column is replaced.
    n : int
        Number of combinations.
    goal : Goal
        ``max`` or ``min`` of which input.
    predicate : Predicate
        Feasibility of a row.
    bracket : (float, float)
        Search range in column units, ``lo < hi``.
    tol : float
        Relative tolerance of the boundary (counts: exact).
    probes : int
        Extra values per combination checked against the boundary (0: no check).
    simulate : callable, optional
        The model (default ``models.simulate``).
    overrides : mapping, optional
        Policy overrides (the spec's).
    profile_names : tuple of str, optional
        The names profile codes index when the plan has custom profiles.

    Returns
    -------
    Frontier
    """
    from runner.sweep.batch import model_function, model_inputs, safe_simulate, to_table

    if not (0 < tol < 1):
        raise FrontierError(f"--tol: invalid value {tol!r}; allowed: > 0 and < 1 (relative)")
    t0 = time.perf_counter()
    sim = simulate or model_function()
    column = goal.field.column
    count = goal.field.kind == "count"
    lo0, hi0 = float(bracket[0]), float(bracket[1])
    floor = 1e-12 * max(abs(lo0), abs(hi0))
    calls = [0, 0]

    def evaluate(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        sub = _take(cols, rows)
        sub[column] = values
        m = rows.size
        out = safe_simulate(sim, model_inputs(sub, profile_names), overrides or {}, m)
        ok = predicate(to_table(sub, out, m, profile_names))
        calls[0] += 1
        calls[1] += m
        return ok, out

    all_rows = np.arange(n, dtype=np.int64)
    # feasible-side end f and infeasible-side end g of the bracket
    f_end, g_end = (lo0, hi0) if goal.sense == "max" else (hi0, lo0)
    ends = np.concatenate([np.full(n, f_end), np.full(n, g_end)])
    ok, out = evaluate(np.concatenate([all_rows, all_rows]), ends)
    ok_f, ok_g = ok[:n], ok[n:]
    feas, infeas = Side.empty(n), Side.empty(n)
    both = np.concatenate([all_rows, all_rows])
    first = np.arange(2 * n) < n
    # the feasible side: the far end when feasible there, else the near end when feasible there
    feas.put(both, ends, out, ~first & ok)
    feas.put(both, ends, out, first & np.concatenate([ok_f & ~ok_g, np.zeros(n, bool)]))
    # the infeasible side: the near end when infeasible there, else the far end
    infeas.put(both, ends, out, ~first & ~ok & np.concatenate([np.zeros(n, bool), ok_f]))
    infeas.put(both, ends, out, first & ~ok)
    outcome = np.full(n, "found", dtype=object)
    outcome[ok_f & ok_g] = "always_feasible"
    outcome[~ok_f & ~ok_g] = "never_feasible"
    outcome[~ok_f & ok_g] = "reversed"
    steps = np.zeros(n, dtype=np.int64)

    a = np.full(n, f_end)      # last feasible value
    b = np.full(n, g_end)      # first infeasible value
    open_ = np.flatnonzero((outcome == "found") & ~_closed(a, b, tol, floor, count))
    while open_.size and steps.max(initial=0) < MAX_STEPS:
        mid = _midpoints(a[open_], b[open_], count)
        ok, out = evaluate(open_, mid)
        feas.put(open_, mid, out, ok)
        infeas.put(open_, mid, out, ~ok)
        a[open_[ok]] = mid[ok]
        b[open_[~ok]] = mid[~ok]
        steps[open_] += 1
        open_ = open_[~_closed(a[open_], b[open_], tol, floor, count)]

    boundary = np.full(n, np.nan)
    found = outcome == "found"
    boundary[found] = a[found]
    always = outcome == "always_feasible"
    boundary[always] = g_end

    if probes > 0 and n:
        pv = _probe_values(lo0, hi0, probes)
        if count:
            pv = np.unique(np.round(pv))
        k = pv.size
        rows = np.repeat(all_rows, k)
        vals = np.tile(pv, n)
        ok, _ = evaluate(rows, vals)
        ok = ok.reshape(n, k)
        v = vals.reshape(n, k)
        if goal.sense == "max":
            near = v <= a[:, None]
            far = v >= b[:, None]
        else:
            near = v >= a[:, None]
            far = v <= b[:, None]
        bad = np.zeros(n, dtype=bool)
        bad |= found & ((near & ~ok) | (far & ok)).any(axis=1)
        bad |= always & (~ok).any(axis=1)
        bad |= (outcome == "never_feasible") & ok.any(axis=1)
        outcome[bad] = "non_monotone"

    return Frontier(goal=goal, predicate=predicate.sql, tol=tol, bracket=(lo0, hi0),
                    bracket_source=bracket_source, cols=dict(cols), n=n, boundary=boundary,
                    outcome=outcome, steps=steps, feasible=feas, infeasible=infeas,
                    model_calls=calls[0], model_points=calls[1],
                    seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- from a spec

@dataclass(frozen=True)
class Request:
    """A frontier request against a sweep spec, validated."""

    spec: Any                       # runner.sweep.spec.Spec
    goal: Goal
    predicate: Predicate
    bracket: tuple[float, float]
    bracket_source: str
    plan: Any                       # the spec's plan without the searched field
    tol: float
    probes: int

    def fingerprint(self) -> str:
        blob = json.dumps({"spec": self.spec.fingerprint(), "find": self.goal.text,
                           "subject_to": self.predicate.sql, "tol": self.tol,
                           "bracket": list(self.bracket), "probes": self.probes}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def describe(self) -> dict[str, Any]:
        """What ``run.json`` records under ``frontier``."""
        return {"find": self.goal.text, "column": self.goal.field.column,
                "subject_to": self.predicate.sql, "tol": self.tol, "probes": self.probes,
                "bracket": list(self.bracket), "bracket_source": self.bracket_source,
                "axes": [a.label for a in self.plan.axes if a.length > 1]}


def request(spec: Any, find: str, subject_to: str, *, tol: float = DEFAULT_TOL,
            range_: str | None = None, probes: int = DEFAULT_PROBES) -> Request:
    """Validate a frontier request against a loaded sweep spec (nothing is simulated but one
    type check of the predicate).

    Raises
    ------
    FrontierError
        Bad ``--find``, ``--range``, ``--tol``, ``--probes`` or predicate, or a searched field
        the spec draws at random or pairs with others (``[zip]``, ``[[points]]``).
    """
    goal = parse_find(find)
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise FrontierError(f"--tol: invalid value {tol!r}; allowed: > 0 and < 1 (relative)")
    if not (isinstance(probes, int) and 0 <= probes <= 1000):
        raise FrontierError(f"--probes: invalid value {probes!r}; allowed: 0 to 1000")
    pred = Predicate(subject_to)
    plan = spec.plan
    f = goal.field
    column = f.column
    if any(r.column == column for r in plan.random):
        raise FrontierError(f"{spec.path}: {f.name} is drawn at random; a frontier searches it: "
                            f"give it as a [grid] list (the bracket) or leave it out and use "
                            f"--range")
    axes = []
    bracket: tuple[float, float] | None = None
    source = ""
    for axis in plan.axes:
        if column in axis.values:
            if len(axis.values) > 1:
                raise FrontierError(f"{spec.path}: {f.name} is paired with "
                                    f"{', '.join(c for c in axis.values if c != column)} in "
                                    f"{axis.label}; a frontier searches it alone: give it as a "
                                    f"[grid] list or use --range")
            vals = np.asarray(axis.values[column], dtype=np.float64)
            vals = vals[~np.isnan(vals)]
            if vals.size >= 2 and vals.min() < vals.max():
                bracket = (float(vals.min()), float(vals.max()))
                source = f"spec {axis.label}"
            continue
        axes.append(axis)
    fixed = dict(plan.fixed)
    if column in fixed:
        if range_ is None:
            raise FrontierError(f"{spec.path}: {f.name} is fixed to one value; a frontier "
                                f"searches it: give a [grid] list (the bracket) or --range LO,HI")
        fixed.pop(column)
    if range_ is not None:
        bracket = parse_range(range_, f)
        source = "--range"
    if bracket is None:
        if f.lo_open and f.lo <= 0:
            raise FrontierError(f"--range: needed: {f.name} has no closed lower bound "
                                f"({f.bounds()}); give --range LO,HI (e.g. {f.example})")
        bracket = (float(f.lo), float(f.hi))
        source = f"domain of {f.name} ({f.bounds()})"
    lo, hi = bracket
    if not f.valid(lo) or not f.valid(hi):
        raise FrontierError(f"--range: {f.format(lo)} .. {f.format(hi)} leaves the domain of "
                            f"{f.name}: {f.bounds()}")
    reduced = replace(plan, axes=tuple(axes), fixed=fixed)
    return Request(spec, goal, pred, bracket, source, reduced, float(tol), probes)


def run(req: Request, simulate: Callable[..., Mapping[str, Any]] | None = None) -> Frontier:
    """Search every combination of the request's plan."""
    from runner.profiles import plan_profiles, profile_names

    plan = req.plan
    n = plan.n_points
    cols = plan.expand(0, n) if n else {}
    profiles = plan_profiles(plan)
    sim = simulate
    if sim is None and profiles:
        from runner.sweep.batch import model_function
        sim = partial(model_function(), profiles=profiles)
    fr = search(cols, n, req.goal, req.predicate, req.bracket, tol=req.tol, probes=req.probes,
                simulate=sim, overrides=plan.overrides, bracket_source=req.bracket_source,
                profile_names=profile_names(plan) if profiles else None)
    fr.profiles = profiles
    fr.profile_names = profile_names(plan) if profiles else None
    return fr


# ----------------------------------------------------------------------------- the table

def to_table(fr: Frontier) -> pa.Table:
    """The ``frontier`` table: ``point_id`` (combination), ``seed``, every input column (the
    searched one holds the boundary; null when never feasible), then ``outcome``, ``steps``, the
    last feasible and first infeasible values (``feasible_<column>``, ``infeasible_<column>``) and
    the key outputs at each (``feasible_downtime_ms``, ``infeasible_status``, ...)."""
    from runner.storage.schema import INPUT_COLUMNS, SCHEMA, arrow_type, to_arrow
    from runner.sweep.batch import _arrow_column

    n = fr.n
    column = fr.goal.field.column
    cols = dict(fr.cols)
    cols[column] = fr.boundary
    arrays, fields = [], []
    for fld in SCHEMA:
        if fld.name not in ("point_id", "seed") and fld.name not in INPUT_COLUMNS:
            continue
        if fld.name == column:
            value = fr.boundary
        elif fld.name in RESOLVED:
            value = np.where(np.isnan(fr.feasible.outputs[fld.name]),
                             fr.infeasible.outputs[fld.name], fr.feasible.outputs[fld.name])
        else:
            value = cols.get(fld.name)
        if fld.name == column and INPUT_BY_COLUMN[column].kind == "count":
            arr = to_arrow(value, pa.int64())
        else:
            arr = _arrow_column(fld.name, value, n, fld.type, profiles=fr.profile_names)
        arrays.append(arr)
        fields.append(pa.field(fld.name, fld.type, nullable=True, metadata=fld.metadata))
    f = INPUT_BY_COLUMN[column]
    vtype = pa.int64() if f.kind == "count" else pa.float64()
    extra: list[tuple[str, pa.DataType, Any, bytes]] = [
        ("outcome", pa.string(), fr.outcome.astype(str).tolist(),
         b"found, always_feasible, never_feasible, reversed or non_monotone"),
        ("steps", pa.int64(), fr.steps, b"bisection steps"),
        (f"feasible_{column}", vtype, fr.feasible.value, b"last value meeting the predicate"),
        (f"infeasible_{column}", vtype, fr.infeasible.value, b"first value failing it"),
    ]
    for side, s in (("feasible", fr.feasible), ("infeasible", fr.infeasible)):
        for k in SIDE_OUTPUTS:
            dt = OUTPUTS[k][0]
            typ = pa.int64() if k == "precopy_rounds" else arrow_type(dt)
            extra.append((f"{side}_{k}", typ, s.outputs[k], OUTPUTS[k][1].encode()))
    for name, typ, value, desc in extra:
        if isinstance(value, np.ndarray) and value.dtype == object:
            arr = pa.array(value.tolist(), type=typ)
        elif isinstance(value, np.ndarray):
            arr = to_arrow(value, typ)
        else:
            arr = pa.array(value, type=typ)
        arrays.append(arr)
        fields.append(pa.field(name, typ, metadata={b"description": desc}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def used_profiles(fr: Frontier, overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Every profile the frontier's combinations used (shipped ones with the spec's overrides,
    then custom ones), name -> Policy, for ``run.json``."""
    from models.policy import PROFILES, get_profile

    names = fr.profile_names or tuple(PROFILES)
    codes = fr.cols.get("profile")
    if codes is None:
        used = [INPUT_BY_COLUMN["profile"].default]
    else:
        used = [names[int(c)] for c in np.unique(np.asarray(codes))]
    out: dict[str, Any] = {}
    for name in used:
        out[name] = fr.profiles[name] if name in fr.profiles else \
            get_profile(name, **dict(overrides.get(name, {})))
    return out


def write_run(req: Request, fr: Frontier, root: Path, *, force: bool = False,
              on_note: Callable[[str], None] | None = None) -> Path:
    """Write a frontier as a run directory (``run.json`` kind ``migsim-frontier-run``, table
    ``frontier``, one part) with the same marker, lock and ledger as a sweep."""
    from runner.profiles import describe_profiles
    from runner.storage import rundir

    fingerprint = req.fingerprint()
    n = max(fr.n, 1)
    kind = "migsim-frontier-run"

    def manifest(layout: Any) -> dict[str, Any]:
        return {**rundir.base_manifest(kind, req.spec.name, req.spec.path, fingerprint, layout),
                "frontier": req.describe(),
                "profiles": describe_profiles(used_profiles(fr, req.plan.overrides)),
                "counts": {}, "outcomes": {}}

    run = rundir.open_run(root, kind=kind, n_points=n, batch_size=None, default_batch_size=n,
                          fingerprint=fingerprint, resume=False, force=force,
                          new_manifest=manifest, spec_text=req.spec.text,
                          resolved=lambda: {**req.spec.resolved(), "frontier": req.describe()},
                          what="spec and frontier options")
    for note in run.notes:
        if on_note:
            on_note(note)
    if not run.created:       # the same request again, complete: nothing to write
        run.release()
        return root
    try:
        table = to_table(fr)
        meta = {"batch": 0, "start": 0, "stop": fr.n, "fingerprint": fingerprint,
                "model_version": run.manifest["model_version"]}
        record = rundir.write_part(run.layout, 0, table, meta)
        run.record({"batch": 0, "files": {TABLE: record}, "rows": fr.n, "points": fr.n})
        run.complete(outcomes=fr.counts(), seconds=round(fr.seconds, 3),
                     model_calls=fr.model_calls, model_points=fr.model_points,
                     computed_points=fr.n)
    except BaseException:
        run.interrupted("failed")
        raise
    return root
