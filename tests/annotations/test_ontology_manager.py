"""Ontology manager rules through the API: rename, merge with preview, delete, reorder,
hotkeys, nesting, attributes and shapes, export/import, fork, sharing, and the audit log."""
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from annotations import services
from annotations.models import Annotation, Item, LabelClass, OntologyChange, Project, Region
from tests.conftest import add_items, client_for, make_project, make_user


@pytest.fixture
def labeled(cast):
    project = cast["project"]
    add_items(project, ["lovely stay", "awful stay", "fine stay"])
    for label in ("positive", "negative"):
        held = services.claim_tasks(cast["annotator"], project, want=1)[0]
        services.submit_annotation(cast["annotator"], project, held.item_id, label)
    return project


def classes(project):
    return {c.key: c for c in LabelClass.objects.filter(ontology=project.ontology)}


def url(project, path=""):
    return f"/api/projects/{project.pk}/{path}"


def test_a_rename_is_one_edit_seen_on_every_labeled_item_and_logged(cast, labeled):
    admin = client_for(cast["admin"])
    positive = classes(labeled)["positive"]
    response = admin.patch(url(labeled, f"classes/{positive.pk}/"), {"name": "Praise"}, format="json")
    assert response.status_code == 200
    items = client_for(cast["reviewer"]).get(url(labeled, "items/")).json()["results"]
    labeled_item = next(i for i in items if i.get("label") == "positive")
    assert labeled_item["label_name"] == "Praise"
    change = OntologyChange.objects.get(action="update")
    assert change.before["name"] == "positive" and change.after["name"] == "Praise"
    assert change.actor == cast["admin"] and change.class_key == "positive"


def test_merge_previews_then_moves_every_answer_and_removes_the_class(cast, labeled):
    admin = client_for(cast["admin"])
    by_key = classes(labeled)
    body = {"source": by_key["negative"].pk, "target": by_key["positive"].pk}
    preview = admin.post(url(labeled, "ontology/merge/"), {**body, "preview": True}, format="json").json()
    assert preview["moves"]["annotations"] == 1 and preview["moves"]["items"] == 1
    assert LabelClass.objects.filter(pk=by_key["negative"].pk).exists(), "a preview changes nothing"

    merged = admin.post(url(labeled, "ontology/merge/"), body, format="json")
    assert merged.status_code == 200 and merged.json()["merged"]
    assert not LabelClass.objects.filter(pk=by_key["negative"].pk).exists()
    assert set(Annotation.objects.values_list("label_class__key", flat=True)) == {"positive"}
    assert set(Item.objects.filter(status="labeled").values_list("final_class__key", flat=True)) == {"positive"}
    change = OntologyChange.objects.get(action="merge")
    assert change.class_key == "negative" and change.after["into"] == "positive"


def test_merge_of_a_class_with_itself_or_a_stranger_is_refused(cast, labeled):
    admin = client_for(cast["admin"])
    positive = classes(labeled)["positive"]
    same = admin.post(url(labeled, "ontology/merge/"), {"source": positive.pk, "target": positive.pk}, format="json")
    assert same.status_code == 400 and "two different" in same.json()["detail"]
    other = make_project(name="Other")
    stranger = LabelClass.objects.filter(ontology=other.ontology).first()
    response = admin.post(url(labeled, "ontology/merge/"), {"source": stranger.pk, "target": positive.pk}, format="json")
    assert response.status_code == 400 and "no class" in response.json()["detail"]


def test_delete_is_refused_while_in_use_and_allowed_after_a_merge(cast, labeled):
    admin = client_for(cast["admin"])
    by_key = classes(labeled)
    refused = admin.delete(url(labeled, f"classes/{by_key['negative'].pk}/"))
    assert refused.status_code == 409 and "merge it" in refused.json()["detail"]
    spare = admin.post(url(labeled, "classes/"), {"key": "spare", "name": "Spare"}, format="json")
    assert spare.status_code == 201
    assert admin.delete(url(labeled, f"classes/{spare.json()['id']}/")).status_code == 204
    assert list(OntologyChange.objects.order_by("pk").values_list("action", "class_key")) == [
        ("create", "spare"), ("delete", "spare"),
    ]


