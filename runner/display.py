"""Human-readable values of result columns, for dry runs and terminal output."""

from __future__ import annotations

import math
from typing import Any

from models.fields import INPUT_BY_COLUMN
from models.units import format_bytes


def human(column: str, value: Any) -> str:
    """Format one input value (column units) the way a user would write it.

    Parameters
    ----------
    column : str
        Input column name (``memory_bytes``, ``link_bps``...).
    value : Any
        Value in column units; a code for choice columns; ``None`` = the profile decides.
    """
    f = INPUT_BY_COLUMN.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(profile)"
    if f is None:
        return str(value)
    if f.kind == "choice":
        return f.choices[int(value)] if not isinstance(value, str) else value
    if f.kind == "bool":
        return "true" if value else "false"
    x = float(value)
    if math.isinf(x):
        return "inf"
    if f.kind == "size":
        return format_bytes(x)
    if f.kind == "rate":
        return f"{x / 1e6:.4g} MB/s"
    if f.kind == "link":
        return f"{x / 1e9:.4g} Gbit/s" if x >= 1e9 else f"{x / 1e6:.4g} Mbit/s"
    if f.kind == "duration":
        return f"{x:.4g} ms" if column.endswith("_ms") else f"{x:.4g} s"
    return f"{x:.4g}"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
