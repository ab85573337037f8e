"""The admin console in headless Chromium against a real server: the whole loop from a
question the help center cannot answer to the gap it resolves, and every page at desktop and
phone width (screenshots in ``var/screenshots/console-*.png``).

Needs Debian's ``chromium`` and Playwright for Python, as the widget's browser test does.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.console_helpers import make_scoped_keys
from tests.public_helpers import app_for, base_settings, index_fixture_kb, make_state
from tests.servers import free_port, serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
QUESTION = "Is the hub compatible with Apple HomeKit?"
ANSWERABLE = "How many days do I have to return hardware?"
ARTICLE = ("The Lumora hub works with Apple HomeKit: open the Home app, tap Add Accessory and "
           "scan the setup code under the hub. A blinking purple light means the hub is "
           "ready to pair with HomeKit.")
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def site(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    _, engine = index_fixture_kb(var, embedder)
    port = free_port()
    settings = base_settings(var, public={"demo": True, "ip_limit": 10_000,
                                          "demo_origins": [f"http://127.0.0.1:{port}"]})
    state = make_state(settings, engine, embedder)
    keys = make_scoped_keys(engine)
    with serve(app_for(settings, state), port=port) as url:
        # An answered conversation, for the pages that show one and its trace.
        r = httpx.post(url + "/v1/chat", json={"message": ANSWERABLE}, timeout=60,
                       headers={"Authorization": f"Bearer {keys.admin}"})
        assert r.status_code == 200 and r.json()["fallback"] is None, r.text
        yield url, keys


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def open_page(browser, errors: list[str], **context_args):  # type: ignore[no-untyped-def]
    context = browser.new_context(**context_args)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def ask_widget(browser, url: str, question: str, errors: list[str]):  # type: ignore[no-untyped-def]
    """Ask ``question`` in a new visitor's widget; the newest bot reply."""
    page = open_page(browser, errors, **DESKTOP)
    page.goto(url + "/")
    page.get_by_role("button", name="Open help chat").click()
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream")):
        box.press("Enter")
    reply = page.locator(".gl-bot:not(.gl-greeting)").last
    expect(reply).to_be_visible()
    return page, reply


def sign_in(page, url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/admin")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def test_a_gap_from_the_widget_to_its_resolution(site, browser):
    url, keys = site
    errors: list[str] = []
    widget, reply = ask_widget(browser, url, QUESTION, errors)
    expect(reply).to_contain_text("rather not guess")  # the help center cannot answer it
    widget.context.close()

    lead = open_page(browser, errors, **DESKTOP)
    lead.goto(url + "/admin/login")
    shot(lead, "login-desktop")
    sign_in(lead, url, keys.editor)
    lead.get_by_role("link", name="Knowledge gaps").click()
    gap = lead.locator("article.gap", has_text=QUESTION)
    expect(gap).to_contain_text("off_topic")
    expect(gap).to_contain_text("rather not guess")  # what the bot answered
    gap.get_by_role("button", name="Why?").click()
    expect(gap.locator(".trace")).to_contain_text("off_topic")
    shot(lead, "loop-gap-open-desktop")

    gap.get_by_role("link", name="Write an article").click()
    body = lead.get_by_label("Markdown")
    expect(body).to_contain_text(QUESTION)  # prefilled with the gap's questions
    lead.get_by_label("Title").fill("Use the hub with Apple HomeKit")
    lead.get_by_label("Id").fill("t-homekit")
    lead.get_by_label("URL").fill("https://help.example.test/articles/t-homekit")
    body.fill(ARTICLE)
    expect(lead.locator("#preview")).to_contain_text("Add Accessory")  # live preview
    shot(lead, "loop-editor-from-gap-desktop")
    lead.get_by_role("button", name="Save").click()
    expect(lead.get_by_role("heading", name="Use the hub with Apple HomeKit")).to_be_visible()
    lead.get_by_role("button", name="Publish").click()
    expect(lead.locator(".pill-published").first).to_be_visible()
    lead.get_by_role("button", name="Re-index now").click()
    job = lead.locator("#job .job")
    expect(job).to_have_attribute("data-status", re.compile("succeeded|unchanged"))
    lead.reload()
    expect(lead.locator("aside")).to_contain_text("current")
    shot(lead, "loop-article-published-desktop")

    widget, reply = ask_widget(browser, url, QUESTION, errors)
    expect(reply.locator(".gl-text")).to_contain_text("Add Accessory")
    expect(reply.locator("a.gl-cite").first).to_have_attribute("href", re.compile("t-homekit"))
    widget.context.close()

    lead.goto(url + "/admin/gaps?tab=resolved")
    resolved = lead.locator("article.gap", has_text=QUESTION)
    expect(resolved).to_have_attribute("data-status", "resolved")
    expect(resolved).to_contain_text("t-homekit")
    shot(lead, "loop-gap-resolved-desktop")
    lead.context.close()
    assert errors == []


PAGES = {"overview": "/admin?days=7", "conversations": "/admin/conversations",
         "articles": "/admin/articles", "held": "/admin/held", "index": "/admin/index",
         "evaluation": "/admin/evaluation", "handoffs": "/admin/handoffs",
         "keys": "/admin/keys", "audit": "/admin/audit", "gaps": "/admin/gaps?tab=open",
         "gaps-resolved": "/admin/gaps?tab=resolved"}


@pytest.mark.parametrize(("width", "size"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_page_at_desktop_and_phone_width(site, browser, width, size):
    url, keys = site
    errors: list[str] = []
    page = open_page(browser, errors, **size)
    if width == "phone":
        page.goto(url + "/admin/login")
        shot(page, "login-phone")
    sign_in(page, url, keys.admin)
    for name, path in PAGES.items():
        page.goto(url + path)
        expect(page.locator("nav a[aria-current=page]")).to_have_count(1)
        shot(page, f"{name}-{width}")
    page.goto(url + "/admin/conversations")
    page.locator("table a").first.click()
    page.get_by_role("button", name="Show trace").first.click()
    expect(page.locator(".trace").first).to_contain_text("Candidates")
    shot(page, f"conversation-{width}")
    page.goto(url + "/admin/articles/t-returns")
    shot(page, f"article-{width}")
    page.goto(url + "/admin/articles/new")
    shot(page, f"editor-{width}")
    if width == "phone":  # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.context.close()
    assert errors == []
