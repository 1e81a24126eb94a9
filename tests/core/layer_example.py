"""The ``Layer`` docstring's custom-layer example, run exactly as a reader sees it, so that the
tests that use a custom layer test the documented code rather than a copy that could drift."""
import textwrap

import numpy as np

import barenet as bn


def documented_scale_layer():
    """The ``Scale`` class of ``bn.Layer.__doc__`` (the indented block after "A complete custom layer")."""
    block = bn.Layer.__doc__.split("A complete custom layer", 1)[1].split("::\n", 1)[1]
    lines = block.splitlines()
    first = next(line for line in lines if line.strip())
    indent = len(first) - len(first.lstrip())
    code = []
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break  # the prose after the example
        code.append(line)
    namespace = {"bn": bn, "np": np}
    exec(textwrap.dedent("\n".join(code)), namespace)  # noqa: S102 -- our own docstring
    return namespace["Scale"]
