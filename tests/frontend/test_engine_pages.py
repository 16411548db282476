"""The engine on the dashboard in a real browser: stopping advice, learning-curve markers,
the drift alert, the sampling and stopping settings, and the simulation panel.

These tests work on a project of their own, made in the server's database through the ORM
(a `manage.py shell` beside the running server), so the demo project that the other
browser tests count labels and rounds on is left alone whatever order the modules run in.
"""
import json
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from .conftest import REPO, _server_env, login

# Four rounds with the stopping advice and the drift report the real functions give.
# Plateau (epsilon 0.01 over 2 rounds) fires in round 4: max(0.803, 0.805) - 0.80 = 0.005.
# Stability needs kappa >= 0.95 in rounds 3 and 4 (0.93, 0.96): not yet. Overfitting:
# 0.90 - 0.805 = 0.095 <= 0.2. Drift in round 4: 25 new items at 0.6 against 40 labeled at
# 0.2, a rise of 0.4 > 0.15.
SETUP = """
from django.contrib.auth.models import User
from annotations.models import LabelClass, Membership, Ontology, Project
from activelearning.drift import drift_report
from activelearning.models import Round
from activelearning.stopping import evaluate_stopping

ontology = Ontology.objects.create(name="Engine page classes")
for order, key in enumerate(["negative", "positive", "neutral"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key.title(), hotkey=str(order + 1), order=order)
config = {"plateau": {"epsilon": 0.01, "rounds": 2}, "stability": {"kappa": 0.95, "rounds": 2},
          "overfitting": {"gap": 0.2}, "target": {"accuracy": 0.9}}
project = Project.objects.create(name="Engine pages", ontology=ontology, strategy="least_confidence", stopping=config)
Membership.objects.create(project=project, user=User.objects.get(username="admin"), role="admin")
Membership.objects.create(project=project, user=User.objects.get(username="reviewer"), role="reviewer")
history = []
for number, (labels, accuracy, kappa) in enumerate([(20, 0.70, None), (30, 0.80, 0.90), (40, 0.803, 0.93), (50, 0.805, 0.96)], 1):
    metrics = {"accuracy": accuracy, "macro_f1": accuracy - 0.02}
    history.append({"labels_used": labels, "metrics": metrics, "train_accuracy": 0.9, "stability_kappa": kappa,
                    "elapsed_seconds": 60.0 * (number - 1)})
    drift = drift_report([0.6] * 25 if number == 4 else [], [0.2] * 40, threshold=0.15)
    Round.objects.create(
        project=project, number=number, strategy="margin", strategy_used="margin", batch_size=10, selected=10,
        pool_size=100, labels_used=labels, metrics=metrics, learner=project.learner, train_accuracy=0.9,
        stability_kappa=kappa, stopping=evaluate_stopping(history, config), drift=drift,
    )
print(project.pk)
"""

# A second project with labeled items only, for a simulation run by the real worker.
SIMULATION_SETUP = """
import random
from django.contrib.auth.models import User
from annotations.importing import import_rows
from annotations.models import LabelClass, Membership, Ontology, Project

ontology = Ontology.objects.create(name="Engine simulation classes")
for order, key in enumerate(["negative", "positive"]):
    LabelClass.objects.create(ontology=ontology, key=key, name=key, hotkey=str(order + 1), order=order)
project = Project.objects.create(name="Engine simulation", ontology=ontology)
Membership.objects.create(project=project, user=User.objects.get(username="admin"), role="admin")
rng = random.Random(0)
words = {"positive": ["great", "lovely", "excellent", "superb", "happy", "perfect"],
         "negative": ["awful", "poor", "terrible", "broken", "sad", "useless"]}
filler = ["the", "phone", "service", "food", "was", "really", "quite", "and", "screen", "battery"]
rows = []
for n in range(1, 161):
    label = "positive" if n % 2 else "negative"
    text = rng.sample(filler, 4) + rng.sample(words[label], 2)
    rng.shuffle(text)
    rows.append((n, {"text": " ".join(text) + f" number {n}", "label": label}))
import_rows(project, rows, label_field="label", split="pool")
print(project.pk)
"""

