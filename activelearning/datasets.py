"""Labeled data for the simulator: text files (CSV, TSV, JSONL, or the tab-separated
`sentence<TAB>label` files of the sentiment dataset) and folders of images in one
subfolder per class. Returns raw inputs and labels; features come from the learner."""
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


class DatasetError(ValueError):
    """Data the simulator cannot read; the message says what to fix."""


@dataclass
class Dataset:
    kind: str  # "text" or "image"
    inputs: list | np.ndarray
    labels: np.ndarray  # class names as strings
    source: str

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))


def load_dataset(paths: list[str | Path], text_field: str = "text", label_field: str = "label",
                 image_size: int = 8) -> Dataset:
    """Read one image folder, or one or more text files (concatenated)."""
    paths = [Path(path) for path in paths]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise DatasetError(f"not found: {', '.join(missing)}")
    if len(paths) == 1 and paths[0].is_dir():
        texts = sorted(paths[0].glob("*_labelled.txt"))
        if texts:
            return load_dataset(texts, text_field, label_field)
        return load_image_folder(paths[0], image_size)
    inputs, labels = [], []
    for path in paths:
        rows = list(_text_rows(path, text_field, label_field))
        inputs.extend(text for text, _ in rows)
        labels.extend(label for _, label in rows)
    if len(set(labels)) < 2:
        raise DatasetError("the data needs at least two classes")
    return Dataset("text", inputs, np.asarray(labels, dtype=str), ", ".join(str(path) for path in paths))


def _text_rows(path: Path, text_field: str, label_field: str):
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8", newline="") as handle:
        if suffix == ".txt":
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                text, sep, label = line.rstrip("\n").rpartition("\t")
                if not sep:
                    raise DatasetError(f"{path.name} line {number}: expected 'text<TAB>label'")
                yield text.strip(), label.strip()
            return
        if suffix == ".jsonl":
            reader = (json.loads(line) for line in handle if line.strip())
        else:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        for number, row in enumerate(reader, 1):
            if text_field not in row or label_field not in row:
                raise DatasetError(f"{path.name} row {number}: needs the fields {text_field!r} and {label_field!r}")
            yield str(row[text_field]), str(row[label_field])


def load_image_folder(folder: Path, image_size: int = 8) -> Dataset:
    """Greyscale images resized to `image_size` square, values in [0, 1]."""
    from PIL import Image

    images, labels = [], []
    for class_dir in sorted(path for path in folder.iterdir() if path.is_dir()):
        for file in sorted(class_dir.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with Image.open(file) as image:
                grey = image.convert("L").resize((image_size, image_size))
                images.append(np.asarray(grey, dtype=np.float32) / 255.0)
            labels.append(class_dir.name)
    if len(set(labels)) < 2:
        raise DatasetError(f"{folder} needs one subfolder per class with images in them (at least two classes)")
    return Dataset("image", np.stack(images), np.asarray(labels, dtype=str), str(folder))


def yolo_data_yaml(path: str | Path) -> Path | None:
    """The data.yaml of a YOLO dataset when `path` is one (the yaml itself, or a folder
    holding data.yaml next to labels/), else None."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in {".yaml", ".yml"}:
        return path
    if path.is_dir() and (path / "data.yaml").is_file() and (path / "labels").is_dir():
        return path / "data.yaml"
    return None
