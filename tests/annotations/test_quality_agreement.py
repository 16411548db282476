"""Agreement statistics (annotations/quality/agreement.py, regions.py) on tables worked out
by hand or published with the method: Fleiss (1971), the Fleiss' kappa example of
Wikipedia, Krippendorff (2011)."""
import math

import numpy as np
import pytest
from statsmodels.stats import inter_rater

from annotations.formats.regions import Region
from annotations.geometry import mask_to_rle
from annotations.quality.agreement import (
    PairKappa,
    accuracy_and_kappa,
    fleiss_kappa,
    fleiss_kappa_per_class,
    item_agreement,
    krippendorff_alpha,
    pairwise_kappa,
)
from annotations.quality.regions import pairwise_region_agreement, region_agreement

# Fleiss (1971), table 1: 30 patients, 6 psychiatrists each, 5 diagnoses
# (1 depression, 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other).
FLEISS_1971 = """
444444 222555 233335 555555 222444 113333 333355 113334 114444 555555
144444 124444 222333 144444 224445 333335 111455 111112 224444 133555
555555 244444 224555 114444 144445 222224 111155 224444 133333 555555
""".split()

# Wikipedia's Fleiss' kappa example: 10 items, 14 raters, counts per category a..e.
WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers,
# 12 units, nominal values 1..5, "." where an observer gave no value. Nominal alpha 0.743.
KRIPPENDORFF_2011 = {
    "A": "1 2 3 3 2 1 4 1 2 . . .",
    "B": "1 2 3 3 2 2 4 1 2 5 . 3",
    "C": ". 3 3 3 2 3 4 2 2 5 1 .",
    "D": "1 2 3 3 2 4 4 1 2 5 1 .",
}


def box(label, x, y, w, h):
    return Region(label=label, kind="box", box=(x, y, w, h))


def expand(counts, categories):
    return [[category for category, n in zip(categories, row) for _ in range(n)] for row in counts]


# --- Cohen's kappa between pairs ---------------------------------------------------------


def test_pairwise_kappa_scores_each_pair_on_the_items_both_rated():
    ratings = {
        2: {10: "pos", 11: "neg", 12: "pos", 13: "neg", 14: "pos", 15: "neg"},
        1: {10: "pos", 11: "neg", 12: "pos", 13: "pos", 14: "pos"},
        3: {12: "pos"},
    }
    pairs = pairwise_kappa(ratings)
    assert [(p.a, p.b, p.n_items) for p in pairs] == [(1, 2, 5), (1, 3, 1), (2, 3, 1)]
    # Items 10..14: 4 of 5 agree. Annotator 1 says pos 4/5, annotator 2 pos 3/5, so chance
    # agreement is 0.8 * 0.6 + 0.2 * 0.4 = 0.56 and kappa (0.8 - 0.56) / 0.44 = 6/11.
    assert pairs[0].observed_agreement == pytest.approx(0.8)
    assert pairs[0].kappa == pytest.approx(6 / 11)
    # One shared item is below min_items=2: agreement is reported, kappa is not.
    assert pairs[1] == PairKappa(1, 3, None, 1, 1.0)


def test_pairwise_kappa_is_none_not_nan_when_undefined():
    same_constant = pairwise_kappa({1: {1: "a", 2: "a"}, 2: {1: "a", 2: "a"}}, labels=["a", "b"])
    assert same_constant == [PairKappa(1, 2, None, 2, 1.0)]
    disjoint = pairwise_kappa({1: {1: "a"}, 2: {2: "a"}})
    assert disjoint == [PairKappa(1, 2, None, 0, None)]
    # Constant on different labels is defined: no agreement, no chance agreement, kappa 0.
    assert pairwise_kappa({1: {1: "a", 2: "a"}, 2: {1: "b", 2: "b"}})[0].kappa == 0.0


def test_pairwise_kappa_refuses_bad_input():
    with pytest.raises(ValueError, match="unknown label.* c; expected one of a, b"):
        pairwise_kappa({1: {1: "a"}, 2: {1: "c"}}, labels=["a", "b"])
    with pytest.raises(ValueError, match="min_items must be at least 1"):
        pairwise_kappa({1: {1: "a"}}, min_items=0)


# --- Fleiss' kappa -----------------------------------------------------------------------


def test_fleiss_kappa_matches_the_wikipedia_example_and_statsmodels():
    categories = list("abcde")
    kappa = fleiss_kappa(expand(WIKIPEDIA_COUNTS, categories), categories)
    assert kappa == pytest.approx(0.210, abs=5e-4)
    assert kappa == pytest.approx(inter_rater.fleiss_kappa(np.array(WIKIPEDIA_COUNTS)))


