"""Two migsim processes racing on one ``--out`` (issue 12, "Must show"): in every combination
(run/run, run/resume, run/force, resume/force) exactly one proceeds, the other is refused naming
the holder of the lock, and the survivor's rows are complete and identical to a clean run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import runner
from runner.storage import rundir
from runner.sweep.spec import parse_spec

from tests.runner.conftest import SMALL_SPEC, build_run

SMALL = parse_spec(SMALL_SPEC, "small.toml", "small")
FLAGS = {"run": ["--batch-size", "8"], "resume": ["--resume"], "force": ["--force", "--batch-size", "8"]}


@pytest.mark.slow
@pytest.mark.parametrize("first,second", [("run", "run"), ("run", "resume"), ("run", "force"),
                                          ("resume", "force")])
def test_two_writers_race_on_one_out(tmp_path: Path, start_cli, first: str, second: str) -> None:
    reference = tmp_path / "reference"
    build_run(SMALL, reference, batch_size=32)
    expected = runner.load(reference).collect()
    spec = tmp_path / "small.toml"
    spec.write_text(SMALL_SPEC)
    out = tmp_path / "out"
    if "resume" in (first, second) and first != "run":
        build_run(SMALL, out, batch_size=8, batches=[0, 1, 2])  # an interrupted run to finish
    # --executor ray: each writer holds the lock for seconds (Ray's start), so the two overlap
    procs = [start_cli(["sweep", spec, "--out", out, "--no-progress", "--executor", "ray",
                        *FLAGS[k]])
             for k in (first, second)]
    results = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        results.append((p.returncode, err, p.pid))
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (_, won_err, won_pid), = [r for r in results if r[0] == 0]
    (_, lost_err, _), = [r for r in results if r[0] == 2]
    lines = [ln for ln in lost_err.splitlines() if ln.strip()]
    assert len(lines) == 1, lost_err
    assert re.search(rf"in use by another migsim process \(pid {won_pid} on .*migsim sweep", lines[0]), \
        lost_err
    df = runner.load(out, verify=True).collect()
    assert df.equals(expected)
    assert rundir.read_manifest(out)["status"] == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "reference", "small.toml"]
