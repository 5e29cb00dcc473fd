"""One contract for every executor of a sweep (``local``: in-process; ``ray``: Ray tasks on a real
two-raylet cluster): the same rows bit for bit (Parquet read back), the same run directory and
ledger, the same resume and failure semantics; and ``auto`` picks in-process for small sweeps
without importing Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import models
from runner.errors import OptionError, RunFailure
from runner.storage import rundir
from runner.sweep import execute
from runner.sweep.batch import evaluate
from runner.sweep.run import run_sweep
from runner.sweep.spec import parse_spec
from tests.conftest import REPO, cli_env
from tests.runner.conftest import build_run

# random draws per point and several batches: what could differ between executors would show
TEXT = """
name = "contract"
seed = 21
memory = { loguniform = ["1GiB", "64GiB"] }
dirty_rate = { loguniform = ["1MB/s", "2GB/s"] }
repeat = 5
[grid]
profile = ["vsphere-5.1", "hyperv-2012", "qemu", "xen"]
link = ["1GbE", "10GbE"]
"""
N = 4 * 2 * 5
BATCH = 7


@pytest.fixture(params=["local", "ray"])
def executor(request) -> dict:
    """Keyword arguments of :func:`run_sweep` for each executor (Ray: the test cluster)."""
    if request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        return {"executor": "ray", "address": cluster.address}
    return {"executor": "local"}


def spec():
    return parse_spec(TEXT, "contract.toml", "contract")


def table(root: Path):
    """Every part read back with pyarrow, in point order (metadata dropped)."""
    parts = sorted((root / "results").glob("part-*.parquet"))
    import pyarrow as pa
    t = pa.concat_tables([pq.read_table(p) for p in parts])
    return t.replace_schema_metadata(None)


def test_rows_are_identical_bit_for_bit(executor: dict, tmp_path: Path) -> None:
    s = spec()
    res = run_sweep(s, tmp_path / "run", batch_size=BATCH, progress=False, **executor)
    assert res.executor == executor["executor"] and res.computed_points == N
    got = table(tmp_path / "run")
    want = evaluate(s.plan, 0, N).replace_schema_metadata(None)   # the model, no executor
    assert got.num_rows == N and got.equals(want)


def test_same_directory_ledger_and_manifest(executor: dict, tmp_path: Path) -> None:
    s = spec()
    root = tmp_path / "run"
    run_sweep(s, root, batch_size=BATCH, progress=False, **executor)
    man = rundir.read_manifest(root)
    assert man["status"] == "complete" and man["executor"] == executor["executor"]
    assert (man["n_batches"], man["batch_size"], man["fingerprint"]) == (
        -(-N // BATCH), BATCH, s.fingerprint())
    assert sorted(p.name for p in root.iterdir()) == [".migsim", "results", "run.json",
                                                      "spec.json", "spec.toml"]
    ledger = rundir.read_ledger(root)
    assert sorted(ledger) == list(range(-(-N // BATCH)))
    assert [ledger[b]["files"]["results"]["name"] for b in sorted(ledger)] == \
        [p.name for p in sorted((root / "results").iterdir())]
    assert sum(ledger[b]["rows"] for b in ledger) == N
    assert sum(man["counts"].values()) == N


def test_resume_computes_only_the_missing_batches(executor: dict, tmp_path: Path) -> None:
    s = spec()
    root = tmp_path / "run"
    build_run(s, root, batch_size=BATCH, batches=[0, 2, 5])   # an interrupted run
    kept = {p.name: p.stat().st_mtime_ns for p in (root / "results").iterdir()}
    res = run_sweep(s, root, resume=True, batch_size=BATCH, progress=False, **executor)
    assert res.resumed_batches == 3 and res.computed_points == N - (BATCH + BATCH + 5)   # batch 5 is the last: 5 points
    assert {p.name: p.stat().st_mtime_ns for p in (root / "results").iterdir()
            if p.name in kept} == kept
    assert table(root).equals(evaluate(s.plan, 0, N).replace_schema_metadata(None))


def test_a_failing_batch_is_a_run_failure_and_earlier_parts_stay(executor: dict, tmp_path: Path,
                                                                  monkeypatch) -> None:
    real = execute.run_batch

    def failing(plan, root, n_points, batch_size, batch, fingerprint, model_version):
        # nested: Ray pickles it by value, so its workers run it too
        if batch == 3:
            raise ValueError("injected fault in batch 3")
        return real(plan, root, n_points, batch_size, batch, fingerprint, model_version)

    monkeypatch.setattr(execute, "run_batch", failing)
    root = tmp_path / "run"
    with pytest.raises(RunFailure, match=r"^batch 3 failed: ValueError: injected fault in batch 3$"):
        run_sweep(spec(), root, batch_size=BATCH, progress=False, max_in_flight=1, **executor)
    man = rundir.read_manifest(root)
    assert man["status"] == "failed"
    assert {0, 1, 2} <= set(rundir.read_ledger(root)) and 3 not in rundir.read_ledger(root)
    monkeypatch.setattr(execute, "run_batch", real)
    res = run_sweep(spec(), root, resume=True, progress=False, **executor)
    assert res.computed_points > 0 and rundir.read_manifest(root)["status"] == "complete"


def test_local_with_an_address_is_refused() -> None:
    with pytest.raises(OptionError, match="--executor local"):
        execute.choose_executor("local", 10, "127.0.0.1:6379")
    with pytest.raises(OptionError, match="--executor: invalid value 'fast'"):
        execute.choose_executor("fast", 10, None)


def test_auto_picks_local_for_small_and_ray_for_large_or_an_address(monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(execute, "_ray_connected", lambda: False)
    assert execute.choose_executor("auto", execute.AUTO_LOCAL_MAX_POINTS, None) == "local"
    assert execute.choose_executor("auto", execute.AUTO_LOCAL_MAX_POINTS + 1, None) == "ray"
    assert execute.choose_executor("auto", 10, "127.0.0.1:6379") == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert execute.choose_executor("auto", 10, None) == "ray"
    assert execute.choose_executor("local", 10, None) == "local"   # asked explicitly


def test_a_small_sweep_runs_without_importing_ray(tmp_path: Path) -> None:
    """The fast path: ``auto`` on a small sweep neither starts nor imports Ray (or Polars)."""
    code = ("import sys; from runner.sweep.run import run_sweep; "
            f"r = run_sweep({str(REPO / 'sweeps' / 'quickstart.toml')!r}, 'out', progress=False); "
            "print(r.executor, r.computed_points, 'ray' in sys.modules, 'polars' in sys.modules)")
    env = cli_env()
    env.pop("RAY_ADDRESS", None)
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["local", "72", "False", "False"]
    assert rundir.read_manifest(tmp_path / "out")["model_version"] == models.MODEL_VERSION
