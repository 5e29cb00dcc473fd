"""Values that do not exist are null in the Parquet results, for every column type: a refused
migration has no verdict, no pass count, no connections; a failed one no downtime and no
connections (models.fields.OUTPUT_APPLIES), whether the column is a float, an integer or a bool."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from models.fields import OUTPUT_APPLIES
from runner.sweep.spec import parse_spec
from tests.runner.conftest import build_run

SPEC = """
name = "nulls"
[grid]
profile = ["vsphere-5.1", "qemu"]
link = ["100Mbps", "10GbE"]
dirty_rate = ["0B/s", "2GB/s"]
timeout = "30s"
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> pl.DataFrame:
    root = tmp_path_factory.mktemp("nulls") / "run"
    build_run(parse_spec(SPEC, "nulls.toml", "nulls"), root)
    return pl.read_parquet(root / "results" / "*.parquet")


def test_every_status_is_present(rows):
    assert set(rows.get_column("status")) == {"rejected", "failed", "completed"}


@pytest.mark.parametrize("column", ["converged", "connections_preserved", "precopy_rounds",
                                    "downtime_ms", "total_time_s", "max_throttle_pct"])
def test_outputs_are_null_exactly_where_they_do_not_apply(rows, column):
    applies = rows.get_column("status").is_in(list(OUTPUT_APPLIES[column]))
    null = rows.get_column(column).is_null()
    assert (null == ~applies).all(), rows.select("status", column)
