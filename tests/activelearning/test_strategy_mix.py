"""Mixed batches: fractions from several strategies, without duplicates."""
import dataclasses

import numpy as np
import pytest

from activelearning.strategies import (
    EMBEDDINGS,
    LABELED_EMBEDDINGS,
    PROBA,
    STRATEGIES,
    MixPart,
    PoolInputs,
    StrategyInputError,
    make_mix,
    parse_mix,
    required_inputs,
)
from activelearning.strategies.uncertainty import entropy, margin


def _inputs(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return PoolInputs(n=n, proba=rng.dirichlet(np.ones(3), size=n), embeddings=rng.normal(size=(n, 4)),
                      labeled_embeddings=rng.normal(size=(3, 4)))


def test_parse_the_string_form():
    assert parse_mix("margin:0.7, coreset:0.2,random:0.1") == (
        MixPart("margin", 0.7), MixPart("coreset", 0.2), MixPart("random", 0.1)
    )


def test_parse_the_list_form_with_params():
    parts = parse_mix([{"strategy": "margin", "fraction": 0.5, "params": {"density": "knn"}},
                       {"strategy": "random", "fraction": 0.5}])
    assert parts[0].params == {"density": "knn"} and parts[1] == MixPart("random", 0.5)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("margin:0.7,random:0.2", "must sum to 1, got 0.7 \\+ 0.2 = 0.9"),
        ("margin:0.7,nope:0.3", "unknown strategy 'nope'"),
        ("margin", "must look like strategy:fraction"),
        ("margin:lots,random:1", "must be a number"),
        ("margin:1.5,random:-0.5", "must lie in \\[0, 1\\]"),
        ("mix:1", "cannot contain another mix"),
        ("", "at least one part"),
        ([{"strategy": "margin"}], "a `strategy` and a `fraction`"),
        (42, "a string like"),
    ],
)
def test_bad_mixes_are_refused_clearly(spec, words):
    with pytest.raises(StrategyInputError, match=words):
        parse_mix(spec)


def test_fractions_within_a_millionth_of_one_are_accepted():
    assert len(parse_mix("margin:0.3333333,entropy:0.3333333,random:0.3333334")) == 3


def test_counts_by_largest_remainder_and_the_part_of_each_item():
    selection = STRATEGIES["mix"].select(_inputs(), 7, rng=np.random.default_rng(0))
    counts = {part["strategy"]: part["count"] for part in selection.details["parts"]}
    assert counts == {"margin": 5, "coreset": 1, "random": 1}
    assert sorted(selection.details["part_of"]) == ["coreset"] + ["margin"] * 5 + ["random"]


def test_parts_choose_from_what_is_left():
    inputs = _inputs()
    selection = make_mix("margin:0.5,entropy:0.5").select(inputs, 10, rng=np.random.default_rng(0))
    assert len(set(selection.indices.tolist())) == 10
    by_part = np.array(selection.details["part_of"])
    margin_part = selection.indices[by_part == "margin"]
    assert set(margin_part.tolist()) == set(np.argsort(-margin(inputs.proba))[:5].tolist())
    rest = np.setdiff1d(np.arange(50), margin_part)
    best_entropy = rest[np.argsort(-entropy(inputs.proba[rest]))[:5]]
    assert set(selection.indices[by_part == "entropy"].tolist()) == set(best_entropy.tolist())


def test_parts_are_interleaved_so_every_prefix_is_mixed():
    selection = make_mix("margin:0.5,random:0.5").select(_inputs(), 6, rng=np.random.default_rng(0))
    assert selection.details["part_of"] == ["margin", "random"] * 3


def test_make_mix_needs_the_union_of_its_parts():
    strategy = make_mix("margin:0.5,coreset:0.5")
    assert strategy.needs == {PROBA, EMBEDDINGS, LABELED_EMBEDDINGS} and strategy.family == "mix"
    assert make_mix("random:1").needs == frozenset()
    assert make_mix([{"strategy": "margin", "fraction": 1, "params": {"density": "kde"}}]).needs == {PROBA, EMBEDDINGS}


