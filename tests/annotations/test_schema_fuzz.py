"""Fuzzing every operation of the OpenAPI schema (drf-spectacular's, as /api/schema/ serves
it) with schemathesis, in-process through the WSGI app, as the admin of a small project:
whatever a client sends, valid or not, the answer is never a 5xx.

Path ids are pinned to real objects of the project (random ids would only ever meet a
404); bodies, query strings and the rest are generated, both fitting the schema and
breaking it. A handful of examples per operation and mode, derandomized, keep the run
short and repeatable.
"""
import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from annotations.models import Assignment
from labeler.pagination import MAX_LIMIT
from tests.annotations.security_world import build_world
from tests.conftest import add_items, client_for

# Hypothesis keeps caches in a folder of its own; not in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "labeler-hypothesis")

# A few examples keep the run short; LABELER_FUZZ_EXAMPLES=100 digs deeper locally.
EXAMPLES_PER_OPERATION = int(os.environ.get("LABELER_FUZZ_EXAMPLES", "10"))

FUZZ_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)


@pytest.fixture
def connection_kept_open():
    """The WSGI handler closes the database connection after each request, which would
    end the test's transaction; Django's test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def fuzz_operation(operation, mode: GenerationMode, path_parameters: dict, headers: dict) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=headers))
    def run(case):
        # Each call in a savepoint rolled back after it: every example meets the same
        # project (a DELETE does not empty it for the rest), and on PostgreSQL a refused
        # statement does not leave the test's transaction unusable for the next call.
        with transaction.atomic():
            response = case.call()
            transaction.set_rollback(True)
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.timeout(240)
def test_no_operation_answers_with_a_server_error(cast, connection_kept_open):
    ids = build_world(cast)
    headers = {"Authorization": f"Token {Token.objects.create(user=cast['admin']).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        pinned = {parameter.name: ids[parameter.name] for parameter in operation.path_parameters
                  if parameter.name in ids}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not (len(operation.body) or len(operation.query)):
                continue  # with its ids pinned, nothing is left to break
            try:
                fuzz_operation(operation, mode, pinned, headers)
            except Unsatisfiable:
                continue  # the schema leaves no way to break what remains (e.g. only optional flags)
            except Exception as exc:  # collected, so one run names every operation that fails
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {exc}")
    assert operations > 50, f"only {operations} operations in the schema"
    assert not failures, "server errors:\n\n" + "\n\n".join(failures)


# Server errors the fuzzing found, kept as plain regression tests -------------------

HUGE = "8436454617180305043352453120"  # past the largest integer a database column holds


@pytest.mark.parametrize("query", [f"limit={HUGE}", f"offset={HUGE}", f"limit={HUGE}&offset={HUGE}"])
def test_a_huge_limit_or_offset_is_bounded_instead_of_failing_the_query(cast, query):
    add_items(cast["project"], ["one", "two", "three"])
    response = client_for(cast["admin"]).get(f"/api/projects/{cast['project'].pk}/items/?{query}")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == (0 if "offset" in query else 3)


def test_the_limit_is_cut_to_the_most_one_page_holds(cast):
    add_items(cast["project"], [f"item {n}" for n in range(MAX_LIMIT + 5)])
    response = client_for(cast["admin"]).get(f"/api/projects/{cast['project'].pk}/items/?limit={MAX_LIMIT + 5}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == MAX_LIMIT and response.json()["next"]


@pytest.mark.parametrize("ids", [[int(HUGE)], [0], list(range(1, 102))])
def test_claim_refuses_ids_no_task_can_have(cast, ids):
    add_items(cast["project"], ["one", "two"])
    response = client_for(cast["annotator"]).post(f"/api/projects/{cast['project'].pk}/tasks/claim/",
                                                  {"want": 1, "release_except": ids}, format="json")
    assert response.status_code == 400 and "release_except" in response.json()
    assert not Assignment.objects.exists()


def test_an_ontology_name_longer_than_its_column_is_refused(cast):
    project = cast["project"]
    response = client_for(cast["admin"]).patch(f"/api/projects/{project.pk}/ontology/", {"name": "n" * 201},
                                               format="json")
    assert response.status_code == 400 and "at most 200 characters" in response.json()["detail"]
    project.ontology.refresh_from_db()
    assert project.ontology.name != "n" * 201