def test_fleiss_kappa_and_category_kappas_match_fleiss_1971():
    items = [list(row) for row in FLEISS_1971]
    categories = ["1", "2", "3", "4", "5"]
    assert fleiss_kappa(items, categories) == pytest.approx(0.430, abs=5e-4)
    per_class = fleiss_kappa_per_class(items, categories)
    assert list(per_class) == categories
    published = {"1": 0.245, "2": 0.245, "3": 0.520, "4": 0.471, "5": 0.566}
    for category, value in published.items():
        assert per_class[category] == pytest.approx(value, abs=5e-4)


def test_fleiss_kappa_counts_only_items_with_the_most_common_number_of_ratings():
    # Three items with 3 ratings: P_i = 1, 1/3, 1 so P = 7/9; p_a = 5/9, p_b = 4/9 so
    # Pe = 41/81 and kappa = (7/9 - 41/81) / (40/81) = 0.55. The item with 2 ratings and
    # the one with a single rating are left out.
    items = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"], ["a", "b"], ["b"]]
    assert fleiss_kappa(items, ["a", "b"]) == pytest.approx(0.55)
    # On a tie between counts the larger wins: [a a a], [a a b] give P = 2/3,
    # Pe = 25/36 + 1/36, kappa = (24/36 - 26/36) / (10/36) = -0.2.
    tie = [["a", "a"], ["a", "b"], ["a", "a", "a"], ["a", "a", "b"]]
    assert fleiss_kappa(tie, ["a", "b"]) == pytest.approx(-0.2)


def test_per_class_fleiss_kappa_with_two_categories_equals_the_overall_kappa():
    items = [["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"]]
    assert fleiss_kappa_per_class(items, ["a", "b", "c"]) == {
        "a": pytest.approx(0.55),
        "b": pytest.approx(0.55),
        "c": None,
    }


def test_fleiss_kappa_is_none_when_undefined():
    assert fleiss_kappa([["a", "a"], ["a", "a"]], ["a", "b"]) is None
    assert fleiss_kappa([["a"], ["b"]], ["a", "b"]) is None
    assert fleiss_kappa([], ["a", "b"]) is None
    assert fleiss_kappa_per_class([["a"]], ["a", "b"]) == {"a": None, "b": None}


def test_fleiss_kappa_refuses_unknown_labels_and_bad_categories():
    with pytest.raises(ValueError, match="unknown label.* z; expected one of a, b"):
        fleiss_kappa([["a", "z"]], ["a", "b"])
    with pytest.raises(ValueError, match="categories must be unique; repeated: a"):
        fleiss_kappa([["a", "a"]], ["a", "a"])
    with pytest.raises(ValueError, match="categories must be a non-empty list"):
        fleiss_kappa_per_class([["a", "a"]], [])


# --- Krippendorff's alpha ----------------------------------------------------------------


def test_krippendorff_alpha_matches_krippendorff_2011_with_missing_values():
    ratings = {
        observer: {unit: value for unit, value in enumerate(row.split(), 1) if value != "."}
        for observer, row in KRIPPENDORFF_2011.items()
    }
    alpha = krippendorff_alpha(ratings, ["1", "2", "3", "4", "5"])
    assert alpha == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_by_hand_on_two_coders():
    # Units (a,a) (a,b) (b,b) (b,b): coincidences o_aa 2, o_ab = o_ba 1, o_bb 4; n_a 3,
    # n_b 5, n 8. D_o = 2/8, D_e = 2 * 3 * 5 / (8 * 7), alpha = 1 - D_o / D_e = 8/15.
    ratings = {1: {1: "a", 2: "a", 3: "b", 4: "b"}, 2: {1: "a", 2: "b", 3: "b", 4: "b"}}
    assert krippendorff_alpha(ratings, ["a", "b"]) == pytest.approx(8 / 15)


def test_krippendorff_alpha_is_none_when_undefined():
    assert krippendorff_alpha({1: {1: "a"}, 2: {2: "b"}}, ["a", "b"]) is None
    assert krippendorff_alpha({1: {1: "a", 2: "a"}, 2: {1: "a", 2: "a", 3: "b"}}, ["a", "b"]) is None
    assert krippendorff_alpha({1: {1: "a"}}, ["a", "b"]) is None
    with pytest.raises(ValueError, match="unknown label.* c"):
        krippendorff_alpha({1: {1: "a"}, 2: {1: "c"}}, ["a", "b"])


# --- per item and gold checks ------------------------------------------------------------


def test_item_agreement_is_the_share_of_the_most_common_label():
    assert item_agreement(["pos", "pos", "pos"]) == 1.0
    assert item_agreement(["pos", "neg", "pos"]) == pytest.approx(2 / 3)
    assert item_agreement(["a", "b", "c", "d"]) == 0.25
    with pytest.raises(ValueError, match="at least one rating"):
        item_agreement([])


def test_accuracy_and_kappa_on_the_gold_example():
    answers = ["positive", "negative", "positive", "positive", "positive"]
    truth = ["negative", "negative", "positive", "positive", "negative"]
    accuracy, kappa = accuracy_and_kappa(answers, truth)
    # 3 of 5 right; chance agreement 0.4 * 0.8 + 0.6 * 0.2 = 0.44, kappa 0.16 / 0.56 = 2/7.
    assert accuracy == pytest.approx(0.60)
    assert kappa == pytest.approx(2 / 7)
    assert round(kappa, 3) == 0.286


