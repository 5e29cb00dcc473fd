"""One field of a sweep spec: the forms a value can take, parsed and checked in column units.

Forms (``x`` is anything :meth:`models.fields.Field.parse` accepts: ``"16GiB"``, ``"10GbE"``,
``"300ms"``, ``true``, ``"qemu"``, a bare number in the column's unit):

- ``x`` — one value;
- ``[x, y, ...]`` — a list;
- ``{ start = x, stop = y, step = z }`` — an arithmetic range, *stop included* when it falls on the
  grid (``{start="4GiB", stop="16GiB", step="4GiB"}`` is 4, 8, 12, 16 GiB);
- ``{ linspace = [lo, hi], num = n }`` — n evenly spaced values, both ends included;
- ``{ logspace = [lo, hi], num = n }`` — n log-spaced values, both ends included (lo > 0);
- ``{ uniform = [lo, hi] }``, ``{ loguniform = [lo, hi] }``, ``{ choice = [x, y], weights = [..] }``
  — a random distribution: without ``num`` drawn anew for every point from the point's seed; with
  ``num = n``, n values drawn once from the spec's seed (an axis of a grid or zip).

Every value is converted and checked here, before any point exists: a list element, both ends and
each value of a range, both bounds of a distribution. Problems raise :class:`SpecError` naming the
file, the spec path of the field (``grid.memory``, ``points[2].link``), the value and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.errors import ParameterError, SpecError
from models.fields import Field
from runner.sweep import rng
from runner.sweep.plan import RandomField

#: Longest axis a range, linspace or logspace may produce.
MAX_AXIS = 100_000_000
_PAGES = re.compile(r"page|pps", re.IGNORECASE)
_INHERIT = object()
_NUMERIC = ("size", "rate", "link", "duration", "count", "fraction", "ratio")
FORMS = ("a value", "a list", "{start, stop, step}", "{linspace=[lo, hi], num}",
         "{logspace=[lo, hi], num}", "{uniform=[lo, hi]}", "{loguniform=[lo, hi]}",
         "{choice=[...], weights=[...]}")


@dataclass(frozen=True)
class Const:
    """One value (column units; a code for choice fields)."""

    value: Any


@dataclass(frozen=True)
class Values:
    """A list of values: an axis (column units; codes for choice fields)."""

    values: np.ndarray


@dataclass(frozen=True)
class Random:
    """A distribution drawn per point."""

    field: RandomField


class FieldParser:
    """Parses the value forms of one input field of one spec file.

    Parameters
    ----------
    where : str
        The spec file (for error messages).
    spec_seed : int
        The spec's seed (values drawn once with ``num``).
    page_size : float or None
        Bytes per page for rates given in pages/s; ``None`` when the page size varies across the
        sweep (then pages/s is refused).
    """

    def __init__(self, where: str, spec_seed: int, page_size: float | None) -> None:
        self.where = where
        self.spec_seed = spec_seed
        self.page_size = page_size

    # ------------------------------------------------------------------ errors
    def error(self, path: str, value: Any, allowed: str) -> SpecError:
        """A :class:`SpecError` for this file."""
        return SpecError(self.where, path, _show(value), allowed)

    # ------------------------------------------------------------------ scalars
    def scalar(self, f: Field, raw: Any, path: str, page_size: Any = _INHERIT) -> Any:
        """Convert and check one human value; return it in column units (code for choices).

        ``page_size`` (bytes, or ``None`` when it varies) replaces the parser's own for this value.
        """
        ps = self.page_size if page_size is _INHERIT else page_size
        if isinstance(raw, (list, dict)):
            raise self.error(path, raw, f"one value of {f.name}: {f.allowed()}")
        if f.kind == "rate" and isinstance(raw, str) and _PAGES.search(raw) and ps is None:
            raise self.error(path, raw, "a rate in bytes/s (e.g. 200MB/s) because page_size "
                                        "varies across the sweep")
        try:
            x = f.parse(raw, ps if ps is not None else 4096.0)
        except ParameterError as exc:
            raise self.error(path, raw, exc.allowed) from None
        if f.kind == "choice":
            return f.choices.index(x)
        return x

    def number(self, f: Field, raw: Any, path: str) -> float:
        """Convert a human value of a numeric field without the domain check (range steps)."""
        loose = dataclasses.replace(f, lo=-math.inf, hi=math.inf, lo_open=False)
        try:
            return float(loose.parse(raw, self.page_size or 4096.0))
        except ParameterError as exc:
            raise self.error(path, raw, exc.allowed) from None

    # ------------------------------------------------------------------ sizes
    def length(self, f: Field, raw: Any, path: str) -> int:
        """How many values ``raw`` will expand to, without building them (1: one value or a
        per-point draw). Malformed forms count as 1: :meth:`parse` reports them.

        Costs O(1) whatever ``num`` says, so a spec's point count and expansion memory are known
        before any axis is allocated.
        """
        if isinstance(raw, list):
            return max(1, len(raw))
        if not isinstance(raw, dict):
            return 1
        num = raw.get("num")
        if isinstance(num, int) and not isinstance(num, bool) and num >= 1:
            if set(raw) & {"uniform", "loguniform", "choice", "linspace", "logspace"}:
                return num
        if {"start", "stop", "step"} <= set(raw) and f.kind in _NUMERIC:
            try:
                start = float(self.scalar(f, raw["start"], f"{path}.start"))
                stop = float(self.scalar(f, raw["stop"], f"{path}.stop"))
                step = self.number(f, raw["step"], f"{path}.step")
            except SpecError:
                return 1
            if math.isfinite(start) and math.isfinite(stop) and math.isfinite(step) and \
                    step > 0 and stop >= start:
                q = (stop - start) / step
                return MAX_AXIS + 1 if q >= MAX_AXIS else math.floor(q + 1e-9) + 1
        return 1

    # ------------------------------------------------------------------ forms
    def parse(self, f: Field, raw: Any, path: str, *, axis_ok: bool = True,
              random_ok: bool = True) -> Const | Values | Random:
        """Parse any form of a field value.

        Parameters
        ----------
        f : Field
            The input field.
        raw : Any
            The TOML value.
        path : str
            Spec path of the value, for messages.
        axis_ok : bool
            Lists and ranges are allowed here.
        random_ok : bool
            Per-point distributions (without ``num``) are allowed here.
        """
        if isinstance(raw, list):
            if not axis_ok:
                raise self.error(path, raw, f"one value of {f.name} here (cross lists in [grid])")
            return Values(self.values_list(f, raw, path))
        if isinstance(raw, dict):
            return self.table(f, raw, path, axis_ok=axis_ok, random_ok=random_ok)
        return Const(self.scalar(f, raw, path))

    def values_list(self, f: Field, raw: list, path: str) -> np.ndarray:
        """Parse a list of values into an axis array."""
        if not raw:
            raise self.error(path, raw, f"a non-empty list of {f.name} values")
        vals = [self.scalar(f, x, f"{path}[{i}]") for i, x in enumerate(raw)]
        return _array(f, vals)

    def table(self, f: Field, raw: dict, path: str, *, axis_ok: bool,
              random_ok: bool) -> Const | Values | Random:
        """Parse the inline-table forms (ranges and distributions)."""
        keys = set(raw)
        dist = keys & {"uniform", "loguniform", "choice"}
        if dist:
            return self.distribution(f, raw, path, axis_ok=axis_ok, random_ok=random_ok)
        if not axis_ok:
            raise self.error(path, raw, f"one value of {f.name} here (cross ranges in [grid])")
        if keys & {"start", "stop", "step"}:
            return Values(self.arange(f, raw, path))
        if keys & {"linspace", "logspace"}:
            return Values(self.space(f, raw, path))
        raise self.error(path, raw, "one of " + ", ".join(FORMS))

    def _need_numeric(self, f: Field, raw: Any, path: str, form: str) -> None:
        if f.kind not in _NUMERIC:
            raise self.error(path, raw, f"a value or list of {f.name} ({form} needs a numeric "
                                        f"field; {f.name} is {f.allowed()})")

    def _check_keys(self, raw: dict, path: str, required: set[str], optional: set[str] = set()) -> None:
        missing = required - set(raw)
        extra = set(raw) - required - optional
        if missing or extra:
            want = ", ".join(sorted(required)) + (
                f" (optional: {', '.join(sorted(optional))})" if optional else "")
            bad = sorted(missing)[0] if missing else sorted(extra)[0]
            what = "missing" if missing else "unexpected"
            raise self.error(f"{path}.{bad}", raw, f"keys {want} ({what} key {bad!r})")

    def _num(self, raw: dict, key: str, path: str) -> int:
        n = raw[key]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_AXIS:
            raise self.error(f"{path}.{key}", n, f"an integer from 1 to {MAX_AXIS:,}")
        return n

    def arange(self, f: Field, raw: dict, path: str) -> np.ndarray:
        """``{start, stop, step}``: stop included when on the grid (within 1e-9 of a step)."""
        self._need_numeric(f, raw, path, "a range")
        self._check_keys(raw, path, {"start", "stop", "step"})
        start = self.scalar(f, raw["start"], f"{path}.start")
        stop = self.scalar(f, raw["stop"], f"{path}.stop")
        step = self.number(f, raw["step"], f"{path}.step")
        if not (math.isfinite(step) and step > 0):
            raise self.error(f"{path}.step", raw["step"], "a step > 0")
        if stop < start:
            raise self.error(f"{path}.stop", raw["stop"], f"a stop >= start ({_show(raw['start'])})")
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise self.error(path, raw, "finite start and stop")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_AXIS:
            raise self.error(path, raw, f"at most {MAX_AXIS:,} values per range")
        vals = start + step * np.arange(count, dtype=np.float64)
        vals = _tidy(np.minimum(vals, stop))  # rounding: never beyond the stop
        self._check_array(f, vals, path)
        return vals

    def space(self, f: Field, raw: dict, path: str) -> np.ndarray:
        """``{linspace = [lo, hi], num}`` and ``{logspace = [lo, hi], num}``."""
        kind = "logspace" if "logspace" in raw else "linspace"
        self._need_numeric(f, raw, path, kind)
        self._check_keys(raw, path, {kind, "num"})
        lo, hi = self._bounds(f, raw[kind], f"{path}.{kind}")
        num = self._num(raw, "num", path)
        if kind == "logspace":
            if lo <= 0:
                raise self.error(f"{path}.logspace", raw[kind], "bounds > 0 (log-spaced)")
            vals = np.geomspace(lo, hi, num) if num > 1 else np.array([lo])
        else:
            vals = np.linspace(lo, hi, num)
        vals = _tidy(vals)
        if num > 1:
            vals[0], vals[-1] = lo, hi
        self._check_array(f, vals, path)
        return vals

    def _bounds(self, f: Field, raw: Any, path: str) -> tuple[float, float]:
        if not isinstance(raw, list) or len(raw) != 2:
            raise self.error(path, raw, "a pair [lo, hi]")
        lo = self.scalar(f, raw[0], f"{path}[0]")
        hi = self.scalar(f, raw[1], f"{path}[1]")
        if hi < lo:
            raise self.error(path, raw, "lo <= hi")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise self.error(path, raw, "finite bounds")
        return float(lo), float(hi)

    def distribution(self, f: Field, raw: dict, path: str, *, axis_ok: bool,
                     random_ok: bool) -> Values | Random:
        """``uniform``, ``loguniform``, ``choice``: per point, or ``num`` values drawn once."""
        kinds = [k for k in ("uniform", "loguniform", "choice") if k in raw]
        if len(kinds) > 1:
            raise self.error(path, raw, "one distribution: uniform, loguniform or choice")
        kind = kinds[0]
        optional = {"num"} | ({"weights"} if kind == "choice" else set())
        self._check_keys(raw, path, {kind}, optional)
        if kind == "choice":
            rf = self._choice(f, raw, path)
        else:
            self._need_numeric(f, raw, path, kind)
            lo, hi = self._bounds(f, raw[kind], f"{path}.{kind}")
            if kind == "loguniform" and lo <= 0:
                raise self.error(f"{path}.loguniform", raw[kind], "bounds > 0 (log-uniform)")
            rf = RandomField(f.column, kind, lo=lo, hi=hi)
        if "num" in raw:
            if not axis_ok:
                raise self.error(f"{path}.num", raw["num"], "no num here (a single value per point)")
            num = self._num(raw, "num", path)
            gen = rng.generator(self.spec_seed, path)
            seeds = gen.integers(0, 2**63, size=num, dtype=np.int64).astype(np.uint64)
            vals = rf.draw(seeds)
            return Values(np.asarray(vals, dtype=_dtype(f)))
        if not random_ok:
            raise self.error(path, raw, f"num = n with a {kind} distribution in this section "
                                        f"(n values drawn once)")
        return Random(rf)

    def _choice(self, f: Field, raw: dict, path: str) -> RandomField:
        opts = raw["choice"]
        if not isinstance(opts, list) or not opts:
            raise self.error(f"{path}.choice", opts, f"a non-empty list of {f.name} values")
        vals = _array(f, [self.scalar(f, x, f"{path}.choice[{i}]") for i, x in enumerate(opts)])
        w = raw.get("weights", [1.0] * len(opts))
        ok = (isinstance(w, list) and len(w) == len(opts)
              and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in w))
        if not ok or any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
            raise self.error(f"{path}.weights", w, f"{len(opts)} numbers >= 0 with a positive sum")
        cum = np.cumsum(np.asarray(w, dtype=np.float64))
        cum /= cum[-1]
        cum[-1] = 1.0
        return RandomField(f.column, "choice", options=vals, cum_weights=cum)

    def _check_array(self, f: Field, vals: np.ndarray, path: str) -> None:
        for x in (vals.min(), vals.max()):
            try:
                f.check(float(x))
            except ParameterError as exc:
                raise self.error(path, float(x), exc.allowed) from None


def _tidy(vals: np.ndarray) -> np.ndarray:
    """Round generated values to 12 significant digits, so that a log-spaced 16 GiB is exactly
    17179869184 and a range step of 0.1 gives 0.3, not 0.30000000000000004 (long axes as is)."""
    if len(vals) > 1_000_000:
        return vals
    return np.array([float(f"{x:.12g}") for x in vals.tolist()], dtype=np.float64)


def _dtype(f: Field) -> np.dtype:
    if f.kind == "choice":
        return np.dtype(np.int16)
    return np.dtype(bool) if f.kind == "bool" else np.dtype(np.float64)


def _array(f: Field, vals: list) -> np.ndarray:
    return np.asarray(vals, dtype=_dtype(f))


class _Literal(str):
    """A string that shows as itself in ``repr`` (TOML ``true``, ``...``)."""

    def __repr__(self) -> str:
        return str(self)


def _show(value: Any) -> Any:
    """The value for a message as the user wrote it (TOML booleans, long lists shortened)."""
    if isinstance(value, bool):
        return _Literal("true" if value else "false")
    if isinstance(value, list):
        shown = [_show(v) for v in value[:6]]
        return shown + [_Literal("...")] if len(value) > 6 else shown
    if isinstance(value, dict):
        return {k: _show(v) for k, v in value.items()}
    return value


show = _show
