"""COCO object detection / instance segmentation JSON.

Reading: bbox in pixels [x, y, w, h] is normalised by the image size; a polygon
segmentation gives a "polygon" region, an RLE one (compressed or uncompressed counts) a
"mask" region, an empty or absent one a "box" region. Crowd annotations keep
attributes["iscrowd"] = True. Category ids map to names; images without annotations are
kept. Polygon parts with fewer than 3 points (COCO has a few) are dropped.

Writing: ids start at 1; bbox and polygons in pixels; masks as RLE with str counts;
"area" as COCO computes it (pixel count of the rasterised shape, w * h for a box);
iscrowd is 1 only for regions read as crowd, so brush masks are ordinary RLE instances,
which pycocotools and detectron2 accept. A box is also written as its 4-corner polygon so
that tools that need a segmentation (pycocotools' annToMask, mask training) still work;
the reader turns such a rectangle back into a box.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from annotations.formats.regions import (
    Dataset,
    FormatError,
    ImageRecord,
    Region,
    build_region,
    pixel_tolerance,
    region_to_geometry,
)
from annotations.geometry import area, box_polygon

# Pixel values are rounded to this many decimals: well under 1e-6 of any image side.
_DECIMALS = 6


def read_coco(data: dict | str | Path) -> Dataset:
    """A COCO JSON dict, or the path of a COCO JSON file, as a Dataset."""
    if isinstance(data, dict):
        name = "COCO data"
    else:
        path = Path(data)
        name = path.name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FormatError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise FormatError(f"{name}: is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            raise FormatError(f"{name} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise FormatError(f"{name}: expected a JSON object with images, annotations and categories")

    categories = _list(data, "categories", name)
    names_by_id: dict[Any, str] = {}
    classes: list[str] = []
    for index, category in enumerate(categories):
        where = f"{name} categories[{index}]"
        category_id = _field(category, "id", where)
        label = _field(category, "name", where)
        if not isinstance(label, str) or not label.strip():
            raise FormatError(f"{where}: name must be a non-empty string")
        if category_id in names_by_id:
            raise FormatError(f"{where}: category id {category_id} is used twice")
        names_by_id[category_id] = label
        if label not in classes:
            classes.append(label)

    images: list[ImageRecord] = []
    images_by_id: dict[Any, ImageRecord] = {}
    for index, image in enumerate(_list(data, "images", name)):
        where = f"{name} images[{index}]"
        image_id = _field(image, "id", where)
        if image_id in images_by_id:
            raise FormatError(f"{where}: image id {image_id} is used twice")
        file_name = _field(image, "file_name", where)
        width, height = (_pixels(_field(image, key, where), key, where) for key in ("width", "height"))
        record = ImageRecord(file_name=str(file_name), width=width, height=height)
        images.append(record)
        images_by_id[image_id] = record

    for index, annotation in enumerate(data.get("annotations") or []):
        where = f"{name} annotations[{index}]"
        if not isinstance(annotation, dict):
            raise FormatError(f"{where}: expected an object")
        if "id" in annotation:
            where += f" (id {annotation['id']})"
        image_id = _field(annotation, "image_id", where)
        record = images_by_id.get(image_id)
        if record is None:
            raise FormatError(f"{where}: points to image {image_id}, which is not in images")
        category_id = _field(annotation, "category_id", where)
        if category_id not in names_by_id:
            raise FormatError(f"{where}: points to category {category_id}, which is not in categories")
        record.regions.append(_read_annotation(annotation, names_by_id[category_id], record, where))
    return Dataset(classes=classes, images=images)


def write_coco(dataset: Dataset) -> dict:
    """The dataset as a COCO JSON dict (json.dump it as is)."""
    images, annotations = [], []
    for image, image_annotations in _coco_entries(dataset.classes, dataset.images):
        images.append(image)
        annotations.extend(image_annotations)
    return {"info": _INFO, "images": images, "annotations": annotations, "categories": _categories(dataset.classes)}


def dump_coco(classes: list[str], images: Iterable[ImageRecord], out: TextIO, spill: TextIO) -> None:
    """Write to `out` exactly what json.dumps(write_coco(...)) gives, one image at a time,
    so that a project of any size is never held whole. The annotations, which COCO puts
    after every image, wait in `spill` (an empty text file open for reading and writing)."""
    out.write(f'{{"info": {json.dumps(_INFO)}, "images": [')
    image_separator = annotation_separator = ""
    for image, image_annotations in _coco_entries(classes, images):
        out.write(image_separator + json.dumps(image))
        image_separator = ", "
        for annotation in image_annotations:
            spill.write(annotation_separator + json.dumps(annotation))
            annotation_separator = ", "
    out.write('], "annotations": [')
    spill.seek(0)
    shutil.copyfileobj(spill, out)
    out.write(f'], "categories": {json.dumps(_categories(classes))}}}')


_INFO = {"description": "Exported by labeler"}


def _categories(classes: list[str]) -> list[dict]:
    return [{"id": i, "name": label, "supercategory": ""} for label, i in _category_ids(classes).items()]


def _category_ids(classes: list[str]) -> dict[str, int]:
    return {label: index + 1 for index, label in enumerate(classes)}


def _coco_entries(classes: list[str], images: Iterable[ImageRecord]) -> Iterator[tuple[dict, list[dict]]]:
    """Each image's COCO entry with its annotations' entries; ids count from 1."""
    category_ids = _category_ids(classes)
    annotation_id = 0
    for image_id, record in enumerate(images, start=1):
        entries = []
        for region in record.regions:
            if region.label not in category_ids:
                raise FormatError(f"{record.file_name}: label {region.label!r} is not one of the dataset classes")
            annotation_id += 1
            entries.append(_write_annotation(region, record, image_id, category_ids[region.label], annotation_id))
        yield {"id": image_id, "file_name": record.file_name, "width": record.width, "height": record.height}, entries


def _read_annotation(annotation: dict, label: str, record: ImageRecord, where: str) -> Region:
    width, height = record.width, record.height
    attributes = dict(annotation["attributes"]) if isinstance(annotation.get("attributes"), dict) else {}
    if annotation.get("iscrowd"):
        attributes["iscrowd"] = True
    score = annotation.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise FormatError(f"{where}: score must be a number, got {score!r}")
    common = {"where": where, "tolerance": pixel_tolerance(width, height), "score": score, "attributes": attributes}

    segmentation = annotation.get("segmentation")
    bbox = annotation.get("bbox")
    box = None
    if bbox is not None:
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            raise FormatError(f"{where}: bbox must be 4 numbers [x, y, w, h] in pixels, got {bbox!r}")
        box = [bbox[0] / width, bbox[1] / height, bbox[2] / width, bbox[3] / height]

    if isinstance(segmentation, dict):
        return build_region(label, "mask", {"rle": segmentation}, width, height, **common)
    if isinstance(segmentation, list) and segmentation:
        parts = []
        for part in segmentation:
            if not isinstance(part, list) or not all(_is_number(v) for v in part):
                raise FormatError(f"{where}: segmentation must be a list of [x1, y1, x2, y2, ...] lists in pixels")
            if len(part) >= 6:
                parts.append([v / (width if i % 2 == 0 else height) for i, v in enumerate(part)])
        if parts and not (box is not None and len(parts) == 1 and _is_box_outline(parts[0], box, width, height)):
            return build_region(label, "polygon", {"polygons": parts}, width, height, **common)
    elif segmentation not in (None, []):
        raise FormatError(f"{where}: segmentation must be a polygon list or an RLE object")
    if box is None:
        raise FormatError(f"{where}: has neither a bbox nor a usable segmentation")
    return build_region(label, "box", {"box": box}, width, height, **common)


def _write_annotation(region: Region, record: ImageRecord, image_id: int, category_id: int, annotation_id: int) -> dict:
    width, height = record.width, record.height
    x, y, w, h = region.box
    annotation: dict[str, Any] = {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [_px(x, width), _px(y, height), _px(w, width), _px(h, height)],
        "area": round(area(region.kind, region_to_geometry(region), width, height), _DECIMALS),
        "iscrowd": 1 if region.attributes.get("iscrowd") else 0,
    }
    if region.kind == "mask":
        annotation["segmentation"] = {"size": list(region.rle["size"]), "counts": region.rle["counts"]}
    else:
        parts = region.polygons if region.kind == "polygon" else [box_polygon(region.box)]
        annotation["segmentation"] = [
            [_px(v, width if i % 2 == 0 else height) for i, v in enumerate(part)] for part in parts
        ]
    if region.score is not None:
        annotation["score"] = region.score
    attributes = {key: value for key, value in region.attributes.items() if key != "iscrowd"}
    if attributes:
        annotation["attributes"] = attributes
    return annotation


def _is_box_outline(part: list[float], box: list[float], width: int, height: int) -> bool:
    """Whether a polygon is the 4-corner outline write_coco gives a box (to half a pixel)."""
    if len(part) != 8:
        return False
    tolerance = 0.5 / max(width, height)
    return all(abs(a - b) <= tolerance for a, b in zip(part, box_polygon(box)))


def _px(value: float, size: int) -> float:
    return round(value * size, _DECIMALS)


def _pixels(value: Any, key: str, where: str) -> int:
    # Some exporters write 640.0; a fraction of a pixel is a broken file.
    if _is_number(value) and value > 0 and float(value).is_integer():
        return int(value)
    raise FormatError(f"{where}: {key} must be a positive whole number of pixels, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _list(data: dict, key: str, name: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise FormatError(f'{name}: expected a "{key}" list')
    return value


def _field(item: Any, key: str, where: str) -> Any:
    if not isinstance(item, dict):
        raise FormatError(f"{where}: expected an object")
    if key not in item:
        raise FormatError(f'{where}: has no "{key}"')
    return item[key]
