"""Dashboard, agreement and review-queue queries on a 1,000,000-item project.

Builds (once per database file) a text project of `--items` items in a fresh SQLite
file, or in the PostgreSQL database of `--database-url`: 30% labeled by 20 annotators
over 30 days, every 50th item answered by three annotators (overlap 3 with consensus),
1% of the answers pending review, 20 rounds with uncertainty histograms. Then times each
dashboard part, the agreement report and the first page of the review queue,
`--repeat` times each, in this process (no HTTP), and prints one JSON object.

    .venv/bin/python bench/dashboard.py [--items 1000000] [--repeat 5] [--database-url postgres://...]

Progress goes to stderr.
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CHUNK = 50_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def setup_django(database_url: str | None, var_dir: Path) -> None:
    os.environ["LABELER_VAR_DIR"] = str(var_dir)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(items: int) -> int:
    """The project; returns its id. Rows go in with bulk_create in chunks."""
    from django.apps import apps
    from django.contrib.auth.models import User
    from django.db.models.functions import Mod
    from django.utils import timezone

    from activelearning import answer_days
    from activelearning.drift import uncertainty_histogram
    from activelearning.models import Round
    from annotations.models import Annotation, Consensus, Item, LabelClass, Membership, Ontology, Project

    rng = random.Random(7)
    ontology = Ontology.objects.create(name="bench")
    classes = [LabelClass.objects.create(ontology=ontology, key=k, name=k, order=i)
               for i, k in enumerate(("negative", "positive"))]
    project = Project.objects.create(name="Dashboard bench", ontology=ontology, overlap=1,
                                     sampling={"target_ratios": {"negative": 0.5, "positive": 0.5}})
    people = [User.objects.create_user(f"bench{n}") for n in range(20)]
    Membership.objects.bulk_create([Membership(project=project, user=u, role="annotator") for u in people])
    now = timezone.now()
    labeled_every = 10  # 3 of every 10 items labeled
    for start in range(0, items, CHUNK):
        rows = []
        for n in range(start, min(items, start + CHUNK)):
            labeled = n % labeled_every < 3
            rows.append(Item(project=project, text=f"bench sentence {n}", status="labeled" if labeled else "unlabeled",
                             final_class=classes[n % 2] if labeled else None, assigned_count=1 if labeled else 0))
        Item.objects.bulk_create(rows, batch_size=5000)
        log(f"items {min(items, start + CHUNK):,}/{items:,}")
    labeled_ids = Item.objects.filter(project=project, status="labeled").order_by("pk").values_list("pk", flat=True)
    batch, consensus = [], []
    for index, item_id in enumerate(labeled_ids.iterator(chunk_size=CHUNK)):
        voters = 3 if index % 50 == 0 else 1
        for voter in range(voters):
            batch.append(Annotation(
                project=project, item_id=item_id, annotator=people[(index + voter) % 20],
                label_class=classes[(item_id + (voter == 2)) % 2], duration_ms=rng.randint(800, 9000),
                review_status="pending" if index % 100 == 7 else "none",
            ))
        if voters == 3:
            consensus.append(Consensus(item_id=item_id, project=project, method="majority", status="agreed",
                                       label_class=classes[item_id % 2], votes={}, annotators=3, agreement=2 / 3))
        if len(batch) >= CHUNK:
            Annotation.objects.bulk_create(batch, batch_size=5000)
            log(f"answers +{len(batch):,}")
            batch = []
    Annotation.objects.bulk_create(batch, batch_size=5000)
    Consensus.objects.bulk_create(consensus, batch_size=5000)
    log("spreading answers over 30 days")
    spread = Annotation.objects.filter(project=project).annotate(day=Mod("id", 30))
    for day in range(30):
        Annotation.objects.filter(pk__in=spread.filter(day=day).values("pk")).update(
            created_at=now - timedelta(days=day))
    log("rolling the answers up per day (the answer paths do it one by one; bulk_create does not)")
    answer_days.rebuild(apps, project.pk)
    for number in range(1, 21):
        values = [rng.random() * 0.5 for _ in range(20_000)]
        Round.objects.create(project=project, number=number, learner="tfidf_logreg", strategy="margin",
                             strategy_used="margin", batch_size=50, selected=50, pool_size=items,
                             labels_used=number * 1000, metrics={"accuracy": 0.6 + number / 100},
                             details={"uncertainty": uncertainty_histogram(values)})
    return project.pk


def timed(function, repeat: int) -> dict:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return {"p50_s": round(statistics.median(seconds), 4), "max_s": round(max(seconds), 4), "n": repeat}


def measure(project_id: int, repeat: int) -> dict:
    from django.contrib.auth.models import User

    from activelearning import dashboards
    from annotations import review
    from annotations.agreement_report import agreement_report
    from annotations.models import Project
    from annotations.skill import annotator_quality

    project = Project.objects.get(pk=project_id)
    reviewer = User.objects.create_user(f"bench-reviewer-{time.time_ns()}")
    parts = {
        "progress": lambda: dashboards.progress(project),
        "learning_curve": lambda: dashboards.learning_curve(project),
        "class_distribution": lambda: dashboards.class_distribution(project),
        "uncertainty": lambda: dashboards.uncertainty(project),
        "annotator_quality": lambda: annotator_quality(project),
        "whole_dashboard": lambda: dashboards.dashboard(project),
        "agreement_report": lambda: agreement_report(project),
        "review_queue_first_50": lambda: list(review.review_queue(project, reviewer)[:50]),
        "review_counts": lambda: review.review_counts(project),
    }
    results = {}
    for name, function in parts.items():
        log(f"timing {name}")
        results[name] = timed(function, repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default: a fresh SQLite file")
    parser.add_argument("--var-dir", default=None, help="keep the SQLite database here and reuse it next time")
    args = parser.parse_args()
    var_dir = Path(args.var_dir or tempfile.mkdtemp(prefix="labeler-dash-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    setup_django(args.database_url, var_dir)
    from annotations.models import Item, Project

    existing = Project.objects.filter(name="Dashboard bench").first()
    started = time.perf_counter()
    if existing is not None and Item.objects.filter(project=existing).count() == args.items:
        project_id, built_s = existing.pk, 0.0
    else:
        project_id = build(args.items)
        built_s = time.perf_counter() - started
    from django.db import connection

    if connection.vendor == "postgresql":
        log("ANALYZE (as autovacuum would after a bulk load)")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(json.dumps({
        "bench": "dashboard", "items": args.items, "database": connection.vendor, "build_s": round(built_s, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "load": os.getloadavg(),
        "parts": measure(project_id, args.repeat),
    }, indent=1))


if __name__ == "__main__":
    main()
