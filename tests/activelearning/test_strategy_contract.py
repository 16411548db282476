"""The contract every registered strategy keeps, whatever its family: one test suite
parametrized over the whole registry, with every input the engine can provide."""
import dataclasses

import numpy as np
import pytest

from activelearning.strategies import (
    COMMITTEE,
    DETECTIONS,
    EMBEDDINGS,
    GRADIENTS,
    LABELED_EMBEDDINGS,
    PROBA,
    RETRAIN,
    STRATEGIES,
    PoolInputs,
    StrategyInputError,
    logistic_gradient_norms,
    required_inputs,
)

KEYS = list(STRATEGIES)
# The random baseline reads no input, so there is no input of its to refuse.
READING_KEYS = [key for key in KEYS if required_inputs(key)]
CLASSES = np.array([10, 20, 30])


def full_inputs(n: int = 40, seed: int = 5, **override) -> PoolInputs:
    """Every field filled: random probabilities, a 4-member committee, embeddings of
    the pool and of 5 labeled items, gradient norms, a cheap retrain fake and 0-3
    detected objects per item (confidence, class id, mask quality)."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(3), size=n)
    embeddings = rng.normal(size=(n, 8))
    estimation = rng.dirichlet(np.ones(3), size=6)

    def retrain(index: int, column: int) -> np.ndarray:
        shifted = estimation.copy()
        shifted[:, column] += 0.1 + 0.01 * (index % 7)
        return shifted / shifted.sum(axis=1, keepdims=True)

    fields = dict(
        n=n, proba=proba, committee_proba=rng.dirichlet(np.ones(3), size=(4, n)), embeddings=embeddings,
        labeled_embeddings=rng.normal(size=(5, 8)),
        gradient_norms=logistic_gradient_norms(proba, (embeddings**2).sum(axis=1)), retrain=retrain,
        classes=CLASSES, target_ratios={10: 0.5, 20: 0.3, 30: 0.2}, detections=_detections(rng, n),
    )
    fields.update(override)
    return PoolInputs(**fields)


def _detections(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    counts = rng.integers(0, 4, size=n)
    return [np.column_stack([rng.random(m), rng.choice(CLASSES, size=m), rng.random(m)]) for m in counts]


def select(key, inputs, k, seed=1, **params):
    return STRATEGIES[key].select(inputs, k, rng=np.random.default_rng(seed), **params)


@pytest.mark.parametrize("key", KEYS)
def test_returns_k_distinct_valid_indices_with_finite_scores(key):
    selection = select(key, full_inputs(), 7)
    indices, scores = selection.indices, selection.scores
    assert indices.dtype.kind == "i" and len(indices) == 7
    assert len(set(indices.tolist())) == 7
    assert all(0 <= i < 40 for i in indices)
    assert len(scores) == len(indices) and np.all(np.isfinite(scores))
    assert isinstance(selection.details, dict)
    if key != "mix":  # a mix interleaves parts whose scores are not comparable
        assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("key", KEYS)
def test_returns_the_whole_pool_when_k_is_at_least_its_size(key):
    inputs = full_inputs(n=6)
    for k in (6, 50):
        selection = select(key, inputs, k)
        assert sorted(selection.indices.tolist()) == list(range(6))
        assert len(selection.scores) == 6 and np.all(np.isfinite(selection.scores))


@pytest.mark.parametrize("key", KEYS)
def test_k_zero_is_an_empty_batch(key):
    selection = select(key, full_inputs(), 0)
    assert len(selection.indices) == 0 and len(selection.scores) == 0


@pytest.mark.parametrize("key", KEYS)
def test_an_empty_pool_is_an_empty_batch(key):
    empty = full_inputs(
        n=0, proba=np.empty((0, 3)), committee_proba=np.empty((4, 0, 3)), embeddings=np.empty((0, 8)),
        gradient_norms=np.empty((0, 3)),
    )
    selection = select(key, empty, 5)
    assert len(selection.indices) == 0 and len(selection.scores) == 0


@pytest.mark.parametrize("key", KEYS)
def test_deterministic_for_a_seed(key):
    inputs = full_inputs(n=100)
    first, second = select(key, inputs, 10, seed=42), select(key, inputs, 10, seed=42)
    assert first.indices.tolist() == second.indices.tolist()
    assert np.array_equal(first.scores, second.scores)


@pytest.mark.parametrize("key", KEYS)
def test_unknown_parameters_are_refused_by_name(key):
    with pytest.raises(StrategyInputError, match="bogus"):
        select(key, full_inputs(), 3, bogus=1)


def _nan_retrain(index, column):
    return np.full((6, 3), np.nan)


def _flat_retrain(index, column):
    return np.full(3, 1 / 3)


# For each input: a value with NaN, a value of the wrong shape, and words the message must contain.
BAD = {
    PROBA: (lambda i: _with_nan(i.proba), lambda i: i.proba[:-1], "probabilities"),
    COMMITTEE: (lambda i: _with_nan(i.committee_proba), lambda i: i.committee_proba[0], "committee probabilities"),
    EMBEDDINGS: (lambda i: _with_nan(i.embeddings), lambda i: i.embeddings[:, :, None], "embeddings"),
    LABELED_EMBEDDINGS: (lambda i: _with_nan(i.labeled_embeddings), lambda i: i.labeled_embeddings[:, :3],
                         "labeled embeddings"),
    GRADIENTS: (lambda i: _with_nan(i.gradient_norms), lambda i: i.gradient_norms[:, :2], "gradient norms"),
    RETRAIN: (lambda i: _nan_retrain, lambda i: _flat_retrain, "probabilities"),
    DETECTIONS: (lambda i: _nan_detections(i.detections), lambda i: [d[:, :1] for d in i.detections], "detections"),
}


def _nan_detections(detections):
    first = next(index for index, objects in enumerate(detections) if len(objects))
    spoiled = [objects.copy() for objects in detections]
    spoiled[first][0, 0] = np.nan
    return spoiled


def _with_nan(array):
    array = np.array(array, dtype=float)
    array.flat[7] = np.nan
    return array


CASES = [(key, name) for key in KEYS for name in sorted(required_inputs(key))]


@pytest.mark.parametrize(("key", "name"), CASES)
def test_nan_input_is_refused_with_a_message_naming_it(key, name):
    inputs = full_inputs()
    make_nan, _, words = BAD[name]
    with pytest.raises(StrategyInputError, match=words) as error:
        select(key, full_inputs(**{name: make_nan(inputs)}), 5)
    assert "NaN" in str(error.value)


@pytest.mark.parametrize(("key", "name"), CASES)
def test_wrongly_shaped_input_is_refused_with_a_message_naming_it(key, name):
    inputs = full_inputs()
    _, make_bad, words = BAD[name]
    with pytest.raises(StrategyInputError, match=words) as error:
        select(key, full_inputs(**{name: make_bad(inputs)}), 5)
    assert "expected" in str(error.value)


@pytest.mark.parametrize(("key", "name"), [case for case in CASES if case[1] != LABELED_EMBEDDINGS])
def test_a_missing_input_is_refused(key, name):
    with pytest.raises(StrategyInputError, match=f"needs `{name}`"):
        select(key, full_inputs(**{name: None}), 5)


def test_only_the_random_baseline_reads_no_input():
    assert [key for key in KEYS if key not in READING_KEYS] == ["random"]


@pytest.mark.parametrize("key", READING_KEYS)
def test_bad_input_is_refused_even_for_an_empty_batch(key):
    names = sorted(required_inputs(key))
    make_nan = BAD[names[0]][0]
    with pytest.raises(StrategyInputError):
        select(key, full_inputs(**{names[0]: make_nan(full_inputs())}), 0)


def test_the_committee_shape_message_says_what_arrived():
    with pytest.raises(StrategyInputError) as error:
        select("vote_entropy", full_inputs(n=4, committee_proba=np.full((3, 4), 0.5)), 1)
    assert str(error.value) == "expected committee probabilities of shape (members, items, classes), got (3, 4)"


@pytest.mark.parametrize("key", READING_KEYS)
def test_a_size_that_disagrees_with_the_pool_is_refused(key):
    with pytest.raises(StrategyInputError, match="pool items"):
        select(key, dataclasses.replace(full_inputs(n=40), n=41), 3)
