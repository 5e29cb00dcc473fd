import math

import pytest

from models.errors import ParameterError
from models.fields import INPUT_BY_NAME, INPUTS, OUTPUTS


def test_columns_carry_units_and_are_unique():
    cols = [f.column for f in INPUTS]
    assert len(cols) == len(set(cols))
    for f in INPUTS:
        if f.kind in ("size",):
            assert f.column.endswith("_bytes")
        if f.kind == "rate":
            assert f.column.endswith("_Bps")
        if f.kind == "link":
            assert f.column.endswith("_bps")
        if f.kind == "duration":
            assert f.column.endswith(("_s", "_ms"))
    for name in ("total_time_s", "downtime_ms", "transferred_bytes", "precopy_rounds", "status"):
        assert name in OUTPUTS


@pytest.mark.parametrize("name, value, expected", [
    ("memory", "16GiB", 16 * 2**30), ("downtime_limit", "300ms", 300.0), ("rtt", "5ms", 5.0),
    ("timeout", "45s", 45.0), ("link", "10GbE", 10e9), ("auto_converge", "true", True),
    ("dirty_pattern", "sequential", "sequential"),
])
def test_parse_to_column_units(name, value, expected):
    assert INPUT_BY_NAME[name].parse(value) == expected


@pytest.mark.parametrize("name, value", [
    ("memory", "-1GiB"), ("memory", "0"), ("link", "0GbE"), ("nics", 0), ("nics", 2.5),
    ("zero_fraction", 1.5), ("profile", "vmware"), ("dirty_pattern", "zigzag"),
    ("auto_converge", "maybe"), ("rtt", "-5ms"), ("page_size", "1B"),
])
def test_out_of_domain_names_field_value_and_allowed(name, value):
    f = INPUT_BY_NAME[name]
    with pytest.raises(ParameterError) as exc:
        f.parse(value)
    msg = str(exc.value)
    assert name in msg and str(value) in msg and "allowed" in msg


@pytest.mark.parametrize("name, value", [
    # numbers past the physics (issue 12, item 8): each was accepted or crashed before
    ("memory", "4e22"), ("memory", "1e999"), ("memory", "inf"), ("disk", "1e999"),
    ("device_state", "1e999"), ("link", "1e999Gbps"), ("dirty_rate", "1e999MB/s"),
    ("page_size", "3000"), ("page_size", 3000), ("link", float("inf")), ("wws", "1PiB"),
])
def test_every_numeric_field_has_a_bound_that_keeps_arithmetic_exact(name, value):
    with pytest.raises(ParameterError) as exc:
        INPUT_BY_NAME[name].parse(value)
    assert "allowed" in str(exc.value) and "<=" in str(exc.value) or "power of two" in str(exc.value)


def test_numeric_bounds_are_finite_and_exact():
    for f in INPUTS:
        if f.kind in ("choice", "bool"):
            continue
        assert f.hi < math.inf, f.name
        if f.kind == "size":
            assert f.hi <= 2.0**50, f.name     # x a traffic factor stays below 2^53 bytes


@pytest.mark.parametrize("name, value, expected", [
    ("stream_cap", "inf", math.inf), ("max_bandwidth", float("inf"), math.inf),
    ("timeout", "inf", math.inf), ("page_size", "2MiB", 2.0**21), ("page_size", "64KiB", 65536.0),
])
def test_inf_means_no_limit_only_where_documented_and_pages_are_powers_of_two(name, value,
                                                                              expected):
    assert INPUT_BY_NAME[name].parse(value) == expected


@pytest.mark.parametrize("name, value, expected", [
    ("nics", "2", 2.0), ("vcpus", "8", 8.0), ("zero_fraction", "0.5", 0.5),
    ("zero_fraction", "25%", 0.25), ("compressibility", "3", 3.0), ("efficiency", "0.9", 0.9),
    ("downtime_limit", "300", 300.0), ("downtime_limit", 300, 300.0), ("rtt", "5", 5.0),
    ("timeout", "45", 45.0), ("memory", "16G", 16 * 2**30), ("auto_converge", "1", True),
])
def test_strings_of_numbers_follow_the_one_contract(name, value, expected):
    """A CLI passes strings: counts, fractions and bare numbers in the column unit (issue 10)."""
    assert INPUT_BY_NAME[name].parse(value) == expected


def test_domain_error_shows_the_users_value_in_the_column_unit():
    with pytest.raises(ParameterError) as exc:
        INPUT_BY_NAME["rtt"].parse("5s")
    assert "'5s' (= 5000 ms)" in str(exc.value) and "<= 1000 ms" in str(exc.value)


def test_a_tiny_duration_is_converted_by_one_factor_not_lost_to_underflow():
    # Hypothesis found "5e-324ms" parsed as 0 ms (through seconds: 5e-327 s underflows)
    f = INPUT_BY_NAME["downtime_limit"]
    assert f.parse("5e-324ms") == 5e-324
    assert f.parse("2s") == 2000.0 and INPUT_BY_NAME["timeout"].parse("300ms") == 0.3
