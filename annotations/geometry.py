"""Region geometry: validation, conversions, areas and overlap.

Pure Python, numpy, pycocotools, SciPy (for matching only) and (for mask -> polygon
only) OpenCV; no Django, so the services and the format readers share one set of rules.
SciPy and OpenCV are imported where they are used: the web process validates every
submitted region with this module, and must not load them to do it.

Conventions:
- Boxes and polygons are normalised to the image: 0..1, origin at the top-left corner.
  A box is [x, y, w, h] (top-left corner and size); a polygon part is a flat
  [x1, y1, x2, y2, ...] list, and a region may have several parts.
- Masks are COCO compressed RLE in pixels of the image: {"size": [height, width],
  "counts": str}.
- Pixel i spans [i, i + 1) in continuous coordinates, as pycocotools rasterises polygons:
  the polygon [0, 0, 4, 0, 4, 4, 0, 4] (in pixels) covers exactly 16 pixels.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from pycocotools import mask as mask_utils

if TYPE_CHECKING:
    from annotations.formats.regions import Region

KINDS = ("box", "polygon", "mask")

# Values this close outside the image are clipped onto its border instead of refused:
# they come from rounding (a YOLO file with 6 decimals overshoots by up to 5e-7).
EPS = 1e-6

# Below this (normalised) a polygon is a line or a point.
_MIN_AREA = 1e-12

# Points in one polygon region, all parts together: far more than a hand-drawn or traced
# outline needs, and small enough that one region cannot tie up rasterising or storage.
MAX_POLYGON_POINTS = 10_000

# Raster used to compare polygons and boxes when no image size is given. IoU is invariant
# under scaling each axis, so any grid works; 1000 keeps the rasterisation error ~0.1%.
_DEFAULT_GRID = 1000


class GeometryError(ValueError):
    """Geometry that cannot be stored; the message says what to fix."""


class Match(NamedTuple):
    """One pair from match_regions: indexes into the two lists and their IoU."""

    a: int
    b: int
    iou: float


# ---------------------------------------------------------------------------------------
# Validation


def validate_geometry(
    kind: str, geometry: dict, width: int, height: int, *, tolerance: float = EPS
) -> dict:
    """Check one region's geometry against its image and return the clean form.

    Returns {"box": [...]} for a box, {"box", "polygons"} for a polygon and {"box", "rle"}
    for a mask; the box of a polygon or a mask is derived from the shape (any box given
    with it is ignored). Values up to `tolerance` outside the image are clipped onto the
    border. Raises GeometryError whose message says what to fix.
    """
    if kind not in KINDS:
        raise GeometryError(f"unknown region kind {kind!r}; use one of {', '.join(KINDS)}")
    _check_image_size(width, height)
    if not isinstance(geometry, dict):
        raise GeometryError(f"geometry must be an object with {_needs(kind)}, got {type(geometry).__name__}")
    key = {"box": "box", "polygon": "polygons", "mask": "rle"}[kind]
    if geometry.get(key) is None:
        raise GeometryError(f"a {kind} region needs {_needs(kind)}")
    if kind == "box":
        return {"box": validate_box(geometry["box"], tolerance=tolerance)}
    if kind == "polygon":
        polygons = validate_polygons(geometry["polygons"], tolerance=tolerance)
        return {"box": polygons_box(polygons), "polygons": polygons}
    rle = validate_rle(geometry["rle"], width, height)
    return {"box": rle_box(rle), "rle": rle}


def validate_box(box: Sequence[float], *, tolerance: float = EPS) -> list[float]:
    """A normalised [x, y, w, h] with positive size inside the image (overshoots up to
    `tolerance` clipped)."""
    if isinstance(box, (str, bytes)) or not isinstance(box, Sequence) or len(box) != 4:
        raise GeometryError(f"box must be 4 numbers [x, y, w, h], got {box!r}")
    x, y, w, h = (_number(value, "box value") for value in box)
    shown = _show(x, y, w, h)
    for name, size in (("width", w), ("height", h)):
        if size < 0:
            raise GeometryError(f"box {shown} has negative {name}")
        if size == 0:
            raise GeometryError(f"box {shown} has zero {name}")
    for axis, start, size in (("x", x, w), ("y", y, h)):
        if start < -tolerance:
            raise GeometryError(f"box {shown} starts outside the image ({axis} = {start:g} < 0)")
        if start + size > 1 + tolerance:
            extent = "w" if axis == "x" else "h"
            raise GeometryError(
                f"box {shown} extends outside the image ({axis} + {extent} = {start + size:g} > 1)"
            )
    # Clip only what overshoots, so values inside the image come back bit for bit.
    if x < 0:
        w, x = w + x, 0.0
    if y < 0:
        h, y = h + y, 0.0
    if x + w > 1:
        w = 1.0 - x
    if y + h > 1:
        h = 1.0 - y
    if w <= 0 or h <= 0:
        raise GeometryError(f"box {shown} has zero size inside the image")
    return [x, y, w, h]


def validate_polygons(polygons: Sequence, *, tolerance: float = EPS) -> list[list[float]]:
    """Normalised polygon parts, each with at least 3 points, non-zero area and every
    point inside the image (overshoots up to `tolerance` clipped). A single flat list of
    numbers is taken as one part."""
    if isinstance(polygons, (str, bytes)) or not isinstance(polygons, Sequence) or not polygons:
        raise GeometryError("polygons must be a list of parts, each a flat [x1, y1, x2, y2, ...] list")
    if all(isinstance(value, Real) for value in polygons):
        polygons = [polygons]
    parts = [part for part in polygons if isinstance(part, Sequence) and not isinstance(part, (str, bytes))]
    points = sum(len(part) for part in parts) // 2
    if points > MAX_POLYGON_POINTS:
        raise GeometryError(f"polygon has {points:,} points; the limit is {MAX_POLYGON_POINTS:,} for one region")
    clean = []
    for index, part in enumerate(polygons):
        where = "polygon" if len(polygons) == 1 else f"polygon part {index + 1}"
        if isinstance(part, (str, bytes)) or not isinstance(part, Sequence):
            raise GeometryError(f"{where} must be a flat [x1, y1, x2, y2, ...] list, got {part!r}")
        values = [_number(value, f"{where} coordinate") for value in part]
        if len(values) % 2:
            raise GeometryError(f"{where} has an odd number of coordinates ({len(values)}); give x, y pairs")
        if len(values) < 6:
            raise GeometryError(f"{where} needs at least 3 points, got {len(values) // 2}")
        for point in range(len(values) // 2):
            px, py = values[2 * point], values[2 * point + 1]
            if not (-tolerance <= px <= 1 + tolerance and -tolerance <= py <= 1 + tolerance):
                raise GeometryError(
                    f"{where} point {point + 1} ({px:g}, {py:g}) lies outside the image (coordinates are 0..1)"
                )
        values = [min(max(value, 0.0), 1.0) for value in values]
        if abs(_shoelace(values)) < _MIN_AREA:
            raise GeometryError(f"{where} has zero area")
        clean.append(values)
    return clean


def validate_rle(rle: dict, width: int, height: int) -> dict:
    """A COCO RLE (compressed string or uncompressed list of runs) whose size is the
    image's and whose runs cover it exactly; returns the compressed form with str counts."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise GeometryError('mask must be a COCO RLE {"size": [height, width], "counts": ...}')
    size = rle["size"]
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        raise GeometryError(f"RLE size must be [height, width] in pixels, got {size!r}")
    if list(size) != [height, width]:
        raise GeometryError(
            f"RLE size {list(size)} does not match the image {width}x{height} (expected [{height}, {width}])"
        )
    counts = rle["counts"]
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError:
            raise GeometryError("RLE counts are not valid (not an ASCII string)") from None
    if isinstance(counts, str):
        runs = _decode_counts(counts)
    elif isinstance(counts, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        runs = list(counts)
    else:
        raise GeometryError("RLE counts are not valid (expected a compressed string or a list of run lengths)")
    if any(run < 0 for run in runs):
        raise GeometryError("RLE counts are not valid (a run length is negative)")
    total = sum(runs)
    if total != height * width:
        raise GeometryError(
            f"RLE counts are not valid (the runs cover {total} pixels, the image has {height * width})"
        )
    if not any(runs[1::2]):
        raise GeometryError("mask is empty: paint at least one pixel")
    if not isinstance(counts, str):
        counts = mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)["counts"]
        counts = counts.decode("ascii")
    return {"size": [height, width], "counts": counts}


