"""Query strategies: pure numpy, no Django. The registry is what the API, UI and worker read.

Every strategy has one shape (see base.py): `STRATEGIES[key].select(inputs, k, rng=rng,
**params) -> Selection`. Ask `required_inputs(key, params)` which PoolInputs fields to
compute first: it depends on the parameters (density weighting reads embeddings, a mix
reads what its parts read).
"""
from collections.abc import Mapping
from typing import Any

import numpy as np

from .balance import class_balanced, resolve_ratios
from .base import (
    COMMITTEE,
    DETECTIONS,
    EMBEDDINGS,
    GRADIENTS,
    INPUT_NAMES,
    LABELED_EMBEDDINGS,
    LABELED_SQ_DISTANCES,
    PROBA,
    RETRAIN,
    PoolInputs,
    Selection,
    Strategy,
)
from .committee import consensus_entropy, kl_to_consensus, max_disagreement, vote_entropy
from .detection import (
    DEFAULT_MIN_CONFIDENCE,
    DetectionScoredSelect,
    class_balanced_detections,
    class_balanced_needs,
    count_weighted,
    detection_entropy,
    detections_from_predictions,
    least_confident_object,
    mask_uncertainty,
    mean_confidence,
    on_detections,
)
from .diversity import UNCERTAINTY, cluster_uncertainty, k_center_greedy
from .error_reduction import expected_error_reduction
from .mix import DEFAULT_MIX, MixPart, make_mix, mix_needs, parse_mix, select_registered_mix
from .model_change import expected_gradient_length, logistic_gradient_norms
from .scored import ScoredSelect, check_params, empty_selection, read_inputs
from .selection import top_k
from .stream import BudgetRateSampler, query_by_budget, query_by_hard_budget, query_by_threshold
from .uncertainty import entropy, least_confidence, margin, ratio
from .validation import StrategyInputError, check_choice

FAMILIES = ("uncertainty", "committee", "model change", "error reduction", "density", "diversity", "balance",
            "mix", "baseline", "detection")


def _scored(key: str, label: str, family: str, needs: set[str], score_fn, description: str,
            defaults: Mapping[str, Any] | None = None, density: Any = None) -> Strategy:
    select = ScoredSelect(key, frozenset(needs), score_fn, defaults or {})
    params = {**(defaults or {}), "density": density}
    return Strategy(key, label, family, select.needs_for(params), select, description, params, select.needs_for)


def _on_proba(scorer):
    return lambda arrays, rng: scorer(arrays[PROBA])


def _on_committee(scorer):
    return lambda arrays, rng: scorer(arrays[COMMITTEE])


def _eer(loss: str):
    def score(arrays, rng, candidates):
        return expected_error_reduction(arrays[PROBA], arrays[RETRAIN], loss=loss, candidates=candidates, rng=rng)

    return score


def _coreset(inputs: PoolInputs, k: int, *, rng: np.random.Generator, **params: Any) -> Selection:
    check_params("coreset", params, [])
    arrays = read_inputs(inputs, {EMBEDDINGS, LABELED_EMBEDDINGS})
    if k == 0 or arrays["n"] == 0:
        return empty_selection()
    chosen, scores, details = k_center_greedy(arrays[EMBEDDINGS], k, arrays[LABELED_EMBEDDINGS], rng=rng,
                                              nearest_sq=arrays.get(LABELED_SQ_DISTANCES))
    return Selection(chosen, scores, details)


def _cluster_uncertainty(inputs: PoolInputs, k: int, *, rng: np.random.Generator, uncertainty: str = "margin",
                         **params: Any) -> Selection:
    check_params("cluster_uncertainty", params, ["uncertainty"])
    check_choice(uncertainty, "uncertainty", UNCERTAINTY)
    arrays = read_inputs(inputs, {PROBA, EMBEDDINGS})
    if k == 0 or arrays["n"] == 0:
        return empty_selection()
    chosen, scores, details = cluster_uncertainty(arrays[PROBA], arrays[EMBEDDINGS], k, uncertainty=uncertainty,
                                                  rng=rng)
    return Selection(chosen, scores, details)


def _scored_base(base: Any) -> ScoredSelect:
    strategy = STRATEGIES.get(base) if isinstance(base, str) else None
    if strategy is None or not isinstance(strategy.select_fn, ScoredSelect):
        scored = [key for key, s in STRATEGIES.items() if isinstance(s.select_fn, ScoredSelect)]
        raise StrategyInputError(f"`base` must be a score-based strategy ({', '.join(scored)}), got {base!r}")
    return strategy.select_fn


