"""The API's list pagination: DRF's limit/offset, with both bounded.

DRF leaves `limit` and `offset` unbounded, and a number past what the database's
integers hold (`?limit=8436454617180305043352453120`) failed the query: a 500 on SQLite
("datatype mismatch") as on PostgreSQL ("bigint out of range"). A larger `limit` is cut
to MAX_LIMIT (the `next` link pages on from there) and a larger `offset` to MAX_OFFSET,
past the end of any table, so it gives an empty page.
"""
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
MAX_OFFSET = 10**15


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_offset(self, request):
        return min(super().get_offset(request), MAX_OFFSET)
