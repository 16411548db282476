from rest_framework import serializers

from .models import Round, TrainingJob


class RoundSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version.version", default=None)

    class Meta:
        model = Round
        fields = [
            "number", "model_version", "strategy", "strategy_used", "batch_size", "selected", "pool_size",
            "labels_used", "metrics", "timings", "note", "created_at",
        ]


class JobSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="round.number", default=None)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "state", "reason", "phase", "progress_done", "progress_total", "rerun_requested", "round",
            "error", "created_at", "started_at", "finished_at",
        ]
