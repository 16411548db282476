"""What a project's round records (activelearning.rounds), through the real queue in
immediate mode: the learner and settings it ran with, training accuracy, agreement with
the previous model, stopping advice, drift of new arrivals, and the queue it filled
with each kind of strategy and learner."""
import joblib
import numpy as np
import pytest

from activelearning import engine, features, rounds
from activelearning.config import validate_sampling
from activelearning.models import ModelVersion, QueueEntry, Round, TrainingJob
from activelearning.services import request_round
from annotations import services
from annotations.models import Item, LabelClass, Membership, Project
from tests.conftest import add_items, client_for, make_project

POOL_TEXTS = [f"{mood} film number {n}" for n in range(30) for mood in ("good", "bad")]
EVAL_TEXTS = ["good film", "great good fun", "good acting", "bad film", "bad plot", "very bad"]
EVAL_LABELS = ["positive"] * 3 + ["negative"] * 3


def _truth(item) -> str:
    return "positive" if "good" in item.text else "negative"


@pytest.fixture
def events(monkeypatch):
    """The events rounds publish after their commit, as (type, payload)."""
    published = []
    monkeypatch.setattr(rounds, "publish_on_commit",
                        lambda project_id, event_type, **payload: published.append((event_type, payload)))
    return published


@pytest.fixture
def loop(cast, django_capture_on_commit_callbacks):
    """A project with a labeled evaluation split and an unlabeled pool; `label(n)` has the
    annotator answer n items truthfully, `round()` asks for a round now; on-commit work
    (the rounds) runs on the spot."""
    project = cast["project"]

    def configure(pool=POOL_TEXTS, **fields):
        Project.objects.filter(pk=project.pk).update(retrain_every=6, batch_size=8, **fields)
        project.refresh_from_db()
        add_items(project, EVAL_TEXTS, labels=EVAL_LABELS, split="eval")
        add_items(project, pool)

    def label(n):
        for _ in range(n):
            held = services.claim_tasks(cast["annotator"], project, want=2)
            assert held, "nothing left to claim"
            with django_capture_on_commit_callbacks(execute=True):
                services.submit_annotation(cast["annotator"], project, held[0].item_id, _truth(held[0].item))

    def run_round():
        with django_capture_on_commit_callbacks(execute=True):
            request_round(project.pk, reason="manual")
        assert TrainingJob.objects.order_by("-pk").first().state == TrainingJob.State.SUCCEEDED
        return Round.objects.filter(project=project).order_by("-number").first()

    cast.update(project=project, configure=configure, label=label, run_round=run_round)
    return cast


def _class_id(project, key: str) -> int:
    return LabelClass.objects.get(ontology=project.ontology, key=key).pk


def test_a_round_records_its_learner_settings_and_training_accuracy(loop):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.learner == "tfidf_logreg"
    assert round_.config == {"strategy": "least_confidence", "learner": "tfidf_logreg", **validate_sampling({})}
    model = joblib.load(round_.model_version.artifact)
    labeled = list(Item.objects.filter(project=project, split="pool", status="labeled").order_by("pk"))
    matrix = features.project_features(project)
    truth = [item.final_class_id for item in labeled]
    expected = np.mean(model.predict(matrix.matrix[matrix.rows_for([i.pk for i in labeled])]) == truth)
    assert round_.train_accuracy == pytest.approx(expected)
    shown = client_for(loop["reviewer"]).get(f"/api/projects/{project.pk}/rounds/").json()[0]
    assert shown["learner"] == "tfidf_logreg" and shown["config"]["strategy"] == "least_confidence"
    assert shown["train_accuracy"] == pytest.approx(expected)
    assert "stop" not in shown["details"]  # the stop-set predictions stay server-side


def test_a_round_without_a_model_records_no_training_accuracy_or_agreement(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="import")
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "random"
    assert round_.train_accuracy is None and round_.stability_kappa is None
    assert round_.drift == {}


def test_agreement_with_the_previous_model_starts_at_the_second_model_round(loop):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    loop["label"](6)
    first, second = Round.objects.filter(project=project).order_by("number")
    assert first.stability_kappa is None
    previous = np.array(first.details["stop"]["predictions"])
    current = np.array(second.details["stop"]["predictions"])
    assert len(previous) == len(current) == len(POOL_TEXTS)
    assert second.stability_kappa == pytest.approx(engine.stability_kappa(previous, current))
    assert -1.0 <= second.stability_kappa <= 1.0


def test_a_changed_stop_set_restarts_the_agreement(loop):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    add_items(project, ["a good new film", "a bad new film"])
    assert loop["run_round"]().stability_kappa is None
    assert loop["run_round"]().stability_kappa is not None


