"""The ``barenet`` command's first instant.

A Ctrl-C while Python loads NumPy and the library (about half a second) exits with 130 and a
sentence, like one at any later moment, instead of a traceback (``barenet.app.interrupts`` says
how). Everything else is ``barenet.app.cli``.
"""
import sys

from .interrupts import BEFORE_START, forget_caught_interrupts, install, interrupted, raise_if_interrupted

INTERRUPTED = 130


def main() -> int:
    """Run the ``barenet`` command from its first instant; return the exit code (130 for an early Ctrl-C)."""
    try:
        install()  # a Ctrl-C even while the handler is being installed is Python's KeyboardInterrupt
        from .cli import main as cli_main
        raise_if_interrupted()
    except BaseException as error:
        # An interrupt inside an import can come out wrapped (a RuntimeError from a class's
        # __set_name__, say): what was counted decides, not the exception's type.
        if not (isinstance(error, KeyboardInterrupt) or interrupted()):
            raise
        print(f"\n{BEFORE_START}", file=sys.stderr)
        code = INTERRUPTED
    else:
        code = cli_main()
    if code == INTERRUPTED:
        forget_caught_interrupts()
    return code
