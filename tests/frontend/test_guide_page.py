"""The labeling guide in a real browser: the admin writes it with an uploaded picture, the
annotator reads it beside the task (a script written into it never runs), proposes an
edit that the admin accepts while the workspace is open, sees why another was declined;
an old version is restored, a save over a newer version is refused, and the image
workspace shows the guide too.

The tests work on projects of their own, made through the ORM beside the running server;
each test sets the guide it starts from through the API.
"""
import contextlib
import io
import json
import re
import urllib.request

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import TIMEOUT_MS, ApiClient, login
from .test_engine_pages import build_in_server

SETUP = """
from django.contrib.auth.models import User
from annotations.models import Item, LabelClass, Membership, Ontology, Project

ontology = Ontology.objects.create(name="Guide page classes")
for order, key in enumerate(["negative", "positive"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Guide page", ontology=ontology, retrain_trigger="manual")
Membership.objects.create(project=project, user=User.objects.get(username="admin"), role="admin")
Membership.objects.create(project=project, user=User.objects.get(username="annotator"), role="annotator")
for n in range(6):
    Item.objects.create(project=project, text=f"a review to label, number {n}")
print(project.pk)
"""

IMAGE_SETUP = """
from django.contrib.auth.models import User
from annotations import guide
from annotations.models import LabelClass, Membership, Ontology, Project

admin = User.objects.get(username="admin")
ontology = Ontology.objects.create(name="Guide page boxes")
LabelClass.objects.create(ontology=ontology, key="car", name="Car", hotkey="1", order=0)
project = Project.objects.create(name="Guide page images", kind="detection", ontology=ontology, retrain_trigger="manual")
Membership.objects.create(project=project, user=admin, role="admin")
Membership.objects.create(project=project, user=User.objects.get(username="annotator"), role="annotator")
guide.edit(project, admin, "# Boxes\\n\\nDraw each box tight around the car.")
print(project.pk)
"""

RULES = (
    "# Sentiment rules\n\n"
    "Label the **feeling** of the review, not its topic.\n\n"
    "<script>window.guideScriptRan = true</script>\n\n"
    '<img src="nothing" onerror="window.guideScriptRan = true">\n\n'
    "An example:\n"
)

IMAGE_LOADED = """selector => {
  const image = document.querySelector(selector);
  return Boolean(image && image.complete && image.naturalWidth > 0);
}"""


@pytest.fixture(scope="module")
def guide_project(app_server) -> int:
    return build_in_server(app_server, SETUP)


@pytest.fixture(scope="module")
def annotator_api(app_server) -> ApiClient:
    return ApiClient(app_server.url, "annotator")


@contextlib.contextmanager
def second_page(browser, app_server):
    """Another user's browser beside the test's own page; its script errors fail the test too."""
    context = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    other = context.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield other
    finally:
        context.close()
    assert not errors, f"script errors on the second page: {errors}"


def put_guide(client: ApiClient, project_id: int, body: str, note: str = "") -> dict:
    request = urllib.request.Request(
        f"{client.base_url}/api/projects/{project_id}/guide/", data=json.dumps({"body": body, "note": note}).encode(),
        method="PUT", headers={"Content-Type": "application/json", "X-CSRFToken": client._csrf()},
    )
    with client.opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def open_guide_page(page, project_id: int) -> None:
    page.goto(f"/projects/{project_id}/guide/")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")


def open_workspace_with_guide(page, project_id: int):
    page.goto(f"/projects/{project_id}/label/")
    expect(page.locator("#item-card")).to_have_attribute("data-item-id", re.compile(r"^\d+$"))
    panel = page.locator("#guide-panel")
    if not panel.is_visible():
        page.keyboard.press("?")
    expect(panel).to_be_visible()
    return panel


def proposal(page, proposal_id: int):
    return page.locator(f"#proposal-list .proposal[data-proposal-id='{proposal_id}']")


