"""Consensus (annotations/quality/consensus.py): majority vote per item, and regions
clustered across annotators with merged shapes. Numbers worked out by hand."""
import numpy as np
import pytest

from annotations.formats.regions import Region
from annotations.geometry import mask_to_rle, rle_to_mask
from annotations.quality.consensus import Vote, majority_vote, region_consensus


def box(label, x, y, w, h):
    return Region(label=label, kind="box", box=(x, y, w, h))


def mask(label, rows, cols, size=10):
    grid = np.zeros((size, size), dtype=np.uint8)
    grid[rows, cols] = 1
    return Region(label, "mask", (0.0, 0.0, 1.0, 1.0), rle=mask_to_rle(grid))


# --- majority vote -----------------------------------------------------------------------


def test_majority_vote_per_item_of_three_annotators():
    annotators = [
        ["pos", "neg", "pos", "pos", "pos"],
        ["pos", "neg", "pos", "neg", "pos"],
        ["neg", "neg", "pos", "pos", "neg"],
    ]
    votes = [majority_vote(list(item)) for item in zip(*annotators)]
    assert [v.label for v in votes] == ["pos", "neg", "pos", "pos", "pos"]
    assert all(v.status == "agreed" for v in votes)
    assert votes[0] == Vote("pos", "agreed", {"pos": 2, "neg": 1}, pytest.approx(2 / 3))
    assert votes[1].agreement == 1.0


def test_majority_vote_leaves_ties_and_short_items_to_a_reviewer():
    assert majority_vote(["pos", "neg"]) == Vote(None, "tie", {"pos": 1, "neg": 1}, 0.5)
    assert majority_vote(["pos", "pos"], quorum=3) == Vote(None, "below_quorum", {"pos": 2}, 1.0)
    assert majority_vote([]) == Vote(None, "below_quorum", {}, 0.0)
    assert majority_vote(["pos", "pos", "neg"], quorum=3).label == "pos"
    with pytest.raises(ValueError, match="quorum must be at least 1"):
        majority_vote(["pos"], quorum=0)


# --- boxes -------------------------------------------------------------------------------


def three_box_answers():
    return [
        [box("car", 0.10, 0.10, 0.2, 0.2), box("person", 0.60, 0.60, 0.2, 0.2)],
        [box("car", 0.12, 0.10, 0.2, 0.2), box("person", 0.60, 0.62, 0.2, 0.2)],
        [box("truck", 0.11, 0.13, 0.2, 0.2), box("dog", 0.40, 0.05, 0.1, 0.1)],
    ]


def test_box_consensus_keeps_majority_shapes_with_the_mean_box_and_majority_label():
    car, person = region_consensus(three_box_answers())

    assert (car.label, car.kind, car.support) == ("car", "box", 3)
    assert car.votes == {"car": 2, "truck": 1}
    assert car.members == [(0, 0), (1, 0), (2, 0)]
    assert car.box == pytest.approx((0.11, 0.11, 0.2, 0.2))
    # Against the mean box: answers 0 and 1 are off by 0.01 on both axes (overlap
    # 0.19 * 0.19 = 0.0361, union 0.0439), answer 2 by 0.02 in y (0.036 / 0.044).
    assert car.mean_iou == pytest.approx((2 * 0.0361 / 0.0439 + 0.036 / 0.044) / 3)
    assert car.polygons is None and car.rle is None

    # Drawn by two of three: a strict majority. The dog, drawn once, is dropped.
    assert (person.label, person.support, person.members) == ("person", 2, [(0, 1), (1, 1)])
    assert person.box == pytest.approx((0.60, 0.61, 0.2, 0.2))
    assert person.region() == Region("person", "box", person.box)


def test_box_consensus_with_min_support_one_keeps_single_shapes_as_drawn():
    results = region_consensus(three_box_answers(), min_support=1)
    assert [r.label for r in results] == ["car", "person", "dog"]
    dog = results[2]
    assert (dog.support, dog.members, dog.box, dog.mean_iou) == (1, [(2, 1)], (0.40, 0.05, 0.1, 0.1), 1.0)


