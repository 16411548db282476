"""Density measures and density weighting, on points whose similarities are known."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError
from activelearning.strategies.density import (
    kde_density,
    kmeans_density,
    knn_density,
    parse_density,
    similarity_density,
    weight_scores,
)
from activelearning.strategies.uncertainty import entropy, margin

# Pairwise cosines: 0-1 .8, 0-2 0, 0-3 -1, 1-2 .6, 1-3 -.8, 2-3 0.
POINTS = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])


def test_similarity_to_the_pool_is_the_mean_cosine_mapped_to_0_1():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # Mean cosine of item 0: (1 + 0 + .7071) / 3 = .569; item 2: (.7071 + .7071 + 1) / 3 = .8047.
    mean_cos = np.array([(1 + 0.7071068) / 3, (1 + 0.7071068) / 3, (2 * 0.7071068 + 1) / 3])
    assert similarity_density(x) == pytest.approx((1 + mean_cos) / 2)


def test_similarity_density_equals_the_brute_force_mean_cosine():
    x = np.random.default_rng(0).normal(size=(50, 6))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert similarity_density(x) == pytest.approx((1 + (unit @ unit.T).mean(axis=1)) / 2)
    assert similarity_density(x.astype(np.float32)) == pytest.approx((1 + (unit @ unit.T).mean(axis=1)) / 2, abs=1e-6)


def test_knn_density_by_hand():
    assert knn_density(POINTS, neighbors=1) == pytest.approx([0.9, 0.9, 0.8, 0.5])
    # Two neighbours: item 0 (.8 + 0) / 2, item 1 (.8 + .6) / 2, item 2 (.6 + 0) / 2, item 3 (0 - .8) / 2.
    assert knn_density(POINTS, neighbors=2) == pytest.approx([0.7, 0.85, 0.65, 0.3])


def test_knn_density_on_a_reference_sample_is_deterministic_and_exact_when_the_sample_is_the_pool():
    rng = np.random.default_rng(1)
    # A tight cluster and a diffuse cloud: density has something to find.
    x = np.concatenate([rng.normal(size=(200, 5)) * 0.2 + [3, 0, 0, 0, 0], rng.normal(size=(100, 5))])
    exact = knn_density(x, neighbors=5)
    assert knn_density(x, neighbors=5, reference=300) == pytest.approx(exact)
    sampled = knn_density(x, neighbors=5, reference=50, rng=np.random.default_rng(3))
    again = knn_density(x, neighbors=5, reference=50, rng=np.random.default_rng(3))
    assert np.array_equal(sampled, again) and np.all((0 <= sampled) & (sampled <= 1))
    # Neighbours from a sample are farther, but the estimate still ranks alike.
    assert np.corrcoef(sampled, exact)[0, 1] > 0.8
    assert sampled[:200].mean() > sampled[200:].mean()


def test_a_lone_item_has_full_knn_density():
    assert knn_density(np.array([[1.0, 2.0]])).tolist() == [1.0]


def test_kde_by_hand():
    # 1-D points 0, 1, 10, bandwidth 1: sums 1 + e^-.5 (+ e^-50) twice, 1 (+ tiny) once.
    density = kde_density(np.array([[0.0], [1.0], [10.0]]), bandwidth=1.0)
    assert density == pytest.approx([1.0, 1.0, 1 / (1 + np.exp(-0.5))])


def test_kde_default_bandwidth_and_bad_bandwidth():
    density = kde_density(np.random.default_rng(2).normal(size=(100, 3)))
    assert density.max() == 1.0 and np.all(density > 0)
    with pytest.raises(StrategyInputError, match="bandwidth"):
        kde_density(POINTS, bandwidth=0.0)


def test_kmeans_density_is_the_cosine_to_the_cluster_centroid():
    x = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    half_angle = np.arctan(0.1) / 2
    density = kmeans_density(x, clusters=2, rng=np.random.default_rng(0))
    assert density == pytest.approx([(1 + np.cos(half_angle)) / 2] * 4)


def test_weighting_by_hand():
    s, d = np.array([0.5, 1.0]), np.array([1.0, 0.25])
    assert weight_scores(s, d, "multiplicative", 1.0) == pytest.approx([0.5, 0.25])
    assert weight_scores(s, d, "multiplicative", 2.0) == pytest.approx([0.5, 0.0625])
    assert weight_scores(s, d, "exponential", 1.0) == pytest.approx([0.5 * np.e, np.exp(0.25)])
    # Additive: min-max scores (0, 1) plus beta * density.
    assert weight_scores(s, d, "additive", 1.0) == pytest.approx([1.0, 1.25])
    assert weight_scores(s, d, "additive", 2.0) == pytest.approx([2.0, 1.5])
    # Negative scores (expected error reduction) are shifted to start at 0 before multiplying.
    assert weight_scores(np.array([-2.0, -1.0]), d, "multiplicative") == pytest.approx([0.0, 0.25])


def test_information_density_is_entropy_times_similarity_to_the_pool():
    rng = np.random.default_rng(4)
    proba, x = rng.dirichlet(np.ones(3), size=30), rng.normal(size=(30, 4))
    selection = STRATEGIES["information_density"].select(
        PoolInputs(n=30, proba=proba, embeddings=x), 30, rng=np.random.default_rng(0)
    )
    expected = entropy(proba) * similarity_density(x)
    assert selection.scores == pytest.approx(np.sort(expected)[::-1])
    assert selection.indices[0] == int(np.argmax(expected))


@pytest.mark.parametrize("measure", ["knn", "kde", "kmeans", "similarity"])
@pytest.mark.parametrize("combine", ["multiplicative", "exponential", "additive"])
def test_any_score_based_strategy_takes_a_density(measure, combine):
    rng = np.random.default_rng(5)
    proba, x = rng.dirichlet(np.ones(3), size=40), rng.normal(size=(40, 4))
    inputs = PoolInputs(n=40, proba=proba, embeddings=x)
    spec = {"measure": measure, "combine": combine, "beta": 0.5}
    selection = STRATEGIES["margin"].select(inputs, 5, rng=np.random.default_rng(0), density=spec)
    assert len(set(selection.indices.tolist())) == 5
    assert selection.details["density"]["measure"] == measure
    plain = margin(proba)
    assert not np.allclose(selection.scores, np.sort(plain)[::-1][:5])


def test_a_density_needs_embeddings():
    inputs = PoolInputs(n=2, proba=np.array([[0.5, 0.5], [0.9, 0.1]]))
    with pytest.raises(StrategyInputError, match="needs `embeddings`"):
        STRATEGIES["margin"].select(inputs, 1, rng=np.random.default_rng(0), density="knn")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"measure": "lof"}, "density measure"),
        ({"measure": "knn", "combine": "max"}, "density combine"),
        ({"measure": "knn", "beta": -1}, "density beta"),
        ({"measure": "knn", "bandwidth": 2}, "unknown option"),
        (["knn"], "measure name or a mapping"),
    ],
)
def test_bad_density_specs_are_refused_clearly(spec, words):
    with pytest.raises(StrategyInputError, match=words):
        parse_density(spec)


def test_density_shorthands():
    assert parse_density(None) is None
    assert parse_density("kde") == {"measure": "kde", "combine": "multiplicative", "beta": 1.0}
