"""The labeling domain: who labels what, and the answers they give."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from activelearning.config import default_sampling, default_stopping, default_training
from activelearning.strategies import strategy_choices

HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f77b4.")
CLASS_KEY = RegexValidator(r"^[A-Za-z0-9_.-]{1,64}$", "Use letters, digits, '_', '.' or '-' (1-64 characters).")


class Ontology(models.Model):
    """A set of label classes; projects share it, so a rename shows everywhere."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class LabelClass(models.Model):
    """One class. `key` is stable and is what imports, exports and the API speak."""

    ontology = models.ForeignKey(Ontology, on_delete=models.CASCADE, related_name="classes")
    key = models.CharField(max_length=64, validators=[CLASS_KEY])
    name = models.CharField(max_length=200)
    colour = models.CharField(max_length=7, default="#1f77b4", validators=[HEX_COLOUR])
    hotkey = models.CharField(max_length=1, blank=True, default="")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ontology", "key"], name="unique_class_key"),
            models.UniqueConstraint(
                fields=["ontology", "hotkey"], condition=~Q(hotkey=""), name="unique_class_hotkey"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    class Kind(models.TextChoices):
        TEXT_CLASSIFICATION = "text_classification", "Text classification"
        IMAGE_CLASSIFICATION = "image_classification", "Image classification"
        DETECTION = "detection", "Object detection (boxes)"
        SEGMENTATION = "segmentation", "Instance segmentation (polygons and masks)"

    @property
    def is_image(self) -> bool:
        return self.kind != self.Kind.TEXT_CLASSIFICATION

    @property
    def has_regions(self) -> bool:
        return self.kind in (self.Kind.DETECTION, self.Kind.SEGMENTATION)

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.TEXT_CLASSIFICATION)
    ontology = models.ForeignKey(Ontology, on_delete=models.PROTECT, related_name="projects")
    overlap = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="How many different annotators label each item.",
    )
    retrain_every = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)], help_text="Start a round after this many new labels."
    )
    batch_size = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="How many items each round puts in the queue.",
    )
    strategy = models.CharField(max_length=64, choices=strategy_choices(), default="least_confidence")
    learner = models.CharField(
        max_length=64, default="tfidf_logreg", help_text="The model family the worker fits each round."
    )
    sampling = models.JSONField(
        default=default_sampling, blank=True,
        help_text="Strategy parameters: mix parts, density weighting, committee, target ratios, exploration, stream.",
    )
    stopping = models.JSONField(
        default=default_stopping, blank=True,
        help_text="Stopping criteria evaluated each round: target metrics, plateau, budget, stability, overfitting, drift.",
    )
    training = models.JSONField(
        default=default_training, blank=True,
        help_text="Detector training: model size, epochs, image size, batch, device, uploaded weights.",
    )
    eval_fraction = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Fraction of newly imported unlabeled items set aside as the evaluation split.",
    )
    labels_since_round = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name



class Membership(models.Model):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        REVIEWER = "reviewer", "Reviewer"
        ADMIN = "admin", "Admin"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_membership")]


def item_media_path(item: "Item", filename: str) -> str:
    return f"projects/{item.project_id}/items/{filename}"


def video_media_path(video: "Video", filename: str) -> str:
    return f"projects/{video.project_id}/videos/{filename}"


class Video(models.Model):
    """An uploaded video; its frames become items that keep their place in it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="videos")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=video_media_path, max_length=500)
    fps = models.FloatField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Item(models.Model):
    """One unit to label. `assigned_count` counts live claims and answers, so the
    overlap limit is one conditional UPDATE away, on SQLite as on PostgreSQL."""

    class Split(models.TextChoices):
        POOL = "pool", "Pool"
        EVAL = "eval", "Evaluation"

    class Status(models.TextChoices):
        UNLABELED = "unlabeled", "Unlabeled"
        LABELED = "labeled", "Labeled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    text = models.TextField(blank=True, default="")
    media = models.FileField(upload_to=item_media_path, max_length=500, blank=True, default="")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    video = models.ForeignKey(Video, null=True, blank=True, on_delete=models.CASCADE, related_name="frames")
    frame_index = models.PositiveIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True, default="")
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.POOL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNLABELED)
    assigned_count = models.PositiveIntegerField(default=0)
    final_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    final_annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "status", "split", "assigned_count"], name="item_claimable"),
        ]


class Assignment(models.Model):
    """An item reserved for one annotator until `expires_at`."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    model_version = models.PositiveIntegerField(null=True, blank=True)
    rank = models.PositiveIntegerField(null=True, blank=True)
    hint_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hint_confidence = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="unique_assignment")]
        indexes = [
            models.Index(fields=["project", "annotator", "status"], name="assignment_mine"),
            models.Index(fields=["project", "status", "expires_at"], name="assignment_lease"),
        ]


class Annotation(models.Model):
    """One answer for one item: by an annotator, or imported with the item."""

    class Source(models.TextChoices):
        HUMAN = "human", "Annotator"
        IMPORT = "import", "Imported"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    assignment = models.OneToOneField(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation"
    )
    label_class = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations",
        help_text="The class of a classification; empty when the answer is a set of regions.",
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    client_id = models.UUIDField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "client_id"], condition=Q(client_id__isnull=False), name="unique_client_id"
            ),
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=Q(annotator__isnull=False), name="one_answer_per_annotator"
            ),
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="annotation_recent")]


class Region(models.Model):
    """One shape of an answer: a box, polygon or mask, normalised to the image.
    `geometry` is {"box": [x, y, w, h], "polygons": [[x1, y1, ...]], "rle": {...}}."""

    class Kind(models.TextChoices):
        BOX = "box", "Box"
        POLYGON = "polygon", "Polygon"
        MASK = "mask", "Mask"

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="regions")
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="regions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    geometry = models.JSONField()
    from_model = models.BooleanField(default=False, help_text="Accepted (maybe adjusted) from the model's suggestion.")
    model_confidence = models.FloatField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["annotation", "order", "id"]
