"""Threaded comments on items: annotators ask, reviewers and admins answer and resolve.
A thread is a top-level comment and its replies; `resolved` lives on the top one."""
from django.contrib.auth.models import User
from django.db import transaction

from .errors import InvalidInput, NotAssigned
from .events import publish_on_commit
from .models import Assignment, Comment, Item, ItemEvent, Membership, Project
from .permissions import has_role

MAX_BODY = 5000


def _visible_item(project: Project, user: User, role: str, item_id: int) -> Item:
    """Annotators see the comments of items they were given; reviewers and admins of all."""
    item = Item.objects.filter(pk=item_id, project=project).first()
    if item is None:
        raise InvalidInput(f"No item {item_id} in this project.")
    if not has_role(role, Membership.Role.REVIEWER) and not Assignment.objects.filter(item=item, annotator=user).exists():
        raise NotAssigned("You can comment only on items you were given.")
    return item


def threads(project: Project, user: User, role: str, item_id: int) -> list[Comment]:
    item = _visible_item(project, user, role, item_id)
    return list(
        Comment.objects.filter(item=item, parent=None).select_related("author", "resolved_by")
        .prefetch_related("replies__author").order_by("created_at", "pk")
    )


def add_comment(project: Project, user: User, role: str, item_id: int, body: str, parent_id: int | None = None) -> Comment:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something in `body`.")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"Keep a comment under {MAX_BODY:,} characters.")
    item = _visible_item(project, user, role, item_id)
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(pk=parent_id, item=item).first()
        if parent is None:
            raise InvalidInput(f"No comment {parent_id} on this item to reply to.")
        parent = parent.parent or parent
    with transaction.atomic():
        comment = Comment.objects.create(project=project, item=item, parent=parent, author=user, body=body)
        ItemEvent.objects.create(project=project, item=item, actor=user, action=ItemEvent.Action.COMMENTED,
                                 detail={"comment": comment.pk, "reply_to": parent.pk if parent else None})
    publish_on_commit(project.pk, "comment.added", item=item.pk, comment=comment.pk)
    return comment


def set_resolved(project: Project, user: User, role: str, comment_id: int, resolved: bool) -> Comment:
    """Reviewers and admins close a question; the one who asked may close their own."""
    comment = Comment.objects.filter(pk=comment_id, project=project).select_related("item").first()
    if comment is None:
        raise InvalidInput(f"No comment {comment_id} in this project.")
    thread = comment.parent or comment
    if not has_role(role, Membership.Role.REVIEWER) and thread.author_id != user.pk:
        raise NotAssigned("Only a reviewer, an admin or the one who asked can resolve this question.")
    with transaction.atomic():
        Comment.objects.filter(pk=thread.pk).update(resolved=resolved, resolved_by=user if resolved else None)
        if resolved:
            ItemEvent.objects.create(project=project, item=comment.item, actor=user, action=ItemEvent.Action.RESOLVED,
                                     detail={"comment": thread.pk})
    thread.refresh_from_db()
    publish_on_commit(project.pk, "comment.added", item=thread.item_id, comment=thread.pk)
    return thread


def open_questions(project: Project):
    """Unresolved threads, oldest first, for the reviewers' list."""
    return Comment.objects.filter(project=project, parent=None, resolved=False).select_related("author", "item").order_by(
        "created_at", "pk"
    )
