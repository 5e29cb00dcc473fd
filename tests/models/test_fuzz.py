"""Fuzz of the Python API: whatever ``models.simulate`` is given, it answers rows or raises one of
the project's own errors (``MigsimError``), never a raw ``ValueError``, ``TypeError`` or
``AttributeError``; and every answer has one row per point with a status.

Mostly-valid inputs with one or two mutations (a wrong type, a wrong shape, a value past the
domain, an unknown column or profile, a malformed override), so that the mutation meets the checks
behind the valid part. 100 examples in the fast tier, 2,000 in the heavy tier.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.errors import MigsimError
from models.fields import INPUTS, OUTPUTS
from models.migration import simulate
from models.policy import PROFILES

_NUMERIC = [f for f in INPUTS if f.kind not in ("choice", "bool")]
_JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=6), st.complex_numbers(allow_nan=True),
    st.just(float("nan")), st.just(float("inf")), st.just(-1e308), st.just(1e999),
    st.just(datetime.datetime(2024, 1, 1)), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(object()),
    st.just(np.array([[1.0, 2.0]])), st.just(np.array(["16GiB"])),
    st.just(np.array(["2024-01-01"], dtype="datetime64[D]")), st.just(np.array([1 + 2j])),
    st.just(np.array([object()], dtype=object)), st.just(np.arange(7, dtype=float)),
)


@st.composite
def valid_columns(draw, n: int) -> dict:
    cols: dict = {"profile": np.array(draw(st.lists(st.sampled_from(list(PROFILES)), min_size=n,
                                                    max_size=n)), dtype=object)}
    for f in draw(st.lists(st.sampled_from(_NUMERIC), max_size=4, unique=True)):
        hi = min(f.hi, 1e15)
        cols[f.column] = np.array(draw(st.lists(
            st.floats(f.lo, hi, allow_nan=False), min_size=n, max_size=n)))
    return cols


@st.composite
def mutated(draw):
    n = draw(st.integers(1, 4))
    cols = draw(valid_columns(n))
    overrides = None
    for _ in range(draw(st.integers(1, 2))):
        what = draw(st.sampled_from(["junk", "column", "overrides", "length", "bool"]))
        if what == "junk":
            cols[draw(st.sampled_from([f.column for f in INPUTS]))] = draw(_JUNK)
        elif what == "column":
            cols[draw(st.text(min_size=1, max_size=8))] = 1.0
        elif what == "length":
            cols["memory_bytes"] = np.full(n + 2, 4e9)
        elif what == "bool":
            cols["auto_converge"] = draw(st.sampled_from(
                ["false", np.array([np.nan] * n), np.array([0, 1, 2][:n] + [0] * (n - 3))[:n]]))
        else:
            overrides = draw(st.one_of(
                st.just([("qemu", {})]),
                st.dictionaries(st.sampled_from([*PROFILES, "vmware"]), st.one_of(
                    st.dictionaries(st.sampled_from(["max_rounds", "downtime_limit_ms", "remedy",
                                                     "nope", "skip_redirtied"]), _JUNK,
                                    max_size=2), _JUNK), max_size=2)))
    return cols, overrides


def _check(case) -> None:
    cols, overrides = case
    try:
        out = simulate(cols, overrides=overrides)
    except MigsimError:
        return
    n = len(out["status"])
    assert n >= 1
    for k in OUTPUTS:
        assert len(out[k]) == n, k
    assert set(out["status"]) <= {"completed", "failed", "rejected"}
    done = out["status"] == "completed"
    assert not np.isnan(out["total_time_s"][done]).any()
    assert (out["transferred_bytes"][done] >= 0).all()
    assert all(math.isfinite(x) for x in out["total_time_s"][done])


_FAST = settings(max_examples=100, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_HEAVY = settings(max_examples=2000, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_FAST
@given(mutated())
def test_simulate_answers_rows_or_raises_its_own_errors(case):
    _check(case)


@pytest.mark.slow
@_HEAVY
@given(mutated())
def test_simulate_fuzz_2000(case):
    _check(case)
