"""Sweep specs: a TOML file in ``sweeps/`` becomes a validated :class:`~runner.sweep.plan.Plan`.

Layout of a spec (every section optional; field names are the canonical model inputs of
:mod:`models.fields`, values in human units, forms as in :mod:`runner.sweep.values`)::

    kind = "sweep"               # optional ("scenario" specs run with `migsim scenario`)
    name = "my-sweep"            # run directory results/<name>; default: the file name
    description = "..."
    seed = 42                    # random draws and per-point seeds (default 0)
    repeat = 1                   # each point repeated with its own seed (default 1)
    batch_size = 50000           # points per Ray task (default: by sweep size)

    memory = "16GiB"             # top level: one value for every point, a per-point
    dirty_rate = { loguniform = ["10MB/s", "1GB/s"] }   # random draw, or a list/range (crossed)

    [grid]                       # crossed: every combination
    profile = ["vsphere-5.1", "hyperv-2012"]
    link = ["1GbE", "10GbE"]

    [zip]                        # paired: lists of equal length, element by element
    memory = ["4GiB", "16GiB"]
    disk = ["40GiB", "200GiB"]

    [[points]]                   # explicit rows (unset fields: top level, else defaults)
    memory = "64GiB"

    [overrides."vsphere-5.1"]    # policy fields of a profile (models.policy)
    downtime_limit_ms = 1000

The sweep is the cross product of the top-level lists, the grid fields, the zip block, the points
list and ``repeat`` (in that order, ``repeat`` varying fastest), so its size is known before any
point exists. A field may be set in only one of top level, ``[grid]`` and ``[zip]``; ``[[points]]``
rows may replace top-level single values.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models import get_profile
from models.errors import ParameterError, SpecError
from models.fields import INPUT_BY_COLUMN, INPUT_BY_NAME, INPUTS, Field
from models.policy import PROFILES, Policy
from runner.errors import SpecFileError, UnknownKeyError
from runner.sweep.plan import Axis, Plan, RandomField, default_batch_size
from runner.sweep.values import Const, FieldParser, Values, _Literal, show

META_KEYS = ("kind", "name", "description", "seed", "repeat", "batch_size")
SECTIONS = ("grid", "zip", "points", "overrides")
#: Largest sweep a spec may describe.
MAX_POINTS = 10_000_000_000
MAX_BATCH = 10_000_000
#: Most values all axes of a sweep may hold together (8 bytes each: 1.2 GB): one axis of the
#: longest kind (values.MAX_AXIS) and some more.
MAX_AXIS_VALUES = 150_000_000
#: Axes longer than this are described in ``spec.json`` by their length, ends, range and sha256
#: (the spec file holds their form), so that the resolved spec stays small.
LONG_AXIS = 10_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Spec:
    """A parsed, validated sweep spec.

    Attributes
    ----------
    path : str
        The spec file as given.
    text : str
        Its TOML text.
    description : str
        Free text from the spec.
    batch_size : int or None
        Points per batch if the spec says.
    plan : Plan
        The expansion.
    """

    path: str
    text: str
    description: str
    batch_size: int | None
    plan: Plan

    @property
    def name(self) -> str:
        """Sweep name."""
        return self.plan.name

    @property
    def n_points(self) -> int:
        """Number of points."""
        return self.plan.n_points

    def _described(self) -> dict[str, Any]:
        """:func:`describe_plan` of the plan, computed once (long axes are hashed)."""
        got = self.__dict__.get("_described_plan")
        if got is None:
            got = describe_plan(self.plan)
            object.__setattr__(self, "_described_plan", got)
        return got

    def resolved(self) -> dict[str, Any]:
        """The spec after expansion rules, in column units (what ``spec.json`` holds)."""
        return {"name": self.name, "description": self.description, "source": self.path,
                **self._described()}

    def fingerprint(self) -> str:
        """Hash of everything that decides the rows (not the name, description or file path)."""
        blob = json.dumps(self._described(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def effective_batch_size(self, override: int | None = None) -> int:
        """Batch size: the command line's, else the spec's, else the default for the size."""
        return override or self.batch_size or default_batch_size(self.n_points)


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read, parse and validate a spec file.

    Parameters
    ----------
    path : str or PathLike
        The TOML file.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        Naming the file, the field, the value and what is allowed.
    """
    text = read_spec_file(path)
    return parse_spec(text, str(path), default_name=Path(path).stem)


