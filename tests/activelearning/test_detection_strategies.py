"""Detection and segmentation scorers, checked against numbers worked out by hand.
The registry-wide contract (shapes, NaN, k = 0, determinism) is in test_strategy_contract.py."""
import numpy as np
import pytest

from activelearning.strategies import (
    DETECTIONS,
    STRATEGIES,
    PoolInputs,
    StrategyInputError,
    detections_from_predictions,
    required_inputs,
)
from activelearning.strategies.detection import (
    binary_entropy,
    check_detections,
    count_weighted,
    detection_entropy,
    least_confident_object,
    mask_uncertainty,
    mean_confidence,
    predicted_classes,
)

# Columns: confidence, class id, mask quality. Image 2 has nothing; image 4 only an
# object below the default threshold of 0.05, which counts as nothing.
POOL = [
    np.array([[0.9, 0, 0.8], [0.6, 1, 0.5], [0.02, 2, 0.1]]),
    np.empty((0, 3)),
    np.array([[0.5, 2, 1.0]]),
    np.array([[0.04, 1, 0.3]]),
]
H09, H06 = 0.4689955935892812, 0.9709505944546686  # binary entropies of 0.9 and 0.6, in bits


def select(key, detections, k, seed=0, **params):
    inputs = PoolInputs(n=len(detections), detections=detections)
    return STRATEGIES[key].select(inputs, k, rng=np.random.default_rng(seed), **params)


def test_least_confident_object_is_one_minus_the_lowest_kept_confidence():
    assert np.allclose(least_confident_object(POOL), [0.4, 1.0, 0.5, 1.0])
    assert np.allclose(least_confident_object(POOL, empty="least"), [0.4, 0.0, 0.5, 0.0])
    # Without a threshold the near-zero boxes count: image 1 becomes the most doubtful.
    assert np.allclose(least_confident_object(POOL, min_confidence=0.0), [0.98, 1.0, 0.5, 0.96])


def test_mean_confidence_is_one_minus_the_mean():
    assert np.allclose(mean_confidence(POOL), [0.25, 1.0, 0.5, 1.0])
    assert np.allclose(mean_confidence(POOL, empty="least"), [0.25, 0.0, 0.5, 0.0])


def test_binary_entropy_is_one_bit_at_a_half_and_zero_at_the_ends():
    assert np.allclose(binary_entropy([0.0, 0.5, 1.0, 0.9, 0.6]), [0.0, 1.0, 0.0, H09, H06])


def test_entropy_averages_or_sums_the_objects_binary_entropies():
    assert np.allclose(detection_entropy(POOL), [(H09 + H06) / 2, 1.0, 1.0, 1.0])
    summed = H09 + H06
    # "most" for a sum is the pool's highest score, so empty images still rank first.
    assert np.allclose(detection_entropy(POOL, aggregate="sum"), [summed, summed, 1.0, summed])
    assert np.allclose(detection_entropy(POOL, aggregate="sum", empty="least"), [summed, 0.0, 1.0, 0.0])


def test_count_weighted_sums_the_doubt_of_every_object():
    assert np.allclose(count_weighted(POOL), [0.1 + 0.4, 1.0, 0.5, 1.0])
    crowded = [np.array([[0.7, 0], [0.7, 0], [0.7, 0], [0.7, 0]]), np.array([[0.2, 0]]), np.empty((0, 2))]
    assert np.allclose(count_weighted(crowded), [1.2, 0.8, 1.2])


def test_mask_quality_is_one_minus_the_mean_quality_of_the_kept_objects():
    assert np.allclose(mask_uncertainty(POOL), [1 - (0.8 + 0.5) / 2, 1.0, 0.0, 1.0])
    assert np.allclose(mask_uncertainty(POOL, empty="least"), [0.35, 0.0, 0.0, 0.0])


