"""The image workspace in a real browser: boxes drawn, selected, resized and relabeled
with the mouse and the keyboard, polygons and brushed masks, undo and redo, drafts kept
across a reload, 3,000 boxes redrawn fast, the model's suggestions, video frames, image
classification, and the dashboard's upload card. What the page submits is checked
through the API.

Every test works on projects of its own (made through the API as the admin, images
uploaded through the real upload endpoint), so the demo project that other modules count
labels on is left alone."""
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import REPO, _server_env, login

WIDTH, HEIGHT = 320, 240
ANY_ITEM = re.compile(r"^\d+$")
SCREENSHOTS = os.environ.get("LABELER_SCREENSHOT_DIR")


def png(seed: int, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (40 + 30 * seed % 200, 90, 140))
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 30, 160, 120], fill=(220, 200, 60))
    draw.ellipse([180, 100, 290, 210], fill=(60, 180, 90))
    draw.text((10, 10), f"image {seed}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(admin, path: str, fields: dict, files: list[tuple[str, str, bytes]]) -> dict:
    """A multipart POST as the admin: files are (field, file name, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for field, filename, data in files:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        f"{admin.base_url}{path}", data=b"".join(parts), method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": admin._csrf()},
    )
    try:
        with admin.opener.open(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise AssertionError(f"{path} answered {error.code}: {error.read()[:2000]!r}") from None


def make_project(app_server, name: str, kind: str, classes: list[str], images: int = 0, split: str = "eval") -> int:
    admin = app_server.admin
    project = admin.post("/api/projects/", {"name": name, "kind": kind, "class_names": classes, "retrain_every": 1000})
    admin.post(f"/api/projects/{project['id']}/members/", {"username": "annotator", "role": "annotator"})
    if images:
        files = [("files", f"img{n}.png", png(n)) for n in range(images)]
        result = upload(admin, f"/api/projects/{project['id']}/images/", {"split": split}, files)
        assert result["created"] == images
    return project["id"]


def run_in_server(app_server, code: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "shell", "-c", code],
        cwd=app_server.var_dir, env=_server_env(app_server.var_dir), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def open_workspace(page, project_id: int) -> str:
    page.goto(f"/projects/{project_id}/label/")
    workspace = page.locator("#workspace")
    expect(workspace).to_have_attribute("data-ready-item", ANY_ITEM)
    return workspace.get_attribute("data-ready-item")


def view(page) -> dict:
    """The canvas transform in page coordinates: screen = origin + image pixel * scale."""
    return page.evaluate(
        """() => {
            const v = window.labelerImageWorkspace.editor.view;
            const r = v.canvas.getBoundingClientRect();
            return {scale: v.scale, x: r.left + v.ox, y: r.top + v.oy};
        }"""
    )


def at(page, x: float, y: float) -> tuple[float, float]:
    v = view(page)
    return v["x"] + x * v["scale"], v["y"] + y * v["scale"]


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*at(page, *start))
    page.mouse.down()
    page.mouse.move(*at(page, *end), steps=6)
    page.mouse.up()


def click(page, x: float, y: float, **options) -> None:
    page.mouse.click(*at(page, x, y), **options)


def shape_count(page) -> int:
    return int(page.locator("#shape-count").get_attribute("data-count"))


def my_answer(page, project_id: int, item: str) -> dict:
    """The latest stored answer for the item (polled: the page saves after showing the next item)."""
    for _ in range(100):
        answers = page.request.get(f"/api/projects/{project_id}/annotations/").json()
        found = [a for a in answers if str(a["item"]) == item]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no answer stored for item {item}")


def mask_pixels(page) -> int:
    """Pixels of the selected mask (alpha at least half, as submitted)."""
    return page.evaluate(
        """() => {
            const canvas = window.labelerImageWorkspace.editor.selected.mask.canvas;
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] >= 128) n += 1;
            return n;
        }"""
    )


def near(values, expected, tolerance=0.01) -> bool:
    return len(values) == len(expected) and all(abs(a - b) <= tolerance for a, b in zip(values, expected))


@pytest.fixture(scope="module")
def detection(app_server) -> int:
    return make_project(app_server, "Image boxes", "detection", ["car", "person", "dog"], images=4)


@pytest.fixture(scope="module")
def segmentation(app_server) -> int:
    return make_project(app_server, "Image shapes", "segmentation", ["road", "tree"], images=2)


def test_boxes_drawn_selected_resized_relabeled_deleted_undone_and_submitted(page, detection):
    login(page, "annotator")
    item = open_workspace(page, detection)
    expect(page.locator("#class-palette .class-row")).to_have_count(3)
    expect(page.locator("#tool-buttons [data-tool=polygon]")).to_be_hidden()  # boxes only here

    drag(page, (40, 30), (160, 120))  # box A, class car (the first)
    expect(page.locator("#selection-info")).to_contain_text("Box · car")
    drag(page, (200, 150), (260, 200))  # box B
    assert shape_count(page) == 2
    page.keyboard.press("Delete")  # B is selected
    assert shape_count(page) == 1
    page.keyboard.press("Control+z")
    assert shape_count(page) == 2
    page.keyboard.press("Control+Shift+z")
    assert shape_count(page) == 1

    click(page, 100, 75)  # select A again, then give it class 2 and pull its corner
    expect(page.locator("#selection-info")).to_contain_text("Box · car")
    page.keyboard.press("2")
    expect(page.locator("#selection-info")).to_contain_text("Box · person")
    drag(page, (160, 120), (170, 130))
    expect(page.locator("#selection-info")).to_contain_text("130×100 px")
    page.keyboard.press("Control+z")
    expect(page.locator("#selection-info")).to_contain_text("120×90 px")
    page.keyboard.press("Control+y")
    expect(page.locator("#selection-info")).to_contain_text("130×100 px")
    drag(page, (100, 75), (110, 85))  # a drag inside moves it
    expect(page.locator("#selection-info")).to_contain_text("Box · person · 130×100 px")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_boxes.png")

    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).not_to_have_attribute("data-ready-item", item)
    answer = my_answer(page, detection, item)
    assert answer["label"] is None
    [region] = answer["regions"]
    assert (region["label"], region["kind"], region["from_model"]) == ("person", "box", False)
    expected = [50 / WIDTH, 40 / HEIGHT, 130 / WIDTH, 100 / HEIGHT]
    assert near(region["geometry"]["box"], expected), region["geometry"]
    expect(page.locator("#status")).to_contain_text("Saved 1 shape")


def test_a_refused_submit_brings_the_item_back_with_its_shapes(page, detection):
    refusal = {"detail": "Region 1: box [0.03, 0.04, 2, 0.1] extends outside the image (x + w = 2.03 > 1)"}
    refusing = []  # the route is in place from the page's first request; it refuses once asked to

    def answer(route):
        if route.request.method == "POST" and refusing:
            route.fulfill(status=400, json=refusal)
        else:
            route.continue_()

    page.route("**/api/projects/*/annotations/", answer)
    login(page, "annotator")
    item = open_workspace(page, detection)
    drag(page, (10, 10), (50, 50))
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "1")
    refusing.append(True)
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text(f"item {item} was not saved: Region 1: box")
    expect(page.locator("#workspace")).to_have_attribute("data-ready-item", item)
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "1")
    refusing.clear()
    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).not_to_have_attribute("data-ready-item", item)
    assert near(my_answer(page, detection, item)["regions"][0]["geometry"]["box"], [10 / WIDTH, 10 / HEIGHT, 40 / WIDTH, 40 / HEIGHT])


def test_a_draft_survives_a_reload_and_3000_boxes_redraw_fast(page, detection):
    login(page, "annotator")
    item = open_workspace(page, detection)
    # Zoom with the wheel, pan with space+drag, back with 0.
    before = view(page)
    page.mouse.move(*at(page, 160, 120))
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"window.labelerImageWorkspace.editor.view.scale > {before['scale']} * 1.3")
    zoomed = view(page)
    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(zoomed["x"] + 400, zoomed["y"] + 300, steps=3)
    page.mouse.up()
    page.keyboard.up(" ")
    panned = view(page)
    assert panned["scale"] == zoomed["scale"] and panned["x"] != zoomed["x"]
    assert shape_count(page) == 0  # panning draws nothing
    page.keyboard.press("0")
    page.wait_for_function(f"Math.abs(window.labelerImageWorkspace.editor.view.scale - {before['scale']}) < 1e-9")
    drag(page, (20, 20), (120, 100))
    page.wait_for_function(
        "key => localStorage.getItem(key) !== null", arg=f"labeler.imageDraft.{detection}.{item}", timeout=5000
    )
    page.reload()
    expect(page.locator("#workspace")).to_have_attribute("data-ready-item", item)
    expect(page.locator("#status")).to_contain_text("Draft restored: 1 shape")
    assert shape_count(page) == 1

    # 3,000 small boxes as a draft of this item, then a reload to load them.
    page.evaluate(
        """([key, width, height]) => {
            const regions = [];
            for (let i = 0; i < 3000; i += 1) {
                const x = (i % 60) / 60, y = Math.floor(i / 60) / 50;
                regions.push({label: ["car", "person", "dog"][i % 3], kind: "box",
                              geometry: {box: [x, y, 0.8 / 60, 0.8 / 50]}, from_model: false, model_confidence: null});
            }
            localStorage.setItem(key, JSON.stringify({regions, savedAt: Date.now()}));
        }""",
        [f"labeler.imageDraft.{detection}.{item}", WIDTH, HEIGHT],
    )
    page.reload()
    expect(page.locator("#workspace")).to_have_attribute("data-ready-item", item)
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "3000")
    elapsed = page.evaluate(
        """() => {
            const ws = window.labelerImageWorkspace;
            ws.editor.view.zoomAt(1.5);
            const started = performance.now();
            for (let i = 0; i < 60; i += 1) ws.redrawNow();
            return performance.now() - started;
        }"""
    )
    print(f"60 redraws of 3,000 boxes: {elapsed:.0f} ms")
    assert elapsed < 2000, f"60 redraws of 3,000 boxes took {elapsed:.0f} ms"
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_3000.png")
    # Picking one of them stays immediate too: click one, it is selected.
    page.keyboard.press("0")
    click(page, 2, 2)
    expect(page.locator("#selection-info")).to_contain_text("Box ·")
    page.keyboard.press("s")  # leave the item; skipping drops its draft
    expect(page.locator("#workspace")).not_to_have_attribute("data-ready-item", item)
    assert page.evaluate("key => localStorage.getItem(key)", f"labeler.imageDraft.{detection}.{item}") is None


def test_polygon_and_brush_mask_with_undo_and_redo(page, segmentation):
    login(page, "annotator")
    item = open_workspace(page, segmentation)
    page.keyboard.press("p")
    expect(page.locator("#tool-buttons [data-tool=polygon]")).to_have_attribute("aria-pressed", "true")
    corners = [(50, 40), (150, 40), (170, 120), (60, 130)]
    for corner in corners:
        click(page, *corner)
    page.keyboard.press("Enter")  # closes the polygon, does not submit
    expect(page.locator("#selection-info")).to_contain_text("Polygon (4 vertices) · road")
    assert page.locator("#workspace").get_attribute("data-ready-item") == item

    # Insert a vertex on the top edge, then take it away with Alt+click.
    click(page, 100, 40)
    expect(page.locator("#selection-info")).to_contain_text("Polygon (5 vertices)")
    page.keyboard.down("Alt")
    click(page, 100, 40)
    page.keyboard.up("Alt")
    expect(page.locator("#selection-info")).to_contain_text("Polygon (4 vertices)")

    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "0")
    page.keyboard.press("Control+Shift+z")
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "1")
    expect(page.locator("#selection-info")).not_to_contain_text("Polygon (5")

    page.keyboard.press("Escape")
    page.keyboard.press("2")  # new shapes: tree
    page.keyboard.press("b")
    drag(page, (220, 150), (280, 190))
    expect(page.locator("#selection-info")).to_contain_text("Mask · tree")
    assert shape_count(page) == 2
    painted = mask_pixels(page)
    page.keyboard.press("e")  # the eraser takes half the stroke away; undo brings it back
    drag(page, (250, 170), (290, 200))
    assert 0 < mask_pixels(page) < painted
    page.keyboard.press("Control+z")
    assert mask_pixels(page) == painted
    page.keyboard.press("h")
    expect(page.locator("#hide-button")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("h")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_segmentation.png")

    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).not_to_have_attribute("data-ready-item", item)
    answer = my_answer(page, segmentation, item)
    regions = {region["kind"]: region for region in answer["regions"]}
    assert sorted(regions) == ["mask", "polygon"]
    polygon = regions["polygon"]
    assert polygon["label"] == "road"
    [ring] = polygon["geometry"]["polygons"]
    assert len(ring) == 8
    expected = [v / (WIDTH if i % 2 == 0 else HEIGHT) for i, v in enumerate(sum(corners, ()))]
    assert near(ring, expected), ring
    mask = regions["mask"]
    assert mask["label"] == "tree"
    assert mask["geometry"]["rle"]["size"] == [HEIGHT, WIDTH]
    x, y, w, h = mask["geometry"]["box"]  # the server derives it from the pixels
    assert x * WIDTH < 220 and (x + w) * WIDTH > 280 and y * HEIGHT < 150 and (y + h) * HEIGHT > 190


def test_suggestions_are_dashed_until_accepted_and_keep_their_confidence(page, app_server):
    project = make_project(app_server, "Image suggestions", "detection", ["car", "person", "dog"], images=1)
    run_in_server(app_server, f"""
