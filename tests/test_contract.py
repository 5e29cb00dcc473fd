"""One input contract for every front door: the CLI, a TOML spec and the Python API.

For every input field of ``models/fields.py`` the field's example (``"16GiB"``, ``"300ms"``) and the
same value as a bare number in the column's unit go through

- ``migsim migrate --FLAG VALUE --json`` (string arguments, parsed by the real Typer app),
- a TOML sweep spec (every case one ``[[points]]`` row) evaluated into its Parquet row, and
- ``models.migrate(FIELD=VALUE)``,

and the three must give the same row, the example and the bare number included. A Hypothesis test
then writes values from every field's domain in every unit the field accepts and checks that all
three doors accept them and agree on the value.
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import models
from models.fields import INPUTS
from runner.sweep.batch import evaluate
from runner.cli import _register, app
from runner.sweep.spec import parse_spec
from tests.conftest import cli_env, migsim_command

_register()
NUMERIC = [f for f in INPUTS if f.kind not in ("choice", "bool")]


def _cases() -> list[tuple[str, str, object]]:
    """(field, how, value): each field's example, and numeric fields as a bare number."""
    out: list[tuple[str, str, object]] = []
    for f in INPUTS:
        out.append((f.name, "example", f.example))
        if f in NUMERIC:
            out.append((f.name, "bare", f.parse(f.example)))
    return out


CASES = _cases()


def _toml(v: object) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "inf"
    return json.dumps(v)


