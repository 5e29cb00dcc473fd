"""``migsim validate``: the qemu profile against a CSV of real QEMU live migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from runner.cli import app
from runner.errors import RunDirError


@app.command(help="Predict every run of a QEMU measurement CSV (format: shared/validation/README.md) "
                  "and print the errors of total time and RAM bytes and the convergence verdicts. "
                  "Exit 1 if a verdict is wrong or the median error exceeds 5 % or the worst 20 %.")
def validate(csv: Annotated[Path, typer.Argument(help="Measurement CSV, e.g. tests/data/qemu-train.csv",
                                                  show_default=False)]) -> None:
    from runner.validation import check_qemu  # loads the compiled model

    if not csv.is_file():
        raise RunDirError(f"{csv}: no such file")
    try:
        checks = check_qemu(csv)
    except (KeyError, ValueError) as exc:
        raise RunDirError(f"{csv}: not a QEMU measurement CSV ({exc})") from None
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
    conv = [c for c in checks if c.converged]
    te = np.array([c.time_error for c in conv]) if conv else np.zeros(1)
    be = np.array([c.bytes_error for c in conv]) if conv else np.zeros(1)
    wrong = sum(c.converged != c.predicted_converged for c in checks)
    typer.echo(f"{len(checks)} runs, {len(conv)} converged; verdicts wrong: {wrong}; total time median "
               f"{np.median(te):.1%} worst {te.max():.1%}; RAM bytes median {np.median(be):.1%} worst "
               f"{be.max():.1%}")
    if wrong or np.median(te) > 0.05 or te.max() > 0.20 or np.median(be) > 0.05 or be.max() > 0.20:
        raise typer.Exit(1)
