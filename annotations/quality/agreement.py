"""Agreement between annotators on classification labels.

Pure functions over plain mappings (annotator user id -> item id -> class key), so the
services, the simulator and the tests share one definition of each statistic. Every
statistic that is undefined on its input (too few shared items, every rating the same
class) is None, never NaN: NaN poisons averages and does not survive JSON.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

import numpy as np

AnnotatorId = int
ItemId = int
Ratings = Mapping[AnnotatorId, Mapping[ItemId, str]]


class PairKappa(NamedTuple):
    """Cohen's kappa of two annotators on the items both rated."""

    a: AnnotatorId
    b: AnnotatorId
    kappa: float | None
    n_items: int
    observed_agreement: float | None


def pairwise_kappa(
    ratings: Ratings, labels: Sequence[str] | None = None, min_items: int = 2
) -> list[PairKappa]:
    """Cohen's kappa for every pair of annotators (ordered by user id), on the items both
    rated. kappa is None below `min_items` shared items or when both annotators gave one
    and the same class throughout (chance agreement is then 1: kappa is undefined)."""
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, got {min_items}")
    if labels is not None:
        _check_labels((label for answers in ratings.values() for label in answers.values()), labels)
    pairs = []
    for a, b in combinations(sorted(ratings), 2):
        shared = [item for item in ratings[a] if item in ratings[b]]
        y_a = [ratings[a][item] for item in shared]
        y_b = [ratings[b][item] for item in shared]
        observed = _share_equal(y_a, y_b) if shared else None
        kappa = cohen_kappa(y_a, y_b, labels) if len(shared) >= min_items else None
        pairs.append(PairKappa(a, b, kappa, len(shared), observed))
    return pairs


def cohen_kappa(y_a: Sequence[str], y_b: Sequence[str], labels: Sequence[str] | None = None) -> float | None:
    """scikit-learn's Cohen's kappa, None where it is undefined (no ratings, or both
    raters constant on the same class)."""
    if len(y_a) != len(y_b):
        raise ValueError(f"the two rating lists differ in length ({len(y_a)} and {len(y_b)}); pair them item by item")
    if len(set(y_a) | set(y_b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return _finite(cohen_kappa_score(y_a, y_b, labels=None if labels is None else list(labels)))


def fleiss_kappa(item_labels: Sequence[Sequence[str]], categories: Sequence[str]) -> float | None:
    """Fleiss' kappa of many raters (statsmodels) over items labelled by several people.

    Fleiss' formula needs the same number of ratings on every item: only the items with
    the most common number of ratings (at least 2; on a tie, the larger number) count, the
    rest are left out. None when no item qualifies or every counted rating is one class.
    """
    codes = _fleiss_rows(item_labels, categories)
    if codes is None or len(np.unique(codes)) < 2:
        return None
    return _fleiss(codes, len(categories))


def fleiss_kappa_per_class(
    item_labels: Sequence[Sequence[str]], categories: Sequence[str]
) -> dict[str, float | None]:
    """Fleiss' kappa of each category against all the others (a two-column table per
    category: Fleiss' 1971 category kappa), on the same items as fleiss_kappa. None for a
    category that no counted rating used or that every counted rating used."""
    codes = _fleiss_rows(item_labels, categories)
    result: dict[str, float | None] = {}
    for index, category in enumerate(categories):
        if codes is None:
            result[category] = None
            continue
        binary = (codes == index).astype(int)
        result[category] = _fleiss(binary, 2) if 0 < binary.sum() < binary.size else None
    return result


def krippendorff_alpha(ratings: Ratings, categories: Sequence[str]) -> float | None:
    """Krippendorff's alpha, nominal level (the `krippendorff` package), which allows each
    annotator to label a different subset of the items: missing ratings are NaN. None when
    no item has two ratings or every paired rating is the same class."""
    index = _category_index(categories)
    _check_labels((label for answers in ratings.values() for label in answers.values()), categories)
    items = list(dict.fromkeys(item for answers in ratings.values() for item in answers))
    column = {item: position for position, item in enumerate(items)}
    data = np.full((len(ratings), len(items)), np.nan)
    for row, answers in enumerate(ratings.values()):
        for item, label in answers.items():
            data[row, column[item]] = index[label]
    paired = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    if len(np.unique(paired[~np.isnan(paired)])) < 2:
        return None
    import krippendorff

    alpha = krippendorff.alpha(
        reliability_data=data, value_domain=list(range(len(categories))), level_of_measurement="nominal"
    )
    return _finite(alpha)


def item_agreement(labels: Sequence[str]) -> float:
    """Share of an item's ratings that agree with its most common label: 1.0 when
    unanimous, 1/n when n ratings all differ. Sorting by it puts the most disputed items
    first."""
    if not labels:
        raise ValueError("item_agreement needs at least one rating")
    return Counter(labels).most_common(1)[0][1] / len(labels)


def accuracy_and_kappa(
    answers: Sequence[str], truth: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[float, float | None]:
    """An annotator's answers on gold items against the known truth: accuracy, and Cohen's
    kappa (agreement beyond chance, so a constant answer on a skewed gold set does not
    look good); kappa is None where undefined."""
    if len(answers) != len(truth):
        raise ValueError(
            f"answers and truth differ in length ({len(answers)} and {len(truth)}); give one answer per gold item"
        )
    if not answers:
        raise ValueError("accuracy_and_kappa needs at least one gold answer")
    if labels is not None:
        _check_labels([*answers, *truth], labels)
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(truth, answers)), cohen_kappa(truth, answers, labels)


def _fleiss_rows(item_labels: Sequence[Sequence[str]], categories: Sequence[str]) -> np.ndarray | None:
    """The counted items as an (items, raters) array of category indexes."""
    index = _category_index(categories)
    _check_labels((label for labels in item_labels for label in labels), categories)
    sizes = Counter(len(labels) for labels in item_labels if len(labels) >= 2)
    if not sizes:
        return None
    raters = max(sizes, key=lambda size: (sizes[size], size))
    return np.array([[index[label] for label in labels] for labels in item_labels if len(labels) == raters])


def _fleiss(codes: np.ndarray, n_categories: int) -> float | None:
    from statsmodels.stats import inter_rater

    table, _ = inter_rater.aggregate_raters(codes, n_cat=n_categories)
    return _finite(inter_rater.fleiss_kappa(table, method="fleiss"))


def _category_index(categories: Sequence[str]) -> dict[str, int]:
    if isinstance(categories, str) or not categories:
        raise ValueError("categories must be a non-empty list of class keys")
    if len(set(categories)) != len(categories):
        repeated = sorted(key for key, count in Counter(categories).items() if count > 1)
        raise ValueError(f"categories must be unique; repeated: {', '.join(map(str, repeated))}")
    return {category: position for position, category in enumerate(categories)}


def _check_labels(labels: Iterable[str], known: Sequence[str]) -> None:
    allowed = set(known)
    unknown = sorted({str(label) for label in labels if label not in allowed})
    if unknown:
        raise ValueError(
            f"unknown label(s) {', '.join(unknown)}; expected one of {', '.join(map(str, known))}"
        )


def _share_equal(y_a: Sequence[str], y_b: Sequence[str]) -> float:
    return sum(x == y for x, y in zip(y_a, y_b, strict=True)) / len(y_a)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
