"""Reading runs back: runner.load, plain Polars, incomplete runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import runner
from runner.errors import RunDirError
from runner.storage.schema import COLUMNS
from runner.storage.store import run_info


def test_load_returns_every_point_once_in_order(small_run: Path) -> None:
    lf = runner.load(small_run)
    assert isinstance(lf, pl.LazyFrame)
    df = lf.collect()
    assert df.columns == list(COLUMNS)
    assert df.height == 128
    assert df.get_column("point_id").to_list() == list(range(128))
    assert set(df.get_column("status").unique()) <= {"completed", "failed", "rejected"}


def test_plain_polars_and_the_table_directory_work_too(small_run: Path) -> None:
    df = pl.scan_parquet(str(small_run / "results" / "*.parquet")).collect()
    assert df.height == 128
    assert runner.load(small_run / "results").collect().height == 128


def test_load_errors(tmp_path: Path, small_run: Path) -> None:
    with pytest.raises(RunDirError, match="does not exist"):
        runner.load(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not a migsim run"):
        runner.load(tmp_path)
    partial = tmp_path / "partial"
    shutil.copytree(small_run, partial)
    (partial / "results" / "part-000001.parquet").unlink()
    info = run_info(partial)
    assert not info.complete and "--resume" in info.describe_missing()
    assert runner.load(partial).collect().height == 96
    for p in (partial / "results").iterdir():
        p.unlink()
    with pytest.raises(RunDirError, match="no results yet"):
        runner.load(partial)
