"""Hostile input through the API: oversized, too deeply nested and malformed bodies, YAML
alias bombs, NUL characters, absurd geometry, files that are not what their names say,
decompression and zip bombs, archive entries that try to leave the archive, and markup
where text belongs. Each is refused with a 4xx and a message, and nothing of it is
stored. (test_images_api.py already covers a non-image among images, a bomb under a
lowered pixel limit and a `../` zip entry.)

Free text (names, item texts, comments) may contain `<` and `&` like any text; there the
rule is that it is stored as sent and never becomes markup, checked here for the pages
the server renders and in tests/frontend/test_hostile_rendering.py for the pages the
browser builds.
"""
import io
import json
import math
import stat
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from PIL import Image

from annotations.geometry import MAX_POLYGON_POINTS, GeometryError, validate_geometry
from annotations.models import (
    Annotation,
    Comment,
    GuideImage,
    Item,
    LabelClass,
    Membership,
    Ontology,
    Project,
    Region,
)
from annotations.regions import MAX_REGIONS
from annotations.services import claim_tasks
from tests.conftest import add_items, client_for, make_project, make_user

MARKUP = '<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>'


def png(width: int = 32, height: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels: a few hundred bytes that would
    decode to gigabytes (a decompression bomb), refused before any pixel is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def detail(response) -> str:
    body = response.json()
    assert body.get("detail"), body
    return body["detail"]


@pytest.fixture
def labeling(cast):
    """The text project with items and an open task for the annotator."""
    project = cast["project"]
    add_items(project, ["first review", "second review"])
    task = claim_tasks(cast["annotator"], project, want=1)[0]
    return {"project": project, "task": task, "client": client_for(cast["annotator"]),
            "url": f"/api/projects/{project.pk}/annotations/"}


@pytest.fixture
def vision(db):
    admin, annotator = make_user("hadm"), make_user("hann")
    project = make_project(
        classes=("car", "road"), kind=Project.Kind.SEGMENTATION, learner="yolo_segment",
        members=[(admin, Membership.Role.ADMIN), (annotator, Membership.Role.ANNOTATOR)],
    )
    return {"project": project, "admin": client_for(admin), "annotator": client_for(annotator),
            "url": f"/api/projects/{project.pk}/"}


# Bodies ---------------------------------------------------------------------------


def test_a_json_body_over_the_size_limit_is_refused_with_413(labeling, settings):
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    body = json.dumps({"item": labeling["task"].item_id, "label": "positive", "padding": padding})
    response = labeling["client"].post(labeling["url"], body, content_type="application/json")
    assert response.status_code == 413
    assert f"limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes" in detail(response)
    assert not Annotation.objects.exists()


def test_a_form_body_over_the_size_limit_is_refused_with_413(cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    project = cast["project"]
    response = client_for(cast["admin"]).post(
        f"/api/projects/{project.pk}/import/", {"text_field": "t" * 20_000, "file": upload("rows.csv", b"text\nhi\n")},
        format="multipart",
    )
    assert response.status_code == 413 and "limit" in detail(response)
    assert not Item.objects.filter(project=project).exists()


def test_an_upload_of_more_files_than_allowed_is_refused(vision, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [upload(f"{n}.png", png()) for n in range(3)]
    response = vision["admin"].post(vision["url"] + "images/", {"files": files}, format="multipart")
    assert response.status_code == 400 and "DATA_UPLOAD_MAX_NUMBER_FILES" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_json_nested_too_deeply_is_refused(labeling):
    body = "[" * 100_000 + "]" * 100_000
    response = labeling["client"].post(labeling["url"], body, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in detail(response)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(labeling, literal):
    body = f'{{"item": {labeling["task"].item_id}, "label": "positive", "duration_ms": {literal}}}'
    response = labeling["client"].post(labeling["url"], body, content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in detail(response)
    assert not Annotation.objects.exists()


# Geometry -------------------------------------------------------------------------


@pytest.fixture
def picture_task(vision):
    Item.objects.create(project=vision["project"], width=640, height=480, external_id="street.png")
    annotator = Membership.objects.get(project=vision["project"], role=Membership.Role.ANNOTATOR).user
    return claim_tasks(annotator, vision["project"], want=1)[0]


def many_points(count: int) -> list[float]:
    """A convex polygon (points on a circle) with `count` points."""
    flat = []
    for index in range(count):
        angle = 2 * math.pi * index / count
        flat += [0.5 + 0.4 * math.cos(angle), 0.5 + 0.4 * math.sin(angle)]
    return flat


# 1e400 is valid JSON that Python reads as infinity; NaN cannot be sent (see above).
ABSURD_REGIONS = [
    ('[{"label": "car", "kind": "box", "geometry": {"box": [0.1, 0.1, 1e400, 0.2]}}]', "must be a finite number"),
    ('[{"label": "car", "kind": "box", "geometry": {"box": [-1e400, 0.1, 0.2, 0.2]}}]', "must be a finite number"),
    ('[{"label": "car", "kind": "box", "geometry": {"box": [1e308, 1e308, 1e308, 1e308]}}]', "outside the image"),
    (json.dumps([{"label": "road", "kind": "polygon", "geometry": {"polygons": [many_points(MAX_POLYGON_POINTS + 1)]}}]),
     f"the limit is {MAX_POLYGON_POINTS:,} for one region"),
    (json.dumps([{"label": "road", "kind": "polygon", "geometry": {"polygons": [many_points(4000)] * 3}}]),
     "12,000 points"),
    ('[{"label": "road", "kind": "mask", "geometry": {"rle": {"size": [100000, 100000], "counts": "0"}}}]',
     "does not match the image"),
    (json.dumps([{"label": "car", "kind": "box", "geometry": {"box": [0.1, 0.1, 0.2, 0.2]}}] * (MAX_REGIONS + 1)),
     f"no more than {MAX_REGIONS} elements"),
]


@pytest.mark.parametrize(("regions", "message"), ABSURD_REGIONS, ids=[
    "infinite-size", "infinite-start", "huge-numbers", "too-many-points", "too-many-points-in-parts", "huge-mask",
    "too-many-regions",
])
def test_absurd_geometry_is_refused_with_its_reason(vision, picture_task, regions, message):
    body = f'{{"item": {picture_task.item_id}, "regions": {regions}}}'
    response = vision["annotator"].post(vision["url"] + "annotations/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert message in json.dumps(response.json())  # a field error, or the detail naming the region
    assert not Annotation.objects.exists() and not Region.objects.exists()


def test_a_polygon_at_the_point_limit_is_accepted_and_one_over_is_not():
    clean = validate_geometry("polygon", {"polygons": [many_points(MAX_POLYGON_POINTS)]}, 640, 480)
    assert len(clean["polygons"][0]) == 2 * MAX_POLYGON_POINTS
    with pytest.raises(GeometryError, match=f"polygon has {MAX_POLYGON_POINTS + 1:,} points"):
        validate_geometry("polygon", {"polygons": many_points(MAX_POLYGON_POINTS + 1)}, 640, 480)


# Files ----------------------------------------------------------------------------


def test_a_png_that_is_really_a_zip_is_refused(vision, settings):
    disguised = zip_of({"inner.png": png()})
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("photo.png", disguised)]},
                                    format="multipart")
    assert response.status_code == 400
    assert "photo.png: not an image" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_a_zip_that_is_really_a_png_is_refused(vision, settings):
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("batch.zip", png())]},
                                    format="multipart")
    assert response.status_code == 400 and "not a valid zip archive" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_a_decompression_bomb_is_refused_under_the_default_limit(vision, settings):
    response = vision["admin"].post(
        vision["url"] + "images/", {"files": [upload("bomb.png", png_claiming(100_000, 100_000))]}, format="multipart"
    )
    assert response.status_code == 400
    assert "bomb.png: too many pixels" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_a_decompression_bomb_inside_a_zip_is_skipped_by_name(vision, settings):
    archive = zip_of({"set/bomb.png": png_claiming(100_000, 100_000)})
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("set.zip", archive)]}, format="multipart")
    assert response.status_code == 400 and "No images found" in detail(response)
    assert response.json()["skipped"] == [{"name": "set/bomb.png", "error": "too many pixels (limit 50000000)"}]
    assert not Item.objects.exists() and not media_files(settings)


