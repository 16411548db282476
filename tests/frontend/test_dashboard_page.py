"""The project dashboard's charts, settings, configuration file and members in a real
browser: progress and pace, answers per day and per annotator, the learning curve per
learner with the random baseline and a stopping marker, classes against target shares,
the pool's uncertainty per round with drift, annotators' pace and quality; the retrain
trigger and the sampling mix saved from the settings form; a YAML configuration
downloaded and applied again; members added in bulk.

The project is built in the server's database with known numbers (see SETUP), so the
charts can be checked element by element.
"""
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ApiClient, login
from .test_engine_pages import build_in_server

# 24 pool items: 12 labeled (6 negative, 4 positive, 2 neutral), 2 of the others waiting
# for review, 10 untouched; 2 gold items. Answers per day (days before today):
#   annotator   10: 2   3: 4   2: 3   1: 2
#   annotator2          3: 2   2: 1   1: 2 (both pending review)
# 14 answers in the last 7 days: 2 a day, so the 12 remaining items take 6 days.
# annotator is right on one of two gold items (50%, flagged under 90%), annotator2 on both.
SETUP = """
from datetime import datetime, time, timedelta
from django.apps import apps
from django.contrib.auth.models import User
from django.utils import timezone
from annotations.models import Annotation, Item, LabelClass, Membership, Ontology, Project
from activelearning import answer_days
from activelearning.models import Round, SimulationRun

ontology = Ontology.objects.create(name="Dashboard page classes")
classes = {}
for order, key in enumerate(["negative", "positive", "neutral"]):
    classes[key] = LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Dashboard page", ontology=ontology, strategy="margin", retrain_trigger="manual")
project.sampling = {**project.sampling, "target_ratios": {"negative": 0.5, "positive": 0.3}}
project.review = {**project.review, "qualification": {**project.review["qualification"], "required": True}}
project.save()
users = {name: User.objects.get(username=name) for name in ("admin", "reviewer", "annotator", "annotator2")}
for name, role in (("admin", "admin"), ("reviewer", "reviewer"), ("annotator", "annotator"), ("annotator2", "annotator")):
    Membership.objects.create(project=project, user=users[name], role=role,
                              qualification="passed" if name == "annotator" else "pending")
newcomer, _ = User.objects.get_or_create(username="dash-newcomer", defaults={"email": "newcomer@example.org"})

labels = ["negative"] * 6 + ["positive"] * 4 + ["neutral"] * 2
items = []
for n in range(24):
    label = labels[n] if n < len(labels) else None
    items.append(Item.objects.create(
        project=project, text=f"dashboard item {n}", status="labeled" if label else "unlabeled",
        final_class=classes[label] if label else None,
    ))
gold = [Item.objects.create(project=project, text=f"gold item {n}", is_gold=True, gold_class=classes[key])
        for n, key in enumerate(["negative", "positive"])]

today = timezone.now().date()
def at(days_before):
    return timezone.make_aware(datetime.combine(today - timedelta(days=days_before), time(12)))

plan = {"annotator": [(10, 2), (3, 4), (2, 3), (1, 2)], "annotator2": [(3, 2), (2, 1)]}
durations = {"annotator": 30000, "annotator2": 20000}
for name, days in plan.items():
    index = 0
    for days_before, count in days:
        for _ in range(count):
            item = items[index]
            answer = Annotation.objects.create(project=project, item=item, annotator=users[name],
                                               label_class=item.final_class, duration_ms=durations[name])
            Annotation.objects.filter(pk=answer.pk).update(created_at=at(days_before))
            index += 1
for item in items[12:14]:
    answer = Annotation.objects.create(project=project, item=item, annotator=users["annotator2"],
                                       label_class=classes["positive"], duration_ms=20000, review_status="pending")
    Annotation.objects.filter(pk=answer.pk).update(created_at=at(1))
for name, given in (("annotator", ["negative", "negative"]), ("annotator2", ["negative", "positive"])):
    for item, key in zip(gold, given):
        Annotation.objects.create(project=project, item=item, annotator=users[name], label_class=classes[key],
                                  duration_ms=durations[name], gold_score=1.0 if item.gold_class.key == key else 0.0)
# The answers above are written directly, not through the answer paths that keep the daily roll-up.
answer_days.rebuild(apps, project.pk)

edges = [round(n / 10, 4) for n in range(11)]
plateau = {"recommend_stop": True, "fired": ["plateau"], "criteria": [
    {"key": "plateau", "label": "Plateau", "fired": True, "value": 0.005, "threshold": 0.01,
     "message": "Accuracy improved by only 0.005.", "warning": False}]}
rounds = [
    (4, "tfidf_logreg", 0.55, 0.50, None, {}),
    (8, "tfidf_logreg", 0.65, 0.60, {"edges": edges, "counts": [5, 4, 3, 2, 1, 0, 0, 0, 0, 0], "items": 15, "mean": 0.2},
     {"alert": False, "message": "Only 3 new items since the last round."}),
    (10, "minilm_logreg", 0.70, 0.66, None, {}),
    (12, "minilm_logreg", 0.72, 0.70, {"edges": edges, "counts": [1, 2, 3, 4, 5, 4, 3, 2, 1, 0], "items": 25, "mean": 0.45},
     {"alert": True, "message": "Possible drift: the 25 new items are less certain than the labeled items."}),
]
for number, (used, learner, accuracy, macro_f1, histogram, drift) in enumerate(rounds, 1):
    Round.objects.create(
        project=project, number=number, strategy="margin", strategy_used="margin", batch_size=4, selected=4,
        pool_size=20, labels_used=used, learner=learner, metrics={"accuracy": accuracy, "macro_f1": macro_f1},
        details={"uncertainty": histogram} if histogram else {}, drift=drift,
        stopping=plateau if number == 4 else {"recommend_stop": False, "fired": [], "criteria": []},
    )
SimulationRun.objects.create(
    project=project, state="succeeded", finished_at=timezone.now(), config={"strategies": ["random"]},
    result={"strategies": {"random": {"labels": [4, 8, 12], "accuracy_mean": [0.5, 0.55, 0.6]}}},
)
print(project.pk)
"""


