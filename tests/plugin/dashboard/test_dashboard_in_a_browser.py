"""The dashboard page in a real headless Chromium: what a person sees, and what a click does.

Chromium is Debian's (``apt-get install chromium``), driven by Playwright for Python with
``executable_path`` (no browser download). Screenshots go to pytest's tmp dir; each is
checked to be a real PNG of the viewport's size, not blank, and to show the key
elements where the DOM says they are at that moment (the weight bar's canary segment in
its colour, the phase badge and the buttons drawn).
"""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image
from plugin_world import metric, status

from routeshift.testing.polling import until

CHROMIUM = shutil.which("chromium")
VIEWPORT = {"width": 1280, "height": 900}
CANARY_AMBER = (0xF5, 0x9E, 0x0B)  # --canary in dashboard.css
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    opened.requested = []  # every URL the page asked for: all must be the dashboard's own
    opened.on("request", lambda request: opened.requested.append(request.url))
    yield opened
    context.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def screenshot(page, path, *, drawn: list[str]) -> Image.Image:
    """Take a screenshot and check it is a real, non-blank PNG showing each ``drawn`` element."""
    png = page.screenshot(path=str(path))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
    rgb = image.convert("RGB")
    assert len(rgb.getcolors(maxcolors=1 << 20)) > 20, "the screenshot is (nearly) blank"
    for selector in drawn:
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["width"] > 0, f"{selector} is not laid out"
        crop = rgb.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"])))
        assert len(crop.getcolors(maxcolors=1 << 16)) > 1, f"nothing drawn where {selector} is"
    return rgb


def centre_colour(image: Image.Image, page, selector: str) -> tuple[int, int, int]:
    box = page.locator(selector).first.bounding_box()
    return image.getpixel((int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)))


def test_page_shows_a_canary_and_follows_it_without_reload(shared_world, unique_canary, dashboard, page, tmp_path):
    name = unique_canary()
    shared_world.set_status(status("Progressing", canary_weight=10, metrics=[metric(99.5, "Successful")]), name)
    running = dashboard()
    page.goto(running.url)
    row = page.locator(f'tr[data-canary="default/{name}"]')
    expect(row.locator('[data-field="phase"]')).to_have_text("Progressing", timeout=WAIT_MS)
    expect(row.locator(".weight-text")).to_have_text("canary 10% / stable 90%")
    expect(page.locator("#connection")).to_have_text("live", timeout=WAIT_MS)
    expect(page.locator("#mode")).to_have_text("read-only")
    assert page.locator("button").count() == 0, "a read-only dashboard shows no operation buttons"
    image = screenshot(page, tmp_path / "list.png", drawn=[f'tr[data-canary="default/{name}"] [data-field="phase"]',
                                                           f'tr[data-canary="default/{name}"] .bar'])
    assert row.locator('[data-field="phase"]').inner_text() == "Progressing"  # what the screenshot shows
    assert centre_colour(image, page, f'tr[data-canary="default/{name}"] .bar .canary') == CANARY_AMBER

    # The controller moves on: the page follows through the event stream, without a reload.
    page.evaluate("window.stillTheSamePage = true")
    shared_world.set_status(status("Paused", step=1, canary_weight=50, metrics=[metric(98.0, "Failed")]), name)
    expect(row.locator('[data-field="phase"]')).to_have_text("Paused", timeout=WAIT_MS)
    expect(row.locator(".weight-text")).to_have_text("canary 50% / stable 50%")
    expect(row.locator('[data-field="step"]')).to_have_text("2/3")
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, tmp_path / "list-paused.png", drawn=[f'tr[data-canary="default/{name}"] [data-field="phase"]'])

    # The detail view: each metric against its bound, the decision log, and still no buttons.
    row.locator("a.name").click()
    detail = page.locator(f'.detail[data-canary="default/{name}"]')
    expect(detail.locator('#metrics tr[data-metric="request-success-rate"] td')).to_have_text(
        ["request-success-rate", "98", ">= 99", "500/50", "Failed", "success rate 98.0"])
    expect(detail.locator("#decisions tbody tr").first).to_contain_text("Paused at canary 50%")
    assert page.url == f"{running.base}canaries/default/{name}"
    assert page.locator("button").count() == 0
    screenshot(page, tmp_path / "detail-read-only.png", drawn=["#metrics", "#decisions"])
    assert page.evaluate("window.stillTheSamePage") is True
    assert [url for url in page.requested if not url.startswith(running.base)] == []


def test_action_button_annotates_the_canary(shared_world, unique_canary, dashboard, page, tmp_path):
    name = unique_canary()
    shared_world.set_status(status("Progressing", canary_weight=10), name)
    running = dashboard("--allow-actions")
    page.goto(running.url)
    expect(page.locator("#mode")).to_have_text("actions enabled", timeout=WAIT_MS)
    assert "token" not in page.url, "the token leaves the address bar once the page has it"

    page.locator(f'tr[data-canary="default/{name}"] a.name').click()
    pause = page.locator('button[data-operation="pause"]')
    expect(pause).to_be_enabled(timeout=WAIT_MS)
    retry = page.locator('button[data-operation="retry"]')
    expect(retry).to_be_disabled()
    assert "only a failed or aborted rollout can be retried" in retry.get_attribute("title")
    screenshot(page, tmp_path / "detail-actions.png", drawn=['button[data-operation="pause"]',
                                                             'button[data-operation="abort"]'])

    pause.click()
    expect(page.locator("#flash")).to_have_text(f"pause default/{name}: holding at step 1/3, canary 10%, until "
                                                "resume or promote", timeout=WAIT_MS)
    annotations = until(lambda: shared_world.annotations(name), 15, description="the pause annotation")
    assert list(annotations) == ["routeshift.dev/pause"]
    # The page shows the request as pending until the controller handles it.
    expect(page.locator(".summary")).to_contain_text("Pending", timeout=WAIT_MS)
    screenshot(page, tmp_path / "detail-after-pause.png", drawn=["#flash"])
    assert [url for url in page.requested if not url.startswith(running.base)] == []
