"""Server-rendered pages; the data they show comes from the same services as the API."""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import render

from annotations.models import Membership
from annotations.permissions import ProjectAccessDenied, access_project, visible_projects


def _page(request, project_id, role, template, **context):
    try:
        project, my_role = access_project(request.user, project_id, role)
    except ProjectAccessDenied as exc:
        return HttpResponseForbidden(str(exc))
    return render(request, template, {"project": project, "role": my_role, **context})


@login_required
def project_list(request):
    return render(request, "frontend/project_list.html", {"projects": visible_projects(request.user)})


@login_required
def project_detail(request, project_id: int):
    return _page(request, project_id, Membership.Role.ANNOTATOR, "frontend/project_detail.html")


@login_required
def workspace(request, project_id: int):
    return _page(request, project_id, Membership.Role.ANNOTATOR, "frontend/workspace.html")


@login_required
def ontology_editor(request, project_id: int):
    return _page(request, project_id, Membership.Role.ADMIN, "frontend/ontology.html")