def test_a_zip_that_unpacks_past_the_limit_is_refused_before_unpacking(vision, settings):
    settings.LABELER_MAX_ZIP_BYTES = 1_000_000
    archive = zip_of({"zeros.png": b"\0" * 2_000_000})  # 2 MB of zeros deflate to about 2 KB
    assert len(archive) < 10_000
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("zeros.zip", archive)]},
                                    format="multipart")
    assert response.status_code == 400 and "unpacks to 2000000 bytes" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_a_zip_with_too_many_entries_is_refused(vision, settings):
    settings.LABELER_MAX_ZIP_FILES = 3
    archive = zip_of({f"{n}.png": png() for n in range(4)})
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("many.zip", archive)]},
                                    format="multipart")
    assert response.status_code == 400 and "holds 4 files" in detail(response)
    assert not Item.objects.exists()


@pytest.mark.parametrize("entry", ["/etc/evil.png", "..\\..\\evil.png", "C:/evil.png", "set/../../evil.png"])
def test_zip_entries_that_leave_the_archive_refuse_it(vision, settings, entry):
    archive = zip_of({"ok.png": png(), entry: png()})
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("batch.zip", archive)]},
                                    format="multipart")
    assert response.status_code == 400 and "outside the archive" in detail(response)
    assert not Item.objects.exists() and not media_files(settings)


