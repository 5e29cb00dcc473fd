"""A compiled sweep: axes crossed by index arithmetic, expanded lazily one batch at a time.

A :class:`Plan` is what a spec file becomes once it has been parsed and validated: a few small
*axes* (each a list of values for one or more input columns: a grid field, the ``[zip]`` block, the
``[[points]]`` list, the ``repeat`` count), fixed values, per-point random fields and policy
overrides. Point ``i`` of the sweep is the mixed-radix decomposition of ``i`` over the axes
(outermost axis first, ``repeat`` innermost), so the plan never holds one record per point:
:meth:`Plan.expand` builds the columns of points ``[start, stop)`` on demand, in any order, on any
worker. Memory is O(sum of axis lengths + batch size), whatever the number of points.

Values are in column units (SI, as named by the column). Choice fields (``profile``, ``storage``,
...) are held as small integer codes into :attr:`models.fields.Field.choices`. ``NaN`` in a float
axis means "not set here: the profile decides" (only for inputs whose default is ``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from models.fields import INPUT_BY_COLUMN, INPUTS
from runner.sweep import rng

#: A column value in a batch: an array of one value per point, a scalar broadcast to every point,
#: or ``None`` (not set: the profile decides).
ColumnValue = Any


@dataclass(frozen=True)
class Axis:
    """One dimension of the sweep.

    Attributes
    ----------
    label : str
        Where it comes from (``grid.memory``, ``zip``, ``points``, ``repeat``).
    length : int
        Number of positions.
    values : Mapping[str, numpy.ndarray]
        Column name -> array of ``length`` values (column units; codes for choice fields).
    """

    label: str
    length: int
    values: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class RandomField:
    """An input drawn independently for every point from the point's seed.

    Attributes
    ----------
    column : str
        Input column.
    kind : str
        ``uniform``, ``loguniform`` or ``choice``.
    lo, hi : float
        Bounds in column units (``uniform``, ``loguniform``).
    options : numpy.ndarray
        The values to choose from (``choice``; codes for choice fields).
    cum_weights : numpy.ndarray
        Cumulative normalised weights of ``options`` (last element 1).
    """

    column: str
    kind: str
    lo: float = 0.0
    hi: float = 0.0
    options: np.ndarray = field(default_factory=lambda: np.empty(0))
    cum_weights: np.ndarray = field(default_factory=lambda: np.empty(0))

    def draw(self, seeds: np.ndarray) -> np.ndarray:
        """Values for the points with these seeds (uint64), in column units."""
        u = rng.uniform01(seeds, self.column)
        if self.kind == "uniform":
            return self.lo + u * (self.hi - self.lo)
        if self.kind == "loguniform":
            llo, lhi = math.log(self.lo), math.log(self.hi)
            return np.exp(llo + u * (lhi - llo))
        pick = np.searchsorted(self.cum_weights, u, side="right")
        return self.options[np.minimum(pick, len(self.options) - 1)]


@dataclass(frozen=True)
class Plan:
    """A validated sweep, ready to expand batch by batch.

    Attributes
    ----------
    name : str
        Sweep name (default run directory ``results/<name>``).
    seed : int
        The spec's seed.
    axes : tuple of Axis
        Outermost first; the last one is ``repeat``.
    fixed : Mapping[str, Any]
        Column -> value for inputs set to one value for every point.
    random : tuple of RandomField
        Inputs drawn per point.
    overrides : Mapping[str, Mapping[str, Any]]
        Profile name -> policy field overrides.
    profiles : Mapping[str, Mapping[str, Any]]
        Custom profiles (profile files, :mod:`runner.profiles`): name -> plain data; their
        ``profile`` codes follow the shipped profiles' (``len(PROFILES) + i``).
    """

    name: str
    seed: int
    axes: tuple[Axis, ...]
    fixed: Mapping[str, Any]
    random: tuple[RandomField, ...]
    overrides: Mapping[str, Mapping[str, Any]]
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        """Number of points of the sweep (product of the axis lengths)."""
        return math.prod(a.length for a in self.axes)

    def strides(self) -> tuple[int, ...]:
        """Index stride of each axis (points between two consecutive positions)."""
        out, s = [], 1
        for a in reversed(self.axes):
            out.append(s)
            s *= a.length
        return tuple(reversed(out))

    def swept_columns(self) -> list[str]:
        """Input columns that vary across the sweep (axes and random fields), in input order."""
        cols = {c for a in self.axes for c in a.values} | {r.column for r in self.random}
        return [f.column for f in INPUTS if f.column in cols]

    def expand(self, start: int, stop: int) -> dict[str, ColumnValue]:
        """Columns of points ``start .. stop-1``.

        Parameters
        ----------
        start, stop : int
            Half-open range of point indices, ``0 <= start < stop <= n_points``.

        Returns
        -------
        dict
            ``point_id`` and ``seed`` (int64 arrays) and every input column: an array (length
            ``stop - start``), a scalar when the column is constant over the batch, or ``None``
            when the profile decides. Choice columns hold codes into the field's choices.
        """
        if not 0 <= start < stop <= self.n_points:
            raise ValueError(f"batch [{start}, {stop}) outside the sweep of {self.n_points} points")
        idx = np.arange(start, stop, dtype=np.int64)
        seeds = rng.point_seeds(self.seed, idx)
        out: dict[str, ColumnValue] = {"point_id": idx, "seed": seeds.view(np.int64)}
        for axis, stride in zip(self.axes, self.strides()):
            if not axis.values:
                continue
            block = start // stride
            if (stop - 1) // stride == block:  # one position for the whole batch
                for col, vals in axis.values.items():
                    out[col] = _scalar(vals[block % axis.length])
                continue
            sub = (idx // stride) % axis.length
            for col, vals in axis.values.items():
                out[col] = vals[sub]
        for col, value in self.fixed.items():
            out[col] = value
        for r in self.random:
            out[r.column] = r.draw(seeds)
        for f in INPUTS:
            if f.column not in out:
                out[f.column] = _default(f.column)
            v = out[f.column]
            if isinstance(v, float) and math.isnan(v):
                out[f.column] = None
        return out


def _scalar(x: Any) -> Any:
    """A NumPy scalar as a plain Python value."""
    return x.item() if hasattr(x, "item") else x


def _default(column: str) -> Any:
    f = INPUT_BY_COLUMN[column]
    if f.default is None:
        return None
    if f.kind == "choice":
        return f.choices.index(f.default)
    return f.default


def choice_code(column: str, value: str) -> int:
    """Code of a choice value (index into the field's choices)."""
    return INPUT_BY_COLUMN[column].choices.index(value)


def default_batch_size(n_points: int) -> int:
    """Points per batch when neither the spec nor the command line says.

    About 16 batches for small sweeps (so every worker gets work and the progress bar moves), at
    least 1,000 and at most 200,000 points per batch: large batches amortise the per-task and
    per-call costs (10 M points run ~8 % faster than with 100,000), and a batch of 200,000 rows
    stays below ~100 MB of Arrow data in a worker.
    """
    return int(min(200_000, max(1_000, math.ceil(n_points / 16))))
