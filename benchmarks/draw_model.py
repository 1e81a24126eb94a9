"""Measure the model the draw page ships with: the source of the draw page's figures.

    python benchmarks/draw_model.py                      # the shipped model
    python benchmarks/draw_model.py old.npz --name mlp   # another model file, recorded beside it
    python benchmarks/draw_model.py new.npz --validation # choosing: other drawings, nothing recorded

For each model file: how many of the 300 synthetic drawings of ``make_drawn_digits(300, seed=123)``
(the drawings tests/app/test_drawn_digits.py reads) it reads after ``prepare_digit``, the file's
size, and the page's answer time: the median over those drawings of a POST of the canvas as PNG to
``barenet serve``'s /api/predict (decoding, preparation, the network and the JSON answer, in the
server's process through FastAPI's TestClient, so without the network), and of the network alone on
one prepared image; and, where Playwright and Debian's Chromium are installed, the static export's
answer in the browser (``barenet.predict`` on a prepared drawing, the median over the drawings,
JavaScript's clock, which Chromium rounds to 0.1 ms). The figures go into
``benchmarks/results/draw_model.json`` under ``--name``, beside the machine, the versions and the date.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import barenet as bn
from barenet.app.images import prepare_digit
from barenet.app.web.default_model import SHIPPED, prepared_drawings
from barenet.training.datasets.drawn import make_drawn_digits

RESULTS = Path(__file__).resolve().parent / "results" / "draw_model.json"


def _png(image) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _median_ms(call, items) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def browser_ms(model, prepared) -> float | None:
    """The median time of the static export's ``barenet.predict`` on each prepared image, in ms."""
    import shutil
    import tempfile
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    from barenet.integrations.web import export_web
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        export_web(model, Path(folder) / "page")
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page()
        page.goto((Path(folder) / "page" / "index.html").as_uri())
        page.wait_for_function("document.querySelectorAll('#bars li').length > 0")
        times = page.evaluate("""async (rows) => {
            const out = [];
            for (const row of rows) { const values = Float32Array.from(row);
                const started = performance.now(); await barenet.predict(values); out.push(performance.now() - started); }
            out.sort((a, b) => a - b); return out[Math.floor(out.length / 2)]; }""", prepared.tolist())
        browser.close()
    return float(times)


VALIDATION_SEEDS = (1001, 1002, 1003, 1004, 1005)  # what choices are made on: 1,500 drawings, not seed 123's


def validation(path: Path) -> dict:
    """How many of the validation drawings (``VALIDATION_SEEDS``, 300 each) the model reads, and its misreads."""
    model = bn.load(path)
    read, total, misreads = 0, 0, {}
    for seed in VALIDATION_SEEDS:
        prepared, labels = prepared_drawings(300, seed)
        predicted = model.predict(prepared)
        read, total = read + int((predicted == labels).sum()), total + len(labels)
        for digit, answer in zip(labels[predicted != labels], predicted[predicted != labels]):
            misreads[f"{digit} read as {answer}"] = misreads.get(f"{digit} read as {answer}", 0) + 1
    return {"accuracy": read / total, "read": read, "drawings": total,
            "misreads": dict(sorted(misreads.items(), key=lambda item: -item[1]))}


def measure(path: Path) -> dict:
    """Accuracy on the 300 drawings, file size and answer times of the model file at ``path``."""
    from fastapi.testclient import TestClient

    from barenet.app.web.app import create_app

    model = bn.load(path)
    images, labels = make_drawn_digits(300, seed=123)  # the PNGs are sent to the server, the rows to the network
    prepared = np.stack([prepare_digit(image) for image in images]).reshape(len(images), -1)
    read = model.predict(prepared) == labels
    client = TestClient(create_app(model, str(path)))
    pngs = [_png(image) for image in images]
    client.post("/api/predict", json={"png": pngs[0]})  # the first call compiles and warms
    answers = [client.post("/api/predict", json={"png": png}).json()["prediction"] for png in pngs]
    return {"accuracy": float(read.mean()), "read": int(read.sum()), "drawings": len(labels),
            "server_agrees": bool(np.array_equal(answers, model.predict(prepared))),
            "file_bytes": path.stat().st_size, "parameters": int(model.count_params()),
            "description": (getattr(model, "metadata", {}) or {}).get("description"),
            "answer_ms": _median_ms(lambda png: client.post("/api/predict", json={"png": png}), pngs),
            "network_ms": _median_ms(lambda row: model.predict_proba(row[None]), prepared),
            "browser_ms": browser_ms(model, prepared)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(SHIPPED), help="a model file (default: the shipped one)")
    parser.add_argument("--name", default="shipped", help="the key of its figures in the results file "
                        "(not with --validation, which records nothing)")
    parser.add_argument("--validation", action="store_true",
                        help="read the validation drawings (seeds 1001-1005) instead, and record nothing")
    args = parser.parse_args(argv)
    if args.validation:
        print(json.dumps(validation(Path(args.model)), indent=1))
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"models": {}}
    results["models"][args.name] = figures = measure(Path(args.model))
    results.update(date=time.strftime("%Y-%m-%d"), machine={
        "processor": platform.processor() or platform.machine(), "cores": __import__("os").cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