# ---------------------------------------------------------------------------------------
# Conversions


def box_polygon(box: Sequence[float]) -> list[float]:
    """The 4 corners of [x, y, w, h], clockwise from the top-left."""
    x, y, w, h = box
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def polygons_box(polygons: Sequence[Sequence[float]]) -> list[float]:
    """Bounding [x, y, w, h] of all parts."""
    xs = [v for part in polygons for v in part[0::2]]
    ys = [v for part in polygons for v in part[1::2]]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def rle_box(rle: dict) -> list[float]:
    """Normalised bounding [x, y, w, h] of a mask's pixels."""
    height, width = rle["size"]
    x, y, w, h = (float(v) for v in mask_utils.toBbox(_coco_rle(rle)))
    return [x / width, y / height, w / width, h / height]


def polygons_to_rle(polygons: Sequence[Sequence[float]], width: int, height: int) -> dict:
    """Rasterise normalised polygon parts onto the image (their union) as a COCO RLE."""
    pixels = [_to_pixels(part, width, height) for part in polygons]
    rle = mask_utils.merge(mask_utils.frPyObjects(pixels, height, width))
    return _json_rle(rle)


def box_to_rle(box: Sequence[float], width: int, height: int) -> dict:
    """Rasterise a normalised box onto the image as a COCO RLE."""
    return polygons_to_rle([box_polygon(box)], width, height)


