"""Labeling workflows: claim the next items, submit, skip, undo.

Every claim is a conditional UPDATE of `Item.assigned_count` inside a transaction,
so overlap holds on SQLite (where `select_for_update` does nothing) as on PostgreSQL.
"""
import random
import time
import uuid
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from activelearning import answer_days
from activelearning.models import QueueEntry

from .errors import InvalidInput, ItemGone, LabelerError, NotAssigned, UnknownClass
from .events import progress_changed_on_commit, publish_on_commit
from .models import Annotation, Assignment, Item, ItemEvent, LabelClass, Project
from .prepared import PreparedQuery, PreparedRow, PreparedUnion
from .prepared_writes import Param, PreparedInsert, PreparedUpdate

CANDIDATES_PER_TRY = 20
BOUNDS_MAX_AGE_S = 10
SWEEP_EVERY_S = 5


def lease_deadline():
    return timezone.now() + timedelta(seconds=settings.LABELER_LEASE_SECONDS)


_last_sweep: dict[int, float] = {}


def sweep_expired_claims_if_due(project: Project) -> bool:
    """Release lapsed claims at most once per SWEEP_EVERY_S per project and process:
    leases last LABELER_LEASE_SECONDS (half an hour by default), so looking on every
    claim would only cost a statement. A claim that comes up short sweeps at once
    (claim_tasks), so a lapsed item is never kept from someone who needs work."""
    now = time.monotonic()
    if now - _last_sweep.get(project.pk, float("-inf")) < SWEEP_EVERY_S:
        return False
    _last_sweep[project.pk] = now
    release_expired_claims(project)
    return True


def release_expired_claims(project: Project) -> int:
    """Give abandoned claims back to the pool; the annotator may get them again later."""
    expired = list(
        Assignment.objects.filter(
            project=project, status=Assignment.Status.ACTIVE, expires_at__lt=timezone.now()
        ).values_list("pk", "item_id", "is_gold")[:500]
    )
    released = 0
    for assignment_id, item_id, is_gold in expired:
        with transaction.atomic():
            if Assignment.objects.filter(pk=assignment_id, status=Assignment.Status.ACTIVE).update(
                status=Assignment.Status.EXPIRED
            ):
                if not is_gold:
                    Item.objects.filter(pk=item_id, assigned_count__gt=0).update(assigned_count=F("assigned_count") - 1)
                released += 1
    return released


MINE = [Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED, Assignment.Status.RETURNED]


def _free_items(project_id: int, overlap: int, user_id: int):
    """Unlabeled items with room under the overlap, other than those this user holds,
    answered or skipped."""
    return Item.objects.filter(
        project_id=project_id, status=Item.Status.UNLABELED, assigned_count__lt=overlap, is_gold=False
    ).filter(~Exists(Assignment.objects.filter(item=OuterRef("pk"), annotator_id=user_id, status__in=MINE)))


def _first_ids(items):
    return items.order_by("pk").values_list("pk")[:CANDIDATES_PER_TRY]


# The claim's candidate queries, compiled once per process (annotations/prepared.py).
FREE = ("project_id", "overlap", "user_id")
EVAL_CANDIDATES = PreparedQuery(lambda **free: _first_ids(_free_items(**free).filter(split=Item.Split.EVAL)), *FREE)
QUEUE_CANDIDATES = PreparedQuery(
    lambda **free: QueueEntry.objects.filter(
        project_id=free["project_id"], item__in=_free_items(**free).filter(split=Item.Split.POOL)
    ).order_by("rank").values_list("item_id", "rank", "round__number", "predicted_class_id", "confidence")[
        :CANDIDATES_PER_TRY
    ],
    *FREE,
)
POOL_FROM = PreparedQuery(
    lambda start, **free: _first_ids(_free_items(**free).filter(split=Item.Split.POOL, pk__gte=start)), *FREE, "start"
)
POOL_START = PreparedQuery(lambda **free: _first_ids(_free_items(**free).filter(split=Item.Split.POOL)), *FREE)
# The first three in one statement: the evaluation split, the queue, a walk from `start`.
FIRST_CANDIDATES = PreparedUnion((EVAL_CANDIDATES, 0), (QUEUE_CANDIDATES, 1), (POOL_FROM, 0))


