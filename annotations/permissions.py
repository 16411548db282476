"""One access function for projects, used by the API, the pages and the websocket."""
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, Subquery
from django.http import Http404

from .models import Membership, Project

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
    membership = Membership.objects.filter(project=project, user=user).only("role").first()
    return membership.role if membership else None


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def access_project(user: User | AnonymousUser, project_id: int, role: str = Membership.Role.ANNOTATOR) -> tuple[Project, str]:
    """Return (project, the user's role) or raise. Outsiders get Http404 so that project
    ids do not leak; members below `role` get ProjectAccessDenied."""
    projects = Project.objects.select_related("ontology").filter(pk=project_id)
    member = user.is_authenticated and not user.is_staff
    if member:  # the role comes with the project: one statement on every request
        projects = projects.annotate(
            member_role=Subquery(Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1])
        )
    project = projects.first()
    if project is None:
        raise Http404("No such project.")
    actual = project.member_role if member else role_in(user, project)
    if actual is None:
        raise Http404("No such project.")
    if not has_role(actual, role):
        raise ProjectAccessDenied(role)
    return project, actual


def visible_projects(user: User):
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)
