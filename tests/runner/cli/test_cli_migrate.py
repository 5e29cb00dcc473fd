"""``migsim migrate`` and ``migsim validate`` run as a user runs them (real subprocess)."""

import json
import subprocess

import pytest

from tests.conftest import cli_env, migsim_command


def migsim(*args):
    return subprocess.run([*migsim_command(), *args], capture_output=True, text=True, env=cli_env(),
                          timeout=300)


def test_timeline_and_rounds():
    r = migsim("migrate", "--profile", "vsphere-5.1", "--memory", "16GiB", "--dirty-rate", "200MB/s",
               "--wws", "2GiB", "--link", "10GbE", "--rounds")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for word in ("pre-copy", "switch-over", "downtime", "verdict", "COMPLETED", "passes"):
        assert word in out


def test_json_has_canonical_outputs():
    r = migsim("migrate", "--profile", "qemu", "--memory", "4GiB", "--dirty-rate", "7000pages/s",
               "--dirty-pattern", "sequential", "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    for key in ("status", "reason", "total_time_s", "downtime_ms", "transferred_bytes",
                "memory_transferred_bytes", "precopy_rounds", "converged", "final_round_bytes",
                "max_throttle_pct", "connections_preserved", "precopy_s"):
        assert key in row
    assert row["status"] == "completed" and row["total_time_s"] > 0


@pytest.mark.parametrize("args, flag, allowed", [
    (["--memory", "-5GiB"], "--memory", "> 0"),
    (["--link", "0GbE"], "--link", ">= 8 kbit/s"),
    (["--profile", "vmware-6"], "--profile", "vsphere-5.1"),
    (["--dirty-rate", "fast"], "--dirty-rate", "200MB/s"),
    (["--nics", "2.5"], "--nics", "whole number"),
    (["--dirty-pattern", "zigzag"], "--dirty-pattern", "sequential"),
    # numbers past the physics (issue 12, item 8): completed with negative bytes, or a traceback
    (["--memory", "4e22"], "--memory", "<= 64 TiB"),
    (["--memory", "1e999"], "--memory", "<= 64 TiB"),
    (["--disk", "1e999"], "--disk", "<= 1 PiB"),
    (["--device-state", "1e999"], "--device-state", "<= 1 TiB"),
    (["--link", "1e999Gbps"], "--link", "<= 10 Tbit/s"),
    (["--dirty-rate", "1e999MB/s"], "--dirty-rate", "<= 10 TB/s"),
    (["--page-size", "3000"], "--page-size", "power of two"),
])
def test_bad_values_one_line_exit_2(args, flag, allowed):
    r = migsim("migrate", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert flag in lines[0] and allowed in lines[0]
    assert r.stdout == ""


def test_refused_migration_is_an_answer_not_a_crash():
    r = migsim("migrate", "--profile", "vsphere-5.1", "--link", "100Mbit/s", "--json")
    assert r.returncode == 0   # a refusal is the answer (issue 10: exit 0 whatever the verdict)
    row = json.loads(r.stdout)
    assert row["status"] == "rejected" and "Gbit/s" in row["reason"]


def test_validate_command():
    r = migsim("validate", "tests/data/qemu-train.csv")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdicts wrong: 0" in r.stdout


def test_help_shows_human_defaults_examples_and_choices():
    """Issue 10, item 11: --help showed defaults as 4294967296.0 and listed no profiles."""
    r = subprocess.run([*migsim_command(), "migrate", "--help"], capture_output=True, text=True,
                       env=cli_env(COLUMNS="400"), timeout=300)
    text = " ".join(r.stdout.replace("│", " ").split())
    assert r.returncode == 0
    assert "Default: 4 GiB" in text and "Default: 10 Gbit/s" in text and "Default: 0.5 ms" in text
    assert "4294967296" not in text and "10000000000.0" not in text
    assert "xen-clark2005" in text and "Example: 300ms" in text
    for f in __import__("models.fields", fromlist=["INPUTS"]).INPUTS:
        assert "--" + f.name.replace("_", "-") in text


def test_version_and_profiles():
    r = migsim("--version")
    assert r.returncode == 0 and r.stdout.startswith("migsim ") and "model 0.2+" in r.stdout
    r = migsim("profiles")
    assert r.returncode == 0 and all(p in r.stdout for p in ("vsphere-5.1", "hyperv-2012", "qemu",
                                                            "xen-clark2005"))
    r = migsim("profiles", "qemu")
    assert r.returncode == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("downtime_limit_ms"))
    assert "300 ms" in line and "downtime-limit default" in line
    assert any("assumed" in ln for ln in r.stdout.splitlines())
    r = migsim("profiles", "vmware")
    assert r.returncode == 2 and "allowed: one of" in r.stderr and "Traceback" not in r.stderr
