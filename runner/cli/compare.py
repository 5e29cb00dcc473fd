"""``migsim compare RUN_A RUN_B``: per-output changes between two runs, or a run and measurements
(:mod:`runner.answers.compare`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from runner.cli import app
from runner.cli.common import echo_err

#: Outputs always listed; the others when they changed.
MAIN = ("total_time_s", "downtime_ms", "transferred_bytes", "precopy_rounds")

_HELP = (
    "Compare two runs (two profiles, two model versions, two specs) or a run and measured "
    "migrations, joined on the input columns both have.\n\n"
    "Prints, per output, the median and p90 of B - A (absolute) and of |B - A| / |A| (relative) "
    "and how many rows changed; the rows whose verdict (status) changed; the rows found on one "
    "side only. --ignore profile joins two profiles point by point. --out draws B against A.\n\n"
    "Exit status: 0 compared (whatever changed); 2 bad input."
)


@app.command(help=_HELP)
def compare(
    run_a: Annotated[Path, typer.Argument(help="Side A: a run directory or measured runs.",
                                          show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="Side B: a run directory or measured runs.",
                                          show_default=False)],
    ignore: Annotated[str, typer.Option(
        "--ignore", help="Comma-separated inputs left out of the join key, e.g. profile.")] = "",
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Plot of B against A (.png, .svg or .pdf).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0,
                                       help="Verdict changes to list (0: none).")] = 10,
) -> None:
    import polars as pl

    from runner.answers import compare as cmp
    from runner.cli.display import table

    a, la = cmp.read_side(run_a)
    b, lb = cmp.read_side(run_b)
    c = cmp.compare(a, b, ignore=[x.strip() for x in ignore.split(",") if x.strip()],
                    a_label=la, b_label=lb)
    typer.echo(f"A: {run_a} ({la})\nB: {run_b} ({lb})")
    typer.echo(f"joined on {len(c.keys)} inputs: {c.joined.height:,} rows in both, {c.only_a:,} "
               f"only in A, {c.only_b:,} only in B")

    def g(x: float, pct: bool = False) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{100 * x:.3g} %" if pct else f"{x:.4g}"

    rows = [[r["output"], f"{r['rows']:,}", f"{r['changed']:,}", g(r["median_diff"]),
             g(r["p90_abs_diff"]), g(r["median_rel"], True), g(r["p90_rel"], True)]
            for r in c.stats.iter_rows(named=True)
            if r["output"] in MAIN or r["changed"]]
    typer.echo(table(rows, ["output", "rows", "changed", "median B-A", "p90 |B-A|",
                            "median |rel|", "p90 |rel|"], align="lrrrrrr"))
    if c.verdicts.height:
        typer.echo(f"verdict changed in {c.verdict_changes:,} rows: " + ", ".join(
            f"{r['status_a']} -> {r['status_b']} {r['rows']:,}"
            for r in c.verdicts.iter_rows(named=True)))
        if limit:
            flips = c.joined.filter(pl.col("status_a").ne_missing(pl.col("status_b")))
            show = [k for k in c.keys if c.joined.get_column(k).n_unique() > 1][:5]
            sample = flips.select(show + ["status_a", "status_b"]).head(limit)
            typer.echo(table([[str(v) for v in r] for r in sample.iter_rows()],
                             show + ["status A", "status B"]))
    else:
        typer.echo("verdicts: none changed")
    for note in c.notes:
        echo_err(f"migsim: note: {note}")
    if c.unchanged:
        typer.echo("no change: every joined row has the same outputs and verdict")
    if out is not None:
        echo_err(f"migsim: wrote {cmp.plot(c, out)}")
