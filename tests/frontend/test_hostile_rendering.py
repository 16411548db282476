"""Markup typed into a project never runs: a project whose name, ontology, class names,
item texts, comment and guide all carry an `<img onerror>` and a `<script>` is shown on
the project list, the dashboard, the workspace (with its guide panel), the review page
and the ontology page; on each the markup reads as text and `window.__pwned` stays unset.

The project is made in the server's database beside the running server, as in
test_engine_pages.py, so the demo project other modules count on is left alone.
"""
import json

import pytest

from .conftest import login
from .test_engine_pages import build_in_server

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = "<script>window.__pwned=1</script>"

SETUP = f"""
from django.contrib.auth.models import User
from annotations import comments, guide, services
from annotations.importing import import_rows
from annotations.models import LabelClass, Membership, Ontology, Project

IMG, SCRIPT = {IMG!r}, {SCRIPT!r}
users = {{name: User.objects.get(username=name) for name in ["admin", "annotator"]}}
ontology = Ontology.objects.create(name="Classes " + IMG + SCRIPT)
for order, (key, name) in enumerate([("cat", "Cat " + IMG), ("dog", "Dog " + SCRIPT)]):
    LabelClass.objects.create(ontology=ontology, key=key, name=name, hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Hostile " + IMG + SCRIPT, ontology=ontology, retrain_every=1000,
                                 review={{"policy": "all"}})
Membership.objects.create(project=project, user=users["admin"], role="admin")
Membership.objects.create(project=project, user=users["annotator"], role="annotator")
import_rows(project, [(n, {{"text": f"Review {{n}} says " + IMG + " and " + SCRIPT}}) for n in range(1, 5)], split="pool")
task = services.claim_tasks(users["annotator"], project, want=1)[0]
services.submit_annotation(users["annotator"], project, task.item_id, "cat")
comments.add_comment(project, users["annotator"], "annotator", task.item_id, "Question " + IMG + SCRIPT)
guide.edit(project, users["admin"], "# Guide\\n\\nFirst " + IMG + "\\n\\nThen " + SCRIPT)
print(project.pk)
"""

# Resolves once every image on the page has loaded or failed, so an injected
# `<img onerror>` would have fired by then (listeners only: its handler is left alone).
IMAGES_SETTLED = """() => Promise.all([...document.images].map(img => img.complete ? null :
  new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })))"""


@pytest.fixture(scope="module")
def hostile_project(app_server) -> int:
    return build_in_server(app_server, SETUP)


def shown_literally(page, *texts: str) -> None:
    """Wait until each text is on screen as text (innerText holds only what is rendered)."""
    page.wait_for_function("texts => texts.every(text => document.body.innerText.includes(text))",
                           arg=list(texts))
    page.evaluate(IMAGES_SETTLED)
    assert page.evaluate("typeof window.__pwned") == "undefined", page.url


def test_markup_in_every_field_is_shown_as_text_and_never_runs(page, hostile_project):
    login(page, "admin")
    shown_literally(page, "Hostile " + IMG + SCRIPT)

    page.goto(f"/projects/{hostile_project}/")
    shown_literally(page, "Hostile " + IMG + SCRIPT, "Cat " + IMG, "Dog " + SCRIPT)

    page.goto(f"/projects/{hostile_project}/label/")
    shown_literally(page, " says " + IMG + " and " + SCRIPT, "Cat " + IMG, "Dog " + SCRIPT)
    page.click("#guide-toggle")
    shown_literally(page, "First " + IMG, "Then " + SCRIPT)
    guide_html = page.inner_html("#guide-panel")
    assert "<script" not in guide_html and "<img" not in guide_html, guide_html

    page.goto(f"/projects/{hostile_project}/review/")
    page.locator("#queue-list li").first.click()
    shown_literally(page, " says " + IMG + " and " + SCRIPT, "Question " + IMG + SCRIPT)

    page.goto(f"/projects/{hostile_project}/ontology/")
    shown_literally(page, "Cat " + IMG, "Dog " + SCRIPT, "Classes " + IMG + SCRIPT)

    # What the pages showed is what was stored, unchanged.
    stored = page.request.get(f"/api/projects/{hostile_project}/classes/").json()
    assert [c["name"] for c in stored] == ["Cat " + IMG, "Dog " + SCRIPT], json.dumps(stored)
