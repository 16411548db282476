"""Agreement between two annotators on the regions of an image.

Regions are paired one to one by annotations.geometry.match_regions (Hungarian, IoU at
least the threshold, labels ignored), so a shape both people drew but labelled
differently counts as found and then as a class disagreement: where they drew and what
they called it are reported apart.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

from annotations.formats.regions import Region
from annotations.geometry import KINDS, Match, match_regions
from annotations.quality.agreement import cohen_kappa

AnnotatorId = int
ItemId = int
ImageSize = tuple[int, int]


class RegionAgreement(NamedTuple):
    """Two annotators on one image, `a` taken as the reference.

    precision: share of b's regions matched in a; recall: share of a's regions matched
    in b; f1 = 2 * matches / (len(a) + len(b)). With no region on a side nothing can be
    missed there: precision is 1.0 when b drew nothing, recall 1.0 when a drew nothing
    (both empty: perfect agreement, f1 1.0). class_agreement and kappa look at the matched
    pairs only; kappa is None below 2 matches or where undefined."""

    matches: list[Match]
    mean_iou: float | None
    precision: float
    recall: float
    f1: float
    class_agreement: float | None
    kappa: float | None


class PairRegionAgreement(NamedTuple):
    """Two annotators over every item both labelled, matches pooled across the items.
    The rates are None when they share no item."""

    a: AnnotatorId
    b: AnnotatorId
    n_items: int
    n_a: int
    n_b: int
    n_matches: int
    mean_iou: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    class_agreement: float | None
    kappa: float | None


def region_agreement(
    a: Sequence[Region],
    b: Sequence[Region],
    iou_threshold: float = 0.5,
    width: int | None = None,
    height: int | None = None,
) -> RegionAgreement:
    """Match b's regions against a's (the reference) and score the pairs."""
    check_regions(a, "answer a")
    check_regions(b, "answer b")
    matches = match_regions(a, b, iou_threshold, width=width, height=height)
    pairs = [(a[m.a].label, b[m.b].label) for m in matches]
    n_a, n_b, n = len(a), len(b), len(matches)
    return RegionAgreement(
        matches=matches,
        mean_iou=_mean([m.iou for m in matches]),
        precision=n / n_b if n_b else 1.0,
        recall=n / n_a if n_a else 1.0,
        f1=2 * n / (n_a + n_b) if n_a + n_b else 1.0,
        class_agreement=_class_agreement(pairs),
        kappa=_pair_kappa(pairs),
    )


def pairwise_region_agreement(
    per_annotator: Mapping[AnnotatorId, Mapping[ItemId, Sequence[Region]]],
    iou_threshold: float = 0.5,
    sizes: Mapping[ItemId, ImageSize] | None = None,
) -> list[PairRegionAgreement]:
    """region_agreement for every pair of annotators (ordered by user id; the lower id is
    the reference `a`), pooled over the items both labelled: an item one of them left
    without regions counts with an empty list. `sizes` maps an item to its image (width,
    height) in pixels, needed to compare masks with boxes or polygons on that image."""
    results = []
    for a, b in combinations(sorted(per_annotator), 2):
        shared = [item for item in per_annotator[a] if item in per_annotator[b]]
        n_a = n_b = 0
        ious: list[float] = []
        pairs: list[tuple[str, str]] = []
        for item in shared:
            regions_a, regions_b = per_annotator[a][item], per_annotator[b][item]
            check_regions(regions_a, f"annotator {a}, item {item}:")
            check_regions(regions_b, f"annotator {b}, item {item}:")
            width, height = (sizes or {}).get(item, (None, None))
            matches = match_regions(regions_a, regions_b, iou_threshold, width=width, height=height)
            n_a += len(regions_a)
            n_b += len(regions_b)
            ious += [m.iou for m in matches]
            pairs += [(regions_a[m.a].label, regions_b[m.b].label) for m in matches]
        n = len(pairs)
        results.append(
            PairRegionAgreement(
                a=a,
                b=b,
                n_items=len(shared),
                n_a=n_a,
                n_b=n_b,
                n_matches=n,
                mean_iou=_mean(ious),
                precision=(n / n_b if n_b else 1.0) if shared else None,
                recall=(n / n_a if n_a else 1.0) if shared else None,
                f1=(2 * n / (n_a + n_b) if n_a + n_b else 1.0) if shared else None,
                class_agreement=_class_agreement(pairs),
                kappa=_pair_kappa(pairs),
            )
        )
    return results


def check_regions(regions: Sequence[Region], where: str) -> None:
    """Refuse, with a ValueError that names the region, what cannot be compared: an
    unknown kind, a polygon without polygons, a mask without an RLE."""
    for index, region in enumerate(regions):
        name = f"{where} region {index + 1}"
        if not isinstance(region, Region):
            raise ValueError(f"{name} must be a Region, got {type(region).__name__}")
        if region.kind not in KINDS:
            raise ValueError(f"{name} has unknown kind {region.kind!r}; use one of {', '.join(KINDS)}")
        if region.kind == "polygon" and not region.polygons:
            raise ValueError(f"{name} is a polygon without polygons; give its parts in `polygons`")
        if region.kind == "mask" and not region.rle:
            raise ValueError(f'{name} is a mask without an RLE; give `rle` as {{"size": [h, w], "counts": ...}}')


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _class_agreement(pairs: Sequence[tuple[str, str]]) -> float | None:
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def _pair_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    if len(pairs) < 2:
        return None
    return cohen_kappa([x for x, _ in pairs], [y for _, y in pairs])
