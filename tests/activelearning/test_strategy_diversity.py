"""Core-set (k-center greedy) and cluster-then-uncertainty."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError, diversity
from activelearning.strategies.diversity import cluster_uncertainty, k_center_greedy, min_sq_distances
from activelearning.strategies.validation import check_embeddings


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
    monkeypatch.setattr(diversity, "_MAX_CENTERS_PER_BLOCK", 2)  # on the centres' side too
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


def test_float32_embeddings_are_measured_in_float32():
    rng = np.random.default_rng(3)
    x, centers = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(7, 8)).astype(np.float32)
    brute = np.min(((x[:, None].astype(float) - centers[None]) ** 2).sum(axis=2), axis=1)
    distances = min_sq_distances(x, centers)
    assert distances.dtype == np.float32
    assert distances == pytest.approx(brute, rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precomputed_nearest_distances_give_the_same_batch(dtype):
    rng = np.random.default_rng(4)
    x, labeled = rng.normal(size=(300, 6)).astype(dtype), rng.normal(size=(12, 6)).astype(dtype)
    nearest = min_sq_distances(x, labeled)
    before = nearest.copy()
    measured = k_center_greedy(x, 15, labeled)
    precomputed = k_center_greedy(x, 15, labeled, nearest_sq=nearest)
    assert precomputed[0].tolist() == measured[0].tolist()
    assert precomputed[1].tolist() == measured[1].tolist() and precomputed[2] == measured[2]
    np.testing.assert_array_equal(nearest, before)  # the caller's distances are left as they were


def test_distances_kept_from_earlier_labels_and_lowered_by_new_ones_are_exact():
    rng = np.random.default_rng(5)
    x, earlier, new = rng.normal(size=(400, 5)), rng.normal(size=(30, 5)), rng.normal(size=(4, 5))
    kept = np.minimum(min_sq_distances(x, earlier), min_sq_distances(x, new))
    assert kept == pytest.approx(min_sq_distances(x, np.vstack([earlier, new])))
    labeled = np.vstack([earlier, new])
    assert k_center_greedy(x, 10, labeled, nearest_sq=kept)[0].tolist() == k_center_greedy(x, 10, labeled)[0].tolist()


def test_infinite_precomputed_distances_mean_nothing_is_labeled_yet():
    x = np.random.default_rng(6).normal(size=(40, 3))
    seeded, _, details = k_center_greedy(x, 5, rng=np.random.default_rng(9), nearest_sq=np.full(40, np.inf))
    assert seeded.tolist() == k_center_greedy(x, 5, rng=np.random.default_rng(9))[0].tolist()
    assert details["started_from_labeled"] is False


def test_the_core_set_strategy_reads_precomputed_distances():
    rng = np.random.default_rng(7)
    pool, labeled = rng.normal(size=(80, 4)), rng.normal(size=(5, 4))
    plain = PoolInputs(n=80, embeddings=pool, labeled_embeddings=labeled)
    with_distances = PoolInputs(n=80, embeddings=pool, labeled_embeddings=labeled,
                                labeled_sq_distances=min_sq_distances(pool, labeled))
    select = STRATEGIES["coreset"].select
    expected = select(plain, 6, rng=np.random.default_rng(0)).indices.tolist()
    assert select(with_distances, 6, rng=np.random.default_rng(0)).indices.tolist() == expected


@pytest.mark.parametrize(
    ("distances", "words"),
    [(np.zeros(3), "for 4 pool items, got 3"), (np.array([0.0, np.nan, 1.0, 2.0]), "NaN"),
     (np.array([0.0, -1.0, 1.0, 2.0]), "non-negative"), (np.zeros((4, 1)), "shape \\(n,\\)")],
)
def test_bad_precomputed_distances_are_refused(distances, words):
    inputs = PoolInputs(n=4, embeddings=np.zeros((4, 2)), labeled_embeddings=np.ones((1, 2)),
                        labeled_sq_distances=distances)
    with pytest.raises(StrategyInputError, match=words):
        STRATEGIES["coreset"].select(inputs, 1, rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_embeddings_with_nan_or_infinity_are_refused(bad):
    x = np.zeros((4, 2), dtype=np.float32)
    x[2, 1] = bad
    with pytest.raises(StrategyInputError, match="NaN or infinity"):
        check_embeddings(x)


def test_huge_finite_embeddings_whose_sum_overflows_are_accepted():
    assert check_embeddings(np.full((4, 2), 3e38, dtype=np.float32)).dtype == np.float32
