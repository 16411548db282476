"""Server-rendered pages: thin shells around the same access checks as the API. The data
they show is loaded by each page's ES module from the REST API and kept live through the
project websocket."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from annotations.models import Membership, Project
from annotations.permissions import ProjectAccessDenied, access_project, role_in, visible_projects
from annotations.progress import item_counts


def _page(request, project_id, role, template, **context):
    try:
        project, my_role = access_project(request.user, project_id, role)
    except ProjectAccessDenied as exc:
        project = Project.objects.get(pk=project_id)
        context = {"project": project, "role": role_in(request.user, project), "message": str(exc)}
        return render(request, "frontend/forbidden.html", context, status=403)
    return render(request, template, {"project": project, "role": my_role, **context})


@login_required
def project_list(request):
    projects = visible_projects(request.user).order_by("name", "pk")
    roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
    rows = [
        {
            "project": project,
            "counts": item_counts(project.pk),
            "role": roles.get(project.pk) or ("admin" if request.user.is_staff else ""),
            "via_staff": project.pk not in roles,
        }
        for project in projects
    ]
    return render(request, "frontend/project_list.html", {"rows": rows})


@login_required
def project_detail(request, project_id: int):
    return _page(request, project_id, Membership.Role.ANNOTATOR, "frontend/project_detail.html")


@login_required
def workspace(request, project_id: int):
    project = Project.objects.filter(pk=project_id).only("kind").first()
    template = "frontend/image_workspace.html" if project and project.is_image else "frontend/workspace.html"
    return _page(request, project_id, Membership.Role.ANNOTATOR, template)


@login_required
def ontology_editor(request, project_id: int):
    return _page(request, project_id, Membership.Role.ADMIN, "frontend/ontology.html")


@login_required
def agreement_page(request, project_id: int):
    return _page(request, project_id, Membership.Role.REVIEWER, "frontend/agreement.html")


@login_required
def quality_page(request, project_id: int):
    return _page(request, project_id, Membership.Role.REVIEWER, "frontend/quality.html")


@login_required
def review_page(request, project_id: int):
    """The reviewers' queue and decisions; annotators get the forbidden page."""
    return _page(request, project_id, Membership.Role.REVIEWER, "frontend/review.html")


@login_required
def guide_page(request, project_id: int):
    """Every member reads the guide here; the template shows admins the editor and the
    others the form to propose an edit."""
    return _page(request, project_id, Membership.Role.ANNOTATOR, "frontend/guide.html")
