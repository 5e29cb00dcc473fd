"""Human units for sizes, rates, link speeds and durations.

Parses what users type (``16GiB``, ``200MB/s``, ``7000pages/s``, ``10GbE``, ``25Gbps``, ``300ms``)
into SI numbers: bytes, bytes per second, bits per second, seconds. Decimal prefixes with a unit are
powers of 10 (MB = 10^6 B, Mbit = 10^6 bit), binary prefixes powers of 2 (MiB = 2^20 B), as in
docs/references.md. A single-letter prefix with no unit (``16G``, ``512M``, ``128M/s``) is binary, as in
QEMU, libvirt and vSphere, where "16G of RAM" means 16 GiB. A bare number, or a string holding only a
number, is taken in the unit the caller names (``bare``: bytes, bytes/s, bit/s; seconds per bare
unit for durations). Pure functions; no I/O.
"""

from __future__ import annotations

import re

from models.errors import UnitError

_PREFIX = {
    "": 1.0,
    "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50,
}
_BINARY = {"k": 2.0**10, "K": 2.0**10, "M": 2.0**20, "G": 2.0**30, "T": 2.0**40, "P": 2.0**50}
_NUM = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_SIZE_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGTP]i?)?\s*(B|bytes?)?\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGTP]i?)?\s*(B|bytes?|b|bit|bits)?\s*/\s*s\s*$")
_BPS_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGTP]i?)?(bps|Bps)\s*$")
_BARE_RE = re.compile(rf"^\s*{_NUM}\s*$")
_PAGES_RE = re.compile(rf"^\s*{_NUM}\s*([kKM])?\s*(pages?|pps)\s*(/\s*s)?\s*$")
_GBE_RE = re.compile(rf"^\s*{_NUM}\s*(M|G)bE\s*$", re.IGNORECASE)
_TIME_RE = re.compile(rf"^\s*{_NUM}\s*(ns|us|µs|ms|s|sec|min|h)?\s*$")
_TIME_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0,
               "h": 3600.0}


def _number(value: object, field: str, allowed: str) -> float | None:
    """A bare number (``300``, ``"300"``, ``" 2.5e3 "``) as a float, ``None`` for a string with a
    unit; anything else (bools, lists, objects) is refused."""
    if isinstance(value, bool):
        raise UnitError(field, value, allowed)
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(field, value, allowed)
    if m := _BARE_RE.match(value):
        return float(m.group(1))
    if value.strip().lower() in ("inf", "+inf", "infinity"):
        return float("inf")
    return None


def bare_number(value: object, field: str = "value") -> float | None:
    """``value`` as a float when it is a bare number (``300``, ``"300"``), else ``None``.

    Raises
    ------
    UnitError
        For values that are neither numbers nor strings.
    """
    return _number(value, field, "a number or a string with a unit")


def _scale(prefix: str | None, unit: str | None) -> float:
    """Multiplier of a prefix: binary with ``i`` or when no unit letter follows, else decimal."""
    if not prefix:
        return 1.0
    if not unit and prefix in _BINARY:
        return _BINARY[prefix]
    return _PREFIX[prefix]


def parse_size(value: object, field: str = "size") -> float:
    """Parse a size into bytes.

    Parameters
    ----------
    value : str or number
        ``"16GiB"``, ``"16G"`` (= 16 GiB, as in QEMU), ``"512MiB"``, ``"1.5GB"`` (decimal),
        ``"4KiB"``; a bare number is bytes.
    field : str
        Parameter name used in the error message.

    Returns
    -------
    float
        Size in bytes.
    """
    allowed = "a size such as 16GiB, 16G (= 16 GiB), 1.5GB (decimal), 512MiB, or a number of bytes"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    m = _SIZE_RE.match(value)  # type: ignore[arg-type]
    if not m:
        raise UnitError(field, value, allowed)
    return float(m.group(1)) * _scale(m.group(2), m.group(3))