def _cli_row(name: str, value: object) -> dict:
    flag = "--" + name.replace("_", "-")
    r = CliRunner().invoke(app, ["migrate", flag, str(value), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def spec_rows() -> list[dict]:
    text = 'name = "contract"\n' + "".join(
        f"[[points]]\n{name} = {_toml(v)}\n" for name, _, v in CASES)
    spec = parse_spec(text, "contract.toml", "contract")
    assert spec.n_points == len(CASES)
    return evaluate(spec.plan, 0, spec.n_points).to_pylist()


def _same(a: object, b: object, key: str = "") -> bool:
    """Equal values; byte counts may differ by the rounding of ``--json`` to whole bytes."""
    if a is None or b is None:
        return a is b
    conv = {"inf": math.inf, "-inf": -math.inf}
    a, b = conv.get(a, a) if isinstance(a, str) else a, conv.get(b, b) if isinstance(b, str) else b
    if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return a == b
    fa, fb = float(a), float(b)
    return fa == fb or math.isclose(fa, fb, rel_tol=1e-12) or (
        key.endswith("_bytes") and abs(fa - fb) <= 0.5)


def _assert_rows_equal(rows: dict[str, dict], case: str) -> None:
    names = list(rows)
    ref = rows[names[0]]
    for other in names[1:]:
        row = rows[other]
        diff = {k: (ref[k], row[k]) for k in ref if k in row and not _same(ref[k], row[k], k)}
        assert not diff, f"{case}: {names[0]} and {other} differ: {diff}"


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{n}-{h}" for n, h, _ in CASES])
def test_cli_toml_and_python_give_the_same_row(i, spec_rows):
    name, how, value = CASES[i]
    py = models.migrate(**{name: value})
    py.pop("rounds")
    rows = {"cli": _cli_row(name, value), "toml": spec_rows[i], "python": py}
    _assert_rows_equal(rows, f"{name}={value!r}")
    f = next(f for f in INPUTS if f.name == name)
    # the value arrives as written: the example in the column's unit, never reinterpreted
    assert _same(rows["python"][f.column], f.parse(f.example) if f.kind != "choice" else f.example)


@pytest.mark.parametrize("name", [f.name for f in NUMERIC])
def test_bare_number_means_the_column_unit(name):
    f = next(f for f in INPUTS if f.name == name)
    by_example = models.migrate(**{name: f.example})
    by_number = models.migrate(**{name: str(f.parse(f.example))})
    by_example.pop("rounds"), by_number.pop("rounds")
    _assert_rows_equal({"example": by_example, "bare": by_number}, name)


def test_reported_front_door_bugs():
    """The four front-door bugs of issue 10, items 1-3, through the installed command."""
    def run(*args):
        r = subprocess.run([*migsim_command(), "migrate", *args, "--json"], capture_output=True,
                           text=True, env=cli_env(), timeout=300)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    # 1. counts and fractions from the CLI (were refused: the CLI passes strings)
    row = run("--nics", "2", "--vcpus", "8", "--zero-fraction", "0.5", "--compressibility", "3",
              "--efficiency", "0.9", "--link", "1GbE")
    assert (row["nics"], row["vcpus"], row["zero_fraction"]) == (2, 8, 0.5)
    assert (row["compressibility"], row["efficiency"]) == (3.0, 0.9)
    one_nic = run("--link", "1GbE", "--memory", "16GiB")
    two_nics = run("--link", "1GbE", "--memory", "16GiB", "--nics", "2")
    assert two_nics["total_time_s"] < 0.6 * one_nic["total_time_s"]   # multi-NIC vMotion
    # 2. a bare number is in the column's unit: 300 is 300 ms (was 300 s), rtt 5 is 5 ms
    bare = run("--profile", "qemu", "--memory", "8GiB", "--dirty-rate", "7000pages/s",
               "--dirty-pattern", "sequential", "--max-bandwidth", "128MiB/s",
               "--downtime-limit", "300")
    unit = run("--profile", "qemu", "--memory", "8GiB", "--dirty-rate", "7000pages/s",
               "--dirty-pattern", "sequential", "--max-bandwidth", "128MiB/s",
               "--downtime-limit", "300ms")
    assert bare["downtime_limit_ms"] == 300.0 and bare == unit
    assert bare["downtime_ms"] < 300 and bare["precopy_rounds"] > 3
    assert run("--rtt", "5")["rtt_ms"] == 5.0
    # 3. 16G is 16 GiB, as QEMU, libvirt and vSphere mean it; 16GB stays decimal
    assert run("--memory", "16G")["memory_bytes"] == 16 * 2**30
    assert run("--memory", "16GB")["memory_bytes"] == 16 * 10**9


def test_toml_string_and_number_agree():
    """In TOML ``downtime_limit = 300`` and ``"300"`` were 300 ms and 300 s."""
    spec = parse_spec('downtime_limit = "300"\n', "t.toml", "t")
    spec_n = parse_spec("downtime_limit = 300\n", "t.toml", "t")
    assert spec.plan.fixed["downtime_limit_ms"] == spec_n.plan.fixed["downtime_limit_ms"] == 300.0


# ----------------------------------------------------------------------------- every unit

_SIZE_UNITS = {"": 1.0, "B": 1.0, "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40,
               "K": 2.0**10, "M": 2.0**20, "G": 2.0**30, "T": 2.0**40,
               "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_RATE_UNITS = {"": 1.0, "B/s": 1.0, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "MiB/s": 2.0**20,
               "GiB/s": 2.0**30, "M/s": 2.0**20, "Mbit/s": 1e6 / 8, "Gbit/s": 1e9 / 8,
               "Gbps": 1e9 / 8, "MBps": 1e6, "pages/s": 4096.0}
_LINK_UNITS = {"": 1.0, "bps": 1.0, "Mbps": 1e6, "Gbps": 1e9, "Mbit/s": 1e6, "Gbit/s": 1e9,
               "MB/s": 8e6, "GB/s": 8e9}
_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
_NUM_UNITS = {"": 1.0}


def _units(f) -> dict[str, float]:
    """Unit suffix -> how many column units one of it is."""
    if f.kind == "size":
        return _SIZE_UNITS
    if f.kind == "rate":
        return _RATE_UNITS
    if f.kind == "link":
        return _LINK_UNITS
    if f.kind == "duration":
        col = 1e-3 if f.unit == "ms" else 1.0
        return {"": 1.0, **{u: s / col for u, s in _TIME_UNITS.items()}}
    if f.kind == "fraction":
        return {"": 1.0, "%": 0.01}
    return _NUM_UNITS


@st.composite
def written_values(draw):
    f = draw(st.sampled_from(NUMERIC))
    hi = min(f.hi, 1e15)
    if f.kind == "count":
        x = float(draw(st.integers(int(f.lo), int(hi))))
    elif f.pow2:
        x = 2.0 ** draw(st.integers(int(math.log2(f.lo)), int(math.log2(hi))))
    else:
        x = draw(st.floats(f.lo, hi, allow_nan=False, exclude_min=f.lo_open))
    unit, scale = draw(st.sampled_from(sorted(_units(f).items())))
    number = x / scale
    if f.kind == "count" or f.pow2:
        unit, number, scale = "", x, 1.0      # whole numbers written as such
    return f, f"{number!r}{unit}", number * scale


@settings(max_examples=300, deadline=None)
@given(written_values())
def test_any_value_in_the_domain_in_any_unit_is_accepted_by_every_door(case):
    from runner.cli.migrate import parse_inputs as cli_parse
    from models.migration import parse_inputs as py_parse

    f, text, expected = case
    if not f.valid(expected):          # rounding of the unit conversion left the domain
        return
    cli = cli_parse({f.name: text})[f.column]
    py = py_parse({f.name: text})[f.column]
    toml = parse_spec(f'{f.name} = "{text}"\n', "h.toml", "h").plan.fixed[f.column]
    assert cli == py == toml
    assert math.isclose(cli, expected, rel_tol=1e-9, abs_tol=1e-12)


def test_simulate_takes_numbers_only_and_names_the_column():
    with pytest.raises(models.ParameterError, match="memory_bytes.*numbers in bytes"):
        models.simulate({"memory_bytes": np.array(["16GiB"])})
