"""The one Arrow schema of a result row, derived from :mod:`models.fields`.

A row is one sweep point: ``point_id`` (index of the point in its sweep), ``seed`` (the point's own
seed), every model input column (SI units in the names: ``memory_bytes``, ``link_bps``, ...) and
every model output column. Every input column holds the value the point used: an input whose
default is "the profile decides" (``wws_bytes``, ``efficiency``, ...) holds the profile's value
(null only when the profile itself is invalid). Counts (``vcpus``, ``nics``, ``precopy_rounds``) are
integers. An output that does not apply to a row (``models.fields.OUTPUT_APPLIES``: the downtime of
a failed migration, every output of a rejected one) is null, never 0. Nothing else in the runner
spells out column names or types.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from models.fields import INPUTS, OUTPUT_APPLIES, OUTPUTS, RESOLVED, STATUSES, Field

#: Columns that identify a point, before the inputs.
META_COLUMNS: tuple[str, ...] = ("point_id", "seed")
#: Model input columns, in :data:`models.fields.INPUTS` order.
INPUT_COLUMNS: tuple[str, ...] = tuple(f.column for f in INPUTS)
#: Model output columns, in :data:`models.fields.OUTPUTS` order.
OUTPUT_COLUMNS: tuple[str, ...] = tuple(OUTPUTS)
#: Every column of a result row, in file order.
COLUMNS: tuple[str, ...] = META_COLUMNS + INPUT_COLUMNS + OUTPUT_COLUMNS


def arrow_type(dtype: Any) -> pa.DataType:
    """The Arrow type of a NumPy dtype (object: string)."""
    dtype = np.dtype(dtype)
    if dtype == np.dtype(object):
        return pa.string()
    if dtype == np.dtype(bool):
        return pa.bool_()
    return pa.from_numpy_dtype(dtype)


def to_arrow(values: Any, typ: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    """An array (or list) of one column as Arrow: NaN floats are null, counts held as floats
    become integers (null where not whole: a rejected point's, never truncated), and rows in
    ``null`` (an output that does not apply to the row's status) are null."""
    if pa.types.is_floating(typ) or pa.types.is_integer(typ):
        arr = np.asarray(values)
        if arr.dtype.kind == "f":
            mask = np.isnan(arr) if pa.types.is_floating(typ) else \
                ~np.isfinite(arr) | (arr != np.floor(arr))
            if null is not None:
                mask = mask | null
            if pa.types.is_integer(typ):
                arr = np.where(mask, 0, arr).astype(np.int64)
            return pa.array(arr, type=typ, mask=mask if mask.any() else None)
    return pa.array(values, type=typ, mask=null if null is not None and null.any() else None)


def input_type(f: Field) -> pa.DataType:
    """The Arrow type of an input column (counts are integers)."""
    return pa.int64() if f.kind == "count" else arrow_type(f.dtype)


def _input_field(f: Field) -> pa.Field:
    meta = {b"unit_kind": f.kind.encode(), b"unit": f.unit.encode(), b"description": f.help.encode()}
    # null only where no value was used: a profile-resolved input of an unknown profile, a count
    # that is not a whole number (both rows are rejected, with the reason)
    nullable = f.column in RESOLVED or f.kind == "count"
    return pa.field(f.column, input_type(f), nullable=nullable, metadata=meta)


def _build() -> pa.Schema:
    fields = [
        pa.field("point_id", pa.int64(), nullable=False,
                 metadata={b"description": b"index of the point in its sweep (stable)"}),
        pa.field("seed", pa.int64(), nullable=False,
                 metadata={b"description": b"the point's own seed (random inputs derive from it)"}),
    ]
    fields += [_input_field(f) for f in INPUTS]
    fields += [pa.field(name, arrow_type(dt), nullable=OUTPUT_APPLIES[name] != STATUSES,
                        metadata={b"description": desc.encode(),
                                  b"applies_to": ",".join(OUTPUT_APPLIES[name]).encode()})
               for name, (dt, desc) in OUTPUTS.items()]
    return pa.schema(fields)


#: The Arrow schema of every Parquet part of every run.
SCHEMA: pa.Schema = _build()
