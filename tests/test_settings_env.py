"""Settings read from the environment: a value that is not what the setting takes stops
the start with a message naming the variable, rather than running on a wrong value."""
import pytest
from django.core.exceptions import ImproperlyConfigured

from labeler.settings import env_bool, env_float, env_int


def test_numbers_are_read_and_an_unset_or_empty_variable_gives_the_default(monkeypatch):
    monkeypatch.setenv("LABELER_PROGRESS_TICK_S", "0.25")
    monkeypatch.setenv("LABELER_WEB_THREADS", "8")
    monkeypatch.setenv("LABELER_DB_POOL_MAX", "")
    monkeypatch.delenv("LABELER_WEB_PROCESSES", raising=False)
    assert env_float("LABELER_PROGRESS_TICK_S", 1.0) == 0.25
    assert env_int("LABELER_WEB_THREADS", 16) == 8
    assert env_int("LABELER_DB_POOL_MAX", 16) == 16
    assert env_int("LABELER_WEB_PROCESSES", 1) == 1


@pytest.mark.parametrize(("read", "raw", "message"), [
    (env_int, "2.5", "LABELER_WEB_THREADS must be an integer, got '2.5'"),
    (env_float, "soon", "LABELER_WEB_THREADS must be a number, got 'soon'"),
    (env_bool, "maybe", "LABELER_WEB_THREADS must be a boolean (1/0, true/false), got 'maybe'"),
])
def test_a_value_of_the_wrong_kind_names_the_variable_and_what_it_takes(monkeypatch, read, raw, message):
    monkeypatch.setenv("LABELER_WEB_THREADS", raw)
    with pytest.raises(ImproperlyConfigured) as error:
        read("LABELER_WEB_THREADS", 1)
    assert str(error.value) == message
