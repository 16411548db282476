"""A database too busy to take a write answers 503 with Retry-After, not 500.

SQLite waits for its write lock up to the busy timeout (`LABELER_DB_LOCK_TIMEOUT_S`),
and PostgreSQL for a row or table lock up to `lock_timeout` (the same setting), or for
a free connection of the pool as long; past that the transaction that waited is rolled
back whole. A 503 tells the page to send the
same request again (submits carry a client id, so a repeat is stored once).

No retry loop sits on top: the wait is one already (SQLite's busy handler sleeps with
growing back-off), and every write transaction begins IMMEDIATE (settings), so none
fails at once upgrading a read to a write.
"""
import logging

from django.db import DatabaseError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 2
SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")
# lock_not_available (lock_timeout), serialization_failure, deadlock_detected
POSTGRES_BUSY_STATES = {"55P03", "40001", "40P01"}


def is_database_busy(exc: BaseException) -> bool:
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in POSTGRES_BUSY_STATES or isinstance(cause, PoolTimeout):
        return True
    return any(message in str(exc).lower() for message in SQLITE_BUSY_MESSAGES)


def busy_response() -> JsonResponse:
    response = JsonResponse(
        {"detail": "The database is busy with other writes and this request could not be completed; "
                   "try again in a moment.", "code": "database_busy"},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseBusyMiddleware(MiddlewareMixin):
    def process_exception(self, request, exception):
        if not is_database_busy(exception):
            return None
        logger.warning("%s %s: database busy (%s); answered 503", request.method, request.path, exception)
        return busy_response()