def test_the_registered_mix_reads_its_parts_from_params():
    assert required_inputs("mix", {"parts": "margin:0.5,random:0.5"}) == {PROBA}
    assert required_inputs("mix") == {PROBA, EMBEDDINGS, LABELED_EMBEDDINGS}
    inputs = PoolInputs(n=10, proba=np.random.default_rng(0).dirichlet(np.ones(2), size=10))
    selection = STRATEGIES["mix"].select(inputs, 4, rng=np.random.default_rng(0), parts="margin:0.5,random:0.5")
    assert len(set(selection.indices.tolist())) == 4


def test_part_params_reach_the_part():
    parts = [{"strategy": "margin", "fraction": 1.0, "params": {"density": "similarity"}}]
    selection = make_mix(parts).select(_inputs(), 3, rng=np.random.default_rng(0))
    assert selection.details["parts"][0]["details"]["density"]["measure"] == "similarity"


def test_earlier_picks_count_as_labeled_for_a_core_set_part():
    # Two identical far-away items: the margin part takes one; the core-set part must not
    # take its twin, which is now covered.
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    x = np.array([[10.0, 0.0], [10.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    inputs = PoolInputs(n=4, proba=proba, embeddings=x, labeled_embeddings=np.array([[0.0, 0.0]]))
    selection = make_mix("margin:0.5,coreset:0.5").select(inputs, 2, rng=np.random.default_rng(0))
    assert selection.indices.tolist() == [0, 2]


def test_a_mix_can_draw_on_a_detection_strategy():
    import numpy as np

    from activelearning.strategies import STRATEGIES, PoolInputs

    rng = np.random.default_rng(0)
    detections = [np.array([[0.9 - 0.1 * (i % 5), 0]]) for i in range(12)]
    inputs = PoolInputs(n=12, detections=detections)
    chosen = STRATEGIES["mix"].select(inputs, 6, rng=rng, parts="det_least_confident:0.5,random:0.5")
    assert len(set(chosen.indices.tolist())) == 6


@pytest.mark.parametrize("spec", ["margin:0.5,coreset:0.5", "coreset:0.5,margin:0.5", "margin:0.4,random:0.2,coreset:0.4"])
def test_precomputed_labeled_distances_give_the_same_mix(spec):
    from activelearning.strategies.diversity import min_sq_distances

    inputs = _inputs(n=60, seed=3)
    with_distances = PoolInputs(
        n=60, proba=inputs.proba, embeddings=inputs.embeddings, labeled_embeddings=inputs.labeled_embeddings,
        labeled_sq_distances=min_sq_distances(inputs.embeddings, inputs.labeled_embeddings),
    )
    expected = make_mix(spec).select(inputs, 10, rng=np.random.default_rng(0))
    selection = make_mix(spec).select(with_distances, 10, rng=np.random.default_rng(0))
    assert selection.indices.tolist() == expected.indices.tolist()
    assert selection.scores == pytest.approx(expected.scores)


def test_each_part_gets_only_what_it_reads_and_nothing_is_copied_before_the_first_pick(monkeypatch):
    seen = {}

    def spy(key):
        real = STRATEGIES[key]

        def select_fn(inputs, k, *, rng, **params):
            seen[key] = inputs
            return real.select_fn(inputs, k, rng=rng, **params)

        monkeypatch.setitem(STRATEGIES, key, dataclasses.replace(real, select_fn=select_fn))

    spy("margin")
    spy("coreset")
    spy("random")
    inputs = _inputs()
    make_mix("margin:0.5,coreset:0.3,random:0.2").select(inputs, 10, rng=np.random.default_rng(0))
    assert seen["margin"].proba is inputs.proba and seen["margin"].embeddings is None
    assert seen["coreset"].proba is None and seen["coreset"].n == 45
    assert seen["coreset"].embeddings.shape == (45, 4) and seen["coreset"].labeled_embeddings.shape == (8, 4)
    assert seen["random"].proba is None and seen["random"].embeddings is None and seen["random"].n == 42
