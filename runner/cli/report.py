"""``migsim report RUN --out report.html``: one self-contained HTML file of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runner.cli import app
from runner.cli.common import echo_err


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (results/<name> means its latest "
                                                 "run).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.",
                                      show_default=False)],
) -> None:
    """Write a self-contained HTML report of a run: spec, metadata, summary tables and every plot
    that fits it, images inline (no network needed; mail it as one file)."""
    from runner.plots.report import write

    echo_err(f"migsim: wrote {write(run_dir, out)}")
