"""The static web export in a real browser (Playwright driving Debian's Chromium): the page opened
from disk and from a static server asks for nothing outside its folder and logs no error, and its
numbers equal Python's: prepareDigit against prepare_digit pixel by pixel, predict against
predict_proba, the int8 export against the float model on all of MNIST's test set. One browser
for the module; images travel to the page in one call, as base64 bytes. Set
BARENET_SCREENSHOTS=DIR to keep the screenshots."""
import base64
import copy
from pathlib import Path

import numpy as np
import pytest
from web_helpers import CHROMIUM, SCREENSHOTS, StaticServer, chromium, draw_strokes

import barenet as bn

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("PIL")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

from barenet.app.images import prepare_digit, prepare_silhouette  # noqa: E402
from barenet.app.web.default_model import SHIPPED  # noqa: E402
from barenet.integrations import web  # noqa: E402
from barenet.training.datasets.drawn import DIGIT_STROKES, make_drawn_digits  # noqa: E402

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

BYTES = "(text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))"  # base64 -> bytes, in the page


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def shipped():
    return bn.load(SHIPPED)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, shipped):
    folder = tmp_path_factory.mktemp("exports")
    web.export_web(shipped, folder / "float32")
    web.export_web(shipped, folder / "int8", quantize="int8")
    return folder


def _open(browser, url, viewport=(1280, 860)):
    """A page at ``url``, recording every request it makes and every console error."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1,
                                  has_touch=viewport[0] < 600)
    page = context.new_page()
    page.errors, page.requests = [], []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('#bars li').length > 0")
    return page


def _shot(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def _grey_levels(image):
    """The page's picture of prepared values: Math.round(255 · v), in double precision."""
    return np.floor(255 * image.astype(np.float64) + 0.5)


