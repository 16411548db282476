"""Region geometry: validation messages, clipping, conversions, areas, IoU and matching.
Numbers are worked out by hand in the comments."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from annotations.formats.regions import Region, geometry_to_region, region_to_geometry
from annotations.geometry import (
    GeometryError,
    Match,
    area,
    box_iou,
    mask_to_rle,
    match_regions,
    merge_polygon_parts,
    polygons_to_rle,
    region_iou,
    rle_to_mask,
    rle_to_polygons,
    validate_geometry,
)


def box(label, x, y, w, h):
    return Region(label=label, kind="box", box=(x, y, w, h))


def mask_region(label, mask):
    rle = mask_to_rle(mask)
    return geometry_to_region(label, "mask", {"rle": rle})


def disk(height, width, cx, cy, r):
    yy, xx = np.mgrid[:height, :width]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 < r**2).astype(np.uint8)


def rle_iou(a, b):
    return mask_utils.iou([a], [b], [0])[0][0]


# --- boxes -------------------------------------------------------------------------


def test_a_box_inside_the_image_comes_back_unchanged():
    assert validate_geometry("box", {"box": [0.25, 0.5, 0.5, 0.25]}, 640, 480) == {"box": [0.25, 0.5, 0.5, 0.25]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0.2, 0.3, 0, 0.1], "box [0.2, 0.3, 0, 0.1] has zero width"),
        ([0.2, 0.3, 0.1, 0], "box [0.2, 0.3, 0.1, 0] has zero height"),
        ([0.2, 0.3, -0.1, 0.1], "box [0.2, 0.3, -0.1, 0.1] has negative width"),
        ([0.5, 0.1, 0.7, 0.2], "box [0.5, 0.1, 0.7, 0.2] extends outside the image (x + w = 1.2 > 1)"),
        ([0.1, 0.9, 0.2, 0.3], "box [0.1, 0.9, 0.2, 0.3] extends outside the image (y + h = 1.2 > 1)"),
        ([-0.1, 0.1, 0.2, 0.2], "box [-0.1, 0.1, 0.2, 0.2] starts outside the image (x = -0.1 < 0)"),
        ([0.1, 0.2, 0.3], "box must be 4 numbers [x, y, w, h], got [0.1, 0.2, 0.3]"),
        ([0.1, "a", 0.3, 0.2], "box value must be a number, got 'a'"),
        ([0.1, float("nan"), 0.3, 0.2], "box value must be a finite number, got nan"),
    ],
)
def test_it_refuses_a_bad_box_saying_what_to_fix(value, message):
    with pytest.raises(GeometryError) as caught:
        validate_geometry("box", {"box": value}, 640, 480)
    assert str(caught.value) == message


def test_it_clips_tiny_overshoots_onto_the_border():
    clean = validate_geometry("box", {"box": [-5e-7, 0.0, 0.5, 1 + 5e-7]}, 640, 480)["box"]
    assert clean[0] == 0.0 and clean[1] == 0.0
    assert clean[2] == pytest.approx(0.5 - 5e-7, abs=1e-12)
    assert clean[3] == 1.0


def test_it_refuses_unknown_kinds_and_missing_keys():
    with pytest.raises(GeometryError, match="unknown region kind 'circle'; use one of box, polygon, mask"):
        validate_geometry("circle", {}, 640, 480)
    with pytest.raises(GeometryError, match=r'a polygon region needs "polygons"'):
        validate_geometry("polygon", {"box": [0, 0, 1, 1]}, 640, 480)
    with pytest.raises(GeometryError, match="image width must be a positive number of pixels, got 0"):
        validate_geometry("box", {"box": [0, 0, 1, 1]}, 0, 480)


# --- polygons ----------------------------------------------------------------------


def test_a_polygon_gets_its_bounding_box():
    clean = validate_geometry("polygon", {"polygons": [[0.1, 0.2, 0.5, 0.2, 0.3, 0.6]]}, 640, 480)
    assert clean["polygons"] == [[0.1, 0.2, 0.5, 0.2, 0.3, 0.6]]
    assert clean["box"] == pytest.approx([0.1, 0.2, 0.4, 0.4])


def test_a_flat_list_is_one_polygon_and_several_parts_share_one_box():
    one = validate_geometry("polygon", {"polygons": [0.1, 0.1, 0.2, 0.1, 0.2, 0.2]}, 10, 10)
    assert one["polygons"] == [[0.1, 0.1, 0.2, 0.1, 0.2, 0.2]]
    two = validate_geometry(
        "polygon", {"polygons": [[0.1, 0.1, 0.2, 0.1, 0.2, 0.2], [0.5, 0.5, 0.9, 0.5, 0.9, 0.8]]}, 10, 10
    )
    assert two["box"] == pytest.approx([0.1, 0.1, 0.8, 0.7])


@pytest.mark.parametrize(
    ("polygons", "message"),
    [
        ([[0.1, 0.1, 0.5, 0.5]], "polygon needs at least 3 points, got 2"),
        ([[0.1, 0.1, 0.2, 0.2, 0.3, 0.3]], "polygon has zero area"),
        ([[0.1, 0.1, 0.5, 0.1, 0.5]], r"polygon has an odd number of coordinates \(5\); give x, y pairs"),
        ([[0.1, 0.1, 1.3, 0.2, 0.5, 0.5]], r"polygon point 2 \(1.3, 0.2\) lies outside the image"),
        ([[0.1, 0.1, 0.5, 0.1, 0.5, 0.5], [0.1, 0.1, 0.2, 0.2]], "polygon part 2 needs at least 3 points, got 2"),
        ([], "polygons must be a list of parts"),
    ],
)
def test_it_refuses_a_bad_polygon_saying_what_to_fix(polygons, message):
    with pytest.raises(GeometryError, match=message):
        validate_geometry("polygon", {"polygons": polygons}, 640, 480)


def test_polygon_points_a_hair_outside_are_clipped():
    clean = validate_geometry("polygon", {"polygons": [[-4e-7, 0.0, 1.0000009, 0.0, 0.5, 1.0]]}, 640, 480)
    assert clean["polygons"] == [[0.0, 0.0, 1.0, 0.0, 0.5, 1.0]]
    assert clean["box"] == [0.0, 0.0, 1.0, 1.0]


# --- masks -------------------------------------------------------------------------


def test_a_mask_is_stored_compressed_with_its_box():
    pixels = np.zeros((480, 640), dtype=np.uint8)
    pixels[48:96, 64:192] = 1  # x 64..191, y 48..95: box [0.1, 0.1, 0.2, 0.1]
    rle = mask_to_rle(pixels)
    assert isinstance(rle["counts"], str)
    clean = validate_geometry("mask", {"rle": rle}, 640, 480)
    assert clean["rle"] == rle
    assert clean["box"] == pytest.approx([0.1, 0.1, 0.2, 0.1])
    assert (rle_to_mask(clean["rle"]) == pixels).all()


def test_uncompressed_counts_are_compressed():
    # 4x3 image (column-major runs): 5 off, 3 on, 4 off.
    clean = validate_geometry("mask", {"rle": {"size": [4, 3], "counts": [5, 3, 4]}}, 3, 4)
    expected = np.zeros((4, 3), dtype=np.uint8)
    expected.T.flat[5:8] = 1
    assert clean["rle"] == mask_to_rle(expected)


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [10, 20], "counts": "PPYo1"}, r"RLE size \[10, 20\] does not match the image 640x480"),
        ({"size": [480, 640], "counts": "\x7f\x7f"}, "RLE counts are not valid"),
        ({"size": [480, 640], "counts": "a"}, r"RLE counts are not valid \(the string ends inside a number\)"),
        ({"size": [480, 640], "counts": [5, 3, 4]}, r"RLE counts are not valid \(the runs cover 12 pixels"),
        ({"size": [480, 640], "counts": [307200]}, "mask is empty"),
        ({"counts": "abc"}, "mask must be a COCO RLE"),
    ],
)
def test_it_refuses_a_bad_mask_saying_what_to_fix(rle, message):
    with pytest.raises(GeometryError, match=message):
        validate_geometry("mask", {"rle": rle}, 640, 480)


def test_a_truncated_compressed_string_is_refused():
    good = mask_to_rle(disk(48, 64, 30, 20, 10))
    with pytest.raises(GeometryError, match="RLE counts are not valid"):
        validate_geometry("mask", {"rle": {"size": [48, 64], "counts": good["counts"][:-2]}}, 64, 48)


# --- conversions and areas ---------------------------------------------------------


def test_a_square_polygon_covers_its_pixel_count():
    # 0.1..0.5 of a 100x100 image is 40x40 pixels.
    rle = polygons_to_rle([[0.1, 0.1, 0.5, 0.1, 0.5, 0.5, 0.1, 0.5]], 100, 100)
    assert abs(int(mask_utils.area(rle)) - 1600) <= 1
    assert area("polygon", {"polygons": [[0.1, 0.1, 0.5, 0.1, 0.5, 0.5, 0.1, 0.5]]}, 100, 100) == pytest.approx(1600, abs=1)


def test_areas_in_pixels():
    # 0.5 * 200 by 0.25 * 100 pixels.
    assert area("box", {"box": [0.1, 0.1, 0.5, 0.25]}, 200, 100) == pytest.approx(2500)
    pixels = np.zeros((10, 10), dtype=np.uint8)
    pixels[2:5, 3:7] = 1
    assert area("mask", {"rle": mask_to_rle(pixels)}, 10, 10) == 12


def test_mask_array_round_trips_through_rle():
    pixels = disk(120, 160, 80, 60, 30)
    assert (rle_to_mask(mask_to_rle(pixels)) == pixels).all()
    with pytest.raises(GeometryError, match="2-D array"):
        mask_to_rle(np.zeros((2, 3, 4)))


def test_a_square_mask_traces_to_its_exact_outline():
    pixels = np.zeros((120, 160), dtype=np.uint8)
    pixels[20:50, 10:40] = 1  # pixels x 10..39, y 20..49: edges at 10, 40 and 20, 50
    (polygon,) = rle_to_polygons(mask_to_rle(pixels))
    points = {(round(x * 160, 6), round(y * 120, 6)) for x, y in zip(polygon[0::2], polygon[1::2])}
    assert points == {(10, 20), (40, 20), (40, 50), (10, 50)}


def test_a_blob_survives_rle_to_polygon_to_rle():
    rle = mask_to_rle(disk(120, 160, 80, 60, 30))
    polygons = rle_to_polygons(rle)
    assert len(polygons) == 1 and len(polygons[0]) < 200  # simplified, not one point per pixel
    assert rle_iou(polygons_to_rle(polygons, 160, 120), rle) > 0.95


def test_separate_blobs_become_parts_largest_first_and_holes_are_filled():
    pixels = disk(120, 160, 100, 60, 30) | disk(120, 160, 20, 20, 8)
    pixels[55:65, 95:105] = 0  # a hole
    polygons = rle_to_polygons(mask_to_rle(pixels))
    assert len(polygons) == 2
    assert max(polygons[0][0::2]) > 0.75 and max(polygons[1][0::2]) < 0.25
    filled = rle_to_mask(polygons_to_rle(polygons[:1], 160, 120))
    assert filled[60, 100] == 1


def test_merged_parts_keep_the_area_of_both():
    # Two 20x20-pixel squares of a 100x100 image, joined by a zero-width bridge.
    left = [0.1, 0.1, 0.3, 0.1, 0.3, 0.3, 0.1, 0.3]
    right = [0.6, 0.6, 0.8, 0.6, 0.8, 0.8, 0.6, 0.8]
    middle = [0.6, 0.1, 0.8, 0.1, 0.8, 0.3, 0.6, 0.3]
    merged = merge_polygon_parts([left, right])
    assert len(merged) == 2 * (5 + 5)  # each ring closed on itself
    assert abs(int(mask_utils.area(polygons_to_rle([merged], 100, 100))) - 800) <= 4
    three = merge_polygon_parts([left, middle, right])
    assert abs(int(mask_utils.area(polygons_to_rle([three], 100, 100))) - 1200) <= 6


def test_stored_geometry_round_trips_through_a_region():
    geometry = {"box": [0.1, 0.2, 0.4, 0.4], "polygons": [[0.1, 0.2, 0.5, 0.2, 0.3, 0.6]]}
    region = geometry_to_region("cat", "polygon", geometry, score=0.5)
    assert region.box == (0.1, 0.2, 0.4, 0.4) and region.score == 0.5
    assert region_to_geometry(region) == geometry
    derived = geometry_to_region("cat", "polygon", {"polygons": geometry["polygons"]})
    assert derived.box == pytest.approx((0.1, 0.2, 0.4, 0.4))


# --- IoU and matching --------------------------------------------------------------


def test_iou_of_two_hand_placed_boxes():
    # Overlap 1x1, union 4 + 4 - 1 = 7.
    assert box_iou([0, 0, 2, 2], [1, 1, 2, 2]) == pytest.approx(1 / 7)
    assert box_iou([0, 0, 1, 1], [2, 2, 1, 1]) == 0
    assert region_iou(box("a", 0.1, 0.1, 0.2, 0.2), box("b", 0.1, 0.1, 0.2, 0.2)) == 1


def test_iou_of_a_triangle_and_its_box_is_one_half():
    triangle = geometry_to_region("a", "polygon", {"polygons": [[0, 0, 0.5, 0, 0, 0.5]]})
    assert region_iou(triangle, box("b", 0, 0, 0.5, 0.5)) == pytest.approx(0.5, abs=0.01)


def test_iou_of_a_mask_and_a_box_on_the_mask_grid():
    # A 10x10-pixel mask and a 5x10-pixel box inside it, on a 20x20 image: 50 / 100.
    pixels = np.zeros((20, 20), dtype=np.uint8)
    pixels[0:10, 0:10] = 1
    assert region_iou(mask_region("a", pixels), box("b", 0, 0, 0.25, 0.5)) == pytest.approx(0.5)
    with pytest.raises(GeometryError, match="does not match the image"):
        region_iou(mask_region("a", pixels), box("b", 0, 0, 0.25, 0.5), width=40, height=20)


def test_match_regions_maximises_total_iou_instead_of_greedy_pairs():
    # Full-height strips, so IoU is the overlap of x ranges:
    # a0 [0.2, 0.64]  b0 [0.2, 0.6] -> 0.4 / 0.44 = 0.909 (the best single pair)
    # a1 [0.25, 0.6]  b0            -> 0.35 / 0.4  = 0.875
    # a0              b1 [0.2, 0.5] -> 0.3 / 0.44  = 0.682
    # a1              b1            -> 0.25 / 0.4  = 0.625, under the 0.65 threshold
    # Greedy takes a0-b0 and strands a1; the assignment takes a0-b1 and a1-b0.
    a = [box("car", 0.2, 0, 0.44, 1), box("car", 0.25, 0, 0.35, 1)]
    b = [box("car", 0.2, 0, 0.4, 1), box("car", 0.2, 0, 0.3, 1)]
    matches = match_regions(a, b, 0.65)
    assert [(m.a, m.b) for m in matches] == [(0, 1), (1, 0)]
    assert matches[0].iou == pytest.approx(0.3 / 0.44)
    assert matches[1].iou == pytest.approx(0.875)
    assert match_regions(a, b, 0.95) == []
    assert match_regions([], b) == []


def test_match_regions_can_require_the_same_label():
    a = [box("car", 0.1, 0.1, 0.2, 0.2)]
    b = [box("truck", 0.1, 0.1, 0.2, 0.2)]
    assert match_regions(a, b) == [Match(0, 0, 1.0)]
    assert match_regions(a, b, same_label=True) == []


def test_match_regions_mixes_masks_polygons_and_boxes():
    pixels = np.zeros((100, 100), dtype=np.uint8)
    pixels[10:30, 10:30] = 1
    square = geometry_to_region("a", "polygon", {"polygons": [[0.6, 0.6, 0.8, 0.6, 0.8, 0.8, 0.6, 0.8]]})
    matches = match_regions([mask_region("a", pixels), square], [box("a", 0.6, 0.6, 0.2, 0.2), box("a", 0.1, 0.1, 0.2, 0.2)])
    assert [(m.a, m.b) for m in matches] == [(0, 1), (1, 0)]
    assert all(m.iou == pytest.approx(1.0) for m in matches)
