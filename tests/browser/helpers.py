"""Helpers for the browser tests: signing in, screenshots, small page checks, data."""

import time
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "pw"  # tests.factories.UserFactory


# Requests each page has started and not yet seen finish or fail (see sign_out).
_IN_FLIGHT: "weakref.WeakKeyDictionary[object, set]" = weakref.WeakKeyDictionary()


def watch_requests(page) -> None:
    """Keep count of the page's requests in flight, from its first one (an autouse fixture calls this)."""
    in_flight = _IN_FLIGHT.setdefault(page, set())
    page.on("request", lambda request: in_flight.add(request))
    # A redirect finishes its request and starts the next; a cancelled one fails.
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))


def sign_out(page, timeout: float = 10) -> None:
    """Leave the current page and forget every cookie: the browser of somebody new.

    Not just clear_cookies(): the page being left may have requests in flight (the
    bell loads with every page and polls). Django re-sends the CSRF cookie with each
    answer that renders a token, so a late answer lands after clear_cookies() — or
    after the login page set a fresh one — and puts the previous user's CSRF cookie
    back: the login form's token no longer matches it and the sign-in fails with
    "CSRF token from POST incorrect" (about 1 run in 5 of test_accessibility).
    So: navigate away first (nothing new can start, what is pending gets cancelled),
    wait until each of those requests has finished or failed — after that none can
    write a cookie — and only then clear the cookies.
    """
    page.goto("about:blank")
    in_flight = _IN_FLIGHT.get(page, set())
    deadline = time.monotonic() + timeout
    while in_flight:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"requests of the previous page still in flight: {[r.url for r in in_flight]}"
            )
        page.wait_for_timeout(20)  # lets Playwright deliver the requests' events
    page.context.clear_cookies()


def login(page, live_server, username: str, password: str = PASSWORD):
    """Sign in through the login form, as a person would, in a browser of their own."""
    if page.url != "about:blank":
        sign_out(page)  # somebody was using this browser: see sign_out
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    try:
        # Wait for the redirect after a successful sign-in (slow CI machines included).
        page.wait_for_url(lambda url: "/login/" not in url, timeout=15_000)
    except Exception:  # show what the page said instead of a bare timeout
        errors = page.locator(".error").all_inner_texts()
        raise AssertionError(f"{username} could not sign in: {errors or page.url}") from None


def shot(page, name: str) -> Path:
    """A full-page screenshot in test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def blur(page):
    """Take the focus out of any field, so the card's keyboard shortcuts work."""
    page.evaluate("document.activeElement && document.activeElement.blur()")


# Every visible form control needs an accessible name: a <label for>, a wrapping
# <label>, aria-label / aria-labelledby, a title, or (buttons) its own text.
UNNAMED_CONTROLS_JS = """
() => {
  const out = [];
  let checked = 0;
  const controls = document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, [role=button], summary');
  for (const el of controls) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.closest('dialog:not([open])')) continue;
    checked += 1;
    let name = (el.getAttribute('aria-label') || '').trim();
    const by = el.getAttribute('aria-labelledby');
    if (!name && by) name = by.split(/\\s+/).map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    if (!name && el.labels) name = Array.from(el.labels).map(l => l.textContent).join(' ').trim();
    if (!name && (el.tagName === 'BUTTON' || el.tagName === 'SUMMARY' || el.getAttribute('role') === 'button'))
      name = (el.innerText || el.textContent || '').trim();
    if (!name && ['submit', 'button', 'reset'].includes(el.type)) name = (el.value || '').trim();
    if (!name) name = (el.getAttribute('title') || '').trim();
    if (!name) out.push(el.outerHTML.slice(0, 160));
  }
  return {checked, unnamed: out};
}
"""


def unnamed_controls(page) -> list[str]:
    """The visible form controls of the page without an accessible name."""
    result = page.evaluate(UNNAMED_CONTROLS_JS)
    assert result["checked"] >= 5, f"only {result['checked']} controls found on {page.url}"
    return result["unnamed"]


def page_scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def new_lead(source, *, name: str, company: str, phone: str, comment: str = "", **extra):
    """A lead as it arrives from the site: assigned by the rules, with the SLA clock running."""
    from leads.choices import EntryChannel
    from leads.intake import Submission, take_lead
    from leads.models import Lead

    outcome = take_lead(
        Submission(
            source=source,
            channel=EntryChannel.FORM,
            phone=phone,
            name=name,
            company=company,
            comment=comment,
            consent_text="site-2024-01",
            **extra,
        )
    )
    return Lead.objects.select_related("owner", "stage").get(pk=outcome.lead_id)