# Read on every claim and submit.
HELD_CLAIMS = PreparedQuery(
    lambda project_id, user_id: Assignment.objects.filter(
        project_id=project_id, annotator_id=user_id, status__in=[Assignment.Status.RETURNED, Assignment.Status.ACTIVE]
    ),
    "project_id", "user_id",
)
CLASS_BY_ID = PreparedQuery(lambda class_id: LabelClass.objects.filter(pk=class_id)[:1], "class_id")
ITEM_IN_PROJECT = PreparedQuery(
    lambda item_id, project_id: Item.objects.filter(pk=item_id, project_id=project_id)[:1], "item_id", "project_id"
)
CLAIM_ON_ITEM = PreparedQuery(
    lambda item_id, user_id: Assignment.objects.filter(item_id=item_id, annotator_id=user_id)[:1], "item_id", "user_id"
)
CLASS_BY_KEY = PreparedQuery(
    lambda ontology_id, key: LabelClass.objects.filter(ontology_id=ontology_id, key=key)[:1], "ontology_id", text=("key",)
)
# The submit's reads before its transaction, in one statement: the item, the class
# named (label projects) and the user's claim on the item.
ITEM_CLASS_CLAIM = PreparedRow(ITEM_IN_PROJECT, CLASS_BY_KEY, CLAIM_ON_ITEM)
ITEM_CLAIM = PreparedRow(ITEM_IN_PROJECT, CLAIM_ON_ITEM)


# Written on every claim and submit, compiled once per process (annotations/prepared_writes.py).
TAKE_ITEM = PreparedUpdate(lambda: (
    Item.objects.filter(pk=Param("item_id"), status=Item.Status.UNLABELED, assigned_count__lt=Param("overlap"),
                        is_gold=False),
    {"assigned_count": F("assigned_count") + 1},
))
CLAIM_FIELDS = ["project", "status", "expires_at", "model_version", "rank", "hint_class", "hint_confidence"]
# A new claim, or this user's expired or released claim on the item taken up again.
CLAIM_ROW = PreparedInsert(
    Assignment, "project_id", "item_id", "annotator_id", "status", "created_at", "expires_at", "model_version", "rank",
    "hint_class_id", "hint_confidence", update_fields=CLAIM_FIELDS, unique_fields=["item", "annotator"],
)
CLAIM_SUBMITTED = PreparedUpdate(lambda: (
    Assignment.objects.filter(pk=Param("assignment_id"), status=Param("status")),
    {"status": Assignment.Status.SUBMITTED},
))
ANSWER_ROW = PreparedInsert(
    Annotation, "project_id", "item_id", "annotator_id", "assignment_id", "label_class_id", "client_id", "duration_ms",
    "created_at", "updated_at",
)
EVENT_ROW = PreparedInsert(ItemEvent, "project_id", "item_id", "actor_id", "action", "annotation_id", "created_at")


class QueueOffer(NamedTuple):
    """A model queue entry, as the claim records it."""

    item_id: int
    rank: int
    model_version: int
    predicted_class_id: int | None
    confidence: float | None


def _candidates(user: User, project: Project):
    """Yield (item_id, queue offer or None, whether the item may have a queue entry) in
    the order work should be done: the evaluation split first, then the model's queue,
    then random items. The first of each kind come in one statement; the walk goes on
    from other random points only when those are taken."""
    free = {"project_id": project.pk, "overlap": project.overlap, "user_id": user.pk}
    low, high = _recent_open_pool_bounds(project)
    start = random.randint(low, high) if low is not None else 0
    evaluation, queued, walk = FIRST_CANDIDATES.rows(**free, start=start)
    for item_id, *_ in evaluation:
        yield item_id, None, False
    offers = [QueueOffer(*row) for row in queued]
    for offer in offers:
        yield offer.item_id, offer, True
    # Fewer entries than asked for means every free queued item was offered above:
    # the items found below have no queue entry to remove when taken.
    maybe_queued = len(offers) == CANDIDATES_PER_TRY
    if low is None:
        return
    for item_id, *_ in walk:
        yield item_id, None, maybe_queued
    for _ in range(2):
        for (item_id,) in POOL_FROM.rows(**free, start=random.randint(low, high)):
            yield item_id, None, maybe_queued
    for (item_id,) in POOL_START.rows(**free):
        yield item_id, None, maybe_queued


