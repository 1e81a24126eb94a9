"""End to end in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium, never a
downloaded browser) against a live ``barenet serve`` app, draws digits on the canvas with the
mouse and checks what the page shows, on a desktop-sized and a phone-sized window, with no
console errors. Set BARENET_SCREENSHOTS=DIR to keep the screenshots."""
from pathlib import Path

import numpy as np
import pytest
from web_helpers import CHROMIUM, SCREENSHOTS, LiveServer, chromium, draw_strokes

import barenet as bn

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("fastapi")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from barenet.training.datasets.drawn import DIGIT_STROKES  # noqa: E402
from barenet.app.web.app import create_app  # noqa: E402
from barenet.app.web.default_model import SHIPPED  # noqa: E402

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out


@pytest.fixture(scope="module")
def server():
    app = create_app(bn.load(SHIPPED), "the model that ships with barenet")
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


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
    page.errors = errors
    yield page
    assert errors == [], errors
    context.close()


def _draw(page, digit, style=0):
    """Draw a digit's strokes with the mouse, as a person would, across most of the canvas."""
    draw_strokes(page, DIGIT_STROKES[digit][style])


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
    page.wait_for_timeout(500)  # the bars' 0.12 s transition, and any answer still in flight
    widths = page.eval_on_selector_all("#bars .fill", "bars => bars.map(b => parseFloat(b.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 1.5 and widths[digit] == max(widths)
    # what a person sees: each bar drawn as wide as its probability, the guessed one the widest
    drawn = _drawn_bars(page)
    for share, (fill, track, _) in zip(widths, drawn):
        assert track > 40 and abs(fill / track - share / 100) < 0.02, (fill, track, share)
    assert drawn[digit][0] == max(f for f, _, _ in drawn) and drawn[digit][0] > 0.3 * drawn[digit][1]
    _shot(page, f"draw-{digit}")


def _drawn_bars(page):
    """(rendered fill width, rendered track width, label fully shown and clear of its track) per class."""
    return page.eval_on_selector_all("#bars li", """items => items.map(li => {
        const fill = li.querySelector('.fill').getBoundingClientRect();
        const track = li.querySelector('.track').getBoundingClientRect();
        const label = li.querySelector('.label');
        const box = label.getBoundingClientRect();
        return [fill.width, track.width, label.scrollWidth <= label.clientWidth + 1 && box.right <= track.left + 0.5
                                         && box.top >= track.top - 12 && box.bottom <= track.bottom + 12];
    })""")


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


def _train(page, dataset, hidden, epochs, **fields):
    """Start a job from the form and wait until it finishes; returns the job's status as the
    server keeps it (with what it sent each epoch)."""
    page.click("#tab-train")
    page.select_option("#dataset", dataset)
    page.fill("input[name=hidden]", hidden)
    page.fill("input[name=epochs]", str(epochs))
    for name, value in fields.items():
        if name in ("activation", "conv"):
            page.select_option(f"select[name={name}]", value)
        else:
            page.fill(f"input[name={name}]", str(value))
    page.click("#start")
    sync_api.expect(page.locator("#train-status")).to_contain_text("Training finished", timeout=120000)
    sync_api.expect(page.locator("#learned")).to_have_attribute("data-epoch", str(epochs))
    job = page.evaluate("job.id")
    return page.evaluate(f"fetch('/api/train/{job}').then(r => r.json())")


def _pixels(page, canvas="learned"):
    """The canvas's own pixels (not a screenshot of it), as an (height, width, 4) array."""
    data = page.evaluate(f"""() => {{ const c = document.getElementById('{canvas}');
        return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }}""")
    return np.array(data[2], dtype=np.int64).reshape(data[1], data[0], 4)[..., :3]


BLUE, ORANGE = np.array([47, 111, 222]), np.array([232, 89, 12])  # learned.js's colours of classes 0 and 1


def _class_of(colour):
    """0 or 1: which class's colour a pixel has (a tint of blue or of orange)."""
    return int(colour[0] > colour[2])


def test_watching_a_model_learn_draws_the_decision_regions_it_was_sent(page):
    status = _train(page, "xor", "16", 8, activation="tanh", lr=0.01)
    assert page.evaluate("Chart.getChart('loss-chart').data.labels.length") == 9  # epoch 0 to 8, drawn live
    assert page.get_attribute("#learned", "data-draws") == "9" and page.get_attribute("#learned", "data-kind") == "regions"
    assert page.locator("#use").is_disabled()  # an XOR model cannot read drawings
    pixels, data, regions = _pixels(page), status["data"], status["epochs"][-1]["learned"]["regions"]
    size, cell = pixels.shape[0], pixels.shape[0] / data["grid"]
    # each cell is drawn in the colour of the class the server sent for it (points cover a few)
    drawn = [_class_of(pixels[int((i // data["grid"] + 0.5) * cell), int((i % data["grid"] + 0.5) * cell)])
             for i in range(len(regions))]
    assert np.mean(np.array(drawn) == np.array(regions)) > 0.85
    # and what the picture shows is XOR: the corners (1, 1) and (-1, -1) are class 0, the others class 1
    x0, x1, y0, y1 = data["extent"]
    for x, y, label in [(1.55, 1.55, 0), (-1.55, -1.55, 0), (1.55, -1.55, 1), (-1.55, 1.55, 1)]:
        col, row = int((x - x0) / (x1 - x0) * size), int((y1 - y) / (y1 - y0) * size)
        assert _class_of(pixels[row, col]) == label, (x, y, pixels[row, col])
    assert "Epoch 8." in page.inner_text("#learned-caption")
    _shot(page, "train-regions")


def test_watching_a_model_learn_draws_the_first_layers_weights_as_pictures(page):
    status = _train(page, "digits", "32", 3)
    weights = np.array(status["epochs"][-1]["learned"]["weights"])  # (25 units, 64 pixels), -127..127
    pixels = _pixels(page)
    tile, gap, columns = (int(page.get_attribute("#learned", f"data-{name}")) for name in ("tile", "gap", "columns"))
    checked = 0
    for unit, values in enumerate(weights):
        top, left = (unit // columns) * (tile + gap), (unit % columns) * (tile + gap)
        for i, v in enumerate(values):
            colour = pixels[int(top + (i // 8 + 0.5) * tile / 8), int(left + (i % 8 + 0.5) * tile / 8)]
            if abs(v) < 10:
                continue
            depth = (255 - colour[1]) / (166 if v > 0 else 144)  # how far from white, towards orange or blue
            assert _class_of(colour) == int(v > 0) and abs(127 * depth - abs(v)) <= 2, (unit, i, v, colour)
            checked += 1
    assert checked > 0.6 * weights.size
    _shot(page, "train-weights")


def test_watching_a_model_learn_draws_prediction_against_truth_for_regression(page):
    status = _train(page, "regression", "32", 1, batch_size=1024)
    assert page.locator("#accuracy-chart").is_hidden()  # regression has no accuracy
    true, predicted = np.array(status["data"]["true"]), np.array(status["epochs"][-1]["learned"]["predicted"])
    pixels, size = _pixels(page), 384
    pad, low, high = (float(page.get_attribute("#learned", f"data-{name}")) for name in ("pad", "low", "high"))
    at = lambda v: pad + (v - low) / (high - low) * (size - 2 * pad)  # noqa: E731
    centres = pixels[np.clip((size - at(predicted)).astype(int), 0, size - 1), np.clip(at(true).astype(int), 0, size - 1)]
    assert np.mean(np.all(np.abs(centres - BLUE) < 40, axis=1)) > 0.95  # a point is drawn where each pair says
    assert np.corrcoef(true, predicted)[0, 1] > 0.5  # and the model has learned something
    assert "R² =" in page.inner_text("#learned-caption")
    _shot(page, "train-regression")


@pytest.mark.data("mnist")
def test_drawing_with_a_model_trained_on_the_page(page):
    _train(page, "mnist-10k", "64", 1)
    page.click("#use")
    sync_api.expect(page.locator("#model-info")).to_contain_text("trained here", timeout=10000)
    sync_api.expect(page.locator("#view-draw")).to_be_visible()
    _draw(page, 1)
    sync_api.expect(page.locator("#guess")).not_to_have_text("?", timeout=10000)
    widths = page.eval_on_selector_all("#bars .fill", "bars => bars.map(b => parseFloat(b.style.width))")
    assert len(widths) == 10 and abs(sum(widths) - 100) < 1.5


@pytest.mark.data("mnist")
def test_watching_a_cnn_learn_mnist_shows_its_filters_and_the_draw_page_then_reads_with_it(page):
    status = _train(page, "mnist-10k", "32", 1, conv="conv 8 5, pool 2, conv 16 5, pool 2")
    learned = status["epochs"][-1]["learned"]
    assert learned["shape"] == [5, 5] and len(learned["weights"]) == 8
    assert "first convolution's first 8 filters" in page.inner_text("#learned-caption")
    assert status["test"]["accuracy"] > 0.9  # one epoch of a CNN on 9,000 digits
    _shot(page, "train-cnn")
    page.click("#use")
    sync_api.expect(page.locator("#model-info")).to_contain_text("trained here", timeout=10000)
    sync_api.expect(page.locator("#view-draw")).to_be_visible()  # the model loads, then the view switches
    _draw(page, 7)
    sync_api.expect(page.locator("#guess")).to_have_text("7", timeout=10000)


@pytest.fixture(scope="module")
def fashion_server():
    """A Fashion-MNIST model (untrained: the test is about the page, not the answers)."""
    model = bn.Sequential(bn.Dense(784, 10), seed=0)
    model.loss = bn.CrossEntropy()
    model.metadata = {"dataset": "fashion-mnist", "class_names": list(bn.datasets.FASHION_CLASSES)}
    with LiveServer(create_app(model, "a Fashion-MNIST model")) as live:
        yield live


def test_a_fashion_model_is_labelled_as_such_and_its_class_names_fit(page, fashion_server):
    expect = sync_api.expect
    page.goto(fashion_server.url + "/")
    expect(page.locator("#hint")).to_contain_text("piece of clothing", timeout=10000)
    expect(page.locator("#hint")).to_contain_text("Ankle boot")
    assert "digit" not in page.title() and "digits" not in page.locator("#hint").inner_text()
    labels = page.eval_on_selector_all("#bars .label", "labels => labels.map(l => l.textContent)")
    assert labels == list(bn.datasets.FASHION_CLASSES)
    _draw(page, 1)
    expect(page.locator("#guess")).not_to_have_text("?", timeout=15000)
    drawn = _drawn_bars(page)
    assert all(clear for _, _, clear in drawn), drawn  # no name cut or over its bar
    lefts = page.eval_on_selector_all("#bars .track", "tracks => tracks.map(t => t.getBoundingClientRect().left)")
    assert max(lefts) - min(lefts) < 0.5  # the bars line up
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    _shot(page, "fashion")


def test_a_form_the_server_refuses_says_which_field_and_why(page):
    expect = sync_api.expect
    page.click("#tab-train")
    page.select_option("#dataset", "xor")
    page.fill("input[name=lr]", "1000")
    page.click("#start")
    expect(page.locator("#train-status")).to_contain_text("Could not start: lr:", timeout=10000)
    note = page.locator("input[name=lr] ~ .field-error")
    expect(note).to_be_visible()
    expect(note).to_contain_text("less than or equal to 10")
    assert page.get_attribute("input[name=lr]", "aria-invalid") == "true"
    _shot(page, "form-error")
    # the refused request is the browser's only console message, and the one this test caused
    assert len(page.errors) == 1 and "422" in page.errors[0]
    page.errors.clear()
    page.fill("input[name=lr]", "2")  # the README's digits experiment uses SGD at 2.0: the form takes it
    page.fill("input[name=epochs]", "1")
    page.click("#start")
    expect(page.locator("#train-status")).not_to_contain_text("Could not start", timeout=10000)
    assert page.locator(".field-error").count() == 0
    expect(page.locator("#train-status")).to_contain_text("Training finished", timeout=60000)


def test_the_charts_draw_measured_points_on_a_log_loss_axis(page):
    page.click("#tab-train")
    scales = page.evaluate("""() => { const c = Chart.getChart('loss-chart');
        return [c.options.scales.y.type, c.data.datasets.map(d => d.tension)]; }""")
    assert scales == ["logarithmic", [0, 0]]
