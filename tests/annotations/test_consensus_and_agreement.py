"""Overlap, consensus and agreement through the API: three annotators on the same items,
majority labels into the export, boxes merged by IoU into COCO, kappas on the page."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from annotations.models import Consensus, Item, Membership, Project
from tests.conftest import add_items, client_for, make_project, make_user

POS, NEG = "positive", "negative"
THREE = {
    "a1": [POS, NEG, POS, POS, POS],
    "a2": [POS, NEG, POS, NEG, POS],
    "a3": [NEG, NEG, POS, POS, NEG],
}


def label_all(project, people, answers_by_user, item_ids):
    """Each annotator claims every item (overlap lets them) and answers in item order."""
    for username, answers in answers_by_user.items():
        client = client_for(people[username])
        client.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": len(item_ids)}, format="json")
        for item_id, answer in zip(item_ids, answers):
            body = {"item": item_id, **({"regions": answer} if isinstance(answer, list) else {"label": answer})}
            response = client.post(f"/api/projects/{project.pk}/annotations/", body, format="json")
            assert response.status_code == 201, response.content


@pytest.fixture
def trio(db):
    people = {name: make_user(name) for name in ("a1", "a2", "a3", "boss")}
    project = make_project(overlap=3, members=[(people[n], "annotator") for n in THREE] + [(people["boss"], "reviewer")])
    add_items(project, [f"sentence {n}" for n in range(5)])
    people["project"] = project
    people["items"] = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    return people


def test_three_annotators_majority_is_the_final_label_and_the_export(trio):
    project = trio["project"]
    label_all(project, trio, THREE, trio["items"])
    finals = [Item.objects.get(pk=pk).final_class.key for pk in trio["items"]]
    assert finals == [POS, NEG, POS, POS, POS]
    consensus = Consensus.objects.get(item_id=trio["items"][0])
    assert consensus.method == "majority" and consensus.votes == {POS: 2, NEG: 1}
    assert consensus.agreement == pytest.approx(2 / 3) and consensus.annotators == 3
    assert all(Item.objects.get(pk=pk).assigned_count == 3 for pk in trio["items"])

    export = client_for(trio["boss"]).get(f"/api/projects/{project.pk}/export/?export_format=jsonl")
    rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    rows.sort(key=lambda r: r["item_id"])
    assert [row["label"] for row in rows] == finals
    assert rows[0]["consensus"] == "majority" and rows[0]["agreement"] == pytest.approx(2 / 3)


def test_a_fourth_annotator_is_never_given_an_item_with_overlap_three(trio):
    project = trio["project"]
    label_all(project, trio, THREE, trio["items"])
    late = make_user("late")
    Membership.objects.create(project=project, user=late, role="annotator")
    tasks = client_for(late).post(f"/api/projects/{project.pk}/tasks/claim/", {"want": 5}, format="json").json()["tasks"]
    assert tasks == []


def test_agreement_page_numbers_match_the_libraries(trio):
    project = trio["project"]
    label_all(project, trio, THREE, trio["items"])
    report = client_for(trio["boss"]).get(f"/api/projects/{project.pk}/agreement/").json()
    table = np.array([THREE[name] for name in ("a1", "a2", "a3")]).T
    counts, _ = aggregate_raters(np.vectorize({NEG: 0, POS: 1}.get)(table), n_cat=2)
    assert report["fleiss_kappa"] == pytest.approx(statsmodels_fleiss(counts))
    from sklearn.metrics import cohen_kappa_score

    pairs = {(row["a"], row["b"]): row for row in report["pairs"]}
    ids = {name: trio[name].pk for name in THREE}
    a1_a2 = pairs[(ids["a1"], ids["a2"])]
    assert a1_a2["n_items"] == 5
    assert a1_a2["kappa"] == pytest.approx(cohen_kappa_score(THREE["a1"], THREE["a2"]))
    assert set(report["fleiss_per_class"]) == {NEG, POS}
    assert report["krippendorff_alpha"] is not None
    lowest = report["lowest"]
    assert lowest[0]["agreement"] == pytest.approx(2 / 3)
    assert {row["item"] for row in lowest if row["agreement"] == 1.0} == {trio["items"][1], trio["items"][2]}


def png(width=100, height=100) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 120, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def box(label, x, y, w, h):
    return {"label": label, "kind": "box", "geometry": {"box": [x, y, w, h]}}


def test_boxes_of_three_annotators_merge_by_iou_into_the_coco_export(db, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    people = {name: make_user(name) for name in ("a1", "a2", "a3", "boss")}
    project = make_project(classes=("cat", "dog"), kind=Project.Kind.DETECTION, learner="yolo_detect", overlap=3,
                           members=[(people[n], "annotator") for n in ("a1", "a2", "a3")] + [(people["boss"], "admin")])
    client_for(people["boss"]).post(f"/api/projects/{project.pk}/images/",
                                    {"files": [SimpleUploadedFile("street.png", png())]}, format="multipart")
    item = Item.objects.get(project=project)
    answers = {
        "a1": [[box("cat", 0.10, 0.10, 0.20, 0.20), box("dog", 0.60, 0.60, 0.20, 0.20), box("cat", 0.40, 0.05, 0.1, 0.1)]],
        "a2": [[box("cat", 0.12, 0.10, 0.20, 0.20), box("dog", 0.61, 0.60, 0.20, 0.20)]],
        "a3": [[box("dog", 0.10, 0.12, 0.20, 0.20)]],
    }
    label_all(project, people, answers, [item.pk])
    consensus = Consensus.objects.get(item=item)
    assert consensus.method == "region_vote"
    kept = sorted(consensus.regions, key=lambda r: r["geometry"]["box"][0])
    assert [r["label"] for r in kept] == ["cat", "dog"], "the lone box is dropped; cat wins 2 to 1"
    assert kept[0]["geometry"]["box"] == pytest.approx([(0.10 + 0.12 + 0.10) / 3, (0.10 + 0.10 + 0.12) / 3, 0.2, 0.2])
    assert kept[0]["support"] == 3 and kept[1]["support"] == 2
    assert consensus.agreement == pytest.approx(5 / 6)

    response = client_for(people["boss"]).get(f"/api/projects/{project.pk}/export/?export_format=coco")
    body = b"".join(response.streaming_content) if hasattr(response, "streaming_content") else response.content
    if body[:2] == b"PK":
        body = zipfile.ZipFile(io.BytesIO(body)).read("annotations.json")
    coco = json.loads(body)
    assert len(coco["annotations"]) == 2
    assert sorted(a["bbox"][0] for a in coco["annotations"]) == pytest.approx([100 * 0.32 / 3, 60.5], rel=1e-6)


def test_a_gold_image_scores_an_answer_by_the_f1_of_its_matched_boxes(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.models import Annotation

    annotator, boss = make_user("spotter"), make_user("boss")
    project = make_project(classes=("cat", "dog"), kind=Project.Kind.DETECTION, learner="yolo_detect",
                           members=[(annotator, "annotator"), (boss, "admin")])
    project.review = {**project.review, "gold_fraction": 0.5}
    project.save(update_fields=["review"])
    client_for(boss).post(f"/api/projects/{project.pk}/images/",
                          {"files": [SimpleUploadedFile(f"{n}.png", png()) for n in range(2)]}, format="multipart")
    gold_item = Item.objects.filter(project=project).order_by("pk").first()
    response = client_for(boss).post(f"/api/projects/{project.pk}/items/{gold_item.pk}/gold/",
                                     {"regions": [box("cat", 0.1, 0.1, 0.3, 0.3)]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["gold"]["regions"][0]["label"] == "cat"
    client = client_for(annotator)
    tasks = client.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": 2}, format="json").json()["tasks"]
    assert sorted(t["item"] for t in tasks) == sorted(Item.objects.filter(project=project).values_list("pk", flat=True))
    assert Item.objects.get(pk=gold_item.pk).assigned_count == 0, "the gold image is claimed as a gold check"
    answer = [box("cat", 0.11, 0.1, 0.3, 0.3), box("dog", 0.6, 0.6, 0.2, 0.2)]
    stored = client.post(f"/api/projects/{project.pk}/annotations/", {"item": gold_item.pk, "regions": answer},
                         format="json")
    assert stored.status_code == 201, stored.content
    assert Annotation.objects.get(item=gold_item).gold_score == pytest.approx(2 * 1 / (1 + 2))
