"""MkDocs hooks (mkdocs.yml ``hooks:``): the measured figures of every page are put in at build
time from the results files, ``{{ speed.table }}`` and the like (``docs/figures.py``); a name that
no results file gives fails the build."""
import functools
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures as figure_source  # noqa: E402

PLACE = re.compile(r"\{\{\s*([\w.\-]+)\s*\}\}")


@functools.cache
def _values():
    return figure_source.figures()


def on_files(files, config):
    """The plots of the results files, drawn from them at build time (``images/results/NAME``)."""
    from mkdocs.structure.files import File

    for name, png in figure_source.plots().items():
        files.append(File.generated(config, f"images/results/{name}", content=png()))
    return files


def on_page_markdown(markdown, page, config, files):
    values = _values()

    def put(match):
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{page.file.src_path} shows {{{{ {name} }}}}, which no results file gives")
        return values[name]
    return PLACE.sub(put, markdown)


_BUILD = {}


def on_pre_build(config):
    """The pages' code runs in a scratch folder: what a page saves (``model.save("moons.npz")``)
    and mkdocs-jupyter's cache of executed notebooks land there, not in the checkout."""
    _BUILD["scratch"] = tempfile.TemporaryDirectory(prefix="barenet-docs-")
    _BUILD["cwd"] = os.getcwd()
    os.chdir(_BUILD["scratch"].name)


def on_post_build(config):
    os.chdir(_BUILD.pop("cwd"))
    _BUILD.pop("scratch").cleanup()


def on_build_error(error):
    if "cwd" in _BUILD:
        on_post_build(None)
