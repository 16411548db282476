"""The task and answer payloads, written directly for speed, say exactly what DRF's
declared fields (the API schema) would say for every kind of task and answer."""
import copy
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from activelearning.models import Prediction
from annotations.models import Annotation, Assignment, Item, Project, Region
from annotations.serializers import AnnotationSerializer, TaskSerializer
from tests.conftest import add_items, make_project, make_user


def _as_declared(serializer, instance) -> dict:
    """The generic per-field output of the serializer's class."""
    base = serializers.ModelSerializer if isinstance(serializer, serializers.ModelSerializer) else serializers.Serializer
    return dict(base.to_representation(serializer, instance))


@pytest.mark.django_db
def test_task_payloads_match_the_declared_fields():
    project = make_project()
    annotator, reviewer = make_user(), make_user()
    add_items(project, ["plain", "with a hint", "sent back"])
    plain, hinted, returned = Item.objects.filter(project=project).order_by("pk")
    label = project.ontology.classes.get(key="positive")
    expires = timezone.now() + timedelta(minutes=30, microseconds=5)
    tasks = [
        Assignment.objects.create(project=project, item=plain, annotator=annotator, expires_at=expires),
        Assignment.objects.create(project=project, item=hinted, annotator=annotator, expires_at=expires,
                                  model_version=3, rank=7, hint_class=label, hint_confidence=0.625),
        Assignment.objects.create(project=project, item=returned, annotator=annotator, expires_at=expires,
                                  status=Assignment.Status.RETURNED),
    ]
    Annotation.objects.create(project=project, item=returned, annotator=annotator, assignment=tasks[2], label_class=label,
                              review_status=Annotation.Review.REJECTED, review_reason="Look again",
                              reviewed_by=reviewer, reviewed_at=timezone.now())
    for task in Assignment.objects.select_related("item", "hint_class").order_by("pk"):
        written = TaskSerializer().to_representation(task)
        assert written == _as_declared(TaskSerializer(), task)
        assert list(written) == TaskSerializer.Meta.fields
    assert TaskSerializer(tasks[2]).data["returned"]["reason"] == "Look again"


@pytest.mark.django_db
def test_image_task_payloads_with_suggestions_match_the_declared_fields():
    project = make_project(kind=Project.Kind.DETECTION)
    annotator = make_user()
    item = Item.objects.create(project=project, media="images/cat.png", width=640, height=480, frame_index=None)
    Prediction.objects.create(project=project, item=item, model_version=2,
                              regions=[{"label": "positive", "kind": "box", "geometry": {"box": [0.1, 0.2, 0.3, 0.4]}}])
    task = Assignment.objects.create(project=project, item=item, annotator=annotator,
                                     expires_at=timezone.now() + timedelta(minutes=5))
    task = Assignment.objects.select_related("item").get(pk=task.pk)
    written = TaskSerializer().to_representation(task)
    assert written == _as_declared(TaskSerializer(), task)
    assert written["image"]["width"] == 640 and written["suggestions"]["model_version"] == 2


@pytest.mark.django_db
def test_answer_payloads_match_the_declared_fields():
    text = make_project()
    boxes = make_project(kind=Project.Kind.DETECTION, name="Boxes")
    annotator = make_user()
    add_items(text, ["one", "two"])
    first, second = Item.objects.filter(project=text).order_by("pk")
    label = text.ontology.classes.get(key="negative")
    answers = [
        Annotation.objects.create(project=text, item=first, annotator=annotator, label_class=label,
                                  client_id=uuid.uuid4(), duration_ms=1200),
        Annotation.objects.create(project=text, item=second, annotator=None, label_class=None,
                                  source=Annotation.Source.IMPORT),
    ]
    image = Item.objects.create(project=boxes, media="images/dog.png", width=10, height=10)
    drawn = Annotation.objects.create(project=boxes, item=image, annotator=annotator)
    Region.objects.create(annotation=drawn, label_class=boxes.ontology.classes.get(key="positive"), kind="box",
                          geometry={"box": [0.0, 0.0, 0.5, 0.5]}, from_model=True, model_confidence=0.9)
    for answer, project in [(answers[0], text), (answers[1], text), (drawn, boxes), (drawn, None)]:
        serializer = AnnotationSerializer(context={"project": project} if project else {})
        written = serializer.to_representation(answer)
        assert written == _as_declared(serializer, answer)
    assert AnnotationSerializer(drawn).data["regions"][0]["kind"] == "box"


SUBMITS = [
    {"item": 3, "label": "positive", "client_id": str(uuid.uuid4()), "duration_ms": 1200},
    {"item": 3, "regions": [{"label": "car", "kind": "box", "geometry": [1, 2, 3, 4]}]},
    {"item": 0, "label": "x" * 65, "client_id": "not-a-uuid", "duration_ms": -1},
    {"label": "positive", "regions": "boxes"},
    {"item": "seven", "regions": [1, 2]},
    {"item": 2**63},
]


def _fresh_copy(serializer_class):
    """The same declarations in a plain serializer, whose fields DRF builds per instance."""
    return type(f"Plain{serializer_class.__name__}", (serializers.Serializer,), {
        name: copy.deepcopy(field) for name, field in serializer_class._declared_fields.items()
    })


@pytest.mark.parametrize("body", SUBMITS)
def test_submit_validation_with_fields_built_once_matches_drf(body):
    from annotations.serializers import SubmitSerializer

    plain = _fresh_copy(SubmitSerializer)(data=body)
    for _ in range(2):  # the second instance uses the fields the first one built
        shared = SubmitSerializer(data=body)
        assert shared.is_valid() == plain.is_valid()
        assert shared.errors == plain.errors
        assert shared.validated_data == plain.validated_data


def test_instances_with_fields_built_once_keep_their_own_data():
    from annotations.serializers import ClaimSerializer, SubmitSerializer

    first, second = SubmitSerializer(data={"item": 1, "label": "a"}), SubmitSerializer(data={"item": "x"})
    assert first.fields is second.fields
    assert first.is_valid() and not second.is_valid()
    assert first.validated_data == {"item": 1, "label": "a"} and set(second.errors) == {"item"}
    assert ClaimSerializer(data={}).is_valid() and ClaimSerializer(data={}).fields is not first.fields
    claim = ClaimSerializer(data={"want": 3, "release_except": [4]})
    assert claim.is_valid() and claim.validated_data == {"want": 3, "release_except": [4]}
