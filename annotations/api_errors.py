"""DRF exception handler: domain errors become 4xx with a message, never a 500."""
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import LabelerError
from .permissions import ProjectAccessDenied


def exception_handler(exc, context):
    if isinstance(exc, LabelerError):
        return Response({"detail": exc.message, "code": exc.code, **exc.details}, status=exc.status_code)
    if isinstance(exc, ProjectAccessDenied):
        return Response({"detail": str(exc), "code": "permission_denied"}, status=403)
    return drf_exception_handler(exc, context)
