"""The engine's round on arrays (activelearning.engine.run_round): fit, score in chunks,
compute only what the strategy reads, select, explore, measure. No database here."""
import numpy as np
import pytest

from activelearning import engine
from activelearning.config import strategy_params, validate_sampling
from activelearning.learners import build_features, make_classifier
from activelearning.strategies import STRATEGIES, PoolInputs

NEGATIVE, POSITIVE = 10, 20
CLASS_KEYS = {"negative": NEGATIVE, "positive": POSITIVE}
MIX = "margin:0.5,coreset:0.3,random:0.2"
BATCH = 6


def _blobs(seed: int = 0, per_class: int = 60):
    """Two Gaussian blobs in 4 dimensions; class ids are not 0/1 on purpose."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(-2.0, 1.0, (per_class, 4)), rng.normal(2.0, 1.0, (per_class, 4))])
    y = np.repeat([NEGATIVE, POSITIVE], per_class)
    return X, y


def _texts():
    good = [f"good great film number {n}" for n in range(25)]
    bad = [f"bad awful film number {n}" for n in range(25)]
    texts = good + bad
    y = np.array([POSITIVE] * 25 + [NEGATIVE] * 25)
    return build_features("engine-test", np.arange(len(texts)), texts).matrix, y


def _dense(matrix):
    from sklearn.decomposition import TruncatedSVD

    return TruncatedSVD(8, random_state=0).fit_transform(matrix) if hasattr(matrix, "tocsr") else matrix


def _problem(X, y, train, *, calls=None, target_ratios=None, eval_rows=None, stop_rows=None):
    pool = np.setdiff1d(np.arange(len(y)), train)
    dense = _dense(X)

    def embeddings():
        if calls is not None:
            calls.append("embeddings")
        return dense[pool], dense[train]

    eval_rows = pool if eval_rows is None else eval_rows
    return engine.Problem(
        train_X=X[train], train_y=y[train], pool_X=X[pool], eval_X=X[eval_rows], eval_y=y[eval_rows],
        stop_X=X[stop_rows] if stop_rows is not None else None, embeddings=embeddings, target_ratios=target_ratios,
    ), pool


def _settings(strategy: str, sampling: dict | None = None, *, batch: int = BATCH, seed: int = 1) -> engine.Settings:
    clean = validate_sampling(sampling or {}, strategy, list(CLASS_KEYS))
    return engine.Settings(strategy=strategy, batch_size=batch, sampling=clean,
                           params=strategy_params(strategy, clean, CLASS_KEYS), seed=seed)


def _sampling_for(key: str) -> dict:
    # Expected error reduction refits per candidate and label: few candidates keep it fast.
    sampling = {"eer_candidates": 8}
    if key == "mix":
        sampling["mix"] = MIX
    if key == "class_balanced":
        sampling["target_ratios"] = {"negative": 0.5, "positive": 0.5}
    return sampling


TRAIN = np.r_[0:5, 60:65]
# The classification strategies; detection ones score detected objects, which this engine has not.
CLASSIFICATION = sorted(key for key, strategy in STRATEGIES.items() if strategy.family != "detection")


@pytest.mark.parametrize("features", ["dense", "tfidf"])
@pytest.mark.parametrize("key", CLASSIFICATION)
def test_every_classification_strategy_returns_a_batch_of_distinct_pool_indices(key, features):
    if features == "dense":
        X, y = _blobs()
        train = TRAIN
    else:
        X, y = _texts()
        train = np.r_[0:3, 25:28]
    ratios = {NEGATIVE: 0.5, POSITIVE: 0.5} if key == "class_balanced" else None
    problem, pool = _problem(X, y, train, target_ratios=ratios)
    outcome = engine.run_round(problem, _settings(key, _sampling_for(key)))
    indices = outcome.selection.indices
    assert outcome.strategy_used == key and outcome.note == ""
    assert len(indices) == BATCH
    assert len(set(indices.tolist())) == BATCH
    assert all(0 <= i < len(pool) for i in indices)
    assert len(outcome.selection.scores) == BATCH
    assert outcome.proba.shape == (len(pool), 2)
    assert outcome.predicted is not None and set(outcome.predicted) <= {NEGATIVE, POSITIVE}


def test_the_classification_strategies_cover_every_family_of_the_engine():
    families = {STRATEGIES[key].family for key in CLASSIFICATION}
    assert families == {"uncertainty", "committee", "model change", "error reduction", "density", "diversity",
                        "balance", "mix", "baseline"}


def test_a_batch_larger_than_the_pool_takes_the_whole_pool_once():
    X, y = _blobs(per_class=8)
    train = np.r_[0:6, 8:14]
    problem, pool = _problem(X, y, train)
    for key in ("margin", "random", "mix"):
        outcome = engine.run_round(problem, _settings(key, {"mix": MIX} if key == "mix" else {}, batch=20))
        assert sorted(outcome.selection.indices.tolist()) == list(range(len(pool))), key


@pytest.mark.parametrize("key", ["margin", "vote_entropy", "egl", "eer_log_loss", "class_balanced", "mix"])
def test_a_strategy_that_needs_a_model_falls_back_to_random_when_one_class_is_labeled(key):
    X, y = _blobs()
    ratios = {NEGATIVE: 0.5, POSITIVE: 0.5} if key == "class_balanced" else None
    problem, pool = _problem(X, y, np.arange(5), target_ratios=ratios)  # all negative
    outcome = engine.run_round(problem, _settings(key, _sampling_for(key)))
    assert outcome.strategy_used == "random"
    assert "two classes" in outcome.note
    assert outcome.model is None and outcome.proba is None
    assert outcome.metrics == {} and outcome.train_accuracy is None and outcome.stop_predictions is None
    assert outcome.predicted is None and outcome.confidence is None
    assert len(set(outcome.selection.indices.tolist())) == BATCH


def test_a_strategy_without_a_model_runs_as_asked_when_one_class_is_labeled():
    X, y = _blobs()
    problem, _ = _problem(X, y, np.arange(5))
    coreset = engine.run_round(problem, _settings("coreset"))
    assert coreset.strategy_used == "coreset" and coreset.note == ""
    random_batch = engine.run_round(problem, _settings("random"))
    assert random_batch.strategy_used == "random" and random_batch.note == ""
    mix = engine.run_round(problem, _settings("mix", {"mix": "coreset:0.5,random:0.5"}))
    assert mix.strategy_used == "mix" and mix.note == ""
    assert len(set(mix.selection.indices.tolist())) == BATCH


def test_a_round_with_no_labels_yet_picks_a_random_batch():
    X, y = _blobs()
    pool = np.arange(len(y))
    problem = engine.Problem(train_X=X[:0], train_y=y[:0], pool_X=X[pool])
    outcome = engine.run_round(problem, _settings("least_confidence"))
    assert outcome.strategy_used == "random"
    assert len(set(outcome.selection.indices.tolist())) == BATCH


def test_exploration_replaces_the_tail_of_the_batch_with_random_picks_outside_it():
    X, y = _blobs()
    problem, pool = _problem(X, y, TRAIN)
    plain = engine.run_round(problem, _settings("margin"))
    explored = engine.run_round(problem, _settings("margin", {"exploration": 0.5}))
    head, tail = explored.selection.indices[:3], explored.selection.indices[3:]
    assert head.tolist() == plain.selection.indices[:3].tolist()
    assert len(tail) == 3
    assert not set(tail.tolist()) & set(plain.selection.indices.tolist())
    assert len(set(explored.selection.indices.tolist())) == BATCH
    assert explored.selection.details["exploration"] == 3
    assert explored.selection.scores[3:].tolist() == [0.0, 0.0, 0.0]


def test_no_exploration_leaves_the_strategys_batch_as_it_is():
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    outcome = engine.run_round(problem, _settings("margin", {"exploration": 0.0}))
    assert "exploration" not in outcome.selection.details
    # Margin: the batch is the items closest to an even split, best first.
    top = np.sort(np.abs(outcome.proba[:, 0] - outcome.proba[:, 1]))[:BATCH]
    chosen = np.abs(outcome.proba[outcome.selection.indices, 0] - outcome.proba[outcome.selection.indices, 1])
    assert np.allclose(chosen, top)


# Only what the strategy reads is computed.


@pytest.fixture
def refuse_expensive_inputs(monkeypatch):
    def refuse(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"{name} computed for a strategy that does not read it")

        return fail

    monkeypatch.setattr(engine, "Committee", refuse("committee"))
    monkeypatch.setattr(engine, "_gradient_norms", refuse("gradient norms"))
    monkeypatch.setattr(engine, "_retrainer", refuse("retrainer"))


@pytest.mark.parametrize("key", ["margin", "entropy", "random", "coreset", "cluster_uncertainty"])
def test_strategies_that_read_probabilities_or_embeddings_need_no_committee_gradients_or_refits(
        key, refuse_expensive_inputs):
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    outcome = engine.run_round(problem, _settings(key))
    assert len(outcome.selection.indices) == BATCH


@pytest.mark.parametrize("key, expensive", [("vote_entropy", "committee"), ("egl", "gradient norms"),
                                            ("eer_zero_one", "retrainer")])
def test_the_engine_computes_the_expensive_input_a_strategy_reads(key, expensive, refuse_expensive_inputs):
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    with pytest.raises(AssertionError, match=expensive):
        engine.run_round(problem, _settings(key, _sampling_for(key)))


def test_the_committee_has_the_configured_size_and_mode(monkeypatch):
    built = []
    real = engine.Committee

    def recording(factory, size, mode, random_state):
        built.append((size, mode))
        return real(factory, size=size, mode=mode, random_state=random_state)

    monkeypatch.setattr(engine, "Committee", recording)
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    engine.run_round(problem, _settings("consensus_entropy", {"committee_size": 3, "committee_mode": "seeds"}))
    assert built == [(3, "seeds")]


def test_embeddings_are_computed_only_for_strategies_that_read_them():
    X, y = _blobs()
    calls = []
    problem, _ = _problem(X, y, TRAIN, calls=calls)
    engine.run_round(problem, _settings("margin"))
    assert calls == []
    engine.run_round(problem, _settings("coreset"))
    assert calls == ["embeddings"]
    # Density weighting makes an uncertainty strategy read them too.
    engine.run_round(problem, _settings("margin", {"density": {"measure": "knn"}}))
    assert calls == ["embeddings", "embeddings"]
    engine.run_round(problem, _settings("mix", {"mix": MIX}))
    assert calls == ["embeddings"] * 3


def test_kept_labeled_distances_are_read_only_by_strategies_that_read_labeled_embeddings():
    from activelearning.strategies.diversity import min_sq_distances

    X, y = _blobs()
    calls = []
    problem, pool = _problem(X, y, TRAIN)
    dense = _dense(X)

    def labeled_sq_distances():
        calls.append("distances")
        return min_sq_distances(dense[pool], dense[TRAIN])

    kept = engine.Problem(**{**vars(problem), "labeled_sq_distances": labeled_sq_distances})
    engine.run_round(kept, _settings("margin", {"density": {"measure": "knn"}}))
    assert calls == []
    for key, sampling in [("coreset", {}), ("mix", {"mix": MIX})]:
        measured = engine.run_round(problem, _settings(key, sampling)).selection
        assert engine.run_round(kept, _settings(key, sampling)).selection.indices.tolist() == measured.indices.tolist()
    assert calls == ["distances"] * 2


def test_class_balanced_fills_the_batch_by_the_target_ratios_of_predicted_classes():
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN, target_ratios={NEGATIVE: 1.0, POSITIVE: 0.0})
    outcome = engine.run_round(problem, _settings("class_balanced", {"target_ratios": {"negative": 1.0}}))
    assert outcome.predicted.tolist() == [NEGATIVE] * BATCH
    problem, _ = _problem(X, y, TRAIN, target_ratios={NEGATIVE: 0.5, POSITIVE: 0.5})
    outcome = engine.run_round(problem, _settings("class_balanced", _sampling_for("class_balanced")))
    assert sorted(outcome.predicted.tolist()) == [NEGATIVE] * 3 + [POSITIVE] * 3


def test_class_balanced_gives_the_share_of_a_class_not_labeled_yet_to_the_others():
    X, y = _blobs()
    rare = 30  # no item of it labeled: the model cannot predict it
    problem, _ = _problem(X, y, TRAIN, target_ratios={rare: 0.5, NEGATIVE: 0.5, POSITIVE: 0.0})
    outcome = engine.run_round(problem, _settings("class_balanced", _sampling_for("class_balanced")))
    assert outcome.predicted.tolist() == [NEGATIVE] * BATCH
    problem, _ = _problem(X, y, TRAIN, target_ratios={rare: 1.0})
    outcome = engine.run_round(problem, _settings("class_balanced", _sampling_for("class_balanced")))
    assert sorted(outcome.predicted.tolist()) == [NEGATIVE] * 3 + [POSITIVE] * 3


def test_a_mix_draws_each_part_its_share_of_the_batch():
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    outcome = engine.run_round(problem, _settings("mix", {"mix": "margin:0.5,coreset:0.5"}, batch=8))
    parts = {part["strategy"]: part["count"] for part in outcome.selection.details["parts"]}
    assert parts == {"margin": 4, "coreset": 4}
    assert sorted(outcome.selection.details["part_of"]) == ["coreset"] * 4 + ["margin"] * 4


# Scoring, measuring, reproducibility.


def test_the_pool_is_scored_in_chunks_with_progress(monkeypatch):
    monkeypatch.setattr(engine, "SCORE_CHUNK", 40)
    X, y = _blobs()
    problem, pool = _problem(X, y, TRAIN)
    reports = []
    outcome = engine.run_round(problem, _settings("margin"), progress=lambda *r: reports.append(r))
    assert [r for r in reports if r[0] == "scoring"] == [("scoring", 40, 110), ("scoring", 80, 110),
                                                          ("scoring", 110, 110)]
    assert np.allclose(outcome.proba, outcome.model.predict_proba(X[pool]))
    phases = [r[0] for r in reports]
    assert phases.index("fitting") < phases.index("scoring") < phases.index("selecting")
    assert set(outcome.timings) >= {"fit_s", "score_s", "select_s", "evaluate_s"}


def _three_classes(features: str):
    """Pool and labels with classes 10, 20, 30, as TF-IDF rows or dense vectors."""
    if features == "tfidf":
        words = {NEGATIVE: "bad awful", POSITIVE: "good great", 30: "plain average"}
        texts = [f"{words[c]} film {n} {'maybe' if n % 3 else ''}" for c in words for n in range(30)]
        y = np.repeat(list(words), 30)
        return build_features("engine-three", np.arange(len(texts)), texts).matrix, y
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(centre, 1.5, (40, 4)) for centre in (-2.0, 0.0, 2.0)])
    return X, np.repeat([NEGATIVE, POSITIVE, 30], 40)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("features", ["tfidf", "dense", "dense float32"])
@pytest.mark.parametrize("chunk", [engine.SCORE_CHUNK, 17])
def test_a_logistic_regressions_pool_is_scored_from_its_weights_as_predict_proba_scores_it(
        features, classes, chunk, monkeypatch):
    monkeypatch.setattr(engine, "SCORE_CHUNK", chunk)
    kind = "tfidf" if features == "tfidf" else "dense"
    X, y = _three_classes(kind) if classes == 3 else (_texts() if kind == "tfidf" else _blobs())
    if features == "dense float32":
        X = X.astype(np.float32)
    train = np.random.default_rng(0).choice(len(y), size=len(y) // 3, replace=False)
    model = make_classifier(0).fit(X[train], y[train])
    assert engine.linear_logits(model) is not None
    expected = model.predict_proba(X)

    def not_called(_):
        raise AssertionError("predict_proba was called")

    model.predict_proba = not_called
    proba = engine.predict_in_chunks(model, X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-12)
    for key in ("least_confidence", "margin", "ratio", "entropy"):
        ours = STRATEGIES[key].select(PoolInputs(n=len(y), proba=proba), 10, rng=np.random.default_rng(3))
        reference = STRATEGIES[key].select(PoolInputs(n=len(y), proba=expected), 10, rng=np.random.default_rng(3))
        assert ours.indices.tolist() == reference.indices.tolist()


def test_other_models_and_other_input_are_scored_by_predict_proba():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    X, y = _blobs()

    class Tempered(LogisticRegression):
        def predict_proba(self, X):
            return super().predict_proba(X / 2)

    assert engine.linear_logits(GaussianNB().fit(X, y)) is None
    assert engine.linear_logits(Tempered().fit(X, y)) is None
    assert engine.linear_logits(LogisticRegression()) is None  # not fitted
    tempered = Tempered().fit(X, y)
    assert np.array_equal(engine.predict_in_chunks(tempered, X), tempered.predict_proba(X))
    model = LogisticRegression().fit(X, y)
    whole = np.round(X).astype(int)  # integers: not taken by the shortcut
    assert np.array_equal(engine.predict_in_chunks(model, whole), model.predict_proba(whole))
    broken = X.copy()
    broken[3, 1] = np.nan  # scikit-learn's own error, as before
    with pytest.raises(ValueError, match="NaN"):
        engine.predict_in_chunks(model, broken)


def test_metrics_report_accuracy_macro_f1_and_each_class_under_its_name():
    X, y = _blobs()
    problem, pool = _problem(X, y, TRAIN, stop_rows=np.arange(20))
    outcome = engine.run_round(problem, _settings("margin"), class_names={NEGATIVE: "negative", POSITIVE: "positive"})
    metrics = outcome.metrics
    predicted = outcome.model.predict(X[pool])
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == y[pool]))
    assert metrics["accuracy"] > 0.9  # the blobs are far apart
    assert 0.9 < metrics["macro_f1"] <= 1.0
    assert metrics["evaluated_on"] == len(pool)
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert metrics["per_class"]["negative"]["support"] == int(np.sum(y[pool] == NEGATIVE))
    recall = np.mean(predicted[y[pool] == POSITIVE] == POSITIVE)
    assert metrics["per_class"]["positive"]["recall"] == pytest.approx(recall)
    assert outcome.train_accuracy == pytest.approx(np.mean(outcome.model.predict(X[TRAIN]) == y[TRAIN]))
    assert outcome.stop_predictions.tolist() == outcome.model.predict(X[:20]).tolist()


def test_metrics_count_a_class_the_model_never_predicts():
    X, y = _blobs()
    model = engine.LogisticRegression().fit(X[TRAIN], y[TRAIN])
    metrics = engine.evaluation_metrics(model, X[:10], np.full(10, NEGATIVE))
    assert set(metrics["per_class"]) == {str(NEGATIVE), str(POSITIVE)}
    assert metrics["per_class"][str(POSITIVE)]["support"] == 0
    assert engine.evaluation_metrics(model, None, None) == {}
    assert engine.evaluation_metrics(model, X[:0], y[:0]) == {}


def test_without_an_evaluation_split_there_are_no_metrics_but_a_train_accuracy():
    X, y = _blobs()
    pool = np.setdiff1d(np.arange(len(y)), TRAIN)
    problem = engine.Problem(train_X=X[TRAIN], train_y=y[TRAIN], pool_X=X[pool])
    outcome = engine.run_round(problem, _settings("margin"))
    assert outcome.metrics == {}
    assert outcome.train_accuracy == 1.0
    assert outcome.stop_predictions is None


def test_predicted_class_and_confidence_follow_the_batch_order():
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    outcome = engine.run_round(problem, _settings("margin"))
    chosen = outcome.proba[outcome.selection.indices]
    assert outcome.predicted.tolist() == outcome.model.classes_[chosen.argmax(axis=1)].tolist()
    assert np.allclose(outcome.confidence, chosen.max(axis=1))
    assert all(0.5 <= c <= 1.0 for c in outcome.confidence)


@pytest.mark.parametrize("key", ["random", "margin", "vote_entropy", "coreset", "mix"])
def test_the_same_seed_gives_the_same_batch(key):
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    first = engine.run_round(problem, _settings(key, _sampling_for(key), seed=3))
    again = engine.run_round(problem, _settings(key, _sampling_for(key), seed=3))
    assert first.selection.indices.tolist() == again.selection.indices.tolist()


def test_another_seed_gives_another_random_batch():
    X, y = _blobs()
    problem, _ = _problem(X, y, TRAIN)
    batches = {tuple(engine.run_round(problem, _settings("random", seed=s)).selection.indices) for s in range(4)}
    assert len(batches) == 4


# Stability between successive models (Cohen's kappa on the stop set).


@pytest.mark.parametrize("previous, current, kappa", [
    ([0, 0, 1, 1], [0, 1, 1, 1], 0.5),    # agreement 3/4, chance 1/2
    ([0, 1, 0, 1], [1, 0, 1, 0], -1.0),   # always disagree
    ([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], 1.0),
    ([1, 1, 1, 1], [1, 1, 1, 0], 0.0),    # agreement 3/4 is exactly chance
    ([1, 1, 1], [1, 1, 1], 1.0),          # one class both times: identical, not NaN
])
def test_stability_kappa_is_cohens_kappa_between_the_two_models(previous, current, kappa):
    assert engine.stability_kappa(np.array(previous), np.array(current)) == pytest.approx(kappa)


@pytest.mark.parametrize("previous, current", [
    (None, [0, 1]), ([0, 1], None), ([0, 1, 1], [0, 1]), ([], []),
])
def test_stability_kappa_is_none_without_two_comparable_predictions(previous, current):
    previous = None if previous is None else np.array(previous)
    current = None if current is None else np.array(current)
    assert engine.stability_kappa(previous, current) is None