def test_a_link_inside_a_zip_is_skipped_not_followed(vision):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.png", png())
        link = zipfile.ZipInfo("passwd.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    response = vision["admin"].post(vision["url"] + "images/", {"files": [upload("batch.zip", buffer.getvalue())]},
                                    format="multipart")
    assert response.status_code == 201
    assert response.json() == {"created": 1, "skipped": [{"name": "passwd.png", "error": "a link, not a file"}]}


def test_a_labels_archive_with_an_entry_leaving_it_is_refused(vision):
    archive = zip_of({"data.yaml": b"names: [car, road]\n", "../../labels/evil.txt": b"0 0.5 0.5 0.2 0.2\n"})
    response = vision["admin"].post(vision["url"] + "labels/import/", {"file": upload("labels.zip", archive)},
                                    format="multipart")
    assert response.status_code == 400 and "outside the archive" in detail(response)
    assert not Item.objects.exists() and not Annotation.objects.exists()


def test_a_labels_file_nested_too_deeply_is_refused(vision):
    response = vision["admin"].post(
        vision["url"] + "labels/import/", {"file": upload("coco.json", b"[" * 100_000 + b"]" * 100_000)},
        format="multipart",
    )
    assert response.status_code == 400 and "nested too deeply" in detail(response)
    assert not Item.objects.exists()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("diagram.png", zip_of({"x.png": png()}), "diagram.png: not an image"),
    ("bomb.png", png_claiming(100_000, 100_000), "bomb.png: too many pixels"),
])
def test_a_guide_picture_that_is_not_a_safe_image_is_refused(cast, settings, name, data, message):
    project = cast["project"]
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/guide/images/", {"file": upload(name, data)},
                                              format="multipart")
    assert response.status_code == 400 and message in detail(response)
    assert not GuideImage.objects.exists() and not media_files(settings)


def test_an_ontology_file_nested_too_deeply_is_refused(cast):
    project = cast["project"]
    before = list(LabelClass.objects.filter(ontology=project.ontology).values_list("key", "name"))
    response = client_for(cast["admin"]).post(
        f"/api/projects/{project.pk}/ontology/import/", {"file": upload("ontology.json", b"[" * 100_000)},
        format="multipart",
    )
    assert response.status_code == 400 and "nested too deeply" in detail(response)
    assert list(LabelClass.objects.filter(ontology=project.ontology).values_list("key", "name")) == before


def test_a_configuration_nested_too_deeply_is_refused(cast):
    project = cast["project"]
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/config/", {"yaml": "[" * 50_000},
                                              format="json")
    assert response.status_code == 400, response.content[:300]
    assert detail(response)


def yaml_alias_bomb(levels: int = 8) -> str:
    """A few hundred bytes of YAML standing for 10**levels strings ("billion laughs")."""
    parts = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    parts += [f"&a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, levels + 1)]
    return "[" + ", ".join(parts) + "]"


def test_a_configuration_with_yaml_aliases_is_refused_at_once(cast):
    project = cast["project"]
    text = f"format: labeler-project\nversion: 1\ntraining: {{extra: {yaml_alias_bomb()}}}\n"
    started = time.monotonic()
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/config/", {"yaml": text}, format="json")
    assert time.monotonic() - started < 5
    assert response.status_code == 400 and "aliases are not allowed" in detail(response)


def test_a_yolo_data_yaml_with_aliases_is_refused_at_once(vision):
    archive = zip_of({"data.yaml": f"names: {yaml_alias_bomb()}\n".encode(), "labels/a.txt": b"0 0.5 0.5 0.2 0.2\n"})
    started = time.monotonic()
    response = vision["admin"].post(vision["url"] + "labels/import/", {"file": upload("labels.zip", archive)},
                                    format="multipart")
    assert time.monotonic() - started < 5
    assert response.status_code == 400 and "aliases are not allowed" in detail(response)
    assert not Item.objects.exists() and not LabelClass.objects.filter(ontology=vision["project"].ontology,
                                                                        key="lol").exists()


def test_a_jsonl_row_nested_too_deeply_is_refused(cast):
    project = cast["project"]
    rows = b'{"text": "fine"}\n{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/import/",
                                              {"file": upload("rows.jsonl", rows)}, format="multipart")
    assert response.status_code == 400, response.content[:300]
    assert detail(response)
    assert not Item.objects.filter(project=project).exists()


