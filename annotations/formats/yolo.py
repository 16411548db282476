"""Ultralytics YOLO folders: detection (`class cx cy w h`) and segmentation
(`class x1 y1 x2 y2 ...`), all normalised, one label file per image, class names in
data.yaml.

Reading follows Ultralytics: the train/val/test entries of data.yaml are folders, image
files or .txt lists of images; an image's labels are at its path with the last /images/
replaced by /labels/ and the suffix by .txt; an image without a label file has no
regions. Image sizes come from the file header (Pillow, no decoding), with width and
height swapped for EXIF-rotated photos, as Ultralytics does. Unlike Ultralytics, a
relative `path` is taken from data.yaml's folder, and nothing outside that folder is read
(an uploaded data.yaml must not reach into the server's disk).

Detect lines may carry a 6th value, a confidence, as Ultralytics writes predictions; a
polygon line in a detect dataset becomes its box, as Ultralytics trains it. In a segment
dataset a 5-value line is a box.

Writing makes images/{train,val} and labels/{train,val} with a random val split, hard-links
the images (copies them across file systems) and writes data.yaml. A segment export
writes a box as its 4 corners, a mask as its traced outline (geometry.rle_to_polygons),
and joins a region's several parts into one polygon as Ultralytics' COCO converter does.
"""
from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import yaml
from PIL import Image

from annotations import safe_yaml
from annotations.formats.regions import (
    Dataset,
    FormatError,
    ImageRecord,
    Region,
    build_region,
    pixel_tolerance,
)
from annotations.geometry import box_polygon, merge_polygon_parts, region_polygons

TASKS = ("detect", "segment")

# Ultralytics' IMG_FORMATS.
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"})

_EXIF_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}


def read_yolo(folder: str | Path, task: str = "detect") -> Dataset:
    """A YOLO dataset folder (or its data.yaml) as a Dataset."""
    _check_task(task)
    yaml_path = _find_yaml(Path(folder))
    base = Path(os.path.abspath(yaml_path.parent))
    config = _load_yaml(yaml_path)
    names = _names(config, yaml_path.name)
    root = _root(config, base)
    images = []
    for path, file_name in _image_files(config, root, base, yaml_path.name):
        width, height = _image_size(path, base)
        regions = _read_labels(_label_path(path), names, width, height, task, base)
        images.append(ImageRecord(file_name=file_name, width=width, height=height, regions=regions, path=str(path)))
    return Dataset(classes=[names[i] for i in sorted(names)], images=images)


def write_yolo(
    dataset: Dataset,
    out_dir: str | Path,
    image_path: Callable[[ImageRecord], Path],
    task: str = "detect",
    val_fraction: float = 0.2,
    seed: int = 0,
) -> Path:
    """Write the dataset as a YOLO folder under out_dir and return its data.yaml.

    `image_path(record)` gives the image file to link or copy. val_fraction of the images
    (at least one when there are two or more) go to val, chosen with `seed`; with no val
    image, data.yaml's val points at the train images. Output file names are the records'
    base names, suffixed _1, _2, ... where two collide.
    """
    _check_task(task)
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    out_dir = Path(out_dir)
    class_ids = {label: index for index, label in enumerate(dataset.classes)}
    count = len(dataset.images)
    order = list(range(count))
    random.Random(seed).shuffle(order)
    val_count = round(count * val_fraction)
    if val_fraction > 0 and count >= 2:
        val_count = min(max(val_count, 1), count - 1)
    val = set(order[:val_count]) if count >= 2 else set()
    for split in ("train", "val"):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)

    taken: set[str] = set()
    for index, record in enumerate(dataset.images):
        split = "val" if index in val else "train"
        source = Path(image_path(record))
        name = _unique_name(record.file_name, source, index, taken)
        _place(source, out_dir / "images" / split / name)
        lines = [_label_line(region, class_ids, task, record) for region in record.regions]
        label_file = out_dir / "labels" / split / PurePosixPath(name).with_suffix(".txt")
        label_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    data = {
        "path": str(out_dir.resolve()),
        "train": "images/train",
        "val": "images/val" if val else "images/train",
        "names": dict(enumerate(dataset.classes)),
    }
    yaml_path = out_dir / "data.yaml"
    yaml_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return yaml_path


