"""The guide ties each formula to the line that computes it, quoted inline (`self.cols = ...`):
every such quote is in the package's source as written, so that a change of the code cannot leave
the page quoting a line that no longer exists."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def _quotes(page):
    """The inline code of a page, outside its code blocks, that quotes the package's code: it
    names ``self.`` or ``xp.`` and assigns or calls; an elided quote (with ``...``) is left out."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [span for span in SPAN.findall(text)
            if ("self." in span or "xp." in span) and ("=" in span or "(" in span) and "..." not in span]


PAGES = [page for page in sorted((ROOT / "docs").rglob("*.md")) if _quotes(page)]


def test_the_guide_quotes_code_lines():
    assert sum(len(_quotes(page)) for page in PAGES) >= 8  # the check below would pass on no quote at all


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_line_a_page_quotes_is_in_the_source(page):
    source = "\n".join(path.read_text() for path in (ROOT / "src" / "barenet").rglob("*.py"))
    missing = [quote for quote in _quotes(page) if quote not in source]
    assert not missing, f"{page.name} quotes code that is not in src/barenet: {missing}"
