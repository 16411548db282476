"""One round of the loop on arrays: fit, score the pool, select a batch, measure.

The worker (on a project's items) and the simulator (on a dataset with an oracle)
both call `run_round`, so a strategy behaves the same in both. No Django here: the
caller turns rows into arrays and the outcome back into rows.
"""
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, precision_recall_fscore_support

from .learners import LEARNERS, Committee, feature_sq_norms
from .strategies import (
    COMMITTEE,
    EMBEDDINGS,
    GRADIENTS,
    LABELED_EMBEDDINGS,
    LABELED_SQ_DISTANCES,
    PROBA,
    RETRAIN,
    STRATEGIES,
    PoolInputs,
    Selection,
    logistic_gradient_norms,
    required_inputs,
)

SCORE_CHUNK = 100_000
FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))
EER_ESTIMATION_SET = 200
Progress = Callable[[str, int, int], None]


@dataclass
class Problem:
    """The arrays of one round. Rows of `pool_X` are the candidates the batch is
    chosen from; `embeddings` is a callable so that dense vectors are only computed
    when the strategy asks for them; `labeled_sq_distances`, optional, returns each
    candidate's squared distance to its nearest labeled embedding, for a caller that
    keeps them between rounds (core-set then skips measuring the pool against every
    label); `stop_X` is the fixed set on which successive models are compared (the
    stabilising-predictions criterion)."""

    train_X: Any
    train_y: np.ndarray
    pool_X: Any
    eval_X: Any = None
    eval_y: np.ndarray | None = None
    stop_X: Any = None
    embeddings: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    labeled_sq_distances: Callable[[], np.ndarray] | None = None
    target_ratios: dict | None = None


@dataclass
class Settings:
    strategy: str
    batch_size: int
    learner: str = "tfidf_logreg"
    sampling: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seed: int = 0


@dataclass
class Outcome:
    model: Any
    strategy_used: str
    selection: Selection
    proba: np.ndarray | None
    metrics: dict
    train_accuracy: float | None
    stop_predictions: np.ndarray | None
    timings: dict
    note: str = ""

    @property
    def predicted(self) -> np.ndarray | None:
        """Class id the model predicts for each chosen item (None without a model)."""
        if self.model is None or self.proba is None:
            return None
        return self.model.classes_[self.proba[self.selection.indices].argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray | None:
        if self.proba is None or self.model is None:
            return None
        return self.proba[self.selection.indices].max(axis=1)


def rows(matrix: Any, index: np.ndarray) -> Any:
    return matrix[index]


def n_rows(matrix: Any) -> int:
    return matrix.shape[0] if hasattr(matrix, "shape") else len(matrix)


@dataclass(frozen=True)
class LinearLogits:
    """What a fitted logistic regression's probabilities are made of: the logits of rows
    X are `X @ coef.T + intercept`, one column for two classes, one per class otherwise."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray

    def logits(self, X: Any) -> np.ndarray | None:
        """One sparse or dense matrix product for all rows; None for input this shortcut
        does not take (predict_proba then handles it, and raises its own errors)."""
        if sparse.issparse(X):
            if X.format != "csr" or X.dtype not in FLOAT_TYPES:
                return None
        elif not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype not in FLOAT_TYPES:
            return None
        if X.shape[1] != self.coef.shape[1]:
            return None
        logits = np.asarray(X @ self.coef.T)
        logits += self.intercept
        return logits

    def proba_into(self, logits: np.ndarray, out: np.ndarray) -> bool:
        """Class probabilities from a block of logits, with predict_proba's operations
        (so its numbers), written to `out`, which may be `logits` itself; False, with
        nothing written, when a logit is not finite (NaN in X, or an overflow)."""
        if not np.isfinite(logits).all():
            return False
        if len(self.classes) == 2:  # the logit is the second class's; the first is its complement
            positive = expit(logits[:, 0])
            out[:, 1] = positive
            np.subtract(1, positive, out=out[:, 0], dtype=positive.dtype)  # in the logits' precision
            return True
        # softmax, shifted by each row's maximum so that exp cannot overflow
        logits -= logits.max(axis=1).reshape(-1, 1)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1).reshape(-1, 1)
        if out is not logits:
            out[...] = logits
        return True


def linear_logits(model: Any) -> LinearLogits | None:
    """The weights behind `model`'s probabilities when it is a fitted scikit-learn
    LogisticRegression (what tfidf_logreg and minilm_logreg fit); None otherwise.

    Scoring a large pool through them skips predict_proba's input validation, which on
    a 100,000-row TF-IDF pool takes longer than the matrix product itself.
    """
    if not isinstance(model, LogisticRegression):
        return None
    kind = type(model)
    if (kind.predict_proba is not LogisticRegression.predict_proba
            or kind.decision_function is not LogisticRegression.decision_function):
        return None  # a subclass that computes its probabilities some other way
    coef = getattr(model, "coef_", None)
    intercept = getattr(model, "intercept_", None)
    classes = getattr(model, "classes_", None)
    if coef is None or intercept is None or classes is None or np.ndim(coef) != 2 or len(classes) < 2:
        return None
    if coef.shape[0] != (1 if len(classes) == 2 else len(classes)):
        return None
    return LinearLogits(coef=coef, intercept=np.asarray(intercept), classes=np.asarray(classes))


def row_block(matrix: Any, start: int, stop: int) -> Any:
    """Rows start:stop; the whole matrix is returned as it is."""
    if start == 0 and stop == n_rows(matrix):
        return matrix
    return matrix[start:stop]


def predict_in_chunks(model, X, progress: Progress | None = None, phase: str = "scoring") -> np.ndarray:
    """Class probabilities of every row, SCORE_CHUNK rows at a time.

    A logistic regression's logits come from one matrix product over the whole pool
    (n x classes, no bigger than the probabilities; slicing a CSR matrix into blocks
    would copy it), and only their conversion to probabilities goes by chunks. With
    more than two classes that conversion is done in place.
    """
    total = n_rows(X)
    linear = linear_logits(model)
    logits = linear.logits(X) if linear is not None else None
    in_place = logits is not None and logits.shape[1] == len(model.classes_) and logits.dtype == np.float64
    proba = logits if in_place else np.empty((total, len(model.classes_)))
    for start in range(0, total, SCORE_CHUNK):
        stop = min(start + SCORE_CHUNK, total)
        block = logits[start:stop] if logits is not None else None
        target = block if in_place else proba[start:stop]
        if block is None or not linear.proba_into(block, target):
            target[...] = model.predict_proba(row_block(X, start, stop))
        if progress:
            progress(phase, stop, total)
    return proba


def evaluation_metrics(model, X, y, class_names: dict | None = None) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall on the evaluation split."""
    if X is None or y is None or len(y) == 0:
        return {}
    predicted = model.predict(X)
    labels = sorted(set(np.asarray(y).tolist()) | set(np.asarray(model.classes_).tolist()))
    precision, recall, _, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    names = class_names or {}
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "evaluated_on": int(len(y)),
        "per_class": {
            names.get(label, str(label)): {"precision": float(p), "recall": float(r), "support": int(s)}
            for label, p, r, s in zip(labels, precision, recall, support)
        },
    }


