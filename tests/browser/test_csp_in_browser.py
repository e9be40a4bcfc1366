"""The Content-Security-Policy in a real browser (issue #11, item 13).

The conftest fails any browser test whose page breaks the policy; here we make
sure that guard sees a violation at all, and walk the pages the other browser
tests do not open (the admin, the API docs, the browsable API, the site form)
as people with different roles."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, new_lead
from tests.factories import SourceFactory

pytestmark = pytest.mark.browser_context_args(locale="en-US")


def policy_of(response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_the_browser_guard_sees_an_inline_script_the_policy_blocks(page, live_server, floor, _page_health):
    login(page, live_server, "rep")

    # What an injected <script> or onclick= would do: the browser refuses it.
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        const div = document.createElement("div");
        div.setAttribute("onclick", "window.injected = true");
        document.body.append(div);
        div.click();
    }""")

    page.wait_for_function("() => true")  # let the console messages arrive
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in problem for problem in _page_health), _page_health
    _page_health.clear()  # the point of this test; nothing else may break the policy


def test_the_pages_of_each_role_keep_to_the_policy(page, live_server, floor, ceo):
    lead = new_lead(floor["source"], name="Анна Петрова", company="ООО «Ромашка»", phone="+79031110001")
    for who in ["rep", "head", "ceo"]:
        page.context.clear_cookies()
        login(page, live_server, who)
        links = page.eval_on_selector_all("nav .nav a", "links => links.map(a => a.getAttribute('href'))")
        assert links, who
        for path in dict.fromkeys([*links, f"/leads/{lead.pk}/", "/notifications/", "/account/tokens/"]):
            response = page.goto(f"{live_server.url}{path}")
            assert response.status in (200, 404), (who, path, response.status)
            assert "'unsafe-inline'" not in policy_of(response)["script-src"]
            page.wait_for_load_state("networkidle")  # htmx's first polls, the card's scripts


def test_the_admin_keeps_to_the_policy(page, live_server, floor, admin_user):
    lead = new_lead(floor["source"], name="Анна Петрова", company="ООО «Ромашка»", phone="+79031110001")
    login(page, live_server, "admin")
    pages = ["/admin/", "/admin/leads/lead/", f"/admin/leads/lead/{lead.pk}/change/"]
    for path in [*pages, "/admin/revops/user/", f"/admin/revops/user/{admin_user.pk}/change/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert policy_of(response)["style-src"] == "'self'"
        page.wait_for_load_state("networkidle")


def test_the_api_docs_work_under_the_policy(page, live_server, floor):
    login(page, live_server, "head")

    response = page.goto(f"{live_server.url}/api/docs/")

    policy = policy_of(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"  # Swagger UI's icons
    # The init script came from ?script and drew the operations from the schema.
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/leads/").first).to_be_visible()


def test_the_browsable_api_keeps_to_the_script_policy(page, live_server, floor):
    login(page, live_server, "head")

    response = page.goto(f"{live_server.url}/api/v1/leads/")

    assert response.status == 200
    assert policy_of(response)["script-src"] == "'self'"
    expect(page.locator(".response-info")).to_be_visible()


def test_the_site_form_sends_a_lead_under_the_policy(page, live_server, floor):
    from leads.models import Lead, SiteForm

    form = SiteForm.objects.create(
        public_id="f-browser",
        source=SourceFactory(code="seo", name="SEO"),
        name="Main site",
        allowed_origins="https://www.example.ru",
        consent_version="2026-01",
    )

    response = page.goto(f"{live_server.url}/forms/{form.public_id}/")
    policy = policy_of(response)
    assert policy["frame-ancestors"] == "https://www.example.ru"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    page.fill("#f-name", "Анна Петрова")
    page.fill("#f-phone", "+7 903 111-00-02")
    page.check("input[name=consent]")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("status")).to_have_text("Thank you! We will contact you shortly.")
    assert Lead.objects.filter(source__code="seo").count() == 1


def test_the_queue_skips_a_poll_while_the_focus_is_in_its_rows(page, live_server, floor):
    # Was an htmx trigger filter ("every 30s [!document.activeElement.closest(...)]"),
    # which needs eval; now static/js/app.js cancels the poll's request.
    new_lead(floor["source"], name="Анна Петрова", company="ООО «Ромашка»", phone="+79031110001")
    login(page, live_server, "rep")
    page.goto(f"{live_server.url}/queue/")
    page.wait_for_load_state("networkidle")
    poll_cancelled = """() => {
        const rows = document.getElementById("queue-rows");
        const event = new CustomEvent("htmx:beforeRequest", {bubbles: true, cancelable: true, detail: {elt: rows}});
        return !rows.dispatchEvent(event);
    }"""

    page.locator("#queue-rows a").first.focus()
    assert page.evaluate(poll_cancelled) is True

    page.locator("#main").focus()
    assert page.evaluate(poll_cancelled) is False


def test_chart_js_draws_and_goes_away_under_the_policy(page, live_server, floor):
    # The vendored Chart.js (static/vendor/chartjs) needs no eval and no inline style;
    # loaded from our origin as a page would, driven through a whole chart's life.
    login(page, live_server, "head")
    page.goto(f"{live_server.url}/team/")
    page.add_script_tag(url=f"{live_server.url}/static/vendor/chartjs/chart.umd.min.js")

    drawn = page.evaluate("""() => {
        const canvas = document.createElement("canvas");
        document.getElementById("main").append(canvas);
        const chart = new Chart(canvas, {
            type: "bar",
            data: {labels: ["a", "b"], datasets: [{label: "leads", data: [3, 5]}]},
            options: {animation: false},
        });
        chart.resize(400, 200);
        const pixels = chart.getDatasetMeta(0).data.length;
        chart.destroy();
        return pixels;
    }""")

    assert drawn == 2
    page.wait_for_timeout(200)  # any violation report reaches the console check
