"""Consensus of several annotators: one label per item by majority vote, one set of regions
per image by clustering the annotators' shapes.

What has no clear majority (a tie, too few ratings) comes back without a label and with
its status, so the caller can send it to a reviewer instead of guessing.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from annotations.formats.regions import Kind, Region
from annotations.geometry import (
    box_to_rle,
    iou_matrix,
    mask_to_rle,
    match_regions,
    polygons_to_rle,
    rle_box,
    rle_to_mask,
)
from annotations.quality.regions import check_regions

VoteStatus = Literal["agreed", "tie", "below_quorum"]


class Vote(NamedTuple):
    """The outcome of majority_vote. `votes` counts each label, most voted first;
    `agreement` is the share of the ratings that gave the most voted label (for a tie,
    one of the tied labels; 0.0 with no rating)."""

    label: str | None
    status: VoteStatus
    votes: dict[str, int]
    agreement: float


@dataclass
class ConsensusRegion:
    """One region agreed by several annotators.

    support: how many annotators drew it; members: (answer index, region index) of each
    of their regions; votes: their labels counted; mean_iou: mean IoU of the members with
    the merged shape. kind is "box" for a cluster of boxes (the mean box), "mask" for a
    pixel vote, and the member's own kind for a cluster of one."""

    label: str
    kind: Kind
    box: tuple[float, float, float, float]
    polygons: list[list[float]] | None
    rle: dict | None
    support: int
    members: list[tuple[int, int]] = field(default_factory=list)
    mean_iou: float = 1.0
    votes: dict[str, int] = field(default_factory=dict)

    def region(self) -> Region:
        """The consensus as a plain Region, for the exporters and the review page."""
        return Region(label=self.label, kind=self.kind, box=self.box, polygons=self.polygons, rle=self.rle)


def majority_vote(labels: Sequence[str], quorum: int = 1) -> Vote:
    """The most common label when it is the only most common one and at least `quorum`
    ratings were given; otherwise label None with status "tie" or "below_quorum"."""
    if quorum < 1:
        raise ValueError(f"quorum must be at least 1 rating, got {quorum}")
    counts = Counter(labels)
    ranked = counts.most_common()
    agreement = ranked[0][1] / len(labels) if ranked else 0.0
    votes = dict(ranked)
    if len(labels) < quorum:
        return Vote(None, "below_quorum", votes, agreement)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return Vote(None, "tie", votes, agreement)
    return Vote(ranked[0][0], "agreed", votes, agreement)


def region_consensus(
    answers: Sequence[Sequence[Region]],
    iou_threshold: float = 0.5,
    min_support: int | None = None,
    width: int | None = None,
    height: int | None = None,
) -> list[ConsensusRegion]:
    """The regions that at least `min_support` annotators agree on (default: a strict
    majority of the answers, len(answers) // 2 + 1).

    Clustering: the answers are taken in order; each one's regions are paired one to one
    (Hungarian, IoU >= iou_threshold, labels ignored) with the first region of every
    cluster so far, and the unpaired ones start new clusters, so an annotator contributes
    at most one region per cluster.

    Label: majority vote of the members; on a tie, the label of the member with the
    highest mean IoU with the other members (the most central shape; the earlier answer on
    equal IoU).

    Shape: a cluster of boxes gets the mean of the boxes. Any polygon or mask in it makes
    it a pixel vote on the width x height image (needed then): a pixel is kept when a
    strict majority of the members cover it, or, when no pixel has one, where the most
    members overlap. Results come in the order their clusters were started.
    """
    for index, regions in enumerate(answers):
        check_regions(regions, f"answer {index + 1}")
    needed = len(answers) // 2 + 1 if min_support is None else min_support
    if not answers:
        return []
    if not 1 <= needed <= len(answers):
        raise ValueError(f"min_support must be between 1 and the number of answers ({len(answers)}), got {needed}")
    if any(region.kind != "box" for regions in answers for region in regions) and (width is None or height is None):
        raise ValueError("merging polygons or masks needs the image size: pass width and height in pixels")
    for index, regions in enumerate(answers):
        for number, region in enumerate(regions, 1):
            if region.kind == "mask" and list(region.rle["size"]) != [height, width]:
                raise ValueError(
                    f"answer {index + 1} region {number}: mask size {list(region.rle['size'])} does not match "
                    f"the image {width}x{height} (expected [{height}, {width}])"
                )
    clusters: list[list[tuple[int, int]]] = []
    for answer, regions in enumerate(answers):
        seeds = [answers[members[0][0]][members[0][1]] for members in clusters]
        paired = set()
        for match in match_regions(seeds, regions, iou_threshold, width=width, height=height):
            clusters[match.a].append((answer, match.b))
            paired.add(match.b)
        clusters += [[(answer, index)] for index in range(len(regions)) if index not in paired]
    return [_merge(answers, members, width, height) for members in clusters if len(members) >= needed]


def _merge(
    answers: Sequence[Sequence[Region]], members: list[tuple[int, int]], width: int | None, height: int | None
) -> ConsensusRegion:
    regions = [answers[answer][index] for answer, index in members]
    vote = majority_vote([region.label for region in regions])
    label = vote.label if vote.label is not None else _central_label(regions, vote.votes, width, height)
    if len(regions) == 1:
        only = regions[0]
        merged = Region(label, only.kind, tuple(only.box), only.polygons, only.rle)
    elif all(region.kind == "box" for region in regions):
        box = np.mean([region.box for region in regions], axis=0)
        merged = Region(label, "box", tuple(float(v) for v in box))
    else:
        rle = _pixel_vote(regions, width, height)
        merged = Region(label, "mask", tuple(rle_box(rle)), rle=rle)
    ious = iou_matrix(regions, [merged], width=width, height=height)[:, 0] if len(regions) > 1 else np.ones(1)
    return ConsensusRegion(
        label=label,
        kind=merged.kind,
        box=merged.box,
        polygons=merged.polygons,
        rle=merged.rle,
        support=len(members),
        members=list(members),
        mean_iou=float(ious.mean()),
        votes=vote.votes,
    )


def _central_label(regions: Sequence[Region], votes: dict[str, int], width: int | None, height: int | None) -> str:
    """Among the labels tied first, the one of the member closest to all the others."""
    top = max(votes.values())
    tied = {label for label, count in votes.items() if count == top}
    ious = iou_matrix(regions, regions, width=width, height=height)
    centrality = (ious.sum(axis=1) - ious.diagonal()) / (len(regions) - 1)
    candidates = [index for index, region in enumerate(regions) if region.label in tied]
    best = max(candidates, key=lambda index: (centrality[index], -index))
    return regions[best].label


def _pixel_vote(regions: Sequence[Region], width: int, height: int) -> dict:
    """The voted mask. Members were paired with IoU > 0 on this same raster, so some pixel
    is always covered."""
    count = np.zeros((height, width), dtype=np.int32)
    for region in regions:
        count += rle_to_mask(_rasterise(region, width, height))
    keep = 2 * count > len(regions)
    if not keep.any():
        keep = count == count.max()
    return mask_to_rle(keep)


def _rasterise(region: Region, width: int, height: int) -> dict:
    if region.kind == "mask":
        return region.rle
    if region.kind == "polygon":
        return polygons_to_rle(region.polygons, width, height)
    return box_to_rle(region.box, width, height)