# ---------------------------------------------------------------------------------------
# Reading


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def _find_yaml(folder: Path) -> Path:
    if folder.is_file():
        return folder
    if not folder.is_dir():
        raise FormatError(f"{folder.name}: no such folder")
    for name in ("data.yaml", "data.yml"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if len(found) == 1:
        return found[0]
    raise FormatError(f"{folder.name}: no data.yaml (the YOLO file with the class names)")


def _load_yaml(path: Path) -> dict:
    try:
        config = safe_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path.name}: is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise FormatError(f"{path.name}{line}: {problem}") from exc
    if not isinstance(config, dict):
        raise FormatError(f"{path.name}: expected a mapping with names and train/val")
    return config


def _names(config: dict, shown: str) -> dict[int, str]:
    names = config.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise FormatError(f"{shown}: names must be a list of class names or a mapping id: name")
    clean = {}
    for key, name in names.items():
        try:
            class_id = int(key)
        except (TypeError, ValueError):
            raise FormatError(f"{shown}: names: class id {key!r} is not a whole number") from None
        if class_id < 0 or str(class_id) != str(key).strip():
            raise FormatError(f"{shown}: names: class id {key!r} is not a whole number >= 0")
        if not isinstance(name, (str, int, float)) or not str(name).strip():
            raise FormatError(f"{shown}: names: class {class_id} has no name")
        clean[class_id] = str(name)
    if len(set(clean.values())) != len(clean):
        raise FormatError(f"{shown}: names: two classes have the same name")
    return clean


def _root(config: dict, base: Path) -> Path:
    value = config.get("path")
    if not value or not isinstance(value, str):
        return base
    root = Path(os.path.normpath(base / value))
    # An absolute path from the machine that made the file, or one leading out: use ours.
    return root if _within(root, base) and root.is_dir() else base


def _image_files(config: dict, root: Path, base: Path, shown: str) -> Iterator[tuple[Path, str]]:
    entries = []
    for key in ("train", "val", "test"):
        value = config.get(key)
        if value is None:
            continue
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, str) or not entry:
                raise FormatError(f"{shown}: {key} must be a path or a list of paths")
            entries.append((key, entry))
    if not entries:
        if not (root / "images").is_dir():
            raise FormatError(f"{shown}: no train or val images given")
        entries = [("images", "images")]

    seen: set[Path] = set()
    for key, entry in entries:
        target = _confined(root / entry, base, f"{shown}: {key}: {entry}")
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            pairs = [(path, path.relative_to(target).as_posix()) for path in found]
        elif target.suffix.lower() == ".txt" and target.is_file():
            pairs = list(_listed_images(target, root, base))
        elif target.suffix.lower() in IMAGE_SUFFIXES and target.is_file():
            pairs = [(target, target.name)]
        else:
            raise FormatError(f"{shown}: {key}: {entry} does not exist")
        for path, file_name in pairs:
            if path not in seen:
                seen.add(path)
                yield path, file_name


def _listed_images(listing: Path, root: Path, base: Path) -> Iterator[tuple[Path, str]]:
    shown = listing.relative_to(base).as_posix()
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        # As in Ultralytics, ./x is relative to the list; other paths to the dataset root.
        path = listing.parent / entry[2:] if entry.startswith("./") else root / entry
        path = _confined(path, base, f"{shown} line {number}: {entry}")
        if not path.is_file():
            raise FormatError(f"{shown} line {number}: image {entry} does not exist")
        yield path, path.relative_to(root).as_posix() if _within(path, root) else path.name


