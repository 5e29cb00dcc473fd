"""migsim's migration physics: pure, deterministic, vectorised.

``simulate(columns)`` evaluates N migrations given as arrays (one what-if is N = 1);
``migrate(**human_inputs)`` is the one-point convenience for notebooks. No I/O, no Ray, no Polars.
"""

from typing import Any

from models.errors import MigsimError, ParameterError, SpecError, UnitError, UnknownProfileError
from models.fields import INPUTS, OUTPUTS
from models.policy import PROFILES, Policy, get_profile
from models.version import MODEL_VERSION

__all__ = [
    "INPUTS", "MODEL_VERSION", "OUTPUTS", "PROFILES", "MigsimError", "ParameterError", "Policy",
    "SpecError", "UnitError", "UnknownProfileError", "get_profile", "migrate", "simulate",
]


def __getattr__(name: str) -> Any:
    # The compiled kernels load on first use: ``import models.errors`` stays cheap for the CLI.
    if name in ("simulate", "migrate"):
        from models import migration
        return getattr(migration, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
