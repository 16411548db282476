"""Validation and shapes of the labeling API."""
from django.contrib.auth.models import User
from rest_framework import serializers

from activelearning.config import (
    ConfigError,
    all_learner_choices,
    strategy_fits,
    validate_sampling,
    validate_training,
)
from activelearning.stopping import validate_stopping_config
from activelearning.strategies import strategy_choices

from .formats.tabular import FORMATS
from .importing import SPLITS
from .models import Annotation, Assignment, LabelClass, Membership, Ontology, Project


class FieldsBuiltOnce:
    """For an input serializer run on every claim or submit: its fields are copied from
    the declarations and bound once per class, not once per instance as DRF does, which
    cost more than the validation itself. Only for flat serializers of plain fields,
    which keep nothing of a request: no context, no nested serializers."""

    @property
    def fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = serializers.Serializer.fields.func(cls())  # bound to a blank instance
            cls._fields_built_once = built
        return built


class LabelClassSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=LabelClass.objects.all(), required=False, allow_null=True,
        help_text="The id of the class this one nests under (same ontology).",
    )
    shapes = serializers.JSONField(required=False, help_text="Allowed shapes; empty allows every shape.")
    attributes = serializers.JSONField(required=False, help_text="Per-object attributes.")

    class Meta:
        model = LabelClass
        fields = ["id", "key", "name", "colour", "hotkey", "order", "description", "parent", "shapes", "attributes",
                  "examples"]

    examples = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=20,
        help_text="URLs of example images (uploaded to the project guide's images).",
    )

    def validate_hotkey(self, value: str) -> str:
        if value and not (value.isalnum() and len(value) == 1):
            raise serializers.ValidationError("A hotkey is one letter or digit.")
        return value

    def _domain(self, check, value, field: str):
        from .errors import InvalidInput

        try:
            return check(value)
        except InvalidInput as exc:
            raise serializers.ValidationError({field: exc.message}) from exc

    def validate(self, attrs):
        from .ontology import validate_attributes, validate_parent, validate_shapes

        ontology = self.context["ontology"]
        others = LabelClass.objects.filter(ontology=ontology)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
            if "key" in attrs and attrs["key"] != self.instance.key:
                raise serializers.ValidationError({"key": "A class key cannot change once created; rename the class instead."})
        if "key" in attrs and others.filter(key=attrs["key"]).exists():
            raise serializers.ValidationError({"key": f"Another class already has the key {attrs['key']!r}."})
        hotkey = attrs.get("hotkey")
        if hotkey and others.filter(hotkey=hotkey).exists():
            clash = others.get(hotkey=hotkey)
            raise serializers.ValidationError({"hotkey": f"The hotkey {hotkey!r} is taken by {clash.name!r}."})
        if "shapes" in attrs:
            attrs["shapes"] = self._domain(validate_shapes, attrs["shapes"], "shapes")
        if "attributes" in attrs:
            attrs["attributes"] = self._domain(validate_attributes, attrs["attributes"], "attributes")
        if attrs.get("parent") is not None and ontology is not None:
            self._domain(lambda parent: validate_parent(self.instance, parent, ontology), attrs["parent"], "parent")
        return attrs


