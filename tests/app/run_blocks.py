"""Runs the Python blocks of a Markdown page as one script, as a reader pasting them into a file
would, and fails where a block would show nothing it means to show: an expression statement
written to be looked at (``history["val_accuracy"]``, ``model.evaluate(X, y)`` alone on a line)
shows its value at a prompt, and nothing in a script. Calls made for what they do (``model.fit``,
``model.save``) may return a value that goes unused.

    python tests/app/run_blocks.py PAGE.md

Blocks run in order in one namespace, in the current directory (a temporary one when the tests
run it). Exit code 0, or 1 with the block and the line.
"""
import ast
import re
import sys
from pathlib import Path

FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)  # with or without exec="on" and its options


class Shown(ast.NodeTransformer):
    """Wrap every top-level expression statement (not a call of print) in a check of its value."""

    def visit_Module(self, node):
        body = []
        for statement in node.body:
            if isinstance(statement, ast.Expr) and _to_look_at(statement.value):
                call = ast.Call(ast.Name("__shown__", ast.Load()),
                                [statement.value, ast.Constant(statement.lineno)], [])
                statement = ast.copy_location(ast.Expr(call), statement)
            body.append(statement)
        node.body = body
        return node


# methods called for the value they give back: alone on a line, that value is meant to be seen
QUERIES = {"evaluate", "predict", "predict_proba", "predict_log_proba", "score", "count_params", "passed", "last",
           "get_backend", "get_threads", "blas_info", "to_dict", "keys", "accuracy", "classification_report",
           "confusion_matrix", "describe", "names", "aliases"}


def _to_look_at(value):
    """Whether an expression alone on a line is there to be looked at: not a call (a name, an
    attribute, an item, arithmetic), or a call of a method that answers a question."""
    if isinstance(value, ast.Constant):  # a docstring or a bare string
        return False
    if not isinstance(value, ast.Call):
        return not isinstance(value, (ast.Await, ast.Yield, ast.YieldFrom))
    name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
    return name in QUERIES


def blocks(page: Path):
    return FENCE.findall(page.read_text())


def main(page):
    page = Path(page)
    namespace = {"__name__": "__main__"}
    for number, block in enumerate(blocks(page), 1):
        def shown(value, line, number=number):
            if value is not None:
                raise SystemExit(f"{page.name}, code block {number}, line {line}: this expression's value "
                                 f"({type(value).__name__}) is shown only at an interactive prompt; print it")
        namespace["__shown__"] = shown
        tree = ast.fix_missing_locations(Shown().visit(ast.parse(block)))
        try:
            exec(compile(tree, f"{page.name} block {number}", "exec"), namespace)
        except SystemExit:
            raise
        except BaseException as error:
            raise SystemExit(f"{page.name}, code block {number} fails: {type(error).__name__}: {error}\n{block}")


if __name__ == "__main__":
    main(sys.argv[1])
