"""Rounds: labels trigger a job on the Huey queue (immediate mode), which fits a model,
measures it on the evaluation split and writes the next batch."""
import random
from datetime import timedelta

import joblib
import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from activelearning import features, jobs
from activelearning.learners import FeatureCache
from activelearning.models import ModelVersion, QueueEntry, Round, TrainingJob
from activelearning.services import request_round
from annotations import services
from annotations.demo import SAMPLE_FILE, read_sentiment_file, shared_dataset_dir
from annotations.models import Item, Membership, Project
from tests.conftest import add_items, break_learner, client_for, make_project, make_user

POOL_TEXTS = [f"{mood} film number {n}" for n in range(30) for mood in ("good", "bad")]
EVAL_TEXTS = ["good film", "great good fun", "good acting", "bad film", "bad plot", "very bad"]
EVAL_LABELS = ["positive"] * 3 + ["negative"] * 3


@pytest.fixture
def loop(cast, django_capture_on_commit_callbacks):
    """A project with a labeled evaluation split and an unlabeled pool; `label(n)` has
    the annotator claim and answer n items, with on-commit work (the rounds) run."""
    project = cast["project"]
    Project.objects.filter(pk=project.pk).update(retrain_every=6, batch_size=8)
    project.refresh_from_db()
    add_items(project, EVAL_TEXTS, labels=EVAL_LABELS, split="eval")
    add_items(project, POOL_TEXTS)
    answered = []

    def label(n, answer=None, user=None):
        user = user or cast["annotator"]
        for _ in range(n):
            held = services.claim_tasks(user, project, want=2)
            assert held, "nothing left to claim"
            item = held[0].item
            key = answer(item, len(answered)) if answer else ("positive", "negative")[len(answered) % 2]
            with django_capture_on_commit_callbacks(execute=True):
                services.submit_annotation(user, project, item.pk, key)
            answered.append(item.pk)
        return answered

    def run_manual_round():
        with django_capture_on_commit_callbacks(execute=True):
            return request_round(project.pk, reason="manual")

    cast.update(project=project, label=label, answered=answered, run_manual_round=run_manual_round)
    return cast


def test_no_round_runs_before_retrain_every_labels(loop):
    loop["label"](5)
    assert not TrainingJob.objects.exists()
    assert not Round.objects.exists()
    loop["project"].refresh_from_db()
    assert loop["project"].labels_since_round == 5


def test_the_retrain_every_th_label_runs_a_round_that_fits_measures_and_queues(loop):
    project = loop["project"]
    loop["label"](6)
    job = TrainingJob.objects.get(project=project)
    assert job.state == TrainingJob.State.SUCCEEDED
    assert job.reason == "labels"
    assert job.phase == "done" and job.finished_at is not None
    round_ = Round.objects.get(project=project)
    assert job.round == round_
    assert round_.number == 1
    assert round_.labels_used == 6
    assert round_.strategy == round_.strategy_used == "least_confidence"
    assert round_.selected == round_.batch_size == 8
    assert round_.note == ""
    assert set(round_.timings) >= {"features_s", "fit_s", "score_s", "select_s", "write_s"}

    version = ModelVersion.objects.get(project=project)
    assert round_.model_version == version
    assert version.version == 1 and version.labels_used == 6
    metrics = version.metrics
    assert metrics == round_.metrics
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "evaluated_on"}
    assert metrics["evaluated_on"] == len(EVAL_TEXTS)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert sum(c["support"] for c in metrics["per_class"].values()) == len(EVAL_TEXTS)

    project.refresh_from_db()
    assert project.labels_since_round == 0


def test_the_batch_comes_from_the_free_pool_only(loop):
    project = loop["project"]
    loop["label"](6)
    # Unlabeled evaluation items appear later; they must never be queued.
    add_items(project, ["unlabeled held out one", "unlabeled held out two"], split="eval")
    loop["run_manual_round"]()
    assert Round.objects.filter(project=project).count() == 2
    queued = Item.objects.filter(queue_entry__isnull=False)
    assert queued.count() == 8
    assert set(queued.values_list("split", flat=True)) == {"pool"}
    assert set(queued.values_list("status", flat=True)) == {"unlabeled"}
    assert not queued.filter(assigned_count__gt=0).exists(), "an item in someone's hands was queued"
    assert not queued.filter(pk__in=loop["answered"]).exists()
    ranks = sorted(QueueEntry.objects.filter(project=project).values_list("rank", flat=True))
    assert ranks == list(range(8))
    latest = Round.objects.get(project=project, number=2)
    assert set(QueueEntry.objects.values_list("round", flat=True)) == {latest.pk}
    # Queue entries carry the model's guess for the page's hint.
    assert all(e.predicted_class_id and 0.5 <= e.confidence <= 1.0 for e in QueueEntry.objects.all())