class ProjectSerializer(serializers.ModelSerializer):
    strategy = serializers.ChoiceField(choices=strategy_choices(), required=False)
    learner = serializers.ChoiceField(choices=all_learner_choices(), required=False)
    sampling = serializers.JSONField(required=False, help_text="Strategy parameters; see the README's sampling table.")
    stopping = serializers.JSONField(required=False, help_text="Stopping criteria; absent criteria are off.")
    classes = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id", "name", "description", "kind", "ontology", "overlap", "retrain_every", "retrain_trigger",
            "retrain_interval_minutes", "batch_size",
            "strategy", "learner", "sampling", "stopping", "training", "eval_fraction", "created_at", "classes", "role",
            "review",
        ]
        read_only_fields = ["ontology", "created_at"]

    review = serializers.JSONField(
        required=False, help_text="Review policy, consensus quorum, gold fraction, qualification, quality thresholds; "
        "the settings sent replace those stored, the rest keep their values.",
    )

    training = serializers.JSONField(required=False, help_text="Detector training settings (image projects).")

    def validate_training(self, value):
        try:
            return validate_training(value)
        except ConfigError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_stopping(self, value):
        try:
            return validate_stopping_config(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs):
        """Sampling settings depend on the strategy and the classes, and the learner on
        the project's kind, so they are checked together."""
        from activelearning.config import default_learner_for, learner_fits

        kind = attrs.get("kind", self.instance.kind if self.instance else Project.Kind.TEXT_CLASSIFICATION)
        if self.instance is not None and "kind" in attrs and attrs["kind"] != self.instance.kind \
                and self.instance.items.exists():
            raise serializers.ValidationError({"kind": ["The kind cannot change once the project has items."]})
        if "learner" in attrs or "kind" in attrs:
            learner = attrs.get("learner") or (self.instance.learner if self.instance and "kind" not in attrs else None)
            if learner is None or not learner_fits(learner, kind):
                if "learner" in attrs:
                    raise serializers.ValidationError(
                        {"learner": [f"The learner {attrs['learner']!r} does not fit a {kind} project."]}
                    )
                attrs["learner"] = default_learner_for(kind)
        if "strategy" in attrs and not strategy_fits(attrs["strategy"], kind):
            raise serializers.ValidationError(
                {"strategy": [f"The strategy {attrs['strategy']!r} does not apply to a {kind} project."]}
            )
        if "review" in attrs:
            attrs["review"] = self._review(attrs["review"])
        if "sampling" in attrs or "strategy" in attrs:
            instance = self.instance
            strategy = attrs.get("strategy", instance.strategy if instance else "least_confidence")
            sampling = attrs.get("sampling", instance.sampling if instance else {})
            class_keys = list(instance.ontology.classes.values_list("key", flat=True)) if instance else None
            try:
                attrs["sampling"] = validate_sampling(sampling, strategy, class_keys)
            except ConfigError as exc:
                raise serializers.ValidationError({"sampling": [str(exc)]}) from exc
        return attrs

    def _review(self, value):
        from .review_config import ReviewConfigError, validate_review

        if isinstance(value, dict) and self.instance is not None:
            stored = self.instance.review or {}
            merged = {**stored, **value}
            if isinstance(value.get("qualification"), dict):
                merged["qualification"] = {**stored.get("qualification", {}), **value["qualification"]}
            value = merged
        try:
            return validate_review(value)
        except ReviewConfigError as exc:
            raise serializers.ValidationError({"review": [str(exc)]}) from exc

    def get_classes(self, project) -> list[dict]:
        return LabelClassSerializer(project.ontology.classes.all(), many=True).data

    def get_role(self, project) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectCreateSerializer(ProjectSerializer):
    class_names = serializers.ListField(
        child=serializers.CharField(max_length=200), write_only=True, required=False,
        help_text="Names of the classes of a new ontology (for example ['negative', 'positive']).",
    )

    share_ontology = serializers.PrimaryKeyRelatedField(
        queryset=Ontology.objects.all(), write_only=True, required=False,
        help_text="Use this existing ontology (shared with its other projects) instead of new classes.",
    )

    class Meta(ProjectSerializer.Meta):
        fields = ProjectSerializer.Meta.fields + ["class_names", "share_ontology"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", queryset=User.objects.all())

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "qualification"]
        read_only_fields = ["qualification"]


# DRF's own date-time output (ISO 8601, UTC as "Z"), for the payloads written by hand below.
_DATETIME = serializers.DateTimeField()


def _datetime(value) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def _text(value) -> str | None:
    """A choice as its plain stored string."""
    return None if value is None else str(value)


