"""The agreement and quality pages and the review settings in a real browser: the kappa
heatmap with known values, the lowest-agreement items linked to the review page, flagged
annotators, settling model-label disagreements, gold items, and chart downloads.

Each project is built in the server's database through the real services (answers go
through submit_annotation, so consensus and gold scores are the ones the app computes).
Three annotators label six items (overlap 3):

    annotator   P P P N N N
    annotator2  P P N N N N
    rater3      P N P N P N

Cohen's kappa: annotator/annotator2 = (5/6 - 1/2) / (1/2) = 2/3; annotator/rater3 =
(4/6 - 1/2) / (1/2) = 1/3; annotator2/rater3 = (3/6 - 1/2) / (1/2) = 0. Items 2, 3 and 5
have agreement 2/3, the others 1. On the two gold items annotator answers both right,
annotator2 one of two (accuracy 50%, kappa 0): under the default thresholds (90%, 0.80).
annotator2's wrong gold answer is dated a day earlier, so their accuracy over time goes
from 0% to 100%.
"""
import csv
import re

import pytest
from playwright.sync_api import expect

from .conftest import login
from .test_engine_pages import build_in_server

SETUP = """
from datetime import timedelta
from django.apps import apps
from django.contrib.auth.models import User
from django.utils import timezone
from activelearning import answer_days
from activelearning.models import Disagreement
from annotations import gold
from annotations.models import Annotation, Assignment, Item, LabelClass, Membership, Ontology, Project
from annotations.services import lease_deadline, submit_annotation

ontology = Ontology.objects.create(name="Quality page classes")
classes = {}
for order, key in enumerate(["positive", "negative"]):
    classes[key] = LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Quality pages", ontology=ontology, overlap=3, retrain_every=1000)
admin = User.objects.get(username="admin")
people = {name: User.objects.get(username=name) for name in ("annotator", "annotator2")}
people["rater3"], _ = User.objects.get_or_create(username="rater3")
Membership.objects.create(project=project, user=admin, role="admin")
Membership.objects.create(project=project, user=User.objects.get(username="reviewer"), role="reviewer")
for user in people.values():
    Membership.objects.create(project=project, user=user, role="annotator")
P, N = "positive", "negative"
answers = {"annotator": [P, P, P, N, N, N], "annotator2": [P, P, N, N, N, N], "rater3": [P, N, P, N, P, N]}
seconds = {"annotator": 10, "annotator2": 4, "rater3": 20}
items = [Item.objects.create(project=project, text=f"quality sentence {n}") for n in range(1, 9)]

def answer(name, item, label, is_gold=False):
    Assignment.objects.create(project=project, item=item, annotator=people[name], expires_at=lease_deadline(),
                              is_gold=is_gold)
    submit_annotation(people[name], project, item.pk, label, duration_ms=seconds[name] * 1000)

for name, labels in answers.items():
    for item, label in zip(items, labels):
        answer(name, item, label)
gold.mark_gold(project, admin, items[6].pk, P)
gold.mark_gold(project, admin, items[7].pk, N)
answer("annotator", items[6], P, is_gold=True)
answer("annotator", items[7], N, is_gold=True)
answer("annotator2", items[6], N, is_gold=True)
answer("annotator2", items[7], N, is_gold=True)
# annotator2's wrong gold answer came a day earlier: their line goes from 0% to 100%.
Annotation.objects.filter(item=items[6], annotator=people["annotator2"]).update(
    created_at=timezone.now() - timedelta(days=1))
answer_days.rebuild(apps, project.pk)  # the day moved by hand, past the answer paths that keep the roll-up
for item, human, model, confidence in [(items[0], P, N, 0.97), (items[3], N, P, 0.93), (items[5], N, P, 0.91)]:
    Disagreement.objects.create(project=project, item=item, human_class=classes[human], model_class=classes[model],
                                confidence=confidence)
print(project.pk)
"""