def test_mask_quality_needs_the_third_column():
    with pytest.raises(StrategyInputError, match="mask quality"):
        mask_uncertainty([np.array([[0.9, 0]])])
    # Nothing detected anywhere: nothing to measure, every image is empty.
    assert np.allclose(mask_uncertainty([np.empty((0, 2)), []]), [1.0, 1.0])


def test_an_image_class_is_the_class_of_its_most_confident_object():
    classes, found = predicted_classes(POOL)
    assert found.tolist() == [True, False, True, False]
    assert classes[found].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("key", "expected_first"),
    [("det_least_confident", {1, 3}), ("det_mean_confidence", {1, 3}), ("det_entropy", {1, 2, 3}),
     ("det_count_weighted", {1, 3}), ("seg_mask_quality", {1, 3})],
)
def test_registered_scorers_rank_empty_images_first_by_default(key, expected_first):
    selection = select(key, POOL, 4)
    assert set(selection.indices[: len(expected_first)].tolist()) == expected_first
    assert selection.details["empty_images"] == 2
    assert STRATEGIES[key].family == "detection" and required_inputs(key) == {DETECTIONS}


def test_empty_least_ranks_images_without_objects_last():
    selection = select("det_least_confident", POOL, 4, empty="least")
    assert selection.indices[:2].tolist() == [2, 0]
    assert np.allclose(selection.scores, [0.5, 0.4, 0.0, 0.0])


def test_bad_parameters_are_refused():
    with pytest.raises(StrategyInputError, match="empty"):
        select("det_entropy", POOL, 2, empty="sometimes")
    with pytest.raises(StrategyInputError, match="aggregate"):
        select("det_entropy", POOL, 2, aggregate="max")
    with pytest.raises(StrategyInputError, match="min_confidence"):
        select("det_mean_confidence", POOL, 2, min_confidence=1.0)
    with pytest.raises(StrategyInputError, match="min_confidence"):
        select("det_mean_confidence", POOL, 2, min_confidence=-0.1)


@pytest.mark.parametrize(
    ("detections", "words"),
    [
        ([np.array([0.9, 1, 0.5])], "shape"),
        ([np.array([[0.9, 1, 0.5, 0.1]])], "shape"),
        ([np.array([[1.2, 1]])], "confidences must lie in"),
        ([np.array([[0.9, 1, 1.5]])], "mask qualities must lie in"),
        ([np.array([[0.9, 1.5]])], "whole numbers"),
        ([np.array([[np.inf, 1]])], "NaN"),
        ([["high", 1]], "numeric"),
        ("0.9 1", "list"),
    ],
)
def test_malformed_detections_are_refused(detections, words):
    with pytest.raises(StrategyInputError, match=words):
        check_detections(detections)


def test_the_message_names_the_first_bad_item():
    with pytest.raises(StrategyInputError, match=r"confidences must lie in \[0, 1\] \(item 2\)"):
        check_detections([np.array([[0.5, 1]]), [], np.array([[0.5, 1, 0.2], [2.0, 1, 0.2]])])
    with pytest.raises(StrategyInputError, match=r"NaN or infinity \(item 1\)"):
        check_detections([np.array([[0.5, 1, 0.3]]), np.array([[0.5, 1, np.nan]])])


def test_empty_lists_and_arrays_are_images_without_objects():
    checked = check_detections([[], np.empty((0, 3)), np.array([[0.5, 1]])], n=3)
    assert [a.shape for a in checked] == [(0, 2), (0, 3), (1, 2)]


def test_detections_from_predictions_reads_the_learner_output():
    predictions = [
        [{"label": 1, "confidence": 0.8, "box": [0, 0, 0.5, 0.5]}, {"label": 0, "confidence": 0.3, "box": [0.5, 0.5, 0.1, 0.1]}],
        [],
        [{"label": 2, "confidence": 0.6, "box": [0, 0, 1, 1], "polygons": [[0, 0, 1, 0, 1, 1]], "mask_quality": 0.7}],
    ]
    arrays = detections_from_predictions(predictions)
    assert arrays[0].tolist() == [[0.8, 1.0], [0.3, 0.0]]
    assert arrays[1].shape == (0, 2)
    assert arrays[2].tolist() == [[0.6, 2.0, 0.7]]
    assert np.allclose(least_confident_object(arrays), [0.7, 1.0, 0.4])