def stability_kappa(previous: np.ndarray | None, current: np.ndarray | None) -> float | None:
    """Cohen's kappa between two successive models' predictions on the stop set."""
    if previous is None or current is None or len(previous) != len(current) or len(current) == 0:
        return None
    if np.array_equal(previous, current):
        return 1.0
    return float(cohen_kappa_score(previous, current))


def _gradient_norms(model, pool_X, proba: np.ndarray) -> np.ndarray:
    if isinstance(model, LogisticRegression):
        return logistic_gradient_norms(proba, feature_sq_norms(pool_X), fit_intercept=model.fit_intercept)
    from .learners import torch_gradient_norms

    return torch_gradient_norms(model, pool_X)


def _retrainer(model, factory, problem: Problem, rng: np.random.Generator):
    """Refits for expected error reduction: a warm-started copy of the model per
    hypothetical label, scored on a fixed random estimation subset of the pool."""
    n = n_rows(problem.pool_X)
    estimation = np.sort(rng.choice(n, size=min(n, EER_ESTIMATION_SET), replace=False))
    estimation_X = rows(problem.pool_X, estimation)
    classes = model.classes_
    stack = sparse.vstack if sparse.issparse(problem.train_X) else np.concatenate

    def retrain(index: int, column: int) -> np.ndarray:
        if isinstance(model, LogisticRegression):
            refit = copy.deepcopy(model).set_params(warm_start=True, max_iter=30)
        else:
            refit = factory(0)
        X = stack([problem.train_X, rows(problem.pool_X, np.array([index]))])
        y = np.append(problem.train_y, classes[column])
        refit.fit(X, y)
        out = np.zeros((len(estimation), len(classes)))
        out[:, np.searchsorted(classes, refit.classes_)] = refit.predict_proba(estimation_X)
        return out

    return retrain