_bounds_seen: dict[int, tuple[float, int | None, int | None]] = {}


def _recent_open_pool_bounds(project: Project) -> tuple[int | None, int | None]:
    """The open pool's id range as this process last read it, at most BOUNDS_MAX_AGE_S
    old. A stale range only shifts where the random walk starts: the walk checks every
    item it yields, and the last resort reads the pool from its lowest id."""
    seen = _bounds_seen.get(project.pk)
    if seen is None or time.monotonic() - seen[0] > BOUNDS_MAX_AGE_S:
        seen = (time.monotonic(), *_open_pool_bounds(project))
        if seen[1] is not None:  # an empty pool is read again next time: items may arrive
            _bounds_seen[project.pk] = seen
    return seen[1], seen[2]


def _open_pool_bounds(project: Project) -> tuple[int | None, int | None]:
    """The lowest and highest id of the unlabeled pool, read from the ends of the
    `item_open_pool` partial index (two single-row lookups, not a scan: a MIN and a MAX
    in one query, or with the per-user filters, would read every open item)."""
    open_pool = Item.objects.filter(
        project=project, status=Item.Status.UNLABELED, split=Item.Split.POOL, is_gold=False
    ).values_list("pk", flat=True)
    return open_pool.order_by("pk").first(), open_pool.order_by("-pk").first()


def _try_claim(
    user: User, project: Project, item_id: int, offer: QueueOffer | None, maybe_queued: bool
) -> Assignment | None:
    with transaction.atomic():
        if not TAKE_ITEM.run(item_id=item_id, overlap=project.overlap):
            return None
        claim = Assignment(
            project=project,
            item_id=item_id,
            annotator=user,
            status=Assignment.Status.ACTIVE,
            created_at=timezone.now(),
            expires_at=lease_deadline(),
            model_version=offer.model_version if offer else None,
            rank=offer.rank + 1 if offer else None,
            hint_class_id=offer.predicted_class_id if offer else None,
            hint_confidence=offer.confidence if offer else None,
        )
        claim.pk = CLAIM_ROW.run(**{name: getattr(claim, name) for name in CLAIM_ROW.names})
        claim._state.adding = False
        if maybe_queued:
            QueueEntry.objects.filter(item_id=item_id, item__assigned_count__gte=project.overlap).delete()
        return claim


def claim_tasks(user: User, project: Project, want: int = 2) -> list[Assignment]:
    """The user's live claims, topped up to `want` (the current item and the next,
    so the page never waits between items)."""
    from .gold import claim_gold, qualification_gate

    want = max(1, min(want, 10))
    swept = sweep_expired_claims_if_due(project)
    held = _held_claims(user, project)
    if qualification_gate(user, project):
        while len(held) < want and (gold := claim_gold(user, project, qualification=True)) is not None:
            held.append(gold)
        return _with_items(held)
    _top_up(user, project, held, want)
    if len(held) < want and not swept and release_expired_claims(project):
        _top_up(user, project, held, want)  # lapsed claims came back: look again
    return _with_items(held)


def _top_up(user: User, project: Project, held: list[Assignment], want: int) -> None:
    """Claim gold checks when due and the best free items until `held` has `want`."""
    from .gold import claim_gold, gold_turn

    seen = {task.item_id for task in held}
    candidates = _candidates(user, project)
    while len(held) < want:
        if gold_turn(user, project) and (gold := claim_gold(user, project)) is not None:
            held.append(gold)
            continue
        item_id, offer, maybe_queued = next(candidates, (None, None, False))
        if item_id is None:
            break
        if item_id in seen:
            continue
        seen.add(item_id)
        assignment = _try_claim(user, project, item_id, offer, maybe_queued)
        if assignment is not None:
            held.append(assignment)


def _held_claims(user: User, project: Project) -> list[Assignment]:
    """The user's open claims: answers a reviewer sent back first (the annotator fixes
    these before new work), then live claims in the order taken."""
    return sorted(HELD_CLAIMS.instances(project_id=project.pk, user_id=user.pk), key=_claim_order)


