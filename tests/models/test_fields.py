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