def _b64(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode()


def _prepared_in_browser(page, images, how="prepareDigit"):
    """barenet.prepareDigit (or another preparation) of each picture, all in one call."""
    shapes = [list(image.shape) for image in images]
    flat = np.concatenate([image.ravel() for image in images])
    values = page.evaluate(f"""([text, shapes]) => {{
        const bytes = ({BYTES})(text); let at = 0;
        return shapes.map(([h, w]) => {{ const g = bytes.subarray(at, at + h * w); at += h * w;
                                        return Array.from(barenet.{how}(g, w, h)); }});
    }}""", [_b64(flat), shapes])
    return np.array(values, dtype=np.float32).reshape(len(images), 28, 28)


def _probabilities_in_browser(page, X_uint8, classes_only=False):
    """barenet.predict of each row (grey levels 0-255 over 255, as float32, like the Python side)."""
    return np.array(page.evaluate(f"""async ([text, n]) => {{
        const bytes = ({BYTES})(text), width = bytes.length / n, out = [];
        for (let k = 0; k < n; k++) {{
            const values = Float32Array.from(bytes.subarray(k * width, (k + 1) * width), (v) => v / 255);
            const p = await barenet.predict(values);
            out.push({'p.indexOf(Math.max(...p))' if classes_only else 'p'});
        }}
        return out;
    }}""", [_b64(X_uint8), len(X_uint8)]))


# -- loading: from disk and from a static host --------------------------------------------------

@pytest.mark.parametrize("where", ["file", "static server"])
def test_the_page_loads_and_reads_a_drawing_with_no_request_outside_its_folder(browser, exports, where):
    folder = exports / "float32"
    with StaticServer(folder) as server:
        base = folder.as_uri() + "/" if where == "file" else server.url + "/"
        page = _open(browser, base + "index.html")
        draw_strokes(page, DIGIT_STROKES[7][0])
        sync_api.expect(page.locator("#guess")).to_have_text("7", timeout=10000)
        assert "test accuracy" in page.inner_text("#model-info")
        assert page.evaluate("barenet.layerKinds") == web.browser_layer_kinds()
        assert page.requests and all(url.startswith(base) for url in page.requests), page.requests
        assert {url[len(base):] for url in page.requests} == {"index.html", "model.js", *web.ASSETS}
        assert page.errors == []
        page.context.close()


@pytest.mark.parametrize("viewport", [(1280, 860), (390, 844)], ids=["desktop", "phone"])
def test_the_exported_page_fits_the_window_and_shows_what_the_network_saw(browser, exports, shipped, viewport):
    page = _open(browser, (exports / "int8" / "index.html").as_uri(), viewport)
    draw_strokes(page, DIGIT_STROKES[3][0])
    sync_api.expect(page.locator("#guess")).to_have_text("3", timeout=10000)
    assert "weights stored as int8" in page.inner_text("#model-info")
    page.wait_for_timeout(300)  # the last frame's prediction
    box = page.locator("#canvas").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport[0] and box["width"] >= min(250, viewport[0] - 40)
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    # the 28×28 picture shown is prepare_digit of the canvas, as Python computes it
    canvas = np.array(page.evaluate("""() => { const c = document.getElementById('canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""")).reshape(280, 280, 4)
    seen = np.array(page.evaluate("""() => Array.from(document.getElementById('seen').getContext('2d')
        .getImageData(0, 0, 28, 28).data)""")).reshape(28, 28, 4)[..., 0]
    np.testing.assert_array_equal(seen, _grey_levels(prepare_digit(canvas[..., 0].astype(np.uint8))))
    assert page.errors == []
    _shot(page, f"web_export_{'desktop' if viewport[0] > 600 else 'phone'}")
    page.context.close()


# -- the numbers: preparation and prediction equal Python's -------------------------------------

@pytest.fixture(scope="module")
def page(browser, exports):
    page = _open(browser, (exports / "float32" / "index.html").as_uri())
    yield page
    assert page.errors == []
    page.context.close()


def _hostile_pictures(n=200, seed=0):
    """Pictures of every odd kind: noise, one dark pixel, flat grey, 1-pixel strips, light on dark."""
    rng = np.random.default_rng(seed)
    pictures = []
    for k in range(n):
        h, w = (int(v) for v in rng.integers(1, 150, 2))
        kind = k % 5
        if kind == 0:
            picture = rng.integers(0, 256, (h, w))
        elif kind == 1:
            picture = np.full((h, w), 255)
            picture[rng.integers(h), rng.integers(w)] = 0
        elif kind == 2:
            picture = np.full((h, w), int(rng.integers(256)))
        elif kind == 3:
            picture = rng.integers(0, 256, (1, w)) * (rng.random((1, w)) < 0.3)
        else:
            picture = np.zeros((h, w), int)
            y, x = rng.integers(h), rng.integers(w)
            picture[y:y + int(rng.integers(1, 60)), x:x + int(rng.integers(1, 60))] = rng.integers(1, 256)
        pictures.append(picture.astype(np.uint8))
    return pictures


@pytest.mark.parametrize("how, python", [("prepareDigit", prepare_digit), ("prepareSilhouette", prepare_silhouette)])
def test_the_browsers_preparation_equals_pythons_on_300_drawings_and_odd_pictures(page, how, python):
    drawings, _ = make_drawn_digits(300, seed=0)
    pictures = list(drawings) + _hostile_pictures()
    in_browser = _prepared_in_browser(page, pictures, how)
    in_python = np.stack([python(picture) for picture in pictures])
    worst = np.abs(in_browser - in_python).reshape(len(pictures), -1).max(axis=1)
    print(f"\n{how}: largest pixel difference {worst[:300].max():.3g} on 300 drawings, "
          f"{worst[300:].max():.3g} on {len(pictures) - 300} odd pictures")
    assert worst.max() <= 1 / 255, np.flatnonzero(worst > 1 / 255)


def test_bad_pictures_are_refused_with_a_message_naming_the_argument(page):
    for call, message in [("barenet.prepareDigit([1, 2, 3], 2, 2)", "gray must hold width × height = 4"),
                          ("barenet.prepareDigit([0, NaN, 0, 0], 2, 2)", "from 0 to 255, got NaN at 1"),
                          ("barenet.prepareDigit([], 0, 0)", "width and height must be positive whole numbers"),
                          ("barenet.predict([1, 2, 3])", "predict takes 784 values, got 3")]:
        error = page.evaluate(f"async () => {{ try {{ await {call}; return null; }} catch (e) {{ return e.name + ': ' + e.message; }} }}")
        assert error is not None and error.startswith("RangeError") and message in error, error


def test_a_model_with_a_layer_the_browser_cannot_run_is_refused_by_name(page):
    error = page.evaluate("""() => { try {
        barenet.useModel({format: "barenet-web", version: 1, weights: "", members: [[{kind: "Upsample2D", config: {}, arrays: {}}]]});
    } catch (e) { return e.message; } }""")
    assert error == "layer 0 (Upsample2D) cannot run in the browser"


def _every_kind_model():
    """Two 784-input classifiers that hold every layer kind the browser runs between them, a
    dense one and a convolutional one (padding by numbers and "same" with an even kernel, strides,
    windows that overlap and do not divide the image, BatchNorm's running statistics moved by
    training), trained a little."""
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32) * (rng.random((300, 784)) < 0.3)
    dense = [bn.Standardizer().fit(X), bn.Dense(784, 32), bn.LeakyReLU(0.1), bn.Dense(32, 24), bn.Sigmoid(),
             bn.Dense(24, 20), bn.Tanh(), bn.Dense(20, 16), bn.GELU(), bn.Dropout(0.1), bn.Dense(16, 12), bn.ReLU(),
             bn.Identity(), bn.Dense(12, 10), bn.Softmax(), bn.Dense(10, 10)]
    convolutional = [bn.Reshape((1, 28, 28)), bn.Conv2D(1, 4, 3, stride=2, padding=1), bn.BatchNorm2D(4), bn.ReLU(),
                     bn.MaxPool2D(3, 2), bn.Conv2D(4, 6, (2, 4), padding="same", bias=False), bn.AvgPool2D(2, (1, 2)),
                     bn.Flatten(), bn.Dense(90, 16), bn.BatchNorm1D(16), bn.Tanh(), bn.Reshape((4, 2, 2)),
                     bn.GlobalAvgPool2D(), bn.Dense(4, 10)]
    assert {type(layer).__name__ for layer in dense + convolutional} >= set(web.browser_layer_kinds())
    models = []
    for seed, layers in ((0, dense), (1, convolutional)):
        model = bn.Sequential(*layers, seed=seed)
        model.fit(X, rng.integers(0, 10, 300), loss="cross_entropy", epochs=2, verbose=0)
        models.append(model)
    return models, X


