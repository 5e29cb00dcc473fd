"""Counter-based random numbers: per-point seeds and draws from index arithmetic.

A sweep point's seed and its random inputs are pure functions of (spec seed, point index, field
name), computed with the SplitMix64 finaliser on uint64 arrays. So any batch of points can be
expanded on its own, in any order, on any worker, and gives the same numbers as a single pass over
the whole sweep — which is what makes batches resumable and runs reproducible. Not a
cryptographic generator; statistically fine for parameter sampling (SplitMix64 passes BigCrush).
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of a uint64 array (wrapping arithmetic).

    Parameters
    ----------
    x : numpy.ndarray of uint64
        Counters.

    Returns
    -------
    numpy.ndarray of uint64
        Well-mixed 64-bit values, one per counter.
    """
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def key(text: str) -> np.uint64:
    """A stable 64-bit key for a name (same on every machine and Python run)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def point_seeds(spec_seed: int, index: np.ndarray) -> np.ndarray:
    """Per-point seeds.

    Parameters
    ----------
    spec_seed : int
        The spec's ``seed`` (any Python int; reduced modulo 2**64).
    index : numpy.ndarray of int64
        Point indices (``point_id``).

    Returns
    -------
    numpy.ndarray of uint64
        One seed per point; distinct points get independent seeds.
    """
    base = splitmix64(np.array([spec_seed % 2**64], dtype=np.uint64))[0]
    return splitmix64(index.astype(np.uint64) ^ base)


def uniform01(seeds: np.ndarray, name: str) -> np.ndarray:
    """Uniform draws in [0, 1) for one named random field, one per point seed."""
    bits = splitmix64(seeds ^ key(name))
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)


def generator(spec_seed: int, name: str) -> np.random.Generator:
    """A NumPy generator for values drawn once per spec (a sampled grid or zip axis)."""
    return np.random.Generator(np.random.PCG64([spec_seed % 2**64, int(key(name))]))
