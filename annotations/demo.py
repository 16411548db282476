"""The demo project: real review sentences when the shared dataset is beside the repo,
else a small sample written for the repo."""
import os
import random
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction

from .formats.sentiment import read_sentiment_file
from .importing import import_rows
from .models import LabelClass, Membership, Ontology, Project

DEMO_USERS = (
    ("admin", "admin-demo-pass", True, Membership.Role.ADMIN),
    ("reviewer", "reviewer-demo-pass", False, Membership.Role.REVIEWER),
    ("annotator", "annotator-demo-pass", False, Membership.Role.ANNOTATOR),
    ("annotator2", "annotator2-demo-pass", False, Membership.Role.ANNOTATOR),
)
DEMO_PROJECT = "Demo: review sentiment"
SAMPLE_FILE = Path(__file__).with_name("demo_sentences.tsv")


def shared_dataset_dir() -> Path:
    configured = os.environ.get("LABELER_SENTIMENT_DIR")
    if configured:
        return Path(configured)
    return settings.BASE_DIR.parent / "shared" / "datasets" / "sentiment_labelled_sentences"


def demo_sentences() -> tuple[list[tuple[str, str]], str]:
    folder = shared_dataset_dir()
    files = sorted(folder.glob("*_labelled.txt")) if folder.is_dir() else []
    if files:
        pairs = [pair for f in files for pair in read_sentiment_file(f)]
        return pairs, f"{folder} ({len(pairs)} sentences)"
    pairs = read_sentiment_file(SAMPLE_FILE)
    return pairs, f"the bundled sample ({len(pairs)} sentences)"


def sentiment_ontology() -> Ontology:
    ontology = Ontology.objects.create(name="Sentiment")
    LabelClass.objects.create(ontology=ontology, key="0", name="negative", colour="#d62728", hotkey="1", order=0)
    LabelClass.objects.create(ontology=ontology, key="1", name="positive", colour="#2ca02c", hotkey="2", order=1)
    return ontology


def hash_demo_passwords(usernames: Collection[str] | None = None) -> Callable[[], dict[str, str]]:
    """Start hashing the demo passwords (of `usernames`, default all) in threads and
    return a function that waits for the hashes. PBKDF2 runs outside the GIL, so the
    hashing (0.3-1 s of CPU per password) takes the cores that the caller's own work
    (bootstrap: migrate, meanwhile) leaves free."""
    wanted = [(name, password) for name, password, _, _ in DEMO_USERS if usernames is None or name in usernames]
    workers = max(1, min(len(wanted), (os.cpu_count() or 2) - 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-passwords")
    futures = {username: pool.submit(make_password, password) for username, password in wanted}
    pool.shutdown(wait=False)
    return lambda: {username: future.result() for username, future in futures.items()}


def ensure_demo_users(password_hashes: Callable[[], dict[str, str]] | None = None) -> dict[str, User]:
    """The demo logins, created where missing; `password_hashes` (from
    hash_demo_passwords) may have been started earlier."""
    names = [username for username, _, _, _ in DEMO_USERS]
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    missing = [username for username in names if username not in users]
    if missing:
        hashes = (password_hashes or hash_demo_passwords(missing))()
        for username, _, staff, _ in DEMO_USERS:
            if username in missing:
                users[username] = User.objects.create(
                    username=username, password=hashes[username], is_staff=staff, is_superuser=staff
                )
    return users


@transaction.atomic
def create_demo_project(
    eval_size: int = 300, retrain_every: int = 10, batch_size: int = 50,
    password_hashes: Callable[[], dict[str, str]] | None = None,
) -> tuple[Project, str] | None:
    """Create the demo project once; None when it exists already."""
    users = ensure_demo_users(password_hashes)
    if Project.objects.filter(name=DEMO_PROJECT).exists():
        return None
    pairs, origin = demo_sentences()
    rng = random.Random(7)
    rng.shuffle(pairs)
    eval_size = min(eval_size, len(pairs) // 5)
    project = Project.objects.create(
        name=DEMO_PROJECT,
        description=f"Is the review positive or negative? Sentences from {origin}.",
        ontology=sentiment_ontology(),
        retrain_every=retrain_every,
        batch_size=batch_size,
        created_by=users["admin"],
    )
    for username, _, _, role in DEMO_USERS:
        Membership.objects.create(project=project, user=users[username], role=role)
    evaluation = [(n, {"text": t, "label": y}) for n, (t, y) in enumerate(pairs[:eval_size], 1)]
    pool = [(n, {"text": t}) for n, (t, _) in enumerate(pairs[eval_size:], 1)]
    import_rows(project, evaluation, label_field="label", split="eval")
    import_rows(project, pool, split="pool")
    return project, origin
