"""REST endpoints for images and video: upload, frames, and the picture of an item
(served only to members of its project)."""
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import ImportFailed, InvalidInput, ItemGone
from .file_response import StreamedFileResponse
from .importing import import_progress_publisher
from .media import import_image_files
from .models import Item, Membership
from .permissions import access_project
from .video import import_video

ADMIN = Membership.Role.ADMIN


class ImageUploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), min_length=1,
                                  help_text="Images and/or zip archives of images.")
    split = serializers.ChoiceField(choices=["pool", "eval"], default="pool")
    import_id = serializers.CharField(required=False, max_length=64)


class VideoUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    every_seconds = serializers.FloatField(required=False, min_value=0.01, max_value=3600)
    informative = serializers.IntegerField(required=False, min_value=1, max_value=5000,
                                           help_text="Pick this many frames, the most different ones.")
    split = serializers.ChoiceField(choices=["pool", "eval"], default="pool")

    def validate(self, attrs):
        if ("every_seconds" in attrs) == ("informative" in attrs):
            raise serializers.ValidationError("Give either every_seconds or informative, not both and not neither.")
        return attrs


def _require_image_project(project) -> None:
    if not project.is_image:
        raise InvalidInput("This is a text project; images and videos go into image projects.")


def _check_size(upload) -> None:
    if upload.size > settings.LABELER_MAX_IMPORT_BYTES:
        raise ImportFailed(
            f"{upload.name} is {upload.size} bytes; the limit is {settings.LABELER_MAX_IMPORT_BYTES}. Split it.",
            reason="too_large",
        )


class ImportImages(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImageUploadSerializer}, responses={201: dict})
    def post(self, request, project_id: int):
        """Upload images (several at once, or zip archives). Every image is decoded first;
        a loose file that is not an image refuses the upload, naming it."""
        from activelearning.services import request_round

        project, _ = access_project(request.user, project_id, ADMIN)
        _require_image_project(project)
        fields = {key: request.data.get(key) for key in ("split", "import_id") if request.data.get(key)}
        form = ImageUploadSerializer(data={"files": request.FILES.getlist("files"), **fields})
        form.is_valid(raise_exception=True)
        uploads = form.validated_data["files"]
        for upload in uploads:
            _check_size(upload)
        progress = import_progress_publisher(project, form.validated_data.get("import_id") or "images")
        result = import_image_files(project, [(upload.name, upload) for upload in uploads],
                                    split=form.validated_data["split"], progress=progress)
        request_round(project.pk, reason="import", user=request.user)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


class ImportVideo(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": VideoUploadSerializer}, responses={201: dict})
    def post(self, request, project_id: int):
        """Upload a video; its frames become items (every N seconds, or the N most different)."""
        from activelearning.services import request_round

        project, _ = access_project(request.user, project_id, ADMIN)
        _require_image_project(project)
        form = VideoUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        _check_size(values["file"])
        video, created = import_video(
            project, values["file"].name, values["file"], every_seconds=values.get("every_seconds"),
            informative=values.get("informative"), split=values["split"],
        )
        request_round(project.pk, reason="import", user=request.user)
        return Response({"video": video.pk, "frames": len(created), "fps": video.fps,
                         "frame_count": video.frame_count}, status=status.HTTP_201_CREATED)


class ItemMedia(APIView):
    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request, project_id: int, item_id: int):
        project, _ = access_project(request.user, project_id)
        item = Item.objects.filter(pk=item_id, project=project).first()
        if item is None or not item.media:
            raise ItemGone("This item has no picture (it was deleted, or it is a text item).", item=item_id)
        response = StreamedFileResponse(item.media.open("rb"))
        response["Cache-Control"] = "private, max-age=3600"
        return response


