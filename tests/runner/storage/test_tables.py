"""Every table reachable, exit status by outcome, run metadata (issue 10, items 6-10).

- item 6: a scenario spec with ``profile`` in ``[grid]`` runs (it crashed in pyarrow);
- item 7: exit 0 when every point was simulated (failed migrations are results), 3 when a batch
  crashed; the summary line counts failed and rejected migrations;
- items 8, 9: each table in its own directory of parts, read by Polars, pyarrow and DuckDB from the
  documented path with no extra arguments, and by ``query``/``summary``/``load`` by name;
- item 10: ``run.json`` records the versions of migsim, the model and the libraries.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest

import models
import runner
from runner.storage import rundir
from runner.storage import store
from runner.errors import RunDirError
from runner.storage.query import run_sql, summary
from runner.scenario.run import run_scenario
from runner.scenario.spec import parse_scenario

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"

PROFILE_GRID = """
kind = "scenario"
name = "profiles"
[[hosts]]
name = "h"
count = 2
[[vms]]
name = "vm"
count = 2
host = "h-1"
memory = "2GiB"
dirty_rate = "20MB/s"
[plan]
evacuate = "h-1"
[grid]
profile = ["qemu", "xen"]
hosts.link = ["1GbE", "10GbE"]
"""


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scn") / "profiles"
    run_scenario(parse_scenario(PROFILE_GRID, "profiles.toml"), out, batch_size=2, progress=False)
    return out


def test_item6_profile_in_a_scenario_grid(scenario_run: Path) -> None:
    mig = runner.load(scenario_run, "migrations").collect()
    scn = runner.load(scenario_run, "scenarios").collect().sort("point_id")
    assert mig.columns.count("profile") == 1 and scn.columns.count("profile") == 1
    assert scn.get_column("profile").to_list() == ["qemu", "qemu", "xen", "xen"]
    assert scn.get_column("hosts_link").to_list() == [1e9, 1e10, 1e9, 1e10]
    assert mig.height == 8
    assert (mig.group_by("point_id").agg(pl.col("profile").n_unique()).get_column("profile") == 1).all()
    assert set(mig.filter(pl.col("point_id") >= 2).get_column("profile")) == {"xen"}


def test_items8_9_layout_one_directory_per_table(small_run: Path, scenario_run: Path) -> None:
    for run, tables in ((small_run, ["results"]), (scenario_run, ["migrations", "scenarios", "hosts"])):
        assert store.table_names(run) == tables
        for t in tables:
            names = sorted(p.name for p in (run / t).iterdir())
            assert names and all(re.fullmatch(r"part-\d{6}\.parquet", n) for n in names), names


@pytest.mark.parametrize("which", ["sweep", "scenario"])
def test_items8_9_every_table_read_by_polars_pyarrow_and_duckdb(small_run: Path,
                                                                scenario_run: Path,
                                                                which: str) -> None:
    import duckdb

    run = small_run if which == "sweep" else scenario_run
    for t in store.table_names(run):
        path = run / t
        expected = store.load(run, t).collect()
        assert pl.scan_parquet(path).collect().equals(expected)             # no extra arguments
        assert ds.dataset(path).to_table().num_rows == expected.height
        con = duckdb.connect()
        n = con.execute(f"SELECT count(*) FROM read_parquet('{path}/*.parquet')").fetchall()[0][0]
        assert n == expected.height
        assert set(con.sql(f"SELECT * FROM read_parquet('{path}/*.parquet') LIMIT 1").columns) \
            == set(expected.columns)


def test_items8_every_scenario_table_reachable_by_query_summary_and_load(scenario_run: Path,
                                                                         run_cli) -> None:
    for t, n in (("migrations", 8), ("results", 8), ("scenarios", 4), ("hosts", 8)):
        assert run_sql(scenario_run, f"SELECT count(*) AS n FROM {t}").item() == n
        assert runner.load(scenario_run, t).collect().height == n
    res = run_cli(["query", scenario_run,
                   "SELECT s.point_id, s.makespan_s, max(h.sent_bytes) AS b FROM scenarios s "
                   "JOIN hosts h ON s.point_id = h.point_id GROUP BY 1, 2 ORDER BY 1"])
    assert res.returncode == 0, res.stderr
    assert "makespan_s" in res.stdout
    res = run_cli(["summary", scenario_run, "--table", "scenarios", "--by", "profile"])
    assert res.returncode == 0 and "makespan_s_p50" in res.stdout, res.stderr
    res = run_cli(["summary", scenario_run, "--table", "hosts", "--by", "host"])
    assert res.returncode == 0 and "h-1" in res.stdout, res.stderr
    df = summary(scenario_run, ["profile"])  # default: migrations
    assert df.get_column("points").sum() == 8
    with pytest.raises(RunDirError, match="no such table; allowed: migrations, scenarios, hosts"):
        runner.load(scenario_run, "vms")


def test_item10_run_json_records_the_versions(small_run: Path) -> None:
    from importlib.metadata import version

    man = json.loads((small_run / "run.json").read_text())
    assert man["format"] == "migsim-run" and man["format_version"] == 2
    v = man["versions"]
    assert v["migsim"] == version("migsim") and v["model"] == str(models.MODEL_VERSION)
    for lib in ("ray", "polars", "pyarrow", "numpy", "numba"):
        assert v[lib] == version(lib), lib


def test_item7_simulated_failures_exit_0_and_are_counted(tmp_path: Path, run_cli) -> None:
    """The shipped convergence map exists to find non-converging points: they are results."""
    out = tmp_path / "cmap"
    res = run_cli(["sweep", SWEEPS / "convergence-map.toml", "--out", out, "--no-progress",
                   "--batch-size", "4800"])
    assert res.returncode == 0, res.stderr
    m = re.search(r"19,200 points: ([\d,]+) completed, ([\d,]+) rejected, ([\d,]+) failed", res.stderr)
    assert m, res.stderr
    df = runner.load(out).collect()
    got = {r["status"]: r["count"] for r in df.get_column("status").value_counts().iter_rows(named=True)}
    assert int(m.group(3).replace(",", "")) == got["failed"] > 0
    assert int(m.group(2).replace(",", "")) == got["rejected"] > 0


def test_item7_a_crashed_batch_exits_3(tmp_path: Path, start_cli, wait_for) -> None:
    """The table directory turns into a file mid-run: the next batches cannot be committed, and
    the run fails with exit 3 (not 0, not 2), one line, status "failed" (resumable)."""
    out = tmp_path / "run"
    spec = SWEEPS / "convergence-map.toml"
    proc = start_cli(["sweep", spec, "--out", out, "--batch-size", "100", "--no-progress"])
    try:
        assert wait_for(lambda: proc.poll() is not None or
                        len(list(out.glob("*/part-*.parquet"))) >= 1, 120)
        (out / "results").rename(tmp_path / "moved")
        (out / "results").write_text("not a directory")
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 3, err
    lines = [ln for ln in err.splitlines() if ln.startswith("migsim: error: ")]
    assert len(lines) == 1 and re.search(r"batch \d+ failed: (FileExistsError|NotADirectoryError)",
                                         lines[0]), err
    assert "Traceback" not in err
    assert rundir.read_manifest(out)["status"] == "failed"
