"""REST endpoints of the loop: strategies, rounds (the learning curve), training jobs."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.models import Membership
from annotations.permissions import access_project

from .models import Round, TrainingJob
from .serializers import JobSerializer, RoundSerializer
from .services import request_round
from .strategies import STRATEGIES


class StrategyList(APIView):
    @extend_schema(responses=dict)
    def get(self, request):
        return Response([{"key": s.key, "label": s.label, "needs_model": s.needs_model} for s in STRATEGIES.values()])


class RoundList(generics.ListAPIView):
    serializer_class = RoundSerializer
    pagination_class = None

    def get_queryset(self):
        project, _ = access_project(self.request.user, self.kwargs["project_id"])
        return Round.objects.filter(project=project).select_related("model_version").order_by("number")


class JobList(APIView):
    @extend_schema(responses=JobSerializer(many=True))
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id)
        return Response(JobSerializer(TrainingJob.objects.filter(project=project).select_related("round")[:20], many=True).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, project_id: int):
        """Ask for a round now; folded into the running one if there is one."""
        project, _ = access_project(request.user, project_id, Membership.Role.ADMIN)
        job = request_round(project.pk, reason="manual", user=request.user)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
