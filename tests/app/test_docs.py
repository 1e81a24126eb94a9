"""The documentation cannot drift from the code: every Python block of the README and of every
page of the site runs as a script in a new process (the blocks of a page in order, as a reader
pasting them into a file would), shows what it says it shows (no bare expression whose value only
a prompt would print), and the site builds with MkDocs with warnings as errors.

A page whose blocks need something a test machine may lack says so in its first block's first
line: ``# needs: mnist`` (or ``fashion-mnist``, ``gpu``); the test is skipped, by name, where it
is missing."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
NEEDS = re.compile(r"^# needs: ([\w, -]+)$", re.M)
RUNNER = Path(__file__).with_name("run_blocks.py")


def _page_param(page):
    needs = NEEDS.search(page.read_text())
    names = [n.strip() for n in needs.group(1).split(",")] if needs else []
    marks = [pytest.mark.data(*[n for n in names if n in ("mnist", "fashion-mnist")])] \
        if any(n in ("mnist", "fashion-mnist") for n in names) else []
    if "gpu" in names:
        marks.append(pytest.mark.skipif(not _gpu(), reason="needs CuPy and an NVIDIA GPU"))
    return pytest.param(page, marks=marks, id=str(page.relative_to(ROOT)))


def _gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def test_every_page_of_the_site_is_in_its_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        if page.parent.name != "javascripts":
            assert str(page.relative_to(ROOT / "docs")) in nav, page


@pytest.mark.parametrize("page", [_page_param(p) for p in [ROOT / "README.md", *PAGES] if FENCE.search(p.read_text())])
def test_the_code_of_each_page_runs_as_a_script_and_shows_what_it_says(page, tmp_path):
    done = subprocess.run([sys.executable, str(RUNNER), str(page)], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path, env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, (done.stderr or done.stdout)[-4000:]


def _build(site, **env):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1", **env))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("WARNING -")], result.stderr
    return site


def test_the_site_builds_without_warnings(tmp_path):
    site = _build(tmp_path / "site")
    built = (site / "tutorial" / "backprop" / "index.html").read_text()
    assert 'class="arithmatex"' in built and "katex" in built
    assert 'id="barenet.core.layers.Dense.backward"' in (site / "reference" / "api" / "index.html").read_text()
    assert "--hidden" in (site / "reference" / "cli" / "index.html").read_text()  # printed from the parser


@pytest.mark.data("mnist")
def test_the_notebooks_run_when_the_site_is_built_and_show_their_results(tmp_path):
    site = _build(tmp_path / "site", BARENET_DOCS_EXECUTE="true", BARENET_QUICK="1")
    for page in ("01_mnist_mlp", "04_regression", "05_clusters_torch"):
        html = (site / "tutorial" / "notebooks" / page / "index.html").read_text()
        assert "barenet:" in html and "data:image/png;base64" in html, page
