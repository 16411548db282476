"""REST endpoints of the labeling domain. Each view checks access with
`access_project` and hands the work to a service."""
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning import answer_days

from . import services
from .errors import ImportFailed
from .exporting import EXPORT_FORMATS, export_file
from .file_response import StreamedFileResponse
from .formats.tabular import guess_format, read_rows
from .importing import import_progress_publisher, import_rows
from .models import Annotation, Item, LabelClass, Membership, Ontology
from .permissions import access_project, visible_projects
from .progress import project_progress
from .serializers import (
    AnnotationSerializer,
    ClaimSerializer,
    ImportSerializer,
    ItemSerializer,
    LabelClassSerializer,
    MembershipSerializer,
    NewItemSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    SubmitSerializer,
    TaskSerializer,
)

ADMIN = Membership.Role.ADMIN
REVIEWER = Membership.Role.REVIEWER


def _roles(user: User) -> dict[int, str]:
    if user.is_staff:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("project_id", "role"))


class ProjectList(generics.ListCreateAPIView):
    def get_serializer_class(self):
        return ProjectCreateSerializer if self.request.method == "POST" else ProjectSerializer

    def get_queryset(self):
        return visible_projects(self.request.user).select_related("ontology").prefetch_related("ontology__classes")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.user.is_authenticated:
            context["roles"] = _roles(self.request.user)
        return context

    def create(self, request, *args, **kwargs):
        # Before the body is validated, so a refusal does not depend on what was sent.
        if not request.user.is_staff:
            raise PermissionDenied("Only staff users create projects.")
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        names = serializer.validated_data.pop("class_names", None) or ["negative", "positive"]
        shared = serializer.validated_data.pop("share_ontology", None)
        with transaction.atomic():
            ontology = shared or create_ontology(serializer.validated_data["name"], names)
            project = serializer.save(ontology=ontology, created_by=self.request.user)
            Membership.objects.create(project=project, user=self.request.user, role=ADMIN)


def create_ontology(name: str, class_names: list[str]) -> Ontology:
    palette = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    ontology = Ontology.objects.create(name=name)
    for index, class_name in enumerate(class_names):
        LabelClass.objects.create(
            ontology=ontology, key=str(class_name).strip().lower().replace(" ", "_")[:64] or f"class_{index}",
            name=class_name, colour=palette[index % len(palette)], hotkey=str(index + 1) if index < 9 else "",
            order=index,
        )
    return ontology


class ProjectDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ProjectSerializer

    def get_object(self):
        needed = Membership.Role.ANNOTATOR if self.request.method == "GET" else ADMIN
        project, role = access_project(self.request.user, self.kwargs["project_id"], needed)
        self._role = role
        return project

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["roles"] = _roles(self.request.user)
        return context


class ClassList(generics.ListCreateAPIView):
    serializer_class = LabelClassSerializer
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        needed = Membership.Role.ANNOTATOR if request.method == "GET" else ADMIN
        self.project, _ = access_project(request.user, kwargs["project_id"], needed)

    def get_queryset(self):
        return LabelClass.objects.filter(ontology_id=self.project.ontology_id)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "project"):
            context["ontology"] = self.project.ontology
        return context

    def perform_create(self, serializer):
        from .ontology import log, snapshot

        with transaction.atomic():
            label = serializer.save(ontology=self.project.ontology)
            log(self.project.ontology, self.request.user, "create", label.key, after=snapshot(label))


class ClassDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = LabelClassSerializer

    def get_object(self):
        needed = Membership.Role.ANNOTATOR if self.request.method == "GET" else ADMIN
        self.project, _ = access_project(self.request.user, self.kwargs["project_id"], needed)
        return generics.get_object_or_404(LabelClass, pk=self.kwargs["class_id"], ontology_id=self.project.ontology_id)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if hasattr(self, "project"):
            context["ontology"] = self.project.ontology
        return context

    def perform_update(self, serializer):
        from .ontology import log, snapshot

        before = snapshot(serializer.instance)
        with transaction.atomic():
            label = serializer.save()
            after = snapshot(label)
            if after != before:
                log(self.project.ontology, self.request.user, "update", label.key, before=before, after=after)

    def perform_destroy(self, instance):
        from .ontology import delete_class

        delete_class(self.project.ontology, self.request.user, instance)


class MemberList(generics.ListCreateAPIView):
    serializer_class = MembershipSerializer
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project, _ = access_project(request.user, kwargs["project_id"], ADMIN)

    def get_queryset(self):
        return Membership.objects.filter(project=self.project).select_related("user")

    def perform_create(self, serializer):
        user = serializer.validated_data["user"]
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise ValidationError({"username": f"{user.username} is already a member; change their role instead."})
        serializer.save(project=self.project)


class MemberDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = MembershipSerializer

    def get_object(self):
        project, _ = access_project(self.request.user, self.kwargs["project_id"], ADMIN)
        return generics.get_object_or_404(Membership, pk=self.kwargs["member_id"], project=project)


class ItemList(generics.ListAPIView):
    serializer_class = ItemSerializer

    def get_queryset(self):
        project, _ = access_project(self.request.user, self.kwargs["project_id"], REVIEWER)
        return Item.objects.filter(project=project).select_related("final_class").order_by("pk")

    @extend_schema(request=NewItemSerializer, responses={201: dict})
    def post(self, request, project_id: int):
        """Add one item to the pool. With stream sampling on, the latest model scores it
        at once and an informative item goes to the front of the queue."""
        from activelearning.streaming import route_arrivals

        project, _ = access_project(request.user, project_id, ADMIN)
        form = NewItemSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        item = Item.objects.create(project=project, **form.validated_data)
        decisions = route_arrivals(project, [item.pk])
        stream = None
        if decisions:
            decision = decisions[0]
            stream = {"mode": decision.mode, "score": decision.score, "queried": decision.queried,
                      "model_version": decision.model_version}
        item = Item.objects.select_related("final_class").get(pk=item.pk)
        return Response({"item": ItemSerializer(item).data, "stream": stream}, status=status.HTTP_201_CREATED)