def test_every_layer_kind_and_an_ensemble_give_pythons_probabilities(browser, tmp_path):
    models, X = _every_kind_model()
    X_uint8 = np.round(X[:200] * 255).astype(np.uint8)
    for name, model in (("dense", models[0]), ("convolutional", models[1]), ("ensemble", bn.Ensemble(models))):
        web.export_web(model, tmp_path / name)
        page = _open(browser, (tmp_path / name / "index.html").as_uri())
        expected = model.predict_proba(X_uint8.astype(np.float32) / 255)
        assert np.abs(_probabilities_in_browser(page, X_uint8) - expected).max() <= 1e-5
        assert page.errors == []
        page.context.close()


def test_an_int8_export_computes_with_one_scale_per_output_channel_as_python_quantizes(browser, tmp_path):
    """The page's int8 decoding (barenet.js) against Python's: the convolutional model with each
    weight array replaced by q · scale (one scale per filter of a convolution, per column of a
    Dense layer) gives, in Python, the page's probabilities to 1e-5."""
    models, X = _every_kind_model()
    model = models[1]
    web.export_web(model, tmp_path / "int8", quantize="int8")
    quantized = copy.deepcopy(model)
    for layer in quantized.layers:
        for name, value in layer.params.items():
            if value.ndim >= 2:
                axis = web.OUTPUT_AXIS.get(type(layer).__name__, -1) % value.ndim
                q, scales = web.quantize_int8(value, axis)
                value[...] = q * np.expand_dims(scales, tuple(a for a in range(q.ndim) if a != axis))
    X_uint8 = np.round(X[:200] * 255).astype(np.uint8)
    expected = quantized.predict_proba(X_uint8.astype(np.float32) / 255)
    assert np.abs(expected - model.predict_proba(X_uint8.astype(np.float32) / 255)).max() > 1e-4  # it is quantized
    page = _open(browser, (tmp_path / "int8" / "index.html").as_uri())
    assert np.abs(_probabilities_in_browser(page, X_uint8) - expected).max() <= 1e-5
    assert page.errors == []
    page.context.close()