def test_the_batch_is_the_most_uncertain_items_of_the_pool(loop):
    project = loop["project"]
    loop["label"](6)
    round_ = Round.objects.get(project=project)
    model = joblib.load(round_.model_version.artifact)
    pool = features.project_features(project)
    free = list(
        Item.objects.filter(project=project, split="pool", status="unlabeled", assigned_count=0)
        .order_by("pk").values_list("pk", flat=True)
    )
    confidence = model.predict_proba(pool.matrix[pool.rows_for(free)]).max(axis=1)
    queued = set(QueueEntry.objects.values_list("item_id", flat=True))
    worst_queued = max(c for pk, c in zip(free, confidence) if pk in queued)
    best_left_out = min(c for pk, c in zip(free, confidence) if pk not in queued)
    assert worst_queued <= best_left_out + 1e-9


def test_the_next_claims_follow_the_new_queue(loop):
    project = loop["project"]
    loop["label"](6)
    newcomer = make_user()
    Membership.objects.create(project=project, user=newcomer)
    first = list(QueueEntry.objects.order_by("rank").values_list("item_id", flat=True))[:2]
    held = services.claim_tasks(newcomer, project, want=2)
    assert [a.item_id for a in held] == first
    assert [a.model_version for a in held] == [1, 1]


def test_rounds_come_in_sequence_and_the_api_shows_the_learning_curve(loop):
    project = loop["project"]
    loop["label"](18)
    assert list(Round.objects.filter(project=project).values_list("number", "labels_used")) == [(1, 6), (2, 12), (3, 18)]
    assert list(ModelVersion.objects.filter(project=project).values_list("version", flat=True)) == [1, 2, 3]
    curve = client_for(loop["annotator"]).get(f"/api/projects/{project.pk}/rounds/").json()
    assert [r["number"] for r in curve] == [1, 2, 3]
    assert all("accuracy" in r["metrics"] for r in curve)
    assert [r["model_version"] for r in curve] == [1, 2, 3]


def test_the_model_of_a_round_is_saved_and_can_predict(loop, settings):
    loop["label"](6)
    version = ModelVersion.objects.get()
    assert version.artifact.startswith(str(settings.MODEL_DIR))
    model = joblib.load(version.artifact)
    pool = features.project_features(loop["project"])
    assert model.predict_proba(pool.matrix[:3]).shape == (3, 2)


def test_only_one_class_labeled_falls_back_to_a_random_batch_with_a_note(loop):
    project = loop["project"]
    loop["label"](6, answer=lambda item, n: "positive")
    round_ = Round.objects.get(project=project)
    assert round_.strategy == "least_confidence"
    assert round_.strategy_used == "random"
    assert "two classes" in round_.note
    assert round_.model_version is None
    assert not ModelVersion.objects.exists()
    assert round_.metrics == {}
    entries = QueueEntry.objects.filter(project=project)
    assert entries.count() == 8
    assert all(e.predicted_class_id is None and e.confidence is None for e in entries)
    assert TrainingJob.objects.get().state == TrainingJob.State.SUCCEEDED


def test_a_round_before_any_label_queues_a_random_batch(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="import")
    round_ = Round.objects.get(project=project)
    assert round_.strategy_used == "random" and round_.selected == min(project.batch_size, len(POOL_TEXTS))


# The feature cache.


@pytest.fixture
def counted_builds(monkeypatch):
    calls = []
    real = features.build_features

    def counting(signature, item_ids, texts):
        calls.append(len(texts))
        return real(signature, item_ids, texts)

    monkeypatch.setattr(features, "build_features", counting)
    return calls


def test_features_are_built_once_per_pool_and_reused_across_rounds(loop, counted_builds):
    project = loop["project"]
    loop["label"](6)
    first = features.FEATURES.get(project.pk, features.project_features(project).signature)
    loop["label"](6)
    loop["run_manual_round"]()
    assert Round.objects.filter(project=project).count() == 3
    assert counted_builds == [len(POOL_TEXTS) + len(EVAL_TEXTS)]
    assert features.project_features(project) is first


def test_new_items_invalidate_the_features(loop, counted_builds):
    project = loop["project"]
    loop["label"](6)
    before = features.project_features(project)
    add_items(project, ["a brand new review", "and another one"])
    loop["run_manual_round"]()
    after = features.project_features(project)
    assert after is not before
    assert counted_builds == [len(POOL_TEXTS) + len(EVAL_TEXTS), len(POOL_TEXTS) + len(EVAL_TEXTS) + 2]
    assert after.matrix.shape[0] == before.matrix.shape[0] + 2


