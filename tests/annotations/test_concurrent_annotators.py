"""Fifty annotators at once, with overlap 1 and 3: no answer that was acknowledged is
lost, no item gets more answers or claims than the overlap, and nothing answers a 5xx
but "busy, retry" (503 past the lock timeout), which the client sends again as the page does.

The size is LABELER_CROWD_SUBMISSIONS answers per annotator (10 by default, for CI);
bench/concurrency.py runs the same code at 50 x 100 and reports the numbers.
"""
import os

import pytest

from bench.concurrency import crowd_report

ANNOTATORS = int(os.environ.get("LABELER_CROWD_ANNOTATORS", "50"))
SUBMISSIONS = int(os.environ.get("LABELER_CROWD_SUBMISSIONS", "10"))

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("overlap", [1, 3])
def test_concurrent_annotators_lose_nothing_and_respect_the_overlap(overlap):
    report = crowd_report(ANNOTATORS, SUBMISSIONS, overlap)

    assert report["unexpected_5xx"] == 0, report  # 503 "busy, retry" is retried, as the page does
    assert report["errors"] == [], report
    assert report["created_201"] == ANNOTATORS * SUBMISSIONS, report
    assert report["min_answers_by_one_annotator"] == SUBMISSIONS, report
    assert report["lost_annotations"] == 0, report
    assert report["duplicate_201_ids"] == 0, report
    assert report["annotations_in_database"] == ANNOTATORS * SUBMISSIONS, report
    assert report["items_over_answers"] == 0, report
    assert report["items_over_claims"] == 0, report
    assert report["items_over_assigned_count"] == 0, report
    assert report["items_count_mismatch"] == 0, report
    assert report["same_annotator_twice"] == 0, report
