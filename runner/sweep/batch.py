"""One batch of sweep points: expand, simulate vectorised, and build the Arrow table of its rows.

Pure computation, no I/O and no Ray: the same function serves a Ray task, a test, and an
in-process run. A batch always yields exactly one row per point. The model returns bad points as
``rejected``/``failed`` rows; should it raise anyway (a bug), the batch is bisected until the
offending points are isolated, and those become ``failed`` rows (``rejected`` for a
:class:`~models.errors.MigsimError`) whose reason carries the exception — the sweep goes on and no
row goes missing.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.errors import MigsimError
from models.fields import INPUT_BY_COLUMN, INPUTS, OUTPUT_APPLIES, OUTPUTS, RESOLVED, null_masks
from runner.sweep.plan import Plan
from runner.storage.schema import SCHEMA, to_arrow

Simulate = Callable[..., Mapping[str, Any]]
_CHOICES_OBJ = {f.column: np.asarray(f.choices, dtype=object) for f in INPUTS if f.kind == "choice"}
_CHOICES_PA = {f.column: pa.array(f.choices, type=pa.string()) for f in INPUTS if f.kind == "choice"}
MAX_REASON = 500


def model_function() -> Simulate:
    """The model's batch entry point, ``models.simulate``."""
    import models
    fn = getattr(models, "simulate", None)
    if fn is None:  # until models/__init__ re-exports it
        from models.migration import simulate as fn
    return fn


def model_inputs(cols: Mapping[str, Any], profiles: tuple[str, ...] | None = None
                 ) -> dict[str, Any]:
    """Input columns of a batch in the form ``models.simulate`` takes.

    Choice codes become strings (object arrays), ``None`` (profile decides) is left out, NaN in a
    float array means "profile decides" for that point. ``profiles``: the names the profile codes
    index when the plan has custom profiles (:func:`runner.profiles.profile_names`).
    """
    out: dict[str, Any] = {}
    for f in INPUTS:
        v = cols[f.column]
        if v is None:
            continue
        if f.kind == "choice" and profiles is not None and f.column == "profile":
            v = np.asarray(profiles, dtype=object)[v] if isinstance(v, np.ndarray) else profiles[v]
        elif f.kind == "choice":
            v = _CHOICES_OBJ[f.column][v] if isinstance(v, np.ndarray) else f.choices[v]
        out[f.column] = v
    return out


def evaluate(plan: Plan, start: int, stop: int, simulate: Simulate | None = None) -> pa.Table:
    """Rows of points ``start .. stop-1`` of a plan.

    Parameters
    ----------
    plan : Plan
        The sweep.
    start, stop : int
        Half-open range of point indices.
    simulate : callable, optional
        The model function (default :func:`model_function`).

    Returns
    -------
    pyarrow.Table
        ``stop - start`` rows with :data:`runner.storage.schema.SCHEMA`, in point order.
    """
    cols = plan.expand(start, stop)
    n = stop - start
    names = None
    sim = simulate or model_function()
    if getattr(plan, "profiles", None):
        from functools import partial

        from runner.profiles import plan_profiles, profile_names
        names = profile_names(plan)
        sim = partial(sim, profiles=plan_profiles(plan))
    inputs = model_inputs(cols, names)
    outputs = safe_simulate(sim, inputs, plan.overrides, n)
    return to_table(cols, outputs, n, names)


def safe_simulate(simulate: Simulate, inputs: Mapping[str, Any],
                  overrides: Mapping[str, Mapping[str, Any]], n: int) -> dict[str, np.ndarray]:
    """Call the model; never raise, always return ``n`` rows of every output column."""
    if not any(isinstance(v, np.ndarray) for v in inputs.values()):
        one = safe_simulate(simulate, {k: np.asarray([v], dtype=INPUT_BY_COLUMN[k].dtype)
                                       for k, v in inputs.items()} or
                            {"memory_bytes": np.asarray([INPUT_BY_COLUMN["memory_bytes"].default])},
                            overrides, 1)
        return {k: np.repeat(v, n) for k, v in one.items()}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            raw = simulate(inputs, overrides or None)
        return _check_outputs(raw, n)
    except Exception as exc:  # noqa: BLE001 - a model bug must not lose rows
        if n == 1:
            return _error_rows(exc, 1)
        half = n // 2
        left = safe_simulate(simulate, _take(inputs, slice(0, half)), overrides, half)
        right = safe_simulate(simulate, _take(inputs, slice(half, n)), overrides, n - half)
        return {k: np.concatenate([left[k], right[k]]) for k in left}