SIMULATION_RESULT = {
    "strategies": {
        "random": {"labels": [20, 30, 40], "accuracy_mean": [0.60, 0.66, 0.70], "accuracy_std": [0.05, 0.04, 0.03],
                   "macro_f1_mean": [0.55, 0.62, 0.68], "macro_f1_std": [0.05, 0.04, 0.03], "seconds_per_round": 0.004},
        "margin": {"labels": [20, 30, 40], "accuracy_mean": [0.60, 0.72, 0.80], "accuracy_std": [0.05, 0.03, 0.02],
                   "macro_f1_mean": [0.55, 0.70, 0.79], "macro_f1_std": [0.05, 0.03, 0.02], "seconds_per_round": 0.006},
    },
    "full_accuracy": 0.83,
    "labels_to_95pct": {"margin": 40, "random": None},
}


def build_in_server(app_server, code: str) -> int:
    """Run `code` in a `manage.py shell` on the server's database; it prints a project id."""
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "shell", "-c", code],
        cwd=app_server.var_dir, env=_server_env(app_server.var_dir), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"could not build the project:\n{result.stdout}\n{result.stderr}"
    return int(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def engine_project(app_server) -> int:
    return build_in_server(app_server, SETUP)


def test_everyone_on_the_dashboard_sees_the_stopping_advice_and_the_drift_alert(page, engine_project):
    login(page, "reviewer")
    page.goto(f"/projects/{engine_project}/")
    banner = page.locator("#stopping-banner")
    expect(banner).to_contain_text("The criteria recommend stopping: Plateau")
    expect(banner).to_have_attribute("data-kind", "warn")
    expect(page.locator("#stopping-round")).to_contain_text("After round 4, with 50 labels")
    criteria = page.locator("#stopping-criteria li")
    expect(criteria).to_have_count(4)  # target accuracy, plateau, stability, overfitting
    plateau = page.locator("#stopping-criteria li[data-key=plateau]")
    expect(plateau).to_have_attribute("data-fired", "true")
    expect(plateau).to_contain_text("Accuracy improved by only 0.005 over the last 2 rounds (< 0.01).")
    expect(page.locator("#stopping-criteria li[data-key=stability]")).to_have_attribute("data-fired", "false")
    expect(page.locator("#stopping-criteria li[data-key='target.accuracy']")).to_contain_text("Accuracy 0.805 < target 0.9")

    # One marker on the learning curve, at round 4; its legend entry shows with it.
    markers = page.locator("#curve .stop-marker")
    expect(markers).to_have_count(1)
    expect(markers.first).to_have_attribute("data-round", "4")
    expect(page.locator("#curve-legend [data-legend=stop]")).to_be_visible()
    expect(page.locator("#rounds-body tr[data-round='4']")).to_contain_text("stop advised")

    expect(page.locator("#drift-alert")).to_contain_text("Possible drift: the 25 new items are less certain")
    expect(page.locator("#drift-text")).to_contain_text("mean uncertainty 0.60 against 0.20")
    expect(page.locator("#drift-histogram rect.bar-new")).to_have_count(10)
    expect(page.locator("#drift-histogram rect.bar-reference")).to_have_count(10)
    for admin_only in ("#settings-form", "#simulation-card"):
        assert page.locator(admin_only).count() == 0, admin_only


def test_admin_saves_a_learner_and_strategy_and_sees_a_bad_mix_refused(page, app_server, engine_project):
    login(page, "admin")
    page.goto(f"/projects/{engine_project}/")
    expect(page.locator("#stopping-banner")).to_contain_text("The criteria recommend stopping")
    strategy = page.locator("#set-strategy")
    expect(strategy.locator("optgroup")).not_to_have_count(0)
    expect(strategy.locator("option[value=mix]")).to_have_count(1)
    learner_options = page.locator("#set-learner option")
    expect(learner_options).not_to_have_count(0)
    # One target ratio input per class of the project.
    expect(page.locator("#target-ratios input")).to_have_count(3)
    expect(page.locator("#set-plateau-epsilon")).to_have_value("0.01")

    learners = learner_options.evaluate_all("options => options.map(o => o.value)")
    current = page.input_value("#set-learner")
    other = next((key for key in learners if key != current), current)
    page.select_option("#set-learner", other)
    page.select_option("#set-strategy", "margin")
    page.fill("#set-target-accuracy", "0.95")
    page.fill("#set-budget-labels", "400")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")

    page.reload()
    expect(page.locator("#set-strategy")).to_have_value("margin")
    expect(page.locator("#set-learner")).to_have_value(other)
    expect(page.locator("#set-target-accuracy")).to_have_value("0.95")
    project = app_server.admin.get(f"/api/projects/{engine_project}/")
    assert (project["strategy"], project["learner"]) == ("margin", other)
    assert project["stopping"]["target"] == {"accuracy": 0.95}
    assert project["stopping"]["budget"] == {"labels": 400}
    assert project["stopping"]["plateau"]["epsilon"] == 0.01  # untouched fields go back as they were

    expect(page.locator("#mix-field")).to_be_hidden()
    page.select_option("#set-strategy", "mix")
    expect(page.locator("#mix-field")).to_be_visible()
    page.fill("#set-mix", "margin is most")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("[data-error-for='sampling.mix']")).to_contain_text("is not strategy:fraction")

    page.fill("#set-mix", "margin:0.5, random:0.3")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("[data-error-for='sampling.mix']")).to_contain_text(re.compile(r"sum", re.I))
    expect(page.locator("#settings-message")).to_contain_text("Not saved")
    assert app_server.admin.get(f"/api/projects/{engine_project}/")["strategy"] == "margin"

    page.fill("#set-mix", "margin:0.7, random:0.3")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    expect(page.locator("[data-error-for='sampling.mix']")).to_have_text("")
    sampling = app_server.admin.get(f"/api/projects/{engine_project}/")["sampling"]
    assert sampling["mix"] == [{"strategy": "margin", "fraction": 0.7}, {"strategy": "random", "fraction": 0.3}]


