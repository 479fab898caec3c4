"""Vendi score: algorithms.md §3.3 test vectors, invariants, and agreement with the vendi-score package."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qdc.diversity.vendi import (
    ORDERS,
    gram_dual,
    intdiv_kernel,
    order_key,
    vendi_embeddings,
    vendi_from_eigenvalues,
    vendi_kernel,
)

INF = float("inf")
K3 = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]], dtype=np.float64)


def test_readme_samples_exp_kernel():
    s = np.array([0, 0, 10, 10, 20, 20], dtype=np.float64)
    k = np.exp(-np.abs(s[:, None] - s[None, :]))
    assert vendi_kernel(k, 1.0) == pytest.approx(2.9999999959, abs=1e-6)
    assert vendi_kernel(k, INF) == pytest.approx(2.999807, abs=1e-6)
    for q in (0.1, 0.5, 2.0):
        assert vendi_kernel(k, q) == pytest.approx(3.0, abs=1e-6)


@pytest.mark.parametrize(
    ("q", "expected"), [(0, 3.0), (0.1, 2.845537), (0.5, 2.420348), (1, 2.1573004834), (2, 1.948052), (INF, 1.578947)]
)
def test_three_by_three_kernel(q, expected):
    assert vendi_kernel(K3, q) == pytest.approx(expected, abs=1e-6)


def test_three_by_three_eigenvalues():
    eigs = np.sort(np.linalg.eigvalsh(K3 / 3))
    assert eigs == pytest.approx([0.033333, 0.333333, 0.633333], abs=1e-6)


@pytest.mark.parametrize("q", [0, 0.1, 0.5, 1, 2, INF])
def test_identical_and_orthogonal(q):
    assert vendi_kernel(np.ones((10, 10)), q) == pytest.approx(1.0, abs=1e-6)
    assert vendi_kernel(np.eye(7), q) == pytest.approx(7.0, abs=1e-6)


def test_dual_route_four_points():
    x = np.array([[100, 0], [99, 1], [1, 99], [0, 100]], dtype=np.float64)
    got = vendi_embeddings(x, (1.0, 2.0, INF))
    assert got[1.0] == pytest.approx(1.999898, abs=1e-6)
    assert got[2.0] == pytest.approx(1.999796, abs=1e-6)
    assert got[INF] == pytest.approx(1.980002, abs=1e-6)


def test_fifty_gaussian_rows_primal_equals_dual():
    x = np.random.default_rng(0).normal(size=(50, 8))
    expected = {0: 8, 0.1: 7.935315, 0.5: 7.685785, 1: 7.397531, 2: 6.908695, INF: 4.713611}
    dual = vendi_embeddings(x, tuple(expected))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    for q, v in expected.items():
        assert dual[q] == pytest.approx(v, abs=1e-6)
        assert vendi_kernel(u @ u.T, q) == pytest.approx(v, abs=1e-6)


def test_intdiv():
    assert intdiv_kernel(K3) == pytest.approx(0.4666667, abs=1e-6)
    assert intdiv_kernel(np.ones((4, 4))) == pytest.approx(0.0)
    assert intdiv_kernel(np.eye(4)) == pytest.approx(0.75)


def test_edge_cases_and_keys():
    assert vendi_embeddings(np.zeros((0, 4)))[1.0] == 0.0
    assert vendi_embeddings(np.array([[0.3, 0.4]]))[1.0] == pytest.approx(1.0)
    assert [order_key(q) for q in ORDERS] == ["0.1", "0.5", "1", "2", "inf"]
    assert vendi_from_eigenvalues(np.array([-1e-18, 0.5, 0.5]), 2, 2, (0.1,))[0.1] == pytest.approx(2.0)


def test_float32_input_and_chunking_agree_with_float64():
    x = np.random.default_rng(3).normal(size=(10_000, 16)).astype(np.float32)
    s = gram_dual(x)
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    assert np.allclose(s, u.T @ u / len(u), atol=1e-12)


unit_rows = st.integers(2, 12).flatmap(
    lambda n: st.integers(2, 6).flatmap(
        lambda d: st.lists(st.lists(st.floats(-1, 1, allow_nan=False), min_size=d, max_size=d), min_size=n, max_size=n)
    )
)


def _usable(rows: list[list[float]]) -> np.ndarray | None:
    # Rounded to a 1e-3 grid: rows that differ by ~1e-6 give a kernel eigenvalue ~1e-12 whose round-off
    # moves VS_q for small q by ~1e-6 (q=0.1 raises it to the 0.1 power), an ill-conditioned input rather
    # than a permutation effect; on the grid, rows are equal or at least 1e-3 apart.
    x = np.round(np.asarray(rows, dtype=np.float64), 3)
    if (np.linalg.norm(x, axis=1) < 1e-3).any():
        return None
    return x


@settings(max_examples=40, deadline=None)
@given(unit_rows, st.integers(0, 10_000))
def test_permutation_invariance(rows, seed):
    x = _usable(rows)
    if x is None:
        return
    perm = np.random.default_rng(seed).permutation(len(x))
    a, b = vendi_embeddings(x), vendi_embeddings(x[perm])
    for q in ORDERS:
        assert a[q] == pytest.approx(b[q], rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(unit_rows)
def test_duplicating_every_row_keeps_vendi(rows):
    x = _usable(rows)
    if x is None:
        return
    a, b = vendi_embeddings(x), vendi_embeddings(np.vstack([x, x]))
    for q in ORDERS:
        assert a[q] == pytest.approx(b[q], rel=1e-6, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(1, 8), st.sampled_from(ORDERS))
def test_identical_rows_give_one_and_orthogonal_rows_give_n(n, d, q):
    v = np.random.default_rng(n * 31 + d).normal(size=d) + 0.1
    assert vendi_embeddings(np.tile(v, (n, 1)), (q,))[q] == pytest.approx(1.0, abs=1e-6)
    m = min(n, d)
    assert vendi_embeddings(np.eye(d)[:m] * 3.0, (q,))[q] == pytest.approx(float(m), abs=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_vendi_score_package_on_random_data():
    vs = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(7)
    for n, d in ((20, 5), (60, 12), (40, 64)):
        x = rng.normal(size=(n, d))
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        k = u @ u.T
        ours = vendi_embeddings(x, (1.0, 2.0, INF))
        # Orders >= 1 are unaffected by round-off eigenvalues, so the package (no clipping) must agree.
        assert ours[1.0] == pytest.approx(vs.score_K(k, q=1), rel=1e-8)
        assert ours[2.0] == pytest.approx(vs.score_K(k, q=2), rel=1e-8)
        assert ours[INF] == pytest.approx(vs.score_K(k, q="inf"), rel=1e-8)
        assert ours[1.0] == pytest.approx(vs.score_X(x), rel=1e-8)
        assert vendi_kernel(k, 1.0) == pytest.approx(vs.score_K(k), rel=1e-8)
    # Where the package has no clipping it overcounts for q < 1 (algorithms.md §3.1); we return exactly 1.
    assert vs.score_K(np.ones((10, 10)), q=0.1) > 1.01
    assert vendi_kernel(np.ones((10, 10)), 0.1) == pytest.approx(1.0, abs=1e-9)
    assert math.isfinite(vs.score_K(k, q=0.5))
