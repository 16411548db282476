"""Core-set (k-center greedy) and cluster-then-uncertainty."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, diversity
from activelearning.strategies.diversity import cluster_uncertainty, k_center_greedy, min_sq_distances


def test_k_center_greedy_from_the_labeled_set_by_hand():
    pool = np.array([[0.0], [1.0], [2.0], [10.0]])
    chosen, scores, details = k_center_greedy(pool, 3, labeled=np.array([[0.0]]))
    # Distances to the labeled point: 0, 1, 2, 10. Take 10; then 2 (nearest centre 0); then 1.
    assert chosen.tolist() == [3, 2, 1]
    assert scores.tolist() == pytest.approx([10.0, 2.0, 1.0])
    assert details["radius"] == 0.0 and details["initial_radius"] == pytest.approx(10.0)


def test_without_labeled_items_the_first_pick_is_seeded_and_scores_never_increase():
    x = np.random.default_rng(0).normal(size=(200, 5))
    chosen, scores, _ = k_center_greedy(x, 20, rng=np.random.default_rng(7))
    again, _, _ = k_center_greedy(x, 20, rng=np.random.default_rng(7))
    assert chosen.tolist() == again.tolist() and len(set(chosen.tolist())) == 20
    assert np.all(np.diff(scores) <= 1e-9)
    # The first score is the radius the first pick covers alone.
    assert scores[0] == pytest.approx(np.linalg.norm(x - x[chosen[0]], axis=1).max())


def test_k_center_greedy_matches_a_brute_force_version():
    rng = np.random.default_rng(1)
    x, labeled = rng.normal(size=(60, 4)), rng.normal(size=(3, 4))
    chosen, _, _ = k_center_greedy(x, 10, labeled=labeled)
    centers = list(labeled)
    expected = []
    for _ in range(10):
        dist = np.min(np.linalg.norm(x[:, None] - np.array(centers)[None], axis=2), axis=1)
        dist[expected] = -1
        expected.append(int(np.argmax(dist)))
        centers.append(x[expected[-1]])
    assert chosen.tolist() == expected


def test_chunked_distances_equal_the_brute_force_ones(monkeypatch):
    monkeypatch.setattr(diversity, "_CHUNK_ELEMENTS", 7)  # many tiny chunks
    rng = np.random.default_rng(2)
    x, centers = rng.normal(size=(23, 3)), rng.normal(size=(5, 3))
    brute = np.min(((x[:, None] - centers[None]) ** 2).sum(axis=2), axis=1)
    assert min_sq_distances(x, centers) == pytest.approx(brute)


def test_duplicates_still_give_distinct_picks():
    chosen, scores, _ = k_center_greedy(np.zeros((5, 2)), 5)
    assert sorted(chosen.tolist()) == [0, 1, 2, 3, 4] and np.all(scores == 0)


def test_the_core_set_strategy_treats_labeled_embeddings_as_centres():
    pool = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 1.0]])
    inputs = PoolInputs(n=3, embeddings=pool, labeled_embeddings=np.array([[5.0, 0.1]]))
    selection = STRATEGIES["coreset"].select(inputs, 1, rng=np.random.default_rng(0))
    assert selection.indices.tolist() == [2]  # farthest from the labeled point


def test_cluster_uncertainty_takes_one_item_per_cluster():
    # Two tight, far-apart clusters; the two most uncertain items are both in cluster A.
    x = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 10.0], [10.1, 10.0], [10.0, 10.1]])
    proba = np.array([[0.5, 0.5], [0.55, 0.45], [0.9, 0.1], [0.7, 0.3], [0.95, 0.05], [0.99, 0.01]])
    chosen, scores, details = cluster_uncertainty(proba, x, 2, rng=np.random.default_rng(0))
    assert chosen.tolist() == [0, 3]
    assert scores == pytest.approx([1.0, 0.6])  # 1 - margin
    assert details["clusters"] == 2
    top_two = STRATEGIES["margin"].select(PoolInputs(n=6, proba=proba), 2, rng=np.random.default_rng(0))
    assert top_two.indices.tolist() == [0, 1]


def test_cluster_uncertainty_fills_up_when_there_are_fewer_distinct_clusters():
    x = np.zeros((6, 2))
    proba = np.array([[0.5, 0.5], [0.6, 0.4], [0.7, 0.3], [0.8, 0.2], [0.9, 0.1], [1.0, 0.0]])
    chosen, _, _ = cluster_uncertainty(proba, x, 3, rng=np.random.default_rng(0))
    assert chosen.tolist() == [0, 1, 2]
