"""MkDocs hooks (mkdocs.yml ``hooks:``): the measured figures of every page are put in at build
time from the results files, ``{{ speed.table }}`` and the like (``docs/figures.py``); a name that
no results file gives fails the build."""
import functools
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as figure_source  # noqa: E402

PLACE = re.compile(r"\{\{\s*([\w.\-]+)\s*\}\}")


@functools.cache
def _values():
    return figure_source.figures()


def on_page_markdown(markdown, page, config, files):
    values = _values()

    def put(match):
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{page.file.src_path} shows {{{{ {name} }}}}, which no results file gives")
        return values[name]
    return PLACE.sub(put, markdown)
