"""Pascal VOC XML: one Annotations/<image>.xml per image, boxes only.

Coordinates follow the VOC devkit: 1-based pixel indexes with xmax/ymax inclusive, so
the continuous box is [xmin - 1, xmax] (as detectron2 reads VOC). Files from tools that
write 0-based corners instead land one pixel off at worst, and a 0 there is clipped
(readers let coordinates overshoot the image by one pixel). Values are written with up to
6 decimals, so a write -> read round trip keeps boxes to 1e-6; VOC readers that want
integers can round them.

VOC has no polygons or masks: write_voc writes their bounding boxes (a lossy export); the
classes are the object names in order of first appearance. `difficult`, `truncated` and
`occluded` flags set to 1 become attributes set to True, and back.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from annotations.formats.regions import (
    Dataset,
    FormatError,
    ImageRecord,
    Region,
    build_region,
    pixel_tolerance,
)

_FLAGS = ("difficult", "truncated", "occluded")


def read_voc(source: str | Path | Iterable[str | Path]) -> Dataset:
    """A VOC folder (with Annotations/*.xml, or the XML files directly), one XML file, or
    several, as a Dataset."""
    classes: list[str] = []
    images = []
    for path in _xml_files(source):
        record = _read_file(path)
        for region in record.regions:
            if region.label not in classes:
                classes.append(region.label)
        images.append(record)
    return Dataset(classes=classes, images=images)


def write_voc(dataset: Dataset, out_dir: str | Path) -> list[Path]:
    """One XML file per image in out_dir/Annotations, named after the image (suffixed _1,
    _2, ... where two names collide); returns their paths in dataset order."""
    folder = Path(out_dir) / "Annotations"
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    paths = []
    for index, record in enumerate(dataset.images):
        stem = PurePosixPath(record.file_name.replace("\\", "/")).stem or f"image_{index}"
        name, counter = stem, 0
        while name.lower() in taken:
            counter += 1
            name = f"{stem}_{counter}"
        taken.add(name.lower())
        path = folder / f"{name}.xml"
        tree = ET.ElementTree(_annotation_element(record))
        ET.indent(tree)
        tree.write(path, encoding="utf-8", xml_declaration=False)
        paths.append(path)
    return paths


def _xml_files(source: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(source, (str, Path)):
        source = Path(source)
        if source.is_dir():
            folder = source / "Annotations" if (source / "Annotations").is_dir() else source
            files = sorted(folder.glob("*.xml"))
            if not files:
                raise FormatError(f"{source.name}: no VOC .xml files (looked in {folder.name})")
            return files
        return [source]
    return [Path(path) for path in source]


def _read_file(path: Path) -> ImageRecord:
    # ElementTree resolves no external entities, and the bundled expat refuses entity
    # expansion bombs, so uploaded XML is safe to parse.
    shown = path.name
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise FormatError(f"{shown}: cannot be read ({exc.strerror or exc})") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise FormatError(f"{shown} line {line} column {column + 1}: malformed XML") from exc
    if root.tag != "annotation":
        raise FormatError(f"{shown}: the root element is <{root.tag}>, expected <annotation>")
    file_name = _text(root, "filename") or PurePosixPath(_text(root, "path").replace("\\", "/")).name
    if not file_name:
        raise FormatError(f"{shown}: <filename> is missing")
    width = _size(root, "width", shown)
    height = _size(root, "height", shown)
    regions = [_read_object(element, index, width, height, shown) for index, element in enumerate(root.iter("object"))]
    return ImageRecord(file_name=file_name, width=width, height=height, regions=regions)


def _read_object(element: ET.Element, index: int, width: int, height: int, shown: str) -> Region:
    where = f"{shown} <object> {index + 1}"
    label = _text(element, "name")
    if not label:
        raise FormatError(f"{where}: <name> is missing")
    where = f"{where} ({label})"
    if element.find("bndbox") is None:
        raise FormatError(f"{where}: <bndbox> is missing")
    corners = {}
    for key in ("xmin", "ymin", "xmax", "ymax"):
        text = _text(element, f"bndbox/{key}")
        try:
            corners[key] = float(text)
        except ValueError:
            raise FormatError(f"{where}: <bndbox><{key}> must be a number, got {text!r}") from None
    box = [
        (corners["xmin"] - 1) / width,
        (corners["ymin"] - 1) / height,
        (corners["xmax"] - corners["xmin"] + 1) / width,
        (corners["ymax"] - corners["ymin"] + 1) / height,
    ]
    attributes = {flag: True for flag in _FLAGS if _text(element, flag) in ("1", "true")}
    return build_region(
        label, "box", {"box": box}, width, height,
        where=where, tolerance=pixel_tolerance(width, height), attributes=attributes,
    )


def _annotation_element(record: ImageRecord) -> ET.Element:
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = record.file_name
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(record.width)
    ET.SubElement(size, "height").text = str(record.height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for region in record.regions:
        x, y, w, h = region.box
        element = ET.SubElement(root, "object")
        ET.SubElement(element, "name").text = region.label
        ET.SubElement(element, "pose").text = "Unspecified"
        for flag in ("truncated", "difficult", "occluded"):
            ET.SubElement(element, flag).text = "1" if region.attributes.get(flag) else "0"
        bndbox = ET.SubElement(element, "bndbox")
        corners = (
            ("xmin", x * record.width + 1),
            ("ymin", y * record.height + 1),
            ("xmax", (x + w) * record.width),
            ("ymax", (y + h) * record.height),
        )
        for key, value in corners:
            ET.SubElement(bndbox, key).text = _number(value)
    return root


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _size(root: ET.Element, key: str, shown: str) -> int:
    text = _text(root, f"size/{key}")
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0 or not value.is_integer():
        raise FormatError(
            f"{shown}: <size><{key}> must be a positive whole number of pixels, got {text!r} "
            "(boxes are normalised by it)"
        )
    return int(value)


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
