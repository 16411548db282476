"""The reviewer workflow in a real browser: an answer sent back with a reason, the
annotator's banner and fix, the approval; questions asked in the workspace and resolved
on the review page; ties corrected and decided by keyboard; shapes of two annotators
overlaid on one image and one answer's shapes used to correct the other's.

Every test works on projects of its own (made in the server's database beside the running
server, or through the API), so the demo project that other modules count labels on is
left alone whatever order the modules run in. What the pages did is checked through the API.
"""
import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from .conftest import ApiClient, login
from .test_engine_pages import build_in_server
from .test_image_workspace import make_project, run_in_server

ANY_ITEM = re.compile(r"^\d+$")
REASON = "The guest complains about the noise: this is negative."

SETUP = """
from django.contrib.auth.models import User
from annotations.importing import import_rows
from annotations.models import LabelClass, Membership, Ontology, Project

ontology = Ontology.objects.create(name="Review page classes")
for order, key in enumerate(["negative", "positive"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Review page", ontology=ontology, retrain_every=1000)
for username, role in [("admin", "admin"), ("reviewer", "reviewer"), ("annotator", "annotator"),
                       ("annotator2", "annotator")]:
    Membership.objects.create(project=project, user=User.objects.get(username=username), role=role)
rows = [(n, {"text": f"Hotel stay number {n}: the room was quiet, the staff friendly."}) for n in range(1, 13)]
import_rows(project, rows, split="pool")
print(project.pk)
"""

# Two items, each answered by two annotators who disagree: two ties for a reviewer.
TIES = """
from django.contrib.auth.models import User
from annotations import services
from annotations.importing import import_rows
from annotations.models import LabelClass, Membership, Ontology, Project

ontology = Ontology.objects.create(name="Review tie classes")
for order, key in enumerate(["negative", "positive"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Review ties", ontology=ontology, overlap=2, retrain_every=1000)
users = {name: User.objects.get(username=name) for name in ["admin", "reviewer", "annotator", "annotator2"]}
for name, role in [("admin", "admin"), ("reviewer", "reviewer"), ("annotator", "annotator"), ("annotator2", "annotator")]:
    Membership.objects.create(project=project, user=users[name], role=role)
import_rows(project, [(1, {"text": "Breakfast was fine, the bed was not."}), (2, {"text": "Average in every way."})], split="pool")
for name, label in [("annotator", "positive"), ("annotator2", "negative")]:
    for task in services.claim_tasks(users[name], project, want=2):
        services.submit_annotation(users[name], project, task.item_id, label)
print(project.pk)
"""


