"""The guide cannot drift from the code: every Python block in docs/*.md runs (the blocks of a
page in order, sharing their variables, as a reader pasting them would), and the site builds
with MkDocs with warnings as errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

pytestmark = pytest.mark.slow  # the fast lane (pytest -m 'not slow') leaves these out

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p for p in (ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
matplotlib.use("Agg")


def test_every_page_of_the_guide_is_in_the_site():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert page.name in nav, page.name


@pytest.mark.parametrize("page", [p for p in PAGES if FENCE.search(p.read_text())], ids=lambda p: p.name)
def test_the_code_on_each_page_runs(page, capsys):
    namespace = {"__name__": f"docs.{page.stem}"}
    for number, block in enumerate(FENCE.findall(page.read_text()), 1):
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page.name}, code block {number} fails: {error!r}\n{block}") from error


def test_the_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    built = (tmp_path / "site" / "backprop" / "index.html").read_text()
    assert 'class="arithmatex"' in built and "katex" in built
    assert 'id="barenet.core.layers.Dense.backward"' in (tmp_path / "site" / "api" / "index.html").read_text()
