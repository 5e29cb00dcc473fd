"""Hydra-style overrides of a sweep spec (runner.sweep.overrides): values, paths, errors, and a run
that records them and can be reproduced from its own spec.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import runner
from runner.errors import OptionError
from runner.sweep import overrides as ov
from runner.sweep.spec import parse_spec, parse_toml
from tests.conftest import REPO

QUICK = REPO / "sweeps" / "quickstart.toml"


@pytest.mark.parametrize("text, value", [
    ("32GiB", "32GiB"), ("32", 32), ("1e9", 1e9), ("true", True), ('"16 GiB"', "16 GiB"),
    ("[1GbE,10GbE]", ["1GbE", "10GbE"]), ("[1GbE, 10]", ["1GbE", 10]), ("[]", []),
    ('{logspace = ["5MB/s", "1GB/s"], num = 3}', {"logspace": ["5MB/s", "1GB/s"], "num": 3}),
    ("x,y", "x,y"),
])
def test_values_are_toml_else_bare_strings(text: str, value) -> None:
    assert ov.parse_value(text) == value


def test_set_add_remove_and_nested_paths() -> None:
    doc = parse_toml(QUICK.read_text(), "q")
    got = ov.apply(doc, ["memory=32GiB", "grid.link=[1GbE]", "+downtime_limit=300",
                         "~grid.dirty_rate", "+dirty_rate=100MB/s",
                         "+overrides.vsphere-5.1.max_rounds=3"], "q")
    assert got["memory"] == "32GiB" and got["grid"]["link"] == ["1GbE"]
    assert got["downtime_limit"] == 300 and got["dirty_rate"] == "100MB/s"
    assert "dirty_rate" not in got["grid"] and got["overrides"] == {"vsphere-5.1": {"max_rounds": 3}}
    assert doc["memory"] == "16GiB"          # the input document is not changed


def test_toml_written_back_parses_to_the_same_document() -> None:
    for path in sorted((REPO / "sweeps").rglob("*.toml")):
        doc = parse_toml(path.read_text(), str(path))
        assert parse_toml(ov.to_toml(doc), str(path)) == doc, path


def test_an_overridden_spec_is_the_spec_with_the_value_changed() -> None:
    got = ov.load_spec(QUICK, ["memory=32GiB", "grid.link=[1GbE,10GbE]"])
    want = parse_spec(QUICK.read_text().replace('"16GiB"', '"32GiB"').replace(
        'link = ["1GbE", "10GbE", "25Gbps"]', 'link = ["1GbE", "10GbE"]'), str(QUICK), "quickstart")
    assert got.n_points == 48 and got.fingerprint() == want.fingerprint()
    assert ov.load_spec(QUICK, []).text == QUICK.read_text()


@pytest.mark.parametrize("arg, words", [
    ("memmory=1", "memmory is not set in"), ("grid=3", None), ("seed.x=1", "seed: is not a table"),
    ("=3", "not key=value"), ("~nothing", "nothing is not set"),
])
def test_bad_overrides_name_the_key(arg: str, words: str | None) -> None:
    from models.errors import MigsimError

    with pytest.raises(MigsimError) as info:
        ov.load_spec(QUICK, [arg])
    assert words is None or words in str(info.value)
    assert "\n" not in str(info.value)


def test_overrides_are_recorded_and_the_run_reproduces_from_its_spec_toml(tmp_path: Path,
                                                                          run_cli) -> None:
    args = ["memory=32GiB", "grid.link=[1GbE,10GbE]", "+downtime_limit=300"]
    res = run_cli(["sweep", QUICK, *args, "--out", tmp_path / "a", "--no-progress"])
    assert res.returncode == 0, res.stderr
    man = json.loads((tmp_path / "a" / "run.json").read_text())
    assert man["overrides"] == args
    resolved = json.loads((tmp_path / "a" / "spec.json").read_text())
    assert "downtime_limit_ms" in json.dumps(resolved)
    again = run_cli(["sweep", tmp_path / "a" / "spec.toml", "--out", tmp_path / "b", "--no-progress"])
    assert again.returncode == 0, again.stderr
    b = json.loads((tmp_path / "b" / "run.json").read_text())
    assert b["fingerprint"] == man["fingerprint"] and b["overrides"] == []
    ra, rb = runner.load(tmp_path / "a").collect(), runner.load(tmp_path / "b").collect()
    assert ra.height == 48 and ra.equals(rb)
    assert set(ra.get_column("memory_bytes").to_list()) == {32 * 2**30}
    assert set(ra.get_column("downtime_limit_ms").to_list()) == {300.0}
