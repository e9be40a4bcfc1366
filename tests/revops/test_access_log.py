"""Request logs keep paths, not query strings: `/leads/?search=79031110001` is a
phone number (issue #11, item 15). gunicorn's access log is formatted here by
gunicorn's own logger with our config file; runserver's lines go through the
LOGGING filter."""

import datetime as dt
import json
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = ROOT / "config" / "gunicorn.conf.py"
PHONE = "79031110001"
GUNICORN_DEFAULT_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def gunicorn_config(**overrides) -> Config:
    """The settings gunicorn takes from `--config config/gunicorn.conf.py` (the way its
    loader does: every module-level name that is a gunicorn setting)."""
    cfg = Config()
    for name, value in runpy.run_path(str(CONFIG_FILE)).items():
        if name in cfg.settings:
            cfg.set(name, value)
    for name, value in overrides.items():
        cfg.set(name, value)
    return cfg


def a_request_for(uri: str):
    path, _, query = uri.partition("?")
    referer = f"https://crm.example.ru/leads/?search={PHONE}&status=open"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    request = SimpleNamespace(headers=[("REFERER", referer), ("USER-AGENT", "Mozilla/5.0")])
    response = SimpleNamespace(status="200 OK", sent=5120, headers=[("Content-Type", "text/html")])
    return response, request, environ


def access_line(capsys, cfg: Config, uri: str) -> str:
    logger = cfg.logger_class(cfg)  # created here so its stdout handler writes into capsys
    logger.access(*a_request_for(uri), dt.timedelta(milliseconds=42))
    return capsys.readouterr().out


def test_the_config_turns_the_access_log_on_and_uses_our_logger():
    cfg = gunicorn_config()
    assert cfg.accesslog == "-"
    assert cfg.logger_class.__name__ == "PathOnlyLogger"
    for atom in ("%(r)s", "%(q)s", "%(f)s"):  # request line, query string, referer
        assert atom not in cfg.access_log_format


def test_the_access_log_has_the_path_and_not_the_query_string(capsys):
    line = access_line(capsys, gunicorn_config(), f"/leads/?search={PHONE}&status=open")

    assert '"GET /leads/ HTTP/1.1" 200 5120 42ms "Mozilla/5.0"' in line
    assert PHONE not in line and "search=" not in line


@pytest.mark.parametrize(
    "log_format",
    [GUNICORN_DEFAULT_FORMAT, '"%(r)s" %(q)s %({query_string}e)s %({raw_uri}e)s %({referer}i)s'],
)
def test_a_format_that_asks_for_the_query_string_still_gets_none(capsys, log_format):
    line = access_line(capsys, gunicorn_config(access_log_format=log_format), f"/leads/?search={PHONE}")

    assert "/leads/" in line
    assert PHONE not in line


def test_the_error_log_line_for_a_failed_request_has_no_query_string(capsys):
    cfg = gunicorn_config()
    logger = cfg.logger_class(cfg)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s", f"/leads/?search={PHONE}")  # gunicorn/workers/base.py

    err = capsys.readouterr().err
    assert "Error handling request /leads/" in err and PHONE not in err


def test_the_image_and_compose_start_gunicorn_with_the_config_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    dockerfile_cmd = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    for command in (compose["services"]["web"]["command"], json.loads(dockerfile_cmd[4:])):
        assert command[0] == "gunicorn"
        assert command[command.index("--config") + 1] == "config/gunicorn.conf.py"
        # nothing on the command line overrides the file's log settings
        assert not {"--access-logfile", "--access-logformat", "--logger-class"} & set(command)


def test_runserver_request_lines_lose_their_query_string():
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("django.server")
    handler = Keep()
    logger.addHandler(handler)
    try:
        # django/core/servers/basehttp.py: log_message(format, requestline, code, size)
        logger.info('"%s" %s %s', f"GET /leads/?search={PHONE}&status=open HTTP/1.1", "200", "5120")
        logger.warning('"%s" %s %s', f"GET /queue/work/?after=1#{PHONE} HTTP/1.1", "404", "10")
    finally:
        logger.removeHandler(handler)

    assert lines == ['"GET /leads/ HTTP/1.1" 200 5120', '"GET /queue/work/ HTTP/1.1" 404 10']
