"""Model versions, rounds, the ranked queue, and the jobs that produce them."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models import Item, LabelClass, Project


class ModelVersion(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    learner = models.CharField(max_length=64)
    artifact = models.CharField(max_length=500, blank=True, default="")
    labels_used = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="unique_model_version")]


class Round(models.Model):
    """One fit-score-select pass; the list of rounds is the learning curve."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    strategy = models.CharField(max_length=64)
    strategy_used = models.CharField(max_length=64, help_text="Differs from `strategy` when no model could be fitted.")
    batch_size = models.PositiveIntegerField()
    selected = models.PositiveIntegerField()
    pool_size = models.PositiveIntegerField()
    labels_used = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True, default="")
    learner = models.CharField(max_length=64, blank=True, default="")
    config = models.JSONField(default=dict, help_text="The sampling configuration this round ran with.")
    details = models.JSONField(default=dict, help_text="What the strategy reported (refits, class counts, ...).")
    train_accuracy = models.FloatField(null=True, blank=True)
    stability_kappa = models.FloatField(
        null=True, blank=True, help_text="Agreement (Cohen's kappa) with the previous model on the fixed stop set."
    )
    stopping = models.JSONField(default=dict, help_text="Which stopping criteria fired this round, and why.")
    drift = models.JSONField(default=dict, help_text="Uncertainty of newly arrived items against the labeled data.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_round_number")]


class QueueEntry(models.Model):
    """The current batch, best first. Rewritten whole by each round in one transaction."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queue")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="queue_entry")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    predicted_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "rank"], name="queue_order")]


class TrainingJob(models.Model):
    """A request for a round. At most one queued-or-running job per project (a DB
    constraint); further requests set `rerun_requested` instead of piling up."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_jobs")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(max_length=64, default="labels")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rerun_requested = models.BooleanField(default=False)
    phase = models.CharField(max_length=32, blank=True, default="")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Touched while the round runs; a stale one means its worker died."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(state__in=["queued", "running"]), name="one_active_job_per_project"
            )
        ]


class SimulationRun(models.Model):
    """An admin's "simulate before you choose": strategies replayed on the labeled items."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="simulations")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    config = models.JSONField(default=dict)
    result = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class StreamDecision(models.Model):
    """Whether an item that arrived on its own was sent to annotators at once: the
    record of stream-based selective sampling, and the window its budget rule reads."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stream_decisions")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="stream_decision")
    score = models.FloatField(help_text="Least-confidence uncertainty under the latest model.")
    queried = models.BooleanField()
    mode = models.CharField(max_length=16)
    model_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-id"], name="stream_recent")]


class Prediction(models.Model):
    """The latest model's regions for an image item: shown to annotators as suggestions
    and read by detection strategies. One row per item, replaced by each round."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="predictions")
    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="prediction")
    model_version = models.PositiveIntegerField()
    regions = models.JSONField(default=list, help_text="[{label, kind, geometry, confidence}], normalised.")
    score = models.FloatField(null=True, blank=True, help_text="Informativeness under the round's strategy.")
    created_at = models.DateTimeField(auto_now=True)


class Disagreement(models.Model):
    """A labeled item whose human label the round's model contradicts with high
    confidence. A reviewer settles it; the outcome says whose error it was."""

    class Outcome(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Label confirmed (model weakness)"
        CORRECTED = "corrected", "Label corrected (human error)"
        RELABEL = "relabel", "Sent for re-labeling (human error)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="disagreements")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="disagreements")
    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="disagreements")
    human_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_class = models.ForeignKey(LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confidence = models.FloatField(help_text="The model's probability for its own class.")
    detail = models.JSONField(default=dict, blank=True, help_text="For regions: the unmatched or relabelled shapes.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.OPEN)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(outcome="open"), name="one_open_disagreement_per_item"
            ),
        ]
        indexes = [models.Index(fields=["project", "outcome"], name="disagreement_outcome")]


class AnswerDay(models.Model):
    """One annotator's answers in a project on one UTC day (the day the answer was first
    stored), with what the dashboard and the quality table need from them. Every path that
    adds, removes or changes an answer adds its difference here (`answer_days`), so those
    pages read a few hundred rows instead of grouping every answer. One row per annotator
    and day, so annotators never wait on each other's row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    answers = models.IntegerField(default=0, help_text="Answers that are not gold checks.")
    gold_checks = models.IntegerField(default=0)
    gold_score_total = models.FloatField(default=0.0, help_text="Sum of the gold checks' scores.")
    timed = models.IntegerField(default=0, help_text="Answers, gold checks included, that carry a duration.")
    duration_ms_total = models.BigIntegerField(default=0)
    reviewed = models.IntegerField(default=0, help_text="Review decisions (approve, send back, correct) on these answers.")
    overruled = models.IntegerField(default=0, help_text="Of those, the decisions that sent back or corrected.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator", "day"], name="unique_answer_day"),
        ]
