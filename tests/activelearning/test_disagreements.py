"""Model-label disagreements: found after a real round (through the job queue), listed,
and settled by a reviewer with the outcome counted."""
import numpy as np
import pytest

from activelearning.disagreements import contradictions, out_of_fold_proba, region_contradictions
from activelearning.learners import LEARNERS
from activelearning.models import Disagreement
from activelearning.services import request_round
from annotations import services
from annotations.models import Annotation, Assignment, Item, Project
from tests.conftest import add_items, client_for

GOOD = [f"good lovely great film number {n}" for n in range(20)]
BAD = [f"bad awful boring film number {n}" for n in range(20)]


def test_contradictions_are_confident_different_classes_most_confident_first():
    proba = np.array([[0.95, 0.05], [0.2, 0.8], [0.6, 0.4], [0.02, 0.98]])
    rows, predicted, confidence = contradictions(proba, np.array([10, 20]), np.array([20, 20, 20, 10]), 0.9)
    assert rows.tolist() == [3, 0]
    assert predicted.tolist() == [20, 10]
    assert confidence.tolist() == [0.98, 0.95]


def test_contradictions_reject_misshapen_input():
    with pytest.raises(ValueError, match="proba must be"):
        contradictions(np.ones(3), np.array([0, 1]), np.array([0, 1, 1]), 0.9)


def test_out_of_fold_sees_a_flipped_label_the_full_fit_would_memorise():
    texts = GOOD + BAD
    y = np.array([1] * 20 + [0] * 20)
    y[3] = 0
    spec = LEARNERS["tfidf_logreg"]
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer().fit_transform(texts)
    proba, classes = out_of_fold_proba(spec.factory, X, y, seed=1)
    assert classes.tolist() == [0, 1]
    assert proba[3].argmax() == 1, "a model that never saw item 3 calls it good"


def test_out_of_fold_needs_two_labels_per_class():
    assert out_of_fold_proba(LEARNERS["tfidf_logreg"].factory, np.zeros((3, 2)), np.array([0, 0, 1]), seed=1) is None


@pytest.fixture
def flipped(cast, django_capture_on_commit_callbacks):
    """40 labeled items, one of them deliberately mislabeled, and a round run."""
    project = cast["project"]
    Project.objects.filter(pk=project.pk).update(retrain_every=1000)
    project.refresh_from_db()
    project.review = {**project.review, "disagreement_confidence": 0.6}
    project.save(update_fields=["review"])
    add_items(project, GOOD + BAD)
    wrong = None
    for _ in range(Item.objects.filter(project=project).count()):
        services.claim_tasks(cast["annotator"], project, want=1)
        held = Assignment.objects.filter(annotator=cast["annotator"], status="active").first()
        truth = "positive" if held.item.text.startswith("good") else "negative"
        if wrong is None and truth == "positive":
            truth, wrong = "negative", held.item_id
        services.submit_annotation(cast["annotator"], project, held.item_id, truth)
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    return project, wrong


def test_a_round_lists_the_mislabeled_item_and_a_reviewer_corrects_it(cast, flipped):
    project, wrong = flipped
    reviewer = client_for(cast["reviewer"])
    listing = reviewer.get(f"/api/projects/{project.pk}/disagreements/").json()
    rows = {row["item"]: row for row in listing["disagreements"]}
    assert wrong in rows
    assert rows[wrong]["human_label"] == "negative" and rows[wrong]["model_label"] == "positive"
    assert rows[wrong]["confidence"] >= 0.6
    assert listing["counts"]["open"] == len(rows)

    response = reviewer.post(f"/api/projects/{project.pk}/disagreements/{rows[wrong]['id']}/settle/",
                             {"outcome": "corrected", "label": "positive"}, format="json")
    assert response.status_code == 200, response.content
    assert Item.objects.get(pk=wrong).final_class.key == "positive"
    counts = reviewer.get(f"/api/projects/{project.pk}/disagreements/").json()["counts"]
    assert counts["corrected"] == 1 and counts["human_error"] == 1
    actions = [e["action"] for e in reviewer.get(f"/api/projects/{project.pk}/items/{wrong}/history/").json()]
    assert actions == ["submitted", "corrected", "disagreement"]


