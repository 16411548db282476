"""REST endpoints for a project's configuration file (YAML) and for adding members in bulk."""
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from .configuration import create_from_configuration, export_configuration, import_configuration
from .errors import InvalidInput
from .models import Membership
from .permissions import access_project

ADMIN = Membership.Role.ADMIN
MAX_MEMBERS = 500


def _file_text(request) -> bytes:
    upload = request.FILES.get("file")
    if upload is not None:
        return upload.read(1024 * 1024 + 1)
    text = request.data.get("yaml") if hasattr(request.data, "get") else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Send the configuration as a `file` upload or as `yaml` text.")
    return text.encode("utf-8")


class ProjectConfiguration(APIView):
    @extend_schema(responses={(200, "application/x-yaml"): str})
    def get(self, request, project_id: int):
        """The whole configuration as one YAML file: settings, ontology, sampling, training, stopping, review."""
        project, _ = access_project(request.user, project_id, ADMIN)
        response = HttpResponse(export_configuration(project), content_type="application/x-yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}.yaml"'
        return response

    @extend_schema(request=inline_serializer("ConfigurationUpload", {"file": serializers.FileField(required=False),
                                                                     "yaml": serializers.CharField(required=False)}),
                   responses=dict)
    def post(self, request, project_id: int):
        """Apply a configuration file to this project: all or nothing."""
        project, _ = access_project(request.user, project_id, ADMIN)
        return Response(import_configuration(project, request.user, _file_text(request)))


class NewProjectFromConfiguration(APIView):
    @extend_schema(request=inline_serializer("NewFromConfiguration", {
        "file": serializers.FileField(required=False), "yaml": serializers.CharField(required=False),
        "name": serializers.CharField(required=False)}), responses=dict)
    def post(self, request):
        """Create a project from a configuration file (staff)."""
        if not request.user.is_staff:
            raise PermissionDenied("Only staff users create projects.")
        name = request.data.get("name") if hasattr(request.data, "get") else None
        name = name or request.query_params.get("name")
        project = create_from_configuration(request.user, _file_text(request), name if isinstance(name, str) else None)
        return Response({"id": project.pk, "name": project.name}, status=201)


class BulkMembers(APIView):
    @extend_schema(request=inline_serializer("BulkMembers", {
        "users": serializers.ListField(child=serializers.CharField()), "role": serializers.CharField()}),
        responses=dict)
    def post(self, request, project_id: int):
        """Add many people at once by username or e-mail; all or nothing, unknown names listed."""
        project, _ = access_project(request.user, project_id, ADMIN)
        data = request.data if isinstance(request.data, dict) else {}
        names, role = data.get("users"), data.get("role", Membership.Role.ANNOTATOR)
        if role not in Membership.Role.values:
            raise InvalidInput(f"role must be one of {', '.join(Membership.Role.values)}.")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidInput("Send `users`: a list of usernames or e-mail addresses.")
        if len(names) > MAX_MEMBERS:
            raise InvalidInput(f"Add at most {MAX_MEMBERS} people at once.")
        wanted = [n.strip() for n in names if n.strip()]
        found: dict[str, User] = {}
        for user in User.objects.filter(Q(username__in=wanted) | Q(email__in=[w for w in wanted if "@" in w])):
            found[user.username] = user
            if user.email:
                found.setdefault(user.email, user)
        unknown = [name for name in wanted if name not in found]
        if unknown:
            raise InvalidInput(f"No account for {', '.join(unknown[:20])}; nobody was added.", unknown=unknown)
        already = set(Membership.objects.filter(project=project).values_list("user_id", flat=True))
        added, skipped = [], []
        with transaction.atomic():
            for name in wanted:
                user = found[name]
                if user.pk in already:
                    skipped.append(user.username)
                    continue
                Membership.objects.create(project=project, user=user, role=role)
                already.add(user.pk)
                added.append(user.username)
        return Response({"added": added, "already_members": skipped, "role": role}, status=201 if added else 200)
