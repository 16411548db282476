"""REST endpoints of a project's labeling guide: read and edit it, its history, members'
proposed edits and the admins' decisions on them, and its images (members only)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from . import guide, guide_images
from .errors import InvalidInput
from .file_response import StreamedFileResponse
from .models import Guide, GuideProposal, GuideRevision, Membership
from .permissions import access_project

ADMIN = Membership.Role.ADMIN
REVIEWER = Membership.Role.REVIEWER
LIST_LIMIT = 200


def _user(user) -> str | None:
    return user.username if user is not None else None


def guide_payload(current: Guide) -> dict:
    return {
        "body": current.body, "html": guide.render(current.body, current.project_id), "version": current.version,
        "updated_by": _user(current.updated_by), "updated_at": current.updated_at,
    }


def revision_payload(revision: GuideRevision, body: bool = False) -> dict:
    data = {
        "version": revision.version, "author": _user(revision.author), "note": revision.note,
        "proposal": revision.proposal_id, "created_at": revision.created_at, "length": len(revision.body),
    }
    if body:
        data.update(body=revision.body, html=guide.render(revision.body, revision.guide.project_id))
    return data


def proposal_payload(proposal: GuideProposal, body: bool = False) -> dict:
    """`stale`: still open, but written against an older version than the guide has now."""
    data = {
        "id": proposal.pk, "author": _user(proposal.author), "note": proposal.note,
        "base_version": proposal.base_version, "status": proposal.status,
        "stale": proposal.status == GuideProposal.Status.OPEN and proposal.base_version != proposal.guide.version,
        "accepted_as": getattr(proposal, "accepted_as", None), "decided_by": _user(proposal.decided_by),
        "decided_at": proposal.decided_at, "decline_reason": proposal.decline_reason,
        "created_at": proposal.created_at, "length": len(proposal.body),
    }
    if body:
        data.update(body=proposal.body, html=guide.render(proposal.body, proposal.guide.project_id))
    return data


def _object(request) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidInput("Send a JSON object.")
    return request.data


def _whole_number(value, name: str, default: int | None, low: int = 0, high: int = 10**9) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidInput(f"`{name}` must be a whole number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"`{name}` must be a whole number.") from None
    if not low <= number <= high:
        raise InvalidInput(f"`{name}` must be between {low} and {high}.")
    return number


class GuidePayload(serializers.Serializer):
    body = serializers.CharField()
    html = serializers.CharField(help_text="Sanitised HTML of the body.")
    version = serializers.IntegerField(help_text="0 until the first edit.")
    updated_by = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class GuideRevisionPayload(serializers.Serializer):
    version = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    note = serializers.CharField()
    proposal = serializers.IntegerField(allow_null=True, help_text="The accepted proposal this version came from.")
    created_at = serializers.DateTimeField()
    length = serializers.IntegerField(help_text="Characters in the body.")
    body = serializers.CharField(required=False, help_text="Only when one version is asked for.")
    html = serializers.CharField(required=False, help_text="Only when one version is asked for.")


class GuideProposalPayload(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    note = serializers.CharField()
    base_version = serializers.IntegerField(help_text="The guide's version when the proposal was written.")
    status = serializers.ChoiceField(choices=GuideProposal.Status.choices)
    stale = serializers.BooleanField(help_text="Open, and the guide has changed since base_version.")
    accepted_as = serializers.IntegerField(allow_null=True, help_text="The version it became, once accepted.")
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decline_reason = serializers.CharField(help_text="Why an admin declined it, for its author.")
    created_at = serializers.DateTimeField()
    length = serializers.IntegerField(help_text="Characters in the body.")
    body = serializers.CharField(required=False, help_text="Only when one proposal is asked for or created.")
    html = serializers.CharField(required=False, help_text="Only when one proposal is asked for or created.")


def _note() -> dict:
    return {"note": serializers.CharField(required=False, max_length=guide.MAX_NOTE)}


class ProjectGuide(APIView):
    @extend_schema(responses=GuidePayload)
    def get(self, request, project_id: int):
        """The guide with its sanitised HTML, for the page beside the task."""
        project, _ = access_project(request.user, project_id)
        return Response(guide_payload(guide.current_guide(project)))

    @extend_schema(request=inline_serializer("GuideEdit", {
        "body": serializers.CharField(max_length=guide.MAX_BODY, allow_blank=True), **_note(),
        "base_version": serializers.IntegerField(required=False, help_text=(
            "The version the edit started from; a 409 if the guide has changed since.")),
    }), responses=GuidePayload)
    def put(self, request, project_id: int):
        """Save the guide as a new version (unchanged text saves nothing)."""
        project, _ = access_project(request.user, project_id, ADMIN)
        data = _object(request)
        base_version = _whole_number(data.get("base_version"), "base_version", None)
        current = guide.edit(project, request.user, data.get("body"), data.get("note"), base_version)
        return Response(guide_payload(current))


class GuideRevisions(APIView):
    @extend_schema(parameters=[
        OpenApiParameter("limit", int, description=f"At most this many (default 50, up to {LIST_LIMIT})."),
        OpenApiParameter("before", int, description="Only versions older than this one, for the next page."),
    ], responses=GuideRevisionPayload(many=True))
    def get(self, request, project_id: int):
        """Every version of the guide, newest first, without their text."""
        project, _ = access_project(request.user, project_id)
        limit = _whole_number(request.query_params.get("limit"), "limit", 50, 1, LIST_LIMIT)
        before = _whole_number(request.query_params.get("before"), "before", None)
        revisions = guide.revisions_of(project)
        if before is not None:
            revisions = revisions.filter(version__lt=before)
        return Response([revision_payload(r) for r in revisions[:limit]])


class GuideRevisionDetail(APIView):
    @extend_schema(responses=GuideRevisionPayload)
    def get(self, request, project_id: int, version: int):
        """One version with its text and HTML, to read or compare before restoring it."""
        project, _ = access_project(request.user, project_id)
        return Response(revision_payload(guide.revision_of(project, version), body=True))


class RestoreGuideRevision(APIView):
    @extend_schema(request=inline_serializer("GuideRestore", _note()), responses=GuidePayload)
    def post(self, request, project_id: int, version: int):
        """Make an earlier version the guide again, as a new version."""
        project, _ = access_project(request.user, project_id, ADMIN)
        note = request.data.get("note") if isinstance(request.data, dict) else None
        return Response(guide_payload(guide.restore(project, request.user, version, note)))


class GuideProposals(APIView):
    @extend_schema(parameters=[
        OpenApiParameter("status", str, enum=GuideProposal.Status.values),
        OpenApiParameter("limit", int, description=f"At most this many (default 100, up to {LIST_LIMIT})."),
    ], responses=GuideProposalPayload(many=True))
    def get(self, request, project_id: int):
        """Proposed edits, newest first, without their text: reviewers and admins see all,
        annotators their own."""
        project, role = access_project(request.user, project_id)
        proposals = guide.proposals_for(project, request.user, role)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in GuideProposal.Status.values:
                raise InvalidInput(f"`status` is one of {', '.join(GuideProposal.Status.values)}.")
            proposals = proposals.filter(status=wanted)
        limit = _whole_number(request.query_params.get("limit"), "limit", 100, 1, LIST_LIMIT)
        return Response([proposal_payload(p) for p in proposals[:limit]])

    @extend_schema(request=inline_serializer("GuideProposalNew", {
        "body": serializers.CharField(max_length=guide.MAX_BODY, allow_blank=True), **_note(),
    }), responses={201: GuideProposalPayload})
    def post(self, request, project_id: int):
        """Propose a new text of the guide, for an admin to accept or decline."""
        project, _ = access_project(request.user, project_id)
        data = _object(request)
        created = guide.propose(project, request.user, data.get("body"), data.get("note"))
        return Response(proposal_payload(created, body=True), status=status.HTTP_201_CREATED)


class GuideProposalDetail(APIView):
    @extend_schema(responses=GuideProposalPayload)
    def get(self, request, project_id: int, proposal_id: int):
        """One proposal with its text and HTML; compare with revisions/<base_version>/."""
        project, role = access_project(request.user, project_id)
        return Response(proposal_payload(guide.proposal_for(project, request.user, role, proposal_id), body=True))


def _decision_payload(request, project, decision: guide.Decision) -> dict:
    shown = guide.proposal_for(project, request.user, ADMIN, decision.proposal.pk)
    return {"proposal": proposal_payload(shown), "guide": guide_payload(decision.guide), "stale": decision.stale}


class AcceptGuideProposal(APIView):
    @extend_schema(request=None, responses=inline_serializer("GuideAccepted", {
        "proposal": GuideProposalPayload(), "guide": GuidePayload(),
        "stale": serializers.BooleanField(help_text="The guide had changed since the proposal was written; "
                                                    "those changes were replaced by it."),
    }))
    def post(self, request, project_id: int, proposal_id: int):
        """Make the proposal the guide (a new version credited to its author)."""
        project, _ = access_project(request.user, project_id, ADMIN)
        return Response(_decision_payload(request, project, guide.accept(project, request.user, proposal_id)))


class DeclineGuideProposal(APIView):
    @extend_schema(request=inline_serializer("GuideDecline", {
        "reason": serializers.CharField(required=False, max_length=guide.MAX_NOTE),
    }), responses=inline_serializer("GuideDeclined", {
        "proposal": GuideProposalPayload(), "guide": GuidePayload(), "stale": serializers.BooleanField(),
        "reason": serializers.CharField(),
    }))
    def post(self, request, project_id: int, proposal_id: int):
        """Decline the proposal; the guide stays as it is. The reason is checked and echoed
        back, but not kept: a proposal has no field for it yet."""
        project, _ = access_project(request.user, project_id, ADMIN)
        reason = request.data.get("reason") if isinstance(request.data, dict) else None
        decision = guide.decline(project, request.user, proposal_id, reason)
        return Response({**_decision_payload(request, project, decision), "reason": (reason or "").strip()})


GuideImageStored = inline_serializer("GuideImageStored", {
    "id": serializers.IntegerField(), "name": serializers.CharField(), "url": serializers.CharField(),
    "markdown": serializers.CharField(help_text="`![name](url)`, to paste into the guide."),
})


class GuideImages(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": inline_serializer("GuideImageUpload", {
        "file": serializers.ImageField(help_text=f"PNG, JPEG, GIF, WebP or BMP, up to "
                                                 f"{guide_images.MAX_IMAGE_BYTES // (1024 * 1024)} MB."),
    })}, responses={201: GuideImageStored})
    def post(self, request, project_id: int):
        """Store a picture for the guide; the answer holds the Markdown that shows it."""
        project, _ = access_project(request.user, project_id, REVIEWER)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the picture as the multipart field `file`.")
        image = guide_images.store_image(project, upload.name, upload)
        return Response({
            "id": image.pk, "name": image.name, "url": guide_images.image_url(image),
            "markdown": guide_images.markdown_snippet(image),
        }, status=status.HTTP_201_CREATED)


class GuideImageFile(APIView):
    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request, project_id: int, image_id: int):
        """The picture itself, to members of the project only."""
        project, _ = access_project(request.user, project_id)
        image = guide_images.image_of(project, image_id)
        try:
            handle = image.file.open("rb")
        except FileNotFoundError:
            raise guide.GuideNotFound(f"The file of guide image {image_id} is missing.", image=image_id) from None
        response = StreamedFileResponse(handle, content_type=guide_images.content_type(image), filename=image.name)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=86400"
        return response