def _balanced_pool():
    # Top classes: 0, 1, 1, 2, none, 1. Least confident object scores: .1 .3 .25 .9 1 .05
    return [
        np.array([[0.9, 0]]), np.array([[0.7, 1]]), np.array([[0.8, 1], [0.75, 0]]),
        np.array([[0.1, 0], [0.3, 2]]), np.empty((0, 2)), np.array([[0.95, 1]]),
    ]


def test_class_balanced_detection_groups_images_by_their_most_confident_object():
    pool = _balanced_pool()
    inputs = PoolInputs(n=6, detections=pool, classes=np.array([0, 1, 2]), target_ratios={1: 1.0})
    selection = STRATEGIES["det_class_balanced"].select(inputs, 2, rng=np.random.default_rng(0))
    # Only class-1 images, best by least confidence: image 1 (0.3) then image 2 (0.25).
    assert selection.indices.tolist() == [1, 2]
    assert np.allclose(selection.scores, [0.3, 0.25])
    by_class = {row["class"]: row for row in selection.details["per_class"]}
    assert by_class[1] == {"class": 1, "target": 2, "achieved": 2, "shortfall": 0}
    assert by_class["(no object)"]["target"] == 0


def test_class_balanced_detection_fills_a_shortfall_with_the_best_remaining_images():
    inputs = PoolInputs(n=6, detections=_balanced_pool(), classes=np.array([0, 1, 2]))
    selection = STRATEGIES["det_class_balanced"].select(inputs, 4, rng=np.random.default_rng(0),
                                                        target_ratios={2: 0.5, 0: 0.5})
    # Class 2 has one image (3) and class 0 one (0); the shortfall of 2 goes to the best rest:
    # the empty image 4 (score 1.0) and image 1 (0.3).
    assert sorted(selection.indices.tolist()) == [0, 1, 3, 4]
    assert selection.details["filled"] == 2


def test_class_balanced_detection_defaults_to_the_detected_classes_and_refuses_strangers():
    inputs = PoolInputs(n=6, detections=_balanced_pool())
    selection = STRATEGIES["det_class_balanced"].select(inputs, 3, rng=np.random.default_rng(0))
    assert [row["class"] for row in selection.details["per_class"]] == [0, 1, 2, "(no object)"]
    with pytest.raises(StrategyInputError, match="not among the classes"):
        STRATEGIES["det_class_balanced"].select(
            PoolInputs(n=6, detections=_balanced_pool(), classes=np.array([0, 1])), 3, rng=np.random.default_rng(0))
    with pytest.raises(StrategyInputError, match="base"):
        STRATEGIES["det_class_balanced"].select(inputs, 3, rng=np.random.default_rng(0), base="margin")


def test_detection_scores_combine_with_density_weighting_and_the_classic_class_balance():
    rng = np.random.default_rng(3)
    pool = [np.array([[c, 0]]) for c in rng.random(20)]
    embeddings = rng.normal(size=(20, 4))
    proba = rng.dirichlet(np.ones(2), size=20)
    inputs = PoolInputs(n=20, detections=pool, embeddings=embeddings, proba=proba)
    weighted = STRATEGIES["det_entropy"].select(inputs, 5, rng=np.random.default_rng(0), density="similarity")
    assert "density" in weighted.details and len(weighted.indices) == 5
    assert required_inputs("det_entropy", {"density": "similarity"}) == {DETECTIONS, "embeddings"}
    balanced = STRATEGIES["class_balanced"].select(inputs, 4, rng=np.random.default_rng(0), base="det_entropy")
    assert len(balanced.indices) == 4 and balanced.details["base"] == "det_entropy"
