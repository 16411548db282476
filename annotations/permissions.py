"""One access function for projects, used by the API, the pages and the websocket."""
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, Subquery
from django.http import Http404

from .models import Membership, Project
from .prepared import PreparedQuery

# Asked on every request: compiled once (annotations/prepared.py).
MEMBER_ROLE = PreparedQuery(
    lambda project_id, user_id: Membership.objects.filter(project_id=project_id, user_id=user_id).values_list("role")[:1],
    "project_id", "user_id",
)
PROJECT_BY_ID = PreparedQuery(lambda project_id: Project.objects.filter(pk=project_id)[:1], "project_id")
# The project and the member's role in one statement (`member_role` is None for outsiders).
PROJECT_WITH_ROLE = PreparedQuery(
    lambda project_id, user_id: Project.objects.filter(pk=project_id).annotate(
        member_role=Subquery(Membership.objects.filter(project=OuterRef("pk"), user_id=user_id).values("role")[:1])
    )[:1],
    "project_id", "user_id",
)
ROLE_RANK = {Membership.Role.ANNOTATOR: 1, Membership.Role.REVIEWER: 2, Membership.Role.ADMIN: 3}


class ProjectAccessDenied(Exception):
    """A member whose role is below what the action needs."""

    def __init__(self, needed: str):
        super().__init__(f"This needs the {needed} role in the project.")
        self.needed = needed


def role_in(user: User | AnonymousUser, project: Project) -> str | None:
    """The user's role, with staff acting as admins everywhere; None for outsiders."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Membership.Role.ADMIN
    found = MEMBER_ROLE.rows(project_id=project.pk, user_id=user.pk)
    return found[0][0] if found else None


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def access_project(user: User | AnonymousUser, project_id: int, role: str = Membership.Role.ANNOTATOR) -> tuple[Project, str]:
    """Return (project, the user's role) or raise. Outsiders get Http404 so that project
    ids do not leak; members below `role` get ProjectAccessDenied."""
    # An id no database column can hold names no project (as Django's own lookups do).
    if not 0 < project_id < 2**63:
        raise Http404("No such project.")
    if user.is_authenticated and not user.is_staff:
        project = PROJECT_WITH_ROLE.first(project_id=project_id, user_id=user.pk)
        actual = project.member_role if project is not None else None
    else:
        project = PROJECT_BY_ID.first(project_id=project_id)
        actual = role_in(user, project) if project is not None else None
    if actual is None:  # no such project, or not the user's
        raise Http404("No such project.")
    if not has_role(actual, role):
        raise ProjectAccessDenied(role)
    return project, actual


def visible_projects(user: User):
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)
