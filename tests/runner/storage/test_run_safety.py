"""Runs that cannot be lost, corrupted or turned against the user (issue 12).

Each test of "What was seen" item N is named ``test_seenN_...``. The CLI is run as users run it
(a subprocess of the installed ``migsim``); what Ray adds nothing to is tested in-process.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

import runner
from models.errors import MigsimError, SpecError
from runner.storage import rundir
from runner.errors import DamagedPartError, RunDirError, RunFailure, RunLockedError, exit_code
from runner.storage.rundir import RunLock
from runner.sweep.spec import parse_spec
from runner.sweep.run import MANIFEST_KIND, _manifest

from tests.conftest import cli_env
from tests.runner.conftest import SMALL_SPEC, build_run

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"
QUICK = SWEEPS / "quickstart.toml"
SMALL = parse_spec(SMALL_SPEC, "small.toml", "small")


def one_line_error(res: subprocess.CompletedProcess) -> str:
    """The one ``migsim: error:`` line of a refused command (and nothing else on stderr)."""
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("migsim: error: "), res.stderr
    return lines[0]


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def flip_middle(path: Path, n: int = 64) -> None:
    """Flip ``n`` bytes in the middle of a file (its footer stays intact)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid, mid + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def open_small(root: Path, **kw):
    fp = SMALL.fingerprint()
    args = dict(kind=MANIFEST_KIND, n_points=SMALL.n_points, batch_size=None,
                default_batch_size=32, fingerprint=fp, resume=False, force=False,
                new_manifest=lambda lay: _manifest(SMALL, lay, fp), spec_text=SMALL.text,
                resolved=SMALL.resolved)
    args.update(kw)
    return rundir.open_run(root, **args)


# ---------------------------------------------------------------------------- 1: the marker
def test_seen1_force_never_touches_another_tools_directory(tmp_path: Path, run_cli) -> None:
    x = tmp_path / "X"
    (x / "data").mkdir(parents=True)
    (x / "run.json").write_text("{}")
    (x / "data" / "results.csv").write_text("keep")
    res = run_cli(["sweep", QUICK, "--out", x, "--force"])
    assert res.returncode == 2, res.stderr
    assert "is not a migsim run" in one_line_error(res)
    assert (x / "data" / "results.csv").read_text() == "keep"
    assert (x / "run.json").read_text() == "{}"
    assert not (x / ".migsim").exists()  # not even a lock file written into it


