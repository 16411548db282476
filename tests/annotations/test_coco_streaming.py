"""The COCO export is written image by image (annotations/formats/coco.py `dump_coco`,
annotations/vision_io.py `project_images`), with the same bytes as the whole-dataset
writer, and it loads in pycocotools."""
import io
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from annotations import vision_io
from annotations.formats.coco import dump_coco, read_coco, write_coco
from annotations.formats.regions import Dataset, ImageRecord, geometry_to_region
from annotations.geometry import mask_to_rle
from annotations.media import import_image_files
from annotations.models import Consensus, Item, Project
from annotations.vision_io import export_vision, import_labels, project_dataset
from tests.conftest import make_project


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def shapes_project(db):
    """Seven images: boxes, a polygon, a brush mask, an unlabeled one, and one settled
    by region vote, so a chunk of two images ends mid-project several times."""
    project = make_project(classes=("cat", "dog"), kind=Project.Kind.SEGMENTATION, learner="yolo_detect")
    names = [f"{n}.png" for n in "abcdefg"]
    import_image_files(project, [(name, io.BytesIO(png((30 * n, 40, 90)))) for n, name in enumerate(names)])
    blob = np.zeros((48, 64), dtype=bool)
    blob[10:30, 5:25] = True
    coco = {
        "images": [{"id": n, "file_name": name, "width": 64, "height": 48} for n, name in enumerate(names, 1)],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 8, 30, 20], "score": 0.5},
            {"id": 3, "image_id": 2, "category_id": 2, "segmentation": [[1, 1, 40, 2, 30, 40, 3, 30]]},
            {"id": 4, "image_id": 3, "category_id": 1, "segmentation": mask_to_rle(blob)},
            {"id": 5, "image_id": 5, "category_id": 1, "bbox": [0.5, 1.25, 10, 12.75]},
            {"id": 6, "image_id": 6, "category_id": 2, "bbox": [2, 2, 8, 8]},
            {"id": 7, "image_id": 7, "category_id": 1, "bbox": [3, 3, 9, 9]},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    import_labels(project, read_coco(coco), None, "annotations")
    Item.objects.filter(project=project, external_id="d.png").update(status=Item.Status.UNLABELED)
    project.overlap = 2
    project.save(update_fields=["overlap"])
    voted = Item.objects.get(project=project, external_id="f.png")
    Consensus.objects.create(item=voted, project=project, method=Consensus.Method.REGION_VOTE,
                             status=Consensus.Status.AGREED,
                             regions=[{"label": "cat", "kind": "box", "geometry": {"box": [0.1, 0.2, 0.3, 0.4]}}])
    return project


def test_the_streamed_coco_file_is_the_whole_dataset_writer_output(shapes_project, monkeypatch):
    monkeypatch.setattr(vision_io, "EXPORT_CHUNK", 10**6)  # one chunk: every image at once, as before
    expected = json.dumps(write_coco(project_dataset(shapes_project)))
    monkeypatch.setattr(vision_io, "EXPORT_CHUNK", 2)
    path = export_vision(shapes_project, "coco")
    try:
        written = path.read_text()
    finally:
        path.unlink()
    assert written == expected
    data = json.loads(written)
    assert len(data["images"]) == 6  # d.png is unlabeled
    assert len(data["annotations"]) == 7
    voted = next(a for a in data["annotations"] if a["image_id"] == 5)
    assert voted["bbox"] == [6.4, 9.6, 19.2, 19.2]  # the consensus box, not the answer's


def test_the_streamed_coco_file_loads_in_pycocotools(shapes_project, tmp_path):
    path = export_vision(shapes_project, "coco")
    try:
        coco = COCO(str(path))
    finally:
        path.unlink()
    assert len(coco.getImgIds()) == 6 and len(coco.getAnnIds()) == 7
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert coco.annToMask(annotation).sum() > 0


def test_dump_coco_writes_each_image_before_reading_the_next():
    out, spill = io.StringIO(), io.StringIO()
    box = geometry_to_region("cat", "box", {"box": [0.1, 0.1, 0.5, 0.5]})

    def images():
        for n in range(3):
            if n:
                assert f'"file_name": "{n - 1}.png"' in out.getvalue(), "an image was held back"
            yield ImageRecord(file_name=f"{n}.png", width=10, height=10, regions=[box, box])

    dump_coco(["cat"], images(), out, spill)
    records = [ImageRecord(file_name=f"{n}.png", width=10, height=10, regions=[box, box]) for n in range(3)]
    assert out.getvalue() == json.dumps(write_coco(Dataset(classes=["cat"], images=records)))


def test_dump_coco_of_no_images_matches_the_whole_dataset_writer():
    out = io.StringIO()
    dump_coco(["cat", "dog"], iter(()), out, io.StringIO())
    assert out.getvalue() == json.dumps(write_coco(Dataset(classes=["cat", "dog"], images=[])))
