"""What the review pages and the API show of an item: its answers side by side, its
consensus, its history and its comment threads, as plain JSON-ready dicts."""
from .models import Annotation, Comment, Consensus, Item, ItemEvent


def item_payload(item: Item) -> dict:
    data = {"id": item.pk, "text": item.text, "split": item.split, "status": item.status, "is_gold": item.is_gold,
            "final_label": item.final_class.key if item.final_class_id else None, "image": None}
    if item.media:
        data["image"] = {"url": f"/api/projects/{item.project_id}/items/{item.pk}/media/",
                         "width": item.width, "height": item.height,
                         "video": item.video_id, "frame_index": item.frame_index}
    return data


def answer_payload(annotation: Annotation, regions: list[dict] | None = None) -> dict:
    return {
        "id": annotation.pk,
        "annotator": annotation.annotator.username if annotation.annotator_id else None,
        "annotator_id": annotation.annotator_id,
        "source": annotation.source,
        "label": annotation.label_class.key if annotation.label_class_id else None,
        "regions": regions if regions is not None else [],
        "review_status": annotation.review_status,
        "review_reason": annotation.review_reason,
        "reviewed_by": annotation.reviewed_by.username if annotation.reviewed_by_id else None,
        "gold_score": annotation.gold_score,
        "duration_ms": annotation.duration_ms,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
    }


def answers_of(item: Item) -> list[dict]:
    return answers_by_item([item])[item.pk]


def answers_by_item(items: list[Item]) -> dict[int, list[dict]]:
    """Each item's answers (with their regions on images), for a whole page in two queries."""
    answers = list(
        Annotation.objects.filter(item__in=[item.pk for item in items])
        .select_related("annotator", "label_class", "reviewed_by").order_by("pk")
    )
    regions: dict[int, list] = {answer.pk: [] for answer in answers}
    with_shapes = {item.pk for item in items if item.width}
    if with_shapes:
        from .models import Region

        shaped = [answer.pk for answer in answers if answer.item_id in with_shapes]
        for region in Region.objects.filter(annotation_id__in=shaped).select_related("label_class"):
            regions[region.annotation_id].append({
                "label": region.label_class.key, "kind": region.kind, "geometry": region.geometry,
                "from_model": region.from_model, "model_confidence": region.model_confidence,
            })
    by_item: dict[int, list[dict]] = {item.pk: [] for item in items}
    for answer in answers:
        by_item[answer.item_id].append(answer_payload(answer, regions[answer.pk]))
    return by_item


def consensus_payload(item: Item) -> dict | None:
    return consensus_by_item([item]).get(item.pk)


def consensus_by_item(items: list[Item]) -> dict[int, dict]:
    """The consensus of each item that has one, for a whole page in one query."""
    rows = Consensus.objects.filter(item__in=[item.pk for item in items]).select_related("label_class", "decided_by")
    return {consensus.item_id: {
        "method": consensus.method, "status": consensus.status,
        "label": consensus.label_class.key if consensus.label_class_id else None,
        "regions": consensus.regions, "votes": consensus.votes, "annotators": consensus.annotators,
        "agreement": consensus.agreement,
        "decided_by": consensus.decided_by.username if consensus.decided_by_id else None,
    } for consensus in rows}


def event_payload(event: ItemEvent) -> dict:
    return {"id": event.pk, "action": event.action, "actor": event.actor.username if event.actor_id else None,
            "annotation": event.annotation_id, "detail": event.detail, "created_at": event.created_at}


def comment_payload(comment: Comment, replies: bool = True) -> dict:
    data = {
        "id": comment.pk, "item": comment.item_id, "author": comment.author.username if comment.author_id else None,
        "body": comment.body, "resolved": comment.resolved,
        "resolved_by": comment.resolved_by.username if comment.resolved_by_id else None,
        "created_at": comment.created_at,
    }
    if replies:
        data["replies"] = [comment_payload(reply, replies=False) for reply in comment.replies.all()]
    return data


def review_item_payload(item: Item) -> dict:
    """Everything a reviewer needs to decide on one item."""
    from .review import history

    threads = Comment.objects.filter(item=item, parent=None).select_related("author", "resolved_by").prefetch_related(
        "replies__author"
    )
    return {
        "item": item_payload(item),
        "answers": answers_of(item),
        "consensus": consensus_payload(item),
        "history": [event_payload(event) for event in history(item)],
        "comments": [comment_payload(thread) for thread in threads],
    }
