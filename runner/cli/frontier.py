"""``migsim frontier SPEC --find max:FIELD --subject-to SQL``: the boundary of one input, for every
combination of the spec's other axes (:mod:`runner.answers.frontier`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from runner.answers.frontier import DEFAULT_PROBES, DEFAULT_TOL
from runner.cli import app
from runner.cli.common import ForceOption, echo_err, run_interruptible

_HELP = (
    "Find, for every combination of the spec's other axes, the largest (max:FIELD) or smallest "
    "(min:FIELD) value of one input that still meets a condition, by vectorised bisection over "
    "the model.\n\n"
    "The searched input's own list in the spec gives the search bracket (its min and max); else "
    "--range LO,HI; else the field's documented domain. The condition is SQL over the result "
    "columns, as in `migsim query` (a null verdict, e.g. the downtime of a failed migration, "
    "counts as not met).\n\n"
    "Writes a run directory (default results/<spec-name>-frontier) with the table `frontier`: "
    "the boundary in the searched column, outcome (found, always_feasible, never_feasible, "
    "reversed, non_monotone), the last feasible and first infeasible values and the key outputs "
    "at each. Read it with `migsim query RUN \"SELECT ... FROM frontier\"` and draw it with "
    "`migsim plot RUN frontier --out f.png`.\n\n"
    "Exit status: 0 answered (whatever the outcomes); 2 bad input (spec, --find, --range, "
    "condition, run directory); 3 run failure; 130 interrupted."
)


@app.command(help=_HELP)
def frontier(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML).", show_default=False)],
    find: Annotated[str, typer.Option(
        "--find", help="max:FIELD or min:FIELD, FIELD a numeric input (dirty_rate, memory, link, "
                       "...).", show_default=False)],
    subject_to: Annotated[str, typer.Option(
        "--subject-to", help="SQL condition on result columns, e.g. \"downtime_ms <= 500 AND "
                             "status = 'completed'\".", show_default=False)],
    tol: Annotated[float, typer.Option(
        "--tol", help="Relative tolerance of each boundary.")] = DEFAULT_TOL,
    range_: Annotated[Optional[str], typer.Option(
        "--range", help="Search bracket LO,HI in human units (e.g. 1MB/s,4GB/s); default: the "
                        "field's list in the spec, else its domain.")] = None,
    probes: Annotated[int, typer.Option(
        "--probes", help="Values per combination checked against the boundary to detect a "
                         "non-monotone condition (0: no check).")] = DEFAULT_PROBES,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Run directory (default: results/<spec-name>-frontier).")] = None,
    force: ForceOption = False,
) -> None:
    from runner.answers import frontier as fr
    from runner.storage.rundir import default_out
    from runner.sweep.spec import load_spec

    loaded = load_spec(spec)
    req = fr.request(loaded, find, subject_to, tol=tol, range_=range_, probes=probes)
    root = out if out is not None else default_out(f"{loaded.name}-frontier")
    from runner.storage import rundir
    if not force and rundir.up_to_date(root, "migsim-frontier-run", req.fingerprint()):
        echo_err(f"migsim: {root}: already holds this frontier, complete: nothing to compute; "
                 f"--force recomputes it")
        return
    if not force and rundir.inspect(root).kind == "run":
        from runner.errors import RunDirError
        raise RunDirError(f"{root}: already holds a run; add --force to replace it or choose "
                          f"another --out")
    result = run_interruptible(lambda: fr.run(req), "migsim: interrupted; nothing was written")
    fr.write_run(req, result, root, force=force, on_note=lambda t: echo_err(f"migsim: {t}"))
    c = result.counts()
    echo_err(f"migsim: {result.n:,} boundaries of {req.goal.text} in {result.seconds:.2f} s "
             f"({result.model_calls} model calls, {result.model_points:,} points): "
             + ", ".join(f"{v:,} {k}" for k, v in c.items() if v))
    _print(root, req)


def _print(root: Path, req: object) -> None:
    from runner.cli.sweep import _print_frame
    from runner.storage.store import load

    goal = req.goal  # type: ignore[attr-defined]
    axes = [c for c in req.plan.swept_columns() if c != goal.field.column]  # type: ignore[attr-defined]
    df = load(root, "frontier").sort("point_id").collect()
    cols = axes + [goal.field.column, "outcome", "feasible_downtime_ms", "feasible_total_time_s"]
    _print_frame(df.select([c for c in cols if c in df.columns]), 20)
    echo_err(f"migsim: frontier in {root}/frontier; try: migsim query {root} \"SELECT * FROM "
             f"frontier\" or migsim plot {root} frontier --out frontier.png")
