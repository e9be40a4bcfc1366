"""The Content-Security-Policy (issue #11, item 13): every response carries a
strict policy, and no template holds code the policy would refuse (so nothing
breaks silently). The browser side — pages really run under it — is
tests/browser/test_csp.py plus the console check in tests/browser/conftest.py."""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from leads.models import SiteForm
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy_of(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.wsgi_request.path}: no Content-Security-Policy"
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def routes(resolver=None, prefix=""):
    """Every URL pattern of the project as a route string ("leads/<int:pk>/")."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                continue  # the admin's hundreds of routes: its pages are walked below
            yield from routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


@pytest.fixture
def every_path(rep):
    """One concrete path per route: ids of a real lead, the one site form."""
    lead = LeadFactory(owner=rep)
    form = SiteForm.objects.create(
        public_id="f-csp",
        source=SourceFactory(code="seo"),
        name="Main",
        allowed_origins="https://www.example.ru",
    )
    values = {"int": str(lead.pk), "slug": "x", "str": "x", "path": "x"}
    paths = []
    for route in routes():
        route = route.replace("<slug:public_id>", form.public_id)
        # The API router's routes are regular expressions: "api/v1/^leads/(?P<pk>[^/.]+)/$".
        route = re.sub(r"\(\?P<\w+>[^)]*\)", str(lead.pk), route.replace("^", "").replace("$", ""))
        if "\\" in route or "(" in route:
            continue  # a format suffix (".json"): the same view as the plain route
        paths.append("/" + re.sub(r"<(\w+):\w+>", lambda m: values[m.group(1)], route))
    admin = ["/admin/", "/admin/leads/lead/", f"/admin/leads/lead/{lead.pk}/change/", "/admin/revops/user/"]
    return [*paths, *admin, "/api/docs/?script=", "/no-such-page/"]


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
INLINE_STYLE_ELEMENT = re.compile(r"<style\b", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)


@pytest.mark.parametrize("who", ["admin_user", "rep", None])
def test_every_response_carries_the_strict_policy_and_its_html_keeps_to_it(client, request, every_path, who):
    if who:
        client.force_login(request.getfixturevalue(who))
    for path in every_path:
        response = client.get(path, HTTP_ACCEPT="text/html,*/*")
        policy = policy_of(response)
        assert "'unsafe-inline'" not in policy["script-src"], path
        assert "'unsafe-eval'" not in response["Content-Security-Policy"], path
        # Everything else is the strict site-wide policy, but for the three pages that say why.
        expected = dict(STRICT)
        if path.startswith("/forms/") and response.status_code == 200:
            expected["frame-ancestors"] = "https://www.example.ru"  # leads/site_forms.py
        if path.startswith("/api/docs/"):
            expected["img-src"] = "'self' data:"  # revops/api_docs.py
        browsable_api = path.startswith("/api/v1/") and response["Content-Type"].startswith("text/html")
        if browsable_api:
            expected["style-src-attr"] = "'unsafe-inline'"  # revops/browsable_api.py
        assert policy == expected, path
        if response["Content-Type"].startswith("text/html") and not response.streaming:
            html = response.content.decode()
            assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html).group())
            assert not INLINE_HANDLER.search(html), (path, INLINE_HANDLER.search(html).group())
            assert not INLINE_STYLE_ELEMENT.search(html), path
            if not browsable_api:
                assert not STYLE_ATTRIBUTE.search(html), (path, STYLE_ATTRIBUTE.search(html).group())


def test_the_walk_covers_the_pages_people_use(every_path):
    for path in [
        "/",
        "/login/",
        "/queue/",
        "/team/",
        "/leads/",
        "/leads/new/",
        "/sla/breaches/",
        "/api/docs/",
    ]:
        assert path in every_path


def test_the_api_docs_load_their_init_script_from_a_url(client, head):
    client.force_login(head)

    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert '<script src="/api/docs/?script="></script>' in page
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_the_browsable_api_may_use_style_attributes_and_nothing_more(client, head):
    client.force_login(head)

    html = client.get("/api/v1/leads/", HTTP_ACCEPT="text/html")
    data = client.get("/api/v1/leads/", HTTP_ACCEPT="application/json")

    assert policy_of(html)["style-src-attr"] == "'unsafe-inline'"
    assert policy_of(html)["script-src"] == "'self'" and policy_of(html)["style-src"] == "'self'"
    assert policy_of(data) == STRICT


def test_htmx_runs_without_eval_and_without_its_inline_style(client, rep):
    client.force_login(rep)

    html = client.get("/", follow=True).content.decode()

    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert config, "base.html sets htmx's configuration"
    assert '"allowEval": false' in config.group(1)
    assert '"includeIndicatorStyles": false' in config.group(1)
    assert ".htmx-indicator" in (ROOT / "static" / "css" / "app.css").read_text()


# --- the templates themselves -----------------------------------------------------------------------


def templates():
    """Our templates: the project's templates/ and any app's <app>/templates/."""
    dirs = [ROOT / "templates", *(d for d in ROOT.glob("*/templates") if d.parent.name != ".venv")]
    found = sorted(path for d in dirs for path in d.rglob("*.html"))
    assert len(found) >= 15, found
    return found


# What a template must not hold under the policy (or what htmx could only do with eval).
FORBIDDEN_IN_TEMPLATES = {
    "inline <script> (put it in static/js, pass data with json_script or data-)": INLINE_SCRIPT,
    "inline event handler (bind it in static/js)": INLINE_HANDLER,
    "javascript: URL": re.compile(r"javascript:", re.I),
    "<style> element (put it in static/css)": INLINE_STYLE_ELEMENT,
    "style attribute (use a class from static/css)": STYLE_ATTRIBUTE,
    "hx-on / hx-vars (htmx evaluates them)": re.compile(r"\shx-(on|vars)\b", re.I),
    "js: in hx-vals (htmx evaluates it)": re.compile(r"hx-vals\s*=\s*['\"]\s*js:", re.I),
    "hx-trigger filter [...] (htmx evaluates it)": re.compile(r"hx-trigger\s*=\s*['\"][^'\"]*\[", re.I),
}


def test_no_template_holds_code_the_policy_refuses():
    found = []
    for path in templates():
        text = path.read_text()
        for what, pattern in FORBIDDEN_IN_TEMPLATES.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}: {match.group()[:80]}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="module">import "x"</script>',
        '<button onclick="go()">',
        '<select id="t" onchange="this.form.submit()">',
        '<a href="javascript:void(0)">',
        "<style>p { color: red }</style>",
        '<p style="color: red">',
        '<div hx-on:click="go()">',
        '<div hx-trigger="click[ctrlKey]">',
    ],
)
def test_the_template_check_catches_each_kind(snippet):
    assert any(pattern.search(snippet) for pattern in FORBIDDEN_IN_TEMPLATES.values())


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/js/app.js" defer></script>',
        '<script id="data" type="application/json">{}</script>',
        '<div hx-get="/x" hx-trigger="load, every 15s">',
        '<button data-confirm="Sure?">',
    ],
)
def test_the_template_check_lets_the_allowed_forms_pass(snippet):
    assert not any(pattern.search(snippet) for pattern in FORBIDDEN_IN_TEMPLATES.values())
