"""The README's screenshots, at desktop width (1440 px) and phone width (390 px),
from a running app with the demo company (`make run`), in Russian.

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--out docs/screenshots]

Needs Chromium at /usr/bin/chromium (the pip package playwright drives it; never
`playwright install`). Each person signs in through the login form with the demo
password, as a user would.
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

PASSWORD = "demo"
WIDTHS = {"": (1440, 900), "phone_": (390, 844)}
# (file name, who, path); "{lead}" is the first lead of the person's queue.
PAGES = [
    ("queue", "rep1", "/queue/"),
    ("lead_card", "rep1", "{lead}"),
    ("team_board", "sales_head", "/team/"),
    ("breaches", "sales_head", "/sla/breaches/"),
    ("dashboard_ru", "ceo", "/dashboard/"),
    ("funnel_ru", "marketer", "/reports/funnel/?by=source"),
    ("sla_report_ru", "sales_head", "/reports/sla/?by=owner"),
    # The loop between the departments (issue #15).
    ("nurture_ru", "marketer", "/nurture/"),
    ("track_ru", "marketer", "{track}"),
    ("feedback_ru", "marketer", "/feedback/"),
    ("disputes_ru", "sales_head", "/disputes/"),
]


def sign_in(page, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda u: "/login/" not in u)


def first_lead(page, url: str) -> str:
    page.goto(f"{url}/queue/")
    return page.locator("#queue-rows a[href*='/leads/']").first.get_attribute("href")


def first_track(page, url: str) -> str:
    page.goto(f"{url}/nurture/tracks/")
    # The second track of the list (by name): the one with all three kinds of step.
    return page.locator("main table a[href^='/nurture/tracks/']").nth(1).get_attribute("href")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        for prefix, (width, height) in WIDTHS.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
            page = context.new_page()
            who = None
            for name, username, path in PAGES:
                if prefix and name not in ("queue", "lead_card", "team_board", "breaches"):
                    continue  # the phone shots: the pages a rep or head works from a phone
                if username != who:
                    sign_in(page, args.url, username)
                    who = username
                targets = {"{lead}": first_lead, "{track}": first_track}
                target = targets[path](page, args.url) if path in targets else path
                page.goto(f"{args.url}{target}")
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(500)  # charts and badges settle
                page.screenshot(path=str(out / f"{prefix}{name}.png"), full_page=not prefix)
                print(out / f"{prefix}{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
