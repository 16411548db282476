"""A detection project's round through the real queue: the labeled images become a YOLO
dataset, the detector trains (1 epoch, tiny images, offline), predicts on the pool, its
boxes become suggestions, and a detection strategy orders the queue."""
from pathlib import Path

import pytest

from activelearning.models import ModelVersion, Prediction, QueueEntry, Round
from activelearning.services import request_round
from activelearning.synthetic_shapes import generate
from annotations.formats.yolo import read_yolo
from annotations.media import decode_image, save_images
from annotations.models import Item, Membership, Project
from annotations.services import claim_tasks
from annotations.vision_io import import_labels
from tests.conftest import client_for, make_project, make_user


@pytest.fixture
def shapes_project(db, tmp_path):
    annotator = make_user("det-ann")
    project = make_project(
        classes=("circle", "square", "triangle"), kind=Project.Kind.DETECTION, learner="yolo_detect",
        strategy="det_least_confident", batch_size=4,
        training={"epochs": 1, "imgsz": 64, "batch": 8, "min_labeled": 4, "quality_bar": 0.0},
        members=[(annotator, Membership.Role.ANNOTATOR)],
    )
    data_yaml = generate(tmp_path / "shapes", 14, image_size=64, seed=3)
    dataset = read_yolo(data_yaml)
    labeled, pool = dataset.images[:8], dataset.images[8:]
    dataset.images = labeled
    import_labels(project, dataset, None, "annotations")
    save_images(project, [decode_image(Path(r.path).name, Path(r.path).read_bytes()) for r in pool])
    return {"project": project, "annotator": annotator, "pool": len(pool)}


def test_a_detection_round_trains_predicts_suggests_and_queues(shapes_project, django_capture_on_commit_callbacks):
    project = shapes_project["project"]
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    round_ = Round.objects.get(project=project)
    assert round_.model_version is not None, round_.note
    assert round_.labels_used == 8 and round_.pool_size == shapes_project["pool"]
    assert round_.strategy_used == "det_least_confident"
    assert Path(ModelVersion.objects.get(project=project).artifact).suffix == ".pt"
    assert Prediction.objects.filter(project=project).count() == shapes_project["pool"]
    assert QueueEntry.objects.filter(project=project).count() == 4
    scores = list(QueueEntry.objects.filter(project=project).order_by("rank").values_list("score", flat=True))
    assert scores == sorted(scores, reverse=True)
    (task,) = claim_tasks(shapes_project["annotator"], project, want=1)
    assert QueueEntry.objects.filter(item_id=task.item_id).exists() or task.rank is not None
    payload = client_for(shapes_project["annotator"]).post(
        f"/api/projects/{project.pk}/tasks/claim/", {"want": 1}, format="json"
    ).json()["tasks"][0]
    assert payload["suggestions"]["model_version"] == round_.number
    for region in payload["suggestions"]["regions"]:
        assert region["label"] in {"circle", "square", "triangle"}
        x, y, w, h = region["geometry"]["box"]
        assert 0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1


def test_too_few_labeled_images_choose_the_batch_by_diversity(shapes_project, django_capture_on_commit_callbacks):
    project = shapes_project["project"]
    Project.objects.filter(pk=project.pk).update(training={**project.training, "min_labeled": 50})
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    round_ = Round.objects.get(project=project)
    assert round_.model_version is None and round_.strategy_used == "coreset"
    assert "8 of 50 labeled images" in round_.note
    assert QueueEntry.objects.filter(project=project).count() == 4
    assert not Prediction.objects.exists()
    assert Item.objects.filter(project=project, status="labeled").count() == 8
