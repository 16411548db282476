"""An admin sets a project up from nothing in the browser: the new-project form on the
project list (new classes, a shared ontology, or a configuration file)."""
import json
import re

from playwright.sync_api import expect

from .conftest import login


def api_json(page, path):
    return json.loads(page.request.get(path).text())


def test_staff_create_a_project_with_new_classes_and_land_on_its_dashboard(page, app_server):
    login(page, "admin")
    page.goto("/")
    page.fill("#np-name", "Street signs")
    page.select_option("#np-kind", "detection")
    page.fill("#np-classes", "stop sign, speed limit")
    page.click("#np-create")
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    project_id = int(re.search(r"/projects/(\d+)/$", page.url).group(1))
    project = api_json(page, f"/api/projects/{project_id}/")
    assert project["kind"] == "detection" and project["name"] == "Street signs"
    assert [c["key"] for c in project["classes"]] == ["stop_sign", "speed_limit"]
    members = api_json(page, f"/api/projects/{project_id}/members/")
    assert [(m["username"], m["role"]) for m in members] == [("admin", "admin")]
    expect(page.locator("#settings-form")).to_be_visible()


def test_a_project_can_share_an_ontology_or_start_from_a_configuration_file(page, app_server):
    login(page, "admin")
    demo = api_json(page, f"/api/projects/{app_server.project_id}/")
    page.goto("/")
    expect(page.locator(f"#np-ontology option[value='{demo['ontology']}']")).to_have_count(1)
    page.fill("#np-name", "Sister of the demo")
    page.select_option("#np-ontology", str(demo["ontology"]))
    page.click("#np-create")
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    sister_id = int(re.search(r"/projects/(\d+)/$", page.url).group(1))
    assert api_json(page, f"/api/projects/{sister_id}/")["ontology"] == demo["ontology"]

    config = page.request.get(f"/api/projects/{sister_id}/config/").body()
    page.goto("/")
    page.fill("#np-config-name", "From a file")
    page.set_input_files("#np-config-file", {"name": "p.yaml", "mimeType": "application/x-yaml", "buffer": config})
    page.click("#np-config-create")
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    copy_id = int(re.search(r"/projects/(\d+)/$", page.url).group(1))
    copy = api_json(page, f"/api/projects/{copy_id}/")
    assert copy["name"] == "From a file"
    assert [c["key"] for c in copy["classes"]] == [c["key"] for c in demo["classes"]]


def test_a_nameless_project_is_refused_in_the_form(page, app_server):
    login(page, "admin")
    page.goto("/")
    page.click("#np-create")
    expect(page.locator("#new-project-form [data-error-for='name']")).to_contain_text("name")
    assert page.url.endswith("/")


def test_non_staff_do_not_get_the_form(page, app_server):
    login(page, "reviewer")
    page.goto("/")
    assert page.locator("#new-project-card").count() == 0
