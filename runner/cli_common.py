"""What ``migsim sweep`` and ``migsim scenario`` share: options, interruption and exit status.

Exit status of both: 0 when every row has a result and none *failed*; 1 when some failed (all
rows are still written); 2 for bad input; 130 when interrupted (committed parts stay; rerun with
``--resume``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

import typer

T = TypeVar("T")

ResumeOption = Annotated[bool, typer.Option(
    "--resume", help="Finish an interrupted run: keep its committed parts, compute the rest.")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Replace an existing run in the output directory.")]
ProgressOption = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="Progress bar on stderr.")]


def echo_err(text: str) -> None:
    """Print a line on stderr."""
    typer.echo(text, err=True)


def output_state(root: Path) -> str:
    """What ``--dry-run`` says of the output directory."""
    from runner import rundir

    if rundir.is_run_dir(root):
        return "exists: a run (use --resume or --force)"
    return "exists" if root.exists() else "will be created"


def run_interruptible(run: Callable[[], T], interrupted: str) -> T:
    """``run()``, with SIGTERM taken as Ctrl-C: on either, print ``interrupted`` and exit 130."""

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        return run()
    except KeyboardInterrupt:
        echo_err(interrupted)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, old)


def exit_if_failed(failed: int, what: str) -> None:
    """Exit with status 1 (after saying so) when ``failed`` rows (``what``) failed."""
    if failed:
        echo_err(f"migsim: {failed:,} {what} failed (status = failed, reason in the rows); "
                 f"exit status 1")
        sys.exit(1)
