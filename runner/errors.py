"""Errors of the runner: run directories, queries and Ray, all under :class:`MigsimError`.

Spec problems use :class:`models.errors.SpecError` (file, field, value, allowed). The classes here
cover what is not a spec: a run directory that is missing or inconsistent, a query that does not
parse, a Ray cluster that cannot be reached. ``runner.cli.main`` prints any of them as one line and
exits with status 2.
"""

from __future__ import annotations

from models.errors import MigsimError, SpecError


class RunDirError(MigsimError):
    """A run directory is missing, incomplete, or does not match the spec being resumed."""


class QueryError(MigsimError):
    """A SQL query, a ``--by`` column or a plot request cannot be answered from the results."""


class OptionError(MigsimError):
    """Command-line options that contradict each other."""


class RayError(MigsimError):
    """Ray could not be started or reached, or a batch failed in a way retries did not fix."""


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
