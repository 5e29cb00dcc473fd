"""``migsim migrate``: one what-if migration, printed as a phase timeline or as JSON.

Every model input is a flag named after its canonical name (``--dirty-rate 200MB/s``); values take
human units. A bad value exits with status 2 and a one-line error naming the flag, the value and what
is allowed.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any, Optional

import numpy as np
import typer

from models.errors import ParameterError
from models.fields import INPUTS, OUTPUTS
from models.policy import get_profile
from models.units import format_bytes, format_duration
from runner.cli import app


def parse_inputs(raw: dict[str, Any]) -> dict[str, Any]:
    """Parse human-unit flag values into model input columns.

    Parameters
    ----------
    raw : dict
        Canonical input name to the string the user gave (``None`` when not given).

    Returns
    -------
    dict
        Input column name to value in column units.

    Raises
    ------
    ParameterError
        Naming the flag (``--dirty-rate``), the value and what is allowed.
    """
    page = 4096.0
    if raw.get("page_size") is not None:
        page = _parse(INPUTS_BY_NAME["page_size"], raw["page_size"])
    cols: dict[str, Any] = {}
    for f in INPUTS:
        v = raw.get(f.name)
        if v is None:
            continue
        cols[f.column] = _parse(f, v, page)
    return cols


INPUTS_BY_NAME = {f.name: f for f in INPUTS}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse(f: Any, value: Any, page: float = 4096.0) -> Any:
    try:
        return f.parse(value, page)
    except ParameterError as exc:
        raise ParameterError(_flag(f.name), value, exc.allowed) from None


def _row(out: dict[str, Any], i: int = 0) -> dict[str, Any]:
    row = {}
    for k in OUTPUTS:
        v = out[k][i]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        row[k] = v
    return row


def render(cols: dict[str, Any], row: dict[str, Any], rounds: list[Any] | None) -> str:
    """Readable phase timeline of one migration.

    Parameters
    ----------
    cols : dict
        The input columns given.
    row : dict
        The output row (canonical output names).
    rounds : list or None
        Per-pass details to list.

    Returns
    -------
    str
    """
    profile = cols.get("profile", INPUTS_BY_NAME["profile"].default)
    lines = [f"migsim migrate · {profile} · {get_profile(profile).description}"]
    status = row["status"]
    if status == "rejected":
        lines.append(f"REJECTED: {row['reason']}")
        return "\n".join(lines)
    t = 0.0
    phases = [("setup", row["setup_s"]), ("storage", row["storage_s"]), ("trace", row["trace_s"]),
              ("pre-copy", row["precopy_s"]), ("switch-over", row["switchover_s"])]
    lines.append("phase          start        duration")
    for name, d in phases:
        if d:
            lines.append(f"  {name:<12} {format_duration(t):>10}  {format_duration(d):>10}")
            t += d
    if rounds:
        lines.append("passes (round 0 sends every page; each later pass the pages dirtied since):")
        lines.append("   #      start    duration        rate        pages   wire bytes  pending after  throttle")
        for d in rounds:
            lines.append(f"  {d.index:>2} {format_duration(d.start_s):>10} {format_duration(d.duration_s):>10}"
                         f" {d.rate_Bps * 8 / 1e6:>8.0f} Mb/s {d.pages_sent:>12.0f} "
                         f"{format_bytes(d.wire_bytes):>12} {d.pending_after:>14.0f} {d.throttle_pct:>8.0f}%")
    lines.append(f"pre-copy passes   {row['precopy_rounds']}  "
                 f"({'converged' if row['converged'] else 'forced' if row['forced'] else 'not converged'})")
    lines.append(f"total time        {format_duration(row['total_time_s'])}")
    if status == "completed":
        lines.append(f"downtime          {row['downtime_ms']:.1f} ms "
                     f"(final pages {format_bytes(row['final_round_bytes'])}, device state "
                     f"{format_bytes(row['device_transferred_bytes'])})")
    lines.append(f"on the wire       {format_bytes(row['transferred_bytes'])} "
                 f"(memory {format_bytes(row['memory_transferred_bytes'])}, storage "
                 f"{format_bytes(row['storage_transferred_bytes'])}, mirror "
                 f"{format_bytes(row['mirror_transferred_bytes'])})")
    lines.append(f"stream rate       {row['effective_rate_Bps'] / 1e6:.1f} MB/s")
    if row["max_throttle_pct"]:
        lines.append(f"vCPU throttle     {row['max_throttle_pct']:.0f} % at most")
    if row["write_latency_penalty_ms"]:
        lines.append(f"mirrored writes   +{row['write_latency_penalty_ms']:.2f} ms each")
    lines.append(f"connections       {'preserved' if row['connections_preserved'] else 'lost'}")
    verdict = {"completed": "COMPLETED", "failed": "FAILED"}[status]
    lines.append(f"verdict           {verdict}" + (f": {row['reason']}" if row["reason"] else ""))
    return "\n".join(lines)


def migrate(**kwargs: Any) -> None:
    as_json = kwargs.pop("json_out")
    show_rounds = kwargs.pop("rounds")
    cols = parse_inputs(kwargs)
    from models.migration import simulate  # the compiled model loads only when it runs

    out = simulate(cols, detail=show_rounds)
    row = _row(out)
    if as_json:
        if show_rounds:
            row["rounds"] = [d.__dict__ for d in out["rounds"][0]]
        typer.echo(json.dumps(row, indent=2))
    else:
        typer.echo(render(cols, row, out["rounds"][0] if show_rounds else None))
    if row["status"] != "completed":
        raise typer.Exit(1)


def _signature() -> inspect.Signature:
    params = []
    for f in INPUTS:
        default = f.default
        shown = "profile's" if default is None else default
        if f.kind == "choice":
            hint = "|".join(f.choices)
        elif f.kind == "bool":
            hint = "true|false"
        else:
            hint = f.allowed()
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
            default=typer.Option(None, _flag(f.name), help=f"{f.help} [{hint}; default: {shown}]",
                                 show_default=False)))
    params.append(inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                    default=typer.Option(False, "--json", help="Print one JSON object.")))
    params.append(inspect.Parameter("rounds", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                    default=typer.Option(False, "--rounds", help="List every pass.")))
    return inspect.Signature(params)


migrate.__signature__ = _signature()  # type: ignore[attr-defined]
app.command(help="Simulate one live migration and print its phase timeline (exit 1 unless it "
                 "completes, 2 on bad input).")(migrate)