def read_spec_file(path: str | os.PathLike[str]) -> str:
    """The text of a spec file (sweep or scenario).

    Raises
    ------
    SpecFileError
        If the file is missing, not a file or unreadable.
    """
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise SpecFileError(where, "no such spec file" if not p.exists() else "not a file")
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecFileError(where, f"cannot read the spec: {exc}") from None


#: Deepest nesting of lists and tables a spec may have (the deepest form, a distribution inside a
#: [grid] field of a [[points]] row, needs 4).
MAX_DEPTH = 16


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """The TOML document of a spec's text, its nesting bounded by :data:`MAX_DEPTH`.

    Raises
    ------
    SpecFileError
        If the text is not valid TOML, or nests lists or tables too deeply for the TOML reader.
    SpecError
        If lists or tables nest deeper than :data:`MAX_DEPTH` (naming the path).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(where, f"not valid TOML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise SpecFileError(where, f"lists or tables nested too deeply (at most {MAX_DEPTH} "
                                   f"levels)") from None
    check_depth(doc, where)
    return doc


def check_depth(doc: Any, where: str, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`SpecError` if lists or tables nest deeper than ``limit`` (no recursion)."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            raise SpecError(where, path or "(top)", _Literal("..."),
                            f"lists and tables nested at most {limit} levels deep")
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))


def parse_spec(text: str, where: str = "<spec>", default_name: str = "sweep") -> Spec:
    """Parse and validate TOML text (see the module docstring for the layout)."""
    doc = parse_toml(text, where)
    return _Builder(where, doc, default_name).build(text)


class _Builder:
    """Builds a :class:`Spec` from a TOML document, raising at the first problem."""

    def __init__(self, where: str, doc: dict[str, Any], default_name: str) -> None:
        self.where = where
        self.doc = doc
        self.default_name = default_name

    def err(self, path: str, value: Any, allowed: str) -> SpecError:
        return SpecError(self.where, path, show(value), allowed)

    # ------------------------------------------------------------------ top
    def build(self, text: str) -> Spec:
        doc = self.doc
        kind = doc.get("kind", "sweep")
        if kind == "scenario":
            raise SpecFileError(self.where, 'is a scenario spec (kind = "scenario"); run it with: '
                                            f"migsim scenario {self.where}")
        if kind != "sweep":
            raise self.err("kind", kind, '"sweep" (or "scenario" for migsim scenario)')
        from runner.profiles import spec_profiles
        custom = spec_profiles(doc, self.where)   # profile files -> their names
        top_fields: dict[str, Any] = {}
        for key, value in doc.items():
            if key in META_KEYS or key in SECTIONS:
                continue
            self._field(key, key)
            top_fields[key] = value
        name = self._name()
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise self.err("description", description, "a string")
        seed = self._int("seed", 0, -2**63, 2**64 - 1)
        repeat = self._int("repeat", 1, 1, 1_000_000_000)
        batch_size = self._int("batch_size", None, 1, MAX_BATCH)
        grid = self._table("grid")
        zipped = self._table("zip")
        points = self._points()
        overrides = self._overrides()
        for section, table in (("grid", grid), ("zip", zipped)):
            for key in table:
                self._field(key, f"{section}.{key}")
        self._unique(top_fields, grid, zipped)

        parser = FieldParser(self.where, seed, self._page_size(top_fields, grid, zipped, points))
        if custom:
            from runner.profiles import custom_parser
            parser = custom_parser(parser, custom)
        self._check_size(parser, top_fields, grid, zipped, points, repeat)
        axes: list[Axis] = []
        fixed: dict[str, Any] = {}
        random: list[RandomField] = []
        for key, raw in top_fields.items():
            f = INPUT_BY_NAME[key]
            got = parser.parse(f, raw, key)
            if isinstance(got, Const):
                fixed[f.column] = got.value
            elif isinstance(got, Values):
                axes.append(Axis(key, len(got.values), {f.column: got.values}))
            else:
                random.append(got.field)
        for key, raw in grid.items():
            f = INPUT_BY_NAME[key]
            got = parser.parse(f, raw, f"grid.{key}", random_ok=False)
            vals = got.values if isinstance(got, Values) else _one(f, got.value)
            axes.append(Axis(f"grid.{key}", len(vals), {f.column: vals}))
        if zipped:
            axes.append(self._zip(parser, zipped))
        if points is not None:
            axes.append(self._points_axis(parser, points, fixed, random, top_fields))
        axes.append(Axis("repeat", repeat))

        plan = Plan(name=name, seed=seed, axes=tuple(axes), fixed=fixed, random=tuple(random),
                    overrides=overrides, profiles=custom)
        if plan.n_points > MAX_POINTS:
            sizes = " x ".join(f"{a.length:,}" for a in axes if a.length > 1)
            raise self.err("points", f"{plan.n_points:,} ({sizes})",
                           f"at most {MAX_POINTS:,} points per sweep")
        return Spec(path=self.where, text=text, description=description, batch_size=batch_size,
                    plan=plan)

    # ------------------------------------------------------------------ size
    def _check_size(self, parser: FieldParser, top: dict[str, Any], grid: dict[str, Any],
                    zipped: dict[str, Any], points: list | None, repeat: int) -> None:
        """Refuse, before any axis is built, a sweep of too many points or whose axes would take
        too much memory to hold (both known from the forms alone: list lengths, ``num``, ranges)."""
        lengths: list[tuple[str, int]] = []
        values = 0
        for key, raw in top.items():
            n = parser.length(INPUT_BY_NAME[key], raw, key)
            if isinstance(raw, list) or (isinstance(raw, dict) and n > 1):
                lengths.append((key, n))
                values += n
        for key, raw in grid.items():
            n = parser.length(INPUT_BY_NAME[key], raw, f"grid.{key}")
            lengths.append((key, n))
            values += n
        if zipped:
            ns = [parser.length(INPUT_BY_NAME[k], raw, f"zip.{k}") for k, raw in zipped.items()]
            lengths.append(("zip", max(ns)))
            values += sum(ns)
        if points is not None:
            lengths.append(("points", len(points)))
            values += len(points) * max(1, len({k for p in points for k in p}))
        lengths.append(("repeat", repeat))
        n_points = math.prod(n for _, n in lengths)
        if n_points > MAX_POINTS:
            sizes = " x ".join(f"{k} {n:,}" for k, n in lengths if n > 1)
            raise self.err("points", _Literal(f"{n_points:,} ({sizes})"),
                           f"at most {MAX_POINTS:,} points per sweep (too many points)")
        if values > MAX_AXIS_VALUES:
            raise self.err("points", _Literal(f"axes of {values:,} values in all "
                                              f"({8 * values / 1e9:,.1f} GB to hold)"),
                           f"at most {MAX_AXIS_VALUES:,} values in all axes")

    # ------------------------------------------------------------------ meta
    def _name(self) -> str:
        name = self.doc.get("name", self.default_name)
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise self.err("name", name, "letters, digits, '.', '_' and '-' (a directory name), "
                                         "starting with a letter or digit")
        return name

    def _int(self, key: str, default: Any, lo: int, hi: int) -> Any:
        value = self.doc.get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.err(key, value, f"an integer from {lo:,} to {hi:,}")
        return value

    def _field(self, key: str, path: str) -> Field:
        if key in INPUT_BY_NAME:
            return INPUT_BY_NAME[key]
        allowed = "a model input (" + ", ".join(f.name for f in INPUTS) + ")"
        if "." not in path and "[" not in path:
            allowed += " or a spec key (" + ", ".join(META_KEYS) + ", [grid], [zip], [[points]], " \
                "[overrides])"
        if key in META_KEYS and path != key:
            hint = f" ({key!r} is a spec key: in TOML it must come before the first [section])"
        elif key in INPUT_BY_COLUMN:
            hint = f" (specs use the input name {INPUT_BY_COLUMN[key].name!r}; units go in the value)"
        else:
            close = difflib.get_close_matches(key, list(INPUT_BY_NAME) + list(META_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownKeyError(self.where, path, allowed, hint)

    def _table(self, key: str) -> dict[str, Any]:
        value = self.doc.get(key, {})
        if not isinstance(value, dict):
            raise self.err(key, value, f"a table [{key}] of model inputs")
        return value

    def _points(self) -> list[dict[str, Any]] | None:
        if "points" not in self.doc:
            return None
        pts = self.doc["points"]
        if not isinstance(pts, list) or not pts or not all(isinstance(p, dict) for p in pts):
            raise self.err("points", pts, "one or more [[points]] tables")
        for i, row in enumerate(pts):
            for key in row:
                self._field(key, f"points[{i}].{key}")
        return pts

    def _unique(self, top: dict, grid: dict, zipped: dict) -> None:
        seen: dict[str, str] = {}
        for section, table in (("top level", top), ("[grid]", grid), ("[zip]", zipped)):
            for key in table:
                if key in seen:
                    path = key if section == "top level" else f"{section.strip('[]')}.{key}"
                    raise self.err(path, table[key], f"{key} set once (already set at "
                                                     f"{seen[key]})")
                seen[key] = section

    def _page_size(self, top: dict, grid: dict, zipped: dict, points: list | None) -> float | None:
        """Bytes per page for pages/s rates; ``None`` if the page size varies."""
        raw = top.get("page_size")
        varies = "page_size" in grid or "page_size" in zipped or \
            any("page_size" in p for p in points or []) or isinstance(raw, (list, dict))
        if varies:
            return None
        if raw is None:
            return float(INPUT_BY_NAME["page_size"].default)
        return float(FieldParser(self.where, 0, 4096.0).scalar(INPUT_BY_NAME["page_size"], raw,
                                                               "page_size"))

    # ------------------------------------------------------------------ sections
    def _zip(self, parser: FieldParser, zipped: dict[str, Any]) -> Axis:
        values: dict[str, np.ndarray] = {}
        first: tuple[str, int] | None = None
        for key, raw in zipped.items():
            f = INPUT_BY_NAME[key]
            got = parser.parse(f, raw, f"zip.{key}", random_ok=False)
            if not isinstance(got, Values):
                raise self.err(f"zip.{key}", raw, "a list, range or sampled axis "
                                                  "(zip pairs lists of equal length)")
            n = len(got.values)
            if first is None:
                first = (key, n)
            elif n != first[1]:
                raise self.err(f"zip.{key}", f"{n} values",
                               f"{first[1]} values, as many as zip.{first[0]}")
            values[f.column] = got.values
        assert first is not None
        return Axis("zip", first[1], values)

    def _points_axis(self, parser: FieldParser, points: list[dict[str, Any]],
                     fixed: dict[str, Any], random: list[RandomField],
                     top: dict[str, Any]) -> Axis:
        random_cols = {r.column for r in random}
        keys: list[str] = []
        for row in points:
            keys += [k for k in row if k not in keys]
        columns: dict[str, list[Any]] = {}
        for key in keys:
            f = INPUT_BY_NAME[key]
            if f.column in random_cols or (key in top and f.column not in fixed):
                i = next(i for i, row in enumerate(points) if key in row)
                raise self.err(f"points[{i}].{key}", points[i][key],
                               f"{key} not also swept or drawn at the top level")
            if f.column in fixed:
                fallback = fixed.pop(f.column)
            elif f.default is None:
                fallback = math.nan
            elif f.kind == "choice":
                fallback = f.choices.index(f.default)
            else:
                fallback = f.default
            col = []
            for i, row in enumerate(points):
                if key not in row:
                    col.append(fallback)
                    continue
                ps = parser.page_size if parser.page_size is not None else \
                    self._row_page_size(parser, row, i, top)
                col.append(parser.scalar(f, row[key], f"points[{i}].{key}", page_size=ps))
            columns[f.column] = col
        values = {c: np.asarray(v, dtype=_dtype(INPUT_BY_COLUMN[c])) for c, v in columns.items()}
        return Axis("points", len(points), values)

    def _row_page_size(self, parser: FieldParser, row: dict[str, Any], i: int,
                       top: dict[str, Any]) -> float:
        """Page size of one [[points]] row: its own, else the top-level value, else the default."""
        f = INPUT_BY_NAME["page_size"]
        if "page_size" in row:
            return float(parser.scalar(f, row["page_size"], f"points[{i}].page_size", page_size=4096.0))
        if "page_size" in top and not isinstance(top["page_size"], (list, dict)):
            return float(parser.scalar(f, top["page_size"], "page_size", page_size=4096.0))
        return float(f.default)

    def _overrides(self) -> dict[str, dict[str, Any]]:
        table = self._table("overrides")
        out: dict[str, dict[str, Any]] = {}
        for profile, fields in table.items():
            path = f"overrides.{profile}"
            if profile not in PROFILES:
                raise self.err(path, profile, "a profile: " + ", ".join(PROFILES) +
                               ' (quote names with dots: [overrides."vsphere-5.1"])')
            if not isinstance(fields, dict):
                raise self.err(path, fields, "a table of policy fields")
            policy = PROFILES[profile]
            for key, value in fields.items():
                _check_override(self, policy, path, key, value)
            try:
                get_profile(profile, **fields)
            except ParameterError as exc:
                key = exc.field.removeprefix("overrides.")
                raise self.err(f"{path}.{key}", exc.value, exc.allowed) from None
            out[profile] = dict(fields)
        return out


def _check_override(b: _Builder, policy: Policy, path: str, key: str, value: Any) -> None:
    """Type check of one policy override against the profile's current value."""
    skip = {"name", "transports", "limits"}
    names = sorted((set(Policy.__dataclass_fields__) - skip) | set(type(policy.limits).__dataclass_fields__))
    if key in skip or key not in names:
        close = difflib.get_close_matches(key, names, n=1)
        raise UnknownKeyError(b.where, f"{path}.{key}", "a policy field of models.policy ("
                              + ", ".join(names) + ")",
                              f" (did you mean {close[0]!r}?)" if close else "")
    current = getattr(policy, key) if hasattr(policy, key) else getattr(policy.limits, key)
    if isinstance(current, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(current, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
        want = f"a number (now {current:g})"
    else:
        ok, want = isinstance(value, str), f"a string (now {current!r})"
    if not ok:
        raise b.err(f"{path}.{key}", value, want)


def _dtype(f: Field) -> np.dtype:
    if f.kind == "choice":
        return np.dtype(np.int16)
    return np.dtype(bool) if f.kind == "bool" else np.dtype(np.float64)


def _one(f: Field, value: Any) -> np.ndarray:
    return np.asarray([value], dtype=_dtype(f))


def _human(column: str, values: Any, profiles: tuple[str, ...] = tuple(PROFILES)) -> Any:
    """Column values for JSON: choice codes back to names (``profiles``: the profile names the
    codes index, custom ones included), arrays to lists."""
    f = INPUT_BY_COLUMN[column]
    arr = np.asarray(values)
    if f.kind == "choice":
        names = profiles if column == "profile" else f.choices
        out = [names[int(c)] for c in arr.ravel()]
    else:
        out = [None if (isinstance(x, float) and math.isnan(x)) else x for x in arr.ravel().tolist()]
    return out if arr.ndim else out[0]


def _axis_values(column: str, values: np.ndarray, names: tuple[str, ...] = tuple(PROFILES)) -> Any:
    """An axis column for ``spec.json``: every value, or for a long axis (> :data:`LONG_AXIS`
    values) its length, first and last values, range and the sha256 of its float64 bytes — exact
    for the fingerprint, and small whatever the axis length."""
    arr = np.asarray(values)
    if arr.size <= LONG_AXIS:
        return _human(column, arr, names)
    return {"length": int(arr.size), "first": _human(column, arr[:3], names),
            "last": _human(column, arr[-3:], names), "min": _human(column, arr.min(), names),
            "max": _human(column, arr.max(), names),
            "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()}


def describe_plan(plan: Plan) -> dict[str, Any]:
    """A JSON-able description of a plan (column units; choices by name; long axes summarised;
    custom profiles with every resolved constant, so that a changed profile file changes the
    fingerprint)."""
    from runner.profiles import describe, profile_names

    names = profile_names(plan)
    out = {
        "seed": plan.seed,
        "n_points": plan.n_points,
        "axes": [{"label": a.label, "length": a.length,
                  "values": {c: _axis_values(c, v, names) for c, v in a.values.items()}}
                 for a in plan.axes],
        "fixed": {c: _human(c, v, names) for c, v in plan.fixed.items()},
        "random": [{"column": r.column, "kind": r.kind,
                    **({"lo": r.lo, "hi": r.hi} if r.kind != "choice" else
                       {"options": _human(r.column, r.options, names),
                        "cum_weights": r.cum_weights.tolist()})} for r in plan.random],
        "overrides": plan.overrides,
    }
    if plan.profiles:
        out["profiles"] = {k: describe(d) for k, d in plan.profiles.items()}
    return out
