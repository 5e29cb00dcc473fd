"""Human-readable values of result columns, for dry runs and terminal output."""

from __future__ import annotations

from typing import Any

from models.fields import INPUT_BY_COLUMN


def human(column: str, value: Any) -> str:
    """Format one input value (column units) the way a user would write it (``Field.format``).

    Parameters
    ----------
    column : str
        Input column name (``memory_bytes``, ``link_bps``...).
    value : Any
        Value in column units; a code for choice columns; ``None`` = the profile decides.
    """
    f = INPUT_BY_COLUMN.get(column)
    if f is None:
        return "(profile)" if value is None else str(value)
    return f.format(value)


def table(rows: list[list[str]], header: list[str], align: str | None = None) -> str:
    """A plain aligned text table; ``align`` has one ``l`` or ``r`` per column (default: right)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    align = align or "r" * len(header)
    line = lambda cells: "  ".join(c.ljust(w) if a == "l" else c.rjust(w)  # noqa: E731
                                   for c, w, a in zip(cells, widths, align)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
