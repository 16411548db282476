"""Uncertainty for object detection and instance segmentation, over the objects a
detector found in each image; higher = more informative. Pure numpy.

The input (`PoolInputs.detections`) is one array per pool image, shape (objects, 2) or
(objects, 3): column 0 the object's confidence in [0, 1], column 1 its class id, column
2 (segmentation) its mask quality in [0, 1]. `detections_from_predictions` builds it
from `YoloLearner.predict` output.

Every scorer first drops objects below `min_confidence` (default 0.05): a detector run
with a low `conf` returns many near-zero boxes that are background, and counting them
would make every image look uncertain (the usual recipe: least confidence over the
objects kept above a low threshold). An image left with no object gets the `empty`
score: "most" ranks it with the most informative images (the model sees nothing: a
miss or a true negative, worth a look), "least" ranks it last. "most" is 1.0 for the
scores bounded by 1 and, for the sums, the highest score in the pool (at least 1.0).

Mask quality (segmentation): the mean of |2p - 1| over the pixels of the object's box,
where p is the predicted mask probability of the pixel (activelearning/learners/yolo.py
computes it before ultralytics thresholds the mask). It is 1 when every pixel is
confidently inside or outside the mask and 0 when all sit at p = 0.5; the score is
1 - the mean quality of an image's objects.
"""
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .balance import class_balanced, resolve_ratios
from .base import DETECTIONS, EMBEDDINGS, PoolInputs, Selection
from .density import parse_density
from .scored import ScoredSelect, check_params, empty_selection, read_inputs
from .validation import StrategyInputError, check_choice, check_number

EMPTY = ("most", "least")
AGGREGATES = ("mean", "sum")
CONFIDENCE, CLASS, MASK_QUALITY = 0, 1, 2
DEFAULT_MIN_CONFIDENCE = 0.05


# -- the input ----------------------------------------------------------------------


class Detections(list):
    """A validated detections list; `rows` (objects, 3) stacks every image's objects, with
    NaN mask quality where an image's array had two columns, and `owner[j]` is the image
    of row j. The scorers take it as it is instead of checking the input again."""

    rows: np.ndarray
    owner: np.ndarray


def _as_objects(objects: Any, position: int) -> np.ndarray:
    if isinstance(objects, np.ndarray) and objects.dtype == np.float64 and objects.ndim == 2 \
            and objects.shape[1] in (2, 3):
        return objects
    try:
        array = np.asarray(objects, dtype=float)
    except (TypeError, ValueError) as error:
        raise StrategyInputError(f"detections must be numeric arrays (item {position}): {error}") from None
    if array.size == 0:
        array = array.reshape(0, array.shape[1] if array.ndim == 2 else 2)
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise StrategyInputError(
            f"expected detections of shape (objects, 2 or 3) per item [confidence, class, mask quality], "
            f"got {tuple(array.shape)} for item {position}"
        )
    return array


def check_detections(detections: Any, n: int | None = None) -> Detections:
    """One float array (objects, 2 or 3) per image, validated; an empty list entry or
    (0, c) array is an image without objects."""
    if isinstance(detections, Detections) and (n is None or len(detections) == n):
        return detections
    if detections is None or isinstance(detections, (str, bytes, Mapping)) or not hasattr(detections, "__len__"):
        raise StrategyInputError(
            f"expected detections as a list with one (objects, 2 or 3) array per pool item, got {type(detections).__name__}"
        )
    if n is not None and len(detections) != n:
        raise StrategyInputError(f"expected detections for {n} pool items, got {len(detections)}")
    out = Detections(_as_objects(objects, position) for position, objects in enumerate(detections))
    # All values are checked at once on the stacked rows (a pool has ~1e5 images and 1e6 objects).
    counts = np.fromiter(map(len, out), dtype=np.intp, count=len(out))
    with_quality = np.fromiter((objects.shape[1] == 3 for objects in out), dtype=bool, count=len(out))
    parts = [objects if objects.shape[1] == 3 else np.column_stack([objects, np.full(len(objects), np.nan)])
             for objects in out if len(objects)]
    rows = np.concatenate(parts) if parts else np.empty((0, 3))
    owner = np.repeat(np.arange(len(out)), counts)
    quality_given = with_quality[owner]

    def refuse(bad: np.ndarray, message: str) -> None:
        if bad.any():
            raise StrategyInputError(f"{message} (item {owner[np.argmax(bad)]})")

    refuse(~np.isfinite(rows[:, :2]).all(axis=1) | (quality_given & ~np.isfinite(rows[:, MASK_QUALITY])),
           "detections contain NaN or infinity")
    refuse((rows[:, CONFIDENCE] < 0) | (rows[:, CONFIDENCE] > 1 + 1e-9), "detection confidences must lie in [0, 1]")
    with np.errstate(invalid="ignore"):
        quality_bad = quality_given & ((rows[:, MASK_QUALITY] < 0) | (rows[:, MASK_QUALITY] > 1 + 1e-9))
    refuse(quality_bad, "detection mask qualities must lie in [0, 1]")
    refuse(rows[:, CLASS] != np.round(rows[:, CLASS]), "detection class ids must be whole numbers")
    out.rows, out.owner = rows, owner
    return out