class VideoFrames(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int, video_id: int):
        """A video's frames in order, for the frame strip; each with the regions of your
        own answer (else the latest answer), so the page can copy the previous frame's."""
        from .models import Annotation, Video
        from .regions import region_payload

        project, _ = access_project(request.user, project_id)
        video = Video.objects.filter(pk=video_id, project=project).first()
        if video is None:
            raise ItemGone("No such video in this project.", video=video_id)
        frames = list(Item.objects.filter(video=video).order_by("frame_index").values("pk", "frame_index", "status")[:20000])
        answers: dict[int, Annotation] = {}
        annotations = (
            Annotation.objects.filter(item__video=video).order_by("created_at")
            .prefetch_related("regions__label_class")
        )
        for annotation in annotations:
            if annotation.item_id not in answers or annotation.annotator_id == request.user.pk:
                answers[annotation.item_id] = annotation
        return Response({
            "video": {"id": video.pk, "name": video.name, "fps": video.fps, "frame_count": video.frame_count},
            "frames": [
                {
                    "item": frame["pk"], "frame_index": frame["frame_index"], "status": frame["status"],
                    "regions": [region_payload(r) for r in answers[frame["pk"]].regions.all()]
                    if frame["pk"] in answers else [],
                }
                for frame in frames
            ],
        })


class LabelUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="COCO .json, or a .zip of a YOLO dataset, a VOC folder or COCO with images.")
    target = serializers.ChoiceField(choices=["annotations", "eval", "predictions"], default="annotations",
                                     help_text="A seed set, the evaluation split, or the model's suggestions.")
    add_classes = serializers.BooleanField(default=False, help_text="Create classes the file uses and the project lacks.")


class ImportLabels(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": LabelUploadSerializer}, responses={201: dict})
    def post(self, request, project_id: int):
        """Existing labels (COCO, YOLO, VOC) into items with answers or suggestions: all or nothing."""
        from activelearning.services import request_round

        from .vision_io import import_label_file

        project, _ = access_project(request.user, project_id, ADMIN)
        _require_image_project(project)
        form = LabelUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        _check_size(values["file"])
        counts = import_label_file(project, values["file"].name, values["file"], values["target"],
                                   values["add_classes"])
        request_round(project.pk, reason="import", user=request.user)
        return Response(counts, status=status.HTTP_201_CREATED)


def vision_export_response(project, fmt: str) -> StreamedFileResponse:
    """The export file, streamed; its temporary copy is unlinked once opened."""
    import os

    from .vision_io import VISION_EXPORTS, export_vision

    path = export_vision(project, fmt)
    handle = path.open("rb")
    os.unlink(path)
    suffix = "json" if fmt == "coco" else "zip"
    return StreamedFileResponse(handle, content_type=VISION_EXPORTS[fmt], as_attachment=True,
                        filename=f"project-{project.pk}-{fmt}.{suffix}")


class WeightsUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A YOLO .pt file for the project's detector to start from.")


class UploadWeights(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": WeightsUploadSerializer}, responses={201: dict})
    def post(self, request, project_id: int):
        """Admin-uploaded weights (.pt): the detector fine-tunes from them instead of
        training from the model yaml. Only admins may upload, since a .pt is code."""
        import zipfile

        from django.core.files.storage import default_storage

        from .models import Project

        project, _ = access_project(request.user, project_id, ADMIN)
        if not project.has_regions:
            raise InvalidInput("Weights are for detection and segmentation projects.")
        form = WeightsUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        _check_size(upload)
        if not upload.name.lower().endswith(".pt") or not zipfile.is_zipfile(upload):
            raise InvalidInput(f"{upload.name} is not a PyTorch .pt file (a zip archive saved by torch.save).")
        upload.seek(0)
        name = default_storage.save(f"weights/project_{project.pk}_{upload.name}", upload)
        stored = name.split("/", 1)[1]
        Project.objects.filter(pk=project.pk).update(training={**project.training, "weights": stored})
        return Response({"weights": stored}, status=status.HTTP_201_CREATED)