def _take(inputs: Mapping[str, Any], sl: slice) -> dict[str, Any]:
    return {k: v[sl] if isinstance(v, np.ndarray) else v for k, v in inputs.items()}


def _check_outputs(raw: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    out = {}
    expected = {**OUTPUTS, **{k: (np.dtype(np.float64), "") for k in RESOLVED}}
    for k, (dtype, _) in expected.items():
        if k not in raw:
            raise KeyError(f"the model returned no column {k!r}")
        a = np.asarray(raw[k])
        if a.ndim == 0:
            a = np.full(n, a.item(), dtype=dtype)
        if a.shape != (n,):
            raise ValueError(f"the model returned {k!r} with shape {a.shape}, expected ({n},)")
        out[k] = a if a.dtype == dtype else a.astype(dtype)
    return out


def _error_rows(exc: BaseException, n: int) -> dict[str, np.ndarray]:
    status = "rejected" if isinstance(exc, MigsimError) else "failed"
    reason = f"{'' if status == 'rejected' else 'model error: '}{type(exc).__name__}: {exc}"
    out: dict[str, np.ndarray] = {k: np.full(n, np.nan) for k in RESOLVED}
    for k, (dtype, _) in OUTPUTS.items():
        if dtype == np.dtype(object):
            out[k] = np.full(n, "", dtype=object)
        elif dtype == np.dtype(bool):
            out[k] = np.zeros(n, dtype=bool)
        elif np.issubdtype(dtype, np.integer):
            out[k] = np.zeros(n, dtype=dtype)
        else:
            out[k] = np.full(n, np.nan, dtype=dtype)
    out["status"][:] = status
    out["reason"][:] = reason[:MAX_REASON]
    return out


def _arrow_column(name: str, value: Any, n: int, typ: pa.DataType,
                  null: np.ndarray | None = None, profiles: tuple[str, ...] | None = None
                  ) -> pa.Array:
    """One column of a batch; ``null`` marks rows where an output does not apply; ``profiles``:
    the names profile codes index when the plan has custom profiles."""
    if value is None:
        return pa.nulls(n, typ)
    if name == "profile" and profiles is not None:
        if isinstance(value, np.ndarray):
            return pc.take(pa.array(profiles, type=pa.string()), pa.array(value))
        return pa.repeat(pa.scalar(profiles[value], typ), n)
    if name in _CHOICES_PA:
        if isinstance(value, np.ndarray):
            return pc.take(_CHOICES_PA[name], pa.array(value))
        return pa.repeat(pa.scalar(INPUT_BY_COLUMN[name].choices[value], typ), n)
    if not isinstance(value, np.ndarray):
        return pa.repeat(pa.scalar(value, typ), n)
    return to_arrow(value, typ, null)


def to_table(cols: Mapping[str, Any], outputs: Mapping[str, np.ndarray], n: int,
             profiles: tuple[str, ...] | None = None) -> pa.Table:
    """Assemble the Arrow table of a batch from its input columns and model outputs.

    Inputs the profile resolves come from the model (the value used); outputs that do not apply
    to a row's status are null.
    """
    nulls = null_masks(outputs["status"])
    arrays = []
    for fld in SCHEMA:
        if fld.name in OUTPUTS:
            arrays.append(_arrow_column(fld.name, outputs[fld.name], n, fld.type,
                                        nulls[OUTPUT_APPLIES[fld.name]]))
        else:
            value = outputs[fld.name] if fld.name in RESOLVED else cols[fld.name]
            arrays.append(_arrow_column(fld.name, value, n, fld.type, profiles=profiles))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)
