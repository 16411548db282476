"""The labeling domain: who labels what, and the answers they give."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from activelearning.config import default_sampling, default_stopping, default_training
from activelearning.strategies import strategy_choices

from .review_config import default_review

HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f77b4.")
CLASS_KEY = RegexValidator(r"^[A-Za-z0-9_.-]{1,64}$", "Use letters, digits, '_', '.' or '-' (1-64 characters).")


class Ontology(models.Model):
    """A set of label classes; projects share it, so a rename shows everywhere."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    forked_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks")
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
    description = models.TextField(blank=True, default="", help_text="What belongs in the class (Markdown).")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    shapes = models.JSONField(
        default=list, blank=True,
        help_text="Allowed shapes among classification, box, polygon, mask; empty allows every shape of the project.",
    )
    attributes = models.JSONField(
        default=list, blank=True,
        help_text="Per-object attributes: [{key, name, type: choice|checkbox|number, options, min, max, default}].",
    )
    examples = models.JSONField(default=list, blank=True, help_text="Stored example images (media paths).")

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
    class Trigger(models.TextChoices):
        LABELS = "labels", "Every N new labels"
        SCHEDULE = "schedule", "On a schedule"
        MANUAL = "manual", "By hand only"

    retrain_trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.LABELS)
    retrain_interval_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="With the schedule trigger: start a round this often when new labels came in.",
    )
    training = models.JSONField(
        default=default_training, blank=True,
        help_text="Detector training: model size, epochs, image size, batch, device, uploaded weights.",
    )
    eval_fraction = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Fraction of newly imported unlabeled items set aside as the evaluation split.",
    )
    review = models.JSONField(
        default=default_review, blank=True,
        help_text="Review policy, consensus quorum, gold fraction, qualification and quality thresholds.",
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
    class Qualification(models.TextChoices):
        PENDING = "pending", "Not yet qualified"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    qualification = models.CharField(
        max_length=8, choices=Qualification.choices, default=Qualification.PENDING,
        help_text="Where the project requires a qualification set, annotators label only gold items until they pass.",
    )

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
    is_gold = models.BooleanField(default=False, help_text="A known answer, mixed unannounced into annotators' queues.")
    gold_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    gold_regions = models.JSONField(null=True, blank=True, help_text="The known regions of a gold image.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "status", "split", "assigned_count"], name="item_claimable"),
            models.Index(fields=["project", "is_gold"], name="item_gold"),
            # The unlabeled pool in id order: the claim's random start and its walk from
            # there read a few entries of this index, whatever the project's size.
            models.Index(
                fields=["project", "id"],
                name="item_open_pool",
                condition=models.Q(status="unlabeled", split="pool", is_gold=False),
            ),
        ]


class Assignment(models.Model):
    """An item reserved for one annotator until `expires_at`."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"
        RETURNED = "returned", "Sent back by a reviewer"

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
    is_gold = models.BooleanField(default=False, help_text="A gold check: it does not count toward the item's overlap.")

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
    class Review(models.TextChoices):
        NONE = "none", "Not reviewed"
        PENDING = "pending", "Awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Sent back"

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    client_id = models.UUIDField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    review_status = models.CharField(max_length=8, choices=Review.choices, default=Review.NONE)
    review_reason = models.TextField(blank=True, default="", help_text="Why a reviewer sent the answer back.")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    gold_score = models.FloatField(
        null=True, blank=True, help_text="On a gold item: 1/0 for a class, F1 of the matched regions for shapes."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "client_id"], condition=Q(client_id__isnull=False), name="unique_client_id"
            ),
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=Q(annotator__isnull=False), name="one_answer_per_annotator"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "created_at"], name="annotation_recent"),
            models.Index(fields=["project", "review_status"], name="annotation_review"),
        ]


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
    attributes = models.JSONField(default=dict, blank=True, help_text="Values of the class's per-object attributes.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["annotation", "order", "id"]


class Consensus(models.Model):
    """The item's agreed answer when several annotators label it, and how it was reached.
    Export and training read `label_class` (through Item.final_class) and `regions`."""

    class Method(models.TextChoices):
        SINGLE = "single", "One answer"
        MAJORITY = "majority", "Majority vote"
        REGION_VOTE = "region_vote", "Regions matched by IoU, kept by majority"
        REVIEWER = "reviewer", "Decided by a reviewer"

    class Status(models.TextChoices):
        AGREED = "agreed", "Agreed"
        TIE = "tie", "Tie: a reviewer decides"
        BELOW_QUORUM = "below_quorum", "Too few answers: a reviewer decides"
        REVIEWED = "reviewed", "Decided by a reviewer"

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="consensus")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=16, choices=Method.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    label_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    regions = models.JSONField(default=list, blank=True, help_text="Merged regions: label key, kind, geometry, support.")
    votes = models.JSONField(default=dict, blank=True, help_text="Answers per class key.")
    annotators = models.PositiveSmallIntegerField(default=0)
    agreement = models.FloatField(null=True, blank=True, help_text="Share of answers that agree with the consensus.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "status"], name="consensus_status"),
            models.Index(fields=["project", "agreement"], name="consensus_agreement"),
        ]


class ItemEvent(models.Model):
    """One step in an item's history: a submission, a review decision, a comment."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        RESUBMITTED = "resubmitted", "Fixed and resubmitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Sent back"
        CORRECTED = "corrected", "Corrected and approved"
        DECIDED = "decided", "Consensus decided by a reviewer"
        COMMENTED = "commented", "Commented"
        RESOLVED = "resolved", "Question resolved"
        DISAGREEMENT = "disagreement", "Model-label disagreement settled"
        GOLD = "gold", "Gold answer set"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    annotation = models.ForeignKey(Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True, help_text="What changed: reason, before and after.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "created_at", "id"]


class Comment(models.Model):
    """A threaded comment on an item; a thread's first comment carries `resolved`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="comments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "parent", "resolved"], name="comment_open")]


class OntologyChange(models.Model):
    """The audit log of an ontology: who changed which class, when, before and after."""

    class Action(models.TextChoices):
        CREATE = "create", "Class created"
        UPDATE = "update", "Class changed"
        MERGE = "merge", "Classes merged"
        DELETE = "delete", "Class deleted"
        REORDER = "reorder", "Classes reordered"
        IMPORT = "import", "Ontology imported"
        FORK = "fork", "Ontology forked"

    ontology = models.ForeignKey(Ontology, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)
    class_key = models.CharField(max_length=64, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


def guide_media_path(image: "GuideImage", filename: str) -> str:
    return f"projects/{image.project_id}/guide/{filename}"


class Guide(models.Model):
    """A project's labeling instructions (Markdown), shown beside the task."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="guide")
    body = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class GuideRevision(models.Model):
    """Every version the guide had, so a change can be seen and undone."""

    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    body = models.TextField(blank=True, default="")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    note = models.CharField(max_length=500, blank=True, default="")
    proposal = models.ForeignKey("GuideProposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["guide", "version"], name="unique_guide_version")]


class GuideProposal(models.Model):
    """An annotator's suggested edit of the guide, accepted or declined by an admin."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="proposals")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    note = models.CharField(max_length=500, blank=True, default="")
    base_version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class GuideImage(models.Model):
    """An image embedded in the guide or a class description; served to members only."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guide_images")
    file = models.FileField(upload_to=guide_media_path, max_length=500)
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
