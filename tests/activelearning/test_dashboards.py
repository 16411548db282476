"""The dashboard's series, on a project whose numbers are known: progress and pace, the
learning curve with stopping markers and the random baseline, classes against targets,
and the pool's uncertainty per round (after a real round through the job queue)."""
import pytest

from activelearning.models import Round, SimulationRun
from activelearning.services import request_round
from annotations import services, snapshots
from annotations.models import Project
from tests.conftest import add_items, client_for

GOOD = [f"good lovely film {n}" for n in range(15)]
BAD = [f"bad boring film {n}" for n in range(15)]


@pytest.fixture
def worked(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    Project.objects.filter(pk=project.pk).update(
        retrain_every=1000, sampling={**project.sampling, "target_ratios": {"positive": 0.8, "negative": 0.2}},
    )
    project.refresh_from_db()
    add_items(project, GOOD + BAD)
    for number in range(10):
        held = services.claim_tasks(cast["annotator"], project, want=1)[0]
        label = "positive" if held.item.text.startswith("good") else "negative"
        services.submit_annotation(cast["annotator"], project, held.item_id, label, duration_ms=2000 + number)
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    return project


def test_a_large_projects_dashboard_comes_from_a_snapshot_that_says_when(cast, worked, settings):
    settings.LABELER_PROGRESS_EXACT_BELOW = 5  # 30 items: "large"
    settings.LABELER_PROGRESS_MAX_AGE_S = 3600
    snapshots.forget()
    reviewer = client_for(cast["reviewer"])
    url = f"/api/projects/{worked.pk}/dashboard/"
    reviewer.get(url)  # the first call counts the items and learns the size
    first = reviewer.get(url).json()
    held = services.claim_tasks(cast["annotator"], worked, want=1)[0]
    services.submit_annotation(cast["annotator"], worked, held.item_id, "positive")
    again = reviewer.get(url).json()
    assert again["progress"]["labeled"] == first["progress"]["labeled"] == 10, "served from the snapshot"
    assert again["as_of"] == first["as_of"]
    settings.LABELER_PROGRESS_EXACT_BELOW = 1000  # small again: counted on every call
    assert reviewer.get(url).json()["progress"]["labeled"] == 11
    snapshots.forget()


def test_the_dashboard_counts_progress_and_pace(cast, worked):
    data = client_for(cast["reviewer"]).get(f"/api/projects/{worked.pk}/dashboard/").json()
    progress = data["progress"]
    assert (progress["total"], progress["labeled"], progress["remaining"]) == (30, 10, 20)
    assert sum(day["answers"] for day in progress["per_day"]) == 10
    assert progress["per_annotator"][0]["annotator"] == "ann"
    assert progress["pace_per_day"] == pytest.approx(10 / 7, abs=0.01)
    assert progress["days_to_finish"] == pytest.approx(20 / (10 / 7), abs=0.1)


def test_classes_are_shown_against_their_targets(cast, worked):
    classes = {c["key"]: c for c in client_for(cast["admin"]).get(
        f"/api/projects/{worked.pk}/dashboard/").json()["classes"]["classes"]}
    assert classes["positive"]["target"] == 0.8 and classes["negative"]["target"] == 0.2
    assert classes["positive"]["count"] + classes["negative"]["count"] == 10


def test_each_round_keeps_the_pool_uncertainty_histogram(cast, worked):
    data = client_for(cast["admin"]).get(f"/api/projects/{worked.pk}/dashboard/").json()
    (latest,) = data["uncertainty"]["rounds"]
    histogram = latest["histogram"]
    assert len(histogram["counts"]) == 20 and len(histogram["edges"]) == 21
    assert sum(histogram["counts"]) == histogram["items"] == Round.objects.get().pool_size == 20


def test_the_learning_curve_has_one_line_per_learner_stops_and_the_random_baseline(cast, worked):
    Round.objects.create(project=worked, number=2, learner="minilm_logreg", strategy="margin", strategy_used="margin",
                         batch_size=5, selected=5, pool_size=20, labels_used=15, metrics={"accuracy": 0.9},
                         stopping={"fired": ["plateau"], "recommend_stop": True})
    SimulationRun.objects.create(project=worked, state="succeeded", result={"strategies": {"random": {
        "labels": [10, 20], "accuracy_mean": [0.6, 0.7]}}})
    curve = client_for(cast["admin"]).get(f"/api/projects/{worked.pk}/dashboard/").json()["learning_curve"]
    assert set(curve["lines"]) == {"tfidf_logreg", "minilm_logreg"}
    assert curve["lines"]["minilm_logreg"][0] == {"round": 2, "labels": 15, "strategy": "margin", "accuracy": 0.9}
    assert curve["stops"] == [{"round": 2, "labels": 15, "fired": ["plateau"]}]
    assert curve["random_baseline"]["labels"] == [10, 20] and curve["random_baseline"]["values"] == [0.6, 0.7]


def test_annotators_do_not_see_the_dashboard_data(cast, worked):
    assert client_for(cast["annotator"]).get(f"/api/projects/{worked.pk}/dashboard/").status_code == 403