def test_the_admin_writes_the_guide_and_the_annotator_reads_it_beside_the_task(page, browser, app_server, guide_project):
    login(page, "admin")
    open_guide_page(page, guide_project)
    expect(page.locator("#guide-meta")).to_have_text("No guide yet.")
    editor = page.locator("#guide-body")
    editor.fill(RULES)
    expect(page.locator("#editor-state")).to_have_attribute("data-dirty", "true")
    page.evaluate("() => { const box = document.querySelector('#guide-body'); box.setSelectionRange(box.value.length, box.value.length); }")
    page.set_input_files("#image-input", {"name": "happy review.png", "mimeType": "image/png", "buffer": png_bytes()})
    picture = re.compile(r"!\[happy review\.png\]\(/api/projects/\d+/guide/images/\d+/\)\n$")
    expect(editor).to_have_value(picture)
    page.fill("#guide-note", "First rules")
    page.click("#guide-save")
    expect(page.locator("#message")).to_have_text("Saved as version 1.")
    expect(page.locator("#guide-html h1")).to_have_text("Sentiment rules")
    page.wait_for_function(IMAGE_LOADED, arg="#guide-html img")
    expect(page.locator("#revision-list .revision[data-version='1']")).to_contain_text("First rules")
    expect(page.locator("#editor-state")).to_have_text("Saved: version 1")

    with second_page(browser, app_server) as annotator:
        login(annotator, "annotator")
        annotator.goto(f"/projects/{guide_project}/label/")
        expect(annotator.locator("#item-card")).to_have_attribute("data-item-id", re.compile(r"^\d+$"))
        panel = annotator.locator("#guide-panel")
        expect(panel).to_be_hidden()
        annotator.keyboard.press("?")
        expect(panel).to_be_visible()
        expect(annotator.locator("#guide-toggle")).to_have_attribute("aria-expanded", "true")
        expect(panel.locator("h1")).to_have_text("Sentiment rules")
        annotator.wait_for_function(IMAGE_LOADED, arg="#guide-panel img")
        # Written HTML is shown as text and never runs.
        expect(panel).to_contain_text("<script>window.guideScriptRan = true</script>")
        expect(panel.locator("script")).to_have_count(0)
        assert annotator.evaluate("window.guideScriptRan") is None
        link = panel.locator("#guide-page-link")
        expect(link).to_have_attribute("href", f"/projects/{guide_project}/guide/")
        expect(link).to_have_text(re.compile("Suggest a change"))

        # The panel stays open across reloads, and "?" hides it again.
        annotator.reload()
        expect(panel).to_be_visible()
        expect(panel.locator("h1")).to_have_text("Sentiment rules")
        annotator.keyboard.press("?")
        expect(panel).to_be_hidden()
        assert annotator.evaluate("window.guideScriptRan") is None


def test_a_proposal_accepted_by_the_admin_reaches_the_open_workspace(page, browser, app_server, guide_project):
    put_guide(app_server.admin, guide_project, "# Sentiment rules\n\nLabel the feeling, not the topic.\n")
    with second_page(browser, app_server) as annotator:
        login(annotator, "annotator")
        open_guide_page(annotator, guide_project)
        expect(annotator.locator("#editor-card")).to_have_count(0)
        body = annotator.locator("#proposal-body")
        expect(body).to_have_value("# Sentiment rules\n\nLabel the feeling, not the topic.\n")
        body.fill("# Sentiment rules\n\nLabel the feeling, not the topic.\n\nNeutral reviews: skip them.\n")
        annotator.fill("#proposal-note", "Neutral ones keep coming up")
        with annotator.expect_response(lambda r: r.url.endswith("/guide/proposals/") and r.request.method == "POST") as sent:
            annotator.click("#proposal-submit")
        assert sent.value.status == 201
        proposal_id = sent.value.json()["id"]
        mine = proposal(annotator, proposal_id)
        expect(mine).to_have_attribute("data-status", "open")
        expect(mine).to_contain_text("Neutral ones keep coming up")
        expect(mine.locator(".proposal-accept")).to_have_count(0)

        panel = open_workspace_with_guide(annotator, guide_project)
        expect(panel).not_to_contain_text("Neutral reviews")

        login(page, "admin")
        open_guide_page(page, guide_project)
        waiting = proposal(page, proposal_id)
        expect(waiting).to_have_attribute("data-status", "open")
        expect(page.locator("#proposal-list .proposal").first).to_have_attribute("data-status", "open")
        waiting.locator(".proposal-compare").click()
        expect(waiting.locator(".guide-diff td.diff-added")).to_have_text(["", "Neutral reviews: skip them."])
        expect(waiting.locator(".guide-diff td.diff-removed")).to_have_count(0)
        waiting.locator(".proposal-accept").click()
        expect(page.locator("#message")).to_contain_text(f"Proposal #{proposal_id} accepted: the guide is now version")
        expect(page.locator("#guide-html")).to_contain_text("Neutral reviews: skip them.")
        expect(waiting).to_have_attribute("data-status", "accepted")
        expect(page.locator("#guide-body")).to_have_value(re.compile("Neutral reviews: skip them."))

        # The annotator's panel follows without a reload.
        expect(panel).to_contain_text("Neutral reviews: skip them.")
        expect(panel.locator(".guide-panel-note")).to_contain_text("Updated to version")

        open_guide_page(annotator, guide_project)
        expect(proposal(annotator, proposal_id)).to_contain_text("it became version")