def test_a_label_budget_fires_and_recommends_stopping(loop, events):
    project = loop["project"]
    loop["configure"](stopping={"budget": {"labels": 5}})
    loop["label"](6)
    stopping = Round.objects.get(project=project).stopping
    assert stopping["recommend_stop"] is True
    assert stopping["fired"] == ["budget.labels"]
    [criterion] = stopping["criteria"]
    assert criterion["key"] == "budget.labels" and criterion["value"] == 6 and criterion["threshold"] == 5
    assert criterion["message"] == "6 of 5 labels used: budget reached."
    ready = [payload for kind, payload in events if kind == "batch.ready"]
    assert ready[-1]["stopping"] == {"recommend_stop": True, "fired": ["budget.labels"]}
    assert ready[-1]["round"] == 1 and ready[-1]["size"] == 8


def test_a_budget_not_reached_recommends_going_on(loop, events):
    project = loop["project"]
    loop["configure"](stopping={"budget": {"labels": 100}})
    loop["label"](6)
    stopping = Round.objects.get(project=project).stopping
    assert stopping["recommend_stop"] is False and stopping["fired"] == []
    assert [c["fired"] for c in stopping["criteria"]] == [False]
    assert events[-1][1]["stopping"] == {"recommend_stop": False, "fired": []}


def test_the_default_criteria_are_evaluated_every_round(loop):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    criteria = Round.objects.get(project=project).stopping["criteria"]
    assert [c["key"] for c in criteria] == ["plateau", "stability", "overfitting"]
    assert all(c["message"] for c in criteria)


def test_items_imported_after_a_round_are_the_new_items_of_the_next_drift_report(loop, events):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    assert Round.objects.get(project=project).drift == {}  # nothing to compare with yet
    arrivals = [f"some unrelated text about weather {n}" for n in range(25)]
    add_items(project, arrivals)
    drift = loop["run_round"]().drift
    assert drift["new_items"] == len(arrivals)
    assert drift["reference_items"] == 6
    assert drift["threshold"] == 0.15
    assert 0.0 <= drift["new_mean"] <= 1.0 and 0.0 <= drift["reference_mean"] <= 1.0
    assert drift["rise"] == pytest.approx(drift["new_mean"] - drift["reference_mean"])
    assert drift["alert"] == (drift["rise"] > 0.15)
    assert events[-1][1]["drift_alert"] is drift["alert"]
    # A round with no arrivals since the last one has nothing new to compare.
    again = loop["run_round"]().drift
    assert again["new_items"] == 0 and again["alert"] is False


def test_the_project_drift_threshold_is_used(loop):
    project = loop["project"]
    loop["configure"](stopping={"drift": {"threshold": 0.0}})
    loop["label"](6)
    add_items(project, [f"zzz qqq {n}" for n in range(20)])
    drift = loop["run_round"]().drift
    assert drift["threshold"] == 0.0
    assert drift["alert"] == (drift["rise"] > 0.0)


# Strategies that need more than probabilities, on a real project.


def test_a_mix_round_fills_the_queue_from_each_part(loop):
    project = loop["project"]
    sampling = validate_sampling({"mix": "margin:0.5,coreset:0.25,random:0.25"}, "mix")
    loop["configure"](strategy="mix", sampling=sampling)
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "mix"
    assert round_.config["mix"] == sampling["mix"]
    assert [(p["strategy"], p["count"]) for p in round_.details["parts"]] == [("margin", 4), ("coreset", 2),
                                                                              ("random", 2)]
    assert QueueEntry.objects.filter(project=project).count() == 8
    assert len(set(QueueEntry.objects.values_list("item_id", flat=True))) == 8


def test_coreset_uses_dense_embeddings_of_the_tfidf_computed_once(loop, settings, monkeypatch):
    project = loop["project"]
    loop["configure"](strategy="coreset")
    svd_file = settings.MODEL_DIR / f"project_{project.pk}" / "svd.joblib"
    fits = []
    real = features.tfidf_svd
    monkeypatch.setattr(features, "tfidf_svd", lambda *a, **k: fits.append(1) or real(*a, **k))
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "coreset"
    assert QueueEntry.objects.filter(project=project).count() == 8
    assert svd_file.exists()
    stored = joblib.load(svd_file)
    assert stored["vectors"].shape[0] == len(POOL_TEXTS) + len(EVAL_TEXTS)
    loop["run_round"]()
    assert fits == [1]  # the second round reads the stored vectors


