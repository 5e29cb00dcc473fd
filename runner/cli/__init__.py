"""The ``migsim`` command line: one Typer app; each command lives in its own module.

Errors derived from :class:`models.errors.MigsimError` are printed as one line on stderr and the
process exits with status 2 (bad input) — never a traceback.
"""

from __future__ import annotations

import sys

import typer

from models.errors import MigsimError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        from models.version import MODEL_VERSION
        try:
            mine = version("migsim")
        except PackageNotFoundError:
            mine = "(not installed)"
        typer.echo(f"migsim {mine} (model {MODEL_VERSION})")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print migsim's and the model's versions and exit."),
) -> None:
    """Simulate live VM migration: single what-ifs, sweeps on Ray, scenarios.

    Profiles: vsphere-5.1, hyperv-2012, qemu, xen (Xen >= 4.6), xen-clark2005 (Clark et al.'s
    prototype); `migsim profiles` lists them, `migsim profiles NAME` prints every constant with its
    unit and source.
    """


def _register() -> None:
    # Each module adds its commands to ``app``.
    from runner.cli import (  # noqa: F401
        calibrate, compare, frontier, measure, migrate, profiles, report, runs, scenario, sweep,
        validate)


def main() -> None:
    """Entry point of the ``migsim`` console script."""
    from runner.errors import EXIT_INTERRUPTED, exit_code

    _register()
    try:
        app()  # standalone: usage errors exit 2, typer.Exit(code) exits with its code
    except MigsimError as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        typer.echo(f"migsim: error: {text}", err=True)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:  # outside a run (a run prints its own resume hint and exits 130)
        typer.echo("migsim: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