def _class_balanced(inputs: PoolInputs, k: int, *, rng: np.random.Generator, base: str = "margin",
                    density: Any = None, target_ratios: Mapping | None = None, **params: Any) -> Selection:
    check_params("class_balanced", params, ["base", "density", "target_ratios"])
    scorer = _scored_base(base)
    proba = read_inputs(inputs, {PROBA})[PROBA]
    classes = np.arange(proba.shape[1]) if inputs.classes is None else np.asarray(inputs.classes)
    if classes.shape != (proba.shape[1],):
        raise StrategyInputError(
            f"expected one class id per probability column ({proba.shape[1]}), got classes of shape {classes.shape}"
        )
    wanted = target_ratios if target_ratios is not None else inputs.target_ratios
    if wanted is None:  # no target given: an even split over the classes
        wanted = {c.item() if hasattr(c, "item") else c: 1.0 for c in classes}
    ratios = resolve_ratios(wanted, classes)
    if k == 0 or len(proba) == 0:
        scorer._prepare(inputs, density, {})  # still refuse bad input
        return empty_selection()
    scores, details = scorer.scores(inputs, rng=rng, density=density)
    chosen, chosen_scores, balance = class_balanced(scores, proba.argmax(axis=1), classes, ratios, k, rng=rng)
    return Selection(chosen, chosen_scores, {**details, **balance, "base": base})


def _class_balanced_needs(params: Mapping[str, Any]) -> frozenset[str]:
    base = params.get("base", "margin")
    _scored_base(base)
    return frozenset({PROBA}) | STRATEGIES[base].required_inputs({"density": params.get("density")})


def _mix_needs(params: Mapping[str, Any]) -> frozenset[str]:
    return mix_needs(parse_mix(params.get("parts", DEFAULT_MIX)))


STRATEGIES: dict[str, Strategy] = {}


def _register(*strategies: Strategy) -> None:
    for strategy in strategies:
        if strategy.key in STRATEGIES:
            raise ValueError(f"strategy {strategy.key!r} registered twice")
        STRATEGIES[strategy.key] = strategy


_register(
    _scored("least_confidence", "Least confidence", "uncertainty", {PROBA}, _on_proba(least_confidence),
            "1 - p(most likely class): the model's doubt about its best guess."),
    _scored("margin", "Margin", "uncertainty", {PROBA}, _on_proba(margin),
            "Small gap between the two most likely classes: hesitation between two answers."),
    _scored("ratio", "Ratio of confidence", "uncertainty", {PROBA}, _on_proba(ratio),
            "p(second) / p(first): like margin, relative instead of absolute."),
    _scored("entropy", "Entropy", "uncertainty", {PROBA}, _on_proba(entropy),
            "Entropy of the predicted distribution over all classes (bits)."),
    _scored("random", "Random", "baseline", set(), lambda arrays, rng: rng.random(arrays["n"]),
            "Uniform sample of the pool: the baseline every strategy has to beat."),
    _scored("vote_entropy", "Vote entropy", "committee", {COMMITTEE}, _on_committee(vote_entropy),
            "Entropy of the committee members' hard votes."),
    _scored("consensus_entropy", "Consensus entropy", "committee", {COMMITTEE}, _on_committee(consensus_entropy),
            "Entropy of the committee's averaged probabilities."),
    _scored("max_disagreement", "Maximum disagreement", "committee", {COMMITTEE},
            _on_committee(max_disagreement), "Largest KL divergence of a member from the consensus."),
    _scored("kl_to_consensus", "KL divergence to consensus", "committee", {COMMITTEE},
            _on_committee(kl_to_consensus), "Average KL divergence of the members from the consensus."),
    _scored("egl", "Expected gradient length", "model change", {PROBA, GRADIENTS},
            lambda arrays, rng: expected_gradient_length(arrays[PROBA], arrays[GRADIENTS]),
            "The item whose label is expected to change the model most (gradient norm)."),
    _scored("eer_log_loss", "Expected error reduction (log loss)", "error reduction", {PROBA, RETRAIN}, _eer("log"),
            "Refit per possible label; lowest expected entropy on an estimation set.", {"candidates": 100}),
    _scored("eer_zero_one", "Expected error reduction (0/1 loss)", "error reduction", {PROBA, RETRAIN},
            _eer("zero_one"), "Refit per possible label; lowest expected 0/1 loss on an estimation set.",
            {"candidates": 100}),
    _scored("information_density", "Information density", "density", {PROBA}, _on_proba(entropy),
            "Entropy weighted by mean similarity to the pool: informative and representative.",
            density={"measure": "similarity", "combine": "multiplicative", "beta": 1.0}),
    Strategy("coreset", "Core-set (k-center greedy)", "diversity", frozenset({EMBEDDINGS, LABELED_EMBEDDINGS}),
             _coreset, "Items farthest from everything labeled or chosen: covers the pool."),
    Strategy("cluster_uncertainty", "Cluster, then uncertainty", "diversity", frozenset({PROBA, EMBEDDINGS}),
             _cluster_uncertainty, "k-means into k clusters; the most uncertain item of each.",
             {"uncertainty": "margin"}),
    Strategy("class_balanced", "Class-balanced", "balance", frozenset({PROBA}), _class_balanced,
             "Batch split over predicted classes by target ratios, best by margin within each.",
             {"base": "margin", "density": None, "target_ratios": None}, _class_balanced_needs),
)
_DETECTION_DEFAULTS = {"min_confidence": DEFAULT_MIN_CONFIDENCE, "empty": "most"}


