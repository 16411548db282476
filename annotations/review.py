"""The reviewer's workflow: which answers need review, and the decisions on them.

A decision is one conditional UPDATE on the answer's review status, so two reviewers
clicking at once, or one clicking twice, store one decision. Every step is written to
the item's history. Nobody reviews their own answer.
"""
import random

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from activelearning import answer_days

from .errors import Conflict, InvalidInput, NotAssigned
from .events import publish_on_commit
from .models import Annotation, Assignment, Comment, Consensus, Item, ItemEvent, Project, Region
from .regions import create_regions, region_payload, validate_regions
from .settling import settle_item

REVIEWABLE = (Annotation.Review.NONE, Annotation.Review.PENDING, Annotation.Review.APPROVED)
QUEUE_REASONS = ("pending", "consensus", "questions", "all")


def answer_snapshot(annotation: Annotation) -> dict:
    """What an answer says, for the history's before and after."""
    if annotation.project.has_regions:
        regions = annotation.regions.select_related("label_class").order_by("order", "pk")
        return {"regions": [region_payload(region) for region in regions]}
    return {"label": annotation.label_class.key if annotation.label_class_id else None}


def record(item: Item, actor: User | None, action: str, annotation: Annotation | None = None, **detail) -> ItemEvent:
    answer_days.decision_recorded(annotation, action)
    return ItemEvent.objects.create(
        project_id=item.project_id, item=item, actor=actor, action=action, annotation=annotation, detail=detail
    )


# ---------------------------------------------------------------------------------------
# Which answers go to review


def review_on_submit(project: Project, annotation: Annotation, user: User) -> bool:
    """Apply the submit-time policies (every submission, a random fraction, annotators
    under their quality thresholds); the agreement policy applies once an item settles."""
    review = project.review or {}
    policy = review.get("policy", "none")
    if policy == "all":
        wanted = True
    elif policy == "random":
        wanted = random.random() < float(review.get("fraction", 0.2))
    elif policy == "low_quality":
        from .skill import below_thresholds

        wanted = below_thresholds(project, user)
    else:
        wanted = False
    if wanted:
        Annotation.objects.filter(pk=annotation.pk, review_status=Annotation.Review.NONE).update(
            review_status=Annotation.Review.PENDING
        )
    return wanted


def review_low_agreement(project: Project, consensus: Consensus | None) -> None:
    """Under the agreement policy, every answer of an item below the threshold goes to review."""
    review = project.review or {}
    if consensus is None or review.get("policy") != "low_agreement" or consensus.agreement is None:
        return
    if consensus.agreement < float(review.get("agreement_threshold", 0.7)):
        Annotation.objects.filter(item_id=consensus.item_id, review_status=Annotation.Review.NONE).exclude(
            annotator=None
        ).update(review_status=Annotation.Review.PENDING)


def send_item_to_review(item: Item) -> int:
    """Put every answer of the item in the review queue (used by the disagreements policy)."""
    return Annotation.objects.filter(item=item, review_status=Annotation.Review.NONE).exclude(annotator=None).update(
        review_status=Annotation.Review.PENDING
    )


# ---------------------------------------------------------------------------------------
# The queue


def review_queue(project: Project, reviewer: User, reason: str = "all"):
    """Items waiting for this reviewer, oldest first: answers pending review (never the
    reviewer's own), items whose consensus needs a decision (tie, below quorum), and
    items with an open question."""
    if reason not in QUEUE_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(QUEUE_REASONS)}.")
    pending = Annotation.objects.filter(project=project, review_status=Annotation.Review.PENDING).exclude(
        annotator=reviewer
    ).values("item_id")
    undecided = Consensus.objects.filter(
        project=project, status__in=[Consensus.Status.TIE, Consensus.Status.BELOW_QUORUM]
    ).values("item_id")
    questions = Comment.objects.filter(project=project, parent=None, resolved=False).values("item_id")
    wanted = {
        "pending": Q(pk__in=pending),
        "consensus": Q(pk__in=undecided),
        "questions": Q(pk__in=questions),
        # One IN over the union, not an OR of three: with the OR, SQLite walks the whole
        # item table in id order testing each item (0.4 s at 1,000,000 items when few
        # are waiting); with one IN it looks the waiting items up by id.
        "all": Q(pk__in=pending.order_by().union(undecided.order_by(), questions.order_by())),
    }[reason]
    # Each part is an index lookup (annotation_review, consensus_status, comment_open),
    # so the first page costs the same at 1,000,000 items as at 1,000.
    return Item.objects.filter(project=project).filter(wanted).order_by("pk")