def test_accuracy_and_kappa_edge_cases():
    assert accuracy_and_kappa(["pos", "pos"], ["pos", "pos"]) == (1.0, None)
    with pytest.raises(ValueError, match=r"differ in length \(2 and 1\)"):
        accuracy_and_kappa(["pos", "neg"], ["pos"])
    with pytest.raises(ValueError, match="at least one gold answer"):
        accuracy_and_kappa([], [])
    with pytest.raises(ValueError, match="unknown label.* maybe"):
        accuracy_and_kappa(["maybe"], ["pos"], labels=["pos", "neg"])


# --- regions -----------------------------------------------------------------------------


def two_annotators():
    a = [box("car", 0.1, 0.1, 0.2, 0.2), box("person", 0.5, 0.5, 0.2, 0.2), box("dog", 0.8, 0.0, 0.1, 0.1)]
    b = [
        box("car", 0.12, 0.1, 0.2, 0.2),  # IoU 0.18 / 0.22 = 9/11 with a's car
        box("cat", 0.5, 0.5, 0.2, 0.2),  # the same shape as a's person, another label
        box("tree", 0.0, 0.8, 0.1, 0.1),
        box("tree", 0.3, 0.8, 0.1, 0.1),
    ]
    return a, b


def test_region_agreement_scores_where_and_what_apart():
    a, b = two_annotators()
    result = region_agreement(a, b)
    assert [(m.a, m.b) for m in result.matches] == [(0, 0), (1, 1)]
    assert result.mean_iou == pytest.approx((9 / 11 + 1) / 2)
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 * 2 / 7)
    assert result.class_agreement == 0.5
    # Matched labels (car, car), (person, cat): po 0.5, pe 0.5 * 0.5 = 0.25, kappa 1/3.
    assert result.kappa == pytest.approx(1 / 3)


def test_region_agreement_threshold_and_empty_sides():
    a, b = two_annotators()
    strict = region_agreement(a[:1], b[:1], iou_threshold=0.9)
    assert strict.matches == [] and strict.mean_iou is None and strict.f1 == 0.0
    both_empty = region_agreement([], [])
    assert (both_empty.precision, both_empty.recall, both_empty.f1) == (1.0, 1.0, 1.0)
    assert both_empty.mean_iou is None and both_empty.class_agreement is None and both_empty.kappa is None
    only_b = region_agreement([], b[:1])
    assert (only_b.precision, only_b.recall, only_b.f1) == (0.0, 1.0, 0.0)
    one_match = region_agreement(a[:1], b[:1])
    assert one_match.class_agreement == 1.0 and one_match.kappa is None


def test_region_agreement_compares_a_mask_and_a_box_on_pixels():
    grid = np.zeros((10, 10), dtype=np.uint8)
    grid[0:5, 0:5] = 1
    mask = Region("cell", "mask", (0.0, 0.0, 0.5, 0.5), rle=mask_to_rle(grid))
    result = region_agreement([mask], [box("cell", 0.0, 0.0, 0.5, 0.5)], width=10, height=10)
    assert result.mean_iou == pytest.approx(1.0)


def test_region_agreement_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="answer b region 1 has unknown kind 'circle'; use one of box, polygon, mask"):
        region_agreement([], [Region("x", "circle", (0, 0, 0.1, 0.1))])
    with pytest.raises(ValueError, match="is a mask without an RLE"):
        region_agreement([Region("x", "mask", (0, 0, 0.1, 0.1))], [])


def test_pairwise_region_agreement_pools_the_shared_items():
    a, b = two_annotators()
    per_annotator = {
        2: {100: b[:2], 101: [], 103: b[2:]},
        1: {100: a[:2], 101: a[2:], 102: [box("car", 0, 0, 0.5, 0.5)]},
        3: {200: [box("car", 0, 0, 0.5, 0.5)]},
    }
    first, *others = pairwise_region_agreement(per_annotator)
    assert (first.a, first.b, first.n_items, first.n_a, first.n_b, first.n_matches) == (1, 2, 2, 3, 2, 2)
    assert first.mean_iou == pytest.approx((9 / 11 + 1) / 2)
    assert (first.precision, first.recall) == (1.0, pytest.approx(2 / 3))
    assert first.f1 == pytest.approx(4 / 5)
    assert first.class_agreement == 0.5 and first.kappa == pytest.approx(1 / 3)
    assert [(p.a, p.b, p.n_items) for p in others] == [(1, 3, 0), (2, 3, 0)]
    assert all(p.precision is None and p.mean_iou is None and p.kappa is None for p in others)
    assert not any(isinstance(v, float) and math.isnan(v) for p in others for v in p)