# Two annotators draw boxes on two images: the same box on the first; on the second
# annotator draws two and annotator2 one of them. Pooled, annotator (the reference) drew
# 3 regions and annotator2 2, of which 2 match at IoU 1: precision 2/2, recall 2/3,
# F1 2 * 2 / 5 = 0.8; class kappa is undefined (every match is a car).
SHAPES_SETUP = """
from django.contrib.auth.models import User
from annotations.models import Assignment, Item, LabelClass, Membership, Ontology, Project
from annotations.services import lease_deadline, submit_annotation

ontology = Ontology.objects.create(name="Quality shapes")
for order, key in enumerate(["car", "person"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key, order=order)
project = Project.objects.create(name="Quality shapes", ontology=ontology, kind="detection", learner="yolo_detect",
                                 strategy="det_least_confident", overlap=2, retrain_every=1000)
Membership.objects.create(project=project, user=User.objects.get(username="reviewer"), role="reviewer")
items = [Item.objects.create(project=project, text="", width=100, height=100) for _ in range(2)]
car = {"label": "car", "kind": "box", "geometry": {"box": [0.1, 0.1, 0.2, 0.2]}}
person = {"label": "person", "kind": "box", "geometry": {"box": [0.6, 0.6, 0.3, 0.3]}}
drawn = {"annotator": [[car], [car, person]], "annotator2": [[car], [car]]}
for name, per_item in drawn.items():
    user = User.objects.get(username=name)
    for item, regions in zip(items, per_item):
        Assignment.objects.create(project=project, item=item, annotator=user, expires_at=lease_deadline())
        submit_annotation(user, project, item.pk, None, regions=regions)
print(project.pk)
"""


@pytest.fixture(scope="module")
def quality_project(app_server) -> int:
    """Read by the tests that change nothing."""
    return build_in_server(app_server, SETUP)


@pytest.fixture
def fresh_project(app_server) -> int:
    """For a test that settles, saves or marks something."""
    return build_in_server(app_server, SETUP)


def read_download(page, button: str):
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    return download.suggested_filename, download.path().read_bytes()


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(data.decode().splitlines()))


def test_annotators_are_refused_both_pages(page, quality_project):
    login(page, "annotator")
    for path in ("agreement", "quality"):
        response = page.goto(f"/projects/{quality_project}/{path}/")
        assert response.status == 403, path
        expect(page.locator("#forbidden-message")).to_contain_text("reviewer")
    page.goto(f"/projects/{quality_project}/")
    expect(page.locator("#label-button")).to_be_visible()
    assert page.locator("#agreement-link").count() == 0
    assert page.locator("#quality-link").count() == 0