def test_coreset_keeps_the_nearest_labeled_distances_and_measures_only_new_labels(loop, settings, monkeypatch):
    project = loop["project"]
    loop["configure"](strategy="coreset")
    measured = []
    real = features.min_sq_distances
    monkeypatch.setattr(features, "min_sq_distances", lambda x, centers: measured.append(len(centers)) or real(x, centers))
    loop["label"](6)
    loop["label"](6)
    assert Round.objects.filter(project=project).count() == 2
    assert measured == [6, 6]  # the second round measured its 6 new labels, not all 12
    labeled = sorted(Item.objects.filter(project=project, split="pool", status="labeled").values_list("pk", flat=True))
    matrix = features.ProjectMatrix(project, "tfidf_logreg")
    dense = matrix.dense()
    with np.load(settings.MODEL_DIR / f"project_{project.pk}" / "nearest_labeled.npz") as stored:
        assert stored["labeled_ids"].tolist() == labeled
        assert stored["sq"] == pytest.approx(real(dense, dense[matrix.rows_for(labeled)]), abs=1e-6)
    matrix.nearest_labeled_sq(labeled[1:])  # a label taken back: measured again from scratch
    assert measured[-1] == 11


def test_a_strategy_without_embeddings_computes_none(loop, settings):
    project = loop["project"]
    loop["configure"]()
    loop["label"](6)
    assert not (settings.MODEL_DIR / f"project_{project.pk}" / "svd.joblib").exists()


def test_class_balanced_fills_the_queue_by_the_target_ratios(loop):
    project = loop["project"]
    sampling = validate_sampling({"target_ratios": {"negative": 1.0}}, "class_balanced", ["negative", "positive"])
    loop["configure"](strategy="class_balanced", sampling=sampling)
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "class_balanced"
    negative = _class_id(project, "negative")
    assert list(QueueEntry.objects.filter(project=project).values_list("predicted_class_id", flat=True)) == [negative] * 8


def test_class_balanced_aiming_at_a_class_not_labeled_yet_still_runs(cast, django_capture_on_commit_callbacks):
    """Finding a rare class is what class balance is for: until the first item of it is
    labeled the model cannot predict it, and the round must not fail on its ratio."""
    project = make_project(classes=("negative", "neutral", "positive"), retrain_every=6, batch_size=8,
                           members=[(cast["annotator"], Membership.Role.ANNOTATOR)])
    sampling = validate_sampling({"target_ratios": {"neutral": 0.5, "negative": 0.25, "positive": 0.25}},
                                 "class_balanced", ["negative", "neutral", "positive"])
    Project.objects.filter(pk=project.pk).update(strategy="class_balanced", sampling=sampling)
    add_items(project, POOL_TEXTS)
    for _ in range(6):
        held = services.claim_tasks(cast["annotator"], project, want=2)
        with django_capture_on_commit_callbacks(execute=True):
            services.submit_annotation(cast["annotator"], project, held[0].item_id, _truth(held[0].item))
    job = TrainingJob.objects.get(project=project)
    assert job.state == TrainingJob.State.SUCCEEDED, job.error
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "class_balanced"
    assert QueueEntry.objects.filter(project=project).count() == 8


def test_a_saved_setting_made_invalid_falls_back_instead_of_failing_the_round(loop):
    project = loop["project"]
    # Ratios for a class the project no longer has (it was renamed or removed since).
    loop["configure"](strategy="class_balanced", sampling={"target_ratios": {"neutral": 1.0}})
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.strategy == "class_balanced"
    assert round_.config["strategy"] == "random" and round_.strategy_used == "random"
    assert QueueEntry.objects.filter(project=project).count() == 8


# The MiniLM learner: sentence embeddings, computed once per item.


@pytest.fixture
def counted_embeddings(monkeypatch):
    from activelearning import learners

    calls = []
    real = learners.embed_texts

    def counting(texts, *args, **kwargs):
        calls.append(len(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(learners, "embed_texts", counting)
    return calls


def test_the_minilm_learner_runs_rounds_and_embeds_each_item_once(loop, counted_embeddings, settings):
    project = loop["project"]
    pool = POOL_TEXTS[:34]
    loop["configure"](pool=pool, learner="minilm_logreg")
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    assert round_.learner == "minilm_logreg" and round_.config["learner"] == "minilm_logreg"
    assert ModelVersion.objects.get(project=project).learner == "minilm_logreg"
    assert round_.metrics["evaluated_on"] == len(EVAL_TEXTS)
    assert QueueEntry.objects.filter(project=project).count() == 8
    assert sum(counted_embeddings) == len(pool) + len(EVAL_TEXTS)
    assert (settings.MODEL_DIR / f"project_{project.pk}" / "sentence_embeddings.npz").exists()

    loop["run_round"]()
    assert sum(counted_embeddings) == len(pool) + len(EVAL_TEXTS), "a second round embedded again"
    add_items(project, ["a good new film", "a bad new film"])
    third = loop["run_round"]()
    assert sum(counted_embeddings) == len(pool) + len(EVAL_TEXTS) + 2, "only the new items are embedded"
    assert third.pool_size == Item.objects.filter(project=project, split="pool", status="unlabeled",
                                                  assigned_count=0).count()
