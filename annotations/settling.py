"""An item's final answer, settled from its annotators' answers.

One answer (overlap 1) becomes the label as it is. Several answers go through
consensus: a majority vote for classes, regions matched by IoU and kept by majority
for shapes. Ties, and winners short of the project's quorum, are left for a reviewer.
Answers a reviewer sent back do not count until they are fixed.
"""
from django.db.models import Q

from .formats.regions import geometry_to_region, region_to_geometry
from .models import Annotation, Consensus, Item, LabelClass, Project, Region
from .prepared import PreparedQuery, PreparedUnion
from .prepared_writes import Param, PreparedUpdate
from .quality.consensus import majority_vote, region_consensus


def counted_answers(item: Item):
    """The answers that count toward the item's label: not gold checks, not sent back."""
    return (
        Annotation.objects.filter(item=item)
        .exclude(review_status=Annotation.Review.REJECTED)
        .exclude(Q(gold_score__isnull=False))
        .order_by("created_at", "pk")
    )


# Run on every submit: compiled once (annotations/prepared.py).
ANSWER_FIELDS = ("pk", "label_class_id", "annotator_id", "created_at")
COUNTED_ANSWERS = PreparedQuery(
    lambda item_id: counted_answers(Item(pk=item_id)).values_list(*ANSWER_FIELDS), "item_id"
)
REVIEWED_CONSENSUS = PreparedQuery(
    lambda item_id: Consensus.objects.filter(item_id=item_id, status=Consensus.Status.REVIEWED).values_list("pk")[:1],
    "item_id",
)
# Both in one statement: answers in the order given (created_at, then pk).
SETTLE_READS = PreparedUnion((COUNTED_ANSWERS, (3, 0)), (REVIEWED_CONSENSUS, 0))


def settle_item(item: Item, project: Project) -> Consensus | None:
    """Recompute the item's status, final class and (overlap > 1) its consensus."""
    if item.is_gold:
        return None
    counted, reviewed = SETTLE_READS.rows(item_id=item.pk)
    if reviewed:  # a reviewer's decision stands
        return Consensus.objects.get(pk=reviewed[0][0])
    answers = [dict(zip(ANSWER_FIELDS, row, strict=True)) for row in counted]
    human = [a for a in answers if a["annotator_id"] is not None]
    imported_only = answers and not human
    if not imported_only and len(human) < project.overlap:
        _unsettle(item)
        Consensus.objects.filter(item=item).delete()
        return None
    if project.overlap == 1 or imported_only:
        last = answers[-1]
        _settle(item, last["label_class_id"], last["annotator_id"], last["created_at"])
        return None
    if project.has_regions:
        return _settle_regions(item, project, human)
    return _settle_classes(item, project, human)


def _settle_classes(item: Item, project: Project, answers: list[dict]) -> Consensus:
    keys = dict(LabelClass.objects.filter(pk__in={a["label_class_id"] for a in answers}).values_list("pk", "key"))
    vote = majority_vote([keys[a["label_class_id"]] for a in answers])
    status = Consensus.Status.AGREED
    winner_id = None
    if vote.label is None:
        status = Consensus.Status.TIE
    elif vote.votes[vote.label] < (project.review or {}).get("quorum", 1):
        status = Consensus.Status.BELOW_QUORUM
    else:
        winner_id = next(pk for pk, key in keys.items() if key == vote.label)
    consensus = _store(
        item, project, method=Consensus.Method.MAJORITY, status=status, label_class_id=winner_id,
        votes=dict(vote.votes), annotators=len(answers), agreement=vote.agreement,
    )
    if winner_id is None:
        _unsettle(item)
    else:
        last = [a for a in answers if a["label_class_id"] == winner_id][-1]
        _settle(item, winner_id, last["annotator_id"], last["created_at"])
    return consensus


def _settle_regions(item: Item, project: Project, answers: list[dict]) -> Consensus:
    keys = dict(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("pk", "key"))
    by_answer: dict[int, list] = {a["pk"]: [] for a in answers}
    for region in Region.objects.filter(annotation_id__in=list(by_answer)).order_by("order", "pk"):
        by_answer[region.annotation_id].append(geometry_to_region(keys[region.label_class_id], region.kind, region.geometry))
    per_answer = [by_answer[a["pk"]] for a in answers]
    iou = float((project.review or {}).get("consensus_iou", 0.5))
    clusters = region_consensus(per_answer, iou_threshold=iou, width=item.width, height=item.height)
    kept = sum(len(cluster.members) for cluster in clusters)
    drawn = sum(len(regions) for regions in per_answer)
    votes: dict[str, int] = {}
    for cluster in clusters:
        votes[cluster.label] = votes.get(cluster.label, 0) + 1
    consensus = _store(
        item, project, method=Consensus.Method.REGION_VOTE, status=Consensus.Status.AGREED, label_class_id=None,
        regions=[
            {"label": c.label, "kind": c.kind, "geometry": region_to_geometry(c), "support": c.support,
             "votes": dict(c.votes), "mean_iou": c.mean_iou}
            for c in clusters
        ],
        votes=votes, annotators=len(answers), agreement=kept / drawn if drawn else 1.0,
    )
    last = answers[-1]
    _settle(item, None, last["annotator_id"], last["created_at"])
    return consensus


def _store(item: Item, project: Project, **fields) -> Consensus:
    fields.setdefault("regions", [])
    consensus, _ = Consensus.objects.update_or_create(item=item, defaults={"project": project, **fields})
    return consensus


SETTLED = PreparedUpdate(lambda: (
    Item.objects.filter(pk=Param("item_id")),
    {"status": Item.Status.LABELED, "final_class_id": Param("final_class_id"),
     "final_annotator_id": Param("final_annotator_id"), "final_at": Param("final_at")},
))


def _settle(item: Item, label_class_id, annotator_id, at) -> None:
    SETTLED.run(item_id=item.pk, final_class_id=label_class_id, final_annotator_id=annotator_id, final_at=at)


def _unsettle(item: Item) -> None:
    Item.objects.filter(pk=item.pk).update(
        status=Item.Status.UNLABELED, final_class=None, final_annotator=None, final_at=None
    )