def test_the_heatmap_shows_each_pairs_kappa_and_a_low_item_opens_in_review(page, app_server, quality_project):
    # The review page is another module's; answer it here so this test sees only the link.
    page.route(re.compile(r"/projects/\d+/review/"), lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>review</title><p id=review-stub>review</p>"))
    login(page, "reviewer")
    page.goto(f"/projects/{quality_project}/")
    page.click("#agreement-link")
    page.wait_for_url(re.compile(rf"/projects/{quality_project}/agreement/$"))

    heatmap = page.locator("#kappa-heatmap")
    expect(heatmap).to_be_visible()
    expected = {("annotator", "annotator2"): "0.67", ("annotator", "rater3"): "0.33", ("annotator2", "rater3"): "0.00"}
    for (a, b), value in expected.items():
        for row, col in ((a, b), (b, a)):
            expect(heatmap.locator(f'g.cell[data-row="{row}"][data-col="{col}"] text')).to_have_text(value)
    expect(heatmap.locator("g.cell")).to_have_count(9)
    expect(heatmap.locator("g.cell.diagonal text")).to_have_count(0)
    # The colour follows the value: the highest kappa is the strongest blue.
    fills = {
        value: heatmap.locator(f'g.cell[data-row="{a}"][data-col="{b}"] rect').get_attribute("fill")
        for (a, b), value in expected.items()
    }
    assert len(set(fills.values())) == 3
    expect(page.locator("#stat-fleiss")).to_have_text("0.32")
    expect(page.locator("#stat-alpha")).to_have_text("0.36")
    expect(page.locator("#stat-items")).to_have_text("6")
    expect(page.locator("#class-chart g.bar")).to_have_count(2)
    expect(page.locator('#class-chart g.bar[data-label="positive"] text').first).to_have_text("0.32")
    expect(page.locator("#region-card")).to_be_hidden()

    name, data = read_download(page, "#kappa-csv")
    assert name == f"project-{quality_project}-pairwise-agreement.csv"
    rows = {(row["annotator_a"], row["annotator_b"]): row for row in csv_rows(data)}
    assert float(rows[("annotator", "annotator2")]["kappa"]) == pytest.approx(2 / 3)
    assert float(rows[("annotator", "rater3")]["kappa"]) == pytest.approx(1 / 3)
    assert float(rows[("annotator2", "rater3")]["kappa"]) == pytest.approx(0)
    assert rows[("annotator", "annotator2")]["n_items"] == "6"
    name, data = read_download(page, "#class-png")
    assert name == f"project-{quality_project}-fleiss-per-class.png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    name, data = read_download(page, "#kappa-png")
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000

    lowest = app_server.admin.get(f"/api/projects/{quality_project}/agreement/")["lowest"]
    assert [row["text"] for row in lowest[:3]] == ["quality sentence 2", "quality sentence 3", "quality sentence 5"]
    first = page.locator("#lowest-list li").first
    expect(first).to_contain_text("quality sentence 2")
    expect(first).to_contain_text("66.7%")
    first.locator("a").click()
    page.wait_for_url(re.compile(rf"/projects/{quality_project}/review/\?item={lowest[0]['item']}$"))
    expect(page.locator("#review-stub")).to_be_visible()


def test_shape_projects_show_region_agreement_per_pair(page, app_server):
    project_id = build_in_server(app_server, SHAPES_SETUP)
    login(page, "reviewer")
    page.goto(f"/projects/{project_id}/agreement/")
    expect(page.locator("#heatmap-title")).to_have_text("Pairwise F1 of matched regions")
    expect(page.locator('#kappa-heatmap g.cell[data-row="annotator"][data-col="annotator2"] text')).to_have_text("0.80")
    row = page.locator('#region-body tr[data-a="annotator"][data-b="annotator2"]')
    expect(row.locator("td")).to_have_text(["annotator – annotator2", "2", "3 / 2", "2", "1.00", "1.00", "0.67", "0.80", "—"])
    expect(page.locator("#class-card")).to_be_hidden()
    expect(page.locator("#fleiss-stat")).to_be_hidden()
    expect(page.locator("#stat-iou")).to_have_text("0.50")
    _, data = read_download(page, "#region-csv")
    (pair,) = csv_rows(data)
    assert (float(pair["precision"]), float(pair["recall"]), float(pair["f1"])) == pytest.approx((1, 2 / 3, 0.8))


def test_the_quality_page_flags_the_annotator_below_the_thresholds(page, quality_project):
    login(page, "reviewer")
    page.goto(f"/projects/{quality_project}/")
    page.click("#quality-link")
    page.wait_for_url(re.compile(rf"/projects/{quality_project}/quality/$"))
    expect(page.locator("#thresholds")).to_contain_text("Flagged below 90.0% gold accuracy or a gold kappa of 0.80")
    flagged = page.locator('#quality-body tr[data-username="annotator2"]')
    expect(flagged).to_have_attribute("data-flagged", "true")
    expect(flagged).to_have_class(re.compile(r"\bflagged\b"))
    expect(flagged.locator(".flag-badge")).to_be_visible()
    expect(flagged.locator(".flags li")).to_have_text(["gold accuracy 50% < 90%", "gold kappa 0.00 < 0.80"])
    expect(flagged.locator('[data-metric="gold_accuracy"]')).to_have_text("50.0%")
    expect(flagged.locator('[data-metric="gold_accuracy"]')).to_have_class(re.compile(r"\bbelow\b"))
    expect(flagged.locator('[data-metric="seconds_per_item"]')).to_have_text("4.0")
    expect(flagged.locator('[data-metric="items_per_hour"]')).to_have_text("900")
    expect(flagged.locator('[data-metric="peer_agreement"]')).to_have_text("83.3%")
    good = page.locator('#quality-body tr[data-username="annotator"]')
    expect(good).to_have_attribute("data-flagged", "false")
    expect(good.locator('[data-metric="gold_accuracy"]')).to_have_text("100.0%")
    expect(page.locator('#quality-body tr[data-username="rater3"] [data-metric="gold_accuracy"]')).to_have_text("—")
    # Reviewers see no admin controls.
    assert page.locator(".reset-qualification").count() == 0
    assert page.locator("#gold-card").count() == 0

    # One line per annotator with gold answers, a point per day with gold checks.
    expect(page.locator("#accuracy-chart g.series")).to_have_count(2)
    second = page.locator('#accuracy-chart g.series[data-name="annotator2"]')
    expect(second.locator("circle")).to_have_count(2)
    assert [c.get_attribute("data-y") for c in second.locator("circle").all()] == ["0", "1"]
    expect(second.locator("polyline")).to_have_count(1)
    expect(page.locator('#accuracy-chart g.series[data-name="annotator"] circle')).to_have_count(1)
    _, data = read_download(page, "#accuracy-csv")
    rows = csv_rows(data)
    days = sorted({row["day"] for row in rows})
    assert len(days) == 2
    by_key = {(row["day"], row["annotator"]): row for row in rows}
    assert (by_key[(days[0], "annotator2")]["gold_checks"], float(by_key[(days[0], "annotator2")]["gold_accuracy"])) == ("1", 0)
    assert float(by_key[(days[1], "annotator2")]["gold_accuracy"]) == 1
    assert by_key[(days[1], "rater3")]["gold_accuracy"] == ""
    _, data = read_download(page, "#quality-csv")
    table = {row["username"]: row for row in csv_rows(data)}
    assert table["annotator2"]["flags"] == "gold accuracy 50% < 90%; gold kappa 0.00 < 0.80"
    _, data = read_download(page, "#accuracy-png")
    assert data.startswith(b"\x89PNG")


def test_settling_disagreements_updates_the_outcome_counts(page, app_server, fresh_project):
    login(page, "reviewer")
    page.goto(f"/projects/{fresh_project}/quality/")
    expect(page.locator("#count-open")).to_have_text("3")
    rows = page.locator("#disagreements-body tr")
    expect(rows).to_have_count(3)
    first = rows.filter(has_text="quality sentence 1")
    expect(first.locator(".human-label")).to_have_text("positive")
    expect(first.locator(".model-label")).to_have_text("negative")
    expect(first).to_contain_text("97.0%")

    first.get_by_role("button", name="Confirm label").click()
    expect(page.locator("#count-confirmed")).to_have_text("1")
    expect(page.locator("#count-model_weakness")).to_have_text("1")
    expect(page.locator("#count-open")).to_have_text("2")
    expect(rows).to_have_count(2)

    fourth = rows.filter(has_text="quality sentence 4")
    fourth.locator("select.correct-class").select_option("positive")
    fourth.get_by_role("button", name="Correct").click()
    expect(page.locator("#count-corrected")).to_have_text("1")
    expect(page.locator("#count-human_error")).to_have_text("1")

    sixth = rows.filter(has_text="quality sentence 6")
    sixth.locator("input.relabel-reason").fill("Look at the second half again")
    sixth.get_by_role("button", name="Send for re-labeling").click()
    expect(page.locator("#count-relabel")).to_have_text("1")
    expect(page.locator("#count-human_error")).to_have_text("2")
    expect(page.locator("#count-open")).to_have_text("0")
    expect(page.locator("#disagreements-body")).to_contain_text("No open disagreements")

    page.select_option("#disagreement-outcome", "confirmed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("label confirmed by reviewer")

    api = app_server.admin
    counts = api.get(f"/api/projects/{fresh_project}/disagreements/")["counts"]
    assert counts == {"open": 0, "confirmed": 1, "corrected": 1, "relabel": 1, "human_error": 2, "model_weakness": 1}
    items = {row["text"]: row for row in api.get(f"/api/projects/{fresh_project}/items/?limit=100")["results"]}
    assert items["quality sentence 4"]["label"] == "positive"


def test_admin_saves_a_review_policy_and_sees_the_servers_message(page, app_server, fresh_project):
    login(page, "admin")
    page.goto(f"/projects/{fresh_project}/")
    expect(page.locator("#review-fields")).to_be_visible()
    expect(page.locator("#set-review-policy")).to_have_value("none")
    expect(page.locator("#set-overlap")).to_have_value("3")
    expect(page.locator("#set-review-gold-fraction")).to_have_value("0")
    page.select_option("#set-review-policy", "random")
    expect(page.locator("#review-policy-description")).to_have_text("A random fraction of submissions is reviewed.")
    page.fill("#set-review-fraction", "0.3")
    page.fill("#set-review-gold-fraction", "0.1")
    page.check("#set-review-qualification-required")
    page.fill("#set-review-qualification-count", "2")
    page.fill("#set-review-min-kappa", "0.6")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")

    review = app_server.admin.get(f"/api/projects/{fresh_project}/")["review"]
    assert (review["policy"], review["fraction"], review["gold_fraction"], review["min_kappa"]) == ("random", 0.3, 0.1, 0.6)
    assert review["qualification"] == {"required": True, "count": 2, "min_accuracy": 0.8}
    assert review["agreement_threshold"] == 0.7  # untouched settings keep their values
    page.reload()
    expect(page.locator("#set-review-policy")).to_have_value("random")
    expect(page.locator("#set-review-qualification-required")).to_be_checked()
    expect(page.locator("#set-review-qualification-count")).to_have_value("2")

    page.fill("#set-review-gold-fraction", "0.9")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Not saved")
    expect(page.locator('[data-error-for="review.gold_fraction"]')).to_contain_text("review.gold_fraction must be at most 0.5")
    page.fill("#set-review-gold-fraction", "0.2")
    page.fill("#set-review-qualification-count", "0")
    page.click("#settings-form button[type=submit]")
    expect(page.locator('[data-error-for="review.gold_fraction"]')).to_have_text("")
    expect(page.locator('[data-error-for="review.qualification.count"]')).to_contain_text("whole number between 1 and 200")
    assert app_server.admin.get(f"/api/projects/{fresh_project}/")["review"]["gold_fraction"] == 0.1


def test_admin_marks_and_unmarks_gold_items_and_resets_a_qualification(page, app_server, fresh_project):
    login(page, "admin")
    page.goto(f"/projects/{fresh_project}/quality/")
    gold_rows = page.locator("#gold-body tr[data-item]")
    expect(gold_rows).to_have_count(2)
    expect(gold_rows.first.locator(".gold-answer")).to_have_text("positive")
    items = {row["text"]: row["id"] for row in app_server.admin.get(f"/api/projects/{fresh_project}/items/?limit=100")["results"]}

    page.fill("#gold-item", str(items["quality sentence 3"]))
    page.select_option("#gold-label", "negative")
    page.click("#gold-form button[type=submit]")
    expect(page.locator("#gold-message")).to_contain_text("is gold, with the known answer negative")
    expect(gold_rows).to_have_count(3)
    expect(page.locator(f'#gold-body tr[data-item="{items["quality sentence 3"]}"] .gold-answer')).to_have_text("negative")

    page.fill("#gold-item", "999999")
    page.click("#gold-form button[type=submit]")
    expect(page.locator("#gold-message")).to_contain_text("No item 999999 in this project")

    page.locator(f'#gold-body tr[data-item="{items["quality sentence 7"]}"]').get_by_role("button", name="Unmark").click()
    expect(gold_rows).to_have_count(2)
    gold = app_server.admin.get(f"/api/projects/{fresh_project}/gold/")
    assert sorted(row["text"] for row in gold) == ["quality sentence 3", "quality sentence 8"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#quality-body tr[data-username="annotator2"]').get_by_role("button", name="Reset qualification").click()
    expect(page.locator("#qualification-message")).to_contain_text("annotator2 can take the qualification set again")
