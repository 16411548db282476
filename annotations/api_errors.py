"""DRF exception handler: domain errors become 4xx with a message, never a 500."""
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DataError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import LabelerError
from .permissions import ProjectAccessDenied

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, LabelerError):
        return Response({"detail": exc.message, "code": exc.code, **exc.details}, status=exc.status_code)
    if isinstance(exc, ProjectAccessDenied):
        return Response({"detail": str(exc), "code": "permission_denied"}, status=403)
    # Django's request limits, met while the body is parsed: without these they are a bare
    # HTML "Bad Request" page that tells an API client nothing.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is over the limit of {limit:,} bytes; send less at once "
                                   "(files go as multipart uploads).", "code": "too_large"}, status=413)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response({"detail": str(exc), "code": "too_many_fields"}, status=400)
    # Python's json and PyYAML recurse once per nesting level: a small body or upload such as
    # `[[[[...]]]]` a hundred thousand deep exhausts the stack while it is being read.
    if isinstance(exc, RecursionError):
        logger.warning("%s: input nested too deeply, refused", context["request"].path)
        return Response({"detail": "The input is nested too deeply to read (JSON or YAML nesting).",
                         "code": "too_deep"}, status=400)
    # PostgreSQL stores no NUL character in text or JSON (SQLite does); without this, text
    # with one that reached the database was a 500 there.
    if isinstance(exc, DataError) and ("NUL (0x00)" in str(exc) or "\\u0000" in str(exc)):
        return Response({"detail": "Text cannot contain the NUL character (\\u0000); remove it and send again.",
                         "code": "invalid"}, status=400)
    return drf_exception_handler(exc, context)