def review_counts(project: Project) -> dict:
    # One index range (annotation_review) per status: the answers never reviewed, most of
    # them at 1,000,000 items, are not read at all.
    answers = Annotation.objects.filter(project=project)
    counts = {status.value: answers.filter(review_status=status).count()
              for status in (Annotation.Review.PENDING, Annotation.Review.APPROVED, Annotation.Review.REJECTED)}
    counts["undecided"] = Consensus.objects.filter(
        project=project, status__in=[Consensus.Status.TIE, Consensus.Status.BELOW_QUORUM]
    ).count()
    counts["questions"] = Comment.objects.filter(project=project, parent=None, resolved=False).count()
    return counts


# ---------------------------------------------------------------------------------------
# Decisions


def _answer_for_review(project: Project, reviewer: User, annotation_id: int) -> Annotation:
    annotation = (
        Annotation.objects.filter(pk=annotation_id, project=project).select_related("item", "label_class", "project").first()
    )
    if annotation is None:
        raise InvalidInput(f"No answer {annotation_id} in this project.")
    if annotation.annotator_id == reviewer.pk:
        raise NotAssigned("You cannot review your own answer; another reviewer must.")
    if annotation.annotator_id is None:
        raise InvalidInput("Imported answers are not reviewed; correct them by importing again.")
    return annotation


def _decide(annotation: Annotation, reviewer: User, allowed, status: str, reason: str = "") -> bool:
    """Move the answer to `status` if it is in one of `allowed`; False when someone got there first."""
    return bool(Annotation.objects.filter(pk=annotation.pk, review_status__in=allowed).update(
        review_status=status, reviewed_by=reviewer, reviewed_at=timezone.now(), review_reason=reason,
    ))


def approve(project: Project, reviewer: User, annotation_id: int) -> Annotation:
    """Accept the answer as it is. Approving an approved answer changes nothing."""
    annotation = _answer_for_review(project, reviewer, annotation_id)
    if annotation.review_status == Annotation.Review.APPROVED:
        return annotation
    if annotation.review_status == Annotation.Review.REJECTED:
        raise Conflict("This answer was sent back; wait for its annotator to fix it, or correct it yourself.")
    with transaction.atomic():
        if _decide(annotation, reviewer, [Annotation.Review.NONE, Annotation.Review.PENDING], Annotation.Review.APPROVED):
            record(annotation.item, reviewer, ItemEvent.Action.APPROVED, annotation)
    publish_on_commit(project.pk, "review.changed", item=annotation.item_id)
    annotation.refresh_from_db()
    return annotation


