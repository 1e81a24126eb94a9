"""The command line's reference, made from its parsers: every subcommand and option, what it takes.

With its help (the site's reference page prints it at build time, so it cannot drift from the
code); and the API page's list of names, ``api_markdown``.
"""
from __future__ import annotations

import argparse

__all__ = ["parsers", "reference_markdown", "api_markdown", "API_PAGE_HEAD"]


def parsers() -> dict:
    """Return {"barenet train": its parser, ...}: every parser of the command line."""
    from .bench import build_parser as bench_parser
    from .cli import build_parser
    from .web.server import build_parser as serve_parser

    main = build_parser()
    found = {"barenet": main}
    for action in main._actions:  # argparse keeps its subcommands here, and only here
        if isinstance(action, argparse._SubParsersAction):
            for name, parser in action.choices.items():
                found[f"barenet {name}"] = parser
    found["barenet bench"], found["barenet serve"] = bench_parser(), serve_parser()
    return found


def _row(action) -> str:
    flags = ", ".join(f"`{flag}`" for flag in action.option_strings) or f"`{action.dest.upper()}`"
    if action.choices and not isinstance(action.choices, dict):
        takes = " \\| ".join(f"`{choice}`" for choice in action.choices)
    elif action.nargs == 0:
        takes = ""
    else:
        takes = f"`{action.metavar or action.dest.upper()}`"
    help_text = (action.help or "").replace("|", "\\|").replace("\n", " ")
    if action.default not in (None, False, argparse.SUPPRESS) and "default" not in help_text:
        help_text += f" (default: `{action.default}`)"
    return f"| {flags} | {takes} | {help_text} |"


def reference_markdown() -> str:
    """Return Markdown: a section per command, with its description and a table of its arguments."""
    sections = []
    for command, parser in parsers().items():
        rows = [_row(a) for a in parser._actions if not isinstance(a, (argparse._HelpAction,
                                                                        argparse._SubParsersAction))]
        lines = [f"## `{command}`", "", parser.description or "", ""]
        if rows:
            lines += ["| argument | takes | what it does |", "|---|---|---|", *rows]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _path(obj, namespace, name) -> str:
    """Return the dotted path mkdocstrings documents an object under (where it is defined)."""
    module = getattr(obj, "__module__", None)
    if module is None or not module.startswith("barenet") or isinstance(obj, (dict, tuple, list, str, int, float)):
        return f"{namespace.__name__}.{name}"  # a constant: documented where it is defined
    return f"{module}.{getattr(obj, '__qualname__', name)}"


SECTIONS = {"Callbacks and export": "training.callbacks|integrations.onnx", "Layers": "core.layers|core.preprocessing|core.augment|core.conv|core.pooling|core.normalization|core.shaping",
            "Activations": "core.activations", "Losses": "core.losses", "Optimizers": "core.optimizers",
            "Schedules": "core.schedules", "Backends and threads": "core.backend|training.threads",
            "Networks and training": "core.network|training.model|training.loop|training.steps|training.ensemble|"
                                     "training.history|training.storage|core.gradcheck|training.data"}


INSIDE = ["barenet.core.layers.init_weights", "barenet.core.activations.sigmoid", "barenet.core.activations.softmax",
          "barenet.core.activations.log_softmax", "barenet.core.parameters.Parameters", "barenet.core.backend",
          "barenet.core.backends.fused.NumbaBackend", "barenet.training.loop", "barenet.training.steps",
          "barenet.training.parallel", "barenet.training.settings", "barenet.training.builder",
          "barenet.core.im2col.windows", "barenet.core.im2col.col2im", "barenet.core.im2col.output_size"]


def api_markdown() -> str:
    """Return Markdown for mkdocstrings: every name ``barenet`` exports, then each namespace's.

    The namespaces are ``bn.datasets``, ``bn.callbacks``...; each name under the module that
    defines it.
    """
    import importlib
    import re

    import barenet as bn

    entries = {}
    for name in bn.__all__:
        if name in bn.NAMESPACES:
            continue
        path = _path(getattr(bn, name), bn, name)
        module = path.rsplit(".", 1)[0].removeprefix("barenet.")
        section = next((title for title, pattern in SECTIONS.items() if re.fullmatch(pattern, module)), "More")
        entries.setdefault(section, []).append(path)
    lines = ["## `barenet`", ""]
    for section, paths in entries.items():
        lines += [f"### {section}", ""] + [f"::: {path}\n" for path in paths]
    lines += ["## Inside: what the guide points to", "",
              "Not names you need to import: the pieces of the machinery the tutorial's formulas link to.", ""]
    lines += [f"::: {path}\n" for path in INSIDE]
    for namespace in bn.NAMESPACES:
        try:
            module = importlib.import_module(f"barenet.{namespace}")
        except ImportError:  # an optional extra that is not installed where the site is built
            continue
        lines += [f"## `barenet.{namespace}`", "", (module.__doc__ or "").strip().split("\n\n")[0], ""]
        lines += [f"::: {_path(getattr(module, name), module, name)}\n" for name in module.__all__]
    return "\n".join(lines)


API_PAGE_HEAD = """# API

Every public name of barenet, with its documentation and the source code that runs (expand
*Source code*): first what `import barenet as bn` gives, then each namespace (`bn.datasets`,
`bn.callbacks`, ...). This page is written from the package's `__all__` by
`python -m barenet.app.reference > docs/reference/api.md`, and a test fails when it differs from
what that would write now, so a new public name cannot be left out.

"""

if __name__ == "__main__":
    print(API_PAGE_HEAD + api_markdown(), end="")
