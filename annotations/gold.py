"""Gold items: known answers mixed unannounced into annotators' queues, scored on submit,
and the qualification set a new annotator may have to pass first.

A gold check never counts toward an item's overlap or its label: the item keeps its
known answer, and `Annotation.gold_score` keeps how close the annotator came.
"""
import math

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count

from activelearning import answer_days

from .errors import InvalidInput, NotAssigned
from .formats.regions import geometry_to_region
from .geometry import match_regions
from .models import Annotation, Assignment, Item, ItemEvent, Membership, Project
from .regions import region_payload, validate_regions


def _review(project: Project) -> dict:
    return project.review or {}


# ---------------------------------------------------------------------------------------
# Marking gold


def mark_gold(project: Project, actor: User, item_id: int, label_key: str | None = None,
              regions: list | None = None) -> Item:
    """Make an item gold. The known answer is the one given, else the item's current label."""
    from .services import resolve_class

    item = Item.objects.filter(pk=item_id, project=project).select_related("final_class").first()
    if item is None:
        raise InvalidInput(f"No item {item_id} in this project.")
    if project.has_regions:
        if regions is None:
            regions = _current_regions(item)
            if regions is None:
                raise InvalidInput(f"Item {item_id} has no answer yet; send its known `regions`.")
        clean = validate_regions(project, item, regions)
        gold = {"gold_regions": [
            {"label": r["label_class"].key, "kind": r["kind"], "geometry": r["geometry"]} for r in clean
        ], "gold_class": None}
    else:
        if label_key:
            label = resolve_class(project, label_key)
        elif item.final_class_id:
            label = item.final_class
        else:
            raise InvalidInput(f"Item {item_id} has no label yet; send its known `label`.")
        gold = {"gold_class": label, "gold_regions": None}
    with transaction.atomic():
        Item.objects.filter(pk=item.pk).update(is_gold=True, **gold)
        if not project.has_regions:
            Item.objects.filter(pk=item.pk).update(status=Item.Status.LABELED, final_class=gold["gold_class"])
        from activelearning.models import QueueEntry

        QueueEntry.objects.filter(item=item).delete()
        answer = {"label": gold["gold_class"].key} if gold["gold_class"] else {"regions": gold["gold_regions"]}
        ItemEvent.objects.create(project=project, item=item, actor=actor, action=ItemEvent.Action.GOLD,
                                 detail={"gold": True, "answer": answer})
    item.refresh_from_db()
    return item


def unmark_gold(project: Project, actor: User, item_id: int) -> Item:
    item = Item.objects.filter(pk=item_id, project=project).first()
    if item is None:
        raise InvalidInput(f"No item {item_id} in this project.")
    with transaction.atomic():
        Item.objects.filter(pk=item.pk).update(is_gold=False)
        ItemEvent.objects.create(project=project, item=item, actor=actor, action=ItemEvent.Action.GOLD,
                                 detail={"gold": False})
    item.refresh_from_db()
    return item


def _current_regions(item: Item) -> list | None:
    answer = Annotation.objects.filter(item=item).order_by("-pk").first()
    if answer is None:
        return None
    return [region_payload(region) for region in answer.regions.select_related("label_class")]


# ---------------------------------------------------------------------------------------
# Gold in the queue


def gold_turn(user: User, project: Project) -> bool:
    """Whether the user's next claim is a gold check: exactly `gold_fraction` of their
    claims over time, spread evenly, with nothing in the task that tells them."""
    fraction = float(_review(project).get("gold_fraction", 0.0))
    if fraction <= 0:
        return False
    done = Assignment.objects.filter(project=project, annotator=user).count()
    return math.floor((done + 1) * fraction) > math.floor(done * fraction)


def qualification_items(project: Project):
    count = _review(project).get("qualification", {}).get("count", 5)
    return Item.objects.filter(project=project, is_gold=True).order_by("pk")[:count]


