"""The ontology manager in a real browser: the class tree, rename seen on labeled items,
hotkey clashes, class details (parent, shapes, description, attributes, example images),
merge with a preview, delete refused while in use, export and import, keyboard reorder,
the ontology's name, fork, and the change log.

The tests work on a project of their own (and a sister project sharing its ontology),
made through the ORM beside the running server, so the demo project is left alone.
"""
import io
import json
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import login
from .test_engine_pages import build_in_server

# Animal > Cat > Kitten, Animal > Dog > Puppy, then Bird, Fish and Spare at the top.
# Two items are labeled Cat (three answers); one gold item is labeled Dog (two answers).
SETUP = """
from django.contrib.auth.models import User
from django.utils import timezone
from annotations.models import Annotation, Item, LabelClass, Membership, Ontology, Project

admin = User.objects.get(username="admin")
annotator = User.objects.get(username="annotator")
ontology = Ontology.objects.create(name="Ontology page animals")
spec = [("animal", "Animal", "1", None), ("cat", "Cat", "2", "animal"), ("kitten", "Kitten", "", "cat"),
        ("dog", "Dog", "3", "animal"), ("puppy", "Puppy", "", "dog"), ("bird", "Bird", "5", None),
        ("fish", "Fish", "6", None), ("spare", "Spare", "", None)]
classes = {}
for order, (key, name, hotkey, parent) in enumerate(spec):
    classes[key] = LabelClass.objects.create(
        ontology=ontology, key=key, name=name, hotkey=hotkey, order=order, parent=classes.get(parent))
project = Project.objects.create(name="Ontology page", ontology=ontology, retrain_trigger="manual")
sister = Project.objects.create(name="Ontology page sister", ontology=ontology, retrain_trigger="manual")
for each in (project, sister):
    Membership.objects.create(project=each, user=admin, role="admin")


def labeled(text, key, annotators, gold=False):
    item = Item.objects.create(
        project=project, text=text, status="labeled", final_class=classes[key], final_annotator=annotators[0],
        final_at=timezone.now(), is_gold=gold, gold_class=classes[key] if gold else None)
    for who in annotators:
        Annotation.objects.create(project=project, item=item, annotator=who, label_class=classes[key])


labeled("a cat asleep on the mat", "cat", [admin])
labeled("another cat by the window", "cat", [admin, annotator])
labeled("a dog in the park", "dog", [admin, annotator], gold=True)
Item.objects.create(project=project, text="nothing labeled yet")
print(project.pk)
"""


@pytest.fixture(scope="module")
def ontology_project(app_server) -> int:
    return build_in_server(app_server, SETUP)


def open_editor(page, project_id: int) -> None:
    login(page, "admin")
    page.goto(f"/projects/{project_id}/ontology/")
    expect(page.locator("tr.class-row[data-key=animal]")).to_be_visible()


def row(page, key: str):
    return page.locator(f"tr.class-row[data-key='{key}']")


def class_id(page, key: str) -> str:
    return row(page, key).get_attribute("data-id")


def api_classes(page, project_id: int) -> dict:
    return {cls["key"]: cls for cls in page.request.get(f"/api/projects/{project_id}/classes/").json()}


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_rename_is_one_edit_seen_on_the_labeled_items_and_in_the_log(page, ontology_project):
    open_editor(page, ontology_project)
    # The tree: nesting shown by depth, and a parent collapses its subclasses.
    expect(row(page, "cat")).to_have_attribute("data-depth", "1")
    expect(row(page, "kitten")).to_have_attribute("data-depth", "2")
    row(page, "animal").get_by_role("button", name="Collapse the subclasses of Animal").click()
    expect(row(page, "cat")).to_be_hidden()
    expect(row(page, "kitten")).to_be_hidden()
    page.click("#expand-all")
    expect(row(page, "kitten")).to_be_visible()

    name = row(page, "cat").locator("input[name=name]")
    name.fill("House cat")
    expect(page.locator("tr.class-note[data-note-for=cat]")).to_contain_text("every labeled item")
    expect(row(page, "cat")).to_have_class("class-row dirty")
    name.press("Enter")
    expect(page.locator("#message")).to_contain_text("Renamed “Cat” to “House cat”: every labeled item now shows the new name.")
    expect(page.locator("tr.class-note[data-note-for=cat]")).to_be_hidden()

    items = page.request.get(f"/api/projects/{ontology_project}/items/?limit=100").json()["results"]
    cats = [item for item in items if item["label"] == "cat"]
    assert len(cats) == 2 and {item["label_name"] for item in cats} == {"House cat"}

    newest = page.locator("#changes-body tr.change-row").first
    expect(newest).to_have_attribute("data-action", "update")
    expect(newest).to_contain_text("admin")
    expect(newest).to_contain_text("name: “Cat” → “House cat”")
    page.reload()
    expect(row(page, "cat").locator("input[name=name]")).to_have_value("House cat")