def test_seen1_force_and_resume_refuse_a_run_holding_unknown_files(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build_run(SMALL, root, batch_size=32)
    (root / "notes.txt").write_text("mine")
    (root / "results" / "extra.csv").write_text("mine too")
    for kw in ({"force": True}, {"resume": True}):
        with pytest.raises(RunDirError, match=r"found notes.txt, results/extra.csv"):
            open_small(root, **kw)
    assert (root / "notes.txt").exists() and (root / "results" / "extra.csv").exists()


def test_force_moves_the_old_run_aside_until_the_new_one_is_complete(tmp_path: Path) -> None:
    root = tmp_path / "run"
    build_run(SMALL, root, batch_size=32)
    before = runner.load(root).collect()
    run = open_small(root, force=True)
    old = tmp_path / f"run.old-{os.getpid()}"
    assert old.is_dir() and runner.load(old).collect().equals(before)  # nothing deleted yet
    assert run.manifest["replacing"] == old.name and not rundir.read_ledger(root)
    run.interrupted()                       # interrupted: the old run is still there
    assert old.is_dir()
    again = open_small(root, resume=True)   # a later --resume completes the new run ...
    again.complete(counts={})
    assert not old.exists()                 # ... and only then is the old one deleted
    assert "replacing" not in rundir.read_manifest(root)


# ---------------------------------------------------------------------------- 2: one writer
def test_seen2_the_lock_names_its_holder(tmp_path: Path) -> None:
    root = tmp_path / "run"
    with RunLock(root):
        with pytest.raises(RunLockedError, match=rf"in use by another migsim process \(pid "
                                                 rf"{os.getpid()} on "):
            RunLock(root).acquire()
        with pytest.raises(RunLockedError):
            open_small(root)
    open_small(root).release()  # released: usable again


def test_seen2_a_second_writer_is_refused_by_the_cli(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "run"
    build_run(SMALL, root, batch_size=32)
    spec = tmp_path / "small.toml"
    spec.write_text(SMALL_SPEC)
    parts = {p: p.stat().st_mtime_ns for p in (root / "results").iterdir()}
    fresh = tmp_path / "fresh"
    with RunLock(root), RunLock(fresh):
        for out, flags in ((root, ["--resume"]), (root, ["--force"]), (fresh, [])):
            res = run_cli(["sweep", spec, "--out", out, "--no-progress", *flags])
            assert res.returncode == 2, res.stderr
            assert f"in use by another migsim process (pid {os.getpid()}" in one_line_error(res)
    assert {p: p.stat().st_mtime_ns for p in (root / "results").iterdir()} == parts
    assert (root / "spec.toml").exists() and (root / "spec.json").exists()


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    root = tmp_path / "run"
    code = ("import sys, time; from pathlib import Path; from runner.storage.rundir import RunLock; "
            "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"pid {proc.pid} "):
            RunLock(root).acquire()
        proc.kill()
        proc.wait(10)
        RunLock(root).acquire().release()
    finally:
        proc.kill()


# ---------------------------------------------------------------------------- 3: checksums
def test_seen3_a_damaged_part_is_named_by_query_and_load(small_run: Path, tmp_path: Path,
                                                         run_cli) -> None:
    run = copy_run(small_run, tmp_path / "run")
    part = run / "results" / "part-000002.parquet"
    flip_middle(part)
    res = run_cli(["query", run, "SELECT * FROM results", "--verify"])
    assert res.returncode == 2, res.stderr
    line = one_line_error(res)
    assert str(part) in line and "sha256" in line and "--resume" in line
    res = run_cli(["query", run, "SELECT avg(downtime_ms) AS d, count(*) AS n FROM results"])
    assert res.returncode == 2 and str(part) in one_line_error(res), res.stderr
    with pytest.raises(DamagedPartError, match="part-000002"):
        runner.load(run, verify=True)
    part.write_bytes(part.read_bytes()[:-100])  # truncated: the size check sees it, always
    with pytest.raises(DamagedPartError, match="part-000002.parquet: damaged"):
        runner.load(run)


def test_seen3_resume_recomputes_a_damaged_part(tmp_path: Path, write_spec, run_cli) -> None:
    spec = write_spec(SMALL_SPEC, "small")
    root = tmp_path / "run"
    build_run(SMALL, root, batch_size=32)
    reference = runner.load(root).collect()
    part = root / "results" / "part-000001.parquet"
    flip_middle(part)
    res = run_cli(["sweep", spec, "--out", root, "--resume", "--no-progress"])
    assert res.returncode == 0, res.stderr
    assert f"{part}: damaged" in res.stderr and "recomputing it" in res.stderr
    assert "3 of 4 parts kept" in res.stderr
    assert runner.load(root, verify=True).collect().equals(reference)


# ---------------------------------------------------------------------------- 4: half-made
@pytest.mark.parametrize("flags", [{}, {"resume": True}, {"force": True}])
def test_seen4_a_half_made_directory_is_started_anew(tmp_path: Path, flags: dict) -> None:
    root = tmp_path / "run"
    (root / ".migsim" / "staging").mkdir(parents=True)
    (root / ".migsim" / "lock").write_text("")
    (root / "spec.toml").write_text(SMALL_SPEC)
    (root / ".migsim" / "staging" / ".spec.json.123.abc.tmp").write_text('{"half": ')
    run = open_small(root, **flags)
    try:
        assert any("half-made" in n for n in run.notes)
        assert rundir.read_manifest(root)["status"] == "running"
        assert json.loads((root / "spec.json").read_text())["n_points"] == SMALL.n_points
    finally:
        run.release()


def test_seen4_disk_full_while_writing_spec_json_leaves_a_resumable_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "run"
    real = rundir.write_json

    def full(path: Path, data, text=None) -> None:
        if path.name == "spec.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, text)

    monkeypatch.setattr(rundir, "write_json", full)
    with pytest.raises(RunFailure, match="No space left on device.*disk full") as exc:
        open_small(root)
    assert exit_code(exc.value) == 3
    assert rundir.inspect(root).kind == "half-made"
    with pytest.raises(RunDirError, match="half-made.*--resume or --force, or remove it"):
        runner.load(root)
    monkeypatch.setattr(rundir, "write_json", real)
    run = open_small(root, resume=True)
    run.release()
    assert rundir.read_manifest(root)["n_points"] == SMALL.n_points


# ---------------------------------------------------------------------------- 5: signals, exits
def test_seen5_sigterm_exits_130_with_the_resume_hint_and_no_ray_dump(tmp_path: Path,
                                                                      start_cli, wait_for,
                                                                      run_cli) -> None:
    root = tmp_path / "run"
    spec = tmp_path / "small.toml"
    spec.write_text(SMALL_SPEC.replace('seed = 11', 'seed = 11\nrepeat = 16'))  # 2,048 points
    proc = start_cli(["sweep", spec, "--out", root, "--batch-size", "16", "--no-progress"])
    try:
        assert wait_for(lambda: proc.poll() is not None or
                        len(list(root.glob("*/part-*.parquet"))) >= 2, 120)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"finish with: migsim sweep {spec} --out {root} --resume" in err
    assert "SIGTERM received" not in err and "PC: @" not in err and "Traceback" not in err
    man = rundir.read_manifest(root)
    assert man["status"] == "interrupted"
    # resumable: the committed parts are intact and recorded (--resume itself: test_faults.py)
    lay = rundir.Layout(root, man["n_points"], man["batch_size"])
    kept = rundir.verified_batches(root, lay, ["results"], full=True)
    assert len(kept) >= 1 and not list((root / "results").glob(".*"))


def test_seen5_disk_full_is_a_run_failure_exit_3(tmp_path: Path, run_cli) -> None:
    """A full disk while a part is written: exit 3 (not 2), one line, resumable afterwards."""
    spec = tmp_path / "s.toml"
    spec.write_text((SWEEPS / "evacuate-hyperv.toml").read_text())
    out = tmp_path / "out"
    code = ("import errno, sys; import runner.storage.rundir as r; real = r.write_part; n = [0]\n"
            "def full(*a, **k):\n"
            "    n[0] += 1\n"
            "    if n[0] > 3: raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "    return real(*a, **k)\n"
            "r.write_part = full\n"
            "from runner.cli import main; sys.argv[0] = 'migsim'; main()")
    res = subprocess.run([sys.executable, "-c", code, "scenario", str(spec), "--out", str(out),
                          "--batch-size", "1", "--no-progress"], env=cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr
    line = one_line_error(res)
    assert "No space left on device" in line and "--resume" in line
    assert rundir.read_manifest(out)["status"] == "failed"
    res = run_cli(["scenario", spec, "--out", out, "--resume", "--no-progress"])
    assert res.returncode == 0 and "1 of 4 parts kept" in res.stderr, res.stderr


# ---------------------------------------------------------------------------- 6: --out
@pytest.mark.parametrize("where", ["file", "proc"])
def test_seen6_out_under_a_file_or_proc_is_one_line_before_ray(tmp_path: Path, run_cli,
                                                               where: str) -> None:
    if where == "file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "run"
    else:
        out = Path("/proc/migsim-run")
    t0 = time.monotonic()
    res = run_cli(["sweep", QUICK, "--out", out])
    assert res.returncode == 2, res.stderr
    line = one_line_error(res)
    assert str(out) in line and "choose another --out" in line
    assert time.monotonic() - t0 < 30 and "ray" not in res.stderr.lower()


# ---------------------------------------------------------------------------- 7: spec shapes
@pytest.mark.parametrize("line,path", [('profile = { name = "qemu" }', "profile"),
                                       ('profile = ["qemu"]', "profile"),
                                       ('host = ["esx-1"]', "vms[0].host")])
def test_seen7_unhashable_scenario_values_are_spec_errors(tmp_path: Path, line: str,
                                                          path: str) -> None:
    from runner.scenario.spec import parse_scenario

    text = (SWEEPS / "evacuate-vsphere.toml").read_text()
    key = line.split(" = ")[0]
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith(f"{key} = "))
    lines[i] = line
    with pytest.raises(SpecError, match=rf": {path.replace('[', '.').replace(']', '.')}"):
        parse_scenario("\n".join(lines))


def test_seen7_cli_one_line_for_a_deep_spec(tmp_path: Path, run_cli) -> None:
    spec = tmp_path / "deep.toml"
    spec.write_text("memory = " + "[" * 3000 + "]" * 3000 + "\n")
    res = run_cli(["sweep", spec, "--dry-run"])
    assert res.returncode == 2 and "nested" in one_line_error(res), res.stderr


# ---------------------------------------------------------------------------- 9: resources
def test_seen9_too_many_points_refused_before_anything_is_built() -> None:
    text = "\n".join(["[grid]"] + [f'{k} = {{ linspace = ["{a}", "{b}"], num = 100000000 }}'
                                   for k, a, b in (("memory", "1GiB", "64GiB"),
                                                   ("dirty_rate", "1MB/s", "1GB/s"),
                                                   ("link", "1Gbps", "100Gbps"))])
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match="at most 10,000,000,000 points"):
        parse_spec(text)
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 5 and peak < 20 * 2**20, (took, peak)   # refused before building: not 1e24 points


def test_seen9_a_huge_valid_sweep_has_a_small_spec_json() -> None:
    spec = parse_spec('[grid]\nmemory = { linspace = ["1GiB", "64GiB"], num = 10000000 }\n'
                      'dirty_rate = { logspace = ["1MB/s", "1GB/s"], num = 1000 }\n')
    assert spec.n_points == 10**10
    text = json.dumps(spec.resolved(), default=str)
    assert len(text) < 100_000  # the 10-million-value axis is a summary, not 10^7 numbers
    axis = spec.resolved()["axes"][0]["values"]["memory_bytes"]
    assert axis["length"] == 10**7 and axis["min"] == 2**30 and len(axis["sha256"]) == 64
    other = parse_spec('[grid]\nmemory = { linspace = ["1GiB", "65GiB"], num = 10000000 }\n'
                       'dirty_rate = { logspace = ["1MB/s", "1GB/s"], num = 1000 }\n')
    assert other.fingerprint() != spec.fingerprint()


def test_seen9_a_long_scenario_check_reports_progress() -> None:
    from runner.scenario.spec import PROGRESS_EVERY, parse_scenario

    text = ('kind = "scenario"\nprofile = "qemu"\n[[hosts]]\nname = "a"\n[[hosts]]\nname = "b"\n'
            '[[vms]]\nname = "v"\nhost = "a"\n[plan]\nevacuate = "a"\n[grid]\n'
            f'defaults.memory = {{ linspace = ["1GiB", "64GiB"], num = {2 * PROGRESS_EVERY} }}\n')
    seen: list[tuple[int, int]] = []
    parse_scenario(text, on_progress=lambda d, n: seen.append((d, n)))
    n = 2 * PROGRESS_EVERY
    assert seen == [(PROGRESS_EVERY, n), (n, n), (n, n)]
    with pytest.raises(SpecError, match="too many points"):
        parse_scenario(text.replace(f"num = {n}", "num = 100000000") +
                       'defaults.dirty_rate = { linspace = ["1MB/s", "1GB/s"], num = 100000000 }\n')


# ---------------------------------------------------------------------------- 10: queries
@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/hostname')",
    "SELECT * FROM \"read_csv\"('/etc/hostname')",
    "SELECT * FROM READ_CSV /* x */ ('/etc/hostname')",
    "SELECT * FROM results r JOIN read_parquet('/tmp/x.parquet') p ON true",
    "SELECT * FROM read_json('http://example.com/x.json')",
    "SELECT * FROM scan_ipc('/etc/hostname')",
    "SELECT * FROM '/etc/hostname'",
])
def test_seen10_queries_cannot_read_files(small_run: Path, sql: str) -> None:
    from runner.errors import QueryError
    from runner.storage.query import run_sql

    with pytest.raises(QueryError, match="not allowed"):
        run_sql(small_run, sql)