def test_a_tied_label_goes_to_the_most_central_member():
    # Boxes 0.2 wide shifted along x; a shift d gives IoU (0.2 - d) / (0.2 + d). Mean IoU
    # with the others: x=0.12 -> (18/22 + 19/21 + 16/24) / 3 = 0.7965, x=0.13 -> 0.7943,
    # x=0.10 -> 0.6986, x=0.16 -> 0.6481. Labels tie 2-2; x=0.12 says "b".
    answers = [
        [box("a", 0.10, 0.1, 0.2, 0.2)],
        [box("b", 0.12, 0.1, 0.2, 0.2)],
        [box("a", 0.13, 0.1, 0.2, 0.2)],
        [box("b", 0.16, 0.1, 0.2, 0.2)],
    ]
    (result,) = region_consensus(answers)
    assert result.votes == {"a": 2, "b": 2}
    assert result.label == "b"
    assert result.box == pytest.approx((0.1275, 0.1, 0.2, 0.2))


def test_region_consensus_refuses_bad_input():
    with pytest.raises(ValueError, match="answer 2 region 1 has unknown kind 'circle'"):
        region_consensus([[], [Region("x", "circle", (0, 0, 0.1, 0.1))]])
    with pytest.raises(ValueError, match=r"min_support must be between 1 and the number of answers \(2\), got 3"):
        region_consensus([[], []], min_support=3)
    with pytest.raises(ValueError, match="needs the image size: pass width and height"):
        region_consensus([[mask("cell", slice(0, 2), slice(0, 2))]])
    with pytest.raises(ValueError, match=r"does not match the image 20x20"):
        region_consensus([[mask("cell", slice(0, 2), slice(0, 2))]], width=20, height=20)
    assert region_consensus([]) == []


# --- masks and polygons ------------------------------------------------------------------


def test_mask_consensus_keeps_the_pixels_a_majority_painted():
    # 5x5 squares on a 10x10 image: rows 2-6 x cols 2-6, rows 2-6 x cols 3-7, and a
    # polygon covering rows 3-7 x cols 2-6. A pixel in two of the three survives.
    polygon = Region("cell", "polygon", (0.2, 0.3, 0.5, 0.5), polygons=[[0.2, 0.3, 0.7, 0.3, 0.7, 0.8, 0.2, 0.8]])
    answers = [
        [mask("cell", slice(2, 7), slice(2, 7))],
        [mask("nucleus", slice(2, 7), slice(3, 8))],
        [polygon],
    ]
    (result,) = region_consensus(answers, width=10, height=10)

    expected = np.zeros((10, 10), dtype=np.uint8)
    expected[2:7, 3:7] = 1
    expected[3:7, 2:7] = 1
    voted = rle_to_mask(result.rle)
    assert np.array_equal(voted, expected) and voted.sum() == 24
    assert (result.label, result.kind, result.support) == ("cell", "mask", 3)
    assert result.rle["size"] == [10, 10]
    assert result.box == pytest.approx((0.2, 0.2, 0.5, 0.5))
    # The vote lies inside the first square (24 of 25 pixels); each other member shares
    # 20 pixels with it, union 25 + 24 - 20 = 29.
    assert result.mean_iou == pytest.approx((24 / 25 + 2 * 20 / 29) / 3)


def test_mask_consensus_keeps_the_most_painted_pixels_when_no_pixel_has_a_majority():
    # Four members, at most two cover any pixel (3 needed for a strict majority): the
    # pixels covered twice, columns 2-7, are kept.
    answers = [
        [mask("cell", slice(0, 10), slice(2, 8))],
        [mask("cell", slice(0, 10), slice(0, 4))],
        [mask("cell", slice(0, 10), slice(4, 6))],
        [mask("cell", slice(0, 10), slice(6, 10))],
    ]
    (result,) = region_consensus(answers, iou_threshold=0.2, width=10, height=10)
    expected = np.zeros((10, 10), dtype=np.uint8)
    expected[:, 2:8] = 1
    assert result.support == 4
    assert np.array_equal(rle_to_mask(result.rle), expected)