def patch(client: ApiClient, path: str, data: dict) -> dict:
    request = urllib.request.Request(
        f"{client.base_url}{path}", data=json.dumps(data).encode(), method="PATCH",
        headers={"Content-Type": "application/json", "X-CSRFToken": client._csrf()},
    )
    with client.opener.open(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def review_project(app_server) -> int:
    """A text project whose every submission goes to review (set through the API)."""
    project_id = build_in_server(app_server, SETUP)
    stored = patch(app_server.admin, f"/api/projects/{project_id}/", {"review": {"policy": "all"}})
    assert stored["review"]["policy"] == "all"
    return project_id


@pytest.fixture(scope="module")
def reviewer_api(app_server) -> ApiClient:
    return ApiClient(app_server.url, "reviewer")


def open_workspace(page, project_id: int) -> str:
    page.goto(f"/projects/{project_id}/label/")
    card = page.locator("#item-card")
    expect(card).to_have_attribute("data-item-id", ANY_ITEM)
    expect(page.locator("#class-buttons .class-button")).to_have_count(2)
    return card.get_attribute("data-item-id")


def open_review(page, project_id: int, query: str = "") -> None:
    page.goto(f"/projects/{project_id}/review/{query}")
    expect(page.locator("#queue-loading")).to_be_hidden()


def answer_card(page, annotator: str):
    return page.locator(f"#answers .answer-card[data-annotator='{annotator}']")


def submit_with(page, key: str) -> int:
    """Press a class key in the workspace and wait for the answer to be stored."""
    with page.expect_response(lambda r: r.url.endswith("/annotations/") and r.request.method == "POST") as saved:
        page.keyboard.press(key)
    return saved.value.status


def test_an_answer_sent_back_is_fixed_by_its_annotator_and_then_approved(page, app_server, review_project, reviewer_api):
    # The annotator labels an item: positive.
    login(page, "annotator")
    item = open_workspace(page, review_project)
    expect(page.locator("#returned-banner")).to_be_hidden()
    assert submit_with(page, "2") == 201

    # The reviewer finds it in the queue, tries to send it back without and with too long
    # a reason (both refused, visibly), then with a reason.
    login(page, "reviewer")
    open_review(page, review_project)
    entry = page.locator(f"#queue-list .queue-entry[data-item-id='{item}']")
    expect(entry).to_contain_text("1 pending")
    expect(page.locator("#count-pending")).to_have_text(re.compile(r"^[1-9]\d*$"))
    entry.click()
    detail = page.locator("#review-detail")
    expect(detail).to_have_attribute("data-item-id", item)
    card = answer_card(page, "annotator")
    expect(card).to_have_attribute("data-review-status", "pending")
    expect(card.locator(".class-chip")).to_have_text("Positive")
    expect(page.locator("#history")).to_have_attribute("data-actions", "submitted")

    card.focus()
    page.keyboard.press("r")
    reason_box = card.locator(".reject-reason")
    expect(reason_box).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("Write why the answer is sent back")
    reason_box.fill("x" * 2001)
    reason_box.press("Enter")
    expect(page.locator("#message")).to_contain_text("Keep the reason under 2,000 characters.")
    expect(card).to_have_attribute("data-review-status", "pending")
    reason_box.fill("")
    reason_box.focus()
    page.keyboard.type(REASON)
    page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-review-status", "rejected")
    expect(card.locator(".answer-reason")).to_have_text(f"Sent back by reviewer: {REASON}")
    expect(page.locator("#message")).to_be_hidden()
    expect(page.locator("#history")).to_have_attribute("data-actions", "submitted,rejected")
    expect(card.locator(".approve-button")).to_be_disabled()

    # The annotator gets the item back first, with the banner and the old answer chosen.
    login(page, "annotator")
    assert open_workspace(page, review_project) == item
    banner = page.locator("#returned-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"Sent back by reviewer: {REASON}")
    expect(page.locator("#class-buttons [data-key=positive]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("s")  # a returned task is fixed, not skipped
    expect(page.locator("#status")).to_contain_text("cannot be skipped")
    expect(page.locator("#item-card")).to_have_attribute("data-item-id", item)
    assert submit_with(page, "1") == 201
    expect(page.locator("#item-card")).not_to_have_attribute("data-item-id", item)
    expect(banner).to_be_hidden()

    # The reviewer opens the item by its address and approves the fix with A.
    login(page, "reviewer")
    open_review(page, review_project, f"?item={item}")
    expect(detail).to_have_attribute("data-item-id", item)
    expect(card).to_have_attribute("data-review-status", "pending")
    expect(card.locator(".class-chip")).to_have_text("Negative")
    expect(card).to_be_focused()
    page.keyboard.press("a")
    expect(card).to_have_attribute("data-review-status", "approved")
    expect(page.locator("#history")).to_have_attribute("data-actions", "submitted,rejected,resubmitted,approved")
    expect(page.locator("#history .event[data-action=resubmitted] .event-change")).to_have_text("Positive → Negative")
    expect(page.locator("#history .event[data-action=rejected] .event-reason")).to_contain_text(REASON)
    expect(page.locator(f"#queue-list .queue-entry[data-item-id='{item}']")).to_have_count(0)

    stored = reviewer_api.get(f"/api/projects/{review_project}/review/items/{item}/")
    [answer] = stored["answers"]
    assert answer["annotator"] == "annotator"
    assert answer["label"] == "negative"
    assert answer["review_status"] == "approved"
    assert answer["reviewed_by"] == "reviewer"
    assert [event["action"] for event in stored["history"]] == ["submitted", "rejected", "resubmitted", "approved"]
    assert stored["history"][1]["detail"]["reason"] == REASON
    assert stored["item"]["final_label"] == "negative"


def test_a_question_asked_in_the_workspace_is_answered_and_resolved_by_the_reviewer(page, app_server, review_project, reviewer_api):
    question = "Is a complaint about breakfast <b>negative</b> when the rest is praised?"
    reply = "Yes: any complaint makes it negative."
    login(page, "annotator2")
    item = open_workspace(page, review_project)
    page.keyboard.press("/")
    panel = page.locator("#questions-panel")
    expect(panel.locator(".comment-new")).to_be_focused()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    thread = panel.locator(".thread")
    expect(thread).to_have_count(1)
    expect(thread.locator(".comment-body")).to_have_text(question)  # text, never markup
    expect(page.locator("#questions-count")).to_have_text("· 1 open of 1")
    page.keyboard.press("Escape")
    expect(page.locator("#item-card")).to_have_attribute("data-item-id", item)  # typing labeled nothing

    login(page, "reviewer")
    open_review(page, review_project, f"?item={item}")
    thread = page.locator("#comments .thread")
    expect(thread).to_have_count(1)
    expect(thread.locator(".comment-author").first).to_have_text("annotator2")
    expect(thread.locator(".comment-body").first).to_have_text(question)
    thread.locator(".reply-button").click()
    expect(thread.locator(".reply-body")).to_be_focused()
    page.keyboard.type(reply)
    page.keyboard.press("Enter")
    expect(thread.locator(".replies .comment-body")).to_have_text(reply)
    thread.locator(".resolve-button").click()
    expect(thread).to_have_attribute("data-resolved", "true")
    expect(thread.locator(".resolved-note")).to_have_text("Resolved by reviewer")
    expect(page.locator("#history")).to_have_attribute("data-actions", "commented,commented,resolved")

    [stored] = reviewer_api.get(f"/api/projects/{review_project}/items/{item}/comments/")
    assert stored["author"] == "annotator2" and stored["body"] == question
    assert stored["resolved"] is True and stored["resolved_by"] == "reviewer"
    assert [r["body"] for r in stored["replies"]] == [reply]

    # The one who asked sees the answer beside the item.
    login(page, "annotator2")
    assert open_workspace(page, review_project) == item
    page.locator("#questions > summary").click()
    expect(page.locator("#questions-panel .replies .comment-body")).to_have_text(reply)
    expect(page.locator("#questions-panel .thread")).to_have_attribute("data-resolved", "true")


def test_annotators_get_the_forbidden_page_and_no_link_to_review(page, app_server, review_project):
    login(page, "annotator")
    page.goto(f"/projects/{review_project}/")
    expect(page.locator("#label-button")).to_be_visible()
    expect(page.locator("#review-link")).to_have_count(0)
    response = page.goto(f"/projects/{review_project}/review/")
    assert response.status == 403
    expect(page.locator("#forbidden-message")).to_be_visible()

    login(page, "reviewer")
    page.goto(f"/projects/{review_project}/")
    page.locator("#review-link").click()
    expect(page).to_have_url(re.compile(rf"/projects/{review_project}/review/"))
    expect(page.locator("#review-policy")).to_contain_text("every submission is reviewed")


def test_ties_are_corrected_and_decided_from_the_keyboard(page, app_server, reviewer_api):
    project_id = build_in_server(app_server, TIES)
    login(page, "reviewer")
    open_review(page, project_id, "?reason=consensus")
    entries = page.locator("#queue-list .queue-entry")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text("tie")
    expect(page.locator("#count-undecided")).to_have_text("2")
    first, second = (entries.nth(i).get_attribute("data-item-id") for i in range(2))
    detail = page.locator("#review-detail")
    expect(detail).to_have_attribute("data-item-id", first)  # the first item opens by itself
    expect(page.locator("#consensus")).to_have_attribute("data-status", "tie")
    expect(page.locator("#consensus-agreement")).to_have_text("50.0%")
    expect(page.locator("#decide-panel")).to_be_visible()

    # Correct the positive answer to negative: C, the class key, Enter.
    positive = answer_card(page, "annotator")
    positive.focus()
    page.keyboard.press("c")
    expect(positive.locator(".correct-panel")).to_be_visible()
    page.keyboard.press("1")
    expect(positive.locator(".correct-panel [data-key=negative]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect(positive).to_have_attribute("data-review-status", "approved")
    expect(positive.locator(".answer-body .class-chip")).to_have_text("Negative")
    expect(page.locator("#consensus")).to_have_attribute("data-status", "agreed")
    expect(page.locator("#decide-panel")).to_be_hidden()
    expect(entries).to_have_count(1)

    # J goes on to the other tie; D, the class key and Enter decide it.
    page.keyboard.press("j")
    expect(detail).to_have_attribute("data-item-id", second)
    page.keyboard.press("d")
    page.keyboard.press("2")
    expect(page.locator("#decide-classes [data-key=positive]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#consensus")).to_have_attribute("data-status", "reviewed")
    expect(page.locator("#consensus-label")).to_have_text("Positive")
    expect(page.locator("#queue-empty")).to_be_visible()
    expect(page.locator("#message")).to_be_hidden()

    corrected = reviewer_api.get(f"/api/projects/{project_id}/review/items/{first}/")
    assert corrected["consensus"]["status"] == "agreed" and corrected["item"]["final_label"] == "negative"
    assert [event["action"] for event in corrected["history"]][-1] == "corrected"
    assert corrected["history"][-1]["detail"] == {"before": {"label": "positive"}, "after": {"label": "negative"}}
    decided = reviewer_api.get(f"/api/projects/{project_id}/review/items/{second}/")
    assert decided["consensus"] == {**decided["consensus"], "status": "reviewed", "label": "positive", "decided_by": "reviewer"}
    assert decided["item"]["final_label"] == "positive"


def test_a_reason_being_typed_survives_a_reload_that_lands_meanwhile(page, app_server, reviewer_api):
    """Approving an answer reloads the item; a reviewer quick enough to open the next
    answer's reason before the reload lands keeps every key typed."""
    project_id = build_in_server(app_server, TIES)
    login(page, "reviewer")
    open_review(page, project_id, "?reason=consensus")
    expect(page.locator("#review-detail")).to_have_attribute("data-item-id", ANY_ITEM)
    item = page.locator("#review-detail").get_attribute("data-item-id")
    held = []
    item_url = re.compile(rf".*/review/items/{item}/$")

    def hold(route):  # the reload waits for the test
        held.append(route)

    page.route(item_url, hold)

    positive, negative = answer_card(page, "annotator"), answer_card(page, "annotator2")
    positive.focus()
    page.keyboard.press("a")
    for _ in range(200):  # the approval is stored, then the page asks for the item again
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the item was not reloaded after the approval"
    negative.focus()
    page.keyboard.press("r")
    reason = negative.locator(".reject-reason")
    expect(reason).to_be_focused()
    page.keyboard.type("The guest was")
    held[0].continue_()  # the reload lands while the form is open
    page.unroute(item_url, hold)
    page.wait_for_timeout(500)
    page.keyboard.type(" not pleased.")
    expect(reason).to_have_value("The guest was not pleased.")
    page.keyboard.press("Enter")
    expect(negative).to_have_attribute("data-review-status", "rejected")
    expect(positive).to_have_attribute("data-review-status", "approved")  # the closed form loaded the item again
    stored = reviewer_api.get(f"/api/projects/{project_id}/review/items/{item}/")
    assert stored["history"][-1]["detail"]["reason"] == "The guest was not pleased."


def test_shapes_of_two_annotators_are_overlaid_and_one_answer_corrects_the_other(page, app_server, reviewer_api):
    project_id = make_project(app_server, "Review shapes", "detection", ["car", "person"], images=1, split="pool")
    app_server.admin.post(f"/api/projects/{project_id}/members/", {"username": "annotator2", "role": "annotator"})
    app_server.admin.post(f"/api/projects/{project_id}/members/", {"username": "reviewer", "role": "reviewer"})
    run_in_server(app_server, f"""
from django.contrib.auth.models import User
from annotations import services
from annotations.models import Project
project = Project.objects.get(pk={project_id})
project.overlap = 2
project.review = {{**project.review, "policy": "all"}}
project.save()
answers = {{
    "annotator": [{{"label": "car", "kind": "box", "geometry": {{"box": [0.1, 0.1, 0.4, 0.4]}}}},
                  {{"label": "person", "kind": "box", "geometry": {{"box": [0.6, 0.5, 0.2, 0.3]}}}}],
    "annotator2": [{{"label": "car", "kind": "box", "geometry": {{"box": [0.5, 0.5, 0.2, 0.2]}}}}],
}}
for name, regions in answers.items():
    user = User.objects.get(username=name)
    [task] = services.claim_tasks(user, project, want=1)
    services.submit_annotation(user, project, task.item_id, None, regions=regions)
""")
    login(page, "reviewer")
    open_review(page, project_id)
    canvas = page.locator("#review-canvas")
    expect(canvas).to_have_attribute("data-shapes-drawn", "3")
    expect(canvas).to_have_attribute("data-layers-shown", "annotator,annotator2")
    toggles = page.locator("#layer-toggles .layer-toggle")
    expect(toggles).to_have_text(["annotator (2)", "annotator2 (1)"])
    toggles.nth(1).locator("input").uncheck()
    expect(canvas).to_have_attribute("data-shapes-drawn", "2")
    expect(canvas).to_have_attribute("data-layers-shown", "annotator")
    source = answer_card(page, "annotator")
    expect(source.locator(".answer-shapes")).to_have_text("2 shapes: 1 car, 1 person")
    source.focus()
    page.keyboard.press("v")
    expect(canvas).to_have_attribute("data-layers-shown", "")
    page.keyboard.press("v")
    expect(canvas).to_have_attribute("data-shapes-drawn", "2")

    # C on the first answer: its shapes become the second answer's correction.
    page.keyboard.press("c")
    target = source.locator(".target-choice[data-answer-id]")
    expect(target).to_have_text("annotator2")
    expect(target).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    corrected = answer_card(page, "annotator2")
    expect(corrected).to_have_attribute("data-review-status", "approved")
    expect(corrected.locator(".answer-shapes")).to_have_text("2 shapes: 1 car, 1 person")
    expect(page.locator("#message")).to_be_hidden()

    item = page.locator("#review-detail").get_attribute("data-item-id")
    stored = reviewer_api.get(f"/api/projects/{project_id}/review/items/{item}/")
    by_annotator = {answer["annotator"]: answer for answer in stored["answers"]}
    assert by_annotator["annotator2"]["review_status"] == "approved"
    boxes = lambda answer: [(r["label"], r["geometry"]["box"]) for r in answer["regions"]]  # noqa: E731
    assert boxes(by_annotator["annotator2"]) == boxes(by_annotator["annotator"])
    assert stored["history"][-1]["action"] == "corrected"
    assert len(stored["history"][-1]["detail"]["after"]["regions"]) == 2

    # Sent back, the annotator finds their boxes drawn again under the banner; Enter resubmits.
    source.focus()
    page.keyboard.press("r")
    page.keyboard.type("The person box is too small.")
    page.keyboard.press("Enter")
    expect(source).to_have_attribute("data-review-status", "rejected")
    login(page, "annotator")
    page.goto(f"/projects/{project_id}/label/")
    expect(page.locator("#workspace")).to_have_attribute("data-ready-item", item)
    expect(page.locator("#returned-banner")).to_contain_text("Sent back by reviewer: The person box is too small.")
    expect(page.locator("#shape-count")).to_have_attribute("data-count", "2")
    with page.expect_response(lambda r: r.url.endswith("/annotations/") and r.request.method == "POST") as saved:
        page.keyboard.press("Enter")
    assert saved.value.status == 201
    fixed = reviewer_api.get(f"/api/projects/{project_id}/review/items/{item}/")
    resubmitted = next(answer for answer in fixed["answers"] if answer["annotator"] == "annotator")
    assert resubmitted["review_status"] == "pending" and len(resubmitted["regions"]) == 2
    assert fixed["history"][-1]["action"] == "resubmitted"


def test_the_queue_follows_new_submissions_without_a_reload(page, app_server, review_project):
    login(page, "reviewer")
    open_review(page, review_project, "?reason=pending")
    page.evaluate("window.__sameDocument = 'still here'")
    annotator = ApiClient(app_server.url, "annotator2")
    task = annotator.post(f"/api/projects/{review_project}/tasks/claim/", {"want": 2})["tasks"][-1]
    annotator.post(f"/api/projects/{review_project}/annotations/", {"item": task["item"], "label": "positive"})
    entry = page.locator(f"#queue-list .queue-entry[data-item-id='{task['item']}']")
    expect(entry).to_contain_text("1 pending")
    assert page.evaluate("window.__sameDocument") == "still here"


def test_an_answer_sent_back_while_the_workspace_is_open_comes_next(page, app_server, review_project, reviewer_api):
    login(page, "annotator2")
    first = open_workspace(page, review_project)
    mine = int(page.locator("#progress-mine").inner_text())
    assert submit_with(page, "2") == 201
    card = page.locator("#item-card")
    expect(card).not_to_have_attribute("data-item-id", first)
    expect(page.locator("#progress-mine")).to_have_text(str(mine + 1))  # the claim after the submit is back
    [answer] = reviewer_api.get(f"/api/projects/{review_project}/review/items/{first}/")["answers"]
    with page.expect_response(lambda r: r.url.endswith("/tasks/claim/")) as claimed:
        reviewer_api.post(f"/api/projects/{review_project}/annotations/{answer['id']}/reject/", {"reason": "Read it again."})
    assert first in [str(task["item"]) for task in claimed.value.json()["tasks"]]
    expect(page.locator("#status")).to_contain_text("A reviewer sent one of your answers back")

    assert submit_with(page, "1") == 201
    expect(card).to_have_attribute("data-item-id", first)
    expect(page.locator("#returned-banner")).to_contain_text("Sent back by reviewer: Read it again.")
    expect(page.locator("#class-buttons [data-key=positive]")).to_have_attribute("aria-pressed", "true")