def detections_from_predictions(predictions: Iterable[Sequence[Mapping[str, Any]]]) -> list[np.ndarray]:
    """`PoolInputs.detections` from `YoloLearner.predict` output: per image, its objects'
    [confidence, label] and, when every object has one, mask_quality."""
    out = []
    for objects in predictions:
        with_quality = bool(objects) and all("mask_quality" in obj for obj in objects)
        rows = [[obj["confidence"], obj["label"], *([obj["mask_quality"]] if with_quality else [])] for obj in objects]
        out.append(np.asarray(rows, dtype=float).reshape(len(rows), 3 if with_quality else 2))
    return out


class _Flat:
    """The kept objects of all images in flat arrays: `owner[j]` is the image of object j."""

    def __init__(self, detections: Detections, min_confidence: float):
        self.n = len(detections)
        keep = detections.rows[:, CONFIDENCE] >= min_confidence
        self.rows, self.owner = detections.rows[keep], detections.owner[keep]
        self.confidence = self.rows[:, CONFIDENCE]
        self.count = np.bincount(self.owner, minlength=self.n)
        self.empty = self.count == 0

    def total(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.owner, weights=values, minlength=self.n)

    def mean(self, values: np.ndarray) -> np.ndarray:
        return self.total(values) / np.maximum(self.count, 1)

    def minimum(self, values: np.ndarray) -> np.ndarray:
        out = np.full(self.n, np.inf)
        np.minimum.at(out, self.owner, values)
        return out

    def finish(self, scores: np.ndarray, empty: str, bounded: bool) -> np.ndarray:
        """Scores with the `empty` rule applied to images without kept objects."""
        check_choice(empty, "empty", EMPTY)
        if empty == "least":
            fill = 0.0
        elif bounded or self.empty.all():
            fill = 1.0
        else:
            fill = max(1.0, float(scores[~self.empty].max()))
        return np.where(self.empty, fill, scores)


def _flat(detections: Sequence[np.ndarray], min_confidence: float) -> _Flat:
    threshold = check_number(min_confidence, "min_confidence", minimum=0.0)
    if threshold >= 1:
        raise StrategyInputError(f"`min_confidence` must be below 1, got {min_confidence!r}")
    return _Flat(check_detections(detections), threshold)


# -- the scorers --------------------------------------------------------------------


def least_confident_object(detections: Sequence[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                           empty: str = "most") -> np.ndarray:
    """1 - the lowest confidence among the image's objects: its most doubtful object."""
    flat = _flat(detections, min_confidence)
    return flat.finish(1.0 - flat.minimum(flat.confidence), empty, bounded=True)


def mean_confidence(detections: Sequence[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                    empty: str = "most") -> np.ndarray:
    """1 - the mean confidence of the image's objects."""
    flat = _flat(detections, min_confidence)
    return flat.finish(1.0 - flat.mean(flat.confidence), empty, bounded=True)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of "object or not" at confidence p: 1 at p = 0.5, 0 at 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p), 0.0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0.0)
    return 0.0 - terms