def claim_gold(user: User, project: Project, *, qualification: bool = False) -> Assignment | None:
    """Hand the user a gold item they have not seen, or None when there is none left."""
    from .services import lease_deadline

    pool = Item.objects.filter(project=project, is_gold=True)
    if qualification:
        pool = pool.filter(pk__in=list(qualification_items(project).values_list("pk", flat=True)))
    item_id = pool.exclude(assignments__annotator=user).order_by("pk").values_list("pk", flat=True).first()
    if item_id is None:
        return None
    try:
        with transaction.atomic():
            return Assignment.objects.create(
                project=project, item_id=item_id, annotator=user, is_gold=True, expires_at=lease_deadline()
            )
    except IntegrityError:
        return None


# ---------------------------------------------------------------------------------------
# Scoring


def score_gold_answer(project: Project, item: Item, annotation: Annotation) -> float:
    """1 or 0 for a class; for shapes the F1 of regions matched at IoU >= 0.5 with the same class."""
    if project.has_regions:
        gold = [geometry_to_region(r["label"], r["kind"], r["geometry"]) for r in item.gold_regions or []]
        given = [
            geometry_to_region(r.label_class.key, r.kind, r.geometry)
            for r in annotation.regions.select_related("label_class")
        ]
        if not gold and not given:
            score = 1.0
        else:
            matched = len(match_regions(gold, given, 0.5, width=item.width, height=item.height, same_label=True))
            score = 2 * matched / (len(gold) + len(given))
    else:
        score = 1.0 if annotation.label_class_id == item.gold_class_id else 0.0
    Annotation.objects.filter(pk=annotation.pk).update(gold_score=score)
    annotation.gold_score = score
    _update_qualification(project, annotation.annotator)
    return score


def qualification_gate(user: User, project: Project) -> bool:
    """True while the user must work the qualification set; raises once they failed it."""
    settings = _review(project).get("qualification", {})
    if not settings.get("required"):
        return False
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None or membership.role != Membership.Role.ANNOTATOR:
        return False
    if membership.qualification == Membership.Qualification.PASSED:
        return False
    if not Item.objects.filter(project=project, is_gold=True).exists():
        return False
    if membership.qualification == Membership.Qualification.FAILED:
        result = qualification_result(project, user)
        raise NotAssigned(
            f"You did not pass this project's qualification set (accuracy {result['accuracy']:.0%}, "
            f"{settings.get('min_accuracy', 0.8):.0%} needed). Ask an admin to let you try again.",
            reason="qualification_failed",
        )
    return True


def qualification_result(project: Project, user: User) -> dict:
    ids = list(qualification_items(project).values_list("pk", flat=True))
    scores = Annotation.objects.filter(item_id__in=ids, annotator=user, gold_score__isnull=False).aggregate(
        answered=Count("pk"), accuracy=Avg("gold_score")
    )
    return {"required": len(ids), "answered": scores["answered"], "accuracy": scores["accuracy"] or 0.0}


def _update_qualification(project: Project, user: User | None) -> None:
    settings = _review(project).get("qualification", {})
    if user is None or not settings.get("required"):
        return
    result = qualification_result(project, user)
    if result["answered"] < result["required"]:
        return
    passed = result["accuracy"] >= float(settings.get("min_accuracy", 0.8))
    Membership.objects.filter(project=project, user=user, qualification=Membership.Qualification.PENDING).update(
        qualification=Membership.Qualification.PASSED if passed else Membership.Qualification.FAILED
    )


def reset_qualification(project: Project, member_id: int) -> Membership:
    """Let an annotator try the qualification set again, from the start."""
    membership = Membership.objects.filter(project=project, pk=member_id).first()
    if membership is None:
        raise InvalidInput(f"No member {member_id} in this project.")
    user_id = membership.user_id
    ids = list(qualification_items(project).values_list("pk", flat=True))
    with transaction.atomic():
        checks = Annotation.objects.filter(item_id__in=ids, annotator_id=user_id, gold_score__isnull=False)
        answer_days.answers_removed(checks)
        checks.delete()
        Assignment.objects.filter(item_id__in=ids, annotator_id=user_id, is_gold=True).delete()
        Membership.objects.filter(pk=membership.pk).update(qualification=Membership.Qualification.PENDING)
    membership.refresh_from_db()
    return membership
