"""No Docker engine runs here, so the compose file is checked by reading it:
the services exist, run the right commands, and pass the settings the
settings module demands in production."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_defines_the_production_services():
    services = load()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_each_app_service_runs_the_right_process():
    services = load()["services"]
    assert (
        services["web"]["command"][0] == "gunicorn"
        and "config.wsgi:application" in services["web"]["command"]
    )
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]


def test_app_services_get_every_setting_production_requires():
    services = load()["services"]
    required = {
        "REVOPS_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "TIME_ZONE",
        "SITE_URL",
    }
    for name in ["web", "worker", "beat", "migrate"]:
        env = services[name]["environment"]
        assert required <= set(env), name
        assert env["REVOPS_ENV"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_every_variable_the_app_services_pass_is_read_by_the_settings():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', settings_source))
    env = load()["services"]["web"]["environment"]
    unknown = set(env) - read
    assert not unknown, f"compose passes variables the settings never read: {unknown}"


def test_health_checks_watch_the_right_things():
    services = load()["services"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["redis"]["healthcheck"]["test"])


def test_the_image_the_services_build_exists_and_serves_the_wsgi_app():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic" in dockerfile
    assert "config.wsgi:application" in dockerfile
    assert load()["x-app"]["build"] == "."