def test_admin_runs_a_simulation_and_sees_the_curves(page, engine_project):
    """The simulation endpoint is answered here, so the test follows the page's polling
    step by step without a real job."""
    runs: list[dict] = []
    polls_after_post = []

    def simulations(route):
        request = route.request
        if request.method == "POST":
            body = json.loads(request.post_data)
            runs.insert(0, {"id": 7, "state": "queued", "created_at": "2024-05-01T10:00:00Z", "config": body,
                            "error": "", "result": {}})
            route.fulfill(status=202, json=runs[0])
            return
        if runs:
            polls_after_post.append(1)
            runs[0]["state"] = "running" if len(polls_after_post) < 2 else "succeeded"
            if runs[0]["state"] == "succeeded":
                runs[0]["result"] = SIMULATION_RESULT
        route.fulfill(status=200, json=runs)

    page.route(re.compile(r"/api/projects/\d+/simulations/$"), simulations)
    login(page, "admin")
    page.goto(f"/projects/{engine_project}/")
    expect(page.locator("#sim-state")).to_have_text("No simulation yet.")
    boxes = page.locator("#sim-strategies input[type=checkbox]")
    expect(boxes).not_to_have_count(0)
    expect(page.locator("#sim-strategies input[value=mix]")).to_have_count(0)

    for box in boxes.all():
        box.uncheck()
    page.click("#sim-run")
    expect(page.locator("#sim-strategies-error")).to_have_text("Choose at least one strategy.")
    assert not runs

    page.check("#sim-strategies input[value=random]")
    page.check("#sim-strategies input[value=margin]")
    page.fill("#sim-budget", "40")
    page.locator("#sim-run").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sim-run")).to_be_disabled()
    expect(page.locator("#sim-state")).to_contain_text(re.compile(r"queued|running"))
    expect(page.locator("#sim-result")).to_be_visible(timeout=15_000)
    config = runs[0]["config"]
    assert sorted(config.pop("strategies")) == ["margin", "random"]  # in the registry's order
    assert config == {"initial": 20, "batch": 10, "budget": 40, "seeds": 3}
    expect(page.locator("#sim-run")).to_be_enabled()
    expect(page.locator("#sim-chart polyline")).to_have_count(2)
    expect(page.locator("#sim-chart polygon.band")).to_have_count(2)
    expect(page.locator("#sim-body tr[data-strategy=margin]")).to_contain_text("40")
    expect(page.locator("#sim-body tr[data-strategy=margin]")).to_contain_text("80.0%")
    expect(page.locator("#sim-body tr[data-strategy=random]")).to_contain_text("not reached")
    expect(page.locator("#sim-caption")).to_contain_text("Accuracy with every labeled item: 83.0%")
    assert len(polls_after_post) == 2  # polling stopped once the run was done


