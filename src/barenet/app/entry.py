"""The ``barenet`` command's first instant.

A Ctrl-C while Python loads NumPy and the library (about half a second) exits with 130 and a
sentence, like one at any later moment, instead of a traceback. Two quirks of CPython are met
here:

- a compiled module that runs Python code while it is imported may catch the KeyboardInterrupt
  and carry on, so the interrupt is lost. The handler installed here counts interrupts, and
  ``raise_if_interrupted`` raises again, where the command passes a checkpoint (after the
  imports, after the command line is read, after the data set is loaded). Once the data set is
  loaded, ``raise_if_interrupted(hand_over=True)`` gives Ctrl-C back to Python's own handler,
  so that the training loop's "stop after this batch" takes over;
- CPython remembers such an interrupt even when it was caught, and would end the process by
  SIGINT instead of with the exit code asked for (``_forget_caught_interrupts``).

Everything else is ``barenet.app.cli``.
"""
import signal
import sys

INTERRUPTED = 130
_interrupts = 0


def _on_interrupt(signum, frame):
    global _interrupts
    _interrupts += 1
    raise KeyboardInterrupt


def raise_if_interrupted(hand_over: bool = False) -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and something swallowed it. (Had the
    interrupt been handled, the command would have ended: still running means it was lost.)
    ``hand_over``: afterwards, Ctrl-C goes to Python's own handler again."""
    if hand_over and signal.getsignal(signal.SIGINT) is _on_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _interrupts:
        raise KeyboardInterrupt


def _forget_caught_interrupts() -> None:
    """Let a caught Ctrl-C end the process with our exit code.

    CPython remembers a KeyboardInterrupt that was raised while C code ran Python source (as
    compiled extension modules do while they are imported), even when it was caught later, and
    then ends the process by SIGINT instead of with the exit code asked for. Running any source
    through that same C function starts it with a clean memory.
    """
    try:
        import ctypes
        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except (ImportError, AttributeError, OSError):  # not CPython: nothing to forget
        pass


def main() -> int:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # an ignored SIGINT (nohup) stays so
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        from .cli import main as cli_main
        raise_if_interrupted()
    except KeyboardInterrupt:
        print("\ninterrupted before anything started", file=sys.stderr)
        code = INTERRUPTED
    else:
        code = cli_main()
    if code == INTERRUPTED:
        _forget_caught_interrupts()
    return code
