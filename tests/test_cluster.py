"""Clustering: faiss spherical k-means, stable numbering, defaults, determinism."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from qdc import schema
from qdc.cluster import ClusterConfig, cluster, cluster_summary, default_k, kmeans
from qdc.errors import ConfigError


def blobs(seed: int = 0, k: int = 4, per: int = 30, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    x = np.concatenate([c + 0.05 * rng.normal(size=(per, d)) for c in centres]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.repeat(np.arange(k), per)


def test_recovers_well_separated_clusters() -> None:
    x, truth = blobs()
    res = kmeans(x, 4, seed=3)
    # Every true cluster maps to exactly one found cluster.
    pairs = {(int(t), int(f)) for t, f in zip(truth, res.labels, strict=True)}
    assert len(pairs) == 4
    assert res.distances.min() >= 0 and res.distances.max() < 0.1


def test_numbering_is_by_size_and_deterministic() -> None:
    x, _ = blobs(per=10)
    x = np.concatenate([x, blobs(seed=9, k=1, per=50)[0]])  # one big cluster added last
    a, b = kmeans(x, 5, seed=1), kmeans(x, 5, seed=1)
    assert np.array_equal(a.labels, b.labels)
    sizes = np.bincount(a.labels)
    assert list(sizes) == sorted(sizes, reverse=True)
    assert a.labels[-1] == 0  # the big cluster is cluster 0


def test_centroids_are_unit_and_distances_are_cosine() -> None:
    x, _ = blobs()
    res = kmeans(x, 4, seed=0)
    np.testing.assert_allclose(np.linalg.norm(res.centroids, axis=1), 1.0, rtol=1e-5)
    expected = 1 - np.sum(x * res.centroids[res.labels], axis=1)
    np.testing.assert_allclose(res.distances, expected, atol=1e-5)


def test_k_is_capped_by_n_and_k_one_works() -> None:
    x, _ = blobs(k=1, per=3)
    assert set(kmeans(x, 10).labels) <= {0, 1, 2}
    assert set(kmeans(x, 1).labels) == {0}
    with pytest.raises(ConfigError):
        kmeans(x, 0)


def test_default_k() -> None:
    assert default_k(1) == 1
    assert default_k(10) == 2
    assert default_k(1000) == 22
    assert default_k(10**8) == 1024


def test_cluster_stage_embeds_when_needed(frame, fake_embed_cfg) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"id": i, "text": t}
        for i, t in enumerate(
            [
                "apple pie recipe",
                "apple pie recipes",
                "apple tart recipe",
                "rust borrow checker",
                "rust borrow checking",
                "rust lifetimes borrow",
            ]
        )
    ]
    out = cluster(frame(rows), ClusterConfig(k=2, seed=0), fake_embed_cfg)
    labels = out[schema.CLUSTER].to_list()
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
    assert out.schema[schema.CLUSTER_DISTANCE] == pl.Float32
    summary = cluster_summary(out)
    assert [s["size"] for s in summary] == [3, 3]
    assert all(len(s["examples"]) == 2 for s in summary)
    from qdc.progress import use_reporter
    from tests.conftest import Notes

    notes = Notes()
    with use_reporter(notes):  # more clusters than rows: clamped, and said (it was silent)
        many = cluster(frame(rows), ClusterConfig(k=50, seed=0), fake_embed_cfg)
    assert many[schema.CLUSTER].n_unique() == 6 and notes.messages == [
        "--k 50 is more than the 6 rows: 6 clusters, one row each"
    ]


@pytest.mark.parametrize(("n", "k", "d"), [(50, 3, 64), (700, 12, 32), (3000, 40, 48)])
def test_one_thread_for_small_jobs_changes_no_result(monkeypatch: pytest.MonkeyPatch, n: int, k: int, d: int) -> None:
    """Small faiss jobs run on one OpenMP thread (CPU time of small inputs); centroids, labels and
    distances are bit-identical to the multi-threaded run, and the thread setting is restored."""
    import faiss

    from qdc import cluster as mod

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    runs = []
    before = faiss.omp_get_max_threads()
    for small_work in (0, 1 << 62):  # 0: never one thread; huge: always one thread
        monkeypatch.setattr(mod, "SMALL_WORK", small_work)
        c = mod.train_centroids(x, k, seed=7, niter=10)
        labels, dist = mod.assign(x, c, block_rows=n // 3 + 1)
        runs.append((c, labels, dist))
        assert faiss.omp_get_max_threads() == before
    (c0, l0, d0), (c1, l1, d1) = runs
    assert np.array_equal(c0, c1) and np.array_equal(l0, l1) and np.array_equal(d0, d1)
    assert len(np.unique(l0)) > 1