def test_admin_runs_a_real_simulation_to_the_end(page, app_server):
    project_id = build_in_server(app_server, SIMULATION_SETUP)
    login(page, "admin")
    page.goto(f"/projects/{project_id}/")
    expect(page.locator("#sim-state")).to_have_text("No simulation yet.")
    for box in page.locator("#sim-strategies input[type=checkbox]").all():
        box.set_checked(box.get_attribute("value") in ("random", "margin"))
    page.fill("#sim-initial", "10")
    page.fill("#sim-batch", "10")
    page.fill("#sim-budget", "30")
    page.fill("#sim-seeds", "1")
    page.click("#sim-run")
    expect(page.locator("#sim-result")).to_be_visible(timeout=90_000)
    expect(page.locator("#simulation-message")).to_be_hidden()
    expect(page.locator("#sim-chart polyline")).to_have_count(2)
    expect(page.locator("#sim-body tr")).to_have_count(2)
    expect(page.locator("#sim-body tr[data-strategy=margin] td").nth(2)).to_have_text(re.compile(r"^\d+\.\d%"))
    expect(page.locator("#sim-caption")).to_contain_text("10 initial labels, batches of 10")
    expect(page.locator("#sim-run")).to_be_enabled()
    runs = app_server.admin.get(f"/api/projects/{project_id}/simulations/")
    assert runs[0]["state"] == "succeeded", runs[0]["error"]


DETECTION_SETUP = """
from django.contrib.auth.models import User
from annotations.models import LabelClass, Membership, Ontology, Project
ontology = Ontology.objects.create(name="Shapes")
for index, name in enumerate(["circle", "square"]):
    LabelClass.objects.create(ontology=ontology, key=name, name=name, order=index)
project = Project.objects.create(name="Shapes", ontology=ontology, kind="detection", learner="yolo_detect",
                                 strategy="det_least_confident")
Membership.objects.create(project=project, user=User.objects.get(username="admin"), role="admin")
print(project.pk)
"""


def test_admin_sets_the_detector_training_and_sees_a_bad_value_refused(page, app_server):
    project_id = build_in_server(app_server, DETECTION_SETUP)
    login(page, "admin")
    page.goto(f"/projects/{project_id}/")
    expect(page.locator("#training-fields")).to_be_visible()
    expect(page.locator("#set-training-epochs")).to_have_value("30")
    strategies = page.locator("#set-strategy option").evaluate_all("options => options.map(o => o.value)")
    assert "det_least_confident" in strategies and "margin" not in strategies
    page.fill("#set-training-epochs", "3")
    page.select_option("#set-training-device", "cuda")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Settings saved")
    page.reload()
    expect(page.locator("#set-training-epochs")).to_have_value("3")
    expect(page.locator("#set-training-device")).to_have_value("cuda")
    page.fill("#set-training-weights", "weights.bin")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-message")).to_contain_text("Not saved")
    expect(page.locator('[data-error-for="training"]')).to_contain_text(".pt")
