"""``migsim profiles [NAME]``: the hypervisor profiles, and every constant of one with its unit and
its source.

A profile is data (``models.policy``): each constant names the publication or measurement it comes
from, or says "assumed". Values are shown in human units derived from the unit in the field's name
(``_s``, ``_ms``, ``_bytes``, ``_Bps``, ``_bps``, ``_pct``).
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Annotated, Any, Optional

import typer

from models.policy import PROFILES, Limits, Policy, get_profile
from models.units import format_bytes, format_link, format_rate
from runner.cli import app
from runner.cli.display import table

_SKIP = {"name", "description", "transports", "limits", "sources", "base"}


def human(key: str, value: Any) -> str:
    """A policy constant in human units, by the unit its name carries."""
    if isinstance(value, bool) or isinstance(value, str):
        return str(value).lower() if isinstance(value, bool) else value
    x = float(value)
    if math.isinf(x):
        return "inf (no limit)" if x > 0 else "-inf"
    if key.endswith("_bytes"):
        return format_bytes(x)
    if key.endswith("_Bps"):
        return format_rate(x)
    if key.endswith("_bps"):
        return format_link(x)
    if key.endswith("_ms"):
        return f"{x:g} ms"
    if key.endswith("_s"):
        return f"{x:g} s"
    if key.endswith("_per_gib"):
        return f"{x:g} s per GiB"
    if key.endswith("_pct"):
        return f"{x:g} %"
    return f"{x:g}"


def rows(p: Policy) -> list[list[str]]:
    """``[field, value, source]`` for every constant of a profile, transports and limits included."""
    out = [[f.name, human(f.name, getattr(p, f.name)), p.source(f.name)]
           for f in fields(Policy) if f.name not in _SKIP]
    for name, t in p.transports.items():
        mark = " (default)" if name == p.default_transport else ""
        out.append([f"transport {name}{mark}",
                    f"efficiency {t.efficiency:.3f}, stream cap {human('_Bps', t.stream_cap_Bps)}, "
                    f"{'all NICs' if t.multichannel else 'one NIC'}"
                    + (f", compression up to {human('_Bps', t.compress_Bps)}" if t.compress else ""),
                    p.source("transports")])
    for f in fields(Limits):
        out.append([f"limits.{f.name}", human(f.name, getattr(p.limits, f.name)), p.source(f.name)])
    return out


@app.command()
def profiles(
    name: Annotated[Optional[str], typer.Argument(
        help="A profile to show in full: " + ", ".join(PROFILES) + ", or a profile file "
             "(./mine.toml).", show_default=False)] = None,
) -> None:
    """List the hypervisor profiles, or print every constant of one with its unit and source."""
    if name is None:
        typer.echo(table([[p.name, p.description] for p in PROFILES.values()],
                         ["profile", "description"], align="ll"))
        typer.echo("\nmigsim profiles NAME prints every constant with its unit and its source.")
        return
    from runner.profiles import resolve
    _, pfile = resolve(name)
    p = pfile.policy() if pfile is not None else get_profile(name)
    typer.echo(f"{p.name}: {p.description}" + (f" (based on {p.base}; {pfile.path})"
                                               if pfile is not None else ""))
    typer.echo(table(rows(p), ["constant", "value", "source"], align="lll"))
