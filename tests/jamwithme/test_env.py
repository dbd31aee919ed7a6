import pytest
from django.core.exceptions import ImproperlyConfigured

from jamwithme.env import database_from_url, env_bool, env_float, env_int, env_list, env_url


def test_env_bool_reads_exactly_true_and_false(monkeypatch):
    monkeypatch.setenv("FLAG", "true")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "False")
    assert env_bool("FLAG", True) is False


def test_env_bool_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", True) is True


@pytest.mark.parametrize("value", ["1", "yes", "Flase", "on"])
def test_env_bool_refuses_anything_else(monkeypatch, value):
    monkeypatch.setenv("FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False)


def test_env_int_refuses_a_non_number_and_a_value_below_the_minimum(monkeypatch):
    monkeypatch.setenv("SIZE", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_int("SIZE", 1)
    monkeypatch.setenv("SIZE", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("SIZE", 1, minimum=1)


def test_env_float_and_list_parse_their_values(monkeypatch):
    monkeypatch.setenv("RATE", "0.5")
    monkeypatch.setenv("HOSTS", "a.example, b.example,")
    assert env_float("RATE", 1.0) == 0.5
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_database_url_for_postgres_becomes_a_databases_entry():
    config = database_from_url("postgres://jam:s%40cret@db.local:5433/jamwithme")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("jamwithme", "jam", "s@cret")
    assert (config["HOST"], config["PORT"]) == ("db.local", "5433")


def test_database_url_for_sqlite_keeps_the_path():
    assert database_from_url("sqlite:////tmp/jam.db")["NAME"] == "/tmp/jam.db"


def test_database_url_with_an_unknown_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y")


def test_env_url_drops_a_trailing_slash_and_uses_the_default_when_unset(monkeypatch):
    monkeypatch.setenv("SITE", "https://jam.example.org/")
    assert env_url("SITE", "http://127.0.0.1:8000") == "https://jam.example.org"
    monkeypatch.delenv("SITE")
    assert env_url("SITE", "http://127.0.0.1:8000") == "http://127.0.0.1:8000"


def test_env_url_without_a_default_is_empty_when_unset(monkeypatch):
    monkeypatch.delenv("SITE", raising=False)
    assert env_url("SITE") == ""
    monkeypatch.setenv("SITE", "")
    assert env_url("SITE") == ""


@pytest.mark.parametrize("value", ["jam.example.org", "ftp://jam.example.org", "https://"])
def test_env_url_refuses_anything_but_an_absolute_http_address(monkeypatch, value):
    monkeypatch.setenv("SITE", value)
    with pytest.raises(ImproperlyConfigured, match="SITE"):
        env_url("SITE", "http://127.0.0.1:8000")