def reject(project: Project, reviewer: User, annotation_id: int, reason: str) -> Annotation:
    """Send the answer back to its annotator with a reason; it stops counting until fixed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the answer is sent back (`reason`), so its annotator knows what to fix.")
    if len(reason) > 2000:
        raise InvalidInput("Keep the reason under 2,000 characters.")
    annotation = _answer_for_review(project, reviewer, annotation_id)
    if annotation.review_status == Annotation.Review.REJECTED:
        return annotation
    with transaction.atomic():
        if not _decide(annotation, reviewer, REVIEWABLE, Annotation.Review.REJECTED, reason):
            raise Conflict("Another reviewer decided on this answer just now; reload it.")
        Assignment.objects.filter(item=annotation.item, annotator_id=annotation.annotator_id).update(
            status=Assignment.Status.RETURNED
        )
        record(annotation.item, reviewer, ItemEvent.Action.REJECTED, annotation, reason=reason)
        settle_item(annotation.item, project)
    publish_on_commit(project.pk, "review.changed", item=annotation.item_id)
    publish_on_commit(project.pk, "task.returned", annotator=annotation.annotator_id, item=annotation.item_id)
    annotation.refresh_from_db()
    return annotation


def correct(project: Project, reviewer: User, annotation_id: int, label_key: str | None, regions: list | None) -> Annotation:
    """Replace the answer with the reviewer's correction and approve it."""
    from .services import resolve_class

    annotation = _answer_for_review(project, reviewer, annotation_id)
    before = answer_snapshot(annotation)
    if project.has_regions:
        if regions is None:
            raise InvalidInput("Send the corrected `regions` (an empty list when the image shows none).")
        clean, label = validate_regions(project, annotation.item, regions), None
    else:
        if not label_key:
            raise InvalidInput("Send `label`: the key of the correct class.")
        clean, label = [], resolve_class(project, label_key)
    with transaction.atomic():
        if not _decide(annotation, reviewer, list(Annotation.Review), Annotation.Review.APPROVED):
            raise Conflict("This answer changed just now; reload it.")
        if project.has_regions:
            Region.objects.filter(annotation=annotation).delete()
            create_regions(annotation, clean)
        else:
            Annotation.objects.filter(pk=annotation.pk).update(label_class=label)
        Assignment.objects.filter(
            item=annotation.item, annotator_id=annotation.annotator_id, status=Assignment.Status.RETURNED
        ).update(status=Assignment.Status.SUBMITTED)
        annotation.refresh_from_db()
        record(annotation.item, reviewer, ItemEvent.Action.CORRECTED, annotation, before=before,
               after=answer_snapshot(annotation))
        Consensus.objects.filter(item=annotation.item, status=Consensus.Status.REVIEWED).delete()
        settle_item(annotation.item, project)
    publish_on_commit(project.pk, "review.changed", item=annotation.item_id)
    return annotation


def decide(project: Project, reviewer: User, item_id: int, label_key: str) -> Consensus:
    """Settle an item whose annotators tied or fell short of the quorum."""
    from .services import resolve_class

    item = Item.objects.filter(pk=item_id, project=project).first()
    if item is None:
        raise InvalidInput(f"No item {item_id} in this project.")
    if project.has_regions:
        raise InvalidInput("Shape projects settle by region vote; correct one answer's regions instead.")
    label = resolve_class(project, label_key)
    with transaction.atomic():
        consensus = Consensus.objects.filter(item=item).first()
        before = {"status": consensus.status, "label": consensus.label_class.key if consensus and consensus.label_class
                  else None} if consensus else {}
        consensus, _ = Consensus.objects.update_or_create(item=item, defaults={
            "project": project, "method": Consensus.Method.REVIEWER, "status": Consensus.Status.REVIEWED,
            "label_class": label, "decided_by": reviewer,
        })
        Item.objects.filter(pk=item.pk).update(
            status=Item.Status.LABELED, final_class=label, final_annotator=reviewer, final_at=timezone.now()
        )
        record(item, reviewer, ItemEvent.Action.DECIDED, None, before=before, after={"label": label.key})
    publish_on_commit(project.pk, "review.changed", item=item.pk)
    return consensus


def guard_annotator_edit(annotation: Annotation) -> None:
    """An annotator may change an answer before review or after it was sent back, not after approval."""
    if annotation.review_status == Annotation.Review.APPROVED:
        raise Conflict("A reviewer approved this answer; ask a reviewer to send it back before you change it.")


def history(item: Item) -> list[ItemEvent]:
    return list(item.events.select_related("actor").order_by("created_at", "pk"))
