"""Human units for sizes, rates, link speeds and durations.

Parses what users type (``16GiB``, ``200MB/s``, ``7000pages/s``, ``10GbE``, ``25Gbps``, ``300ms``)
into SI numbers: bytes, bytes per second, bits per second, seconds. Decimal prefixes are powers of
10 (MB = 10^6 B), binary prefixes powers of 2 (MiB = 2^20 B), as in REFERENCES.md. A bare number is
taken in the base unit of the quantity. Pure functions; no I/O.
"""

from __future__ import annotations

import re

from models.errors import UnitError

_PREFIX = {
    "": 1.0,
    "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}
_NUM = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_SIZE_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGT]i?)?(B|bytes?)?\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGT]i?)?(B|bytes?|b|bit|bits)\s*/\s*s\s*$")
_BPS_RE = re.compile(rf"^\s*{_NUM}\s*([kKMGT]i?)?(bps|Bps)\s*$")
_PAGES_RE = re.compile(rf"^\s*{_NUM}\s*([kKM])?\s*(pages?|pps)\s*(/\s*s)?\s*$")
_GBE_RE = re.compile(rf"^\s*{_NUM}\s*(M|G)bE\s*$", re.IGNORECASE)
_TIME_RE = re.compile(rf"^\s*{_NUM}\s*(ns|us|µs|ms|s|sec|min|h)?\s*$")
_TIME_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0,
               "h": 3600.0, None: 1.0}


def _number(value: object, field: str, allowed: str) -> float | None:
    if isinstance(value, bool):
        raise UnitError(field, value, allowed)
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(field, value, allowed)
    return None


def parse_size(value: object, field: str = "size") -> float:
    """Parse a size into bytes.

    Parameters
    ----------
    value : str or number
        ``"16GiB"``, ``"512MiB"``, ``"1.5GB"``, ``"4KiB"``; a bare number is bytes.
    field : str
        Parameter name used in the error message.

    Returns
    -------
    float
        Size in bytes.
    """
    allowed = "a size such as 512MiB, 16GiB, 1.5GB, 4096 (bytes)"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    m = _SIZE_RE.match(value)  # type: ignore[arg-type]
    if not m:
        raise UnitError(field, value, allowed)
    return float(m.group(1)) * _PREFIX[m.group(2) or ""]


def parse_rate(value: object, field: str = "rate", page_size: float = 4096.0) -> float:
    """Parse a data rate into bytes per second.

    Parameters
    ----------
    value : str or number
        ``"200MB/s"``, ``"30MiB/s"``, ``"800Mbit/s"``, ``"1Gbps"``, ``"7000pages/s"``; a bare
        number is bytes/s.
    field : str
        Parameter name used in the error message.
    page_size : float
        Bytes per page, for rates given in pages/s.

    Returns
    -------
    float
        Rate in bytes per second.
    """
    allowed = "a rate such as 200MB/s, 30MiB/s, 800Mbit/s, 1Gbps, 7000pages/s, or bytes/s"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    s = value  # type: ignore[assignment]
    if m := _PAGES_RE.match(s):
        return float(m.group(1)) * _PREFIX[m.group(2) or ""] * page_size
    if m := _RATE_RE.match(s):
        scale = 1.0 if m.group(3) in ("B", "byte", "bytes") else 1.0 / 8.0
        return float(m.group(1)) * _PREFIX[m.group(2) or ""] * scale
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
    allowed = "a link speed such as 1GbE, 10GbE, 25Gbps, 800Mbit/s, 125MB/s, or bit/s"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    try:
        return parse_rate(value, field) * 8.0
    except UnitError:
        raise UnitError(field, value, allowed) from None


def parse_duration(value: object, field: str = "duration") -> float:
    """Parse a duration into seconds.

    Parameters
    ----------
    value : str or number
        ``"300ms"``, ``"5s"``, ``"2min"``, ``"50us"``; a bare number is seconds.

    Returns
    -------
    float
        Duration in seconds.
    """
    allowed = "a duration such as 300ms, 5s, 2min, 50us, or seconds"
    n = _number(value, field, allowed)
    if n is not None:
        return n
    m = _TIME_RE.match(value)  # type: ignore[arg-type]
    if not m:
        raise UnitError(field, value, allowed)
    return float(m.group(1)) * _TIME_SCALE[m.group(2)]


def format_bytes(n: float) -> str:
    """Format bytes with a binary prefix (``1.50 GiB``)."""
    for unit, scale in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def format_duration(s: float) -> str:
    """Format seconds as ``12.3 s`` or ``45.0 ms``."""
    return f"{s:.2f} s" if abs(s) >= 1.0 else f"{s * 1e3:.1f} ms"
