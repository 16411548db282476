"""The neutral structures every image format reads and writes, and the geometry JSON the
database stores. No Django: the services map these to and from rows.

Coordinates are normalised to the image (0..1, origin top-left); a mask is COCO compressed
RLE in pixels (see annotations.geometry for the conventions).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from annotations.geometry import EPS, GeometryError, polygons_box, rle_box, validate_geometry

Kind = Literal["box", "polygon", "mask"]


class FormatError(ValueError):
    """Input a reader cannot use; the message names the file and the line or element."""


@dataclass
class Region:
    """One labelled shape. `box` is always present: for a polygon or a mask it is the
    shape's bounding box. `polygons` (normalised flat [x1, y1, ...] lists, one per part)
    is set for kind "polygon" only, `rle` ({"size": [h, w], "counts": str} in pixels) for
    kind "mask" only."""

    label: str
    kind: Kind
    box: tuple[float, float, float, float]
    polygons: list[list[float]] | None = None
    rle: dict | None = None
    score: float | None = None
    attributes: dict = field(default_factory=dict)


@dataclass
class ImageRecord:
    """One image and its regions. `path` is where a reader found the image file (None
    when it did not look, as for COCO JSON); writers ask their caller for the file."""

    file_name: str
    width: int
    height: int
    regions: list[Region] = field(default_factory=list)
    path: str | None = None


@dataclass
class Dataset:
    """Images with their regions; `classes` orders the labels (class ids in YOLO, category
    ids in COCO)."""

    classes: list[str]
    images: list[ImageRecord]


def region_to_geometry(region: Region) -> dict:
    """The geometry JSON stored for a region: {"box": [x, y, w, h]} plus "polygons" for a
    polygon or "rle" for a mask."""
    geometry: dict = {"box": [float(v) for v in region.box]}
    if region.kind == "polygon":
        if not region.polygons:
            raise GeometryError("a polygon region has no polygons")
        geometry["polygons"] = [list(part) for part in region.polygons]
    elif region.kind == "mask":
        if not region.rle:
            raise GeometryError("a mask region has no rle")
        geometry["rle"] = {"size": list(region.rle["size"]), "counts": region.rle["counts"]}
    return geometry


def geometry_to_region(
    label: str,
    kind: Kind,
    geometry: dict,
    *,
    score: float | None = None,
    attributes: dict | None = None,
) -> Region:
    """A Region from stored geometry JSON. Does not validate (that needs the image size:
    use validate_geometry or build_region); a missing box is derived from the shape."""
    polygons = [list(part) for part in geometry["polygons"]] if kind == "polygon" else None
    rle = dict(geometry["rle"]) if kind == "mask" else None
    box = geometry.get("box")
    if box is None:
        box = polygons_box(polygons) if kind == "polygon" else rle_box(rle) if kind == "mask" else None
    if box is None:
        raise GeometryError('a box region needs "box": [x, y, w, h]')
    return Region(
        label=label,
        kind=kind,
        box=tuple(float(v) for v in box),
        polygons=polygons,
        rle=rle,
        score=score,
        attributes=dict(attributes or {}),
    )


def build_region(
    label: str,
    kind: Kind,
    geometry: dict,
    width: int,
    height: int,
    *,
    where: str,
    tolerance: float = EPS,
    score: float | None = None,
    attributes: dict | None = None,
) -> Region:
    """Validate geometry against its image and make a Region; a GeometryError becomes a
    FormatError that starts with `where` (the file and line or element)."""
    try:
        clean = validate_geometry(kind, geometry, width, height, tolerance=tolerance)
    except GeometryError as exc:
        raise FormatError(f"{where}: {exc}") from exc
    return geometry_to_region(label, kind, clean, score=score, attributes=attributes)


def pixel_tolerance(width: int, height: int) -> float:
    """How far (normalised) readers let coordinates overshoot the image before refusing
    them: one pixel of the longer side, since tools disagree on pixel conventions by one."""
    return max(EPS, 1.0 / max(width, height))
