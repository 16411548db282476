"""Image projects through the API: uploads checked by decoding, zip archives read
safely, video frames, regions validated on submit, and COCO/YOLO/VOC in and out."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotations.formats.coco import read_coco
from annotations.formats.yolo import read_yolo
from annotations.models import Annotation, Item, LabelClass, Membership, Project, Region
from annotations.services import claim_tasks
from tests.conftest import client_for, make_project, make_user

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def png(width=64, height=48, colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.fixture
def vision(db):
    people = {"annotator": make_user("vann"), "admin": make_user("vadm"), "outsider": make_user("vout")}
    project = make_project(
        classes=("cat", "dog"), kind=Project.Kind.DETECTION, learner="yolo_detect",
        members=[(people["annotator"], Membership.Role.ANNOTATOR), (people["admin"], Membership.Role.ADMIN)],
    )
    people["project"] = project
    people["url"] = f"/api/projects/{project.pk}/"
    return people


def test_images_upload_together_and_each_is_decoded(vision):
    response = client_for(vision["admin"]).post(
        vision["url"] + "images/", {"files": [upload("a.png", png()), upload("b.png", png(30, 20))]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "skipped": []}
    items = Item.objects.filter(project=vision["project"]).order_by("pk")
    assert [(i.width, i.height, i.external_id) for i in items] == [(64, 48, "a.png"), (30, 20, "b.png")]
    assert all(Path(i.media.path).read_bytes()[:4] == b"\x89PNG" for i in items)


def test_a_file_that_is_not_an_image_refuses_the_upload_by_name(vision, settings):
    response = client_for(vision["admin"]).post(
        vision["url"] + "images/", {"files": [upload("a.png", png()), upload("notes.txt", b"hello")]},
        format="multipart",
    )
    assert response.status_code == 400
    assert "notes.txt" in response.json()["detail"]
    assert not Item.objects.exists()
    # The image written before the refusal was removed again.
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.png"))


def test_a_decompression_bomb_is_refused(vision, settings):
    settings.LABELER_MAX_IMAGE_PIXELS = 1000
    response = client_for(vision["admin"]).post(
        vision["url"] + "images/", {"files": [upload("big.png", png(100, 100))]}, format="multipart"
    )
    assert response.status_code == 400 and "big.png" in response.json()["detail"]
    assert "limit" in response.json()["detail"]


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_imports_its_images_and_reports_what_it_skipped(vision):
    data = zip_of({"set/one.png": png(), "set/two.jpg": b"not really a jpeg", "readme.md": b"# hi"})
    response = client_for(vision["admin"]).post(
        vision["url"] + "images/", {"files": [upload("batch.zip", data)]}, format="multipart"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 1
    assert {entry["name"] for entry in body["skipped"]} == {"set/two.jpg", "readme.md"}


def test_a_zip_entry_that_leaves_the_archive_refuses_the_whole_zip(vision):
    data = zip_of({"ok.png": png(), "../../etc/evil.png": png()})
    response = client_for(vision["admin"]).post(
        vision["url"] + "images/", {"files": [upload("batch.zip", data)]}, format="multipart"
    )
    assert response.status_code == 400 and "outside the archive" in response.json()["detail"]
    assert not Item.objects.exists()


def test_images_are_refused_by_a_text_project_and_need_the_admin_role(vision):
    text_project = make_project(members=[(vision["admin"], Membership.Role.ADMIN)])
    refused = client_for(vision["admin"]).post(
        f"/api/projects/{text_project.pk}/images/", {"files": [upload("a.png", png())]}, format="multipart"
    )
    assert refused.status_code == 400 and "text project" in refused.json()["detail"]
    annotator = client_for(vision["annotator"]).post(
        vision["url"] + "images/", {"files": [upload("a.png", png())]}, format="multipart"
    )
    assert annotator.status_code == 403


def test_the_picture_is_served_to_members_only(vision):
    client_for(vision["admin"]).post(vision["url"] + "images/", {"files": [upload("a.png", png())]}, format="multipart")
    item = Item.objects.get()
    member = client_for(vision["annotator"]).get(vision["url"] + f"items/{item.pk}/media/")
    assert member.status_code == 200 and b"".join(member.streaming_content)[:4] == b"\x89PNG"
    assert client_for(vision["outsider"]).get(vision["url"] + f"items/{item.pk}/media/").status_code == 404


def make_video(path: Path, frames: int = 30, fps: float = 10.0) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for index in range(frames):
        frame = np.zeros((48, 64, 3), dtype=np.uint8)
        frame[:, : (index * 2) % 64] = (index * 8) % 255  # a moving edge: frames differ
        writer.write(frame)
    writer.release()


def test_a_video_becomes_frames_every_n_seconds_or_the_most_informative(vision, tmp_path):
    path = tmp_path / "clip.avi"
    make_video(path)
    client = client_for(vision["admin"])
    every = client.post(vision["url"] + "videos/", {"file": upload("clip.avi", path.read_bytes()), "every_seconds": 1},
                        format="multipart")
    assert every.status_code == 201, every.content
    assert every.json()["frames"] == 3
    indexes = list(Item.objects.filter(video_id=every.json()["video"]).order_by("frame_index")
                   .values_list("frame_index", flat=True))
    assert indexes == [0, 10, 20]
    informative = client.post(vision["url"] + "videos/", {"file": upload("clip.avi", path.read_bytes()), "informative": 5},
                              format="multipart")
    assert informative.status_code == 201 and informative.json()["frames"] == 5
    frames = client_for(vision["annotator"]).get(vision["url"] + f"videos/{informative.json()['video']}/frames/").json()
    assert len(frames["frames"]) == 5
    assert [f["frame_index"] for f in frames["frames"]] == sorted(f["frame_index"] for f in frames["frames"])
    both = client.post(vision["url"] + "videos/", {"file": upload("clip.avi", path.read_bytes())}, format="multipart")
    assert both.status_code == 400


def test_a_submitted_box_is_stored_and_a_bad_one_is_refused_with_its_reason(vision):
    client_for(vision["admin"]).post(vision["url"] + "images/", {"files": [upload("a.png", png())]}, format="multipart")
    (task,) = claim_tasks(vision["annotator"], vision["project"], want=1)
    client = client_for(vision["annotator"])
    bad = client.post(vision["url"] + "annotations/", {
        "item": task.item_id, "regions": [{"label": "cat", "kind": "box", "geometry": {"box": [0.5, 0.5, 0.7, 0.2]}}],
    }, format="json")
    assert bad.status_code == 400 and "Region 1" in bad.json()["detail"] and "outside" in bad.json()["detail"]
    unknown = client.post(vision["url"] + "annotations/", {
        "item": task.item_id, "regions": [{"label": "horse", "kind": "box", "geometry": {"box": [0.1, 0.1, 0.2, 0.2]}}],
    }, format="json")
    assert unknown.status_code == 400 and "horse" in unknown.json()["detail"]
    polygon = client.post(vision["url"] + "annotations/", {
        "item": task.item_id, "regions": [{"label": "cat", "kind": "polygon",
                                           "geometry": {"polygons": [[0.1, 0.1, 0.5, 0.1, 0.3, 0.4]]}}],
    }, format="json")
    assert polygon.status_code == 400 and "not used in this project" in polygon.json()["detail"]
    assert not Annotation.objects.exists()
    good = client.post(vision["url"] + "annotations/", {
        "item": task.item_id, "client_id": "8f0c3c55-0d4e-4ad6-9d5a-3d8b8f3b1a01",
        "regions": [{"label": "dog", "kind": "box", "geometry": {"box": [0.1, 0.2, 0.3, 0.4]},
                     "from_model": True, "model_confidence": 0.8}],
    }, format="json")
    assert good.status_code == 201, good.content
    region = Region.objects.get()
    assert region.label_class.key == "dog" and region.geometry["box"] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert region.from_model and region.model_confidence == 0.8
    assert good.json()["regions"][0]["label"] == "dog"
    assert Item.objects.get().status == Item.Status.LABELED


def yolo_subset_zip(source: Path, count: int) -> bytes:
    names = sorted(path.name for path in (source / "images").iterdir())[:count]
    entries = {"data.yaml": (source / "data.yaml").read_bytes()}
    for name in names:
        entries[f"images/{name}"] = (source / "images" / name).read_bytes()
        label = source / "labels" / (Path(name).stem + ".txt")
        if label.exists():
            entries[f"labels/{Path(name).stem}.txt"] = label.read_bytes()
    return zip_of(entries)


@pytest.mark.parametrize(("dataset", "kind", "task"), [
    ("coco128_detect", Project.Kind.DETECTION, "detect"),
    ("coco128_seg", Project.Kind.SEGMENTATION, "segment"),
])
def test_yolo_labels_import_and_export_as_coco_and_yolo_with_the_same_regions(vision, tmp_path, dataset, kind, task):
    Project.objects.filter(pk=vision["project"].pk).update(kind=kind)
    client = client_for(vision["admin"])
    source = SHARED / dataset
    data = yolo_subset_zip(source, 6)
    imported = client.post(vision["url"] + "labels/import/", {"file": upload("set.zip", data), "add_classes": True},
                           format="multipart")
    assert imported.status_code == 201, imported.content
    assert imported.json()["images_created"] == 6
    original_dir = tmp_path / "original"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(original_dir)
    original = read_yolo(original_dir, task=task)
    by_name = {Path(record.file_name).name: record for record in original.images}

    coco = client.get(vision["url"] + "export/?export_format=coco")
    assert coco.status_code == 200
    exported = read_coco(json.loads(b"".join(coco.streaming_content)))
    assert len(exported.images) == 6
    for record in exported.images:
        expected = by_name[record.file_name.split("_", 1)[1]]
        assert [r.label for r in record.regions] == [r.label for r in expected.regions]
        for got, want in zip(record.regions, expected.regions):
            assert got.box == pytest.approx(want.box, abs=1e-6)

    yolo = client.get(vision["url"] + "export/?export_format=yolo")
    assert yolo.status_code == 200
    folder = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(b"".join(yolo.streaming_content))) as archive:
        archive.extractall(folder)
    again = read_yolo(folder, task=task)
    assert sum(len(r.regions) for r in again.images) == sum(len(r.regions) for r in original.images)

    voc = client.get(vision["url"] + "export/?export_format=voc")
    assert voc.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(voc.streaming_content))) as archive:
        assert sum(name.endswith(".xml") for name in archive.namelist()) == 6


def test_labels_with_unknown_classes_are_refused_whole_unless_classes_may_be_added(vision):
    data = yolo_subset_zip(SHARED / "coco128_detect", 2)
    refused = client_for(vision["admin"]).post(vision["url"] + "labels/import/", {"file": upload("set.zip", data)},
                                               format="multipart")
    assert refused.status_code == 400 and "classes the project does not have" in refused.json()["detail"]
    assert not Item.objects.exists() and LabelClass.objects.filter(ontology=vision["project"].ontology).count() == 2


def test_imported_predictions_become_suggestions_on_the_task(vision):
    data = yolo_subset_zip(SHARED / "coco128_detect", 2)
    response = client_for(vision["admin"]).post(
        vision["url"] + "labels/import/", {"file": upload("set.zip", data), "target": "predictions", "add_classes": True},
        format="multipart",
    )
    assert response.status_code == 201
    assert not Annotation.objects.exists()
    tasks = client_for(vision["annotator"]).post(vision["url"] + "tasks/claim/", {"want": 1}, format="json").json()
    task = tasks["tasks"][0]
    assert task["image"]["url"].endswith("/media/") and task["image"]["width"] > 0
    assert task["suggestions"]["regions"] and "confidence" in task["suggestions"]["regions"][0]