def parse_rate(value: object, field: str = "rate", page_size: float = 4096.0) -> float:
    """Parse a data rate into bytes per second.

    Parameters
    ----------
    value : str or number
        ``"200MB/s"``, ``"30MiB/s"``, ``"128M/s"`` (= 128 MiB/s), ``"800Mbit/s"``, ``"1Gbps"``,
        ``"7000pages/s"``; a bare number is bytes/s.
    field : str
        Parameter name used in the error message.
    page_size : float
        Bytes per page, for rates given in pages/s.

    Returns
    -------
    float
        Rate in bytes per second.
    """
    allowed = ("a rate such as 200MB/s, 30MiB/s, 800Mbit/s, 1Gbps, 7000pages/s, or a number of "
               "bytes/s")
    n = _number(value, field, allowed)
    if n is not None:
        return n
    s = value  # type: ignore[assignment]
    if m := _PAGES_RE.match(s):
        return float(m.group(1)) * _PREFIX[m.group(2) or ""] * page_size
    if m := _RATE_RE.match(s):
        unit = m.group(3)
        bits = unit in ("b", "bit", "bits")
        return float(m.group(1)) * _scale(m.group(2), unit) / (8.0 if bits else 1.0)
    if m := _BPS_RE.match(s):
        scale = 1.0 if m.group(3) == "Bps" else 1.0 / 8.0
        return float(m.group(1)) * _PREFIX[m.group(2) or ""] * scale
    if m := _GBE_RE.match(s):
        return float(m.group(1)) * (1e9 if m.group(2).upper() == "G" else 1e6) / 8.0
    raise UnitError(field, value, allowed)


def parse_link(value: object, field: str = "link") -> float:
    """Parse a link line rate into bits per second.

    Parameters
    ----------
    value : str or number
        ``"1GbE"``, ``"10GbE"``, ``"25Gbps"``, ``"100Mbit/s"``, ``"125MB/s"``; a bare number is bit/s.

    Returns
    -------
    float
        Line rate in bits per second.
    """
    allowed = "a link speed such as 1GbE, 10GbE, 25Gbps, 800Mbit/s, 125MB/s, or a number of bit/s"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    try:
        return parse_rate(value, field) * 8.0
    except UnitError:
        raise UnitError(field, value, allowed) from None


def parse_duration(value: object, field: str = "duration", bare_s: float = 1.0,
                   unit_s: float = 1.0) -> float:
    """Parse a duration into seconds (or into units of ``unit_s`` seconds).

    Parameters
    ----------
    value : str or number
        ``"300ms"``, ``"5s"``, ``"2min"``, ``"50us"``; a bare number counts units of ``bare_s``.
    field : str
        Parameter name used in the error message.
    bare_s : float
        Seconds in one unit of a bare number (1e-3 for a field kept in milliseconds).
    unit_s : float
        Seconds in one unit of the result (1e-3: milliseconds). The unit is converted by one factor,
        so a value stays exact and representable (``"5e-324ms"`` is 5e-324 ms, not 0).

    Returns
    -------
    float
        Duration in units of ``unit_s`` (seconds by default).
    """
    bare = "ms" if bare_s == 1e-3 else "seconds"
    allowed = f"a duration such as 300ms, 5s, 2min, 50us, or a number of {bare}"
    n = _number(value, field, allowed)
    if n is not None:
        return n * bare_s if bare_s == unit_s == 1.0 else n * (bare_s / unit_s)
    m = _TIME_RE.match(value)  # type: ignore[arg-type]
    if not m or m.group(2) is None:
        raise UnitError(field, value, allowed)
    return float(m.group(1)) * (_TIME_SCALE[m.group(2)] / unit_s)


def parse_number(value: object, field: str = "value", percent: bool = False) -> float:
    """Parse a dimensionless number: ``2``, ``"2"``, ``"0.25"``; with ``percent``, ``"25%"`` too.

    Raises
    ------
    UnitError
        For anything that is not a number.
    """
    allowed = "a number" + (" such as 0.25 or 25%" if percent else "")
    n = _number(value, field, allowed)
    if n is not None:
        return n
    s = value.strip()  # type: ignore[union-attr]
    if percent and s.endswith("%") and _BARE_RE.match(s[:-1]):
        return float(s[:-1]) / 100.0
    raise UnitError(field, value, allowed)


def format_bytes(n: float) -> str:
    """Format bytes with a binary prefix (``1.5 GiB``, ``512 MiB``), 4 significant digits."""
    for unit, scale in (("PiB", 2.0**50), ("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20),
                        ("KiB", 2.0**10)):
        if abs(n) >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n:.0f} B"


def format_rate(Bps: float) -> str:
    """Format bytes/s with a decimal prefix (``200 MB/s``)."""
    for unit, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if abs(Bps) >= scale:
            return f"{Bps / scale:.4g} {unit}"
    return f"{Bps:.4g} B/s"


def format_link(bps: float) -> str:
    """Format bit/s with a decimal prefix (``10 Gbit/s``)."""
    for unit, scale in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.4g} {unit}"
    return f"{bps:.4g} bit/s"


def format_duration(s: float) -> str:
    """Format seconds as ``12.3 s`` or ``45.0 ms``."""
    return f"{s:.2f} s" if abs(s) >= 1.0 else f"{s * 1e3:.1f} ms"
