"""The ``barenet`` command's first instant.

A Ctrl-C while Python loads NumPy and the library (about half a second) exits with 130 and a
sentence, like one at any later moment, instead of a traceback (``barenet.app.interrupts`` says
how). Everything else is ``barenet.app.cli``.
"""
import sys

from .interrupts import BEFORE_START, forget_caught_interrupts, install, raise_if_interrupted

INTERRUPTED = 130


def main() -> int:
    """Run the ``barenet`` command from its first instant; return the exit code (130 for an early Ctrl-C)."""
    install()
    try:
        from .cli import main as cli_main
        raise_if_interrupted()
    except KeyboardInterrupt:
        print(f"\n{BEFORE_START}", file=sys.stderr)
        code = INTERRUPTED
    else:
        code = cli_main()
    if code == INTERRUPTED:
        forget_caught_interrupts()
    return code