def test_deleted_items_invalidate_the_features(loop, counted_builds):
    project = loop["project"]
    loop["label"](6)
    Item.objects.filter(project=project, status="unlabeled").order_by("pk").first().delete()
    loop["run_manual_round"]()
    assert len(counted_builds) == 2


def test_a_restarted_worker_loads_the_features_from_disk(loop, counted_builds, monkeypatch, settings):
    project = loop["project"]
    loop["label"](6)
    monkeypatch.setattr(features, "FEATURES", FeatureCache(settings.MODEL_DIR))
    loop["run_manual_round"]()
    assert len(counted_builds) == 1
    assert Round.objects.filter(project=project).count() == 2


def test_a_recreated_project_with_the_same_ids_does_not_reuse_old_features(cast, counted_builds, django_capture_on_commit_callbacks):
    """After a database reset, a new project can get the old id and item ids; its texts differ."""
    project = cast["project"]
    add_items(project, ["good", "bad", "good good", "bad bad"], labels=["positive", "negative", "positive", "negative"])
    add_items(project, ["fine", "awful", "nice", "poor"])
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk)
    old_pk = project.pk
    old_items = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    ontology = project.ontology
    Project.objects.filter(pk=old_pk).delete()

    reborn = Project.objects.create(pk=old_pk, name="Reborn", ontology=ontology)
    Item.objects.bulk_create(
        [Item(pk=pk, project=reborn, text=f"totally different words {pk}") for pk in old_items]
    )
    pool = features.project_features(reborn)
    assert len(counted_builds) == 2
    assert pool.matrix.shape[0] == len(old_items)


# Jobs: one at a time, coalesced, recoverable.


def test_a_request_while_a_job_runs_is_coalesced_into_a_rerun(cast):
    project = cast["project"]
    running = TrainingJob.objects.create(project=project, state=TrainingJob.State.RUNNING, started_at=timezone.now())
    job = request_round(project.pk, reason="labels")
    assert job.pk == running.pk
    running.refresh_from_db()
    assert running.rerun_requested is True
    assert TrainingJob.objects.count() == 1
    assert request_round(project.pk).pk == running.pk
    assert TrainingJob.objects.count() == 1


def test_the_database_allows_one_active_job_per_project(cast):
    project = cast["project"]
    TrainingJob.objects.create(project=project, state=TrainingJob.State.QUEUED)
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingJob.objects.create(project=project, state=TrainingJob.State.RUNNING)
    other = make_project()
    TrainingJob.objects.create(project=other, state=TrainingJob.State.QUEUED)


def test_a_label_arriving_during_a_round_makes_one_more_round_afterwards(loop, monkeypatch):
    project = loop["project"]
    real = features.build_features
    arrivals = []

    def build_while_labels_arrive(signature, item_ids, texts):
        # While the job runs, two more requests come in: they fold into one rerun.
        arrivals.append(request_round(project.pk, reason="labels"))
        arrivals.append(request_round(project.pk, reason="labels"))
        return real(signature, item_ids, texts)

    monkeypatch.setattr(features, "build_features", build_while_labels_arrive)
    loop["label"](6)
    first = TrainingJob.objects.order_by("pk").first()
    assert {a.pk for a in arrivals} == {first.pk}
    jobs_run = list(TrainingJob.objects.order_by("pk").values_list("reason", "state"))
    assert jobs_run == [("labels", "succeeded"), ("coalesced", "succeeded")]
    assert Round.objects.filter(project=project).count() == 2


def test_a_queued_request_is_not_sent_again_within_a_minute(cast):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    queued = TrainingJob.objects.create(project=project)
    assert request_round(project.pk).pk == queued.pk
    queued.refresh_from_db()
    assert queued.state == TrainingJob.State.QUEUED
    assert not Round.objects.exists()


def test_a_request_finding_a_job_queued_for_over_a_minute_sends_it_again(cast):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    lost = TrainingJob.objects.create(project=project)
    TrainingJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert request_round(project.pk).pk == lost.pk
    lost.refresh_from_db()
    assert lost.state == TrainingJob.State.SUCCEEDED
    assert lost.round is not None


