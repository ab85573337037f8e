"""The demo page and its widget in headless Chromium, against a real server.

Needs Debian's ``chromium`` (``apt-get install chromium``) and Playwright for Python; the
browser Playwright would download is not used.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.models import Feedback, Handoff
from tests.public_helpers import app_for, base_settings, index_fixture_kb, make_state
from tests.servers import free_port, serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ANSWERABLE = "How many days do I have to return hardware?"
OUT_OF_SCOPE = "What is the capital of France?"
RELATED = "Can I return a gift card?"  # the returns article is related but does not say
HELP_SITE = "https://help.example.test/articles/"
ON_HELP_SITE = re.compile("^" + re.escape(HELP_SITE))

if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def demo(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    _, engine = index_fixture_kb(var, embedder)
    port = free_port()
    settings = base_settings(var, public={"demo": True, "ip_limit": 10_000,
                                          "demo_origins": [f"http://127.0.0.1:{port}"]})
    state = make_state(settings, engine, embedder)
    with serve(app_for(settings, state), port=port) as url:
        yield url, engine


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def new_page(browser, **context_args):  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(**context_args)
    context.set_default_timeout(30_000)
    # The fixture articles live on a made-up host: answer for it so citation links can open.
    context.route(HELP_SITE + "**", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body="<title>Help article</title><h1>Return policy</h1>"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


def ask(page, question: str):  # type: ignore[no-untyped-def]
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream")) as info:
        box.press("Enter")
    return info.value


def test_the_demo_widget_end_to_end(demo, browser):
    url, engine = demo
    page, errors = new_page(browser, viewport={"width": 1280, "height": 860})
    page.goto(url + "/")
    launcher = page.get_by_role("button", name="Open help chat")
    launcher.click()
    expect(page.get_by_role("dialog", name="Lumora Help")).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()

    # An answerable question: streamed, with numbered citation links.
    response = ask(page, ANSWERABLE)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text().count("event: delta") >= 1 and "event: done" in response.text()
    answer = page.locator(".gl-bot:not(.gl-greeting)").first
    expect(answer.locator(".gl-sources")).to_be_visible()
    expect(answer.locator(".gl-text")).to_contain_text("45 days")
    cite = answer.locator("a.gl-cite").first
    expect(cite).to_have_text("[1]")
    assert cite.get_attribute("href").startswith(HELP_SITE + "t-returns")
    assert "Return policy" in cite.get_attribute("aria-label")
    with page.expect_popup() as popup_info:
        cite.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url.startswith(HELP_SITE + "t-returns")
    expect(popup.locator("h1")).to_have_text("Return policy")
    popup.close()
    expect(page.get_by_role("status")).to_contain_text("45 days")

    # Out of scope: "I don't know", nothing suggested, a way to a person.
    ask(page, OUT_OF_SCOPE)
    fallback = page.locator(".gl-fallback").last
    expect(fallback).to_contain_text("rather not guess")
    expect(fallback.locator(".gl-suggestions")).to_have_count(0)
    expect(fallback.get_by_role("button", name="Talk to a person")).to_be_visible()

    # Related but not answered: "this may help", the best passage quoted as a suggestion.
    ask(page, RELATED)
    maybe = page.locator(".gl-fallback").last
    expect(maybe).to_contain_text("not sure")
    expect(maybe.locator(".gl-maybe")).to_contain_text("not a confirmed answer")
    expect(maybe.locator(".gl-maybe blockquote")).to_contain_text("return")
    expect(maybe.locator(".gl-maybe a").first).to_have_attribute("href", ON_HELP_SITE)
    expect(maybe.get_by_role("button", name="Talk to a person")).to_be_visible()

    # Thumbs down on the answer, with a reason.
    answer.get_by_role("button", name="Not helpful").click()
    answer.get_by_label("Outdated").check()
    answer.get_by_role("button", name="Send feedback").click()
    expect(answer.get_by_text("Thanks for your feedback!")).to_be_visible()

    fallback.get_by_role("button", name="Talk to a person").click()
    expect(page.locator(".gl-note")).to_contain_text("support team")
    page.screenshot(path=str(SHOTS / "widget-desktop.png"))

    # Reload: the conversation comes back as it was answered.
    page.reload()
    expect(page.locator(".gl-user")).to_have_count(3)
    restored = page.locator(".gl-bot").first
    expect(restored.locator("a.gl-cite").first).to_have_attribute("href", ON_HELP_SITE)
    expect(restored.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "true")
    expect(page.locator(".gl-fallback .gl-maybe blockquote").first).to_be_visible()
    expect(page.locator(".gl-note")).to_contain_text("support team")
    page.screenshot(path=str(SHOTS / "widget-reloaded.png"))

    # Keyboard: Escape closes the panel and gives focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Open help chat")).to_be_focused()
    assert errors == []

    with Session(engine) as session:
        feedback = session.exec(select(Feedback)).all()
        handoffs = session.exec(select(Handoff)).all()
    assert [(f.rating, f.reason) for f in feedback] == [("down", "outdated")]
    assert [h.reason for h in handoffs] == ["missing_knowledge"]


def test_the_widget_fills_a_phone_screen(demo, browser):
    url, _ = demo
    page, errors = new_page(browser, viewport={"width": 390, "height": 844},
                            is_mobile=True, has_touch=True)
    page.goto(url + "/")
    page.get_by_role("button", name="Open help chat").click()
    dialog = page.get_by_role("dialog", name="Lumora Help")
    expect(dialog).to_be_visible()
    ask(page, "How do I turn on two-factor authentication?")
    expect(page.locator(".gl-sources")).to_be_visible()
    steps = page.locator(".gl-bot .gl-text ol li")  # a step list renders as a list
    expect(steps.first).to_contain_text("Account > Security")
    assert steps.count() >= 2
    box = dialog.bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] >= 800
    page.screenshot(path=str(SHOTS / "widget-phone.png"))
    page.get_by_role("button", name="Close help chat").click()
    expect(dialog).to_be_hidden()
    assert errors == []
