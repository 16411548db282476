"""The synthetic shapes set: deterministic, valid YOLO labels, objects inside the image."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelearning.synthetic_shapes import generate


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _labels(root: Path) -> list[tuple[Path, list[list[float]]]]:
    return [
        (path, [[float(v) for v in line.split()] for line in path.read_text().splitlines()])
        for path in sorted((root / "labels").rglob("*.txt"))
    ]


def test_the_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path):
    first = generate(tmp_path / "a", 6, image_size=64, seed=3)
    second = generate(tmp_path / "b", 6, image_size=64, seed=3)
    other = generate(tmp_path / "c", 6, image_size=64, seed=4)
    a, b, c = _files(first.parent), _files(second.parent), _files(other.parent)
    a.pop("data.yaml"), b.pop("data.yaml"), c.pop("data.yaml")  # they name their own folder
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_data_yaml_names_the_splits_and_classes_and_downloads_nothing(tmp_path):
    data = generate(tmp_path / "set", 10, image_size=64, classes=("circle", "star"), seed=0)
    text = data.read_text()
    assert data.name == "data.yaml"
    assert f'path: "{(tmp_path / "set").resolve()}"' in text
    assert "train: images/train" in text and "val: images/val" in text
    assert '0: "circle"' in text and '1: "star"' in text
    assert "download" not in text
    assert len(list((tmp_path / "set/images/train").glob("*.png"))) == 8
    assert len(list((tmp_path / "set/images/val").glob("*.png"))) == 2


def test_detect_labels_are_normalised_boxes_inside_the_image(tmp_path):
    data = generate(tmp_path, 12, image_size=96, seed=1)
    labels = _labels(data.parent)
    assert len(labels) == 12
    for path, rows in labels:
        image = path.parents[2] / "images" / path.parent.name / f"{path.stem}.png"
        with Image.open(image) as opened:
            assert opened.size == (96, 96) and opened.mode == "RGB"
        assert 1 <= len(rows) <= 3
        for cls, cx, cy, w, h in rows:
            assert cls in (0, 1, 2)
            assert 0 < w <= 1 and 0 < h <= 1
            assert 0 <= cx - w / 2 and cx + w / 2 <= 1
            assert 0 <= cy - h / 2 and cy + h / 2 <= 1


def test_segment_labels_are_polygons_whose_box_is_inside_the_image(tmp_path):
    data = generate(tmp_path, 8, image_size=64, seed=2, task="segment", classes=("square", "triangle", "circle"))
    for _, rows in _labels(data.parent):
        for row in rows:
            cls, points = row[0], np.array(row[1:]).reshape(-1, 2)
            assert cls in (0, 1, 2)
            assert len(row[1:]) % 2 == 0 and len(points) >= 3
            assert points.min() >= 0 and points.max() <= 1
            expected = {0: 4, 1: 3, 2: 32}[int(cls)]
            assert len(points) == expected


def test_shapes_are_drawn_where_the_labels_say(tmp_path):
    data = generate(tmp_path, 4, image_size=128, seed=5)
    for path, rows in _labels(data.parent):
        image = path.parents[2] / "images" / path.parent.name / f"{path.stem}.png"
        pixels = np.asarray(Image.open(image), dtype=float)
        for _, cx, cy, _, _ in rows:
            centre = pixels[int(cy * 128), int(cx * 128)]
            # Shapes are saturated: one channel high, one low (the background is muted).
            assert centre.max() >= 200 and centre.min() <= 60


def test_jpg_images_can_be_asked_for(tmp_path):
    data = generate(tmp_path, 3, image_size=48, image_format="jpg")
    assert len(list((data.parent / "images").rglob("*.jpg"))) == 3


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"task": "pose"}, "task"),
        ({"classes": ("circle", "blob")}, "shape names"),
        ({"classes": ("circle", "circle")}, "distinct"),
        ({"n_images": 1}, "at least 2"),
        ({"image_size": 16}, "image_size"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"image_format": "gif"}, "image_format"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, words):
    arguments = {"n_images": 4, **kwargs}
    with pytest.raises(ValueError, match=words):
        generate(tmp_path, **arguments)