def pool_inputs(strategy_key: str, params: dict, model, factory, problem: Problem, settings: Settings,
                proba: np.ndarray | None, rng: np.random.Generator, progress: Progress | None = None) -> PoolInputs:
    """Compute only what the strategy needs."""
    needs = required_inputs(STRATEGIES[strategy_key], params)
    fields: dict[str, Any] = {"n": n_rows(problem.pool_X), "proba": proba, "target_ratios": problem.target_ratios}
    if model is not None:
        fields["classes"] = np.asarray(model.classes_)
        if problem.target_ratios:
            # A class nobody has labeled yet (often the rare one the ratios aim at) is not
            # among the model's classes; no item can be predicted as it, so its share goes
            # to the others (an even split when none of them has a share).
            known = {str(c) for c in fields["classes"].tolist()}
            ratios = {c: r for c, r in problem.target_ratios.items() if str(c) in known}
            fields["target_ratios"] = ratios if sum(ratios.values()) > 0 else None
    if COMMITTEE in needs and model is not None:
        committee = Committee(
            factory, size=settings.sampling.get("committee_size", 5),
            mode=settings.sampling.get("committee_mode", "bagging"), random_state=settings.seed,
        ).fit(problem.train_X, problem.train_y)
        members = committee.member_proba(problem.pool_X)
        # Align member columns with the main model's classes (the committee's may differ).
        aligned = np.zeros((members.shape[0], members.shape[1], len(model.classes_)))
        shared = np.isin(committee.classes_, model.classes_)
        aligned[:, :, np.searchsorted(model.classes_, committee.classes_[shared])] = members[:, :, shared]
        fields[COMMITTEE] = aligned
    if GRADIENTS in needs and model is not None:
        fields[GRADIENTS] = _gradient_norms(model, problem.pool_X, proba)
    if RETRAIN in needs and model is not None:
        fields[RETRAIN] = _retrainer(model, factory, problem, rng)
    if (EMBEDDINGS in needs or LABELED_EMBEDDINGS in needs) and problem.embeddings is not None:
        if progress:
            progress("embedding", 0, 0)
        pool_embeddings, labeled_embeddings = problem.embeddings()
        fields[EMBEDDINGS] = pool_embeddings
        fields[LABELED_EMBEDDINGS] = labeled_embeddings
        if LABELED_EMBEDDINGS in needs and problem.labeled_sq_distances is not None:
            fields[LABELED_SQ_DISTANCES] = problem.labeled_sq_distances()
    return PoolInputs(**fields)


def _with_exploration(selection: Selection, k: int, fraction: float, n: int, rng: np.random.Generator) -> Selection:
    """Swap the tail of the batch for random picks: a fraction spent on exploration."""
    explore = int(round(k * fraction))
    if explore <= 0 or n <= len(selection.indices):
        return selection
    keep = selection.indices[: max(len(selection.indices) - explore, 0)]
    rest = np.setdiff1d(np.arange(n), selection.indices)
    extra = rng.choice(rest, size=min(explore, len(rest)), replace=False)
    indices = np.concatenate([keep, extra]).astype(int)
    scores = np.concatenate([selection.scores[: len(keep)], np.zeros(len(extra))])
    details = {**selection.details, "exploration": int(len(extra))}
    return Selection(indices=indices, scores=scores, details=details)


def select_batch(strategy_key: str, params: dict, model, factory, problem: Problem, settings: Settings,
                 proba: np.ndarray | None, rng: np.random.Generator, progress: Progress | None = None) -> Selection:
    """The selection half of a round, once the pool is scored: the strategy's inputs,
    its batch, then the exploration share. Benchmarks time this same function."""
    inputs = pool_inputs(strategy_key, params, model, factory, problem, settings, proba, rng, progress)
    selection = STRATEGIES[strategy_key].select(inputs, settings.batch_size, rng=rng, **params)
    return _with_exploration(selection, settings.batch_size, settings.sampling.get("exploration", 0.0), inputs.n, rng)


def run_round(problem: Problem, settings: Settings, *, class_names: dict | None = None,
              progress: Progress | None = None) -> Outcome:
    """Fit the learner on the labels so far, score the candidates, pick the batch."""
    timings: dict[str, float] = {}
    spec = LEARNERS[settings.learner]
    rng = np.random.default_rng(settings.seed)
    strategy = STRATEGIES[settings.strategy]
    # What this configuration reads (a mix of coreset and random needs no model).
    needs_model = bool(required_inputs(strategy, settings.params) & {PROBA, COMMITTEE, GRADIENTS, RETRAIN})
    note = ""

    started = time.perf_counter()
    model = None
    if len(np.unique(problem.train_y)) >= 2:
        if progress:
            progress("fitting", 0, 0)
        model = spec.factory(settings.seed).fit(problem.train_X, problem.train_y)
    elif needs_model:
        note = "Fewer than two classes labeled yet: this batch is random."
    timings["fit_s"] = time.perf_counter() - started

    started = time.perf_counter()
    proba = predict_in_chunks(model, problem.pool_X, progress) if model is not None else None
    timings["score_s"] = time.perf_counter() - started

    used, params = settings.strategy, dict(settings.params)
    if model is None and needs_model:
        used, params = "random", {}
    if progress:
        progress("selecting", 0, 0)
    started = time.perf_counter()
    selection = select_batch(used, params, model, spec.factory, problem, settings, proba, rng, progress)
    timings["select_s"] = time.perf_counter() - started

    metrics, train_accuracy, stop_predictions = {}, None, None
    if model is not None:
        started = time.perf_counter()
        metrics = evaluation_metrics(model, problem.eval_X, problem.eval_y, class_names)
        train_accuracy = float(accuracy_score(problem.train_y, model.predict(problem.train_X)))
        if problem.stop_X is not None and n_rows(problem.stop_X):
            stop_predictions = model.predict(problem.stop_X)
        timings["evaluate_s"] = time.perf_counter() - started
    return Outcome(
        model=model, strategy_used=used, selection=selection, proba=proba, metrics=metrics,
        train_accuracy=train_accuracy, stop_predictions=stop_predictions,
        timings={key: round(value, 4) for key, value in timings.items()}, note=note,
    )
