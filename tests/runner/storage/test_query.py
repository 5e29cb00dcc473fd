"""Polars SQL over a run, grouped summaries, writing answers out."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from runner.errors import QueryError
from runner.storage.query import resolve_column, run_sql, summary, write_frame


def test_sql_over_results(small_run: Path) -> None:
    df = run_sql(small_run, "SELECT profile, count(*) AS n FROM results GROUP BY profile "
                            "ORDER BY profile")
    assert df.get_column("n").to_list() == [32, 32, 32, 32]
    with pytest.raises(QueryError, match="query failed"):
        run_sql(small_run, "SELEC nothing")
    with pytest.raises(QueryError, match="nope"):
        run_sql(small_run, "SELECT nope FROM results")


def test_summary_by_input_names_and_columns(small_run: Path) -> None:
    df = summary(small_run, ["profile", "link"])
    assert df.height == 8
    assert {"points", "completed", "rejected", "failed", "converged_share", "total_time_s_p50",
            "total_time_s_p95", "downtime_ms_p50", "downtime_ms_p95", "transferred_GiB_p50",
            "transferred_GiB_p95"} <= set(df.columns)
    assert df.get_column("points").sum() == 128
    assert (df.get_column("completed") + df.get_column("rejected")
            + df.get_column("failed") == df.get_column("points")).all()
    row = df.filter((pl.col("profile") == "vsphere-5.1") & (pl.col("link_bps") == 1e10)).row(
        0, named=True)
    assert row["total_time_s_p50"] <= row["total_time_s_p95"]
    whole = summary(small_run, [], where="profile = 'qemu'")
    assert whole.height == 1 and whole.item(0, "points") == 32
    with pytest.raises(QueryError, match="unknown column"):
        summary(small_run, ["lnk"])
    with pytest.raises(QueryError, match="--where"):
        summary(small_run, ["profile"], where="no such thing")
    assert resolve_column("link") == "link_bps" and resolve_column("link_bps") == "link_bps"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json", ".ndjson"])
def test_write_frame(tmp_path: Path, small_run: Path, suffix: str) -> None:
    df = run_sql(small_run, "SELECT point_id, profile, downtime_ms FROM results")
    out = tmp_path / f"answer{suffix}"
    write_frame(df, out)
    assert out.stat().st_size > 0
    if suffix == ".parquet":
        assert pl.read_parquet(out).equals(df)
    if suffix == ".csv":
        assert pl.read_csv(out).height == df.height


def test_write_frame_errors(tmp_path: Path) -> None:
    df = pl.DataFrame({"a": [1]})
    with pytest.raises(QueryError, match="unknown format"):
        write_frame(df, tmp_path / "x.xlsx")
    with pytest.raises(QueryError, match="does not exist"):
        write_frame(df, tmp_path / "no" / "x.csv")


def test_the_readme_median_query_agrees_with_summary(tmp_path: Path) -> None:
    """Issue 10, item 4: failed rows held 0 s and 0 ms, so the README's SQL median mixed them in
    (qemu median downtime 56.7 ms by SQL, 267.9 ms by summary on convergence-map)."""
    from runner.sweep.spec import parse_spec
    from tests.runner.conftest import build_run

    spec = parse_spec("""
        name = "mixed"
        memory = "4GiB"
        timeout = "60s"
        [grid]
        profile = ["qemu", "vsphere-5.1"]
        link = ["100Mbit/s", "1GbE", "10GbE"]
        dirty_rate = ["1MB/s", "50MB/s", "200MB/s", "2GB/s"]
        """, "mixed.toml", "mixed")
    build_run(spec, tmp_path / "mixed")
    sql = run_sql(tmp_path / "mixed", "SELECT profile, median(total_time_s) AS t, "
                  "median(downtime_ms) AS d, count(downtime_ms) AS n FROM results "
                  "GROUP BY profile ORDER BY profile")
    summ = summary(tmp_path / "mixed", ["profile"]).sort("profile")
    assert set(run_sql(tmp_path / "mixed", "SELECT DISTINCT status FROM results")
               .get_column("status")) == {"completed", "failed", "rejected"}
    assert sql.get_column("t").to_list() == summ.get_column("total_time_s_p50").to_list()
    assert sql.get_column("d").to_list() == summ.get_column("downtime_ms_p50").to_list()
    assert sql.get_column("n").to_list() == summ.get_column("completed").to_list()
