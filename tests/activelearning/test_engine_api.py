"""The engine's REST surface per role: the strategy and learner registries, a project's
learner/strategy/sampling/stopping settings, and 'simulate before you choose'."""
import pytest

from activelearning import jobs
from activelearning.config import validate_sampling
from activelearning.learners import LEARNERS
from activelearning.models import SimulationRun
from activelearning.strategies import STRATEGIES
from annotations.models import Project
from tests.conftest import add_items, break_learner, client_for, make_project

GOOD = ["good", "great", "lovely", "fine", "superb", "nice"]
BAD = ["bad", "awful", "poor", "dreadful", "terrible", "nasty"]


def _labeled(project, n: int) -> None:
    texts = [f"a {(GOOD if i % 2 else BAD)[i % 6]} film, review {i}" for i in range(n)]
    add_items(project, texts, labels=["positive" if i % 2 else "negative" for i in range(n)])


# Registries.


def test_the_strategy_list_describes_every_registered_strategy(cast):
    response = client_for(cast["annotator"]).get("/api/strategies/")
    assert response.status_code == 200
    listed = {s["key"]: s for s in response.json()}
    assert list(listed) == list(STRATEGIES)
    assert set(listed["margin"]) == {"key", "label", "family", "needs", "needs_model", "description"}
    assert listed["margin"]["needs"] == ["proba"] and listed["margin"]["needs_model"] is True
    assert listed["coreset"]["needs"] == ["embeddings", "labeled_embeddings"]
    assert listed["coreset"]["needs_model"] is False
    assert listed["random"]["needs"] == [] and listed["random"]["needs_model"] is False
    assert listed["vote_entropy"]["family"] == "committee"
    assert all(s["label"] and s["description"] for s in listed.values())


def test_the_registries_need_a_signed_in_user(db):
    assert client_for(None).get("/api/strategies/").status_code in (401, 403)
    assert client_for(None).get("/api/learners/").status_code in (401, 403)


def test_the_learner_list_narrows_by_kind(cast):
    client = client_for(cast["annotator"])
    text = client.get("/api/learners/?kind=text").json()
    assert [learner["key"] for learner in text] == ["tfidf_logreg", "minilm_logreg"]
    assert all(learner["kind"] == "text" and learner["label"] and learner["description"] for learner in text)
    image = client.get("/api/learners/?kind=image").json()
    assert [learner["key"] for learner in image] == ["image_cnn", "image_embedding_logreg"]
    detection = client.get("/api/learners/?kind=detection").json()
    assert [learner["key"] for learner in detection] == ["yolo_detect"]
    assert [learner["key"] for learner in client.get("/api/learners/?kind=segmentation").json()] == ["yolo_segment"]
    everything = [learner["key"] for learner in client.get("/api/learners/").json()]
    assert everything == [*LEARNERS, "yolo_detect", "yolo_segment"]
    assert client.get("/api/learners/?kind=audio").json() == []


def test_the_strategy_list_narrows_to_what_fits_the_project_kind(cast):
    client = client_for(cast["annotator"])
    text = {s["key"] for s in client.get("/api/strategies/?project_kind=text_classification").json()}
    detection = {s["key"] for s in client.get("/api/strategies/?project_kind=detection").json()}
    assert "margin" in text and "det_least_confident" not in text
    assert "det_least_confident" in detection and "margin" not in detection and "random" in detection


# A project's engine settings.


def _patch(user, project, data):
    return client_for(user).patch(f"/api/projects/{project.pk}/", data, format="json")


def test_an_admin_sets_learner_strategy_sampling_and_stopping(cast):
    project = cast["project"]
    response = _patch(cast["admin"], project, {
        "learner": "minilm_logreg", "strategy": "mix",
        "sampling": {"mix": "margin:0.7,coreset:0.2,random:0.1", "exploration": 0.1},
        "stopping": {"budget": {"labels": 500}, "target": {"accuracy": 0.9}},
    })
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = validate_sampling({"mix": "margin:0.7,coreset:0.2,random:0.1", "exploration": 0.1}, "mix")
    assert body["sampling"] == expected
    assert body["stopping"] == {"budget": {"labels": 500}, "target": {"accuracy": 0.9}}
    project.refresh_from_db()
    assert (project.learner, project.strategy) == ("minilm_logreg", "mix")
    assert project.sampling == expected
    assert project.stopping == {"budget": {"labels": 500}, "target": {"accuracy": 0.9}}


def test_a_new_project_shows_the_default_settings(cast):
    body = client_for(cast["annotator"]).get(f"/api/projects/{cast['project'].pk}/").json()
    assert body["learner"] == "tfidf_logreg"
    assert body["sampling"] == validate_sampling({})
    assert set(body["stopping"]) == {"plateau", "stability", "overfitting", "drift"}


