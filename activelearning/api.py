"""REST endpoints of the loop: strategies, rounds (the learning curve), training jobs."""
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.models import Membership
from annotations.permissions import access_project

from .config import strategy_fits
from .learners import DETECTORS, LEARNERS
from .models import Disagreement, Round, SimulationRun, TrainingJob
from .serializers import JobSerializer, RoundSerializer, SimulationRequestSerializer, SimulationSerializer
from .services import request_round, request_simulation
from .strategies import STRATEGIES


class StrategyList(APIView):
    """The registry, for settings forms and scripts: every strategy the worker knows."""

    @extend_schema(responses=dict)
    def get(self, request):
        """`?project_kind=detection` lists only the strategies that fit that kind of project."""
        project_kind = request.query_params.get("project_kind")
        return Response([
            {
                "key": s.key, "label": s.label, "family": s.family, "needs": sorted(s.needs),
                "needs_model": s.needs_model, "description": s.description,
            }
            for s in STRATEGIES.values()
            if not project_kind or strategy_fits(s.key, project_kind)
        ])


class LearnerList(APIView):
    """The learner registry; `?kind=text` or `?kind=image` narrows it."""

    @extend_schema(responses=dict)
    def get(self, request):
        """`?kind=text|image` classifiers; `?kind=detection|segmentation` the detectors."""
        kind = request.query_params.get("kind")
        listed = [
            {"key": spec.key, "label": spec.label, "kind": spec.kind, "description": spec.description}
            for spec in LEARNERS.values()
            if kind in (None, "", spec.kind)
        ]
        for spec in DETECTORS.values():
            project_kind = "detection" if spec.task == "detect" else "segmentation"
            if kind in (None, "", project_kind):
                listed.append({"key": spec.key, "label": spec.label, "kind": project_kind,
                               "description": spec.description})
        return Response(listed)


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


class SimulationList(APIView):
    """Simulate before you choose: replay strategies on the project's labeled items."""

    @extend_schema(responses=SimulationSerializer(many=True))
    def get(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, Membership.Role.REVIEWER)
        return Response(SimulationSerializer(SimulationRun.objects.filter(project=project)[:10], many=True).data)

    @extend_schema(request=SimulationRequestSerializer, responses={202: SimulationSerializer})
    def post(self, request, project_id: int):
        project, _ = access_project(request.user, project_id, Membership.Role.ADMIN)
        serializer = SimulationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = request_simulation(project, serializer.validated_data, request.user)
        run.refresh_from_db()
        return Response(SimulationSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SimulationDetail(APIView):
    @extend_schema(responses=SimulationSerializer)
    def get(self, request, project_id: int, simulation_id: int):
        project, _ = access_project(request.user, project_id, Membership.Role.REVIEWER)
        run = SimulationRun.objects.filter(project=project, pk=simulation_id).first()
        if run is None:
            return Response({"detail": "No such simulation in this project."}, status=status.HTTP_404_NOT_FOUND)
        return Response(SimulationSerializer(run).data)


class DisagreementList(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """Items whose label the model contradicts, most confident first, and the outcome counts."""
        from .disagreements import outcome_counts

        project, _ = access_project(request.user, project_id, Membership.Role.REVIEWER)
        outcome = request.query_params.get("outcome", Disagreement.Outcome.OPEN)
        if outcome not in Disagreement.Outcome.values:
            raise ValidationError({"outcome": f"Use one of {', '.join(Disagreement.Outcome.values)}."})
        rows = (
            Disagreement.objects.filter(project=project, outcome=outcome)
            .select_related("item", "human_class", "model_class", "round", "settled_by")[:200]
        )
        return Response({"counts": outcome_counts(project), "disagreements": [
            {
                "id": row.pk, "item": row.item_id, "text": row.item.text[:500],
                "image": f"/api/projects/{project.pk}/items/{row.item_id}/media/" if row.item.media else None,
                "human_label": row.human_class.key if row.human_class else None,
                "model_label": row.model_class.key if row.model_class else None,
                "confidence": row.confidence, "round": row.round.number if row.round else None,
                "outcome": row.outcome, "settled_by": row.settled_by.username if row.settled_by else None,
                "created_at": row.created_at,
            }
            for row in rows
        ]})


class SettleDisagreement(APIView):
    @extend_schema(request=dict, responses=dict)
    def post(self, request, project_id: int, disagreement_id: int):
        """`outcome`: confirmed (the label stands), corrected (with `label`), or relabel
        (back to its annotators, with an optional `reason`)."""
        from .disagreements import settle

        project, _ = access_project(request.user, project_id, Membership.Role.REVIEWER)
        data = request.data if isinstance(request.data, dict) else {}
        label, reason = data.get("label"), data.get("reason", "")
        if (label is not None and not isinstance(label, str)) or not isinstance(reason, str):
            raise ValidationError("`label` and `reason` must be text.")
        row = settle(project, request.user, disagreement_id, str(data.get("outcome", "")), label, reason)
        return Response({"id": row.pk, "outcome": row.outcome, "item": row.item_id})


class Dashboard(APIView):
    @extend_schema(responses=dict)
    def get(self, request, project_id: int):
        """Progress and pace, the learning curve (with the random baseline and stopping
        markers), class distribution against targets, pool uncertainty per round and
        drift, and annotator quality and throughput."""
        from .dashboards import dashboard

        project, _ = access_project(request.user, project_id, Membership.Role.REVIEWER)
        return Response(dashboard(project))