def _with_items(claims: list[Assignment]) -> list[Assignment]:
    """Each claim with its item and hint class loaded, as the task's page shows them: the
    items in one compiled lookup (a user holds a few claims), not a join built per request."""
    missing = [claim.item_id for claim in claims if "item" not in claim._state.fields_cache]
    items = {item.pk: item for item in _items_by_id(missing)} if missing else {}
    for claim in claims:
        cache = claim._state.fields_cache
        if "item" not in cache:
            cache["item"] = items.get(claim.item_id)
        if "hint_class" not in cache:
            cache["hint_class"] = CLASS_BY_ID.first(class_id=claim.hint_class_id) if claim.hint_class_id else None
    return claims


_items_by_count: dict[int, PreparedQuery] = {}


def _items_by_id(ids: list[int]) -> list[Item]:
    """The items with these ids, through a query compiled once for each number of ids."""
    query = _items_by_count.get(len(ids))
    if query is None:
        names = [f"id{n}" for n in range(len(ids))]
        query = _items_by_count[len(ids)] = PreparedQuery(
            lambda **ids: Item.objects.filter(pk__in=[ids[name] for name in names]), *names
        )
    return query.instances(**{f"id{n}": item_id for n, item_id in enumerate(ids)})


def _claim_order(task: Assignment) -> tuple:
    if task.status == Assignment.Status.RETURNED:
        return (0, 0.0, task.pk)
    return (1, task.created_at.timestamp(), task.pk)


def release_claims(user: User, project: Project, keep: list[int]) -> int:
    """Give back the claims the page has not shown yet (after the queue was re-ranked)."""
    released = 0
    for assignment in Assignment.objects.filter(project=project, annotator=user, status=Assignment.Status.ACTIVE).exclude(
        pk__in=keep
    ):
        with transaction.atomic():
            if Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ACTIVE).update(
                status=Assignment.Status.RELEASED
            ):
                if not assignment.is_gold:
                    Item.objects.filter(pk=assignment.item_id, assigned_count__gt=0).update(
                        assigned_count=F("assigned_count") - 1
                    )
                released += 1
    return released


def resolve_class(project: Project, key: str) -> LabelClass:
    if not isinstance(key, str):  # a body that is JSON but not through a serializer
        raise InvalidInput(f"`label` is a class key, as text; got {type(key).__name__}.")
    label = CLASS_BY_KEY.first(ontology_id=project.ontology_id, key=key)
    if label is None:
        known = ", ".join(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("key", flat=True))
        raise UnknownClass(f"Unknown class {key!r}; use one of the project's class keys: {known}.")
    return label


def _settle_item(item: Item, project: Project) -> None:
    from .review import review_low_agreement
    from .settling import settle_item

    review_low_agreement(project, settle_item(item, project))


def submit_annotation(
    user: User,
    project: Project,
    item_id: int,
    label_key: str | None,
    client_id: uuid.UUID | None = None,
    duration_ms: int | None = None,
    regions: list[dict] | None = None,
) -> tuple[Annotation, bool]:
    """Store one answer: a class, or (detection and segmentation) a list of regions.
    A repeat with the same client id returns the stored answer (created=False); an
    item that is not the user's is refused; bad geometry is refused whole."""
    from .regions import create_regions

    # A repeat of a stored answer is found where the new answer cannot be taken (the
    # item answered, the claim submitted, or what the answer names gone since), not
    # looked for first: the first try of every answer would pay for the rare repeat.
    try:
        item, label, clean_regions, claim = _read_answer(user, project, item_id, label_key, regions)
    except LabelerError:
        if (existing := _stored_with_client_id(user, client_id)) is not None:
            return existing, False
        raise
    if claim is not None and claim.status == Assignment.Status.RETURNED:
        # A late repeat of the answer the reviewer sent back is not a fix.
        if (existing := _stored_with_client_id(user, client_id)) is not None:
            return existing, False
        try:
            return _resubmit(user, project, item, claim, label, clean_regions, client_id, duration_ms), True
        except NotAssigned:
            if (existing := _stored_with_client_id(user, client_id)) is not None:
                return existing, False
            raise
    try:
        with transaction.atomic():
            assignment = _take_assignment_for_submit(project, item, claim)
            annotation = _new_answer(project, item, user, assignment, label, client_id, duration_ms)
            create_regions(annotation, clean_regions)
            if assignment.is_gold:
                from .gold import score_gold_answer

                score_gold_answer(project, item, annotation)
            else:
                _settle_item(item, project)
                if connection.vendor == "sqlite":  # one writer at a time: no second write transaction
                    count_label_for_training(project)
                else:  # hold the project row's lock for one statement, not the whole submit
                    transaction.on_commit(lambda: count_label_for_training(project))
                from .review import review_on_submit

                review_on_submit(project, annotation, user)
            answer_days.answer_added(annotation)
            EVENT_ROW.run(project_id=project.pk, item_id=item.pk, actor_id=user.pk, action=ItemEvent.Action.SUBMITTED,
                          annotation_id=annotation.pk)
    except (IntegrityError, NotAssigned) as exc:
        # The same answer sent twice at once (a retry racing the original): the one
        # that lost finds the item taken, and answers with the one stored.
        if (existing := _stored_with_client_id(user, client_id)) is not None:
            return existing, False
        if isinstance(exc, NotAssigned):
            raise
        raise NotAssigned("You have already answered this item.", item=item_id) from None
    progress_changed_on_commit(project.pk)
    return annotation, True


