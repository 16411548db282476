"""A synthetic object-detection set that a from-scratch YOLO learns in CPU minutes.

Coloured shapes (circles, squares, triangles, ...) on textured backgrounds (a colour
gradient plus pixel noise), written in the YOLO layout that ultralytics reads:

    out_dir/images/{train,val}/000000.png
    out_dir/labels/{train,val}/000000.txt   "class cx cy w h" (detect) or
                                            "class x1 y1 x2 y2 ..." (segment), normalised
    out_dir/data.yaml                       path, train, val, names (no `download:` key)

Public data sets (coco128) teach a from-scratch detector nothing in CPU minutes; these
shapes are large, saturated and fully inside the image, so learning curves of active
learning become visible within a few epochs. Everything depends on `seed` only: the same
arguments write byte-identical files. Shapes are drawn from the same polygons that the
segment labels carry, so masks and labels agree to the pixel.
"""
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "star")
TASKS = ("detect", "segment")
FORMATS = ("png", "jpg")
CIRCLE_POINTS = 32  # polygon vertices of a circle: smooth enough, short label lines


def _polygon(shape: str, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """(p, 2) pixel vertices of `shape` centred at (cx, cy) with circumradius `radius`."""
    if shape == "circle":
        turns = np.linspace(0.0, 2 * math.pi, CIRCLE_POINTS, endpoint=False)
        radii = np.full(CIRCLE_POINTS, radius)
    elif shape == "square":  # axis-aligned: a rotated square would be a diamond
        turns = np.array([0.25, 0.75, 1.25, 1.75]) * math.pi
        radii = np.full(4, radius)
    elif shape == "diamond":
        turns = np.array([0.0, 0.5, 1.0, 1.5]) * math.pi
        radii = np.array([radius, 0.65 * radius, radius, 0.65 * radius])
    elif shape == "triangle":  # upright, tilted by a few degrees
        turns = -math.pi / 2 + angle + np.array([0.0, 2.0, 4.0]) * math.pi / 3
        radii = np.full(3, radius)
    elif shape == "hexagon":
        turns = angle + np.arange(6) * math.pi / 3
        radii = np.full(6, radius)
    elif shape == "star":
        turns = -math.pi / 2 + angle + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, radius, 0.45 * radius)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    return np.stack([cx + radii * np.cos(turns), cy + radii * np.sin(turns)], axis=1)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted two-colour gradient in a random direction with pixel noise, uint8 (H, W, 3)."""
    start, end = rng.uniform(40, 200, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (xs * math.cos(angle) + ys * math.sin(angle))
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    image = start + t[..., None] * (end - start)
    image += rng.normal(0.0, rng.uniform(4, 14), size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A saturated colour: one channel high, one low, one anywhere (stands out on muted grounds)."""
    channels = rng.permutation(3)
    colour = np.empty(3)
    colour[channels[0]] = rng.uniform(210, 255)
    colour[channels[1]] = rng.uniform(0, 50)
    colour[channels[2]] = rng.uniform(0, 255)
    return tuple(int(c) for c in colour)


def _place(rng: np.random.Generator, size: int, radius: float, taken: list[tuple[float, float, float]],
           tries: int = 30) -> tuple[float, float] | None:
    """A centre that keeps the shape inside the image and apart from the shapes placed so far."""
    for _ in range(tries):
        cx, cy = rng.uniform(radius + 1, size - radius - 1, size=2)
        if all(math.hypot(cx - x, cy - y) > radius + r + 2 for x, y, r in taken):
            return float(cx), float(cy)
    return None


def _label_line(class_index: int, polygon: np.ndarray, size: int, task: str) -> str:
    points = np.clip(polygon / size, 0.0, 1.0)
    if task == "segment":
        return " ".join([str(class_index), *(f"{v:.6f}" for v in points.ravel())])
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    return f"{class_index} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}"


def _image(rng: np.random.Generator, size: int, n_classes: int, classes: Sequence[str], max_objects: int,
           task: str) -> tuple[Image.Image, list[str]]:
    image = Image.fromarray(_background(rng, size))
    draw = ImageDraw.Draw(image)
    lines: list[str] = []
    taken: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        class_index = int(rng.integers(n_classes))
        radius = float(rng.uniform(0.10, 0.22) * size)
        angle = float(rng.uniform(-0.2, 0.2))
        colour = _colour(rng)
        centre = _place(rng, size, radius, taken)
        if centre is None:
            continue
        taken.append((*centre, radius))
        polygon = _polygon(classes[class_index], *centre, radius, angle)
        draw.polygon([tuple(p) for p in polygon.round(2).tolist()], fill=colour)
        lines.append(_label_line(class_index, polygon, size, task))
    return image, lines


def generate(out_dir: str | Path, n_images: int, image_size: int = 160,
             classes: Sequence[str] = ("circle", "square", "triangle"), seed: int = 0, task: str = "detect", *,
             val_fraction: float = 0.2, max_objects: int = 3, image_format: str = "png") -> Path:
    """Write `n_images` images with YOLO labels under `out_dir`; return the data.yaml path.

    `classes` are shape names from SHAPES (their order gives the class indices);
    `val_fraction` of the images (at least one) go to the validation split; each image
    holds 1 to `max_objects` shapes that do not overlap. Deterministic for a seed.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if image_format not in FORMATS:
        raise ValueError(f"image_format must be one of {FORMATS}, got {image_format!r}")
    classes = tuple(classes)
    unknown = [name for name in classes if name not in SHAPES]
    if not classes or unknown:
        raise ValueError(f"classes must be shape names from {SHAPES}, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {classes!r}")
    if n_images < 2:
        raise ValueError("need at least 2 images: one for training and one for validation")
    if image_size < 32:
        raise ValueError("image_size must be at least 32 pixels")
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must lie strictly between 0 and 1")
    if max_objects < 1:
        raise ValueError("max_objects must be at least 1")

    out = Path(out_dir).resolve()
    n_val = min(max(1, round(n_images * val_fraction)), n_images - 1)
    rng = np.random.default_rng(seed)
    for index in range(n_images):
        split = "val" if index >= n_images - n_val else "train"
        image, lines = _image(rng, image_size, len(classes), classes, max_objects, task)
        for kind in ("images", "labels"):
            (out / kind / split).mkdir(parents=True, exist_ok=True)
        stem = f"{index:06d}"
        if image_format == "png":
            image.save(out / "images" / split / f"{stem}.png", optimize=False)
        else:
            image.save(out / "images" / split / f"{stem}.jpg", quality=95)
        (out / "labels" / split / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))

    names = "\n".join(f"  {i}: {json.dumps(name)}" for i, name in enumerate(classes))
    data_yaml = out / "data.yaml"
    data_yaml.write_text(
        f"# Synthetic shapes ({task}), seed {seed}: written by activelearning.synthetic_shapes\n"
        f"path: {json.dumps(str(out))}\ntrain: images/train\nval: images/val\nnames:\n{names}\n"
    )
    return data_yaml
