"""Errors of the measurement harness, under :class:`models.errors.MigsimError`.

Each message is one line naming what is missing or what went wrong and how to get it right;
``runner.cli.main`` prints it as ``migsim: error: ...`` and exits with status 2.
"""

from __future__ import annotations

from models.errors import MigsimError


class MeasureError(MigsimError):
    """Root of the harness's errors."""


class MeasureEnvironmentError(MeasureError):
    """The machine lacks something the harness needs (QEMU, ``tc``, gcc, a free port, root)."""


class MeasureRunError(MeasureError):
    """One measured migration could not be completed (QEMU died, a deadline passed, QMP failed).

    The run writes no row; ``--resume`` measures it again.
    """


class QMPError(MeasureRunError):
    """A QMP connection failed or a command returned an error."""
