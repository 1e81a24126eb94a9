"""The reference pages hold every public name and every command-line option, and cannot drift:
the API page is what ``python -m barenet.app.reference`` writes from ``__all__`` now, and the
command-line page prints the parsers themselves when the site is built."""
import argparse
import importlib
from pathlib import Path

import barenet as bn
from barenet.app.reference import API_PAGE_HEAD, api_markdown, parsers, reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_page_is_what_the_package_says_now():
    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    assert page == API_PAGE_HEAD + api_markdown(), "run: python -m barenet.app.reference > docs/reference/api.md"


def test_every_public_name_and_every_namespace_s_names_are_on_the_api_page():
    page = (ROOT / "docs" / "reference" / "api.md").read_text()
    documented = {line.split("::: ")[1].rsplit(".", 1)[-1] for line in page.splitlines() if line.startswith("::: ")}
    missing = [name for name in bn.__all__ if name not in bn.NAMESPACES and name not in documented]
    for namespace in bn.NAMESPACES:
        module = importlib.import_module(f"barenet.{namespace}")
        assert f"## `barenet.{namespace}`" in page
        missing += [f"{namespace}.{name}" for name in module.__all__ if name not in documented]
    assert missing == []


def test_every_command_and_option_is_in_the_command_line_reference():
    text = reference_markdown()
    for command, parser in parsers().items():
        assert f"## `{command}`" in text
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            for flag in action.option_strings or [action.dest.upper()]:
                assert f"`{flag}`" in text, (command, flag)
    assert "reference_markdown()" in (ROOT / "docs" / "reference" / "cli.md").read_text()
