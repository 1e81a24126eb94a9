"""No measured figure is typed by hand: the README's figures are the results files' (between
``<!-- fig:NAME -->`` markers, rewritten by ``python docs/figures.py --readme``), the site's pages
take theirs from the files at build time (``{{ NAME }}``), and no percentage, multiple or time
stands anywhere else in the prose of the README or a page (code blocks, inline code and maths
aside)."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))
import figures  # noqa: E402

MEASURED = re.compile(r"(?<![\w.×])\d[\d,]*(?:\.\d+)?\s?(?:%|×(?!\s?\d)|ms\b|s\b|min\b)")  # not 28×28
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(text):
    for pattern in (r"^```.*?^```", r"<!-- fig:[\w.\-]+ -->.*?<!-- /fig -->", r"\$\$.*?\$\$"):
        text = re.sub(pattern, "", text, flags=re.S | re.M)
    for pattern in (r"`[^`]*`", r"\{\{[^}]*\}\}", r"\\\(.*?\\\)"):
        text = re.sub(pattern, "", text)
    return text


def test_the_readme_shows_the_figures_the_results_files_hold():
    text = (ROOT / "README.md").read_text()
    assert figures.README_FIGURE.search(text), "the README shows its speed and accuracy figures"
    assert text == figures.refresh_readme(text, figures.figures()), "run: python docs/figures.py --readme"


def test_every_figure_a_page_asks_for_is_in_the_results_files():
    values = figures.figures()
    for page in PAGES[1:]:
        for name in re.findall(r"\{\{\s*([\w.\-]+)\s*\}\}", page.read_text()):
            assert name in values, (page, name)


def test_no_measured_figure_is_typed_into_the_readme_or_a_page():
    typed = {str(page.relative_to(ROOT)): MEASURED.findall(_prose(page.read_text())) for page in PAGES}
    assert {page: found for page, found in typed.items() if found} == {}
