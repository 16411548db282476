"""Image formats: YOLO (detect, segment), COCO and VOC, read by hand-made files and round
tripped on the shared coco128 datasets."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from annotations.formats.coco import read_coco, write_coco
from annotations.formats.regions import Dataset, FormatError, ImageRecord
from annotations.formats.voc import read_voc, write_voc
from annotations.formats.yolo import read_yolo, write_yolo
from annotations.geometry import mask_to_rle, polygons_to_rle, rle_to_mask

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TOL = 1e-6

# pycocotools' annToMask calls its decode, which warns under numpy 2.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# --- builders ----------------------------------------------------------------------


def make_yolo(folder: Path, labels: dict[str, str], sizes: dict[str, tuple[int, int]], names) -> Path:
    """A YOLO folder with images/<name>, labels/<stem>.txt and data.yaml."""
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    for name, (width, height) in sizes.items():
        Image.new("RGB", (width, height), "gray").save(folder / "images" / name)
    for name, text in labels.items():
        (folder / "labels" / (Path(name).stem + ".txt")).write_text(text)
    (folder / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images", "val": "images", "names": names}))
    return folder


def synthetic_yolo(folder: Path, task: str) -> Path:
    """Stand-in for a shared coco128 dataset when shared/ is absent."""
    rng = np.random.default_rng(0)
    sizes, labels = {}, {}
    for index in range(6):
        name = f"{index:03d}.jpg"
        sizes[name] = (int(rng.integers(64, 200)), int(rng.integers(64, 200)))
        lines = []
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0.05, 0.5, 2)
            w, h = rng.uniform(0.05, 0.45, 2)
            if task == "detect":
                values = [x + w / 2, y + h / 2, w, h]
            else:
                values = [x, y, x + w, y, x + w / 2, y + h, x, y + h / 2]
            lines.append(" ".join([str(int(rng.integers(0, 3)))] + [f"{v:.6f}" for v in values]))
        labels[name] = "\n".join(lines) + "\n"
    return make_yolo(folder, labels, sizes, ["person", "car", "dog"])


@pytest.fixture(scope="module")
def detect_folder(tmp_path_factory):
    shared = DATASETS / "coco128_detect"
    return shared if shared.is_dir() else synthetic_yolo(tmp_path_factory.mktemp("detect"), "detect")


@pytest.fixture(scope="module")
def seg_folder(tmp_path_factory):
    shared = DATASETS / "coco128_seg"
    return shared if shared.is_dir() else synthetic_yolo(tmp_path_factory.mktemp("seg"), "segment")


@pytest.fixture(scope="module")
def detect(detect_folder):
    return read_yolo(detect_folder, task="detect")


@pytest.fixture(scope="module")
def seg(seg_folder):
    return read_yolo(seg_folder, task="segment")


def assert_same(left: Dataset, right: Dataset, *, by_name=True, boxes_only=False):
    """Same classes, images and regions (in order), coordinates within 1e-6."""
    assert set(right.classes) <= set(left.classes)
    lookup = {Path(image.file_name).name: image for image in right.images} if by_name else None
    assert len(left.images) == len(right.images)
    for index, image in enumerate(left.images):
        other = lookup[Path(image.file_name).name] if by_name else right.images[index]
        assert (other.width, other.height) == (image.width, image.height)
        assert [r.label for r in other.regions] == [r.label for r in image.regions], image.file_name
        for mine, theirs in zip(image.regions, other.regions):
            assert theirs.kind == ("box" if boxes_only else mine.kind)
            assert np.allclose(theirs.box, mine.box, atol=TOL, rtol=0), image.file_name
            if mine.kind == "polygon" and not boxes_only:
                assert len(theirs.polygons) == len(mine.polygons)
                for a, b in zip(mine.polygons, theirs.polygons):
                    assert np.allclose(a, b, atol=TOL, rtol=0)
            if mine.kind == "mask" and not boxes_only:
                assert theirs.rle == mine.rle


def write_json(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    return path


def shared_image_path(record: ImageRecord) -> Path:
    return Path(record.path)


# --- YOLO, read by hand ------------------------------------------------------------


def test_yolo_reads_boxes_polygons_names_and_sizes(tmp_path):
    folder = make_yolo(
        tmp_path / "ds",
        {
            "a.jpg": "1 0.5 0.5 0.2 0.4\n\n0 0.25 0.25 0.5 0.5\n",
            "b.png": "2 0.1 0.1 0.5 0.1 0.3 0.6\n1 0.5 0.5 1 1\n",
        },
        {"a.jpg": (200, 100), "b.png": (64, 32), "c.jpg": (10, 20)},
        {0: "person", 1: "car", 2: "dog"},
    )
    data = read_yolo(folder, task="segment")
    assert data.classes == ["person", "car", "dog"]
    a, b, c = data.images
    assert (a.file_name, a.width, a.height) == ("a.jpg", 200, 100)
    # cx 0.5, w 0.2 -> x 0.4; cy 0.5, h 0.4 -> y 0.3
    assert a.regions[0].label == "car" and a.regions[0].kind == "box"
    assert a.regions[0].box == pytest.approx((0.4, 0.3, 0.2, 0.4))
    assert a.regions[1].box == pytest.approx((0.0, 0.0, 0.5, 0.5))
    polygon = b.regions[0]
    assert (polygon.label, polygon.kind) == ("dog", "polygon")
    assert polygon.polygons == [[0.1, 0.1, 0.5, 0.1, 0.3, 0.6]]
    assert polygon.box == pytest.approx((0.1, 0.1, 0.4, 0.5))
    assert b.regions[1].box == (0.0, 0.0, 1.0, 1.0)
    assert (c.file_name, c.regions) == ("c.jpg", [])  # no label file: background
    assert Path(c.path).is_file()


def test_yolo_detect_reads_a_confidence_and_takes_polygons_as_boxes(tmp_path):
    folder = make_yolo(
        tmp_path / "ds",
        {"a.jpg": "0 0.5 0.5 0.2 0.4 0.75\n1 0.1 0.1 0.5 0.1 0.3 0.6\n"},
        {"a.jpg": (100, 100)},
        ["person", "car"],
    )
    (first, second) = read_yolo(folder).images[0].regions
    assert first.score == 0.75
    assert (second.kind, second.label) == ("box", "car")
    assert second.box == pytest.approx((0.1, 0.1, 0.4, 0.5))


@pytest.mark.parametrize(
    ("line", "task", "message"),
    [
        ("7 0.5 0.5 0.2 0.2", "detect", r"labels/a.txt line 2: unknown class id 7; data.yaml names 2 classes \(ids 0..1\)"),
        ("0 0.5 0.5 0.2", "detect", r"labels/a.txt line 2: expected 5 values \(class cx cy w h\), got 4"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.1 0.1", "segment", "labels/a.txt line 2: expected class x1 y1 x2 y2"),
        ("0 0.5 zero 0.2 0.2", "detect", "labels/a.txt line 2: 'zero' is not a number"),
        ("cat 0.5 0.5 0.2 0.2", "detect", "labels/a.txt line 2: class id 'cat' is not a whole number"),
        ("0 0.9 0.5 0.4 0.2", "detect", r"labels/a.txt line 2: box .* extends outside the image \(x \+ w = 1.1 > 1\)"),
        ("0 0.5 0.5 0 0.2", "detect", "labels/a.txt line 2: box .* has zero width"),
        ("0 0.1 0.1 0.2 0.2 0.3 0.3", "segment", "labels/a.txt line 2: polygon has zero area"),
    ],
)
def test_yolo_refuses_a_bad_line_naming_file_and_line(tmp_path, line, task, message):
    folder = make_yolo(tmp_path / "ds", {"a.jpg": f"0 0.5 0.5 0.1 0.1\n{line}\n"}, {"a.jpg": (100, 100)}, ["a", "b"])
    with pytest.raises(FormatError, match=message):
        read_yolo(folder, task=task)


def test_yolo_refuses_broken_yaml_and_paths_leaving_the_folder(tmp_path):
    folder = make_yolo(tmp_path / "ds", {}, {"a.jpg": (10, 10)}, ["a"])
    (folder / "data.yaml").write_text("names: [a, b\ntrain: images\n")
    with pytest.raises(FormatError, match="data.yaml line"):
        read_yolo(folder)
    (folder / "data.yaml").write_text("names: [a]\ntrain: ../../etc\n")
    with pytest.raises(FormatError, match="lies outside the dataset folder"):
        read_yolo(folder)
    (folder / "data.yaml").write_text("train: images\n")
    with pytest.raises(FormatError, match="names must be a list of class names"):
        read_yolo(folder)
    (folder / "images" / "b.jpg").write_text("not a picture")
    (folder / "data.yaml").write_text("names: [a]\ntrain: images\n")
    with pytest.raises(FormatError, match="images/b.jpg: not an image Pillow can read"):
        read_yolo(folder)


# --- COCO, read by hand ------------------------------------------------------------


def test_coco_reads_pixels_polygons_rle_crowd_and_empty_images(tmp_path):
    pixels = np.zeros((50, 100), dtype=np.uint8)
    pixels[10:20, 30:50] = 1  # box x 30..49, y 10..19
    uncompressed = {"size": [50, 100], "counts": [30 * 50 + 10, 10, 40, 10] + [40, 10] * 18 + [30 + 50 * 50]}
    data = {
        "images": [
            {"id": 10, "file_name": "a.jpg", "width": 100, "height": 50},
            {"id": 11, "file_name": "empty.jpg", "width": 640.0, "height": 480},
        ],
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 3, "bbox": [10, 5, 20, 10], "segmentation": [], "score": 0.9},
            {"id": 2, "image_id": 10, "category_id": 7, "bbox": [0, 0, 1, 1], "segmentation": [[10, 10, 30, 10, 20, 40], [1, 2]]},
            {"id": 3, "image_id": 10, "category_id": 7, "segmentation": {"size": [50, 100], "counts": mask_to_rle(pixels)["counts"]}},
            {"id": 4, "image_id": 10, "category_id": 3, "iscrowd": 1, "bbox": [30, 10, 20, 10], "segmentation": uncompressed},
        ],
    }
    dataset = read_coco(data)
    assert dataset.classes == ["cat", "dog"]
    a, empty = dataset.images
    assert (empty.file_name, empty.width, empty.regions) == ("empty.jpg", 640, [])
    box, polygon, mask, crowd = a.regions
    assert (box.label, box.kind, box.score) == ("dog", "box", 0.9)
    assert box.box == pytest.approx((0.1, 0.1, 0.2, 0.2))
    assert (polygon.label, polygon.kind) == ("cat", "polygon")
    assert polygon.polygons == [pytest.approx([0.1, 0.2, 0.3, 0.2, 0.2, 0.8])]  # the 1-point part is dropped
    assert polygon.box == pytest.approx((0.1, 0.2, 0.2, 0.6))  # from the shape, not the bbox given
    assert mask.kind == "mask" and mask.box == pytest.approx((0.3, 0.2, 0.2, 0.2))
    assert (crowd.kind, crowd.attributes) == ("mask", {"iscrowd": True})
    assert (rle_to_mask(crowd.rle) == pixels).all()
    assert isinstance(crowd.rle["counts"], str)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["annotations"][0].update(image_id=99), r"annotations\[0\] \(id 1\): points to image 99, which is not in images"),
        (lambda d: d["annotations"][0].update(category_id=5), "points to category 5, which is not in categories"),
        (lambda d: d["annotations"][0].update(bbox=[90, 0, 30, 10]), r"annotations\[0\] \(id 1\): box .* extends outside the image"),
        (lambda d: d["annotations"][0].update(segmentation={"size": [10, 20], "counts": "PPYo1"}), r"RLE size \[10, 20\] does not match the image 100x50"),
        (lambda d: d["images"][0].pop("width"), r'images\[0\]: has no "width"'),
        (lambda d: d.pop("categories"), 'expected a "categories" list'),
    ],
)
def test_coco_refuses_bad_input_naming_the_element(change, message):
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 5, 20, 10]}],
    }
    change(data)
    with pytest.raises(FormatError, match=message):
        read_coco(data)


def test_coco_refuses_a_broken_file_naming_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(FormatError, match="broken.json line 2 column"):
        read_coco(path)


# --- VOC, read by hand -------------------------------------------------------------


def test_voc_reads_devkit_boxes_and_flags(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>200</width><height>100</height><depth>3</depth></size>"
        "<object><name>dog</name><difficult>1</difficult>"
        "<bndbox><xmin>1</xmin><ymin>11</ymin><xmax>50</xmax><ymax>60</ymax></bndbox></object></annotation>"
    )
    dataset = read_voc(tmp_path)
    (image,) = dataset.images
    (region,) = image.regions
    # Pixels 1..50 (1-based) are [0, 50) continuous: x 0, w 50 / 200; y 10 / 100, h 50 / 100.
    assert (image.file_name, image.width, image.height, dataset.classes) == ("a.jpg", 200, 100, ["dog"])
    assert region.box == pytest.approx((0.0, 0.1, 0.25, 0.5))
    assert region.attributes == {"difficult": True}


def test_voc_refuses_malformed_xml_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<annotation>\n<filename>a.jpg</filename>\n<size><width>10</width></annotation>")
    with pytest.raises(FormatError, match="bad.xml line 3 column"):
        read_voc([path])
    path.write_text("<annotation><filename>a.jpg</filename><size><width>10</width></size></annotation>")
    with pytest.raises(FormatError, match=r"bad.xml: <size><height> must be a positive whole number"):
        read_voc(path)
    path.write_text(
        "<annotation><filename>a.jpg</filename><size><width>10</width><height>10</height></size>"
        "<object><name>cat</name><bndbox><xmin>one</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
        "</annotation>"
    )
    with pytest.raises(FormatError, match=r"bad.xml <object> 1 \(cat\): <bndbox><xmin> must be a number"):
        read_voc(path)


# --- round trips on the shared datasets --------------------------------------------


def test_the_shared_datasets_read_completely(detect_folder, detect, seg):
    if detect_folder.is_relative_to(DATASETS):  # counts from the datasets' SOURCE.md
        assert (len(detect.images), sum(len(i.regions) for i in detect.images)) == (94, 669)
        assert (len(seg.images), sum(len(i.regions) for i in seg.images)) == (75, 567)
        assert len(detect.classes) == 80 and detect.classes[23] == "giraffe"
    assert all(r.kind == "box" for i in detect.images for r in i.regions)
    assert all(r.kind == "polygon" for i in seg.images for r in i.regions)


@pytest.mark.parametrize("which", ["detect", "seg"])
def test_yolo_to_coco_to_yolo_keeps_every_region(which, request, tmp_path):
    dataset = request.getfixturevalue(which)
    data = json.loads(json.dumps(write_coco(dataset)))
    assert_same(dataset, read_coco(data), by_name=False)
    assert read_coco(data).classes == dataset.classes


@pytest.mark.parametrize("which", ["detect", "seg"])
def test_written_coco_loads_in_pycocotools(which, request, tmp_path):
    dataset = request.getfixturevalue(which)
    path = write_json(tmp_path, write_coco(dataset))
    coco = COCO(str(path))
    assert len(coco.getAnnIds()) == sum(len(image.regions) for image in dataset.images)
    assert len(coco.getCatIds()) == len(dataset.classes)
    for image_id, image in enumerate(dataset.images, start=1):
        annotation_ids = coco.getAnnIds(imgIds=[image_id])
        assert len(annotation_ids) == len(image.regions)
        for annotation in coco.loadAnns(annotation_ids):
            pixels = int(coco.annToMask(annotation).sum())
            if which == "seg":
                assert pixels == annotation["area"]  # COCO's area is the rasterised pixel count
            else:
                _, _, w, h = annotation["bbox"]
                assert abs(pixels - annotation["area"]) <= w + h + 1  # a box's edge pixels


@pytest.mark.parametrize(("which", "task"), [("detect", "detect"), ("seg", "segment")])
def test_write_yolo_then_read_yolo_keeps_every_region(which, task, request, tmp_path):
    dataset = request.getfixturevalue(which)
    yaml_path = write_yolo(dataset, tmp_path / "out", shared_image_path, task=task, val_fraction=0.2, seed=1)
    config = yaml.safe_load(yaml_path.read_text())
    assert (config["train"], config["val"]) == ("images/train", "images/val")
    assert config["names"] == dict(enumerate(dataset.classes))
    val_images = list((tmp_path / "out" / "images" / "val").iterdir())
    assert len(val_images) == round(len(dataset.images) * 0.2)
    assert len(list((tmp_path / "out" / "labels" / "val").iterdir())) == len(val_images)
    again = read_yolo(tmp_path / "out", task=task)
    assert again.classes == dataset.classes
    assert_same(dataset, again)


def test_the_split_follows_the_seed(detect, tmp_path):
    first = write_yolo(detect, tmp_path / "a", shared_image_path, seed=3).parent
    second = write_yolo(detect, tmp_path / "b", shared_image_path, seed=3).parent
    third = write_yolo(detect, tmp_path / "c", shared_image_path, seed=4).parent

    def val(folder):
        return sorted(p.name for p in (folder / "images" / "val").iterdir())

    assert val(first) == val(second) != val(third)


def test_voc_write_then_read_keeps_boxes(seg, tmp_path):
    paths = write_voc(seg, tmp_path / "voc")
    assert len(paths) == len(seg.images) and all(p.parent.name == "Annotations" for p in paths)
    again = read_voc(tmp_path / "voc")
    assert_same(seg, again, boxes_only=True)


# --- masks through the formats -----------------------------------------------------


def mask_dataset(tmp_path: Path) -> Dataset:
    height, width = 120, 160
    yy, xx = np.mgrid[:height, :width]
    blob = (((xx - 60) / 40.0) ** 2 + ((yy - 60) / 25.0) ** 2 < 1) | ((xx - 130) ** 2 + (yy - 30) ** 2 < 12**2)
    Image.new("RGB", (width, height), "gray").save(tmp_path / "m.png")
    from annotations.formats.regions import geometry_to_region

    region = geometry_to_region("dog", "mask", {"rle": mask_to_rle(blob)})
    image = ImageRecord(file_name="m.png", width=width, height=height, regions=[region], path=str(tmp_path / "m.png"))
    return Dataset(classes=["dog"], images=[image])


def test_a_brush_mask_exports_to_yolo_seg_as_one_polygon(tmp_path):
    dataset = mask_dataset(tmp_path)
    write_yolo(dataset, tmp_path / "out", shared_image_path, task="segment")
    (region,) = read_yolo(tmp_path / "out", task="segment").images[0].regions
    assert region.kind == "polygon" and len(region.polygons) == 1  # two blobs joined by a bridge
    original = dataset.images[0].regions[0].rle
    traced = polygons_to_rle(region.polygons, 160, 120)
    assert mask_utils.iou([traced], [original], [0])[0][0] > 0.95
    assert np.allclose(region.box, dataset.images[0].regions[0].box, atol=1 / 120)


def test_a_brush_mask_round_trips_through_coco_as_rle(tmp_path):
    dataset = mask_dataset(tmp_path)
    data = write_coco(dataset)
    (annotation,) = data["annotations"]
    assert annotation["iscrowd"] == 0 and isinstance(annotation["segmentation"]["counts"], str)
    coco = COCO(str(write_json(tmp_path, data)))
    assert int(coco.annToMask(coco.loadAnns(coco.getAnnIds())[0]).sum()) == annotation["area"]
    assert_same(dataset, read_coco(data))
