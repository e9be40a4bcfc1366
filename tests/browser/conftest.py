"""Browser tests: Debian's Chromium driven by Playwright against Django's
live_server (see DESIGN.md "Running it").

Every test here is marked `browser`. The live server implies transaction=True
semantics (and serialized rollback, see tests/conftest.py), so the data a test
creates is committed and visible to the server thread.

Browser contexts default to a 1366×900 window and a Russian browser (the
company's language); a test that reads the English UI asks for it with
`@pytest.mark.browser_context_args(locale="en-US")`.
"""

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

# Playwright's sync API runs an event loop in the main thread; the test's own
# ORM calls (setting up data, checking the outcome) happen there too.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        skip_or_fail(f"needs Debian's chromium at {CHROMIUM}")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "ru-RU", "timezone_id": "Europe/Moscow"}


CSP_VIOLATIONS_TO_CONSOLE_JS = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  "Content Security Policy violation: " + event.effectiveDirective + " blocked " +
  (event.blockedURI || "?") + " at " + event.sourceFile + ":" + event.lineNumber));
// htmx with allowEval off (templates/base.html) skips, rather than runs, what needs eval.
document.addEventListener("htmx:evalDisallowedError", (event) => console.error(
  "Content Security Policy: htmx needed eval for " + (event.detail.source || "?")));
"""


@pytest.fixture(autouse=True)
def _page_health(page):
    """A page that throws JavaScript errors, misses its own static files or breaks
    its Content-Security-Policy (an inline script, style or handler, eval, a foreign
    source) fails the test."""
    problems = []
    page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))
    # Chromium logs a violation to the console ("... violates the following Content
    # Security Policy directive ..."); the init script (which the policy does not
    # govern) reports every securitypolicyviolation event there too, in every frame.
    page.add_init_script(CSP_VIOLATIONS_TO_CONSOLE_JS)
    page.on(
        "console",
        lambda message: (
            problems.append(f"CSP: {message.text}") if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if "/static/" in response.url and response.status >= 400
            else None
        ),
    )
    page.set_default_timeout(10_000)
    yield problems  # a test may read (and clear) what was found so far
    # Stop the page's polling before the test database goes away.
    page.goto("about:blank")
    assert not problems, problems


@pytest.fixture(autouse=True)
def _requests_in_flight(page):
    """Count the page's requests in flight from its first one, so helpers.sign_out
    can wait for the answers of the page it leaves."""
    from tests.browser.helpers import watch_requests

    watch_requests(page)


# --- data -----------------------------------------------------------------------------------------


@pytest.fixture
def around_the_clock(db):
    """A 24/7 business calendar (00:00–00:00 every day, no holidays), so the
    tests pass at any hour."""
    from sla.models import BusinessCalendar, WorkingHours

    calendar = BusinessCalendar.objects.create(
        code="browser-24x7", name="24/7", timezone="Europe/Moscow", holiday_country=""
    )
    for weekday in range(7):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(0), closes=dt.time(0))
    return calendar


@pytest.fixture
def floor(team_a, head, rep, around_the_clock):
    """Team A working 24/7, its head and a rep on shift all week, and a web-form source."""
    from revops.models import Shift
    from tests.factories import SourceFactory

    team_a.calendar = around_the_clock
    team_a.save()
    for user, first, last in [(head, "Ирина", "Волкова"), (rep, "Олег", "Смирнов")]:
        user.first_name, user.last_name = first, last
        user.save()
    for weekday in range(7):
        Shift.objects.create(user=rep, weekday=weekday, starts=dt.time(0), ends=dt.time(0))
    source = SourceFactory(code="site", name="Сайт")
    return {"team": team_a, "head": head, "rep": rep, "source": source}