def test_a_declined_proposal_shows_its_reason_to_its_author(page, browser, app_server, guide_project, annotator_api):
    put_guide(app_server.admin, guide_project, "# Sentiment rules\n\nSarcasm counts as negative.\n")
    sent = annotator_api.post(f"/api/projects/{guide_project}/guide/proposals/", {
        "body": "# Sentiment rules\n\nSarcasm counts as positive.\n", "note": "Sarcasm is a joke",
    })
    login(page, "admin")
    open_guide_page(page, guide_project)
    waiting = proposal(page, sent["id"])
    waiting.locator(".proposal-compare").click()
    expect(waiting.locator(".guide-diff td.diff-removed")).to_have_text("Sarcasm counts as negative.")
    expect(waiting.locator(".guide-diff td.diff-added")).to_have_text("Sarcasm counts as positive.")
    waiting.locator(".proposal-decline").click()
    waiting.locator(".decline-reason-input").fill("Sarcasm stays negative: the reviewer was unhappy.")
    waiting.locator(".decline-confirm").click()
    expect(waiting).to_have_attribute("data-status", "declined")
    expect(page.locator("#guide-html")).to_contain_text("Sarcasm counts as negative.")

    with second_page(browser, app_server) as annotator:
        login(annotator, "annotator")
        open_guide_page(annotator, guide_project)
        declined = proposal(annotator, sent["id"])
        expect(declined).to_have_attribute("data-status", "declined")
        expect(declined.locator(".decline-reason")).to_contain_text("Declined by admin")
        expect(declined.locator(".decline-reason-text")).to_have_text("Sarcasm stays negative: the reviewer was unhappy.")


def test_an_old_version_is_viewed_and_restored_from_the_history(page, app_server, guide_project):
    old = put_guide(app_server.admin, guide_project, "# Old rules\n\nKeep it short.\n", "old")
    newer = put_guide(app_server.admin, guide_project, "# New rules\n\nWrite a lot.\n", "new")
    login(page, "admin")
    open_guide_page(page, guide_project)
    expect(page.locator("#guide-html h1")).to_have_text("New rules")
    entry = page.locator(f"#revision-list .revision[data-version='{old['version']}']")
    entry.locator(".revision-show").click()
    view = page.locator("#revision-view")
    expect(view).to_have_attribute("data-version", str(old["version"]))
    expect(view.locator(".revision-html h1")).to_have_text("Old rules")
    expect(view.locator(".revision-diff summary")).to_have_text(f"What changed from it to the current version {newer['version']}")
    entry.locator(".revision-restore").click()
    restored = newer["version"] + 1
    expect(page.locator("#message")).to_have_text(f"Version {old['version']} restored: the guide is now version {restored}.")
    expect(page.locator("#guide-html h1")).to_have_text("Old rules")
    expect(page.locator("#guide-body")).to_have_value("# Old rules\n\nKeep it short.\n")
    latest = page.locator(f"#revision-list .revision[data-version='{restored}']")
    expect(latest).to_have_attribute("data-current", "true")
    expect(latest).to_contain_text(f"Restored version {old['version']}.")
    assert app_server.admin.get(f"/api/projects/{guide_project}/guide/")["body"] == "# Old rules\n\nKeep it short.\n"


def test_a_save_over_a_newer_version_is_refused_and_the_current_one_offered(page, app_server, guide_project):
    start = put_guide(app_server.admin, guide_project, "# Rules\n\nOne.\n")
    login(page, "admin")
    open_guide_page(page, guide_project)
    page.fill("#guide-body", "# Rules\n\nMine.\n")
    theirs = put_guide(app_server.admin, guide_project, "# Rules\n\nTheirs.\n")
    assert theirs["version"] == start["version"] + 1
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()  # announced as soon as the other save lands
    with page.expect_response(lambda r: r.url.endswith("/guide/") and r.request.method == "PUT") as saved:
        page.click("#guide-save")
    assert saved.value.status == 409
    expect(page.locator("#conflict-text")).to_contain_text(f"you started from version {start['version']}")
    page.click("#conflict-reload")
    expect(page.locator("#guide-body")).to_have_value("# Rules\n\nTheirs.\n")
    expect(page.locator("#unsaved-text")).to_have_value("# Rules\n\nMine.\n")
    expect(conflict).to_be_hidden()
    expect(page.locator("#guide-html")).to_contain_text("Theirs.")


def test_the_image_workspace_shows_the_guide_on_shift_g(page, app_server):
    project_id = build_in_server(app_server, IMAGE_SETUP)
    login(page, "annotator")
    page.goto(f"/projects/{project_id}/label/")
    expect(page.locator("#class-palette .class-row")).to_have_count(1)
    panel = page.locator("#guide-panel")
    expect(panel).to_be_hidden()
    page.keyboard.press("Shift+G")
    expect(panel).to_be_visible()
    expect(panel.locator("h1")).to_have_text("Boxes")
    expect(panel).to_contain_text("Draw each box tight around the car.")
    page.click("#guide-toggle")
    expect(panel).to_be_hidden()
    page.keyboard.press("?")
    expect(page.locator("#help-table")).to_contain_text("show or hide the labeling guide")
