"""The Arrow schema is derived from models.fields: every input and output, units in the names."""

from __future__ import annotations

import pyarrow as pa

from models.fields import INPUTS, OUTPUTS
from runner.storage.schema import COLUMNS, INPUT_COLUMNS, OUTPUT_COLUMNS, SCHEMA


def test_schema_has_every_input_and_output_once() -> None:
    assert SCHEMA.names == list(COLUMNS)
    assert len(set(COLUMNS)) == len(COLUMNS)
    assert COLUMNS[:2] == ("point_id", "seed")
    assert INPUT_COLUMNS == tuple(f.column for f in INPUTS)
    assert OUTPUT_COLUMNS == tuple(OUTPUTS)


def test_types_follow_the_fields() -> None:
    assert SCHEMA.field("point_id").type == pa.int64()
    assert SCHEMA.field("profile").type == pa.string()
    assert SCHEMA.field("memory_bytes").type == pa.float64()
    assert SCHEMA.field("auto_converge").type == pa.bool_()
    assert SCHEMA.field("precopy_rounds").type == pa.int64()
    assert SCHEMA.field("converged").type == pa.bool_()
    assert SCHEMA.field("vcpus").type == pa.int64() and SCHEMA.field("nics").type == pa.int64()
    # an input is null only where no value was used (unknown profile, non-integral count)
    for f in INPUTS:
        assert SCHEMA.field(f.column).nullable == (f.default is None or f.kind == "count")
    # outputs that do not apply to every status may be null; status and reason never
    assert not SCHEMA.field("status").nullable and not SCHEMA.field("reason").nullable
    assert SCHEMA.field("downtime_ms").nullable and SCHEMA.field("precopy_rounds").nullable
