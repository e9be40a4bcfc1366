"""Settings come from the environment and fail loudly on nonsense."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "s" * 60


def load_settings(code=None, **overrides) -> subprocess.CompletedProcess:
    """Import the settings module in a fresh interpreter with `overrides`."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "REVOPS_ENV", "DEBUG", "DB_JIT"}
    }
    environ.update({k: v for k, v in overrides.items() if v is not None})
    code = (
        code or "import config.settings as s; print(s.DATABASES['default']['ENGINE'], s.DEBUG, s.TIME_ZONE)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_the_embedded_default_needs_nothing(tmp_path):
    result = load_settings(REVOPS_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    # DEBUG stays off unless asked for (make run asks): no debug page by default anywhere.
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False", "Europe/Moscow"]


@pytest.mark.parametrize(("value", "debug"), [("1", "True"), ("0", "False")])
def test_debug_is_on_only_when_asked_for(tmp_path, value, debug):
    result = load_settings(REVOPS_DATA_DIR=str(tmp_path), DEBUG=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1] == debug


def test_database_url_switches_to_postgresql(tmp_path):
    result = load_settings(REVOPS_DATA_DIR=str(tmp_path), DATABASE_URL="postgres://u@db:5432/revops")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "django.db.backends.postgresql"


@pytest.mark.parametrize(("jit", "options"), [(None, "-c jit=off"), ("1", None)])
def test_postgresql_connections_turn_jit_off_unless_asked(tmp_path, jit, options):
    result = load_settings(
        REVOPS_DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://u@db:5432/revops",
        DB_JIT=jit,
        code="import config.settings as s; print(s.DATABASES['default'].get('OPTIONS', {}).get('options'))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(options)


def test_the_running_test_database_has_jit_off_on_postgresql(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


PRODUCTION_OK = {
    "REVOPS_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "ALLOWED_HOSTS": "crm.example.com",
    "SITE_URL": "https://crm.example.com",
    "DATABASE_URL": "postgres://u@db:5432/revops",
    "REDIS_URL": "redis://redis:6379/0",
}


def test_production_starts_with_everything_set(tmp_path):
    result = load_settings(REVOPS_DATA_DIR=str(tmp_path), **PRODUCTION_OK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["django.db.backends.postgresql", "False"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SITE_URL": None}, "SITE_URL"),
        ({"SITE_URL": "http://crm.example.com"}, "SITE_URL"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"DEBUG": "ture"}, "DEBUG"),
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE"),
        ({"REDIS_URL": "http://redis:6379"}, "REDIS_URL"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT"),
        ({"LANGUAGE_CODE": "de"}, "LANGUAGE_CODE"),
        ({"REVOPS_ENV": "staging"}, "REVOPS_ENV"),
    ],
)
def test_production_refuses_missing_or_nonsense_settings(tmp_path, change, message):
    settings = {**PRODUCTION_OK, **change}
    environ_removed = {k for k, v in change.items() if v is None}
    result = load_settings(
        REVOPS_DATA_DIR=str(tmp_path), **{k: v for k, v in settings.items() if k not in environ_removed}
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


class TestHelpers:
    def test_booleans(self, monkeypatch):
        for raw, expected in [
            ("1", True),
            ("yes", True),
            ("ON", True),
            ("0", False),
            ("off", False),
            ("", False),
        ]:
            monkeypatch.setenv("X_FLAG", raw)
            assert env.env_bool("X_FLAG", default=None) is expected
        monkeypatch.delenv("X_FLAG")
        assert env.env_bool("X_FLAG", default=True) is True
        monkeypatch.setenv("X_FLAG", "maybe")
        with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
            env.env_bool("X_FLAG", default=False)

    def test_integers_with_bounds(self, monkeypatch):
        monkeypatch.setenv("X_INT", "42")
        assert env.env_int("X_INT", 1) == 42
        for bad in ["4.2", "forty", "-1"]:
            monkeypatch.setenv("X_INT", bad)
            with pytest.raises(ImproperlyConfigured, match="X_INT"):
                env.env_int("X_INT", 1, minimum=0)

    def test_lists_and_required_strings(self, monkeypatch):
        monkeypatch.setenv("X_LIST", " a.example , b.example,, ")
        assert env.env_list("X_LIST", []) == ["a.example", "b.example"]
        monkeypatch.delenv("X_REQUIRED", raising=False)
        with pytest.raises(ImproperlyConfigured, match="X_REQUIRED"):
            env.env_str("X_REQUIRED")

    def test_urls_check_their_scheme(self, monkeypatch):
        monkeypatch.setenv("X_URL", "postgres://db/x")
        assert env.env_url("X_URL", {"postgres"}) == "postgres://db/x"
        monkeypatch.setenv("X_URL", "mysql://db/x")
        with pytest.raises(ImproperlyConfigured, match="X_URL"):
            env.env_url("X_URL", {"postgres"})
