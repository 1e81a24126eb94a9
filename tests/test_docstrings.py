"""Every public name of the package has a docstring in NumPy's style, checked two ways: ruff's
pydocstyle rules (configured in pyproject.toml: the NumPy convention, the package only), and a
check ruff does not make, that a Parameters section names exactly the arguments its function,
or its class's constructor, takes."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "barenet"
# Left to the engineer changing them (pyproject.toml excludes them from the D rules too).
NOT_CHECKED = ("core/backends/", "app/bench/")
SECTION = re.compile(r"^(\s*)Parameters\n\1-{10,}\n(.*?)(?=\n\s*\n\1\w[\w ]*\n\1-{3,}\n|\Z)", re.S | re.M)


def test_the_package_passes_ruffs_docstring_rules():
    pytest.importorskip("ruff", reason="ruff comes with the dev extra: pip install -e '.[dev]'")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "D", "--no-cache",
                           "--output-format", "concise", "src/barenet"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _documented(docstring: str) -> list:
    """The names a Parameters section lists: its lines at the section's own indentation."""
    match = SECTION.search(docstring)
    if match is None:
        return []
    indent = match.group(1)
    names = []
    for line in match.group(2).splitlines():
        if line.startswith(indent) and line[len(indent):len(indent) + 1] not in ("", " "):
            names += [name.strip() for name in line.split(" : ")[0].split(",")]
    return names


def _arguments(function) -> list:
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [f"*{args.vararg.arg}"] if args.vararg else []
    names += [f"**{args.kwarg.arg}"] if args.kwarg else []
    return [name for name in names if name not in ("self", "cls")]


def _constructor(cls, classes) -> list | None:
    """The arguments a class's constructor takes: its own ``__init__``'s, a dataclass's fields, or
    those of a base class defined in the same module; None where they are not known here."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            return _arguments(node)
    if any("dataclass" in ast.unparse(decorator) for decorator in cls.decorator_list):
        return [node.target.id for node in cls.body if isinstance(node, ast.AnnAssign)]
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            return _constructor(classes[base.id], classes)
    return None


def _sections():
    """(where, documented names, the arguments) for every docstring with a Parameters section."""
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where.startswith(NOT_CHECKED):
            continue
        tree = ast.parse(path.read_text())
        classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                taken = _arguments(node)
            elif isinstance(node, ast.ClassDef):
                taken = _constructor(node, classes)
            else:
                continue
            documented = _documented(ast.get_docstring(node) or "")
            if documented and taken is not None:
                yield f"{where}:{node.lineno} {node.name}", documented, taken


def test_parameters_sections_name_exactly_the_arguments():
    wrong = [f"{where}: documents {documented}, takes {taken}" for where, documented, taken in _sections()
             if sorted(documented) != sorted(taken)]
    assert wrong == []


def test_the_parameters_check_reads_numpy_sections():
    docstring = ("Scale.\n\nParameters\n----------\nx : array (n, k)\n    The batch.\n"
                 "*layers, **options\n    More.\n\nReturns\n-------\narray\n    y.\n")
    assert _documented(docstring) == ["x", "*layers", "**options"]