def test_seen10_query_cli_refuses_read_csv(small_run: Path, run_cli) -> None:
    res = run_cli(["query", small_run, "SELECT * FROM read_csv('/etc/hostname')"])
    assert res.returncode == 2 and "read_csv(...) is not allowed" in one_line_error(res)
    assert open("/etc/hostname").read().strip() not in res.stdout
    ok = run_cli(["query", small_run, "SELECT 'read_csv(' AS s, count(*) AS n FROM results"])
    assert ok.returncode == 0, ok.stderr  # a string that looks like one is fine


@pytest.mark.parametrize("manifest,match", [
    ("[1, 2]", "not a migsim run manifest"),
    (None, "n_batches: invalid value '4'"),
    ('{"kind": "migsim-sweep-run", "n_batches": 1}', "not a migsim run"),
])
def test_seen10_bad_or_foreign_run_json_is_one_line(small_run: Path, tmp_path: Path, run_cli,
                                                   manifest: str | None, match: str) -> None:
    run = copy_run(small_run, tmp_path / "run")
    if manifest is None:
        data = json.loads((run / "run.json").read_text())
        data["n_batches"] = "4"
        manifest = json.dumps(data)
    (run / "run.json").write_text(manifest)
    for args in (["query", run, "SELECT 1"], ["summary", run],
                 ["sweep", QUICK, "--out", run, "--force"]):
        res = run_cli(args)
        assert res.returncode == 2, res.stderr
        assert match in one_line_error(res)