def test_a_job_running_for_over_an_hour_is_failed_and_a_new_one_starts(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    stuck = TrainingJob.objects.create(
        project=project, state=TrainingJob.State.RUNNING, started_at=timezone.now() - timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        fresh = request_round(project.pk)
    assert fresh.pk != stuck.pk
    stuck.refresh_from_db()
    assert stuck.state == TrainingJob.State.FAILED and "worker stopped" in stuck.error
    fresh.refresh_from_db()
    assert fresh.state == TrainingJob.State.SUCCEEDED


def test_running_a_job_twice_does_no_second_round(loop):
    loop["label"](6)
    job = TrainingJob.objects.get()
    jobs.run_round(job.pk)
    assert Round.objects.count() == 1


def test_resume_queued_jobs_sends_every_waiting_job(cast):
    from activelearning.services import resume_queued_jobs

    projects = [cast["project"], make_project()]
    for project in projects:
        add_items(project, POOL_TEXTS[:10])
        TrainingJob.objects.create(project=project)
    assert resume_queued_jobs() == 2
    assert set(TrainingJob.objects.values_list("state", flat=True)) == {"succeeded"}


def test_a_failing_job_is_recorded_and_leaves_the_last_model_and_queue(loop, monkeypatch):
    project = loop["project"]
    loop["label"](6)
    queue_before = list(QueueEntry.objects.order_by("rank").values_list("pk", "item_id", "round_id"))
    assert queue_before

    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded")

    break_learner(monkeypatch, broken)
    loop["run_manual_round"]()
    failed = TrainingJob.objects.order_by("-pk").first()
    assert failed.state == TrainingJob.State.FAILED
    assert failed.error == "RuntimeError: classifier exploded"
    assert "Traceback" in failed.traceback and "classifier exploded" in failed.traceback
    assert failed.finished_at is not None and failed.round is None
    assert list(QueueEntry.objects.order_by("rank").values_list("pk", "item_id", "round_id")) == queue_before
    assert ModelVersion.objects.count() == 1
    assert Round.objects.count() == 1

    listed = client_for(loop["admin"]).get(f"/api/projects/{project.pk}/jobs/").json()
    assert listed[0]["state"] == "failed" and "classifier exploded" in listed[0]["error"]

    # A failed job does not block the next one.
    monkeypatch.undo()
    monkeypatch.setattr(features, "FEATURES", FeatureCache(features.settings.MODEL_DIR))
    loop["run_manual_round"]()
    assert TrainingJob.objects.order_by("-pk").first().state == TrainingJob.State.SUCCEEDED
    assert Round.objects.count() == 2


def test_an_admin_can_ask_for_a_round_through_the_api(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    add_items(project, POOL_TEXTS)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/jobs/")
    assert response.status_code == 202
    assert response.json()["reason"] == "manual"
    assert Round.objects.filter(project=project).count() == 1


# Real data: the loop has to learn something.


def _sentences():
    folder = shared_dataset_dir()
    files = sorted(folder.glob("*_labelled.txt")) if folder.is_dir() else []
    pairs = [pair for f in files for pair in read_sentiment_file(f)]
    return pairs or read_sentiment_file(SAMPLE_FILE)


def _analyze():
    """Give PostgreSQL's planner the row counts a live database would have (the test's
    rows are all inserted inside one transaction, which autovacuum never sees)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotations_item; ANALYZE annotations_assignment; ANALYZE activelearning_queueentry")


def test_the_loop_learns_sentiment_from_a_few_hundred_labels(cast, django_capture_on_commit_callbacks):
    random.seed(20240601)  # the claims' random fallback, for a reproducible first batch
    pairs = _sentences()
    random.Random(7).shuffle(pairs)
    full = len(pairs) > 1000
    # The bundled sample (40 sentences) is the fallback when the shared dataset is absent:
    # there the bar is "better than chance" on 10 held-out sentences.
    eval_size, labels_wanted, every, bar = (300, 200, 50, 0.6) if full else (10, 30, 10, 0.5)
    truth = dict(pairs)
    project = make_project(
        classes=("0", "1"), retrain_every=every, batch_size=every,
        members=[(cast["annotator"], Membership.Role.ANNOTATOR)],
    )
    evaluation, pool = pairs[:eval_size], pairs[eval_size:]
    add_items(project, [t for t, _ in evaluation], labels=[y for _, y in evaluation], split="eval")
    add_items(project, [t for t, _ in pool])
    _analyze()

    served_by = []
    for _ in range(labels_wanted):
        held = services.claim_tasks(cast["annotator"], project, want=2)
        served_by.append(held[0].model_version)
        with django_capture_on_commit_callbacks(execute=True):
            services.submit_annotation(cast["annotator"], project, held[0].item_id, truth[held[0].item.text])

    rounds = list(Round.objects.filter(project=project).order_by("number"))
    assert [r.labels_used for r in rounds] == list(range(every, labels_wanted + 1, every))
    final = rounds[-1].metrics
    assert final["evaluated_on"] == eval_size
    assert final["accuracy"] > bar, final
    assert final["macro_f1"] > bar - 0.05, final
    assert np.isfinite([r.metrics["accuracy"] for r in rounds]).all()
    # Before the first round items came at random; after it, from the model's queue
    # (but for the one item already in hand when each round finished).
    assert set(served_by[:every]) == {None}
    assert sum(v is None for v in served_by[every:]) <= 1
    assert [v for v in served_by if v is not None] == sorted(v for v in served_by if v is not None)
