"""``migsim validate``: the qemu profile against real QEMU live migrations.

Reads a training CSV (``tests/data/qemu-train.csv``) or the output of ``migsim measure qemu`` (a
run directory, its ``runs.csv`` or a Parquet file), predicts every run and prints per run and per
regime the verdicts and the errors of total time, RAM bytes and downtime, with QEMU's own repeat
spread beside them.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from runner.cli import app
from runner.errors import RunDirError


class Split(str, Enum):
    """Which part of a measured data set to check."""

    all = "all"
    train = "train"
    test = "test"


#: The accuracy a check must reach (issue 11): median and 90th percentile of the relative errors.
TARGET_MEDIAN, TARGET_P90 = 0.03, 0.15


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


@app.command(help="Predict every run of real QEMU measurements (a CSV such as "
                  "tests/data/qemu-train.csv, or a `migsim measure qemu` run directory, its runs.csv "
                  "or Parquet) and print the errors of total time, RAM bytes and downtime, the "
                  "convergence verdicts, per regime, and QEMU's own repeat spread. "
                  "Exit 1 if a verdict is wrong or the median error of total time or RAM bytes "
                  "exceeds 3 % or its p90 15 %.")
def validate(csv: Annotated[Path, typer.Argument(help="Measurements: a CSV, a run directory of "
                                                      "migsim measure qemu, or a Parquet file",
                                                  show_default=False)],
             split: Annotated[Split, typer.Option(
                 "--split", help="Measured data sets: check the train part, the test part, or all "
                                 "(the rule: runner/measure/split.py).")] = Split.all) -> None:
    from runner.measure.validate import (check_qemu_with_conditions, describe_conditions,
                                         summarise)  # loads the compiled model

    if not csv.exists():
        raise RunDirError(f"{csv}: no such file or directory")
    try:
        checks, conditions, source = check_qemu_with_conditions(csv)
    except KeyError as exc:
        raise RunDirError(f"{csv}: not QEMU measurements: no column {exc.args[0]!r} (allowed: a "
                          f"training CSV like tests/data/qemu-train.csv, or the output of "
                          f"migsim measure qemu)") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{csv}: not QEMU measurements ({exc})") from None
    if split is not Split.all:
        checks = [c for c in checks if c.split == split.value]
    if not checks:
        raise RunDirError(f"{csv}: no runs to check" + (f" in the {split.value} part"
                                                          if split is not Split.all else ""))
    typer.echo(f"conditions assumed (from {source}): {describe_conditions(conditions)}")
    typer.echo(f"{'run':<30} {'verdict':>9} {'time s':>9} {'model':>9} {'err':>6} "
               f"{'RAM MB':>9} {'model':>9} {'err':>6}")
    for c in checks:
        verdict = ("ok" if c.converged == c.predicted_converged else "WRONG") + \
            (" conv" if c.converged else " div")
        if c.converged:
            typer.echo(f"{c.run_id:<30} {verdict:>9} {c.total_time_s:9.3f} {c.predicted_total_time_s:9.3f} "
                       f"{c.time_error:6.1%} {c.ram_bytes / 1e6:9.1f} {c.predicted_ram_bytes / 1e6:9.1f} "
                       f"{c.bytes_error:6.1%}")
        else:
            typer.echo(f"{c.run_id:<30} {verdict:>9} {'-':>9} {'-':>9} {'':>6} {'-':>9} {'-':>9}")
    regimes = sorted({c.regime for c in checks if c.regime})
    if regimes:
        typer.echo("")
        typer.echo(f"{'regime':<16} {'runs':>4} {'conv':>4} {'wrong':>5} {'time med':>8} {'p90':>6} "
                   f"{'worst':>6} {'RAM med':>7} {'p90':>6} {'worst':>6} {'|dDT| med ms':>12} "
                   f"{'p90':>6} {'QEMU spread':>11}")
        for reg in regimes + ["all"]:
            sub = checks if reg == "all" else [c for c in checks if c.regime == reg]
            s = summarise(sub)
            spread = "-" if math.isnan(s.spread) else f"{s.spread:.1%} ({s.spread_points})"
            dd = "-" if math.isnan(s.downtime_ms[0]) else f"{s.downtime_ms[0]:.0f}"
            dp = "-" if math.isnan(s.downtime_ms[1]) else f"{s.downtime_ms[1]:.0f}"
            typer.echo(f"{reg:<16} {s.runs:>4} {s.converged:>4} {s.wrong:>5} {_pct(s.time[0]):>8} "
                       f"{_pct(s.time[1]):>6} {_pct(s.time[2]):>6} {_pct(s.ram[0]):>7} "
                       f"{_pct(s.ram[1]):>6} {_pct(s.ram[2]):>6} {dd:>12} {dp:>6} {spread:>11}")
        typer.echo("")
    s = summarise(checks)
    typer.echo(f"{s.runs} runs, {s.converged} converged; verdicts wrong: {s.wrong}; total time "
               f"median {_pct(s.time[0])} p90 {_pct(s.time[1])} worst {_pct(s.time[2])}; RAM bytes "
               f"median {_pct(s.ram[0])} p90 {_pct(s.ram[1])} worst {_pct(s.ram[2])}")
    # the targets of issue 11: every verdict right, median <= 3 % and p90 <= 15 % (a statistic of
    # no converged run is NaN, which exceeds nothing)
    stats = ((s.time[0], TARGET_MEDIAN), (s.time[1], TARGET_P90),
             (s.ram[0], TARGET_MEDIAN), (s.ram[1], TARGET_P90))
    if s.wrong or any(x > limit for x, limit in stats):
        raise typer.Exit(1)