class ItemDetail(generics.RetrieveDestroyAPIView):
    serializer_class = ItemSerializer

    def get_object(self):
        needed = REVIEWER if self.request.method == "GET" else ADMIN
        project, _ = access_project(self.request.user, self.kwargs["project_id"], needed)
        return generics.get_object_or_404(Item, pk=self.kwargs["item_id"], project=project)

    def perform_destroy(self, instance):
        with transaction.atomic():
            answer_days.answers_removed(instance.annotations.all())
            instance.delete()


class ClaimTasks(APIView):
    @extend_schema(request=ClaimSerializer, responses=TaskSerializer(many=True))
    def post(self, request, project_id: int):
        """Your open tasks, topped up to `want`: the one to show and the next ones."""
        project, _ = access_project(request.user, project_id)
        params = ClaimSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        keep = params.validated_data.get("release_except")
        if keep is not None:
            services.release_claims(request.user, project, keep)
        tasks = services.claim_tasks(request.user, project, params.validated_data["want"])
        return Response({"tasks": TaskSerializer(tasks, many=True).data, "progress": project_progress(project, request.user)})


class SkipTask(APIView):
    @extend_schema(request=None, responses=TaskSerializer)
    def post(self, request, project_id: int, assignment_id: int):
        project, _ = access_project(request.user, project_id)
        assignment = services.skip_item(request.user, project, assignment_id)
        return Response({"id": assignment.pk, "status": assignment.status})


class AnnotationList(APIView):
    @extend_schema(responses=AnnotationSerializer(many=True))
    def get(self, request, project_id: int):
        """Your answers; reviewers and admins see everyone's."""
        project, role = access_project(request.user, project_id)
        annotations = Annotation.objects.filter(project=project).select_related("label_class", "annotator")
        if role == Membership.Role.ANNOTATOR:
            annotations = annotations.filter(annotator=request.user)
        latest = annotations.order_by("-created_at", "-pk")[:200]
        return Response(AnnotationSerializer(latest, many=True).data)

    @extend_schema(request=SubmitSerializer, responses={201: AnnotationSerializer, 200: AnnotationSerializer})
    def post(self, request, project_id: int):
        """Submit an answer. A retry with the same `client_id` returns 200 and the stored answer."""
        project, _ = access_project(request.user, project_id)
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        annotation, created = services.submit_annotation(
            request.user, project, values["item"], values.get("label") or None,
            client_id=values.get("client_id"), duration_ms=values.get("duration_ms"), regions=values.get("regions"),
        )
        return Response(
            AnnotationSerializer(annotation, context={"project": project}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class UndoLastAnnotation(APIView):
    @extend_schema(request=None, responses=TaskSerializer)
    def post(self, request, project_id: int):
        """Take back your last answer; its item becomes your current task again."""
        project, _ = access_project(request.user, project_id)
        assignment = services.undo_last_submit(request.user, project)
        return Response(TaskSerializer(assignment).data)


class Progress(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id)
        return Response(project_progress(project, request.user))


class ImportItems(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImportSerializer}, responses=dict)
    def post(self, request, project_id: int):
        """Import a CSV, TSV or JSONL file: all rows or none; bad rows are listed."""
        from activelearning.services import request_round

        project, _ = access_project(request.user, project_id, ADMIN)
        form = ImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        upload = values["file"]
        if upload.size == 0:
            raise ImportFailed("The file is empty.", reason="empty")
        if upload.size > settings.LABELER_MAX_IMPORT_BYTES:
            raise ImportFailed(
                f"The file is {upload.size} bytes; the limit is {settings.LABELER_MAX_IMPORT_BYTES}. Split it into parts.",
                reason="too_large",
            )
        fmt = values.get("format") or guess_format(upload.name)
        if fmt is None:
            raise ImportFailed("Say which format the file is (csv, tsv or jsonl); its name does not tell.", reason="format")
        result = import_rows(
            project,
            read_rows(upload.open("rb"), fmt),
            text_field=values["text_field"],
            label_field=values.get("label_field") or None,
            id_field=values.get("id_field") or None,
            split=values["split"],
            user=request.user,
            progress=import_progress_publisher(project, values.get("import_id") or uuid.uuid4().hex),
        )
        request_round(project.pk, reason="import", user=request.user)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class ExportLabels(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("export_format", enum=[*EXPORT_FORMATS, "coco", "yolo", "voc"], default="csv",
                             description="coco, yolo and voc for detection and segmentation projects."),
            OpenApiParameter("all", bool, description="Include unlabeled items."),
        ],
        responses={(200, "text/csv"): str},
    )
    def get(self, request, project_id: int):
        """The final label per item: the whole file with its length, or an error (507 when
        the server's disk is full), never a cut-off file."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        fmt = request.query_params.get("export_format", "csv")
        if project.has_regions and fmt in ("coco", "yolo", "voc"):
            from .api_media import vision_export_response

            return vision_export_response(project, fmt)
        if fmt not in EXPORT_FORMATS:
            raise ValidationError({"export_format": f"Use one of {', '.join(EXPORT_FORMATS)}."})
        include_all = request.query_params.get("all") in {"1", "true", "yes"}
        return StreamedFileResponse(export_file(project, fmt, include_all), content_type=EXPORT_FORMATS[fmt],
                            as_attachment=True, filename=f"project-{project.pk}-labels.{fmt}")
