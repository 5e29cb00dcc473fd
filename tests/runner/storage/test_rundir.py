"""Run directories: part names, atomic commits, validation of parts, safety of --force."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from runner.storage import rundir
from runner.sweep.batch import evaluate
from runner.storage.rundir import Layout
from runner.sweep.spec import parse_spec

SPEC = parse_spec('memory = "1GiB"\n[grid]\ndirty_rate = { logspace = ["1MB/s", "1GB/s"], num = 25 }')


def test_layout_bounds_and_names() -> None:
    lay = Layout(Path("/x"), 25, 10)
    assert lay.n_batches == 3
    assert [lay.bounds(b) for b in range(3)] == [(0, 10), (10, 20), (20, 25)]
    assert lay.part_name(2) == "part-000002.parquet"
    assert Layout(Path("/x"), 10**8, 1).part_name(5) == "part-00000005.parquet"


def test_write_part_is_atomic_and_checksummed(tmp_path: Path) -> None:
    lay = Layout(tmp_path, SPEC.n_points, 10)
    table = evaluate(SPEC.plan, 0, 10)
    rec = rundir.write_part(lay, 0, table, {"batch": 0, "fingerprint": "fp", "counts": {}})
    path = lay.part_path(0)
    assert rec["name"] == "part-000000.parquet" and rec["rows"] == 10
    assert rec["size"] == path.stat().st_size and rec["sha256"] == rundir.file_sha256(path)
    assert [p.name for p in lay.table_dir.iterdir()] == ["part-000000.parquet"]  # nothing else
    assert not any(lay.staging_dir.iterdir())                                   # no temp left
    assert pq.read_table(path).num_rows == 10
    assert rundir.check_part(path, rec, full=True) is None
    assert rundir.check_part(lay.part_path(1), rec, full=False) == "missing"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert rundir.check_part(path, rec, full=False) is None       # same size: only sha256 sees it
    assert "sha256" in rundir.check_part(path, rec, full=True)
    path.write_bytes(bytes(data[: len(data) // 2]))
    assert "damaged" in rundir.check_part(path, rec, full=False)  # truncated: the size sees it


def test_clean_staging(tmp_path: Path) -> None:
    lay = Layout(tmp_path, 10, 5)
    lay.staging_dir.mkdir(parents=True)
    (lay.staging_dir / ".results.part-000000.parquet.123.abcd.tmp").write_bytes(b"partial")
    assert rundir.clean_staging(tmp_path) == 1
    assert not any(lay.staging_dir.iterdir())
