"""REST endpoints of the ontology manager: the tree, the audit log, merge with preview,
reorder, export and import as JSON, fork; and the ontologies an admin can share."""
import json

from django.db.models import Count, Q
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import ontology as rules
from .errors import InvalidInput
from .models import LabelClass, Membership, Ontology, OntologyChange, Project
from .permissions import access_project
from .serializers import LabelClassSerializer

ADMIN = Membership.Role.ADMIN
MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _ontology_payload(ontology: Ontology) -> dict:
    classes = LabelClassSerializer(LabelClass.objects.filter(ontology=ontology).order_by("order", "pk"), many=True).data
    return {
        "id": ontology.pk, "name": ontology.name, "description": ontology.description,
        "forked_from": ontology.forked_from_id,
        "projects": list(ontology.projects.order_by("pk").values("id", "name")),
        "classes": classes,
    }


class ProjectOntology(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """The project's ontology with its classes (parent ids make the tree) and who shares it."""
        project, _ = access_project(request.user, project_id)
        return Response(_ontology_payload(project.ontology))

    @extend_schema(request=inline_serializer("OntologyEdit", {
        "name": serializers.CharField(required=False), "description": serializers.CharField(required=False),
    }), responses=dict)
    def patch(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, ADMIN)
        data = request.data if isinstance(request.data, dict) else {}
        changes = {k: data[k] for k in ("name", "description") if k in data}
        if any(not isinstance(v, str) for v in changes.values()) or ("name" in changes and not changes["name"].strip()):
            raise InvalidInput("name and description must be text; the name cannot be empty.")
        longest = Ontology._meta.get_field("name").max_length
        if len(changes.get("name", "")) > longest:  # PostgreSQL refuses a longer one (a 500 before this)
            raise InvalidInput(f"The name is at most {longest} characters.")
        ontology = project.ontology
        before = {"name": ontology.name, "description": ontology.description}
        Ontology.objects.filter(pk=ontology.pk).update(**changes)
        ontology.refresh_from_db()
        rules.log(ontology, request.user, OntologyChange.Action.UPDATE, before=before,
                  after={"name": ontology.name, "description": ontology.description})
        return Response(_ontology_payload(ontology))


class OntologyChanges(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """The audit log: who changed what, when, before and after; newest first."""
        project, _ = access_project(request.user, project_id, ADMIN)
        rows = OntologyChange.objects.filter(ontology=project.ontology).select_related("actor")[:500]
        return Response([
            {"id": row.pk, "action": row.action, "class_key": row.class_key, "before": row.before, "after": row.after,
             "actor": row.actor.username if row.actor_id else None, "created_at": row.created_at}
            for row in rows
        ])


class MergeClasses(APIView):
    @extend_schema(request=inline_serializer("Merge", {
        "source": serializers.IntegerField(), "target": serializers.IntegerField(),
        "preview": serializers.BooleanField(required=False),
    }), responses=dict)
    def post(self, request, project_id: int):
        """Merge `source` into `target`; with `preview: true` only count what would move."""
        project, _ = access_project(request.user, project_id, ADMIN)
        data = request.data if isinstance(request.data, dict) else {}
        if data.get("preview"):
            return Response(rules.merge_preview(project.ontology, data.get("source"), data.get("target")))
        return Response({**rules.merge(project.ontology, request.user, data.get("source"), data.get("target")),
                         "merged": True})


class ReorderClasses(APIView):
    @extend_schema(request=inline_serializer("Reorder", {"order": serializers.ListField(
        child=serializers.IntegerField())}), responses=dict)
    def post(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, ADMIN)
        data = request.data if isinstance(request.data, dict) else {}
        classes = rules.reorder(project.ontology, request.user, data.get("order"))
        return Response(LabelClassSerializer(classes, many=True).data)


class ExportOntology(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id)
        body = json.dumps(rules.export_ontology(project.ontology), indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="ontology-{project.ontology_id}.json"'
        return response


class ImportOntology(APIView):
    @extend_schema(request=dict, responses=dict)
    def post(self, request, project_id: int):
        """Upsert classes by key from an exported file (JSON body or multipart `file`): all or nothing."""
        project, _ = access_project(request.user, project_id, ADMIN)
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise InvalidInput("An ontology file is at most 2 MB.")
            try:
                data = json.loads(upload.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInput(f"{upload.name} is not a JSON file: {exc}.") from None
        else:
            data = request.data
        return Response(rules.import_ontology(project.ontology, request.user, data))


class ForkOntology(APIView):
    @extend_schema(request=inline_serializer("Fork", {"name": serializers.CharField(required=False)}),
                   responses=dict)
    def post(self, request, project_id: int):
        """Give this project its own copy of the shared ontology."""
        project, _ = access_project(request.user, project_id, ADMIN)
        data = request.data if isinstance(request.data, dict) else {}
        name = data.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInput("name must be non-empty text.")
        return Response(_ontology_payload(rules.fork(project, request.user, name)), status=201)


class OntologyList(APIView):
    @extend_schema(responses=dict)
    def get(self, request):
        """Ontologies a new project can share: those of the projects the user administers."""
        ontologies = Ontology.objects.all()
        if not request.user.is_staff:
            administered = Project.objects.filter(memberships__user=request.user, memberships__role=ADMIN)
            ontologies = ontologies.filter(projects__in=administered)
        rows = ontologies.annotate(class_count=Count("classes", distinct=True),
                                   project_count=Count("projects", distinct=True, filter=Q(projects__isnull=False)))
        return Response([
            {"id": o.pk, "name": o.name, "classes": o.class_count, "projects": o.project_count}
            for o in rows.distinct().order_by("name", "pk")
        ])