def _new_answer(project, item, user, assignment, label, client_id, duration_ms) -> Annotation:
    now = timezone.now()
    annotation = Annotation(
        project=project, item=item, annotator=user, assignment=assignment, label_class=label, client_id=client_id,
        duration_ms=duration_ms, created_at=now, updated_at=now,
    )
    annotation.pk = ANSWER_ROW.run(**{name: getattr(annotation, name) for name in ANSWER_ROW.names})
    annotation._state.adding = False
    return annotation


def _read_answer(user: User, project: Project, item_id: int, label_key, regions: list[dict] | None):
    """The item answered, the class or checked regions the answer gives it, and the
    user's claim on the item (None when there is none)."""
    from .regions import validate_regions

    free = {"item_id": item_id, "project_id": project.pk, "user_id": user.pk}
    if not project.has_regions and label_key and isinstance(label_key, str):
        item, label, claim = ITEM_CLASS_CLAIM.first_of_each(**free, ontology_id=project.ontology_id, key=label_key)
    else:
        (item, claim), label = ITEM_CLAIM.first_of_each(**free), None
    if item is None:
        raise ItemGone("This item no longer exists (it was deleted); ask for the next task.", item=item_id)
    if project.has_regions:
        if regions is None:
            raise InvalidInput("This project labels regions: send `regions` (an empty list when the image shows none).")
        return item, None, validate_regions(project, item, regions), claim
    if not label_key:
        raise InvalidInput("Send `label`: the key of the class you chose.")
    return item, label or resolve_class(project, label_key), [], claim


def _stored_with_client_id(user: User, client_id: uuid.UUID | None) -> Annotation | None:
    if client_id is None:
        return None
    return Annotation.objects.filter(annotator=user, client_id=client_id).first()


def _resubmit(user, project, item, assignment, label, clean_regions, client_id, duration_ms) -> Annotation:
    """The annotator's fix of an answer a reviewer sent back: it replaces the answer and
    goes back to review."""
    from .regions import create_regions
    from .review import answer_snapshot, record

    with transaction.atomic():
        if not Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.RETURNED).update(
            status=Assignment.Status.SUBMITTED
        ):
            raise NotAssigned("This fix was just submitted from another tab.", item=item.pk)
        annotation = Annotation.objects.select_related("label_class", "project").get(item=item, annotator=user)
        before = answer_snapshot(annotation)
        annotation.label_class = label
        annotation.review_status = Annotation.Review.PENDING
        if client_id is not None:
            annotation.client_id = client_id
        answer_days.answer_retimed(annotation, duration_ms)
        if duration_ms is not None:
            annotation.duration_ms = duration_ms
        annotation.save(update_fields=["label_class", "review_status", "client_id", "duration_ms", "updated_at"])
        if project.has_regions:
            annotation.regions.all().delete()
            create_regions(annotation, clean_regions)
        record(item, user, ItemEvent.Action.RESUBMITTED, annotation, before=before, after=answer_snapshot(annotation),
               reason=annotation.review_reason)
        _settle_item(item, project)
    publish_on_commit(project.pk, "review.changed", item=item.pk)
    progress_changed_on_commit(project.pk)
    return annotation


