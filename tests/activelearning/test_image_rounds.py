"""Image items in the worker: an image-classification round on pixels, a folder import
from the command line, and a detector that fine-tunes from admin-uploaded weights."""
import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from activelearning.models import ModelVersion, QueueEntry, Round
from activelearning.services import request_round
from activelearning.synthetic_shapes import generate
from annotations.formats.yolo import read_yolo
from annotations.media import DecodedImage, decode_image, save_images
from annotations.models import Item, LabelClass, Membership, Project
from annotations.vision_io import import_labels
from tests.conftest import client_for, make_project, make_user


def coloured(colour, size=16) -> DecodedImage:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, "PNG")
    return decode_image("c.png", buffer.getvalue())


def test_an_image_classification_round_learns_from_pixels_and_queues(db, django_capture_on_commit_callbacks):
    project = make_project(classes=("red", "blue"), kind=Project.Kind.IMAGE_CLASSIFICATION, learner="image_cnn",
                           batch_size=5)
    reds = save_images(project, [coloured((200 + n, 10, 10)) for n in range(8)])
    blues = save_images(project, [coloured((10, 10, 200 + n)) for n in range(8)])
    classes = {c.key: c for c in LabelClass.objects.filter(ontology=project.ontology)}
    for ids, key in ((reds[:4], "red"), (blues[:4], "blue")):
        Item.objects.filter(pk__in=ids).update(status=Item.Status.LABELED, final_class=classes[key])
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    round_ = Round.objects.get(project=project)
    assert round_.model_version is not None and round_.learner == "image_cnn"
    assert round_.labels_used == 8 and round_.pool_size == 8
    queued = list(QueueEntry.objects.filter(project=project).select_related("predicted_class"))
    assert len(queued) == 5
    truth = {pk: "red" for pk in reds} | {pk: "blue" for pk in blues}
    assert all(entry.predicted_class.key == truth[entry.item_id] for entry in queued)


def test_import_items_takes_a_folder_of_images_for_an_image_project(db, tmp_path):
    project = make_project(classes=("a", "b"), kind=Project.Kind.DETECTION, learner="yolo_detect")
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (20, 10), "red").save(folder / "one.png")
    Image.new("RGB", (8, 8), "blue").save(folder / "sub" / "two.jpg")
    (folder / "notes.txt").write_text("not a picture")
    out = io.StringIO()
    call_command("import_items", str(project.pk), str(folder), "--no-round", stdout=out)
    assert "Imported 2 images" in out.getvalue() and "notes.txt" in out.getvalue()
    assert sorted(Item.objects.filter(project=project).values_list("external_id", "width")) == [
        ("one.png", 20), ("sub/two.jpg", 8),
    ]
    with pytest.raises(CommandError, match="Nothing at"):
        call_command("import_items", str(project.pk), str(tmp_path / "missing"), "--no-round")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.pkl", b"x")
    return buffer.getvalue()


def test_weights_upload_is_for_admins_and_must_be_a_torch_file(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin, annotator = make_user("w-adm"), make_user("w-ann")
    project = make_project(classes=("a",), kind=Project.Kind.DETECTION, learner="yolo_detect",
                           members=[(admin, Membership.Role.ADMIN), (annotator, Membership.Role.ANNOTATOR)])
    url = f"/api/projects/{project.pk}/weights/"
    bad = client_for(admin).post(url, {"file": SimpleUploadedFile("w.pt", b"not a zip")}, format="multipart")
    assert bad.status_code == 400 and "not a PyTorch .pt file" in bad.json()["detail"]
    refused = client_for(annotator).post(url, {"file": SimpleUploadedFile("w.pt", zip_bytes())}, format="multipart")
    assert refused.status_code == 403
    good = client_for(admin).post(url, {"file": SimpleUploadedFile("w.pt", zip_bytes())}, format="multipart")
    assert good.status_code == 201
    project.refresh_from_db()
    assert project.training["weights"] == good.json()["weights"] and project.training["weights"].endswith(".pt")


def test_a_detector_fine_tunes_from_uploaded_weights(db, tmp_path, settings, django_capture_on_commit_callbacks):
    project = make_project(
        classes=("circle", "square", "triangle"), kind=Project.Kind.DETECTION, learner="yolo_detect", batch_size=2,
        strategy="det_least_confident",
        training={"epochs": 1, "imgsz": 64, "batch": 8, "min_labeled": 4, "quality_bar": 0.0},
    )
    dataset = read_yolo(generate(tmp_path / "shapes", 10, image_size=64, seed=5))
    pool = dataset.images[6:]
    dataset.images = dataset.images[:6]
    import_labels(project, dataset, None, "annotations")
    save_images(project, [decode_image(Path(r.path).name, Path(r.path).read_bytes()) for r in pool])
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    first = ModelVersion.objects.get(project=project)
    weights_dir = Path(settings.MEDIA_ROOT) / "weights"
    weights_dir.mkdir(parents=True)
    (weights_dir / "start.pt").write_bytes(Path(first.artifact).read_bytes())
    Project.objects.filter(pk=project.pk).update(training={**project.training, "weights": "start.pt"})
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    second = Round.objects.get(project=project, number=2)
    assert second.model_version is not None, second.note
    assert second.config["training"]["weights"] == "start.pt"
