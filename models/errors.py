"""The exception tree of migsim: one root, specific subclasses.

Every message names the parameter (or spec field), the bad value and what is allowed, so that the
CLI can print it as one line and exit with status 2.
"""

from __future__ import annotations

from typing import Any


class Shown(str):
    """A value already written for a message (``repr`` is the text itself): ``'5s' (= 5000 ms)``,
    ``an array of dtype <U5``."""

    def __repr__(self) -> str:
        return str(self)


class MigsimError(Exception):
    """Root of every error migsim raises on purpose."""


class ParameterError(MigsimError, ValueError):
    """A model input is out of its domain.

    Parameters
    ----------
    field : str
        Canonical parameter name (``memory``, ``link``, ...).
    value : Any
        The offending value, as the user gave it.
    allowed : str
        A short description of what is allowed.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: invalid value {value!r}; allowed: {allowed}")


class UnitError(ParameterError):
    """A human-unit string (``16GiB``, ``10GbE``, ``300ms``) could not be parsed."""


class UnknownProfileError(ParameterError):
    """The hypervisor profile name is not one of the shipped profiles."""


class SpecError(MigsimError):
    """A sweep or scenario spec is malformed; names the file and the field."""

    def __init__(self, where: str, field: str, value: Any, allowed: str) -> None:
        self.where = where
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{where}: {field}: invalid value {value!r}; allowed: {allowed}")
