"""``migsim measure qemu`` and ``migsim measure merge``: real QEMU live migrations on this machine,
as a resumable data set, and several data sets' rows as one CSV. Options and output only; the
harness itself is :mod:`runner.measure`.

Exit status: 0 every run measured; 1 some runs failed (no row written; rerun with --resume);
2 bad input or a missing tool (QEMU, tc, gcc, a free port); 130 interrupted (measured runs stay;
rerun with --resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from runner.cli import app
from runner.cli.common import ForceOption, ResumeOption, echo_err, output_state, run_interruptible
from runner.errors import OptionError
from runner.storage.rundir import default_out

measure_app = typer.Typer(no_args_is_help=True, help="Measure real live migrations (ground truth "
                                                     "for migsim validate).")
app.add_typer(measure_app, name="measure")

_HELP = (
    "Run real pre-copy live migrations between two QEMU processes (TCG) on 127.0.0.1, one at a "
    "time, for every run of a spec (a sweep spec over memory, dirty_rate, dirty_pattern, wws, "
    "hot_set, hot_rate, zero_fraction, max_bandwidth, downtime_limit, auto_converge, link, plus a "
    "\\[measure] table; see runner/measure/spec.py).\n\n"
    "Writes results/<name>/ (or --out): runs.csv (all rows, conditions in its first line), "
    "runs/part-*.parquet (one per run: the table runs, e.g. for migsim query DIR), samples/ "
    "(query-migrate samples and events), conditions.json, run.json. Check the model on it with: "
    "migsim validate DIR.\n\n"
    "Exit status: 0 all runs measured, 1 some runs failed (rerun with --resume), 2 bad input or "
    "missing tool, 130 interrupted.")


@measure_app.command("qemu", help=_HELP)
def qemu(
    spec: Annotated[Path, typer.Argument(help="Harness spec (TOML).", show_default=False)],
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Output directory (default: results/<name>).")] = None,
    resume: ResumeOption = False,
    force: ForceOption = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the runs and an estimate of the wall time; measure nothing.")
    ] = False,
) -> None:
    from runner.measure.spec import load_measure_spec

    if resume and force:
        raise OptionError("--resume keeps an existing run and --force replaces it: use one")
    loaded = load_measure_spec(spec)
    root = out if out is not None else default_out(loaded.name)
    if dry_run:
        _dry_run(loaded, root)
        return
    from runner.measure.run import run_measure

    result = run_interruptible(
        lambda: run_measure(loaded, root, resume=resume, force=force, progress=echo_err),
        f"migsim: interrupted; measured runs are kept in {root}; finish with: "
        f"migsim measure qemu {loaded.path} --out {root} --resume")
    kept = f", {result.kept} kept from before" if result.kept else ""
    echo_err(f"migsim: {result.n_runs} runs: {result.measured} measured{kept}, "
             f"{len(result.failed)} failed; {result.wall_s:.0f} s wall")
    echo_err(f"migsim: rows in {root / 'runs.csv'}; try: migsim validate {root}")
    if result.failed:
        for f in result.failed[:10]:
            echo_err(f"migsim:   {f}")
        echo_err("migsim: some runs failed (no row written); rerun with --resume; exit status 1")
        raise typer.Exit(1)


@measure_app.command("merge")
def merge(
    dirs: Annotated[list[Path], typer.Argument(help="Measurement run directories.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV to write.", show_default=False)],
) -> None:
    """Write the rows of several measurement runs as one CSV data set (same conditions required)."""
    from runner.measure.run import merge as do_merge

    n = do_merge(dirs, out)
    echo_err(f"migsim: wrote {n} runs to {out}")


def _dry_run(spec, root: Path) -> None:  # type: ignore[no-untyped-def]
    from runner.measure.run import _brief

    s = spec.settings
    total = 0.0
    lines = []
    for i in range(spec.n_runs):
        point, rep, inputs = spec.run(i)
        cap = inputs.max_bandwidth_Bps or 128 * 2**20
        rate = min(cap, inputs.link_bps / 8.0)
        rho = inputs.dirty_rate_Bps / rate
        est = inputs.memory_bytes / rate / max(1e-3, 1 - min(rho, 0.95))
        est = min(est, s.cancel_after_s) + 3.0 + s.warmup_s
        total += est
        lines.append(f"  run {i} (point {point}, repeat {rep}): {_brief(inputs)}; "
                     f"guest: {inputs.layout(s.low_nonzero_bytes).cmdline()}")
    typer.echo(f"measure {spec.name} ({spec.path}): {spec.n_runs} runs ({spec.n_runs // spec.repeats()} "
               f"points x {spec.repeats()} repeats); cancel after {s.cancel_after_s:g} s")
    typer.echo(f"output: {root} ({output_state(root)})")
    typer.echo(f"estimated wall time: {total / 60:.1f} min (about 3 s + warm-up beyond each migration)")
    shown = lines if len(lines) <= 12 else lines[:6] + ["  ..."] + lines[-5:]
    typer.echo("\n".join(shown))
