"""REST endpoints of review and quality: the review queue and its decisions, item
history, comments, gold items, agreement and annotator quality, disagreements."""
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import comments, gold, review
from .agreement_report import agreement_report
from .errors import InvalidInput
from .models import Annotation, Item, Membership
from .permissions import access_project
from .review_payloads import (
    answers_by_item,
    answers_of,
    comment_payload,
    consensus_by_item,
    consensus_payload,
    item_payload,
    review_item_payload,
)
from .skill import annotator_quality, quality_over_time

ADMIN = Membership.Role.ADMIN
REVIEWER = Membership.Role.REVIEWER
QUEUE_LIMIT = 200


def _int(value, name: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a whole number.") from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}.")
    return number


def _text(request, name: str) -> str:
    value = request.data.get(name, "") if hasattr(request.data, "get") else ""
    if not isinstance(value, str):
        raise InvalidInput(f"`{name}` must be text.")
    return value


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidInput("Send a JSON object.")
    return request.data


Decision = inline_serializer("Decision", {
    "label": serializers.CharField(required=False), "regions": serializers.ListField(required=False),
    "reason": serializers.CharField(required=False),
})


class ReviewQueue(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """Items waiting for review, oldest first, with every answer side by side."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        reason = request.query_params.get("reason", "all")
        limit = _int(request.query_params.get("limit"), "limit", 50, 1, QUEUE_LIMIT)
        items = review.review_queue(project, request.user, reason).select_related("final_class")
        page = list(items[:limit])
        answers, consensus = answers_by_item(page), consensus_by_item(page)
        return Response({
            "counts": review.review_counts(project),
            "items": [{**item_payload(item), "answers": answers[item.pk], "consensus": consensus.get(item.pk)}
                      for item in page],
        })


class ReviewItem(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int, item_id: int):
        """One item for review: answers, consensus, history and comments."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        item = Item.objects.filter(pk=item_id, project=project).select_related("final_class").first()
        if item is None:
            raise Http404("No such item.")
        return Response(review_item_payload(item))


def _answer_response(annotation: Annotation) -> Response:
    item = annotation.item
    return Response({"answer": next(a for a in answers_of(item) if a["id"] == annotation.pk),
                     "consensus": consensus_payload(item)})


class ApproveAnswer(APIView):
    @extend_schema(request=None, responses=dict)
    def post(self, request, project_id: int, annotation_id: int):
        project, _ = access_project(request.user, project_id, REVIEWER)
        return _answer_response(review.approve(project, request.user, annotation_id))


class RejectAnswer(APIView):
    @extend_schema(request=Decision, responses=dict)
    def post(self, request, project_id: int, annotation_id: int):
        """Send the answer back to its annotator; `reason` says what to fix."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        return _answer_response(review.reject(project, request.user, annotation_id, _text(request, "reason")))


class CorrectAnswer(APIView):
    @extend_schema(request=Decision, responses=dict)
    def post(self, request, project_id: int, annotation_id: int):
        """Replace the answer with `label` (classes) or `regions` (shapes) and approve it."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        data = _body(request)
        annotation = review.correct(project, request.user, annotation_id, data.get("label"), data.get("regions"))
        return _answer_response(annotation)


class DecideItem(APIView):
    @extend_schema(request=Decision, responses=dict)
    def post(self, request, project_id: int, item_id: int):
        """Settle a tie or an item short of the quorum with `label`."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        review.decide(project, request.user, item_id, _text(request, "label"))
        item = Item.objects.get(pk=item_id)
        return Response({"consensus": consensus_payload(item), "item": item_payload(item)})


class ItemHistory(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int, item_id: int):
        project, _ = access_project(request.user, project_id, REVIEWER)
        item = Item.objects.filter(pk=item_id, project=project).first()
        if item is None:
            raise Http404("No such item.")
        return Response(review_item_payload(item)["history"])


class ItemComments(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int, item_id: int):
        project, role = access_project(request.user, project_id)
        return Response([comment_payload(t) for t in comments.threads(project, request.user, role, item_id)])

    @extend_schema(request=inline_serializer("NewComment", {
        "body": serializers.CharField(), "parent": serializers.IntegerField(required=False),
    }), responses=dict)
    def post(self, request, project_id: int, item_id: int):
        """Ask or answer on an item; `parent` makes it a reply in that thread."""
        project, role = access_project(request.user, project_id)
        data = _body(request)
        parent = data.get("parent")
        if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
            raise InvalidInput("`parent` must be the id of the comment you reply to.")
        comment = comments.add_comment(project, request.user, role, item_id, _text(request, "body"), parent)
        return Response(comment_payload(comment, replies=False), status=201)


class ResolveComment(APIView):
    @extend_schema(request=inline_serializer("Resolve", {"resolved": serializers.BooleanField()}), responses=dict)
    def post(self, request, project_id: int, comment_id: int):
        project, role = access_project(request.user, project_id)
        resolved = _body(request).get("resolved", True)
        if not isinstance(resolved, bool):
            raise InvalidInput("`resolved` must be true or false.")
        return Response(comment_payload(comments.set_resolved(project, request.user, role, comment_id, resolved)))


class OpenQuestions(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, REVIEWER)
        return Response([comment_payload(c) for c in comments.open_questions(project)[:QUEUE_LIMIT]])


class Agreement(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """Pairwise Cohen's kappa, Fleiss' kappa (project and per class), Krippendorff's
        alpha, region agreement for shapes, and the items with the lowest agreement."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        return Response(agreement_report(project))


class AnnotatorQuality(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, REVIEWER)
        review_settings = project.review or {}
        return Response({
            "thresholds": {"min_accuracy": review_settings.get("min_accuracy", 0.9),
                           "min_kappa": review_settings.get("min_kappa", 0.8)},
            "annotators": annotator_quality(project),
            "over_time": quality_over_time(project),
        })


class GoldItem(APIView):
    @extend_schema(request=Decision, responses=dict)
    def post(self, request, project_id: int, item_id: int):
        """Mark the item gold, with its known `label` or `regions` (default: its current answer)."""
        project, _ = access_project(request.user, project_id, ADMIN)
        data = _body(request)
        item = gold.mark_gold(project, request.user, item_id, data.get("label"), data.get("regions"))
        return Response({**item_payload(item), "gold": _gold_answer(item)})

    @extend_schema(request=None, responses=dict)
    def delete(self, request, project_id: int, item_id: int):
        project, _ = access_project(request.user, project_id, ADMIN)
        return Response(item_payload(gold.unmark_gold(project, request.user, item_id)))


def _gold_answer(item: Item) -> dict:
    return {"label": item.gold_class.key if item.gold_class_id else None, "regions": item.gold_regions}


class GoldList(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, ADMIN)
        items = Item.objects.filter(project=project, is_gold=True).select_related("gold_class", "final_class")
        return Response([{**item_payload(item), "gold": _gold_answer(item)} for item in items.order_by("pk")[:1000]])


class ResetQualification(APIView):
    @extend_schema(request=None, responses=dict)
    def post(self, request, project_id: int, member_id: int):
        """Let an annotator take the qualification set again."""
        project, _ = access_project(request.user, project_id, ADMIN)
        membership = gold.reset_qualification(project, member_id)
        return Response({"user": membership.user_id, "qualification": membership.qualification})