def test_a_hotkey_clash_shows_the_server_message_on_the_row(page, ontology_project):
    open_editor(page, ontology_project)
    bird = row(page, "bird")
    bird.locator("input[name=hotkey]").fill("6")
    bird.get_by_role("button", name="Save").click()
    error = page.locator("tr.class-error[data-error-for=bird]")
    expect(error).to_contain_text("Hotkey: The hotkey '6' is taken by 'Fish'.")
    expect(bird.locator("input[name=hotkey]")).to_have_attribute("aria-invalid", "true")

    bird.locator("input[name=hotkey]").fill("s")
    bird.get_by_role("button", name="Save").click()
    expect(error).to_contain_text("S, Z and H are the workspace's skip, undo and hint keys")
    assert api_classes(page, ontology_project)["bird"]["hotkey"] == "5"


def test_the_details_of_a_class_parent_shapes_description_attributes_and_examples(page, ontology_project):
    open_editor(page, ontology_project)
    animal_id = int(class_id(page, "animal"))
    fish = row(page, "fish")
    fish.get_by_role("button", name="Details").click()
    details = page.locator("tr.class-details[data-details-for=fish]")
    expect(details).to_be_visible()
    details.get_by_label("Parent").select_option(str(animal_id))
    details.get_by_label("box").check()
    details.get_by_label("polygon").check()
    details.get_by_label("Description (Markdown)").fill("Anything with **fins**.")
    details.get_by_role("button", name="Add attribute").click()
    attribute = details.locator("tr[data-attribute='0']")
    expect(attribute.locator("input[name=attr-key]")).to_be_focused()
    attribute.locator("input[name=attr-key]").fill("size")
    attribute.locator("input[name=attr-name]").fill("Size")
    attribute.locator("input[name=attr-options]").fill("small")
    details.get_by_role("button", name="Save Fish").click()
    expect(details.locator("[data-error-field=attributes]")).to_contain_text("a choice needs `options`")

    attribute.locator("input[name=attr-options]").fill("small, large")
    attribute.locator("input[name=attr-default]").fill("small")
    details.get_by_role("button", name="Save Fish").click()
    expect(page.locator("#message")).to_contain_text("Saved “Fish”.")
    expect(row(page, "fish")).to_have_attribute("data-depth", "1")
    saved = api_classes(page, ontology_project)["fish"]
    assert saved["parent"] == animal_id
    assert saved["shapes"] == ["box", "polygon"]
    assert saved["description"] == "Anything with **fins**."
    assert saved["attributes"] == [{"key": "size", "name": "Size", "type": "choice", "options": ["small", "large"],
                                    "default": "small"}]

    # The details stay open over the reload; an example image uploads and shows.
    details.locator("input[name=example-file]").set_input_files(
        files=[{"name": "fish.png", "mimeType": "image/png", "buffer": png_bytes()}])
    expect(page.locator("#message")).to_contain_text("Added an example image to “Fish”.")
    thumbnail = details.locator("li.example img")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_js_property("naturalWidth", 24)
    assert len(api_classes(page, ontology_project)["fish"]["examples"]) == 1
    details.get_by_role("button", name="Remove example 1 of Fish").click()
    expect(details.locator("li.example")).to_have_count(0)
    assert api_classes(page, ontology_project)["fish"]["examples"] == []