def test_seen10_another_tools_directory_is_not_queried(small_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "parts").mkdir(parents=True)
    pl.DataFrame({"point_id": [0, 1], "secret": ["a", "b"]}).write_parquet(
        other / "parts" / "part-000000.parquet")
    (other / "run.json").write_text('{"tool": "not migsim", "n_batches": 1}')
    with pytest.raises(RunDirError, match="is not a migsim run"):
        runner.load(other)


def test_exit_codes_come_from_the_error_classes() -> None:
    from runner.errors import QueryError, RayError

    assert exit_code(SpecError("f", "x", 1, "y")) == 2 and exit_code(MigsimError("x")) == 2
    assert exit_code(RunDirError("x")) == 2 and exit_code(QueryError("x")) == 2
    assert exit_code(RunFailure("x")) == 3 and exit_code(RayError("x")) == 3
    err = rundir.path_error(Path("r"), OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(err, RunFailure) and "disk full" in str(err)
    assert isinstance(rundir.path_error(Path("r"), OSError(errno.ENOTDIR, "Not a directory")),
                      RunDirError)


def test_help_documents_the_exit_codes(run_cli) -> None:
    for cmd in ("sweep", "scenario"):
        text = " ".join(run_cli([cmd, "--help"]).stdout.split())
        for code in ("0 every point simulated", "2 bad input", "3 run failure", "130 interrupted"):
            assert code in text, (cmd, code)


def test_parts_committed_after_the_driver_stopped_are_checked_and_kept(tmp_path: Path) -> None:
    """A worker may commit its part after its driver was killed: the ledger never got the record.
    --resume keeps such a part if it is this run's and decodes in full, else recomputes it."""
    import models
    from runner.sweep.task import run_batch

    root = tmp_path / "run"
    lay = build_run(SMALL, root, batch_size=32, batches=[0])
    for b in (1, 2):
        run_batch(SMALL.plan, str(root), lay.n_points, lay.batch_size, b, SMALL.fingerprint(),
                  models.MODEL_VERSION)
    flip_middle(lay.part_path(2), 4000)
    run = open_small(root, resume=True)
    run.release()
    assert sorted(run.existing) == [0, 1]
    assert sorted(rundir.read_ledger(root)) == [0, 1]


def test_seen10_words_in_strings_are_not_taken_for_files(small_run: Path) -> None:
    from runner.storage.query import run_sql

    df = run_sql(small_run, "SELECT 'from' AS a, 'read_csv(' AS b, count(*) AS n FROM results "
                            "WHERE status <> 'join'")
    assert df.item(0, "n") == 128


def test_a_run_of_the_previous_format_is_named_and_replaced_only_with_force(tmp_path: Path) -> None:
    """Runs written before this layout (run format 1: parts/) are migsim's, but not readable here:
    load and --resume say so; --force moves them aside like any run."""
    old = tmp_path / "old"
    (old / "parts").mkdir(parents=True)
    pl.DataFrame({"point_id": [0]}).write_parquet(old / "parts" / "part-000000.parquet")
    (old / "run.json").write_text(json.dumps({"kind": "migsim-sweep-run", "format": 1,
                                              "n_batches": 1}))
    (old / "spec.toml").write_text("x = 1")
    with pytest.raises(RunDirError, match="older migsim .*--force"):
        runner.load(old)
    with pytest.raises(RunDirError, match="older migsim"):
        open_small(old, resume=True)
    with pytest.raises(RunDirError, match="older migsim.*--force"):
        open_small(old)
    run = open_small(old, force=True)
    run.release()
    aside = tmp_path / f"old.old-{os.getpid()}"
    assert (aside / "parts" / "part-000000.parquet").exists()
    assert rundir.read_manifest(old)["format_version"] == 2