def _detection(key: str, label: str, scorer, description: str, **defaults: Any) -> Strategy:
    """A detection scorer as a strategy: objects below `min_confidence` are ignored,
    `empty` ("most" or "least") ranks images where nothing is left."""
    defaults = {**_DETECTION_DEFAULTS, **defaults}
    select = DetectionScoredSelect(key, frozenset({DETECTIONS}), on_detections(scorer), defaults)
    params = {**defaults, "density": None}
    return Strategy(key, label, "detection", select.needs_for(params), select, description, params, select.needs_for)


_register(  # detection and segmentation models: scores over each image's detected objects
    _detection("det_least_confident", "Least confident object", least_confident_object,
               "1 - confidence of the image's least confident object (objects above min_confidence)."),
    _detection("det_mean_confidence", "Mean object confidence", mean_confidence,
               "1 - mean confidence of the image's objects."),
    _detection("det_entropy", "Object entropy", detection_entropy,
               "Binary entropy of each object's confidence, averaged over the image (aggregate=\"sum\" adds them).",
               aggregate="mean"),
    _detection("det_count_weighted", "Count-weighted doubt", count_weighted,
               "Sum of (1 - confidence) over the image's objects: many doubtful objects rank first."),
    _detection("seg_mask_quality", "Mask quality", mask_uncertainty,
               "1 - mean mask quality of the image's objects (segmentation: how far mask pixels are from 0.5)."),
)
_register(  # after the detection scorers, which it builds on
    Strategy("det_class_balanced", "Class-balanced (detection)", "detection", frozenset({DETECTIONS}),
             class_balanced_detections,
             "Batch split over each image's most confident object class by target ratios, best by a detection score.",
             {"base": "det_least_confident", "density": None, "target_ratios": None,
              "min_confidence": DEFAULT_MIN_CONFIDENCE}, class_balanced_needs),
)
_register(  # after its parts, whose needs it reads
    Strategy("mix", "Mix", "mix", _mix_needs({}), select_registered_mix,
             "Fractions of the batch from several strategies (parts=\"margin:0.7,coreset:0.2,random:0.1\").",
             {"parts": DEFAULT_MIX}, _mix_needs),
)


def get_strategy(strategy: Strategy | str) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise StrategyInputError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy]


def required_inputs(strategy: Strategy | str, params: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The PoolInputs fields `strategy` reads when called with `params`; the engine
    computes these (and only these) before calling select."""
    return get_strategy(strategy).required_inputs(params)


def strategy_choices() -> list[tuple[str, str]]:
    return [(s.key, s.label) for s in STRATEGIES.values()]


__all__ = [
    "COMMITTEE", "DETECTIONS", "EMBEDDINGS", "FAMILIES", "GRADIENTS", "INPUT_NAMES", "LABELED_EMBEDDINGS",
    "LABELED_SQ_DISTANCES", "PROBA", "RETRAIN",
    "STRATEGIES", "BudgetRateSampler", "MixPart", "detections_from_predictions", "PoolInputs", "Selection", "Strategy", "StrategyInputError",
    "get_strategy", "logistic_gradient_norms", "make_mix", "parse_mix", "query_by_budget", "query_by_hard_budget",
    "query_by_threshold", "required_inputs", "strategy_choices", "top_k",
]
