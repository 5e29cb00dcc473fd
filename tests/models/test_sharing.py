"""Max-min fair sharing of host NICs with per-stream caps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.sharing import link_load, max_min

B = 10e9 / 8 * 0.949


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 8, 16, 32])
def test_k_equal_streams_each_get_a_kth(k):
    rates = max_min(np.array([B, B]), np.array([[0, 1]] * k), np.full(k, np.inf))
    assert np.all(rates == B / k)
    assert rates.sum() <= B * (1 + 1e-12)


def test_caps_bind_and_the_rest_is_shared():
    # 3 streams on one link; one capped at 100: the two others split what is left
    rates = max_min(np.array([1000.0]), np.array([[0], [0], [0]]), np.array([100.0, np.inf, np.inf]))
    assert rates.tolist() == [100.0, 450.0, 450.0]


def test_single_stream_capped():
    rates = max_min(np.array([1000.0, 1000.0]), np.array([[0, 1]]), np.array([339.0]))
    assert rates.tolist() == [339.0]


def test_source_and_destination_both_bind():
    # links: 0 = egress a (10), 1 = ingress b (10), 2 = ingress c (4)
    # f0: a -> c, f1: a -> b, f2: x -> b capped at 1
    rates = max_min(np.array([10.0, 10.0, 4.0]), np.array([[0, 2], [0, 1], [1, -1]]),
                    np.array([np.inf, np.inf, 1.0]))
    assert rates.tolist() == [4.0, 6.0, 1.0]


def test_evacuation_fan_out():
    # one source (egress 0) to 3 destinations (ingress 1..3): the source binds, equal shares
    rates = max_min(np.array([12.0, 10.0, 10.0, 10.0]), np.array([[0, 1], [0, 2], [0, 3], [0, 1]]),
                    np.full(4, np.inf))
    assert np.allclose(rates, 3.0)


def test_empty_and_unbounded():
    assert max_min(np.array([1.0]), np.zeros((0, 2), dtype=int), np.zeros(0)).shape == (0,)
    assert np.isinf(max_min(np.zeros(0), np.array([[-1, -1]]), np.array([np.inf]))[0])


def test_link_load():
    load = link_load(3, np.array([[0, 1], [0, 2]]), np.array([1.0, 2.0]))
    assert load.tolist() == [3.0, 1.0, 2.0]


@st.composite
def networks(draw):
    n_links = draw(st.integers(1, 6))
    cap = draw(st.lists(st.floats(1.0, 1e4), min_size=n_links, max_size=n_links))
    n = draw(st.integers(1, 12))
    ends = [sorted(draw(st.lists(st.integers(-1, n_links - 1), min_size=2, max_size=2)))
            for _ in range(n)]
    ends = [[a, b] if a != b else [a, -1] for a, b in ends]
    ends = [e if max(e) >= 0 else [0, -1] for e in ends]
    caps = draw(st.lists(st.one_of(st.just(np.inf), st.floats(0.5, 2e4)), min_size=n, max_size=n))
    return np.array(cap), np.array(ends, dtype=np.int64), np.array(caps)


@settings(max_examples=300, deadline=None)
@given(networks())
def test_shares_respect_capacity_and_caps_and_are_max_min(net):
    cap, ends, caps = net
    r = max_min(cap, ends, caps)
    assert np.all(r >= 0)
    assert np.all(r <= caps * (1 + 1e-9))
    load = link_load(cap.shape[0], ends, r)
    assert np.all(load <= cap * (1 + 1e-9))
    # max-min optimality: every stream is at its cap, or crosses a full link on which no other
    # stream has more
    for i in range(r.shape[0]):
        if r[i] >= caps[i] * (1 - 1e-9):
            continue
        ok = False
        for link in ends[i]:
            if link < 0:
                continue
            full = load[link] >= cap[link] * (1 - 1e-9)
            others = [r[j] for j in range(r.shape[0]) if link in ends[j]]
            if full and r[i] >= max(others) * (1 - 1e-9):
                ok = True
        assert ok, (i, r, load, cap)


@settings(max_examples=150, deadline=None)
@given(networks(), st.randoms(use_true_random=False))
def test_shares_are_deterministic_and_permutation_equivariant(net, rnd):
    cap, ends, caps = net
    r = max_min(cap, ends, caps)
    assert np.array_equal(r, max_min(cap, ends, caps))
    perm = list(range(caps.shape[0]))
    rnd.shuffle(perm)
    p = np.array(perm)
    assert np.array_equal(max_min(cap, ends[p], caps[p]), r[p])


def test_permutation_equivariance_with_a_capped_stream_among_equals():
    # found by Hypothesis: the capacity left after a round must be summed in a canonical order
    cap = np.array([253.0, 2217.0, 1.0])
    ends = np.array([[0, -1], [0, 1], [0, 2], [0, 1], [0, 1], [0, 2], [1, -1]])
    caps = np.array([np.inf, np.inf, np.inf, 0.7, np.inf, np.inf, np.inf])
    r = max_min(cap, ends, caps)
    for p in itertools.permutations(range(7)):
        p = np.array(p)
        assert np.array_equal(max_min(cap, ends[p], caps[p]), r[p])


# ---------------------------------------------------------------------------- paths (topology)
def test_parking_lot_over_paths():
    """Links A and B of capacity 1: one stream over both, one on each. Max-min: 1/2 each; with
    the long stream capped at 0.2, the short ones get 0.8."""
    cap = np.array([1.0, 1.0])
    ends = np.array([[0, 1, -1], [0, -1, -1], [1, -1, -1]])
    assert max_min(cap, ends, np.full(3, np.inf)) == pytest.approx([0.5, 0.5, 0.5])
    assert max_min(cap, ends, np.array([0.2, np.inf, np.inf])) == pytest.approx([0.2, 0.8, 0.8])


def test_bottleneck_deep_in_the_path():
    """NICs of 10, an uplink of 6 shared by three streams, a fourth stream on a NIC alone."""
    cap = np.array([10.0, 10.0, 10.0, 6.0, 10.0])
    ends = np.array([[0, 3, 4], [1, 3, 4], [2, 3, 4], [0, -1, -1]])
    r = max_min(cap, ends, np.full(4, np.inf))
    assert r == pytest.approx([2.0, 2.0, 2.0, 8.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_unused_links_change_no_bit(n_streams, n_links, seed):
    """A datacenter's link vector has many links no stream crosses (max_min works on the used
    ones only): padding the same problem with 200 unused links gives bit-identical rates."""
    rng = np.random.default_rng(seed)
    cap = rng.uniform(1.0, 10.0, n_links)
    ends = rng.integers(-1, n_links, (n_streams, 3))
    ends[:, 0] = rng.integers(0, n_links, n_streams)
    caps = np.where(rng.random(n_streams) < 0.3, rng.uniform(0.1, 5.0, n_streams), np.inf)
    small = max_min(cap, ends, caps)
    pad = 200
    big_cap = np.concatenate([rng.uniform(1.0, 10.0, pad), cap])
    big = max_min(big_cap, np.where(ends >= 0, ends + pad, -1), caps)
    assert np.array_equal(small, big)
