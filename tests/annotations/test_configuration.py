"""The whole project configuration as one YAML file, and members added in bulk."""
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import LabelClass, Membership, Project
from tests.conftest import client_for, make_project, make_user


def configured(project):
    Project.objects.filter(pk=project.pk).update(
        overlap=2, batch_size=25, retrain_trigger="schedule", retrain_interval_minutes=30, strategy="margin",
        sampling={**project.sampling, "exploration": 0.1},
        review={**project.review, "policy": "random", "fraction": 0.3, "gold_fraction": 0.05},
    )
    LabelClass.objects.filter(ontology=project.ontology, key="positive").update(description="Praise", hotkey="p")
    project.refresh_from_db()
    return project


def test_export_then_create_a_new_project_reproduces_the_pipeline(cast):
    project = configured(cast["project"])
    text = client_for(cast["admin"]).get(f"/api/projects/{project.pk}/config/").content.decode()
    data = yaml.safe_load(text)
    assert data["settings"]["overlap"] == 2 and data["review"]["policy"] == "random"
    assert [c["key"] for c in data["ontology"]["classes"]] == ["negative", "positive"]

    created = client_for(cast["staff"]).post("/api/projects/from-config/",
                                             {"file": SimpleUploadedFile("p.yaml", text.encode()), "name": "Copy"},
                                             format="multipart")
    assert created.status_code == 201, created.content
    copy = Project.objects.get(pk=created.json()["id"])
    assert (copy.overlap, copy.batch_size, copy.retrain_trigger, copy.strategy) == (2, 25, "schedule", "margin")
    assert copy.review["fraction"] == 0.3 and copy.sampling["exploration"] == 0.1
    assert LabelClass.objects.get(ontology=copy.ontology, key="positive").description == "Praise"
    assert copy.ontology_id != project.ontology_id
    assert Membership.objects.get(project=copy).user == cast["staff"]


def test_a_bad_value_anywhere_refuses_the_whole_file(cast):
    project = cast["project"]
    good = client_for(cast["admin"]).get(f"/api/projects/{project.pk}/config/").content.decode()
    data = yaml.safe_load(good)
    data["ontology"]["classes"].append({"key": "neutral", "name": "Neutral"})
    data["review"]["gold_fraction"] = 0.9
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/config/", {"yaml": yaml.safe_dump(data)},
                                              format="json")
    assert response.status_code == 400 and "gold_fraction" in response.json()["detail"]
    assert not LabelClass.objects.filter(key="neutral").exists(), "the ontology part was rolled back too"


def test_files_that_are_not_configurations_say_so(cast):
    admin = client_for(cast["admin"])
    url = f"/api/projects/{cast['project'].pk}/config/"
    for text, message in (("a: [", "not valid YAML"), ("- 1\n- 2", "not a project configuration"),
                          ("format: labeler-project\nversion: 7\n", "version 7")):
        response = admin.post(url, {"yaml": text}, format="json")
        assert response.status_code == 400 and message in response.json()["detail"], text
    assert client_for(cast["reviewer"]).get(url).status_code == 403


def test_members_are_added_in_bulk_by_username_or_email(cast):
    project = cast["project"]
    make_user("newbie").__class__.objects.filter(username="newbie").update(email="newbie@example.org")
    make_user("second")
    admin = client_for(cast["admin"])
    url = f"/api/projects/{project.pk}/members/bulk/"
    unknown = admin.post(url, {"users": ["newbie@example.org", "ghost"], "role": "annotator"}, format="json")
    assert unknown.status_code == 400 and "ghost" in unknown.json()["detail"]
    assert not Membership.objects.filter(project=project, user__username="newbie").exists()
    response = admin.post(url, {"users": ["newbie@example.org", "second", "ann"], "role": "reviewer"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"added": ["newbie", "second"], "already_members": ["ann"], "role": "reviewer"}
    assert admin.post(url, {"users": ["x"], "role": "boss"}, format="json").status_code == 400
    assert client_for(cast["reviewer"]).post(url, {"users": ["second"]}, format="json").status_code == 403


def test_a_configuration_applies_to_an_existing_project(cast):
    source = configured(cast["project"])
    text = client_for(cast["admin"]).get(f"/api/projects/{source.pk}/config/").content
    target = make_project(name="Target", members=[(cast["admin"], "admin")])
    LabelClass.objects.filter(ontology=target.ontology).update(hotkey="")
    response = client_for(cast["admin"]).post(f"/api/projects/{target.pk}/config/",
                                              {"file": SimpleUploadedFile("p.yaml", text)}, format="multipart")
    assert response.status_code == 200, response.content
    target.refresh_from_db()
    assert target.overlap == 2 and target.review["policy"] == "random"