def test_confirming_counts_a_model_weakness_and_is_not_raised_again(cast, flipped, django_capture_on_commit_callbacks):
    project, wrong = flipped
    row = Disagreement.objects.get(item_id=wrong)
    reviewer = client_for(cast["reviewer"])
    url = f"/api/projects/{project.pk}/disagreements/{row.pk}/settle/"
    assert reviewer.post(url, {"outcome": "confirmed"}, format="json").status_code == 200
    assert reviewer.post(url, {"outcome": "corrected", "label": "positive"}, format="json").status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    assert Disagreement.objects.filter(item_id=wrong).count() == 1, "a confirmed label is not raised every round"
    counts = reviewer.get(f"/api/projects/{project.pk}/disagreements/").json()["counts"]
    assert counts["model_weakness"] == 1


def test_relabel_sends_the_answer_back_to_its_annotator(cast, flipped):
    project, wrong = flipped
    row = Disagreement.objects.get(item_id=wrong)
    response = client_for(cast["reviewer"]).post(
        f"/api/projects/{project.pk}/disagreements/{row.pk}/settle/", {"outcome": "relabel"}, format="json"
    )
    assert response.status_code == 200
    answer = Annotation.objects.get(item_id=wrong)
    assert answer.review_status == "rejected" and "model disagrees" in answer.review_reason
    tasks = services.claim_tasks(cast["annotator"], project, want=1)
    assert tasks[0].item_id == wrong and tasks[0].status == "returned"


def test_a_bad_outcome_says_which_ones_exist(cast, flipped):
    project, wrong = flipped
    row = Disagreement.objects.get(item_id=wrong)
    response = client_for(cast["reviewer"]).post(
        f"/api/projects/{project.pk}/disagreements/{row.pk}/settle/", {"outcome": "maybe"}, format="json"
    )
    assert response.status_code == 400 and "confirmed" in response.json()["detail"]
    assert Disagreement.objects.get(pk=row.pk).outcome == "open"


def test_region_contradictions_find_missed_objects_and_wrong_classes():
    from annotations.formats.regions import Region

    human = [Region(label="cat", kind="box", box=(0.1, 0.1, 0.2, 0.2)),
             Region(label="dog", kind="box", box=(0.6, 0.6, 0.2, 0.2))]
    predicted = [Region(label="cat", kind="box", box=(0.11, 0.1, 0.2, 0.2), score=0.95),
                 Region(label="cat", kind="box", box=(0.6, 0.61, 0.2, 0.2), score=0.93),
                 Region(label="dog", kind="box", box=(0.4, 0.0, 0.1, 0.1), score=0.91)]
    found = region_contradictions(human, predicted, 100, 100)
    assert [(f["problem"], f["human_label"], f["model_label"]) for f in found] == [
        ("class", "dog", "cat"), ("missed", None, "dog"),
    ]


def test_a_detection_round_records_images_where_the_model_sees_what_the_human_did_not(cast):
    from annotations.formats.regions import ImageRecord, Region

    project = cast["project"]
    Project.objects.filter(pk=project.pk).update(kind=Project.Kind.DETECTION)
    project.refresh_from_db()
    add_items(project, ["image one", "image two"])
    first, second = Item.objects.filter(project=project).order_by("pk")
    records = [
        ImageRecord(file_name=f"{first.pk:08d}_a.png", width=100, height=100, path="a.png",
                    regions=[Region(label="negative", kind="box", box=(0.1, 0.1, 0.2, 0.2))]),
        ImageRecord(file_name=f"{second.pk:08d}_b.png", width=100, height=100, path="b.png", regions=[]),
    ]

    class ConfidentModel:
        def predict(self, paths, conf):
            assert paths == ["a.png", "b.png"] and conf == 0.9
            return [[{"label": 0, "confidence": 0.97, "box": [0.1, 0.1, 0.2, 0.2]}],
                    [{"label": 1, "confidence": 0.95, "box": [0.5, 0.5, 0.2, 0.2]}]]

    from activelearning.disagreements import find_region_disagreements
    from activelearning.models import Round

    round_ = Round.objects.create(project=project, number=1, strategy="random", strategy_used="random",
                                  batch_size=1, selected=0, pool_size=0, labels_used=2)
    assert find_region_disagreements(project, round_, ConfidentModel(), records, ["negative", "positive"]) == 1
    row = Disagreement.objects.get()
    assert row.item_id == second.pk and row.model_class.key == "positive" and row.human_class is None
    assert row.detail["shapes"][0]["problem"] == "missed"
    assert find_region_disagreements(project, round_, ConfidentModel(), records, ["negative", "positive"]) == 0