def _take_assignment_for_submit(project: Project, item: Item, assignment: Assignment | None) -> Assignment:
    """Mark the user's claim on `item` (read just before) submitted. Each change is
    conditional, so a claim that changed since it was read is never overwritten."""
    if assignment is None:
        raise NotAssigned("This item is not assigned to you; ask for the next task.", item=item.pk)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise NotAssigned("You have already answered this item.", item=item.pk)
    as_read = {"assignment_id": assignment.pk, "status": assignment.status}
    if assignment.status == Assignment.Status.ACTIVE or assignment.is_gold:
        if not CLAIM_SUBMITTED.run(**as_read):
            raise NotAssigned("This item was just submitted from another tab.", item=item.pk)
        return assignment
    # A lapsed, released or skipped claim: take the item back if it is still free,
    # so a slow annotator loses nothing.
    taken = Item.objects.filter(pk=item.pk, status=Item.Status.UNLABELED, assigned_count__lt=project.overlap).update(
        assigned_count=F("assigned_count") + 1
    )
    if not taken:
        raise NotAssigned("Your claim on this item lapsed and someone else took it; ask for the next task.", item=item.pk)
    if not CLAIM_SUBMITTED.run(**as_read):
        raise NotAssigned("This item was just submitted from another tab.", item=item.pk)
    return assignment


def _label_counted(*conditions):
    return PreparedUpdate(lambda: (
        Project.objects.filter(*conditions, pk=Param("project_id")),
        {"labels_since_round": F("labels_since_round") + 1},
    ))


LABEL_COUNTED = _label_counted()
LABEL_COUNTED_BELOW = _label_counted(Q(labels_since_round__lt=Param("below")))


def count_label_for_training(project: Project) -> None:
    """Add one to the labels since the last round; ask for a round (once committed) when
    the trigger says so. On PostgreSQL the submit calls this after its commit, so that
    concurrent submits hold the project row's lock for one UPDATE each, not in turn for
    their whole transaction."""
    from activelearning.services import request_round

    if project.retrain_trigger != Project.Trigger.LABELS:
        LABEL_COUNTED.run(project_id=project.pk)
        return
    # One statement for all but the label that reaches the trigger.
    if LABEL_COUNTED_BELOW.run(project_id=project.pk, below=project.retrain_every - 1):
        return
    row = Project.objects.filter(pk=project.pk)
    if row.filter(labels_since_round__gte=project.retrain_every - 1).update(labels_since_round=0):
        transaction.on_commit(lambda: request_round(project.pk, reason="labels"))


def skip_item(user: User, project: Project, assignment_id: int) -> Assignment:
    """Hand the item back to others; the skipper is not offered it again."""
    with transaction.atomic():
        assignment = Assignment.objects.filter(pk=assignment_id, project=project, annotator=user).first()
        if assignment is None:
            raise NotAssigned("This task is not yours; ask for the next task.")
        if not Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ACTIVE).update(
            status=Assignment.Status.SKIPPED
        ):
            raise NotAssigned("Only a task you hold open can be skipped.")
        if not assignment.is_gold:
            Item.objects.filter(pk=assignment.item_id, assigned_count__gt=0).update(
                assigned_count=F("assigned_count") - 1
            )
    assignment.status = Assignment.Status.SKIPPED
    return assignment


def undo_last_submit(user: User, project: Project) -> Assignment:
    """Take back the user's most recent answer in the project and reopen its item."""
    with transaction.atomic():
        annotation = (
            Annotation.objects.filter(project=project, annotator=user, source=Annotation.Source.HUMAN)
            .order_by("-updated_at", "-pk")
            .select_related("item")
            .first()
        )
        if annotation is None:
            raise InvalidInput("There is no answer of yours to undo in this project.")
        from .review import guard_annotator_edit

        guard_annotator_edit(annotation)
        assignment = Assignment.objects.filter(item=annotation.item, annotator=user).first()
        item = annotation.item
        answer_days.answers_removed(Annotation.objects.filter(pk=annotation.pk))
        annotation.delete()
        if assignment is None:
            assignment = Assignment.objects.create(
                project=project, item=item, annotator=user, expires_at=lease_deadline()
            )
        else:
            Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.ACTIVE, expires_at=lease_deadline())
        _settle_item(item, project)
    assignment.refresh_from_db()
    progress_changed_on_commit(project.pk)
    return assignment
