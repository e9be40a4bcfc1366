"""The API tokens page and the sign-in lockout, as a person sees them (under the
Content-Security-Policy: the autouse _page_health fixture fails on a violation)."""

from tests.browser.helpers import login, shot


def test_a_rep_creates_copies_and_revokes_a_token(page, live_server, rep):
    login(page, live_server, "rep")
    page.locator(".topbar a[href='/account/tokens/']").click()
    page.wait_for_url("**/account/tokens/")
    page.fill("#id_name", "telephony")
    page.locator("main form.filters button[type=submit]").click()
    secret = page.locator("#new-token").input_value()
    assert secret.startswith("rvo_")
    assert page.locator("tbody tr").count() == 1
    shot(page, "api-tokens-created")

    page.locator("tbody button[name=revoke]").click()
    page.wait_for_url("**/account/tokens/")
    assert page.locator("#new-token").count() == 0
    assert page.locator("tbody td.empty").count() == 1


def test_a_locked_sign_in_says_so(page, live_server, rep, settings):
    settings.AXES_FAILURE_LIMIT = 2
    page.goto(f"{live_server.url}/login/")
    for _ in range(2):
        page.fill("#id_username", "rep")
        page.fill("#id_password", "not-the-password")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
    alert = page.locator("main [role=alert]")
    assert "15" in alert.inner_text()
    shot(page, "sign-in-locked")