@pytest.mark.parametrize("data, message", [
    ({"sampling": {"mix": "margin:0.5,random:0.3"}}, "sampling.mix: mix fractions must sum to 1"),
    ({"sampling": {"mix": "margin:0.5,bogus:0.5"}}, "sampling.mix: mix part 2: unknown strategy 'bogus'"),
    ({"sampling": {"density": {"measure": "nearest"}}}, "sampling.density.measure must be one of"),
    ({"sampling": {"density": {"beta": 50}}}, "sampling.density.beta must be between 0 and 10"),
    ({"sampling": {"committee_size": 1}}, "sampling.committee_size must be between 2 and 20"),
    ({"sampling": {"target_ratios": {"neutral": 1}}}, "sampling.target_ratios names the class 'neutral'"),
    ({"sampling": {"target_ratios": {"negative": -1}}}, "sampling.target_ratios.negative must be between 0 and 1"),
    ({"sampling": {"colour": "red"}}, "sampling has unknown settings: colour"),
    ({"strategy": "mix"}, "sampling.mix: the strategy 'mix' needs its parts"),
    ({"strategy": "class_balanced"}, "sampling.target_ratios: class-balanced sampling needs a target fraction"),
])
def test_bad_sampling_is_refused_with_a_message_naming_the_field(cast, data, message):
    project = cast["project"]
    before = (project.strategy, project.sampling)
    response = _patch(cast["admin"], project, data)
    assert response.status_code == 400
    [text] = response.json()["sampling"]
    assert text.startswith(message)
    project.refresh_from_db()
    assert (project.strategy, project.sampling) == before


def test_sampling_is_checked_against_the_strategy_already_saved(cast):
    project = cast["project"]
    assert _patch(cast["admin"], project, {"strategy": "mix", "sampling": {"mix": "margin:0.5,random:0.5"}}).status_code == 200
    response = _patch(cast["admin"], project, {"sampling": {"exploration": 0.2}})
    assert response.status_code == 400
    assert "needs its parts" in response.json()["sampling"][0]
    ok = _patch(cast["admin"], project, {"strategy": "margin", "sampling": {"exploration": 0.2}})
    assert ok.status_code == 200 and ok.json()["sampling"]["exploration"] == 0.2


@pytest.mark.parametrize("stopping, message", [
    ({"budget": {"labels": 0}}, "stopping.budget.labels must be a whole number between 1 and"),
    ({"target": {"accuracy": 1.5}}, "stopping.target.accuracy must be a number between 0 and 1"),
    ({"plateau": {"metric": "loss"}}, "stopping.plateau.metric must be one of"),
    ({"patience": {}}, "stopping.patience is not a known criterion"),
    ({"drift": {"threshold": 2}}, "stopping.drift.threshold must be a number between 0 and 1"),
])
def test_bad_stopping_is_refused_with_a_message_naming_the_field(cast, stopping, message):
    response = _patch(cast["admin"], cast["project"], {"stopping": stopping})
    assert response.status_code == 400
    [text] = response.json()["stopping"]
    assert text.startswith(message)


def test_an_image_learner_is_refused_for_a_text_project(cast):
    response = _patch(cast["admin"], cast["project"], {"learner": "image_cnn"})
    assert response.status_code == 400
    assert "learner" in response.json()
    assert Project.objects.get(pk=cast["project"].pk).learner == "tfidf_logreg"


def test_a_detection_strategy_is_refused_for_a_text_project(cast):
    response = _patch(cast["admin"], cast["project"], {"strategy": "det_least_confident"})
    assert response.status_code == 400
    assert "does not apply to a text_classification project" in response.json()["strategy"][0]
    assert Project.objects.get(pk=cast["project"].pk).strategy != "det_least_confident"


@pytest.mark.parametrize("role, status", [("annotator", 403), ("reviewer", 403), ("outsider", 404)])
def test_only_admins_change_engine_settings(cast, role, status):
    response = _patch(cast[role], cast["project"], {"strategy": "random", "learner": "minilm_logreg"})
    assert response.status_code == status
    project = Project.objects.get(pk=cast["project"].pk)
    assert (project.strategy, project.learner) == ("least_confidence", "tfidf_logreg")


# Simulate before you choose.

SIMULATION = {"strategies": ["random", "margin", "margin:0.5,random:0.5"], "initial": 10, "batch": 10, "budget": 20,
              "seeds": 1}


def _simulate(user, project, data, capture):
    with capture(execute=True):
        return client_for(user).post(f"/api/projects/{project.pk}/simulations/", data, format="json")


