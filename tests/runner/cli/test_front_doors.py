"""The front doors a user takes, each with numbers checked: the Python API ``models.migrate``, the
installed ``migsim`` command (text REJECTED output, ``--json --rounds``, ``query --limit``,
``plot timeline|makespan``, ``validate`` on a bad CSV) and, in the heavy tier, every ``migrate``
flag through the installed command and every shipped spec of ``sweeps/`` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import models
from models.policy import get_profile

REPO = Path(__file__).resolve().parents[3]
SWEEPS = REPO / "sweeps"
GIB = 2.0**30
QEMU_WIRE_BPS = 10e9 / 8 * 1460 / 1538     # 10 GbE payload rate at MTU 1500 (TCP/IPv4/Ethernet)


# ----------------------------------------------------------------------------------- Python API
def test_models_migrate_bulk_copy_at_the_cap_is_the_analytic_time():
    """A guest that writes nothing: round 0 is the whole pre-copy. Each 4 KiB page costs 4104
    wire bytes (QEMU's 8-byte header; tests/data/qemu-train.csv) and QEMU's limiter lets
    ``128 MiB/s x 100 ms`` through per window (migration/qemu-file.c rate limit, BUFFER_DELAY
    100 ms). Before each window QEMU compares the pages still to send with its threshold
    (``128 MiB/s x 300 ms``) and stops the guest at the first check below it, round 0 included
    (measured: bulk-p0003 stopped at 0.36 s, not 0.50 s); the rest and the device state then go
    with the cap lifted at the 10 GbE payload rate, plus the 1 ms resume."""
    r = models.migrate(profile="qemu", memory="4GiB")
    pages = 4 * GIB / 4096
    per_window = 128 * 2**20 * 0.1 / 4104
    threshold = 128 * 2**20 * 0.3 / 4104
    windows = math.floor((pages - threshold) / per_window) + 1
    assert r["status"] == "completed" and r["precopy_rounds"] == 1
    assert r["memory_transferred_bytes"] == pytest.approx(pages * 4104, rel=1e-12)
    assert r["precopy_s"] == pytest.approx(windows * 0.1, rel=1e-9)
    pol = get_profile("qemu")
    device = pol.device_state_bytes + 2 * pol.vcpu_state_bytes   # devices + 2 vCPUs (default)
    rest = (pages - windows * per_window) * 4104
    assert abs(r["final_round_bytes"] - rest) <= 1.0        # --json rounds bytes to whole bytes
    assert r["downtime_ms"] == pytest.approx(((rest + device) / QEMU_WIRE_BPS + 0.001) * 1e3,
                                             rel=1e-9)


def test_models_migrate_takes_human_units_and_every_input_moves_the_answer():
    base = models.migrate(profile="qemu", memory="2GiB", dirty_rate="40MB/s")
    assert models.migrate(profile="qemu", memory="4GiB", dirty_rate="40MB/s")[
        "memory_transferred_bytes"] > base["memory_transferred_bytes"]
    # a bare number for the downtime limit is ms, the same rule as the CLI and specs
    assert models.migrate(profile="qemu", memory="2GiB", dirty_rate="40MB/s",
                          downtime_limit=2000)["precopy_rounds"] < base["precopy_rounds"]
    assert models.migrate(profile="qemu", memory="2GiB", dirty_rate="40MB/s",
                          downtime_limit="2s") == models.migrate(
        profile="qemu", memory="2GiB", dirty_rate="40MB/s", downtime_limit=2000)
    with pytest.raises(models.errors.ParameterError, match="memory"):
        models.migrate(memory="lots")


def test_values_that_do_not_exist_are_null_never_zero(run_cli):
    """A migration that never switched over has no downtime and no total time; a refused one has
    no outputs at all: ``None`` from the Python API, ``null`` in ``--json``, never 0."""
    failed = models.migrate(profile="qemu", memory="2GiB", dirty_rate="200MB/s",
                            max_bandwidth="100MB/s", timeout="20s")
    assert failed["status"] == "failed"
    assert failed["downtime_ms"] is None and failed["total_time_s"] is None
    assert failed["precopy_s"] == pytest.approx(20.0)
    refused = models.migrate(profile="vsphere-5.1", link="100Mbps")
    assert refused["status"] == "rejected"
    assert refused["total_time_s"] is None and refused["transferred_bytes"] is None
    r = run_cli(["migrate", "--profile", "vsphere-5.1", "--link", "100Mbps", "--json"])
    doc = json.loads(r.stdout)
    assert doc["downtime_ms"] is None and doc["precopy_rounds"] is None
    # an input the profile resolves, for a transport the profile does not have: no value was used
    bad = models.migrate(profile="qemu", transport="smb")
    assert bad["status"] == "rejected" and "smb" in bad["reason"]
    assert bad["efficiency"] is None and bad["stream_cap_Bps"] is None
    assert bad["max_bandwidth_Bps"] == 128 * 2**20        # ... while the profile's own are shown


# ----------------------------------------------------------------------------------- migsim CLI
def test_pages_per_second_count_pages_of_the_page_size_given(run_cli):
    """``--dirty-rate 7000pages/s --page-size 2MiB`` is 7000 x 2 MiB/s, not 7000 x 4 KiB/s."""
    r = run_cli(["migrate", "--profile", "qemu", "--page-size", "2MiB", "--dirty-rate",
                 "7000pages/s", "--json"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dirty_rate_Bps"] == 7000 * 2**21



def test_text_output_of_a_rejected_migration_says_why(run_cli):
    r = run_cli(["migrate", "--profile", "vsphere-5.1", "--link", "100Mbps"])
    assert r.returncode == 0, r.stderr          # a refusal is an answer
    verdict = [ln for ln in r.stdout.splitlines() if ln.startswith("verdict")]
    assert len(verdict) == 1 and "REJECTED: link" in verdict[0] and "1 Gbit/s" in verdict[0]
    assert "phase" not in r.stdout              # no timeline for a migration that never ran


def test_json_rounds_add_up_to_the_row(run_cli):
    r = run_cli(["migrate", "--profile", "qemu", "--memory", "1GiB", "--dirty-rate", "50MB/s",
                 "--json", "--rounds"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    rounds = d["rounds"]
    assert len(rounds) == d["precopy_rounds"] >= 2
    # round 0 sends every page but those left at its first check below the threshold (300 ms at
    # the 128 MiB/s cap: 9,811 pages)
    assert 2**30 / 4096 - 128 * 2**20 * 0.3 / 4104 <= rounds[0]["pages_sent"] <= 2**30 / 4096
    assert [x["index"] for x in rounds] == list(range(len(rounds)))
    for a, b in zip(rounds, rounds[1:]):
        assert b["start_s"] == pytest.approx(a["start_s"] + a["duration_s"])
    assert sum(x["duration_s"] for x in rounds) == pytest.approx(d["precopy_s"])
    assert sum(x["wire_bytes"] for x in rounds) + d["final_round_bytes"] == pytest.approx(
        d["memory_transferred_bytes"])
    assert all(x["rate_Bps"] == 128 * 2**20 for x in rounds)   # QEMU's default max-bandwidth


def test_query_limit_prints_that_many_rows(run_cli, small_run):
    sql = "SELECT point_id FROM results ORDER BY point_id"
    r = run_cli(["query", small_run, sql, "--limit", "3"])
    assert r.returncode == 0, r.stderr
    ids = [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("│")][1:]
    assert ids == ["0", "1", "2"]
    assert "3 of 128 rows" in r.stderr
    every = run_cli(["query", small_run, sql, "--limit", "0"])
    assert len([ln for ln in every.stdout.splitlines() if ln.startswith("│")]) == 1 + 128


SCENARIO = """
kind = "scenario"
name = "fd"
profile = "hyperv-2012"
[[hosts]]
name = "hv"
count = 3
link = "10GbE"
[[vms]]
name = "vm"
count = 4
host = "hv-1"
memory = "2GiB"
[plan]
evacuate = "hv-1"
[grid]
overrides.max_live_migrations = [1, 4]
"""


def test_plot_timeline_and_makespan_through_the_cli(run_cli, tmp_path):
    spec = tmp_path / "fd.toml"
    spec.write_text(SCENARIO)
    out = tmp_path / "fd"
    r = run_cli(["scenario", spec, "--out", out, "--no-progress"])
    assert r.returncode == 0, r.stderr
    for kind in ("timeline", "makespan"):
        png = tmp_path / f"{kind}.png"
        p = run_cli(["plot", out, kind, "--out", png])
        assert p.returncode == 0, p.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    bad = run_cli(["plot", out, "timeline", "--out", tmp_path / "x.png", "--point", "7"])
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "--point" in bad.stderr and not (tmp_path / "x.png").exists()
    # one VM at a time takes longer than four at a time (Hyper-V's live-migration slots)
    q = run_cli(["query", out, "SELECT point_id, makespan_s FROM scenarios ORDER BY point_id",
                 "--out", tmp_path / "m.json"])
    assert q.returncode == 0, q.stderr
    rows = [json.loads(ln) for ln in (tmp_path / "m.json").read_text().splitlines()] \
        if (tmp_path / "m.json").read_text().lstrip().startswith("{") else \
        json.loads((tmp_path / "m.json").read_text())
    assert rows[0]["makespan_s"] > rows[1]["makespan_s"]


@pytest.mark.parametrize("text, names", [
    ("a,b\n1,2\n", "mem_mib"),                                      # no known column
    ("", "no runs"),                                               # empty file
    ("\x00\x01garbage", ""),
])
def test_validate_on_a_bad_csv_exits_2_with_one_line(run_cli, tmp_path, text, names):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    r = run_cli(["validate", bad])
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert str(bad) in lines[0] and names in lines[0]


def test_validate_missing_file_exits_2(run_cli, tmp_path):
    r = run_cli(["validate", tmp_path / "nope.csv"])
    assert r.returncode == 2 and "no such file" in r.stderr


# ----------------------------------------------------------------------------------- heavy tier
def _flag_cases():
    from tests.runner.cli.test_cli_migrate_flags import CASES
    return CASES


@pytest.mark.slow
@pytest.mark.parametrize("flag", sorted(_flag_cases()))
def test_every_migrate_flag_through_the_installed_command(run_cli, flag):
    """The in-process cases of test_cli_migrate_flags.py, each through the console script."""
    base_args, change, output, rel = _flag_cases()[flag]

    def run(args):
        r = run_cli(["migrate", *args, "--json"], timeout=300)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)[output]

    a, b = run(base_args), run(base_args + change)
    assert {">": b > a, "<": b < a, "!=": b != a}[rel], (flag, a, b)


SWEEP_SPECS = sorted(p for p in SWEEPS.glob("*.toml"))
QEMU_SPECS = sorted((SWEEPS / "qemu").glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("spec", SWEEP_SPECS, ids=[p.stem for p in SWEEP_SPECS])
def test_every_shipped_spec_runs_end_to_end(run_cli, tmp_path, spec):
    """Every spec of sweeps/ (sweeps and scenarios) runs, writes a complete run whose rows can be
    queried, and has every status as a result (no errors)."""
    kind = "scenario" if 'kind = "scenario"' in spec.read_text() else "sweep"
    out = tmp_path / spec.stem
    args = [kind, spec, "--out", out, "--no-progress"]
    r = run_cli(args, timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    man = json.loads((out / "run.json").read_text())
    assert man["status"] == "complete"
    table = "scenarios" if kind == "scenario" else "results"
    q = run_cli(["query", out, f"SELECT count(*) AS n FROM {table}", "--out", out / "n.csv"])
    assert q.returncode == 0, q.stderr
    n = int((out / "n.csv").read_text().split()[-1])
    assert n == man["n_points"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("spec", QEMU_SPECS, ids=[p.stem for p in QEMU_SPECS])
def test_every_shipped_qemu_spec_plans_its_runs(run_cli, tmp_path, spec):
    """sweeps/qemu/*.toml with --dry-run (real QEMU migrations are too heavy for the test tier):
    the spec parses, every run is listed with its guest command line, nothing is written."""
    out = tmp_path / spec.stem
    r = run_cli(["measure", "qemu", spec, "--out", out, "--dry-run"], timeout=300)
    assert r.returncode == 0, r.stderr
    runs = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("run ")]
    assert runs and all("guest:" in ln for ln in runs)
    assert not out.exists()
