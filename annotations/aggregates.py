"""Expressions for grouping in the database, kept portable between SQLite and PostgreSQL."""
from django.db.models import CharField, Func, Value
from django.db.models.functions import Cast, Substr

# Django writes `is_gold=True` as the bare column (`WHERE "is_gold"`), which SQLite cannot
# seek in an index that holds it: it reads every entry of the project instead (0.2 s at
# 1,000,000 items). `is_gold=TRUE` is written `"is_gold" = true`, an index equality.
TRUE = Value(True)


def utc_day(field: str) -> Func:
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD' text. Both databases store and
    print timestamps in UTC here, so the text's first ten characters are the day; unlike
    TruncDate, SQLite computes it without calling back into Python for every row (about
    8x faster on 300,000 answers)."""
    return Substr(Cast(field, output_field=CharField()), 1, 10)