def test_an_admins_simulation_runs_on_the_queue_and_shows_its_curves(cast, django_capture_on_commit_callbacks,
                                                                     monkeypatch):
    project = cast["project"]
    _labeled(project, 60)
    finished = []
    monkeypatch.setattr(jobs, "publish_now", lambda project_id, kind, **payload: finished.append((kind, payload)))
    response = _simulate(cast["admin"], project, SIMULATION, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    created = response.json()
    assert created["config"]["strategies"] == SIMULATION["strategies"]

    run = SimulationRun.objects.get(pk=created["id"])
    assert run.state == SimulationRun.State.SUCCEEDED, run.error
    detail = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/simulations/{run.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["state"] == "succeeded" and body["finished_at"]
    result = body["result"]
    # jsonb (PostgreSQL) does not keep key order: the order is in config.strategies.
    assert set(result["strategies"]) == set(SIMULATION["strategies"])
    assert result["config"]["strategies"] == SIMULATION["strategies"]
    assert result["strategies"]["margin"]["labels"] == [10, 20, 30]
    assert result["config"]["items"] == 60 and result["config"]["learner"] == "tfidf_logreg"
    assert set(result["labels_to_95pct"]) == set(SIMULATION["strategies"])
    assert finished == [("simulation.finished", {"simulation": run.pk, "state": "succeeded"})]

    listed = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/simulations/")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()] == [run.pk]


def test_a_simulation_budget_is_cut_to_the_labeled_items(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    _labeled(project, 40)
    response = _simulate(cast["admin"], project, {"strategies": ["random"], "initial": 10, "batch": 10,
                                                  "budget": 1000, "seeds": 1}, django_capture_on_commit_callbacks)
    run = SimulationRun.objects.get(pk=response.json()["id"])
    assert run.state == SimulationRun.State.SUCCEEDED, run.error
    labels = run.result["strategies"]["random"]["labels"]
    assert labels[0] == 10 and labels[-1] <= 28  # 70% of 40 labeled items for the pool


def test_a_failing_simulation_is_recorded_with_its_error(cast, django_capture_on_commit_callbacks, monkeypatch):
    project = cast["project"]
    _labeled(project, 40)

    def broken(seed):
        raise RuntimeError("learner exploded")

    break_learner(monkeypatch, broken)
    response = _simulate(cast["admin"], project, SIMULATION, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    body = client_for(cast["admin"]).get(f"/api/projects/{project.pk}/simulations/{response.json()['id']}/").json()
    assert body["state"] == "failed"
    assert body["error"] == "RuntimeError: learner exploded"


def test_a_simulation_with_too_few_labeled_items_is_refused_with_the_number_needed(cast,
                                                                                  django_capture_on_commit_callbacks):
    project = cast["project"]
    _labeled(project, 12)
    response = _simulate(cast["admin"], project, SIMULATION, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["detail"] == "Simulation needs at least 30 labeled items; this project has 12."
    # A larger initial set needs more: it and a test split must both fit.
    _labeled(project, 30)
    bigger = _simulate(cast["admin"], project, {**SIMULATION, "initial": 40}, django_capture_on_commit_callbacks)
    assert bigger.status_code == 400
    assert bigger.json()["detail"] == "Simulation needs at least 58 labeled items; this project has 42."
    assert not SimulationRun.objects.exists()


@pytest.mark.parametrize("data, field, message", [
    ({"strategies": ["bogus"]}, "strategies", "Unknown strategy 'bogus'"),
    ({"strategies": []}, "strategies", ""),
    ({"strategies": ["random"], "seeds": 50}, "seeds", ""),
    ({"strategies": ["random"], "test_fraction": 0.99}, "test_fraction", ""),
])
def test_a_bad_simulation_request_is_refused_by_field(cast, django_capture_on_commit_callbacks, data, field, message):
    project = cast["project"]
    _labeled(project, 40)
    response = _simulate(cast["admin"], project, data, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not SimulationRun.objects.exists()


@pytest.mark.parametrize("role, status", [("annotator", 403), ("reviewer", 403), ("outsider", 404)])
def test_only_admins_start_simulations(cast, django_capture_on_commit_callbacks, role, status):
    project = cast["project"]
    _labeled(project, 40)
    response = _simulate(cast[role], project, SIMULATION, django_capture_on_commit_callbacks)
    assert response.status_code == status
    assert not SimulationRun.objects.exists()


@pytest.mark.parametrize("role, status", [("reviewer", 200), ("admin", 200), ("annotator", 403), ("outsider", 404)])
def test_reviewers_and_admins_see_simulations(cast, role, status):
    project = cast["project"]
    run = SimulationRun.objects.create(project=project, config={"strategies": ["random"]})
    client = client_for(cast[role])
    assert client.get(f"/api/projects/{project.pk}/simulations/").status_code == status
    assert client.get(f"/api/projects/{project.pk}/simulations/{run.pk}/").status_code == status


def test_a_simulation_of_another_project_is_not_found(cast):
    other = make_project()
    foreign = SimulationRun.objects.create(project=other, config={"strategies": ["random"]})
    response = client_for(cast["admin"]).get(f"/api/projects/{cast['project'].pk}/simulations/{foreign.pk}/")
    assert response.status_code == 404