def test_merge_previews_what_moves_then_merges(page, ontology_project):
    open_editor(page, ontology_project)
    dog, animal = class_id(page, "dog"), class_id(page, "animal")
    page.click("#open-merge")
    dialog = page.locator("#merge-dialog")
    expect(dialog).to_be_visible()
    page.select_option("#merge-source", dog)
    page.select_option("#merge-target", animal)
    expect(page.locator("#merge-confirm")).to_be_disabled()
    page.click("#merge-preview-button")
    counts = {"annotations": "2", "regions": "0", "items": "1", "gold_items": "1", "children": "1"}
    for key, value in counts.items():
        expect(page.locator(f"#merge-preview dd[data-count={key}]")).to_have_text(value)
    expect(page.locator("#merge-projects")).to_contain_text("2 projects share this ontology and all change")
    expect(page.locator("#merge-projects")).to_contain_text("Ontology page sister")
    expect(page.locator("#merge-confirm")).to_be_focused()
    assert "dog" in api_classes(page, ontology_project), "a preview changes nothing"

    page.click("#merge-confirm")
    expect(dialog).to_be_hidden()
    expect(page.locator("#message")).to_contain_text("Merged “Dog” into “Animal”: moved 2 answers")
    expect(row(page, "dog")).to_have_count(0)
    expect(row(page, "puppy")).to_have_attribute("data-depth", "1")
    items = page.request.get(f"/api/projects/{ontology_project}/items/?limit=100").json()["results"]
    assert {item["label"] for item in items if item["text"] == "a dog in the park"} == {"animal"}
    newest = page.locator("#changes-body tr.change-row").first
    expect(newest).to_have_attribute("data-action", "merge")
    expect(newest).to_contain_text("“Dog” merged into animal")


