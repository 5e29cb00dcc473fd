"""``migsim migrate``: one what-if migration, printed as a phase timeline or as JSON.

Every model input is a flag named after its canonical name (``--dirty-rate 200MB/s``). Values follow
the one input contract of ``models.fields.Field``: a bare number is in the unit the flag's help
names (``--downtime-limit 300`` is 300 ms), a string takes explicit units (``0.3s``), ``16G`` is
16 GiB. A bad value exits with status 2 and a one-line error naming the flag, the value and what is
allowed. A migration the model simulates exits 0 whatever its verdict (completed, failed or
rejected are all answers, printed as such).
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any, Optional

import typer

from models.fields import INPUTS
from models.policy import get_profile
from models.units import format_bytes, format_duration
from runner.cli import app


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_inputs(raw: dict[str, Any]) -> dict[str, Any]:
    """Parse flag values (strings, ``None`` when not given) into model input columns.

    Raises
    ------
    ParameterError
        Naming the flag (``--dirty-rate``), the value and what is allowed.
    """
    from models.migration import parse_inputs as parse
    return parse(raw, name=_flag)


def _fmt_s(x: float | None) -> str:
    return "n/a" if x is None else format_duration(x)


def _fmt_b(x: float | None) -> str:
    return "n/a" if x is None else format_bytes(x)


def render(row: dict[str, Any], rounds: list[Any] | None, description: str | None = None) -> str:
    """Readable phase timeline of one migration.

    Parameters
    ----------
    row : dict
        The result row (``models.migration.result_row``: inputs as used, then outputs; ``None``
        where an output does not apply).
    rounds : list or None
        Per-pass details to list.
    description : str, optional
        The profile's description (default: the shipped profile's).
    """
    profile = row["profile"]
    lines = [f"migsim migrate · {profile} · {description or get_profile(profile).description}"]
    status = row["status"]
    if status == "rejected":
        lines.append(f"verdict           REJECTED: {row['reason']}")
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
    lines.append(f"total time        {_fmt_s(row['total_time_s'])}"
                 + ("" if status == "completed" else f" (gave up after {format_duration(t)})"))
    if status == "completed":
        lines.append(f"downtime          {row['downtime_ms']:.1f} ms "
                     f"(final pages {format_bytes(row['final_round_bytes'])}, device state "
                     f"{format_bytes(row['device_transferred_bytes'])})")
    lines.append(f"on the wire       {_fmt_b(row['transferred_bytes'])} "
                 f"(memory {_fmt_b(row['memory_transferred_bytes'])}, storage "
                 f"{_fmt_b(row['storage_transferred_bytes'])}, mirror "
                 f"{_fmt_b(row['mirror_transferred_bytes'])})")
    lines.append(f"stream rate       {row['effective_rate_Bps'] / 1e6:.1f} MB/s")
    if row["max_throttle_pct"]:
        lines.append(f"vCPU throttle     {row['max_throttle_pct']:.0f} % at most")
    if row["write_latency_penalty_ms"]:
        lines.append(f"mirrored writes   +{row['write_latency_penalty_ms']:.2f} ms each")
    if status == "completed":
        lines.append(f"connections       {'preserved' if row['connections_preserved'] else 'lost'}")
    verdict = {"completed": "COMPLETED", "failed": "FAILED"}[status]
    lines.append(f"verdict           {verdict}" + (f": {row['reason']}" if row["reason"] else ""))
    return "\n".join(lines)


def _json_safe(v: Any) -> Any:
    """Infinities as the strings "inf"/"-inf" (strict JSON has no infinity)."""
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else "-inf"
    return v


def migrate(**kwargs: Any) -> None:
    as_json = kwargs.pop("json_out")
    show_rounds = kwargs.pop("rounds")
    from runner.profiles import resolve
    name, pfile = resolve(kwargs["profile"]) if kwargs.get("profile") else (None, None)
    profiles = {name: pfile.policy()} if pfile is not None else None
    if pfile is not None:
        kwargs["profile"] = None
    cols = parse_inputs(kwargs)
    if pfile is not None:
        cols["profile"] = name
    from runner.cli.progress import announce_compile
    announce_compile()
    from models.migration import result_row, simulate

    out = simulate(cols, detail=show_rounds, profiles=profiles)
    row = result_row(cols, out)
    rounds = out["rounds"][0] if show_rounds else None
    if as_json:
        doc = {k: _json_safe(v) for k, v in row.items()}
        if show_rounds:
            doc["rounds"] = [{k: _json_safe(v) for k, v in d.__dict__.items()} for d in rounds]
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(render(row, rounds, profiles[name].description if profiles else None))


def _signature() -> inspect.Signature:
    params = []
    for f in INPUTS:
        if f.default is None:
            shown = "the profile's"
        else:
            shown = f.format(f.default)
        if f.name == "profile":
            hint = "one of " + ", ".join(f.choices) + ", or a profile file (./mine.toml)"
        elif f.kind == "choice":
            hint = "one of " + ", ".join(f.choices)
        elif f.kind == "bool":
            hint = "true|false"
        else:
            hint = f.allowed()
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
            default=typer.Option(None, _flag(f.name),
                                 help=f"{f.help}. Allowed: {hint}. Example: {f.example}. "
                                      f"Default: {shown}.",
                                 show_default=False, metavar=_metavar(f))))
    params.append(inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                    default=typer.Option(False, "--json", help="Print one JSON object: "
                                                         "every input as used and every output (null "
                                                         "where it does not apply), bytes as integers.")))
    params.append(inspect.Parameter("rounds", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                                    default=typer.Option(False, "--rounds", help="List every pass.")))
    return inspect.Signature(params)


def _metavar(f: Any) -> str:
    if f.kind == "choice":
        return "[" + "|".join(f.choices) + "]"
    return {"size": "SIZE", "rate": "RATE", "link": "LINK", "duration": "DURATION",
            "bool": "BOOL"}.get(f.kind, "NUMBER")


migrate.__signature__ = _signature()  # type: ignore[attr-defined]
app.command(help="Simulate one live migration and print its phase timeline or, with --json, its "
                 "result row. Exit 0 whatever the verdict (completed, failed or rejected are "
                 "answers); 2 on bad input.")(migrate)