def save_settings(page) -> None:
    """Submit the settings form and wait for the server's answer, so a message left by
    the previous save is never taken for this one's."""
    with page.expect_response(lambda r: r.request.method == "PATCH" and "/api/projects/" in r.url):
        page.click("#settings-form button[type=submit]")


def day(days_before: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_before)).isoformat()


def values(locator, attribute: str) -> list[str]:
    return locator.evaluate_all(f"elements => elements.map(e => e.getAttribute('{attribute}'))")


@pytest.fixture(scope="module")
def dashboard_project(app_server) -> int:
    return build_in_server(app_server, SETUP)


def test_reviewers_see_progress_and_answers_per_day(page, dashboard_project):
    login(page, "reviewer")
    page.goto(f"/projects/{dashboard_project}/")
    expect(page.locator("#progress-labeled")).to_have_text("12")
    expect(page.locator("#progress-in-review")).to_have_text("2")
    expect(page.locator("#progress-remaining")).to_have_text("12")
    expect(page.locator("#progress-total")).to_have_text("of 24 items")
    expect(page.locator("#progress-pace")).to_contain_text("(2 answers a day), the 12 remaining items take about 6 days more")

    # Ten days from the first answer to the last, the empty ones included, a bar on four.
    columns = page.locator("#answers-chart g.column")
    expect(columns).to_have_count(10)
    assert values(columns, "data-category") == [day(n) for n in range(10, 0, -1)]
    bars = page.locator("#answers-chart rect.segment")
    expect(bars).to_have_count(4)
    assert dict(zip(values(bars, "data-category"), values(bars, "data-value"))) == {
        day(10): "2", day(3): "6", day(2): "4", day(1): "4"}

    stacked = page.locator("#annotator-days-chart rect.segment")
    expect(stacked).to_have_count(7)
    cells = zip(values(stacked, "data-category"), values(stacked, "data-series"), values(stacked, "data-value"))
    assert {(c, s): int(v) for c, s, v in cells} == {
        (day(10), "annotator"): 2, (day(3), "annotator"): 4, (day(2), "annotator"): 3, (day(1), "annotator"): 2,
        (day(3), "annotator2"): 2, (day(2), "annotator2"): 1, (day(1), "annotator2"): 2}

    with page.expect_download() as download:
        page.click("#answers-csv")
    assert download.value.suggested_filename == f"project-{dashboard_project}-answers.csv"
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines == ["day,answers", f"{day(10)},2", f"{day(3)},6", f"{day(2)},4", f"{day(1)},4"]
    with page.expect_download() as picture:
        page.click("#answers-png")
    assert Path(picture.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_learning_curve_has_a_line_per_learner_the_baseline_and_the_stop(page, dashboard_project):
    login(page, "reviewer")
    page.goto(f"/projects/{dashboard_project}/")
    accuracy = page.locator("#curve g.series[data-metric=accuracy]")
    expect(accuracy).to_have_count(2)
    assert values(accuracy, "data-learner") == ["tfidf_logreg", "minilm_logreg"]
    first = page.locator("#curve g.series[data-learner=tfidf_logreg][data-metric=accuracy] circle.point")
    assert values(first, "data-labels") == ["4", "8"] and values(first, "data-value") == ["0.55", "0.65"]
    expect(page.locator("#curve g.series[data-metric=macro_f1] circle.point")).to_have_count(4)

    baseline = page.locator("#curve g.baseline circle.baseline-point")
    expect(baseline).to_have_count(3)
    assert values(baseline, "data-value") == ["0.5", "0.55", "0.6"]
    expect(page.locator("#curve")).to_contain_text("random sampling (simulated)")

    marker = page.locator("#curve .stop-marker")
    expect(marker).to_have_count(1)
    expect(marker).to_have_attribute("data-round", "4")
    expect(marker.locator("title")).to_contain_text("stopping recommended (Plateau)")
    expect(marker.locator("text.stop-label")).to_have_text("Plateau")
    expect(page.locator("#curve-legend [data-legend=stop]")).to_be_visible()

    with page.expect_download() as download:
        page.click("#curve-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "series,round,labels,strategy,accuracy,macro_f1,stopping_fired"
    assert "minilm_logreg,4,12,margin,0.72,0.7,Plateau" in lines
    assert "random baseline (simulation " in lines[-1] and lines[-1].endswith(",,12,random,0.6,,")


def test_classes_uncertainty_and_annotators(page, dashboard_project):
    login(page, "reviewer")
    page.goto(f"/projects/{dashboard_project}/")
    bars = page.locator("#classes-chart g.bar")
    expect(bars).to_have_count(3)
    assert values(bars, "data-key") == ["negative", "positive", "neutral"]
    assert [round(float(v), 3) for v in values(bars, "data-value")] == [0.5, 0.333, 0.167]
    assert values(bars, "data-target") == ["0.5", "0.3", ""]
    expect(page.locator("#classes-chart g.target-marker")).to_have_count(2)
    expect(page.locator("#classes-caption")).to_contain_text("Share of the 12 labels per class")

    # The latest round with a histogram first; its drift alert shows.
    expect(page.locator("#uncertainty-round option")).to_have_text(["4 (latest)", "2"])
    bins = page.locator("#uncertainty-chart rect.bin")
    expect(bins).to_have_count(10)
    assert values(bins, "data-count") == ["1", "2", "3", "4", "5", "4", "3", "2", "1", "0"]
    expect(page.locator("#uncertainty-chart g.mean-marker")).to_have_attribute("data-mean", "0.45")
    drift = page.locator("#uncertainty-drift")
    expect(drift).to_contain_text("Drift alert in round 4: Possible drift")
    expect(drift).to_have_attribute("data-kind", "warn")
    expect(page.locator("#drift-badge")).to_be_visible()
    page.select_option("#uncertainty-round", "2")
    expect(page.locator("#uncertainty-chart")).to_have_attribute("data-round", "2")
    assert values(bins, "data-count") == ["5", "4", "3", "2", "1", "0", "0", "0", "0", "0"]
    expect(drift).to_have_attribute("data-kind", "info")
    with page.expect_download() as download:
        page.click("#uncertainty-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[:3] == ["round,uncertainty_from,uncertainty_to,items", "2,0,0.1,5", "2,0.1,0.2,4"]

    flagged = page.locator("#annotators-body tr[data-username=annotator]")
    expect(flagged).to_have_attribute("data-flagged", "true")
    expect(flagged.locator("[data-metric=items_per_hour]")).to_have_text("120")
    expect(flagged.locator("[data-metric=gold_accuracy]")).to_have_text("50.0%")
    expect(flagged.locator(".flags li").first).to_contain_text("gold accuracy 50% < 90%")
    steady = page.locator("#annotators-body tr[data-username=annotator2]")
    expect(steady).to_have_attribute("data-flagged", "false")
    expect(steady.locator("[data-metric=items_per_hour]")).to_have_text("180")
    pace = page.locator("#throughput-chart rect.segment")
    expect(pace).to_have_count(2)
    assert list(zip(values(pace, "data-category"), values(pace, "data-series"), values(pace, "data-value"))) == [
        ("annotator", "items per hour, flagged", "120"), ("annotator2", "items per hour", "180")]


def test_annotators_do_not_get_the_charts_but_keep_the_curve(page, dashboard_project):
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/dashboard/" in request.url else None)
    login(page, "annotator")
    page.goto(f"/projects/{dashboard_project}/")
    expect(page.locator("#curve g.series")).to_have_count(4)  # two learners, accuracy and macro-F1
    expect(page.locator("#curve .stop-marker")).to_have_count(1)
    expect(page.locator("#curve g.baseline")).to_have_count(0)  # the simulator's is for reviewers
    for hidden in ("#progress-card", "#dashboard-charts", "#annotators-card", "#members-card", "#config-file"):
        assert page.locator(hidden).count() == 0, hidden
    assert not asked


def test_admin_saves_the_retrain_trigger_and_the_sampling_mix(page, app_server, dashboard_project):
    login(page, "admin")
    page.goto(f"/projects/{dashboard_project}/")
    trigger = page.locator("#set-retrain-trigger")
    expect(trigger).to_have_value("manual")
    expect(page.locator("#retrain-interval-field")).to_be_hidden()
    expect(page.locator("#retrain-every-field")).to_be_hidden()
    trigger.select_option("schedule")
    expect(page.locator("#retrain-interval-field")).to_be_visible()
    page.fill("#set-retrain-interval", "20000")
    save_settings(page)
    expect(page.locator("[data-error-for=retrain_interval_minutes]")).to_contain_text("10080")
    expect(page.locator("#settings-message")).to_contain_text("Not saved")
    page.fill("#set-retrain-interval", "45")
    save_settings(page)
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    expect(page.locator("[data-error-for=retrain_interval_minutes]")).to_have_text("")
    project = app_server.admin.get(f"/api/projects/{dashboard_project}/")
    assert (project["retrain_trigger"], project["retrain_interval_minutes"]) == ("schedule", 45)

    page.reload()
    expect(page.locator("#set-retrain-trigger")).to_have_value("schedule")
    expect(page.locator("#set-retrain-interval")).to_have_value("45")

    page.select_option("#set-strategy", "mix")
    page.fill("#set-mix", "margin:0.5, random:0.3")
    save_settings(page)
    expect(page.locator("[data-error-for='sampling.mix']")).to_contain_text(re.compile(r"sum", re.I))
    expect(page.locator("#settings-message")).to_contain_text("Not saved")
    page.fill("#set-mix", "margin:0.6, random:0.4")
    save_settings(page)
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    project = app_server.admin.get(f"/api/projects/{dashboard_project}/")
    assert project["strategy"] == "mix"
    assert project["sampling"]["mix"] == [{"strategy": "margin", "fraction": 0.6}, {"strategy": "random", "fraction": 0.4}]
    assert project["sampling"]["target_ratios"] == {"negative": 0.5, "positive": 0.3}  # sent back untouched
    assert project["retrain_trigger"] == "schedule"

    # Back to rounds by hand only: the interval is out of sight and stays as it was.
    page.select_option("#set-retrain-trigger", "manual")
    expect(page.locator("#retrain-interval-field")).to_be_hidden()
    save_settings(page)
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    project = app_server.admin.get(f"/api/projects/{dashboard_project}/")
    assert (project["retrain_trigger"], project["retrain_interval_minutes"]) == ("manual", 45)


def test_admin_downloads_the_configuration_and_applies_it_again(page, app_server, dashboard_project):
    login(page, "admin")
    page.goto(f"/projects/{dashboard_project}/")
    with page.expect_download() as download:
        page.click("#config-download")
    assert download.value.suggested_filename == f"project-{dashboard_project}.yaml"
    text = Path(download.value.path()).read_text()
    assert text.startswith("format: labeler-project") and "target_ratios:" in text

    page.set_input_files("#config-file-input", {"name": "config.yaml", "mimeType": "application/x-yaml", "buffer": text.encode()})
    page.click("#config-upload-button")
    report = page.locator("#config-message")
    expect(report).to_have_attribute("data-kind", "ok")
    expect(report).to_contain_text("The configuration file was applied.")
    expect(report.locator("li")).to_contain_text([re.compile(r"^Settings applied: .*sampling options"), re.compile(r"^Classes: 0 created")])
    after = app_server.admin.get(f"/api/projects/{dashboard_project}/")
    assert after["sampling"]["target_ratios"] == {"negative": 0.5, "positive": 0.3}

    broken = text.replace("format: labeler-project", "format: something-else", 1)
    page.set_input_files("#config-file-input", {"name": "broken.yaml", "mimeType": "application/x-yaml", "buffer": broken.encode()})
    page.click("#config-upload-button")
    expect(report).to_have_attribute("data-kind", "error")
    expect(report).to_contain_text("Nothing was changed: This is not a project configuration")


def test_admin_adds_members_in_bulk_and_sees_who_is_unknown(page, app_server, dashboard_project):
    login(page, "admin")
    page.goto(f"/projects/{dashboard_project}/")
    expect(page.locator("#members-body tr[data-username=annotator] [data-qualification]")).to_have_text("qualified")
    expect(page.locator("#members-body tr[data-username=annotator2] [data-qualification]")).to_have_text("not qualified yet")

    page.fill("#bulk-users", "ghost-one, newcomer@example.org\nghost-two\n")
    page.select_option("#bulk-role", "reviewer")
    page.click("#bulk-add-button")
    message = page.locator("#bulk-message")
    expect(message).to_contain_text("Nobody was added: there is no account for these 2 names")
    expect(message.locator("li")).to_have_text(["ghost-one", "ghost-two"])
    expect(page.locator("#members-body tr[data-username=dash-newcomer]")).to_have_count(0)

    page.fill("#bulk-users", "newcomer@example.org, annotator2")
    page.click("#bulk-add-button")
    expect(message).to_contain_text("1 person was added.")
    expect(message.locator("li")).to_have_text(["Added as reviewer: dash-newcomer", "Already members (role unchanged): annotator2"])
    expect(page.locator("#members-body tr[data-username=dash-newcomer] select")).to_have_value("reviewer")
    expect(page.locator("#bulk-users")).to_have_value("")
    members = app_server.admin.get(f"/api/projects/{dashboard_project}/members/")
    assert {m["username"]: m["role"] for m in members}["annotator2"] == "annotator"


def test_the_charts_follow_answers_given_meanwhile_without_a_request_per_event(page, app_server, dashboard_project):
    login(page, "reviewer")
    page.goto(f"/projects/{dashboard_project}/")
    expect(page.locator("#progress-labeled")).to_have_text("12")
    expect(page.locator("#answers-chart g.column")).to_have_count(10)
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/dashboard/") else None)

    annotator = ApiClient(app_server.url, "annotator")
    tasks = annotator.post(f"/api/projects/{dashboard_project}/tasks/claim/", {"want": 2})["tasks"]
    assert len(tasks) == 2
    for task in tasks:
        annotator.post(f"/api/projects/{dashboard_project}/annotations/", {"item": task["item"], "label": "neutral"})
    expect(page.locator("#progress-labeled")).to_have_text("14")
    expect(page.locator(f"#answers-chart g.column[data-category='{day(0)}']")).to_have_attribute("data-total", "2")
    expect(page.locator("#classes-chart g.bar[data-key=neutral]")).to_have_attribute("data-value", "0.2857142857142857")
    page.wait_for_timeout(2500)
    assert 1 <= len(asked) <= 2, asked  # the events of both answers, taken together


EMPTY_SETUP = """
from django.contrib.auth.models import User
from annotations.models import LabelClass, Membership, Ontology, Project
ontology = Ontology.objects.create(name="Empty dashboard classes")
LabelClass.objects.create(ontology=ontology, key="yes", name="Yes", order=0)
project = Project.objects.create(name="Empty dashboard", ontology=ontology, retrain_trigger="manual")
Membership.objects.create(project=project, user=User.objects.get(username="admin"), role="admin")
print(project.pk)
"""


def test_a_new_project_says_what_is_missing_instead_of_drawing(page, app_server):
    project_id = build_in_server(app_server, EMPTY_SETUP)
    login(page, "admin")
    page.goto(f"/projects/{project_id}/")
    expect(page.locator("#progress-pace")).to_have_text(
        re.compile(r"^No items yet: import some to start\. Counted at \d\d:\d\d:\d\d\.$"))
    for note, text in (("#answers-empty", "No answers yet."), ("#classes-empty", "No labels yet."),
                       ("#uncertainty-empty", "No rounds yet."), ("#throughput-empty", "No answers yet."),
                       ("#curve-empty", "No round has been evaluated yet.")):
        expect(page.locator(note)).to_have_text(text)
    for chart in ("#answers-chart", "#classes-chart", "#uncertainty-chart", "#throughput-chart", "#curve"):
        expect(page.locator(chart)).to_be_hidden()
    for button in ("#answers-csv", "#curve-png", "#uncertainty-csv", "#throughput-png"):
        expect(page.locator(button)).to_be_disabled()
    expect(page.locator("#annotators-body")).to_contain_text("Nobody has answered in this project yet.")
