"""The agreement page's numbers for one project, read from the items several annotators
labeled: Cohen's kappa for every pair, Fleiss' kappa overall and per class,
Krippendorff's alpha (annotators may label different subsets), region agreement for
shapes, and the items with the lowest agreement."""
from collections import defaultdict

from django.contrib.auth.models import User

from .formats.regions import geometry_to_region
from .models import Annotation, Consensus, Item, LabelClass, Project, Region
from .quality.agreement import fleiss_kappa, fleiss_kappa_per_class, krippendorff_alpha, pairwise_kappa
from .quality.regions import pairwise_region_agreement

MAX_ANSWERS = 200_000
LOWEST = 20


def _shared_answers(project: Project):
    """Counted human answers on the items several annotators answered (those have a
    consensus row), newest items first."""
    shared = Consensus.objects.filter(project=project).values("item_id")
    return (
        Annotation.objects.filter(project=project, annotator__isnull=False, gold_score__isnull=True, item_id__in=shared)
        .exclude(review_status=Annotation.Review.REJECTED)
        .order_by("-item_id")
    )


def agreement_report(project: Project) -> dict:
    answers = _shared_answers(project)
    names = dict(User.objects.filter(annotations__project=project).distinct().values_list("pk", "username"))
    report = {
        "kind": project.kind, "overlap": project.overlap, "annotators": [
            {"id": pk, "username": name} for pk, name in sorted(names.items(), key=lambda pair: pair[1])
        ],
        "lowest": _lowest(project),
    }
    if project.has_regions:
        report.update(_regions(project, answers))
    else:
        report.update(_classes(project, answers))
    return report


def _classes(project: Project, answers) -> dict:
    categories = list(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("key", flat=True))
    ratings: dict[int, dict[int, str]] = defaultdict(dict)
    by_item: dict[int, list[str]] = defaultdict(list)
    rows = answers.filter(label_class__isnull=False).values_list("annotator_id", "item_id", "label_class__key")
    for annotator, item, label in rows[:MAX_ANSWERS]:
        ratings[annotator][item] = label
        by_item[item].append(label)
    pairs = pairwise_kappa(ratings, labels=categories)
    return {
        "items": len(by_item),
        "sampled": len(by_item) and sum(len(v) for v in by_item.values()) >= MAX_ANSWERS,
        "pairs": [pair._asdict() for pair in pairs],
        "fleiss_kappa": fleiss_kappa(list(by_item.values()), categories) if by_item else None,
        "fleiss_per_class": fleiss_kappa_per_class(list(by_item.values()), categories) if by_item else {},
        "krippendorff_alpha": krippendorff_alpha(ratings, categories) if by_item else None,
    }


def _regions(project: Project, answers) -> dict:
    keys = dict(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("pk", "key"))
    answer_rows = list(answers.values_list("pk", "annotator_id", "item_id")[:20_000])
    per_annotator: dict[int, dict[int, list]] = defaultdict(dict)
    owner = {}
    for pk, annotator, item in answer_rows:
        per_annotator[annotator][item] = []
        owner[pk] = (annotator, item)
    for region in Region.objects.filter(annotation_id__in=list(owner)).order_by("order", "pk"):
        annotator, item = owner[region.annotation_id]
        per_annotator[annotator][item].append(geometry_to_region(keys[region.label_class_id], region.kind, region.geometry))
    items = {item for _, _, item in answer_rows}
    sizes = {pk: (w, h) for pk, w, h in Item.objects.filter(pk__in=items).values_list("pk", "width", "height")}
    iou = float((project.review or {}).get("consensus_iou", 0.5))
    pairs = pairwise_region_agreement(per_annotator, iou_threshold=iou, sizes=sizes)
    return {"items": len(items), "iou_threshold": iou, "pairs": [pair._asdict() for pair in pairs]}


def _lowest(project: Project) -> list[dict]:
    rows = (
        Consensus.objects.filter(project=project, agreement__isnull=False)
        .select_related("item", "label_class").order_by("agreement", "item_id")[:LOWEST]
    )
    return [
        {"item": row.item_id, "text": row.item.text[:200], "agreement": row.agreement, "status": row.status,
         "votes": row.votes, "label": row.label_class.key if row.label_class_id else None}
        for row in rows
    ]
