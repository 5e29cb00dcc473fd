"""Counter-based seeds and draws: pure functions of (seed, index, name)."""

from __future__ import annotations

import numpy as np

from runner.sweep import rng


def test_point_seeds_depend_only_on_seed_and_index() -> None:
    idx = np.arange(1000, dtype=np.int64)
    a = rng.point_seeds(7, idx)
    np.testing.assert_array_equal(a[500:], rng.point_seeds(7, idx[500:]))
    assert len(set(a.tolist())) == 1000
    assert not np.array_equal(a, rng.point_seeds(8, idx))


def test_uniform_draws_are_uniform_and_independent_per_name() -> None:
    seeds = rng.point_seeds(1, np.arange(200_000, dtype=np.int64))
    u = rng.uniform01(seeds, "dirty_rate_Bps")
    v = rng.uniform01(seeds, "memory_bytes")
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert (abs(hist - 20_000) < 800).all()
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.01


def test_key_is_stable() -> None:
    assert rng.key("memory_bytes") == rng.key("memory_bytes")
    assert int(rng.key("memory_bytes")) == int.from_bytes(
        __import__("hashlib").blake2b(b"memory_bytes", digest_size=8).digest(), "little")
