"""End to end in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium, never a
downloaded browser) against a live ``barenet serve`` app, draws digits on the canvas with the
mouse and checks what the page shows, on a desktop-sized and a phone-sized window, with no
console errors. Set BARENET_SCREENSHOTS=DIR to keep the screenshots."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import barenet as bn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("fastapi")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from barenet.training.datasets.drawn import DIGIT_STROKES, _smooth  # noqa: E402
from barenet.app.web.app import create_app  # noqa: E402
from barenet.app.web.default_model import SHIPPED  # noqa: E402
from web_helpers import LiveServer  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = os.environ.get("BARENET_SCREENSHOTS")


@pytest.fixture(scope="module")
def server():
    app = create_app(bn.load(SHIPPED), "the model that ships with barenet")
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(params=["desktop", "phone"])
def page(request, browser, server):
    viewport = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}[request.param]
    context = browser.new_context(viewport=viewport, device_scale_factor=1, has_touch=request.param == "phone")
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelectorAll('#bars li').length === 10")
    page.kind = request.param
    yield page
    assert errors == [], errors
    context.close()


def _draw(page, digit, style=0):
    """Draw a digit's strokes with the mouse, as a person would, across most of the canvas."""
    box = page.locator("#canvas").bounding_box()
    for stroke in DIGIT_STROKES[digit][style]:
        points = _smooth(np.asarray(stroke))
        to_screen = lambda p: (box["x"] + box["width"] * (0.2 + 0.6 * p[0]), box["y"] + box["height"] * (0.1 + 0.8 * p[1]))  # noqa: E731
        page.mouse.move(*to_screen(points[0]))
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*to_screen(point), steps=2)
        page.mouse.up()


def _shot(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-{page.kind}.png"))


@pytest.mark.parametrize("digit", [3, 7, 0])
def test_drawing_a_digit_shows_that_digit(page, digit):
    expect = sync_api.expect
    _draw(page, digit)
    expect(page.locator("#guess")).to_have_text(str(digit), timeout=15000)
    # the 28×28 image the server prepared is shown, and it has ink in it
    ink = page.evaluate("""() => { const d = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
                                   let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }""")
    assert ink > 28 * 28 * 10
    widths = page.eval_on_selector_all("#bars .fill", "bars => bars.map(b => parseFloat(b.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 1.5 and widths[digit] == max(widths)
    _shot(page, f"draw-{digit}")


def test_undo_and_clear(page):
    expect = sync_api.expect
    _draw(page, 7)
    expect(page.locator("#guess")).to_have_text("7", timeout=15000)
    page.click("#clear")
    expect(page.locator("#guess")).to_have_text("?")
    _draw(page, 4, style=1)  # two strokes
    expect(page.locator("#guess")).to_have_text("4", timeout=15000)
    page.click("#undo")  # one stroke of the 4 left: the guess changes or empties, the page keeps working
    page.click("#undo")
    expect(page.locator("#guess")).to_have_text("?")


def test_the_page_fits_the_window(page):
    box = page.locator("#canvas").bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["width"] >= min(250, width - 40)
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow


def test_watching_a_model_learn(page):
    expect = sync_api.expect
    page.click("#tab-train")
    page.select_option("#dataset", "xor")
    page.fill("input[name=hidden]", "16")
    page.select_option("select[name=activation]", "tanh")
    page.fill("input[name=epochs]", "8")
    page.fill("input[name=lr]", "0.01")
    page.click("#start")
    expect(page.locator("#train-status")).to_contain_text("Training finished", timeout=60000)
    points = page.evaluate("Chart.getChart('loss-chart').data.labels.length")
    assert points == 9  # epoch 0 to 8, drawn live as they came
    assert page.locator("#use").is_disabled()  # an XOR model cannot read drawings
    _shot(page, "train")