def _image_size(path: Path, base: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(f"{path.relative_to(base).as_posix()}: not an image Pillow can read ({exc})") from exc
    if orientation in _ROTATED:
        width, height = height, width
    return width, height


def _label_path(image: Path) -> Path:
    # Ultralytics' img2label_paths: the last /images/ becomes /labels/.
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(labels.join(str(image).rsplit(images, 1))).with_suffix(".txt")


def _read_labels(path: Path, names: dict[int, str], width: int, height: int, task: str, base: Path) -> list[Region]:
    # A label path outside the dataset folder (its own path holds an "images" folder
    # higher up) is never read, like any other path outside it.
    if not _within(path, base) or not path.is_file():
        return []
    shown = path.relative_to(base).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{shown}: is not UTF-8 text") from exc
    tolerance = pixel_tolerance(width, height)
    regions = []
    for number, line in enumerate(text.splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        where = f"{shown} line {number}"
        try:
            class_id = int(values[0])
        except ValueError:
            raise FormatError(f"{where}: class id {values[0]!r} is not a whole number") from None
        if class_id not in names:
            raise FormatError(
                f"{where}: unknown class id {class_id}; data.yaml names {len(names)} classes "
                f"(ids {min(names)}..{max(names)})"
            )
        numbers = []
        for value in values[1:]:
            try:
                numbers.append(float(value))
            except ValueError:
                raise FormatError(f"{where}: {value!r} is not a number") from None
        label = names[class_id]
        count = len(values)
        is_polygon = count >= 7 and count % 2 == 1
        if count in (5, 6) and not (task == "segment" and count == 6):
            cx, cy, w, h = numbers[:4]
            score = numbers[4] if count == 6 else None
            geometry = {"box": [cx - w / 2, cy - h / 2, w, h]}
            regions.append(build_region(label, "box", geometry, width, height, where=where, tolerance=tolerance, score=score))
        elif is_polygon and task == "segment":
            regions.append(
                build_region(label, "polygon", {"polygons": [numbers]}, width, height, where=where, tolerance=tolerance)
            )
        elif is_polygon:
            polygon = build_region(
                label, "polygon", {"polygons": [numbers]}, width, height, where=where, tolerance=tolerance
            )
            regions.append(build_region(label, "box", {"box": list(polygon.box)}, width, height, where=where))
        elif task == "detect":
            raise FormatError(f"{where}: expected 5 values (class cx cy w h), got {count}")
        else:
            raise FormatError(
                f"{where}: expected class x1 y1 x2 y2 ... (at least 3 points) or class cx cy w h, got {count} values"
            )
    return regions


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _confined(path: Path, base: Path, shown: str) -> Path:
    path = Path(os.path.normpath(path))
    if not _within(path, base):
        raise FormatError(f"{shown} lies outside the dataset folder")
    return path


# ---------------------------------------------------------------------------------------
# Writing


def _unique_name(file_name: str, source: Path, index: int, taken: set[str]) -> str:
    # Only the base name: a file_name like ../../x must not place files outside out_dir.
    name = PurePosixPath(file_name.replace("\\", "/")).name
    if name in ("", ".", ".."):
        name = f"image_{index}"
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    if suffix.lower() not in IMAGE_SUFFIXES:
        stem, suffix = name, source.suffix
    candidate, counter = stem + suffix, 0
    while candidate.lower() in taken:
        counter += 1
        candidate = f"{stem}_{counter}{suffix}"
    taken.add(candidate.lower())
    return candidate


def _place(source: Path, target: Path) -> None:
    if not source.is_file():
        raise FormatError(f"{target.name}: image file {source} not found")
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(source, target)


def _label_line(region: Region, class_ids: dict[str, int], task: str, record: ImageRecord) -> str:
    if region.label not in class_ids:
        raise FormatError(f"{record.file_name}: label {region.label!r} is not one of the dataset classes")
    if task == "detect":
        x, y, w, h = region.box
        values = [x + w / 2, y + h / 2, w, h]
    elif region.kind == "box":
        values = box_polygon(region.box)
    else:
        values = merge_polygon_parts(region_polygons(region))
    return " ".join([str(class_ids[region.label]), *(_number(v) for v in values)])


def _number(value: float) -> str:
    # 8 decimals keep round trips well inside 1e-6; trailing zeros only cost bytes.
    text = f"{min(max(value, 0.0), 1.0):.8f}".rstrip("0").rstrip(".")
    return text or "0"
