"""What ``migsim sweep`` and ``migsim scenario`` share: options, interruption and exit status.

Exit status of ``migsim`` (one code per class of outcome; every command uses them):

- **0** — every point was simulated. Failed and rejected migrations are *results* (rows with
  ``status`` ``failed``/``rejected`` and a ``reason``), counted on the summary line, not errors.
- **2** — bad input: a spec, an option or a value that is not allowed, or a run directory that is
  not usable (another tool's directory, a run held by another migsim process, ``--out`` under a
  file or a read-only place, a damaged part named by ``query``). Nothing was computed.
- **3** — run failure: the run could not compute its points (an I/O error, a full disk, a lost or
  crashed batch, Ray unreachable or failing). Committed parts stay; fix the cause and rerun with
  ``--resume``.
- **130** — interrupted (SIGINT / Ctrl-C or SIGTERM). Committed parts stay; the resume command is
  printed.

The codes come from the error classes (``exit_code``: :class:`models.errors.MigsimError` 2,
:class:`runner.errors.RunFailure` 3) and are mapped in :func:`runner.cli.main`.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

import typer

from runner.errors import EXIT_INTERRUPTED

T = TypeVar("T")

#: The exit statuses, as ``--help`` of ``sweep`` and ``scenario`` shows them.
EXIT_HELP = (
    "Exit status: 0 every point simulated (failed or rejected migrations are results, counted on "
    "the summary line); 2 bad input (spec, options, values, an unusable run directory); 3 run "
    "failure (I/O error, disk full, a lost or crashed batch, Ray unreachable); 130 interrupted "
    "(SIGINT or SIGTERM; committed parts stay; rerun with --resume)."
)

ResumeOption = Annotated[bool, typer.Option(
    "--resume", help="Finish an interrupted run: keep its committed parts (sizes and checksums "
                     "verified), compute the rest.")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Replace an existing migsim run in the output directory (the old run is moved "
                    "aside and deleted once the new one is complete).")]
ProgressOption = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="Progress bar on stderr.")]


def echo_err(text: str) -> None:
    """Print a line on stderr."""
    typer.echo(text, err=True)


def output_state(root: Path) -> str:
    """What ``--dry-run`` says of the output directory."""
    from runner.storage import rundir

    return rundir.describe_state(root)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_interruptible(run: Callable[[], T], interrupted: str) -> T:
    """``run()``, with SIGTERM taken as Ctrl-C: on either, print ``interrupted`` and exit 130.

    The handlers are installed here and re-installed by :func:`runner.sweep.execute.ray_session` after
    ``ray.init`` (which installs Ray's own SIGTERM handler and its fault dump), so a signal the
    user sent never shows Ray's "*** SIGTERM received" dump.
    """
    main = threading.current_thread() is threading.main_thread()
    old = {}
    if main:
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, _raise_interrupt)
    try:
        return run()
    except KeyboardInterrupt:
        if main:  # a second signal while we clean up must not print a traceback
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        echo_err(interrupted)
        sys.stderr.flush()
        sys.exit(EXIT_INTERRUPTED)
    finally:
        for sig, h in old.items():
            try:
                signal.signal(sig, h)
            except (TypeError, ValueError):
                pass