def test_reorder_needs_every_class_once(cast, labeled):
    admin = client_for(cast["admin"])
    ids = [c.pk for c in LabelClass.objects.filter(ontology=labeled.ontology).order_by("order")]
    assert admin.post(url(labeled, "ontology/reorder/"), {"order": ids[:1]}, format="json").status_code == 400
    response = admin.post(url(labeled, "ontology/reorder/"), {"order": ids[::-1]}, format="json")
    assert [c["id"] for c in response.json()] == ids[::-1]
    assert OntologyChange.objects.get(action="reorder").after == ["positive", "negative"]


def test_hotkeys_never_clash(cast, labeled):
    admin = client_for(cast["admin"])
    positive = classes(labeled)["positive"]
    response = admin.patch(url(labeled, f"classes/{positive.pk}/"), {"hotkey": "1"}, format="json")
    assert response.status_code == 400 and "taken by" in response.json()["hotkey"][0]


def test_nesting_refuses_loops(cast, labeled):
    admin = client_for(cast["admin"])
    by_key = classes(labeled)
    child = admin.patch(url(labeled, f"classes/{by_key['negative'].pk}/"), {"parent": by_key["positive"].pk},
                        format="json")
    assert child.status_code == 200 and child.json()["parent"] == by_key["positive"].pk
    loop = admin.patch(url(labeled, f"classes/{by_key['positive'].pk}/"), {"parent": by_key["negative"].pk},
                       format="json")
    assert loop.status_code == 400 and "nested inside" in loop.json()["parent"][0]


def test_attribute_definitions_are_checked(cast, labeled):
    admin = client_for(cast["admin"])
    positive = classes(labeled)["positive"]
    bad = admin.patch(url(labeled, f"classes/{positive.pk}/"),
                      {"attributes": [{"key": "tone", "type": "choice", "options": ["only one"]}]}, format="json")
    assert bad.status_code == 400 and "at least two" in bad.json()["attributes"][0]
    good = admin.patch(url(labeled, f"classes/{positive.pk}/"), {"attributes": [
        {"key": "tone", "type": "choice", "options": ["warm", "cool"], "default": "warm"},
        {"key": "occluded", "type": "checkbox"}, {"key": "count", "type": "number", "min": 0, "max": 10},
    ]}, format="json")
    assert good.status_code == 200 and len(good.json()["attributes"]) == 3


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 200, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def test_regions_carry_their_class_attributes_and_respect_allowed_shapes(db):
    annotator, admin = make_user("painter"), make_user("chief")
    project = make_project(classes=("car", "road"), kind=Project.Kind.SEGMENTATION, learner="yolo_segment",
                           members=[(annotator, "annotator"), (admin, "admin")])
    LabelClass.objects.filter(ontology=project.ontology, key="car").update(
        shapes=["box"], attributes=[{"key": "occluded", "type": "checkbox", "default": False}])
    client_for(admin).post(url(project, "images/"), {"files": [SimpleUploadedFile("a.png", png())]}, format="multipart")
    item = Item.objects.get(project=project)
    services.claim_tasks(annotator, project, want=1)
    client = client_for(annotator)
    polygon = {"label": "car", "kind": "polygon", "geometry": {"polygons": [[0.1, 0.1, 0.5, 0.1, 0.3, 0.4]]}}
    refused = client.post(url(project, "annotations/"), {"item": item.pk, "regions": [polygon]}, format="json")
    assert refused.status_code == 400 and "drawn as box" in refused.json()["detail"]
    wrong = {"label": "car", "kind": "box", "geometry": {"box": [0.1, 0.1, 0.2, 0.2]}, "attributes": {"occluded": "yes"}}
    refused = client.post(url(project, "annotations/"), {"item": item.pk, "regions": [wrong]}, format="json")
    assert refused.status_code == 400 and "true or false" in refused.json()["detail"]
    good = {**wrong, "attributes": {"occluded": True}}
    plain = {"label": "car", "kind": "box", "geometry": {"box": [0.5, 0.5, 0.2, 0.2]}}
    stored = client.post(url(project, "annotations/"), {"item": item.pk, "regions": [good, plain]}, format="json")
    assert stored.status_code == 201, stored.content
    assert [r.attributes for r in Region.objects.order_by("order")] == [{"occluded": True}, {"occluded": False}]


