"""Dirty-page workload: distinct pages dirtied, overlaps, and the series behind them."""

from decimal import Decimal, getcontext

import numpy as np
import pytest

from models.precopy import _skip_fraction
from models.workload import one_minus_exp, union_pending, unique_dirtied

getcontext().prec = 50
GRID = [10 ** (k / 40) for k in range(-9 * 40, 2 * 40 + 1)]   # 1e-9 .. 100


def test_one_minus_exp_is_accurate_on_both_sides_of_the_series():
    worst = max(abs(one_minus_exp(y) / float(1 - (-Decimal(y)).exp()) - 1) for y in GRID)
    assert worst < 1e-12


def test_skip_fraction_and_its_derivative_are_accurate():
    # random writes: a page at position u of the pass is skipped if written before its turn,
    # f(x) = 1 - (1 - e^-x)/x; Newton needs f'(x) as well
    for x in GRID:
        X = Decimal(x)
        g = 1 - (-X).exp()
        f, df = _skip_fraction(x, 0.0)
        assert f == pytest.approx(float(1 - g / X), rel=1e-11)
        assert df == pytest.approx(float((g / X - (-X).exp()) / X), rel=1e-10)


def test_unique_dirtied_saturates_and_is_linear_for_short_intervals():
    W = 1e6
    assert unique_dirtied(1e3, W, 1e-3, 0.0) == pytest.approx(1.0, rel=1e-6)
    assert unique_dirtied(1e6, W, 100.0, 0.0) == pytest.approx(W)
    assert unique_dirtied(1e6, W, 0.5, 1.0) == 5e5            # a sweep: linear up to W
    assert unique_dirtied(1e6, W, 5.0, 1.0) == W
    ts = np.linspace(0, 10, 101)
    u = [unique_dirtied(3e5, W, t, 0.0) for t in ts]
    assert np.all(np.diff(u) > 0) and u[-1] < W


def test_union_of_pending_and_new_pages():
    assert union_pending(100.0, 100.0, 1000.0, 0.0) == pytest.approx(190.0)   # 100 + 100 - 10
    assert union_pending(600.0, 600.0, 1000.0, 1.0) == 1000.0                # adjacent arcs
    assert union_pending(5.0, 0.0, 1000.0, 0.0) == 5.0