class TaskSerializer(serializers.ModelSerializer):
    """An assignment with what the page needs to show it.

    Every claim answers with these, and DRF building and running a field per key cost
    more than the claim's own work: `to_representation` writes the payload directly.
    The declared fields still describe it for the schema and for input, and a test
    holds the two to the same output."""

    item = serializers.IntegerField(source="item_id")
    text = serializers.CharField(source="item.text")
    split = serializers.CharField(source="item.split")
    hint = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id", "item", "text", "split", "status", "expires_at", "model_version", "rank", "hint", "image", "suggestions",
            "returned",
        ]

    suggestions = serializers.SerializerMethodField()
    returned = serializers.SerializerMethodField()

    def to_representation(self, assignment) -> dict:
        item = assignment.item
        return {
            "id": assignment.pk, "item": assignment.item_id, "text": item.text, "split": _text(item.split),
            "status": _text(assignment.status), "expires_at": _datetime(assignment.expires_at),
            "model_version": assignment.model_version, "rank": assignment.rank, "hint": self.get_hint(assignment),
            "image": self.get_image(assignment), "suggestions": self.get_suggestions(assignment),
            "returned": self.get_returned(assignment),
        }

    def get_returned(self, assignment) -> dict | None:
        """For an answer a reviewer sent back: why, and what the annotator answered before."""
        if assignment.status != Assignment.Status.RETURNED:
            return None
        from .review import answer_snapshot

        annotation = Annotation.objects.filter(item_id=assignment.item_id, annotator_id=assignment.annotator_id).first()
        if annotation is None:
            return None
        reviewer = annotation.reviewed_by.username if annotation.reviewed_by_id else None
        return {"reason": annotation.review_reason, "reviewer": reviewer, "answer": answer_snapshot(annotation)}

    def get_suggestions(self, assignment) -> dict | None:
        """The latest model's regions for this image, to accept, adjust or delete."""
        prediction = getattr(assignment.item, "prediction", None) if assignment.item.media else None
        if prediction is None:
            return None
        return {"model_version": prediction.model_version, "regions": prediction.regions}

    def get_image(self, assignment) -> dict | None:
        """Where the page loads the picture from, its size, and its place in a video."""
        item = assignment.item
        if not item.media:
            return None
        return {
            "url": f"/api/projects/{item.project_id}/items/{item.pk}/media/",
            "width": item.width, "height": item.height,
            "video": item.video_id, "frame_index": item.frame_index,
        }

    def get_hint(self, assignment) -> dict | None:
        if assignment.hint_class_id is None:
            return None
        return {
            "label": assignment.hint_class.key,
            "name": assignment.hint_class.name,
            "confidence": assignment.hint_confidence,
        }


class ClaimSerializer(FieldsBuiltOnce, serializers.Serializer):
    want = serializers.IntegerField(min_value=1, max_value=10, default=2)
    # Ids are bounded by the largest integer a database column holds: past it the lookup
    # itself failed (a 500).
    release_except = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=100,
        help_text="Give back your other open tasks first (used after the queue was re-ranked).",
    )


class SubmitSerializer(FieldsBuiltOnce, serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    label = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                  help_text="The class key (classification projects).")
    regions = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=5000,
        help_text="Detection and segmentation: [{label, kind: box|polygon|mask, geometry, from_model?, model_confidence?}].",
    )
    client_id = serializers.UUIDField(required=False, help_text="Generated by the client; a retry with it is stored once.")
    duration_ms = serializers.IntegerField(min_value=0, max_value=86_400_000, required=False)


class AnnotationSerializer(serializers.Serializer):
    """An answer as stored. Written directly, as TaskSerializer is: every submit answers
    with one."""

    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    label = serializers.CharField(source="label_class.key", default=None)
    regions = serializers.SerializerMethodField()
    annotator = serializers.CharField(source="annotator.username", default=None)
    source = serializers.CharField()
    client_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, annotation) -> dict:
        return {
            "id": annotation.pk, "item": annotation.item_id,
            "label": annotation.label_class.key if annotation.label_class_id is not None else None,
            "regions": self.get_regions(annotation),
            "annotator": annotation.annotator.username if annotation.annotator_id is not None else None,
            "source": _text(annotation.source),
            "client_id": str(annotation.client_id) if annotation.client_id is not None else None,
            "created_at": _datetime(annotation.created_at),
        }

    def get_regions(self, annotation) -> list[dict]:
        from .regions import region_payload

        project = self.context.get("project")
        if project is not None and not project.has_regions:
            return []  # a class answer: no statement for regions it cannot have

        return [region_payload(region) for region in annotation.regions.select_related("label_class")]


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS, required=False, help_text="Guessed from the file name when left out.")
    text_field = serializers.CharField(default="text", max_length=200)
    label_field = serializers.CharField(required=False, allow_blank=True, max_length=200)
    id_field = serializers.CharField(required=False, allow_blank=True, max_length=200)
    split = serializers.ChoiceField(choices=SPLITS, default="auto")
    import_id = serializers.CharField(required=False, max_length=64)


class NewItemSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=100_000, help_text="The text to label.")
    external_id = serializers.CharField(max_length=200, required=False, default="")


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    external_id = serializers.CharField()
    split = serializers.CharField()
    status = serializers.CharField()
    label = serializers.CharField(source="final_class.key", default=None)
    label_name = serializers.CharField(source="final_class.name", default=None)
