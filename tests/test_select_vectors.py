"""The reference's test vectors (algorithms.md §1.3, §2.2, §5.2) and allocation invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qdc.errors import ConfigError
from qdc.select.allocate import allocate, equal_split
from qdc.select.bandit import ucb
from qdc.select.deita import deita_arrays
from qdc.select.iterative import cluster_weights
from qdc.select.kmq import kmq_arrays, percentile_rank, quality_factors, take_per_cluster, within_keys
from qdc.select.pool import softmax, standardise


def test_within_cluster_softmax_vector() -> None:
    assert np.allclose(softmax(np.array([2.0, 3.0, 5.0])), [0.042010, 0.114195, 0.843795], atol=1e-6)


def test_cluster_weight_softmax_vector() -> None:
    assert np.allclose(softmax(np.array([0.2, 0.5, -0.1])), [0.323554, 0.436752, 0.239694], atol=1e-6)


def test_gumbel_top1_draws_follow_the_softmax() -> None:
    # One row per draw out of a 3-row cluster, many independent clusters: frequencies ~ softmax([2,3,5]).
    reps = 20000
    q = np.tile([2.0, 3.0, 5.0], reps)
    labels = np.repeat(np.arange(reps), 3)
    keys = within_keys(q.size, q, "softmax", 1.0, np.random.default_rng(0))
    picked = take_per_cluster(labels, np.ones(reps, dtype=np.int64), keys)
    freq = np.bincount(picked % 3, minlength=3) / reps
    assert np.allclose(freq, [0.042010, 0.114195, 0.843795], atol=0.01)


def test_allocation_vector_equal_water_filling() -> None:
    assert allocate(30, [1, 1, 1], [50, 30, 5]).tolist() == [13, 12, 5]


def test_allocation_proportional_and_ties() -> None:
    assert allocate(30, [50, 30, 5], [50, 30, 5]).tolist() == [18, 10, 2]
    assert allocate(7, [1, 1, 1], [9, 9, 9]).tolist() == [3, 2, 2]  # remainder to the lower id
    assert allocate(10, [1, 0, 1], [9, 9, 0]).tolist() == [9, 0, 0]  # zero weight / zero cap get nothing
    assert equal_split(10, 3) == [3, 3, 4]


def test_allocation_rejects_bad_weights() -> None:
    with pytest.raises(ConfigError):
        allocate(3, [1, -1], [2, 2])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.lists(st.tuples(st.floats(0, 10), st.integers(0, 60)), min_size=1, max_size=12))
def test_allocation_is_exact_and_capped(total: int, buckets: list[tuple[float, int]]) -> None:
    w = np.array([b[0] for b in buckets])
    caps = np.array([b[1] for b in buckets])
    out = allocate(total, w, caps)
    usable = int(caps[(w > 0) & (caps > 0)].sum())
    assert int(out.sum()) == min(total, usable)
    assert np.all(out <= caps) and np.all(out >= 0)
    assert np.all(out[w == 0] == 0)


def test_ucb_vector() -> None:
    assert ucb(0.6, 3, 20, 1.0) == pytest.approx(1.8238734, abs=1e-6)
    assert ucb(0.6, 3, 20, 1.0) == pytest.approx(0.6 + math.sqrt(2 * math.log(20) / 4))


def test_deita_vector() -> None:
    x = np.array([[1, 0], [0.95, 0.3122], [0, 1], [0.7071, 0.7071], [-1, 0]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    score = np.array([30.0, 25, 20, 10, 5])
    picked, rejected = deita_arrays(x, score, 10, 0.9)
    assert picked.tolist() == [0, 2, 3, 4] and rejected == 1  # b rejected: cos(a, b) = 0.95
    assert deita_arrays(x, score, 3, 0.9)[0].tolist() == [0, 2, 3]
    # Small blocks give the same answer as one big block (batch_size=1 semantics).
    assert deita_arrays(x, score, 10, 0.9, block=2)[0].tolist() == [0, 2, 3, 4]


def test_cluster_weights_floor_and_exhausted() -> None:
    w = cluster_weights(
        np.array([0.2, 0.5, -0.1, 0.0]), np.array([True, True, True, False]), np.array([5, 5, 5, 0]), 1.0, 0.1
    )
    assert w[3] == 0 and w.sum() == pytest.approx(1.0)
    assert w.min(initial=1, where=w > 0) >= 0.1 / 3
    assert w[1] > w[0] > w[2]


def test_standardise_constant_is_zero() -> None:
    assert standardise(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]


def test_percentile_rank_vector_averages_ties() -> None:
    # ranks 4, 1, 2.5, 2.5 of n=4 -> (r - 0.5) / 4
    assert np.allclose(percentile_rank(np.array([3.0, 1.0, 2.0, 2.0])), [0.875, 0.125, 0.5, 0.5])
    assert percentile_rank(np.zeros(0)).size == 0


def test_quality_factor_spares_typical_clusters_and_starves_junk() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    score = np.array([0.0, 0.0, 0.01, 0.8, 0.9, 0.7, 0.95, 0.85, 0.75])
    f = quality_factors(labels, 3, score)
    assert f[1] == 1.0 and f[2] == 1.0  # mean percentile >= 0.5: full share
    assert f[0] < 0.35  # the junk cluster's mean percentile is 2/9 -> factor 4/9 at most
    assert np.isclose(f[0], 2 * np.mean(percentile_rank(score)[:3]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=5, max_size=60), st.integers(1, 60), st.integers(0, 3))
def test_kmq_with_cluster_quality_still_lands_on_the_budget(labs: list[int], budget: int, seed: int) -> None:
    labels = np.array(labs)
    labels = np.unique(labels, return_inverse=True)[1].reshape(-1)
    score = np.random.default_rng(seed).random(labels.size)
    picked, log = kmq_arrays(labels, score, budget, seed=seed)
    assert picked.size == min(budget, labels.size) and np.unique(picked).size == picked.size
    assert log["cluster_quality"] is not None


def test_kmq_junk_cluster_share_with_and_without_cluster_quality() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 100)  # cluster 0 is junk: every score below every other cluster's
    score = np.where(labels == 0, rng.random(500) * 0.05, 0.5 + 0.5 * rng.random(500))
    plain, _ = kmq_arrays(labels, score, 100, cluster_quality=False, seed=0)
    aware, _ = kmq_arrays(labels, score, 100, seed=0)
    assert int((labels[plain] == 0).sum()) == 20  # the paper's equal split: a full B/K share
    # junk mean percentile 0.1 -> factor 0.2: 100 x 0.2/4.2 = 4.76, floored to 4 (the other clusters' .81
    # remainders win the four leftover rows)
    assert int((labels[aware] == 0).sum()) == 4