def test_export_then_import_into_another_project_reproduces_the_classes(cast, labeled):
    admin = client_for(cast["admin"])
    positive = classes(labeled)["positive"]
    admin.patch(url(labeled, f"classes/{positive.pk}/"), {"description": "Praise of any kind", "shapes": ["classification"]},
                format="json")
    exported = json.loads(b"".join([admin.get(url(labeled, "ontology/export/")).content]))
    other = make_project(name="Copy", classes=("neutral",), members=[(cast["admin"], "admin")])
    clash = admin.post(url(other, "ontology/import/"), exported, format="json")
    assert clash.status_code == 400 and "taken by the existing class 'neutral'" in clash.json()["detail"]
    LabelClass.objects.filter(ontology=other.ontology, key="neutral").update(hotkey="9")
    report = admin.post(url(other, "ontology/import/"), exported, format="json")
    assert report.status_code == 200, report.content
    assert sorted(report.json()["created"]) == ["negative", "positive"] and report.json()["kept"] == ["neutral"]
    copied = classes(other)["positive"]
    assert copied.description == "Praise of any kind" and copied.shapes == ["classification"]


def test_a_bad_import_changes_nothing_and_says_which_class(cast, labeled):
    admin = client_for(cast["admin"])
    before = list(LabelClass.objects.values_list("pk", "key", "name"))
    data = {"classes": [{"key": "fine", "name": "Fine"}, {"key": "bad key!", "name": "Bad"}]}
    response = admin.post(url(labeled, "ontology/import/"), data, format="json")
    assert response.status_code == 400 and "Class 2" in response.json()["detail"]
    looped = {"classes": [{"key": "a", "name": "A", "parent": "b"}, {"key": "b", "name": "B", "parent": "a"}]}
    assert "loop" in admin.post(url(labeled, "ontology/import/"), looped, format="json").json()["detail"]
    upload = SimpleUploadedFile("classes.json", b"{not json")
    assert "not a JSON file" in admin.post(url(labeled, "ontology/import/"), {"file": upload},
                                           format="multipart").json()["detail"]
    assert list(LabelClass.objects.values_list("pk", "key", "name")) == before


def test_a_shared_ontology_renames_everywhere_and_a_fork_separates_a_project(cast, labeled):
    admin = client_for(cast["staff"])
    created = admin.post("/api/projects/", {"name": "Sister", "share_ontology": labeled.ontology_id}, format="json")
    assert created.status_code == 201, created.content
    sister = Project.objects.get(pk=created.json()["id"])
    assert sister.ontology_id == labeled.ontology_id
    assert sorted(p["name"] for p in admin.get(url(sister, "ontology/")).json()["projects"]) == ["Reviews", "Sister"]

    forked = admin.post(url(labeled, "ontology/fork/"), {"name": "Reviews' own"}, format="json")
    assert forked.status_code == 201
    labeled.refresh_from_db()
    assert labeled.ontology_id != sister.ontology_id
    assert set(Annotation.objects.filter(project=labeled).values_list("label_class__ontology_id", flat=True)) == {
        labeled.ontology_id
    }
    positive = classes(labeled)["positive"]
    admin.patch(url(labeled, f"classes/{positive.pk}/"), {"name": "Praise"}, format="json")
    assert classes(sister)["positive"].name == "positive", "the fork's rename stays in the fork"


def test_the_audit_log_is_for_admins(cast, labeled):
    assert client_for(cast["reviewer"]).get(url(labeled, "ontology/changes/")).status_code == 403
    assert client_for(cast["admin"]).get(url(labeled, "ontology/changes/")).status_code == 200
