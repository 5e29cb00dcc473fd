import math

import pytest

from models import units
from models.errors import UnitError


@pytest.mark.parametrize("text, expected", [
    ("16GiB", 16 * 2**30), ("512MiB", 512 * 2**20), ("1.5GB", 1.5e9), ("4KiB", 4096),
    ("4096", 4096), (4096, 4096), ("2 TiB", 2 * 2**40), ("100B", 100),
])
def test_sizes(text, expected):
    assert units.parse_size(text) == pytest.approx(expected)


@pytest.mark.parametrize("text, expected", [
    ("200MB/s", 200e6), ("30MiB/s", 30 * 2**20), ("800Mbit/s", 100e6), ("1Gbps", 125e6),
    ("7000pages/s", 7000 * 4096), ("125MBps", 125e6), ("10GbE", 1.25e9),
])
def test_rates(text, expected):
    assert units.parse_rate(text) == pytest.approx(expected)


def test_pages_use_page_size():
    assert units.parse_rate("100pages/s", page_size=2**21) == pytest.approx(100 * 2**21)


@pytest.mark.parametrize("text, bps", [("1GbE", 1e9), ("10GbE", 10e9), ("25Gbps", 25e9),
                                       ("100Mbit/s", 100e6), ("125MB/s", 1e9)])
def test_links(text, bps):
    assert units.parse_link(text) == pytest.approx(bps)


@pytest.mark.parametrize("text, s", [("300ms", 0.3), ("5s", 5), ("2min", 120), ("50us", 50e-6),
                                     ("1.5", 1.5)])
def test_durations(text, s):
    assert units.parse_duration(text) == pytest.approx(s)


@pytest.mark.parametrize("fn, text", [(units.parse_size, "16 furlongs"), (units.parse_rate, "fast"),
                                      (units.parse_link, "10GbX"), (units.parse_duration, "soon"),
                                      (units.parse_size, True), (units.parse_size, None)])
def test_bad_units_name_the_field(fn, text):
    with pytest.raises(UnitError) as exc:
        fn(text, "myfield")
    assert "myfield" in str(exc.value) and "allowed" in str(exc.value)


def test_format():
    assert units.format_bytes(1.5 * 2**30) == "1.5 GiB"
    assert units.format_rate(200e6) == "200 MB/s" and units.format_link(10e9) == "10 Gbit/s"
    assert units.format_duration(0.25) == "250.0 ms"
    assert not math.isnan(units.parse_size("-1GiB"))  # sign parses; the domain check rejects it


@pytest.mark.parametrize("text, expected", [
    ("16G", 16 * 2**30), ("512M", 512 * 2**20), ("4k", 4096), ("2T", 2 * 2**40),   # QEMU, libvirt
    ("16GB", 16e9), ("16 GiB", 16 * 2**30), ("16Gi", 16 * 2**30), ("1e3", 1000.0),
])
def test_single_letter_sizes_are_binary_as_in_qemu(text, expected):
    assert units.parse_size(text) == expected


def test_single_letter_rates_are_binary_and_bits_decimal():
    assert units.parse_rate("128M/s") == 128 * 2**20
    assert units.parse_rate("128MB/s") == 128e6 and units.parse_rate("800Mbit/s") == 100e6


@pytest.mark.parametrize("value, bare_s, seconds", [
    ("300", 1e-3, 0.3), (300, 1e-3, 0.3), ("300ms", 1e-3, 0.3), ("0.3s", 1e-3, 0.3),
    ("5", 1.0, 5.0), ("2min", 1.0, 120.0),
])
def test_a_bare_duration_counts_the_callers_unit(value, bare_s, seconds):
    assert units.parse_duration(value, "d", bare_s) == pytest.approx(seconds)


def test_numbers_and_percentages():
    assert units.parse_number("2") == 2.0 and units.parse_number(" 2.5 ") == 2.5
    assert units.parse_number("25%", percent=True) == 0.25
    with pytest.raises(UnitError):
        units.parse_number("25%")
    with pytest.raises(UnitError):
        units.parse_number("two")
