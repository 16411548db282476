from rest_framework import serializers

from .models import Round, SimulationRun, TrainingJob


class RoundSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version.version", default=None)

    class Meta:
        model = Round
        fields = [
            "number", "model_version", "strategy", "strategy_used", "batch_size", "selected", "pool_size",
            "labels_used", "metrics", "timings", "note", "learner", "config", "details", "train_accuracy",
            "stability_kappa", "stopping", "drift", "created_at",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["details"] = {key: value for key, value in (data["details"] or {}).items() if key != "stop"}
        return data


class JobSerializer(serializers.ModelSerializer):
    round = serializers.IntegerField(source="round.number", default=None)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "state", "reason", "phase", "progress_done", "progress_total", "rerun_requested", "round",
            "error", "created_at", "started_at", "finished_at",
        ]


class SimulationRequestSerializer(serializers.Serializer):
    strategies = serializers.ListField(child=serializers.CharField(max_length=200), min_length=1, max_length=8)
    initial = serializers.IntegerField(min_value=2, max_value=1000, default=20)
    batch = serializers.IntegerField(min_value=1, max_value=500, default=10)
    budget = serializers.IntegerField(min_value=1, max_value=5000, default=200)
    seeds = serializers.IntegerField(min_value=1, max_value=10, default=3)
    test_fraction = serializers.FloatField(min_value=0.05, max_value=0.9, default=0.3)

    def validate_strategies(self, value):
        from .strategies import STRATEGIES
        from .strategies.mix import strategy_spec

        for name in value:
            key, extra = strategy_spec(name)
            if key not in STRATEGIES:
                raise serializers.ValidationError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")
        return value


class SimulationSerializer(serializers.ModelSerializer):
    class Meta:
        model = SimulationRun
        fields = ["id", "state", "config", "result", "error", "created_at", "finished_at"]