from activelearning.models import Prediction
from annotations.models import Item
for item in Item.objects.filter(project_id={project}):
    Prediction.objects.update_or_create(item=item, defaults={{"project_id": {project}, "model_version": 3, "regions": [
        {{"label": "car", "kind": "box", "geometry": {{"box": [0.1, 0.1, 0.3, 0.3]}}, "confidence": 0.91}},
        {{"label": "dog", "kind": "box", "geometry": {{"box": [0.5, 0.5, 0.25, 0.2]}}, "confidence": 0.42}},
    ]}})
""")
    login(page, "annotator")
    item = open_workspace(page, project)
    expect(page.locator("#suggestion-text")).to_contain_text("Model v3 suggests 2 shapes; 2 not yet accepted")
    assert shape_count(page) == 0
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_suggestions.png")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_help.png")
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()
    page.keyboard.press("Tab")  # the least confident first: the dog
    expect(page.locator("#selection-info")).to_contain_text("Suggestion (A accepts): Box · dog")
    page.keyboard.press("Delete")
    expect(page.locator("#suggestion-text")).to_contain_text("1 not yet accepted")
    page.keyboard.press("Shift+A")
    expect(page.locator("#suggestion-text")).to_contain_text("0 not yet accepted")
    assert shape_count(page) == 1
    page.keyboard.press("Enter")
    answer = my_answer(page, project, item)
    [region] = answer["regions"]
    assert (region["label"], region["from_model"], region["model_confidence"]) == ("car", True, 0.91)
    assert near(region["geometry"]["box"], [0.1, 0.1, 0.3, 0.3], 1e-4)


def test_video_frames_show_a_strip_and_copy_the_previous_frame(page, app_server):
    import cv2
    import numpy as np

    project = make_project(app_server, "Image video", "detection", ["car", "person"])
    path = app_server.var_dir / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for n in range(30):
        frame = np.full((120, 160, 3), 40, np.uint8)
        frame[30:70, 20 + n:60 + n] = (60, 200, 220)
        writer.write(frame)
    writer.release()
    # Evaluation items are handed out in order, so the first frame comes first.
    result = upload(app_server.admin, f"/api/projects/{project}/videos/", {"every_seconds": "1", "split": "eval"},
                    [("file", "clip.mp4", path.read_bytes())])
    assert result["frames"] == 3

    login(page, "annotator")
    first = open_workspace(page, project)
    strip = page.locator("#frame-strip")
    expect(strip).to_be_visible()
    expect(page.locator("#frame-cells .frame-cell")).to_have_count(3)
    expect(page.locator("#frame-cells .frame-cell.current")).to_have_text("0")
    expect(page.locator("#frame-caption")).to_contain_text("clip.mp4: frame 0 of 30")
    page.keyboard.press("c")
    expect(page.locator("#status")).to_contain_text("No earlier frame")
    drag(page, (20, 30), (60, 70))
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Saved 1 shape")
    expect(page.locator("#workspace")).to_have_attribute("data-ready-item", re.compile(rf"^(?!{first}$)\d+$"))
    expect(page.locator("#frame-cells .frame-cell.current")).to_have_text("10")
    page.keyboard.press("c")
    expect(page.locator("#status")).to_contain_text("Copied 1 shape from frame 0")
    expect(page.locator("#frame-cells .frame-cell[data-status=labeled]")).to_have_count(1)
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/image_workspace_video.png")
    assert shape_count(page) == 1


def test_image_classification_takes_a_class_key(page, app_server):
    project = make_project(app_server, "Image classes", "image_classification", ["cat", "dog"], images=2)
    login(page, "annotator")
    item = open_workspace(page, project)
    expect(page.locator("#class-palette .class-button")).to_have_text([re.compile(r"1\s*cat"), re.compile(r"2\s*dog")])
    expect(page.locator("#submit-button")).to_be_hidden()
    page.keyboard.press("2")
    expect(page.locator("#workspace")).not_to_have_attribute("data-ready-item", item)
    assert my_answer(page, project, item)["label"] == "dog"


def test_the_upload_card_takes_several_images_and_names_a_refused_file(page, app_server, tmp_path):
    project = make_project(app_server, "Image uploads", "detection", ["car"])
    files = []
    for n in range(3):
        path = tmp_path / f"photo{n}.png"
        path.write_bytes(png(n, 64, 48))
        files.append(str(path))
    login(page, "admin")
    page.goto(f"/projects/{project}/")
    expect(page.locator("#import-form")).to_have_count(0)  # the text import card is for text projects
    page.set_input_files("#image-files", files)
    page.click("#image-upload-button")
    expect(page.locator("#media-result")).to_contain_text("Imported 3 images")
    expect(page.locator("#media-progress")).to_have_attribute("value", "100")
    expect(page.locator("#stat-labeled-of")).to_contain_text("of 3 items")

    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.set_input_files("#image-files", [str(notes)])
    page.click("#image-upload-button")
    expect(page.locator("#media-result")).to_contain_text("Upload failed")
    expect(page.locator("#media-result")).to_contain_text("notes.txt")
    expect(page.locator("#media-result")).to_have_attribute("data-kind", "error")
    if SCREENSHOTS:
        page.locator("#media-upload-card").screenshot(path=f"{SCREENSHOTS}/upload_card.png")


