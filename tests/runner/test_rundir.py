"""Run directories: part names, atomic commits, validation of parts, safety of --force."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from runner import rundir
from runner.batch import evaluate
from runner.errors import RunDirError
from runner.rundir import Layout
from runner.spec import parse_spec

SPEC = parse_spec('memory = "1GiB"\n[grid]\ndirty_rate = { logspace = ["1MB/s", "1GB/s"], num = 25 }')


def test_layout_bounds_and_names() -> None:
    lay = Layout(Path("/x"), 25, 10)
    assert lay.n_batches == 3
    assert [lay.bounds(b) for b in range(3)] == [(0, 10), (10, 20), (20, 25)]
    assert lay.part_name(2) == "part-000002.parquet"
    assert Layout(Path("/x"), 10**8, 1).part_name(5) == "part-00000005.parquet"


def test_write_part_is_atomic_and_validated(tmp_path: Path) -> None:
    lay = Layout(tmp_path, SPEC.n_points, 10)
    lay.parts_dir.mkdir()
    table = evaluate(SPEC.plan, 0, 10)
    path = rundir.write_part(lay, 0, table, {"batch": 0, "fingerprint": "fp", "counts": {}})
    assert path.name == "part-000000.parquet"
    assert [p.name for p in lay.parts_dir.iterdir()] == ["part-000000.parquet"]  # no temp left
    assert pq.read_table(path).num_rows == 10
    assert rundir.part_is_valid(lay, 0, "fp")["batch"] == 0
    assert rundir.part_is_valid(lay, 0, "other") is None      # another spec's part
    assert rundir.part_is_valid(lay, 1, "fp") is None         # missing
    # a part with the wrong number of rows (say, a different batch size) is not trusted
    rundir.write_part(lay, 1, evaluate(SPEC.plan, 10, 15), {"batch": 1, "fingerprint": "fp"})
    assert rundir.part_is_valid(lay, 1, "fp") is None
    # a truncated file is not trusted either
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert rundir.part_is_valid(lay, 0, "fp") is None


def test_clean_temporaries(tmp_path: Path) -> None:
    lay = Layout(tmp_path, 10, 5)
    lay.parts_dir.mkdir()
    (lay.parts_dir / ".part-000000.parquet.123.abcd.tmp").write_bytes(b"partial")
    assert rundir.clean_temporaries(lay) == 1
    assert not any(lay.parts_dir.iterdir())


def test_check_fresh_never_deletes_foreign_directories(tmp_path: Path) -> None:
    rundir.check_fresh(tmp_path / "absent", force=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    rundir.check_fresh(empty, force=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(RunDirError, match="not a migsim run"):
        rundir.prepare_fresh(foreign, force=True)
    assert (foreign / "thesis.tex").exists()
    run = tmp_path / "run"
    rundir.create(run, "x = 1", {}, {"n_batches": 0})
    with pytest.raises(RunDirError, match="--resume"):
        rundir.check_fresh(run, force=False)
    rundir.prepare_fresh(run, force=True)
    assert not run.exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        rundir.check_fresh(a_file, force=True)