def test_deleting_a_class_in_use_is_refused_with_a_way_to_merge(page, ontology_project):
    open_editor(page, ontology_project)
    page.on("dialog", lambda dialog: dialog.accept())
    cat = row(page, "cat")
    cat.get_by_role("button", name="Delete").click()
    error = page.locator("tr.class-error[data-error-for=cat]")
    expect(error).to_contain_text("is in use (3 answers, 0 regions, 2 labeled items)")
    expect(error).to_contain_text("merge it into another class instead of deleting it")
    error.get_by_role("button", name="into another class").click()
    expect(page.locator("#merge-dialog")).to_be_visible()
    expect(page.locator("#merge-source")).to_have_value(class_id(page, "cat"))
    expect(page.locator("#merge-target")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#merge-dialog")).to_be_hidden()
    expect(cat).to_be_visible()

    # An unused class goes; its subclasses would move up a level.
    row(page, "kitten").get_by_role("button", name="Delete").click()
    expect(row(page, "kitten")).to_have_count(0)
    expect(page.locator("#message")).to_contain_text("Deleted “Kitten”.")
    expect(page.locator("#changes-body tr.change-row").first).to_have_attribute("data-action", "delete")


def test_export_then_import_a_modified_file_reports_what_changed(page, ontology_project):
    open_editor(page, ontology_project)
    with page.expect_download() as download:
        page.click("#export-link")
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert exported["format"] == "labeler-ontology"
    keys = [cls["key"] for cls in exported["classes"]]
    assert "bird" in keys and "spare" in keys

    for cls in exported["classes"]:
        if cls["key"] == "bird":
            cls["name"] = "Songbird"
    exported["classes"] = [cls for cls in exported["classes"] if cls["key"] != "spare"]
    exported["classes"].append({"key": "reptile", "name": "Reptile", "colour": "#2ca02c", "hotkey": "8",
                                "parent": "animal"})
    page.set_input_files("#import-file", files=[
        {"name": "animals.json", "mimeType": "application/json", "buffer": json.dumps(exported).encode()}])
    page.click("#ontology-import-form button[type=submit]")
    report = page.locator("#import-report")
    expect(report).to_have_attribute("data-kind", "ok")
    expect(report).to_contain_text("Created (1): reptile")
    expect(report).to_contain_text(f"Updated ({len(keys) - 1})")
    expect(report).to_contain_text("Kept, not in the file (1): spare")
    expect(row(page, "reptile")).to_have_attribute("data-depth", "1")
    expect(row(page, "bird").locator("input[name=name]")).to_have_value("Songbird")
    expect(page.locator("#changes-body tr.change-row").first).to_have_attribute("data-action", "import")

    exported["version"] = 2
    page.set_input_files("#import-file", files=[
        {"name": "future.json", "mimeType": "application/json", "buffer": json.dumps(exported).encode()}])
    page.click("#ontology-import-form button[type=submit]")
    expect(report).to_have_attribute("data-kind", "error")
    expect(report).to_contain_text("Not imported, nothing changed: This file has format version 2")
    expect(page.locator("#import-file")).to_have_attribute("aria-invalid", "true")


def test_the_keyboard_moves_through_the_tree_and_reorders_classes(page, ontology_project):
    open_editor(page, ontology_project)
    top_level = [key for key, cls in sorted(api_classes(page, ontology_project).items(), key=lambda kv: kv[1]["order"])
                 if cls["parent"] is None]
    assert top_level[:2] == ["animal", "bird"]

    row(page, "animal").focus()
    page.keyboard.press("ArrowLeft")  # collapses Animal's subclasses
    expect(row(page, "cat")).to_be_hidden()
    expect(row(page, "animal")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row(page, "bird")).to_be_focused()

    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#tree-status")).to_have_text(re.compile(r"^Moved “.+” up: 1 of \d+\.$"))
    expect(page.locator("#classes-body tr.class-row").first).to_have_attribute("data-key", "bird")
    expect(row(page, "bird")).to_be_focused()
    ordered = sorted(api_classes(page, ontology_project).values(), key=lambda cls: cls["order"])
    assert [cls["key"] for cls in ordered][:2] == ["bird", "animal"]
    newest = page.locator("#changes-body tr.change-row").first
    expect(newest).to_have_attribute("data-action", "reorder")
    expect(newest).to_contain_text("moved bird before animal")

    # From inside a field too, and with the buttons.
    row(page, "bird").locator("input[name=name]").focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#tree-status")).to_have_text(re.compile(r"^Moved “.+” down: 2 of \d+\.$"))
    expect(row(page, "bird").locator("input[name=name]")).to_be_focused()
    expect(page.locator("#classes-body tr.class-row").first).to_have_attribute("data-key", "animal")
    expect(row(page, "animal").get_by_role("button", name="Move Animal up")).to_be_disabled()
    row(page, "bird").get_by_role("button", name=re.compile(r"^Move .+ up$")).click()
    expect(page.locator("#classes-body tr.class-row").first).to_have_attribute("data-key", "bird")
    expect(row(page, "bird")).to_be_focused()  # the up button is disabled now: focus falls back on the row
    row(page, "animal").focus()
    page.keyboard.press("ArrowRight")
    expect(row(page, "cat")).to_be_visible()


def test_the_ontology_name_the_projects_sharing_it_and_a_fork(page, app_server, ontology_project):
    open_editor(page, ontology_project)
    expect(page.locator("#sharing-list li")).to_have_count(2)
    expect(page.locator("#sharing-summary")).to_contain_text("2 projects share this ontology")
    page.fill("#ontology-name", "Animals")
    page.fill("#ontology-description", "What walks, swims or flies.")
    page.click("#ontology-form button[type=submit]")
    expect(page.locator("#ontology-message")).to_contain_text("Saved the ontology “Animals”.")
    expect(page.locator("#ontology-title")).to_have_text("Animals")
    newest = page.locator("#changes-body tr.change-row").first
    expect(newest).to_contain_text("ontology name: “Ontology page animals” → “Animals”")

    projects = app_server.admin.get("/api/projects/?limit=200")["results"]
    sister = next(project["id"] for project in projects if project["name"] == "Ontology page sister")
    page.goto(f"/projects/{sister}/ontology/")
    expect(page.locator("#ontology-title")).to_have_text("Animals")
    page.on("dialog", lambda dialog: dialog.accept())
    page.fill("#fork-name", "Sister animals")
    page.click("#fork-form button[type=submit]")
    expect(page.locator("#fork-message")).to_contain_text("This project now has its own ontology “Sister animals”")
    expect(page.locator("#ontology-title")).to_have_text("Sister animals")
    expect(page.locator("#sharing-list li")).to_have_count(1)
    expect(page.locator("#sharing-summary")).to_have_text("Only this project uses this ontology.")
    expect(page.locator("#changes-body tr.change-row").first).to_have_attribute("data-action", "fork")
    expect(row(page, "bird")).to_be_visible()

    page.goto(f"/projects/{ontology_project}/ontology/")
    expect(page.locator("#sharing-list li")).to_have_count(1)