def mask_to_rle(mask: np.ndarray) -> dict:
    """A 2-D array (non-zero = inside) as a COCO RLE with str counts."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise GeometryError(f"a mask must be a 2-D array (height, width), got shape {mask.shape}")
    return _json_rle(mask_utils.encode(np.asfortranarray(mask != 0, dtype=np.uint8)))


def rle_to_mask(rle: dict) -> np.ndarray:
    """A COCO RLE decoded to a (height, width) uint8 array of 0 and 1."""
    # Decoded here rather than by pycocotools' decode, which warns under numpy 2.
    height, width = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = _decode_counts(counts) if isinstance(counts, str) else list(counts)
    flat = np.repeat(np.arange(len(runs), dtype=np.uint8) % 2, runs)
    if flat.size != height * width:
        raise GeometryError(f"RLE counts are not valid (the runs cover {flat.size} pixels, the image has {height * width})")
    return np.ascontiguousarray(flat.reshape(width, height).T)


def rle_to_polygons(rle: dict, *, tolerance: float = 0.5) -> list[list[float]]:
    """The outlines of a mask as normalised polygon parts, largest first.

    Each outline runs along pixel edges (traced on the grid of pixel corners), so the
    polygons cover every pixel of the mask; rasterised again they give the mask back up to
    half-pixel steps on slanted edges. Outlines are simplified with Douglas-Peucker at
    `tolerance` pixels; parts left with fewer than 3 points are dropped. Holes are filled:
    YOLO-seg and most polygon consumers cannot express them.
    """
    import cv2  # only this conversion needs OpenCV: keep it out of every web worker's imports

    mask = rle_to_mask(rle).astype(bool)
    height, width = mask.shape
    padded = np.pad(mask, 1)
    # Corner (i, j) is inside when any of the 4 pixels that touch it is.
    corners = padded[:-1, :-1] | padded[1:, :-1] | padded[:-1, 1:] | padded[1:, 1:]
    contours, _ = cv2.findContours(corners.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = []
    for contour in contours:
        if tolerance > 0:
            contour = cv2.approxPolyDP(contour, tolerance, True)
        points = contour.reshape(-1, 2).astype(float)
        if len(points) < 3:
            continue
        points[:, 0] /= width
        points[:, 1] /= height
        part = points.ravel().tolist()
        area = abs(_shoelace(part))
        if area >= _MIN_AREA:
            parts.append((area, part))
    parts.sort(key=lambda item: -item[0])
    return [part for _, part in parts]


def region_polygons(region: Region, *, tolerance: float = 0.5) -> list[list[float]]:
    """Any region as normalised polygon parts: a box as its 4 corners, a mask traced by
    rle_to_polygons."""
    if region.kind == "polygon":
        return [list(part) for part in region.polygons]
    if region.kind == "mask":
        return rle_to_polygons(region.rle, tolerance=tolerance)
    return [box_polygon(region.box)]


def merge_polygon_parts(parts: Sequence[Sequence[float]]) -> list[float]:
    """Join polygon parts into one outline by zero-width bridges between their nearest
    points (as Ultralytics' COCO converter does), for formats with one polygon per
    instance. Parts are chained in the given order; each bridge is walked out and back."""
    if not parts:
        raise GeometryError("no polygon parts to merge")
    arrays = [np.asarray(part, dtype=float).reshape(-1, 2) for part in parts]
    if len(arrays) == 1:
        return arrays[0].ravel().tolist()
    # Bridge k joins point exits[k] of part k to point entries[k + 1] of part k + 1.
    exits, entries = [0] * len(arrays), [0] * len(arrays)
    for k in range(len(arrays) - 1):
        distances = ((arrays[k][:, None, :] - arrays[k + 1][None, :, :]) ** 2).sum(axis=2)
        exits[k], entries[k + 1] = (int(v) for v in np.unravel_index(np.argmin(distances), distances.shape))

    def walk(points: np.ndarray, start: int, stop: int, full: bool) -> list[np.ndarray]:
        # Indexes from start to stop inclusive, going forward round the ring.
        n = len(points)
        length = n + 1 if full else (stop - start) % n + 1
        return [points[(start + step) % n] for step in range(length)]

    last = len(arrays) - 1
    path = walk(arrays[0], exits[0], exits[0], full=True)
    for k in range(1, last):
        path += walk(arrays[k], entries[k], exits[k], full=False)
    path += walk(arrays[last], entries[last], entries[last], full=True)
    for k in range(last - 1, 0, -1):
        path += walk(arrays[k], exits[k], entries[k], full=entries[k] == exits[k])
    # The closing edge, back to the first point, walks the first bridge home.
    return np.asarray(path).ravel().tolist()


# ---------------------------------------------------------------------------------------
# Area and overlap


def area(kind: str, geometry: dict, width: int, height: int) -> float:
    """Area in pixels: a box exactly, a polygon or a mask as the pixel count of its RLE
    (COCO's convention for the "area" field)."""
    if kind == "box":
        _, _, w, h = geometry["box"]
        return w * width * h * height
    if kind == "polygon":
        return float(mask_utils.area(_coco_rle(polygons_to_rle(geometry["polygons"], width, height))))
    if kind == "mask":
        return float(mask_utils.area(_coco_rle(geometry["rle"])))
    raise GeometryError(f"unknown region kind {kind!r}; use one of {', '.join(KINDS)}")


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x, y, w, h] boxes (any common unit)."""
    return float(_box_iou_matrix(np.asarray([a], dtype=float), np.asarray([b], dtype=float))[0, 0])


def region_iou(a: Region, b: Region, *, width: int | None = None, height: int | None = None) -> float:
    """IoU of two regions; see iou_matrix for how shapes are compared."""
    return float(iou_matrix([a], [b], width=width, height=height)[0, 0])


def iou_matrix(
    a: Sequence[Region], b: Sequence[Region], *, width: int | None = None, height: int | None = None
) -> np.ndarray:
    """IoU of every region of `a` (rows) with every region of `b` (columns).

    Two boxes: closed form. Anything with a polygon or a mask: pycocotools IoU of the
    rasterised shapes, on the image (width, height) when given, else on the masks' own
    size, else on a 1000x1000 grid (IoU does not depend on the aspect ratio).
    """
    ious = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return ious
    box_a = np.asarray([region.box for region in a], dtype=float)
    box_b = np.asarray([region.box for region in b], dtype=float)
    both_boxes = np.outer([r.kind == "box" for r in a], [r.kind == "box" for r in b])
    if not both_boxes.all():
        grid = _grid(list(a) + list(b), width, height)
        rles_a = [_coco_rle(_region_rle(region, *grid)) for region in a]
        rles_b = [_coco_rle(_region_rle(region, *grid)) for region in b]
        ious = np.asarray(mask_utils.iou(rles_a, rles_b, [0] * len(rles_b)), dtype=float).reshape(len(a), len(b))
    if both_boxes.any():
        ious = np.where(both_boxes, _box_iou_matrix(box_a, box_b), ious)
    return ious


def match_regions(
    a: Sequence[Region],
    b: Sequence[Region],
    iou_threshold: float = 0.5,
    *,
    width: int | None = None,
    height: int | None = None,
    same_label: bool = False,
) -> list[Match]:
    """Pair regions of `a` with regions of `b` one to one, maximising the total IoU
    (Hungarian assignment), keeping pairs with IoU >= iou_threshold (and > 0).

    With same_label=True regions with different labels never pair; by default they do,
    so a review can show a shape both annotators drew but labelled differently.
    Returns Match(a, b, iou) sorted by the index into `a`.
    """
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be between 0 and 1, got {iou_threshold}")
    ious = iou_matrix(a, b, width=width, height=height)
    if same_label and ious.size:
        ious = ious * np.equal.outer([r.label for r in a], [r.label for r in b])
    usable = (ious >= iou_threshold) & (ious > 0)
    if not usable.any():
        return []
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(np.where(usable, ious, 0.0), maximize=True)
    return [Match(int(i), int(j), float(ious[i, j])) for i, j in zip(rows, cols) if usable[i, j]]


# ---------------------------------------------------------------------------------------
# Helpers


def _needs(kind: str) -> str:
    return {
        "box": '"box": [x, y, w, h]',
        "polygon": '"polygons": [[x1, y1, x2, y2, ...], ...]',
        "mask": '"rle": {"size": [height, width], "counts": "..."}',
    }[kind]


def _check_image_size(width: Any, height: Any) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise GeometryError(f"image {name} must be a positive number of pixels, got {value!r}")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise GeometryError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise GeometryError(f"{what} must be a finite number, got {value!r}")
    return number


def _show(*values: float) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _shoelace(flat: Sequence[float]) -> float:
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    return 0.5 * sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))


def _to_pixels(part: Sequence[float], width: int, height: int) -> list[float]:
    return [value * (width if index % 2 == 0 else height) for index, value in enumerate(part)]


def _decode_counts(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (pycocotools' rleFrString, with the
    checks it lacks: it reads past the end or wraps negative runs silently)."""
    runs: list[int] = []
    position, end = 0, len(counts)
    while position < end:
        value, shift, more = 0, 0, True
        while more:
            if position >= end:
                raise GeometryError("RLE counts are not valid (the string ends inside a number)")
            char = ord(counts[position]) - 48
            if not 0 <= char < 64:
                raise GeometryError(f"RLE counts are not valid (unexpected character {counts[position]!r})")
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _coco_rle(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def _json_rle(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _grid(regions: Sequence[Region], width: int | None, height: int | None) -> tuple[int, int]:
    sizes = {tuple(region.rle["size"]) for region in regions if region.kind == "mask"}
    if width is not None and height is not None:
        _check_image_size(width, height)
        wrong = sizes - {(height, width)}
        if wrong:
            raise GeometryError(
                f"RLE size {list(wrong.pop())} does not match the image {width}x{height} (expected [{height}, {width}])"
            )
        return width, height
    if len(sizes) > 1:
        raise GeometryError(f"masks of different sizes cannot be compared: {sorted(list(s) for s in sizes)}")
    if sizes:
        mask_height, mask_width = sizes.pop()
        return mask_width, mask_height
    return _DEFAULT_GRID, _DEFAULT_GRID


def _region_rle(region: Region, width: int, height: int) -> dict:
    if region.kind == "mask":
        return region.rle
    if region.kind == "polygon":
        return polygons_to_rle(region.polygons, width, height)
    return box_to_rle(region.box, width, height)


def _box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * np.clip(
        np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None
    )
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    # min(): a + b - inter can round a box's IoU with itself to 1 + 4e-16.
    return np.minimum(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), 1.0)