# NUL characters ---------------------------------------------------------------------
# SQLite keeps a NUL in text; PostgreSQL refuses it, which was a 500 for any text that
# reached the database without passing a DRF CharField (which refuses NUL itself).

NUL_TEXT = "before\x00after"


def nul_requests(cast, item_id: int):
    base = f"/api/projects/{cast['project'].pk}/"
    return {
        "comment": ("annotator", "post", base + f"items/{item_id}/comments/", {"body": NUL_TEXT}),
        "ontology name": ("admin", "patch", base + "ontology/", {"name": NUL_TEXT}),
        "bulk members": ("admin", "post", base + "members/bulk/", {"users": [NUL_TEXT], "role": "annotator"}),
        "guide": ("admin", "put", base + "guide/", {"body": NUL_TEXT}),
        "guide proposal": ("annotator", "post", base + "guide/proposals/", {"body": NUL_TEXT}),
    }


@pytest.mark.parametrize("case", ["comment", "ontology name", "bulk members", "guide", "guide proposal"])
def test_text_with_a_nul_character_is_never_a_server_error(labeling, cast, case):
    role, method, url, data = nul_requests(cast, labeling["task"].item_id)[case]
    response = getattr(client_for(cast[role]), method)(url, data, format="json")
    if connection.vendor == "postgresql":
        assert response.status_code == 400 and "NUL character" in detail(response)
    else:
        assert response.status_code < 500, response.content[:300]


def test_an_import_with_a_nul_character_is_never_a_server_error(cast):
    project = cast["project"]
    rows = b'{"text": "fine"}\n{"text": "before\\u0000after"}\n'
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/import/",
                                              {"file": upload("rows.jsonl", rows)}, format="multipart")
    if connection.vendor == "postgresql":
        assert response.status_code == 400 and "NUL character" in detail(response)
        assert not Item.objects.filter(project=project).exists()
    else:
        assert response.status_code < 500, response.content[:300]


# Markup where text belongs --------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    ("key", "<script>", "key"),
    ("hotkey", "<", "one letter or digit"),
    ("colour", "red;background:url(javascript:alert(1))", "colour"),
])
def test_class_fields_with_a_fixed_form_refuse_markup(cast, field, value, message):
    project = cast["project"]
    before = LabelClass.objects.count()
    data = {"key": "neutral", "name": "Neutral", **{field: value}}
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/classes/", data, format="json")
    assert response.status_code == 400
    assert message in json.dumps(response.json()), response.json()
    assert LabelClass.objects.count() == before


def test_markup_in_names_and_texts_is_stored_as_sent_and_the_server_pages_escape_it(cast):
    project = cast["project"]
    admin = client_for(cast["admin"])
    assert admin.patch(f"/api/projects/{project.pk}/", {"name": MARKUP}, format="json").status_code == 200
    created = admin.post(f"/api/projects/{project.pk}/classes/", {"key": "odd", "name": MARKUP, "hotkey": "8"},
                         format="json")
    assert created.status_code == 201 and created.json()["name"] == MARKUP
    imported = admin.post(f"/api/projects/{project.pk}/import/",
                          {"file": upload("rows.csv", f'text\n"{MARKUP}"\n'.encode())}, format="multipart")
    assert imported.status_code == 201, imported.content[:300]
    item = Item.objects.get(project=project)
    assert item.text == MARKUP
    listed = admin.get(f"/api/projects/{project.pk}/items/{item.pk}/")
    assert listed["Content-Type"] == "application/json" and listed["X-Content-Type-Options"] == "nosniff"

    page = Client()
    page.force_login(cast["annotator"])
    for url in ("/", f"/projects/{project.pk}/", f"/projects/{project.pk}/label/", f"/projects/{project.pk}/review/"):
        html = page.get(url).content.decode()
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html, url
        assert "<script>window.__pwned" not in html and "<img src=x" not in html, url


def test_markup_in_a_comment_is_stored_as_sent(cast, labeling):
    client = labeling["client"]
    response = client.post(f"/api/projects/{labeling['project'].pk}/items/{labeling['task'].item_id}/comments/",
                           {"body": MARKUP}, format="json")
    assert response.status_code == 201 and response.json()["body"] == MARKUP
    assert Comment.objects.get().body == MARKUP


def test_an_ontology_name_with_markup_is_only_text(cast):
    ontology = Ontology.objects.get(pk=cast["project"].ontology_id)
    response = client_for(cast["admin"]).patch(f"/api/projects/{cast['project'].pk}/ontology/", {"name": MARKUP},
                                               format="json")
    assert response.status_code == 200 and response.json()["name"] == MARKUP
    ontology.refresh_from_db()
    assert ontology.name == MARKUP