@pytest.mark.data("mnist")
def test_the_float32_export_gives_predict_proba_to_1e5_on_1000_mnist_test_images(page, shipped):
    (_, _), (X_test, _) = bn.datasets.load_mnist(download=False)
    X_uint8 = np.round(X_test[:1000] * 255).astype(np.uint8)
    expected = shipped.predict_proba(X_uint8.astype(np.float32) / 255)
    difference = np.abs(_probabilities_in_browser(page, X_uint8) - expected).max()
    print(f"\nfloat32 export: largest probability difference {difference:.3g} on 1,000 MNIST test images")
    assert difference <= 1e-5


@pytest.mark.data("mnist")
def test_the_int8_export_agrees_with_the_float_model_on_mnists_10000_test_images(browser, exports, shipped):
    (_, _), (X_test, y_test) = bn.datasets.load_mnist(download=False)
    X_uint8 = np.round(X_test * 255).astype(np.uint8)
    page = _open(browser, (exports / "int8" / "index.html").as_uri())
    int8 = _probabilities_in_browser(page, X_uint8, classes_only=True)
    page.context.close()
    float32 = shipped.predict(X_uint8.astype(np.float32) / 255)
    agreement = np.mean(int8 == float32)
    loss = np.mean(float32 == y_test) - np.mean(int8 == y_test)
    sizes = {kind: (exports / kind / "model.js").stat().st_size for kind in ("float32", "int8")}
    print(f"\nint8 export: agrees with float32 on {agreement:.2%} of 10,000 test images, accuracy "
          f"{np.mean(int8 == y_test):.2%} against {np.mean(float32 == y_test):.2%}; model.js "
          f"{sizes['int8']:,} against {sizes['float32']:,} bytes")
    assert agreement >= 0.998 and loss <= 0.002
    assert sizes["int8"] <= 0.3 * sizes["float32"]


# -- Fashion-MNIST models: their class names and the silhouette preparation ---------------------

def test_a_fashion_export_asks_for_clothes_and_shows_the_filled_silhouette(browser, tmp_path):
    model = bn.Sequential(bn.Dense(784, 10), seed=0)
    model.loss = bn.CrossEntropy()
    model.metadata = {"dataset": "fashion-mnist", "class_names": list(bn.datasets.FASHION_CLASSES)}
    web.export_web(model, tmp_path / "fashion")
    page = _open(browser, (tmp_path / "fashion" / "index.html").as_uri())
    assert "piece of clothing" in page.inner_text("#hint") and "Ankle boot" in page.inner_text("#hint")
    assert page.eval_on_selector_all("#bars .label", "l => l.map(x => x.textContent)") == list(bn.datasets.FASHION_CLASSES)
    shirt = [(0.3, 0.0), (0.0, 0.25), (0.15, 0.45), (0.25, 0.35), (0.25, 1.0), (0.75, 1.0), (0.75, 0.35),
             (0.85, 0.45), (1.0, 0.25), (0.7, 0.0), (0.3, 0.0)]
    page.mouse.move(0, 0)
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * (0.2 + 0.6 * shirt[0][0]), box["y"] + box["height"] * (0.15 + 0.7 * shirt[0][1]))
    page.mouse.down()
    for x, y in shirt[1:]:
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.6 * x), box["y"] + box["height"] * (0.15 + 0.7 * y), steps=8)
    page.mouse.up()
    sync_api.expect(page.locator("#guess")).not_to_have_text("?", timeout=10000)
    page.wait_for_timeout(300)  # the last frame's prediction
    canvas = np.array(page.evaluate("""() => Array.from(document.getElementById('canvas').getContext('2d')
        .getImageData(0, 0, 280, 280).data)""")).reshape(280, 280, 4)[..., 0].astype(np.uint8)
    seen = np.array(page.evaluate("""() => Array.from(document.getElementById('seen').getContext('2d')
        .getImageData(0, 0, 28, 28).data)""")).reshape(28, 28, 4)[..., 0]
    expected = prepare_silhouette(canvas)
    np.testing.assert_array_equal(seen, _grey_levels(expected))
    assert (expected[10:20, 10:18] > 0.6).all()  # the inside of the shirt is filled, not only its outline
    assert page.errors == []
    _shot(page, "web_export_fashion")
    page.context.close()
