"""Errors of the runner: run directories, queries and Ray, all under :class:`MigsimError`.

Spec problems use :class:`models.errors.SpecError` (file, field, value, allowed). The classes here
cover what is not a spec: a run directory that is missing or inconsistent, a query that does not
parse, a Ray cluster that cannot be reached. ``runner.cli.main`` prints any of them as one line and
exits with the class's :data:`EXIT_CODES` status (``exit_code``): 2 for bad input (every
:class:`MigsimError` unless a class says otherwise), 3 for a run that could not compute its points
(:class:`RunFailure`: I/O error, disk full, a lost or crashed batch, Ray unreachable or failing).
"""

from __future__ import annotations

from models.errors import MigsimError, SpecError


#: Exit statuses of the ``migsim`` command (documented in :mod:`runner.cli.common`).
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_RUN_FAILURE = 3
EXIT_INTERRUPTED = 130


def exit_code(exc: BaseException) -> int:
    """The exit status of an error: its class's ``exit_code``, else 2 (bad input)."""
    code = getattr(type(exc), "exit_code", EXIT_BAD_INPUT)
    return code if isinstance(code, int) and code > 0 else EXIT_BAD_INPUT


class RunFailure(MigsimError):
    """The run itself could not compute its points: I/O error, disk full, a lost or crashed batch.

    Exit status 3 (the input was fine; rerun with ``--resume`` once the cause is fixed).
    """

    exit_code = EXIT_RUN_FAILURE


class RunDirError(MigsimError):
    """A run directory is missing, not migsim's, damaged, locked, or does not match the spec."""

    exit_code = EXIT_BAD_INPUT


class RunLockedError(RunDirError):
    """Another migsim process holds the run directory's lock (its pid, host and command named)."""


class DamagedPartError(RunDirError):
    """A committed part's size or checksum differs from what was recorded when it was written."""


class QueryError(MigsimError):
    """A SQL query, a ``--by`` column or a plot request cannot be answered from the results."""


class OptionError(MigsimError):
    """Command-line options that contradict each other."""


class RayError(RunFailure):
    """Ray could not be started or reached, or a batch failed in a way retries did not fix (exit 3)."""


class SpecFileError(SpecError):
    """A spec file that cannot be read or is not TOML (no field to name)."""

    def __init__(self, where: str, problem: str) -> None:
        MigsimError.__init__(self, f"{where}: {problem}")
        self.where, self.field, self.value, self.allowed = where, "", None, problem


class UnknownKeyError(SpecError):
    """A spec key that is neither a model input nor a spec key (a typo, usually)."""

    def __init__(self, where: str, path: str, allowed: str, hint: str = "") -> None:
        MigsimError.__init__(self, f"{where}: {path}: unknown field{hint}; allowed: {allowed}")
        self.where, self.field, self.value, self.allowed = where, path, path.rsplit(".", 1)[-1], allowed