def detection_entropy(detections: Sequence[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                      empty: str = "most", aggregate: str = "mean") -> np.ndarray:
    """The binary entropies of the objects' confidences, averaged ("mean", in [0, 1]) or
    summed ("sum": images with many doubtful objects first)."""
    check_choice(aggregate, "aggregate", AGGREGATES)
    flat = _flat(detections, min_confidence)
    entropies = binary_entropy(flat.confidence)
    scores = flat.mean(entropies) if aggregate == "mean" else flat.total(entropies)
    return flat.finish(scores, empty, bounded=aggregate == "mean")


def count_weighted(detections: Sequence[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                   empty: str = "most") -> np.ndarray:
    """The sum of (1 - confidence) over the image's objects: doubt times object count,
    so a crowded image of middling objects outranks one doubtful object."""
    flat = _flat(detections, min_confidence)
    return flat.finish(flat.total(1.0 - flat.confidence), empty, bounded=False)


def mask_uncertainty(detections: Sequence[np.ndarray], *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                     empty: str = "most") -> np.ndarray:
    """1 - the mean mask quality of the image's objects (segmentation; see the module notes)."""
    flat = _flat(detections, min_confidence)
    quality = flat.rows[:, MASK_QUALITY]
    if np.isnan(quality).any():
        raise StrategyInputError("the mask-quality score needs detections with a third column, mask quality in [0, 1] "
                                 "(a segmentation model's output)")
    return flat.finish(1.0 - flat.mean(quality), empty, bounded=True)


def predicted_classes(detections: Sequence[np.ndarray], *,
                      min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """(class id of each image's most confident object, has-an-object mask); the class of
    an image without objects above `min_confidence` is 0 and its mask entry False."""
    flat = _flat(detections, min_confidence)
    best = np.zeros(flat.n)
    if len(flat.rows):
        # Sort by image, then confidence: the last row of each image is its most confident object.
        order = np.lexsort((flat.confidence, flat.owner))
        last = np.r_[flat.owner[order][1:] != flat.owner[order][:-1], True]
        best[flat.owner[order][last]] = flat.rows[order][last, CLASS]
    return best, ~flat.empty


# -- strategies ---------------------------------------------------------------------


class DetectionScoredSelect(ScoredSelect):
    """ScoredSelect over `detections` (a list, which `read_inputs` does not know): density
    weighting and both class-balanced strategies take these scores as any other. A mix
    cannot use them yet: mix._subset does not pass detections on to its parts."""

    def _prepare(self, inputs: PoolInputs, density: Any, params: Mapping[str, Any]):
        check_params(self.key, {**params, "density": density}, [*self.defaults, "density"])
        spec = parse_density(density)
        others = (self.base_needs - {DETECTIONS}) | ({EMBEDDINGS} if spec else frozenset())
        arrays = read_inputs(inputs, others)
        arrays[DETECTIONS] = check_detections(inputs.require(DETECTIONS), arrays["n"])
        return spec, arrays


def on_detections(scorer):
    """A ScoredSelect score function from a scorer over the detections; the details say
    how many images had no object above the threshold."""

    def score(arrays: dict, rng: np.random.Generator, **params: Any):
        detections = arrays[DETECTIONS]
        scores = scorer(detections, **params)
        empty = _flat(detections, params.get("min_confidence", DEFAULT_MIN_CONFIDENCE)).empty
        return scores, {"empty_images": int(empty.sum())}

    return score


def _registry():
    from . import STRATEGIES  # the registry imports this module

    return STRATEGIES


def _detection_base(base: Any) -> DetectionScoredSelect:
    strategy = _registry().get(base) if isinstance(base, str) else None
    if strategy is None or not isinstance(strategy.select_fn, DetectionScoredSelect):
        known = [key for key, s in _registry().items() if isinstance(s.select_fn, DetectionScoredSelect)]
        raise StrategyInputError(f"`base` must be a detection strategy ({', '.join(known)}), got {base!r}")
    return strategy.select_fn


def class_balanced_detections(inputs: PoolInputs, k: int, *, rng: np.random.Generator,
                              base: str = "det_least_confident", density: Any = None,
                              target_ratios: Mapping | None = None,
                              min_confidence: float = DEFAULT_MIN_CONFIDENCE, **params: Any) -> Selection:
    """Class-balanced batches for detection: an image's class is the class of its most
    confident object; images without objects form their own group, which no ratio asks
    for but which fills shortfalls. `classes` (the class ids) default to those detected."""
    check_params("det_class_balanced", params, [])
    scorer = _detection_base(base)
    n = read_inputs(inputs, set())["n"]
    detections = check_detections(inputs.require(DETECTIONS), n)
    inputs = dataclasses.replace(inputs, detections=detections)  # the base scorer need not check them again
    best, found = predicted_classes(detections, min_confidence=min_confidence)
    if inputs.classes is not None:
        classes = np.asarray(inputs.classes)
        if classes.ndim != 1:
            raise StrategyInputError(f"expected classes as one id per class, got shape {classes.shape}")
    else:
        classes = np.unique(best[found]).astype(int)
    wanted = target_ratios if target_ratios is not None else inputs.target_ratios
    if wanted is None:  # no target: an even split over the classes
        wanted = {c.item() if hasattr(c, "item") else c: 1.0 for c in classes}
    ratios = resolve_ratios(wanted, classes) if len(classes) else np.empty(0)
    # Positions in `classes`; the last position is the group of images without objects.
    try:
        ids = classes.astype(float)
    except (TypeError, ValueError):  # names rather than ids: no detection can match them
        ids = np.full(len(classes), np.nan)
    order = np.argsort(ids, kind="stable")
    at = np.minimum(np.searchsorted(ids[order], best), max(len(classes) - 1, 0))
    known = (ids[order][at] == best) if len(classes) else np.zeros(len(best), dtype=bool)
    unknown = sorted({float(c) for c in best[found & ~known]})
    if unknown:
        raise StrategyInputError(f"detected class ids {unknown} are not among the classes {classes.tolist()}")
    positions = np.where(found, order[at] if len(classes) else 0, len(classes)).astype(int)
    if k == 0 or len(detections) == 0:
        scorer._prepare(inputs, density, {"min_confidence": min_confidence})  # still refuse bad input
        return empty_selection()
    scores, details = scorer.scores(inputs, rng=rng, density=density, min_confidence=min_confidence)
    groups = np.append(classes.astype(object), "(no object)")
    chosen, chosen_scores, balance = class_balanced(scores, positions, groups, np.append(ratios, 0.0), k, rng=rng)
    return Selection(chosen, chosen_scores, {**details, **balance, "base": base})


def class_balanced_needs(params: Mapping[str, Any]) -> frozenset[str]:
    base = params.get("base", "det_least_confident")
    _detection_base(base)
    return frozenset({DETECTIONS}) | _registry()[base].required_inputs({"density": params.get("density")})
