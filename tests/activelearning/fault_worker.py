"""A worker process for test_worker_faults to kill: it runs one job's round against the
test database with a learner whose fit never ends, and writes MARKER once fitting.

    python -m tests.activelearning.fault_worker DATABASE_NAME JOB_ID MARKER
"""
import os
import sys
import time
from dataclasses import replace
from pathlib import Path


class EndlessFit:
    def __init__(self, marker: Path):
        self.marker = marker

    def fit(self, X, y):
        self.marker.write_text("fitting")
        time.sleep(600)
        return self


def main(database_name: str, job_id: int, marker: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database_name
    import django

    django.setup()
    from activelearning import jobs
    from activelearning.learners import LEARNERS

    LEARNERS["tfidf_logreg"] = replace(LEARNERS["tfidf_logreg"], factory=lambda seed: EndlessFit(marker))
    jobs.run_round(job_id)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
